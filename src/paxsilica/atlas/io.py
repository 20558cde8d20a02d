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
import shutil
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from ..errors import InputError, Problem
from ..fsutil import atomic_replace_dir, atomic_write, shared_mode
from .model import Atlas, Origin
from .schema import SCHEMA, TABLE_ORDER

FORMATS = ("csv", "xlsx", "parquet", "json", "graphml")
BUNDLED = "ai-stack"


MAX_TABLE_BYTES = 2 * 1024**3
"""Largest table file read (2 GiB): the parsed table takes several times its size in memory."""


def _table_file(folder: Path, f: Path) -> Problem | None:
    """Why the table file ``f`` of ``folder`` cannot be read safely (None: it can).

    Refuses a symbolic link that loops, dangles or leads outside the atlas folder (an atlas is a
    self-contained folder: a link to ``/etc/passwd`` or ``../other/items.csv`` is not part of it),
    anything that is not a regular file (a folder, a FIFO that would block the read forever, a
    device) and a file above :data:`MAX_TABLE_BYTES`.
    """
    try:
        if f.is_symlink():
            try:
                real = f.resolve(strict=True)
            except (OSError, RuntimeError):
                return Problem(str(f), None, None, "symbolic link that loops or leads nowhere")
            if not real.is_relative_to(folder.resolve()):
                return Problem(str(f), None, None, f"symbolic link to {real}, outside the atlas folder")
        st = f.stat()
    except OSError as exc:
        return Problem(str(f), None, None, f"cannot read: {exc.strerror or exc}")
    import stat

    if not stat.S_ISREG(st.st_mode):
        return Problem(str(f), None, None, "not a regular file")
    if st.st_size > MAX_TABLE_BYTES:
        return Problem(str(f), None, None, f"file of {st.st_size:,} bytes is above the limit of "
                                           f"{MAX_TABLE_BYTES:,} bytes")
    return None


def _present(f: Path) -> bool:
    """True when something is at ``f`` (also a dangling or looping symbolic link)."""
    return f.exists() or f.is_symlink()


def _read_csv_text(path: Path) -> pd.DataFrame:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", file=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    if not text.strip():
        raise InputError("file is empty (expected a header line)", file=str(path), row=1)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError("holds a NUL character: not a text file", file=str(path), row=line)
    # pandas renames a repeated header ("a", "a.1"); read the header ourselves to report it
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:
        raise InputError(f"malformed CSV header: {exc}", file=str(path), row=1) from None
    names = [h.strip() for h in header]
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise InputError("column appears more than once in the header", file=str(path), row=1,
                             column=name)
        seen.add(name)
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
    :func:`~paxsilica.atlas.validate`, as are files that cannot be read (not UTF-8, a repeated
    header, a symbolic link leading outside the folder, ...).
    """
    folder = Path(path)
    frames: dict[str, pd.DataFrame] = {}
    origins: dict[str, Origin] = {}
    problems: list[Problem] = []
    for tname in TABLE_ORDER:
        f = folder / f"{tname}.csv"
        origins[tname] = Origin(str(f))
        if not _present(f):
            continue
        refused = _table_file(folder, f)
        if refused is not None:
            problems.append(refused)
            continue
        try:
            frames[tname] = _read_csv_text(f)
        except InputError as exc:
            problems.append(Problem(exc.file or str(f), exc.row, exc.column, exc.message))
    return Atlas.from_frames(frames, origins=origins, name=name or folder.name,
                             extra_problems=tuple(problems))


def read_xlsx(path: str | os.PathLike[str], *, name: str | None = None) -> Atlas:
    """Read an Excel workbook with one sheet per table (sheet name = table name).

    A sheet whose header repeats a column name is reported (pandas would rename the second one).
    """
    p = Path(path)
    try:
        real = p.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InputError("no such file, or a symbolic link that loops or leads nowhere", file=str(p)) from None
    refused = _table_file(real.parent, real)  # the user named this file: a link to it is fine
    if refused is not None:
        raise InputError(refused.reason, file=str(p))
    try:
        sheets = pd.read_excel(p, sheet_name=None, dtype=str, keep_default_na=False, na_values=[],
                               header=None)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise InputError(f"cannot read workbook: {_first_line(exc)}", file=str(p)) from None
    unknown = sorted(set(sheets) - set(SCHEMA))
    problems = [Problem(f"{p}", None, None, f"sheet {s!r} is not an atlas table (ignored)") for s in unknown]
    frames: dict[str, pd.DataFrame] = {}
    for sheet, raw in sheets.items():
        if sheet not in SCHEMA:
            continue
        file = f"{p}[{sheet}]"
        if raw.empty:
            frames[sheet] = pd.DataFrame()
            continue
        header = [str(h).strip() for h in raw.iloc[0].tolist()]
        dup = sorted({h for h in header if h and header.count(h) > 1})
        if dup:
            problems += [Problem(file, 1, h, "column appears more than once in the header") for h in dup]
            continue
        body = raw.iloc[1:].reset_index(drop=True)
        body.columns = [h if h else f"Unnamed: {i}" for i, h in enumerate(header)]
        frames[sheet] = body
    origins = {t: Origin(f"{p}[{t}]") for t in TABLE_ORDER}
    return Atlas.from_frames(frames, origins=origins, name=name or p.stem, extra_problems=tuple(problems))


def _parquet_problems(f: Path, schema) -> list[Problem]:  # schema: pyarrow.Schema
    """Columns of a Parquet file that cannot be atlas cells: nested (list, struct, map) or binary."""
    import pyarrow.types as pat

    out = []
    names = [str(n).strip() for n in schema.names]
    for n in sorted({n for n in names if names.count(n) > 1}):
        out.append(Problem(str(f), None, n, "column appears more than once"))
    for fld in schema:
        t = fld.type
        if pat.is_dictionary(t):
            t = t.value_type
        if pat.is_nested(t):
            out.append(Problem(str(f), None, str(fld.name), f"nested column type {t} (a list, struct or map): "
                                                            "atlas cells hold single values"))
        elif pat.is_binary(t) or pat.is_large_binary(t) or pat.is_fixed_size_binary(t):
            out.append(Problem(str(f), None, str(fld.name), f"binary column type {t}: expected text or numbers"))
    return out


def read_parquet_dir(path: str | os.PathLike[str], *, name: str | None = None) -> Atlas:
    """Read a folder holding one ``<table>.parquet`` per table.

    Files that cannot be read, and columns that are nested (lists, structs, maps) or binary, are
    reported by :func:`~paxsilica.atlas.validate` with the file and column.
    """
    import pyarrow.parquet as pq

    folder = Path(path)
    frames: dict[str, pd.DataFrame] = {}
    origins: dict[str, Origin] = {}
    problems: list[Problem] = []
    for tname in TABLE_ORDER:
        f = folder / f"{tname}.parquet"
        origins[tname] = Origin(str(f), row_base=1)
        if not _present(f):
            continue
        refused = _table_file(folder, f)
        if refused is not None:
            problems.append(refused)
            continue
        try:
            table = pq.read_table(f)
        except Exception as exc:  # pyarrow raises several types for a corrupt file
            problems.append(Problem(str(f), None, None, f"cannot read Parquet file: {_first_line(exc)}"))
            continue
        found = _parquet_problems(f, table.schema)
        if found:
            problems += found
            continue
        try:
            frames[tname] = table.to_pandas()
        except Exception as exc:  # e.g. a timestamp out of pandas' range
            problems.append(Problem(str(f), None, None, f"cannot convert Parquet file: {_first_line(exc)}"))
    return Atlas.from_frames(frames, origins=origins, name=name or folder.name,
                             extra_problems=tuple(problems))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


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
        if any(_present(p / f"{t}.csv") for t in TABLE_ORDER):
            return read_csv_dir(p)
        if any(_present(p / f"{t}.parquet") for t in TABLE_ORDER):
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


ATLAS_MARKER = ".paxsilica-atlas"
"""File that marks a folder written by paxsilica as an atlas (JSON: name, version, format)."""

TEMP_PREFIX = ".atlas-tmp."
"""Prefix of the temporary sibling folders an atlas folder is built in (cleaned when stale)."""

STALE_TEMP_SECONDS = 60.0
"""Temporary leftovers untouched for this long are a killed write's, not a running one's."""

EXTRA_SUFFIX = ".extra.csv"
"""Tables an importer returns beside the schema (``links.extra.csv``): also the folder's own files."""


def owned_names(fmt: str) -> set[str]:
    """File names an atlas folder of format ``fmt`` owns (the tables and the marker).

    Examples
    --------
    >>> sorted(owned_names("csv"))[:3]
    ['.paxsilica-atlas', 'chokepoints.csv', 'countries.csv']
    """
    return {f"{t}.{fmt}" for t in TABLE_ORDER} | {ATLAS_MARKER}


def foreign_entries(folder: Path, fmt: str = "csv") -> list[str]:
    """Names in ``folder`` that an atlas folder of format ``fmt`` does not own (sorted).

    Empty when the folder is missing or empty, or holds only atlas tables of that format, importer
    extras (``*.extra.csv``, CSV only) and the marker, all regular files (a symbolic link or a
    sub-folder named like a table is the user's).
    """
    try:
        entries = sorted(folder.iterdir(), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        return [folder.name]
    own = owned_names(fmt)
    out = []
    for e in entries:
        name = e.name
        ours = name in own or (fmt == "csv" and name.endswith(EXTRA_SUFFIX))
        if not ours or e.is_symlink() or not e.is_file():
            out.append(name)
    return out


def clean_stale_temps(folder: Path, prefixes: tuple[str, ...] = (TEMP_PREFIX,), suffix: str = "",
                      age: float = STALE_TEMP_SECONDS) -> list[str]:
    """Remove leftovers of killed writes in ``folder``: entries named ``<prefix>…<suffix>`` for one
    of ``prefixes`` that nothing has touched for ``age`` seconds (one being written now is younger).

    Returns the names removed. Symbolic links are never followed or removed.

    Examples
    --------
    >>> import tempfile, pathlib, os
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / ".atlas-tmp.x").mkdir(); os.utime(d / ".atlas-tmp.x", (0, 0))
    >>> (d / "keep.csv").write_text("1")
    1
    >>> clean_stale_temps(d), sorted(p.name for p in d.iterdir())
    (['.atlas-tmp.x'], ['keep.csv'])
    """
    import time

    now = time.time()
    removed: list[str] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for e in entries:
        name = e.name
        if not (any(name.startswith(pre) for pre in prefixes) and name.endswith(suffix)):
            continue
        try:
            if e.is_symlink():
                continue
            newest = e.lstat().st_mtime
            if e.is_dir():
                newest = max([newest] + [c.lstat().st_mtime for c in e.iterdir()])
            if now - newest <= age:
                continue
            if e.is_dir():
                shutil.rmtree(e)
            else:
                e.unlink()
            removed.append(name)
        except OSError:
            continue
    return removed


def _dir_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def _is_cwd_or_above(target: Path) -> bool:
    """True when ``target`` is the current folder or one of its parents (never swapped away)."""
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return False
    return cwd == target or target in cwd.parents


def check_atlas_folder(target: Path, fmt: str = "csv", force: bool = False) -> list[str]:
    """The foreign entries of the folder ``target`` (see :func:`foreign_entries`).

    Raises
    ------
    InputError
        When ``target`` is a file, or holds foreign entries and ``force`` is false.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise InputError("exists and is not a folder (a CSV or Parquet atlas is a folder)", file=str(target))
    foreign = foreign_entries(target, fmt)
    if foreign and not force:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise InputError(f"folder is not empty and is not a paxsilica atlas (holds {shown}); choose "
                         "another folder, or pass --force to write only the atlas tables into it "
                         "(nothing else in it is touched)", file=str(target))
    return foreign


def _fill_tables(atlas: Atlas, fmt: str, folder: Path, extras: dict[str, pd.DataFrame]) -> None:
    for t in TABLE_ORDER:
        if fmt == "csv":
            atlas[t].to_csv(folder / f"{t}.csv", index=False, lineterminator="\n")
        else:
            atlas[t].to_parquet(folder / f"{t}.parquet", index=False)
    for k, df in extras.items():
        df.to_csv(folder / f"{k}{EXTRA_SUFFIX}", index=False, lineterminator="\n")


def _write_atlas_dir(atlas: Atlas, target: Path, fmt: str, *, force: bool,
                     extras: dict[str, pd.DataFrame]) -> None:
    """An atlas folder, old-or-new: built beside ``target`` and swapped in, or (``--force`` into a
    foreign folder, or the current folder) only its own files replaced, one atomic rename each."""
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(target.parent)
    foreign = check_atlas_folder(target, fmt, force)
    marker = json.dumps({"name": atlas.name, "version": atlas.version, "format": fmt}) + "\n"
    if foreign or _is_cwd_or_above(target):
        target.mkdir(exist_ok=True)
        # only our own atomic_write leftovers (".items.csv.<random>.tmp"), never the user's files
        clean_stale_temps(target, tuple(f".{n}." for n in owned_names(fmt)), ".tmp")
        tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=target.parent))
        try:
            _fill_tables(atlas, fmt, tmp, extras)
            for f in sorted(tmp.iterdir()):
                atomic_write(target / f.name, lambda dst, f=f: shutil.copyfile(f, dst))
            if not foreign:
                atomic_write(target / ATLAS_MARKER, marker)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return

    def fill(tmp: Path) -> None:
        # importer extras of an earlier import stay (they are the folder's, and nobody asked to drop them)
        if target.is_dir():
            for old in target.glob(f"*{EXTRA_SUFFIX}"):
                if old.is_file() and not old.is_symlink() and old.name[: -len(EXTRA_SUFFIX)] not in extras:
                    shutil.copy2(old, tmp / old.name)
        _fill_tables(atlas, fmt, tmp, extras)
        (tmp / ATLAS_MARKER).write_text(marker, encoding="utf-8")
        os.chmod(tmp, _dir_mode())  # mkdtemp makes 0700; an atlas is shared like any folder
        for f in tmp.iterdir():
            os.chmod(f, shared_mode())

    atomic_replace_dir(target, fill, prefix=TEMP_PREFIX)


def write_atlas(atlas: Atlas, path: str | os.PathLike[str], format: str = "csv", *, force: bool = False,
                extras: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write an atlas without losing data: ``path`` shows the old content or the new, never a mix.

    A CSV or Parquet atlas is a folder. A new or empty folder, or one holding only an atlas's own
    files (its tables, importer extras, the ``.paxsilica-atlas`` marker), is built in a temporary
    sibling (``.atlas-tmp.*``) and swapped in by one rename. A folder holding anything else (a
    README, ``.git/``, the user's own tables) is refused with :class:`~paxsilica.errors.InputError`
    unless ``force``; then only the atlas tables are replaced in it, each by an atomic rename, and
    nothing else is touched or deleted. The current folder (``--to .``) is never swapped away either.
    Leftovers of killed writes beside the target are removed first. Files (``xlsx``, ``json``,
    ``graphml``) are written by :func:`~paxsilica.fsutil.atomic_write`.

    Parameters
    ----------
    atlas : Atlas
    path : path-like
        A folder for ``csv`` and ``parquet``; a file for ``xlsx``, ``json`` and ``graphml``.
    format : {"csv", "xlsx", "parquet", "json", "graphml"}
    force : bool
        Write the tables into a folder that holds other files (they are kept).
    extras : dict of str to DataFrame, optional
        Tables outside the schema written beside the atlas as ``<name>.extra.csv`` (CSV only).

    Returns
    -------
    Path
        The absolute path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "README").write_text("mine")
    4
    >>> write_atlas(Atlas.from_frames({}), d)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    paxsilica.errors.InputError: ...: folder is not empty and is not a paxsilica atlas (holds README); ...
    >>> sorted(p.name for p in write_atlas(Atlas.from_frames({}), d, force=True).iterdir())[:3]
    ['README', 'chokepoints.csv', 'countries.csv']
    """
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    if str(path) == "":
        raise InputError("empty path: name a folder or a file (use '.' for the current folder)")
    target = Path(os.path.abspath(path))
    try:
        target = target.resolve()  # a link to a folder: write the folder it names
    except (OSError, RuntimeError):
        raise InputError("symbolic link that loops", file=str(target)) from None
    if extras and format != "csv":
        raise InputError("importer extras are written to CSV atlas folders only")
    if format in ("csv", "parquet"):
        _write_atlas_dir(atlas, target, format, force=force, extras=dict(extras or {}))
        return target
    if target.is_dir():
        raise InputError(f"is a folder; a {format} atlas is a file (name a file, e.g. atlas.{format})",
                         file=str(target))
    if format == "xlsx":
        def write(f: Path) -> None:
            with pd.ExcelWriter(f, engine="openpyxl") as xw:
                for t in TABLE_ORDER:
                    _to_plain(atlas[t]).to_excel(xw, sheet_name=t, index=False)
    elif format == "json":
        def write(f: Path) -> None:
            doc = {"name": atlas.name, "version": atlas.version,
                   "tables": {t: _to_plain(atlas[t]).to_dict("records") for t in TABLE_ORDER}}
            f.write_text(json.dumps(doc, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
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
