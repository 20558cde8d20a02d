"""What every router shares: the store and settings of the app, pagination, audit, responses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Query, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .auth import Principal, client_address
from .errors import ErrorOut, ServerErrorOut
from .schemas import Page
from .store import audit

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Not authenticated"},
    403: {"model": ErrorOut, "description": "Role or organisation does not allow it"},
    404: {"model": ErrorOut, "description": "Unknown, or another organisation's"},
    413: {"model": ErrorOut, "description": "Request body too large"},
    422: {"model": ErrorOut, "description": "Invalid input (the field at fault is named)"},
    429: {"model": ErrorOut, "description": "Rate limit or login backoff"},
    500: {"model": ServerErrorOut, "description": "Internal error (only a request id)"},
}
"""Error answers documented on every route."""


@dataclass(frozen=True)
class Paging:
    offset: int
    limit: int


async def paging(offset: int = Query(0, ge=0, le=1_000_000_000, description="Rows to skip."),
           limit: int = Query(50, ge=1, le=500, description="Rows to return (at most 500).")) -> Paging:
    """Pagination of every listing (``async``: it does no I/O, so it needs no worker thread)."""
    return Paging(offset, limit)


def page_of(session: Session, query: Any, order: Sequence[Any], out: Callable[[Any], Any], pg: Paging) -> Page:
    """One page of the rows of ``query`` (already scoped to the caller), in ``order``, each turned
    into its answer by ``out``; ``total`` counts the rows of ``query`` only."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(*order).offset(pg.offset).limit(pg.limit)).scalars()
    return Page(items=[out(r) for r in rows], total=total, offset=pg.offset, limit=pg.limit)


def store(request: Request) -> Any:
    return request.app.state.store


def settings(request: Request) -> Any:
    return request.app.state.settings


def log_action(session: Session, request: Request, p: Principal | None, action: str, target: str = "",
               detail: dict[str, Any] | None = None, *, actor: str | None = None,
               org_id: int | None = None) -> None:
    """Append an audit entry in the session's transaction (who, organisation, what, from where)."""
    audit.append(session, actor=actor or (p.username if p else "-"),
                 org_id=org_id if org_id is not None else (p.org_id if p else None), action=action,
                 target=target, detail=detail, client=client_address(request))
