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

__all__ = ["AVAILABLE", "compiled_helpers", "compiled_loop", "compiled_step", "kernel_choice", "warm_up"]

# numba is a regular dependency; the numpy step remains for platforms without a wheel. It is imported
# only when a run uses the compiled step (its import costs about 0.5 s).
AVAILABLE = importlib.util.find_spec("numba") is not None
_STEP: Callable[..., Any] | None = None
_HELPERS: tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]] | None = None
_LOOP: Callable[..., Any] | None = None

RAMP_EXCESS = 1e-9
"""Excess demand (relative to baseline output) from which a supplier's re-sourcing ramp clock runs.

On an unshocked baseline demand is 1 up to the rounding of its deviation sum (Σ a·o − Σ a: a few
ulps per claimant, below 1e-13 on the bundled atlas); counted as excess, it ramped up the spare
capacity of 6 of its 637 sites on quiet days. 1e-9 (the settle tolerance's order) is far above that
rounding and far below any excess that matters (a billionth of a day's output)."""


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
            c_order, c_pos, ring, var_links, vbuf, lead_v, pipe):  # pragma: no cover - compiled
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
        # the priority rule with a short supplier somewhere in the batch. Every draw first as if this
        # supplier were not short in it (its orders in full), over the links' rows with the draws as
        # vectors; the draws where it is short then overwrite all of that with their water-filling
        for p in range(lo, hi):
            e = by_sup[p]
            for b in range(B):
                d[e, b] = o_all[e, b]
        for b in range(B):
            served[j, b] = dfac[j, b]
        if has_prio:
            for k in range(K):
                for b in range(B):
                    served_k[j, k, b] = dfac[j, b]
        if n_sh == 0:
            continue
        if has_prio:  # the class demands of every draw, in link order from 0 (as per draw)
            for k in range(K):
                for b in range(B):
                    dem_k[k, b] = 0.0
            for p in range(lo, hi):
                e = by_sup[p]
                ce = link_class[e]
                for b in range(B):
                    dem_k[ce, b] += a_rel[e, b] * o_all[e, b]
        for b in range(B):
            if not short[b]:
                continue
            xj = x[j, b]
            run_b = run[b]
            if has_prio:
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
            r_ = c_pos[p]  # the slot this step's arrival was read from
            for b in range(B):
                ring[r_, b] = d[e, b]
        for k in range(var_links.size):
            e = var_links[k]
            for b in range(B):
                r_ = slot + lead_v[k, b]
                vbuf[r_ - lmax if r_ >= lmax else r_, k, b] += d[e, b]
        p1, d1 = pipe.reshape(m * B), d.reshape(m * B)
        for k in range(m * B):
            p1[k] += d1[k]


def _extended_step(
    t, lmax, use_lead, use_res, use_sub, per_link, baseline_target, link_active, dem_active,
    has_prio, K, prio_rule, any_idle, reserve_on, release_rate, inv_tau,
    sup, cli, link_seg, seg_ptr, seg_client, client_seg_ptr, sup_ptr, by_sup, link_class,
    a_rel, c_rel, w_link, eps_link, eps_seg, n_l, n_sg, w_n, w_one, a_one, headroom, ramp_days,
    sig_max, sig_rate, short_below, cfk, fd_frac, idle, idle_link,
    capf, linkcap, dfac, c_order, c_ring, var_links, ring, vbuf, lead_v, pipe, lead_m1,
    x, s, sbar, d, sig, releasing, keep_l, ramp, reserve,
    served, served_k, capacity, y_out, wl, wg, pmax_all, fill_k,
):  # pragma: no cover - compiled
    """One step of every draw, draws inner: every array is (rows, B) with the draw axis last and
    contiguous, so that a pass over links reads each link's index once and its B draws as one run
    (vector loads; the per-draw branches are selects). Scratch: ``wl`` (6, m, B), ``wg`` (4, n_seg,
    B), ``pmax_all`` (n, B), ``fill_k`` (n, K, B)."""
    n, B = x.shape
    m = s.shape[0]
    n_seg = sbar.shape[0]
    inf = math.inf
    arrive = wl[0]
    wb = wl[1]
    o = wl[2]
    fill_l = wl[3]
    okf = wl[4]
    o_all = wl[5]  # the orders after caps and re-sourcing, written where the rationing reads them
    # the orders before re-sourcing: o_all itself where neither caps nor idle links change them
    o_ref = o if link_active or any_idle else o_all
    # each segment's 1 − σ of this step's orders: kept to the next step, whose use of the stocks
    # reads it (one value per segment, not a copy per link); 1 at the start
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
    c_pos = np.empty(c_order.size, np.int64)  # each fixed-lead link's ring slot of this step
    slot = t % lmax

    # 2. inventory update: last shipments arrive, last production consumes inputs
    if use_lead:
        # links whose lead time L is fixed: the shipment of step t - L, from the link's own ring of
        # its last L shipments (slot t mod L, which this step's shipment then overwrites); the
        # others: their arrival slot
        for p in range(c_order.size):
            r_ = c_ring[1, p] + t % c_ring[0, p]
            c_pos[p] = r_
            e = c_order[p]
            for b in range(B):
                arrive[e, b] = ring[r_, b]
        for k in range(var_links.size):
            e = var_links[k]
            for b in range(B):
                arrive[e, b] = vbuf[slot, k, b]
                vbuf[slot, k, b] = 0.0
        p1, a1 = pipe.reshape(m * B), arrive.reshape(m * B)
        for k in range(m * B):
            p1[k] -= a1[k]
    else:
        arrive = d
    # a link's client needs x (times 1 − σ under substitution) of it: read from x where used (x
    # changes only in 5b), not stored per link (two (links, B) arrays fewer to write and read)
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
                qv[b] = q if (sbar[g, b] > eps_seg[g, b]) & (q > 0) else inf
                over[b] = False
            for e in range(lo, hi):
                c = cli[e]
                for b in range(B):
                    v = wb[e, b] / qv[b]
                    v *= x[c, b] * keep_seg[g, b] if use_sub else x[c, b]
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
        # the stocks after arrivals and use: every link's, in one pass over the flat arrays (a
        # segment reads only its own links' stocks, so the update can wait until all are done)
        mb = m * B
        s1, a1, w1, e1 = s.reshape(mb), arrive.reshape(mb), wb.reshape(mb), eps_link.reshape(mb)
        if any_idle:
            i1 = idle_link.reshape(mb)
            for k in range(mb):
                sn = s1[k] + (a1[k] - w1[k])
                sn = 0.0 if sn <= e1[k] else sn
                s1[k] = s1[k] if i1[k] else sn
        else:
            for k in range(mb):
                sn = s1[k] + (a1[k] - w1[k])
                s1[k] = 0.0 if sn <= e1[k] else sn
    else:
        for e in range(m):
            g = link_seg[e]
            c = cli[e]
            for b in range(B):
                sb = sbar[g, b]
                if not sb > eps_seg[g, b]:
                    sb = inf
                v = s[e, b] / sb
                v *= x[c, b] * keep_seg[g, b] if use_sub else x[c, b]
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

    # 3. orders (relative to A), per (client, sector) segment, one pass per segment. The per-draw
    # logic is written as selects (no stores under a branch) so that it runs on the draws as vectors
    for g in range(n_seg):
        lo, hi = seg_ptr[g], seg_ptr[g + 1]
        for b in range(B):
            acc[b] = 0.0
            acc2[b] = 0.0
        # the stocks and (with lead times) the pipeline's shortfall, each summed in link order
        if not use_lead:
            for e in range(lo, hi):
                for b in range(B):
                    acc[b] += w_link[e, b] * s[e, b]
        elif baseline_target:
            for e in range(lo, hi):
                for b in range(B):
                    acc[b] += w_link[e, b] * s[e, b]
                    acc2[b] += w_link[e, b] * (lead_m1[e, b] - pipe[e, b])
        else:
            for e in range(lo, hi):
                c = cli[e]
                for b in range(B):
                    acc[b] += w_link[e, b] * s[e, b]
                    acc2[b] += w_link[e, b] * (lead_m1[e, b] * x[c, b] - pipe[e, b])
        ci = seg_client[g]
        if use_sub:
            for b in range(B):
                a_ = acc[b] - w_n[g, b]
                a_ += n_sg[g, b]
                sbar[g, b] = a_
                sg0 = sig[g, b]
                back = a_ >= short_below[g, b]
                rel = releasing[g, b] | (back & (sg0 > 0))
                sg = sg0 + (-sig_rate[g, b] if rel | back else sig_rate[g, b])
                sg = min(max(sg, 0.0), sig_max[g, b])
                sig[g, b] = sg
                releasing[g, b] = rel & (sg > 0)
                ks = 1.0 - sg
                keep_seg[g, b] = ks
                lim[g, b] = a_ / ks if ks > 0 else inf
                ksv[b] = ks
                qv[b] = n_sg[g, b] - a_ if baseline_target else n_sg[g, b] * x[ci, b] - a_
        else:
            for b in range(B):
                a_ = acc[b] - w_n[g, b]
                a_ += n_sg[g, b]
                sbar[g, b] = a_
                lim[g, b] = a_
                qv[b] = n_sg[g, b] - a_ if baseline_target else n_sg[g, b] * x[ci, b] - a_
        if use_lead:
            for b in range(B):
                qv[b] = qv[b] + acc2[b]
        for e in range(lo, hi):
            c = cli[e]
            if any_idle:
                if use_sub:
                    for b in range(B):
                        v = qv[b] * inv_tau
                        v += x[c, b] * ksv[b]
                        o[e, b] = max(v, 0.0)
                else:
                    for b in range(B):
                        v = qv[b] * inv_tau
                        v += x[c, b]
                        o[e, b] = max(v, 0.0)
                for b in range(B):
                    if idle_link[e, b]:
                        o[e, b] = 1.0
                for b in range(B):
                    v = o[e, b]
                    if link_active:
                        v = min(v, linkcap[e, b]) if linkcap[e, b] < 1.0 else v
                    o_all[e, b] = v
            elif use_sub:  # the order and the order after the link's cap in one pass
                if link_active:
                    for b in range(B):
                        v = qv[b] * inv_tau
                        v += x[c, b] * ksv[b]
                        v = max(v, 0.0)
                        o[e, b] = v
                        lc = linkcap[e, b]
                        o_all[e, b] = min(v, lc) if lc < 1.0 else v
                else:  # no caps: the orders are o_all itself, o is not stored (see o_ref)
                    for b in range(B):
                        v = qv[b] * inv_tau
                        v += x[c, b] * ksv[b]
                        o_all[e, b] = max(v, 0.0)
            elif link_active:
                for b in range(B):
                    v = qv[b] * inv_tau
                    v += x[c, b]
                    v = max(v, 0.0)
                    o[e, b] = v
                    lc = linkcap[e, b]
                    o_all[e, b] = min(v, lc) if lc < 1.0 else v
            else:
                for b in range(B):
                    v = qv[b] * inv_tau
                    v += x[c, b]
                    o_all[e, b] = max(v, 0.0)

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
    # (the first pass with re-sourcing under classes also sums each class's demand, in the same
    # link order, into fill_k, which the re-sourcing then turns into the class's fill in place)
    for it in range(2):
        by_class = it == 0 and use_res and has_prio
        for j in range(n):
            for b in range(B):
                acc[b] = 0.0
            if by_class:
                for k in range(K):
                    for b in range(B):
                        fill_k[j, k, b] = 0.0
                for p in range(sup_ptr[j], sup_ptr[j + 1]):
                    e = by_sup[p]
                    ce = link_class[e]
                    for b in range(B):
                        v = a_rel[e, b] * o_all[e, b]
                        acc[b] += v
                        fill_k[j, ce, b] += v
            else:
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
            if has_prio:  # fill_k[j] holds the class demands of the links (the pass above)
                for b in range(B):
                    before = 0.0
                    for k in range(K):
                        dk = fill_k[j, k, b] + (cfk[j, k, b] * dfac[j, b] if dem_active else cfk[j, k, b])
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
                    acc[b] += w_link[e, b] * (o_ref[e, b] - o_all[e, b] * f)
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
                ramp[j, b] = ramp[j, b] + 1.0 if yj > 1.0 + RAMP_EXCESS else 0.0
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
            c_order, c_pos, ring, var_links, vbuf, lead_v, pipe)
    return any_short


def _leaf_rows(x, pbar, vw, served, c, dfac, dem_active, lo, nn, r, out):  # pragma: no cover - compiled
    """numpy's pairwise summation of rows ``lo`` to ``lo + nn`` − 1 (nn <= 128) of the four recorded
    products, x·p̄, x·w, served·c and (with a demand schedule) dfac·c, into ``out`` (4, B): per draw
    the bits of numpy's leaf over that draw's row (8 accumulators, then the rest in order; under 8
    terms, in order from 0), every draw at once (rows read in memory order, the draws as vectors).
    ``r`` (4, 8, B): the accumulators."""
    B = x.shape[1]
    nq = 4 if dem_active else 3
    if nn < 8:
        for q in range(nq):
            for b in range(B):
                out[q, b] = 0.0
        for i in range(lo, lo + nn):
            for b in range(B):
                xv = x[i, b]
                out[0, b] += xv * pbar[i, b]
                out[1, b] += xv * vw[i, b]
                out[2, b] += served[i, b] * c[i, b]
            if dem_active:
                for b in range(B):
                    out[3, b] += dfac[i, b] * c[i, b]
        return
    for k in range(8):
        i = lo + k
        for b in range(B):
            xv = x[i, b]
            r[0, k, b] = xv * pbar[i, b]
            r[1, k, b] = xv * vw[i, b]
            r[2, k, b] = served[i, b] * c[i, b]
        if dem_active:
            for b in range(B):
                r[3, k, b] = dfac[i, b] * c[i, b]
    j = 8
    stop = nn - nn % 8
    while j < stop:
        for k in range(8):
            i = lo + j + k
            for b in range(B):
                xv = x[i, b]
                r[0, k, b] += xv * pbar[i, b]
                r[1, k, b] += xv * vw[i, b]
                r[2, k, b] += served[i, b] * c[i, b]
            if dem_active:
                for b in range(B):
                    r[3, k, b] += dfac[i, b] * c[i, b]
        j += 8
    for q in range(nq):
        for b in range(B):
            out[q, b] = ((r[q, 0, b] + r[q, 1, b]) + (r[q, 2, b] + r[q, 3, b])) + \
                ((r[q, 4, b] + r[q, 5, b]) + (r[q, 6, b] + r[q, 7, b]))
    while j < nn:
        i = lo + j
        for b in range(B):
            xv = x[i, b]
            out[0, b] += xv * pbar[i, b]
            out[1, b] += xv * vw[i, b]
            out[2, b] += served[i, b] * c[i, b]
        if dem_active:
            for b in range(B):
                out[3, b] += dfac[i, b] * c[i, b]
        j += 1


def _pairwise_rows(x, pbar, vw, served, c, dfac, dem_active, n, r, fl, fv):  # pragma: no cover - compiled
    """Σ over the n rows of the four recorded products, per draw as numpy sums a contiguous row
    (``v.sum(axis=1)``: halves, the first a multiple of 8, down to blocks of <= 128), every draw at
    once; the sums in ``fv[-1]`` (4, B).

    Without recursion (numba's cache cannot hold a recursive function): the halves' tree walked
    with an explicit stack, ``fl`` (depth, 3) frames (start, length, 0 / 1 left done / 2 right
    pending) and ``fv`` (depth, 4, B) their left halves' sums.
    """
    B = x.shape[1]
    v = fv[fv.shape[0] - 1]
    if n <= 128:
        _leaf_rows(x, pbar, vw, served, c, dfac, dem_active, 0, n, r, v)
        return
    sp = 0
    fl[0, 0] = 0
    fl[0, 1] = n
    fl[0, 2] = 0
    while True:
        flo = fl[sp, 0]
        fn = fl[sp, 1]
        if fn <= 128:  # a leaf (never the root): its sums go up to the frames waiting for them
            _leaf_rows(x, pbar, vw, served, c, dfac, dem_active, flo, fn, r, v)
            sp -= 1
            while True:
                if fl[sp, 2] == 1:
                    fv[sp, :, :] = v
                    break
                for q in range(4):
                    for b in range(B):
                        v[q, b] = fv[sp, q, b] + v[q, b]
                if sp == 0:
                    return
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


def _firm_series(out, t1, idx, u, v):  # pragma: no cover - compiled
    """``out[b, t1, q] = u[i, b] · v[i, b]`` for the firms i = ``idx[q]``."""
    B = u.shape[1]
    for q in range(idx.size):
        i = idx[q]
        for b in range(B):
            out[b, t1, q] = u[i, b] * v[i, b]


def _record(t1, x, served, served_k, capacity, dfac, pbar, vw, c, dem_active,
            out_prod, out_va, out_fd, out_fdr, rec_idx, firm_prod, firm_fd, firm_cap, rec_prod, rec_fd, rec_cap,
            use_cons, cons_firm, cons_of, cons_entry, use_entry, cons_w, cons_fd, cons_fdr,
            acc8, kbuf, fl, fv):  # pragma: no cover - compiled
    """Step 7 of the compiled path: the recorded sums of row ``t1``, with the numpy path's bits
    (row sums pairwise as numpy's, consumer sums in entry order from 0 as a bincount's), and the
    per-firm series of the firms ``rec_idx`` (those of ``rec_prod``, ``rec_fd``, ``rec_cap``).

    Every input is in the step's layout, (rows, B) with the draws last: the pairwise sums run over
    the rows with every draw at once (:func:`_pairwise_rows`; ``acc8`` (4, 8, B) its accumulators),
    the products formed as they are summed, not stored."""
    n, B = x.shape
    F = cons_firm.size
    _pairwise_rows(x, pbar, vw, served, c, dfac, dem_active, n, acc8, fl, fv)
    sums = fv[fv.shape[0] - 1]
    for b in range(B):
        out_prod[b, t1] = sums[0, b]
        out_va[b, t1] = sums[1, b]
        out_fd[b, t1] = sums[2, b]
        out_fdr[b, t1] = sums[3, b] if dem_active else out_fdr[b, 0]
    # firm by firm, every draw of a firm from its row (memory order); the writes are B sequential
    # streams, one per draw's (T, k) block
    if rec_prod:
        _firm_series(firm_prod, t1, rec_idx, x, pbar)
    if rec_fd:
        _firm_series(firm_fd, t1, rec_idx, served, c)
    if rec_cap:
        _firm_series(firm_cap, t1, rec_idx, capacity, pbar)
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
                    kbuf[k, b] += cons_w[i, b] * served_k[f, ce, b]
            else:
                for b in range(B):
                    kbuf[k, b] += cons_w[i, b] * served[f, b]
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
                    kbuf[k, b] += cons_w[i, b] * dfac[f, b]
            for b in range(B):
                for k in range(K):
                    cons_fdr[b, t1, k] = kbuf[k, b]
        else:
            for b in range(B):
                for k in range(K):
                    cons_fdr[b, t1, k] = cons_fdr[b, 0, k]


# The tests below run over the state every step. They read it row by row, every draw of a row at
# once (memory order: a (rows, B) array is one contiguous run), and clear a draw's flag where it
# fails, instead of walking each draw's column (one cache line per element, B times over) until its
# first failure: the same flags from fewer cache lines (the tests and the recording together took about
# a quarter of the library's engine time; bench/RESULTS.md, 2026-12-02). A pass stops once no flag is left.

def _any_flag(flag):  # pragma: no cover - compiled
    for b in range(flag.size):
        if flag[b]:
            return True
    return False


def _rows_close(a, ref, tol, flag):  # pragma: no cover - compiled
    """``flag[b]`` cleared unless every |a[i, b] − ref[i, b]| <= tol (a nan fails, as in ``max <= tol``)."""
    if not _any_flag(flag):
        return
    rows, B = a.shape
    for i in range(rows):
        for b in range(B):
            flag[b] = flag[b] & (abs(a[i, b] - ref[i, b]) <= tol)
        if i & 15 == 15 and not _any_flag(flag):
            return


def _rows_close_tol(a, ref, tols, flag):  # pragma: no cover - compiled
    """As :func:`_rows_close` with a tolerance per element, ``tols[i, b]``."""
    if not _any_flag(flag):
        return
    rows, B = a.shape
    for i in range(rows):
        for b in range(B):
            flag[b] = flag[b] & (abs(a[i, b] - ref[i, b]) <= tols[i, b])
        if i & 15 == 15 and not _any_flag(flag):
            return


def _rows_close_to(a, ref, tol, flag):  # pragma: no cover - compiled
    """As :func:`_rows_close` against one value per row, ``ref[i]``."""
    if not _any_flag(flag):
        return
    rows, B = a.shape
    for i in range(rows):
        r = ref[i]
        for b in range(B):
            flag[b] = flag[b] & (abs(a[i, b] - r) <= tol)
        if i & 15 == 15 and not _any_flag(flag):
            return


def _rows_close_value(a, v, tol, flag):  # pragma: no cover - compiled
    """As :func:`_rows_close` against one value ``v``."""
    if not _any_flag(flag):
        return
    rows, B = a.shape
    for i in range(rows):
        for b in range(B):
            flag[b] = flag[b] & (abs(a[i, b] - v) <= tol)
        if i & 15 == 15 and not _any_flag(flag):
            return


def _rows_at_most(a, tol, flag):  # pragma: no cover - compiled
    """``flag[b]`` cleared unless every a[i, b] <= tol."""
    if not _any_flag(flag):
        return
    rows, B = a.shape
    for i in range(rows):
        for b in range(B):
            flag[b] = flag[b] & (a[i, b] <= tol)
        if i & 15 == 15 and not _any_flag(flag):
            return


def _settle_close(dflt, tol, x, base_x, s, n_l, s_tol, d, use_lead, pipe, lead_base, p_tol,
                  use_sub, sig, close):  # pragma: no cover - compiled
    """The settle test per scenario: factors at the default and the state within tol of the baseline
    (arrays in the step's layout, draws last)."""
    B = x.shape[1]
    for b in range(B):
        close[b] = dflt[b]
    _rows_close(x, base_x, tol, close)
    if s.shape[0]:
        _rows_close_tol(s, n_l, s_tol, close)
        _rows_close_value(d, 1.0, tol, close)
    if use_lead:
        _rows_close_to(pipe, lead_base, p_tol, close)
    if use_sub:
        _rows_at_most(sig, tol, close)


def _steady(t, stol, sched_ok, win, calm, frozen_at, x, x_prev, d, d_prev, s, s_prev, s_tol,
            use_sub, sig, sig_prev, rel, rel_prev, has_res, reserve, res_prev, res_tol,
            use_res, ramp, ramp_prev, ramp_days):  # pragma: no cover - compiled
    """The steady-state test of step ``t`` per scenario (see ``simulate``), then the state copied
    into the last step's arrays (arrays in the step's layout, draws last)."""
    B = x.shape[1]
    m = s.shape[0]
    ok = np.empty(B, np.bool_)
    good = np.empty(B, np.bool_)
    for b in range(B):
        ok[b] = frozen_at[b] < 0
    _rows_close(x, x_prev, stol, ok)
    if m:
        _rows_close(d, d_prev, stol, ok)
    for b in range(B):
        calm[b] = calm[b] + 1 if ok[b] else 0
        good[b] = ok[b] and calm[b] >= win[b] and sched_ok[b]
    if _any_flag(good):
        if m:
            _rows_close_tol(s, s_prev, s_tol, good)
            if use_sub:
                _rows_close(sig, sig_prev, stol, good)
                for b in range(B):
                    if good[b]:
                        for g in range(rel.shape[0]):
                            if rel[g, b] != rel_prev[g, b]:
                                good[b] = False
                                break
            if has_res:
                _rows_close_tol(reserve, res_prev, res_tol, good)
        for b in range(B):
            if good[b] and use_res:  # a ramp clock past ramp_days no longer changes anything
                for i in range(ramp.shape[0]):
                    rd = ramp_days[i, b]
                    if not (ramp[i, b] == ramp_prev[i, b] or (ramp[i, b] >= rd and ramp_prev[i, b] >= rd)):
                        good[b] = False
                        break
            if good[b]:
                frozen_at[b] = t
    x_prev[:] = x
    d_prev[:] = d
    s_prev[:] = s
    ramp_prev[:] = ramp
    if has_res:
        res_prev[:] = reserve
    if use_sub:
        sig_prev[:] = sig
        rel_prev[:] = rel


def _set_rows(dst, idx, tab, r):  # pragma: no cover - compiled
    """The schedule's factors of table row ``r`` (B, k) into the rows ``idx`` of ``dst`` (rows, B)."""
    B = dst.shape[1]
    for j in range(idx.size):
        f = idx[j]
        for b in range(B):
            dst[f, b] = tab[r, b, j]


def _time_loop(t_from, t_to, steps, ctl, sched, flags, topo, par, state, rec, links, sectors, settle,
               steady):  # pragma: no cover - compiled
    """Steps ``t_from`` to ``t_to`` − 1 of the compiled path in one call: each step's factors from
    the schedules' tables, the step, the recording, the settle test (and the reset of a settled
    scenario to the baseline), the early exit and the steady-state test, as ``simulate``'s loop
    around the numpy step does them, in its order.

    ``ctl`` (int64, 3): the early exit's step (−1: none yet; kept between calls), the steps run, and
    why the call returned (0: ``t_to`` reached, 1: the early exit's step recorded, 2: every scenario
    frozen). Arrays are in the step's layout (draws last); the outputs are (B, T + 1, ...)."""
    (cap_on, cap_idx, cap_tab, cap_t0, link_on, link_idx, link_tab, link_t0, dem_on, dem_idx, dem_tab, dem_t0,
     lt_on, lt_tab, lt_t0, dflt_tab, lm_all, lc_all, lt_lc) = sched
    (lmax, use_lead, use_res, use_sub, per_link, baseline_target, link_active, dem_active, has_prio, K,
     prio_rule, any_idle, has_reserve, release_day, release_rate, inv_tau) = flags
    (a_rel, c_rel, w_link, eps_link, eps_seg, n_l, n_sg, w_n, w_one, a_one, headroom, ramp_days,
     sig_max, sig_rate, short_below, cfk, fd_frac, idle, idle_link) = par
    (capf, linkcap, dfac, c_order, c_ring, var_links, ring, vbuf, lead_v, pipe, lead_m1,
     x, s, sbar, d, sig, releasing, keep_l, ramp, reserve, served, served_k, capacity, y_out,
     wl, wg, pmax_all, fill_k) = state
    rec_links, amt, link_del, link_st = links
    rec_sec, sector, sector_prod = sectors
    (settle_on, tol, base_x, set_s_tol, lead_base, lead_var, p_tol, dflt, close, early_exit) = settle
    (steady_on, stol, sched_ok, win, calm, frozen_at, x_prev, d_prev, s_prev, s_tol, sig_prev, rel_prev,
     res_prev, res_tol, ramp_prev) = steady
    n, B = x.shape
    m = s.shape[0]
    ctl[2] = 0
    near = np.zeros(B, np.bool_)
    for t in range(t_from, t_to):
        # 1. factors of this step
        if cap_on:
            _set_rows(capf, cap_idx, cap_tab, min(t - cap_t0, cap_tab.shape[0] - 1))
        if link_on:
            _set_rows(linkcap, link_idx, link_tab, min(t - link_t0, link_tab.shape[0] - 1))
        if dem_on:
            _set_rows(dfac, dem_idx, dem_tab, min(t - dem_t0, dem_tab.shape[0] - 1))
        if use_lead and lt_on:
            rr = min(t - lt_t0, lt_tab.shape[0] - 1)
            for k in range(var_links.size):
                e = var_links[k]
                for b in range(B):
                    lv = np.int64(lt_tab[rr, b, k])
                    lead_v[k, b] = lv
                    lead_m1[e, b] = lv - 1
        _extended_step(t, lmax, use_lead, use_res, use_sub, per_link, baseline_target, link_active, dem_active,
                       has_prio, K, prio_rule, any_idle, has_reserve and t >= release_day, release_rate, inv_tau,
                       *topo, *par, *state)
        t1 = t + 1
        _record(t1, x, served, served_k, capacity, dfac, *rec)
        if rec_links:
            for e in range(m):
                for b in range(B):
                    link_del[b, t1, e] = d[e, b] * amt[e, b]
                    link_st[b, t1, e] = s[e, b] * amt[e, b]
        if rec_sec:  # per draw in firm order from 0, as a bincount adds
            for b in range(B):
                for k in range(sector_prod.shape[2]):
                    sector_prod[b, t1, k] = 0.0
            for i in range(n):
                k = sector[i]
                for b in range(B):
                    sector_prod[b, t1, k] += x[i, b] * rec[0][i, b]
        ctl[1] = t1
        if t == ctl[0]:
            ctl[2] = 1
            return
        # settle: a scenario back at its default factors and within tol of the baseline is set
        # exactly to it
        if settle_on and t1 < steps:
            any_d = False
            for b in range(B):
                dflt[b] = dflt_tab[b, t1]
                any_d = any_d or dflt[b]
            if any_d:
                _settle_close(dflt, tol, x, base_x, s, n_l, set_s_tol, d, use_lead, pipe, lead_base, p_tol,
                              use_sub, sig, close)
                all_close = True
                for b in range(B):
                    if not close[b]:
                        all_close = False
                        continue
                    for i in range(n):
                        x[i, b] = base_x[i, b]
                        ramp[i, b] = 0.0
                    for e in range(m):
                        s[e, b] = n_l[e, b]
                        d[e, b] = 1.0
                    for g in range(sbar.shape[0]):
                        sbar[g, b] = n_sg[g, b]
                    if use_sub:
                        for g in range(sig.shape[0]):
                            sig[g, b] = 0.0
                            releasing[g, b] = False
                        for g in range(wg.shape[1]):
                            wg[0, g, b] = 1.0  # the segments' 1 − σ, which the next use reads
                    if use_lead:  # full pipeline: every past shipment at baseline, arrivals in their slots
                        for q in range(ring.shape[0]):
                            ring[q, b] = 1.0
                        for q in range(lmax):
                            ago = (q - t1) % lmax
                            for k in range(lead_var.size):
                                vbuf[q, k, b] = 1.0 if ago < lead_var[k] else 0.0
                        for e in range(m):
                            pipe[e, b] = lead_base[e]
                    if steady_on:
                        calm[b] = win[b]  # the pipeline was reset to the baseline: as if steady for long
                if early_exit and all_close:
                    quiet = True  # every schedule at its default from t + 1 on
                    for b in range(B):
                        if not t1 > lm_all[b]:
                            quiet = False
                    if quiet:
                        ctl[0] = t1
        if steady_on and t1 < steps:
            for b in range(B):
                ok = t >= lc_all[b]  # the factors of this step hold for every later step
                if use_lead:
                    ok = ok and lt_lc[b] <= max(t1 - win[b], 0)
                if has_reserve and t < release_day:
                    ok = False  # reserves are released later
                sched_ok[b] = ok
                near[b] = ok and settle_on and dflt[b] and not close[b]
            _rows_close(x, base_x, tol, near)
            for b in range(B):
                if near[b]:
                    sched_ok[b] = False  # converging on the baseline: left to the settle test (see simulate)
            _steady(t, stol, sched_ok, win, calm, frozen_at, x, x_prev, d, d_prev, s, s_prev, s_tol,
                    use_sub, sig, sig_prev, releasing, rel_prev, has_reserve, reserve, res_prev, res_tol,
                    use_res, ramp, ramp_prev, ramp_days)
            every = True
            for b in range(B):
                if frozen_at[b] < 0:
                    every = False
            if every:
                ctl[2] = 2
                return


def compiled_step() -> Callable[..., Any]:
    """The compiled step (compiled on first use, or loaded from numba's on-disk cache).

    ``error_model="numpy"``: a division by zero gives inf or nan as in the numpy step, no exception.
    """
    global _STEP, _sort_stable, _waterfill_level, _ration, _extended_step, AVAILABLE
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
        _extended_step = numba.njit(**opts)(_extended_step)  # resolved by the time loop
        _STEP = _extended_step
    return _STEP


def compiled_helpers() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """The compiled recording, settle test and steady-state test ``(record, settle, steady)`` that
    the time loop runs around the step (each a pass over the state without temporaries)."""
    global _HELPERS, _leaf_rows, _pairwise_rows, _firm_series, _record, _settle_close, _steady, _set_rows
    global _any_flag, _rows_close, _rows_close_tol, _rows_close_to, _rows_close_value, _rows_at_most
    if _HELPERS is None:
        compiled_step()  # imports numba, or raises InputError
        import numba

        opts = dict(cache=True, error_model="numpy", nogil=True)
        _leaf_rows = numba.njit(**opts)(_leaf_rows)
        _pairwise_rows = numba.njit(**opts)(_pairwise_rows)
        _firm_series = numba.njit(**opts)(_firm_series)
        _any_flag = numba.njit(**opts)(_any_flag)
        _rows_close = numba.njit(**opts)(_rows_close)
        _rows_close_tol = numba.njit(**opts)(_rows_close_tol)
        _rows_close_to = numba.njit(**opts)(_rows_close_to)
        _rows_close_value = numba.njit(**opts)(_rows_close_value)
        _rows_at_most = numba.njit(**opts)(_rows_at_most)
        _set_rows = numba.njit(**opts)(_set_rows)
        _record = numba.njit(**opts)(_record)
        _settle_close = numba.njit(**opts)(_settle_close)
        _steady = numba.njit(**opts)(_steady)
        _HELPERS = (_record, _settle_close, _steady)
    return _HELPERS


def compiled_loop() -> Callable[..., Any]:
    """The compiled time loop (:func:`_time_loop`): many steps with their recording, settle and
    steady tests in one call, so that no Python runs between steps."""
    global _LOOP
    if _LOOP is None:
        compiled_helpers()
        import numba

        _LOOP = numba.njit(cache=True, error_model="numpy", nogil=True)(_time_loop)
    return _LOOP


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
