"""The API's data flows: uploads validated with file/row/column errors; organisation isolation of
uploads, scenarios and runs; runs queued, progressing, finished, cancelled and timed out; the
public atlas, metrics, lanes and briefing; the operator CLI."""

from __future__ import annotations

import io
import json
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from paxsilica.server import domain
from paxsilica.server.testing import Service, db_url, make_service, service  # noqa: F401

STOCKS = b"holder,item,days_of_cover,source\nJPN,helium,30,own survey 2025\n"


def _upload(svc: Service, h: dict, content: bytes = STOCKS, filename: str = "stocks.csv", table: str = "stocks"):  # type: ignore[no-untyped-def]
    return svc.client.post("/api/v1/uploads", headers=h, files={"file": (filename, content)}, data={"table": table})


def _wait(svc: Service, h: dict, rid: str, timeout: float = 120.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = svc.client.get(f"/api/v1/runs/{rid}", headers=h).json()
        if r["status"] in ("done", "failed", "cancelled"):
            return r
        time.sleep(0.3)
    raise AssertionError(f"run {rid} did not finish: {r}")


# --------------------------------------------------------------------------- uploads


def test_upload_csv_xlsx_parquet(service: Service) -> None:  # noqa: F811
    h = service.login("a_analyst")
    df = pd.read_csv(io.BytesIO(STOCKS))
    xlsx, pq = io.BytesIO(), io.BytesIO()
    df.to_excel(xlsx, index=False)
    df.to_parquet(pq, index=False)
    for name, content in (("s.csv", STOCKS), ("s.xlsx", xlsx.getvalue()), ("s.parquet", pq.getvalue())):
        r = _upload(service, h, content, name)
        assert r.status_code == 201, r.text
        assert r.json()["rows"] == 1
        rows = service.client.get(f"/api/v1/uploads/{r.json()['id']}/rows", headers=h).json()
        assert rows["items"][0]["holder"] == "JPN" and rows["items"][0]["days_of_cover"] == 30.0
    assert service.client.get("/api/v1/uploads", headers=h).json()["total"] == 3


@pytest.mark.parametrize(("content", "filename", "table", "row", "column"), [
    (b"holder,item,days_of_cover,source\nJPN,helium,thirty,x\n", "s.csv", "stocks", 2, "days_of_cover"),
    (b"holder,item,days_of_cover,source\nJPN,helium,1,x\nJPN,,2,x\n", "s.csv", "stocks", 3, "item"),
    (b"holder,item,colour,source\nJPN,helium,red,x\n", "s.csv", "stocks", 1, "colour"),
    (b"holder,item\nJPN,helium\n", "s.csv", "stocks", 1, "source"),
    (b"holder,item,source\nJPN,helium,x\n", "s.csv", "countries", None, "table"),
    (b"\xff\xfe", "s.csv", "stocks", None, None),
    (b"not a parquet file", "s.parquet", "stocks", None, None),
    (b"x", "s.txt", "stocks", None, "file"),
])
def test_upload_errors_name_file_row_column(service: Service, content: bytes, filename: str, table: str,  # noqa: F811
                                            row: int | None, column: str | None) -> None:
    h = service.login("a_analyst")
    r = _upload(service, h, content, filename, table)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == column
    if row is not None:
        assert any(p["file"] == filename and p["row"] == row and p["column"] == column for p in body["problems"])
    assert service.client.get("/api/v1/uploads", headers=h).json()["total"] == 0  # nothing half-stored


def test_viewer_cannot_upload_admin_deletes(service: Service) -> None:  # noqa: F811
    assert _upload(service, service.login("a_viewer")).status_code == 403
    uid = _upload(service, service.login("a_analyst")).json()["id"]
    assert service.client.delete(f"/api/v1/uploads/{uid}", headers=service.login("a_analyst")).status_code == 403
    assert service.client.delete(f"/api/v1/uploads/{uid}", headers=service.login("a_admin")).json() == {"ok": True}
    assert service.client.get(f"/api/v1/uploads/{uid}", headers=service.login("a_admin")).status_code == 404
    assert not list((service.files / "uploads").rglob("*.parquet"))


# --------------------------------------------------------------------------- isolation


def test_other_organisations_data_is_invisible(service: Service) -> None:  # noqa: F811
    a, b = service.login("a_analyst"), service.login("b_admin")
    uid = _upload(service, a).json()["id"]
    yaml = domain.builtin_yaml("hormuz_closure").replace("name: hormuz_closure", "name: a_secret_plan")
    assert service.client.post("/api/v1/scenarios", headers=a, json={"yaml": yaml}).status_code == 201
    run = service.client.post("/api/v1/runs", headers=a, json={"scenario": "a_secret_plan", "uploads": [uid],
                                                                "steps": 2}).json()
    # listings and counts of B show nothing of A
    assert service.client.get("/api/v1/uploads", headers=b).json() == {"items": [], "total": 0, "offset": 0, "limit": 50}
    assert service.client.get("/api/v1/runs", headers=b).json()["total"] == 0
    names = [s["name"] for s in service.client.get("/api/v1/scenarios?limit=500", headers=b).json()["items"]]
    assert "a_secret_plan" not in names
    # a foreign id and an unknown id give the same 404, body for body
    for path in (f"/api/v1/uploads/{uid}", f"/api/v1/uploads/{uid}/rows", f"/api/v1/runs/{run['id']}",
                 f"/api/v1/runs/{run['id']}/result", "/api/v1/scenarios/a_secret_plan"):
        foreign = service.client.get(path, headers=b)
        unknown = service.client.get(path.replace(uid, "x" * 22).replace(run["id"], "y" * 22)
                                     .replace("a_secret_plan", "no_such_plan"), headers=b)
        assert foreign.status_code == unknown.status_code == 404, path
        assert foreign.json() == unknown.json()
        assert uid not in foreign.text and "a_secret_plan" not in foreign.text
    assert service.client.post(f"/api/v1/runs/{run['id']}/cancel", headers=b).status_code == 404
    assert service.client.delete(f"/api/v1/uploads/{uid}", headers=b).status_code == 404
    # B cannot use A's upload or scenario in a run
    r = service.client.post("/api/v1/runs", headers=b, json={"scenario": "hormuz_closure", "uploads": [uid]})
    assert r.status_code == 404 and r.json()["field"] == "uploads"
    r = service.client.post("/api/v1/runs", headers=b, json={"scenario": "a_secret_plan"})
    assert r.status_code == 404 and r.json()["field"] == "scenario"
    # B's admin reads only B's audit entries
    log = service.client.get("/api/v1/audit?limit=500", headers=b).json()
    assert all(e["org_id"] == service.seed.orgs["company_b"] for e in log["items"])
    assert uid not in json.dumps(log)
    _wait(service, a, run["id"])


def test_overlay_uses_only_the_uploads_given(tmp_path) -> None:
    atlas = domain.public_atlas()
    mine = tmp_path / "mine.parquet"
    domain.write_upload(domain.parse_upload("stocks", "s.csv", b"holder,item,days_of_cover,source\n"
                                            b"ZZZ_MINE,helium,30,x\n"), mine)
    theirs = tmp_path / "theirs.parquet"
    domain.write_upload(domain.parse_upload("stocks", "s.csv", b"holder,item,days_of_cover,source\n"
                                            b"ZZZ_THEIRS,helium,30,x\n"), theirs)
    over = domain.overlay(atlas, [("stocks", mine)])
    holders = set(over["stocks"]["holder"].astype(str))
    assert "ZZZ_MINE" in holders and "ZZZ_THEIRS" not in holders
    assert len(over["stocks"]) == len(atlas["stocks"]) + 1
    assert domain.overlay(atlas, []) is atlas


def test_private_row_replaces_public_row_with_same_key(tmp_path) -> None:
    atlas = domain.public_atlas()
    pub = atlas["stocks"].dropna(subset=["holder", "item"]).iloc[0]
    p = tmp_path / "s.parquet"
    csv = f"holder,item,days_of_cover,source\n{pub['holder']},{pub['item']},123,mine\n".encode()
    domain.write_upload(domain.parse_upload("stocks", "s.csv", csv), p)
    over = domain.overlay(atlas, [("stocks", p)])
    hit = over["stocks"][(over["stocks"]["holder"] == pub["holder"]) & (over["stocks"]["item"] == pub["item"])]
    assert len(hit) == 1 and float(hit["days_of_cover"].iloc[0]) == 123.0
    assert len(over["stocks"]) == len(atlas["stocks"])


# --------------------------------------------------------------------------- runs


def test_run_lifecycle_uses_own_upload(service: Service) -> None:  # noqa: F811
    h = service.login("a_analyst")
    uid = _upload(service, h).json()["id"]
    t0 = time.monotonic()
    r = service.client.post("/api/v1/runs", headers=h, json={"scenario": "hormuz_closure", "uploads": [uid], "steps": 10})
    assert r.status_code == 202 and r.json()["status"] == "queued"
    assert time.monotonic() - t0 < 2.0  # the answer does not wait for the simulation
    done = _wait(service, h, r.json()["id"])
    assert done["status"] == "done" and done["progress"] == 1.0, done
    res = service.client.get(f"/api/v1/runs/{done['id']}/result", headers=h).json()["result"]
    # the run saw the overlay: its atlas differs from the public one
    assert res["atlas_version"] != domain.version(domain.public_atlas())
    assert res["summary"]["target"] == "ai_datacenter_capacity"
    plain = service.client.post("/api/v1/runs", headers=h, json={"scenario": "hormuz_closure", "steps": 10}).json()
    plain_res = service.client.get(f"/api/v1/runs/{_wait(service, h, plain['id'])['id']}/result", headers=h).json()
    assert plain_res["result"]["atlas_version"] == domain.version(domain.public_atlas())


def test_cancel_and_timeout(db_url: str, tmp_path) -> None:  # noqa: F811
    with make_service(db_url, tmp_path) as svc:
        h = svc.login("a_analyst")
        slow = {"scenario": "hormuz_closure", "bands": 16}
        first = svc.client.post("/api/v1/runs", headers=h, json=slow).json()
        queued = svc.client.post("/api/v1/runs", headers=h, json=slow).json()
        # the second waits for the only worker: cancelling it never starts it
        c = svc.client.post(f"/api/v1/runs/{queued['id']}/cancel", headers=h).json()
        assert c["status"] == "cancelled"
        for _ in range(100):
            if svc.client.get(f"/api/v1/runs/{first['id']}", headers=h).json()["status"] == "running":
                break
            time.sleep(0.1)
        svc.client.post(f"/api/v1/runs/{first['id']}/cancel", headers=h)
        assert _wait(svc, h, first["id"], 30)["status"] == "cancelled"
        assert svc.client.get(f"/api/v1/runs/{first['id']}/result", headers=h).status_code == 409
        t = svc.client.post("/api/v1/runs", headers=h, json={**slow, "timeout_s": 0.5}).json()
        out = _wait(svc, h, t["id"], 30)
        assert out["status"] == "failed" and "timed out" in out["error"]


def test_viewer_cannot_run(service: Service) -> None:  # noqa: F811
    r = service.client.post("/api/v1/runs", headers=service.login("b_viewer"), json={"scenario": "hormuz_closure"})
    assert r.status_code == 403


# --------------------------------------------------------------------------- scenarios


def test_scenario_create_validate(service: Service) -> None:  # noqa: F811
    h = service.login("a_analyst")
    bad = "name: x\ndescription: y\nshocks:\n  - type: export_ban\n    exporter: CHN\n    items: [galium]\n    start: 0\n"
    v = service.client.post("/api/v1/scenarios/validate", headers=h, json={"yaml": bad}).json()
    assert not v["valid"] and any("galium" in p["reason"] for p in v["problems"])
    r = service.client.post("/api/v1/scenarios", headers=h, json={"yaml": bad})
    assert r.status_code == 422 and r.json()["problems"]
    dup = domain.builtin_yaml("hormuz_closure")
    assert service.client.post("/api/v1/scenarios", headers=h, json={"yaml": dup}).status_code == 409
    good = bad.replace("galium", "gallium")
    assert service.client.post("/api/v1/scenarios/validate", headers=h, json={"yaml": good}).json()["valid"]
    assert service.client.post("/api/v1/scenarios", headers=h, json={"yaml": good}).status_code == 201
    assert service.client.post("/api/v1/scenarios", headers=h, json={"yaml": good}).status_code == 409
    page = service.client.get("/api/v1/scenarios?limit=500", headers=h).json()
    assert page["total"] == len(domain.builtin_scenarios()) + 1 == len(page["items"])
    assert service.client.get("/api/v1/scenarios/x", headers=h).json()["builtin"] is False


# --------------------------------------------------------------------------- public atlas


def test_public_atlas_endpoints(service: Service) -> None:  # noqa: F811
    h = service.login("b_viewer")
    atlas = domain.public_atlas()
    info = service.client.get("/api/v1/atlas", headers=h).json()
    assert info["tables"]["items"] == len(atlas["items"])
    page = service.client.get("/api/v1/atlas/tables/items?offset=2&limit=3", headers=h).json()
    assert page["total"] == len(atlas["items"]) and [r["item"] for r in page["items"]] == list(atlas["items"]["item"][2:5])
    m = service.client.get("/api/v1/metrics/concentration?limit=500", headers=h).json()
    assert m["total"] == len(m["items"]) > 0 and m["atlas_version"] == info["version"]
    assert service.client.get("/api/v1/metrics/nope", headers=h).status_code == 404
    names = service.client.get("/api/v1/metrics", headers=h).json()["items"]
    assert names == list(domain.METRICS)
    for name in names:  # every metric served answers (each computed once, then cached)
        r = service.client.get(f"/api/v1/metrics/{name}?limit=1", headers=h)
        assert r.status_code == 200 and r.json()["total"] > 0, (name, r.text[:200])
    lanes = service.client.get("/api/v1/lanes?exporters=QAT&importers=JPN", headers=h).json()
    assert lanes["total"] == 1 and lanes["items"][0]["exporter"] == "QAT"
    unknown = service.client.get("/api/v1/lanes?exporters=XXQ&importers=JPN", headers=h)
    assert unknown.status_code == 404 and "XXQ" in unknown.json()["detail"]
    j = service.client.get("/api/v1/briefing", headers=h).json()
    assert j["meta"]["atlas_version"] == info["version"]
    html = service.client.get("/api/v1/briefing.html", headers=h)
    assert html.status_code == 200 and html.text.lstrip().lower().startswith("<!doctype html")


def test_docs_are_local(service: Service) -> None:  # noqa: F811
    for path in ("/docs", "/redoc"):
        text = service.client.get(path).text
        assert "cdn." not in text and "/static-offline-docs/" in text
    assert service.client.get("/static-offline-docs/redoc.standalone.js").status_code == 200


# --------------------------------------------------------------------------- operator CLI


def test_cli_org_user_audit(tmp_path, monkeypatch) -> None:
    from paxsilica.cli.main import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    run = CliRunner().invoke
    monkeypatch.setenv("PAXSILICA_PASSWORD", "long-enough-password")
    assert run(app, ["db", "upgrade", "--db", url]).exit_code == 0
    assert run(app, ["org", "add", "Sec", "--kind", "secretariat", "--db", url]).exit_code == 0
    assert run(app, ["user", "add", "op", "--org", "Sec", "--role", "admin", "--operator", "--db", url]).exit_code == 0
    r = run(app, ["user", "add", "x", "--org", "Nope", "--db", url])
    assert r.exit_code == 1 and "no organisation 'Nope'" in r.output
    out = run(app, ["user", "list", "--format", "json", "--db", url])
    assert json.loads(out.output)[0]["username"] == "op"
    assert run(app, ["user", "disable", "op", "--db", url]).exit_code == 0
    ok = run(app, ["audit", "verify", "--db", url])
    assert ok.exit_code == 0 and "3 entries" in ok.output
    import sqlite3

    with sqlite3.connect(tmp_path / "cli.db") as c:
        c.execute("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2")
    bad = run(app, ["audit", "verify", "--db", url])
    assert bad.exit_code == 1 and "entry 2" in bad.output


def test_montecarlo_and_plans_are_runs_scoped_by_organisation(tmp_path) -> None:
    # a Monte Carlo run, then a plan taking its draws as scenarios; the other organisation can
    # use neither; a field the plan model does not have is refused, naming it
    with make_service(f"sqlite:///{tmp_path / 's.db'}", tmp_path) as svc:
        h, other = svc.login("a_analyst"), svc.login("b_analyst")
        r = svc.client.post("/api/v1/montecarlo", headers=h, json={"draws": 20, "horizon_days": 30, "seed": 3})
        assert r.status_code == 202 and r.json()["kind"] == "montecarlo"
        mc = _wait(svc, h, r.json()["id"], timeout=300)
        assert mc["status"] == "done", mc
        res = svc.client.get(f"/api/v1/runs/{mc['id']}/result", headers=h).json()["result"]
        assert res["run"]["draws"] == 20 and res["run"]["seed"] == 3 and res["run"]["horizon_days"] == 30
        assert {row["measure"] for row in res["summary"]} >= {"expected_loss", "var", "es"}
        assert "folder" not in res  # no server path in an answer
        assert svc.client.get(f"/api/v1/runs/{mc['id']}/result", headers=other).status_code == 404

        bad = svc.client.post("/api/v1/plans/worst-case", headers=h, json={"alpha": 0.9})
        assert bad.status_code == 422 and bad.json()["field"] == "alpha"
        foreign = svc.client.post("/api/v1/plans/sourcing", headers=other, json={"montecarlo_run": mc["id"]})
        assert foreign.status_code == 404 and foreign.json()["field"] == "montecarlo_run"

        r = svc.client.post("/api/v1/plans/sourcing", headers=h,
                            json={"montecarlo_run": mc["id"], "alpha": 0.9, "items": ["gallium", "germanium"]})
        assert r.status_code == 202 and r.json()["kind"] == "plan"
        plan = _wait(svc, h, r.json()["id"], timeout=300)
        assert plan["status"] == "done", plan
        out = svc.client.get(f"/api/v1/runs/{plan['id']}/result", headers=h).json()["result"]
        assert out["kind"] == "sourcing" and out["parameters"]["alpha"] == 0.9
        assert out["atlas_version"] == domain.version(domain.public_atlas())
        assert str(tmp_path) not in json.dumps(out) and out["parameters"]["montecarlo"] == mc["id"]
