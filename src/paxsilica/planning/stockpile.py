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
re-running the stress model (:func:`paxsilica.services.planning.check_with_stress`, in the service
layer, which runs the stress service) on :func:`stocked_atlas`: the stock added to the working
inventory days of the holder's links of each item.

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
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .model import LinearModel, Solution
from .risk import check_alpha, cvar, expectation

__all__ = ["DEFAULT_CARRYING_RATE", "StockpilePlan", "gaps", "size_stockpile", "stocked_atlas", "world_holders"]

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
        ``item, days`` (of cover), ``quantity_t`` (tonnes, where the atlas gives import quantities),
        ``holding_cost_per_day, cost, weight, worst_gap_days``.
    scenarios : DataFrame
        ``scenario, loss_before, loss_after`` (shortfall at the target, 0-1, the planning model's).
    summary : dict
        ``cost, cost_unit, tolerance, mode, alpha``, and ``before``/``after`` expected, CVaR, worst.
    constraints : DataFrame
    notes : tuple of str
    check : DataFrame, optional
        Filled by the service's stress check.
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
    tonnes = (first["imports_t"].reindex(items).to_numpy(float) if "imports_t" in first.columns
              else np.full(n_i, np.nan))
    stock = pd.DataFrame({"item": items, "days": s, "quantity_t": s * tonnes / 365.0, "holding_cost_per_day": h,
                          "cost": h * s, "weight": k, "worst_gap_days": g.max(axis=0) if n_s else np.zeros(n_i)})
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


def world_holders(atlas: Any) -> frozenset[str]:
    """Every country of the atlas (the holders of a stock planned for the world)."""
    return frozenset(atlas["countries"]["iso3"].astype(str)) if len(atlas["countries"]) else frozenset()
