"""Interdiction: the dual MILP equals brute-force enumeration on random small networks (hypothesis);
the robust plan by column-and-constraint generation on hand cases and against a grid."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paxsilica.errors import InputError
from paxsilica.network import tiny_atlas
from paxsilica.planning.interdiction import (
    InterdictionNetwork,
    atlas_network,
    brute_force,
    k_worst,
    robust_plan,
    value,
    worst_attack,
)

COUNTRIES = ["A", "B", "C", "D"]


@st.composite
def networks(draw):
    n_items = draw(st.integers(2, 4))
    items = [f"i{j}" for j in range(n_items)]  # i0 is the target; i_j may need i_l for l > j
    rec = []
    for j in range(n_items):
        for m in range(j + 1, n_items):
            if draw(st.booleans()):
                rec.append({"item": items[j], "input": items[m],
                            "dependent_share": draw(st.sampled_from([0.25, 0.5, 0.8, 1.0]))})
    rows = []
    for it in items:
        if it != "i0" and not draw(st.booleans()):
            continue  # an item without production rows cannot be attacked
        cs = draw(st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=3, unique=True))
        w = draw(st.lists(st.integers(1, 5), min_size=len(cs), max_size=len(cs)))
        routes = draw(st.lists(st.sampled_from(["", "p", "q", "p;q"]), min_size=len(cs), max_size=len(cs)))
        rows += [{"item": it, "country": c, "share": float(x), "route": r} for c, x, r in zip(cs, w, routes, strict=True)]
    kinds = draw(st.sampled_from([("site",), ("country",), ("site", "chokepoint"), ("site", "country", "chokepoint")]))
    recipes = pd.DataFrame(rec, columns=["item", "input", "dependent_share"])
    return InterdictionNetwork.from_frames(portions=pd.DataFrame(rows), recipes=recipes, target="i0", kinds=kinds)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), st.integers(1, 3))
def test_milp_equals_brute_force(net, k):
    a = worst_attack(net, k)
    assert a.loss == pytest.approx(brute_force(net, k), abs=1e-7)
    assert len(a.attacks) <= k


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), st.integers(1, 2), st.floats(0.0, 0.5))
def test_milp_with_extra_supply_equals_brute_force(net, k, extra):
    has = sorted(set(net.portions["item"]))
    e = {has[0]: extra}
    assert worst_attack(net, k, e).loss == pytest.approx(brute_force(net, k, e), abs=1e-7)


def _two_items() -> InterdictionNetwork:
    # chip needs wafer (fully) and gas (half). wafer: JPN 0.6, CHN 0.4; gas: QAT 0.7 via hormuz, USA 0.3
    portions = pd.DataFrame({"item": ["wafer", "wafer", "gas", "gas"], "country": ["JPN", "CHN", "QAT", "USA"],
                             "share": [0.6, 0.4, 0.7, 0.3], "route": ["", "", "hormuz", ""]})
    recipes = pd.DataFrame({"item": ["chip", "chip"], "input": ["wafer", "gas"], "dependent_share": [1.0, 0.5]})
    return InterdictionNetwork.from_frames(portions=portions, recipes=recipes, target="chip",
                                           kinds=("site", "chokepoint"))


def test_hand_network():
    net = _two_items()
    # V = min(wafer left, 1 - 0.5 (1 - gas left)); one attack: JPN (0.6) beats QAT or hormuz (0.35)
    assert value(net, ["site:wafer@JPN"]) == pytest.approx(0.4)
    assert value(net, ["chokepoint:hormuz"]) == pytest.approx(0.65)
    t = k_worst(net, [1, 2])
    assert t["loss"].tolist() == pytest.approx([0.6, 1.0])
    assert t["attacks"].iloc[0] == "site:wafer@JPN"


def test_robust_plan_hand():
    net = _two_items()
    # k = 1, budget 0.3 split e_w + e_g: attacking JPN leaves V = 0.4 + e_w, attacking QAT (or hormuz)
    # V = 1 - 0.5 (0.7 - e_g) = 0.65 + 0.5 e_g. Equal at e_w = 0.4 / 1.5: the robust value is 2/3
    p = robust_plan(net, k=1, budget=0.3)
    assert p.worst_before.loss == pytest.approx(0.6)
    assert 1 - p.worst_after.loss == pytest.approx(2 / 3, abs=1e-6)
    assert p.extra.set_index("item").loc["wafer", "extra"] == pytest.approx(0.4 / 1.5, abs=1e-6)
    # no split on a grid does better (enumeration of the attacks for each split)
    grid = max(1 - brute_force(net, 1, {"wafer": w, "gas": 0.3 - w}) for w in np.linspace(0, 0.3, 31))
    assert grid <= 1 - p.worst_after.loss + 1e-9
    assert p.iterations["upper"].iloc[-1] - p.iterations["lower"].iloc[-1] <= 1e-6


def test_robust_never_worse_and_budget_zero():
    net = _two_items()
    p0 = robust_plan(net, k=2, budget=0.0)
    assert p0.worst_after.loss == pytest.approx(p0.worst_before.loss)
    assert p0.extra.empty
    p = robust_plan(net, k=2, budget=0.5)
    assert p.worst_after.loss <= p.worst_before.loss + 1e-9


def test_enumeration_covers_subsets():
    net = _two_items()
    best = max(1 - value(net, c) for n in (1, 2) for c in itertools.combinations(net.units, n))
    assert brute_force(net, 2) == pytest.approx(best)


def test_bad_inputs():
    net = _two_items()
    with pytest.raises(InputError, match="k must be"):
        worst_attack(net, -1)
    with pytest.raises(InputError, match="unknown attack kind"):
        InterdictionNetwork.from_frames(portions=net.portions, recipes=pd.DataFrame(
            {"item": ["chip"], "input": ["wafer"], "dependent_share": [1.0]}), target="chip", kinds=("moon",))
    with pytest.raises(InputError, match="budget"):
        robust_plan(net, 1, -1.0)


def test_atlas_network_tiny():
    net, _ = atlas_network(tiny_atlas(), "chip", kinds=("site", "country"), chokepoints=False)
    # chip is 100 % TWN: one attack takes it all; without that unit, JPN's wafers are the worst (60 %)
    assert worst_attack(net, 1).loss == pytest.approx(1.0)
    sub, _ = atlas_network(tiny_atlas(), "chip", kinds=("site",), chokepoints=False)
    units = [u for u in sub.units if "chip@" not in u]
    assert max(1 - value(sub, [u]) for u in units) == pytest.approx(0.6)
