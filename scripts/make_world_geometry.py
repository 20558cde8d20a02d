"""Build src/paxsilica/data/geo/world-110m.json from world-atlas's countries-110m.json.

Usage (development time only; the output is checked in)::

    cd /tmp && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python scripts/make_world_geometry.py /tmp/package/countries-110m.json

Decodes the TopoJSON arcs, maps ISO 3166-1 numeric ids to alpha-3 with pycountry, drops Antarctica,
projects with Equal Earth (paxsilica.report.geo.equal_earth) and writes one SVG path per country,
rounded to 0.1 px.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pycountry

from paxsilica.report.geo import equal_earth

OUT = Path(__file__).resolve().parents[1] / "src" / "paxsilica" / "data" / "geo" / "world-110m.json"
# Features without an ISO numeric id in Natural Earth 110m: merge into the state that claims them in
# ISO 3166 (no political judgement intended: a share map needs one code per producer), or use the
# user-assigned code commonly used for Kosovo.
NO_ID = {"N. Cyprus": "CYP", "Somaliland": "SOM", "Kosovo": "XKX"}
DROP = {"ATA"}


def decode_arcs(topo: dict) -> list[list[tuple[float, float]]]:
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)
    return arcs


def ring(arcs: list, idx: list[int]) -> list[tuple[float, float]]:
    pts: list[tuple[float, float]] = []
    for i in idx:
        a = arcs[i] if i >= 0 else arcs[~i][::-1]
        pts.extend(a if not pts else a[1:])
    return pts


def unwrap(r: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Rings crossing the antimeridian (Fiji, Chukotka) would streak across the map: move their
    points to the side where most of the ring lies and clamp to +-180 deg."""
    if not any(abs(a[0] - b[0]) > 180 for a, b in zip(r, r[1:], strict=False)):
        return r
    east = sum(1 for lon, _ in r if lon > 0) >= len(r) / 2
    if east:
        return [(180.0 if lon < 0 else lon, lat) for lon, lat in r]
    return [(-180.0 if lon > 0 else lon, lat) for lon, lat in r]


def path(rings: list[list[tuple[float, float]]]) -> str:
    parts = []
    for r in rings:
        r = unwrap(r)
        xy = [equal_earth(lon, lat) for lon, lat in r]
        out, last = [], None
        for x, y in xy:
            p = (round(x, 1), round(y, 1))
            if p != last:
                out.append(f"{p[0]:g},{p[1]:g}")
            last = p
        if len(out) >= 3:
            parts.append("M" + "L".join(out) + "Z")
    return "".join(parts)


def main(src: str) -> None:
    topo = json.loads(Path(src).read_text())
    arcs = decode_arcs(topo)
    countries: dict[str, dict[str, str]] = {}
    for g in topo["objects"]["countries"]["geometries"]:
        name = g["properties"]["name"]
        if "id" in g:
            c = pycountry.countries.get(numeric=g["id"])
            iso3 = c.alpha_3 if c else None
        else:
            iso3 = NO_ID.get(name)
        if iso3 is None or iso3 in DROP:
            print(f"skipped {name} ({g.get('id')})", file=sys.stderr)
            continue
        polys = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"]
        rings = [ring(arcs, r) for poly in polys for r in poly]
        entry = countries.setdefault(iso3, {"name": name, "d": ""})
        entry["d"] += path(rings)
    ys = [equal_earth(0, lat)[1] for lat in (84.0, -57.0)]
    viewbox = [-500.0, round(ys[0], 1), 1000.0, round(ys[1] - ys[0], 1)]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"projection": "equal_earth", "viewbox": viewbox,
                               "countries": dict(sorted(countries.items()))},
                              separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(countries)} countries)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/package/countries-110m.json")
