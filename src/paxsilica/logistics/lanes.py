"""Lanes: how an item travels from an exporting to an importing country, and what a closure does.

A lane joins the main port (``ports.rank`` 1) of the exporter to that of the importer by the
shortest sea route on searoute's network (see :mod:`paxsilica.logistics.network`), with its
distance, transit days and the chokepoints passed. Under a closure set a lane is *rerouted*
(longer distance, added days) or *cut* (no sea route remains).

Transport mode per item: the atlas ``items.transport_mode`` where given, else by stage
(:data:`DEFAULT_MODE_BY_STAGE`). Only sea lanes pass maritime chokepoints.

Lead times (our estimates, documented in ``docs/logistics.md``):

- sea: ``distance_nm / (speed_knots * 24) + port_days`` (defaults 14 kn, 2 days of port time);
- air: :data:`AIR_DAYS` (door to door);
- land and pipeline: great-circle distance between the countries' representative points
  x :data:`LAND_DETOUR` / :data:`LAND_KM_PER_DAY`;
- grid, digital and local (same country): 0 days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from paxsilica.atlas import Atlas
from paxsilica.errors import InputError

from .cache import RouteCache, cache_dir
from .network import CLOSURE_RADIUS_KM, CUT, Route, haversine_km, sea_network, searoute_version

DEFAULT_SPEED_KNOTS = 14.0
"""Service speed for transit days (knots): a slow-steaming container ship or a bulk carrier."""

DEFAULT_PORT_DAYS = 2.0
"""Port time added to every sea lane (days, both ends together; our estimate)."""

MAX_SPEED_KNOTS = 40.0
"""Highest sea speed accepted (knots): above any cargo ship's service speed (our bound)."""

MAX_PORT_DAYS = 60.0
"""Most port time accepted per lane (days; our bound: two months in port is a closure, not a lane)."""


def check_sea_options(speed_knots: float, port_days: float) -> None:
    """Refuse a sea speed or port time that is not a finite number within its bounds.

    Raises
    ------
    InputError
        Naming the field (``speed_knots`` or ``port_days``), the value and the bounds.

    Examples
    --------
    >>> check_sea_options(14.0, 2.0)
    >>> check_sea_options(14.0, -3)
    Traceback (most recent call last):
    ...
    paxsilica.errors.InputError: port time must be a number of days in [0, 60], got -3
    """
    import math

    for name, value, lo, hi, what in (("speed_knots", speed_knots, 0.0, MAX_SPEED_KNOTS, "speed"),
                                      ("port_days", port_days, 0.0, MAX_PORT_DAYS, "port time")):
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{what} must be a number, got {value!r}", column=name) from None
        ok = math.isfinite(v) and (lo < v if name == "speed_knots" else lo <= v) and v <= hi
        if not ok:
            rng = f"(0, {hi:g}] knots" if name == "speed_knots" else f"a number of days in [0, {hi:g}]"
            if name == "speed_knots":
                raise InputError(f"speed must be in {rng}, got {value}", column=name)
            raise InputError(f"port time must be {rng}, got {value}", column=name)


AIR_DAYS = 3.0
"""Door-to-door air freight transit (days; our estimate: 1-2 days airport to airport plus handling)."""

LAND_KM_PER_DAY = 500.0
"""Road/rail progress per day for land lanes (our estimate)."""

LAND_DETOUR = 1.3
"""Ratio of land route length to great-circle distance (our estimate)."""

DEFAULT_MODE_BY_STAGE: dict[str, str] = {
    "raw_material": "sea",
    "refined_material": "sea",
    "energy": "sea",
    "equipment": "air",
    "fabrication": "air",
    "component": "air",
    "accelerator": "air",
    "system": "air",
    "infrastructure": "local",
}
"""Transport mode of an item whose ``items.transport_mode`` is blank."""

LANE_COLUMNS: tuple[str, ...] = (
    "exporter", "importer", "mode", "origin_port", "destination_port", "distance_nm", "days",
    "chokepoints", "cut", "base_distance_nm", "base_days", "added_days", "rerouted", "status",
)
"""Columns of :func:`lane_table` (``item`` first when the pairs carry one)."""

CLOSURE_PRESETS: dict[str, frozenset[str]] = {
    "hormuz": frozenset({"hormuz"}),
    "red_sea": frozenset({"suez", "bab_el_mandeb"}),
    "suez": frozenset({"suez"}),
    "taiwan_strait": frozenset({"taiwan_strait"}),
    "malacca": frozenset({"malacca"}),
    "malacca_all": frozenset({"malacca", "singapore", "sunda", "lombok"}),
    "panama": frozenset({"panama"}),
    "turkish_straits": frozenset({"bosporus", "dardanelles"}),
}
"""Named closure sets (a closure can also be any set of chokepoint ids)."""


# ---------------------------------------------------------------------------------------------
# inputs from the atlas


def parse_closed(closed: str | Iterable[str] | None) -> frozenset[str]:
    """A closure set from ids or preset names (comma-separated text or an iterable).

    Examples
    --------
    >>> sorted(parse_closed("red_sea,hormuz"))
    ['bab_el_mandeb', 'hormuz', 'suez']
    >>> parse_closed(None)
    frozenset()
    """
    if closed is None:
        return frozenset()
    parts = closed.split(",") if isinstance(closed, str) else list(closed)
    out: set[str] = set()
    for p in parts:
        p = str(p).strip().lower().replace("-", "_")
        if not p:
            continue
        out |= CLOSURE_PRESETS.get(p, frozenset({p}))
    return frozenset(out)


def transport_modes(atlas: Atlas) -> dict[str, str]:
    """Transport mode per item: ``items.transport_mode``, else the default of its stage.

    Examples
    --------
    >>> a = Atlas.from_frames({"items": pd.DataFrame({"item": ["lng", "hbm"], "name": ["L", "H"],
    ...     "stage": ["energy", "component"], "unit": ["t", "units"]})})
    >>> transport_modes(a)
    {'lng': 'sea', 'hbm': 'air'}
    """
    items = atlas["items"]
    out: dict[str, str] = {}
    for r in items.itertuples(index=False):
        mode = r.transport_mode if isinstance(r.transport_mode, str) and r.transport_mode else None
        out[str(r.item)] = mode or DEFAULT_MODE_BY_STAGE.get(str(r.stage), "sea")
    return out


def main_port_table(atlas: Atlas) -> pd.DataFrame:
    """One port per country with a port: the best-ranked row of atlas ``ports``.

    Returns columns ``iso3, port, name, lon, lat``.
    """
    ports = atlas["ports"]
    cols = ["iso3", "port", "name", "lon", "lat"]
    if ports.empty:
        return pd.DataFrame(columns=cols)
    p = ports[ports["iso3"].notna() & ports["lat"].notna() & ports["lon"].notna()].copy()
    p["_r"] = pd.to_numeric(p["rank"], errors="coerce").fillna(np.inf)
    p = p.sort_values(["iso3", "_r", "port"], kind="stable").groupby("iso3", sort=False).head(1)
    return pd.DataFrame({
        "iso3": p["iso3"].astype(str).to_numpy(), "port": p["port"].astype(str).to_numpy(),
        "name": p["name"].astype(str).to_numpy(), "lon": p["lon"].astype(float).to_numpy(),
        "lat": p["lat"].astype(float).to_numpy()})


def _country_points(atlas: Atlas) -> dict[str, tuple[float, float]]:
    c = atlas["countries"]
    c = c[c["lat"].notna() & c["lon"].notna()]
    return {str(r.iso3): (float(r.lon), float(r.lat)) for r in c.itertuples(index=False)}


def port_of_countries(atlas: Atlas, countries: Iterable[str]) -> dict[str, dict]:
    """The port each country ships from: its main port, else (landlocked or no port in the
    atlas) the port nearest the country's representative point, else none.

    Returns ``{iso3: {"port", "name", "lon", "lat", "via"}}`` where ``via`` is the iso3 of the
    port's country.
    """
    main = main_port_table(atlas)
    by = {r.iso3: {"port": r.port, "name": r.name, "lon": r.lon, "lat": r.lat, "via": r.iso3}
          for r in main.itertuples(index=False)}
    pts = _country_points(atlas)
    out: dict[str, dict] = {}
    for c in countries:
        if c in by:
            out[c] = by[c]
        elif c in pts and len(main):
            lon, lat = pts[c]
            d = haversine_km(lon, lat, main["lon"].to_numpy(), main["lat"].to_numpy())
            r = main.iloc[int(np.argmin(d))]
            out[c] = {"port": r["port"], "name": r["name"], "lon": float(r["lon"]),
                      "lat": float(r["lat"]), "via": r["iso3"]}
    return out


def _demand_shares(atlas: Atlas, prod: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per input item: consumer country -> share of demand (from the producers of the items that
    use it, weighted by dependent_share)."""
    rec = atlas["recipes"]
    shares: dict[str, dict[str, float]] = {}
    by_item = {it: dict(zip(g["country"], g["share"], strict=True)) for it, g in prod.groupby("item")}
    for inp, g in rec.groupby("input"):
        acc: dict[str, float] = {}
        for r in g.itertuples(index=False):
            dep = float(r.dependent_share) if pd.notna(r.dependent_share) else 1.0
            for c, s in by_item.get(r.item, {}).items():
                acc[c] = acc.get(c, 0.0) + dep * s
        tot = sum(acc.values())
        if tot > 0:
            shares[str(inp)] = {c: v / tot for c, v in acc.items()}
    return shares


def network_pairs(atlas: Atlas, items: Iterable[str] | None = None) -> pd.DataFrame:
    """The (item, exporter, importer) flows the network needs, with weights.

    Uses atlas ``trade`` (latest year per item; quantity, else value) for items with trade rows,
    else production shares x demand shares: the demand for an input comes from the countries
    producing the items that use it (recipes, weighted by ``dependent_share``); an item nothing
    uses is consumed where it is made. Rest-of-world rows have no country and are left out.

    Returns
    -------
    DataFrame
        ``item, exporter, importer, weight, basis``; ``weight`` is a fraction of world supply
        (``basis`` = ``production``; the rows of an item sum to the share produced by named
        countries, below 1 when a rest-of-world row exists) or of world exports (``trade``; sums
        to 1).

    Examples
    --------
    >>> a = Atlas.from_frames({"production": pd.DataFrame({"item": ["x", "x"],
    ...     "producer": ["QAT", "USA"], "producer_type": ["country"] * 2, "year": [2024] * 2,
    ...     "share": [60.0, 40.0], "source": ["s"] * 2})})
    >>> network_pairs(a)[["exporter", "importer", "weight"]].values.tolist()
    [['QAT', 'QAT', 0.6], ['USA', 'USA', 0.4]]
    >>> b = Atlas.from_frames({"production": pd.DataFrame({"item": ["x", "x"],
    ...     "producer": ["UKR", "ROW"], "producer_type": ["country", "rest_of_world"],
    ...     "year": [2021] * 2, "share": [49.5, 50.5], "source": ["s"] * 2})})
    >>> network_pairs(b)[["exporter", "importer", "weight"]].values.tolist()
    [['UKR', 'UKR', 0.495]]
    """
    from paxsilica.metrics._common import latest_production

    prod = latest_production(atlas, "country")
    # world total per item, including rest-of-world rows (and at least 100 %): the part of supply
    # without a country has no lane and counts as passing no chokepoint
    world = prod.groupby("item")["share"].sum().clip(lower=1.0)
    prod = prod[~prod["rest"] & prod["country"].notna()]
    prod = prod.groupby(["item", "country"], as_index=False)["share"].sum()
    want = None if items is None else set(items)
    rows: list[dict] = []
    cols: dict[str, list[np.ndarray]] = {"item": [], "exporter": [], "importer": [], "weight": []}
    trade = atlas["trade"]
    trade = trade[trade["item"].notna() & trade["exporter"].notna() & trade["importer"].notna()]
    traded: set[str] = set()
    if not trade.empty:
        for it, g in trade.groupby("item"):
            if want is not None and it not in want:
                continue
            g = g[g["year"] == g["year"].max()]
            measure = "quantity" if g["quantity"].notna().any() else "value"
            g = g[g[measure].notna() & (g[measure] > 0)]
            tot = float(g[measure].sum())
            if tot <= 0:
                continue
            traded.add(str(it))
            agg = g.groupby(["exporter", "importer"], as_index=False)[measure].sum()
            # whole columns, not one dict per flow (10,000 flows in the bundled atlas)
            cols["item"].append(np.full(len(agg), str(it), dtype=object))
            cols["exporter"].append(np.array([str(x) for x in agg["exporter"]], dtype=object))
            cols["importer"].append(np.array([str(x) for x in agg["importer"]], dtype=object))
            cols["weight"].append(agg[measure].to_numpy(dtype="float64") / tot)
    demand = _demand_shares(atlas, prod)
    for it, g in prod.groupby("item"):
        it = str(it)
        if it in traded or (want is not None and it not in want):
            continue
        tot = float(world.get(it, 1.0))
        if tot <= 0:
            continue
        dem = demand.get(it)
        for r in g.itertuples(index=False):
            # an item nothing in the atlas uses is consumed where it is made
            for c, d in (dem.items() if dem else [(r.country, 1.0)]):
                rows.append({"item": it, "exporter": str(r.country), "importer": str(c),
                             "weight": float(r.share) / tot * d, "basis": "production"})
    out = pd.DataFrame(rows, columns=["item", "exporter", "importer", "weight", "basis"])
    if cols["item"]:
        by_trade = pd.DataFrame({k: np.concatenate(v) for k, v in cols.items()})
        by_trade["basis"] = "trade"
        out = pd.concat([by_trade, out], ignore_index=True) if len(out) else by_trade
    out = out[out["weight"] > 0]
    return out.sort_values(["item", "weight", "exporter", "importer"], ascending=[True, False, True, True],
                           kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# routes with cache


def _chokepoints(atlas: Atlas) -> pd.DataFrame:
    cp = atlas["chokepoints"]
    if cp.empty:
        from paxsilica.importers.chokepoints import SEAROUTE_PASSAGES

        # no chokepoint table: the searoute passages alone, at their edges' places
        rows = [{"chokepoint": k, "lat": 0.0, "lon": 0.0, "searoute_passage": v}
                for k, v in SEAROUTE_PASSAGES.items()]
        return pd.DataFrame(rows)
    return cp


def _resolve_cache(cache: bool | str | Path | None) -> Path | None:
    if cache is None or cache is True:
        return cache_dir()
    if cache is False:
        return None
    return Path(cache)


def sea_routes(atlas: Atlas, od: Iterable[tuple[tuple[float, float], tuple[float, float]]],
               closed: Iterable[str] = (), cache: bool | str | Path | None = True,
               radius_km: Mapping[str, float] | None = None) -> dict[tuple, Route]:
    """Sea routes for (origin, destination) point pairs under a closure set, via the disk cache.

    Returns ``{(origin, destination): Route}``.
    """
    cp = _chokepoints(atlas)
    net = sea_network(cp, radius_km)
    closed = frozenset(closed)
    net.closed_edges(closed)  # unknown ids raise before any work
    radii = dict(CLOSURE_RADIUS_KM)
    radii.update(radius_km or {})
    parts = {"searoute": searoute_version(), "chokepoints": [list(map(str, k)) for k in
             sorted(zip(cp["chokepoint"], cp["lat"], cp["lon"], cp["searoute_passage"].fillna("")
                        if "searoute_passage" in cp else [""] * len(cp), strict=True))],
             "radii": sorted(radii.items()), "closed": sorted(closed)}
    store = RouteCache(_resolve_cache(cache), parts)
    od = list(dict.fromkeys((tuple(o), tuple(d)) for o, d in od))
    # A closure only hides edges, so a baseline route that uses none of them stays the
    # shortest: only the routes passing a closed chokepoint are computed again.
    base = sea_routes(atlas, od, (), cache, radius_km) if closed else {}
    out: dict[tuple, Route] = {}
    todo: dict[tuple, list[tuple]] = {}
    for o, d in od:
        b = base.get((o, d))
        if b is not None and (b.cut or not closed.intersection(b.chokepoints)):
            out[(o, d)] = b
            continue
        r = store.get(o, d)
        if r is None:
            todo.setdefault(o, []).append(d)
        else:
            out[(o, d)] = r
    new = []
    if todo:
        got = net.routes_many(todo, closed)
        for o, ds in todo.items():
            for d in ds:
                out[(o, d)] = got[(o, d)]
                new.append((o, d, got[(o, d)]))
    if new:
        store.put_many(new)
        store.save()
    return out


# ---------------------------------------------------------------------------------------------
# lane table


def _pairs_frame(pairs) -> pd.DataFrame:
    if isinstance(pairs, pd.DataFrame):
        df = pairs.copy()
    else:
        df = pd.DataFrame(list(pairs))
        if df.shape[1] == 2:
            df.columns = ["exporter", "importer"]
        elif df.shape[1] == 3:
            df.columns = ["item", "exporter", "importer"]
        elif len(df) == 0:
            df = pd.DataFrame(columns=["exporter", "importer"])
        else:
            raise InputError("pairs must be (exporter, importer) or (item, exporter, importer) tuples")
    for c in ("exporter", "importer"):
        if c not in df.columns:
            raise InputError(f"pairs need a column {c!r}", column=c)
        df[c] = df[c].astype(str).str.upper()
    return df.reset_index(drop=True)


def _same_port(a: dict, b: dict) -> bool:
    # A landlocked country's transit port is a copy of its neighbour's port under another id:
    # compare positions, not ids.
    return (a["lon"], a["lat"]) == (b["lon"], b["lat"])


def lane_table(atlas: Atlas, pairs, closed: Iterable[str] | str = frozenset(), mode: str | None = "sea",
               speed_knots: float = DEFAULT_SPEED_KNOTS, port_days: float = DEFAULT_PORT_DAYS,
               cache: bool | str | Path | None = True,
               radius_km: Mapping[str, float] | None = None,
               alternate_ports: bool = False) -> pd.DataFrame:
    """Lanes for (exporter, importer) pairs, at baseline and under a closure set.

    Parameters
    ----------
    atlas : Atlas
        Needs ``ports`` (main ports) and ``chokepoints``; ``countries`` lat/lon for landlocked
        countries and land lanes; ``items`` when ``mode`` is None.
    pairs : DataFrame or iterable of tuples
        ``exporter, importer`` (iso3), optionally ``item``.
    closed : iterable of chokepoint ids or preset names, or comma-separated text
        The closure set (see :data:`CLOSURE_PRESETS`).
    mode : str or None
        ``"sea"`` (default), ``"air"``, ``"land"``, ``"pipeline"``, ``"grid"``, ``"digital"``,
        ``"local"`` for every lane; ``None``: per item (:func:`transport_modes`).
    speed_knots, port_days : float
        Sea transit speed and port time.
    cache : True, False, None or path
        Disk cache of routes (True/None: the default folder; False: none; a path: that folder).
    radius_km : mapping, optional
        Proximity radii for chokepoints searoute has no name for.
    alternate_ports : bool
        When a lane is cut, try the countries' other ports in atlas ``ports`` (rank 2, 3, ...)
        and keep the shortest route left (``status`` ``rerouted_alternate_port``, the ports
        used in ``origin_port``/``destination_port``). Off by default.

    Returns
    -------
    DataFrame
        Columns :data:`LANE_COLUMNS` (``item`` first when given). ``distance_nm``/``days`` are
        under the closure; ``base_*`` without it; ``chokepoints`` the ids passed, ``;``-joined
        (under the closure); ``cut`` True when no sea route remains (then distance and days are
        NaN, never 0); ``status`` is ``ok``, ``rerouted``, ``cut``, ``no_port``, or the mode for
        non-sea lanes. A same-country pair is ``local`` (0 days).

    Examples
    --------
    >>> from paxsilica.atlas import bundled_atlas
    >>> t = lane_table(bundled_atlas(), [("QAT", "NLD")], closed={"suez"})  # doctest: +SKIP
    >>> t.loc[0, ["cut", "rerouted"]].tolist()  # doctest: +SKIP
    [False, True]
    """
    check_sea_options(speed_knots, port_days)
    closed = parse_closed(closed)
    df = _pairs_frame(pairs)
    modes_by_item = transport_modes(atlas) if mode is None else {}
    if mode is None and "item" not in df.columns:
        raise InputError("mode=None (per item) needs an 'item' column in pairs", column="item")
    lane_mode = [("local" if e == i else (modes_by_item.get(str(it), "sea") if mode is None else mode))
                 for e, i, it in zip(df["exporter"], df["importer"],
                                     df["item"] if "item" in df.columns else [None] * len(df), strict=True)]
    df["mode"] = lane_mode
    sea = df["mode"].eq("sea")
    ports = port_of_countries(atlas, set(df.loc[sea, "exporter"]) | set(df.loc[sea, "importer"]))
    od = []
    for e, i in zip(df.loc[sea, "exporter"], df.loc[sea, "importer"], strict=True):
        if e in ports and i in ports and not _same_port(ports[e], ports[i]):
            od.append(((ports[e]["lon"], ports[e]["lat"]), (ports[i]["lon"], ports[i]["lat"])))
    base = sea_routes(atlas, od, (), cache, radius_km) if od else {}
    under = sea_routes(atlas, od, closed, cache, radius_km) if (od and closed) else base
    alt: dict[tuple[str, str], tuple[dict, dict, Route]] = {}
    if alternate_ports and closed and od:
        alt = _alternate_routes(atlas, df.loc[sea], ports, under, closed, cache, radius_km)
    pts = _country_points(atlas)

    def lane(e: str, i: str, m: str) -> dict:
        row = {"exporter": e, "importer": i, "mode": m, "origin_port": None, "destination_port": None,
               "distance_nm": np.nan, "days": np.nan, "chokepoints": "", "cut": False,
               "base_distance_nm": np.nan, "base_days": np.nan, "added_days": 0.0,
               "rerouted": False, "status": m}
        if m == "sea":
            if e not in ports or i not in ports:
                row["status"] = "no_port"
                return row
            if _same_port(ports[e], ports[i]):
                # both ship from one port (a landlocked country beside its neighbour's port):
                # the goods go overland
                m = row["mode"] = row["status"] = "land"
        if m == "sea":
            o = (ports[e]["lon"], ports[e]["lat"])
            d = (ports[i]["lon"], ports[i]["lat"])
            b = base.get((o, d), CUT)
            u = under.get((o, d), CUT)
            row["origin_port"], row["destination_port"] = ports[e]["port"], ports[i]["port"]

            def days(route: Route) -> float:
                return np.nan if route.cut else route.distance_nm / (speed_knots * 24.0) + port_days

            row.update(base_distance_nm=b.distance_nm, base_days=days(b),
                       distance_nm=u.distance_nm, days=days(u), cut=u.cut,
                       chokepoints=";".join(u.chokepoints if not u.cut else b.chokepoints))
            row["rerouted"] = bool(not u.cut and not b.cut and abs(u.distance_nm - b.distance_nm) > 1e-6)
            row["added_days"] = (u.distance_nm - b.distance_nm) / (speed_knots * 24.0) if row["rerouted"] else (
                np.nan if u.cut else 0.0)
            row["status"] = "cut" if u.cut else ("rerouted" if row["rerouted"] else "ok")
            if u.cut and (e, i) in alt:
                pe, pi, ar = alt[(e, i)]
                row.update(origin_port=pe["port"], destination_port=pi["port"], distance_nm=ar.distance_nm,
                           days=days(ar), cut=False, chokepoints=";".join(ar.chokepoints), rerouted=True,
                           status="rerouted_alternate_port",
                           added_days=(ar.distance_nm - b.distance_nm) / (speed_knots * 24.0)
                           if not b.cut else np.nan)
        elif m == "air":
            row.update(days=AIR_DAYS, base_days=AIR_DAYS)
        elif m in ("land", "pipeline"):
            if e in pts and i in pts:
                km = float(haversine_km(*pts[e], *pts[i])) * LAND_DETOUR
                row.update(days=km / LAND_KM_PER_DAY, base_days=km / LAND_KM_PER_DAY)
        else:  # grid, digital, local
            row.update(days=0.0, base_days=0.0)
        return row

    # a lane depends only on (exporter, importer, mode): each distinct one is made once (the bundled
    # atlas's 13,000 item flows travel about 3,000 distinct lanes), then repeated for its rows
    keys = list(zip(df["exporter"], df["importer"], df["mode"], strict=True))
    distinct = {k: j for j, k in enumerate(dict.fromkeys(keys))}
    rows = [lane(*k) for k in distinct]
    out = pd.DataFrame(rows, columns=list(LANE_COLUMNS))
    if len(out):
        out = out.iloc[np.fromiter((distinct[k] for k in keys), dtype=np.intp, count=len(keys))]
        out = out.reset_index(drop=True)
    out["cut"] = out["cut"].astype(bool)
    out["rerouted"] = out["rerouted"].astype(bool)
    if "item" in df.columns:
        out.insert(0, "item", df["item"].astype(str).to_numpy())
    return out


def _alternate_routes(atlas: Atlas, sea: pd.DataFrame, ports: dict[str, dict], under: dict,
                      closed: frozenset[str], cache, radius_km) -> dict[tuple[str, str], tuple[dict, dict, Route]]:
    """For lanes cut between main ports: the shortest route left between any ranked ports."""
    table = atlas["ports"]
    table = table[table["iso3"].notna() & table["lat"].notna() & table["lon"].notna()].copy()
    table["_r"] = pd.to_numeric(table["rank"], errors="coerce").fillna(np.inf)
    table = table.sort_values(["iso3", "_r", "port"], kind="stable")
    cand: dict[str, list[dict]] = {}
    for r in table.itertuples(index=False):
        cand.setdefault(str(r.iso3), []).append({"port": str(r.port), "lon": float(r.lon), "lat": float(r.lat)})
    todo: dict[tuple[str, str], list[tuple[dict, dict]]] = {}
    for e, i in set(zip(sea["exporter"], sea["importer"], strict=True)):
        if e not in ports or i not in ports:
            continue
        if not under.get(((ports[e]["lon"], ports[e]["lat"]), (ports[i]["lon"], ports[i]["lat"])), CUT).cut:
            continue
        combos = [(pe, pi) for pe in cand.get(e, [ports[e]]) for pi in cand.get(i, [ports[i]])
                  if (pe["port"], pi["port"]) != (ports[e]["port"], ports[i]["port"])]
        if combos:
            todo[(e, i)] = combos
    if not todo:
        return {}
    od = [((pe["lon"], pe["lat"]), (pi["lon"], pi["lat"])) for combos in todo.values() for pe, pi in combos]
    routes = sea_routes(atlas, od, closed, cache, radius_km)
    out = {}
    for key, combos in todo.items():
        best = None
        for pe, pi in combos:
            r = routes[((pe["lon"], pe["lat"]), (pi["lon"], pi["lat"]))]
            if not r.cut and (best is None or r.distance_nm < best[2].distance_nm):
                best = (pe, pi, r)
        if best is not None:
            out[key] = best
    return out


def lanes(atlas: Atlas, closed: Iterable[str] | str = frozenset(), items: Iterable[str] | None = None,
          speed_knots: float = DEFAULT_SPEED_KNOTS, port_days: float = DEFAULT_PORT_DAYS,
          cache: bool | str | Path | None = True, alternate_ports: bool = False) -> pd.DataFrame:
    """Every lane the network needs (:func:`network_pairs`), each in its item's mode, with the
    flow ``weight`` and ``basis`` attached.

    Examples
    --------
    >>> from paxsilica.atlas import bundled_atlas
    >>> lanes(bundled_atlas()).columns[:4].tolist()  # doctest: +SKIP
    ['item', 'exporter', 'importer', 'mode']
    """
    from paxsilica.atlas.memo import memo_view

    # a pure view of the atlas (the route cache only saves work): computed once per atlas and options,
    # the briefing's Plans ask for it three times
    closed_key = parse_closed(closed)
    items = None if items is None else frozenset(str(i) for i in items)
    cache_key = cache if cache is None or isinstance(cache, bool) else str(cache)
    key = (closed_key, float(speed_knots), float(port_days), cache_key, bool(alternate_ports))

    def view(subset: frozenset[str] | None) -> pd.DataFrame:
        return memo_view(atlas, "lanes", (*key, subset),
                         lambda: _lanes(atlas, closed_key, subset, speed_knots, port_days, cache, alternate_ports),
                         tables=_LANE_TABLES)

    if items is None:
        return view(None)
    try:
        every = view(None)
    except Exception:  # another item's lane cannot be made (e.g. no port): these items' lanes alone
        return view(items)
    # each lane is computed on its own and the pairs are sorted by item first: the lanes of some items
    # are those rows of every item's table, in the same order
    return every[every["item"].isin(items).to_numpy()].reset_index(drop=True)


_LANE_TABLES = ("production", "firms", "trade", "recipes", "items", "ports", "chokepoints", "countries")
"""The tables a lane table is computed from (the memo's guard)."""


def _lanes(atlas: Atlas, closed: frozenset[str], items: frozenset[str] | None, speed_knots: float,
           port_days: float, cache: bool | str | Path | None, alternate_ports: bool) -> pd.DataFrame:
    pairs = network_pairs(atlas, items)
    t = lane_table(atlas, pairs[["item", "exporter", "importer"]], closed, mode=None,
                   speed_knots=speed_knots, port_days=port_days, cache=cache,
                   alternate_ports=alternate_ports)
    t["weight"] = pairs["weight"].to_numpy()
    t["basis"] = pairs["basis"].to_numpy()
    return t


def unique_lanes(atlas: Atlas, closed: Iterable[str] | str = frozenset(),
                 speed_knots: float = DEFAULT_SPEED_KNOTS, port_days: float = DEFAULT_PORT_DAYS,
                 cache: bool | str | Path | None = True) -> pd.DataFrame:
    """The distinct sea lanes (exporter, importer) of the network, one row each."""
    pairs = network_pairs(atlas)
    modes = transport_modes(atlas)
    sea = pairs[pairs["item"].map(lambda it: modes.get(it, "sea") == "sea") & (pairs["exporter"] != pairs["importer"])]
    uniq = sea[["exporter", "importer"]].drop_duplicates().reset_index(drop=True)
    return lane_table(atlas, uniq, closed, mode="sea", speed_knots=speed_knots, port_days=port_days, cache=cache)


__all__ = [
    "AIR_DAYS", "CLOSURE_PRESETS", "DEFAULT_MODE_BY_STAGE", "DEFAULT_PORT_DAYS", "DEFAULT_SPEED_KNOTS",
    "LAND_DETOUR", "LAND_KM_PER_DAY", "LANE_COLUMNS", "lane_table", "lanes", "main_port_table",
    "network_pairs", "parse_closed", "port_of_countries", "sea_routes", "transport_modes", "unique_lanes",
]
