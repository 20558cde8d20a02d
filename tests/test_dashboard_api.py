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
