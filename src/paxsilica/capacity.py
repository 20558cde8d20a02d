"""AI compute as a stock: installed capacity, its additions, retirements and operation.

The target of the stress model (default ``ai_datacenter_capacity``) is **installed** AI data-centre
capacity: a stock. The engine simulates the flow of its **additions** (new capacity delivered and
installed: accelerators in servers in clusters, with the data centre's capital goods), while the
installed stock needs daily operating inputs (electricity) to run. This module turns the engine's
per-step series into the stock and splits what is lost into two parts:

- **lost additions**: capacity that was not delivered or installed in time, so the stock is lower
  than on the baseline path from then on;
- **lost operation**: installed capacity that could not run (its operating inputs were short).

Per consumer (country) ``c`` and step ``t`` (``Δ`` days per step), with baseline additions ``a`` per
step, annual growth ``g`` of the installed stock and service life ``L`` years:

    K0 = a · (365/Δ) / (g + 1/L)           installed stock at day 0 (additions cover growth and retirements)
    r  = K0 · Δ / (365 L)                   retirements per step (the baseline fleet's; not delayed)
    Kb(t) = K0 + Σ_{τ≤t} (a_req(τ) − r)     baseline stock
    K(t)  = Kb(t) − Σ_{τ≤t} (a_req(τ) − a_del(τ))   the stock after undelivered additions
    AC(t) = K(t) · u(t)                     AI compute that runs (u = the operation's level, 0..1)

Loss of AI compute over the horizon is ``1 − Σ AC / Σ Kb``; it is the sum of the lost-additions
share ``Σ (Kb − K) / Σ Kb`` and the lost-operation share ``Σ K (1 − u) / Σ Kb``.

Examples
--------
Additions stop for 10 of 100 steps; the stock grows 100 %/year with a 5-year life; operation is whole:

>>> import numpy as np
>>> a = np.ones((100, 1)); d = a.copy(); d[20:30] = 0.0
>>> s = capacity_stock(a, d, np.ones((100, 1)), step_days=1, growth=1.0, life_years=5.0)
>>> round(s.lost_additions_pct, 3), s.lost_operation_pct
(2.181, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_GROWTH = 0.8
"""Annual growth of installed AI data-centre capacity where the atlas gives none (Epoch AI tracked
power ×1.8 in 2023 and ×2.3 in 2024; atlas ``dynamics``, ``installed_growth``)."""
DEFAULT_LIFE_YEARS = 5.0
"""Service life of AI servers where the atlas gives none (hyperscalers' depreciation lives, 5–6 years)."""


@dataclass(frozen=True)
class Stock:
    """The installed stock of one run, per step (rows) and consumer (columns).

    Attributes
    ----------
    baseline, installed, running : arrays (T, k)
        ``Kb``, ``K`` and ``AC = K·u``.
    loss_pct, lost_additions_pct, lost_operation_pct : float
        Over the horizon and every consumer, percent of baseline installed capacity-days.
    level : array (T,)
        Running compute over baseline, all consumers.
    """

    baseline: np.ndarray
    installed: np.ndarray
    running: np.ndarray
    loss_pct: float
    lost_additions_pct: float
    lost_operation_pct: float
    level: np.ndarray

    def per_consumer(self) -> dict[str, np.ndarray]:
        """Loss, lost additions and lost operation (percent) per consumer column."""
        kb = self.baseline.sum(axis=0)
        safe = np.where(kb > 0, kb, 1.0)
        return {"loss_pct": 100.0 * (kb - self.running.sum(axis=0)) / safe,
                "lost_additions_pct": 100.0 * (kb - self.installed.sum(axis=0)) / safe,
                "lost_operation_pct": 100.0 * (self.installed - self.running).sum(axis=0) / safe}


def capacity_stock(additions_requested: np.ndarray, additions_delivered: np.ndarray, operation: np.ndarray,
                   *, step_days: int, growth: float = DEFAULT_GROWTH,
                   life_years: float = DEFAULT_LIFE_YEARS) -> Stock:
    """Installed AI capacity from additions and operation (see the module docstring).

    Parameters
    ----------
    additions_requested, additions_delivered : arrays (T, k)
        Additions per step asked and delivered, per consumer (any common unit).
    operation : array (T, k)
        Level (0..1) at which the installed capacity of each consumer could run.
    step_days : int
    growth : float
        Annual growth of the installed stock (fraction per year, > -1/L).
    life_years : float
        Service life (years, > 0).

    Returns
    -------
    Stock
    """
    a_req = np.atleast_2d(np.asarray(additions_requested, float))
    a_del = np.atleast_2d(np.asarray(additions_delivered, float))
    u = np.clip(np.atleast_2d(np.asarray(operation, float)), 0.0, 1.0)
    if a_req.shape != a_del.shape or a_req.shape != u.shape:
        raise ValueError("additions and operation must have the same shape (steps, consumers)")
    if not life_years > 0:
        raise ValueError("service life must be > 0")
    per_year = 365.0 / step_days
    rate = growth + 1.0 / life_years
    if not rate > 0:
        raise ValueError("growth + 1/life must be > 0 (the stock must be replaced)")
    a0 = a_req[0] if len(a_req) else np.zeros(a_req.shape[1])
    k0 = a0 * per_year / rate
    retire = k0 / (life_years * per_year)
    kb = k0[None, :] + np.cumsum(a_req - retire[None, :], axis=0)
    k = kb - np.cumsum(np.maximum(a_req - a_del, 0.0), axis=0)
    k = np.maximum(k, 0.0)
    ac = k * u
    tot_b = float(kb.sum())
    if tot_b <= 0:
        return Stock(kb, k, ac, 0.0, 0.0, 0.0, np.ones(len(kb)))
    lost_add = 100.0 * float((kb - k).sum()) / tot_b
    lost_op = 100.0 * float((k - ac).sum()) / tot_b
    col = kb.sum(axis=1)
    level = np.divide(ac.sum(axis=1), col, out=np.ones_like(col), where=col > 0)
    return Stock(kb, k, ac, lost_add + lost_op, lost_add, lost_op, level)


def flow_stock(requested: np.ndarray, delivered: np.ndarray) -> Stock:
    """A target that is a flow, not a stock: what is delivered is what counts (no operation part).

    Examples
    --------
    >>> import numpy as np
    >>> flow_stock(np.ones((4, 1)), np.array([[1.0], [0.5], [0.5], [1.0]])).loss_pct
    25.0
    """
    req = np.atleast_2d(np.asarray(requested, float))
    got = np.minimum(np.atleast_2d(np.asarray(delivered, float)), req)
    tot = float(req.sum())
    loss = 100.0 * float((req - got).sum()) / tot if tot > 0 else 0.0
    col = req.sum(axis=1)
    level = np.divide(got.sum(axis=1), col, out=np.ones_like(col), where=col > 0)
    return Stock(req, got, got, loss, loss, 0.0, level)
