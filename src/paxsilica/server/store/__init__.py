"""Persistence: SQLAlchemy engine and sessions, alembic migrations, the hash-chained audit log.

SQLite (the embedded default) and PostgreSQL (by URL, psycopg 3) are both supported; the schema is
created and upgraded only by the alembic migrations shipped in ``migrations/``.

Examples
--------
>>> import tempfile, pathlib
>>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 's.db'}"
>>> store = Store(url)
>>> store.upgrade()
>>> with store.session() as s:
...     s.query(Organisation).count()
0
>>> store.dispose()
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .models import (
    ORG_KINDS,
    ROLES,
    RUN_STATES,
    ApiKey,
    AuditEntry,
    AuditHead,
    Base,
    LoginFailure,
    Organisation,
    RefreshToken,
    Run,
    Scenario,
    Upload,
    User,
    new_id,
    utcnow,
)

MIGRATIONS = Path(__file__).with_name("migrations")

__all__ = ["MIGRATIONS", "ORG_KINDS", "ROLES", "RUN_STATES", "ApiKey", "AuditEntry", "AuditHead", "Base",
           "LoginFailure", "Organisation", "RefreshToken", "Run", "Scenario", "Store", "Upload", "User", "new_id",
           "utcnow"]


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL: readers do not block the writer; synchronous=FULL: a commit survives a power cut;
    # busy_timeout: concurrent writers wait instead of failing.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    # pysqlite starts transactions lazily and only before writes; BEGIN at the start of every
    # transaction makes a read-then-write (the audit chain, lockout counters) one atomic unit.
    # Writers take the write lock at BEGIN (IMMEDIATE), so a read-then-write never meets a stale
    # snapshot (SQLITE_BUSY_SNAPSHOT); readers begin deferred and do not block each other.
    immediate = conn.get_execution_options().get("paxsilica_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Store:
    """The database of one service: engine, sessions and migrations.

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``sqlite:///file`` or ``postgresql+psycopg://...``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split(":///", 1)[1] if ":///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30,
                                                      "isolation_level": None})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.engine: Engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._writers = sessionmaker(engine.execution_options(paxsilica_write=True),
                                     expire_on_commit=False)

    @contextlib.contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error.

        ``write=True`` for transactions that change something: on SQLite they hold the write lock
        from the start (concurrent writers wait their turn instead of failing).
        """
        with (self._writers if write else self._sessions)() as s, s.begin():
            yield s

    def upgrade(self, revision: str = "head") -> None:
        """Apply the shipped alembic migrations up to ``revision``."""
        from alembic import command

        with self.engine.begin() as conn:
            command.upgrade(self.alembic_config(conn), revision)

    def alembic_config(self, connection=None):  # type: ignore[no-untyped-def]
        """An alembic ``Config`` pointing at the shipped migrations (and ``connection``, if given)."""
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        cfg.attributes["connection"] = connection
        return cfg

    def current_revision(self) -> str | None:
        """The alembic revision the database is at (``None`` before the first upgrade)."""
        with self.engine.connect() as conn:
            try:
                row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
            except Exception:
                return None
        return None if row is None else str(row[0])

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
