"""The public atlas: tables, metrics (cached per atlas version), lanes, and the briefing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from .. import domain
from ..auth import Principal, require
from ..deps import ERRORS, Paging, paging
from ..schemas import AtlasOut, MetricPage, Page, TablePage

router = APIRouter(prefix="/api/v1", responses=ERRORS)

Iso3List = Query(..., min_length=3, max_length=400, pattern=r"^[A-Za-z]{3}(,[A-Za-z]{3})*$",
                 description="Comma-separated ISO3 codes.")
Closed = Query(None, max_length=400, pattern=r"^[a-z0-9_]+(,[a-z0-9_]+)*$",
               description="Chokepoints closed: ids or presets, comma-separated (e.g. hormuz,red_sea).")


def _atlas(request: Request) -> Any:
    # read and validated at start-up (create_app's lifespan), so this is a lookup
    return domain.public_atlas(request.app.state.atlas_path)


@router.get("/atlas", response_model=AtlasOut, tags=["atlas"], summary="The public atlas: version and sizes")
async def atlas_info(request: Request, p: Principal = require("viewer")) -> AtlasOut:
    return AtlasOut(**domain.atlas_info(_atlas(request)))


@router.get("/atlas/tables", response_model=Page[str], tags=["atlas"], summary="Tables of the atlas")
async def list_tables(pg: Paging = Depends(paging), p: Principal = require("viewer")) -> Page[str]:
    names = domain.table_names()
    return Page(items=names[pg.offset:pg.offset + pg.limit], total=len(names), offset=pg.offset, limit=pg.limit)


@router.get("/atlas/tables/{table}", response_model=TablePage, tags=["atlas"], summary="Rows of one atlas table")
def get_table(table: str, request: Request, pg: Paging = Depends(paging), p: Principal = require("viewer")
              ) -> TablePage:
    atlas = _atlas(request)
    total, cols, rows = domain.table_page(atlas, table, pg.offset, pg.limit)
    return TablePage(table=table, atlas_version=domain.version(atlas), columns=cols, items=rows, total=total,
                     offset=pg.offset, limit=pg.limit)


@router.get("/metrics", response_model=Page[str], tags=["metrics"], summary="Metric tables served")
async def list_metrics(pg: Paging = Depends(paging), p: Principal = require("viewer")) -> Page[str]:
    names = list(domain.METRICS)
    return Page(items=names[pg.offset:pg.offset + pg.limit], total=len(names), offset=pg.offset, limit=pg.limit)


@router.get("/metrics/{metric}", response_model=MetricPage, tags=["metrics"], summary="One metric table")
async def get_metric(metric: str, request: Request, pg: Paging = Depends(paging),
                     coalition: str | None = Query(None, max_length=100, description="Coalition group id."),
                     target: str | None = Query(None, max_length=100, description="Target item of bottlenecks."),
                     p: Principal = require("viewer")) -> Response:
    # The hot path of the API: a cached page is answered on the event loop, as the bytes it was
    # serialized to once; computing one (seconds, cold) runs in a worker thread.
    atlas = _atlas(request)
    body = domain.cached_metric_page(atlas, metric, coalition, target, pg.offset, pg.limit)
    if body is None:
        body = await run_in_threadpool(domain.metric_page, atlas, metric, coalition, target, pg.offset, pg.limit)
    return Response(body, media_type="application/json")


@router.get("/lanes", response_model=Page[dict[str, Any]], tags=["lanes"],
            summary="Sea lanes between countries, with closures")
def get_lanes(request: Request, pg: Paging = Depends(paging), exporters: str = Iso3List,
              importers: str = Iso3List, closed: str | None = Closed, p: Principal = require("viewer")
              ) -> Page[dict[str, Any]]:
    ex = [c.upper() for c in exporters.split(",")]
    im = [c.upper() for c in importers.split(",")]
    if len(ex) * len(im) > 100:
        from ..errors import ApiError

        raise ApiError(422, "at most 100 exporter × importer pairs per request", field="importers")
    rows = domain.lanes(_atlas(request), ex, im, closed)
    return Page(items=rows[pg.offset:pg.offset + pg.limit], total=len(rows), offset=pg.offset, limit=pg.limit)


@router.get("/lanes/exposure", response_model=Page[dict[str, Any]], tags=["lanes"],
            summary="Chokepoint exposure (or a closure's impact)")
def get_exposure(request: Request, pg: Paging = Depends(paging),
                 importer: str | None = Query(None, pattern=r"^[A-Za-z]{3}$", description="Importer ISO3."),
                 closed: str | None = Closed, p: Principal = require("viewer")) -> Page[dict[str, Any]]:
    rows = domain.lane_exposure(_atlas(request), importer.upper() if importer else None, closed)
    return Page(items=rows[pg.offset:pg.offset + pg.limit], total=len(rows), offset=pg.offset, limit=pg.limit)


ForIso3 = Query(None, pattern=r"^[A-Za-z]{3}$", description="Country the briefing is for.")
Coalition = Query(None, max_length=100, description="Coalition group id.")


@router.get("/briefing", response_model=dict[str, Any], tags=["briefing"], summary="The briefing as JSON")
def briefing_json(request: Request, for_iso3: str | None = ForIso3, coalition: str | None = Coalition,
                  p: Principal = require("viewer")) -> dict[str, Any]:
    """Every measure of the briefing (stress scenarios are runs: submit them to /runs)."""
    return domain.briefing(_atlas(request), for_iso3.upper() if for_iso3 else None, coalition, "json")


# errors stay JSON (the router's documented responses), the page itself is HTML
@router.get("/briefing.html", response_model=None, tags=["briefing"], summary="The briefing as HTML",
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}},
                             "description": "The self-contained briefing page"}})
def briefing_html(request: Request, for_iso3: str | None = ForIso3, coalition: str | None = Coalition,
                  p: Principal = require("viewer")) -> HTMLResponse:
    return HTMLResponse(domain.briefing(_atlas(request), for_iso3.upper() if for_iso3 else None, coalition, "html"))
