"""``paxsilica montecarlo``: a loss distribution from a hazard catalogue (in process or on Dask).

Parses the options, calls :func:`paxsilica.services.montecarlo.run_montecarlo` with a rich progress bar
and prints the world risk table. Ctrl-C keeps what is done: the folder is written with
``complete: false`` and the command exits with code 130.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from ..constants import DEFAULT_TARGET
from ..errors import InputError
from ..montecarlo.run import DEFAULT_BATCH, DEFAULT_HORIZON_DAYS, DEFAULT_SEED
from .common import OutputFormat, console, current_atlas, emit, err_console


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(f"{what} must be numbers separated by commas, got {text!r}") from None
    if not vals:
        raise InputError(f"{what}: give at least one number")
    return vals


def _pct(v: object) -> str:
    return "-" if v is None or v != v else f"{100 * float(v):.3f}%"  # type: ignore[arg-type]


def montecarlo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder to write (run.json, Parquet, DuckDB, report.html).")],
    draws: Annotated[int, typer.Option("--draws", min=1, help="Number of draws (horizons of events).")] = 10_000,
    catalogue: Annotated[Path | None, typer.Option("--catalogue", help="Hazard catalogue YAML (default: bundled).",
                                                   dir_okay=False)] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Run on a local Dask cluster of N "
                                                                         "worker processes.")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Run on an existing Dask cluster "
                                                                      "(tcp://HOST:PORT).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed: the same seed gives the same result.")] = DEFAULT_SEED,
    horizon: Annotated[int, typer.Option("--horizon", min=1, help="Days per draw.")] = DEFAULT_HORIZON_DAYS,
    levels: Annotated[str, typer.Option("--levels", help="VaR/ES levels, comma-separated.")] = "0.95,0.99",
    thresholds: Annotated[str, typer.Option("--exceed", help="Losses whose exceedance probability is reported "
                                                             "(fractions), comma-separated.")] = "0.01,0.05,0.1,0.25",
    target: Annotated[list[str] | None, typer.Option("--target", help="Target item (repeatable).")] = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Draws per engine call.")] = DEFAULT_BATCH,
    force: Annotated[bool, typer.Option("--force", help="Replace an output folder that is not a run.")] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="table, csv or json.")] = OutputFormat.table,
) -> None:
    """Monte Carlo risk: seeded years of events from a hazard catalogue through the stress model.

    Reports expected loss, VaR and expected shortfall at the levels, P(loss > x), their standard
    errors, and what drives the tail (Euler allocation of ES to event kinds, hazards and chokepoints).
    Method and catalogue sources: docs/montecarlo.md.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from ..services import montecarlo as svc
    from .common import context

    req = svc.MonteCarloRequest(draws=draws, catalogue=catalogue, seed=seed, horizon_days=horizon,
                                targets=tuple(target) if target else (DEFAULT_TARGET,),
                                levels=_floats(levels, "--levels"), thresholds=_floats(thresholds, "--exceed"),
                                workers=workers, scheduler=scheduler, batch_size=batch, out=out, force=force)
    ctx = context(current_atlas())
    show = err_console.is_terminal
    said = [-1, 0.0]

    def log_line(done: int, total: int) -> None:
        # without a terminal (logs, CI, a batch job): a line per percent of the tasks, or every 5 s
        pct = 100 * done // max(total, 1)
        now = time.monotonic()
        if pct > said[0] or now - said[1] >= 5.0:
            said[0], said[1] = pct, now
            err_console.print(f"montecarlo: {done} of {total} tasks ({pct}%)", highlight=False, markup=False)

    with Progress(TextColumn("montecarlo"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err_console, disable=not show, transient=True) as bar:
        task = bar.add_task("draws", total=None)

        def tick(done: int, total: int) -> None:
            if show:
                bar.update(task, completed=done, total=total)
            else:
                log_line(done, total)

        res = svc.run_montecarlo(req, ctx, progress=tick)
    r = res.result
    world = r.summary[r.summary["consumer"] == "WORLD"]
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(res.to_record(), indent=1, default=str))
    elif fmt is OutputFormat.csv:
        emit(world, fmt)
    else:
        shown = pd.DataFrame({
            "target": world["target"], "measure": world["measure"],
            "level": [("" if v is None or v != v else f"{v:g}") for v in world["level"]],
            "value": [f"{v:.4f}" if m == "p_exceed" else _pct(v) for m, v in zip(world["measure"], world["value"],
                                                                                   strict=True)],
            "se": [f"{v:.4f}" if m == "p_exceed" else _pct(v) for m, v in zip(world["measure"], world["se"],
                                                                               strict=True)]})
        emit(shown, OutputFormat.table, title=f"loss over {r.meta['horizon_days']} days, {r.meta['draws']:,} draws "
                                              f"(share of the target's baseline)")
        c = r.contributions
        if len(c):
            top = c[(c["by"] == "kind") & (c["level"] == max(r.meta["levels"])) & (c["es_contribution"] > 0)]
            top = top.sort_values("es_contribution", ascending=False).head(5)
            if len(top):
                console.print("tail drivers (ES at " + f"{max(r.meta['levels']):g}): "
                              + ", ".join(f"{n} {100 * s:.0f}%" for n, s in zip(top["name"], top["share"],
                                                                                   strict=True)), highlight=False)
        console.print(f"wrote {res.folder}", highlight=False)
    for w in r.meta.get("warnings", []):
        err_console.print(f"warning: {w}", highlight=False, markup=False)
    for n in r.notes:
        err_console.print(f"note: {n}", highlight=False, markup=False)
    if not r.complete:
        err_console.print(f"interrupted: kept {r.meta['draws']:,} of {r.meta['draws_requested']:,} draws in "
                          f"{res.folder} (complete: false)", highlight=False, markup=False)
        raise typer.Exit(130)


def register(app: typer.Typer) -> None:
    """Add ``paxsilica montecarlo`` to the root app."""
    app.command("montecarlo")(montecarlo_cmd)
