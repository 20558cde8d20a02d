"""The briefing's shared views: computed once per Atlas object, never stale, and the faster code paths
(vectorised or made once) give exactly what the plain per-row computations give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from paxsilica.atlas import Atlas, bundled_atlas, country_production
from paxsilica.atlas.memo import MEMO_SIZE, clear_memo, memo_view
from paxsilica.network import tiny_atlas


def _prod_atlas(shares: list[float]) -> Atlas:
    rows = [("ore", c, "country", 2024, s) for c, s in zip(("CHN", "AUS", "CHL"), shares, strict=False)]
    return Atlas.from_frames({"production": pd.DataFrame(
        rows, columns=["item", "producer", "producer_type", "year", "share"]).assign(source="s")})


# --- the memo -------------------------------------------------------------------------------------

def test_memo_computes_once_per_atlas_and_key() -> None:
    a = _prod_atlas([60.0, 40.0])
    calls: list[int] = []

    def f(x: int) -> int:
        calls.append(x)
        return 10 * x

    assert [memo_view(a, "f", x, lambda x=x: f(x)) for x in (1, 2, 1, 2)] == [10, 20, 10, 20]
    assert calls == [1, 2]


def test_a_changed_atlas_is_never_answered_from_the_memo() -> None:
    a = _prod_atlas([60.0, 40.0])
    assert country_production(a)["share"].tolist() == [40.0, 60.0]
    b = a.replace(production=_prod_atlas([70.0, 30.0])["production"])
    assert country_production(b)["share"].tolist() == [30.0, 70.0]
    assert country_production(a)["share"].tolist() == [40.0, 60.0]
    assert a.version != b.version


def test_a_caller_editing_its_result_does_not_change_the_next_one() -> None:
    a = _prod_atlas([60.0, 40.0])
    first = country_production(a)
    first.loc[0, "share"] = -1.0
    first["extra"] = 1
    again = country_production(a)
    assert again["share"].tolist() == [40.0, 60.0] and "extra" not in again.columns


def test_errors_are_not_kept_and_unhashable_keys_bypass_the_memo() -> None:
    a = _prod_atlas([60.0, 40.0])
    n = {"calls": 0}

    def boom() -> int:
        n["calls"] += 1
        if n["calls"] == 1:
            raise ValueError("first time")
        return 7

    with pytest.raises(ValueError):
        memo_view(a, "boom", None, boom)
    assert memo_view(a, "boom", None, boom) == 7 and n["calls"] == 2
    assert memo_view(a, "list", ["unhashable"], lambda: 3) == 3


def test_the_memo_is_bounded_and_can_be_cleared() -> None:
    a = _prod_atlas([60.0, 40.0])
    calls: list[int] = []
    for k in range(MEMO_SIZE + 5):
        memo_view(a, "k", k, lambda k=k: calls.append(k))
    memo_view(a, "k", 0, lambda: calls.append(-1))  # the oldest entry went out first
    assert calls[-1] == -1
    clear_memo(a)
    memo_view(a, "k", MEMO_SIZE + 4, lambda: calls.append(-2))
    assert calls[-1] == -2


# --- the same numbers by the faster paths ----------------------------------------------------------

def _outside_reference(atlas: Atlas, mem: set[str]) -> dict[str, float]:
    """The plain pandas form (one filter and sum per item group)."""
    from paxsilica.metrics._common import latest_production

    prod = latest_production(atlas, "country")
    return {str(i): float(np.clip(g.loc[g["country"].isin(mem), "share"].sum(), 0.0, 1.0))
            for i, g in prod.groupby("item")}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.001, 80.0, allow_nan=False), min_size=1, max_size=3),
       st.sets(st.sampled_from(["CHN", "AUS", "CHL", "USA"])))
def test_outside_availability_equals_the_per_group_sum(shares: list[float], mem: set[str]) -> None:
    from paxsilica.metrics.bottlenecks import outside_availability

    a = _prod_atlas(shares)
    assert outside_availability(a, mem) == _outside_reference(a, mem)


def test_outside_availability_bundled_atlas() -> None:
    from paxsilica.metrics.bottlenecks import outside_availability

    a = bundled_atlas()
    for mem in ({"USA", "JPN", "KOR", "NLD"}, {"CHN"}, set()):
        assert outside_availability(a, mem) == _outside_reference(a, mem)


def test_country_knockouts_membership_is_the_only_difference() -> None:
    from paxsilica.metrics import country_knockouts

    a = tiny_atlas()
    none = country_knockouts(a, "chip", coalition=None)
    club = country_knockouts(a, "chip", coalition="club")
    assert_frame_equal(none.drop(columns="member"), club.drop(columns="member"))
    assert not none["member"].any()
    from paxsilica.metrics import members

    assert club["member"].tolist() == [c in members(a, "club") for c in club["country"]]


def test_lane_table_per_row_equals_distinct_lanes() -> None:
    """Each distinct lane is made once and repeated: the same rows as making every pair alone."""
    from paxsilica.logistics.lanes import lane_table

    a = bundled_atlas()
    pairs = [("QAT", "NLD"), ("CHN", "USA"), ("QAT", "NLD"), ("AUT", "DEU"), ("USA", "USA"), ("CHN", "USA")]
    both = lane_table(a, pairs, closed={"suez"})
    alone = pd.concat([lane_table(a, [p], closed={"suez"}) for p in pairs], ignore_index=True)
    # (the one-row tables' text columns are typed each on its own; the values are what is compared)
    def plain(df: pd.DataFrame) -> pd.DataFrame:
        return df.astype(object).where(df.notna(), None)

    assert_frame_equal(plain(both), plain(alone))
    assert both.loc[0, "status"] == "rerouted" and both.loc[4, "status"] == "local"


def test_lanes_of_some_items_are_rows_of_every_items_table() -> None:
    from paxsilica.logistics.lanes import _lanes, lanes

    a = bundled_atlas()
    items = ["helium", "neon", "advanced_logic"]
    direct = _lanes(a, frozenset(), frozenset(items), 14.0, 2.0, True, False)
    assert len(direct) and set(direct["item"]) <= set(items)
    assert_frame_equal(lanes(a, items=iter(items)), direct)


def test_partner_value_with_the_supply_base_given_is_the_same() -> None:
    from paxsilica.planning.base import supply_base
    from paxsilica.planning.partners import partner_value
    from paxsilica.planning.scenarios import ScenarioSet

    ev = pd.DataFrame([{"scenario": "a", "kind": "export_ban", "item": "wafer", "country": "JPN",
                        "start_day": 0.0, "duration_days": 60.0, "severity": 1.0}])
    s = ScenarioSet("t", ("a",), np.ones(1), np.array([60.0]), ev)
    a = tiny_atlas()
    base = supply_base(a, "club", coalition="club", target="chip", chokepoints=False)
    given_base = partner_value(a, s, coalition="club", target="chip", alpha=0.0, chokepoints=False, base=base)
    built = partner_value(a, s, coalition="club", target="chip", alpha=0.0, chokepoints=False)
    assert_frame_equal(given_base, built)
    other = supply_base(a, "TWN", coalition="club", target="chip", chokepoints=False)
    with pytest.raises(ValueError):
        partner_value(a, s, coalition="club", target="chip", chokepoints=False, base=other)


def test_drivers_equal_the_scipy_stats_form() -> None:
    """Ranks made once and the exact p only above the normal bound: the same drivers, rho and p."""
    from scipy import stats

    from paxsilica.bands import DRIVER_ALPHA, Draws, drivers

    rng = np.random.default_rng(3)
    n, k = 33, 60
    x = rng.uniform(size=(n, k))
    draws = [{(f"p{j}", "inventory_days"): float(x[b, j]) for j in range(k)} for b in range(n)]
    y = 3.0 * x[:, 5] - 2.0 * x[:, 17] + 0.4 * rng.normal(size=n)
    z = np.zeros((n, 1))
    d = Draws(draws, z, z, z, z, z, z, z, z)

    ry = pd.Series(y).rank().to_numpy()
    want = []
    for key in d.keys():
        rx = pd.Series([dd[key] for dd in draws]).rank().to_numpy()
        rho = float(np.corrcoef(rx, ry)[0, 1])
        t = rho * np.sqrt((n - 2) / (1.0 - rho * rho))
        p = float(2.0 * stats.t.sf(abs(t), n - 2))
        if p < DRIVER_ALPHA / k:
            want.append((key, rho, p))
    want.sort(key=lambda r: -abs(r[1]))
    got = drivers(d, y, top=10)
    assert len(want) >= 2  # the two planted drivers are found
    assert [(g["rho"], g["p"]) for g in got] == [(r, p) for _, r, p in want[:10]]


def test_the_memo_from_many_threads_gives_each_its_own_answer() -> None:
    from concurrent.futures import ThreadPoolExecutor

    a = _prod_atlas([60.0, 40.0])
    calls: list[int] = []

    def view(k: int) -> int:
        return memo_view(a, "t", k % 7, lambda: calls.append(k % 7) or (k % 7) * 3)

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(view, range(400)))
    assert got == [(k % 7) * 3 for k in range(400)]
    assert set(calls) == set(range(7)) and len(calls) <= 7 * 8  # at most one compute per key and thread
