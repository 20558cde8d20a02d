"""The service layer: requests -> results -> records, the serializer's rule, the context's caches,
and the one upstream plan."""

from __future__ import annotations

import json
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paxsilica.atlas import Atlas, bundled_atlas, read_atlas
from paxsilica.errors import InputError, NotFoundError
from paxsilica.metrics import bottlenecks as metric_bottlenecks
from paxsilica.metrics import propagate
from paxsilica.network.plan import upstream_plan
from paxsilica.serialize import dumps, records, to_jsonable
from paxsilica.services import (
    InvalidAtlasError,
    ServiceContext,
    ServiceStore,
    TableResult,
    measures,
)
from paxsilica.services import atlas as atlas_service
from paxsilica.services.briefing import BriefingRequest, briefing, briefing_format, write_briefing
from paxsilica.services.tts import TtsRequest, time_to_survive
from tests.conftest import tiny_frames

# ---- the serializer -----------------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=5))
nested = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=10)


def _expected(v: object) -> object:
    """The rule, written out by hand for one scalar."""
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "unlimited" if v > 0 else "-unlimited"
    return v


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_float_rule(x: float) -> None:
    assert to_jsonable(x) == _expected(x)
    assert to_jsonable(np.float64(x)) == _expected(x)
    assert type(to_jsonable(np.float64(x))) in (float, str, type(None))


@given(nested)
def test_any_nesting_is_valid_json(obj: object) -> None:
    text = dumps(obj)  # allow_nan=False: raises on anything the rule missed
    back = json.loads(text)
    flat_in = [_expected(v) for v in _leaves(obj)]
    assert _leaves(back) == flat_in


def _leaves(obj: object) -> list:
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _leaves(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _leaves(v)]
    return [obj]


def test_missing_values_of_every_kind_are_null() -> None:
    df = pd.DataFrame({"a": pd.array([1, None], dtype="Int64"), "b": [np.nan, 2.5],
                       "c": pd.array(["x", None], dtype="string"), "d": [pd.NaT, pd.Timestamp("2026-01-02")],
                       "e": [math.inf, -math.inf]})
    assert records(df) == [{"a": 1, "b": None, "c": "x", "d": None, "e": "unlimited"},
                           {"a": None, "b": 2.5, "c": None, "d": "2026-01-02T00:00:00", "e": "-unlimited"}]


def test_cli_json_keeps_unlimited(capsys: pytest.CaptureFixture[str]) -> None:
    from paxsilica.cli.common import emit

    emit(pd.DataFrame({"item": ["ore", "chip"], "tts_days": [math.inf, 12.5], "note": [None, "x"]}), "json")
    assert json.loads(capsys.readouterr().out) == [{"item": "ore", "tts_days": "unlimited", "note": None},
                                                   {"item": "chip", "tts_days": 12.5, "note": "x"}]


# ---- the context ----------------------------------------------------------------------------------

def test_cache_is_scoped_by_org_and_atlas_version() -> None:
    store = ServiceStore()
    base = Atlas.from_frames(tiny_frames())
    same_data = Atlas.from_frames(tiny_frames())
    prod = base["production"].copy()
    prod["share"] = [70.0, 30.0, 100.0, 100.0]
    edited = base.replace(production=prod)
    a = ServiceContext(source=base, org="ministry", store=store)
    a.cache("plans")["k"] = "ministry"
    assert a.cache("plans") == {"k": "ministry"}
    assert ServiceContext(source=same_data, org="ministry", store=store).cache("plans") == {"k": "ministry"}
    assert a.with_org("port").cache("plans") == {}
    assert a.with_org(None).cache("plans") == {}
    assert ServiceContext(source=edited, org="ministry", store=store).cache("plans") == {}
    assert a.cache("other") == {}
    assert ServiceContext(source=base, org="ministry").cache("plans") == {}  # another store shares nothing


def test_atlas_validated_once_per_version() -> None:
    calls: list[str] = []

    def counting(atlas: Atlas) -> list:
        from paxsilica.atlas import validate

        calls.append(atlas.name)
        return validate(atlas)

    store = ServiceStore(validator=counting)
    tiny = Atlas.from_frames(tiny_frames(), name="tiny")
    for _ in range(3):
        ServiceContext(source=tiny, store=store).atlas()
    ServiceContext(source=Atlas.from_frames(tiny_frames(), name="tiny"), store=store).atlas()  # same version
    assert calls == ["tiny"]
    prod = tiny["production"].copy()
    prod.loc[0, "share"] = 160.0  # shares of ore now sum to 200 %
    bad = tiny.replace(production=prod)
    with pytest.raises(InvalidAtlasError) as exc:
        ServiceContext(source=bad, store=store).atlas()
    assert exc.value.problems and all("production" in p.file for p in exc.value.problems)
    assert ServiceContext(source=bad, store=store, validate=False).atlas() is bad
    assert calls == ["tiny", "tiny"]


def test_atlas_from_a_path_is_read_once(tmp_path) -> None:
    from paxsilica.atlas import write_atlas

    write_atlas(Atlas.from_frames(tiny_frames()), tmp_path / "a")
    store = ServiceStore()
    first = ServiceContext(atlas_path=tmp_path / "a", store=store).atlas()
    assert ServiceContext(atlas_path=tmp_path / "a" / ".." / "a", store=store).atlas() is first
    assert first.version == read_atlas(tmp_path / "a").version


# ---- the upstream plan ----------------------------------------------------------------------------

def test_upstream_plan_by_hand() -> None:
    rec = pd.DataFrame({"item": ["dc", "dc", "chip", "chip", "other"],
                        "input": ["chip", "power", "ore", "ore", "ore"],
                        "dependent_share": [1.0, 0.4, 0.5, 0.8, 1.0]})
    p = upstream_plan(rec, "dc")
    assert set(p.items) == {"dc", "chip", "power", "ore"}  # "other" does not feed dc
    assert p.items[0] == "dc"
    assert p.inputs["chip"] == (("ore", 0.8),)  # duplicate rows: the larger share
    assert p.order.index("ore") < p.order.index("chip") < p.order.index("dc")
    assert upstream_plan(rec, "lonely").items == ("lonely",)


@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7), st.floats(0, 1)), max_size=20),
       st.integers(0, 7))
def test_upstream_plan_is_the_ancestors(edges: list[tuple[int, int, float]], target: int) -> None:
    # a DAG: inputs have smaller numbers than their items
    rows = [(f"i{max(a, b)}", f"i{min(a, b)}", d) for a, b, d in edges if a != b]
    rec = pd.DataFrame(rows, columns=["item", "input", "dependent_share"])
    g = nx.DiGraph((inp, it) for it, inp, _ in rows)
    g.add_node(f"i{target}")
    p = upstream_plan(rec, f"i{target}")
    assert set(p.items) == nx.ancestors(g, f"i{target}") | {f"i{target}"}
    assert len(p.items) == len(set(p.items))
    pos = {n: k for k, n in enumerate(p.order)}
    assert all(pos[inp] < pos[n] for n, ins in p.inputs.items() for inp, _ in ins)


def test_one_plan_serves_bottlenecks_network_and_tts() -> None:
    from paxsilica.network.build import build_index
    from paxsilica.optimize import upstream_items

    atlas = Atlas.from_frames(tiny_frames())
    assert upstream_items(atlas, "datacentre") == ["datacentre", "chip", "ore"]
    index = build_index(atlas, target="datacentre", lanes=None)
    assert set(index.sites["item"]) >= {"datacentre", "chip", "ore"}
    # hand-solved: CHN holds 60 % of ore, the chip needs ore and the data centre the chip entirely
    assert propagate(atlas, {"ore": 0.4}, "datacentre")["datacentre"] == pytest.approx(0.4)


# ---- requests -> results -> records ---------------------------------------------------------------

def _tiny_ctx() -> ServiceContext:
    return ServiceContext(source=Atlas.from_frames(tiny_frames()))


def test_bottlenecks_service_matches_the_metric() -> None:
    ctx = _tiny_ctx()
    res = measures.bottlenecks(ctx, measures.BottlenecksRequest(target="datacentre"))
    direct = metric_bottlenecks(ctx.atlas(), "datacentre", "country")
    pd.testing.assert_frame_equal(res.table, direct)
    chn = res.table.set_index(["item", "producer"]).loc[("ore", "CHN"), "loss"]
    assert chn == pytest.approx(0.6)
    rec = res.to_record()
    assert len(rec["rows"]) == len(direct) and rec["meta"]["target"] == "datacentre"
    json.dumps(rec, allow_nan=False)
    with pytest.raises(NotFoundError):
        measures.bottlenecks(ctx, measures.BottlenecksRequest(target="datacenter"))


def test_items_views() -> None:
    ctx = _tiny_ctx()
    res = measures.items(ctx, measures.ItemsRequest())
    assert res.kind == "items"
    share = res.table.set_index("item")["coalition_share"]
    assert share["ore"] == pytest.approx(0.4)  # AUS is a member, CHN is not
    assert share["chip"] == pytest.approx(0.0)
    stages = measures.items(ctx, measures.ItemsRequest(view="stages"))
    assert set(stages.table["stage"]) == {"raw_material", "fabrication", "infrastructure"}
    with pytest.raises(NotFoundError, match="unknown group"):
        measures.items(ctx, measures.ItemsRequest(coalition="paxsilica"))


def test_coalition_whatif_has_its_bottleneck_table() -> None:
    ctx = _tiny_ctx()
    res = measures.coalition(ctx, measures.CoalitionRequest(add="TWN", target="datacentre"))
    assert res.kind == "whatif" and list(res.tables()) == ["table", "bottlenecks"]
    after = res.table.set_index("item")["coalition_share_after"]
    assert after["chip"] == pytest.approx(1.0)
    quick = measures.coalition(ctx, measures.CoalitionRequest(add="TWN", target="datacentre",
                                                               with_bottlenecks=False))
    assert list(quick.tables()) == ["table"]


def test_tts_service_record_says_unlimited() -> None:
    atlas = Atlas.from_frames({**tiny_frames(), "stocks": pd.DataFrame(
        {"holder": ["USA"], "item": ["ore"], "days_of_cover": [30.0], "source": ["test"]})})
    res = time_to_survive(ServiceContext(source=atlas), TtsRequest(target="datacentre", ttr_days=60))
    t = res.table.set_index("producer")
    assert t.loc["CHN", "tts_days"] == pytest.approx(50.0)  # 30 days of ore / 60 % lost
    assert t.loc["AUS", "tts_days"] == pytest.approx(75.0)  # 30 / 40 %
    assert res.to_record()["rows"][0]["rank"] == 1
    with pytest.raises(NotFoundError):
        time_to_survive(ServiceContext(source=atlas), TtsRequest(target="datacenter"))


def test_table_result_record_handles_infinity() -> None:
    r = TableResult(pd.DataFrame({"x": [math.inf, math.nan]}), extra={"more": pd.DataFrame({"y": [1]})})
    assert r.to_record() == {"title": "", "notes": [], "rows": [{"x": "unlimited"}, {"x": None}],
                             "more": [{"y": 1}]}


def test_atlas_services(tmp_path) -> None:
    ctx = _tiny_ctx()
    shown = atlas_service.show_table(ctx, atlas_service.ShowRequest("production", ("item=ore",)))
    assert shown.table["producer"].tolist() == ["CHN", "AUS"] and shown.title == "production (2 rows)"
    with pytest.raises(NotFoundError):
        atlas_service.show_table(ctx, atlas_service.ShowRequest("production", ("item=oar",)))
    with pytest.raises(InputError):
        atlas_service.show_table(ctx, atlas_service.ShowRequest("production", ("colour=red",)))
    report = atlas_service.validate(ctx)
    assert report.ok and report.to_record()["problems"] == []
    out = atlas_service.export_atlas(ctx, atlas_service.ExportRequest(tmp_path / "copy", "csv"))
    assert read_atlas(out.path).version == ctx.atlas().version == out.version
    info = atlas_service.info(ctx)
    assert info.to_record()["tables"]["production"] == 4
    assert set(atlas_service.schema_table().table["table"]) >= {"items", "production", "recipes"}


def test_merge_into_keeps_existing_values() -> None:
    old = Atlas.from_frames(tiny_frames())
    new = {"countries": pd.DataFrame({"iso3": ["CHN", "NLD"], "name": ["China", "Netherlands"],
                                      "wgi_mean": [-0.5, 1.5]})}
    merged = atlas_service.merge_into(old, new, "m")["countries"].set_index("iso3")
    assert merged.loc["CHN", "governance_risk"] == pytest.approx(5.67)  # kept: the import has none
    assert merged.loc["CHN", "wgi_mean"] == pytest.approx(-0.5)
    assert list(merged.index) == ["CHN", "AUS", "TWN", "USA", "JPN", "NLD"]


def test_briefing_service_writes_through_fsutil(tmp_path) -> None:
    ctx = _tiny_ctx()
    assert briefing_format(tmp_path / "b.md") == "md"
    with pytest.raises(InputError):
        briefing_format(tmp_path / "b.pdf", "pdf")
    with pytest.raises(InputError):
        briefing(ctx, BriefingRequest(target="datacentre", scenarios=False, steps=0))
    res = briefing(ctx, BriefingRequest(target="datacentre", scenarios=False))
    assert res.briefing.stress is None and "bottlenecks" in res.tables()
    json.dumps(res.to_record(), allow_nan=False)
    written = write_briefing(res.briefing, tmp_path / "b.md")
    assert written.path.read_text(encoding="utf-8").startswith("# ")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
    with pytest.raises(InputError, match="output folder does not exist"):
        write_briefing(res.briefing, tmp_path / "nowhere" / "b.html")


def test_bundled_default_context() -> None:
    ctx = ServiceContext()
    assert ctx.atlas() is bundled_atlas()
    assert ctx.org is None and ctx.cache("x") == {}
