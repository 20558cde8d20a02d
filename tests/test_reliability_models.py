"""Row models for the API (issue 10): pydantic models derived from the schema agree with the validator:
every row of the (valid) bundled atlas passes, and a non-finite, out-of-range or unknown value is
refused with the field named (what a 422 response reports)."""

from __future__ import annotations

import math
from functools import cache

import pandas as pd
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.atlas import bundled_atlas
from paxsilica.atlas.schema import MAX_WHOLE, SCHEMA, row_model


@cache
def _first(table: str) -> tuple:
    rows = _records(table)
    return tuple(rows[0].items()) if rows else ()


def _records(table: str) -> list[dict]:
    df = bundled_atlas()[table]
    cols = SCHEMA[table].column_names
    out = []
    for rec in df[cols].astype(object).to_dict("records"):
        out.append({k: v for k, v in rec.items() if not (v is None or v is pd.NA or
                                                          (isinstance(v, float) and math.isnan(v)))})
    return out


@pytest.mark.parametrize("table", sorted(SCHEMA))
def test_every_bundled_row_passes_its_model(table: str) -> None:
    model = row_model(table)
    for rec in _records(table):
        model(**rec)


NUMERIC = [(t, c) for t in sorted(SCHEMA) for c in SCHEMA[t].columns if c.dtype in ("float", "int")]


@pytest.mark.parametrize(("table", "column"), [(t, c.name) for t, c in NUMERIC if t in ("production", "items")])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_refused_naming_the_field(table: str, column: str, value: float) -> None:
    rec = dict(_first(table), **{column: value})
    with pytest.raises(pydantic.ValidationError) as e:
        row_model(table)(**rec)
    assert [err["loc"] for err in e.value.errors()] == [(column,)]


@settings(deadline=None)
@given(pick=st.sampled_from(NUMERIC), value=st.floats(allow_nan=True, allow_infinity=True)
       | st.integers(-(2**70), 2**70))
def test_numbers_accepted_only_finite_within_bounds(pick, value) -> None:
    table, col = pick
    first = _first(table)
    if not first:
        return
    rec = dict(first, **{col.name: value})
    lo = -math.inf if col.minimum is None else col.minimum
    hi = math.inf if col.maximum is None else col.maximum
    ok = math.isfinite(value) and lo <= value <= hi
    if col.dtype == "int":
        ok = ok and float(value).is_integer() and abs(value) <= MAX_WHOLE
    try:
        row = row_model(table)(**rec)
    except pydantic.ValidationError as e:
        assert not ok, (table, col.name, value, e)
        assert {err["loc"][0] for err in e.errors()} == {col.name}
        return
    assert ok, (table, col.name, value)
    assert math.isfinite(getattr(row, col.name))


def test_unknown_choice_and_extra_field_named() -> None:
    rec = dict(_first("items"), unit="tonnes", colour="red")
    with pytest.raises(pydantic.ValidationError) as e:
        row_model("items")(**rec)
    assert sorted(err["loc"][0] for err in e.value.errors()) == ["colour", "unit"]
