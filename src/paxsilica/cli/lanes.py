"""``paxsilica lanes``: sea lanes, chokepoints passed, closures and exposure.

The service functions (``show_lanes``, ``exposure_table``, ``ranking_table``, ``geojson_collection``)
take an Atlas and return data; the typer commands only parse options and print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from ..atlas import Atlas
from ..errors import InputError
from ..logistics import (
    DEFAULT_PORT_DAYS,
    DEFAULT_SPEED_KNOTS,
    chokepoint_exposure,
    chokepoint_ranking,
    closure_impact,
    lane_table,
    lanes_geojson,
    parse_closed,
    write_geojson,
)
from ..metrics._common import require_countries, require_item
from .common import OutputFormat, console, current_atlas, emit

app = typer.Typer(help="Sea lanes, chokepoints passed, closures and chokepoint exposure.",
                  no_args_is_help=True)

_SHOW_COLS = ["exporter", "importer", "mode", "origin_port", "destination_port", "distance_nm", "days",
              "chokepoints", "cut", "base_distance_nm", "base_days", "added_days", "status"]


def _codes(text: str | None) -> list[str]:
    return [c.strip().upper() for c in (text or "").split(",") if c.strip()]


def show_lanes(atlas: Atlas, exporters: list[str], importers: list[str], closed: str | None = None,
               mode: str = "sea", speed_knots: float = DEFAULT_SPEED_KNOTS,
               port_days: float = DEFAULT_PORT_DAYS, alternate_ports: bool = False) -> pd.DataFrame:
    """Lanes for every (exporter, importer) pair given, with port names added."""
    if not exporters or not importers:
        raise InputError("give at least one exporter (--from) and one importer (--to)")
    pairs = [(e, i) for e in exporters for i in importers]
    t = lane_table(atlas, pairs, parse_closed(closed), mode=mode, speed_knots=speed_knots,
                   port_days=port_days, alternate_ports=alternate_ports)
    names = {}
    ports = atlas["ports"]
    if not ports.empty:
        names = dict(zip(ports["port"].astype(str), ports["name"].astype(str), strict=True))
    t["origin_port"] = [f"{names.get(p, p)} ({p})" if isinstance(p, str) else p for p in t["origin_port"]]
    t["destination_port"] = [f"{names.get(p, p)} ({p})" if isinstance(p, str) else p
                             for p in t["destination_port"]]
    return t[_SHOW_COLS]


def exposure_table(atlas: Atlas, importer: str | None = None, closed: str | None = None,
                   speed_knots: float = DEFAULT_SPEED_KNOTS, alternate_ports: bool = False) -> pd.DataFrame:
    """Exposure listing: with ``closed``, the closure's impact per item; else the share of each
    item's supply (or of ``importer``'s imports) through each chokepoint."""
    if closed:
        return closure_impact(atlas, parse_closed(closed), importer=importer, speed_knots=speed_knots,
                              alternate_ports=alternate_ports)
    return chokepoint_exposure(atlas, importer=importer, speed_knots=speed_knots)


def ranking_table(atlas: Atlas, target: str = "ai_datacenter_capacity",
                  speed_knots: float = DEFAULT_SPEED_KNOTS, alternate_ports: bool = False) -> pd.DataFrame:
    """Chokepoints ranked by the loss at ``target`` when each is closed alone."""
    return chokepoint_ranking(atlas, target, speed_knots=speed_knots, alternate_ports=alternate_ports)


def geojson_collection(atlas: Atlas, closed: str | None = None) -> dict:
    """Routes of the network's sea lanes and chokepoint points as a FeatureCollection."""
    return lanes_geojson(atlas, closed=parse_closed(closed))


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
    atlas = current_atlas()
    require_countries(atlas, from_, "country")
    require_countries(atlas, to, "country")
    t = show_lanes(atlas, _codes(from_), _codes(to), closed, speed_knots=speed, port_days=port_days,
                   alternate_ports=alternate_ports)
    title = "lanes" + (f" with {', '.join(sorted(parse_closed(closed)))} closed" if closed else "")
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
    limit: Annotated[int, typer.Option("--limit", help="rows shown in table format")] = 60,
) -> None:
    """Share of each item's supply passing each chokepoint (or a closure's impact with --closed)."""
    atlas = current_atlas()
    if for_:
        (for_,) = require_countries(atlas, for_, "country")
    t = exposure_table(atlas, for_, closed, speed, alternate_ports)
    emit(t, fmt, title="chokepoint exposure" + (f" of {for_.upper()} imports" if for_ else ""), max_rows=limit)


@app.command("rank")
def rank_cmd(
    target: Annotated[str, typer.Option("--target", help="item whose supply is measured")]
    = "ai_datacenter_capacity",
    speed: SpeedOpt = DEFAULT_SPEED_KNOTS,
    alternate_ports: AltOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Chokepoints ranked by the loss of the target when each is closed."""
    atlas = current_atlas()
    require_item(atlas, target)
    emit(ranking_table(atlas, target, speed, alternate_ports), fmt,
         title=f"chokepoints by effect on {target}")


@app.command("geojson")
def geojson_cmd(
    out: Annotated[Path, typer.Option("--out", help="GeoJSON file to write")],
    closed: ClosedOpt = None,
) -> None:
    """Write the network's sea routes (LineStrings) and the chokepoints (Points) as GeoJSON."""
    coll = geojson_collection(current_atlas(), closed)
    write_geojson(coll, out)
    n_lanes = sum(1 for f in coll["features"] if f["properties"]["kind"] == "lane")
    console.print(f"wrote {out} ({n_lanes} lanes, {len(coll['features']) - n_lanes} chokepoints)")


__all__ = ["app", "exposure_table", "geojson_collection", "ranking_table", "show_lanes"]
