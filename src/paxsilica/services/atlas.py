"""Atlas service: info, schema, one table with filters, validation, import into a folder, export.

These services inspect or repair atlases, so they read the current atlas without refusing an
invalid one (``ctx.unvalidated()``).

Examples
--------
>>> from paxsilica.services import ServiceContext
>>> res = show_table(ServiceContext(), ShowRequest("items", where=("stage=raw_material",)))
>>> set(res.table["stage"])
{'raw_material'}
>>> validate(ServiceContext()).ok
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..atlas import FORMATS, SCHEMA, TABLE_ORDER, Atlas, read_atlas, write_atlas
from ..atlas import validate as validate_atlas
from ..atlas.io import EXTRA_SUFFIX, check_atlas_folder
from ..errors import InputError, NotFoundError, Problem
from ..serialize import records, to_jsonable
from .context import ServiceContext
from .results import TableResult

__all__ = ["AtlasInfo", "ExportRequest", "ExportResult", "ImportRequest", "ImportResult", "ShowRequest",
           "ValidationReport", "check_value", "export_atlas", "import_into", "importers_table", "info",
           "merge_into", "schema_table", "show_table", "validate"]


# ---- info -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AtlasInfo:
    """Summary of an atlas: name, version, rows per table, items per stage, sources."""

    summary: Mapping[str, Any]

    def to_record(self) -> dict[str, Any]:
        """The summary as plain data."""
        return to_jsonable(dict(self.summary))

    def tables(self) -> dict[str, pd.DataFrame]:
        """``tables`` (rows per table), ``stages`` and ``sources``."""
        s = self.summary
        return {"tables": pd.DataFrame({"table": list(s["tables"]), "rows": list(s["tables"].values())}),
                "stages": pd.DataFrame(s["stages"]), "sources": pd.DataFrame(s["sources"])}


def info(ctx: ServiceContext) -> AtlasInfo:
    """Summary of the current atlas (valid or not)."""
    return AtlasInfo(ctx.unvalidated().atlas().summary())


# ---- schema -----------------------------------------------------------------------------------

def schema_table() -> TableResult:
    """Every table and column of the schema (kept as data)."""
    rows = [
        {"table": t.name, "column": c.name, "dtype": c.dtype, "unit": c.unit, "required": c.required,
         "key": c.name in t.key, "description": c.description}
        for t in SCHEMA.values() for c in t.columns
    ]
    return TableResult(pd.DataFrame(rows), "schema")


# ---- show -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShowRequest:
    """One table of the atlas, keeping the rows where every ``COLUMN=VALUE`` of ``where`` holds."""

    table: str
    where: tuple[str, ...] = ()


_ITEM_COLUMNS = ("item", "input", "client_item")
_COUNTRY_COLUMNS = ("iso3", "country", "exporter", "importer", "holder", "supplier", "client", "controlled_by")


def check_value(atlas: Atlas, column: str, value: str) -> None:
    """Raise :class:`NotFoundError` (with suggestions) when a filter value names an item,
    country, producer or group the atlas does not have (a typo would give an empty table)."""
    from ..metrics._common import country_codes, did_you_mean, require_group, require_item

    if column in _ITEM_COLUMNS:
        require_item(atlas, value)
    elif column in _COUNTRY_COLUMNS:
        known = country_codes(atlas)
        if value not in known:
            raise did_you_mean(value, known, "country", case=False)
    elif column == "producer":
        known = country_codes(atlas) | set(atlas["firms"]["firm"].dropna().astype(str)) | {"OTHER"}
        if value not in known:
            raise did_you_mean(value, known, "producer")
    elif column == "group":
        require_group(atlas, value)


def show_table(ctx: ServiceContext, req: ShowRequest) -> TableResult:
    """The rows of ``req.table`` that pass every filter."""
    atlas = ctx.unvalidated().atlas()
    if req.table not in SCHEMA:
        raise NotFoundError(f"no table {req.table!r}; tables: {', '.join(TABLE_ORDER)}")
    df = atlas[req.table]
    for cond in req.where:
        col, sep, val = cond.partition("=")
        if not sep or col not in df.columns:
            raise InputError(f"--where {cond!r}: expected COLUMN=VALUE with a column of {req.table}: "
                             f"{', '.join(df.columns)}")
        check_value(atlas, col, val)
        df = df[df[col].astype("string") == val]
    return TableResult(df, f"{req.table} ({len(df)} rows)", kind=req.table)


# ---- validate ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ValidationReport:
    """Every problem of an atlas, located (file, row, column, reason)."""

    name: str
    version: str
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems

    def tables(self) -> dict[str, pd.DataFrame]:
        """``problems``: one row per problem."""
        return {"problems": pd.DataFrame([p.__dict__ for p in self.problems],
                                         columns=["file", "row", "column", "reason"])}

    def to_record(self) -> dict[str, Any]:
        """Name, version and the problems as records."""
        return {"name": self.name, "version": self.version, "ok": self.ok,
                "problems": records(self.tables()["problems"])}


def validate(ctx: ServiceContext) -> ValidationReport:
    """Check the current atlas and list every problem (the list is memoized per atlas version)."""
    atlas = ctx.unvalidated().atlas()
    return ValidationReport(atlas.name, ctx.store.version(atlas), ctx.store.problems_of(atlas))


# ---- export -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportRequest:
    """Write the current atlas to ``to`` as ``format`` (one of :data:`paxsilica.atlas.FORMATS`)."""

    to: Path
    format: str = "csv"
    force: bool = False  #: write into a folder holding other files (only the atlas tables are replaced)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_atlas` wrote."""

    path: Path
    format: str
    name: str
    version: str

    def to_record(self) -> dict[str, Any]:
        """The fields as plain data."""
        return to_jsonable(self)


def export_atlas(ctx: ServiceContext, req: ExportRequest) -> ExportResult:
    """Write the current atlas (valid or not) crash-safely: nothing is half-written, and nothing the
    atlas does not own is replaced or deleted (:func:`paxsilica.atlas.io.write_atlas`)."""
    if req.format not in FORMATS:
        raise InputError(f"unknown format {req.format!r}; use one of {', '.join(FORMATS)}")
    atlas = ctx.unvalidated().atlas()
    path = Path(write_atlas(atlas, req.to, req.format, force=req.force))
    return ExportResult(path, req.format, atlas.name, ctx.store.version(atlas))


# ---- import -----------------------------------------------------------------------------------

def merge_into(existing: Atlas | None, tables: dict[str, pd.DataFrame], name: str) -> Atlas:
    """Merge imported tables into an atlas.

    A row whose key already exists is updated column by column: the imported value wins where it is
    not blank, and the existing value is kept where the import has none (so importing WGI figures
    never blanks a curated region or coordinates). New keys are appended.

    Examples
    --------
    >>> old = Atlas.from_frames({"countries": pd.DataFrame({"iso3": ["QAT"], "name": ["Qatar"],
    ...                                                     "region": ["Middle East"]})})
    >>> new = {"countries": pd.DataFrame({"iso3": ["QAT", "JPN"], "name": ["Qatar", "Japan"],
    ...                                   "wgi_mean": [0.5, 1.2]})}
    >>> merge_into(old, new, "x")["countries"][["iso3", "region", "wgi_mean"]].values.tolist()
    [['QAT', 'Middle East', 0.5], ['JPN', <NA>, 1.2]]
    """
    frames: dict[str, pd.DataFrame] = {}
    for t in TABLE_ORDER:
        new = tables.get(t)
        old = existing[t] if existing is not None else None
        if new is None:
            frames[t] = old
            continue
        new = Atlas.from_frames({t: new})[t]
        if old is None or old.empty:
            frames[t] = new
            continue
        key = list(SCHEMA[t].key)
        new = new.drop_duplicates(key, keep="last")
        old_i, new_i = old.set_index(key), new.set_index(key)
        merged = new_i.combine_first(old_i)
        order = old_i.index.append(new_i.index.difference(old_i.index, sort=False))
        frames[t] = merged.loc[order, [c for c in old.columns if c not in key]].reset_index()
    return Atlas.from_frames({k: v for k, v in frames.items() if v is not None}, name=name)


@dataclass(frozen=True)
class ImportRequest:
    """Run importer ``kind`` on publisher files and merge the result into the CSV folder ``into``."""

    kind: str
    paths: tuple[Path, ...]
    into: Path
    options: Mapping[str, str] = field(default_factory=dict)
    force: bool = False  #: import into a folder holding other files (only the atlas tables are replaced)


@dataclass(frozen=True)
class ImportResult:
    """What an import produced: rows per table, the extra files written, validation problems."""

    kind: str
    into: Path
    counts: Mapping[str, int]
    extra_files: tuple[Path, ...]
    problems: tuple[Problem, ...]

    def to_record(self) -> dict[str, Any]:
        """The fields as plain data (problems as text)."""
        return {"kind": self.kind, "into": str(self.into), "counts": dict(self.counts),
                "extra_files": [str(p) for p in self.extra_files], "problems": [str(p) for p in self.problems]}


def import_into(req: ImportRequest) -> ImportResult:
    """Read publisher files with an importer and merge them into an atlas folder (created if needed).

    Tables of the schema are merged with :func:`merge_into` and the folder replaced in one step;
    tables outside the schema are written beside as ``<name>.extra.csv``.
    """
    from ..importers import IMPORTERS

    if req.kind not in IMPORTERS:
        raise NotFoundError(f"unknown importer {req.kind!r}; known: {', '.join(sorted(IMPORTERS))}")
    for p in req.paths:
        if not Path(p).exists():
            raise InputError("no such file", file=str(p))
    into = Path(req.into)
    check_atlas_folder(into, "csv", req.force)  # refuse a foreign folder before the (long) import
    tables = IMPORTERS[req.kind].run(list(req.paths), **dict(req.options))
    existing = read_atlas(into) if any((into / f"{t}.csv").is_file() for t in TABLE_ORDER) else None
    atlas = merge_into(existing, {k: v for k, v in tables.items() if k in SCHEMA}, name=into.resolve().name)
    extras = {k: v for k, v in tables.items() if k not in SCHEMA}
    write_atlas(atlas, into, "csv", force=req.force, extras=extras)
    extra = [into.resolve() / f"{k}{EXTRA_SUFFIX}" for k in sorted(extras)]
    return ImportResult(req.kind, into, {k: len(v) for k, v in tables.items()}, tuple(extra),
                        tuple(validate_atlas(atlas)))


def importers_table() -> TableResult:
    """The importers and their options."""
    from ..importers import IMPORTERS

    rows = [{"kind": k, "description": getattr(v, "description", ""),
             "options": ", ".join(str(o) for o in getattr(v, "options", ()) or ())}
            for k, v in sorted(IMPORTERS.items())]
    return TableResult(pd.DataFrame(rows), "importers")
