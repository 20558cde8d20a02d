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
made the step two to three times slower (measured: 2.1x for the gather, 3x for the scatter).

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

__all__ = ["AUTO_MIN_LINK_STEPS", "reference_kernel_wanted", "reference_step"]

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
          sup_ptr, by_sup, wf_w, wf_g, wf_idx, wf_tmp, wf_cwg, wf_cw, d):  # pragma: no cover - compiled
    """One Part A step for every scenario row b (see the module docs); returns whether any
    supplier of any row was short. ``x`` is last step's production (read), ``xnew`` this step's.

    Last step's deliveries are formed at the start of the step, from last step's orders ``o`` and its
    rationing ``level`` per supplier (O·r, or min(O, L) when ``last_min[0]``, the priority rule): the
    products the numpy step forms at the end of its step, into ``d``."""
    B, n = x.shape
    any_short = False
    inf = math.inf
    for b in range(B):
        xb, sb_, ob, yb, cf, lvb = x[b], s[b], o[b], y[b], capf[b], level[b]
        sbb = sbar[b]
        use_min = last_min[0]
        # last step's deliveries, O·r or min(O, L) per link: a tight loop of its own (inside the pass
        # below, its random reads of the supplier's ratio cost twice the whole step)
        db = d[b]
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
    if priority and any_short:
        for b in range(B):
            xb, ob, yb, lv, sv = xnew[b], o[b], y[b], level[b], served[b]
            run = np.zeros(2)  # the water-filling's running sums over this row's short suppliers in order
            for j in range(n):
                if not xb[j] < yb[j]:
                    lv[j] = inf
                    sv[j] = 1.0
                    continue
                # claimants: links in canonical order, then the final consumer
                k = 0
                for p in range(sup_ptr[j], sup_ptr[j + 1]):
                    e = by_sup[p]
                    wf_w[k] = a_rel[e]
                    wf_g[k] = ob[e]
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
