"""``create_app(settings)``: the FastAPI application of ``paxsilica serve``.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> app = create_app(Settings.from_env(db_url=f"sqlite:///{d / 's.db'}", files_dir=d))
>>> "/api/v1/runs" in app.openapi()["paths"]
True
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi_offline import FastAPIOffline
from sqlalchemy import select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from . import dashboard, errors
from .auth import FailureTracker, PrincipalCache, RateLimiter
from .fastpath import MetricFastPath
from .routers import admin, atlas, auth, views, work
from .runs import RunManager
from .schemas import Health
from .settings import Settings
from .store import Store, Upload

log = logging.getLogger("paxsilica.server")


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with a JSON 413 (declared or streamed), and give
    every response its request id (``X-Request-ID``; the id 5xx answers carry). A plain ASGI
    middleware: Starlette's ``@app.middleware("http")`` costs about a millisecond a request."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["request_id"] = secrets.token_hex(8)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        refused = False

        async def counting() -> Message:
            nonlocal seen, refused
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    refused = True
                    raise _TooLarge()
            return msg

        started = False

        rid = scope["state"]["request_id"].encode()

        async def tracking(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
                msg["headers"] = [*msg.get("headers", ()), (b"x-request-id", rid)]
            await send(msg)

        try:
            await self.app(scope, counting, tracking)
        except _TooLarge:
            if not started:
                await self._refuse(send)
        except Exception:
            if refused and not started:
                await self._refuse(send)
            else:
                raise

    async def _refuse(self, send: Send) -> None:
        import json

        body = json.dumps({"detail": f"request body larger than {self.limit} bytes", "field": None}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def _remove_orphans(store: Store, settings: Settings) -> int:
    """Delete upload files no committed row references (left by a crash between the two)."""
    folder = settings.files_dir / "uploads"
    if not folder.exists():
        return 0
    with store.session() as s:
        known = {str(settings.files_dir / p) for p in s.execute(select(Upload.path)).scalars()}
    n = 0
    for f in folder.rglob("*"):
        if f.is_file() and str(f) not in known:
            f.unlink(missing_ok=True)
            n += 1
    for d in folder.iterdir():
        if d.is_dir() and d.name.startswith(".tmp."):
            shutil.rmtree(d, ignore_errors=True)
    return n


def _warm_atlas(path: str | None) -> None:
    """Read and validate the public atlas before the first request (so requests only look it up);
    an invalid atlas is reported by the endpoints that need it, the server still starts."""
    from ..errors import PaxsilicaError
    from . import domain

    try:
        domain.public_atlas(path)
    except PaxsilicaError as exc:
        log.error("public atlas not usable: %s", exc)
    domain.settle_heap()


def create_app(settings: Settings, *, atlas_path: str | None = None, migrate: bool = True,
               start_workers: bool = True, cleanup: bool = True, settle_heap: bool = False) -> FastAPI:
    """Build the application.

    Parameters
    ----------
    settings : Settings
    atlas_path : str, optional
        Public atlas (default: the bundled ``ai-stack``).
    migrate : bool
        Apply the alembic migrations at start-up (``paxsilica serve`` does).
    start_workers : bool
        Start the run workers with the app (tests that never run anything may skip them).
    cleanup : bool
        Remove upload files no row references at start-up. Several server processes on one
        database clean once, before any of them serves (``paxsilica serve --workers N`` does it
        in the parent): a process starting later must not delete a file another process has
        written but not yet committed.
    settle_heap : bool
        Freeze the long-lived heap after start-up and after each cached table
        (:func:`~paxsilica.server.domain.settle_heap`; ``paxsilica serve`` does, tests do not).
    """
    settings = settings.with_secret()
    store = Store(settings.db_url)
    if settle_heap:
        from . import domain

        domain.SETTLE_HEAP["on"] = True

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            store.upgrade()
        if cleanup:
            _remove_orphans(store, settings)
        await run_in_threadpool(_warm_atlas, atlas_path)
        if start_workers:
            app.state.runs.start()
        try:
            yield
        finally:
            if start_workers:
                app.state.runs.stop()
            store.dispose()

    app = FastAPIOffline(
        title="paxsilica",
        version=__version__,
        description="Security of the supply chains behind AI: the public atlas for every partner, and each "
                    "organisation's confidential data for its members only. Authenticate with "
                    "`Authorization: Bearer <access token or API key>`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.atlas_path = atlas_path
    app.state.limiter = RateLimiter(settings.rate_per_minute)
    app.state.failures = FailureTracker(store)
    app.state.principals = PrincipalCache()
    app.state.principal_flights = {}  # token -> the check of it in progress (auth.lookup_principal)
    app.state.runs = RunManager(store, settings, atlas_path)
    errors.install(app)
    app.add_middleware(MetricFastPath)  # inside BodyLimit: its answers get the request id too
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    @app.get("/api/v1/health", response_model=Health, tags=["health"], summary="Liveness")
    def health() -> Health:
        return Health(status="ok", version=__version__)

    for r in (auth.router, admin.router, atlas.router, work.router, views.router):
        app.include_router(r)
    dashboard.install(app)
    return app


ENV_ATLAS = "PAXSILICA_SERVE_ATLAS"
ENV_PROCESSES = "PAXSILICA_SERVE_PROCESSES"
"""How ``paxsilica serve --workers N`` tells its server processes the public atlas and their number."""


def process_settings(settings: Settings, processes: int) -> Settings:
    """The settings of one of ``processes`` server processes: the per-token rate limit is shared
    out, so that all of them together never allow more than ``rate_per_minute`` (rounded up).

    Examples
    --------
    >>> s = Settings.from_env(db_url="sqlite:///x.db", rate_per_minute=600)
    >>> process_settings(s, 4).rate_per_minute, process_settings(s, 1).rate_per_minute
    (150, 600)
    """
    import dataclasses
    import math

    n = max(1, processes)
    return dataclasses.replace(settings, rate_per_minute=max(1, math.ceil(settings.rate_per_minute / n)))


def app_from_env() -> FastAPI:
    """The application of one server process of ``paxsilica serve --workers N`` (uvicorn's factory):
    settings from the ``PAXSILICA_*`` environment the parent set; the parent has already migrated
    the database, created the signing key and removed orphan files."""
    import os

    processes = int(os.environ.get(ENV_PROCESSES) or 1)
    settings = process_settings(Settings.from_env(), processes)
    return create_app(settings, atlas_path=os.environ.get(ENV_ATLAS) or None, migrate=False, cleanup=False,
                      settle_heap=True)
