"""Compiled step of the reference mode (ENGINE.md Part A, relative arithmetic), fused over the links.

The numpy step of the reference mode makes about 25 passes over the link arrays a step (gathers,
masks, a sparse sum per segment and one per supplier, the rationing's gather), each allocating or
rewriting 5M floats on a 1M-firm network. :func:`reference_step` computes the same step in **two
passes over the links** (numba, ``cache=True``):

1. client by client, segment by segment (links are stored sorted by client and supplier sector):
   the inventory update of the segment's links (ENGINE.md step 2), the segment's new stock
   S^sec/A^sec (step 3, a sum in canonical link order as the numpy step's CSR product adds it),
   the orders of its links (step 3) and the client's input limit (step 5, the least segment stock);
   then the demand each order adds to its supplier (step 4, scattered in canonical link order: for
   every supplier the same additions in the same order as the numpy step's sum over its links);
2. a pass over the firms: demand, production and the rationing (step 6): the ratio r = P/D per
   supplier, or under priority rationing the level L of every short supplier, found by
   water-filling on its claimants (links in canonical order, then its final consumer, sorted stably
   by requested ratio) with the numpy step's running sums.

The random accesses (the scatter of orders to suppliers, the gather of each supplier's ratio for
last step's deliveries O·r[supplier]) run in tight loops of their own: inside the segment pass they
made the step two to three times slower (measured: 2.1x for the gather, 3x for the scatter). On
networks of :data:`BUCKET_MIN_FIRMS` firms and more both go through buckets of suppliers
(:func:`supplier_buckets`: the per-firm array is visited one cache-sized block at a time, the link
arrays in a few sequential streams): the same products and, per supplier, the same additions in
the same order, so the same bits.

Every operation is the numpy step's, in its order, so proportional runs give the numpy step's
numbers **bit for bit** (tests/test_engine_reference.py and tests/test_engine_refkernel.py run both);
under priority rationing only claimants with equal requested ratios may be summed in another order
(the numpy step's sort is not stable), a last-bit difference.

Examples
--------
>>> isinstance(reference_kernel_wanted("numpy", 10, 10), bool)
True
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from . import kernel as _kernel

__all__ = ["AUTO_MIN_LINK_STEPS", "BUCKET_MIN_FIRMS", "reference_kernel_wanted", "reference_step",
           "step_layout", "supplier_buckets"]

AUTO_MIN_LINK_STEPS = 20_000_000
"""``kernel="auto"`` compiles the reference step from this many link-steps on (links × steps):
below it the numpy step is done before numba is imported and its cached code loaded (0.3–0.6 s)."""

_STEP: Callable[..., Any] | None = None


def reference_kernel_wanted(requested: str, n_links: int, steps: int) -> bool:
    """Whether a reference-mode run uses the compiled step.

    ``numba`` and ``numpy`` force the choice, and so do ``PAXSILICA_KERNEL=numba`` / ``=numpy`` for
    ``auto``; otherwise ``auto`` compiles runs of at least :data:`AUTO_MIN_LINK_STEPS` link-steps.

    Examples
    --------
    >>> reference_kernel_wanted("numpy", 5_000_000, 365), reference_kernel_wanted("auto", 10, 30)
    (False, False)
    """
    if not _kernel.kernel_choice(requested):
        return False
    forced = os.environ.get("PAXSILICA_KERNEL", "").strip().lower() == "numba"  # e.g. the tests of both paths
    return requested == "numba" or forced or n_links * steps >= AUTO_MIN_LINK_STEPS


def _step(x, s, sbar, last_min, o, y, xnew, level, served, capf,
          cli_seg_ptr, seg_ptr, sup, w_link, a_rel, eps_link, eps_seg, w_n, a_one, c_rel,
          idle, idle_link, any_idle, n_days, inv_tau, priority,
          sup_ptr, by_sup, wf_w, wf_g, wf_idx, wf_tmp, wf_cwg, wf_cw, d,
          bucketed, b_pos, b_sup, b_buf, a_sup, b_obuf, b_bysup):  # pragma: no cover - compiled
    """One Part A step for every scenario row b (see the module docs); returns whether any
    supplier of any row was short. ``x`` is last step's production (read), ``xnew`` this step's.

    Last step's deliveries are formed at the start of the step, from last step's orders ``o`` and its
    rationing ``level`` per supplier (O·r, or min(O, L) when ``last_min[0]``, the priority rule): the
    products the numpy step forms at the end of its step, into ``d``.

    With ``bucketed`` the two random accesses by supplier go through the layout of
    :func:`supplier_buckets`: the supplier reads and writes of each pass stay inside one block of
    suppliers at a time (``b_sup``, links in bucket order) while the link arrays are read and
    written through ``b_pos`` (a few sequential streams); the same products and, per supplier, the
    same additions in the same order. Under priority rationing the claimants of a short supplier
    are read from ``a_sup`` (the link amounts in supplier order) and, bucketed, from this step's
    orders copied into bucket order (``b_obuf``, at ``b_bysup``) once the short suppliers hold more
    than a quarter of the links: a jump within the supplier's bucket instead of over all the links."""
    B, n = x.shape
    any_short = False
    short_links = 0  # claimant links of the short suppliers (all rows)
    inf = math.inf
    for b in range(B):
        xb, sb_, ob, yb, cf, lvb = x[b], s[b], o[b], y[b], capf[b], level[b]
        sbb = sbar[b]
        use_min = last_min[0]
        # last step's deliveries, O·r or min(O, L) per link: a tight loop of its own (inside the pass
        # below, its random reads of the supplier's ratio cost twice the whole step)
        db = d[b]
        if bucketed:
            for p in range(b_sup.size):  # each supplier's level, in bucket order
                b_buf[p] = lvb[b_sup[p]]
            for k in range(sb_.size):
                o_last = ob[k]
                l_sup = b_buf[b_pos[k]]
                db[k] = (o_last if not l_sup < o_last else l_sup) if use_min else o_last * l_sup
        else:
            for k in range(sb_.size):
                o_last = ob[k]
                l_sup = lvb[sup[k]]
                db[k] = (o_last if not l_sup < o_last else l_sup) if use_min else o_last * l_sup
        for i in range(n):
            yb[i] = 0.0
        # pass 1: client by client, segment by segment
        for i in range(n):
            xi = xb[i]
            pm = inf
            for sg in range(cli_seg_ptr[i], cli_seg_ptr[i + 1]):
                st = sbb[sg]
                if not st > eps_seg[sg]:  # a segment without stock gives nothing: s / inf = 0
                    st = inf
                acc = 0.0
                for k in range(seg_ptr[sg], seg_ptr[sg + 1]):
                    sk = sb_[k]
                    wb = sk / st
                    wb = wb * xi
                    sn = (sk + db[k]) - wb
                    if sn <= eps_link[k]:
                        sn = 0.0
                    if any_idle and idle_link[k]:
                        sn = sk
                    sb_[k] = sn
                    acc += w_link[k] * sn
                    ok = xi * n_days
                    ok = ok - sn
                    ok = ok * inv_tau
                    ok = ok + xi
                    if not ok >= 0.0:
                        ok = 0.0 if ok < 0.0 else ok
                    if any_idle and idle_link[k]:
                        ok = 1.0
                    ob[k] = ok
                st_new = (acc - w_n[sg]) + n_days
                sbb[sg] = st_new
                if st_new < pm:
                    pm = st_new
            # input limit, capacity
            cap = cf[i]
            xnew[b, i] = cap if not pm < cap else pm
        # demand: each order scattered to its supplier in canonical link order (for every supplier
        # the additions of the numpy step's sum over its links, in the same order); a loop of its own:
        # inside the pass above the stores into y could alias the link arrays and serialise it (3x)
        if bucketed:
            for k in range(sb_.size):
                b_buf[b_pos[k]] = a_rel[k] * ob[k]
            for p in range(b_sup.size):  # within a bucket the links keep their canonical order
                yb[b_sup[p]] += b_buf[p]
        else:
            for k in range(sb_.size):
                yb[sup[k]] += a_rel[k] * ob[k]
        # firms: demand, production
        for i in range(n):
            yi = ((yb[i] - a_one[i]) + 1.0) + 0.0
            if yi < 0.0:
                yi = 0.0
            if any_idle and idle[i]:
                yi = 0.0
            yb[i] = yi
            p = xnew[b, i]
            p = p if p < yi else yi
            if any_idle and idle[i]:
                p = 0.0
            xnew[b, i] = p
            if p < yi:
                any_short = True
                short_links += sup_ptr[i + 1] - sup_ptr[i]
    if priority and any_short:
        for b in range(B):
            xb, ob, yb, lv, sv = xnew[b], o[b], y[b], level[b], served[b]
            run = np.zeros(2)  # the water-filling's running sums over this row's short suppliers in order
            # many short suppliers: this step's orders copied into bucket order first (sequential
            # streams), so that each claimant read jumps within its bucket; few: read in place
            via_buckets = bucketed and short_links * 4 > B * ob.size
            if via_buckets:
                for k in range(ob.size):
                    b_obuf[b_pos[k]] = ob[k]
            for j in range(n):
                if not xb[j] < yb[j]:
                    lv[j] = inf
                    sv[j] = 1.0
                    continue
                # claimants: links in canonical order, then the final consumer
                k = 0
                for p in range(sup_ptr[j], sup_ptr[j + 1]):
                    wf_w[k] = a_sup[p]
                    wf_g[k] = b_obuf[b_bysup[p]] if via_buckets else ob[by_sup[p]]
                    k += 1
                if c_rel[j] > 0:
                    wf_w[k] = c_rel[j]
                    wf_g[k] = 1.0
                    k += 1
                lev = _kernel._waterfill_level(wf_w, wf_g, k, xb[j], run, wf_idx, wf_tmp, wf_cwg, wf_cw)
                lv[j] = lev
                sv[j] = 1.0 if not lev < 1.0 else lev
    else:
        for b in range(B):
            xb, ob, yb, lv, sv = xnew[b], o[b], y[b], level[b], served[b]
            for j in range(n):
                yj = yb[j]
                r = xb[j] / yj if yj > 0 else 0.0
                lv[j] = r
                sv[j] = 1.0 * r
    last_min[0] = priority and any_short
    return any_short


BUCKET_MIN_FIRMS = 1 << 19
"""Networks of at least this many firms route the supplier accesses through :func:`supplier_buckets`
(measured: at 150k firms the direct loops are faster, their per-firm arrays stay in the caches)."""

BUCKET_SHIFT_MIN = 15
"""Smallest bucket: 2^15 suppliers (256 KiB of floats, half a core's L2 cache on the benchmark machine)."""


def supplier_buckets(sup: np.ndarray, n_firms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Links in blocks of suppliers, for the step's scatter and gather by supplier.

    The step's two random accesses per link (each supplier's rationing level read for last step's
    deliveries; each order added to its supplier's demand) jump over a per-firm array of 8 MB at 1M
    firms, far beyond the core's cache. In bucket order (suppliers ``[k·2^s, (k+1)·2^s)`` together,
    at most about 16 buckets, links in canonical order inside each) those accesses stay within one
    block of the per-firm array at a time; the link arrays are then visited through ``pos``, which
    reads and writes one sequential stream per bucket.

    Returns ``(pos, sup_in_bucket_order, buffer)`` (``pos[k]``: position of link k in bucket
    order), or None for networks small enough to skip it (:data:`BUCKET_MIN_FIRMS`).

    Examples
    --------
    >>> supplier_buckets(np.array([0, 1]), 2) is None
    True
    >>> pos, sb, _ = supplier_buckets(np.array([300_000, 5, 200_000, 7]), 600_000)
    >>> pos.tolist(), sb.tolist()
    ([3, 0, 2, 1], [5, 7, 200000, 300000])
    """
    if n_firms < BUCKET_MIN_FIRMS or sup.size == 0:
        return None
    shift = max(BUCKET_SHIFT_MIN, (n_firms - 1).bit_length() - 4)
    order = np.argsort(sup >> shift, kind="stable")
    pos = np.empty(sup.size, np.int32 if sup.size < 2**31 else np.int64)
    pos[order] = np.arange(sup.size, dtype=pos.dtype)
    return pos, np.ascontiguousarray(sup[order], dtype=np.int32), np.empty(sup.size)


def step_layout(sup: np.ndarray, by_supplier: np.ndarray, a_rel: np.ndarray, n_firms: int,
                priority: bool) -> tuple[Any, ...]:
    """The step's last arguments: ``(bucketed, pos, sup_in_bucket_order, buffer, a_sup, obuf, bysup)``.

    ``a_sup`` holds the link amounts in supplier order and, bucketed, ``bysup`` the bucket-order
    position of each link in supplier order, for the water-filling (priority rationing only; empty
    arrays otherwise, so that one compiled signature serves every run).

    Examples
    --------
    >>> lay = step_layout(np.array([0, 1]), np.array([0, 1]), np.array([1.0, 1.0]), 2, True)
    >>> lay[0], lay[4].tolist()
    (False, [1.0, 1.0])
    """
    i32, f64 = np.zeros(0, np.int32), np.zeros(0)
    buckets = supplier_buckets(sup, n_firms)
    a_sup = np.ascontiguousarray(np.asarray(a_rel, np.float64)[by_supplier]) if priority else f64
    if buckets is None:
        return (False, i32, i32, f64, a_sup, f64, i32)
    pos, sup_b, buf = buckets
    if not priority:
        return (True, pos, sup_b, buf, a_sup, f64, pos[:0])
    return (True, pos, sup_b, buf, a_sup, np.empty(sup.size), np.ascontiguousarray(pos[by_supplier]))


def reference_step() -> Callable[..., Any]:
    """The compiled reference step (compiled on first use, or loaded from numba's on-disk cache)."""
    global _STEP
    if _STEP is None:
        # imports numba (or raises InputError) and compiles the shared water-filling
        # (kernel._waterfill_level), which the step resolves at its compilation. numba's on-disk
        # cache keys this step on refkernel.py alone: an install rewrites both files (new stamps, a
        # fresh compile), but in a checkout, after editing only kernel._waterfill_level, delete
        # src/paxsilica/sim/__pycache__/*.nb[ic] or this step keeps the old level.
        _kernel.compiled_step()
        import numba

        opts = dict(cache=True, error_model="numpy", nogil=True)
        _STEP = numba.njit(**opts)(_step)
    return _STEP
