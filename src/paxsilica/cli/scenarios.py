"""``paxsilica scenarios list|show|validate`` and ``paxsilica stress SCENARIO``.

The main CLI calls :func:`register` (adds the ``scenarios`` sub-app and the ``stress`` command). The
commands parse their options, call :mod:`paxsilica.services.stress` and format what it returns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..scenarios.schema import MAX_HORIZON_DAYS
from ..services import stress as svc
from ..services.context import ServiceContext
from .common import OutputFormat, console, current_atlas, emit, err_console
from .common import context as common_context

app = typer.Typer(help="Stress scenarios: list, show and validate built-ins or your own YAML files.",
                  no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})

FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]


def context() -> ServiceContext:
    """The service context of a command: the ``--atlas`` atlas, validated (an invalid one is refused
    with its problems printed, :func:`~paxsilica.cli.common.current_atlas`)."""
    return common_context(current_atlas())


def scenarios_table() -> pd.DataFrame:
    """Built-in scenarios: name, horizon (days), step, shock types, description (first sentence).

    Examples
    --------
    >>> "hormuz_closure" in scenarios_table()["name"].tolist()
    True
    """
    return svc.list_scenarios().table


# --------------------------------------------------------------------------- commands


@app.command("list")
def list_cmd(fmt: FormatOpt = OutputFormat.table) -> None:
    """List the built-in scenarios."""
    emit(scenarios_table(), fmt, title="built-in scenarios")


@app.command("show")
def show_cmd(
    scenario: Annotated[str, typer.Argument(help="Built-in name or path to a YAML file.")],
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Show a scenario: description, shocks, policies, sources and assumptions."""
    info = svc.get_scenario(scenario)
    s, data = info.scenario, info.to_record()
    if fmt is not OutputFormat.table:
        if fmt is OutputFormat.json:
            typer.echo(json.dumps(data, indent=1, default=str))
        else:
            cols = list(dict.fromkeys(k for sh in data["shocks"] for k in sh))
            rows = [{k: "" if sh.get(k) is None else json.dumps(sh[k]) if isinstance(sh[k], dict | list)
                     else str(sh[k]) for k in cols} for sh in data["shocks"]]
            emit(pd.DataFrame(rows, columns=cols), fmt)
        return
    console.print(f"[bold]{s.name}[/bold]  horizon {s.horizon} days, step {s.step} day(s)  [dim]{s.file}[/dim]")
    console.print(s.description.strip())
    t = Table(title="shocks", header_style="bold")
    for c in ("#", "type", "start", "details"):
        t.add_column(c)
    for i, sh in enumerate(data["shocks"]):
        det = {k: v for k, v in sh.items() if k not in ("type", "start")}
        t.add_row(str(i), sh["type"], str(sh["start"]), json.dumps(det, default=str))
    console.print(t)
    console.print("[bold]policies[/bold] " + json.dumps(data["policies"], default=str))
    console.print("[bold]sources[/bold]")
    for x in s.sources:
        console.print(f"  - {x}", highlight=False, markup=False)
    if s.assumptions:
        console.print("[bold]assumptions[/bold]")
        for x in s.assumptions:
            console.print(f"  - {x}", highlight=False, markup=False)


@app.command("validate")
def validate_cmd(
    scenarios: Annotated[list[str] | None, typer.Argument(help="Names or files (default: every built-in).")] = None,
) -> None:
    """Check scenarios against their schema and the atlas (exit 1 on any problem)."""
    v = svc.validate_scenarios(svc.ValidateScenarioRequest(tuple(scenarios) if scenarios else None), context())
    if v.problems:
        err_console.print(f"[bold red]{len(v.problems)} problem(s)[/bold red] in {len(v.names)} scenario(s):")
        for p in v.problems:
            err_console.print(f"  - {p}", highlight=False, markup=False)
        raise typer.Exit(1)
    console.print(f"{len(v.names)} scenario(s) valid against atlas '{v.atlas_name}' ({v.atlas_version})")


def stress_cmd(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or path to a YAML file.")],
    for_country: Annotated[str | None, typer.Option("--for", help="Focus country (iso3): its consumer "
                                                    "series and its sites.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="Target item (default ai_datacenter_capacity).")] = None,
    steps: Annotated[int | None, typer.Option("--steps", min=1, max=MAX_HORIZON_DAYS,
                                                   help="Steps to run (default: the scenario horizon).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for series.parquet, result.duckdb, "
                                             "summary.json and chart.html.")] = None,
    inventory_days: Annotated[float, typer.Option("--inventory-days", min=1.0,
                                                  help="Working stock in days of use, where the atlas's "
                                                       "dynamics give none (at least 1).")] = 15.0,
    bands: Annotated[int, typer.Option("--bands", min=0, max=1000,
                                       help="Draws of the parameter ranges for the uncertainty band "
                                            "(0: central values only).")] = 32,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the band draws.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into an --out folder that is not empty and "
                                        "is not a paxsilica result: only the result files are replaced, "
                                        "nothing else in it is touched.")] = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Run a stress scenario: AI compute lost (lost additions and lost operation) with its band,
    time-to-survive, time-to-recover, the most affected items and the scenario's backtest checks."""
    ctx = context()
    req = svc.StressRequest(scenario, target=target, for_country=for_country, steps=steps, out=out,
                            inventory_days=inventory_days, bands=bands, seed=seed, force=force)
    stages = ["network", "compile", "simulate", "measures", "saving"]
    total = len(stages) - (0 if out else 1)
    prog = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                    console=err_console, transient=True, disable=fmt is not OutputFormat.table)
    task = prog.add_task("stress", total=total)

    started: list[bool] = []

    def on(stage: str) -> None:
        if stage == "scenario":  # the names are fine: show the bar from here on
            prog.start()
            started.append(True)
        else:
            prog.update(task, completed=stages.index(stage), description=stage)

    try:
        res = svc.run_stress(req, ctx, progress=on)
        prog.update(task, completed=total)
    finally:
        if started:  # stopping a bar never started would still print its line break
            prog.stop()
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(res.to_record(), indent=1, default=str))
        return
    result, paths, s = res.run, res.paths, res.run.scenario
    sm = result.summary
    if fmt is OutputFormat.csv:
        emit(result.items, fmt)
        return
    t = Table(title=f"stress: {s.name} (atlas {res.atlas_name} {res.atlas_version})", header_style="bold",
              show_header=False)
    t.add_column("measure")
    t.add_column("value")

    def days(v: Any) -> str:
        return "unlimited" if v is None else f"{v} days"

    bd = sm.get("bands") or {}

    def with_band(key: str, fmt_: str = "{:.2f} %", scale: float = 1.0) -> str:
        v = fmt_.format(scale * sm[key])
        if key in bd and bd[key] and bd[key][0] == bd[key][0]:
            lo, hi = (scale * x for x in bd[key])
            v += f"  (band {fmt_.format(lo)} – {fmt_.format(hi)})"
        return v

    t.add_row("target", sm["target"])
    t.add_row("AI compute lost", with_band("loss_pct") + f" of capacity-days over {sm['horizon_days']} days")
    t.add_row("  of which lost additions", with_band("lost_additions_pct") + "  (capacity not delivered or installed)")
    t.add_row("  of which lost operation", with_band("lost_operation_pct") + "  (installed capacity that could not run)")
    t.add_row("additions not delivered", f"{sm['additions_loss_pct']:.2f} % of the planned additions")
    t.add_row("lowest level", with_band("min_level", "{:.1f} %", 100.0))
    if bd:
        drv = "; ".join(f"{d['parameter']} (rho {d['rho']:+.2f})" for d in bd.get("drivers", [])) or "-"
        t.add_row("band", f"5th–95th percentile of {bd['draws']} seeded draws of the parameter ranges")
        t.add_row("band driven by", drv)
    t.add_row("time to survive", days(sm["time_to_survive_days"]))
    ttr = sm["time_to_recover_days"]
    t.add_row("time to recover", "-" if sm["time_to_survive_days"] is None else
              ("not within the horizon" if ttr is None else f"{ttr} days"))
    t.add_row("most affected items", ", ".join(sm["most_affected_items"]) or "-")
    t.add_row("most affected consumers", ", ".join(sm["most_affected_consumers"]) or "-")
    console.print(t)
    shown = result.items.head(10)[["item", "stage", "min_level", "loss_pct", "time_to_survive_days",
                                   "time_to_recover_days"]].copy()
    shown["time_to_survive_days"] = shown["time_to_survive_days"].astype("float64").fillna(float("inf"))
    emit(shown, OutputFormat.table, title="items (worst first; time to survive 'unlimited' = never below 99 %)")
    if "focus" in sm:
        f = sm["focus"]
        if f["consumer"]:
            console.print(f"[bold]{f['country']}[/bold] as consumer: loss {f['consumer']['loss_pct']:.2f} %")
        if f["sites"]:
            emit(pd.DataFrame(f["sites"]), OutputFormat.table, title=f"sites in {f['country']}")
        elif not f["consumer"]:
            console.print(f"[dim]{f['country']} has no sites and no final demand in this network[/dim]")
    caps = sm.get("capacity_additions") or []
    if caps:
        emit(pd.DataFrame(caps), OutputFormat.table,
             title="capacity additions delayed (capital goods; installed capacity keeps running)")
    if result.checks:
        rows = [{"check": f"{c['of']} {c['measure']}", "range": f"[{_num(c['min'])}, {_num(c['max'])}]",
                 "model": _num(c["model"]), "band": "-" if not c.get("band") else
                 f"{_num(c['band'][0])} – {_num(c['band'][1])}", "verdict": "in" if c["ok"] else "OUT"}
                for c in result.checks]
        kind = result.checks[0]["kind"]
        emit(pd.DataFrame(rows), OutputFormat.table, title=f"backtest ({kind}): model against the {kind} range")
    for n in result.notes:
        console.print(f"[dim]note: {n}[/dim]", highlight=False)
    for k, p in paths.items():
        console.print(f"[dim]{k}: {p}[/dim]", highlight=False)


def _num(v: Any) -> str:
    return "-" if v is None else f"{float(v):.2f}"


def register(root: typer.Typer) -> None:
    """Add ``scenarios`` (sub-app) and ``stress`` (command) to the root CLI."""
    root.add_typer(app, name="scenarios", help="Stress scenarios: list, show, validate.")
    root.command("stress")(stress_cmd)
