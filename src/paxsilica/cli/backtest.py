"""``paxsilica backtest``: the stress model against what happened in real disruptions."""

from __future__ import annotations

import json
from typing import Annotated

import pandas as pd
import typer

from .common import OutputFormat, console, emit, err_console

FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]


def backtest_cmd(
    scenarios: Annotated[list[str] | None, typer.Argument(help="Scenario names or files (default: every built-in "
                                                                "with an observed or expected block).")] = None,
    bands: Annotated[int, typer.Option("--bands", min=0, max=1000,
                                       help="Draws of the parameter ranges per scenario (0: central only).")] = 32,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the band draws.")] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Run the reference events and the cases that must hurt; print model against observed, in or out.

    Each check bounds one measure of the result (AI compute lost, an item's lost output, ...) by the
    range that happened (``observed``) or that must happen (``expected``); "in" means the model's
    central value lies in the range. Sources and derivations: docs/backtests.md.
    """
    from ..services import stress as svc
    from .scenarios import context

    ctx = context()
    with console.status("running backtests", spinner="dots") if fmt is OutputFormat.table else _Null():
        res = svc.backtest(svc.BacktestRequest(tuple(scenarios) if scenarios else None, bands=bands, seed=seed), ctx)
    table = res.table
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(res.to_record()["rows"], indent=1, default=str))
        return
    if fmt is OutputFormat.csv:
        emit(table, fmt)
        return
    console.print(f"backtests on atlas {res.atlas_name} {res.atlas_version}: lost output in % of the horizon's "
                  "(target: AI compute), the model against the observed (or expected) range", highlight=False)
    for name, rows in table.groupby("scenario", sort=False):
        shown = pd.DataFrame({
            "check": [f"{o}" if m == "loss_pct" else f"{o} {m}" for o, m in zip(rows["of"].fillna(""),
                                                                              rows["measure"].fillna(""),
                                                                              strict=True)],
            "verdict": ["in" if ok else "OUT" for ok in rows["ok"]],
            "model": [_n(v) for v in rows["model"]],
            "band": [f"{_n(a)}–{_n(b)}" if a == a and a is not None else "-"
                     for a, b in zip(rows["band_low"], rows["band_high"], strict=True)],
            "range": [f"{_n(a)}–{_n(b)}" for a, b in zip(rows["min"], rows["max"], strict=True)],
            "kind": rows["kind"].fillna(""),
        })
        emit(shown, OutputFormat.table, title=str(name))
    n_in, n = res.checks_in, len(table)
    colour = "green" if n_in == n else "red"
    console.print(f"[bold {colour}]{n_in} of {n} checks in range[/bold {colour}]")
    for r in table.itertuples(index=False):
        if isinstance(r.note, str) and r.note:
            err_console.print(f"note: {r.scenario}: {r.note}", highlight=False, markup=False)


def _n(v: object) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return f"{float(v):.2f}"  # type: ignore[arg-type]


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


def register(root: typer.Typer) -> None:
    """Add the ``backtest`` command to the root CLI."""
    root.command("backtest")(backtest_cmd)
