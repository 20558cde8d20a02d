"""Validation of an Atlas: every problem at once, each with file, row, column and reason."""

from __future__ import annotations

import datetime as dt
import re

import networkx as nx
import numpy as np
import pandas as pd

from ..errors import Problem
from .model import Atlas
from .schema import (
    OTHER_FIRMS_PRODUCER,
    REST_PRODUCERS,
    ROW_PRODUCER,
    SCHEMA,
    UNITS,
    Table,
)

SHARE_TOLERANCE = 2.0
"""Producer shares of one item, year and level must sum to 100 ± this (percentage points)."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO3 = re.compile(r"^[A-Z]{3}$")


def validate(atlas: Atlas) -> list[Problem]:
    """Check an atlas and return every problem found (an empty list when it is clean).

    Checks: cells that could not be parsed; missing required tables and values; values outside their
    allowed set (stages, units, producer types) or range (shares outside 0–100, …); duplicate keys;
    references to unknown items, countries, firms and sources; producer shares of an item that do not
    sum to 100 ± 2 (below 98 or above 102, with or without an explicit rest-of-world row); recipe
    cycles; bad dates.

    Parameters
    ----------
    atlas : Atlas

    Returns
    -------
    list of Problem
        Sorted by file and row.

    Examples
    --------
    >>> import pandas as pd
    >>> a = Atlas.from_frames({"items": pd.DataFrame({"item": ["x"], "name": ["X"],
    ...                        "stage": ["raw_material"], "unit": ["tonnes"]})})
    >>> [str(p) for p in validate(a) if p.column == "unit"]
    ["items.csv, row 2, column 'unit': unknown unit 'tonnes'"]
    """
    problems: list[Problem] = list(atlas.load_problems)
    for name, table in SCHEMA.items():
        df = atlas[name]
        origin = atlas.file_of(name)
        if table.required_table and df.empty:
            problems.append(Problem(origin.file, None, None, f"required table '{name}' is missing or empty"))
            continue
        problems += _check_columns(table, df, origin.file, origin.row_base)
        problems += _check_duplicates(table, df, origin.file, origin.row_base)
        problems += _check_references(atlas, table, df, origin.file, origin.row_base)
    problems += _check_shares(atlas)
    problems += _check_cycles(atlas)
    problems += _check_groups(atlas)
    return sorted(set(problems), key=lambda p: (p.file, -1 if p.row is None else p.row, p.column or "", p.reason))


def _rows(mask: pd.Series | np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.asarray(mask, dtype=bool))


def _check_columns(table: Table, df: pd.DataFrame, file: str, base: int) -> list[Problem]:
    out: list[Problem] = []
    for col in table.columns:
        if col.name not in df.columns:
            continue
        values = df[col.name]
        missing = values.isna().to_numpy()
        if col.required:
            out += [Problem(file, i + base, col.name, "required value is missing") for i in _rows(missing)]
        present = ~missing
        if col.choices is not None:
            allowed = set(col.choices)
            bad = present & ~values.isin(allowed).fillna(False).to_numpy()
            what = "unknown unit" if col.choices == tuple(UNITS) else f"not one of {', '.join(col.choices)}:"
            for i in _rows(bad):
                v = values.iloc[i]
                reason = f"unknown unit {v!r}" if what == "unknown unit" else f"{v!r} is {what[:-1]}"
                out.append(Problem(file, i + base, col.name, reason))
        if col.dtype in ("float", "int") and (col.minimum is not None or col.maximum is not None):
            num = values.astype("float64").to_numpy()
            lo = -np.inf if col.minimum is None else col.minimum
            hi = np.inf if col.maximum is None else col.maximum
            with np.errstate(invalid="ignore"):
                bad = present & ((num < lo) | (num > hi))
            unit = " %" if col.unit == "percent" else ""
            for i in _rows(bad):
                out.append(Problem(file, i + base, col.name, f"{num[i]:g}{unit} is outside [{lo:g}, {hi:g}]"))
        if col.dtype == "date":
            for i in _rows(present):
                v = str(values.iloc[i])
                if not _is_date(v):
                    out.append(Problem(file, i + base, col.name, f"bad date {v!r} (expected YYYY-MM-DD)"))
    if table.name == "countries" and "iso3" in df.columns:
        codes = df["iso3"]
        for i in _rows(codes.notna().to_numpy()):
            if not _ISO3.match(str(codes.iloc[i])):
                out.append(Problem(file, i + base, "iso3", f"{codes.iloc[i]!r} is not a 3-letter upper-case code"))
    return out


def _is_date(v: str) -> bool:
    if not _DATE.match(v):
        return False
    try:
        dt.date.fromisoformat(v)
    except ValueError:
        return False
    return True


def _check_duplicates(table: Table, df: pd.DataFrame, file: str, base: int) -> list[Problem]:
    key = list(table.key)
    if df.empty or not all(k in df.columns for k in key):
        return []
    dup = df.duplicated(key, keep=False).to_numpy()
    out: list[Problem] = []
    first: dict[tuple, int] = {}
    for i in _rows(dup):
        k = tuple(str(df[c].iloc[i]) for c in key)
        if k in first:
            out.append(Problem(file, i + base, key[0] if len(key) == 1 else None,
                               f"duplicate key ({', '.join(k)}), first on row {first[k]}"))
        else:
            first[k] = i + base
    return out


def _check_references(atlas: Atlas, table: Table, df: pd.DataFrame, file: str, base: int) -> list[Problem]:
    refs = list(table.references)
    if table.sources_column:
        from .schema import Reference

        refs.append(Reference(table.sources_column, "sources", "source"))
    out: list[Problem] = []
    for ref in refs:
        if ref.column not in df.columns:
            continue
        values = df[ref.column]
        check = values.notna().to_numpy().copy()
        if ref.when is not None:
            check &= (df[ref.when[0]] == ref.when[1]).fillna(False).to_numpy()
        known = set(atlas[ref.table][ref.target].dropna()) | set(ref.allow)
        bad = check & ~values.isin(known).fillna(False).to_numpy()
        noun = {"items": "item", "countries": "country", "firms": "firm", "sources": "source"}.get(
            ref.table, ref.table
        )
        for i in _rows(bad):
            out.append(Problem(file, i + base, ref.column,
                               f"unknown {noun} {values.iloc[i]!r} (not in {ref.table}.{ref.target})"))
    if table.name == "production" and {"producer", "producer_type"} <= set(df.columns):
        rest = (df["producer_type"] == "rest_of_world").fillna(False).to_numpy()
        bad = rest & ~df["producer"].isin(REST_PRODUCERS).fillna(False).to_numpy()
        for i in _rows(bad):
            out.append(Problem(file, i + base, "producer",
                               f"rest_of_world rows use producer {ROW_PRODUCER!r} (countries) or "
                               f"{OTHER_FIRMS_PRODUCER!r} (firms), not {df['producer'].iloc[i]!r}"))
        bad = ~rest & df["producer"].isin(REST_PRODUCERS).fillna(False).to_numpy()
        for i in _rows(bad):
            out.append(Problem(file, i + base, "producer_type",
                               f"producer {df['producer'].iloc[i]!r} needs producer_type 'rest_of_world'"))
    return out


def production_level(production: pd.DataFrame) -> pd.Series:
    """Level of each production row: ``"firm"`` or ``"country"``.

    Examples
    --------
    >>> df = pd.DataFrame({"producer": ["CHN", "tsmc", "OTHER", "ROW"],
    ...                    "producer_type": ["country", "firm", "rest_of_world", "rest_of_world"]})
    >>> production_level(df).tolist()
    ['country', 'firm', 'firm', 'country']
    """
    firm = (production["producer_type"] == "firm").fillna(False) | (
        production["producer"] == OTHER_FIRMS_PRODUCER
    ).fillna(False)
    return pd.Series(np.where(firm.to_numpy(), "firm", "country"), index=production.index)


def _check_shares(atlas: Atlas) -> list[Problem]:
    prod = atlas["production"]
    if prod.empty:
        return []
    origin = atlas.file_of("production")
    df = prod.assign(_level=production_level(prod), _pos=np.arange(len(prod)),
                     _rest=prod["producer_type"].eq("rest_of_world").fillna(False))
    df = df[df["item"].notna() & df["year"].notna() & df["share"].notna()]
    out: list[Problem] = []
    for (item, year, level), g in df.groupby(["item", "year", "_level"], sort=True):
        total = float(g["share"].sum())
        has_rest = bool(g["_rest"].any())
        row = int(g["_pos"].iloc[0]) + origin.row_base
        rest_name = OTHER_FIRMS_PRODUCER if level == "firm" else ROW_PRODUCER
        if has_rest and total > 100 + SHARE_TOLERANCE:
            out.append(Problem(origin.file, row, "share",
                               f"{level} shares of {item!r} in {year} sum to {total:.4g} %, over 100 ± {SHARE_TOLERANCE:g}"))
        elif has_rest and total < 100 - SHARE_TOLERANCE:
            out.append(Problem(origin.file, row, "share",
                               f"{level} shares of {item!r} in {year} sum to {total:.4g} %, under 100 ± "
                               f"{SHARE_TOLERANCE:g} although there is a rest row ({rest_name!r}): the rest "
                               "row should complete the total to 100"))
        elif not has_rest and abs(total - 100) > SHARE_TOLERANCE:
            out.append(Problem(origin.file, row, "share",
                               f"{level} shares of {item!r} in {year} sum to {total:.4g} %, not 100 ± {SHARE_TOLERANCE:g}, "
                               f"and there is no explicit rest row (producer {rest_name!r})"))
    return out


def _check_cycles(atlas: Atlas) -> list[Problem]:
    rec = atlas["recipes"]
    if rec.empty:
        return []
    origin = atlas.file_of("recipes")
    g = nx.DiGraph()
    pos: dict[tuple[str, str], int] = {}
    for i, (item, inp) in enumerate(zip(rec["item"], rec["input"], strict=True)):
        if pd.isna(item) or pd.isna(inp):
            continue
        g.add_edge(inp, item)
        pos.setdefault((inp, item), i)
    out: list[Problem] = []
    for comp in nx.strongly_connected_components(g):
        if len(comp) == 1:
            node = next(iter(comp))
            if not g.has_edge(node, node):
                continue
        cycle = nx.find_cycle(g.subgraph(comp))
        path = " → ".join([cycle[0][0]] + [v for _, v in cycle])
        row = min(pos[(u, v)] for u, v in cycle) + origin.row_base
        out.append(Problem(origin.file, row, "input", f"recipe cycle: {path}"))
    return out


def _check_groups(atlas: Atlas) -> list[Problem]:
    groups = atlas["groups"]
    if groups.empty:
        return []
    origin = atlas.file_of("groups")
    out: list[Problem] = []
    both = groups["joined"].notna() & groups["left"].notna()
    for i in _rows(both.to_numpy()):
        j, lft = str(groups["joined"].iloc[i]), str(groups["left"].iloc[i])
        if _is_date(j) and _is_date(lft) and lft < j:
            out.append(Problem(origin.file, i + origin.row_base, "left", f"left {lft} is before joined {j}"))
    return out
