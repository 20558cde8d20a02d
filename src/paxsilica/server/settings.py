"""Configuration of the service: one frozen dataclass, read from arguments or the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path


def data_dir() -> Path:
    """The user's data folder for paxsilica: ``$XDG_DATA_HOME/paxsilica`` (default ``~/.local/share``).

    Examples
    --------
    >>> data_dir().name
    'paxsilica'
    """
    base = os.environ.get("XDG_DATA_HOME") or ""
    root = Path(base) if Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "paxsilica"


def default_db_url() -> str:
    """The embedded default: a SQLite file ``service.db`` in :func:`data_dir`.

    Examples
    --------
    >>> default_db_url().startswith("sqlite:///") and default_db_url().endswith("service.db")
    True
    """
    return f"sqlite:///{data_dir() / 'service.db'}"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    """Everything the service is configured with.

    Parameters
    ----------
    db_url : str
        SQLAlchemy URL: ``sqlite:///path`` or ``postgresql+psycopg://user@host/db``.
    files_dir : Path
        Folder of the uploaded tables and run results (Parquet/JSON files the store references).
    secret : str
        Key that signs the JWT access tokens. Without ``PAXSILICA_SECRET`` a key is generated and
        kept in ``files_dir/secret.key`` (mode 0600) so tokens survive a restart.
    access_minutes : int
        Lifetime of an access token (default 15).
    refresh_days : int
        Lifetime of a refresh token (default 7).
    rate_per_minute : int
        Requests per minute per token (or per client address when anonymous); bursts up to this.
    max_body_bytes : int
        Largest request body accepted (default 20 MiB).
    workers : int
        Simulations running at once (each in its own process).
    run_timeout_s : float
        A run still going after this is stopped and marked failed.
    lockout_after : int
        Failed logins of one account before it is locked (then exponential backoff).
    address_failures : int
        Failed logins from one client address within 15 minutes before it must wait.

    Examples
    --------
    >>> s = Settings.from_env(db_url="sqlite:///x.db", files_dir=Path("/tmp/pxs"))
    >>> s.access_minutes, s.db_url
    (15, 'sqlite:///x.db')
    """

    db_url: str
    files_dir: Path
    secret: str = field(repr=False, default="")
    access_minutes: int = 15
    refresh_days: int = 7
    rate_per_minute: int = 600
    max_body_bytes: int = 20 * 1024 * 1024
    workers: int = 1
    run_timeout_s: float = 600.0
    lockout_after: int = 5
    address_failures: int = 20
    argon2_fast: bool = False  # tests only: cheaper argon2 parameters

    @classmethod
    def from_env(cls, db_url: str | None = None, files_dir: Path | None = None, **kw: object) -> Settings:
        """Settings from arguments, then ``PAXSILICA_*`` environment variables, then defaults."""
        url = db_url or os.environ.get("PAXSILICA_DB_URL") or default_db_url()
        folder = files_dir or Path(os.environ.get("PAXSILICA_FILES_DIR") or data_dir() / "files")
        base = cls(db_url=normalise_url(url), files_dir=Path(folder),
                   secret=os.environ.get("PAXSILICA_SECRET", ""),
                   rate_per_minute=_env_int("PAXSILICA_RATE_PER_MINUTE", 600),
                   workers=_env_int("PAXSILICA_WORKERS", 1),
                   max_body_bytes=_env_int("PAXSILICA_MAX_BODY_BYTES", 20 * 1024 * 1024))
        return replace(base, **kw)  # type: ignore[arg-type]

    def with_secret(self) -> Settings:
        """These settings with a signing key (generated once and kept in ``files_dir``)."""
        if self.secret:
            return self
        path = self.files_dir / "secret.key"
        if not path.exists():
            from ..fsutil import atomic_write

            atomic_write(path, secrets.token_urlsafe(48), mode=0o600)
        return replace(self, secret=path.read_text(encoding="utf-8").strip())


def normalise_url(url: str) -> str:
    """Use psycopg 3 for a plain ``postgresql://`` URL.

    Examples
    --------
    >>> normalise_url("postgresql://u@h/db")
    'postgresql+psycopg://u@h/db'
    >>> normalise_url("sqlite:///a.db")
    'sqlite:///a.db'
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
