"""Logistics: sea lanes, chokepoints passed, closures, cache, exposure, GeoJSON, CLI.

Reference distances (docs/logistics.md): Ras Laffan -> Rotterdam about 6,400 nm via Suez and about
11,200 nm round the Cape of Good Hope (issue 4); tolerance +-5 %.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from paxsilica.atlas import Atlas, write_atlas
from paxsilica.errors import InputError
from paxsilica.importers.chokepoints import read_chokepoints
from paxsilica.logistics import (
    AIR_DAYS,
    chokepoint_exposure,
    chokepoint_ranking,
    closure_impact,
    lane_table,
    lanes,
    lanes_geojson,
    network_pairs,
    parse_closed,
    sea_network,
    transport_modes,
)
from paxsilica.logistics import network as netmod
from paxsilica.logistics.cache import clear_memory
from tests.conftest import require_shared

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CHOKEPOINTS_CSV = SHARED / "chokepoints-handcompiled" / "maritime_chokepoints.csv"

# Main ports, positions from the NGA World Port Index (Pub. 150).
PORTS = pd.DataFrame(
    [
        ("wpi48297", "Ras Laffan", "QAT", 25.91667, 51.58333),
        ("wpi31140", "Rotterdam", "NLD", 51.9, 4.48333),
        ("wpi57920", "Kao-Hsiung", "TWN", 22.61667, 120.25),
        ("wpi59970", "Shanghai", "CHN", 31.21667, 121.5),
        ("wpi16080", "Los Angeles", "USA", 33.75, -118.25),
        ("wpi54620", "Port Hedland", "AUS", -20.31667, 118.58333),
        ("wpi60390", "Busan", "KOR", 35.1, 129.03333),
        ("wpi61390", "Yokohama Ko", "JPN", 35.45, 139.58333),
        ("wpi48340", "Ras  Tannurah", "SAU", 26.63333, 50.16667),
        ("wpi48140", "Jiddah", "SAU", 21.48333, 39.18333),
    ],
    columns=["port", "name", "iso3", "lat", "lon"],
).assign(rank=[1] * 9 + [2], source="nga_wpi")

RAS_LAFFAN_ROTTERDAM_NM = 6400.0
VIA_CAPE_NM = 11200.0
TOL = 0.05


def _chokepoints() -> pd.DataFrame:
    return read_chokepoints(require_shared(CHOKEPOINTS_CSV))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    clear_memory()
    return tmp_path_factory.mktemp("lanes-cache")


@pytest.fixture(scope="module")
def atlas() -> Atlas:
    """Ports and chokepoints, plus a helium -> chip -> data-centre chain known by hand:
    helium QAT 100 % (sea), ore CHN 60 % / AUS 40 % (sea), chip TWN 100 % (air), dc USA 100 %."""
    first = PORTS.drop_duplicates("iso3")
    countries = pd.DataFrame({"iso3": first["iso3"], "name": first["name"],
                              "lat": first["lat"], "lon": first["lon"]})
    items = pd.DataFrame({
        "item": ["helium", "ore", "chip", "dc"], "name": ["Helium", "Ore", "Chip", "Data centre"],
        "stage": ["raw_material", "raw_material", "fabrication", "infrastructure"],
        "unit": ["t", "t", "units", "MW"]})
    production = pd.DataFrame({
        "item": ["helium", "ore", "ore", "chip", "dc"], "producer": ["QAT", "CHN", "AUS", "TWN", "USA"],
        "producer_type": ["country"] * 5, "year": [2024] * 5, "share": [100.0, 60.0, 40.0, 100.0, 100.0],
        "source": ["test"] * 5})
    recipes = pd.DataFrame({
        "item": ["chip", "chip", "dc"], "input": ["helium", "ore", "chip"], "dependent_share": [1.0, 0.5, 1.0],
        "rationale": ["r"] * 3, "source": ["test"] * 3})
    sources = pd.DataFrame({"source": ["test", "nga_wpi", "chokepoints_handcompiled"],
                            "publisher": ["tests", "NGA", "hand-compiled"], "title": ["hand-made"] * 3,
                            "year": [2026] * 3, "licence": ["CC0"] * 3})
    groups = pd.DataFrame({"group": ["club"], "iso3": ["USA"], "source": ["test"]})
    return Atlas.from_frames({"ports": PORTS, "chokepoints": _chokepoints(), "countries": countries,
                              "items": items, "production": production, "recipes": recipes,
                              "sources": sources, "groups": groups})


def lane(atlas: Atlas, e: str, i: str, closed=(), cache: Path | bool = False, **kw) -> pd.Series:
    return lane_table(atlas, [(e, i)], closed, cache=cache, **kw).iloc[0]


# --- pinned routes (issue 4) -------------------------------------------------------------------

def test_ras_laffan_rotterdam_via_suez(atlas: Atlas, cache_dir: Path) -> None:
    r = lane(atlas, "QAT", "NLD", cache=cache_dir)
    assert r.origin_port == "wpi48297" and r.destination_port == "wpi31140"
    assert r.distance_nm == pytest.approx(RAS_LAFFAN_ROTTERDAM_NM, rel=TOL)
    cps = r.chokepoints.split(";")
    expected = ["hormuz", "bab_el_mandeb", "suez", "gibraltar"]
    assert [c for c in cps if c in expected] == expected  # all four, in the order sailed
    assert not r.cut and r.status == "ok"
    assert r.days == pytest.approx(r.distance_nm / (14 * 24) + 2.0)


def test_suez_closed_goes_round_the_cape(atlas: Atlas, cache_dir: Path) -> None:
    r = lane(atlas, "QAT", "NLD", {"suez"}, cache=cache_dir)
    assert r.distance_nm == pytest.approx(VIA_CAPE_NM, rel=TOL)
    cps = r.chokepoints.split(";")
    assert "good_hope" in cps and "suez" not in cps and "hormuz" in cps
    assert r.rerouted and r.status == "rerouted"
    assert r.added_days == pytest.approx((r.distance_nm - r.base_distance_nm) / (14 * 24))
    # red-sea preset closes Bab-el-Mandeb too: same Cape route
    r2 = lane(atlas, "QAT", "NLD", "red_sea", cache=cache_dir)
    assert r2.distance_nm == pytest.approx(r.distance_nm)


def test_hormuz_closed_cuts_the_lane(atlas: Atlas, cache_dir: Path) -> None:
    r = lane(atlas, "QAT", "NLD", {"hormuz"}, cache=cache_dir)
    assert r.cut and r.status == "cut"
    assert math.isnan(r.distance_nm) and math.isnan(r.days)  # never a distance of 0
    assert r.base_distance_nm > 6000


def test_alternate_ports_when_the_main_port_is_cut(atlas: Atlas, cache_dir: Path) -> None:
    cut = lane(atlas, "SAU", "NLD", {"hormuz"}, cache=cache_dir)
    assert cut.cut and cut.origin_port == "wpi48340"
    alt = lane(atlas, "SAU", "NLD", {"hormuz"}, cache=cache_dir, alternate_ports=True)
    assert not alt.cut and alt.status == "rerouted_alternate_port"
    assert alt.origin_port == "wpi48140"  # Jiddah, on the Red Sea
    assert "hormuz" not in alt.chokepoints.split(";") and "suez" in alt.chokepoints.split(";")
    assert alt.added_days < 0  # Jiddah is nearer Rotterdam than Ras Tanura
    # Qatar has no port outside the Gulf: still cut
    assert lane(atlas, "QAT", "NLD", {"hormuz"}, cache=cache_dir, alternate_ports=True).cut


def test_taiwan_strait_closed_by_geometry(atlas: Atlas, cache_dir: Path) -> None:
    base = lane(atlas, "TWN", "CHN", cache=cache_dir)
    assert "taiwan_strait" in base.chokepoints.split(";")
    r = lane(atlas, "TWN", "CHN", {"taiwan_strait"}, cache=cache_dir)
    assert not r.cut and r.rerouted and r.distance_nm > base.distance_nm
    assert "taiwan_strait" not in r.chokepoints.split(";")


def test_port_on_a_closed_strait_is_not_cut(atlas: Atlas, cache_dir: Path) -> None:
    # Busan lies within the Korea Strait's closure radius; it still reaches the Sea of Japan
    base = lane(atlas, "KOR", "JPN", cache=cache_dir)
    r = lane(atlas, "KOR", "JPN", {"korea_strait"}, cache=cache_dir)
    assert "korea_strait" in base.chokepoints.split(";")
    assert not r.cut and r.distance_nm > base.distance_nm
    assert "korea_strait" not in r.chokepoints.split(";")


def test_closure_does_not_touch_searoute_graph(atlas: Atlas, cache_dir: Path) -> None:
    import searoute

    g = searoute.setup_M()
    n_edges, restrictions = g.number_of_edges(), list(g.restrictions)
    lane(atlas, "TWN", "KOR", {"taiwan_strait", "hormuz"}, cache=False)
    assert g.number_of_edges() == n_edges and list(g.restrictions) == restrictions
    f = searoute.searoute([51.58333, 25.91667], [4.48333, 51.9], units="naut")
    assert f.properties["length"] == pytest.approx(RAS_LAFFAN_ROTTERDAM_NM, rel=TOL)


def test_unknown_chokepoint_is_an_input_error(atlas: Atlas) -> None:
    with pytest.raises(InputError, match="unknown chokepoint 'atlantis'"):
        lane_table(atlas, [("QAT", "NLD")], {"atlantis"}, cache=False)


def test_passage_and_proximity_matching() -> None:
    net = sea_network(_chokepoints())
    assert net.how["hormuz"] == "passage" and net.how["good_hope"] == "passage"
    assert net.how["taiwan_strait"].startswith("proximity")
    assert all(net.edges_of[c] for c in ("hormuz", "suez", "taiwan_strait", "malacca", "panama"))


# --- modes, pairs ------------------------------------------------------------------------------

def test_modes_and_non_sea_lanes(atlas: Atlas) -> None:
    assert transport_modes(atlas) == {"helium": "sea", "ore": "sea", "chip": "air", "dc": "local"}
    t = lane_table(atlas, [("chip", "TWN", "USA"), ("dc", "USA", "USA")], "taiwan_strait", mode=None, cache=False)
    assert t["mode"].tolist() == ["air", "local"]
    assert t["days"].tolist() == [AIR_DAYS, 0.0]
    assert not t["cut"].any() and t["chokepoints"].eq("").all()
    land = lane(atlas, "CHN", "KOR", mode="land")
    assert land.status == "land" and land.days > 0 and math.isnan(land.distance_nm)


def test_country_without_port_ships_from_nearest_port(atlas: Atlas) -> None:
    countries = pd.concat([atlas["countries"], pd.DataFrame(
        {"iso3": ["MNG"], "name": ["Mongolia"], "lat": [46.8], "lon": [103.0]})])
    a = atlas.replace(countries=countries)
    r = lane(a, "MNG", "JPN")
    assert r.origin_port == "wpi59970"  # Shanghai is the nearest port in this atlas
    overland = lane(a, "MNG", "CHN")  # both would ship from Shanghai: overland instead
    assert overland["mode"] == "land" and overland.status == "land" and overland.days > 0
    assert math.isnan(overland.distance_nm) and not overland.cut
    no_coords = lane(atlas, "ZZZ", "JPN")
    assert no_coords.status == "no_port" and not no_coords.cut


def test_network_pairs_by_hand(atlas: Atlas) -> None:
    p = network_pairs(atlas).set_index(["item", "exporter", "importer"])["weight"]
    assert p[("ore", "CHN", "TWN")] == pytest.approx(0.6)
    assert p[("ore", "AUS", "TWN")] == pytest.approx(0.4)
    assert p[("helium", "QAT", "TWN")] == pytest.approx(1.0)
    assert p[("chip", "TWN", "USA")] == pytest.approx(1.0)
    assert p[("dc", "USA", "USA")] == pytest.approx(1.0)


def test_rest_of_world_supply_has_no_lane(atlas: Atlas, cache_dir: Path) -> None:
    prod = pd.DataFrame({"item": ["helium", "helium"], "producer": ["QAT", "ROW"],
                         "producer_type": ["country", "rest_of_world"], "year": [2024, 2024],
                         "share": [40.0, 60.0], "source": ["test", "test"]})
    a = atlas.replace(production=pd.concat([atlas["production"][atlas["production"]["item"] != "helium"], prod]))
    p = network_pairs(a)
    assert p.loc[p["item"] == "helium", "weight"].sum() == pytest.approx(0.4)
    ex = chokepoint_exposure(a, cache=cache_dir)
    share = ex[(ex["chokepoint"] == "hormuz") & (ex["item"] == "helium")]["share"].iloc[0]
    assert share == pytest.approx(0.4)  # of world supply, not of the located part


def test_parse_closed_presets() -> None:
    assert parse_closed("Red-Sea, hormuz") == {"suez", "bab_el_mandeb", "hormuz"}
    assert parse_closed(["taiwan_strait"]) == {"taiwan_strait"}
    assert parse_closed("") == frozenset()


# --- cache ---------------------------------------------------------------------------------------

def test_second_run_uses_disk_cache(atlas: Atlas, tmp_path: Path, monkeypatch) -> None:
    clear_memory()
    first = lane_table(atlas, [("QAT", "NLD"), ("AUS", "JPN")], {"suez"}, cache=tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files and all(f.startswith("routes-") and f.endswith(".json") for f in files)  # no temp files left
    clear_memory()  # a new process: only the files remain

    def boom(*a, **k):
        raise AssertionError("route recomputed despite the cache")

    monkeypatch.setattr(netmod.SeaNetwork, "routes_many", boom)
    second = lane_table(atlas, [("QAT", "NLD"), ("AUS", "JPN")], {"suez"}, cache=tmp_path)
    pd.testing.assert_frame_equal(first, second)
    # another speed reuses the routes: days are derived at read time
    slow = lane_table(atlas, [("QAT", "NLD")], {"suez"}, cache=tmp_path, speed_knots=10)
    assert slow.loc[0, "days"] > first.loc[0, "days"]


def test_damaged_cache_file_is_recomputed(atlas: Atlas, tmp_path: Path) -> None:
    clear_memory()
    lane_table(atlas, [("CHN", "KOR")], cache=tmp_path)
    for f in tmp_path.iterdir():
        f.write_text("{not json", encoding="utf-8")
    clear_memory()
    r = lane_table(atlas, [("CHN", "KOR")], cache=tmp_path).iloc[0]
    assert r.distance_nm > 0 and not r.cut


def test_env_var_sets_cache_dir(monkeypatch, tmp_path: Path) -> None:
    from paxsilica.logistics import cache_dir as default_dir

    monkeypatch.setenv("PAXSILICA_CACHE_DIR", str(tmp_path))
    assert default_dir() == tmp_path / "lanes"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(closed=st.sets(st.sampled_from(["hormuz", "suez", "bab_el_mandeb", "malacca", "taiwan_strait",
                                       "panama", "good_hope", "luzon", "korea_strait"]), max_size=3))
def test_closing_never_shortens_a_lane(atlas: Atlas, cache_dir: Path, closed: set[str]) -> None:
    pairs = [("QAT", "NLD"), ("TWN", "USA"), ("AUS", "CHN"), ("CHN", "NLD")]
    t = lane_table(atlas, pairs, closed, cache=cache_dir)
    ok = ~t["cut"]
    assert (t.loc[ok, "distance_nm"] >= t.loc[ok, "base_distance_nm"] - 1e-6).all()
    assert (t.loc[ok, "distance_nm"] > 0).all()
    assert t.loc[t["cut"], "distance_nm"].isna().all()
    for cps in t.loc[ok, "chokepoints"]:
        assert not set(cps.split(";")) & closed


# --- exposure and ranking ----------------------------------------------------------------------

def test_exposure_by_hand(atlas: Atlas, cache_dir: Path) -> None:
    ex = chokepoint_exposure(atlas, cache=cache_dir)
    hz = ex[ex["chokepoint"] == "hormuz"].set_index("item")["share"]
    assert hz["helium"] == pytest.approx(1.0)  # all helium leaves Qatar through Hormuz
    assert "chip" not in set(ex["item"])  # air freight passes no strait
    ts = ex[(ex["chokepoint"] == "taiwan_strait") & (ex["item"] == "ore")]["share"]
    assert ts.iloc[0] >= 0.6 - 1e-9  # the CHN -> TWN ore (60 %) crosses the strait
    imp = chokepoint_exposure(atlas, importer="TWN", cache=cache_dir)
    assert set(imp["scope"]) == {"TWN"}


def test_closure_impact_by_hand(atlas: Atlas, cache_dir: Path) -> None:
    imp = closure_impact(atlas, "hormuz", cache=cache_dir).set_index("item")
    assert imp.loc["helium", "share_cut"] == pytest.approx(1.0)
    assert imp.loc["helium", "availability"] == pytest.approx(0.0)
    assert imp.loc["ore", "share_cut"] == pytest.approx(0.0)
    suez = closure_impact(atlas, "suez", cache=cache_dir).set_index("item")
    assert suez["share_cut"].max() == pytest.approx(0.0)


def test_ranking_uses_bottleneck_propagation(atlas: Atlas, cache_dir: Path) -> None:
    rk = chokepoint_ranking(atlas, "dc", chokepoints=["hormuz", "suez", "taiwan_strait"], cache=cache_dir)
    top = rk.iloc[0]
    assert top["closure"] == "hormuz"
    assert top["loss"] == pytest.approx(1.0)  # helium cut, chips need it entirely, dc needs chips
    assert rk.set_index("closure").loc["suez", "loss"] == pytest.approx(0.0)


# --- GeoJSON and CLI ---------------------------------------------------------------------------

def test_geojson_lines_and_points(atlas: Atlas, cache_dir: Path) -> None:
    lt = lane_table(atlas, [("QAT", "NLD"), ("QAT", "JPN")], "hormuz", cache=cache_dir)
    coll = lanes_geojson(atlas, lt, closed="hormuz", cache=cache_dir)
    json.dumps(coll)  # serializable
    lanes_ = [f for f in coll["features"] if f["properties"]["kind"] == "lane"]
    points = [f for f in coll["features"] if f["properties"]["kind"] == "chokepoint"]
    assert len(lanes_) == 2 and all(f["geometry"] is None for f in lanes_)  # both cut
    assert len(points) == len(atlas["chokepoints"])
    assert next(p for p in points if p["properties"]["id"] == "hormuz")["properties"]["closed"]
    open_ = lanes_geojson(atlas, lt, cache=cache_dir)
    line = next(f for f in open_["features"] if f["properties"]["kind"] == "lane")
    assert line["geometry"]["type"] == "LineString" and len(line["geometry"]["coordinates"]) > 10


def test_cli_lanes(atlas: Atlas, tmp_path: Path, cache_dir: Path, monkeypatch) -> None:
    # the sub-app alone (the lead registers it as `paxsilica lanes`); the atlas comes from the
    # global --atlas option, i.e. the shared CLI state
    from paxsilica.cli import common
    from paxsilica.cli.lanes import app

    monkeypatch.setenv("PAXSILICA_CACHE_DIR", str(cache_dir))
    monkeypatch.setattr(common.STATE, "atlas_path", write_atlas(atlas, tmp_path / "a"))
    runner = CliRunner()
    r = runner.invoke(app, ["show", "--from", "QAT", "--to", "NLD", "--closed", "suez", "--format", "json"])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.output)[0]
    assert rec["status"] == "rerouted" and "Ras Laffan" in rec["origin_port"]
    r = runner.invoke(app, ["show", "--from", "SAU", "--to", "NLD", "--closed", "hormuz", "--alternate-ports",
                            "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.output)[0]["status"] == "rerouted_alternate_port"
    r = runner.invoke(app, ["show", "--from", "QAT,TWN", "--to", "NLD", "--format", "csv"])
    assert r.exit_code == 0 and len(r.output.strip().splitlines()) == 3
    r = runner.invoke(app, ["show", "--from", "QAT", "--to", "NLD", "--closed", "narnia"])
    assert isinstance(r.exception, InputError) and "unknown chokepoint" in str(r.exception)
    r = runner.invoke(app, ["exposure", "--for", "TWN", "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("chokepoint,item")
    r = runner.invoke(app, ["exposure", "--closed", "hormuz", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.output)[0]["item"] == "helium"
    r = runner.invoke(app, ["rank", "--target", "dc", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.output)[0]["closure"] == "hormuz"
    out = tmp_path / "map.geojson"
    r = runner.invoke(app, ["geojson", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["type"] == "FeatureCollection"


def test_bundled_atlas_lanes(tmp_path: Path) -> None:
    from paxsilica.atlas import bundled_atlas

    a = bundled_atlas()
    t = lanes(a, cache=tmp_path)
    assert len(t) and set(t["status"]) <= {"ok", "no_port", "air", "local", "land", "pipeline", "grid", "digital"}
    sea = t[(t["mode"] == "sea") & (t["status"] == "ok")]
    assert (sea["distance_nm"] > 0).all() and not sea["cut"].any()
    r = lane_table(a, [("QAT", "NLD")], {"hormuz"}, cache=tmp_path).iloc[0]
    assert r.cut and r.origin_port == "wpi48297"
