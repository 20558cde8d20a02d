"""GeoJSON export of lanes (LineStrings) and chokepoints (Points) for maps."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from paxsilica.atlas import Atlas
from paxsilica.fsutil import atomic_write
from paxsilica.serialize import dumps

from .lanes import (
    DEFAULT_SPEED_KNOTS,
    _chokepoints,
    parse_closed,
    port_of_countries,
    sea_routes,
    unique_lanes,
)


def _clean(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def lanes_geojson(atlas: Atlas, lane_frame: pd.DataFrame | None = None,
                  closed: Iterable[str] | str = frozenset(), include_chokepoints: bool = True,
                  speed_knots: float = DEFAULT_SPEED_KNOTS,
                  cache: bool | str | Path | None = True) -> dict:
    """A GeoJSON FeatureCollection: one LineString per sea lane and one Point per chokepoint.

    Parameters
    ----------
    atlas : Atlas
    lane_frame : DataFrame, optional
        Lanes to draw (from :func:`~paxsilica.logistics.lanes.lane_table`); default: the
        distinct sea lanes of the network (:func:`~paxsilica.logistics.lanes.unique_lanes`).
    closed : closure set
        Draw the routes under this closure (cut lanes have no geometry: ``null``).

    Returns
    -------
    dict
        Lane features carry ``kind="lane"``, exporter, importer, ports, distance_nm, days,
        chokepoints, cut, status; chokepoint features ``kind="chokepoint"``, id, name, type,
        how it is matched (``searoute_passage``).

    Examples
    --------
    >>> from paxsilica.atlas import bundled_atlas
    >>> lanes_geojson(bundled_atlas())["type"]  # doctest: +SKIP
    'FeatureCollection'
    """
    closed = parse_closed(closed)
    lt = lane_frame if lane_frame is not None else unique_lanes(atlas, closed, speed_knots=speed_knots,
                                                                cache=cache)
    sea = lt[lt["mode"] == "sea"] if "mode" in lt.columns else lt
    ports = port_of_countries(atlas, set(sea["exporter"]) | set(sea["importer"]))
    od = {}
    for e, i in zip(sea["exporter"], sea["importer"], strict=True):
        if e in ports and i in ports:
            od[(e, i)] = ((ports[e]["lon"], ports[e]["lat"]), (ports[i]["lon"], ports[i]["lat"]))
    routes = sea_routes(atlas, list(od.values()), closed, cache) if od else {}
    feats = []
    keep = [c for c in ("item", "exporter", "importer", "origin_port", "destination_port", "distance_nm",
                        "days", "chokepoints", "cut", "base_distance_nm", "added_days", "status") if c in sea.columns]
    for rec in sea[keep].to_dict("records"):
        key = od.get((rec["exporter"], rec["importer"]))
        r = routes.get(key) if key else None
        geom = None if r is None or r.cut or len(r.coords) < 2 else {
            "type": "LineString", "coordinates": [[round(x, 5), round(y, 5)] for x, y in r.coords]}
        props = {"kind": "lane", **{k: _clean(v) for k, v in rec.items()}}
        feats.append({"type": "Feature", "geometry": geom, "properties": props})
    if include_chokepoints and not atlas["chokepoints"].empty:
        cp = _chokepoints(atlas)
        for rec in cp.to_dict("records"):
            if pd.isna(rec.get("lat")) or pd.isna(rec.get("lon")):
                continue
            props = {"kind": "chokepoint", "id": rec["chokepoint"],
                     **{k: _clean(rec.get(k)) for k in ("name", "type", "connects", "searoute_passage")
                        if k in rec}, "closed": rec["chokepoint"] in closed}
            props = {k: (None if (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v)
                     for k, v in props.items()}
            feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [
                float(rec["lon"]), float(rec["lat"])]}, "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def write_geojson(collection: dict, path: str | Path) -> Path:
    """Write a FeatureCollection to ``path`` crash-safely (:func:`paxsilica.fsutil.atomic_write`).

    Values go through :func:`paxsilica.serialize.dumps` (missing -> null: the file is valid JSON).
    """
    return atomic_write(path, dumps(collection, compact=True))


__all__ = ["lanes_geojson", "write_geojson"]
