"""The cached metric page without the framework: a raw ASGI layer in front of FastAPI.

``GET /api/v1/metrics/{metric}`` is the API's hot path, and once a page is cached, what is left of
a request's cost is FastAPI's routing and dependency solving (about 0.6 ms of ~1 ms). This layer
answers such a request itself **only when everything is already known**: the credential's
principal is in the :class:`~paxsilica.server.auth.PrincipalCache` (checked by
:func:`~paxsilica.server.auth.require` within its time to live), its role and operator flag pass
the route's own ``require`` rule (read from the route, not restated), the query parameters are
plain values the route would accept, and the page is in the result cache. It then takes the
request from the same per-token rate limiter (answering the same 429) and sends the same bytes and
headers as the route. On anything else — no or unknown credential, a role the rule refuses, an
unusual or invalid parameter, a page not computed yet — it does nothing and FastAPI answers, so
every refusal is the framework's. The route stays declared (the OpenAPI schema is unchanged) and
the authorization matrix test goes through this layer like any client.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi.security.utils import get_authorization_scheme_param
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from . import domain
from .auth import Principal, PrincipalCache, RateLimiter

PATH = re.compile(r"^/api/v1/metrics/([^/]+)$")
ROUTE = "/api/v1/metrics/{metric}"
_INT = re.compile(r"^(0|[1-9][0-9]{0,9})$")
_JSON = (b"content-type", b"application/json")


def _int(raw: str | None, default: int, lo: int, hi: int) -> int | None:
    """A query integer exactly as the route's ``Query(ge=lo, le=hi)`` accepts it, else ``None``
    (anything doubtful, such as ``+1`` or `` 1``, is left to FastAPI)."""
    if raw is None:
        return default
    if not _INT.match(raw):
        return None
    v = int(raw)
    return v if lo <= v <= hi else None


def _query(raw: bytes) -> tuple[int, int, str | None, str | None] | None:
    """``(offset, limit, coalition, target)`` of a plain query string, or ``None``."""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)  # as Starlette's QueryParams
    got: dict[str, str] = {}
    for k, v in pairs:
        if k in got:  # a repeated parameter: leave it to the framework's rules
            return None
        got[k] = v
    offset = _int(got.get("offset"), 0, 0, 1_000_000_000)
    limit = _int(got.get("limit"), 50, 1, 500)
    coalition, target = got.get("coalition"), got.get("target")
    if offset is None or limit is None or any(x is not None and len(x) > 100 for x in (coalition, target)):
        return None
    return offset, limit, coalition, target


def route_rule(app: Any) -> tuple[str, bool, bool]:
    """``(lowest role, operator only, session only)`` of the metric route's ``require`` dependency."""
    from fastapi.routing import APIRoute

    stack = list(app.routes)
    while stack:
        r = stack.pop()
        if hasattr(r, "original_router"):  # an included router, kept nested by newer FastAPI
            stack.extend(r.original_router.routes)
            continue
        if isinstance(r, APIRoute) and r.path == ROUTE and "GET" in r.methods:
            deps = list(r.dependant.dependencies)
            while deps:
                d = deps.pop()
                if hasattr(d.call, "min_role"):
                    return d.call.min_role, d.call.operator, getattr(d.call, "session_only", False)
                deps.extend(d.dependencies)
            raise RuntimeError(f"{ROUTE} has no require() dependency")
        if not hasattr(r, "app"):
            stack.extend(getattr(r, "routes", ()))
    raise RuntimeError(f"no route {ROUTE}")


class MetricFastPath:
    """ASGI middleware: a cached metric page answered before routing (see the module's text)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._rule: tuple[str, bool, bool] | None = None

    def _page(self, scope: Scope) -> tuple[bytes, Principal] | None:
        """The cached page and principal of a request this layer may answer, else ``None``."""
        m = PATH.match(scope["path"])
        if m is None or scope.get("root_path"):
            return None
        header = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                if header is not None:
                    return None
                header = v
        if header is None:
            return None
        scheme, token = get_authorization_scheme_param(header.decode("latin-1"))  # HTTPBearer's reading
        if scheme.lower() != "bearer" or not token:
            return None
        state = scope["app"].state
        cache: PrincipalCache = state.principals
        p = cache.get(token)
        if p is None:  # unknown here: require() checks it (and caches it for the next request)
            return None
        role, operator, session_only = self._rule  # type: ignore[misc]
        if (operator and not p.is_operator) or not p.at_least(role) or (session_only and p.via != "token"):
            return None
        q = _query(scope.get("query_string", b""))
        if q is None:
            return None
        atlas = domain.public_atlas(state.atlas_path)
        body = domain.cached_metric_page(atlas, m.group(1), q[2], q[3], q[0], q[1])
        return None if body is None else (body, p)

    @staticmethod
    def _in_flight(scope: Scope) -> Any:
        """The check in progress of this request's bearer token (``auth.lookup_principal``), if any."""
        for k, v in scope["headers"]:
            if k == b"authorization":
                scheme, token = get_authorization_scheme_param(v.decode("latin-1"))
                if scheme.lower() == "bearer" and token:
                    return scope["app"].state.principal_flights.get(token)
                return None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        if self._rule is None:  # outside the try: a missing route or rule must fail loudly
            self._rule = route_rule(scope["app"])
        try:
            hit = self._page(scope)
            if hit is None and (fut := self._in_flight(scope)) is not None:
                await asyncio.shield(fut)  # the token is being checked: its principal is cached next
                hit = self._page(scope)
        except Exception:  # e.g. an unusable public atlas, a refused token: the route answers
            hit = None
        if hit is None:
            await self.app(scope, receive, send)
            return
        body, p = hit
        limiter: RateLimiter = scope["app"].state.limiter
        wait = limiter.take(p.credential)
        if wait > 0:  # the answer require() gives
            await JSONResponse({"detail": "rate limit exceeded for this token", "field": None}, status_code=429,
                               headers={"Retry-After": str(int(wait) + 1)})(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode()), _JSON]})
        await send({"type": "http.response.body", "body": body})
