"""Authentication and authorization: passwords (argon2), JWT access tokens, rotating refresh
tokens, API keys, login lockout and backoff, rate limits, and :func:`require`, the ONE dependency
every endpoint uses to learn who calls and whether their organisation and role allow it.

Secrets the service hands out (refresh tokens, API keys) are 256-bit random strings: at rest only
their SHA-256 is kept (a slow hash adds nothing to a secret that cannot be guessed); passwords,
which people choose, are hashed with argon2id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .errors import ApiError
from .store import ROLES, ApiKey, LoginFailure, Organisation, RefreshToken, User, new_id, utcnow

KEY_PREFIX = "pxs"
"""API keys look like ``pxs_<id>_<secret>``: the id finds the row, the secret is checked."""


def role_rank(role: str) -> int:
    """Rank of a role (viewer 0, analyst 1, admin 2).

    Examples
    --------
    >>> role_rank("viewer") < role_rank("analyst") < role_rank("admin")
    True
    """
    return ROLES.index(role)


def hasher(fast: bool = False) -> PasswordHasher:
    """argon2id with the library's defaults (RFC 9106 low-memory); ``fast`` for tests only."""
    if fast:
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


def hash_password(password: str, fast: bool = False) -> str:
    """The argon2id hash of a password (a PHC string with its own salt and parameters)."""
    return hasher(fast).hash(password)


def check_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant time in the library).

    Examples
    --------
    >>> h = hash_password("s3cret-pass", fast=True)
    >>> check_password(h, "s3cret-pass"), check_password(h, "wrong")
    (True, False)
    """
    try:
        return PasswordHasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def secret_hash(secret: str) -> str:
    """SHA-256 (hex) of a random secret handed out by the service."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


_DUMMY_HASH: dict[bool, str] = {}


def dummy_check(password: str, fast: bool) -> None:
    """Spend the time of one password check, for unknown users (no timing difference)."""
    if fast not in _DUMMY_HASH:
        _DUMMY_HASH[fast] = hash_password(secrets.token_hex(8), fast=fast)
    check_password(_DUMMY_HASH[fast], password)


# --------------------------------------------------------------------------- principal


@dataclass(frozen=True)
class Principal:
    """Who is calling: user, organisation, effective role (an API key's role may be lower)."""

    user_id: int
    username: str
    org_id: int
    role: str
    is_operator: bool
    via: str  # "token" or "key"
    credential: str  # token subject or key id: the rate-limit bucket
    org_name: str = ""

    def at_least(self, role: str) -> bool:
        return role_rank(self.role) >= role_rank(role)


# --------------------------------------------------------------------------- tokens


def issue_access(user: User, secret: str, minutes: int) -> tuple[str, int]:
    """A signed JWT access token for ``user`` and its lifetime in seconds."""
    now = int(time.time())
    exp = now + 60 * minutes
    claims = {"sub": str(user.id), "org": user.org_id, "role": user.role, "typ": "access",
              "iat": now, "exp": exp, "jti": new_id()}
    return jwt.encode(claims, secret, algorithm="HS256"), exp - now


def decode_access(token: str, secret: str) -> dict[str, Any] | None:
    """The claims of a valid, unexpired access token, else ``None``."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return None
    return claims if claims.get("typ") == "access" else None


def issue_refresh(session: Session, user: User, days: int, family: str | None = None) -> str:
    """A new refresh token (stored hashed) in ``family`` (a login starts a new family)."""
    token = secrets.token_urlsafe(32)
    session.add(RefreshToken(id=new_id(), user_id=user.id, family=family or new_id(),
                             token_hash=secret_hash(token),
                             expires_at=utcnow() + dt.timedelta(days=days)))
    return token


def rotate_refresh(session: Session, token: str, days: int) -> tuple[User, str] | None:
    """Exchange a refresh token for a new one (the old one is revoked).

    Presenting a token that was already used revokes its whole family: a stolen and replayed
    token ends the thief's session and the owner's, who logs in again.
    """
    row = session.execute(select(RefreshToken).where(RefreshToken.token_hash == secret_hash(token))
                          ).scalar_one_or_none()
    if row is None:
        return None
    now = utcnow()
    if row.revoked_at is not None:
        for r in session.execute(select(RefreshToken).where(RefreshToken.family == row.family,
                                                            RefreshToken.revoked_at.is_(None))).scalars():
            r.revoked_at = now
        return None
    if row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    row.revoked_at = now
    return user, issue_refresh(session, user, days, family=row.family)


def revoke_refresh(session: Session, token: str) -> bool:
    """Revoke a refresh token's family (logout); whether it was known."""
    row = session.execute(select(RefreshToken).where(RefreshToken.token_hash == secret_hash(token))
                          ).scalar_one_or_none()
    if row is None:
        return False
    now = utcnow()
    for r in session.execute(select(RefreshToken).where(RefreshToken.family == row.family)).scalars():
        r.revoked_at = r.revoked_at or now
    return True


def new_api_key() -> tuple[str, str, str]:
    """``(id, full key shown once, hash stored)``.

    Examples
    --------
    >>> kid, key, h = new_api_key()
    >>> key.startswith(f"pxs_{kid}_"), h == secret_hash(key)
    (True, True)
    """
    kid = secrets.token_hex(8)
    key = f"{KEY_PREFIX}_{kid}_{secrets.token_urlsafe(32)}"
    return kid, key, secret_hash(key)


# --------------------------------------------------------------------------- lockout and rate limits


class FailureTracker:
    """Failed logins per client address and per unknown username, in the store: every server
    process sees the same counts (``paxsilica serve --workers N``, or several hosts), so an unknown
    name is locked exactly like a known one (whose count is on its ``users`` row) and lockout
    reveals nothing, whichever process answers.

    An address may fail ``limit`` times in a window of 15 minutes from its first failure; an
    unknown name is locked with the same backoff as an account. Rows untouched for a day are
    pruned now and then (bounded under a spray of names).
    """

    WINDOW_S = 15 * 60
    PRUNE_AFTER = dt.timedelta(days=1)

    def __init__(self, store: Any) -> None:
        self.store = store

    def _row(self, key: str) -> LoginFailure | None:
        with self.store.session() as s:
            return s.get(LoginFailure, key)

    def _bump(self, key: str, change: Any) -> None:
        """Add a failure to ``key``'s row in one write transaction (``change(row, now)`` updates it);
        a row created by another process at the same moment is retried once."""
        from sqlalchemy.exc import IntegrityError

        for attempt in (0, 1):
            try:
                with self.store.session(write=True) as s:
                    now = utcnow()
                    row = s.get(LoginFailure, key, with_for_update=True)
                    if row is None:
                        row = LoginFailure(key=key, failures=0, first_at=now, last_at=now)
                        s.add(row)
                    change(row, now)
                    row.last_at = now
                    if secrets.randbelow(200) == 0:
                        s.execute(delete(LoginFailure).where(LoginFailure.last_at < now - self.PRUNE_AFTER))
                return
            except IntegrityError:
                if attempt:
                    raise

    def address_blocked(self, address: str, limit: int) -> int:
        """Seconds the address must wait (0: may try)."""
        row = self._row("addr:" + address)
        if row is None:
            return 0
        left = (row.first_at - utcnow()).total_seconds() + self.WINDOW_S
        if left <= 0 or row.failures < limit:
            return 0
        return max(1, int(left))

    def address_failed(self, address: str) -> None:
        def change(row: LoginFailure, now: dt.datetime) -> None:
            if (now - row.first_at).total_seconds() >= self.WINDOW_S:  # a new window
                row.failures, row.first_at = 0, now
            row.failures += 1

        self._bump("addr:" + address, change)

    def unknown_locked(self, name: str) -> float:
        row = self._row("name:" + name)
        if row is None or row.locked_until is None:
            return 0.0
        return max(0.0, (row.locked_until - utcnow()).total_seconds())

    def unknown_failed(self, name: str, after: int) -> None:
        def change(row: LoginFailure, now: dt.datetime) -> None:
            row.failures += 1
            delay = backoff_seconds(row.failures, after)
            row.locked_until = now + dt.timedelta(seconds=delay) if delay else None

        self._bump("name:" + name, change)


def backoff_seconds(failures: int, after: int) -> float:
    """Lock time after ``failures`` consecutive failures: none before ``after``, then 2, 4, 8 …
    seconds, at most 15 minutes.

    Examples
    --------
    >>> [backoff_seconds(n, 5) for n in (4, 5, 6, 7, 30)]
    [0.0, 2.0, 4.0, 8.0, 900.0]
    """
    if failures < after:
        return 0.0
    return float(min(900, 2 ** (failures - after + 1)))


class RateLimiter:
    """A token bucket per credential: ``per_minute`` requests a minute, bursts of as many."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """Take one request; 0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


# --------------------------------------------------------------------------- principals, cached briefly


class PrincipalCache:
    """Who a credential is, remembered for ``ttl`` seconds (bounded; thread-safe).

    Checking a credential costs a signature check and a database read; a client sending many
    requests with one token pays it once a second instead of every time. Anything in this process
    that changes what a credential may do (a role change, a disabled user, a revoked key) calls
    :meth:`clear`, so it applies to the next request; another process (``paxsilica user disable``,
    a second server process) is seen within ``ttl``. Failures are never cached.

    Examples
    --------
    >>> c = PrincipalCache(ttl=60)
    >>> p = Principal(1, "alice", 1, "viewer", False, "token", "user:1")
    >>> c.put("tok", p, valid_until=time.time() + 600)
    >>> c.get("tok") is p, c.get("other")
    (True, None)
    >>> c.clear(); c.get("tok") is None
    True
    """

    def __init__(self, ttl: float = 1.0, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._lock = threading.Lock()
        self._data: dict[str, tuple[Principal, float, float]] = {}

    def get(self, credential: str) -> Principal | None:
        """The cached principal of ``credential``, or ``None`` (unknown, older than ``ttl``, or the
        credential itself has expired since)."""
        hit = self._data.get(credential)
        if hit is None:
            return None
        p, seen, valid_until = hit
        if time.monotonic() - seen > self.ttl or time.time() >= valid_until:
            with self._lock:
                self._data.pop(credential, None)
            return None
        return p

    def put(self, credential: str, p: Principal, valid_until: float) -> None:
        """Remember ``p`` for ``credential`` until ``ttl`` passes or ``valid_until`` (epoch seconds,
        the token's or key's expiry) comes, whichever is first."""
        with self._lock:
            if len(self._data) >= self.size:  # bounded under a spray of tokens: start again
                self._data.clear()
            self._data[credential] = (p, time.monotonic(), valid_until)

    def clear(self) -> None:
        """Forget every credential (after a role, user or key change)."""
        with self._lock:
            self._data.clear()


def credentials_changed(request: Request) -> None:
    """Say that a user's role or state, or a key, changed: cached principals are dropped."""
    request.app.state.principals.clear()


# --------------------------------------------------------------------------- the dependency

bearer = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login, or an "
                    "API key (pxs_...).")


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy, uvicorn's --proxy-headers puts the real one here)."""
    return request.client.host if request.client else "-"


def _principal_from(request: Request, token: str) -> tuple[Principal, float]:
    """Check ``token`` (an access token or an API key) against the store: the principal, and the
    epoch second at which the credential expires."""
    state = request.app.state
    with state.store.session() as s:
        if token.startswith(KEY_PREFIX + "_"):
            parts = token.split("_", 2)
            key = s.get(ApiKey, parts[1]) if len(parts) == 3 else None
            now = utcnow()
            if (key is None or not hmac.compare_digest(key.key_hash, secret_hash(token))
                    or key.revoked_at is not None or key.expires_at <= now):
                raise ApiError(401, "invalid, expired or revoked API key",
                               headers={"WWW-Authenticate": "Bearer"})
            user = s.get(User, key.user_id)
            if user is None or user.disabled:
                raise ApiError(401, "the key's user is disabled", headers={"WWW-Authenticate": "Bearer"})
            # a key never has more rights than its user has now
            role = key.role if role_rank(key.role) <= role_rank(user.role) else user.role
            return (Principal(user.id, user.username, user.org_id, role, user.is_operator, "key",
                              f"key:{key.id}", _org_name(s, user.org_id)), _epoch(key.expires_at))
        claims = decode_access(token, state.settings.secret)
        if claims is None:
            raise ApiError(401, "invalid or expired access token", headers={"WWW-Authenticate": "Bearer"})
        user = s.get(User, int(claims["sub"]))
        if user is None or user.disabled:
            raise ApiError(401, "invalid or expired access token", headers={"WWW-Authenticate": "Bearer"})
        # the role and organisation are read now, so a change applies at once, not at expiry
        return (Principal(user.id, user.username, user.org_id, user.role, user.is_operator, "token",
                          f"user:{user.id}", _org_name(s, user.org_id)), float(claims["exp"]))


def _org_name(s: Session, org_id: int) -> str:
    org = s.get(Organisation, org_id)
    return org.name if org else ""


def _epoch(when: dt.datetime) -> float:
    """Epoch seconds of a stored timestamp (stored naive in UTC, or aware)."""
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


async def lookup_principal(request: Request, token: str) -> Principal:
    """Check ``token`` against the store (in a worker thread: the event loop never waits on it) and
    cache the principal; requests with the same token arriving meanwhile wait for that one check
    instead of each starting their own (when a busy token's second is up, the requests in flight
    would otherwise all miss the cache at once and queue for the database and the GIL)."""
    state = request.app.state
    flights: dict[str, asyncio.Future[Principal]] = state.principal_flights
    fut = flights.get(token)
    if fut is not None:
        return await asyncio.shield(fut)
    fut = asyncio.get_running_loop().create_future()
    flights[token] = fut
    try:
        p, valid_until = await run_in_threadpool(_principal_from, request, token)
        state.principals.put(token, p, valid_until)
        fut.set_result(p)
        return p
    except BaseException as exc:
        fut.set_exception(exc)
        fut.exception()  # retrieved: no "never retrieved" report when nobody else waited
        raise
    finally:
        flights.pop(token, None)


def require(role: str = "viewer", *, operator: bool = False, session_only: bool = False) -> Any:
    """The dependency of every authenticated endpoint.

    Parameters
    ----------
    role : str
        Lowest role allowed (in the caller's own organisation).
    operator : bool
        Only the service operator (a flag on users of the secretariat).
    session_only : bool
        Refuse API keys (e.g. for creating keys: a leaked key cannot mint more).
    """
    if role not in ROLES:
        raise ValueError(role)

    async def dependency(request: Request,
                         credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
        if credentials is None or not credentials.credentials:
            raise ApiError(401, "authentication required: send 'Authorization: Bearer <token or API key>'",
                           headers={"WWW-Authenticate": "Bearer"})
        token = credentials.credentials
        p = request.app.state.principals.get(token)
        if p is None:
            p = await lookup_principal(request, token)
        wait = request.app.state.limiter.take(p.credential)
        if wait > 0:
            raise ApiError(429, "rate limit exceeded for this token", headers={"Retry-After": str(int(wait) + 1)})
        if operator and not p.is_operator:
            raise ApiError(403, "only the service operator may do this")
        if not p.at_least(role):
            raise ApiError(403, f"needs the role '{role}' (yours: '{p.role}')")
        if session_only and p.via != "token":
            raise ApiError(403, "API keys cannot do this; log in with a password")
        request.state.principal = p
        return p

    dependency.min_role = role  # type: ignore[attr-defined]  # read by the authorization matrix test
    dependency.operator = operator  # type: ignore[attr-defined]
    dependency.session_only = session_only  # type: ignore[attr-defined]  # read by server.fastpath
    return Depends(dependency)
