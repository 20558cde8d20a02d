"""The stress services: typed requests in, results that turn themselves into records and tables."""

from __future__ import annotations

import json

import pytest

from paxsilica.errors import NotFoundError
from paxsilica.network import tiny_atlas
from paxsilica.scenarios import list_scenarios as builtin_names
from paxsilica.scenarios import parse_scenario
from paxsilica.services import stress as svc
from paxsilica.services.context import ServiceContext, ServiceStore
from paxsilica.stress import run_stress as model_run_stress

BAN = parse_scenario("name: ban\ndescription: d\nhorizon: 40\nshocks:\n"
                     "  - {type: export_ban, exporter: JPN, items: [wafer], start: 0}\n", file="ban.yaml")


@pytest.fixture
def ctx() -> ServiceContext:
    return ServiceContext(source=tiny_atlas(), validate=False)


def test_run_stress_is_the_model_run(ctx) -> None:
    res = svc.run_stress(svc.StressRequest(BAN, target="chip", inventory_days=10), ctx)
    direct = model_run_stress(BAN, tiny_atlas(), target="chip", inventory_days=10)
    assert res.run.summary == direct.summary
    rec = res.to_record()
    json.dumps(rec, allow_nan=False)  # plain JSON, no NaN or infinity
    # hand-solvable on the tiny atlas: 10 days of stock plus the lead time, then 40 % (stress doctest)
    assert rec["summary"]["time_to_survive_days"] == 16 and round(rec["summary"]["min_level"], 3) == 0.4
    assert set(res.tables()) == {"series", "items", "consumers", "effects", "checks"}
    assert res.atlas_name == "tiny" and res.atlas_version == ctx.atlas_version()
    assert res.paths == {}


def test_run_stress_reports_stages_and_saves(ctx, tmp_path) -> None:
    seen: list[str] = []
    res = svc.run_stress(svc.StressRequest(BAN, target="chip", inventory_days=10, out=tmp_path / "out"), ctx,
                         progress=seen.append)
    assert seen == ["scenario", "network", "compile", "simulate", "measures", "saving"]
    assert res.paths["summary"].is_file()
    saved = json.loads(res.paths["summary"].read_text(encoding="utf-8"))
    assert saved["summary"]["loss_pct"] == pytest.approx(res.run.summary["loss_pct"])


def test_unknown_names_are_refused_with_suggestions(ctx) -> None:
    with pytest.raises(NotFoundError, match="did you mean 'chip'"):
        svc.run_stress(svc.StressRequest(BAN, target="chipp"), ctx)
    with pytest.raises(NotFoundError):
        svc.run_stress(svc.StressRequest(BAN, target="chip", for_country="XXX"), ctx)
    with pytest.raises(NotFoundError, match="did you mean hormuz_closure"):
        svc.get_scenario("hormuz_closur")


def test_network_cached_per_atlas_version_and_organisation() -> None:
    store = ServiceStore()
    a = ServiceContext(source=tiny_atlas(), org="ministry", validate=False, store=store)
    req = svc.StressRequest(BAN, target="chip", inventory_days=10)
    first = svc.run_stress(req, a)
    (prep,) = a.cache("stress.prepared").values()
    second = svc.run_stress(req, a)
    assert a.cache("stress.prepared") == {("chip", "producers", None): prep}  # reused, not rebuilt
    assert second.run.summary == first.run.summary
    other = a.with_org("port")
    assert other.cache("stress.prepared") == {}
    svc.run_stress(req, other)
    (prep2,) = other.cache("stress.prepared").values()
    assert prep2 is not prep


def test_library_and_its_record(ctx) -> None:
    res = svc.run_library(svc.LibraryRequest((BAN,), target="chip", inventory_days=10, workers=1), ctx)
    (row,) = res.to_record()["rows"]
    assert row["scenario"] == "ban" and row["time_to_survive_days"] == 16
    assert isinstance(row["level"], list) and len(row["level"]) == 40
    json.dumps(res.to_record(), allow_nan=False)
    assert list(res.tables()) == ["library"]


def test_validate_scenarios_collects_every_problem(ctx, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ndescription: d\nshocks:\n  - {type: export_ban, exporter: JPM, items: [wafer]}\n",
                   encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nshocks: [\n", encoding="utf-8")
    v = svc.validate_scenarios(svc.ValidateScenarioRequest((str(bad), str(broken))), ctx)
    assert not v.ok and len(v.problems) == 2
    rec = v.to_record()
    assert rec["problems"][0]["column"] == "shocks.0.exporter" and "unknown country 'JPM'" in rec["problems"][0]["reason"]
    assert rec["problems"][1]["file"] == str(broken)
    assert list(v.tables()["problems"].columns) == ["file", "row", "column", "reason"]


def test_list_and_get_scenarios() -> None:
    table = svc.list_scenarios().table
    assert table["name"].tolist() == builtin_names()
    info = svc.get_scenario("hormuz_closure")
    rec = info.to_record()
    assert rec["name"] == "hormuz_closure" and rec["shocks"][0]["type"] == "chokepoint_closure"
    assert "chokepoint_closure" in svc.scenario_schema()["$defs"]["shocks"]


def test_requests_are_frozen() -> None:
    req = svc.StressRequest("hormuz_closure")
    with pytest.raises(AttributeError):
        req.bands = 3  # type: ignore[misc]
