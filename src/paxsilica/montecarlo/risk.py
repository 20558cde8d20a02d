"""Risk measures of a loss sample: expected loss, VaR, expected shortfall, exceedance, Euler allocation.

Definitions (``L`` a sample of ``N`` draws sorted ascending, ``L_(1) <= ... <= L_(N)``):

- ``VaR_a`` is the empirical ``a``-quantile ``L_(ceil(a N))``: the smallest loss ``x`` with
  ``P(L <= x) >= a``;
- ``ES_a`` is the mean of the quantile function above ``a``, ``(1/(1-a)) ∫_a^1 VaR_u du``, which on a
  sample puts weight ``w_i = |[(i-1)/N, i/N] ∩ [a, 1]| / (1 - a)`` on ``L_(i)`` (a fraction of a draw at
  the boundary). This is the coherent definition (Acerbi and Tasche 2002), right for distributions
  with atoms such as "no event, no loss";
- the **Euler allocation** of ES to parts ``L = Σ_k L_k`` of each draw's loss is ``Σ_i w_i L_k,(i)``, the
  same weights on each part: the contributions add up to ES exactly;
- standard errors: ``sd(L)/√N`` for the expected loss; for VaR half the width of the distribution-free
  95 % interval of the quantile (order statistics ``a N ± 1.96 √(N a (1-a))``) over 1.96; for ES
  ``sd(max(L - VaR, 0)) / (√N (1-a))``; for an exceedance probability ``√(p(1-p)/N)``.

Examples
--------
Two independent events with fixed losses: 0.2 with probability 0.1 and 0.5 with probability 0.05,
so ``P(0) = 0.855, P(0.2) = 0.095, P(0.5) = 0.045, P(0.7) = 0.005``. A sample of 1,000 draws with
exactly these frequencies:

>>> L = np.repeat([0.0, 0.2, 0.5, 0.7], [855, 95, 45, 5])
>>> float(value_at_risk(L, 0.95)), round(float(expected_shortfall(L, 0.95)), 6)
(0.2, 0.52)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

MIN_TAIL_DRAWS = 50
"""Fewer draws than this beyond a VaR level, or with a loss in its tail, and the estimate is flagged."""

_Z = 1.959963984540054


def _sorted(losses: np.ndarray) -> np.ndarray:
    return np.sort(np.asarray(losses, dtype=float), kind="stable")


def _k(alpha: float, n: int) -> int:
    """1-based rank of the ``alpha``-quantile (``ceil(alpha n)``, guarded against rounding of alpha*n)."""
    return min(n, max(1, math.ceil(alpha * n - 1e-9)))


def tail_weights(n: int, alpha: float) -> np.ndarray:
    """Weight of each order statistic (ascending) in ``ES_alpha`` (they sum to 1).

    Examples
    --------
    >>> tail_weights(10, 0.85).round(3).tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.333, 0.667]
    """
    if not 0 < alpha < 1:
        raise ValueError(f"level must be strictly between 0 and 1, got {alpha}")
    i = np.arange(1, n + 1)
    w = np.clip(np.minimum(i / n, 1.0) - np.maximum((i - 1) / n, alpha), 0.0, None)
    return w / (1.0 - alpha)


def value_at_risk(losses: np.ndarray, alpha: float) -> float:
    """Empirical ``alpha``-quantile of the losses (see the module docstring)."""
    s = _sorted(losses)
    if s.size == 0:
        return math.nan
    return float(s[_k(alpha, s.size) - 1])


def expected_shortfall(losses: np.ndarray, alpha: float) -> float:
    """Mean of the quantile function above ``alpha`` (see the module docstring)."""
    s = _sorted(losses)
    if s.size == 0:
        return math.nan
    return float(tail_weights(s.size, alpha) @ s)


def euler_contributions(total: np.ndarray, parts: np.ndarray, alpha: float) -> np.ndarray:
    """Euler allocation of ``ES_alpha(total)`` to the columns of ``parts`` (rows: draws; each row sums to
    the draw's total). Ties in ``total`` are ordered by draw (stable), so the result is deterministic.

    Examples
    --------
    >>> tot = np.array([0.0, 0.1, 0.3, 0.6])
    >>> parts = np.array([[0, 0], [0.1, 0], [0.1, 0.2], [0.0, 0.6]])
    >>> c = euler_contributions(tot, parts, 0.5)
    >>> c.round(6).tolist(), round(float(c.sum()), 6) == round(expected_shortfall(tot, 0.5), 6)
    ([0.05, 0.4], True)
    """
    total = np.asarray(total, dtype=float)
    parts = np.asarray(parts, dtype=float).reshape(total.size, -1)
    if total.size == 0:
        return np.zeros(parts.shape[1])
    order = np.argsort(total, kind="stable")
    return tail_weights(total.size, alpha) @ parts[order]


def tail_draws(losses: np.ndarray, alpha: float) -> np.ndarray:
    """Positions (in the given order) of the draws with a weight in ``ES_alpha``."""
    losses = np.asarray(losses, dtype=float)
    order = np.argsort(losses, kind="stable")
    return np.sort(order[tail_weights(losses.size, alpha) > 0]) if losses.size else np.zeros(0, np.int64)


def summarize(losses: np.ndarray, levels: Sequence[float], thresholds: Sequence[float]) -> list[dict]:
    """Rows of the summary for one loss sample: ``measure`` (``expected_loss``, ``var``, ``es``,
    ``p_exceed``), ``level`` (VaR/ES level or the loss threshold), ``value``, ``se``, ``tail_draws``
    (draws beyond the VaR level), ``warning`` (empty, or why the estimate is rough).

    Examples
    --------
    >>> rows = summarize(np.repeat([0.0, 1.0], [90, 10]), [0.95], [0.5])
    >>> [(r["measure"], r["value"]) for r in rows]
    [('expected_loss', 0.1), ('var', 1.0), ('es', 1.0), ('p_exceed', 0.1)]
    >>> rows[1]["warning"] != ""
    True
    """
    L = np.asarray(losses, dtype=float)
    n = L.size
    if n == 0:
        return []
    s = np.sort(L, kind="stable")
    sd = float(L.std(ddof=1)) if n > 1 else 0.0
    rows = [{"measure": "expected_loss", "level": None, "value": float(L.mean()), "se": sd / math.sqrt(n),
             "tail_draws": n, "warning": ""}]
    for a in levels:
        k = _k(a, n)
        var = float(s[k - 1])
        half = _Z * math.sqrt(n * a * (1 - a))
        lo = s[min(n, max(1, math.floor(a * n - half))) - 1]
        hi = s[min(n, max(1, math.ceil(a * n + half))) - 1]
        se_var = float(hi - lo) / (2 * _Z)
        es = float(tail_weights(n, a) @ s)
        y = np.maximum(L - var, 0.0)
        se_es = float(y.std(ddof=1)) / (math.sqrt(n) * (1 - a)) if n > 1 else math.nan
        beyond = n - k
        with_loss = int(np.count_nonzero(s[k - 1:] > 0))
        warn = ""
        if beyond < MIN_TAIL_DRAWS:
            warn = (f"the {a:.4g} tail rests on {beyond} draws (fewer than {MIN_TAIL_DRAWS}): a rough estimate; "
                    f"run at least {math.ceil(MIN_TAIL_DRAWS / (1 - a)):,} draws")
        elif 0 < with_loss < MIN_TAIL_DRAWS:
            warn = (f"only {with_loss} draws of the {a:.4g} tail have a loss (fewer than {MIN_TAIL_DRAWS}): "
                    "a rough estimate; run more draws")
        rows.append({"measure": "var", "level": float(a), "value": var, "se": se_var, "tail_draws": beyond,
                     "warning": warn})
        rows.append({"measure": "es", "level": float(a), "value": es, "se": se_es, "tail_draws": beyond,
                     "warning": warn})
    for x in thresholds:
        p = float(np.mean(L > x))
        hits = int(np.count_nonzero(L > x))
        warn = "" if hits >= MIN_TAIL_DRAWS or p == 0 else (
            f"only {hits} draws lose more than {x:g} (fewer than {MIN_TAIL_DRAWS}): a rough estimate")
        if hits == 0:
            warn = f"no draw loses more than {x:g}: the probability is below about {3 / n:.2g} (rule of three)"
        rows.append({"measure": "p_exceed", "level": float(x), "value": p, "se": math.sqrt(p * (1 - p) / n),
                     "tail_draws": hits, "warning": warn})
    return rows


def exceedance_curve(losses: np.ndarray, points: int = 200) -> pd.DataFrame:
    """The loss exceedance curve: ``loss`` and ``p_exceed`` = P(L > loss), at most ``points`` rows
    (the distinct losses of the sample, thinned evenly).

    Examples
    --------
    >>> exceedance_curve(np.array([0.0, 0.0, 0.5, 1.0])).to_dict("list")
    {'loss': [0.0, 0.5, 1.0], 'p_exceed': [0.5, 0.25, 0.0]}
    """
    L = np.sort(np.asarray(losses, dtype=float))
    if L.size == 0:
        return pd.DataFrame({"loss": [], "p_exceed": []})
    u = np.unique(L)
    if u.size > points:
        u = u[np.unique(np.linspace(0, u.size - 1, points).round().astype(int))]
    p = 1.0 - np.searchsorted(L, u, side="right") / L.size
    return pd.DataFrame({"loss": u.astype(float), "p_exceed": p.astype(float)})
