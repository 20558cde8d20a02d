"""Typed request and response models of the API (pydantic): the OpenAPI schema is built from them."""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .errors import Problem

T = TypeVar("T")

Role = Literal["viewer", "analyst", "admin"]
OrgKind = Literal["ministry", "company", "secretariat"]
RunStatus = Literal["queued", "running", "done", "failed", "cancelled"]
Name = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@ -]*$")

JSONValue = Any
"""A JSON value (row cells are numbers, text, booleans or null)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a listing: ``total`` counts only what the caller may see."""

    items: list[T]
    total: int
    offset: int
    limit: int


class Health(BaseModel):
    status: Literal["ok"]
    version: str


# --------------------------------------------------------------------------- auth


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid.")


class Done(BaseModel):
    ok: bool


class MeOut(BaseModel):
    id: int
    username: str
    org_id: int
    org_name: str
    role: Role
    is_operator: bool
    via: Literal["token", "key"]


# --------------------------------------------------------------------------- organisations, users, keys


class OrgIn(Strict):
    name: str = Name
    kind: OrgKind


class OrgOut(BaseModel):
    id: int
    name: str
    kind: OrgKind
    created_at: dt.datetime


class UserIn(Strict):
    username: str = Name
    password: str = Field(min_length=12, max_length=1000)
    role: Role = "viewer"


class UserPatch(Strict):
    role: Role | None = None
    disabled: bool | None = None


class UserOut(BaseModel):
    id: int
    username: str
    org_id: int
    role: Role
    disabled: bool
    is_operator: bool
    created_at: dt.datetime


class KeyIn(Strict):
    name: str = Name
    role: Role = "viewer"
    expires_in_days: int = Field(default=90, ge=1, le=366)


class KeyOut(BaseModel):
    id: str
    name: str
    role: Role
    user_id: int
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked: bool


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself: shown this once, only its hash is kept.")


# --------------------------------------------------------------------------- atlas, metrics, lanes


class AtlasOut(BaseModel):
    name: str
    version: str
    tables: dict[str, int]


class TablePage(BaseModel):
    table: str
    atlas_version: str
    columns: list[str]
    items: list[dict[str, JSONValue]]
    total: int
    offset: int
    limit: int


class MetricPage(BaseModel):
    metric: str
    atlas_version: str
    items: list[dict[str, JSONValue]]
    total: int
    offset: int
    limit: int


# --------------------------------------------------------------------------- scenarios


class ScenarioIn(Strict):
    yaml: str = Field(min_length=1, max_length=200_000, description="The scenario as YAML text.")


class ScenarioOut(BaseModel):
    name: str
    builtin: bool
    description: str
    horizon: int
    step: int
    shocks: list[str]
    created_at: dt.datetime | None = None


class ScenarioDetail(ScenarioOut):
    yaml: str


class ValidationOut(BaseModel):
    valid: bool
    problems: list[Problem]


# --------------------------------------------------------------------------- uploads


class UploadOut(BaseModel):
    id: str
    name: str
    table: str
    filename: str
    rows: int
    sha256: str
    created_at: dt.datetime


class UploadRows(BaseModel):
    id: str
    columns: list[str]
    items: list[dict[str, JSONValue]]
    total: int
    offset: int
    limit: int


# --------------------------------------------------------------------------- runs


class RunIn(Strict):
    scenario: str = Field(min_length=1, max_length=200, description="A built-in or one of your "
                          "organisation's scenarios.")
    uploads: list[str] = Field(default_factory=list, max_length=100,
                               description="Ids of your organisation's uploads to overlay on the atlas.")
    target: str | None = Field(default=None, max_length=100)
    for_country: str | None = Field(default=None, min_length=3, max_length=3)
    steps: int | None = Field(default=None, ge=1, le=3650)
    bands: int = Field(default=0, ge=0, le=64)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    timeout_s: float | None = Field(default=None, gt=0, le=3600)


class RunOut(BaseModel):
    id: str
    kind: str
    status: RunStatus
    progress: float
    stage: str | None
    error: str | None
    scenario: str
    uploads: list[str]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class RunResult(BaseModel):
    id: str
    result: dict[str, JSONValue]


# --------------------------------------------------------------------------- audit


class AuditOut(BaseModel):
    seq: int
    at: str
    actor: str
    org_id: int | None
    action: str
    target: str
    detail: dict[str, JSONValue]
    client: str
    hash: str


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    head: str
    problems: list[str]
