"""Upstream bottleneck propagation on chains whose answers are known by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.atlas import Atlas
from paxsilica.errors import InputError, NotFoundError
from paxsilica.metrics import (
    bottlenecks,
    coalition_bottlenecks,
    country_knockouts,
    group_knockout_loss,
    knockout_loss,
    propagate,
    upstream_items,
)


def chain_atlas(recipes: list[tuple[str, str, float]], production: dict[str, dict[str, float]],
                groups: list[tuple[str, str]] = ()) -> Atlas:
    items = sorted({x for r in recipes for x in r[:2]} | set(production))
    frames = {
        "items": pd.DataFrame([{"item": i, "name": i.upper(), "stage": "component", "unit": "t"}
                               for i in items]),
        "recipes": pd.DataFrame([{"item": i, "input": j, "dependent_share": d, "rationale": "r",
                                  "source": "s"} for i, j, d in recipes],
                                columns=["item", "input", "dependent_share", "rationale", "source"]),
        "production": pd.DataFrame([
            {"item": i, "producer": p, "year": 2024, "share": s, "source": "s",
             "producer_type": "rest_of_world" if p == "ROW" else "country"}
            for i, d in production.items() for p, s in d.items()]),
        "groups": pd.DataFrame([{"group": g, "iso3": c, "source": "s"} for g, c in groups],
                               columns=["group", "iso3", "source"]),
    }
    return Atlas.from_frames(frames)


# dc needs chips for all its output; chips need a gas for all of their output.
TWO_STAGE = chain_atlas([("dc", "chip", 1.0), ("chip", "gas", 1.0)],
                        {"gas": {"UKR": 60.0, "USA": 40.0}, "chip": {"TWN": 90.0, "KOR": 10.0}},
                        groups=[("pax", "USA"), ("pax", "KOR")])


def test_two_stage_chain_loses_the_knocked_out_share():
    assert knockout_loss(TWO_STAGE, "dc", {"gas": 0.4}) == pytest.approx(0.6)
    b = bottlenecks(TWO_STAGE, "dc")
    first = b.iloc[0]
    assert (first["item"], first["producer"], first["loss"]) == ("chip", "TWN", pytest.approx(0.9))
    ukr = b[(b["producer"] == "UKR")].iloc[0]
    assert ukr["loss"] == pytest.approx(0.6)
    assert ukr["path"] == "dc <- chip <- gas"
    assert list(b["rank"]) == [1, 2, 3, 4]


def test_partial_dependence_and_scarcest_input():
    # 30 % of chip output needs gas; all of it needs wafers.
    a = chain_atlas([("chip", "gas", 0.3), ("chip", "wafer", 1.0)],
                    {"gas": {"RUS": 50.0, "USA": 50.0}, "wafer": {"JPN": 20.0, "ROW": 80.0}})
    assert knockout_loss(a, "chip", {"gas": 0.0}) == pytest.approx(0.3)
    assert knockout_loss(a, "chip", {"gas": 0.5}) == pytest.approx(0.15)
    # min, not product: gas halved (0.85 left) and wafers cut by 20 % (0.8 left) -> 0.8
    assert knockout_loss(a, "chip", {"gas": 0.5, "wafer": 0.8}) == pytest.approx(0.2)
    avail = propagate(a, {"wafer": 0.8}, target="chip")
    assert avail == {"gas": 1.0, "wafer": 0.8, "chip": pytest.approx(0.8)}
    assert set(upstream_items(a, "chip")) == {"gas", "wafer", "chip"}
    # the rest-of-world row is not a single producer unless asked for
    assert "ROW" not in set(bottlenecks(a, "chip")["producer"])
    assert "ROW" in set(bottlenecks(a, "chip", include_rest=True)["producer"])


def test_own_production_knockout_of_target():
    a = chain_atlas([("dc", "chip", 1.0)], {"dc": {"USA": 45.0, "CHN": 25.0, "ROW": 30.0}})
    assert knockout_loss(a, "dc", {"dc": 0.55}) == pytest.approx(0.45)


def test_country_knockouts_and_groups():
    a = chain_atlas([("dc", "chip", 1.0), ("chip", "gas", 1.0), ("dc", "power", 0.5)],
                    {"gas": {"CHN": 30.0, "USA": 70.0}, "chip": {"TWN": 80.0, "CHN": 20.0},
                     "power": {"CHN": 100.0}},
                    groups=[("pax", "USA"), ("pax", "TWN")])
    k = country_knockouts(a, "dc", coalition="pax").set_index("country")
    # CHN: gas 0.7 -> chip min(0.8, 0.7) = 0.7; power 0 -> 1 - 0.5 = 0.5; dc = 0.5
    assert k.loc["CHN", "loss"] == pytest.approx(0.5)
    assert k.loc["TWN", "loss"] == pytest.approx(0.8) and bool(k.loc["TWN", "member"])
    assert k.loc["CHN", "n_items"] == 3 and k.loc["CHN", "largest_item"] == "power"
    assert group_knockout_loss(a, ["CHN", "TWN"], "dc") == pytest.approx(1.0)
    cb = coalition_bottlenecks(a, "pax", add="CHN", target="dc").set_index("scenario")
    # only USA+TWN supply: gas 0.7, chip min(0.8, 0.7) = 0.7, power 0 -> 0.5 -> loss 0.5
    assert cb.loc["current", "autarky_loss"] == pytest.approx(0.5)
    assert cb.loc["current", "worst_outsider"] == "CHN"
    assert cb.loc["with CHN", "autarky_loss"] == pytest.approx(0.0)


def test_errors():
    with pytest.raises(NotFoundError):
        knockout_loss(TWO_STAGE, "no_such_item", {})
    with pytest.raises(InputError):
        knockout_loss(TWO_STAGE, "dc", {"gas": 1.5})
    cyc = chain_atlas([("a", "b", 1.0), ("b", "a", 1.0)], {})
    with pytest.raises(InputError, match="cycle"):
        knockout_loss(cyc, "a", {})


@st.composite
def random_dag(draw):
    n = draw(st.integers(2, 7))
    names = [f"i{k}" for k in range(n)]
    recipes = []
    for j in range(1, n):
        for i in range(j):
            if draw(st.booleans()):
                recipes.append((names[j], names[i], draw(st.floats(0, 1))))
    recipes.append((names[-1], names[-2], draw(st.floats(0, 1))))
    return chain_atlas(recipes, {}), names


@settings(max_examples=60, deadline=None)
@given(random_dag(), st.data())
def test_loss_bounded_and_monotone(dag, data):
    a, names = dag
    item = data.draw(st.sampled_from(names))
    s1 = data.draw(st.floats(0, 1))
    s2 = data.draw(st.floats(0, 1))
    lo, hi = sorted([s1, s2])
    l_lo = knockout_loss(a, names[-1], {item: 1 - lo})
    l_hi = knockout_loss(a, names[-1], {item: 1 - hi})
    assert 0.0 <= l_lo <= 1.0 and 0.0 <= l_hi <= 1.0
    assert l_hi >= l_lo - 1e-12
    assert l_lo <= lo + 1e-12  # one knock-out never costs more than the share knocked out


def test_conftest_tiny_chain(tiny_atlas):
    b = bottlenecks(tiny_atlas, "datacentre").set_index(["item", "producer"])
    assert b.loc[("ore", "CHN"), "loss"] == pytest.approx(0.6)
    assert b.loc[("chip", "TWN"), "loss"] == pytest.approx(1.0)
    k = country_knockouts(tiny_atlas, "datacentre").set_index("country")
    assert not bool(k.loc["CHN", "member"]) and bool(k.loc["AUS", "member"])
