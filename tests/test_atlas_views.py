"""The shared country-level production view."""

from __future__ import annotations

import pandas as pd
import pytest

from paxsilica.atlas import Atlas, country_production


def atlas() -> Atlas:
    rows = [
        # item with country rows in two years and firm rows: the latest country rows win
        ("hbm", "KOR", "country", None, 2022, 50.0), ("hbm", "KOR", "country", None, 2023, 90.0),
        ("hbm", "USA", "country", None, 2023, 10.0), ("hbm", "skh", "firm", None, 2023, 50.0),
        # firm-only item: where it produces, else headquarters; OTHER goes to ROW
        ("osat", "ase", "firm", "TWN", 2024, 30.0), ("osat", "amkor", "firm", "KOR", 2024, 15.0),
        ("osat", "jcet", "firm", None, 2024, 12.0), ("osat", "OTHER", "rest_of_world", None, 2024, 43.0),
        ("osat", "ase", "firm", None, 2020, 99.0),
    ]
    prod = pd.DataFrame(rows, columns=["item", "producer", "producer_type", "country", "year", "share"])
    firms = pd.DataFrame({"firm": ["skh", "ase", "amkor", "jcet"], "name": ["a", "b", "c", "d"],
                          "country": ["KOR", "TWN", "USA", "CHN"]})
    return Atlas.from_frames({"production": prod.assign(source="s"), "firms": firms})


def test_country_rows_win_and_latest_year() -> None:
    cp = country_production(atlas()).set_index(["item", "producer"])
    assert cp.loc[("hbm", "KOR"), "share"] == 90.0 and cp.loc[("hbm", "KOR"), "year"] == 2023
    assert set(cp.loc["hbm"].index) == {"KOR", "USA"} and not cp.loc["hbm", "from_firms"].any()


def test_firm_only_item_summed_by_country() -> None:
    cp = country_production(atlas()).set_index(["item", "producer"])["share"]
    # amkor produces in KOR (its row says so) although headquartered in the USA; jcet has no
    # production country, so its headquarters (CHN) counts
    assert cp.loc["osat"].to_dict() == {"CHN": 12.0, "KOR": 15.0, "ROW": 43.0, "TWN": 30.0}
    assert cp.loc["osat"].sum() == pytest.approx(100.0)


def test_year_limit_and_empty() -> None:
    cp = country_production(atlas(), year=2022).set_index(["item", "producer"])["share"]
    assert cp.to_dict() == {("hbm", "KOR"): 50.0, ("osat", "TWN"): 99.0}
    assert country_production(Atlas.from_frames({})).empty
