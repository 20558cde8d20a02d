"""Compiled step of the extended mode: the whole of steps 2–6 of ENGINE.md fused over links and draws.

The numpy step of :func:`paxsilica.sim.engine.simulate` makes about 60 passes over (draws × links)
arrays and 9 sparse sums a step; on the bundled atlas (34 draws × 2,210 links) that is 6–13 ms a
step. :func:`compiled_step` computes the same step in one compiled function (numba,
``cache=True``), with the same formulas in the same order: the same deviation forms (so a run
without a shock stays exactly at the baseline) and every scenario computed on its own (so a batch
equals its sequential runs). Sums over links are taken in canonical link order as the numpy path's
CSR products take them; what may differ in the last bits is the priority rule's running sums (here
per supplier, there per scenario) and the order of tied claimants. ``tests/test_engine_kernel.py``
checks both paths agree to 1e-9 relative on the stress library and on hypothesis-generated networks.

**Draws innermost.** ``simulate`` stores the compiled path's state draws-fastest (each (B, ...)
array in Fortran order) and hands the step its (..., B) C-contiguous views: a pass over links reads
a link's indices (its client, supplier, segment) once and then its B draws as one contiguous run,
which LLVM turns into vector loads and selects. Per-draw sums (a segment's stock, a supplier's
demand) are B running sums side by side, each adding its draw's terms in link order, so every draw
gets the bits it gets alone. Only the priority rule's water-filling of a short supplier runs draw by
draw. Measured against the previous links-inner step (one draw's row at a time): see
``bench/RESULTS.md``, "extended step, draws innermost".

The work around the step is compiled as well (:func:`compiled_helpers`): the recording of a step's
series (row sums with numpy's pairwise summation, so the compiled path records the numpy path's
bits), the settle test and the steady-state test.

The numpy step stays the reference and the fallback: ``simulate(..., kernel="numpy")``, the
environment variable ``PAXSILICA_KERNEL=numpy``, or numba not importable.

Examples
--------
>>> isinstance(AVAILABLE, bool)
True
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["AVAILABLE", "compiled_helpers", "compiled_step", "kernel_choice", "warm_up"]

# numba is a regular dependency; the numpy step remains for platforms without a wheel. It is imported
# only when a run uses the compiled step (its import costs about 0.5 s).
AVAILABLE = importlib.util.find_spec("numba") is not None
_STEP: Callable[..., Any] | None = None
_HELPERS: tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]] | None = None


def kernel_choice(requested: str) -> bool:
    """True when the compiled step should run for ``requested`` ("auto", "numba" or "numpy").

    ``auto`` uses numba when it can be imported, unless ``PAXSILICA_KERNEL=numpy`` is set.

    Examples
    --------
    >>> kernel_choice("numpy")
    False
    """
    from ..errors import InputError

    if requested not in ("auto", "numba", "numpy"):
        raise InputError(f"unknown kernel {requested!r} (auto, numba or numpy)")
    if requested == "numpy":
        return False
    if requested == "numba":
        if not AVAILABLE:
            raise InputError("kernel='numba' needs the numba package (pip install numba)")
        return True
    env = os.environ.get("PAXSILICA_KERNEL", "auto").strip().lower()
    if env not in ("", "auto", "numba", "numpy"):
        raise InputError(f"PAXSILICA_KERNEL={env!r}: expected auto, numba or numpy")
    return AVAILABLE and env != "numpy"


def _sort_stable(g: np.ndarray, idx: np.ndarray, k: int, tmp: np.ndarray) -> None:  # pragma: no cover - compiled
    """Sort ``idx[:k]`` stably by ``g[idx]`` (insertion sort for short lists, else a bottom-up merge
    sort in ``tmp``): no allocation per supplier."""
    if k <= 24:
        for i in range(1, k):
            v = idx[i]
            gv = g[v]
            j = i - 1
            while j >= 0 and g[idx[j]] > gv:
                idx[j + 1] = idx[j]
                j -= 1
            idx[j + 1] = v
        return
    width = 1
    src, dst = idx, tmp
    while width < k:
        lo = 0
        while lo < k:
            mid = min(lo + width, k)
            hi = min(lo + 2 * width, k)
            a, b, o = lo, mid, lo
            while a < mid and b < hi:
                if g[src[b]] < g[src[a]]:  # strictly smaller from the right: stable
                    dst[o] = src[b]
                    b += 1
                else:
                    dst[o] = src[a]
                    a += 1
                o += 1
            while a < mid:
                dst[o] = src[a]
                a += 1
                o += 1
            while b < hi:
                dst[o] = src[b]
                b += 1
                o += 1
            lo = hi
        src, dst = dst, src
        width *= 2
    if src is not idx:
        for i in range(k):
            idx[i] = src[i]


def _waterfill_level(w: np.ndarray, g: np.ndarray, k: int, target: float, run: np.ndarray, idx: np.ndarray,
                     tmp: np.ndarray, cwg: np.ndarray, cw: np.ndarray) -> float:  # pragma: no cover - compiled
    """Level L with Σ w·min(g, L) = target over the first ``k`` claimants (see engine._waterfill).

    The one water-filling of both compiled steps (this module's and :mod:`.refkernel`'s). Computed
    with the numpy step's arithmetic: claimants sorted stably by g; running sums ``run`` = (Σ w·g,
    Σ w) carried over the scenario's short suppliers in order, each claimant's sums before it as
    (running sum − own term − sum at the supplier's start), the level at the count of claimants whose
    reach falls short. Scratch (>= k): ``idx``, ``tmp`` (int64), ``cwg``, ``cw``.
    """
    for q in range(k):
        idx[q] = q
    _sort_stable(g, idx, k, tmp)
    base_wg = run[0]
    base_w = run[1]
    c_wg = base_wg
    c_w = base_w
    for q in range(k):
        e = idx[q]
        c_wg += w[e] * g[e]
        c_w += w[e]
        cwg[q] = c_wg
        cw[q] = c_w
    run[0] = c_wg
    run[1] = c_w
    if k == 0:
        return 0.0
    total_w = cw[k - 1] - base_w
    n_short = 0
    for q in range(k):
        e = idx[q]
        wg_before = cwg[q] - w[e] * g[e] - base_wg
        w_from = total_w - (cw[q] - w[e] - base_w)
        if wg_before + g[e] * w_from < target:
            n_short += 1
    q = min(n_short, k - 1)
    e = idx[q]
    wg_before = cwg[q] - w[e] * g[e] - base_wg
    w_from = total_w - (cw[q] - w[e] - base_w)
    lev = (target - wg_before) / (w_from if w_from > 0 else 1.0)
    if lev < 0.0:
        lev = 0.0
    return lev


def _ration(K, has_prio, any_short, prio_rule, dem_active, use_lead, lmax, slot,
            x, y_out, sup_ptr, by_sup, link_class, a_rel, o_all, cfk, dfac, c_rel, fd_frac,
            d, served, served_k, dem_k, rk, rv, short, run, wf_buf, gf_buf, wf_idx, wf_tmp, wf_cwg, wf_cw,
            c_order, hist, var_links, vbuf, lead_v, pipe):  # pragma: no cover - compiled
    """Step 6, draws inner: deliveries and final demand served; shipments into the pipeline.

    Under the proportional rule a short supplier's split is one factor per (class, draw) ``rk``
    (its class ratio where the draw is short, its overall ratio where not), so the per-link work is
    one vectorisable pass whatever mix of short and unshort draws a supplier has. The priority rule's
    water-filling stays per (supplier, draw), over the draw's short suppliers in order (``run``).
    """
    n, B = x.shape
    m = d.shape[0]
    cls = has_prio and any_short
    for j in range(n):
        lo, hi = sup_ptr[j], sup_ptr[j + 1]
        n_sh = 0
        for b in range(B):
            xj = x[j, b]
            yj = y_out[j, b]
            rv[b] = xj / yj if yj > 0 else 0.0
            sh = xj < yj
            short[b] = sh
            if sh:
                n_sh += 1
        if not prio_rule or not any_short:
            if cls and n_sh:
                # proportional with classes: each class gets min(room / its demand, 1) in order
                for k in range(K):
                    for b in range(B):
                        dem_k[k, b] = 0.0
                for p in range(lo, hi):
                    e = by_sup[p]
                    ce = link_class[e]
                    for b in range(B):
                        dem_k[ce, b] += a_rel[e, b] * o_all[e, b]
                for b in range(B):
                    if short[b]:
                        before = 0.0
                        xj = x[j, b]
                        for k in range(K):
                            dk = dem_k[k, b] + (cfk[j, k, b] * dfac[j, b] if dem_active else cfk[j, k, b])
                            room = xj - before
                            rk[k, b] = min(max(room / dk, 0.0), 1.0) if dk > 0 else 1.0
                            before += dk
                    else:
                        for k in range(K):
                            rk[k, b] = rv[b]
                for p in range(lo, hi):
                    e = by_sup[p]
                    ce = link_class[e]
                    for b in range(B):
                        d[e, b] = o_all[e, b] * rk[ce, b]
                for k in range(K):
                    for b in range(B):
                        served_k[j, k, b] = dfac[j, b] * rk[k, b] if dem_active else rk[k, b]
                for b in range(B):
                    if short[b]:
                        tot = served_k[j, 0, b] * fd_frac[j, 0]
                        for k in range(1, K):
                            tot += served_k[j, k, b] * fd_frac[j, k]
                        served[j, b] = tot
                    else:
                        served[j, b] = dfac[j, b] * rv[b]
            else:
                for p in range(lo, hi):
                    e = by_sup[p]
                    for b in range(B):
                        d[e, b] = o_all[e, b] * rv[b]
                for b in range(B):
                    served[j, b] = dfac[j, b] * rv[b]
                for k in range(K):
                    for b in range(B):
                        served_k[j, k, b] = dfac[j, b] * rv[b]
            continue
        # the priority rule with a short supplier somewhere in the batch
        for b in range(B):
            if not short[b]:
                for p in range(lo, hi):
                    e = by_sup[p]
                    d[e, b] = o_all[e, b]
                served[j, b] = dfac[j, b]
                if has_prio:
                    for k in range(K):
                        served_k[j, k, b] = dfac[j, b]
                continue
            xj = x[j, b]
            run_b = run[b]
            if has_prio:
                for k in range(K):
                    dem_k[k, b] = 0.0
                for p in range(lo, hi):
                    e = by_sup[p]
                    dem_k[link_class[e], b] += a_rel[e, b] * o_all[e, b]
                before = 0.0
                kof = K
                room_m = 0.0
                for k in range(K):
                    dk = dem_k[k, b] + (cfk[j, k, b] * dfac[j, b] if dem_active else cfk[j, k, b])
                    room = xj - before
                    if kof == K and dk > 0 and room < dk:
                        kof = k
                        room_m = room
                    before += dk
                level = 0.0
                if kof < K:  # water-filling within the marginal class
                    nc = 0
                    for p in range(lo, hi):
                        e = by_sup[p]
                        if link_class[e] == kof:
                            wf_buf[nc] = a_rel[e, b]
                            gf_buf[nc] = o_all[e, b]
                            nc += 1
                    wfd = c_rel[j, b] * fd_frac[j, kof]
                    if wfd > 0:
                        wf_buf[nc] = wfd
                        gf_buf[nc] = dfac[j, b]
                        nc += 1
                    level = _waterfill_level(wf_buf, gf_buf, nc, max(room_m, 0.0), run_b, wf_idx, wf_tmp, wf_cwg, wf_cw)
                for p in range(lo, hi):
                    e = by_sup[p]
                    ce = link_class[e]
                    if ce > kof:
                        d[e, b] = 0.0
                    elif ce == kof:
                        d[e, b] = min(o_all[e, b], level)
                    else:
                        d[e, b] = o_all[e, b]
                for k in range(K):
                    if k < kof:
                        served_k[j, k, b] = dfac[j, b]
                    elif k == kof:
                        served_k[j, k, b] = min(dfac[j, b], level)
                    else:
                        served_k[j, k, b] = 0.0
                tot = served_k[j, 0, b] * fd_frac[j, 0]
                for k in range(1, K):
                    tot += served_k[j, k, b] * fd_frac[j, k]
                served[j, b] = tot
            else:  # priority rule without classes
                nc = 0
                for p in range(lo, hi):
                    e = by_sup[p]
                    wf_buf[nc] = a_rel[e, b]
                    gf_buf[nc] = o_all[e, b]
                    nc += 1
                if c_rel[j, b] > 0:
                    wf_buf[nc] = c_rel[j, b]
                    gf_buf[nc] = dfac[j, b]
                    nc += 1
                level = _waterfill_level(wf_buf, gf_buf, nc, xj, run_b, wf_idx, wf_tmp, wf_cwg, wf_cw)
                for p in range(lo, hi):
                    e = by_sup[p]
                    d[e, b] = min(o_all[e, b], level)
                served[j, b] = min(dfac[j, b], level)
    # shipments enter the pipeline: they arrive lead time steps later
    if use_lead:
        for p in range(c_order.size):
            e = c_order[p]
            for b in range(B):
                hist[slot, p, b] = d[e, b]
        for k in range(var_links.size):
            e = var_links[k]
            for b in range(B):
                r_ = slot + lead_v[k, b]
                vbuf[r_ - lmax if r_ >= lmax else r_, k, b] += d[e, b]
        for e in range(m):
            for b in range(B):
                pipe[e, b] += d[e, b]


def _extended_step(
    t, lmax, use_lead, use_res, use_sub, per_link, baseline_target, link_active, dem_active,
    has_prio, K, prio_rule, any_idle, reserve_on, release_rate, inv_tau,
    sup, cli, link_seg, seg_ptr, seg_client, client_seg_ptr, sup_ptr, by_sup, link_class,
    a_rel, c_rel, w_link, eps_link, eps_seg, n_l, n_sg, w_n, w_one, a_one, headroom, ramp_days,
    sig_max, sig_rate, short_below, cfk, fd_frac, idle, idle_link,
    capf, linkcap, dfac, c_order, c_lead, var_links, hist, vbuf, lead_v, pipe, lead_m1,
    x, s, sbar, d, sig, releasing, keep_l, ramp, reserve,
    served, served_k, capacity, y_out, wl, wg, pmax_all, fill_k,
):  # pragma: no cover - compiled
    """One step of every draw, draws inner: every array is (rows, B) with the draw axis last and
    contiguous, so that a pass over links reads each link's index once and its B draws as one run
    (vector loads; the per-draw branches are selects). Scratch: ``wl`` (8, m, B), ``wg`` (4, n_seg,
    B), ``pmax_all`` (n, B), ``fill_k`` (n, K, B)."""
    n, B = x.shape
    m = s.shape[0]
    n_seg = sbar.shape[0]
    inf = math.inf
    arrive = wl[0]
    xc = wl[1]
    need = wl[2] if use_sub else wl[1]
    wb = wl[3]
    o = wl[4]
    fill_l = wl[5]
    okf = wl[6]
    o_all = wl[7]  # the orders after caps and re-sourcing, written where the rationing reads them
    keep_seg = wg[0]
    lim = wg[1]
    u_seg = wg[2]
    e_seg = wg[3]
    acc = np.empty(B)
    acc2 = np.empty(B)
    qv = np.empty(B)
    ksv = np.empty(B)
    over = np.zeros(B, dtype=np.bool_)
    dem_k = np.zeros((max(K, 1), B))
    rk = np.empty((max(K, 1), B))
    rv = np.empty(B)
    short = np.zeros(B, dtype=np.bool_)
    run = np.zeros((B, 2))  # the water-filling's running sums, per draw over its short suppliers in order
    wf_buf = np.empty(m + 1)
    gf_buf = np.empty(m + 1)
    wf_idx = np.empty(m + 1, np.int64)
    wf_tmp = np.empty(m + 1, np.int64)
    wf_cwg = np.empty(m + 1)
    wf_cw = np.empty(m + 1)
    slot = t % lmax

    # 2. inventory update: last shipments arrive, last production consumes inputs
    if use_lead:
        # links whose lead time L is fixed: the shipment of step t - L (links sorted by lead time,
        # so that the reads are runs of one history row); the others: their arrival slot
        for p in range(c_order.size):
            r_ = slot - c_lead[p]  # (t - L) mod lmax for 1 <= L <= lmax, without a division
            r_ = r_ + lmax if r_ < 0 else r_
            e = c_order[p]
            for b in range(B):
                arrive[e, b] = hist[r_, p, b]
        for k in range(var_links.size):
            e = var_links[k]
            for b in range(B):
                arrive[e, b] = vbuf[slot, k, b]
                vbuf[slot, k, b] = 0.0
        for e in range(m):
            for b in range(B):
                pipe[e, b] -= arrive[e, b]
    else:
        arrive = d
    for e in range(m):  # the clients' needs
        c = cli[e]
        if use_sub:
            for b in range(B):
                xe = x[c, b]
                xc[e, b] = xe
                need[e, b] = xe * keep_l[e, b]
        else:
            for b in range(B):
                xc[e, b] = x[c, b]
    if per_link:
        # one pass per (client, sector) segment: its links are contiguous
        for g in range(n_seg):
            lo, hi = seg_ptr[g], seg_ptr[g + 1]
            for b in range(B):
                qv[b] = 0.0
            for e in range(lo, hi):
                for b in range(B):
                    v = s[e, b] / n_l[e, b]
                    wb[e, b] = v
                    qv[b] += w_link[e, b] * v
            for b in range(B):
                q = qv[b] / w_one[g, b]
                if not (sbar[g, b] > eps_seg[g, b] and q > 0):
                    q = inf
                qv[b] = q
                over[b] = False
            for e in range(lo, hi):
                for b in range(B):
                    v = wb[e, b] / qv[b]
                    v *= need[e, b]
                    wb[e, b] = v
                    over[b] |= v > s[e, b]
            for b in range(B):
                if over[b]:  # a link cannot give more than it holds: the others give the rest
                    excess = 0.0
                    rooms = 0.0
                    for e in range(lo, hi):
                        ov = min(wb[e, b], s[e, b])
                        excess += w_link[e, b] * (wb[e, b] - ov)
                    for e in range(lo, hi):
                        ov = min(wb[e, b], s[e, b])
                        rooms += w_link[e, b] * (s[e, b] - ov)
                    share = min(excess / rooms, 1.0) if rooms > 0 else 0.0
                    for e in range(lo, hi):
                        ov = min(wb[e, b], s[e, b])
                        wb[e, b] = ov + (s[e, b] - ov) * share
            for e in range(lo, hi):
                for b in range(B):
                    sn = s[e, b] + (arrive[e, b] - wb[e, b])
                    if sn <= eps_link[e, b]:
                        sn = 0.0
                    if not (any_idle and idle_link[e, b]):
                        s[e, b] = sn
    else:
        for e in range(m):
            g = link_seg[e]
            for b in range(B):
                sb = sbar[g, b]
                if not sb > eps_seg[g, b]:
                    sb = inf
                v = s[e, b] / sb
                v *= need[e, b]
                sn = s[e, b] + arrive[e, b]
                sn -= v
                if sn <= eps_link[e, b]:
                    sn = 0.0
                if not (any_idle and idle_link[e, b]):
                    s[e, b] = sn
    if reserve_on:
        for e in range(m):
            for b in range(B):
                dr = min(min(reserve[e, b], max(n_l[e, b] - s[e, b], 0.0)), release_rate)
                s[e, b] += dr
                reserve[e, b] = reserve[e, b] - dr

    # 3. orders (relative to A), per (client, sector) segment, one pass per segment
    for g in range(n_seg):
        lo, hi = seg_ptr[g], seg_ptr[g + 1]
        for b in range(B):
            acc[b] = 0.0
        for e in range(lo, hi):
            for b in range(B):
                acc[b] += w_link[e, b] * s[e, b]
        ci = seg_client[g]
        for b in range(B):
            a_ = acc[b] - w_n[g, b]
            a_ += n_sg[g, b]
            sbar[g, b] = a_
            if use_sub:
                back = a_ >= short_below[g, b]
                if back and sig[g, b] > 0:
                    releasing[g, b] = True
                if releasing[g, b] or back:
                    sg = sig[g, b] + (-sig_rate[g, b])
                else:
                    sg = sig[g, b] + sig_rate[g, b]
                sg = min(max(sg, 0.0), sig_max[g, b])
                sig[g, b] = sg
                releasing[g, b] = releasing[g, b] and sg > 0
                ks = 1.0 - sg
                keep_seg[g, b] = ks
                lim[g, b] = a_ / ks if ks > 0 else inf
                ksv[b] = ks
            else:
                lim[g, b] = a_
            if baseline_target:
                qv[b] = n_sg[g, b] - a_
            else:
                qv[b] = n_sg[g, b] * x[ci, b] - a_
        if use_lead:
            for b in range(B):
                acc2[b] = 0.0
            for e in range(lo, hi):
                if baseline_target:
                    for b in range(B):
                        acc2[b] += w_link[e, b] * (lead_m1[e, b] - pipe[e, b])
                else:
                    for b in range(B):
                        acc2[b] += w_link[e, b] * (lead_m1[e, b] * xc[e, b] - pipe[e, b])
            for b in range(B):
                qv[b] = qv[b] + acc2[b]
        for e in range(lo, hi):
            if use_sub:
                for b in range(B):
                    keep_l[e, b] = ksv[b]
                    v = qv[b] * inv_tau
                    v += xc[e, b] * ksv[b]
                    o[e, b] = max(v, 0.0)
            else:
                for b in range(B):
                    v = qv[b] * inv_tau
                    v += xc[e, b]
                    o[e, b] = max(v, 0.0)
            if any_idle:
                for b in range(B):
                    if idle_link[e, b]:
                        o[e, b] = 1.0
            if link_active:
                for b in range(B):
                    v = o[e, b]
                    o_all[e, b] = min(v, linkcap[e, b]) if linkcap[e, b] < 1.0 else v
            else:
                for b in range(B):
                    o_all[e, b] = o[e, b]

    # 5a. producible output: capacity (with the re-sourcing headroom) and the Leontief stock limit
    for i in range(n):
        for b in range(B):
            cp = capf[i, b]
            if use_res and cp >= 1.0:
                rd = ramp_days[i, b]
                grow = min(1.0, ramp[i, b] / rd) if rd > 0 else 1.0
                cp = cp + headroom[i, b] * grow
            capacity[i, b] = cp
            pmax_all[i, b] = cp
        for g in range(client_seg_ptr[i], client_seg_ptr[i + 1]):
            for b in range(B):
                pmax_all[i, b] = min(pmax_all[i, b], lim[g, b])

    # 4. demand (ratio to p̄): 1 + (Σ a·o − Σ a), exactly 1 at the baseline
    for it in range(2):
        for j in range(n):
            for b in range(B):
                acc[b] = 0.0
            for p in range(sup_ptr[j], sup_ptr[j + 1]):
                e = by_sup[p]
                for b in range(B):
                    acc[b] += a_rel[e, b] * o_all[e, b]
            for b in range(B):
                a_ = acc[b] - a_one[j, b]
                a_ += 1.0
                if dem_active:
                    a_ += c_rel[j, b] * (dfac[j, b] - 1.0)
                a_ = max(a_, 0.0)
                if any_idle and idle[j, b]:
                    a_ = 0.0
                y_out[j, b] = a_
        if it == 1 or not use_res:
            break
        # re-sourcing: the unfillable part of a segment's orders moves to suppliers that can fill
        for j in range(n):
            if has_prio:
                for k in range(K):
                    for b in range(B):
                        dem_k[k, b] = 0.0
                for p in range(sup_ptr[j], sup_ptr[j + 1]):
                    e = by_sup[p]
                    ce = link_class[e]
                    for b in range(B):
                        dem_k[ce, b] += a_rel[e, b] * o_all[e, b]
                for b in range(B):
                    before = 0.0
                    for k in range(K):
                        dk = dem_k[k, b] + (cfk[j, k, b] * dfac[j, b] if dem_active else cfk[j, k, b])
                        room = pmax_all[j, b] - before
                        fill_k[j, k, b] = min(max(room / dk, 0.0), 1.0) if dk > 0 else 1.0
                        before += dk
            else:
                for b in range(B):
                    yj = y_out[j, b]
                    pm = pmax_all[j, b]
                    fill_k[j, 0, b] = pm / (yj if yj > 0 else 1.0) if yj > pm else 1.0
        any_moved = False
        for g in range(n_seg):  # a link's fill and whether it can take more, summed per segment
            for b in range(B):
                acc[b] = 0.0
                acc2[b] = 0.0
            for e in range(seg_ptr[g], seg_ptr[g + 1]):
                se = sup[e]
                ce = link_class[e] if has_prio else 0
                for b in range(B):
                    f = fill_k[se, ce, b]
                    fill_l[e, b] = f
                    okv = f >= 1.0 and capf[se, b] >= 1.0
                    if link_active:
                        okv = okv and linkcap[e, b] >= 1.0
                    okf[e, b] = 1.0 if okv else 0.0
                    acc[b] += w_link[e, b] * (o[e, b] - o_all[e, b] * f)
                    acc2[b] += w_link[e, b] * (1.0 if okv else 0.0)
            for b in range(B):
                u_seg[g, b] = acc[b]
                e_seg[g, b] = acc2[b]
                if acc[b] > 0 and acc2[b] > 0:
                    any_moved = True
        if not any_moved:
            break
        for g in range(n_seg):
            mv = False
            for b in range(B):
                if u_seg[g, b] > 0 and e_seg[g, b] > 0:
                    qv[b] = u_seg[g, b] / e_seg[g, b]
                    mv = True
                else:
                    qv[b] = -1.0  # nothing moves in this draw's segment
            if not mv:
                continue
            for e in range(seg_ptr[g], seg_ptr[g + 1]):
                for b in range(B):
                    if qv[b] >= 0.0:
                        if okf[e, b] > 0.0:
                            o_all[e, b] = o_all[e, b] + qv[b]
                        else:
                            o_all[e, b] = o_all[e, b] * fill_l[e, b]
    # 5b. production (and the re-sourcing ramp clock: steps of excess demand)
    any_short = False
    for j in range(n):
        for b in range(B):
            yj = y_out[j, b]
            if use_res:
                ramp[j, b] = ramp[j, b] + 1.0 if yj > 1.0 else 0.0
            xn = min(pmax_all[j, b], yj)
            if any_idle and idle[j, b]:
                xn = 0.0
            if xn < yj:
                any_short = True
            x[j, b] = xn

    # 6. rationing (under the priority rule, which rule applies depends on the whole batch, as in
    # the numpy step: without any short supplier, the classless proportional split)
    short_any = any_short or not prio_rule
    _ration(K, has_prio, short_any, prio_rule, dem_active, use_lead, lmax, slot,
            x, y_out, sup_ptr, by_sup, link_class, a_rel, o_all, cfk, dfac, c_rel, fd_frac,
            d, served, served_k, dem_k, rk, rv, short, run, wf_buf, gf_buf, wf_idx, wf_tmp, wf_cwg, wf_cw,
            c_order, hist, var_links, vbuf, lead_v, pipe)
    return any_short


def _pairwise_leaf(a, lo, n):  # pragma: no cover - compiled
    """numpy's pairwise summation for n <= 128: 8 accumulators, then the rest in order."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        k = lo + i
        r0 += a[k]
        r1 += a[k + 1]
        r2 += a[k + 2]
        r3 += a[k + 3]
        r4 += a[k + 4]
        r5 += a[k + 5]
        r6 += a[k + 6]
        r7 += a[k + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


def _pairwise_sum(a, n, fl, fv):  # pragma: no cover - compiled
    """Σ a[:n] as numpy sums a contiguous row (``v.sum(axis=1)``): halves (the first a multiple of
    8) down to blocks of <= 128, so that a recorded sum has the numpy path's bits.

    Without recursion (numba's cache cannot hold a recursive function): the halves' tree walked
    with an explicit stack, ``fl`` (depth, 3) frames (start, length, 0 / 1 left done / 2 right
    pending) and ``fv`` (depth,) their left halves' sums.
    """
    if n <= 128:
        return _pairwise_leaf(a, 0, n)
    sp = 0
    fl[0, 0] = 0
    fl[0, 1] = n
    fl[0, 2] = 0
    while True:
        flo = fl[sp, 0]
        fn = fl[sp, 1]
        if fn <= 128:  # a leaf (never the root): its sum goes up to the frames waiting for it
            v = _pairwise_leaf(a, flo, fn)
            sp -= 1
            while True:
                if fl[sp, 2] == 1:
                    fv[sp] = v
                    break
                v = fv[sp] + v
                if sp == 0:
                    return v
                sp -= 1
            continue
        n2 = fn // 2
        n2 -= n2 % 8
        if fl[sp, 2] == 0:
            fl[sp, 2] = 1
            sp += 1
            fl[sp, 0] = flo
            fl[sp, 1] = n2
        else:
            fl[sp, 2] = 2
            sp += 1
            fl[sp, 0] = flo + n2
            fl[sp, 1] = fn - n2
        fl[sp, 2] = 0


def _record(t1, x, served, served_k, capacity, dfac, pbar, vw, c, dem_active,
            out_prod, out_va, out_fd, out_fdr, rec_firms, firm_prod, firm_fd, firm_cap,
            use_cons, cons_firm, cons_of, cons_entry, use_entry, cons_w, cons_fd, cons_fdr,
            buf, kbuf, fl, fv):  # pragma: no cover - compiled
    """Step 7 of the compiled path: the recorded sums of row ``t1``, with the numpy path's bits
    (row sums pairwise as numpy's, consumer sums in entry order from 0 as a bincount's).

    The state is stored draws-fastest: the products are formed firm by firm over the draws (reads
    in memory order) into ``buf`` (5, B, n), whose rows are then summed pairwise."""
    B, n = x.shape
    F = cons_firm.size
    p_prod, p_va, p_fd, p_fdr, p_cap = buf[0], buf[1], buf[2], buf[3], buf[4]
    for i in range(n):
        for b in range(B):
            xv = x[b, i]
            p_prod[b, i] = xv * pbar[b, i]
            p_va[b, i] = xv * vw[b, i]
            p_fd[b, i] = served[b, i] * c[b, i]
        if dem_active:
            for b in range(B):
                p_fdr[b, i] = dfac[b, i] * c[b, i]
        if rec_firms:
            for b in range(B):
                p_cap[b, i] = capacity[b, i] * pbar[b, i]
    for b in range(B):
        out_prod[b, t1] = _pairwise_sum(p_prod[b], n, fl, fv)
        out_va[b, t1] = _pairwise_sum(p_va[b], n, fl, fv)
        out_fd[b, t1] = _pairwise_sum(p_fd[b], n, fl, fv)
        if dem_active:
            out_fdr[b, t1] = _pairwise_sum(p_fdr[b], n, fl, fv)
        else:
            out_fdr[b, t1] = out_fdr[b, 0]
        if rec_firms:
            for i in range(n):
                firm_prod[b, t1, i] = p_prod[b, i]
                firm_fd[b, t1, i] = p_fd[b, i]
                firm_cap[b, t1, i] = p_cap[b, i]  # row by row: the (B, T, n) outputs' rows are far apart
    if use_cons:  # consumer sums, entry by entry over the draws (per draw: entry order, as a bincount)
        K = kbuf.shape[0]
        for k in range(K):
            for b in range(B):
                kbuf[k, b] = 0.0
        for i in range(F):
            f = cons_firm[i]
            k = cons_of[i]
            if use_entry:
                ce = cons_entry[i]
                for b in range(B):
                    kbuf[k, b] += cons_w[b, i] * served_k[b, f, ce]
            else:
                for b in range(B):
                    kbuf[k, b] += cons_w[b, i] * served[b, f]
        for b in range(B):
            for k in range(K):
                cons_fd[b, t1, k] = kbuf[k, b]
        if dem_active:
            for k in range(K):
                for b in range(B):
                    kbuf[k, b] = 0.0
            for i in range(F):
                f = cons_firm[i]
                k = cons_of[i]
                for b in range(B):
                    kbuf[k, b] += cons_w[b, i] * dfac[b, f]
            for b in range(B):
                for k in range(K):
                    cons_fdr[b, t1, k] = kbuf[k, b]
        else:
            for b in range(B):
                for k in range(K):
                    cons_fdr[b, t1, k] = cons_fdr[b, 0, k]


def _rows_close(a, b_, row, tol):  # pragma: no cover - compiled
    """Every |a − b| of ``row`` within tol (False on a nan, as ``max(|a − b|) <= tol`` is)."""
    for i in range(a.shape[1]):
        if not abs(a[row, i] - b_[row, i]) <= tol:
            return False
    return True


def _settle_close(dflt, tol, x, base_x, s, n_l, s_tol, d, use_lead, pipe, lead_base, p_tol,
                  use_sub, sig, close):  # pragma: no cover - compiled
    """The settle test per scenario: factors at the default and the state within tol of the baseline."""
    B, n = x.shape
    m = s.shape[1]
    for b in range(B):
        ok = dflt[b]
        if ok:
            for i in range(n):
                if not abs(x[b, i] - base_x[b, i]) <= tol:
                    ok = False
                    break
        if ok:
            for e in range(m):
                if not (abs(s[b, e] - n_l[b, e]) <= s_tol[b, e] and abs(d[b, e] - 1.0) <= tol):
                    ok = False
                    break
        if ok and use_lead:
            for e in range(m):
                if not abs(pipe[b, e] - lead_base[e]) <= p_tol:
                    ok = False
                    break
        if ok and use_sub:
            for g in range(sig.shape[1]):
                if not sig[b, g] <= tol:
                    ok = False
                    break
        close[b] = ok


def _steady(t, stol, sched_ok, win, calm, frozen_at, x, x_prev, d, d_prev, s, s_prev, s_tol,
            use_sub, sig, sig_prev, rel, rel_prev, has_res, reserve, res_prev, res_tol,
            use_res, ramp, ramp_prev, ramp_days):  # pragma: no cover - compiled
    """The steady-state test of step ``t`` per scenario (see ``simulate``), then the state copied
    into the last step's arrays."""
    B = x.shape[0]
    m = s.shape[1]
    for b in range(B):
        ok = frozen_at[b] < 0 and _rows_close(x, x_prev, b, stol)
        if ok and m:
            ok = _rows_close(d, d_prev, b, stol)
        calm[b] = calm[b] + 1 if ok else 0
        if ok and calm[b] >= win[b] and sched_ok[b]:
            good = True
            if m:
                for e in range(m):
                    if not abs(s[b, e] - s_prev[b, e]) <= s_tol[b, e]:
                        good = False
                        break
                if good and use_sub:
                    good = _rows_close(sig, sig_prev, b, stol)
                    if good:
                        for g in range(rel.shape[1]):
                            if rel[b, g] != rel_prev[b, g]:
                                good = False
                                break
                if good and has_res:
                    for e in range(m):
                        if not abs(reserve[b, e] - res_prev[b, e]) <= res_tol[b, e]:
                            good = False
                            break
            if good and use_res:  # a ramp clock past ramp_days no longer changes anything
                for i in range(ramp.shape[1]):
                    rd = ramp_days[b, i]
                    if not (ramp[b, i] == ramp_prev[b, i] or (ramp[b, i] >= rd and ramp_prev[b, i] >= rd)):
                        good = False
                        break
            if good:
                frozen_at[b] = t
    _copy(x_prev, x)
    _copy(d_prev, d)
    _copy(s_prev, s)
    _copy(ramp_prev, ramp)
    if has_res:
        _copy(res_prev, reserve)
    if use_sub:
        _copy(sig_prev, sig)
        _copy(rel_prev, rel)


def _copy(dst, src):  # pragma: no cover - compiled
    """dst[:] = src for Fortran-ordered arrays of one shape (the state is stored draws-fastest), in
    memory order."""
    B, n = src.shape
    for i in range(n):
        for b in range(B):
            dst[b, i] = src[b, i]


def compiled_step() -> Callable[..., Any]:
    """The compiled step (compiled on first use, or loaded from numba's on-disk cache).

    ``error_model="numpy"``: a division by zero gives inf or nan as in the numpy step, no exception.
    """
    global _STEP, _sort_stable, _waterfill_level, _ration, AVAILABLE
    if _STEP is None:
        try:
            import numba
        except ImportError as e:  # pragma: no cover - a broken installation
            AVAILABLE = False
            from ..errors import InputError

            raise InputError(f"numba cannot be imported ({e}); use kernel='numpy'") from None
        opts = dict(cache=True, error_model="numpy", nogil=True)
        _sort_stable = numba.njit(**opts)(_sort_stable)  # resolved by the steps at their compilation
        _waterfill_level = numba.njit(**opts)(_waterfill_level)
        _ration = numba.njit(**opts)(_ration)
        _STEP = numba.njit(**opts)(_extended_step)
    return _STEP


def compiled_helpers() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """The compiled recording, settle test and steady-state test ``(record, settle, steady)`` that
    ``simulate`` runs around the compiled step (each a pass over the state without temporaries)."""
    global _HELPERS, _copy, _pairwise_leaf, _pairwise_sum, _rows_close
    if _HELPERS is None:
        compiled_step()  # imports numba, or raises InputError
        import numba

        opts = dict(cache=True, error_model="numpy", nogil=True)
        _pairwise_leaf = numba.njit(**opts)(_pairwise_leaf)
        _pairwise_sum = numba.njit(**opts)(_pairwise_sum)
        _rows_close = numba.njit(**opts)(_rows_close)
        _copy = numba.njit(**opts)(_copy)
        _HELPERS = (numba.njit(**opts)(_record), numba.njit(**opts)(_settle_close), numba.njit(**opts)(_steady))
    return _HELPERS


def warm_up() -> None:
    """Compile (or load from numba's cache) the steps once, on a two-firm network (the extended
    step, and the reference step of :mod:`paxsilica.sim.refkernel`).

    ``scripts/setup`` calls this so that the first briefing after a fresh install does not pay the
    compilation (several seconds); later processes load the cached machine code.

    Examples
    --------
    >>> warm_up()
    """
    if not kernel_choice("auto"):
        return
    from .engine import ConsumerSplit, Extensions, Scenario, Schedule, simulate
    from .network import SupplyNetwork

    net = SupplyNetwork.from_arrays([0, 1], [1, 0], [1.0, 1.0], final_demand=[1.0, 1.0])
    ext = Extensions(lead_times=True, resourcing=True, consumers=ConsumerSplit([0, 1], [0, 1], [1.0, 1.0],
                                                                               ["a", "b"]),
                     consumer_priority=[0, 1])
    simulate(net, Scenario(capacity=Schedule([0], [0.5])), steps=2, extensions=ext, kernel="numba")
    # the compiled reference step (refkernel.py), both rationing rules
    from .engine import FirmShocks

    for rationing in ("proportional", "priority"):
        simulate(net, FirmShocks([0], [0.5]), steps=3, rationing=rationing, kernel="numba")
