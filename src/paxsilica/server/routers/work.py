"""An organisation's own work: scenarios, confidential uploads, runs. Every query is filtered by
the caller's organisation; an unknown id and another organisation's id give the same 404."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import domain
from ..auth import Principal, require
from ..deps import ERRORS, Paging, log_action, page_of, paging
from ..errors import ApiError, not_found
from ..schemas import (
    Done,
    MonteCarloIn,
    Page,
    PlanIn,
    PlanModel,
    RunIn,
    RunOut,
    RunResult,
    ScenarioDetail,
    ScenarioIn,
    ScenarioOut,
    UploadOut,
    UploadRows,
    ValidationOut,
)
from ..store import Run, Scenario, Upload, new_id, utcnow

router = APIRouter(prefix="/api/v1", responses=ERRORS)


def _atlas(request: Request) -> Any:
    return domain.public_atlas(request.app.state.atlas_path)


# --------------------------------------------------------------------------- scenarios


def _builtin_out(name: str) -> ScenarioDetail:
    text = domain.builtin_yaml(name)
    info = domain.scenario_info(text, f"{name}.yaml")
    return ScenarioDetail(**{**info, "name": name}, builtin=True, yaml=text)


def _own_out(sc: Scenario) -> ScenarioDetail:
    info = domain.scenario_info(sc.yaml, f"{sc.name}.yaml")
    return ScenarioDetail(**{**info, "name": sc.name}, builtin=False, yaml=sc.yaml, created_at=sc.created_at)


@router.get("/scenarios", response_model=Page[ScenarioOut], tags=["scenarios"],
            summary="Built-in scenarios and your organisation's")
def list_scenarios(request: Request, pg: Paging = Depends(paging), p: Principal = require("viewer")
                   ) -> Page[ScenarioOut]:
    builtins = domain.builtin_scenarios()
    with request.app.state.store.session() as s:
        own_total = s.scalar(select(func.count()).select_from(Scenario).where(Scenario.org_id == p.org_id)) or 0
        total = len(builtins) + own_total
        items: list[ScenarioOut] = []
        for name in builtins[pg.offset:pg.offset + pg.limit]:
            items.append(ScenarioOut(**_builtin_out(name).model_dump(exclude={"yaml"})))
        skip = max(0, pg.offset - len(builtins))
        room = pg.limit - len(items)
        if room > 0:
            rows = s.execute(select(Scenario).where(Scenario.org_id == p.org_id).order_by(Scenario.name)
                             .offset(skip).limit(room)).scalars()
            items += [ScenarioOut(**_own_out(sc).model_dump(exclude={"yaml"})) for sc in rows]
    return Page(items=items, total=total, offset=pg.offset, limit=pg.limit)


def _find_scenario(s, p: Principal, name: str) -> Scenario | None:  # type: ignore[no-untyped-def]
    return s.execute(select(Scenario).where(Scenario.org_id == p.org_id, Scenario.name == name)
                     ).scalar_one_or_none()


@router.get("/scenarios/{name}", response_model=ScenarioDetail, tags=["scenarios"], summary="One scenario")
def get_scenario(name: str, request: Request, p: Principal = require("viewer")) -> ScenarioDetail:
    with request.app.state.store.session() as s:
        own = _find_scenario(s, p, name)
        if own is not None:
            return _own_out(own)
    if name in domain.builtin_scenarios():
        return _builtin_out(name)
    raise not_found("scenario")


@router.post("/scenarios/validate", response_model=ValidationOut, tags=["scenarios"],
             summary="Check a scenario against its schema and the atlas")
def validate_scenario(body: ScenarioIn, request: Request, p: Principal = require("viewer")) -> ValidationOut:
    probs = domain.scenario_problems(body.yaml, "scenario.yaml", _atlas(request))
    return ValidationOut(valid=not probs, problems=[
        {"file": x.file, "row": x.row, "column": x.column, "reason": x.reason} for x in probs])  # type: ignore[misc]


@router.post("/scenarios", response_model=ScenarioDetail, status_code=201, tags=["scenarios"],
             summary="Save a scenario for your organisation")
def create_scenario(body: ScenarioIn, request: Request, p: Principal = require("analyst")) -> ScenarioDetail:
    probs = domain.scenario_problems(body.yaml, "scenario.yaml", _atlas(request))
    if probs:
        raise ApiError(422, f"the scenario has {len(probs)} problem(s)", field=probs[0].column or "yaml",
                       problems=[{"file": x.file, "row": x.row, "column": x.column, "reason": x.reason}
                                 for x in probs])
    info = domain.scenario_info(body.yaml, "scenario.yaml")
    name = info["name"]
    if name in domain.builtin_scenarios():
        raise ApiError(409, f"'{name}' is a built-in scenario: choose another name", field="name")
    try:
        with request.app.state.store.session(write=True) as s:
            sc = Scenario(id=new_id(), org_id=p.org_id, user_id=p.user_id, name=name, yaml=body.yaml)
            s.add(sc)
            s.flush()
            log_action(s, request, p, "scenario.create", name, {"scenario_id": sc.id})
            return _own_out(sc)
    except IntegrityError:
        raise ApiError(409, f"your organisation already has a scenario '{name}'", field="name") from None


# --------------------------------------------------------------------------- uploads


def _upload_out(u: Upload) -> UploadOut:
    return UploadOut(id=u.id, name=u.name, table=u.table, filename=u.filename, rows=u.rows, sha256=u.sha256,
                     created_at=u.created_at)


def _own_upload(s, p: Principal, upload_id: str) -> Upload:  # type: ignore[no-untyped-def]
    u = s.get(Upload, upload_id)
    if u is None or u.org_id != p.org_id:
        raise not_found("upload")
    return u


@router.post("/uploads", response_model=UploadOut, status_code=201, tags=["uploads"],
             summary="Upload a confidential table (CSV, XLSX or Parquet)")
def create_upload(request: Request, file: UploadFile = File(..., description="The table: .csv, .xlsx or .parquet."),
                  table: str = Form(..., max_length=40, description=f"Atlas table it adds to: {', '.join(domain.UPLOAD_TABLES)}."),
                  name: str | None = Form(None, max_length=200), p: Principal = require("analyst")) -> UploadOut:
    """Validated row by row (errors name the file, row and column); visible to and used by your
    organisation only."""
    filename = Path(file.filename or "upload").name[:300] or "upload"
    content = file.file.read()
    df = domain.parse_upload(table, filename, content)  # 422 naming file, row and column
    cfg = request.app.state.settings
    uid = new_id()
    rel = Path("uploads") / str(p.org_id) / f"{uid}.parquet"
    # the file is complete on disk (atomic write) before the row that references it is committed
    domain.write_upload(df, cfg.files_dir / rel)
    digest = hashlib.sha256((cfg.files_dir / rel).read_bytes()).hexdigest()
    with request.app.state.store.session(write=True) as s:
        u = Upload(id=uid, org_id=p.org_id, user_id=p.user_id, name=(name or filename)[:200], table=table,
                   filename=filename, rows=int(len(df)), path=str(rel), sha256=digest)
        s.add(u)
        s.flush()
        log_action(s, request, p, "upload.create", uid, {"table": table, "rows": int(len(df)), "file": filename})
        return _upload_out(u)


@router.get("/uploads", response_model=Page[UploadOut], tags=["uploads"], summary="Your organisation's uploads")
def list_uploads(request: Request, pg: Paging = Depends(paging), p: Principal = require("viewer")) -> Page[UploadOut]:
    with request.app.state.store.session() as s:
        q = select(Upload).where(Upload.org_id == p.org_id)
        return page_of(s, q, (Upload.created_at, Upload.id), _upload_out, pg)


@router.get("/uploads/{upload_id}", response_model=UploadOut, tags=["uploads"], summary="One upload")
def get_upload(upload_id: str, request: Request, p: Principal = require("viewer")) -> UploadOut:
    with request.app.state.store.session() as s:
        return _upload_out(_own_upload(s, p, upload_id))


@router.get("/uploads/{upload_id}/rows", response_model=UploadRows, tags=["uploads"], summary="Rows of an upload")
def get_upload_rows(upload_id: str, request: Request, pg: Paging = Depends(paging),
                    p: Principal = require("viewer")) -> UploadRows:
    with request.app.state.store.session() as s:
        u = _own_upload(s, p, upload_id)
        path = request.app.state.settings.files_dir / u.path
    df = domain.read_upload(path)
    return UploadRows(id=upload_id, columns=[str(c) for c in df.columns], total=int(len(df)),
                      items=domain.records(df.iloc[pg.offset:pg.offset + pg.limit]), offset=pg.offset, limit=pg.limit)


@router.delete("/uploads/{upload_id}", response_model=Done, tags=["uploads"], summary="Delete an upload")
def delete_upload(upload_id: str, request: Request, p: Principal = require("admin")) -> Done:
    with request.app.state.store.session(write=True) as s:
        u = _own_upload(s, p, upload_id)
        path = request.app.state.settings.files_dir / u.path
        s.delete(u)
        log_action(s, request, p, "upload.delete", upload_id, {"table": u.table})
    path.unlink(missing_ok=True)  # after the commit: a crash here leaves only an orphan file
    return Done(ok=True)


# --------------------------------------------------------------------------- runs


def _run_out(r: Run) -> RunOut:
    params = json.loads(r.params)
    return RunOut(id=r.id, kind=r.kind, status=r.status, progress=r.progress, stage=r.stage, error=r.error,  # type: ignore[arg-type]
                  scenario=params.get("scenario", ""), uploads=list(params.get("uploads", [])),
                  created_at=r.created_at, started_at=r.started_at, finished_at=r.finished_at)


def _own_run(s, p: Principal, run_id: str) -> Run:  # type: ignore[no-untyped-def]
    r = s.get(Run, run_id)
    if r is None or r.org_id != p.org_id:
        raise not_found("run")
    return r


def _submit(request: Request, p: Principal, kind: str, params: dict[str, Any],
            check: Any = None) -> RunOut:
    """Queue a run of ``kind`` for the caller's organisation (its uploads checked, then ``check(s)``);
    committed before the answer, computed by the worker pool."""
    with request.app.state.store.session(write=True) as s:
        if check is not None:
            check(s)
        for uid in params.get("uploads", []):
            u = s.get(Upload, uid)
            if u is None or u.org_id != p.org_id:
                raise ApiError(404, "no such upload", field="uploads")
        r = Run(id=new_id(), org_id=p.org_id, user_id=p.user_id, kind=kind,
                params=json.dumps(params, sort_keys=True), status="queued", created_at=utcnow())
        s.add(r)
        s.flush()
        detail = {k: params[k] for k in ("scenario", "model", "draws", "uploads") if k in params}
        log_action(s, request, p, "run.submit", r.id, {"kind": kind, **detail})
        out = _run_out(r)
    request.app.state.runs.submit(out.id)
    return out


@router.post("/runs", response_model=RunOut, status_code=202, tags=["runs"], summary="Submit a stress run")
def submit_run(body: RunIn, request: Request, p: Principal = require("analyst")) -> RunOut:
    """Queued at once (the answer does not wait for the simulation); poll ``/runs/{id}``."""
    def check(s) -> None:  # type: ignore[no-untyped-def]
        if _find_scenario(s, p, body.scenario) is None and body.scenario not in domain.builtin_scenarios():
            raise ApiError(404, "no such scenario", field="scenario")

    return _submit(request, p, "stress", body.model_dump(), check)


@router.post("/montecarlo", response_model=RunOut, status_code=202, tags=["montecarlo"],
             summary="Submit a Monte Carlo run")
def submit_montecarlo(body: MonteCarloIn, request: Request, p: Principal = require("analyst")) -> RunOut:
    """Seeded years of events from the bundled hazard catalogue through the stress model
    (docs/montecarlo.md); a run like any other: poll ``/runs/{id}``, read ``/runs/{id}/result``."""
    for x in body.levels:
        if not 0.0 < x < 1.0:
            raise ApiError(422, f"a level must be in (0, 1), got {x}", field="levels")
    return _submit(request, p, "montecarlo", body.model_dump())


@router.post("/plans/{model}", response_model=RunOut, status_code=202, tags=["plans"],
             summary="Submit a plan (sourcing, stockpile, partners, worst case)")
def submit_plan(model: PlanModel, body: PlanIn, request: Request, p: Principal = require("analyst")) -> RunOut:
    """An optimization plan (docs/planning.md), computed as a run. ``montecarlo_run`` takes the
    draws of one of your organisation's finished Monte Carlo runs as the scenarios."""
    unused = sorted(body.model_fields_set - domain.plan_fields(model))
    if unused:
        raise ApiError(422, f"'{unused[0]}' is not a field of the {model} plan", field=unused[0])

    def check(s) -> None:  # type: ignore[no-untyped-def]
        if body.montecarlo_run is not None:
            mc = s.get(Run, body.montecarlo_run)
            if mc is None or mc.org_id != p.org_id or mc.kind != "montecarlo" or mc.status != "done":
                raise ApiError(404, "no such finished Monte Carlo run", field="montecarlo_run")

    return _submit(request, p, "plan", {"model": model, **body.model_dump(exclude_none=True)}, check)


@router.get("/runs", response_model=Page[RunOut], tags=["runs"], summary="Your organisation's runs")
def list_runs(request: Request, pg: Paging = Depends(paging), p: Principal = require("viewer")) -> Page[RunOut]:
    with request.app.state.store.session() as s:
        q = select(Run).where(Run.org_id == p.org_id)
        return page_of(s, q, (Run.created_at.desc(), Run.id), _run_out, pg)


@router.get("/runs/{run_id}", response_model=RunOut, tags=["runs"], summary="A run's status and progress")
def get_run(run_id: str, request: Request, p: Principal = require("viewer")) -> RunOut:
    with request.app.state.store.session() as s:
        return _run_out(_own_run(s, p, run_id))


@router.get("/runs/{run_id}/result", response_model=RunResult, tags=["runs"], summary="A finished run's result")
def get_run_result(run_id: str, request: Request, p: Principal = require("viewer")) -> RunResult:
    with request.app.state.store.session() as s:
        r = _own_run(s, p, run_id)
        status, rel, sha = r.status, r.result_path, r.result_sha256
    if status != "done" or rel is None:
        raise ApiError(409, f"the run is {status}: no result", field="status")
    path = request.app.state.settings.files_dir / rel
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha:
        raise RuntimeError(f"result file of run {run_id} does not match its hash")
    return RunResult(id=run_id, result=json.loads(data))


@router.post("/runs/{run_id}/cancel", response_model=RunOut, tags=["runs"], summary="Cancel a run")
def cancel_run(run_id: str, request: Request, p: Principal = require("analyst")) -> RunOut:
    with request.app.state.store.session(write=True) as s:
        r = _own_run(s, p, run_id)
        if r.status in ("queued", "running"):
            r.cancel_requested = True
            if r.status == "queued":
                r.status, r.finished_at, r.stage = "cancelled", utcnow(), "cancelled"
            log_action(s, request, p, "run.cancel", run_id)
        out = _run_out(r)
    request.app.state.runs.cancel(run_id)
    return out

