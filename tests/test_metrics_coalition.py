"""Coalition membership, shares, flags and what-ifs on hand-checked atlases."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.atlas import Atlas
from paxsilica.errors import InputError
from paxsilica.metrics import coalition_by_stage, coalition_exposure, coalition_whatif, members

GROUPS = pd.DataFrame([
    {"group": "pax", "iso3": "USA", "joined": "2025-12-12", "source": "s"},
    {"group": "pax", "iso3": "JPN", "joined": "2025-12-12", "source": "s"},
    {"group": "pax", "iso3": "KOR", "joined": "2026-02-01", "source": "s"},
    {"group": "pax", "iso3": "GBR", "joined": "2025-12-12", "left": "2026-05-01", "source": "s"},
])


def atlas_with(shares: dict[str, dict[str, float]], groups: pd.DataFrame = GROUPS) -> Atlas:
    rows = [{"item": item, "producer": p, "year": 2024, "share": s, "source": "s",
             "producer_type": "rest_of_world" if p == "ROW" else "country"}
            for item, d in shares.items() for p, s in d.items()]
    items = [{"item": i, "name": i.title(), "stage": "raw_material" if i != "chip" else "fabrication",
              "unit": "t"} for i in shares]
    return Atlas.from_frames({"production": pd.DataFrame(rows), "items": pd.DataFrame(items),
                              "groups": groups})


def test_members_by_date():
    a = atlas_with({})
    assert members(a, "pax", "2025-12-31") == {"USA", "JPN", "GBR"}
    assert members(a, "pax", "2026-03-01") == {"USA", "JPN", "KOR", "GBR"}
    assert members(a, "pax", "2026-06-30") == {"USA", "JPN", "KOR"}
    assert members(a, "pax") == {"USA", "JPN", "KOR"}
    assert members(a, "pax", "2026-06-30", add="nld, TWN", remove=["USA"]) == {"JPN", "KOR", "NLD", "TWN"}
    assert members(a, "unknown_group") == frozenset()
    with pytest.raises(InputError):
        members(a, "pax", "30/06/2026")


def test_coalition_exposure_hand_case():
    a = atlas_with({"ga": {"CHN": 60.0, "JPN": 20.0, "KOR": 10.0, "ROW": 10.0},
                    "chip": {"TWN": 70.0, "KOR": 20.0, "USA": 10.0}})
    e = coalition_exposure(a, "pax", "2026-06-30").set_index("item")
    assert e.loc["ga", "coalition_share"] == pytest.approx(0.30)
    assert e.loc["ga", "outside_share"] == pytest.approx(0.70)
    assert e.loc["ga", "largest_outside"] == "CHN" and bool(e.loc["ga", "nonmember_dependency"])
    assert e.loc["ga", "members_producing"] == "JPN;KOR"
    assert e.loc["chip", "coalition_share"] == pytest.approx(0.30)
    assert bool(e.loc["chip", "spof"]) and bool(e.loc["chip", "nonmember_dependency"])
    # before KOR joined
    e0 = coalition_exposure(a, "pax", "2026-01-01").set_index("item")
    assert e0.loc["chip", "coalition_share"] == pytest.approx(0.10)
    by_stage = coalition_by_stage(e.reset_index()).set_index("stage")
    assert by_stage.loc["raw_material", "n_nonmember_dependency"] == 1
    assert by_stage.loc["fabrication", "weakest_item"] == "chip"


def test_whatif_taiwan_joins():
    a = atlas_with({"chip": {"TWN": 70.0, "KOR": 20.0, "USA": 10.0},
                    "ga": {"CHN": 90.0, "JPN": 10.0}})
    w = coalition_whatif(a, "TWN", group="pax", date="2026-06-30").set_index("item")
    assert w.loc["chip", "gain"] == pytest.approx(0.70)
    assert bool(w.loc["chip", "nonmember_dependency_before"]) and not bool(w.loc["chip", "nonmember_dependency_after"])
    assert w.loc["ga", "gain"] == pytest.approx(0.0)
    assert w.index[0] == "chip"


share_maps = st.dictionaries(st.sampled_from(["USA", "JPN", "CHN", "TWN", "NLD", "KOR", "IND", "ROW"]),
                             st.floats(0, 100, allow_nan=False), min_size=1, max_size=8).map(
    lambda d: {k: 100 * v / sum(d.values()) for k, v in d.items()} if sum(d.values()) > 100 else d)


@settings(max_examples=50, deadline=None)
@given(share_maps, st.sets(st.sampled_from(["USA", "JPN", "CHN", "TWN", "NLD", "KOR", "IND"])),
       st.sampled_from(["CHN", "TWN", "NLD", "IND"]))
def test_coalition_share_bounds_and_monotone(shares, base, extra):
    a = atlas_with({"x": shares}, groups=pd.DataFrame(columns=["group", "iso3"]))
    e1 = coalition_exposure(a, "g", add=sorted(base))
    e2 = coalition_exposure(a, "g", add=sorted(base | {extra}))
    s1, s2 = float(e1["coalition_share"].iloc[0]), float(e2["coalition_share"].iloc[0])
    assert 0.0 <= s1 <= 1.0 and 0.0 <= s2 <= 1.0
    assert s2 >= s1 - 1e-12
