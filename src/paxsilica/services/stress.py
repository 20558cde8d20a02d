"""Stress services: scenarios (list, show, validate, JSON Schema), stress runs, library runs, backtests.

Each service takes a typed request (a frozen dataclass) and a
:class:`~paxsilica.services.context.ServiceContext`, checks the request against the atlas (unknown
names raise :class:`~paxsilica.errors.PaxsilicaError` subclasses with the close matches), calls the
model (:mod:`paxsilica.stress`, :mod:`paxsilica.backtest`, :mod:`paxsilica.scenarios`) and returns a
result with ``to_record()`` (plain JSON data) and ``tables()``. Nothing here prints.

The network an atlas builds for a target is kept in ``ctx.cache("stress.prepared")``, so a server
running many scenarios on one atlas for one organisation builds it once; another atlas version or
another organisation never sees it.

Examples
--------
>>> from paxsilica.network import tiny_atlas
>>> from paxsilica.scenarios import parse_scenario
>>> from paxsilica.services.context import ServiceContext
>>> ctx = ServiceContext(source=tiny_atlas(), validate=False)
>>> s = parse_scenario("name: t\\ndescription: d\\nhorizon: 40\\nshocks:\\n  - {type: export_ban, "
...                    "exporter: JPN, items: [wafer], start: 0}\\n")
>>> r = run_stress(StressRequest(s, target="chip", inventory_days=10), ctx)
>>> r.to_record()["summary"]["time_to_survive_days"]
16
>>> sorted(r.tables())
['checks', 'consumers', 'effects', 'items', 'series']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..bands import DEFAULT_DRAWS
from ..errors import PaxsilicaError, Problem, ValidationError
from ..network.build import DEFAULT_TARGET
from ..scenarios import check_against_atlas, load_scenario
from ..scenarios import list_scenarios as builtin_names
from ..scenarios.json_schema import scenario_json_schema
from ..scenarios.schema import Scenario
from ..stress import DEFAULT_INVENTORY_DAYS, Prepared, result_json
from ..stress import StressResult as StressRun
from ..stress.record import to_jsonable
from .context import ServiceContext

__all__ = [
    "BacktestRequest", "BacktestResult", "LibraryRequest", "LibraryResult", "ScenarioInfo", "ScenarioList",
    "ScenarioValidation", "StressRequest", "StressResult", "ValidateScenarioRequest", "backtest",
    "get_scenario", "list_scenarios", "run_library", "run_stress", "scenario_schema", "validate_scenarios",
]

Progress = Callable[[str], None] | None


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return to_jsonable(df.astype(object).where(df.notna(), None).to_dict("records"))


def _prepared(ctx: ServiceContext, atlas: Any, target: str) -> Prepared:
    """The network of the context's atlas for ``target``, built once per (atlas version, organisation)."""
    cache = ctx.cache("stress.prepared")
    key = (target, "producers", None)
    if key not in cache:
        cache[key] = Prepared(atlas, target=target, consumers="producers", year=None, lanes=None,
                              version=ctx.atlas_version())
    return cache[key]


def _scenario(s: str | Path | Scenario) -> Scenario:
    return s if isinstance(s, Scenario) else load_scenario(s)


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class ScenarioList:
    """The built-in scenarios: ``table`` with name, horizon (days), step, shock types and the first
    sentence of the description."""

    table: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"scenarios": self.table}

    def to_record(self) -> dict[str, Any]:
        return {"scenarios": _records(self.table)}


def list_scenarios(ctx: ServiceContext | None = None) -> ScenarioList:
    """The built-in scenarios (no atlas needed).

    Examples
    --------
    >>> "hormuz_closure" in list_scenarios().table["name"].tolist()
    True
    """
    rows = []
    for name in builtin_names():
        s = load_scenario(name)
        text = " ".join(s.description.split())
        first = text if len(text) <= 110 else text[:110].rsplit(" ", 1)[0] + " …"
        rows.append({"name": name, "horizon": s.horizon, "step": s.step,
                     "shocks": ", ".join(dict.fromkeys(x.type for x in s.shocks)), "description": first})
    return ScenarioList(pd.DataFrame(rows, columns=["name", "horizon", "step", "shocks", "description"]))


@dataclass(frozen=True)
class ScenarioInfo:
    """One scenario, parsed."""

    scenario: Scenario

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"shocks": pd.DataFrame(self.to_record()["shocks"])}

    def to_record(self) -> dict[str, Any]:
        return to_jsonable(self.scenario.to_dict())


def get_scenario(name: str | Path, ctx: ServiceContext | None = None) -> ScenarioInfo:
    """A scenario by built-in name or YAML path (:class:`~paxsilica.errors.NotFoundError` with close
    names when neither)."""
    return ScenarioInfo(load_scenario(name))


def scenario_schema(ctx: ServiceContext | None = None) -> dict[str, Any]:
    """The JSON Schema of a scenario document (:func:`paxsilica.scenarios.json_schema.scenario_json_schema`)."""
    return scenario_json_schema()


@dataclass(frozen=True)
class ValidateScenarioRequest:
    """Scenarios to check (built-in names or paths; ``None``: every built-in)."""

    names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ScenarioValidation:
    """The scenarios checked and every problem found (schema and atlas), each with file, line, field."""

    names: tuple[str, ...]
    problems: tuple[Problem, ...]
    atlas_name: str = ""
    atlas_version: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"problems": pd.DataFrame([dataclasses.asdict(p) for p in self.problems],
                                         columns=["file", "row", "column", "reason"])}

    def to_record(self) -> dict[str, Any]:
        return {"scenarios": list(self.names), "ok": self.ok, "atlas_name": self.atlas_name,
                "atlas_version": self.atlas_version,
                "problems": to_jsonable([dataclasses.asdict(p) for p in self.problems])}


def validate_scenarios(req: ValidateScenarioRequest, ctx: ServiceContext) -> ScenarioValidation:
    """Parse and check scenarios against their schema and the context's atlas."""
    atlas = ctx.atlas()
    names = tuple(req.names) if req.names else tuple(builtin_names())
    problems: list[Problem] = []
    for n in names:
        try:
            s = load_scenario(n)
        except ValidationError as e:
            problems += e.problems
            continue
        except PaxsilicaError as e:
            problems.append(Problem(e.file or n, e.row, e.column, e.message))
            continue
        problems += check_against_atlas(s, atlas)
    return ScenarioValidation(names, tuple(problems), str(getattr(atlas, "name", "")), ctx.atlas_version())


# --------------------------------------------------------------------------- stress runs


@dataclass(frozen=True)
class StressRequest:
    """One stress run.

    Attributes
    ----------
    scenario : str, Path or Scenario
        Built-in name, YAML path or a parsed scenario.
    target : str, optional
        Item measured (default ``ai_datacenter_capacity``); must be an item of the atlas.
    for_country : str, optional
        Focus country (ISO3, any case).
    steps : int, optional
        Steps to run instead of the scenario's horizon.
    inventory_days : float
        Working stock in days of use where the atlas's dynamics give none (at least 1).
    bands, seed : int
        Draws of the parameter ranges for the uncertainty band (0: central values only) and their seed.
    out : Path, optional
        Folder to save the result in (:func:`paxsilica.stress.save_result`); ``force`` writes into a
        folder that holds other files.
    """

    scenario: str | Path | Scenario
    target: str | None = None
    for_country: str | None = None
    steps: int | None = None
    inventory_days: float = DEFAULT_INVENTORY_DAYS
    bands: int = 0
    seed: int | None = None
    out: Path | None = None
    force: bool = False


@dataclass(frozen=True)
class StressResult:
    """A stress run (:class:`paxsilica.stress.StressResult` as ``run``) and the files it was saved to."""

    run: StressRun
    paths: Mapping[str, Path] = field(default_factory=dict)

    @property
    def atlas_name(self) -> str:
        return str(self.run.metadata["atlas_name"])

    @property
    def atlas_version(self) -> str:
        return str(self.run.metadata["atlas_version"])

    def tables(self) -> dict[str, pd.DataFrame]:
        r = self.run
        return {"series": r.series, "items": r.items, "consumers": r.consumers, "effects": r.effects,
                "checks": pd.DataFrame(list(r.checks))}

    def to_record(self) -> dict[str, Any]:
        """Summary, tables and metadata (no per-step series), as ``stress --format json`` prints them."""
        return result_json(self.run)


def _check_names(atlas: Any, target: str | None, for_country: str | None) -> tuple[str, str | None]:
    from ..metrics._common import did_you_mean, require_countries

    if for_country:
        (for_country,) = require_countries(atlas, for_country, "country")
    if target and target not in set(atlas["items"]["item"].dropna().astype(str)):
        raise did_you_mean(target, atlas["items"]["item"].dropna().astype(str), "target item")
    return target or DEFAULT_TARGET, for_country


def run_stress(req: StressRequest, ctx: ServiceContext, progress: Progress = None) -> StressResult:
    """Run a scenario on the context's atlas (and save it when ``req.out`` is given).

    ``progress`` is called with each stage: "scenario" (the request's names are known to the atlas; the
    scenario is read next), "network", "compile", "simulate", "measures" and "saving".
    """
    from ..stress import run_stress as model_run
    from ..stress import save_result

    atlas = ctx.atlas()
    target, focus = _check_names(atlas, req.target, req.for_country)
    if progress is not None:
        progress("scenario")
    s = _scenario(req.scenario)
    run = model_run(s, atlas, target=target, steps=req.steps, for_country=focus, inventory_days=req.inventory_days,
                    progress=progress, bands=req.bands, seed=req.seed, prepared=_prepared(ctx, atlas, target))
    paths: dict[str, Path] = {}
    if req.out is not None:
        if progress is not None:
            progress("saving")
        paths = save_result(run, req.out, force=req.force)
    return StressResult(run, paths)


@dataclass(frozen=True)
class LibraryRequest:
    """Several scenarios on one atlas (``names`` default: every built-in); see
    :func:`paxsilica.stress.run_library` for the fields."""

    names: tuple[str | Path | Scenario, ...] | None = None
    target: str = DEFAULT_TARGET
    steps: int | None = None
    inventory_days: float = DEFAULT_INVENTORY_DAYS
    bands: int = 0
    seed: int | None = None
    batch: bool = False
    errors: str = "raise"
    workers: int | None = None


@dataclass(frozen=True)
class LibraryResult:
    """One row per scenario (:data:`paxsilica.stress.LIBRARY_COLUMNS`)."""

    table: pd.DataFrame
    atlas_version: str = ""

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"library": self.table}

    def to_record(self) -> dict[str, Any]:
        return {"atlas_version": self.atlas_version, "rows": _records(self.table)}


def run_library(req: LibraryRequest, ctx: ServiceContext, progress: Progress = None) -> LibraryResult:
    """Run several scenarios on the context's atlas and tabulate their headline measures."""
    from ..stress import run_library as model_library

    atlas = ctx.atlas()
    target, _ = _check_names(atlas, req.target, None)
    table = model_library(atlas, None if req.names is None else list(req.names), target=target, steps=req.steps,
                          inventory_days=req.inventory_days, batch=req.batch, errors=req.errors, progress=progress,
                          bands=req.bands, seed=req.seed, workers=req.workers,
                          prepared=_prepared(ctx, atlas, target))
    return LibraryResult(table, ctx.atlas_version())


@dataclass(frozen=True)
class BacktestRequest:
    """Backtest scenarios (``names`` default: every built-in with an observed or expected block)."""

    names: tuple[str, ...] | None = None
    bands: int = DEFAULT_DRAWS
    seed: int | None = None
    target: str = DEFAULT_TARGET


@dataclass(frozen=True)
class BacktestResult:
    """One row per check (:data:`paxsilica.backtest.BACKTEST_COLUMNS`): the range, the model's value,
    its band and whether the value lies in the range."""

    table: pd.DataFrame
    atlas_name: str = ""
    atlas_version: str = ""

    @property
    def checks_in(self) -> int:
        return int(self.table["ok"].sum())

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"checks": self.table}

    def to_record(self) -> dict[str, Any]:
        return {"atlas_name": self.atlas_name, "atlas_version": self.atlas_version, "rows": _records(self.table)}


def backtest(req: BacktestRequest, ctx: ServiceContext, progress: Progress = None) -> BacktestResult:
    """Run the backtest scenarios on the context's atlas and compare each check with the model."""
    from ..backtest import run_backtests

    atlas = ctx.atlas()
    target, _ = _check_names(atlas, req.target, None)
    table = run_backtests(atlas, list(req.names) if req.names else None, bands=req.bands, seed=req.seed,
                          target=target, progress=progress, prepared=_prepared(ctx, atlas, target))
    return BacktestResult(table, str(getattr(atlas, "name", "")), ctx.atlas_version())
