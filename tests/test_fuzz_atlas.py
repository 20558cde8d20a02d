"""Fuzz suite, atlas tables (issue 10): CSV folders, Parquet folders and workbooks, mutated.

Every case starts from the hand-made valid atlas of ``tests/conftest.py`` and breaks one table one
way (a nasty cell, a repeated header, a truncated or re-encoded file, a nested Parquet column, a
symbolic link out of the folder or in a loop, a FIFO, ...). The outcome must be one of:

- a clean error: :class:`~paxsilica.errors.InputError` naming the file, or validation problems that
  each name a file; then the gate every computing command goes through
  (``cli.common.current_atlas``) must refuse the atlas with exit 1 (so no command computes on it);
- a success: no problem, and the computations (concentration, supply risk) run without error.

Anything else fails: a traceback (any other exception), a hang (:data:`tests.fuzzkit.CASE_SECONDS`),
a wrong success (a mutation that is invalid by construction — NaN or inf in a numeric column, a
repeated header, a nested cell, a link out of the folder — accepted), or a problem without a file.
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from paxsilica.atlas import Atlas, read_atlas, validate
from paxsilica.atlas.schema import SCHEMA
from paxsilica.cli import common
from paxsilica.errors import InputError
from paxsilica.metrics import concentration, supply_risk
from paxsilica.services import ServiceStore
from tests.conftest import tiny_frames
from tests.fuzzkit import budget, record, time_limit

BASE = Atlas.from_frames(tiny_frames(), name="tiny")
TABLES = [t for t in tiny_frames()]

NASTY_NUMBERS = ["nan", "NaN", "inf", "-inf", "Infinity", "-Infinity", "1e30", "1" + "0" * 30, "9" * 20,
                 "-3", "1e308", "-1e-320", "0x10", "1,5", "1.5.2", "1e", "٣", "½", "-0", "+7"]
NASTY_TEXT = ["", " ", "\u00a0", "'", '"', "a,b", 'x"y', "CHN", "xyz", "2023-13-45", "2024-02-30",
              "é", "\t", "\u202e", "\x7f", "ROW", "OTHER", "🙂", "a" * 300, "null", "None", "N/A", "TRUE"]
NON_FINITE = {"nan", "NaN", "inf", "-inf", "Infinity", "-Infinity"}


@pytest.fixture(autouse=True)
def _fresh_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's atlas caches start empty and are dropped afterwards (cases use new folders)."""
    monkeypatch.setattr(common, "STORE", ServiceStore())  # no atlas or validation kept from other tests


def _csv_text(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n")


def _write_base_csv(folder: Path, skip: str | None = None) -> None:
    for t in TABLES:
        if t != skip:
            (folder / f"{t}.csv").write_text(_csv_text(tiny_frames()[t]), encoding="utf-8")


def _numeric_columns(table: str) -> list[str]:
    return [c.name for c in SCHEMA[table].columns if c.dtype in ("float", "int")]


@st.composite
def csv_cases(draw):
    """(table, kind, writer, invalid_by_construction): ``writer(folder)`` writes the broken table."""
    table = draw(st.sampled_from(TABLES))
    df = tiny_frames()[table].astype(object)
    kind = draw(st.sampled_from(["cell", "cell", "cell", "numeric", "numeric", "header_dup", "drop_col",
                                 "truncate", "bytes", "extra_row", "empty", "symlink", "encoding"]))
    invalid = False
    if kind in ("cell", "numeric"):
        cols = list(df.columns)
        nums = [c for c in _numeric_columns(table)]
        if kind == "numeric" and not nums:
            kind = "cell"
        col = draw(st.sampled_from(nums if kind == "numeric" else cols))
        if col not in df.columns:
            df[col] = ""
        row = draw(st.integers(0, len(df) - 1))
        value = draw(st.sampled_from(NASTY_NUMBERS + NASTY_TEXT) | st.text(max_size=12))
        df.loc[row, col] = value
        invalid = col in _numeric_columns(table) and value.strip() in NON_FINITE
        text = _csv_text(df)
    elif kind == "header_dup":
        col = draw(st.sampled_from(list(df.columns)))
        df2 = df.copy()
        df2.insert(draw(st.integers(0, len(df.columns))), col + draw(st.sampled_from(["", " "])), "x", allow_duplicates=True)
        text = _csv_text(df2)
        invalid = True
    elif kind == "drop_col":
        col = draw(st.sampled_from(list(df.columns)))
        text = _csv_text(df.drop(columns=[col]))
        invalid = SCHEMA[table].column(col).required if col in SCHEMA[table].column_names else False
    elif kind == "truncate":
        full = _csv_text(df)
        text = full[: draw(st.integers(0, len(full) - 1))]
    elif kind == "extra_row":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(draw(st.lists(st.sampled_from(NASTY_NUMBERS + NASTY_TEXT), max_size=len(df.columns) + 2)))
        text = _csv_text(df) + buf.getvalue()
    elif kind == "empty":
        text = draw(st.sampled_from(["", "\n", " \n\n", ",,,\n"]))
    else:
        text = _csv_text(df)

    def writer(folder: Path) -> None:
        f = folder / f"{table}.csv"
        if kind == "bytes":
            raw = bytearray(text.encode("utf-8"))
            pos = draw_pos
            raw[pos:pos] = draw_bytes
            f.write_bytes(bytes(raw))
        elif kind == "encoding":
            f.write_bytes(text.replace("Ch", "Çh").encode(draw_encoding, errors="replace"))
        elif kind == "symlink":
            if link_kind == "outside":
                outside = folder.parent / f"outside-{table}.csv"
                outside.write_text(text, encoding="utf-8")
                f.symlink_to(outside)
            elif link_kind == "loop":
                f.symlink_to(f.name)
            elif link_kind == "dangling":
                f.symlink_to(folder / "nowhere.csv")
            elif link_kind == "fifo":
                os.mkfifo(f)
            elif link_kind == "folder":
                f.mkdir()
            else:  # inside: a link to a copy in the same folder is part of the atlas
                (folder / f"copy-{table}.txt").write_text(text, encoding="utf-8")
                f.symlink_to(f"copy-{table}.txt")
        else:
            f.write_text(text, encoding="utf-8")

    draw_pos = draw(st.integers(0, max(0, len(text.encode("utf-8")))))
    draw_bytes = draw(st.sampled_from([b"\x00", b"\xff\xfe", b"\xe9", b"\xef\xbb\xbf", b"\r", b"\"", b"\x1a"])
                      | st.binary(min_size=1, max_size=4))
    draw_encoding = draw(st.sampled_from(["utf-16", "latin-1", "cp1252", "utf-8-sig", "utf-32"]))
    link_kind = draw(st.sampled_from(["outside", "loop", "dangling", "fifo", "folder", "inside"]))
    if kind == "symlink":
        invalid = link_kind in ("outside", "loop", "dangling", "fifo", "folder") and (
            SCHEMA[table].required_table or link_kind != "dangling")
    if kind == "bytes" and draw_bytes == b"\x00":
        invalid = True
    if kind == "encoding" and draw_encoding in ("utf-16", "utf-32"):
        invalid = True
    return table, kind, writer, invalid


def _gate_refuses(folder: Path, atlas: Atlas | None = None) -> bool:
    """True when the gate of computing commands refuses the atlas at ``folder`` with exit 1.

    With ``atlas`` (just read from ``folder``) the gate is spared reading it again; it still
    validates it, or finds the validation of its version.
    """
    old = common.STATE.atlas_path
    common.STATE.atlas_path = folder
    if atlas is not None:
        common.STORE.atlases[folder.resolve()] = atlas
    try:
        common.current_atlas()
    except typer.Exit as exc:
        assert exc.exit_code == 1
        return True
    except InputError as exc:  # unreadable before validation (no tables at all): exit 1 as well
        assert exc.file, exc
        return True
    finally:
        common.STATE.atlas_path = old
    return False


def _classify(suite: str, folder: Path, invalid: bool, what: str) -> None:
    try:
        atlas = read_atlas(folder)
    except InputError as exc:
        assert exc.file, f"{what}: error without a file: {exc}"
        assert _gate_refuses(folder), what
        record(suite, "error")
        return
    problems = validate(atlas)
    for p in problems:
        assert p.file and p.reason.strip(), f"{what}: problem without a location: {p!r}"
    if problems:
        assert _gate_refuses(folder, atlas), f"{what}: validator rejects, computing commands accept"
        record(suite, "error")
        return
    assert not invalid, f"{what}: invalid by construction, yet accepted"
    conc = concentration(atlas)
    assert len(conc) > 0
    for col in conc.select_dtypes("number").columns:
        vals = conc[col].to_numpy(dtype="float64", na_value=np.nan)
        assert not np.isinf(vals).any(), f"{what}: infinite {col} computed from an accepted atlas"
    supply_risk(atlas)
    assert not _gate_refuses(folder, atlas)
    record(suite, "ok")


@given(case=csv_cases())
@budget(150)
def test_fuzz_csv_atlas(case) -> None:
    table, kind, writer, invalid = case
    with tempfile.TemporaryDirectory() as tmp, time_limit():
        folder = Path(tmp) / "atlas"
        folder.mkdir()
        _write_base_csv(folder, skip=table)
        writer(folder)
        _classify("atlas-csv", folder, invalid, f"{table}.csv {kind}")


PARQUET_VALUES = st.sampled_from([math.nan, math.inf, -math.inf, 1e30, -1.0, 2**63 - 1, 0, "x", "", None,
                                  ["CHN"], ["a", "b"], {"k": 1}, b"\x00\x01", True, "nan", "inf"])


@st.composite
def parquet_cases(draw):
    table = draw(st.sampled_from(TABLES))
    df = tiny_frames()[table].copy()
    col = draw(st.sampled_from(list(df.columns) + [c for c in SCHEMA[table].column_names if c not in df.columns]))
    value = draw(PARQUET_VALUES)
    row = draw(st.integers(0, len(df) - 1))
    whole = draw(st.booleans())  # the whole column of one type (a typed Parquet column) or a mixed one
    values = [value] * len(df) if whole else [df[col].iloc[i] if col in df.columns and i != row else value
                                              for i in range(len(df))]
    is_num = col in _numeric_columns(table)
    nested = isinstance(value, list | dict | bytes)
    invalid = nested or (is_num and isinstance(value, float) and math.isinf(value))
    return table, col, values, invalid


@given(case=parquet_cases())
@budget(80)
def test_fuzz_parquet_atlas(case) -> None:
    table, col, values, invalid = case
    with tempfile.TemporaryDirectory() as tmp, time_limit():
        folder = Path(tmp) / "atlas"
        folder.mkdir()
        for t, df in tiny_frames().items():
            if t == table:
                df = df.copy()
                try:
                    df[col] = pd.Series(values, dtype=object)
                    df.to_parquet(folder / f"{t}.parquet", index=False)
                except Exception:  # pyarrow cannot store a mix (list and str): store it as text
                    df[col] = [repr(v) for v in values]
                    df.to_parquet(folder / f"{t}.parquet", index=False)
                    invalid = False
            else:
                df.to_parquet(folder / f"{t}.parquet", index=False)
        _classify("atlas-parquet", folder, invalid, f"{table}.parquet {col}={values!r}")


@given(table=st.sampled_from(TABLES), data=st.data())
@budget(50)
def test_fuzz_xlsx_atlas(table, data) -> None:
    frames = tiny_frames()
    df = frames[table].astype(object)
    col = data.draw(st.sampled_from(list(df.columns)))
    row = data.draw(st.integers(0, len(df) - 1))
    value = data.draw(st.sampled_from(NASTY_NUMBERS + NASTY_TEXT + [math.inf, -1e300, None]))
    dup = data.draw(st.booleans())
    df.loc[row, col] = value
    if dup:
        df.insert(0, col, "x", allow_duplicates=True)
    frames[table] = df
    is_num = col in _numeric_columns(table)
    invalid = dup or (is_num and (value in NON_FINITE or (isinstance(value, float) and math.isinf(value))))
    with tempfile.TemporaryDirectory() as tmp, time_limit():
        wb = Path(tmp) / "atlas.xlsx"
        with pd.ExcelWriter(wb, engine="openpyxl") as xw:
            for t, f in frames.items():
                f.to_excel(xw, sheet_name=t, index=False, inf_rep="inf")
        _classify("atlas-xlsx", wb, invalid, f"{table} sheet {col}={value!r} dup={dup}")


# ------------------------------------------------- one table, many cells: the typed-cell invariants

ALL_TABLES = sorted(SCHEMA)


@st.composite
def table_cells(draw):
    """A raw table of any schema table with 1-4 rows of nasty or random cells (all columns)."""
    table = draw(st.sampled_from(ALL_TABLES))
    cols = SCHEMA[table].column_names
    n = draw(st.integers(1, 4))
    cell = st.sampled_from(NASTY_NUMBERS + NASTY_TEXT) | st.text(max_size=10) | st.integers().map(str) \
        | st.floats(allow_nan=True, allow_infinity=True).map(repr)
    raw = pd.DataFrame({c: draw(st.lists(cell, min_size=n, max_size=n)) for c in cols}, dtype=object)
    return table, raw


@given(case=table_cells())
@budget(850)
def test_fuzz_table_cells(case) -> None:
    """Every cell is either typed within its column's bounds or reported at its row and column."""
    from paxsilica.atlas.parse import MAX_FLOAT, MAX_INT, parse_table
    from paxsilica.atlas.validate import _check_columns

    table, raw = case
    with time_limit():
        typed, problems = parse_table(table, raw.copy(), file=f"{table}.csv")
        problems += _check_columns(SCHEMA[table], typed, f"{table}.csv", 2)
    flagged = {(p.row, p.column) for p in problems}
    for p in problems:
        assert p.file == f"{table}.csv" and p.row is not None and p.column in SCHEMA[table].column_names, p
    for col in SCHEMA[table].columns:
        if col.dtype not in ("float", "int"):
            continue
        for i, raw_value in enumerate(raw[col.name]):
            value = typed[col.name].iloc[i]
            text = str(raw_value).strip().replace(",", "")
            if pd.isna(value):
                # blank, or unreadable and then reported
                assert text == "" or (i + 2, col.name) in flagged, (table, col.name, raw_value)
                continue
            v = float(value)
            assert math.isfinite(v), (table, col.name, raw_value)
            assert abs(v) <= (MAX_INT if col.dtype == "int" else MAX_FLOAT)
            lo = -math.inf if col.minimum is None else col.minimum
            hi = math.inf if col.maximum is None else col.maximum
            if not lo <= v <= hi:
                assert (i + 2, col.name) in flagged, (table, col.name, raw_value)
            if text.lower().lstrip("+-") in {"nan", "inf", "infinity"}:
                pytest.fail(f"{table}.{col.name}: {raw_value!r} read as the number {v}")
    record("table-cells", "error" if problems else "ok")


# ------------------------------------------------------------------ the reported cases, by hand


def test_year_of_ten_to_the_thirty_is_a_located_problem(tmp_path: Path) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    _write_base_csv(folder, skip="production")
    prod = tiny_frames()["production"].astype(object)
    prod.loc[1, "year"] = "1" + "0" * 30
    (folder / "production.csv").write_text(_csv_text(prod), encoding="utf-8")
    problems = [str(p) for p in validate(read_atlas(folder))]
    assert any("production.csv, row 3, column 'year'" in p and "whole number above" in p for p in problems), problems


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_share_is_refused(tmp_path: Path, value: str) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    _write_base_csv(folder, skip="production")
    prod = tiny_frames()["production"].astype(object)
    prod.loc[0, "share"] = value
    (folder / "production.csv").write_text(_csv_text(prod), encoding="utf-8")
    problems = [str(p) for p in validate(read_atlas(folder))]
    assert any("production.csv, row 2, column 'share'" in p for p in problems), problems


def test_duplicate_csv_header_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    _write_base_csv(folder, skip="items")
    text = _csv_text(tiny_frames()["items"])
    lines = text.splitlines()
    lines[0] += ",unit"
    lines[1:] = [line + ",t" for line in lines[1:]]
    (folder / "items.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = [str(p) for p in validate(read_atlas(folder))]
    assert any("items.csv, row 1, column 'unit': column appears more than once" in p for p in problems), problems


def test_list_valued_parquet_ids_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    for t, df in tiny_frames().items():
        if t == "items":
            df = df.assign(item=[[i] for i in df["item"]])
        df.to_parquet(folder / f"{t}.parquet", index=False)
    problems = [str(p) for p in validate(read_atlas(folder))]
    assert any("items.parquet, column 'item': nested column type" in p for p in problems), problems


@pytest.mark.parametrize("kind", ["loop", "outside"])
def test_table_symlinks_are_refused(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    _write_base_csv(folder, skip="items")
    if kind == "loop":
        (folder / "items.csv").symlink_to("items.csv")
    else:
        (tmp_path / "elsewhere.csv").write_text(_csv_text(tiny_frames()["items"]), encoding="utf-8")
        (folder / "items.csv").symlink_to(tmp_path / "elsewhere.csv")
    problems = [str(p) for p in validate(read_atlas(folder))]
    reason = "loops or leads nowhere" if kind == "loop" else "outside the atlas folder"
    assert any(p.startswith(str(folder / "items.csv")) and reason in p for p in problems), problems
