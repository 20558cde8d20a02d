"""Time-to-survive / time-to-recover LPs on networks whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.errors import InputError
from paxsilica.optimize import (
    UNLIMITED,
    Network,
    analyze,
    performance_impact,
    sustainable_fraction,
    time_to_survive,
)


def issue_network(extra_supplier: float | None = None) -> Network:
    """The issue's example: P (demand 100/week, 200 in stock, plant capacity 150) needs 1 A per
    unit; S1 makes A (300 in stock, capacity 60), S2 makes A (no stock, capacity 50)."""
    nodes = {"node": ["plant", "S1", "S2"], "capacity": [150.0, 60.0, 50.0],
             "item": ["P", "A", "A"], "inventory": [200.0, 300.0, 0.0]}
    if extra_supplier is not None:
        for k, v in zip(nodes, ["S3", extra_supplier, "A", 0.0], strict=True):
            nodes[k].append(v)
    return Network.from_frames(
        items=pd.DataFrame({"item": ["P", "A"], "demand": [100.0, 0.0]}),
        nodes=pd.DataFrame(nodes),
        bom=pd.DataFrame({"item": ["P"], "input": ["A"], "quantity": [1.0]}),
    )


def test_issue_example_time_to_survive() -> None:
    # S1 down: 100 t - 200 (P stock) <= 300 (S1's stock, still usable) + 50 t  ->  t <= 10.
    # S2 down: 100 t - 200 <= 300 + 60 t  ->  t <= 12.5. Plant capacity 150 t never binds.
    net = issue_network()
    assert time_to_survive(net, "S1") == pytest.approx(10.0, abs=1e-9)
    assert time_to_survive(net, "S2") == pytest.approx(12.5, abs=1e-9)
    # Plant down: only the 200 finished units: 2 weeks.
    assert time_to_survive(net, "plant") == pytest.approx(2.0, abs=1e-9)
    # Nothing down: 110 of A and 150 of P per week cover 100: forever.
    assert time_to_survive(net) == UNLIMITED


def test_issue_example_other_reading_inventory_lost() -> None:
    # If S1's 300 units went down with it: 100 t - 200 <= 50 t -> 4 weeks; S2 held no stock.
    net = issue_network()
    assert time_to_survive(net, "S1", inventory_lost=True) == pytest.approx(4.0, abs=1e-9)
    assert time_to_survive(net, "S2", inventory_lost=True) == pytest.approx(12.5, abs=1e-9)
    # Half of S1 lost (30 of 60 left) and half its stock: 100 t - 200 <= 150 + 80 t -> 17.5.
    assert time_to_survive(net, {"S1": 0.5}, inventory_lost=True) == pytest.approx(17.5, abs=1e-9)


def test_unbounded_is_unlimited() -> None:
    # A third supplier of A with 100/week: losing S1 leaves 150 >= 100 forever.
    net = issue_network(extra_supplier=100.0)
    assert time_to_survive(net, "S1") == math.inf
    assert sustainable_fraction(net, "S1") == 1.0
    assert performance_impact(net, "S1", 52) == 0.0
    res = analyze(net, ttr=12).set_index("node")
    assert res.loc["S1", "tts"] == math.inf
    assert res.loc["S1", "impact"] == 0.0


def test_sustainable_fraction_hand() -> None:
    # S1 down: 50 of A per week for 100 of demand -> half the demand forever.
    assert sustainable_fraction(issue_network(), "S1") == pytest.approx(0.5)
    assert sustainable_fraction(issue_network(), "plant") == 0.0


def test_ttr_impact_hand() -> None:
    net = issue_network()
    # S1 down 12 weeks: demand 1200, available 200 + 300 + 50*12 = 1100 -> 100 lost.
    assert performance_impact(net, "S1", 12) == pytest.approx(100.0, abs=1e-7)
    # S2 down 12 weeks: 200 + 300 + 60*12 = 1220 >= 1200 -> nothing lost.
    assert performance_impact(net, "S2", 12) == pytest.approx(0.0, abs=1e-7)
    # S2 down 20 weeks: 2000 - (500 + 1200) = 300.
    assert performance_impact(net, "S2", 20) == pytest.approx(300.0, abs=1e-7)
    # Plant down 4 weeks: 400 demanded, 200 in stock.
    assert performance_impact(net, "plant", 4) == pytest.approx(200.0, abs=1e-7)


def test_analyze_ranks_by_risk_exposure() -> None:
    res = analyze(issue_network(), ttr=12)
    assert res["node"].tolist() == ["plant", "S1", "S2"]
    assert res["impact"].tolist() == pytest.approx([1000.0, 100.0, 0.0], abs=1e-7)
    assert res["rei"].tolist() == pytest.approx([1.0, 0.1, 0.0], abs=1e-9)
    assert res["rank"].tolist() == [1, 2, 3]
    assert res["tts"].tolist() == pytest.approx([2.0, 10.0, 12.5])
    assert res["lost_share"].tolist() == pytest.approx([1000 / 1200, 100 / 1200, 0.0])
    # Per-node time-to-recover.
    per = analyze(issue_network(), ttr={"plant": 1, "S1": 12, "S2": 20}).set_index("node")
    assert per.loc["S2", "impact"] == pytest.approx(300.0, abs=1e-7)
    assert per.loc["plant", "impact"] == 0.0
    assert per.loc["S2", "rank"] == 1


def flex_network() -> Network:
    """Two products, each with a dedicated plant (10/period) and one flexible plant (5/period)
    that can make either: P and Q both demand 10, P has 20 in stock, margin of P is 2."""
    return Network.from_frames(
        items=pd.DataFrame({"item": ["P", "Q"], "demand": [10.0, 10.0], "inventory": [20.0, 0.0],
                            "margin": [2.0, 1.0]}),
        nodes=pd.DataFrame({"node": ["fP", "fQ", "flex"], "capacity": [10.0, 10.0, 5.0]}),
        arcs=pd.DataFrame({"node": ["fP", "fQ", "flex", "flex"], "item": ["P", "Q", "P", "Q"]}),
    )


def test_flexibility_hand() -> None:
    net = flex_network()
    # fP down: flex gives P 5/period (Q is served by fQ): 10 t <= 20 + 5 t -> t = 4.
    assert time_to_survive(net, "fP") == pytest.approx(4.0)
    # fQ down: flex gives Q 5, Q has no stock -> fails at once.
    assert time_to_survive(net, "fQ") == pytest.approx(0.0, abs=1e-9)
    # fP down for 10 periods: P lost = 100 - 20 - 50 = 30, weighted by margin 2.
    assert performance_impact(net, "fP", 10) == pytest.approx(60.0, abs=1e-7)
    # fQ down 10: Q lost 100 - 50 = 50 at margin 1; shifting flex to P would not help (P is covered).
    assert performance_impact(net, "fQ", 10) == pytest.approx(50.0, abs=1e-7)
    # Flex down: nothing lost, dedicated plants cover demand.
    assert time_to_survive(net, "flex") == UNLIMITED


def test_dependent_share_hand() -> None:
    # P (demand 10, baseline 10, 12 in stock): 40 % of it needs A (1 per unit). A's plant makes 4.
    # A down: the 60 % not needing A goes on (6/period): 10 t <= 12 + 6 t -> t = 3.
    net = Network.from_frames(
        items=pd.DataFrame({"item": ["P", "A"], "demand": [10.0, 0.0], "inventory": [12.0, 0.0],
                            "baseline": [10.0, 4.0]}),
        nodes=pd.DataFrame({"node": ["fP", "fA"], "capacity": [10.0, 4.0], "item": ["P", "A"]}),
        bom=pd.DataFrame({"item": ["P"], "input": ["A"], "quantity": [1.0], "dependent_share": [0.4]}),
    )
    assert time_to_survive(net) == UNLIMITED
    assert sustainable_fraction(net, "fA") == pytest.approx(0.6)
    assert time_to_survive(net, "fA") == pytest.approx(3.0)
    # Down 5 periods: 50 demanded, 12 + 30 made -> 8 lost.
    assert performance_impact(net, "fA", 5) == pytest.approx(8.0, abs=1e-7)


def test_two_tier_chain() -> None:
    # ore -> chip (2 ore per chip) -> dc (1 chip per unit). dc demand 5, 10 dc in stock, 20 chips in
    # stock, ore mine 10/period, one of two (7 + 3). Mine1 down: ore 3/period = 1.5 chips.
    # Over t: need 5 t dc; dc stock 10; chips 20 + 1.5 t -> 5 t <= 30 + 1.5 t -> t = 30 / 3.5.
    net = Network.from_frames(
        items=pd.DataFrame({"item": ["dc", "chip", "ore"], "demand": [5.0, 0.0, 0.0],
                            "inventory": [10.0, 20.0, 0.0]}),
        nodes=pd.DataFrame({"node": ["d", "c", "m1", "m2"], "capacity": [10.0, 10.0, 7.0, 3.0],
                            "item": ["dc", "chip", "ore", "ore"]}),
        bom=pd.DataFrame({"item": ["dc", "chip"], "input": ["chip", "ore"], "quantity": [1.0, 2.0]}),
    )
    assert time_to_survive(net, "m1") == pytest.approx(30 / 3.5)
    assert time_to_survive(net, ["m1", "m2"]) == pytest.approx(6.0)  # 30 / 5


def test_bad_input() -> None:
    net = issue_network()
    with pytest.raises(InputError, match="unknown node"):
        time_to_survive(net, "nope")
    with pytest.raises(InputError, match="time-to-recover"):
        performance_impact(net, "S1", -1)
    with pytest.raises(InputError, match="capacity loss"):
        time_to_survive(net, {"S1": 1.5})
    with pytest.raises(InputError, match="capacity"):
        Network.from_frames(items=pd.DataFrame({"item": ["P"]}),
                            nodes=pd.DataFrame({"node": ["f"], "capacity": [-1.0], "item": ["P"]}))
    with pytest.raises(InputError, match="unknown id"):
        Network.from_frames(items=pd.DataFrame({"item": ["P"]}),
                            nodes=pd.DataFrame({"node": ["f"], "capacity": [1.0], "item": ["X"]}))
    with pytest.raises(InputError, match="duplicate"):
        Network.from_frames(items=pd.DataFrame({"item": ["P", "P"]}),
                            nodes=pd.DataFrame({"node": ["f"], "capacity": [1.0]}))


# ------------------------------------------------------------------------------ properties
@st.composite
def random_networks(draw: st.DrawFn) -> tuple[Network, dict]:
    """P needs A (q_a per unit) and B (q_b, dependent share δ); 1-3 nodes per item."""
    cap = st.floats(0.0, 50.0, allow_nan=False)
    stock = st.floats(0.0, 100.0, allow_nan=False)
    spec: dict = {"demand": draw(st.floats(1.0, 30.0)), "q_a": draw(st.floats(0.5, 3.0)),
                  "q_b": draw(st.floats(0.5, 3.0)), "delta": draw(st.floats(0.1, 1.0))}
    rows = []
    for item in ("P", "A", "B"):
        for k in range(draw(st.integers(1, 3))):
            rows.append({"node": f"{item}{k}", "capacity": draw(cap), "item": item,
                         "inventory": draw(stock)})
    net = Network.from_frames(
        items=pd.DataFrame({"item": ["P", "A", "B"], "demand": [spec["demand"], 0.0, 0.0],
                            "inventory": [draw(stock), draw(stock), draw(stock)]}),
        nodes=pd.DataFrame(rows),
        bom=pd.DataFrame({"item": ["P", "P"], "input": ["A", "B"],
                          "quantity": [spec["q_a"], spec["q_b"]],
                          "dependent_share": [1.0, spec["delta"]]}),
    )
    return net, spec


@settings(max_examples=40, deadline=None)
@given(random_networks(), st.floats(0.0, 200.0), st.data())
def test_tts_non_decreasing_in_inventory(case: tuple[Network, dict], extra: float, data: st.DataObject) -> None:
    net, _ = case
    node = data.draw(st.sampled_from(net.nodes))
    item = data.draw(st.integers(0, len(net.items) - 1))
    more = net.item_stock.copy()
    more[item] += extra
    before = time_to_survive(net, node)
    after = time_to_survive(net.with_stock(more), node)
    assert after >= before - 1e-6 * max(1.0, before if math.isfinite(before) else 1.0)


@settings(max_examples=40, deadline=None)
@given(random_networks(), st.floats(0.0, 50.0), st.floats(0.5, 40.0), st.data())
def test_impact_non_increasing_in_capacity(case: tuple[Network, dict], extra: float, ttr: float,
                                           data: st.DataObject) -> None:
    net, _ = case
    node = data.draw(st.sampled_from(net.nodes))
    other = data.draw(st.integers(0, len(net.nodes) - 1))
    cap = net.capacity.copy()
    cap[other] += extra
    before = performance_impact(net, node, ttr)
    after = performance_impact(net.with_capacity(cap), node, ttr)
    assert after <= before + 1e-6 * max(1.0, before)


@settings(max_examples=40, deadline=None)
@given(random_networks(), st.floats(0.5, 60.0), st.data())
def test_impact_zero_exactly_within_tts(case: tuple[Network, dict], ttr: float, data: st.DataObject) -> None:
    # One final product: demand over [0, ttr] is fully met iff ttr <= time-to-survive.
    net, spec = case
    node = data.draw(st.sampled_from(net.nodes))
    tts = time_to_survive(net, node)
    impact = performance_impact(net, node, ttr)
    tol = 1e-6 * spec["demand"] * ttr + 1e-7
    if ttr <= tts * (1 - 1e-6):
        assert impact <= tol
    elif ttr >= tts * 1.01 + 0.01 and sustainable_fraction(net, node) < 1 - 1e-4:
        assert impact > 0
    # Partial loss never shortens survival compared with a full outage.
    assert time_to_survive(net, {node: 0.5}) >= tts * (1 - 1e-6)
    assert np.isfinite(impact)


def test_tiny_capacity_beside_unit_demand_is_solved() -> None:
    """Found by hypothesis: a capacity of 1e-7 (HiGHS's own tolerance) beside a demand of 1 made
    presolve call the always-feasible sustainable-fraction program infeasible. By hand: P needs A
    and B, neither of which can be made or is stocked, so nothing is served: time-to-survive 0."""
    net = Network.from_frames(
        items=pd.DataFrame({"item": ["P", "A", "B"], "demand": [1.0, 0.0, 0.0], "inventory": [0.0, 0.0, 0.0]}),
        nodes=pd.DataFrame({"node": ["P0", "P1", "A0", "B0"], "capacity": [0.0, 1e-7, 0.0, 0.0],
                            "item": ["P", "P", "A", "B"], "inventory": [0.0, 0.0, 0.0, 0.0]}),
        bom=pd.DataFrame({"item": ["P", "P"], "input": ["A", "B"], "quantity": [1.0, 2.0],
                          "dependent_share": [1.0, 1.0]}),
    )
    assert time_to_survive(net, "P0") == 0.0  # P0 knocked out; P1 (1e-7) has no A or B to work with
