"""Errors of the API: every 4xx is JSON ``{"detail": ..., "field": ...}``; a 5xx carries only a
request id (the traceback goes to the server's log, never to the client)."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import NotFoundError, PaxsilicaError, ValidationError

log = logging.getLogger("paxsilica.server")


class ApiError(Exception):
    """An error answered with ``status`` and ``{"detail", "field", "problems"}``."""

    def __init__(self, status: int, detail: str, field: str | None = None,
                 problems: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field = status, detail, field
        self.problems, self.headers = problems, headers


def not_found(what: str = "resource") -> ApiError:
    """The one 404 for an unknown id and for another organisation's id (same text, same field)."""
    return ApiError(404, f"no such {what}", field="id")


class Problem(BaseModel):
    """A located problem in uploaded data or a scenario."""

    file: str
    row: int | None = None
    column: str | None = None
    reason: str


class ErrorOut(BaseModel):
    """Body of every 4xx answer."""

    detail: str
    field: str | None = None
    problems: list[Problem] | None = None


class ServerErrorOut(BaseModel):
    """Body of every 5xx answer: only an id to quote to the operator (the log has the rest)."""

    detail: str
    request_id: str


def _body(detail: str, field: str | None = None, problems: list[dict[str, Any]] | None = None) -> dict:
    out: dict[str, Any] = {"detail": detail, "field": field}
    if problems is not None:
        out["problems"] = problems
    return out


def problem_dicts(exc: PaxsilicaError) -> list[dict[str, Any]]:
    """The located problems of a paxsilica error as plain dicts."""
    if isinstance(exc, ValidationError):
        return [{"file": p.file, "row": p.row, "column": p.column, "reason": p.reason} for p in exc.problems]
    return [{"file": exc.file or "", "row": exc.row, "column": exc.column, "reason": exc.message}]


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the JSON shapes above."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_body(exc.detail, exc.field, exc.problems), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404:
            detail = "no such path"
        return JSONResponse(_body(detail), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = [str(x) for x in first.get("loc", ())]
        field = ".".join(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc) or None
        where = f"{loc[0]} " if loc else ""
        return JSONResponse(_body(f"invalid {where}field '{field}': {first.get('msg')}", field),
                            status_code=422)

    @app.exception_handler(NotFoundError)
    async def _nf(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse(_body(exc.message, exc.column, problem_dicts(exc)), status_code=404)

    @app.exception_handler(PaxsilicaError)
    async def _input(request: Request, exc: PaxsilicaError) -> JSONResponse:
        probs = problem_dicts(exc)
        field = exc.column or (probs[0]["column"] if probs else None)
        return JSONResponse(_body(str(exc).splitlines()[0].rstrip(":"), field, probs), status_code=422)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        rid = getattr(request.state, "request_id", None) or secrets.token_hex(8)
        log.error("request %s failed", rid, exc_info=exc)
        return JSONResponse({"detail": "internal error", "request_id": rid}, status_code=500)
