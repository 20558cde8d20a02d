"""Planning services: sourcing, stockpile, partner value and worst case (:mod:`paxsilica.planning`).

Each service takes a frozen request and a :class:`~paxsilica.services.context.ServiceContext`, checks
the request's names against the atlas, builds the scenario set (``scenarios``: built-in stress
scenarios, ``None``/``"all"`` for the whole library; or ``montecarlo``: a run folder, refused when made
on another atlas version), solves the model and returns a :class:`PlanResult`. With ``out`` the plan
is saved (``plan.json`` with the atlas version, scenarios and parameters, and one CSV per table) in one
atomic step (:func:`paxsilica.fsutil.atomic_replace_dir`). Nothing here prints.

Examples
--------
>>> from paxsilica.network import tiny_atlas
>>> ctx = ServiceContext(source=tiny_atlas(), validate=False)
>>> r = worst_case(WorstCaseRequest(target="chip", ks=(1, 2), kinds=("site",)), ctx)
>>> r.summary["worst"], r.tables()["worst"]["attacks"].iloc[0]
({1: 1.0, 2: 1.0}, 'site:chip@TWN')
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..constants import DEFAULT_COALITION, DEFAULT_TARGET
from ..errors import InputError
from ..serialize import records, to_jsonable
from .context import ServiceContext

__all__ = ["PartnersRequest", "PlanResult", "SourcingRequest", "StockpileRequest", "WorstCaseRequest",
           "check_with_stress", "load_plan", "partners", "sourcing", "stockpile", "worst_case"]


@dataclass(frozen=True)
class PlanResult:
    """A plan: ``kind``, headline ``summary``, named tables, parameters and scenarios (``meta``), notes.

    ``to_record()`` is the JSON of ``plan.json``; ``tables()`` every table by name.
    """

    kind: str
    summary: Mapping[str, Any]
    frames: Mapping[str, pd.DataFrame]
    meta: Mapping[str, Any]
    notes: tuple[str, ...] = ()
    paths: Mapping[str, Path] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        return dict(self.frames)

    def to_record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {"kind": self.kind, **to_jsonable(dict(self.meta)),
                               "summary": to_jsonable(dict(self.summary)), "notes": list(self.notes)}
        rec["tables"] = {k: records(v) for k, v in self.frames.items()}
        return rec


@dataclass(frozen=True)
class _Common:
    consumer: str = DEFAULT_COALITION
    coalition: str = DEFAULT_COALITION
    target: str = DEFAULT_TARGET
    items: tuple[str, ...] | None = None
    scenarios: str | None = None
    montecarlo: str | None = None
    alpha: float = 0.95
    top: int | None = None
    chokepoints: bool = True
    out: Path | None = None
    force: bool = False


@dataclass(frozen=True)
class SourcingRequest(_Common):
    """Sourcing diversification (:func:`paxsilica.planning.sourcing.optimize_sourcing`).

    ``consumer``: ISO3, a group id or ``WORLD``; ``budget`` in USD m a year (where the atlas gives
    import values); ``premium`` of moved volume, fraction of price (assumption 0.10, range 0-0.30).
    """

    max_share: float = 0.65
    min_coalition_share: float = 0.0
    budget: float | None = None
    premium: float = 0.10
    strict: bool = False


@dataclass(frozen=True)
class StockpileRequest(_Common):
    """Stockpile sizing (:func:`paxsilica.planning.stockpile.size_stockpile`); ``check`` re-runs the
    stress model with the stock on the library scenarios."""

    tolerance: float = 0.01
    mode: str = "every"
    carrying_rate: float = 0.25
    max_days: float | None = None
    check: bool = True
    inventory_days: float | None = None


@dataclass(frozen=True)
class PartnersRequest(_Common):
    """Partner value (:func:`paxsilica.planning.partners.partner_value`); ``candidates`` ISO3 codes."""

    candidates: tuple[str, ...] | None = None
    max_share: float = 0.65
    min_coalition_share: float = 0.0


@dataclass(frozen=True)
class WorstCaseRequest:
    """Worst case (:mod:`paxsilica.planning.interdiction`): the k-worst attacks for each ``ks``; with a
    ``budget`` the robust plan against ``k`` attacks (extra supply, fractions of an item's output).
    ``time_limit`` bounds each MILP (seconds; the best set found is then marked not proven) and
    ``max_iterations`` the column-and-constraint loop (a gap left is reported in the notes)."""

    target: str = DEFAULT_TARGET
    k: int = 3
    ks: tuple[int, ...] = (1, 2, 3, 4, 5)
    kinds: tuple[str, ...] = ("site", "country", "chokepoint")
    budget: float | None = None
    items: tuple[str, ...] | None = None
    time_limit: float | None = 60.0
    max_iterations: int = 10
    out: Path | None = None
    force: bool = False


# --------------------------------------------------------------------------- helpers


def _check(ctx: ServiceContext, req: Any) -> Any:
    from ..metrics._common import did_you_mean, require_group, require_items

    for f in dataclasses.fields(req):
        v = getattr(req, f.name)
        if isinstance(v, float) and not math.isfinite(v):
            raise InputError(f"{f.name} must be a finite number, got {v}", column=f.name)
    atlas = ctx.atlas()
    known = set(atlas["items"]["item"].dropna().astype(str))
    if req.target not in known:
        raise did_you_mean(req.target, known, "target item")
    if getattr(req, "items", None):
        require_items(atlas, list(req.items))
    coal = getattr(req, "coalition", None)
    if coal:
        require_group(atlas, coal)
    if hasattr(req, "alpha") and not 0.0 <= float(req.alpha) <= 1.0:
        raise InputError(f"alpha must be in [0, 1], got {req.alpha}", column="alpha")
    return atlas


def _set(ctx: ServiceContext, req: _Common) -> Any:
    from ..planning.scenarios import resolve_set

    return resolve_set(req.scenarios, req.montecarlo, ctx.atlas_version())


def _params(req: Any) -> dict[str, Any]:
    d = dataclasses.asdict(req)
    d.pop("out", None)
    d.pop("force", None)
    return d


def _meta(ctx: ServiceContext, req: Any, sset: Any | None) -> dict[str, Any]:
    atlas = ctx.atlas()
    m = {"atlas_name": str(getattr(atlas, "name", "")), "atlas_version": ctx.atlas_version(),
         "parameters": _params(req)}
    if sset is not None:
        m["scenarios"] = sset.record()
    return m


def _save(res: PlanResult, out: Path | None, force: bool) -> PlanResult:
    if out is None:
        return res
    from ..fsutil import atomic_replace_dir
    from ..serialize import dumps

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("--out must be a folder, and this is a file", file=str(out))
    if out.exists() and any(out.iterdir()) and not (out / "plan.json").exists() and not force:
        raise InputError("the folder holds other files; choose another --out or add --force", file=str(out))

    def fill(tmp: Path) -> None:
        (tmp / "plan.json").write_text(dumps(res.to_record()) + "\n", encoding="utf-8")
        for name, df in res.frames.items():
            df.to_csv(tmp / f"{name}.csv", index=False)

    try:
        path = atomic_replace_dir(out, fill)
    except OSError as e:
        raise InputError(f"cannot write the plan: {e.strerror or e}", file=str(out)) from e
    paths = {"folder": path, "plan": path / "plan.json", **{n: path / f"{n}.csv" for n in res.frames}}
    return dataclasses.replace(res, paths=paths)


def _base(ctx: ServiceContext, req: _Common, atlas: Any) -> Any:
    from ..planning.base import supply_base

    cache = ctx.cache("planning.base")
    key = (req.consumer, req.coalition, req.target, req.items, req.top, req.chokepoints)
    if key not in cache:
        cache[key] = supply_base(atlas, req.consumer, coalition=req.coalition, target=req.target,
                                 items=req.items, chokepoints=req.chokepoints, top=req.top)
    return cache[key]


# --------------------------------------------------------------------------- services


def sourcing(req: SourcingRequest, ctx: ServiceContext) -> PlanResult:
    """The sourcing plan for ``req.consumer``, its before/after measures, binding constraints and the
    sensitivity of the max share."""
    from ..planning.explain import binding, sensitivity
    from ..planning.scenarios import unavailability
    from ..planning.sourcing import optimize_sourcing

    atlas = _check(ctx, req)
    sset = _set(ctx, req)
    base = _base(ctx, req, atlas)
    u = unavailability(sset, base.sources, base.countries, atlas, base.hits, base.group_members)
    kw = dict(prob=sset.prob, alpha=req.alpha, max_share=req.max_share, min_coalition_share=req.min_coalition_share,
              budget=req.budget, premium=req.premium, strict=req.strict, scenario_ids=sset.scenarios)
    plan = optimize_sourcing(base.sources, u, **kw)  # type: ignore[arg-type]

    def at(v: float) -> float:
        return optimize_sourcing(base.sources, u, **{**kw, "max_share": v}).summary["objective"]  # type: ignore[arg-type]

    moves = [v for v in (req.max_share - 0.05, req.max_share + 0.05) if 0.0 < v <= 1.0]
    sens = sensitivity(at, "max_share", moves, base=None)
    sens["change"] = sens["objective"] - plan.summary["objective"]
    frames = {"mix": plan.mix, "items": plan.items, "scenarios": plan.scenarios,
              "binding": binding(plan.constraints), "sensitivity": sens}
    res = PlanResult("sourcing", {**plan.summary, "consumer": req.consumer}, frames, _meta(ctx, req, sset),
                     tuple(base.notes) + plan.notes)
    return _save(res, req.out, req.force)


def stockpile(req: StockpileRequest, ctx: ServiceContext) -> PlanResult:
    """The cheapest stock for ``req.consumer`` and, for library scenarios, the stress model's check."""
    from ..planning.explain import binding, sensitivity
    from ..planning.scenarios import unavailability
    from ..planning.stockpile import size_stockpile

    atlas = _check(ctx, req)
    sset = _set(ctx, req)
    base = _base(ctx, req, atlas)
    u = unavailability(sset, base.sources, base.countries, atlas, base.hits, base.group_members)
    kw = dict(prob=sset.prob, horizon=sset.horizon, mode=req.mode, alpha=req.alpha,
              carrying_rate=req.carrying_rate, max_days=req.max_days, scenario_ids=sset.scenarios)
    plan = size_stockpile(base.sources, u, tolerance=req.tolerance, **kw)  # type: ignore[arg-type]

    def at(v: float) -> float:
        return size_stockpile(base.sources, u, tolerance=v, **kw).summary["cost"]  # type: ignore[arg-type]

    sens = sensitivity(at, "tolerance", [v for v in (req.tolerance / 2, req.tolerance * 2) if 0 < v <= 1])
    sens["change"] = sens["objective"] - plan.summary["cost"]
    notes = list(base.notes) + list(plan.notes)
    frames = {"stock": plan.stock[plan.stock["days"] > 0].reset_index(drop=True), "scenarios": plan.scenarios,
              "binding": binding(plan.constraints), "sensitivity": sens}
    summary = dict(plan.summary)
    if req.check and sset.meta.get("kind") == "library":
        chk = check_with_stress(ctx, plan, list(sset.meta.get("sources", sset.scenarios)), base.countries,
                                req.target, req.inventory_days)
        frames["check"] = chk
        summary["confirmed"] = bool(chk["confirmed"].all()) if len(chk) else None
        if len(chk) and not chk["confirmed"].all():
            bad = chk.loc[~chk["confirmed"], "scenario"].tolist()
            notes.append(f"the stress model does not confirm the promise in {len(bad)} scenario(s) "
                         f"({', '.join(bad[:5])}): its dynamics (lead times, rationing, re-sourcing) differ from "
                         "the planning model's days-of-need balance")
    elif req.check:
        notes.append("stress check skipped: it re-runs built-in scenarios, and a Monte Carlo draw is not one")
    res = PlanResult("stockpile", {**summary, "consumer": req.consumer}, frames, _meta(ctx, req, sset), tuple(notes))
    return _save(res, req.out, req.force)


def partners(req: PartnersRequest, ctx: ServiceContext) -> PlanResult:
    """Candidate partners of ``req.coalition`` ranked by the risk they take off it."""
    from ..planning.partners import partner_value

    atlas = _check(ctx, req)
    sset = _set(ctx, req)
    t = partner_value(atlas, sset, coalition=req.coalition, target=req.target, items=req.items,
                      candidates=req.candidates, top=req.top or 10, alpha=req.alpha, max_share=req.max_share,
                      min_coalition_share=req.min_coalition_share, chokepoints=req.chokepoints)
    best = t.iloc[0].to_dict() if len(t) else {}
    summary = {"coalition": req.coalition, "candidates": int(len(t)), "best": best.get("country"),
               "best_cvar_reduction": best.get("cvar_reduction"), "alpha": req.alpha}
    res = PlanResult("partners", summary, {"partners": t}, _meta(ctx, req, sset))
    return _save(res, req.out, req.force)


def worst_case(req: WorstCaseRequest, ctx: ServiceContext) -> PlanResult:
    """The k-worst disruption sets for each ``ks`` and, with a budget, the robust plan against ``k``."""
    from ..planning.interdiction import atlas_network, k_worst, robust_plan

    atlas = _check(ctx, req)
    if req.k < 1 or any(k < 1 for k in req.ks):
        raise InputError("k must be >= 1", column="k")
    if not req.kinds:
        raise InputError("give at least one attack kind (site, country, chokepoint)", column="kinds")
    cache = ctx.cache("planning.interdiction")
    key = (req.target, tuple(req.kinds))
    if key not in cache:
        cache[key] = atlas_network(atlas, req.target, kinds=req.kinds)
    net, notes = cache[key]
    ks = tuple(sorted(set(req.ks) | ({req.k} if req.budget is not None else set())))
    worst = k_worst(net, ks, time_limit=req.time_limit)
    notes = list(notes)
    if not worst["proven"].all():
        notes.append(f"HiGHS hit the {req.time_limit:g} s time limit for k = "
                     f"{', '.join(str(k) for k in worst.loc[~worst['proven'], 'k'])}: those sets are the worst found")
    frames: dict[str, pd.DataFrame] = {"worst": worst}
    summary: dict[str, Any] = {"target": req.target, "kinds": list(req.kinds), "n_attack_units": len(net.units),
                               "worst": {int(r.k): float(r.loss) for r in worst.itertuples()}}
    if req.budget is not None:
        rp = robust_plan(net, req.k, req.budget, items=req.items, time_limit=req.time_limit,
                         max_iterations=req.max_iterations)
        after = k_worst(net, ks, extra=dict(zip(rp.extra["item"], rp.extra["extra"], strict=True)),
                        time_limit=req.time_limit)
        frames["robust_extra"] = rp.extra
        frames["robust_worst"] = after
        frames["robust_iterations"] = rp.iterations
        notes += list(rp.notes)
        summary["robust"] = {"k": req.k, "budget": req.budget, "worst_before": rp.worst_before.loss,
                             "worst_after": rp.worst_after.loss,
                             "attacks_before": list(rp.worst_before.attacks),
                             "attacks_after": list(rp.worst_after.attacks)}
    res = PlanResult("worst-case", summary, frames, _meta(ctx, req, None), tuple(notes))
    return _save(res, req.out, req.force)


def check_with_stress(ctx: ServiceContext, plan: Any, scenarios: list[str], holders: frozenset[str],
                      target: str, inventory_days: float | None = None, slack: float = 0.005) -> pd.DataFrame:
    """Re-run the stress model on each scenario without and with the stock; does it keep the promise?

    Returns ``scenario, promised, stress_before, stress_after, confirmed``: shortfalls at the target
    (0-1; the stress model's ``loss_pct`` ÷ 100 for the holder's consumer rows, else the world's).
    ``confirmed``: the stress model's shortfall with the stock is at most the tolerance (or the promise,
    when the tolerance could not be met), plus ``slack``.
    """
    from ..planning.stockpile import stocked_atlas, world_holders
    from ..stress import DEFAULT_INVENTORY_DAYS
    from .stress import StressRequest, run_stress

    atlas = ctx.atlas()
    days = DEFAULT_INVENTORY_DAYS if inventory_days is None else float(inventory_days)
    stocked = stocked_atlas(atlas, plan.stock, holders or world_holders(atlas), days)
    ctx1 = ServiceContext(source=stocked, validate=False)
    promised = dict(zip(plan.scenarios["scenario"], plan.scenarios["loss_after"], strict=True))
    rows = []
    tol = float(plan.summary["tolerance"])
    for name in scenarios:
        r0 = run_stress(StressRequest(name, target=target, inventory_days=days), ctx).run
        r1 = run_stress(StressRequest(name, target=target, inventory_days=days), ctx1).run
        b, a = _loss(r0, holders), _loss(r1, holders)
        p = float(promised.get(name, promised.get(Path(str(name)).stem, np.nan)))
        sid = Path(str(name)).stem if Path(str(name)).suffix else str(name)
        rows.append({"scenario": sid, "promised": p, "stress_before": b, "stress_after": a,
                     "confirmed": bool(a <= max(tol, p if p == p else 0.0) + slack)})
    return pd.DataFrame(rows, columns=["scenario", "promised", "stress_before", "stress_after", "confirmed"])


def _loss(run: Any, holders: frozenset[str]) -> float:
    c = run.consumers
    if holders and len(c) and c["consumer"].isin(holders).any():
        return float(c.loc[c["consumer"].isin(holders), "loss_pct"].mean()) / 100.0
    return float(run.summary["loss_pct"]) / 100.0


def load_plan(folder: str | Path) -> dict[str, Any]:
    """A saved plan's ``plan.json``."""
    p = Path(folder) / "plan.json"
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read the plan: {e}", file=str(p)) from e
