"""Sea-lane service: lanes between countries, chokepoint exposure and ranking, GeoJSON of routes.

The plain functions (:func:`show_lanes`, :func:`exposure_table`, :func:`ranking_table`,
:func:`geojson_collection`) take an Atlas and return data; the request functions
(:func:`lanes`, :func:`exposure`, :func:`ranking`, :func:`geojson`, :func:`write_lanes_geojson`)
take a context and a typed request, check its ids and return results.

Examples
--------
>>> from paxsilica.services import ServiceContext
>>> res = lanes(ServiceContext(), LanesRequest(("QAT",), ("NLD",), closed="suez"))
>>> res.table["status"].tolist()  # doctest: +SKIP
['rerouted']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..atlas import Atlas
from ..constants import DEFAULT_TARGET
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
from .context import ServiceContext
from .results import TableResult

__all__ = ["ExposureRequest", "GeojsonResult", "LanesRequest", "RankingRequest", "exposure", "exposure_table",
           "geojson", "geojson_collection", "lanes", "ranking", "ranking_table", "show_lanes",
           "write_lanes_geojson"]

SHOW_COLUMNS = ["exporter", "importer", "mode", "origin_port", "destination_port", "distance_nm", "days",
                "chokepoints", "cut", "base_distance_nm", "base_days", "added_days", "status"]
"""Columns of a lanes listing, in order."""


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
    return t[SHOW_COLUMNS]


def exposure_table(atlas: Atlas, importer: str | None = None, closed: str | None = None,
                   speed_knots: float = DEFAULT_SPEED_KNOTS, alternate_ports: bool = False) -> pd.DataFrame:
    """Exposure listing: with ``closed``, the closure's impact per item; else the share of each
    item's supply (or of ``importer``'s imports) through each chokepoint."""
    if closed:
        return closure_impact(atlas, parse_closed(closed), importer=importer, speed_knots=speed_knots,
                              alternate_ports=alternate_ports)
    return chokepoint_exposure(atlas, importer=importer, speed_knots=speed_knots)


def ranking_table(atlas: Atlas, target: str = DEFAULT_TARGET,
                  speed_knots: float = DEFAULT_SPEED_KNOTS, alternate_ports: bool = False) -> pd.DataFrame:
    """Chokepoints ranked by the loss at ``target`` when each is closed alone."""
    return chokepoint_ranking(atlas, target, speed_knots=speed_knots, alternate_ports=alternate_ports)


def geojson_collection(atlas: Atlas, closed: str | None = None) -> dict:
    """Routes of the network's sea lanes and chokepoint points as a FeatureCollection."""
    return lanes_geojson(atlas, closed=parse_closed(closed))


def _codes(text: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if text is None:
        return []
    parts = [text] if isinstance(text, str) else list(text)
    return [c.strip().upper() for part in parts for c in part.split(",") if c.strip()]


@dataclass(frozen=True)
class LanesRequest:
    """Lanes from every exporter to every importer (ISO3 codes), optionally with closures."""

    exporters: tuple[str, ...]
    importers: tuple[str, ...]
    closed: str | None = None
    mode: str = "sea"
    speed_knots: float = DEFAULT_SPEED_KNOTS
    port_days: float = DEFAULT_PORT_DAYS
    alternate_ports: bool = False


@dataclass(frozen=True)
class ExposureRequest:
    """Chokepoint exposure of every item's supply (or of ``importer``'s imports); with ``closed``,
    the closure's impact."""

    importer: str | None = None
    closed: str | None = None
    speed_knots: float = DEFAULT_SPEED_KNOTS
    alternate_ports: bool = False


@dataclass(frozen=True)
class RankingRequest:
    """Chokepoints ranked by the loss of ``target`` when each is closed alone."""

    target: str = DEFAULT_TARGET
    speed_knots: float = DEFAULT_SPEED_KNOTS
    alternate_ports: bool = False


def _closed_title(closed: str | None) -> str:
    return f" with {', '.join(sorted(parse_closed(closed)))} closed" if closed else ""


def lanes(ctx: ServiceContext, req: LanesRequest) -> TableResult:
    """The lanes of ``req`` (unknown countries or chokepoints raise with suggestions)."""
    atlas = ctx.atlas()
    exporters, importers = _codes(req.exporters), _codes(req.importers)
    require_countries(atlas, exporters, "country")
    require_countries(atlas, importers, "country")
    t = show_lanes(atlas, exporters, importers, req.closed, mode=req.mode, speed_knots=req.speed_knots,
                   port_days=req.port_days, alternate_ports=req.alternate_ports)
    return TableResult(t, "lanes" + _closed_title(req.closed), meta=asdict(req))


def exposure(ctx: ServiceContext, req: ExposureRequest) -> TableResult:
    """The exposure listing of ``req``."""
    atlas = ctx.atlas()
    importer = req.importer
    if importer:
        codes = require_countries(atlas, importer, "country")
        if len(codes) != 1:
            raise InputError(f"exposure is of one importer at a time, got {importer!r}")
        importer = codes[0]
    t = exposure_table(atlas, importer, req.closed, req.speed_knots, req.alternate_ports)
    return TableResult(t, "chokepoint exposure" + (f" of {importer.upper()} imports" if importer else ""),
                       meta=asdict(req))


def ranking(ctx: ServiceContext, req: RankingRequest) -> TableResult:
    """The chokepoint ranking of ``req``."""
    atlas = ctx.atlas()
    require_item(atlas, req.target)
    t = ranking_table(atlas, req.target, req.speed_knots, req.alternate_ports)
    return TableResult(t, f"chokepoints by effect on {req.target}", meta=asdict(req))


@dataclass(frozen=True)
class GeojsonResult:
    """A FeatureCollection of sea routes (``kind`` lane) and chokepoints (``kind`` chokepoint)."""

    collection: dict[str, Any]

    @property
    def n_lanes(self) -> int:
        """Lane features."""
        return sum(1 for f in self.collection["features"] if f["properties"]["kind"] == "lane")

    @property
    def n_chokepoints(self) -> int:
        """Chokepoint features."""
        return len(self.collection["features"]) - self.n_lanes

    def to_record(self) -> dict[str, Any]:
        """The GeoJSON document itself."""
        return self.collection

    def tables(self) -> dict[str, pd.DataFrame]:
        """The features' properties as a table."""
        return {"features": pd.DataFrame([f["properties"] for f in self.collection["features"]])}


def geojson(ctx: ServiceContext, closed: str | None = None) -> GeojsonResult:
    """Routes of the network's sea lanes and the chokepoints, with ``closed`` ones marked."""
    return GeojsonResult(geojson_collection(ctx.atlas(), closed))


def write_lanes_geojson(ctx: ServiceContext, out: str | Path, closed: str | None = None) -> GeojsonResult:
    """:func:`geojson`, written crash-safely to ``out``."""
    res = geojson(ctx, closed)
    write_geojson(res.collection, out)
    return res
