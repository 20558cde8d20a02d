"""The dashboard's JSON twins (``/api/v1/views/*``) and its HTML routes, without a browser:
authentication, organisation scoping, the numbers against the atlas rows they come from, the
closure's lane statuses, the page's security headers and the clear page when assets are missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.server import domain
from paxsilica.server.testing import Service, make_service
from paxsilica.services import ServiceContext
from paxsilica.services import views as sviews


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("dash_api")
    with make_service(f"sqlite:///{folder / 'service.db'}", folder, start_workers=False) as s:
        yield s


def test_views_need_a_login(svc: Service) -> None:
    for path in ("/views/overview", "/views/items/gallium", "/views/network", "/views/chokepoints",
                 "/views/backtests", "/views/world", "/views/runs/x"):
        r = svc.client.get("/api/v1" + path)  # type: ignore[attr-defined]
        assert r.status_code == 401, path
        assert set(r.json()) >= {"detail", "field"}


def test_item_view_matches_the_atlas_rows(svc: Service) -> None:
    v = svc.client.get("/api/v1/views/items/gallium", headers=svc.login("a_viewer")).json()  # type: ignore[attr-defined]
    prod = domain.public_atlas()["production"]
    rows = prod[(prod["item"] == "gallium") & (prod["producer_type"] == "country")]
    latest = rows[rows["year"] == rows["year"].max()]
    want = latest.groupby("producer")["share"].sum()
    assert v["latest_year"] == int(rows["year"].max())
    for iso, share in want.items():
        if iso != "ROW":
            assert v["shares"]["made_in"][iso] == pytest.approx(share, abs=0.05)
    assert sum(v["shares"]["made_in"].values()) <= 100.05
    assert len(v["producers"]) == len(prod[prod["item"] == "gallium"])
    assert all({"source", "year", "stale"} <= set(p) for p in v["producers"])
    ups = {u["item"] for u in v["upstream"]}
    rec = domain.public_atlas()["recipes"]
    assert ups == set(rec[rec["item"] == "gallium"]["input"])


def test_unknown_item_is_404_naming_the_field(svc: Service) -> None:
    r = svc.client.get("/api/v1/views/items/galium", headers=svc.login("a_viewer"))  # type: ignore[attr-defined]
    assert r.status_code == 404
    assert "gallium" in r.json()["detail"]  # did you mean


def test_chokepoint_closure_statuses(svc: Service) -> None:
    h = svc.login("a_viewer")
    base = svc.client.get("/api/v1/views/chokepoints", headers=h).json()  # type: ignore[attr-defined]
    closed = svc.client.get("/api/v1/views/chokepoints", params={"closed": "hormuz"}, headers=h).json()  # type: ignore[attr-defined]
    assert base["counts"]["cut"] == 0 and base["counts"]["rerouted"] == 0
    assert sum(closed["counts"].values()) == len(closed["lanes"]) == len(base["lanes"])
    assert closed["counts"]["cut"] > 0
    assert [c["id"] for c in closed["chokepoints"] if c["closed"]] == ["hormuz"]
    # every cut lane went through Hormuz at baseline; a lane that avoids it stays open
    for before, after in zip(base["lanes"], closed["lanes"], strict=True):
        if after["status"] == "cut":
            assert "hormuz" in (before["chokepoints"] or "")
    bad = svc.client.get("/api/v1/views/chokepoints", params={"closed": "atlantis"}, headers=h)  # type: ignore[attr-defined]
    assert bad.status_code == 404 and bad.json()["field"] == "closed"


def test_runs_are_organisation_scoped(svc: Service) -> None:
    b = svc.login("b_analyst")
    rid = svc.client.post("/api/v1/runs", json={"scenario": "hormuz_closure"}, headers=b).json()["id"]  # type: ignore[attr-defined]
    a = svc.login("a_admin")
    other = svc.client.get(f"/api/v1/views/runs/{rid}", headers=a)  # type: ignore[attr-defined]
    unknown = svc.client.get("/api/v1/views/runs/" + "0" * 32, headers=a)  # type: ignore[attr-defined]
    assert other.status_code == unknown.status_code == 404
    assert other.json() == unknown.json()
    mine = svc.client.get(f"/api/v1/views/runs/{rid}", headers=b).json()  # type: ignore[attr-defined]
    assert mine["status"] == "queued" and mine["chart"] is None
    ov_a = svc.client.get("/api/v1/views/overview", headers=a).json()  # type: ignore[attr-defined]
    ov_b = svc.client.get("/api/v1/views/overview", headers=b).json()  # type: ignore[attr-defined]
    assert rid not in json.dumps(ov_a["latest_runs"])
    assert rid in [r["id"] for r in ov_b["latest_runs"]]


def test_dashboard_page_headers(svc: Service) -> None:
    r = svc.client.get("/dashboard/")  # type: ignore[attr-defined]
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert "http" not in r.text.replace("http-equiv", "")  # nothing referenced off this server
    assert svc.client.get("/", follow_redirects=False).headers["location"] == "/dashboard/"  # type: ignore[attr-defined]
    assert svc.client.get("/dashboard/static/app.js").status_code == 200  # type: ignore[attr-defined]


def test_missing_assets_give_a_clear_page(svc: Service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from paxsilica.server import dashboard

    monkeypatch.setattr(dashboard, "VENDOR", tmp_path / "nothing")
    r = svc.client.get("/dashboard/")  # type: ignore[attr-defined]
    assert r.status_code == 503
    assert "scripts/setup" in r.text and "Traceback" not in r.text


CTX = ServiceContext()  # one context: the bundled atlas is read and checked once


@settings(max_examples=30, deadline=None)
@given(st.sets(st.sampled_from(["hormuz", "suez", "malacca", "bab_el_mandeb", "panama", "red_sea"]), max_size=4))
def test_parse_closure_is_the_set_of_ids(names: set[str]) -> None:
    ctx = CTX
    ids = sviews.parse_closure(ctx, ",".join(sorted(names)))
    assert ids == sorted(set(ids))
    assert set(names) - {"red_sea"} <= set(ids)
    assert ids == sviews.parse_closure(ctx, ",".join(sorted(names, reverse=True)))


# --------------------------------------------------------------------------- Monte Carlo, plans, bands


def _wait(svc: Service, h: dict, rid: str, timeout: float = 300.0) -> dict:
    import time

    end = time.monotonic() + timeout
    r: dict = {}
    while time.monotonic() < end:
        r = svc.client.get(f"/api/v1/runs/{rid}", headers=h).json()  # type: ignore[attr-defined]
        if r["status"] in ("done", "failed", "cancelled"):
            return r
        time.sleep(0.3)
    raise AssertionError(f"run {rid} did not finish: {r}")


@pytest.fixture(scope="module")
def worked(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A service with its worker pool, and a tiny Monte Carlo run of ministry_a (8 draws, 30 days)."""
    folder = tmp_path_factory.mktemp("dash_work")
    with make_service(f"sqlite:///{folder / 'service.db'}", folder) as s:
        h = s.login("a_analyst")
        r = s.client.post("/api/v1/montecarlo", headers=h, json={"draws": 8, "horizon_days": 30, "seed": 5,  # type: ignore[attr-defined]
                                                                  "levels": [0.5, 0.9]})
        assert r.status_code == 202, r.text
        mc = _wait(s, h, r.json()["id"])
        assert mc["status"] == "done", mc
        yield s, mc["id"]


def test_montecarlo_view_reads_the_run_folder(worked) -> None:  # type: ignore[no-untyped-def]
    from paxsilica.montecarlo import load_run
    from paxsilica.server.runs import montecarlo_folder

    svc, rid = worked
    h = svc.login("a_viewer")
    v = svc.client.get(f"/api/v1/views/montecarlo/{rid}", headers=h).json()
    assert v["status"] == "done" and v["kind"] == "montecarlo"
    m = v["result"]
    assert (m["draws"], m["horizon_days"], m["seed"]) == (8, 30, 5)
    run = load_run(montecarlo_folder(svc.files, svc.seed.orgs["ministry_a"], rid))
    [t] = m["targets"]
    world = run.losses[(run.losses["consumer"] == "WORLD") & (run.losses["target"] == t["target"])]["loss"].to_numpy()
    # the curve is P(L > x) of the stored draws at each distinct loss, by hand
    assert t["curve"]["loss"] == sorted(set(world.tolist()))
    for x, p in zip(t["curve"]["loss"], t["curve"]["p_exceed"], strict=True):
        assert p == pytest.approx(float((world > x).mean()))
    stored = svc.client.get(f"/api/v1/runs/{rid}/result", headers=h).json()["result"]["summary"]
    want = [r for r in stored if r["consumer"] == "WORLD" and r["target"] == t["target"]]
    assert [(r["measure"], r["level"], r["value"], r["se"]) for r in t["risk"]] == \
        [(r["measure"], r["level"], r["value"], r["se"]) for r in want]
    assert any(r["warning"] for r in t["risk"])  # 8 draws: every tail is a rough estimate, and says so
    # the Euler contributions of each breakdown add up to the ES of their level
    for lvl, by in t["contributions"].items():
        es = next(r["value"] for r in t["risk"] if r["measure"] == "es" and r["level"] == float(lvl))
        for rows in by.values():
            if rows:
                assert sum(r["es_contribution"] for r in rows) == pytest.approx(es, rel=1e-9, abs=1e-12)
    listed = svc.client.get("/api/v1/views/montecarlo", headers=h).json()
    mine = [r for r in listed["runs"] if r["id"] == rid]
    assert mine and mine[0]["headline"]["expected_loss"] == next(r["value"] for r in want
                                                                if r["measure"] == "expected_loss")
    assert listed["form"]["draws"]["maximum"] == 100_000


def test_montecarlo_and_plan_views_are_organisation_scoped(worked) -> None:  # type: ignore[no-untyped-def]
    svc, rid = worked
    b = svc.login("b_admin")
    for path in (f"/views/montecarlo/{rid}", f"/views/plans/{rid}", "/views/montecarlo/" + "0" * 32):
        r = svc.client.get("/api/v1" + path, headers=b)
        assert r.status_code == 404, path
    assert rid not in json.dumps(svc.client.get("/api/v1/views/montecarlo", headers=b).json())
    assert rid not in json.dumps(svc.client.get("/api/v1/views/plans", headers=b).json())
    # a Monte Carlo run is not a plan (nor a stress run's page)
    a = svc.login("a_viewer")
    assert svc.client.get(f"/api/v1/views/plans/{rid}", headers=a).status_code == 404
    assert svc.client.get(f"/api/v1/views/runs/{rid}", headers=a).json()["chart"] is None


def test_plan_view_is_the_stored_plan(worked) -> None:  # type: ignore[no-untyped-def]
    svc, rid = worked
    h = svc.login("a_analyst")
    forms = svc.client.get("/api/v1/views/plans", headers=h).json()
    assert "montecarlo_run" in forms["models"]["sourcing"] and "budget" in forms["models"]["sourcing"]
    assert "k" in forms["models"]["worst-case"] and "montecarlo_run" not in forms["models"]["worst-case"]
    assert rid in [r["id"] for r in forms["montecarlo_runs"]]
    r = svc.client.post("/api/v1/plans/sourcing", headers=h,
                        json={"scenarios": "gallium_germanium_export_ban", "items": ["gallium", "germanium"]})
    assert r.status_code == 202, r.text
    done = _wait(svc, h, r.json()["id"])
    assert done["status"] == "done", done
    v = svc.client.get(f"/api/v1/views/plans/{done['id']}", headers=h).json()
    stored = svc.client.get(f"/api/v1/runs/{done['id']}/result", headers=h).json()["result"]
    p = v["result"]
    assert p["kind"] == "sourcing"
    assert {r["measure"]: (r["before"], r["after"]) for r in p["risk"]} == \
        {k: (stored["summary"]["before"][k], stored["summary"]["after"][k]) for k in stored["summary"]["before"]}
    assert p["plan_tables"][0]["name"] == "mix" and p["plan_tables"][0]["rows"] == stored["tables"]["mix"]
    assert [t["name"] for t in p["explain_tables"]] == ["binding", "sensitivity"]
    assert p["notes"] == stored["notes"] and p["headline"]["cost"] == stored["summary"]["cost"]
    listed = svc.client.get("/api/v1/views/plans", headers=h).json()["runs"]
    assert [x["model"] for x in listed if x["id"] == done["id"]] == ["sourcing"]


def test_run_view_has_the_per_step_band_and_the_lanes(worked) -> None:  # type: ignore[no-untyped-def]
    svc, _ = worked
    h = svc.login("a_analyst")
    r = svc.client.post("/api/v1/runs", headers=h, json={"scenario": "hormuz_closure", "bands": 4, "steps": 60})
    done = _wait(svc, h, r.json()["id"])
    assert done["status"] == "done", done
    v = svc.client.get(f"/api/v1/views/runs/{done['id']}", headers=h).json()
    c = v["chart"]
    lo, hi = c["band"]["low"], c["band"]["high"]
    assert len(lo) == len(hi) == len(c["day"]) == len(c["series"][0]["level"])
    assert all(a <= b + 1e-12 for a, b in zip(lo, hi, strict=True))
    # each draw's level at a day is at least its own lowest level, so the day's percentiles are at
    # least the lowest level's percentiles (the headline band)
    m_lo, m_hi = c["bands"]["min_level"]
    assert min(lo) >= m_lo - 1e-9 and min(hi) >= m_hi - 1e-9
    assert "level_by_step" not in c["bands"]  # sent once, as the band
    lanes = v["lanes"]
    assert lanes["closed"] == ["hormuz"] and lanes["lanes"]
    assert {x["status"] for x in lanes["lanes"]} <= {"rerouted", "cut", "blocked"}
    base = {(x["exporter"], x["importer"]): x for x in
            svc.client.get("/api/v1/views/chokepoints", headers=h).json()["lanes"]}
    for x in lanes["lanes"]:
        assert "hormuz" in (base[(x["exporter"], x["importer"])]["chokepoints"] or "")
