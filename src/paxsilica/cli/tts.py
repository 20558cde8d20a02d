"""``paxsilica tts``: time-to-survive, impact for a time-to-recover and risk exposure per node.

`cli/main.py` registers it through :func:`register`; the computation is
:func:`paxsilica.services.tts.time_to_survive` (``tts_report`` is re-exported from there), so the
global ``--atlas`` option decides which atlas is analysed and this module only parses and prints.
"""

from __future__ import annotations

import math
from typing import Annotated

import pandas as pd
import typer

from ..constants import DEFAULT_TARGET
from ..services.tts import TtsRequest, time_to_survive, tts_report
from .common import OutputFormat, console, context, current_atlas, emit, err_console

__all__ = ["register", "tts_cmd", "tts_report"]


def _display(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["share"] = out["share"].round(1)
    out["tts_days"] = [v if math.isinf(v) else round(v, 1) for v in out["tts_days"]]
    for c in ("impact_days", "stock_days"):
        out[c] = out[c].round(2)
    for c in ("sustainable_fraction", "lost_share"):
        out[c] = (100 * out[c]).round(1)
    out["rei"] = out["rei"].round(3)
    return out.rename(columns={"share": "share_%", "sustainable_fraction": "sustainable_%",
                               "lost_share": "lost_%"}).drop(columns=["stock_note", "ttr_days"])


def tts_cmd(
    target: Annotated[str, typer.Option("--target", help="Item whose baseline output is the demand.")] = DEFAULT_TARGET,
    ttr_days: Annotated[float, typer.Option("--ttr-days", min=0, help="Time-to-recover of every node, days.")] = 30.0,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="table, csv or json.")] = OutputFormat.table,
    spare: Annotated[float, typer.Option("--spare-capacity", min=0,
                                         help="Spare capacity of every node, fraction of its baseline (what-if).")] = 0.0,
    stock_days: Annotated[float, typer.Option("--stock-days", min=0,
                                              help="Days of cover assumed for items without stock data.")] = 0.0,
    item: Annotated[str | None, typer.Option("--item", help="Show only the nodes of this item.")] = None,
    top: Annotated[int | None, typer.Option("--top", min=0, help="Rows shown in table format.")] = 30,
) -> None:
    """Time-to-survive and risk exposure of every (item, producer) node (Simchi-Levi LPs, HiGHS).

    For each node knocked out alone: how many days the target's baseline output can still be met
    from inventories and the remaining producers ("unlimited" if forever), the output lost over
    the time-to-recover (in days of the target's output) and the risk exposure index (1 = worst).
    """
    res = time_to_survive(context(current_atlas()), TtsRequest(target, ttr_days, spare, stock_days, item))
    df, notes = res.table, res.notes
    if fmt is OutputFormat.table:
        emit(_display(df), fmt, title=res.title, max_rows=top)
        console.print("[dim]tts_days: days the target's output is fully met with the node down "
                      "(unlimited = forever); impact_days: target output lost over the TTR, in days "
                      "of its baseline output; rei = impact / worst impact.[/dim]")
        for n in notes:
            console.print(f"[dim]note: {n}[/dim]", highlight=False)
    else:
        emit(df, fmt)  # JSON: an infinite tts_days is "unlimited" (paxsilica.serialize)
        for n in notes:
            err_console.print(f"note: {n}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``paxsilica tts`` to the root app."""
    app.command("tts")(tts_cmd)
