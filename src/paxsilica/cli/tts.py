"""``paxsilica tts``: time-to-survive, impact for a time-to-recover and risk exposure per node.

`cli/main.py` registers it through :func:`register`; :func:`tts_report` takes an Atlas, so the global
``--atlas`` option decides which atlas is analysed.
"""

from __future__ import annotations

import math
from typing import Annotated

import pandas as pd
import typer

from ..atlas import Atlas
from ..metrics import DEFAULT_TARGET
from .common import OutputFormat, console, current_atlas, emit, err_console

_COLUMNS = ["rank", "item", "producer", "share", "tts_days", "sustainable_fraction", "ttr_days",
            "impact_days", "lost_share", "rei", "stock_days", "stock_note"]


def tts_report(
    atlas: Atlas,
    target: str = DEFAULT_TARGET,
    ttr_days: float = 30.0,
    *,
    spare_capacity: float = 0.0,
    stock_days: float = 0.0,
    item: str | None = None,
) -> pd.DataFrame:
    """The ``paxsilica tts`` table for ``atlas`` (see :func:`paxsilica.optimize.atlas_tts`).

    ``item`` keeps only the nodes of one item (ranks stay those of the whole network).

    Examples
    --------
    >>> from paxsilica.atlas import bundled_atlas
    >>> df = tts_report(bundled_atlas(), ttr_days=30)
    >>> int(df["rank"].iloc[0])
    1
    """
    from ..optimize.atlas_tts import atlas_tts  # scipy.optimize loads only when this runs

    df = atlas_tts(atlas, target, ttr_days, spare_capacity=spare_capacity,
                   default_stock_days=stock_days)
    notes = df.attrs.get("notes", [])
    if item is not None:
        df = df[df["item"] == item].reset_index(drop=True)
        df.attrs["notes"] = notes
    return df[_COLUMNS]


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
    top: Annotated[int | None, typer.Option("--top", help="Rows shown in table format.")] = 30,
) -> None:
    """Time-to-survive and risk exposure of every (item, producer) node (Simchi-Levi LPs, HiGHS).

    For each node knocked out alone: how many days the target's baseline output can still be met
    from inventories and the remaining producers ("unlimited" if forever), the output lost over
    the time-to-recover (in days of the target's output) and the risk exposure index (1 = worst).
    """
    atlas = current_atlas()
    from ..metrics._common import did_you_mean, require_item

    known_items = set(atlas["items"]["item"].dropna().astype(str))
    if target not in known_items:
        raise did_you_mean(target, known_items, "target item")
    if item is not None:
        require_item(atlas, item)
    df = tts_report(atlas, target, ttr_days, spare_capacity=spare, stock_days=stock_days, item=item)
    notes = df.attrs.get("notes", [])
    if fmt is OutputFormat.table:
        emit(_display(df), fmt, title=f"Time-to-survive / time-to-recover: {target}, TTR {ttr_days:g} days",
             max_rows=top)
        console.print("[dim]tts_days: days the target's output is fully met with the node down "
                      "(unlimited = forever); impact_days: target output lost over the TTR, in days "
                      "of its baseline output; rei = impact / worst impact.[/dim]")
        for n in notes:
            console.print(f"[dim]note: {n}[/dim]", highlight=False)
    else:
        if fmt is OutputFormat.json:  # Infinity is not JSON
            df = df.astype({"tts_days": object})
            df["tts_days"] = ["unlimited" if math.isinf(v) else v for v in df["tts_days"]]
        emit(df, fmt)
        for n in notes:
            err_console.print(f"note: {n}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``paxsilica tts`` to the root app."""
    app.command("tts")(tts_cmd)
