"""Helpers for the service's tests: a throwaway PostgreSQL cluster, fresh databases, seeded
organisations and users. Used by ``tests/test_server_*.py``; nothing here runs in production.

PostgreSQL comes from ``$PAXSILICA_TEST_PG_URL`` (a server URL whose user may create databases),
else a cluster started with the Debian binaries (``/usr/lib/postgresql/*/bin``) in a temporary
folder (as root, run by the ``postgres`` user). Without either, PostgreSQL tests skip, except
when ``CI`` is set: then they fail.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PASSWORD = "correct-horse-battery-staple"
"""Password of every seeded user."""

_CLUSTER: dict[str, str] = {}


def in_ci() -> bool:
    """Whether the tests run in CI (where nothing may skip)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_pg_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def start_cluster() -> str:
    """Start (once per process) a throwaway PostgreSQL cluster; its server URL."""
    if "url" in _CLUSTER:
        return _CLUSTER["url"]
    bindir = _pg_bin()
    if bindir is None:
        raise RuntimeError("no PostgreSQL binaries (install Debian's 'postgresql' package)")
    root = Path(tempfile.mkdtemp(prefix="paxsilica-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        os.chmod(root, 0o700)
    port = _free_port()
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200"
    for cmd in ([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                 "--no-instructions"],
                [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"]):
        done = subprocess.run(_as_pg_user(cmd), capture_output=True, text=True, env=env)
        if done.returncode:  # say why (e.g. a broken /dev/null), not just the exit code
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {(done.stderr or done.stdout).strip()[-800:]}")

    def stop() -> None:
        subprocess.run(_as_pg_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True, env=env)
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    _CLUSTER["url"] = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    return _CLUSTER["url"]


def pg_server_url() -> str | None:
    """URL of a PostgreSQL server for tests, or ``None`` when there is none on this machine."""
    env = os.environ.get("PAXSILICA_TEST_PG_URL", "").strip()
    if env:
        from .settings import normalise_url

        return normalise_url(env)
    if _pg_bin() is None:
        return None
    return start_cluster()


@contextlib.contextmanager
def pg_database(server_url: str) -> Iterator[str]:
    """A new empty database on the server (dropped afterwards); its URL."""
    name = "pxs_" + secrets.token_hex(6)
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                      {"n": name})
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh database of ``kind`` ("sqlite" or "postgresql"); raises LookupError when the
    machine has no PostgreSQL (the caller skips, or fails in CI)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'service.db'}"
        return
    server = pg_server_url()
    if server is None:
        raise LookupError("no PostgreSQL server or binaries on this machine")
    with pg_database(server) as url:
        yield url


@dataclass
class Seed:
    """Ids of the seeded organisations and users."""

    orgs: dict[str, int]
    users: dict[str, int]


SEED_USERS = {
    # username: (organisation, role, operator)
    "a_viewer": ("ministry_a", "viewer", False),
    "a_analyst": ("ministry_a", "analyst", False),
    "a_admin": ("ministry_a", "admin", False),
    "b_viewer": ("company_b", "viewer", False),
    "b_analyst": ("company_b", "analyst", False),
    "b_admin": ("company_b", "admin", False),
    "operator": ("secretariat", "admin", True),
}


def seed(store, fast_hash: bool = True) -> Seed:  # type: ignore[no-untyped-def]
    """Create three organisations (two partners and the secretariat) and a user per role."""
    from .auth import hash_password
    from .store import Organisation, User

    pw = hash_password(PASSWORD, fast=fast_hash)
    orgs: dict[str, int] = {}
    users: dict[str, int] = {}
    with store.session(write=True) as s:
        for name, kind in (("ministry_a", "ministry"), ("company_b", "company"), ("secretariat", "secretariat")):
            o = Organisation(name=name, kind=kind)
            s.add(o)
            s.flush()
            orgs[name] = o.id
        for uname, (org, role, op) in SEED_USERS.items():
            u = User(org_id=orgs[org], username=uname, password_hash=pw, role=role, is_operator=op)
            s.add(u)
            s.flush()
            users[uname] = u.id
    return Seed(orgs, users)


# --------------------------------------------------------------------------- pytest fixtures
# Imported by the test modules (``from paxsilica.server.testing import db_url, service``).

import pytest  # noqa: E402  (only the tests import this module)

DB_KINDS = ("sqlite", "postgresql")


@pytest.fixture(params=DB_KINDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: once on SQLite, once on PostgreSQL."""
    try:
        with database(request.param, tmp_path) as url:
            yield url
    except LookupError as exc:
        if in_ci():
            pytest.fail(f"PostgreSQL tests must run in CI: {exc}")
        pytest.skip(str(exc))


@dataclass
class Service:
    """A running app (TestClient), its store, the seed, and login helpers."""

    client: object
    app: object
    seed: Seed
    files: Path

    def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        r = self.client.post("/api/v1/auth/login", json={"username": username, "password": password})  # type: ignore[attr-defined]
        assert r.status_code == 200, r.text
        return {"Authorization": "Bearer " + r.json()["access_token"]}

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.app.state.store  # type: ignore[attr-defined]


def make_service(url: str, folder: Path, *, start_workers: bool = True,
                 **settings: object) -> contextlib.AbstractContextManager[Service]:
    """A service on ``url`` with files in ``folder`` (a context manager)."""
    from fastapi.testclient import TestClient

    from .app import create_app
    from .settings import Settings

    @contextlib.contextmanager
    def run() -> Iterator[Service]:
        kw = {"argon2_fast": True, "rate_per_minute": 100_000, "secret": "test-secret-" + "x" * 32, **settings}
        app = create_app(Settings.from_env(db_url=url, files_dir=folder / "files", **kw),
                         start_workers=start_workers)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Service(client, app, seed(app.state.store), folder / "files")

    return run()


@pytest.fixture
def service(db_url: str, tmp_path: Path) -> Iterator[Service]:
    """The app on each database, seeded with two partner organisations and the secretariat."""
    with make_service(db_url, tmp_path) as svc:
        yield svc
