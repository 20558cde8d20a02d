"""Parse raw tables (any cell types, typically all strings) into typed Atlas tables.

Parsing is separate from file access: readers in :mod:`paxsilica.atlas.io` only turn files into raw
string DataFrames and call :func:`parse_table`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import Problem
from .schema import SCHEMA, Column, Table

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}

PANDAS_DTYPES = {
    "str": "string",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
    "date": "string",
}


def empty_table(name: str) -> pd.DataFrame:
    """An empty DataFrame with the schema columns and dtypes of table ``name``.

    Examples
    --------
    >>> list(empty_table("stocks").columns)[:2]
    ['holder', 'item']
    """
    table = SCHEMA[name]
    return pd.DataFrame({c.name: pd.Series([], dtype=PANDAS_DTYPES[c.dtype]) for c in table.columns})


def _blank(values: pd.Series) -> pd.Series:
    as_text = values.astype("string").str.strip()
    return values.isna() | as_text.eq("").fillna(True)


MAX_INT = 2**53
"""Largest whole number a cell may hold: every count, year and id fits exactly in a float64."""

MAX_FLOAT = 1e15
"""Largest magnitude of a numeric cell: no quantity of the AI stack comes near it (world copper
output is about 2e7 t), and squares and products of such values stay finite."""

MAX_REPORTED_CHARS = 60
"""Raw values quoted in a problem are cut to this many characters."""


def _shown(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= MAX_REPORTED_CHARS else text[: MAX_REPORTED_CHARS - 1] + "…"


def _not_scalar(values: pd.Series) -> np.ndarray:
    """Cells holding a list, mapping, array or bytes (a nested Parquet column, a JSON-ish import)."""
    if values.dtype != object:
        return np.zeros(len(values), dtype=bool)
    return np.fromiter((isinstance(v, list | tuple | dict | set | np.ndarray | bytes | bytearray)
                        for v in values.to_numpy()), dtype=bool, count=len(values))


def _convert(col: Column, values: pd.Series, file: str, row_base: int) -> tuple[pd.Series, list[Problem]]:
    problems: list[Problem] = []
    positions = range(len(values))

    def bad(mask, what: str) -> None:
        for pos, is_bad, raw in zip(positions, np.asarray(mask), values.to_numpy(), strict=True):
            if is_bad:
                problems.append(Problem(file, pos + row_base, col.name, f"{what}: {_shown(raw)}"))

    nested = _not_scalar(values)
    if nested.any():
        bad(nested, "not a single value")
        values = values.mask(nested, None)
    blank = _blank(values)

    if col.dtype in ("str", "date"):
        out = values.astype("string").str.strip()
        out = out.mask(blank.to_numpy(dtype=bool), pd.NA)
        return out.astype("string"), problems
    if col.dtype in ("float", "int"):
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
            num = values.astype("float64")
        else:
            text = values.astype("string").str.strip().str.replace(",", "", regex=False)
            num = pd.to_numeric(text.mask(blank.to_numpy(dtype=bool), pd.NA), errors="coerce").astype("float64")
        # NaN read from text ("nan") is not a blank: the writer meant something, say what is wrong
        bad(num.isna().to_numpy() & ~blank.to_numpy(dtype=bool), "not a number")
        arr = num.to_numpy(dtype="float64", na_value=np.nan)
        infinite = np.isinf(arr)
        bad(infinite, "not a finite number")
        num = num.mask(infinite)
        if col.dtype == "float":
            too_big = np.abs(np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)) > MAX_FLOAT
            bad(too_big, f"magnitude above {MAX_FLOAT:g}")
            return num.mask(too_big), problems
        finite = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
        too_big = np.abs(finite) > MAX_INT
        bad(too_big, f"whole number above {MAX_INT:g} in magnitude")
        frac = ~too_big & (finite % 1 != 0)
        bad(frac, "not a whole number")
        num = num.mask(frac | too_big)
        return num.round().astype("Int64"), problems
    if col.dtype == "bool":
        if pd.api.types.is_bool_dtype(values.dtype):
            return values.astype("boolean"), problems
        text = values.astype("string").str.strip().str.lower()
        out = pd.Series(pd.NA, index=values.index, dtype="boolean")
        is_true = text.isin(_TRUE).fillna(False).to_numpy()
        is_false = text.isin(_FALSE).fillna(False).to_numpy()
        out[is_true] = True
        out[is_false] = False
        bad(~(is_true | is_false | blank.to_numpy(dtype=bool)), "not true/false")
        return out, problems
    raise ValueError(f"unknown dtype {col.dtype!r} in schema")  # pragma: no cover - schema bug


def parse_table(
    name: str, raw: pd.DataFrame, *, file: str | None = None, row_base: int = 2
) -> tuple[pd.DataFrame, list[Problem]]:
    """Turn a raw table into a typed Atlas table.

    Parameters
    ----------
    name : str
        Table name (a key of :data:`paxsilica.atlas.schema.SCHEMA`).
    raw : DataFrame
        Cells of any type; text cells are stripped, blanks become missing values.
    file : str, optional
        Name used in problems (default ``"<name>.csv"``).
    row_base : int
        Line number of the first data row in ``file`` (2 for a CSV or a sheet with one header row).

    Returns
    -------
    (DataFrame, list of Problem)
        The typed table (schema columns first, extra columns kept as text after them) and the cells
        that could not be converted (their value becomes missing).

    Examples
    --------
    >>> df, problems = parse_table("items", pd.DataFrame({"item": ["ga"], "eol_rir": ["x"]}))
    >>> [str(p) for p in problems if p.column == "eol_rir"]
    ["items.csv, row 2, column 'eol_rir': not a number: 'x'"]
    """
    table: Table = SCHEMA[name]
    file = file or f"{name}.csv"
    raw = raw.reset_index(drop=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    problems: list[Problem] = []
    dup = raw.columns[raw.columns.duplicated()].tolist()
    for c in dup:
        problems.append(Problem(file, 1, c, "column appears more than once"))
    raw = raw.loc[:, ~raw.columns.duplicated()]
    out: dict[str, pd.Series] = {}
    for col in table.columns:
        if col.name in raw.columns:
            series, found = _convert(col, raw[col.name], file, row_base)
            problems += found
        else:
            if col.required:
                problems.append(Problem(file, 1, col.name, "required column is missing"))
            fill = np.nan if col.dtype == "float" else pd.NA
            series = pd.Series(fill, index=raw.index, dtype=PANDAS_DTYPES[col.dtype])
        out[col.name] = series
    for extra in raw.columns:
        if extra not in out and not extra.startswith("Unnamed:"):
            out[extra] = raw[extra].astype("string")
    df = pd.DataFrame(out, index=raw.index)
    return df, problems
