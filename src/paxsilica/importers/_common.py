"""Shared pieces of the importers: options, safe CSV reading, numbers, mappings, table frames.

Every reader turns a publisher's file into text cells first and converts them itself, so that a
malformed file gives an :class:`~paxsilica.errors.InputError` naming the file, the row (header =
row 1) and the column, never a pandas or csv traceback.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paxsilica.atlas.schema import SCHEMA
from paxsilica.errors import InputError

PathsArg = str | Path | Sequence[str | Path]
"""What ``run`` accepts: one path or a list of paths (files or, where noted, folders)."""

MAPPINGS = Path(__file__).resolve().parents[1] / "data" / "mappings"
"""Folder of the publisher -> atlas item mapping tables."""


@dataclass(frozen=True)
class Option:
    """One option of an importer, as the CLI exposes it (``--option name=value``)."""

    name: str
    type: type
    help: str
    default: Any = None

    def __str__(self) -> str:
        return f"{self.name} ({self.type.__name__}): {self.help}"


@dataclass(frozen=True)
class Importer:
    """An importer: its kind name, a one-line description, its options and its ``run``."""

    kind: str
    description: str
    run: Callable[..., dict[str, pd.DataFrame]]
    options: tuple[Option, ...] = field(default_factory=tuple)

    def __call__(self, paths: Sequence[str | Path] | str | Path, **options: Any) -> dict[str, pd.DataFrame]:
        return self.run(paths, **options)


_TRUE = {"1", "true", "yes", "y", "on", "t"}
_FALSE = {"0", "false", "no", "n", "off", "f", ""}


def coerce_options(kind: str, spec: Sequence[Option], options: dict[str, Any]) -> dict[str, Any]:
    """Check option names and convert string values (from the CLI) to the declared types.

    Examples
    --------
    >>> coerce_options("x", [Option("year", int, "year")], {"year": "2022"})
    {'year': 2022}
    """
    by_name = {o.name: o for o in spec}
    unknown = sorted(set(options) - set(by_name))
    if unknown:
        known = ", ".join(sorted(by_name)) or "none"
        raise InputError(f"unknown option(s) for the {kind} importer: {', '.join(unknown)} "
                         f"(known: {known})")
    out: dict[str, Any] = {o.name: o.default for o in spec}
    for name, value in options.items():
        typ = by_name[name].type
        if value is None or not isinstance(value, str) or typ is str:
            out[name] = value
            continue
        v = value.strip()
        try:
            if typ is bool:
                if v.lower() not in _TRUE | _FALSE:
                    raise ValueError(v)
                out[name] = v.lower() in _TRUE
            elif typ is int:
                out[name] = None if v.lower() in {"", "latest", "none"} else int(v)
            elif typ is float:
                out[name] = float(v)
            elif typ is list:
                out[name] = [s.strip() for s in v.split(",") if s.strip()]
            else:
                out[name] = typ(v)
        except ValueError:
            raise InputError(f"option {name!r} of the {kind} importer must be "
                             f"{typ.__name__}, got {value!r}") from None
    return out


def as_paths(paths: PathsArg) -> list[Path]:
    """One path or many -> list of Path; an empty list is an error."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out = [Path(p) for p in paths]
    if not out:
        raise InputError("no input file given")
    return out


def read_text(path: Path) -> str:
    """A text file (plain, .gz or single-member .zip) decoded as UTF-8 (BOM ok) or Latin-1."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", file=str(path)) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", file=str(path)) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
            raise InputError(f"broken gzip file: {e}", file=path.name) from None
    elif raw[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                names = [n for n in z.namelist() if not n.endswith("/")]
                if len(names) != 1:
                    raise InputError(f"zip file must hold exactly one file, holds {len(names)}", file=path.name)
                raw = z.read(names[0])
        except zipfile.BadZipFile as e:
            raise InputError(f"broken zip file: {e}", file=path.name) from None
    if b"\x00" in raw[:4096]:
        raise InputError("binary file, expected CSV text", file=path.name)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_csv_text(text: str, file: str, *, engine_c: bool = False, allow_empty: bool = False) -> pd.DataFrame:
    """CSV text -> DataFrame of strings ("" for blanks), header stripped of BOM and spaces.

    Raises InputError for text that is not a CSV table (no header, ragged or short rows, bad
    quoting, a repeated column name) and, unless ``allow_empty``, for a header without data rows.
    """
    if not text.strip():
        raise InputError("empty file", file=file)
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False,
                         skip_blank_lines=True, engine="c" if engine_c else "python",
                         **({} if engine_c else {"on_bad_lines": "error"}))
    except pd.errors.EmptyDataError:
        raise InputError("empty file (no header)", file=file) from None
    except (pd.errors.ParserError, csv.Error, ValueError, IndexError, TypeError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        m = re.search(r"line (\d+)", msg)
        raise InputError(f"cannot read as CSV: {msg}", file=file,
                         row=int(m.group(1)) if m else None) from None
    df.columns = [str(c).replace("\ufeff", "").replace("\u00a0", " ").strip() for c in df.columns]
    if df.columns.duplicated().any():
        dup = [c for c in df.columns[df.columns.duplicated()] if c and not c.startswith("Unnamed")]
        if dup:
            raise InputError(f"duplicate column name {dup[0]!r}", file=file, row=1, column=dup[0])
    # pandas mangles a repeated header to "a.1": compare with the header line as written
    header = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))), [])
    names = [h.replace("\u00a0", " ").strip() for h in header]
    for i, n in enumerate(names):
        if n and n in names[:i]:
            raise InputError(f"duplicate column name {n!r}", file=file, row=1, column=n)
    if df.empty and not allow_empty:
        raise InputError("no data rows (only a header)", file=file, row=2)
    # a row with fewer fields than the header (a truncated file, a lost delimiter) reads as missing
    # cells (NaN); refuse it rather than let a half row through
    short = df.isna().any(axis=1).to_numpy()
    if short.any():
        i = int(np.flatnonzero(short)[0])
        n = int(df.iloc[i].notna().sum())
        raise InputError(f"row has {n} field(s), the header {len(df.columns)} (truncated file?)",
                         file=file, row=i + 2)
    return df


def open_workbook(path: Path):  # -> openpyxl.Workbook
    """Open an Excel workbook read-only, turning any openpyxl failure into an InputError."""
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many types on a broken file
        raise InputError(f"cannot read as an Excel workbook: {type(e).__name__}: {e}", file=path.name) from None


def read_csv(path: Path, *, engine_c: bool = False, allow_empty: bool = False) -> pd.DataFrame:
    """Read a CSV file as text cells (see :func:`parse_csv_text`)."""
    return parse_csv_text(read_text(path), path.name, engine_c=engine_c, allow_empty=allow_empty)


def require_columns(df: pd.DataFrame, columns: Iterable[str], file: str, what: str = "") -> None:
    """Raise InputError naming the first missing column."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        kind = f" of a {what} file" if what else ""
        raise InputError(f"missing column(s){kind}: {', '.join(missing)} "
                         f"(found: {', '.join(map(str, df.columns[:12]))})",
                         file=file, row=1, column=missing[0])


_NUM_CLEAN = re.compile(r"[,\s\u00a0]")


def to_numbers(values: pd.Series, file: str, column: str, *, rows: Sequence[int] | None = None,
               allow: Iterable[str] = ("",), minimum: float | None = None) -> pd.Series:
    """Text -> float; cells in ``allow`` become NaN; anything else non-numeric is an InputError.

    Parameters
    ----------
    rows : sequence of int, optional
        File line number of each value (default: header = 1, first value = 2).

    Examples
    --------
    >>> to_numbers(pd.Series(["1,200", "", "3.5"]), "f.csv", "v").tolist()
    [1200.0, nan, 3.5]
    """
    text = values.astype(object).where(values.notna(), "").map(lambda v: str(v).strip())
    allowed = {a.lower() for a in allow}
    blank = text.str.lower().isin(allowed)
    cleaned = text.str.replace(_NUM_CLEAN, "", regex=True)
    num = pd.to_numeric(cleaned.where(~blank, None), errors="coerce")
    bad = (~blank) & (num.isna() | ~np.isfinite(num.astype(float)))
    if minimum is not None:
        bad |= (~blank) & (num < minimum)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        line = rows[i] if rows is not None else i + 2
        need = "a number" if minimum is None else f"a number >= {minimum:g}"
        raise InputError(f"expected {need}, got {text.iat[i]!r}", file=file, row=int(line), column=column)
    return num.astype(float)


def slug(text: str) -> str:
    """snake_case id from a name.

    Examples
    --------
    >>> slug("Rare Earths (REO)"), slug("Platinum-group metals")
    ('rare_earths_reo', 'platinum_group_metals')
    """
    s = re.sub(r"[^0-9a-zA-Z]+", "_", str(text).strip().lower()).strip("_")
    return s or "unnamed"


def load_mapping(name: str, path: str | Path | None = None) -> pd.DataFrame:
    """Read a mapping CSV of ``data/mappings`` (or a user's file with the same columns)."""
    p = Path(path) if path is not None else MAPPINGS / name
    return read_csv(p)


def frame(table: str, rows: pd.DataFrame | list[dict] | None = None) -> pd.DataFrame:
    """A DataFrame with exactly the schema columns of ``table`` (missing ones blank).

    Examples
    --------
    >>> list(frame("sources").columns)[:3]
    ['source', 'publisher', 'title']
    """
    cols = SCHEMA[table].column_names
    df = pd.DataFrame(rows if rows is not None else [])
    for c in cols:
        if c not in df.columns:
            df[c] = pd.NA
    df = df[cols].reset_index(drop=True)
    for c in SCHEMA[table].columns:
        if c.dtype == "float":
            df[c.name] = pd.to_numeric(df[c.name], errors="coerce").astype(float)
        elif c.dtype == "int":
            df[c.name] = pd.to_numeric(df[c.name], errors="coerce").astype("Int64")
        elif c.dtype == "bool":
            df[c.name] = df[c.name].astype("boolean")
        else:
            df[c.name] = df[c.name].astype("string")
    return df


def add_shares(prod: pd.DataFrame, world: dict[tuple[str, int], float] | None = None,
               rest_note: str = "rest of world: world total minus the named producers",
               min_rest_share: float = 0.05) -> pd.DataFrame:
    """Compute ``share`` per (item, year) and complete each level with a ``ROW`` row.

    Parameters
    ----------
    prod : DataFrame
        Country rows (item, producer, year, quantity, ...); rows with producer ``ROW`` are the
        publisher's own rest-of-world figures.
    world : dict, optional
        (item, year) -> world total as published; where absent (or smaller than the sum of
        rows) the sum of the rows is the total.

    Returns
    -------
    DataFrame
        The rows with ``share`` (percent); a ``ROW`` row for the part of the world total that
        named producers and the publisher's own "other countries" row do not cover (kept when it
        exceeds ``min_rest_share`` percent).

    Examples
    --------
    >>> p = pd.DataFrame({"item": ["ga", "ga"], "producer": ["CHN", "JPN"], "year": [2023, 2023],
    ...                   "quantity": [600.0, 3.0]})
    >>> add_shares(p, {("ga", 2023): 610.0})["share"].round(2).tolist()
    [98.36, 0.49, 1.15]
    """
    world = world or {}
    out = []
    for (item, year), g in prod.groupby(["item", "year"], sort=False):
        g = g.copy()
        named = float(g["quantity"].sum())
        total = world.get((item, int(year)))
        if total is None or not np.isfinite(total) or total < named:
            total = named
        if total <= 0:
            g["share"] = 0.0
            out.append(g)
            continue
        g["share"] = 100.0 * g["quantity"] / total
        rest = total - named
        if rest > 0 and 100.0 * rest / total > min_rest_share:
            base = g.iloc[0].to_dict()
            have_row = (g["producer"] == "ROW").any()
            if have_row:
                idx = g.index[g["producer"] == "ROW"][0]
                g.loc[idx, "quantity"] = g.loc[idx, "quantity"] + rest
                g.loc[idx, "share"] = 100.0 * g.loc[idx, "quantity"] / total
                g.loc[idx, "note"] = _join_note(g.loc[idx, "note"] if "note" in g else None, rest_note)
            else:
                base.update(producer="ROW", producer_type="rest_of_world", country=pd.NA,
                            quantity=rest, share=100.0 * rest / total, note=rest_note)
                g = pd.concat([g, pd.DataFrame([base])], ignore_index=True)
        out.append(g)
    if not out:
        return prod.assign(share=pd.Series(dtype=float))
    return pd.concat(out, ignore_index=True)


def _join_note(a: Any, b: str) -> str:
    if a is None or (isinstance(a, float) and np.isnan(a)) or a is pd.NA or str(a) == "":
        return b
    return f"{a}; {b}"


def report(df: pd.DataFrame, **lists: list[str]) -> pd.DataFrame:
    """Attach what an importer skipped (``df.attrs``) so the caller can show it."""
    for k, v in lists.items():
        df.attrs[k] = list(v)
    return df


__all__ = [
    "MAPPINGS", "Importer", "Option", "PathsArg", "add_shares", "as_paths", "coerce_options", "frame",
    "load_mapping", "parse_csv_text", "read_csv", "read_text", "report", "require_columns", "slug",
    "to_numbers",
]
