"""Worst case: the k disruptions that cut the target most (network interdiction), and the robust plan.

**The network** (world level, the bottleneck model of :mod:`paxsilica.metrics.bottlenecks` as a linear
program): ``y_i`` is the available fraction of item ``i``'s baseline output. The supply of an item with
production rows is split into **portions** ``π`` (a source ``(i, c)`` and, where sea lanes are known,
the part of its flow on each route through chokepoints), with shares ``s_π`` summing to 1 per item.
An **attack** ``a`` is a site (one country's production of one item), a country (its production of
every item) or a chokepoint (every portion whose route crosses it); it removes the portions it
covers (``r_π = 1``). For fixed removals and a defender's extra supply ``e_i``::

    V(r, e) = max y_T
      s.t.  y_i ≤ e_i + Σ_{π of i} s_π (1 − r_π)     [ρ_i]   items with production rows
            y_i ≤ 1                                   [μ_i]
            y_i − δ_b y_l ≤ 1 − δ_b                   [π_b]   recipe b: i needs l with dependent share δ_b
            y ≥ 0

**The attacker** (Wood 1993; Brown et al. 2006) chooses at most ``k`` attacks to minimize ``V``. Taking
the LP dual of the inner problem turns min-max into one minimization; the products ``ρ_i r_π`` are
linearized exactly with ``w_π ≤ ρ_i``, ``w_π ≤ M r_π`` (``r`` binary; ``M = 1`` bounds the duals, the
value of one unit of an item at the target being at most 1; with ``w ≤ ρ ≤ M`` the binary ``r`` can
be dropped for ``w_π ≤ M Σ_{a covers π} z_a``)::

    min  Σ_i ρ_i (e_i + Σ_π s_π) − Σ_π s_π w_π + Σ_i μ_i + Σ_b π_b (1 − δ_b)
    s.t. ρ_j + μ_j + Σ_{b: item j} π_b − Σ_{b: input j} δ_b π_b ≥ [j = T]      every item j
         w_π ≤ ρ_{i(π)},  w_π ≤ M r_π,  r_π ≤ Σ_{a covers π} z_a,  Σ_a z_a ≤ k
         ρ, μ, π, w ≥ 0;  r, z ∈ {0, 1}

Its optimum is ``min_z V``: the loss is ``1 − V``. The tests check it against enumeration of every
attack set on random small networks.

**The robust plan** (defender–attacker–defender, by column-and-constraint generation, Zeng & Zhao 2013):
the defender spends a budget ``B`` on extra supply ``e_i ≥ 0`` (``Σ c_i e_i ≤ B``, e.g. a stockpile or a
diversified source covering ``e_i`` of item ``i``'s output) to maximize the worst ``V`` over ``k``
attacks. The master LP keeps one copy of the inner constraints per attack found so far and maximizes
their minimum; the attacker MILP above, with the master's ``e``, finds the next attack; the loop stops
when the master's bound meets the attacker's value.

Examples
--------
Hand-solvable: ``chip`` needs ``wafer`` fully; wafers come from JPN (60 %) and CHN (40 %). One attack:
JPN's wafers (loss 60 %); two: both (loss 100 %).

>>> import pandas as pd
>>> net = InterdictionNetwork.from_frames(
...     portions=pd.DataFrame({"item": ["wafer", "wafer"], "country": ["JPN", "CHN"], "share": [0.6, 0.4]}),
...     recipes=pd.DataFrame({"item": ["chip"], "input": ["wafer"], "dependent_share": [1.0]}), target="chip")
>>> [round(worst_attack(net, k).loss, 9) for k in (1, 2)]
[0.6, 1.0]
>>> worst_attack(net, 1).attacks
('site:wafer@JPN',)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .model import LinearModel

__all__ = ["Attack", "InterdictionNetwork", "RobustPlan", "atlas_network", "brute_force", "k_worst",
           "robust_plan", "value"]

UNIT_KINDS = ("site", "country", "chokepoint")
_M = 1.0


@dataclass(frozen=True)
class InterdictionNetwork:
    """Items, recipes, portions and the attacks that cover them.

    Attributes
    ----------
    items : tuple of str
        Inputs before the items that use them; the target last.
    recipes : tuple of (item, input, dependent_share)
    portions : DataFrame
        ``item, country, route, share`` (``route``: chokepoints joined by ";", or "").
    units : tuple of str
        Attack labels ``site:item@COUNTRY``, ``country:COUNTRY``, ``chokepoint:id``.
    cover : list of ndarray
        Per unit, the portion rows it removes.
    """

    target: str
    items: tuple[str, ...]
    recipes: tuple[tuple[str, str, float], ...]
    portions: pd.DataFrame
    units: tuple[str, ...]
    cover: tuple[np.ndarray, ...]

    @classmethod
    def from_frames(cls, *, portions: pd.DataFrame, recipes: pd.DataFrame, target: str,
                    kinds: Iterable[str] = ("site",)) -> InterdictionNetwork:
        """Build from ``portions`` (``item, country, share`` and optional ``route``) and ``recipes``
        (``item, input, dependent_share``), keeping the part upstream of ``target``."""
        from ..network.plan import upstream_plan

        kinds = tuple(kinds)
        bad = [k for k in kinds if k not in UNIT_KINDS]
        if bad:
            raise InputError(f"unknown attack kind {bad[0]!r} (known: {', '.join(UNIT_KINDS)})", column="kinds")
        plan = upstream_plan(recipes, target)
        order = plan.order
        rec = tuple((it, inp, float(d)) for it in order for inp, d in plan.inputs[it] if d > 0)
        p = portions.copy()
        if "route" not in p.columns:
            p["route"] = ""
        p["route"] = p["route"].fillna("").astype(str)
        p = p[p["item"].isin(set(order)) & (p["share"].astype(float) > 0)].reset_index(drop=True)
        tot = p.groupby("item")["share"].transform("sum")
        p["share"] = p["share"].astype(float) / tot
        country = p["country"].astype(object).where(p["country"].notna(), None)
        units, cover = [], []
        if "site" in kinds:
            for (it, c), g in p[country.notna()].groupby(["item", "country"], sort=True):
                units.append(f"site:{it}@{c}")
                cover.append(g.index.to_numpy())
        if "country" in kinds:
            for c, g in p[country.notna()].groupby("country", sort=True):
                units.append(f"country:{c}")
                cover.append(g.index.to_numpy())
        if "chokepoint" in kinds:
            routes = p["route"].str.split(";")
            cps = sorted({x for r in routes for x in r if x})
            for cp in cps:
                idx = np.flatnonzero(routes.map(lambda r, cp=cp: cp in r).to_numpy())
                units.append(f"chokepoint:{cp}")
                cover.append(idx)
        return cls(target, order, rec, p, tuple(units), tuple(cover))

    def remaining(self, attacks: Iterable[str]) -> dict[str, float]:
        """Own supply left of each item with portions after ``attacks``."""
        pos = {u: i for i, u in enumerate(self.units)}
        hit = np.zeros(len(self.portions), bool)
        for a in attacks:
            hit[self.cover[pos[a]]] = True
        left = pd.Series(self.portions["share"].to_numpy() * ~hit).groupby(self.portions["item"].to_numpy()).sum()
        return {str(k): float(v) for k, v in left.items()}


def value(net: InterdictionNetwork, attacks: Iterable[str] = (), extra: Mapping[str, float] | None = None) -> float:
    """``V``: the target's available fraction after ``attacks`` (propagation, no solver)."""
    extra = extra or {}
    left = net.remaining(attacks)
    y: dict[str, float] = {}
    inputs: dict[str, list[tuple[str, float]]] = {}
    for it, inp, d in net.recipes:
        inputs.setdefault(it, []).append((inp, d))
    for it in net.items:
        a = min(1.0, left[it] + float(extra.get(it, 0.0))) if it in left else 1.0
        for inp, d in inputs.get(it, []):
            a = min(a, 1.0 - d + d * y[inp])
        y[it] = max(a, 0.0)
    return y[net.target]


@dataclass(frozen=True)
class Attack:
    """A worst attack set: ``attacks``, the target's ``loss`` (0-1) and the items it cuts."""

    k: int
    attacks: tuple[str, ...]
    loss: float
    items_hit: tuple[str, ...] = ()
    proven: bool = True
    """False when HiGHS hit the time limit: the set is the best found, a worse one may exist."""


def _attacker(net: InterdictionNetwork, k: int, extra: Mapping[str, float] | None,
              time_limit: float | None) -> Attack:
    extra = extra or {}
    items = list(net.items)
    ipos = {it: j for j, it in enumerate(items)}
    por = net.portions
    has = sorted(set(por["item"]))
    mdl = LinearModel("interdiction", "min")
    S = por.groupby("item")["share"].sum()
    rho = mdl.add_vars("rho", has, ub=_M, cost=[float(extra.get(i, 0.0)) + float(S[i]) for i in has])
    mu = mdl.add_vars("mu", items, cost=1.0)
    pi = mdl.add_vars("pi", [(a, b) for a, b, _ in net.recipes], cost=[1.0 - d for _, _, d in net.recipes])
    w = mdl.add_vars("w", list(range(len(por))), ub=_M, cost=-por["share"].to_numpy(float))
    z = mdl.add_vars("z", list(net.units), ub=1.0, integer=True)
    rpos = {it: j for j, it in enumerate(has)}
    terms: list[tuple[list[int], list[float]]] = [([int(mu[j])], [1.0]) for j in range(len(items))]
    for it in has:
        terms[ipos[it]][0].append(int(rho[rpos[it]]))
        terms[ipos[it]][1].append(1.0)
    for b, (it, inp, d) in enumerate(net.recipes):
        terms[ipos[it]][0].append(int(pi[b]))
        terms[ipos[it]][1].append(1.0)
        terms[ipos[inp]][0].append(int(pi[b]))
        terms[ipos[inp]][1].append(-d)
    mdl.add_rows("dual_feasibility", items, terms, ">=", [1.0 if it == net.target else 0.0 for it in items])
    pitem = por["item"].to_numpy()
    mdl.add_rows("w_rho", list(range(len(por))), [([w[n], rho[rpos[pitem[n]]]], [1.0, -1.0]) for n in range(len(por))],
                 "<=", 0.0)
    covers: list[list[int]] = [[] for _ in range(len(por))]
    for u, idx in enumerate(net.cover):
        for n in idx:
            covers[int(n)].append(u)
    # w ≤ M r, r ≤ Σ z with r binary is the same set as w ≤ M Σ z (w ≤ ρ ≤ M already caps it): the
    # removal indicators need no variables of their own
    mdl.add_rows("removed_by_attack", list(range(len(por))),
                 [([w[n], *[z[u] for u in covers[n]]], [1.0, *[-_M] * len(covers[n])]) for n in range(len(por))],
                 "<=", 0.0)
    mdl.add_rows("attacks", ["k"], [(z, np.ones(len(z)))], "<=", float(k))
    sol = mdl.solve(time_limit=time_limit)
    chosen = tuple(u for u, v in zip(net.units, sol.value("z").to_numpy(), strict=True) if v > 0.5)
    # the MILP's value is exact up to HiGHS's gap; the attack set is re-evaluated without a solver
    loss = 1.0 - value(net, chosen, extra)
    left = net.remaining(chosen)
    hit = tuple(sorted(i for i, v in left.items() if v < 1.0 - 1e-9))
    return Attack(k, chosen, float(round(loss, 12)), hit, sol.optimal)


def worst_attack(net: InterdictionNetwork, k: int, extra: Mapping[str, float] | None = None,
                 time_limit: float | None = None) -> Attack:
    """The ``k`` attacks that cut the target most (the MILP of the module docstring)."""
    if k < 0:
        raise InputError(f"k must be >= 0, got {k}", column="k")
    if k == 0 or not net.units:
        return Attack(k, (), float(round(1.0 - value(net, (), extra), 12)))
    return _attacker(net, k, extra, time_limit)


def k_worst(net: InterdictionNetwork, ks: Iterable[int] = (1, 2, 3, 4, 5), extra: Mapping[str, float] | None = None,
            time_limit: float | None = None) -> pd.DataFrame:
    """One row per ``k``: ``k, loss, attacks, items_hit, proven`` (False: time limit reached)."""
    rows = []
    for k in ks:
        a = worst_attack(net, int(k), extra, time_limit)
        rows.append({"k": a.k, "loss": a.loss, "attacks": "; ".join(a.attacks), "items_hit": ", ".join(a.items_hit),
                     "proven": a.proven})
    return pd.DataFrame(rows, columns=["k", "loss", "attacks", "items_hit", "proven"])


def brute_force(net: InterdictionNetwork, k: int, extra: Mapping[str, float] | None = None) -> float:
    """The worst loss over every set of at most ``k`` attacks, by enumeration (for checks)."""
    best = 1.0 - value(net, (), extra)
    for n in range(1, k + 1):
        for combo in itertools.combinations(net.units, n):
            best = max(best, 1.0 - value(net, combo, extra))
    return float(best)


@dataclass(frozen=True)
class RobustPlan:
    """The defender's extra supply per item, its worst case, and the loop's record.

    Attributes
    ----------
    extra : DataFrame
        ``item, extra, cost``.
    worst_before, worst_after : Attack
    iterations : DataFrame
        ``iteration, lower, upper, attacks``.
    """

    extra: pd.DataFrame
    worst_before: Attack
    worst_after: Attack
    iterations: pd.DataFrame
    budget: float
    notes: tuple[str, ...] = field(default=())


def robust_plan(net: InterdictionNetwork, k: int, budget: float, *, items: Iterable[str] | None = None,
                unit_cost: Mapping[str, float] | None = None, max_iterations: int = 50, tol: float = 1e-6,
                time_limit: float | None = None) -> RobustPlan:
    """Column-and-constraint generation for ``max_e min_{|A| ≤ k} V(A, e)`` with ``Σ c_i e_i ≤ budget``.

    Examples
    --------
    >>> import pandas as pd
    >>> net = InterdictionNetwork.from_frames(
    ...     portions=pd.DataFrame({"item": ["wafer", "wafer"], "country": ["JPN", "CHN"], "share": [0.6, 0.4]}),
    ...     recipes=pd.DataFrame({"item": ["chip"], "input": ["wafer"], "dependent_share": [1.0]}), target="chip")
    >>> p = robust_plan(net, k=1, budget=0.2)
    >>> round(p.worst_before.loss, 9), round(p.worst_after.loss, 9)
    (0.6, 0.4)
    """
    if budget < 0:
        raise InputError(f"budget must be >= 0, got {budget}", column="budget")
    cand = [i for i in (list(items) if items is not None else sorted(set(net.portions["item"])))]
    unknown = [i for i in cand if i not in set(net.portions["item"])]
    if unknown:
        raise InputError(f"no supply portions for {', '.join(unknown)}: cannot add supply there", column="items")
    cost = {i: float((unit_cost or {}).get(i, 1.0)) for i in cand}
    if any(v <= 0 for v in cost.values()):
        raise InputError("unit costs must be > 0", column="unit_cost")
    before = worst_attack(net, k, None, time_limit)
    found: list[tuple[str, ...]] = [before.attacks]
    e = {i: 0.0 for i in cand}
    lower, best_e, best_val = 1.0 - before.loss, dict(e), 1.0 - before.loss
    rows = []
    for it in range(1, max_iterations + 1):
        e, upper = _master(net, cand, cost, budget, found)
        att = worst_attack(net, k, e, time_limit)
        val = 1.0 - att.loss
        if val > best_val + 1e-12:
            best_val, best_e = val, dict(e)
        lower = best_val
        rows.append({"iteration": it, "lower": lower, "upper": upper, "attacks": "; ".join(att.attacks)})
        if upper - lower <= tol or att.attacks in found:
            break
        found.append(att.attacks)
    after = worst_attack(net, k, best_e, time_limit)
    notes = []
    if not (before.proven and after.proven):
        notes.append("an attacker MILP stopped at its time limit: the worst case shown is the worst found")
    if rows and rows[-1]["upper"] - rows[-1]["lower"] > tol:
        notes.append(f"the robust plan stopped with a gap of {rows[-1]['upper'] - rows[-1]['lower']:.2g} "
                     "between its bounds")
    ex = pd.DataFrame({"item": cand, "extra": [best_e[i] for i in cand], "cost": [best_e[i] * cost[i] for i in cand]})
    ex = ex[ex["extra"] > 1e-9].sort_values("extra", ascending=False, kind="stable").reset_index(drop=True)
    return RobustPlan(ex, before, after, pd.DataFrame(rows, columns=["iteration", "lower", "upper", "attacks"]),
                      float(budget), tuple(notes))


def _master(net: InterdictionNetwork, cand: list[str], cost: Mapping[str, float], budget: float,
            attacks: list[tuple[str, ...]]) -> tuple[dict[str, float], float]:
    mdl = LinearModel("robust plan", "max")
    e = mdl.add_vars("extra", cand, ub=1.0)
    th = mdl.add_vars("theta", ["theta"], lb=-np.inf, cost=1.0)
    mdl.add_rows("budget", ["budget"], [(e, [cost[i] for i in cand])], "<=", float(budget))
    epos = {i: j for j, i in enumerate(cand)}
    for m, att in enumerate(attacks):
        left = net.remaining(att)
        y = mdl.add_vars(f"y{m}", list(net.items), ub=1.0)
        ypos = {i: j for j, i in enumerate(net.items)}
        lab, terms, rhs = [], [], []
        for it, v in left.items():
            cols, coefs = [y[ypos[it]]], [1.0]
            if it in epos:
                cols.append(e[epos[it]])
                coefs.append(-1.0)
            lab.append(it)
            terms.append((cols, coefs))
            rhs.append(v)
        mdl.add_rows(f"cap{m}", lab, terms, "<=", rhs)
        mdl.add_rows(f"recipe{m}", [(a, b) for a, b, _ in net.recipes],
                     [([y[ypos[a]], y[ypos[b]]], [1.0, -d]) for a, b, d in net.recipes], "<=",
                     [1.0 - d for _, _, d in net.recipes])
        mdl.add_rows(f"theta{m}", ["theta"], [([th[0], y[ypos[net.target]]], [1.0, -1.0])], "<=", 0.0)
    sol = mdl.solve()
    ev = sol.value("extra")
    return {i: float(max(ev[i], 0.0)) for i in cand}, float(sol.objective)


def atlas_network(atlas: Any, target: str, *, kinds: Iterable[str] = ("site", "country", "chokepoint"),
                  chokepoints: bool = True) -> tuple[InterdictionNetwork, list[str]]:
    """The interdiction network of an atlas: country-level production (latest year), the recipes with
    ``dependent_share > 0``, and world sea lanes split by chokepoint route when ``chokepoints``."""
    from ..metrics._common import latest_production

    notes: list[str] = []
    prod = latest_production(atlas, "country")
    prod = prod.assign(country=prod["country"].astype(object).where(prod["country"].notna(), None))
    src = prod.groupby(["item", prod["country"].fillna("ROW")], as_index=False)["share"].sum()
    src.columns = ["item", "country", "share"]
    src["country"] = src["country"].where(src["country"] != "ROW", None)
    portions = src.assign(route="")
    kinds = tuple(kinds)
    if chokepoints and "chokepoint" in kinds:
        try:
            from ..logistics import lanes

            lt = lanes(atlas)
        except Exception as e:  # an atlas without ports has no lanes: no chokepoint attacks
            notes.append(f"no sea lanes ({type(e).__name__}): chokepoints cannot be attacked")
            lt = None
        if lt is not None and len(lt):
            lt = lt.assign(route=np.where(lt["mode"] == "sea", lt["chokepoints"].fillna(""), ""),
                           weight=lt["weight"].astype(float))
            g = lt.groupby(["item", "exporter", "route"], as_index=False)["weight"].sum()
            tot = g.groupby(["item", "exporter"])["weight"].transform("sum")
            g["frac"] = g["weight"] / tot
            rows = []
            # each source's routes as plain lists, in the table's order (no frame per group)
            fr: dict[tuple[Any, Any], list[tuple[float, Any]]] = {}
            for it, ex, route, frac in zip(g["item"].tolist(), g["exporter"].tolist(), g["route"].tolist(),
                                           g["frac"].tolist(), strict=True):
                fr.setdefault((it, ex), []).append((frac, route))
            for item, country, share in zip(src["item"].tolist(), src["country"].tolist(), src["share"].tolist(),
                                            strict=True):
                sub = fr.get((item, country)) if country else None
                if not sub:
                    rows.append({"item": item, "country": country, "share": share, "route": ""})
                    continue
                for frac, route in sub:
                    rows.append({"item": item, "country": country, "share": share * frac, "route": route})
            portions = pd.DataFrame(rows, columns=["item", "country", "share", "route"])
    elif "chokepoint" in kinds:
        kinds = tuple(k for k in kinds if k != "chokepoint")
    recipes = atlas["recipes"][["item", "input", "dependent_share"]]
    return InterdictionNetwork.from_frames(portions=portions, recipes=recipes, target=target, kinds=kinds), notes
