"""Login, token refresh, logout, and who am I."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from sqlalchemy import select, update

from ..auth import (
    Principal,
    backoff_seconds,
    check_password,
    client_address,
    dummy_check,
    issue_access,
    issue_refresh,
    require,
    revoke_refresh,
    rotate_refresh,
)
from ..deps import ERRORS, log_action
from ..errors import ApiError
from ..schemas import Done, LoginIn, MeOut, RefreshIn, TokenOut
from ..store import User, utcnow

router = APIRouter(prefix="/api/v1", tags=["auth"], responses=ERRORS)

WRONG = "wrong username or password"


def _anonymous_limit(request: Request) -> None:
    wait = request.app.state.limiter.take("addr:" + client_address(request))
    if wait > 0:
        raise ApiError(429, "rate limit exceeded for this address", headers={"Retry-After": str(int(wait) + 1)})


@router.post("/auth/login", response_model=TokenOut, summary="Log in with username and password")
def login(body: LoginIn, request: Request) -> TokenOut:
    """Short-lived access token (JWT) and a rotating refresh token.

    Repeated failures lock the account with exponential backoff, and slow down the client
    address; an unknown username behaves exactly like a known one."""
    _anonymous_limit(request)
    st = request.app.state
    cfg = st.settings
    addr = client_address(request)
    wait = st.failures.address_blocked(addr, cfg.address_failures)
    if wait:
        raise ApiError(429, "too many failed logins from this address; try again later",
                       headers={"Retry-After": str(wait)})
    store = st.store
    with store.session() as s:
        user = s.execute(select(User).where(User.username == body.username)).scalar_one_or_none()
        known = user is not None
    now = utcnow()
    if not known:
        locked = st.failures.unknown_locked(body.username)
        dummy_check(body.password, cfg.argon2_fast)
        if locked:
            raise ApiError(429, "account locked after repeated failed logins; try again later",
                           headers={"Retry-After": str(int(locked) + 1)})
        st.failures.unknown_failed(body.username, cfg.lockout_after)
        st.failures.address_failed(addr)
        with store.session(write=True) as s:
            log_action(s, request, None, "login.failed", body.username[:100], {"reason": "credentials"},
                       actor=body.username[:200])
        raise ApiError(401, WRONG, field="password")
    assert user is not None
    if user.locked_until is not None and user.locked_until > now:
        dummy_check(body.password, cfg.argon2_fast)
        left = (user.locked_until - now).total_seconds()
        with store.session(write=True) as s:
            log_action(s, request, None, "login.failed", user.username, {"reason": "locked"},
                       actor=user.username, org_id=user.org_id)
        raise ApiError(429, "account locked after repeated failed logins; try again later",
                       headers={"Retry-After": str(int(left) + 1)})
    ok = check_password(user.password_hash, body.password) and not user.disabled
    with store.session(write=True) as s:
        if not ok:
            s.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
            fresh = s.get(User, user.id)
            s.refresh(fresh)
            delay = backoff_seconds(fresh.failed_logins, cfg.lockout_after)
            if delay:
                fresh.locked_until = now + dt.timedelta(seconds=delay)
            log_action(s, request, None, "login.failed", user.username,
                       {"reason": "credentials", "failures": fresh.failed_logins},
                       actor=user.username, org_id=user.org_id)
        else:
            fresh = s.get(User, user.id)
            fresh.failed_logins, fresh.locked_until = 0, None
            refresh = issue_refresh(s, fresh, cfg.refresh_days)
            access, ttl = issue_access(fresh, cfg.secret, cfg.access_minutes)
            log_action(s, request, None, "login", user.username, actor=user.username, org_id=user.org_id)
    if not ok:
        st.failures.address_failed(addr)
        raise ApiError(401, WRONG, field="password")
    return TokenOut(access_token=access, refresh_token=refresh, expires_in=ttl)


@router.post("/auth/refresh", response_model=TokenOut, summary="Exchange a refresh token")
def refresh(body: RefreshIn, request: Request) -> TokenOut:
    """A new access token and a new refresh token; the old refresh token stops working (a reused
    one revokes its whole session)."""
    _anonymous_limit(request)
    cfg = request.app.state.settings
    with request.app.state.store.session(write=True) as s:
        got = rotate_refresh(s, body.refresh_token, cfg.refresh_days)
        if got is None:
            out = None
        else:
            user, token = got
            access, ttl = issue_access(user, cfg.secret, cfg.access_minutes)
            out = TokenOut(access_token=access, refresh_token=token, expires_in=ttl)
    if out is None:
        raise ApiError(401, "invalid, expired or revoked refresh token", field="refresh_token")
    return out


@router.post("/auth/logout", response_model=Done, summary="Revoke a refresh token's session")
def logout(body: RefreshIn, request: Request) -> Done:
    _anonymous_limit(request)
    with request.app.state.store.session(write=True) as s:
        known = revoke_refresh(s, body.refresh_token)
    return Done(ok=known)


@router.get("/me", response_model=MeOut, summary="Who is calling")
async def me(p: Principal = require("viewer")) -> MeOut:
    # everything is in the principal (read with it, cached with it): no I/O, so no worker thread
    return MeOut(id=p.user_id, username=p.username, org_id=p.org_id, org_name=p.org_name,
                 role=p.role, is_operator=p.is_operator, via=p.via)  # type: ignore[arg-type]
