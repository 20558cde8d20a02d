"""The JSON twin of every dashboard page (``/api/v1/views/*``): authenticated and authorized like
every endpoint (``require``), organisation-scoped (the caller's runs only), computed through
:mod:`paxsilica.server.views` and the service layer."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import select

from ...errors import NotFoundError
from ...services.views import level_band
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
        runs = [(r.id, r.kind, r.status, json.loads(r.params), r.created_at, r.result_path) for r in rows]
    for rid, kind, status, params, created, rel in runs:
        rec: dict[str, Any] = {"id": rid, "kind": kind, "status": status,
                               "scenario": params.get("scenario") or params.get("model") or kind,
                               "created_at": created.isoformat() if created else None}
        if status == "done" and rel and kind == "stress":
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
        info = {"id": r.id, "kind": r.kind, "status": r.status, "progress": r.progress, "stage": r.stage,
                "error": r.error, "scenario": params.get("scenario", ""), "params": params}
        ups = []
        for uid in params.get("uploads", []):
            u = s.get(Upload, uid)
            if u is not None and u.org_id == p.org_id:
                ups.append((u.table, request.app.state.settings.files_dir / u.path))
        own = s.execute(select(Scenario).where(Scenario.org_id == p.org_id,
                                               Scenario.name == params.get("scenario"))).scalar_one_or_none()
        yaml_text = own.yaml if own is not None else None
    if status != "done" or not rel or info["kind"] != "stress":  # other kinds have their own pages
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
    # the series are recomputed at central values; the bands are the stored run's own: the headline
    # bands, and the target level's per-step band (runs with draws) on the chart's days
    bands = dict((result.get("summary") or {}).get("bands") or {}) or None
    band = level_band(chart["day"], bands)
    if bands:
        bands.pop("level_by_step", None)  # sent once, as ``band``
    chart = {**chart, "bands": bands, "band": band}
    lanes = dviews.run_lanes(_path(request), _org(p), yaml_text, params.get("scenario", ""))
    return domain.jsonable({**info, "result": result, "chart": chart, "lanes": lanes})


# --------------------------------------------------------------------------- Monte Carlo and plans


def _runs_of(request: Request, p: Principal, kind: str, limit: int) -> list[dict[str, Any]]:
    """The organisation's latest runs of ``kind`` (newest first) with their stored results."""
    cfg = request.app.state.settings
    with request.app.state.store.session() as s:
        rows = s.execute(select(Run).where(Run.org_id == p.org_id, Run.kind == kind)
                         .order_by(Run.created_at.desc(), Run.id).limit(limit)).scalars().all()
        runs = [(r.id, r.status, r.progress, r.stage, r.error, json.loads(r.params), r.created_at, r.result_path)
                for r in rows]
    out = []
    for rid, status, prog, stage, err, params, created, rel in runs:
        stored = None
        if status == "done" and rel:
            try:
                stored = json.loads((cfg.files_dir / rel).read_text("utf-8"))
            except (OSError, ValueError):
                stored = None
        out.append({"id": rid, "status": status, "progress": prog, "stage": stage, "error": err,
                    "params": params, "created_at": created.isoformat() if created else None, "stored": stored})
    return out


def _own_kind(request: Request, p: Principal, run_id: str, kind: str) -> tuple[dict[str, Any], dict | None, str | None]:
    """A run of the caller's organisation and of ``kind`` (else 404, like an unknown id): its
    status, and its stored result once done."""
    with request.app.state.store.session() as s:
        r = s.get(Run, run_id)
        if r is None or r.org_id != p.org_id or r.kind != kind:
            raise not_found("run")
        info = {"id": r.id, "kind": r.kind, "status": r.status, "progress": r.progress, "stage": r.stage,
                "error": r.error, "params": json.loads(r.params),
                "created_at": r.created_at.isoformat() if r.created_at else None}
        rel, sha = r.result_path, r.result_sha256
    stored = None
    if info["status"] == "done" and rel:
        stored = json.loads((request.app.state.settings.files_dir / rel).read_text("utf-8"))
    return info, stored, sha


def _mc_headline(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """Expected loss and the ES at the highest level of the first target's world total."""
    if not stored:
        return None
    rows = [r for r in stored.get("summary") or [] if r.get("consumer") == "WORLD"]
    if not rows:
        return None
    t = rows[0]["target"]
    mine = [r for r in rows if r["target"] == t]
    el = next((r["value"] for r in mine if r["measure"] == "expected_loss"), None)
    es = [r for r in mine if r["measure"] == "es"]
    top = max(es, key=lambda r: r["level"]) if es else None
    return {"target": t, "expected_loss": el, "es_level": top["level"] if top else None,
            "es": top["value"] if top else None, "warnings": (stored.get("run") or {}).get("warnings", [])}


MC_LISTED = 50
PLANS_LISTED = 50


@router.get("/montecarlo", response_model=dict[str, Any], summary="Monte Carlo page: your organisation's runs")
def montecarlo_runs(request: Request, p: Principal = require("viewer")) -> dict[str, Any]:
    """Your organisation's Monte Carlo runs (newest first) with their headline numbers, and the
    submission form's fields (``POST /api/v1/montecarlo``)."""
    from ..schemas import MonteCarloIn

    runs = [{k: v for k, v in r.items() if k != "stored"} | {"headline": _mc_headline(r["stored"])}
            for r in _runs_of(request, p, "montecarlo", MC_LISTED)]
    props = MonteCarloIn.model_json_schema()["properties"]
    defaults = MonteCarloIn().model_dump()  # a default_factory is not in the JSON Schema
    return domain.jsonable({"runs": runs, "form": {k: {**props[k], "default": defaults[k]}
                                                   for k in ("draws", "seed", "horizon_days", "levels", "targets")}})


@router.get("/montecarlo/{run_id}", response_model=dict[str, Any], summary="A Monte Carlo run: curve, risk, drivers")
def montecarlo_view(run_id: str, request: Request, p: Principal = require("viewer")) -> dict[str, Any]:
    """A Monte Carlo run of your organisation: status and progress, and once done its loss
    exceedance curve, VaR / ES per target with standard errors and warnings, and the Euler
    contributions to ES, read from the run's folder. Another organisation's run is 404."""
    info, stored, sha = _own_kind(request, p, run_id, "montecarlo")
    if stored is None:
        return domain.jsonable({**info, "result": None})
    view = dviews.montecarlo(request.app.state.settings.files_dir, p.org_id, run_id, stored, sha)
    return domain.jsonable({**info, "result": view})


@router.get("/plans", response_model=dict[str, Any], summary="Plans page: your organisation's plans and the form")
def plan_runs(request: Request, p: Principal = require("viewer")) -> dict[str, Any]:
    """Your organisation's plans (newest first), each model's fields (``POST /api/v1/plans/{model}``,
    with their JSON Schema) and your finished Monte Carlo runs (a plan's ``montecarlo_run``)."""
    from typing import get_args

    from ..schemas import PlanIn, PlanModel

    runs = []
    for r in _runs_of(request, p, "plan", PLANS_LISTED):
        st = r.pop("stored")
        r["model"] = r["params"].get("model")
        r["headline"] = dviews.plan(st)["headline"] if st else None
        runs.append(r)
    props = PlanIn.model_json_schema()["properties"]
    models = {m: sorted(f for f in domain.plan_fields(m) if f in props and f not in ("uploads", "timeout_s"))
              for m in get_args(PlanModel)}
    mc = [{"id": r["id"], "created_at": r["created_at"], "draws": r["params"].get("draws")}
          for r in _runs_of(request, p, "montecarlo", MC_LISTED) if r["status"] == "done"]
    return domain.jsonable({"runs": runs, "models": models, "fields": props, "montecarlo_runs": mc})


@router.get("/plans/{run_id}", response_model=dict[str, Any], summary="A plan: what to do, risk before/after, why")
def plan_view(run_id: str, request: Request, p: Principal = require("viewer")) -> dict[str, Any]:
    """A plan of your organisation: status, and once solved the plan's tables, the risk before and
    after, and the planning module's explanation (binding constraints, sensitivities, notes)."""
    info, stored, _ = _own_kind(request, p, run_id, "plan")
    if stored is None:
        return domain.jsonable({**info, "result": None})
    return domain.jsonable({**info, "result": dviews.plan(stored)})
