"""Each kind of validation problem names the file, row and column."""

from __future__ import annotations

import pandas as pd
import pytest

from paxsilica.atlas import Atlas, validate
from tests.conftest import tiny_frames


def problems_of(frames: dict[str, pd.DataFrame]) -> list:
    return validate(Atlas.from_frames(frames))


def only(problems: list, column: str | None = None, contains: str = "") -> list:
    return [p for p in problems if (column is None or p.column == column) and contains in p.reason]


def test_tiny_atlas_is_clean(tiny_atlas: Atlas) -> None:
    assert validate(tiny_atlas) == []


def test_duplicate_key_names_second_row() -> None:
    f = tiny_frames()
    f["items"] = pd.concat([f["items"], f["items"].iloc[[1]]], ignore_index=True)
    found = only(problems_of(f), "item", "duplicate key")
    assert [(p.file, p.row) for p in found] == [("items.csv", 5)]
    assert "first on row 3" in found[0].reason


def test_unknown_item_country_and_source_references() -> None:
    f = tiny_frames()
    f["production"].loc[1, "producer"] = "XXX"
    f["production"].loc[2, "item"] = "nope"
    f["recipes"].loc[0, "source"] = "ghost"
    probs = problems_of(f)
    assert [(p.file, p.row) for p in only(probs, "producer", "unknown country")] == [("production.csv", 3)]
    assert [(p.file, p.row) for p in only(probs, "item", "unknown item")] == [("production.csv", 4)]
    assert [(p.file, p.row) for p in only(probs, "source", "unknown source")] == [("recipes.csv", 2)]


def test_share_outside_range() -> None:
    f = tiny_frames()
    f["production"].loc[3, "share"] = 120.0
    found = only(problems_of(f), "share", "outside")
    assert [(p.row, p.reason) for p in found] == [(5, "120 % is outside [0, 100]")]


def test_shares_not_summing_to_100_without_rest_row() -> None:
    f = tiny_frames()
    f["production"].loc[1, "share"] = 30.0  # ore: 60 + 30 = 90
    found = only(problems_of(f), "share", "sum to")
    assert len(found) == 1 and found[0].row == 2 and "'ore' in 2023 sum to 90 %" in found[0].reason


def test_rest_of_world_row_completes_shares() -> None:
    f = tiny_frames()
    f["production"].loc[1, "share"] = 30.0
    row = pd.DataFrame({"item": ["ore"], "producer": ["ROW"], "producer_type": ["rest_of_world"],
                        "year": [2023], "share": [10.0], "source": ["test"]})
    f["production"] = pd.concat([f["production"], row], ignore_index=True)
    assert problems_of(f) == []


def test_shares_within_tolerance_pass() -> None:
    f = tiny_frames()
    f["production"].loc[1, "share"] = 38.5  # 98.5, within 100 ± 2
    assert problems_of(f) == []


def test_rest_row_with_wrong_producer_id() -> None:
    f = tiny_frames()
    f["production"].loc[1, "producer_type"] = "rest_of_world"
    found = only(problems_of(f), "producer", "rest_of_world rows use")
    assert [p.row for p in found] == [3]


def test_recipe_cycle_reported_once() -> None:
    f = tiny_frames()
    f["recipes"] = pd.concat([f["recipes"], pd.DataFrame(
        {"item": ["ore"], "input": ["datacentre"], "dependent_share": [0.1], "rationale": ["loop"],
         "source": ["test"]})], ignore_index=True)
    found = only(problems_of(f), "input", "recipe cycle")
    assert len(found) == 1
    assert set(found[0].reason.removeprefix("recipe cycle: ").split(" → ")) == {"ore", "chip", "datacentre"}


def test_unknown_unit_and_stage() -> None:
    f = tiny_frames()
    f["items"].loc[0, "unit"] = "tonnes"
    f["items"].loc[2, "stage"] = "cloud"
    probs = problems_of(f)
    assert [(p.row, p.reason) for p in only(probs, "unit")] == [(2, "unknown unit 'tonnes'")]
    assert [p.row for p in only(probs, "stage")] == [4]


@pytest.mark.parametrize("value", ["2025-13-01", "12/12/2025", "2025-02-30"])
def test_bad_dates(value: str) -> None:
    f = tiny_frames()
    f["groups"].loc[1, "joined"] = value
    found = only(problems_of(f), "joined", "bad date")
    assert [(p.file, p.row) for p in found] == [("groups.csv", 3)]


def test_left_before_joined() -> None:
    f = tiny_frames()
    f["groups"]["left"] = [None, "2020-01-01", None]
    assert [p.row for p in only(problems_of(f), "left", "before joined")] == [3]


def test_not_a_number_and_required_value() -> None:
    f = tiny_frames()
    f["production"] = f["production"].astype({"share": object})
    f["production"].loc[0, "share"] = "sixty"
    f["items"].loc[1, "name"] = " "
    probs = problems_of(f)
    assert [(p.row, p.reason) for p in only(probs, "share", "not a number")] == [(2, "not a number: 'sixty'")]
    assert [p.row for p in only(probs, "name", "required")] == [3]


def test_missing_required_table_and_column() -> None:
    f = tiny_frames()
    del f["groups"]
    f["recipes"] = f["recipes"].drop(columns=["rationale"])
    probs = problems_of(f)
    assert only(probs, None, "required table 'groups'")[0].row is None
    assert [(p.row, p.column) for p in only(probs, "rationale", "required column")] == [(1, "rationale")]


def test_problem_strings_are_readable() -> None:
    f = tiny_frames()
    f["items"].loc[0, "unit"] = "tonnes"
    (p,) = only(problems_of(f), "unit")
    assert str(p) == "items.csv, row 2, column 'unit': unknown unit 'tonnes'"
