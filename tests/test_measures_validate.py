"""Validator share totals and the data-vintage flag (issue 11)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from paxsilica.atlas import Atlas, bundled_atlas, validate
from paxsilica.metrics import STALE_YEARS, concentration


def share_problems(rows: list[tuple[str, str, str, float]]) -> list[str]:
    df = pd.DataFrame([{"item": i, "producer": p, "producer_type": t, "year": 2023, "share": s, "source": "s"}
                       for i, p, t, s in rows])
    return [p.reason for p in validate(Atlas.from_frames({"production": df})) if p.column == "share"]


def test_totals_below_98_are_flagged_with_or_without_rest_row():
    assert share_problems([("x", "USA", "country", 50.0), ("x", "JPN", "country", 40.0)])  # 90, no ROW
    low = share_problems([("y", "USA", "country", 50.0), ("y", "ROW", "rest_of_world", 30.0)])
    assert low and "under 100" in low[0]
    assert share_problems([("z", "USA", "country", 70.0), ("z", "ROW", "rest_of_world", 40.0)])  # 110
    assert share_problems([("w", "USA", "country", 60.0), ("w", "ROW", "rest_of_world", 39.0)]) == []
    assert share_problems([("v", "USA", "country", 99.0)]) == []


def test_old_figures_are_flagged_stale():
    c = concentration(bundled_atlas()).set_index("item")
    limit = dt.date.today().year - STALE_YEARS
    assert c["stale"].dtype == bool
    assert (c["stale"] == (c["year"] < limit)).all()
    for item in ("cmp_tools", "ion_implant_tools"):  # 2002 and 2001 figures in the bundled atlas
        if item in c.index and c.loc[item, "year"] < limit:
            assert c.loc[item, "stale"]
    assert c["stale"].any()
