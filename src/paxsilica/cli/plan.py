"""``paxsilica plan sourcing|stockpile|partners|worst-case``: plans by optimization (HiGHS).

The models are :mod:`paxsilica.planning`, reached through :mod:`paxsilica.services.planning`; this
module parses the options, calls the service, and prints tables (or the plan's JSON with ``--format
json``). ``--out DIR`` saves the plan (``plan.json`` with the atlas version, scenarios and parameters,
and one CSV per table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from ..constants import DEFAULT_COALITION, DEFAULT_TARGET
from ..serialize import dumps
from ..services import planning as svc
from .common import OutputFormat, console, context, current_atlas, emit

app = typer.Typer(help="Plans by optimization: diversification, stockpiles, partners, worst-case disruptions.",
                  no_args_is_help=True)

For = Annotated[str, typer.Option("--for", help="Consumer: ISO3, a group id (the coalition) or WORLD.")]
Coalition = Annotated[str, typer.Option("--coalition", help="Coalition group id.")]
Target = Annotated[str, typer.Option("--target", help="Item whose output is protected.")]
Scenarios = Annotated[str | None, typer.Option("--scenarios", help="Built-in stress scenarios, comma-separated, "
                                              "or 'all' (default).")]
MonteCarlo = Annotated[Path | None, typer.Option("--montecarlo", help="Monte Carlo run folder (draws as scenarios).")]
Alpha = Annotated[float, typer.Option("--alpha", min=0.0, max=1.0, help="CVaR level (0: expectation, 1: worst).")]
Items = Annotated[str | None, typer.Option("--items", help="Items to plan, comma-separated (default: all upstream).")]
Top = Annotated[int | None, typer.Option("--top", min=1, help="Plan only the N items that weigh most at the target.")]
Out = Annotated[Path | None, typer.Option("--out", help="Folder to save the plan in.")]
Force = Annotated[bool, typer.Option("--force", help="Write into a folder that holds other files.")]
Fmt = Annotated[OutputFormat, typer.Option("--format", "-f", help="table, csv or json.")]
NoLanes = Annotated[bool, typer.Option("--no-lanes", help="Leave chokepoints out (no sea-lane computation).")]


def _items(s: str | None) -> tuple[str, ...] | None:
    return tuple(x.strip() for x in s.split(",") if x.strip()) if s else None


def _pct(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    df = df.copy()
    for c in cols:
        if c in df:
            df[c] = (100 * df[c].astype(float)).round(2)
    return df.rename(columns={c: f"{c}_%" for c in cols if c in df})


def _show(res: svc.PlanResult, fmt: OutputFormat, shown: dict[str, tuple[list[str] | None, list[str]]],
          headline: str) -> None:
    if fmt is OutputFormat.json:
        typer.echo(dumps(res.to_record()))
        return
    tables = res.tables()
    if fmt is OutputFormat.csv:
        name = next(iter(shown))
        emit(tables[name], fmt)
        return
    console.print(headline, highlight=False)
    for name, (cols, pct) in shown.items():
        df = tables.get(name)
        if df is None or df.empty:
            continue
        view = df[cols] if cols else df
        emit(_pct(view, pct), fmt, title=name, max_rows=25)
    for n in res.notes:
        console.print(f"[dim]note: {n}[/dim]", highlight=False)
    if res.paths:
        console.print(f"saved: {res.paths['folder']}", highlight=False)


@app.command("sourcing")
def sourcing_cmd(
    consumer: For = DEFAULT_COALITION, coalition: Coalition = DEFAULT_COALITION, target: Target = DEFAULT_TARGET,
    scenarios: Scenarios = None, montecarlo: MonteCarlo = None, alpha: Alpha = 0.95, items: Items = None,
    top: Top = None,
    max_share: Annotated[float, typer.Option("--max-share", min=0.0, max=1.0,
                                             help="Largest share of one source (EU CRMA benchmark 0.65).")] = 0.65,
    min_coalition: Annotated[float, typer.Option("--min-coalition-share", min=0.0, max=1.0,
                                                 help="Least share from coalition members.")] = 0.0,
    budget: Annotated[float | None, typer.Option("--budget", min=0.0, help="Largest premium spent, USD m a year.")] = None,
    premium: Annotated[float, typer.Option("--premium", min=0.0, help="Price premium of moved volume "
                                           "(assumption 0.10, range 0-0.30).")] = 0.10,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse an unreachable max share instead of relaxing it.")] = False,
    no_lanes: NoLanes = False, out: Out = None, force: Force = False, fmt: Fmt = OutputFormat.table,
) -> None:
    """Diversify sourcing: minimize the CVaR of the shortfall at the target over a scenario set."""
    req = svc.SourcingRequest(consumer=consumer, coalition=coalition, target=target, items=_items(items),
                              scenarios=scenarios, montecarlo=str(montecarlo) if montecarlo else None, alpha=alpha,
                              top=top, chokepoints=not no_lanes, out=out, force=force, max_share=max_share,
                              min_coalition_share=min_coalition, budget=budget, premium=premium, strict=strict)
    res = svc.sourcing(req, context(current_atlas()))
    s = res.summary
    b, a = s["before"], s["after"]
    head = (f"Sourcing plan for {consumer} ({s['measure']}): expected shortfall {b['expected']:.2%} -> {a['expected']:.2%}, "
            f"CVaR {b['cvar']:.2%} -> {a['cvar']:.2%}, HHI {b['hhi']:.0f} -> {a['hhi']:.0f}, coalition share "
            f"{b['coalition_share']:.1%} -> {a['coalition_share']:.1%}, cost {s['cost']:.3g} {s['cost_unit']}")
    mix = res.tables()["mix"]
    moved = mix[(mix["planned"] - mix["current"]).abs() > 1e-6]
    tables = dict(res.frames)
    tables["changes"] = moved
    res = svc.PlanResult(res.kind, res.summary, tables, res.meta, res.notes, res.paths)
    _show(res, fmt, {"changes": (["item", "producer", "member", "current", "planned", "cap", "limit"],
                                 ["current", "planned", "cap", "limit"]),
                     "items": (["item", "weight", "hhi_before", "hhi_after", "expected_before", "expected_after",
                                "achievable_max_share"], ["expected_before", "expected_after", "achievable_max_share"]),
                     "binding": (["block", "label", "dual"], []),
                     "sensitivity": (["parameter", "value", "objective", "change", "feasible"], [])}, head)


@app.command("stockpile")
def stockpile_cmd(
    consumer: For = DEFAULT_COALITION, coalition: Coalition = DEFAULT_COALITION, target: Target = DEFAULT_TARGET,
    scenarios: Scenarios = None, montecarlo: MonteCarlo = None, alpha: Alpha = 0.95, items: Items = None,
    top: Top = None,
    tolerance: Annotated[float, typer.Option("--tolerance", min=0.0, max=1.0,
                                             help="Largest shortfall at the target, fraction of its output.")] = 0.01,
    cvar_mode: Annotated[bool, typer.Option("--cvar", help="Tolerance on the CVaR at --alpha, not every scenario.")] = False,
    carrying: Annotated[float, typer.Option("--carrying-rate", min=0.0, help="Holding cost a year, fraction of value "
                                            "(assumption 0.25, range 0.15-0.35).")] = 0.25,
    max_days: Annotated[float | None, typer.Option("--max-days", min=0.0, help="Largest stock of an item, days.")] = None,
    no_check: Annotated[bool, typer.Option("--no-check", help="Do not re-run the stress model with the stock.")] = False,
    no_lanes: NoLanes = False, out: Out = None, force: Force = False, fmt: Fmt = OutputFormat.table,
) -> None:
    """Size the cheapest stockpile that keeps the shortfall under a tolerance; check it with the stress model."""
    req = svc.StockpileRequest(consumer=consumer, coalition=coalition, target=target, items=_items(items),
                               scenarios=scenarios, montecarlo=str(montecarlo) if montecarlo else None, alpha=alpha,
                               top=top, chokepoints=not no_lanes, out=out, force=force, tolerance=tolerance,
                               mode="cvar" if cvar_mode else "every", carrying_rate=carrying, max_days=max_days,
                               check=not no_check)
    res = svc.stockpile(req, context(current_atlas()))
    s = res.summary
    head = (f"Stockpile for {consumer} ({s['mode']}, tolerance {s['tolerance']:.1%}): worst shortfall "
            f"{s['before']['worst']:.2%} -> {s['after']['worst']:.2%}, cost {s['cost']:.3g} {s['cost_unit']}"
            + ("" if s.get("confirmed") is None else f"; stress check {'confirms' if s['confirmed'] else 'does NOT confirm'} it"))
    _show(res, fmt, {"stock": (["item", "days", "quantity_t", "cost", "weight", "worst_gap_days"], []),
                     "scenarios": (None, ["loss_before", "loss_after"]),
                     "check": (None, ["promised", "stress_before", "stress_after"]),
                     "binding": (["block", "label", "dual"], []),
                     "sensitivity": (["parameter", "value", "objective", "change", "feasible"], [])}, head)


@app.command("partners")
def partners_cmd(
    coalition: Coalition = DEFAULT_COALITION, target: Target = DEFAULT_TARGET, scenarios: Scenarios = None,
    montecarlo: MonteCarlo = None, alpha: Alpha = 0.95, items: Items = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Candidates assessed (largest suppliers first).")] = 10,
    candidates: Annotated[str | None, typer.Option("--candidates", help="ISO3 codes, comma-separated.")] = None,
    no_lanes: NoLanes = False, out: Out = None, force: Force = False, fmt: Fmt = OutputFormat.table,
) -> None:
    """Rank candidate partners by the coalition risk they remove if they join or sign an offtake."""
    req = svc.PartnersRequest(consumer=coalition, coalition=coalition, target=target, items=_items(items),
                              scenarios=scenarios, montecarlo=str(montecarlo) if montecarlo else None, alpha=alpha,
                              top=top, chokepoints=not no_lanes, out=out, force=force,
                              candidates=_items(candidates))
    res = svc.partners(req, context(current_atlas()))
    _show(res, fmt, {"partners": (["rank", "country", "bottleneck_before", "bottleneck_join", "expected_before",
                                   "expected_join", "cvar_before", "cvar_offtake", "cvar_join", "reason"],
                                  ["bottleneck_before", "bottleneck_join", "expected_before", "expected_join",
                                   "cvar_before", "cvar_offtake", "cvar_join"])},
          f"Partner value for {coalition} (CVaR at {alpha:g})")


@app.command("worst-case")
def worst_case_cmd(
    target: Target = DEFAULT_TARGET,
    k: Annotated[int, typer.Option("--k", min=1, max=20, help="Attacks the robust plan is made against.")] = 3,
    kmax: Annotated[int, typer.Option("--k-max", min=1, max=10, help="Report the k-worst sets for k = 1..K.")] = 5,
    kinds: Annotated[str, typer.Option("--kinds", help="Attack kinds: site,country,chokepoint.")] = "site,country,chokepoint",
    budget: Annotated[float | None, typer.Option("--budget", min=0.0, help="Robust plan: extra supply to place, in "
                                                 "fractions of one item's output.")] = None,
    items: Items = None, out: Out = None, force: Force = False, fmt: Fmt = OutputFormat.table,
) -> None:
    """The k disruptions that cut the target most (interdiction MILP), and the robust plan with --budget."""
    req = svc.WorstCaseRequest(target=target, k=k, ks=tuple(range(1, kmax + 1)), kinds=_items(kinds) or (),
                               budget=budget, items=_items(items), out=out, force=force)
    res = svc.worst_case(req, context(current_atlas()))
    _show(res, fmt, {"worst": (None, ["loss"]), "robust_extra": (None, []), "robust_worst": (None, ["loss"])},
          f"Worst case for {target} ({', '.join(req.kinds)}; {res.summary['n_attack_units']} possible attacks)")


def register(root: typer.Typer) -> None:
    """Add ``paxsilica plan`` to the root app."""
    root.add_typer(app, name="plan")


__all__ = ["app", "register"]
