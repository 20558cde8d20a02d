"""The JSON twin of every dashboard page (``/api/v1/views/*``): authenticated and authorized like
every endpoint (``require``), organisation-scoped (the caller's runs only), computed through
:mod:`paxsilica.server.views` and the service layer."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import select

from ...errors import NotFoundError
from .. import domain
from .. import views as dviews
from ..auth import Principal, require
from ..deps import ERRORS
from ..errors import ApiError, not_found
from ..store import Run, Scenario, Upload

router = APIRouter(prefix="/api/v1/views", tags=["views"], responses=ERRORS)

Coalition = Query(None, max_length=100, pattern=r"^[A-Za-z0-9_]+$", description="Coalition group id.")
Closed = Query(None, max_length=400, pattern=r"^[a-z0-9_]+(,[a-z0-9_]+)*$",
               description="Chokepoints closed: ids or presets, comma-separated (e.g. hormuz,red_sea).")
LATEST_RUNS = 5


def _org(p: Principal) -> str:
    return f"org:{p.org_id}"


def _path(request: Request) -> str | None:
    return request.app.state.atlas_path


def _latest_runs(request: Request, p: Principal) -> list[dict[str, Any]]:
    """The organisation's latest runs, with the headline measures and bands of finished ones."""
    out = []
    cfg = request.app.state.settings
    with request.app.state.store.session() as s:
        rows = s.execute(select(Run).where(Run.org_id == p.org_id).order_by(Run.created_at.desc(), Run.id)
                         .limit(LATEST_RUNS)).scalars().all()
        runs = [(r.id, r.status, json.loads(r.params), r.created_at, r.result_path) for r in rows]
    for rid, status, params, created, rel in runs:
        rec: dict[str, Any] = {"id": rid, "status": status, "scenario": params.get("scenario", ""),
                               "created_at": created.isoformat() if created else None}
        if status == "done" and rel:
            try:
                summary = json.loads((cfg.files_dir / rel).read_text("utf-8")).get("summary", {})
            except (OSError, ValueError):
                summary = {}
            rec.update({k: summary.get(k) for k in ("loss_pct", "min_level", "time_to_survive_days",
                                                    "time_to_recover_days", "bands")})
        out.append(rec)
    return domain.jsonable(out)


@router.get("/overview", response_model=dict[str, Any], summary="Overview page: coverage, dependencies, runs")
def overview(request: Request, coalition: str | None = Coalition, p: Principal = require("viewer")) -> dict[str, Any]:
    """Coalition coverage by stage, the top dependencies in the member / partner / other tiers, and
    your organisation's latest runs with their bands."""
    out = dict(dviews.overview(_path(request), _org(p), coalition))
    out["latest_runs"] = _latest_runs(request, p)
    return out


@router.get("/items/{item}", response_model=dict[str, Any], summary="Item page: producer shares, producers, dependencies")
def item(request: Request, item: str = Path(..., max_length=100, pattern=r"^[A-Za-z0-9_]+$"),
         coalition: str | None = Coalition, p: Principal = require("viewer")) -> dict[str, Any]:
    return dviews.item(_path(request), _org(p), item, coalition)


@router.get("/network", response_model=dict[str, Any], summary="Network page: the supply graph")
def network(request: Request, coalition: str | None = Coalition, p: Principal = require("viewer")) -> dict[str, Any]:
    return dviews.network(_path(request), _org(p), coalition)


@router.get("/chokepoints", response_model=dict[str, Any], summary="Chokepoints page: lanes, exposure, closures")
def chokepoints(request: Request, closed: str | None = Closed, p: Principal = require("viewer")) -> dict[str, Any]:
    return dviews.chokepoints(_path(request), _org(p), closed)


@router.get("/backtests", response_model=dict[str, Any], summary="Backtests page: model against observed")
def backtests(request: Request, p: Principal = require("viewer")) -> dict[str, Any]:
    return dviews.backtests(_path(request), _org(p))


@router.get("/world", response_model=dict[str, Any], summary="Country shapes for the maps (SVG paths)")
def world(p: Principal = require("viewer")) -> dict[str, Any]:
    """Natural Earth 1:110m countries, pre-projected (Equal Earth) into SVG path strings."""
    return dviews.world()


@router.get("/runs/{run_id}", response_model=dict[str, Any], summary="Run page: status, result and chart series")
def run_view(run_id: str, request: Request, p: Principal = require("viewer")) -> dict[str, Any]:
    """A run of your organisation: its status, and once done its result and per-step series of the
    target and the most affected items. Another organisation's run is 404, like an unknown one."""
    with request.app.state.store.session() as s:
        r = s.get(Run, run_id)
        if r is None or r.org_id != p.org_id:
            raise not_found("run")
        params = json.loads(r.params)
        status, rel = r.status, r.result_path
        info = {"id": r.id, "status": r.status, "progress": r.progress, "stage": r.stage, "error": r.error,
                "scenario": params.get("scenario", ""), "params": params}
        ups = []
        for uid in params.get("uploads", []):
            u = s.get(Upload, uid)
            if u is not None and u.org_id == p.org_id:
                ups.append((u.table, request.app.state.settings.files_dir / u.path))
        own = s.execute(select(Scenario).where(Scenario.org_id == p.org_id,
                                               Scenario.name == params.get("scenario"))).scalar_one_or_none()
        yaml_text = own.yaml if own is not None else None
    if status != "done" or not rel:
        return domain.jsonable({**info, "result": None, "chart": None})
    result = json.loads((request.app.state.settings.files_dir / rel).read_text("utf-8"))
    if yaml_text is None:
        try:
            yaml_text = domain.builtin_yaml(params.get("scenario", ""))
        except NotFoundError:  # the scenario was deleted since: the result stays, without its chart
            yaml_text = None
    if yaml_text is None:
        raise ApiError(409, "the run's scenario no longer exists: no chart", field="scenario")
    chart = dviews.run_series(_path(request), _org(p), run_id, params, yaml_text, ups)
    # the series are recomputed at central values; the band is the stored run's own
    chart = {**chart, "bands": (result.get("summary") or {}).get("bands")}
    return domain.jsonable({**info, "result": result, "chart": chart})
