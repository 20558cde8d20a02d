"""Sourcing diversification: how much of each item to take from each source, against a scenario set.

Decision ``x[i, c]``: the part of the consumer's need of item ``i`` sourced from ``c``. With ``u[ω, i, c]``
the part of the horizon over which source ``c`` of ``i`` is lost in scenario ω
(:func:`paxsilica.planning.scenarios.unavailability`) and ``k[i]`` the item's weight at the target
(:mod:`paxsilica.planning.base`), the consumer's shortfall at the target in scenario ω is
``L_ω = max_i k_i Σ_c u[ω,i,c] x[i,c]`` (the bottleneck propagation is max-times). The linear program
(Rockafellar & Uryasev 2000 for the CVaR)::

    min  η + 1/(1−α) Σ_ω p_ω z_ω                         (CVaR_α of L; α = 0: E[L]; α = 1: max_ω L_ω)
    s.t. L_ω ≥ k_i Σ_c u[ω,i,c] x[i,c]                   every scenario ω, item i
         z_ω ≥ L_ω − η,  z_ω ≥ 0
         Σ_c x[i,c] = 1                                   need: every item fully sourced
         x[i,c] ≤ cap[i,c]                                capacity: current volume + spare capacity
         x[i,c] ≤ s_max                                   max share per source (EU CRMA benchmark 65 %)
         Σ_{c ∈ coalition} x[i,c] ≥ s_coal                minimum coalition share
         e[i,c] ≥ x[i,c] − cur[i,c],  e ≥ 0               volume moved to a source
         Σ_{i,c} spend_i π[i,c] e[i,c] ≤ B                budget for the price premium π of moved volume

Where capacity cannot meet the 65 % benchmark for an item (a single producer holds more and the others
have no spare capacity), the limit for that item is the least share capacity allows (water-filling),
reported as ``achievable_max_share``; ``strict=True`` refuses instead.

Examples
--------
Hand-solvable: wafers from JPN (60 %) and CHN (40 %), each able to supply everything; scenario "a"
bans JPN's exports for the whole horizon. With a 65 % cap the best plan takes 65 % from CHN (the
shortfall is then 35 %, JPN's minimum part).

>>> import pandas as pd, numpy as np
>>> src = pd.DataFrame({"item": ["wafer"] * 2, "producer": ["JPN", "CHN"], "country": ["JPN", "CHN"],
...     "share": [0.6, 0.4], "current": [0.6, 0.4], "cap": [1.0, 1.0], "spare": [0.0, 0.0],
...     "member": [False, False], "weight": [1.0, 1.0], "spend_usd_m": [np.nan, np.nan]})
>>> u = np.array([[1.0, 0.0]])
>>> plan = optimize_sourcing(src, u, prob=np.ones(1), alpha=0.0)
>>> plan.mix["planned"].round(6).tolist(), round(plan.summary["after"]["expected"], 6)
([0.35, 0.65], 0.35)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .model import InfeasibleError, LinearModel, Solution
from .risk import check_alpha, cvar, expectation, var

__all__ = ["DEFAULT_MAX_SHARE", "DEFAULT_PREMIUM", "SourcingPlan", "evaluate_mix", "optimize_sourcing"]

DEFAULT_MAX_SHARE = 0.65
"""Largest share of one source: the EU Critical Raw Materials Act benchmark (Regulation (EU) 2024/1252,
Art. 5(1)(d): no more than 65 % of the Union's annual consumption of each strategic raw material from a
single third country)."""
DEFAULT_PREMIUM = 0.10
"""Price premium of volume moved to another source, fraction of its price. Assumption (no cited figure
for the atlas's items): range 0-0.30; give your own with ``premium``."""
_ALPHA_ONE = 1.0 - 1e-9


@dataclass(frozen=True)
class SourcingPlan:
    """The plan, before and after, and why.

    Attributes
    ----------
    mix : DataFrame
        ``item, producer, country, member, current, planned, cap, limit`` per source.
    items : DataFrame
        Per item: ``hhi_before/after`` (0-10 000), ``coalition_before/after``, ``expected_before/after``
        (the item's own expected lost share), ``achievable_max_share``.
    scenarios : DataFrame
        ``scenario, loss_before, loss_after`` (shortfall at the target, 0-1).
    summary : dict
        ``before`` and ``after``: ``expected``, ``var``, ``cvar``, ``worst``, ``hhi`` (need-weighted
        mean), ``coalition_share``; ``cost``, ``cost_unit``, ``alpha``, ``objective``.
    constraints : DataFrame
        Every constraint row with slack, dual and binding flag (:meth:`Solution.constraints`).
    notes : tuple of str
    """

    mix: pd.DataFrame
    items: pd.DataFrame
    scenarios: pd.DataFrame
    summary: dict[str, Any]
    constraints: pd.DataFrame
    notes: tuple[str, ...] = ()
    solution: Solution | None = field(default=None, repr=False, compare=False)


def _water_level(caps: np.ndarray) -> float:
    """Least ``τ`` with ``Σ min(cap, τ) ≥ 1`` (``inf`` when the capacities sum to less than 1)."""
    caps = np.sort(np.asarray(caps, float))[::-1]
    if caps.sum() < 1.0 - 1e-9:
        return np.inf
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if np.minimum(caps, mid).sum() >= 1.0 - 1e-12:
            hi = mid
        else:
            lo = mid
    return hi


def evaluate_mix(src: pd.DataFrame, u: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Shortfall at the target per scenario, ``max_i k_i Σ_c u x``, for a mix ``x`` (one value a source)."""
    items = src["item"].to_numpy()
    k = src["weight"].to_numpy(float)
    lost = u * x[None, :]
    out = np.zeros(u.shape[0])
    for it in pd.unique(items):
        m = items == it
        out = np.maximum(out, k[m][0] * lost[:, m].sum(axis=1))
    return out


def _hhi(src: pd.DataFrame, x: np.ndarray) -> pd.Series:
    return pd.Series(x ** 2, index=src.index).groupby(src["item"], sort=False).sum() * 10_000.0


def _coal(src: pd.DataFrame, x: np.ndarray) -> pd.Series:
    return pd.Series(x * src["member"].to_numpy(bool), index=src.index).groupby(src["item"], sort=False).sum()


def _measures(src: pd.DataFrame, u: np.ndarray, x: np.ndarray, prob: np.ndarray, alpha: float) -> dict[str, float]:
    L = evaluate_mix(src, u, x)
    return {"expected": expectation(L, prob), "var": var(L, alpha, prob), "cvar": cvar(L, alpha, prob),
            "worst": float(L.max()) if len(L) else 0.0, "hhi": float(_hhi(src, x).mean()),
            "coalition_share": float(_coal(src, x).mean())}


def optimize_sourcing(src: pd.DataFrame, u: np.ndarray, *, prob: np.ndarray, alpha: float = 0.95,
                      max_share: float = DEFAULT_MAX_SHARE, min_coalition_share: float = 0.0,
                      budget: float | None = None, premium: float | Mapping[str, float] = DEFAULT_PREMIUM,
                      strict: bool = False, scenario_ids: tuple[str, ...] | None = None,
                      tiebreak: float = 1e-4) -> SourcingPlan:
    """Solve the sourcing model (module docstring) on a source table and an unavailability array.

    Parameters
    ----------
    src : DataFrame
        :attr:`paxsilica.planning.base.SupplyBase.sources`.
    u : ndarray (scenarios, sources)
        Lost part of each source per scenario.
    prob : ndarray
        Scenario probabilities.
    alpha : float
        CVaR level (0: minimize the expected shortfall; 1: the worst scenario).
    max_share, min_coalition_share : float
        Fractions 0-1.
    budget : float, optional
        Largest premium spent, in USD m a year where the atlas gives import values (else in units of
        one item's annual spend).
    premium : float or mapping
        Premium of moved volume, fraction of price: one number, or per source country / ``item@country``.
    strict : bool
        Refuse (``InfeasibleError``) instead of relaxing an unreachable max share.
    tiebreak : float
        Weight of the expected shortfall (and, 100 times smaller, of the volume moved) added to the
        objective, so that among plans with the same CVaR the one with the lower expectation and the
        fewest moves is chosen (0: the CVaR alone). ``summary["objective"]`` is the CVaR part only.
    """
    a = check_alpha(alpha)
    for name, v in (("max_share", max_share), ("min_coalition_share", min_coalition_share)):
        if not 0.0 <= float(v) <= 1.0:
            raise InputError(f"{name} must be in [0, 1], got {v}", column=name)
    if budget is not None and budget < 0:
        raise InputError(f"budget must be >= 0, got {budget}", column="budget")
    u = np.asarray(u, float)
    prob = np.asarray(prob, float) / np.sum(prob)
    n_s, n_src = u.shape
    if n_src != len(src):
        raise ValueError("u has one column per source")
    src = src.reset_index(drop=True)
    items = list(pd.unique(src["item"]))
    notes: list[str] = []
    cap = src["cap"].to_numpy(float)
    limit = np.full(n_src, float(max_share))
    achievable = {}
    for it in items:
        m = (src["item"] == it).to_numpy()
        tau = _water_level(cap[m])
        if np.isinf(tau):
            raise InfeasibleError(f"the sourcing model is infeasible: the sources of {it} can supply only "
                                  f"{cap[m].sum():.1%} of the need (current volume plus spare capacity)",
                                  column="items")
        achievable[it] = max(tau, 0.0)
        if tau > max_share + 1e-9:
            if strict:
                raise InfeasibleError(f"the sourcing model is infeasible: no source of {it} may exceed "
                                      f"{max_share:.0%}, but capacity allows no less than {tau:.1%} from one source; "
                                      "lower the benchmark (--max-share) or drop --strict", column="max_share")
            limit[m] = tau
    relaxed = [it for it in items if achievable[it] > max_share + 1e-9]
    if relaxed:
        notes.append(f"{len(relaxed)} item(s) cannot meet the {max_share:.0%} benchmark with the capacity the atlas "
                     f"shows ({', '.join(relaxed[:6])}{', ...' if len(relaxed) > 6 else ''}): their limit is the "
                     "least share capacity allows (achievable_max_share)")
    member = src["member"].to_numpy(bool)
    if min_coalition_share > 0:
        for it in items:
            m = (src["item"] == it).to_numpy()
            avail = float(np.minimum(cap[m & member], limit[m & member]).sum())
            if avail < min_coalition_share - 1e-9:
                raise InfeasibleError(f"the sourcing model is infeasible: coalition members can supply at most "
                                      f"{avail:.1%} of {it}, less than the minimum coalition share "
                                      f"{min_coalition_share:.0%}", column="min_coalition_share")
    prem = _premium(src, premium)
    spend = src["spend_usd_m"].to_numpy(float)
    has_spend = np.isfinite(spend)
    spend_u = np.where(has_spend, spend, 1.0)
    cost_unit = "USD m/yr" if has_spend.all() else ("USD m/yr where known, else item-spends" if has_spend.any()
                                                    else "item-spends (share of one item's annual spend)")

    labels = list(zip(src["item"], src["producer"], strict=True))
    ids = scenario_ids or tuple(str(i) for i in range(n_s))
    mdl = LinearModel("sourcing", "min", hint="Relax the coalition share, the max share or the budget.")
    x = mdl.add_vars("x", labels, ub=1.0)
    e = mdl.add_vars("moved", labels, cost=tiebreak * 1e-2)
    L = mdl.add_vars("loss", list(ids), cost=tiebreak * prob)
    worst = a >= _ALPHA_ONE
    if worst:
        t = mdl.add_vars("worst", ["worst"], lb=-np.inf, cost=1.0)
    else:
        eta = mdl.add_vars("eta", ["eta"], lb=-np.inf, cost=1.0)
        z = mdl.add_vars("excess", list(ids), cost=prob / (1.0 - a))
    k = src["weight"].to_numpy(float)
    pos = {it: np.flatnonzero((src["item"] == it).to_numpy()) for it in items}
    # scenario rows: L_ω ≥ k_i Σ_c u x, only where the item loses something in ω
    lab, terms = [], []
    for it in items:
        cols = pos[it]
        sub = u[:, cols]
        for w in np.flatnonzero(sub.sum(axis=1) > 0):
            nz = cols[sub[w] > 0]
            lab.append((ids[w], it))
            terms.append(([L[w], *x[nz]], [1.0, *(-k[nz] * u[w, nz])]))
    mdl.add_rows("scenario_loss", lab, terms, ">=", 0.0)
    if worst:
        mdl.add_rows("worst_case", list(ids), [([t[0], L[w]], [1.0, -1.0]) for w in range(n_s)], ">=", 0.0)
    else:
        mdl.add_rows("tail", list(ids), [([z[w], eta[0], L[w]], [1.0, 1.0, -1.0]) for w in range(n_s)],
                     ">=", 0.0)
    mdl.add_rows("need", items, [(x[pos[it]], np.ones(len(pos[it]))) for it in items], "==", 1.0)
    mdl.add_rows("capacity", labels, [([x[j]], [1.0]) for j in range(n_src)], "<=", cap)
    mdl.add_rows("max_share", labels, [([x[j]], [1.0]) for j in range(n_src)], "<=", limit)
    if min_coalition_share > 0:
        mdl.add_rows("coalition_share", items, [(x[pos[it][member[pos[it]]]], np.ones(int(member[pos[it]].sum())))
                                                 for it in items], ">=", min_coalition_share)
    cur = src["current"].to_numpy(float)
    mdl.add_rows("moved_volume", labels, [([e[j], x[j]], [1.0, -1.0]) for j in range(n_src)], ">=", -cur)
    if budget is not None:
        mdl.add_rows("budget", ["budget"], [(e, spend_u * prem)], "<=", float(budget))
    sol = mdl.solve()

    xv = np.clip(sol.value("x").to_numpy(), 0.0, 1.0)
    xv = np.where(xv < 1e-9, 0.0, xv)
    before = _measures(src, u, cur, prob, a)
    after = _measures(src, u, xv, prob, a)
    cost = float(np.dot(spend_u * prem, np.maximum(xv - cur, 0.0)))
    mix = src[["item", "producer", "country", "member"]].assign(current=cur, planned=xv, cap=cap, limit=limit)
    lb, la = evaluate_mix(src, u, cur), evaluate_mix(src, u, xv)
    lost_b = pd.Series((u * cur).T.dot(prob), index=src.index).groupby(src["item"], sort=False).sum()
    lost_a = pd.Series((u * xv).T.dot(prob), index=src.index).groupby(src["item"], sort=False).sum()
    items_t = pd.DataFrame({"item": items, "weight": [float(k[pos[i][0]]) for i in items],
                            "hhi_before": _hhi(src, cur).reindex(items).to_numpy(),
                            "hhi_after": _hhi(src, xv).reindex(items).to_numpy(),
                            "coalition_before": _coal(src, cur).reindex(items).to_numpy(),
                            "coalition_after": _coal(src, xv).reindex(items).to_numpy(),
                            "expected_before": lost_b.reindex(items).to_numpy(),
                            "expected_after": lost_a.reindex(items).to_numpy(),
                            "achievable_max_share": [achievable[i] for i in items]})
    scen = pd.DataFrame({"scenario": list(ids), "loss_before": lb, "loss_after": la})
    summary = {"before": before, "after": after, "cost": cost, "cost_unit": cost_unit, "alpha": a,
               "objective": float(_risk_part(sol, worst, prob, a)), "max_share": float(max_share),
               "min_coalition_share": float(min_coalition_share), "budget": budget,
               "measure": "worst" if worst else ("expected" if a == 0 else f"cvar{a:g}")}
    return SourcingPlan(mix, items_t, scen, summary, sol.constraints(), tuple(notes), sol)


def _risk_part(sol: Solution, worst: bool, prob: np.ndarray, a: float) -> float:
    """The CVaR part of the objective (without the tie-break terms)."""
    if worst:
        return float(sol.value("worst").iloc[0])
    return float(sol.value("eta").iloc[0] + np.dot(prob, sol.value("excess").to_numpy()) / (1.0 - a))


def _premium(src: pd.DataFrame, premium: float | Mapping[str, float]) -> np.ndarray:
    if isinstance(premium, Mapping):
        out = []
        for it, c in zip(src["item"], src["producer"], strict=True):
            v = premium.get(f"{it}@{c}", premium.get(str(c), premium.get("*", DEFAULT_PREMIUM)))
            out.append(float(v))
        p = np.asarray(out)
    else:
        p = np.full(len(src), float(premium))
    if (p < 0).any():
        raise InputError("a price premium must be >= 0", column="premium")
    return p
