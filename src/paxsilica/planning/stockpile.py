"""Stockpile sizing: the cheapest strategic stock that keeps the target's shortfall under a tolerance.

With the consumer's mix ``x[i, c]`` held fixed (its current mix, or a sourcing plan), scenario ω takes
``G[ω, i] = H_ω Σ_c u[ω,i,c] x[i,c]`` days of the item's need away (``u``: lost part of the horizon,
:func:`paxsilica.planning.scenarios.unavailability`). A stock of ``S_i`` days of cover fills ``S_i`` of
them. The linear program::

    min  Σ_i h_i S_i                                      holding cost
    s.t. f[ω,i] ≥ G[ω,i] − S_i,  f ≥ 0                   days of need not covered
         L_ω ≥ k_i f[ω,i] / H_ω                          shortfall at the target (max-times propagation)
         L_ω ≤ τ                      every scenario     (mode "every")
      or η + 1/(1−α) Σ_ω p_ω z_ω ≤ τ,  z_ω ≥ L_ω − η, z ≥ 0   (mode "cvar": CVaR_α(L) ≤ τ)
         0 ≤ S_i ≤ S_max                                  optional largest stock

``h_i`` is the holding cost of one day of cover for a year: carrying rate × annual spend ÷ 365 (spend from
``trade`` import values; without one the cost is in item-spends). The stock is on top of the working
inventories the stress model already holds, so the plan is conservative. The plan is **checked** by
re-running the stress model (:func:`check_with_stress`) with the stock added to the working inventory
days of the holder's links of each item.

Examples
--------
Hand-solvable: JPN's wafers (60 % of the mix) are banned for 30 of 60 days, so 18 days of wafer need
are lost; chips need wafers fully (k = 1). To keep the shortfall at or under 5 % of 60 days (3 days),
15 days of cover are needed.

>>> import pandas as pd, numpy as np
>>> src = pd.DataFrame({"item": ["wafer"] * 2, "producer": ["JPN", "CHN"], "country": ["JPN", "CHN"],
...     "current": [0.6, 0.4], "weight": [1.0, 1.0], "spend_usd_m": [np.nan, np.nan]})
>>> plan = size_stockpile(src, np.array([[0.5, 0.0]]), prob=np.ones(1), horizon=np.array([60.0]),
...                       tolerance=0.05)
>>> round(float(plan.stock["days"].iloc[0]), 6)
15.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .model import LinearModel, Solution
from .risk import check_alpha, cvar, expectation

__all__ = ["DEFAULT_CARRYING_RATE", "StockpilePlan", "check_with_stress", "gaps", "size_stockpile"]

DEFAULT_CARRYING_RATE = 0.25
"""Yearly cost of holding stock, fraction of its value. Assumption: inventory-carrying-cost rules of
thumb put it at 0.15-0.35 (capital, storage, insurance, obsolescence); give your own with ``carrying_rate``
or per-item holding costs with ``holding_cost``."""


@dataclass(frozen=True)
class StockpilePlan:
    """Stock per item, promised shortfalls, cost, and the binding constraints.

    Attributes
    ----------
    stock : DataFrame
        ``item, days, holding_cost_per_day, cost, weight, worst_gap_days``.
    scenarios : DataFrame
        ``scenario, loss_before, loss_after`` (shortfall at the target, 0-1, the planning model's).
    summary : dict
        ``cost, cost_unit, tolerance, mode, alpha``, and ``before``/``after`` expected, CVaR, worst.
    constraints : DataFrame
    notes : tuple of str
    check : DataFrame, optional
        Filled by :func:`check_with_stress`.
    """

    stock: pd.DataFrame
    scenarios: pd.DataFrame
    summary: dict[str, Any]
    constraints: pd.DataFrame
    notes: tuple[str, ...] = ()
    check: pd.DataFrame | None = None
    solution: Solution | None = field(default=None, repr=False, compare=False)


def gaps(src: pd.DataFrame, u: np.ndarray, horizon: np.ndarray, mix: np.ndarray | None = None) -> tuple[list, np.ndarray]:
    """Items and ``G[ω, i]``, days of each item's need lost per scenario with the mix held fixed."""
    x = src["current"].to_numpy(float) if mix is None else np.asarray(mix, float)
    items = list(pd.unique(src["item"]))
    g = np.zeros((u.shape[0], len(items)))
    arr = src["item"].to_numpy()
    for j, it in enumerate(items):
        m = arr == it
        g[:, j] = (u[:, m] * x[m]).sum(axis=1) * horizon
    return items, g


def _losses(g: np.ndarray, s: np.ndarray, k: np.ndarray, horizon: np.ndarray) -> np.ndarray:
    f = np.maximum(g - s[None, :], 0.0)
    return (f * k[None, :] / horizon[:, None]).max(axis=1) if g.shape[1] else np.zeros(len(g))


def size_stockpile(src: pd.DataFrame, u: np.ndarray, *, prob: np.ndarray, horizon: np.ndarray,
                   tolerance: float = 0.01, mode: str = "every", alpha: float = 0.95,
                   carrying_rate: float = DEFAULT_CARRYING_RATE, holding_cost: Mapping[str, float] | None = None,
                   max_days: float | None = None, mix: np.ndarray | None = None,
                   scenario_ids: tuple[str, ...] | None = None) -> StockpilePlan:
    """Solve the stockpile model (module docstring).

    Parameters
    ----------
    tolerance : float
        Largest shortfall at the target, fraction of its output over the horizon (0-1).
    mode : {"every", "cvar"}
        Tolerance in every scenario, or on the CVaR at ``alpha``.
    holding_cost : mapping item -> cost of one day of cover for a year, optional
        Replaces the carrying-rate estimate for those items.
    max_days : float, optional
        Largest stock of any item, days of cover (a tolerance it cannot reach is reported infeasible).
    """
    if mode not in ("every", "cvar"):
        raise InputError(f"mode must be 'every' or 'cvar', got {mode!r}", column="mode")
    if not 0.0 <= tolerance <= 1.0:
        raise InputError(f"tolerance must be in [0, 1], got {tolerance}", column="tolerance")
    if carrying_rate < 0:
        raise InputError("carrying_rate must be >= 0", column="carrying_rate")
    a = check_alpha(alpha)
    if mode == "cvar" and a >= 1.0:
        mode = "every"  # CVaR at 1 is the worst case
    prob = np.asarray(prob, float) / np.sum(prob)
    horizon = np.asarray(horizon, float)
    items, g = gaps(src, u, horizon, mix)
    first = src.drop_duplicates("item").set_index("item")
    k = first["weight"].reindex(items).to_numpy(float)
    spend = first["spend_usd_m"].reindex(items).to_numpy(float)
    h = np.where(np.isfinite(spend), carrying_rate * spend / 365.0, carrying_rate / 365.0)
    for it, v in (holding_cost or {}).items():
        if it not in items:
            raise InputError(f"holding cost given for {it!r}, which is not in the plan", column="holding_cost")
        if v < 0:
            raise InputError(f"holding cost of {it} must be >= 0", column="holding_cost")
        h[items.index(it)] = float(v)
    unit = "USD m/yr" if np.isfinite(spend).all() or holding_cost else "USD m/yr where known, else item-spends"
    n_s, n_i = g.shape
    ids = scenario_ids or tuple(str(i) for i in range(n_s))

    mdl = LinearModel("stockpile", "min", hint="Raise the tolerance or the largest stock (--max-days).")
    S = mdl.add_vars("stock", items, ub=np.inf if max_days is None else float(max_days), cost=h)
    pairs = [(w, j) for w in range(n_s) for j in range(n_i) if g[w, j] > 0 and k[j] > 0]
    plab = [(ids[w], items[j]) for w, j in pairs]
    F = mdl.add_vars("uncovered", plab)
    L = mdl.add_vars("loss", list(ids))
    mdl.add_rows("uncovered_days", plab,
                 [([F[n], S[j]], [1.0, 1.0]) for n, (w, j) in enumerate(pairs)], ">=", [g[w, j] for w, j in pairs])
    mdl.add_rows("scenario_loss", plab,
                 [([L[w], F[n]], [1.0, -k[j] / horizon[w]]) for n, (w, j) in enumerate(pairs)], ">=", 0.0)
    if mode == "every":
        mdl.add_rows("tolerance", list(ids), [([L[w]], [1.0]) for w in range(n_s)], "<=", tolerance)
    else:
        eta = mdl.add_vars("eta", ["eta"], lb=-np.inf)
        z = mdl.add_vars("excess", list(ids))
        mdl.add_rows("tail", list(ids), [([z[w], eta[0], L[w]], [1.0, 1.0, -1.0]) for w in range(n_s)],
                     ">=", 0.0)
        mdl.add_rows("tolerance", ["cvar"], [([eta[0], *z], [1.0, *(prob / (1.0 - a))])], "<=", tolerance)
    sol = mdl.solve()
    s = np.maximum(sol.value("stock").to_numpy(), 0.0)
    s = np.where(s < 1e-9, 0.0, s)
    lb, la = _losses(g, np.zeros(n_i), k, horizon), _losses(g, s, k, horizon)
    stock = pd.DataFrame({"item": items, "days": s, "holding_cost_per_day": h, "cost": h * s, "weight": k,
                          "worst_gap_days": g.max(axis=0) if n_s else np.zeros(n_i)})
    scen = pd.DataFrame({"scenario": list(ids), "loss_before": lb, "loss_after": la})
    summ = {"cost": float((h * s).sum()), "cost_unit": unit, "tolerance": tolerance, "mode": mode, "alpha": a,
            "carrying_rate": carrying_rate,
            "before": {"expected": expectation(lb, prob), "cvar": cvar(lb, a, prob), "worst": float(lb.max())},
            "after": {"expected": expectation(la, prob), "cvar": cvar(la, a, prob), "worst": float(la.max())}}
    notes = [f"holding cost: carrying rate {carrying_rate:.0%} of annual spend a year (assumption, range 15-35 %)"
             if not holding_cost else "holding costs as given"]
    return StockpilePlan(stock, scen, summ, sol.constraints(), tuple(notes), None, sol)


def stocked_atlas(atlas: Any, stock: pd.DataFrame, holders: frozenset[str], base_days: float) -> Any:
    """The atlas with ``stock.days`` added to the working inventory days of the holders' links of each item.

    Rows are added to ``dynamics`` (``inventory_days`` with the holder) over the most specific existing
    row for that item and client, so the stress model's lookup finds them first.
    """
    from ..network.dynamics import Dynamics

    dyn = atlas["dynamics"].copy()
    dd = Dynamics.of(atlas)
    add = []
    inv = dyn[dyn["parameter"] == "inventory_days"] if len(dyn) else dyn
    for r in stock.itertuples(index=False):
        if r.days <= 0:
            continue
        clients = [""] + sorted({str(c) for c in inv.loc[inv["item"] == r.item, "client"].dropna() if str(c)})
        for h in sorted(holders):
            for cl in clients:
                v = dd.value(r.item, "inventory_days", client=cl, holder=h, default=None)
                base = float(v) if v is not None else base_days
                add.append({"item": r.item, "parameter": "inventory_days", "client": cl or None, "holder": h,
                            "value": base + float(r.days), "source": "paxsilica_plan",
                            "note": "stockpile plan: working inventory plus planned stock"})
    if not add:
        return atlas
    extra = pd.DataFrame(add)
    if len(dyn):
        def keys(df: pd.DataFrame) -> list[tuple[str, ...]]:
            cols = [df[c].astype(object).where(df[c].notna(), "") for c in ("item", "parameter", "client", "holder")]
            return [tuple(str(v) for v in t) for t in zip(*cols, strict=True)]

        new = set(keys(extra))
        dyn = dyn[[k not in new for k in keys(dyn)]]
    table = pd.concat([dyn, extra], ignore_index=True) if len(dyn) else extra
    return atlas.replace(dynamics=table)


def check_with_stress(atlas: Any, plan: StockpilePlan, scenarios: list[str], holders: frozenset[str],
                      target: str, inventory_days: float | None = None, slack: float = 0.005) -> pd.DataFrame:
    """Re-run the stress model on each scenario without and with the stock; does it keep the promise?

    Returns ``scenario, promised, stress_before, stress_after, confirmed``: shortfalls at the target
    (0-1; the stress model's ``loss_pct`` ÷ 100 for the holder's consumer rows, else the world's).
    ``confirmed``: the stress model's shortfall with the stock is at most the tolerance (or the promise,
    when the tolerance could not be met), plus ``slack``.
    """
    from ..services.context import ServiceContext
    from ..services.stress import StressRequest, run_stress
    from ..stress import DEFAULT_INVENTORY_DAYS

    days = DEFAULT_INVENTORY_DAYS if inventory_days is None else float(inventory_days)
    stocked = stocked_atlas(atlas, plan.stock, holders or _world_holders(atlas), days)
    ctx0 = ServiceContext(source=atlas, validate=False)
    ctx1 = ServiceContext(source=stocked, validate=False)
    promised = dict(zip(plan.scenarios["scenario"], plan.scenarios["loss_after"], strict=True))
    rows = []
    tol = float(plan.summary["tolerance"])
    for name in scenarios:
        r0 = run_stress(StressRequest(name, target=target, inventory_days=days), ctx0).run
        r1 = run_stress(StressRequest(name, target=target, inventory_days=days), ctx1).run
        b, a = _loss(r0, holders), _loss(r1, holders)
        p = float(promised.get(name, promised.get(Path(str(name)).stem, np.nan)))
        rows.append({"scenario": Path(str(name)).stem if Path(str(name)).suffix else str(name), "promised": p, "stress_before": b, "stress_after": a,
                     "confirmed": bool(a <= max(tol, p if p == p else 0.0) + slack)})
    return pd.DataFrame(rows, columns=["scenario", "promised", "stress_before", "stress_after", "confirmed"])


def _world_holders(atlas: Any) -> frozenset[str]:
    return frozenset(atlas["countries"]["iso3"].astype(str)) if len(atlas["countries"]) else frozenset()


def _loss(run: Any, holders: frozenset[str]) -> float:
    c = run.consumers
    if holders and len(c) and c["consumer"].isin(holders).any():
        return float(c.loc[c["consumer"].isin(holders), "loss_pct"].mean()) / 100.0
    return float(run.summary["loss_pct"]) / 100.0
