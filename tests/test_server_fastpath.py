"""The cached metric page's fast path (``server/fastpath.py``) answers exactly as the routed
endpoint: same status, body and headers; and on anything it does not know for sure (no credential,
an uncached principal, a doubtful parameter, a page not computed yet, a changed role) it leaves
the answer to FastAPI. Runs on SQLite (the layer reads no database of its own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paxsilica.server import domain
from paxsilica.server.fastpath import _query, route_rule
from paxsilica.server.routers import atlas as atlas_router
from paxsilica.server.testing import Service, make_service

IGNORED = {"x-request-id", "date"}


class Counting:
    """``domain`` as the metric route sees it, counting the route's calls (the fast path calls
    ``domain`` directly, so it is not counted)."""

    def __init__(self) -> None:
        self.calls = 0

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        if name == "cached_metric_page":
            self.calls += 1
        return getattr(domain, name)


@pytest.fixture
def svc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    counting = Counting()
    monkeypatch.setattr(atlas_router, "domain", counting)
    domain.CACHE.clear()  # pages cached by earlier tests in this process would skip the route
    with make_service(f"sqlite:///{tmp_path / 's.db'}", tmp_path, start_workers=False, rate_per_minute=600) as s:
        s.routed = counting  # type: ignore[attr-defined]
        # principals are kept a second; a cold metric takes longer on a loaded machine
        s.app.state.principals.ttl = 120  # type: ignore[attr-defined]
        yield s


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert (a.status_code, a.content) == (b.status_code, b.content)
    ha = [(k, v) for k, v in a.headers.multi_items() if k not in IGNORED]
    hb = [(k, v) for k, v in b.headers.multi_items() if k not in IGNORED]
    assert ha == hb
    assert a.headers["x-request-id"] != b.headers["x-request-id"]  # each answer has its own


def test_cached_page_is_answered_before_routing_with_the_same_bytes_and_headers(svc: Service) -> None:
    h = svc.login("a_viewer")
    for query in ("", "?limit=3", "?offset=2&limit=5", "?coalition=pax_silica&limit=1", "?coalition=&offset=1"):
        url = f"/api/v1/metrics/concentration{query}"
        before = svc.routed.calls  # type: ignore[attr-defined]
        first = svc.client.get(url, headers=h)  # computed (or found) by the route
        assert first.status_code == 200 and svc.routed.calls == before + 1  # type: ignore[attr-defined]
        second = svc.client.get(url, headers=h)
        assert svc.routed.calls == before + 1  # type: ignore[attr-defined]  # not routed
        _same(first, second)


@pytest.mark.parametrize("query", ["?offset=-1", "?limit=0", "?limit=501", "?offset=x", "?limit=+5",
                                   "?limit=5&limit=6", "?coalition=" + "c" * 101, "?offset=01"])
def test_doubtful_parameters_are_left_to_fastapi(svc: Service, query: str) -> None:
    h = svc.login("a_viewer")
    assert svc.client.get("/api/v1/metrics/concentration", headers=h).status_code == 200  # cached
    before = svc.routed.calls  # type: ignore[attr-defined]
    r = svc.client.get(f"/api/v1/metrics/concentration{query}", headers=h)
    assert svc.routed.calls == before + 1 or r.status_code == 422  # type: ignore[attr-defined]
    assert r.status_code in (200, 422) and "Traceback" not in r.text


def test_refusals_are_the_frameworks(svc: Service) -> None:
    h = svc.login("a_viewer")
    assert svc.client.get("/api/v1/metrics/concentration", headers=h).status_code == 200
    anon = svc.client.get("/api/v1/metrics/concentration")
    assert anon.status_code == 401 and anon.json()["detail"].startswith("authentication required")
    bad = svc.client.get("/api/v1/metrics/concentration", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    basic = svc.client.get("/api/v1/metrics/concentration",
                           headers={"Authorization": h["Authorization"].replace("Bearer ", "Basic ")})
    assert basic.status_code == 401  # the cached token, but not as a bearer credential
    assert svc.client.get("/api/v1/metrics/nosuch", headers=h).status_code == 404
    # a disabled user stops at once: the change clears the principals, the route refuses
    admin = svc.login("a_admin")
    uid = svc.seed.users["a_viewer"]
    assert svc.client.patch(f"/api/v1/users/{uid}", headers=admin, json={"disabled": True}).status_code == 200
    gone = svc.client.get("/api/v1/metrics/concentration", headers=h)
    assert gone.status_code == 401


def test_rate_limit_shared_with_the_route_and_answered_alike(tmp_path: Path) -> None:
    with make_service(f"sqlite:///{tmp_path / 's.db'}", tmp_path, start_workers=False, rate_per_minute=4) as s:
        domain.metric_page(domain.public_atlas(), "concentration", None, None, 0, 50)  # cached before
        s.app.state.principals.ttl = 120  # type: ignore[attr-defined]
        h = s.login("a_viewer")
        codes = [s.client.get("/api/v1/metrics/concentration", headers=h).status_code for _ in range(6)]
        assert codes == [200, 200, 200, 200, 429, 429]  # one bucket for both paths: 4 a minute
        fast = s.client.get("/api/v1/metrics/concentration", headers=h)
        routed = s.client.get("/api/v1/metrics", headers=h)  # an ordinary route, same token
        _same(fast, routed)


def test_query_parsing_by_hand() -> None:
    assert _query(b"") == (0, 50, None, None)
    assert _query(b"offset=10&limit=500&target=gpu&x=1") == (10, 500, None, "gpu")
    assert _query(b"limit=501") is None and _query(b"offset=1000000001") is None
    assert _query(b"coalition=a&coalition=b") is None


def test_rule_is_read_from_the_route(svc: Service) -> None:
    assert route_rule(svc.app) == ("viewer", False, False)


def test_one_principal_check_per_token_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """20 requests with one uncached token: one store check, every request gets its principal;
    a refused token's error reaches every waiter; the next check after it starts afresh."""
    import asyncio
    import time
    from types import SimpleNamespace

    from paxsilica.server import auth
    from paxsilica.server.errors import ApiError

    calls: list[str] = []

    def check(request, token):  # type: ignore[no-untyped-def]
        calls.append(token)
        time.sleep(0.05)
        if token == "bad":
            raise ApiError(401, "invalid or expired access token")
        return auth.Principal(1, "u", 1, "viewer", False, "token", "user:1"), time.time() + 60

    monkeypatch.setattr(auth, "_principal_from", check)
    state = SimpleNamespace(principals=auth.PrincipalCache(ttl=60), principal_flights={})
    request = SimpleNamespace(app=SimpleNamespace(state=state))

    async def many(token: str) -> list:  # type: ignore[type-arg]
        return await asyncio.gather(*(auth.lookup_principal(request, token) for _ in range(20)),
                                    return_exceptions=True)

    got = asyncio.run(many("good"))
    assert calls == ["good"] and len({id(p) for p in got}) == 1 and got[0].username == "u"
    bad = asyncio.run(many("bad"))
    assert calls == ["good", "bad"] and all(isinstance(e, ApiError) and e.status == 401 for e in bad)
    assert state.principal_flights == {}
    asyncio.run(many("bad"))
    assert calls == ["good", "bad", "bad"]  # a failure is never cached
