"""Reading and writing atlases: a folder of CSV files, an Excel workbook, Parquet, JSON, GraphML.

File access only; typing and checks live in :mod:`~paxsilica.atlas.parse` and
:mod:`~paxsilica.atlas.validate`. Every write goes to a temporary file or folder first and is renamed
into place, so a failed write never leaves a half-written atlas.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from ..errors import InputError, Problem
from ..fsutil import atomic_replace_dir, atomic_write
from .model import Atlas, Origin
from .schema import SCHEMA, TABLE_ORDER

FORMATS = ("csv", "xlsx", "parquet", "json", "graphml")
BUNDLED = "ai-stack"


def _read_csv_text(path: Path) -> pd.DataFrame:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", file=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    if not text.strip():
        raise InputError("file is empty (expected a header line)", file=str(path), row=1)
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[],
                         skip_blank_lines=True)
    except pd.errors.ParserError as exc:
        msg = str(exc)
        m = re.search(r"line (\d+)", msg)
        detail = re.sub(r"^Error tokenizing data\. C error: ", "", msg)
        raise InputError(f"malformed CSV: {detail}", file=str(path),
                         row=int(m.group(1)) if m else None) from None
    except (csv.Error, ValueError) as exc:
        raise InputError(f"malformed CSV: {exc}", file=str(path)) from None
    return df


def read_csv_dir(path: str | os.PathLike[str], *, name: str | None = None) -> Atlas:
    """Read a folder holding one ``<table>.csv`` per table.

    Missing optional tables are empty; missing required tables are reported by
    :func:`~paxsilica.atlas.validate`.
    """
    folder = Path(path)
    frames: dict[str, pd.DataFrame] = {}
    origins: dict[str, Origin] = {}
    problems: list[Problem] = []
    for tname in TABLE_ORDER:
        f = folder / f"{tname}.csv"
        origins[tname] = Origin(str(f))
        if f.exists():
            try:
                frames[tname] = _read_csv_text(f)
            except InputError as exc:
                problems.append(Problem(exc.file or str(f), exc.row, exc.column, exc.message))
    return Atlas.from_frames(frames, origins=origins, name=name or folder.name,
                             extra_problems=tuple(problems))


def read_xlsx(path: str | os.PathLike[str], *, name: str | None = None) -> Atlas:
    """Read an Excel workbook with one sheet per table (sheet name = table name)."""
    p = Path(path)
    try:
        sheets = pd.read_excel(p, sheet_name=None, dtype=str, keep_default_na=False, na_values=[])
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise InputError(f"cannot read workbook: {exc}", file=str(p)) from None
    unknown = sorted(set(sheets) - set(SCHEMA))
    problems = [Problem(f"{p}", None, None, f"sheet {s!r} is not an atlas table (ignored)") for s in unknown]
    frames = {k: v for k, v in sheets.items() if k in SCHEMA}
    origins = {t: Origin(f"{p}[{t}]") for t in TABLE_ORDER}
    return Atlas.from_frames(frames, origins=origins, name=name or p.stem, extra_problems=tuple(problems))


def read_parquet_dir(path: str | os.PathLike[str], *, name: str | None = None) -> Atlas:
    """Read a folder holding one ``<table>.parquet`` per table."""
    folder = Path(path)
    frames: dict[str, pd.DataFrame] = {}
    origins: dict[str, Origin] = {}
    for tname in TABLE_ORDER:
        f = folder / f"{tname}.parquet"
        origins[tname] = Origin(str(f), row_base=1)
        if f.exists():
            try:
                frames[tname] = pd.read_parquet(f)
            except Exception as exc:  # pyarrow raises several types for a corrupt file
                raise InputError(f"cannot read Parquet file: {exc}", file=str(f)) from None
    return Atlas.from_frames(frames, origins=origins, name=name or folder.name)


def read_atlas(path: str | os.PathLike[str]) -> Atlas:
    """Read an atlas from a CSV folder, a Parquet folder or an ``.xlsx`` workbook.

    Parameters
    ----------
    path : path-like
        A folder of ``<table>.csv`` (or ``<table>.parquet``) files, or a workbook.

    Raises
    ------
    InputError
        If the path does not exist or holds no atlas.

    Examples
    --------
    >>> a = read_atlas(bundled_path())
    >>> a.name
    'ai-stack'
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or folder", file=str(p))
    if p.is_dir():
        if any((p / f"{t}.csv").exists() for t in TABLE_ORDER):
            return read_csv_dir(p)
        if any((p / f"{t}.parquet").exists() for t in TABLE_ORDER):
            return read_parquet_dir(p)
        raise InputError(
            f"no atlas tables here (expected files like items.csv or items.parquet; tables: "
            f"{', '.join(TABLE_ORDER)})", file=str(p))
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return read_xlsx(p)
    raise InputError("not an atlas: give a folder of CSV/Parquet files or an .xlsx workbook", file=str(p))


def bundled_path(name: str = BUNDLED) -> Path:
    """Path of a bundled atlas inside the installed package."""
    root = resources.files("paxsilica") / "data" / name
    return Path(str(root))


@lru_cache(maxsize=4)
def bundled_atlas(name: str = BUNDLED) -> Atlas:
    """The atlas shipped with paxsilica (default ``ai-stack``), read once per process.

    Examples
    --------
    >>> atlas = bundled_atlas()
    >>> len(atlas.version)
    12
    """
    p = bundled_path(name)
    if not p.is_dir():
        raise InputError(f"no bundled atlas named {name!r}", file=str(p))
    return read_csv_dir(p, name=name)


def _to_plain(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype(object).where(df.notna(), None)


def write_atlas(atlas: Atlas, path: str | os.PathLike[str], format: str = "csv") -> Path:
    """Write an atlas. Nothing at ``path`` is replaced until the new copy is complete.

    Parameters
    ----------
    atlas : Atlas
    path : path-like
        A folder for ``csv`` and ``parquet``; a file for ``xlsx``, ``json`` and ``graphml``.
    format : {"csv", "xlsx", "parquet", "json", "graphml"}

    Returns
    -------
    Path
        The path written.
    """
    target = Path(path)
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    if format == "csv":
        def fill(d: Path) -> None:
            for t in TABLE_ORDER:
                atlas[t].to_csv(d / f"{t}.csv", index=False, lineterminator="\n")
        atomic_replace_dir(target, fill, prefix=".")
    elif format == "parquet":
        def fill(d: Path) -> None:
            for t in TABLE_ORDER:
                atlas[t].to_parquet(d / f"{t}.parquet", index=False)
        atomic_replace_dir(target, fill, prefix=".")
    elif format == "xlsx":
        def write(f: Path) -> None:
            with pd.ExcelWriter(f, engine="openpyxl") as xw:
                for t in TABLE_ORDER:
                    _to_plain(atlas[t]).to_excel(xw, sheet_name=t, index=False)
        atomic_write(target, write)
    elif format == "json":
        def write(f: Path) -> None:
            doc = {"name": atlas.name, "version": atlas.version,
                   "tables": {t: _to_plain(atlas[t]).to_dict("records") for t in TABLE_ORDER}}
            f.write_text(json.dumps(doc, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        atomic_write(target, write)
    else:
        import networkx as nx

        graph = to_networkx(atlas)

        def write(f: Path) -> None:
            nx.write_graphml(graph, f)
        atomic_write(target, write)
    return target


def to_networkx(atlas: Atlas):
    """The atlas as a directed graph: items and producers as nodes, recipes and production as edges.

    Edges run downstream: ``input → item`` (attribute ``dependent_share``) and
    ``producer → item`` (attribute ``share``, latest year). Attributes are plain strings and
    numbers so that the graph can be written as GraphML.

    Examples
    --------
    >>> g = to_networkx(Atlas.from_frames({}))
    >>> g.number_of_nodes()
    0
    """
    import networkx as nx

    g = nx.DiGraph(name=atlas.name, version=atlas.version)
    for row in _to_plain(atlas["items"]).to_dict("records"):
        g.add_node(row["item"], kind="item", name=row["name"] or "", stage=row["stage"] or "",
                   unit=row["unit"] or "")
    for row in _to_plain(atlas["recipes"]).to_dict("records"):
        if row["item"] and row["input"]:
            g.add_edge(row["input"], row["item"], kind="recipe",
                       dependent_share=float(row["dependent_share"] or 0.0))
    prod = atlas["production"]
    if len(prod):
        latest = prod.groupby("item")["year"].transform("max")
        prod = prod[prod["year"] == latest]
        for row in _to_plain(prod).to_dict("records"):
            producer = f"{row['producer_type']}:{row['producer']}"
            if producer not in g:
                g.add_node(producer, kind=row["producer_type"] or "", name=row["producer"] or "")
            g.add_edge(producer, row["item"], kind="production", share=float(row["share"] or 0.0),
                       year=int(row["year"]))
    return g
