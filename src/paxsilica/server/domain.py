"""The ONE adapter between the API and paxsilica's computations.

Routers call only the functions here (never ``paxsilica.atlas``, ``metrics``, ``stress`` …
directly), so that re-pointing the API at the service layer (``paxsilica.services``) is a change
to this file alone. Everything returned is plain data (dicts, lists, JSON-ready values).

Examples
--------
>>> atlas = public_atlas()
>>> "items" in table_names()
True
>>> total, cols, rows = table_page(atlas, "items", 0, 2)
>>> total > 2 and len(rows) == 2 and "item" in cols
True
"""

from __future__ import annotations

import functools
import gc
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..atlas import SCHEMA, TABLE_ORDER, Atlas, parse_table
from ..constants import DEFAULT_COALITION, DEFAULT_TARGET
from ..errors import InputError, NotFoundError, Problem, ValidationError
from ..serialize import records, to_jsonable
from ..services import InvalidAtlasError, ServiceContext, ServiceStore
from ..services.measures import METRIC_NAMES, metric_table

# --------------------------------------------------------------------------- JSON


jsonable = to_jsonable
"""The one JSON rule of paxsilica (:mod:`paxsilica.serialize`: missing → null, ±inf → "±unlimited")."""


# --------------------------------------------------------------------------- the public atlas

STORE = ServiceStore()
"""The server process's service store: atlases read once, validated once per version, service caches."""


def context(atlas: Atlas | None = None, org: str | None = None, path: str | None = None) -> ServiceContext:
    """The service context of a request: ``atlas`` (an overlay) or the public atlas, for ``org``."""
    if atlas is not None:
        return ServiceContext(source=atlas, org=org, validate=False, store=STORE)
    return ServiceContext(atlas_path=Path(path) if path else None, org=org, store=STORE)


def public_atlas(path: str | None = None) -> Atlas:
    """The public atlas every organisation sees (bundled ``ai-stack`` unless ``path``), read once and
    validated once per version (an invalid one is refused with its located problems)."""
    try:
        return context(path=path).atlas()
    except InvalidAtlasError as exc:
        raise ValidationError(list(exc.problems), "the public atlas has validation problems") from None


def version(atlas: Atlas) -> str:
    """The atlas's content version, hashed once per atlas object (atlases are immutable)."""
    return STORE.version(atlas)


def atlas_info(atlas: Atlas) -> dict[str, Any]:
    """Name, version and row counts of an atlas."""
    return {"name": atlas.name, "version": version(atlas),
            "tables": {t: int(len(atlas[t])) for t in TABLE_ORDER}}


def table_names() -> list[str]:
    """The atlas tables, in schema order."""
    return list(TABLE_ORDER)


def table_page(atlas: Atlas, table: str, offset: int, limit: int) -> tuple[int, list[str], list[dict]]:
    """``(total rows, columns, rows[offset:offset+limit])`` of one atlas table."""
    if table not in SCHEMA:
        raise NotFoundError(f"no atlas table '{table}'", column="table")
    df = atlas[table]
    return int(len(df)), [str(c) for c in df.columns], records(df.iloc[offset:offset + limit])


SETTLE_HEAP = {"on": False}
"""Whether :func:`settle_heap` acts: in a served process (``paxsilica serve``), not in tests."""


def settle_heap() -> None:
    """Collect, then freeze what is alive (``gc.freeze``): the atlas and the cached tables stay for
    the life of the process, and a full collection walking them took ~100-300 ms on this machine,
    a pause every request in flight waits for. Called after start-up and after a table is cached,
    when :data:`SETTLE_HEAP` is on."""
    if SETTLE_HEAP["on"]:
        gc.collect()
        gc.freeze()


class ResultCache:
    """A bounded LRU of computed results, keyed by atlas version and parameters (thread-safe)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._data: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key: tuple) -> Any:
        """The value cached under ``key``, or ``None``."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def clear(self) -> None:
        """Forget every result (tests that need a cold cache)."""
        with self._lock:
            self._data.clear()

    def get(self, key: tuple, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()  # computed outside the lock: a slow metric does not stall cached ones
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value


CACHE = ResultCache()


METRICS = METRIC_NAMES
"""Metric tables served by the API (docs/metrics.md has their formulas and sources)."""


def metric(atlas: Atlas, name: str, coalition: str | None = None, target: str | None = None) -> list[dict]:
    """A metric table as records, cached per atlas version and parameters."""
    if name not in METRICS:
        raise NotFoundError(f"no metric '{name}'; metrics: {', '.join(METRICS)}", column="metric")
    coalition = coalition or DEFAULT_COALITION
    target = target or DEFAULT_TARGET

    def make() -> list[dict]:
        out = records(metric_table(context(atlas), name, coalition, target).table)
        settle_heap()  # a cached table lives as long as the process: out of the collector's walks
        return out

    return CACHE.get(("metric", version(atlas), name, coalition, target), make)


def _metric_page_key(atlas: Atlas, name: str, coalition: str | None, target: str | None, offset: int,
                     limit: int) -> tuple:
    return ("metric-page", version(atlas), name, coalition or DEFAULT_COALITION, target or DEFAULT_TARGET,
            offset, limit)


def metric_page(atlas: Atlas, name: str, coalition: str | None, target: str | None, offset: int,
                limit: int) -> bytes:
    """One page of a metric table as the JSON body of ``GET /metrics/{name}`` (a
    :class:`~paxsilica.server.schemas.MetricPage`), serialized once and cached: a cached page is
    served as it is, without validating or serializing it again."""
    from .schemas import MetricPage

    def make() -> bytes:
        rows = metric(atlas, name, coalition, target)
        page = MetricPage(metric=name, atlas_version=version(atlas), items=rows[offset:offset + limit],
                          total=len(rows), offset=offset, limit=limit)
        return page.model_dump_json().encode()

    return CACHE.get(_metric_page_key(atlas, name, coalition, target, offset, limit), make)


def cached_metric_page(atlas: Atlas, name: str, coalition: str | None, target: str | None, offset: int,
                       limit: int) -> bytes | None:
    """The page :func:`metric_page` would give if it is already cached, else ``None`` (never computes:
    the caller may be on the event loop)."""
    return CACHE.peek(_metric_page_key(atlas, name, coalition, target, offset, limit))


# --------------------------------------------------------------------------- lanes


def lanes(atlas: Atlas, exporters: list[str], importers: list[str], closed: str | None) -> list[dict]:
    """Sea lanes between countries (with ``closed`` chokepoints), cached."""
    from ..metrics._common import require_countries
    from ..services.lanes import show_lanes

    require_countries(atlas, ",".join(exporters), "from")
    require_countries(atlas, ",".join(importers), "to")
    key = ("lanes", version(atlas), tuple(exporters), tuple(importers), closed or "")
    return CACHE.get(key, lambda: records(show_lanes(atlas, exporters, importers, closed)))


def lane_exposure(atlas: Atlas, importer: str | None, closed: str | None) -> list[dict]:
    """Chokepoint exposure (or a closure's impact), cached."""
    from ..metrics._common import require_countries
    from ..services.lanes import exposure_table

    if importer:
        (importer,) = require_countries(atlas, importer, "importer")
    key = ("exposure", version(atlas), importer or "", closed or "")
    return CACHE.get(key, lambda: records(exposure_table(atlas, importer, closed)))


# --------------------------------------------------------------------------- scenarios


def builtin_scenarios() -> list[str]:
    """Names of the built-in scenarios."""
    from ..scenarios import list_scenarios

    return list_scenarios()


def builtin_yaml(name: str) -> str:
    """The YAML text of a built-in scenario (NotFoundError if unknown)."""
    from ..scenarios import builtin_paths

    paths = builtin_paths()
    if name not in paths:
        raise NotFoundError("no such scenario", column="id")
    return paths[name].read_text(encoding="utf-8")


@functools.lru_cache(maxsize=4096)
def _scenario_info(yaml_text: str, file: str) -> tuple[tuple[str, Any], ...]:
    from ..scenarios import parse_scenario

    s = parse_scenario(yaml_text, file=file)
    return (("name", s.name), ("description", " ".join(s.description.split())), ("horizon", s.horizon),
            ("step", s.step), ("shocks", tuple(x.type for x in s.shocks)))


def scenario_info(yaml_text: str, file: str) -> dict[str, Any]:
    """Parse scenario YAML (errors name file, line and field) and describe it (parsed once per text).

    Examples
    --------
    >>> scenario_info(builtin_yaml("hormuz_closure"), "h.yaml")["name"]
    'hormuz_closure'
    """
    info = dict(_scenario_info(yaml_text, file))
    info["shocks"] = list(info["shocks"])
    return info


def scenario_problems(yaml_text: str, file: str, atlas: Atlas) -> list[Problem]:
    """Every problem of a scenario: its schema, then its references to the atlas."""
    from ..scenarios import check_against_atlas, parse_scenario

    try:
        s = parse_scenario(yaml_text, file=file)
    except ValidationError as e:
        return list(e.problems)
    except InputError as e:
        return [Problem(e.file or file, e.row, e.column, e.message)]
    return list(check_against_atlas(s, atlas))


# --------------------------------------------------------------------------- confidential uploads

UPLOAD_TABLES = ("stocks", "sourcing", "production", "trade", "facilities", "firms", "restrictions",
                 "dynamics")
"""Atlas tables an organisation may overlay with its own rows: stockpiles (``stocks``), private
supplier lists (``sourcing``, ``firms``, ``facilities``) and private atlas overlays of the rest."""


def _read_upload(filename: str, content: bytes) -> pd.DataFrame:
    suffix = Path(filename).suffix.lower()
    if suffix == ".csv":
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start})", file=filename) from None
        if not text.strip():
            raise InputError("file is empty (expected a header line)", file=filename, row=1)
        try:
            return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[])
        except (pd.errors.ParserError, ValueError) as exc:
            raise InputError(f"malformed CSV: {str(exc).splitlines()[0]}", file=filename) from None
    if suffix in (".xlsx", ".xlsm"):
        try:
            return pd.read_excel(io.BytesIO(content), dtype=str, engine="openpyxl").fillna("")
        except Exception as exc:  # openpyxl raises many types for a broken workbook
            raise InputError(f"cannot read the workbook: {type(exc).__name__}", file=filename) from None
    if suffix == ".parquet":
        try:
            return pd.read_parquet(io.BytesIO(content))
        except Exception as exc:  # pyarrow raises several types for a corrupt file
            raise InputError(f"cannot read Parquet: {type(exc).__name__}", file=filename) from None
    raise InputError("unsupported file type: give .csv, .xlsx or .parquet", file=filename,
                     column="file")


def parse_upload(table: str, filename: str, content: bytes) -> pd.DataFrame:
    """Read and validate an uploaded table: typed rows, or ValidationError with file/row/column.

    Examples
    --------
    >>> head = b"holder,item,days_of_cover,source\\n"
    >>> df = parse_upload("stocks", "s.csv", head + b"JPN,helium,30,own survey\\n")
    >>> float(df.loc[0, "days_of_cover"])
    30.0
    >>> try:
    ...     parse_upload("stocks", "s.csv", head + b"JPN,helium,many,own survey\\n")
    ... except ValidationError as e:
    ...     print(e.problems[0])
    s.csv, row 2, column 'days_of_cover': not a number: 'many'
    """
    if table not in UPLOAD_TABLES:
        raise InputError(f"table '{table}' cannot be uploaded; tables: {', '.join(UPLOAD_TABLES)}",
                         column="table")
    raw = _read_upload(filename, content)
    if raw.empty:
        raise InputError("no data rows", file=filename, row=2)
    known = set(SCHEMA[table].column_names)
    extra = [c for c in raw.columns if str(c) not in known]
    problems = [Problem(filename, 1, str(c), f"unknown column for table '{table}'") for c in extra]
    df, found = parse_table(table, raw[[c for c in raw.columns if str(c) in known]], file=filename,
                            row_base=2)
    problems += found
    for col in SCHEMA[table].columns:
        if col.required and col.name in raw.columns:
            for pos in np.flatnonzero(df[col.name].isna().to_numpy()):
                problems.append(Problem(filename, int(pos) + 2, col.name, "required value is missing"))
    if problems:
        raise ValidationError(problems, f"{filename}: {len(problems)} problem(s)")
    return df


def write_upload(df: pd.DataFrame, path: Path) -> None:
    """Write a validated upload as Parquet (crash-safe)."""
    from ..fsutil import atomic_write

    atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))


def read_upload(path: Path) -> pd.DataFrame:
    """Read back a stored upload."""
    return pd.read_parquet(path)


def overlay(atlas: Atlas, uploads: Iterable[tuple[str, Path]]) -> Atlas:
    """The public atlas with an organisation's rows: a private row replaces the public row with
    the same key, other private rows are added. Only the paths given are read."""
    frames: dict[str, list[pd.DataFrame]] = {}
    for table, path in uploads:
        frames.setdefault(table, []).append(read_upload(path))
    if not frames:
        return atlas
    changed = {}
    for table, dfs in frames.items():
        private = pd.concat(dfs, ignore_index=True)
        key = list(SCHEMA[table].key)
        public = atlas[table]
        if key and len(public):
            merged = pd.concat([public, private], ignore_index=True)
            merged = merged.drop_duplicates(subset=key, keep="last")
        else:
            merged = pd.concat([public, private], ignore_index=True)
        changed[table] = merged.astype(str).where(merged.notna(), "")
    return atlas.replace(**changed)


# --------------------------------------------------------------------------- runs and briefing


def run_job(job: dict[str, Any], progress: Callable[[str, float], None]) -> dict[str, Any]:
    """Compute one run (in the run's child process): the JSON-ready result of its kind."""
    uploads = [(t, Path(p)) for t, p in job["uploads"]]
    if job["kind"] == "stress":
        return run_stress_job(job["params"], job["yaml"], job["file"], uploads, job["atlas_path"], progress)
    if job["kind"] == "montecarlo":
        return run_montecarlo_job(job["params"], uploads, job["atlas_path"], progress, job["folder"])
    if job["kind"] == "plan":
        return run_plan_job(job["params"], uploads, job["atlas_path"], job.get("montecarlo_folder"))
    raise ValueError(f"unknown run kind {job['kind']!r}")


def run_montecarlo_job(params: dict[str, Any], uploads: list[tuple[str, Path]], atlas_path: str | None,
                       progress: Callable[[str, float], None], folder: str) -> dict[str, Any]:
    """A Monte Carlo run on the public atlas overlaid with ``uploads``; its run folder is kept in
    ``folder`` (plans can take its draws as scenarios), the JSON-ready result is returned."""
    from ..services import montecarlo as mc

    progress("atlas", 0.02)
    atlas = overlay(public_atlas(atlas_path), uploads)
    req = mc.MonteCarloRequest(draws=int(params["draws"]), seed=int(params["seed"]),
                               horizon_days=int(params["horizon_days"]), targets=tuple(params["targets"]),
                               levels=tuple(float(x) for x in params["levels"]), out=folder, force=True)
    res = mc.run_montecarlo(req, context(atlas),
                            progress=lambda done, total: progress("draws", 0.05 + 0.9 * done / max(total, 1)))
    out = jsonable(res.to_record())
    out.pop("folder", None)  # a server path: not the caller's business
    out["atlas_version"] = version(atlas)
    return out


PLAN_FIELDS = {"sourcing": "SourcingRequest", "stockpile": "StockpileRequest", "partners": "PartnersRequest",
               "worst-case": "WorstCaseRequest"}
"""Each plan model's service request (``paxsilica.services.planning``)."""


def plan_fields(model: str) -> set[str]:
    """The request fields of a plan model, as the API names them (``montecarlo`` is ``montecarlo_run``,
    a run id, never a path; ``out`` and ``force`` are not the caller's)."""
    import dataclasses

    from ..services import planning

    names = {f.name for f in dataclasses.fields(getattr(planning, PLAN_FIELDS[model]))} - {"out", "force"}
    return {"montecarlo_run" if n == "montecarlo" else n for n in names} | {"uploads", "timeout_s"}


def run_plan_job(params: dict[str, Any], uploads: list[tuple[str, Path]], atlas_path: str | None,
                 montecarlo_folder: str | None) -> dict[str, Any]:
    """A plan on the public atlas overlaid with ``uploads`` (the draws of ``montecarlo_folder`` as its
    scenarios when given); JSON-ready result."""
    from ..services import planning

    model = params["model"]
    allowed = plan_fields(model) - {"montecarlo_run", "uploads", "timeout_s"}
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items() if k in allowed and v is not None}
    if montecarlo_folder:
        kw["montecarlo"] = montecarlo_folder
    req = getattr(planning, PLAN_FIELDS[model])(**kw)
    fn = {"sourcing": planning.sourcing, "stockpile": planning.stockpile, "partners": planning.partners,
          "worst-case": planning.worst_case}[model]
    atlas = overlay(public_atlas(atlas_path), uploads)
    out = jsonable(fn(req, context(atlas)).to_record())
    out["atlas_version"] = version(atlas)
    if montecarlo_folder:  # the caller named a run id; the server's folder is not theirs to see
        out = _replace_text(out, montecarlo_folder, params["montecarlo_run"])
    return out


def _replace_text(value: Any, old: str, new: str) -> Any:
    """``value`` (JSON-ready) with ``old`` replaced by ``new`` in every string, keys included."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {_replace_text(k, old, new): _replace_text(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_text(v, old, new) for v in value]
    return value


def run_stress_job(params: dict[str, Any], scenario_yaml: str, scenario_file: str,
                   uploads: list[tuple[str, Path]], atlas_path: str | None,
                   progress: Callable[[str, float], None]) -> dict[str, Any]:
    """Run a stress scenario on the public atlas overlaid with ``uploads``; JSON-ready result."""
    from ..scenarios import parse_scenario
    from ..services import stress as stress_service

    stages = ["network", "compile", "simulate", "measures"]
    progress("atlas", 0.05)
    atlas = overlay(public_atlas(atlas_path), uploads)
    scenario = parse_scenario(scenario_yaml, file=scenario_file)

    def on(stage: str) -> None:
        k = stages.index(stage) if stage in stages else 0
        progress(stage, 0.1 + 0.8 * k / len(stages))

    req = stress_service.StressRequest(scenario, target=params.get("target") or DEFAULT_TARGET,
                                       steps=params.get("steps"), for_country=params.get("for_country"),
                                       bands=int(params.get("bands", 0)), seed=params.get("seed"))
    result = stress_service.run_stress(req, context(atlas), progress=on)
    out = jsonable(result.to_record())
    out["atlas_version"] = version(atlas)
    return out


def briefing(atlas: Atlas, for_iso3: str | None, coalition: str | None, fmt: str) -> Any:
    """The briefing (without stress runs: those are runs) as HTML text or JSON data, cached."""
    from ..services import briefing as briefing_service

    coalition = coalition or DEFAULT_COALITION

    def build() -> Any:
        req = briefing_service.BriefingRequest(for_iso3=for_iso3, coalition=coalition, scenarios=False, bands=0)
        return briefing_service.briefing(context(atlas), req).briefing

    b = CACHE.get(("briefing", version(atlas), for_iso3 or "", coalition), build)
    if fmt == "html":
        return CACHE.get(("briefing-html", version(atlas), for_iso3 or "", coalition), lambda: briefing_service.render(b, "html"))
    return CACHE.get(("briefing-json", version(atlas), for_iso3 or "", coalition),
                     lambda: jsonable(b.to_dict()))
