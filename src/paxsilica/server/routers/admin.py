"""Organisations (operator), users of one's organisation (admin), API keys, the audit log."""

from __future__ import annotations

import datetime as dt
import json

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..auth import Principal, credentials_changed, hash_password, new_api_key, require, role_rank
from ..deps import ERRORS, Paging, log_action, page_of, paging
from ..errors import ApiError, not_found
from ..schemas import (
    AuditOut,
    AuditVerifyOut,
    Done,
    KeyCreated,
    KeyIn,
    KeyOut,
    OrgIn,
    OrgOut,
    Page,
    UserIn,
    UserOut,
    UserPatch,
)
from ..store import ApiKey, AuditEntry, Organisation, User, audit, utcnow

router = APIRouter(prefix="/api/v1", responses=ERRORS)


def _org(o: Organisation) -> OrgOut:
    return OrgOut(id=o.id, name=o.name, kind=o.kind, created_at=o.created_at)  # type: ignore[arg-type]


def _user(u: User) -> UserOut:
    return UserOut(id=u.id, username=u.username, org_id=u.org_id, role=u.role, disabled=u.disabled,  # type: ignore[arg-type]
                   is_operator=u.is_operator, created_at=u.created_at)


def _key(k: ApiKey) -> KeyOut:
    return KeyOut(id=k.id, name=k.name, role=k.role, user_id=k.user_id, created_at=k.created_at,  # type: ignore[arg-type]
                  expires_at=k.expires_at, revoked=k.revoked_at is not None)


# --------------------------------------------------------------------------- organisations


@router.get("/orgs", response_model=Page[OrgOut], tags=["organisations"], summary="List organisations")
def list_orgs(request: Request, pg: Paging = Depends(paging), p: Principal = require("viewer", operator=True)
              ) -> Page[OrgOut]:
    with request.app.state.store.session() as s:
        total = s.scalar(select(func.count()).select_from(Organisation)) or 0
        rows = s.execute(select(Organisation).order_by(Organisation.id).offset(pg.offset).limit(pg.limit)).scalars()
        return Page(items=[_org(o) for o in rows], total=total, offset=pg.offset, limit=pg.limit)


@router.post("/orgs", response_model=OrgOut, status_code=201, tags=["organisations"],
             summary="Create an organisation")
def create_org(body: OrgIn, request: Request, p: Principal = require("viewer", operator=True)) -> OrgOut:
    try:
        with request.app.state.store.session(write=True) as s:
            o = Organisation(name=body.name, kind=body.kind)
            s.add(o)
            s.flush()
            log_action(s, request, p, "org.create", body.name, {"org_id": o.id, "kind": body.kind})
            return _org(o)
    except IntegrityError:
        raise ApiError(409, f"an organisation named '{body.name}' exists", field="name") from None


# --------------------------------------------------------------------------- users


@router.get("/users", response_model=Page[UserOut], tags=["users"], summary="Users of your organisation")
def list_users(request: Request, pg: Paging = Depends(paging), p: Principal = require("admin")) -> Page[UserOut]:
    with request.app.state.store.session() as s:
        q = select(User).where(User.org_id == p.org_id)
        return page_of(s, q, (User.id,), _user, pg)


@router.post("/users", response_model=UserOut, status_code=201, tags=["users"],
             summary="Add a user to your organisation")
def create_user(body: UserIn, request: Request, p: Principal = require("admin")) -> UserOut:
    cfg = request.app.state.settings
    pw = hash_password(body.password, fast=cfg.argon2_fast)
    try:
        with request.app.state.store.session(write=True) as s:
            u = User(org_id=p.org_id, username=body.username, password_hash=pw, role=body.role)
            s.add(u)
            s.flush()
            log_action(s, request, p, "user.create", body.username, {"user_id": u.id, "role": body.role})
            return _user(u)
    except IntegrityError:
        raise ApiError(409, "that username is taken", field="username") from None


def _own_user(s, p: Principal, user_id: int) -> User:  # type: ignore[no-untyped-def]
    u = s.get(User, user_id)
    if u is None or u.org_id != p.org_id:
        raise not_found("user")
    return u


UserId = Path(ge=1, le=2**31 - 1, description="A user's id.")  # an INTEGER column: out of range is a 422


@router.get("/users/{user_id}", response_model=UserOut, tags=["users"], summary="One user of your organisation")
def get_user(user_id: int = UserId, *, request: Request, p: Principal = require("admin")) -> UserOut:
    with request.app.state.store.session() as s:
        return _user(_own_user(s, p, user_id))


@router.patch("/users/{user_id}", response_model=UserOut, tags=["users"], summary="Change a user's role or disable them")
def patch_user(body: UserPatch, request: Request, user_id: int = UserId, p: Principal = require("admin")) -> UserOut:
    with request.app.state.store.session(write=True) as s:
        u = _own_user(s, p, user_id)
        if u.id == p.user_id and (body.role not in (None, u.role) or body.disabled):
            raise ApiError(422, "you cannot change your own role or disable yourself", field="role")
        changes = {}
        if body.role is not None and body.role != u.role:
            changes["role"] = [u.role, body.role]
            u.role = body.role
        if body.disabled is not None and body.disabled != u.disabled:
            changes["disabled"] = [u.disabled, body.disabled]
            u.disabled = body.disabled
        if changes:
            log_action(s, request, p, "user.update", u.username, {"user_id": u.id, **changes})
        out = _user(u)
    if changes:  # after the commit, so no request can cache the old role again
        credentials_changed(request)
    return out


# --------------------------------------------------------------------------- API keys


@router.get("/keys", response_model=Page[KeyOut], tags=["keys"],
            summary="Your API keys (an admin sees every key of the organisation)")
def list_keys(request: Request, pg: Paging = Depends(paging), p: Principal = require("viewer")) -> Page[KeyOut]:
    with request.app.state.store.session() as s:
        q = select(ApiKey).where(ApiKey.org_id == p.org_id)
        if not p.at_least("admin"):
            q = q.where(ApiKey.user_id == p.user_id)
        return page_of(s, q, (ApiKey.created_at, ApiKey.id), _key, pg)


@router.post("/keys", response_model=KeyCreated, status_code=201, tags=["keys"],
             summary="Create an API key (shown once)")
def create_key(body: KeyIn, request: Request, p: Principal = require("viewer", session_only=True)) -> KeyCreated:
    """A key for scripts, scoped to a role no higher than yours, expiring, revocable. Only its
    hash is kept: copy it now."""
    if role_rank(body.role) > role_rank(p.role):
        raise ApiError(403, f"a key cannot have more rights than you ('{p.role}')", field="role")
    kid, key, h = new_api_key()
    with request.app.state.store.session(write=True) as s:
        k = ApiKey(id=kid, user_id=p.user_id, org_id=p.org_id, name=body.name, role=body.role, key_hash=h,
                   expires_at=utcnow() + dt.timedelta(days=body.expires_in_days))
        s.add(k)
        s.flush()
        log_action(s, request, p, "key.create", kid, {"name": body.name, "role": body.role,
                                                       "expires_at": k.expires_at.isoformat()})
        return KeyCreated(**_key(k).model_dump(), key=key)


@router.delete("/keys/{key_id}", response_model=Done, tags=["keys"], summary="Revoke an API key")
def revoke_key(key_id: str, request: Request, p: Principal = require("viewer")) -> Done:
    with request.app.state.store.session(write=True) as s:
        k = s.get(ApiKey, key_id)
        if k is None or k.org_id != p.org_id or (k.user_id != p.user_id and not p.at_least("admin")):
            raise not_found("key")
        if k.revoked_at is None:
            k.revoked_at = utcnow()
            log_action(s, request, p, "key.revoke", k.id, {"name": k.name})
    credentials_changed(request)  # after the commit: the key stops working on the next request
    return Done(ok=True)


# --------------------------------------------------------------------------- audit


def _entry(e: AuditEntry) -> AuditOut:
    return AuditOut(seq=e.seq, at=e.at, actor=e.actor, org_id=e.org_id, action=e.action, target=e.target,
                    detail=json.loads(e.detail), client=e.client, hash=e.hash)


@router.get("/audit", response_model=Page[AuditOut], tags=["audit"],
            summary="The audit log (admins: their organisation; the operator: everything)")
def list_audit(request: Request, pg: Paging = Depends(paging),
               action: str | None = Query(None, max_length=60, description="Only this action."),
               p: Principal = require("admin")) -> Page[AuditOut]:
    with request.app.state.store.session() as s:
        q = select(AuditEntry)
        if not p.is_operator:
            q = q.where(AuditEntry.org_id == p.org_id)
        if action:
            q = q.where(AuditEntry.action == action)
        return page_of(s, q, (AuditEntry.seq.desc(),), _entry, pg)


@router.get("/audit/verify", response_model=AuditVerifyOut, tags=["audit"], summary="Check the hash chain")
def verify_audit(request: Request, p: Principal = require("viewer", operator=True)) -> AuditVerifyOut:
    with request.app.state.store.session() as s:
        v = audit.verify(s)
    return AuditVerifyOut(ok=v.ok, entries=v.entries, head=v.head, problems=list(v.problems))


