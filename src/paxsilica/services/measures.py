"""Measures service: the item, stage, coalition and bottleneck tables (``paxsilica risk``).

Each function checks the ids of its request against the atlas (unknown ones raise
:class:`~paxsilica.errors.NotFoundError` with suggestions), computes with :mod:`paxsilica.metrics`
and returns a :class:`~paxsilica.services.TableResult` with every column; shells pick the columns
they show.

Examples
--------
>>> from paxsilica.services import ServiceContext
>>> res = items(ServiceContext(), ItemsRequest())
>>> res.kind, "coalition_share" in res.table.columns
('items', True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from ..atlas import Atlas
from ..constants import DEFAULT_COALITION, DEFAULT_TARGET
from ..metrics import (
    bottlenecks as _bottlenecks,
)
from ..metrics import (
    coalition_bottlenecks,
    coalition_by_stage,
    coalition_exposure,
    coalition_whatif,
    coercion_risk,
    concentration,
    country_knockouts,
    import_risk,
    stage_concentration,
    supply_risk,
)
from ..metrics._common import parse_codes, require_countries, require_group, require_item
from .context import ServiceContext
from .results import TableResult

__all__ = ["BottlenecksRequest", "CoalitionRequest", "ItemsRequest", "bottlenecks", "coalition", "items",
           "check_request"]

ItemsView = Literal["items", "stages", "eu", "import", "coercion"]


@dataclass(frozen=True)
class ItemsRequest:
    """Per-item measures.

    Attributes
    ----------
    view : {"items", "stages", "eu", "import", "coercion"}
        Concentration and coalition exposure per item (default) or per stage; the EU supply-risk
        table; the import risk of ``consumer``; the coercion-risk table.
    coalition, date, add, allies :
        Coalition group id, membership date (``YYYY-MM-DD``, default latest), countries joining
        (what-if, comma-separated ISO3) and groups counted as partners (comma-separated).
    level : {"country", "firm"}
    consumer : str, optional
        Importing country of the ``import`` view (ISO3).
    method : {"wgi_mean", "geopolrisk"}
        Exporter instability of the import risk.
    """

    view: ItemsView = "items"
    coalition: str = DEFAULT_COALITION
    date: str | None = None
    add: str = ""
    level: str = "country"
    allies: str = ""
    consumer: str | None = None
    method: str = "wgi_mean"


@dataclass(frozen=True)
class BottlenecksRequest:
    """Knock-outs upstream of ``target``: single producers, or whole countries (``countries``)."""

    target: str = DEFAULT_TARGET
    level: str = "country"
    countries: bool = False
    coalition: str = DEFAULT_COALITION
    date: str | None = None
    add: str = ""


@dataclass(frozen=True)
class CoalitionRequest:
    """Coalition share per item; with ``add``, the what-if before/after (and, with
    ``with_bottlenecks``, the bottleneck losses of ``target`` before and after)."""

    coalition: str = DEFAULT_COALITION
    date: str | None = None
    add: str = ""
    target: str = DEFAULT_TARGET
    level: str = "country"
    allies: str = ""
    with_bottlenecks: bool = True


def check_request(atlas: Atlas, coalition: str | None = None, add: str = "", allies: str = "",
                  target: str | None = None) -> tuple[str, ...]:
    """Check the ids of a request; the allied group ids.

    A coalition made only of ``add`` countries (a hypothetical group) is allowed.
    """
    if coalition is not None and not (parse_codes(add) and coalition not in
                                      set(atlas["groups"]["group"].dropna().astype(str))):
        require_group(atlas, coalition)
    require_countries(atlas, add)
    groups = tuple(g.strip() for g in allies.split(",") if g.strip())
    for g in groups:
        require_group(atlas, g)
    if target is not None:
        require_item(atlas, target)
    return groups


def items(ctx: ServiceContext, req: ItemsRequest) -> TableResult:
    """Per-item (or per-stage) measures of ``req.view``."""
    atlas = ctx.atlas()
    groups = check_request(atlas, req.coalition, req.add, req.allies)
    lv = req.level
    meta = asdict(req)
    if req.view == "import":
        (code,) = require_countries(atlas, req.consumer or "", "country") or ("",)
        df = import_risk(atlas, [code], method=req.method)
        return TableResult(df, f"Import risk of {code} ({req.method})", kind="import", meta=meta)
    if req.view == "coercion":
        return TableResult(coercion_risk(atlas, req.date), "Coercion risk (governance × restriction record)",
                           kind="coercion", meta=meta)
    if req.view == "eu":
        return TableResult(supply_risk(atlas), "EU supply risk (SR)", kind="eu", meta=meta)
    if req.view == "stages":
        c = stage_concentration(atlas, lv)
        e = coalition_by_stage(coalition_exposure(atlas, req.coalition, req.date, req.add, lv, allies=groups))
        df = c.merge(e.drop(columns=["n_items", "n_spof"]), on="stage", how="left")
        return TableResult(df, "Per stage", kind="stages", meta=meta)
    c = concentration(atlas, lv)
    e = coalition_exposure(atlas, req.coalition, req.date, req.add, lv, allies=groups)
    df = c.merge(e[["item", "coalition_share", "largest_outside", "largest_outside_share",
                    "largest_outside_tier", "nonmember_dependency", "other_dependency"]],
                 on="item", how="left")
    return TableResult(df, f"Items ({lv} level; coalition {req.coalition})", kind="items", meta=meta)


def bottlenecks(ctx: ServiceContext, req: BottlenecksRequest) -> TableResult:
    """Single or whole-country knock-outs ranked by the share of the target's output lost."""
    atlas = ctx.atlas()
    check_request(atlas, req.coalition if req.countries else None, req.add, target=req.target)
    if req.countries:
        df = country_knockouts(atlas, req.target, req.level, coalition=req.coalition, date=req.date,
                               add=req.add)
        return TableResult(df, f"Whole-country knock-outs: loss of {req.target}", kind="countries",
                           meta=asdict(req))
    df = _bottlenecks(atlas, req.target, req.level)
    return TableResult(df, f"Single knock-outs: loss of {req.target}", kind="producers", meta=asdict(req))


def coalition(ctx: ServiceContext, req: CoalitionRequest) -> TableResult:
    """Coalition exposure per item, or the what-if of ``req.add`` joining."""
    atlas = ctx.atlas()
    groups = check_request(atlas, req.coalition, req.add, req.allies, req.target)
    if parse_codes(req.add):
        w = coalition_whatif(atlas, req.add, req.coalition, req.date, req.level, allies=groups)
        extra = {}
        if req.with_bottlenecks:
            extra["bottlenecks"] = coalition_bottlenecks(atlas, req.coalition, req.date, req.add, req.target,
                                                         req.level)
        return TableResult(w, f"What if {req.add} joined {req.coalition}", kind="whatif", extra=extra,
                           meta=asdict(req))
    e = coalition_exposure(atlas, req.coalition, req.date, (), req.level, allies=groups)
    return TableResult(e, f"Coalition {req.coalition}" + (f" as of {req.date}" if req.date else ""),
                       kind="exposure", meta=asdict(req))


METRIC_NAMES = ("concentration", "stage_concentration", "coalition_exposure", "coalition_by_stage",
                "bottlenecks", "country_knockouts", "supply_risk", "coercion_risk")
"""The metric tables by name (the REST API serves them; docs/metrics.md has their formulas and sources)."""


def metric_table(ctx: ServiceContext, name: str, coalition: str = DEFAULT_COALITION,
                 target: str = DEFAULT_TARGET) -> TableResult:
    """One metric table of the context's atlas by name (see :data:`METRIC_NAMES`).

    The coalition (a group id) and the target item are checked against the atlas first, with a
    did-you-mean message naming the field.

    Examples
    --------
    >>> from paxsilica.services import ServiceContext
    >>> t = metric_table(ServiceContext(), "concentration").table
    >>> {"item", "hhi"} <= set(t.columns)
    True
    """
    from .. import metrics as m
    from ..errors import NotFoundError

    if name not in METRIC_NAMES:
        raise NotFoundError(f"no metric '{name}'; metrics: {', '.join(METRIC_NAMES)}", column="metric")
    atlas = ctx.atlas()
    if name.startswith("coalition") or name == "country_knockouts":
        require_group(atlas, coalition)
    if name in ("bottlenecks", "country_knockouts"):
        require_item(atlas, target)
    tables = {
        "concentration": lambda: m.concentration(atlas),
        "stage_concentration": lambda: m.stage_concentration(atlas),
        "coalition_exposure": lambda: m.coalition_exposure(atlas, coalition),
        "coalition_by_stage": lambda: m.coalition_by_stage(m.coalition_exposure(atlas, coalition)),
        "bottlenecks": lambda: m.bottlenecks(atlas, target),
        "country_knockouts": lambda: m.country_knockouts(atlas, target, coalition=coalition),
        "supply_risk": lambda: m.supply_risk(atlas),
        "coercion_risk": lambda: m.coercion_risk(atlas),
    }
    return TableResult(tables[name](), title=name)
