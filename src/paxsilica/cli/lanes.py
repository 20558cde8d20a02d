"""``paxsilica lanes``: sea lanes, chokepoints passed, closures and exposure.

The computations are :mod:`paxsilica.services.lanes` (``show_lanes``, ``exposure_table``,
``ranking_table``, ``geojson_collection`` are re-exported from there); the typer commands only
parse options and print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..constants import DEFAULT_TARGET
from ..logistics import DEFAULT_PORT_DAYS, DEFAULT_SPEED_KNOTS
from ..services.lanes import (
    ExposureRequest,
    LanesRequest,
    RankingRequest,
    exposure,
    exposure_table,
    geojson_collection,
    lanes,
    ranking,
    ranking_table,
    show_lanes,
    write_lanes_geojson,
)
from .common import OutputFormat, console, context, current_atlas, emit

app = typer.Typer(help="Sea lanes, chokepoints passed, closures and chokepoint exposure.",
                  no_args_is_help=True)


FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="table, csv or json")]
ClosedOpt = Annotated[str | None, typer.Option(
    "--closed", help="chokepoints closed, comma-separated ids or presets (e.g. hormuz,suez or red_sea)")]
SpeedOpt = Annotated[float, typer.Option("--speed", help="sea speed in knots")]
AltOpt = Annotated[bool, typer.Option("--alternate-ports", help="when a lane is cut, try the countries' other ports")]


@app.command("show")
def show_cmd(
    from_: Annotated[str, typer.Option("--from", help="exporter iso3 (comma-separated for several)")],
    to: Annotated[str, typer.Option("--to", help="importer iso3 (comma-separated for several)")],
    closed: ClosedOpt = None,
    speed: SpeedOpt = DEFAULT_SPEED_KNOTS,
    port_days: Annotated[float, typer.Option("--port-days", help="port time added to sea lanes (days)")]
    = DEFAULT_PORT_DAYS,
    alternate_ports: AltOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Sea lane(s) between countries: ports, distance, days, chokepoints; rerouted or cut when closed."""
    res = lanes(context(current_atlas()), LanesRequest((from_,), (to,), closed, speed_knots=speed,
                                                       port_days=port_days, alternate_ports=alternate_ports))
    t, title = res.table, res.title
    if OutputFormat(fmt) is OutputFormat.table:
        # a terminal is narrow: port names without ids, no baseline columns without a closure
        t = t.assign(origin_port=t["origin_port"].str.replace(r" \(wpi[\d.]+\)$", "", regex=True),
                     destination_port=t["destination_port"].str.replace(r" \(wpi[\d.]+\)$", "", regex=True))
        t = t.rename(columns={"origin_port": "from port", "destination_port": "to port"})
        cols = ["exporter", "importer", "from port", "to port", "distance_nm", "days", "status", "chokepoints"]
        if closed:
            cols[6:6] = ["added_days"]
        t = t[cols].assign(distance_nm=t["distance_nm"].astype("float64").round(0),
                           days=t["days"].astype("float64").round(1))
    emit(t, fmt, title=title)


@app.command("exposure")
def exposure_cmd(
    for_: Annotated[str | None, typer.Option("--for", help="importer iso3: exposure of its imports")] = None,
    closed: ClosedOpt = None,
    speed: SpeedOpt = DEFAULT_SPEED_KNOTS,
    alternate_ports: AltOpt = False,
    fmt: FormatOpt = OutputFormat.table,
    limit: Annotated[int, typer.Option("--limit", min=0, help="rows shown in table format")] = 60,
) -> None:
    """Share of each item's supply passing each chokepoint (or a closure's impact with --closed)."""
    res = exposure(context(current_atlas()), ExposureRequest(for_, closed, speed, alternate_ports))
    emit(res.table, fmt, title=res.title, max_rows=limit)


@app.command("rank")
def rank_cmd(
    target: Annotated[str, typer.Option("--target", help="item whose supply is measured")]
    = DEFAULT_TARGET,
    speed: SpeedOpt = DEFAULT_SPEED_KNOTS,
    alternate_ports: AltOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Chokepoints ranked by the loss of the target when each is closed."""
    res = ranking(context(current_atlas()), RankingRequest(target, speed, alternate_ports))
    emit(res.table, fmt, title=res.title)


@app.command("geojson")
def geojson_cmd(
    out: Annotated[Path, typer.Option("--out", help="GeoJSON file to write")],
    closed: ClosedOpt = None,
) -> None:
    """Write the network's sea routes (LineStrings) and the chokepoints (Points) as GeoJSON."""
    res = write_lanes_geojson(context(current_atlas()), out, closed)
    console.print(f"wrote {out} ({res.n_lanes} lanes, {res.n_chokepoints} chokepoints)")


__all__ = ["app", "exposure_table", "geojson_collection", "ranking_table", "show_lanes"]
