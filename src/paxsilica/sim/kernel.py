"""Compiled step of the extended mode: the whole of steps 2–6 of ENGINE.md fused over links and draws.

The numpy step of :func:`paxsilica.sim.engine.simulate` makes about 60 passes over (draws × links)
arrays and 9 sparse sums a step; on the bundled atlas (34 draws × 2,210 links) that is 6–13 ms a
step. :func:`compiled_step` computes the same
step scenario by scenario, link by link, in one compiled function (numba, ``cache=True``), with the
same formulas in the same order: the same deviation forms (so a run without a shock stays exactly at
the baseline) and every scenario computed on its own (so a batch equals its sequential runs). Sums
over links are taken in canonical link order as the numpy path's CSR products take them; what may
differ in the last bits is the priority rule's running sums (here per supplier, there per scenario)
and the order of tied claimants. ``tests/test_engine_kernel.py`` checks both paths agree to 1e-9
relative on the stress library and on hypothesis-generated networks.

The work around the step is compiled as well (:func:`compiled_helpers`): the recording of a step's
series (row sums with numpy's pairwise summation, so the compiled path records the numpy path's
bits), the settle test and the steady-state test. Inside one scenario the step works on row views
of the batch's arrays (1-D loops) and fuses the passes that can be fused without changing an
operation's order.

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


def _waterfill_one(w: np.ndarray, g: np.ndarray, k: int, target: float, run: np.ndarray) -> float:
    """Level L with Σ w·min(g, L) = target over the first ``k`` claimants (see engine._waterfill).

    Computed with the numpy step's arithmetic: running sums ``run`` = (Σ w·g, Σ w) carried over the
    scenario's segments in order, each claimant's sums before it as (running sum − own term − sum at
    the segment's start), the level at the count of claimants whose reach falls short.
    """
    order = np.argsort(g[:k], kind="mergesort")
    base_wg = run[0]
    base_w = run[1]
    cwg = np.empty(k)
    cw = np.empty(k)
    c_wg = base_wg
    c_w = base_w
    for i in range(k):
        j = order[i]
        c_wg += w[j] * g[j]
        c_w += w[j]
        cwg[i] = c_wg
        cw[i] = c_w
    run[0] = c_wg
    run[1] = c_w
    if k == 0:
        return 0.0
    total_w = cw[k - 1] - base_w
    n_short = 0
    for i in range(k):
        j = order[i]
        wg_before = cwg[i] - w[j] * g[j] - base_wg
        w_from = total_w - (cw[i] - w[j] - base_w)
        if wg_before + g[j] * w_from < target:
            n_short += 1
    i = min(n_short, k - 1)
    j = order[i]
    wg_before = cwg[i] - w[j] * g[j] - base_wg
    w_from = total_w - (cw[i] - w[j] - base_w)
    level = (target - wg_before) / (w_from if w_from > 0 else 1.0)
    return max(level, 0.0)


def _ration(b, K, has_prio, any_short, prio_rule, dem_active, use_lead, lmax, slot,
            x, y_out, sup_ptr, by_sup, link_class, a_rel, o_all, cfk, dfac, c_rel, fd_frac,
            d, served, served_k, dem_k, ratio, wf_buf, gf_buf,
            c_order, hist, var_links, vbuf, lead_v, pipe):  # pragma: no cover - compiled
    """Step 6 for scenario ``b``: deliveries and final demand served; shipments into the pipeline."""
    n = x.shape[1]
    m = d.shape[1]
    a_rel_b = a_rel[b]
    c_rel_b = c_rel[b]
    cfk_b = cfk[b]
    d_b = d[b]
    dfac_b = dfac[b]
    lead_v_b = lead_v[b]
    o_all_b = o_all[b]
    pipe_b = pipe[b]
    served_b = served[b]
    served_k_b = served_k[b]
    vbuf_b = vbuf[b]
    x_b = x[b]
    y_out_b = y_out[b]
    run = np.zeros(2)  # the water-filling's running sums, over this scenario's short suppliers in order
    for j in range(n):
        xj = x_b[j]
        yj = y_out_b[j]
        r = xj / yj if yj > 0 else 0.0
        lo, hi = sup_ptr[j], sup_ptr[j + 1]
        if has_prio and any_short:
            if xj < yj:
                for k in range(K):
                    dem_k[k] = 0.0
                for p in range(lo, hi):
                    e = by_sup[p]
                    dem_k[link_class[e]] += a_rel_b[e] * o_all_b[e]
                before = 0.0
                kof = K
                room_m = 0.0
                for k in range(K):
                    dk = dem_k[k] + (cfk_b[j, k] * dfac_b[j] if dem_active else cfk_b[j, k])
                    room = xj - before
                    if prio_rule:
                        if kof == K and dk > 0 and room < dk:
                            kof = k
                            room_m = room
                    else:
                        ratio[k] = min(max(room / dk, 0.0), 1.0) if dk > 0 else 1.0
                    before += dk
                if prio_rule:
                    level = 0.0
                    if kof < K:  # water-filling within the marginal class
                        nc = 0
                        for p in range(lo, hi):
                            e = by_sup[p]
                            if link_class[e] == kof:
                                wf_buf[nc] = a_rel_b[e]
                                gf_buf[nc] = o_all_b[e]
                                nc += 1
                        wfd = c_rel_b[j] * fd_frac[j, kof]
                        if wfd > 0:
                            wf_buf[nc] = wfd
                            gf_buf[nc] = dfac_b[j]
                            nc += 1
                        level = _waterfill_one(wf_buf, gf_buf, nc, max(room_m, 0.0), run)
                    for p in range(lo, hi):
                        e = by_sup[p]
                        ce = link_class[e]
                        if ce > kof:
                            d_b[e] = 0.0
                        elif ce == kof:
                            d_b[e] = min(o_all_b[e], level)
                        else:
                            d_b[e] = o_all_b[e]
                    for k in range(K):
                        if k < kof:
                            served_k_b[j, k] = dfac_b[j]
                        elif k == kof:
                            served_k_b[j, k] = min(dfac_b[j], level)
                        else:
                            served_k_b[j, k] = 0.0
                else:
                    for p in range(lo, hi):
                        e = by_sup[p]
                        d_b[e] = o_all_b[e] * ratio[link_class[e]]
                    for k in range(K):
                        served_k_b[j, k] = dfac_b[j] * ratio[k] if dem_active else ratio[k]
                tot = served_k_b[j, 0] * fd_frac[j, 0]
                for k in range(1, K):
                    tot += served_k_b[j, k] * fd_frac[j, k]
                served_b[j] = tot
            else:
                for p in range(lo, hi):
                    e = by_sup[p]
                    d_b[e] = o_all_b[e] if prio_rule else o_all_b[e] * r
                sv = dfac_b[j] if prio_rule else (dfac_b[j] * r if dem_active else r)
                for k in range(K):
                    served_k_b[j, k] = sv
                served_b[j] = dfac_b[j] * r if not prio_rule else dfac_b[j]
        elif not prio_rule or not any_short:
            for p in range(lo, hi):
                e = by_sup[p]
                d_b[e] = o_all_b[e] * r
            served_b[j] = dfac_b[j] * r
            for k in range(K):
                served_k_b[j, k] = dfac_b[j] * r
        else:  # priority rule without classes
            if xj < yj:
                nc = 0
                for p in range(lo, hi):
                    e = by_sup[p]
                    wf_buf[nc] = a_rel_b[e]
                    gf_buf[nc] = o_all_b[e]
                    nc += 1
                if c_rel_b[j] > 0:
                    wf_buf[nc] = c_rel_b[j]
                    gf_buf[nc] = dfac_b[j]
                    nc += 1
                level = _waterfill_one(wf_buf, gf_buf, nc, xj, run)
                for p in range(lo, hi):
                    e = by_sup[p]
                    d_b[e] = min(o_all_b[e], level)
                served_b[j] = min(dfac_b[j], level)
            else:
                for p in range(lo, hi):
                    e = by_sup[p]
                    d_b[e] = o_all_b[e]
                served_b[j] = dfac_b[j]
    # shipments enter the pipeline: they arrive lead time steps later
    if use_lead:
        for p in range(c_order.size):
            hist[slot, b, p] = d_b[c_order[p]]
        for k in range(var_links.size):
            r_ = slot + lead_v_b[k]
            vbuf_b[r_ - lmax if r_ >= lmax else r_, k] += d_b[var_links[k]]
        for e in range(m):
            pipe_b[e] += d_b[e]


def _extended_step(
    t, lmax, use_lead, use_res, use_sub, per_link, baseline_target, link_active, dem_active,
    has_prio, K, prio_rule, any_idle, reserve_on, release_rate, inv_tau,
    sup, cli, link_seg, seg_ptr, seg_client, client_seg_ptr, sup_ptr, by_sup, link_class,
    a_rel, c_rel, w_link, eps_link, eps_seg, n_l, n_sg, w_n, w_one, a_one, headroom, ramp_days,
    sig_max, sig_rate, short_below, cfk, fd_frac, idle, idle_link,
    capf, linkcap, dfac, c_order, c_lead, var_links, hist, vbuf, lead_v, pipe, lead_m1,
    x, s, sbar, d, sig, releasing, keep_l, ramp, reserve,
    served, served_k, capacity, y_out,
):  # pragma: no cover - compiled; its Python form is run by the tests without numba
    B, n = x.shape
    m = s.shape[1]
    n_seg = sbar.shape[1]
    inf = math.inf
    # scratch, shared by the scenarios
    arrive = np.empty(m)
    xc = np.empty(m)
    need = np.empty(m)
    wb = np.empty(m)
    o = np.empty(m)
    fill_l = np.empty(m)
    ok = np.zeros(m, dtype=np.bool_)
    keep_seg = np.ones(n_seg)
    lim = np.empty(n_seg)
    u_seg = np.empty(n_seg)
    e_seg = np.empty(n_seg)
    pmax_all = np.empty((B, n))
    o_all = np.empty((B, m))
    dem_k = np.zeros(max(K, 1))
    fill_k = np.ones((n, max(K, 1)))
    ratio = np.empty(max(K, 1))
    wf_buf = np.empty(m + 1)
    gf_buf = np.empty(m + 1)
    slot = t % lmax
    any_short = False

    for b in range(B):
        a_one_b = a_one[b]
        a_rel_b = a_rel[b]
        c_rel_b = c_rel[b]
        capacity_b = capacity[b]
        capf_b = capf[b]
        cfk_b = cfk[b]
        d_b = d[b]
        dfac_b = dfac[b]
        eps_link_b = eps_link[b]
        eps_seg_b = eps_seg[b]
        headroom_b = headroom[b]
        idle_b = idle[b]
        idle_link_b = idle_link[b]
        keep_l_b = keep_l[b]
        lead_m1_b = lead_m1[b]
        linkcap_b = linkcap[b]
        n_l_b = n_l[b]
        n_sg_b = n_sg[b]
        o_all_b = o_all[b]
        pipe_b = pipe[b]
        pmax_all_b = pmax_all[b]
        ramp_b = ramp[b]
        ramp_days_b = ramp_days[b]
        releasing_b = releasing[b]
        reserve_b = reserve[b]
        s_b = s[b]
        sbar_b = sbar[b]
        short_below_b = short_below[b]
        sig_b = sig[b]
        sig_max_b = sig_max[b]
        sig_rate_b = sig_rate[b]
        vbuf_b = vbuf[b]
        w_link_b = w_link[b]
        w_n_b = w_n[b]
        w_one_b = w_one[b]
        x_b = x[b]
        y_out_b = y_out[b]
        o_eff = o_all_b  # the orders after caps and re-sourcing, written where the rationing reads them
        # 2. inventory update: last shipments arrive, last production consumes inputs
        if use_lead:
            # links whose lead time L is fixed: the shipment of step t - L (links sorted by lead time,
            # so that the reads are runs of one history row); the others: their arrival slot
            for p in range(c_order.size):
                r_ = slot - c_lead[p]  # (t - L) mod lmax for 1 <= L <= lmax, without a division
                arrive[c_order[p]] = hist[r_ + lmax if r_ < 0 else r_, b, p]
            for k in range(var_links.size):
                arrive[var_links[k]] = vbuf_b[slot, k]
                vbuf_b[slot, k] = 0.0
        for e in range(m):  # (one pass: the pipeline's arrivals, the clients' needs)
            if use_lead:
                pipe_b[e] -= arrive[e]
            else:
                arrive[e] = d_b[e]
            xe = x_b[cli[e]]
            xc[e] = xe
            need[e] = xe * keep_l_b[e] if use_sub else xe
        if per_link:
            # one pass per (client, sector) segment: its links are contiguous
            for g in range(n_seg):
                lo, hi = seg_ptr[g], seg_ptr[g + 1]
                q = 0.0
                for e in range(lo, hi):
                    v = s_b[e] / n_l_b[e]
                    wb[e] = v
                    q += w_link_b[e] * v
                q /= w_one_b[g]
                if not (sbar_b[g] > eps_seg_b[g] and q > 0):
                    q = inf
                over_any = False
                for e in range(lo, hi):
                    v = wb[e] / q
                    v *= need[e]
                    wb[e] = v
                    if v > s_b[e]:
                        over_any = True
                if over_any:  # a link cannot give more than it holds: the others give the rest
                    excess = 0.0
                    rooms = 0.0
                    for e in range(lo, hi):
                        ov = min(wb[e], s_b[e])
                        excess += w_link_b[e] * (wb[e] - ov)
                    for e in range(lo, hi):
                        ov = min(wb[e], s_b[e])
                        rooms += w_link_b[e] * (s_b[e] - ov)
                    share = min(excess / rooms, 1.0) if rooms > 0 else 0.0
                    for e in range(lo, hi):
                        ov = min(wb[e], s_b[e])
                        wb[e] = ov + (s_b[e] - ov) * share
                for e in range(lo, hi):
                    sn = s_b[e] + (arrive[e] - wb[e])
                    if sn <= eps_link_b[e]:
                        sn = 0.0
                    if not (any_idle and idle_link_b[e]):
                        s_b[e] = sn
        else:
            for e in range(m):
                sb = sbar_b[link_seg[e]]
                if not sb > eps_seg_b[link_seg[e]]:
                    sb = inf
                v = s_b[e] / sb
                v *= need[e]
                sn = s_b[e] + arrive[e]
                sn -= v
                if sn <= eps_link_b[e]:
                    sn = 0.0
                if not (any_idle and idle_link_b[e]):
                    s_b[e] = sn
        if reserve_on:
            for e in range(m):
                dr = min(min(reserve_b[e], max(n_l_b[e] - s_b[e], 0.0)), release_rate)
                s_b[e] += dr
                reserve_b[e] = reserve_b[e] - dr

        # 3. orders (relative to A), per (client, sector) segment, one pass per segment
        for g in range(n_seg):
            lo, hi = seg_ptr[g], seg_ptr[g + 1]
            acc = 0.0
            for e in range(lo, hi):
                acc += w_link_b[e] * s_b[e]
            acc -= w_n_b[g]
            acc += n_sg_b[g]
            sbar_b[g] = acc
            if use_sub:
                back = acc >= short_below_b[g]
                if back and sig_b[g] > 0:
                    releasing_b[g] = True
                if releasing_b[g] or back:
                    sg = sig_b[g] + (-sig_rate_b[g])
                else:
                    sg = sig_b[g] + sig_rate_b[g]
                sg = min(max(sg, 0.0), sig_max_b[g])
                sig_b[g] = sg
                releasing_b[g] = releasing_b[g] and sg > 0
                ks = 1.0 - sg
                keep_seg[g] = ks
                lim[g] = acc / ks if ks > 0 else inf
            else:
                ks = 1.0
                lim[g] = acc
            if baseline_target:
                gp = n_sg_b[g] - acc
            else:
                gp = n_sg_b[g] * x_b[seg_client[g]] - acc
            if use_lead:
                acc2 = 0.0
                for e in range(lo, hi):
                    if baseline_target:
                        lag = lead_m1_b[e] - pipe_b[e]
                    else:
                        lag = lead_m1_b[e] * xc[e] - pipe_b[e]
                    acc2 += w_link_b[e] * lag
                gp = gp + acc2
            for e in range(lo, hi):
                if use_sub:
                    keep_l_b[e] = ks
                v = gp * inv_tau
                v += xc[e] * ks if use_sub else xc[e]
                v = max(v, 0.0)
                if any_idle and idle_link_b[e]:
                    v = 1.0
                o[e] = v
                if link_active and linkcap_b[e] < 1.0:
                    o_eff[e] = min(v, linkcap_b[e])
                else:
                    o_eff[e] = v

        # 5a. producible output: capacity (with the re-sourcing headroom) and the Leontief stock limit
        for i in range(n):
            cp = capf_b[i]
            if use_res and cp >= 1.0:
                rd = ramp_days_b[i]
                grow = min(1.0, ramp_b[i] / rd) if rd > 0 else 1.0
                cp = cp + headroom_b[i] * grow
            capacity_b[i] = cp
            pm = cp
            for g in range(client_seg_ptr[i], client_seg_ptr[i + 1]):
                pm = min(pm, lim[g])
            pmax_all_b[i] = pm

        # 4. demand (ratio to p̄): 1 + (Σ a·o − Σ a), exactly 1 at the baseline
        for it in range(2):
            for j in range(n):
                acc = 0.0
                for p in range(sup_ptr[j], sup_ptr[j + 1]):
                    e = by_sup[p]
                    acc += a_rel_b[e] * o_eff[e]
                acc -= a_one_b[j]
                acc += 1.0
                if dem_active:
                    acc += c_rel_b[j] * (dfac_b[j] - 1.0)
                acc = max(acc, 0.0)
                if any_idle and idle_b[j]:
                    acc = 0.0
                y_out_b[j] = acc
            if it == 1 or not use_res:
                break
            # re-sourcing: the unfillable part of a segment's orders moves to suppliers that can fill
            for j in range(n):
                if has_prio:
                    for k in range(K):
                        dem_k[k] = 0.0
                    for p in range(sup_ptr[j], sup_ptr[j + 1]):
                        e = by_sup[p]
                        dem_k[link_class[e]] += a_rel_b[e] * o_eff[e]
                    before = 0.0
                    for k in range(K):
                        dk = dem_k[k] + (cfk_b[j, k] * dfac_b[j] if dem_active else cfk_b[j, k])
                        room = pmax_all_b[j] - before
                        fill_k[j, k] = min(max(room / dk, 0.0), 1.0) if dk > 0 else 1.0
                        before += dk
                else:
                    yj = y_out_b[j]
                    fill_k[j, 0] = pmax_all_b[j] / (yj if yj > 0 else 1.0) if yj > pmax_all_b[j] else 1.0
            any_moved = False
            for g in range(n_seg):  # a link's fill and whether it can take more, summed per segment
                uu = 0.0
                ee = 0.0
                for e in range(seg_ptr[g], seg_ptr[g + 1]):
                    f = fill_k[sup[e], link_class[e]] if has_prio else fill_k[sup[e], 0]
                    fill_l[e] = f
                    okv = f >= 1.0 and capf_b[sup[e]] >= 1.0
                    if link_active:
                        okv = okv and linkcap_b[e] >= 1.0
                    ok[e] = okv
                    uu += w_link_b[e] * (o[e] - o_eff[e] * f)
                    ee += w_link_b[e] * (1.0 if okv else 0.0)
                u_seg[g] = uu
                e_seg[g] = ee
                if uu > 0 and ee > 0:
                    any_moved = True
            if not any_moved:
                break
            for g in range(n_seg):
                if u_seg[g] > 0 and e_seg[g] > 0:
                    add = u_seg[g] / e_seg[g]
                    for e in range(seg_ptr[g], seg_ptr[g + 1]):
                        if ok[e]:
                            o_eff[e] = o_eff[e] + add
                        else:
                            o_eff[e] = o_eff[e] * fill_l[e]
        # 5b. production (and the re-sourcing ramp clock: steps of excess demand)
        for j in range(n):
            if use_res:
                ramp_b[j] = ramp_b[j] + 1.0 if y_out_b[j] > 1.0 else 0.0
            xn = min(pmax_all_b[j], y_out_b[j])
            if any_idle and idle_b[j]:
                xn = 0.0
            if xn < y_out_b[j]:
                any_short = True
            x_b[j] = xn

        if not prio_rule:
            # proportional: a supplier's split does not depend on whether another scenario has a
            # short supplier (the classless and the class rule agree where it is not short), so each
            # scenario is rationed at once, while its arrays are in cache
            _ration(b, K, has_prio, True, prio_rule, dem_active, use_lead, lmax, slot,
                    x, y_out, sup_ptr, by_sup, link_class, a_rel, o_all, cfk, dfac, c_rel, fd_frac,
                    d, served, served_k, dem_k, ratio, wf_buf, gf_buf,
                    c_order, hist, var_links, vbuf, lead_v, pipe)

    # 6. rationing under the priority rule: which rule applies depends on the whole batch (as in the
    # numpy step: without any short supplier, the classless proportional split)
    if prio_rule:
        for b in range(B):
            _ration(b, K, has_prio, any_short, prio_rule, dem_active, use_lead, lmax, slot,
                    x, y_out, sup_ptr, by_sup, link_class, a_rel, o_all, cfk, dfac, c_rel, fd_frac,
                    d, served, served_k, dem_k, ratio, wf_buf, gf_buf,
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
    (row sums pairwise as numpy's, consumer sums in entry order from 0 as a bincount's)."""
    B, n = x.shape
    F = cons_firm.size
    for b in range(B):
        # row views: 1-D loops over contiguous rows (no per-element index arithmetic)
        xb, pb = x[b], pbar[b]
        dst = firm_prod[b, t1] if rec_firms else buf
        for i in range(n):
            dst[i] = xb[i] * pb[i]
        out_prod[b, t1] = _pairwise_sum(dst, n, fl, fv)
        if rec_firms:
            capb, dcap = capacity[b], firm_cap[b, t1]
            for i in range(n):
                dcap[i] = capb[i] * pb[i]
        vb = vw[b]
        for i in range(n):
            buf[i] = xb[i] * vb[i]
        out_va[b, t1] = _pairwise_sum(buf, n, fl, fv)
        sb, cb = served[b], c[b]
        dst = firm_fd[b, t1] if rec_firms else buf
        for i in range(n):
            dst[i] = sb[i] * cb[i]
        out_fd[b, t1] = _pairwise_sum(dst, n, fl, fv)
        if dem_active:
            db = dfac[b]
            for i in range(n):
                buf[i] = db[i] * cb[i]
            out_fdr[b, t1] = _pairwise_sum(buf, n, fl, fv)
        else:
            out_fdr[b, t1] = out_fdr[b, 0]
        if use_cons:
            K = kbuf.size
            for k in range(K):
                kbuf[k] = 0.0
            for i in range(F):
                f = cons_firm[i]
                got = served_k[b, f, cons_entry[i]] if use_entry else served[b, f]
                kbuf[cons_of[i]] += cons_w[b, i] * got
            for k in range(K):
                cons_fd[b, t1, k] = kbuf[k]
            if dem_active:
                for k in range(K):
                    kbuf[k] = 0.0
                for i in range(F):
                    kbuf[cons_of[i]] += cons_w[b, i] * dfac[b, cons_firm[i]]
                for k in range(K):
                    cons_fdr[b, t1, k] = kbuf[k]
            else:
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
        rel_prev[:] = rel


def _copy(dst, src):  # pragma: no cover - compiled
    """dst[:] = src for C-contiguous arrays of one shape, as one flat loop (a memory copy)."""
    df = dst.reshape(-1)
    sf = src.reshape(-1)
    for i in range(sf.size):
        df[i] = sf[i]


def compiled_step() -> Callable[..., Any]:
    """The compiled step (compiled on first use, or loaded from numba's on-disk cache).

    ``error_model="numpy"``: a division by zero gives inf or nan as in the numpy step, no exception.
    """
    global _STEP, _waterfill_one, _ration, AVAILABLE
    if _STEP is None:
        try:
            import numba
        except ImportError as e:  # pragma: no cover - a broken installation
            AVAILABLE = False
            from ..errors import InputError

            raise InputError(f"numba cannot be imported ({e}); use kernel='numpy'") from None
        opts = dict(cache=True, error_model="numpy", nogil=True)
        _waterfill_one = numba.njit(**opts)(_waterfill_one)  # resolved by the step at its compilation
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
