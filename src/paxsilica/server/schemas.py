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


class MonteCarloIn(Strict):
    """A Monte Carlo run on the bundled hazard catalogue (docs/montecarlo.md), computed like a stress
    run: in the worker pool, its result at ``/runs/{id}/result``."""

    draws: int = Field(default=2_000, ge=1, le=100_000, description="Seeded draws of the horizon.")
    seed: int = Field(default=12, ge=0, le=2**31 - 1)
    horizon_days: int = Field(default=365, ge=1, le=3650)
    targets: list[str] = Field(default_factory=lambda: ["ai_datacenter_capacity"], min_length=1, max_length=10)
    levels: list[float] = Field(default_factory=lambda: [0.95, 0.99], min_length=1, max_length=10,
                                description="VaR / ES levels, each in (0, 1).")
    uploads: list[str] = Field(default_factory=list, max_length=100,
                               description="Ids of your organisation's uploads to overlay on the atlas.")
    timeout_s: float | None = Field(default=None, gt=0, le=3600)


PlanModel = Literal["sourcing", "stockpile", "partners", "worst-case"]


class PlanIn(Strict):
    """A plan (docs/planning.md). Fields a model does not use are refused (422 naming the field)."""

    consumer: str | None = Field(default=None, max_length=100, description="ISO3 country or a group id "
                                 "(default: the coalition). sourcing, stockpile, partners.")
    coalition: str | None = Field(default=None, max_length=100)
    target: str | None = Field(default=None, max_length=100)
    items: list[str] | None = Field(default=None, max_length=200)
    scenarios: str | None = Field(default=None, max_length=2000, description="Built-in stress scenarios, "
                                  "comma-separated, or 'all'.")
    montecarlo_run: str | None = Field(default=None, max_length=32, description="Id of one of your "
                                       "organisation's finished Monte Carlo runs: its draws as scenarios.")
    alpha: float | None = Field(default=None, ge=0, le=1)
    max_share: float | None = Field(default=None, gt=0, le=1)
    min_coalition_share: float | None = Field(default=None, ge=0, le=1)
    budget: float | None = Field(default=None, ge=0)
    premium: float | None = Field(default=None, ge=0, le=10)
    tolerance: float | None = Field(default=None, ge=0, le=1)
    mode: Literal["every", "cvar"] | None = None
    carrying_rate: float | None = Field(default=None, ge=0, le=10)
    candidates: list[str] | None = Field(default=None, max_length=300)
    k: int | None = Field(default=None, ge=1, le=10)
    kinds: list[Literal["site", "country", "chokepoint"]] | None = Field(default=None, min_length=1)
    uploads: list[str] = Field(default_factory=list, max_length=100)
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
