"""The authorization matrix, generated from the OpenAPI schema: every path × method × role
(anonymous, viewer, analyst, admin, operator) × own / other organisation's resource.

Each operation's rule is read from the route's :func:`paxsilica.server.auth.require` dependency; an
operation without one must be in :data:`PUBLIC`, and every operation in the schema needs a request
recipe here, so a new endpoint cannot escape the matrix. Every answer is checked: allowed (2xx),
or 401 / 403 / 404 as the rule says, and no answer to a caller of organisation A contains any of
organisation B's markers.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.routing import APIRoute

from paxsilica.server import domain
from paxsilica.server.auth import hash_password, new_api_key, role_rank
from paxsilica.server.store import ApiKey, Run, Scenario, Upload, User, new_id
from paxsilica.server.testing import Service, db_url, make_service  # noqa: F401

PUBLIC = {("GET", "/api/v1/health"), ("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh"),
          ("POST", "/api/v1/auth/logout")}
"""Operations that need no credentials (their own credentials are in the body)."""

SECRET = "SECRETB"
"""Marker in every name and cell of organisation B's data."""

_counter = itertools.count()


def _uniq() -> str:
    return f"n{next(_counter)}"


def _yaml(name: str) -> str:
    return domain.builtin_yaml("hormuz_closure").replace("name: hormuz_closure", f"name: {name}", 1)


QUERIES = {"/api/v1/lanes": {"exporters": "QAT", "importers": "JPN"}}
PATH_VALUES = {"table": "items", "metric": "concentration", "item": "gallium", "model": "worst-case"}


def _body(method: str, path: str) -> dict:
    """Request recipe (json / files+data) of an operation; KeyError for an unknown one."""
    recipes = {
        ("POST", "/api/v1/orgs"): lambda: {"json": {"name": _uniq(), "kind": "company"}},
        ("POST", "/api/v1/users"): lambda: {"json": {"username": _uniq(), "password": "p" * 12}},
        ("PATCH", "/api/v1/users/{user_id}"): lambda: {"json": {"role": "analyst"}},
        ("POST", "/api/v1/keys"): lambda: {"json": {"name": "k"}},
        ("POST", "/api/v1/scenarios/validate"): lambda: {"json": {"yaml": _yaml("v")}},
        ("POST", "/api/v1/scenarios"): lambda: {"json": {"yaml": _yaml(_uniq())}},
        ("POST", "/api/v1/uploads"): lambda: {"files": {"file": ("s.csv", b"holder,item,days_of_cover,source\n"
                                                                 b"JPN,helium,3,x\n")}, "data": {"table": "stocks"}},
        ("POST", "/api/v1/runs"): lambda: {"json": {"scenario": "hormuz_closure", "steps": 1}},
        ("POST", "/api/v1/montecarlo"): lambda: {"json": {"draws": 10, "horizon_days": 30}},
        ("POST", "/api/v1/plans/{model}"): lambda: {"json": {"k": 1}},
    }
    if (method, path) in recipes:
        return recipes[(method, path)]()
    if method in ("GET", "DELETE") or path.endswith("/cancel"):
        return {}
    raise KeyError(f"no request recipe for {method} {path}: add one to the matrix")


def _rule(route: APIRoute) -> tuple[str, bool] | None:
    """(lowest role, operator only) of a route, from its require() dependency; None when public."""
    stack = list(route.dependant.dependencies)
    while stack:
        d = stack.pop()
        if hasattr(d.call, "min_role"):
            return d.call.min_role, d.call.operator
        stack.extend(d.dependencies)
    return None


def _api_routes(routes):  # type: ignore[no-untyped-def]
    """Every APIRoute, also inside included routers (newer FastAPI keeps them nested)."""
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif hasattr(r, "original_router"):
            yield from _api_routes(r.original_router.routes)
        elif hasattr(r, "routes") and not hasattr(r, "app"):
            yield from _api_routes(r.routes)


def operations(app) -> list[tuple[str, str, tuple[str, bool] | None]]:  # type: ignore[no-untyped-def]
    """Every (method, path, rule) of the schema; fails if a schema operation has no route."""
    schema_ops = {(m.upper(), p) for p, item in app.openapi()["paths"].items() for m in item}
    routes = {}
    for r in _api_routes(app.routes):
        if r.include_in_schema:
            for m in r.methods:
                routes[(m, r.path)] = r
    assert schema_ops == set(routes), schema_ops ^ set(routes)
    return sorted((m, p, _rule(routes[(m, p)])) for m, p in schema_ops)


def _resources(svc: Service, org: str, mark: str, key_owner: str | None = None) -> dict[str, str]:
    """Fresh resources of ``org`` (written straight to the store): one of each kind. The API key
    belongs to ``key_owner`` (a user may revoke only their own keys unless admin)."""
    org_id = svc.seed.orgs[org]
    owner = svc.seed.users[{"ministry_a": "a_admin", "company_b": "b_admin"}.get(org, "operator")]
    uid, kid, _key, khash = new_id(), *new_api_key()
    rel = Path("uploads") / str(org_id) / f"{uid}.parquet"
    domain.write_upload(pd.DataFrame({"holder": [mark], "item": ["helium"], "days_of_cover": [1.0],
                                      "source": [mark]}), svc.files / rel)
    with svc.store.session(write=True) as s:
        s.add(Upload(id=uid, org_id=org_id, user_id=owner, name=mark, table="stocks", filename=f"{mark}.csv",
                     rows=1, path=str(rel), sha256="0" * 64))
        name = f"{mark.lower()}_{_uniq()}"
        s.add(Scenario(id=new_id(), org_id=org_id, user_id=owner, name=name, yaml=_yaml(name)))
        run = Run(id=new_id(), org_id=org_id, user_id=owner, kind="stress",
                  params='{"scenario": "hormuz_closure", "uploads": []}', status="queued")
        s.add(run)
        # the Monte Carlo and plan pages' views take a run of their own kind (another kind is 404)
        mc = Run(id=new_id(), org_id=org_id, user_id=owner, kind="montecarlo",
                 params='{"draws": 10, "horizon_days": 30}', status="queued")
        plan = Run(id=new_id(), org_id=org_id, user_id=owner, kind="plan",
                   params='{"model": "sourcing", "k": 1}', status="queued")
        s.add_all([mc, plan])
        key_user = svc.seed.users[key_owner] if key_owner else owner
        s.add(ApiKey(id=kid, user_id=key_user, org_id=org_id, name=mark, role="viewer", key_hash=khash,
                     expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)))
        u = User(org_id=org_id, username=f"{mark}{_uniq()}", password_hash=hash_password("x" * 12, fast=True),
                 role="viewer")
        s.add(u)
        s.flush()
        return {"upload_id": uid, "name": name, "run_id": run.id, "key_id": kid, "user_id": str(u.id),
                "montecarlo_run_id": mc.id, "plan_run_id": plan.id}


RUN_OF_KIND = {"/api/v1/views/montecarlo/{run_id}": "montecarlo_run_id", "/api/v1/views/plans/{run_id}": "plan_run_id"}


CALLERS = {"anonymous": None, "viewer": "a_viewer", "analyst": "a_analyst", "admin": "a_admin",
           "operator": "operator"}


def _expected(rule: tuple[str, bool], caller: str, ownership: str, has_ids: bool) -> set[int]:
    role, operator_only = rule
    if caller == "anonymous":
        return {401}
    if operator_only:
        return {200, 201} if caller == "operator" else {403}
    caller_role = "admin" if caller == "operator" else caller
    if role_rank(caller_role) < role_rank(role):
        return {403}
    if has_ids and (ownership == "other" or caller == "operator"):
        return {404}
    return {200, 201, 202}


def test_matrix(db_url: str, tmp_path) -> None:  # noqa: F811
    with make_service(db_url, tmp_path, start_workers=False) as svc:
        ops = operations(svc.app)
        headers = {c: (svc.login(u) if u else {}) for c, u in CALLERS.items()}
        checked = 0
        for method, path, rule in ops:
            if rule is None:
                assert (method, path) in PUBLIC, f"{method} {path} has no require() dependency"
                continue
            ids = re.findall(r"{(\w+)}", path)
            has_ids = any(i not in PATH_VALUES for i in ids)
            for caller, ownership in itertools.product(CALLERS, ("own", "other")):
                if ownership == "other" and not has_ids:
                    continue
                if ownership == "own":
                    owner = CALLERS[caller] if caller not in ("anonymous", "operator") else None
                    res = _resources(svc, "ministry_a", "own", key_owner=owner)
                else:
                    res = _resources(svc, "company_b", SECRET)
                _resources(svc, "company_b", SECRET)  # B's data exists in every case
                kind_id = {"run_id": res[RUN_OF_KIND[path]]} if path in RUN_OF_KIND else {}
                url = path.format(**{**res, **PATH_VALUES, **kind_id})
                kw = _body(method, path)
                r = svc.client.request(method, url, headers=headers[caller], params=QUERIES.get(path), **kw)
                want = _expected(rule, caller, ownership, has_ids)
                if path.endswith("/result") and want == {200, 201, 202}:
                    want = {409}  # allowed, but the (never started) run has no result
                assert r.status_code in want, (method, path, caller, ownership, r.status_code, r.text[:300])
                assert "Traceback" not in r.text
                if caller not in ("operator",):
                    assert SECRET not in r.text and SECRET.lower() not in r.text, (method, path, caller)
                if r.status_code >= 400:
                    assert set(r.json()) >= {"detail", "field"}
                checked += 1
        assert checked > 100


def test_every_operation_has_a_recipe(tmp_path) -> None:
    """Adding an endpoint without a rule or a recipe fails here, before the matrix runs."""
    from paxsilica.server.app import create_app
    from paxsilica.server.settings import Settings

    app = create_app(Settings.from_env(db_url=f"sqlite:///{tmp_path / 'x.db'}", files_dir=tmp_path))
    for method, path, rule in operations(app):
        if rule is None:
            assert (method, path) in PUBLIC
        else:
            _body(method, path)


@pytest.mark.parametrize("path", ["/api/v1/orgs", "/api/v1/audit/verify"])
def test_operator_only(path: str) -> None:
    assert _expected(("viewer", True), "admin", "own", False) == {403}
