"""Views service: the data behind each page of the dashboard, one function a page.

Each view composes the other services and the pure model functions into one JSON-able record,
so that the dashboard and ``/api/v1/views/*`` read exactly the same data (the API serves these
records; the dashboard only draws them). Map positions are projected here with the briefing's
Equal Earth projection (:func:`paxsilica.report.geo.equal_earth`), so that lanes, chokepoints and
country shapes (``world-110m.json``, pre-projected) share one SVG coordinate system.

Examples
--------
>>> from paxsilica.services import ServiceContext
>>> v = item_view(ServiceContext(), "gallium")
>>> v["item"]["item"], v["shares"]["made_in"]["CHN"] > 50
('gallium', True)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..constants import DEFAULT_COALITION, DEFAULT_TARGET
from ..errors import NotFoundError
from ..serialize import records, to_jsonable
from .context import ServiceContext

__all__ = ["TIERS", "backtests_view", "chokepoints_view", "item_view", "level_band", "montecarlo_view",
           "network_view", "overview", "plan_view", "run_lanes",
           "parse_closure", "world"]

TIERS = ("member", "partner", "other")
"""Supplier tiers, closest first (see :mod:`paxsilica.metrics.coalition`)."""

TOP_PER_TIER = 8
"""How many top dependencies of each tier the overview lists."""


def _r(x: float, nd: int = 1) -> float:
    return float(round(float(x), nd))


def world() -> dict[str, Any]:
    """The world's country shapes as pre-projected SVG paths (Natural Earth 1:110m, public domain).

    Examples
    --------
    >>> w = world()
    >>> len(w["viewbox"]), "CHN" in w["countries"]
    (4, True)
    """
    from ..report.geo import world_geometry

    return world_geometry()


def _concentration(ctx: ServiceContext) -> pd.DataFrame:
    """``metrics.concentration`` by country, once per atlas version (the same for every coalition)."""
    from ..metrics import concentration

    cache = ctx.cache("views.concentration")
    if "country" not in cache:
        cache["country"] = concentration(ctx.atlas(), "country")
    return cache["country"]


def _exposure(ctx: ServiceContext, coalition: str) -> pd.DataFrame:
    from ..metrics import coalition_exposure
    from .measures import check_request

    cache = ctx.cache("views.exposure")
    if coalition not in cache:
        atlas = ctx.atlas()
        check_request(atlas, coalition)
        c = _concentration(ctx)
        e = coalition_exposure(atlas, coalition, None, (), "country")
        keep = [col for col in e.columns if col not in c.columns or col == "item"]
        cache[coalition] = c.merge(e[keep], on="item", how="left")
    return cache[coalition]


def _members(ctx: ServiceContext, coalition: str) -> dict[str, str]:
    """Tier of every country of the atlas in ``coalition`` (today)."""
    from ..metrics.coalition import supplier_tiers

    t = supplier_tiers(ctx.atlas(), coalition)
    return {str(i): str(x) for i, x in zip(t["iso3"], t["tier"], strict=True) if isinstance(x, str)}


def overview(ctx: ServiceContext, coalition: str = DEFAULT_COALITION) -> dict[str, Any]:
    """Coalition coverage by stage and the top dependencies in each supplier tier.

    A dependency is an item whose largest named producer sits in that tier; items are ranked by
    that producer's share of world output.

    Examples
    --------
    >>> v = overview(ServiceContext())
    >>> sorted(v["top_dependencies"]) == sorted(TIERS) and len(v["stages"]) > 3
    True
    """
    from .measures import ItemsRequest, items

    cache = ctx.cache("views.overview")
    if coalition in cache:
        return cache[coalition]
    stages = items(ctx, ItemsRequest(view="stages", coalition=coalition)).table
    e = _exposure(ctx, coalition)
    top: dict[str, list[dict[str, Any]]] = {}
    for tier in TIERS:
        rows = e[e["top1_tier"] == tier].sort_values(["top1_share", "item"], ascending=[False, True])
        cols = [c for c in ("item", "name", "stage", "top1", "top1_share", "coalition_share", "hhi", "spof")
                if c in rows.columns]
        top[tier] = records(rows[cols].head(TOP_PER_TIER))
    atlas = ctx.atlas()
    cache[coalition] = out = to_jsonable({
        "atlas": {"name": atlas.name, "version": ctx.atlas_version(), "items": int(len(atlas["items"])),
                  "countries": int(len(atlas["countries"]))},
        "coalition": coalition, "stages": records(stages), "top_dependencies": top})
    return out


def item_view(ctx: ServiceContext, item: str, coalition: str = DEFAULT_COALITION) -> dict[str, Any]:
    """One item: producer shares by country *made in* and *controlled by*, the producers table
    (source, data year, stale flag), coalition tiers, and upstream / downstream recipes.

    *Made in* is the production rows' ``country`` (where output is made); *controlled by* is
    ``controlled_by``, else the firm's headquarters, else the country itself. Shares are of the
    item's latest year.
    """
    from ..metrics._common import require_item
    from ..metrics.concentration import STALE_YEARS, stale_year

    atlas = ctx.atlas()
    require_item(atlas, item)
    from .measures import check_request

    check_request(atlas, coalition)
    it = atlas["items"]
    row = it[it["item"] == item].iloc[0]
    prod = atlas["production"]
    prod = prod[prod["item"] == item].copy()
    sources = atlas["sources"].set_index("source") if len(atlas["sources"]) else pd.DataFrame()
    firms = atlas["firms"]
    hq = dict(zip(firms["firm"].astype(str), firms["country"].astype(str), strict=True)) if len(firms) else {}
    fname = dict(zip(firms["firm"].astype(str), firms["name"].astype(str), strict=True)) if len(firms) else {}
    cname = dict(zip(atlas["countries"]["iso3"].astype(str), atlas["countries"]["name"].astype(str), strict=True))
    tiers = _members(ctx, coalition)
    year_now = dt.date.today().year
    out_rows = []
    for _, p in prod.iterrows():
        producer = str(p["producer"])
        ptype = str(p["producer_type"])
        # where it is made: the row's country, else (a firm) its headquarters, as
        # atlas.country_production counts firm rows
        made = p["country"] if isinstance(p["country"], str) and p["country"] else (
            producer if ptype == "country" else hq.get(producer))
        ctrl = p["controlled_by"] if isinstance(p["controlled_by"], str) and p["controlled_by"] else (
            hq.get(producer) if ptype == "firm" else made)
        src = str(p["source"])
        pub = None
        if src in getattr(sources, "index", ()):
            pub = f"{sources.loc[src, 'publisher']}: {sources.loc[src, 'title']}"
        out_rows.append({
            "producer": producer, "producer_type": ptype,
            "name": fname.get(producer) or cname.get(producer) or ("rest of world" if ptype == "rest_of_world"
                                                                     else producer),
            "made_in": made, "controlled_by": ctrl, "tier": tiers.get(made) if made else None,
            "year": p["year"], "share": p["share"], "estimated": p["estimated"], "source": src,
            "source_title": pub, "stale": stale_year(p["year"], year_now), "note": p["note"]})
    table = pd.DataFrame(out_rows)
    shares: dict[str, dict[str, float]] = {"made_in": {}, "controlled_by": {}}
    latest = None
    if len(table):
        years = pd.to_numeric(table["year"], errors="coerce")
        latest = int(years.max())
        # one level per map: the country rows when the latest year has them, else the firm rows
        cur = table[years == latest]
        level = "country" if (cur["producer_type"] == "country").any() else "firm"
        cur = cur[cur["producer_type"] == level]
        for key in shares:
            s = cur.dropna(subset=[key]).groupby(key)["share"].sum()
            shares[key] = {str(k): _r(v) for k, v in s.items() if v > 0}
        table = table.sort_values(["year", "share"], ascending=[False, False])
    rec = atlas["recipes"]
    names = dict(zip(it["item"].astype(str), it["name"].astype(str), strict=True))
    stage = dict(zip(it["item"].astype(str), it["stage"].astype(str), strict=True))
    up = rec[rec["item"] == item]
    down = rec[rec["input"] == item]
    upstream = [{"item": str(r["input"]), "name": names.get(str(r["input"]), str(r["input"])),
                 "stage": stage.get(str(r["input"])), "dependent_share": r["dependent_share"],
                 "use": r["use"], "rationale": r["rationale"]} for _, r in up.iterrows()]
    downstream = [{"item": str(r["item"]), "name": names.get(str(r["item"]), str(r["item"])),
                   "stage": stage.get(str(r["item"])), "dependent_share": r["dependent_share"],
                   "use": r["use"], "rationale": r["rationale"]} for _, r in down.iterrows()]
    e = _exposure(ctx, coalition)
    risk = records(e[e["item"] == item])
    return to_jsonable({
        "item": {"item": item, "name": row["name"], "stage": row["stage"], "unit": row["unit"],
                 "description": row["description"]},
        "coalition": coalition, "members": sorted(k for k, v in tiers.items() if v == "member"),
        "partners": sorted(k for k, v in tiers.items() if v == "partner"),
        "latest_year": latest, "stale_after_years": STALE_YEARS,
        "shares": shares, "producers": records(table), "risk": risk[0] if risk else None,
        "upstream": upstream, "downstream": downstream})


def network_view(ctx: ServiceContext, coalition: str = DEFAULT_COALITION) -> dict[str, Any]:
    """The supply graph: one node per item (stage, risk, producer countries and their tiers) and
    one edge per recipe row (input → item).

    ``hhi`` is the item's HHI of country shares (0–10,000; DOJ/FTC: > 2,500 highly
    concentrated), the colour the dashboard gives a node; ``spof`` and ``top1`` are from the same
    table (:func:`paxsilica.metrics.concentration`). The coalition's exposure is not computed here
    (the page colours by concentration and filters by tier): on a 5,000-item atlas it was two
    thirds of the page's first build (bench/bench_dashboard.py).

    Examples
    --------
    >>> v = network_view(ServiceContext())
    >>> len(v["nodes"]) > 20 and len(v["edges"]) > 20
    True
    """
    from ..atlas import SCHEMA

    cache = ctx.cache("views.network")
    if coalition in cache:
        return cache[coalition]
    atlas = ctx.atlas()
    from .measures import check_request

    check_request(atlas, coalition)
    e = _concentration(ctx)
    tiers = _members(ctx, coalition)
    prod = atlas["production"]
    prod = prod[(prod["producer_type"] == "country") & (prod["producer"] != "ROW")]
    countries = {str(k): sorted(set(v.astype(str))) for k, v in prod.groupby("item")["producer"]}
    cols = [c for c in ("item", "hhi", "spof", "top1") if c in e.columns]
    # one merge, then plain records: a per-row lookup is what made a 5,000-item atlas slow
    t = atlas["items"][["item", "name", "stage"]].merge(e[cols], on="item", how="left")
    if "hhi" in t.columns:  # 0-10,000: a tenth is finer than any colour step, and short on the wire
        t["hhi"] = t["hhi"].round(1)
    nodes = []
    for r in records(t):
        cs = countries.get(str(r["item"]), [])
        nodes.append({"id": r.pop("item"), **r, "countries": cs,
                      "tiers": sorted({tiers[c] for c in cs if c in tiers})})
    known = set(atlas["items"]["item"].astype(str))
    rec = atlas["recipes"]
    edges = [{"source": str(a), "target": str(b), "dependent_share": s}
             for a, b, s in zip(rec["input"], rec["item"], rec["dependent_share"], strict=True)
             if str(a) in known and str(b) in known]
    stages = list(SCHEMA["items"].column("stage").choices or ())
    cache[coalition] = out = to_jsonable({"coalition": coalition, "stages": stages, "nodes": nodes,
                                          "edges": edges})
    return out


def parse_closure(ctx: ServiceContext, closed: str | None) -> list[str]:
    """The chokepoint ids of ``closed`` (ids or presets, comma-separated), each checked against the
    atlas (NotFoundError naming the field ``closed``).

    Examples
    --------
    >>> parse_closure(ServiceContext(), "red_sea")
    ['bab_el_mandeb', 'suez']
    """
    from ..logistics.lanes import parse_closed

    ids = sorted(parse_closed(closed))
    known = set(ctx.atlas()["chokepoints"]["chokepoint"].astype(str))
    for c in ids:
        if c not in known:
            raise NotFoundError(f"no chokepoint '{c}'; chokepoints: {', '.join(sorted(known))}", column="closed")
    return ids


LANE_TOLERANCE = 0.3
"""How far (map units, about a third of a pixel on a 1,100-pixel map) a drawn lane may depart from
its route: below a pixel, the simplification is invisible and cuts a route's points by two thirds."""


def _tenths(n: int) -> str:
    """An integer number of tenths as the shortest decimal: 64 → '6.4', -5 → '-0.5', 5000 → '500'."""
    a = abs(n)
    return ("-" if n < 0 else "") + str(a // 10) + (f".{a % 10}" if a % 10 else "")


def _project_line(coords: Iterable[Iterable[float]]) -> str:
    """An SVG path of a lon/lat line in the maps' Equal Earth pixels: simplified within
    :data:`LANE_TOLERANCE` (Douglas-Peucker, shapely), to 0.1 px, repeated points dropped, each
    point relative to the one before (``l``: the answer is a third of its absolute size), the pen
    lifted where a route crosses the antimeridian.

    Examples
    --------
    >>> _project_line([(0, 0), (0, 0), (90, 0), (180, 0)])
    'M0,0l500,0'
    >>> _project_line([(179, 0), (-179, 0)]).count("M")
    2
    """
    import shapely

    from ..report import geo

    a = np.asarray(list(coords), dtype=float).reshape(-1, 2)
    if not len(a):
        return ""
    # the briefing's projection (paxsilica.report.geo.equal_earth), vectorised over the points
    lam = np.radians(a[:, 0])
    theta = np.arcsin(geo._M * np.sin(np.radians(a[:, 1])))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = lam * np.cos(theta) / (geo._M * (geo._A1 + 3 * geo._A2 * t2 + t6 * (7 * geo._A3 + 9 * geo._A4 * t2)))
    y = theta * (geo._A1 + geo._A2 * t2 + t6 * (geo._A3 + geo._A4 * t2))
    xy = np.column_stack([x * geo.SCALE, -y * geo.SCALE])
    cuts = np.flatnonzero(np.abs(np.diff(xy[:, 0])) > 500) + 1
    out = []
    for run in np.split(xy, cuts):
        if len(run) > 2:
            run = shapely.get_coordinates(shapely.simplify(shapely.linestrings(run), LANE_TOLERANCE))
        q = np.round(run * 10).astype(np.int64)  # tenths: the deltas below are exact, nothing drifts
        keep = np.ones(len(q), dtype=bool)
        keep[1:] = np.any(np.diff(q, axis=0) != 0, axis=1)
        q = q[keep]
        d = np.diff(q, axis=0)
        out.append(f"M{_tenths(q[0, 0])},{_tenths(q[0, 1])}"
                   + ("l" + " ".join(f"{_tenths(u)},{_tenths(v)}" for u, v in d) if len(d) else ""))
    return "".join(out)


def chokepoints_view(ctx: ServiceContext, closed: str | None = None) -> dict[str, Any]:
    """Lanes and chokepoints for a map, each chokepoint's exposure (largest item share through it),
    and, with ``closed``, every lane's status under the closure (open, rerouted or cut, with the
    added days) and the closure's impact per item. Lanes are drawn simplified
    (:data:`LANE_TOLERANCE`) in relative SVG commands; ``added_days`` and ``d_before`` (a cut
    lane's baseline route) are given only where they have a value.

    Routing every lane takes seconds on the bundled atlas (tests/test_dashboard_api.py checks
    the statuses); the answer is cached per atlas version and closure.
    """
    from ..report.geo import equal_earth
    from .lanes import exposure_table, geojson_collection

    ids = parse_closure(ctx, closed)
    cache = ctx.cache("views.chokepoints")
    key = ",".join(ids)
    if key in cache:
        return cache[key]
    atlas = ctx.atlas()
    base = exposure_table(atlas, None, None)
    # the whole network's lanes, at baseline and under the closure (same lanes, same order)
    before = geojson_collection(atlas, None)
    after = geojson_collection(atlas, key) if ids else before
    lanes = []
    a_lanes = [f for f in after["features"] if f["properties"].get("kind") == "lane"]
    b_lanes = [f for f in before["features"] if f["properties"].get("kind") == "lane"]
    for fb, fa in zip(b_lanes, a_lanes, strict=True):
        pb, pa = fb["properties"], fa["properties"]
        status = str(pa.get("status") or "open") if ids else "open"
        coords = (fa.get("geometry") or {}).get("coordinates") or []
        added = None
        if ids and pa.get("days") is not None and pb.get("days") is not None:
            added = _r(float(pa["days"]) - float(pb["days"]))
        lane = {"exporter": pb.get("exporter"), "importer": pb.get("importer"),
                "chokepoints": pb.get("chokepoints"),
                "days": None if pb.get("days") is None else _r(float(pb["days"])),
                "status": status if status in ("open", "rerouted", "cut") else "open",
                "d": _project_line(coords) if coords else ""}
        # keys without a value are left out: four thousand lanes, most of them open
        if added is not None:
            lane["added_days"] = added
        if status == "cut" and fb.get("geometry"):
            # a cut lane has no route left: the dashboard draws its old route, dashed
            lane["d_before"] = _project_line(fb["geometry"]["coordinates"])
        lanes.append(lane)
    cps = []
    top = base.sort_values("share", ascending=False).groupby("chokepoint").head(3) if len(base) else base
    for _, c in atlas["chokepoints"].iterrows():
        cid = str(c["chokepoint"])
        x, y = equal_earth(float(c["lon"]), float(c["lat"]))
        mine = top[top["chokepoint"] == cid] if len(top) else top
        cps.append({"id": cid, "name": c["name"], "type": c["type"], "x": _r(x), "y": _r(y),
                    "closed": cid in ids, "max_share": float(mine["share"].max()) if len(mine) else 0.0,
                    "top_items": records(mine[["item", "name", "share"]]) if len(mine) else []})
    impact = records(exposure_table(atlas, None, key)) if ids else []
    n = {s: sum(1 for x in lanes if x["status"] == s) for s in ("open", "rerouted", "cut")}
    out = to_jsonable({"closed": ids, "chokepoints": cps, "lanes": lanes, "counts": n, "impact": impact})
    cache[key] = out
    return out


def backtests_view(ctx: ServiceContext, bands: int = 0, target: str = DEFAULT_TARGET) -> dict[str, Any]:
    """Model against observed for the reference events (each built-in scenario with an
    ``observed:`` or ``expected:`` block), computed once per atlas version.

    ``bands=0`` (the default here) gives the central model value only, which keeps the page
    quick; ``paxsilica backtest`` gives the bands.
    """
    from .stress import BacktestRequest, backtest

    cache = ctx.cache("views.backtests")
    key = (bands, target)
    if key not in cache:
        res = backtest(BacktestRequest(bands=bands, target=target), ctx)
        rec = res.to_record()
        rec["checks"], rec["checks_in"] = len(rec["rows"]), res.checks_in
        cache[key] = to_jsonable(rec)
    return cache[key]


def run_series(run: Any, top: int = 5) -> dict[str, Any]:
    """The chart data of a stress run (:class:`paxsilica.stress.StressResult`): the target's level
    per day and the ``top`` items with the lowest minimum level, the run's headline bands, and
    the lowest level of the sites in each producing country (``site_min_level``, affected only).

    Levels are output over baseline (1 = normal). ``bands`` is the 5th–95th percentile of each
    headline measure over the parameter draws (``None`` for a run without bands).
    """
    s = run.series
    tgt = s[s["kind"] == "target"].sort_values("step")
    days = [float(d) for d in tgt["day"]]
    lines = [{"name": str(tgt["name"].iloc[0]) if len(tgt) else "target", "kind": "target",
              "level": [None if pd.isna(x) else float(x) for x in tgt["level"]]}]
    items_ = s[s["kind"] == "item"]
    if len(items_):
        worst = items_.groupby("name")["level"].min().sort_values().head(top)
        for name in worst.index:
            one = items_[items_["name"] == name].sort_values("step")
            lv = dict(zip(one["day"].astype(float), one["level"], strict=True))
            lines.append({"name": str(name), "kind": "item",
                          "level": [None if pd.isna(lv.get(d)) else float(lv[d]) for d in days]})
    # affected sites: the lowest output level of each country's sites (firm sites, named by firm,
    # are left out of the map); 1 = never below normal
    sites = s[s["kind"] == "site"]
    by_country: dict[str, float] = {}
    if len(sites):
        low = sites.groupby("name")["level"].min()
        for name, lv in low.items():
            producer = str(name).rsplit("@", 1)[-1]
            if len(producer) == 3 and producer.isupper() and not pd.isna(lv) and lv < 1 - 1e-9:
                by_country[producer] = min(by_country.get(producer, 1.0), float(lv))
    return to_jsonable({"day": days, "series": lines, "bands": run.summary.get("bands"),
                        "site_min_level": by_country})


def level_band(days: list[float], bands: dict[str, Any] | None) -> dict[str, list[float | None]] | None:
    """The target level's per-step band (``bands["level_by_step"]`` of a stress run with draws) on the
    chart's days: the chart's first day is the setup step, at normal level in every draw (1, 1).

    Examples
    --------
    >>> level_band([-1.0, 0.0, 1.0], {"level_by_step": {"low": [0.9, 0.8], "high": [1.0, 0.95]}})
    {'low': [1.0, 0.9, 0.8], 'high': [1.0, 1.0, 0.95]}
    >>> level_band([-1.0, 0.0], {"loss_pct": [1, 2]}) is None
    True
    """
    per = (bands or {}).get("level_by_step")
    if not per or not per.get("low"):
        return None
    lo, hi = list(per["low"]), list(per["high"])
    pad = len(days) - len(lo)
    if pad < 0 or pad > 1:  # not this chart's steps: show no band rather than a shifted one
        return None
    return {"low": [1.0] * pad + [float(x) for x in lo], "high": [1.0] * pad + [float(x) for x in hi]}


WORLD = "WORLD"
"""The consumer of a Monte Carlo run's world total (:mod:`paxsilica.montecarlo`)."""


def montecarlo_view(folder: Any, stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """A finished Monte Carlo run for its page, read from its run folder (the output contract,
    :func:`paxsilica.montecarlo.load_run`), never recomputed: per target the loss exceedance curve of
    the world total (:func:`paxsilica.montecarlo.risk.exceedance_curve` of the stored draws, the
    function the run's own report uses), the risk measures with standard errors and warnings, the
    Euler contributions of event kinds, hazards and chokepoints to ES, and the consumers with the
    largest expected loss.

    ``stored`` (the run's result JSON) is used for what the folder lacks (``atlas_version``).

    Examples
    --------
    >>> import tempfile
    >>> from paxsilica.montecarlo import load_catalogue, run_montecarlo, save_run
    >>> from paxsilica.services import ServiceContext
    >>> ctx = ServiceContext()
    >>> d = tempfile.mkdtemp()
    >>> _ = save_run(run_montecarlo(ctx.atlas(), load_catalogue(), draws=4, horizon_days=30), d, force=True)
    >>> v = montecarlo_view(d)
    >>> v["draws"], [t["target"] for t in v["targets"]], v["targets"][0]["curve"]["p_exceed"][-1]
    (4, ['ai_datacenter_capacity'], 0.0)
    """
    from ..montecarlo import load_run
    from ..montecarlo.risk import exceedance_curve

    run = load_run(folder)
    meta = dict(run.meta)
    out_t = []
    for t in meta.get("targets", []):
        los = run.losses[(run.losses["target"] == t) & (run.losses["consumer"] == WORLD)]
        curve = exceedance_curve(los["loss"].to_numpy(float))
        sm = run.summary[run.summary["target"] == t]
        world = sm[sm["consumer"] == WORLD]
        cons = sm[(sm["consumer"] != WORLD) & (sm["measure"] == "expected_loss") & (sm["value"] > 0)]
        cons = cons.sort_values(["value", "consumer"], ascending=[False, True]).head(15)
        co = run.contributions
        co = co[(co["target"] == t) & (co["es_contribution"] > 0)] if len(co) else co
        contrib: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for lvl in meta.get("levels", []):
            for by in ("kind", "hazard", "chokepoint"):
                rows = co[(co["level"] == lvl) & (co["by"] == by)] if len(co) else co
                rows = rows.sort_values(["es_contribution", "name"], ascending=[False, True]) if len(rows) else rows
                contrib.setdefault(f"{float(lvl):g}", {})[by] = records(rows[["name", "es_contribution", "share"]]) \
                    if len(rows) else []
        out_t.append({"target": t, "curve": {"loss": curve["loss"].tolist(), "p_exceed": curve["p_exceed"].tolist()},
                      "risk": records(world[["measure", "level", "value", "se", "tail_draws", "warning"]]),
                      "consumers": records(cons[["consumer", "value", "se"]]), "contributions": contrib})
    if not meta.get("atlas_version") and stored:
        meta["atlas_version"] = stored.get("atlas_version")
    keep = ("seed", "draws", "draws_requested", "horizon_days", "catalogue", "atlas_version", "levels",
            "thresholds", "complete", "created", "warnings", "notes", "events_per_draw", "draws_without_events",
            "paxsilica_version")
    return to_jsonable({**{k: meta.get(k) for k in keep}, "targets": out_t})


PLAN_MAIN = {"sourcing": ("mix", "items"), "stockpile": ("stock", "check"), "partners": ("partners",),
             "worst-case": ("worst", "robust_extra", "robust_worst")}
"""Each plan model's tables that say what to do, shown first (the rest explain it)."""

PLAN_KEYS = ("item", "producer", "country", "consumer", "scenario", "k", "attacks", "block", "label", "parameter")
"""Columns that say what a plan table's row is about, shown first."""

EXPLAIN_TABLES = ("binding", "sensitivity", "robust_iterations")
"""The planning module's explanation: binding constraints, sensitivities, the robust loop."""


def plan_view(stored: dict[str, Any]) -> dict[str, Any]:
    """A finished plan (the stored ``PlanResult.to_record()``, :mod:`paxsilica.services.planning`) for
    its page, never re-solved: the headline numbers, the risk before and after (``summary["before"]``
    and ``["after"]`` side by side; for a robust worst case its worst loss before and after), the
    tables that say what to do, then the explanation (binding constraints, sensitivities) and notes.

    Examples
    --------
    >>> v = plan_view({"kind": "stockpile", "summary": {"cost": 2.5, "before": {"cvar": 0.5},
    ...                "after": {"cvar": 0.25}}, "tables": {"stock": [{"item": "x", "days": 30}],
    ...                "binding": []}, "notes": ["n"]})
    >>> v["risk"], [t["name"] for t in v["plan_tables"]], v["headline"]
    ([{'measure': 'cvar', 'before': 0.5, 'after': 0.25, 'change': -0.25}], ['stock'], {'cost': 2.5})
    """
    kind = str(stored.get("kind", ""))
    summary = dict(stored.get("summary") or {})
    before, after = summary.pop("before", None), summary.pop("after", None)
    robust = summary.pop("robust", None)
    risk = []
    if isinstance(before, dict) and isinstance(after, dict):
        for m in dict.fromkeys([*before, *after]):
            b, a = before.get(m), after.get(m)
            ch = a - b if isinstance(a, int | float) and isinstance(b, int | float) else None
            risk.append({"measure": m, "before": b, "after": a, "change": ch})
    elif isinstance(robust, dict):
        b, a = robust.get("worst_before"), robust.get("worst_after")
        risk.append({"measure": f"worst loss under {robust.get('k')} attacks", "before": b, "after": a,
                     "change": a - b if isinstance(a, int | float) and isinstance(b, int | float) else None})
    headline = {k: v for k, v in summary.items() if not isinstance(v, dict | list)}
    tables = stored.get("tables") or {}

    def tab(name: str) -> dict[str, Any]:
        rows = tables.get(name) or []
        cols = list(rows[0]) if rows else []
        # what a row is about first (the stored JSON may have its keys sorted), then its numbers
        lead = [c for c in PLAN_KEYS if c in cols]
        return {"name": name, "columns": lead + [c for c in cols if c not in lead], "rows": rows}

    main = [tab(n) for n in PLAN_MAIN.get(kind, ()) if n in tables]
    explain = [tab(n) for n in EXPLAIN_TABLES if n in tables]
    shown = {t["name"] for t in main + explain}
    other = [tab(n) for n in tables if n not in shown]
    return to_jsonable({"kind": kind, "headline": headline, "risk": risk, "robust": robust,
                        "plan_tables": main, "explain_tables": explain, "other_tables": other,
                        "notes": list(stored.get("notes") or []), "parameters": stored.get("parameters"),
                        "scenarios": stored.get("scenarios"), "atlas_version": stored.get("atlas_version")})


def run_lanes(ctx: ServiceContext, scenario: Any) -> dict[str, Any]:
    """The sea lanes a stress scenario's shocks touch, for the run's map (the lanes of
    :func:`chokepoints_view`, from :mod:`paxsilica.services.lanes`): under its chokepoint closures
    the rerouted and cut lanes (a closure with ``mode: cut`` cuts every lane through it), and the
    lanes out of a banned exporter or into and out of a blockaded country (``blocked``).

    Examples
    --------
    >>> from paxsilica.scenarios.registry import load_scenario
    >>> v = run_lanes(ServiceContext(), load_scenario("hormuz_closure"))
    >>> v["closed"], v["counts"]["cut"] + v["counts"]["rerouted"] > 0
    (['hormuz'], True)
    """
    closures = [s for s in scenario.shocks if s.type == "chokepoint_closure"]
    closed = sorted({str(s.chokepoint) for s in closures})
    cut_mode = {str(s.chokepoint) for s in closures if getattr(s, "mode", "reroute") == "cut"}
    blockaded = {str(s.country) for s in scenario.shocks if s.type == "blockade"}
    banned = {str(s.exporter) for s in scenario.shocks if s.type == "export_ban"}
    if not (closed or blockaded or banned):  # touches no lane: no routing needed
        return {"closed": [], "lanes": [], "counts": {"rerouted": 0, "cut": 0, "blocked": 0}, "chokepoints": []}
    v = chokepoints_view(ctx, ",".join(closed) or None)
    lanes = []
    for lane in v["lanes"]:
        status = lane["status"]
        through = set(str(lane.get("chokepoints") or "").split(";"))
        if status != "open" and through & cut_mode:
            status = "cut"
        if status == "open" and (lane["exporter"] in blockaded | banned or lane["importer"] in blockaded):
            status = "blocked"
        if status == "open":
            continue
        # a cut lane is drawn on its baseline route (cut by mode: its route is still its baseline's)
        d = lane.get("d_before") or lane["d"]
        lanes.append({"exporter": lane["exporter"], "importer": lane["importer"], "status": status,
                      "added_days": lane.get("added_days"), "d": d})
    counts = {s: sum(1 for x in lanes if x["status"] == s) for s in ("rerouted", "cut", "blocked")}
    return {"closed": closed, "lanes": lanes, "counts": counts,
            "chokepoints": [c for c in v["chokepoints"] if c["closed"]]}
