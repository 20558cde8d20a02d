"""Sourcing and stockpile models on small cases with optima known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.network import tiny_atlas
from paxsilica.planning.base import supply_base
from paxsilica.planning.model import InfeasibleError
from paxsilica.planning.scenarios import ScenarioSet, unavailability
from paxsilica.planning.sourcing import optimize_sourcing
from paxsilica.planning.stockpile import size_stockpile


def _src(member=(False, False), cap=(1.0, 1.0), spend=np.nan, current=(0.6, 0.4)) -> pd.DataFrame:
    return pd.DataFrame({"item": ["wafer"] * 2, "producer": ["JPN", "CHN"], "country": ["JPN", "CHN"],
                         "share": [0.6, 0.4], "current": list(current), "cap": list(cap), "spare": [0.0, 0.0],
                         "member": list(member), "weight": [1.0, 1.0], "spend_usd_m": [spend, spend]})


def test_max_share_binds_by_hand():
    # JPN lost for the whole horizon: move as much as allowed (65 %) to CHN; 35 % remains at risk
    p = optimize_sourcing(_src(), np.array([[1.0, 0.0]]), prob=np.ones(1), alpha=0.0)
    assert p.mix["planned"].tolist() == pytest.approx([0.35, 0.65])
    assert p.summary["after"]["expected"] == pytest.approx(0.35)
    assert p.summary["before"]["expected"] == pytest.approx(0.6)
    # HHI: 0.35² + 0.65² = 0.545 -> 5450; before 0.6² + 0.4² = 0.52 -> 5200
    assert p.items["hhi_after"].iloc[0] == pytest.approx(5450.0)
    assert p.items["hhi_before"].iloc[0] == pytest.approx(5200.0)
    b = p.constraints.set_index(["block", "label"])
    assert bool(b.loc[("max_share", "wafer / CHN"), "binding"])
    # one more point of share at CHN saves one point of shortfall
    assert b.loc[("max_share", "wafer / CHN"), "dual"] == pytest.approx(-1.0, abs=1e-3)


def test_cvar_versus_expectation_by_hand():
    # scenario a (p = 0.9): CHN lost 20 %; scenario b (p = 0.1): JPN lost fully.
    # Expectation: 0.9·0.2·x_CHN + 0.1·x_JPN is smallest with x_CHN as small as allowed (0.35);
    # worst case: max(0.2 x_CHN, x_JPN) is smallest at x_JPN = 0.35 (share limit 65 % of CHN).
    u = np.array([[0.0, 0.2], [1.0, 0.0]])
    prob = np.array([0.9, 0.1])
    exp = optimize_sourcing(_src(), u, prob=prob, alpha=0.0)
    worst = optimize_sourcing(_src(), u, prob=prob, alpha=1.0)
    assert exp.mix["planned"].tolist() == pytest.approx([0.65, 0.35])
    assert worst.mix["planned"].tolist() == pytest.approx([0.35, 0.65])
    assert worst.summary["after"]["worst"] == pytest.approx(0.35)


def test_premium_cost_and_budget_by_hand():
    # moving 25 points (0.60 -> 0.35 at JPN) at a 10 % premium of a 100 USD m spend costs 2.5
    p = optimize_sourcing(_src(spend=100.0), np.array([[1.0, 0.0]]), prob=np.ones(1), alpha=0.0)
    assert p.summary["cost"] == pytest.approx(2.5)
    assert p.summary["cost_unit"] == "USD m/yr"
    # a budget of 1 buys 10 points only: JPN at 0.5, loss 0.5; each further USD m would save 0.1
    q = optimize_sourcing(_src(spend=100.0), np.array([[1.0, 0.0]]), prob=np.ones(1), alpha=0.0, budget=1.0,
                          tiebreak=0.0)
    assert q.mix["planned"].tolist() == pytest.approx([0.5, 0.5])
    assert q.summary["cost"] == pytest.approx(1.0)
    assert q.constraints.set_index("block").loc["budget", "dual"] == pytest.approx(-0.1, abs=1e-6)


def test_budget_too_small_for_the_benchmark_is_infeasible():
    # JPN holds 70 %: meeting 65 % needs a move, and a zero budget forbids it
    src = _src(spend=100.0, current=(0.7, 0.3))
    with pytest.raises(InfeasibleError, match="sourcing model is infeasible"):
        optimize_sourcing(src, np.zeros((1, 2)), prob=np.ones(1), budget=0.0)


def test_unreachable_coalition_share_names_the_item():
    with pytest.raises(InfeasibleError, match="coalition members can supply at most 0.0% of wafer"):
        optimize_sourcing(_src(), np.zeros((1, 2)), prob=np.ones(1), min_coalition_share=0.3)


def test_capacity_short_of_need_names_the_item():
    with pytest.raises(InfeasibleError, match="sources of wafer can supply only 70.0%"):
        optimize_sourcing(_src(cap=(0.4, 0.3)), np.zeros((1, 2)), prob=np.ones(1))


def test_unreachable_benchmark_is_relaxed_or_refused():
    # JPN may supply all, CHN only 20 %: no plan keeps JPN at or under 65 %
    src = _src(cap=(1.0, 0.2))
    p = optimize_sourcing(src, np.zeros((1, 2)), prob=np.ones(1))
    assert p.items["achievable_max_share"].iloc[0] == pytest.approx(0.8)
    assert any("cannot meet the 65% benchmark" in n for n in p.notes)
    with pytest.raises(InfeasibleError, match="capacity allows no less than 80.0%"):
        optimize_sourcing(src, np.zeros((1, 2)), prob=np.ones(1), strict=True)


def test_min_coalition_share_binds_by_hand():
    # CHN is a member but lost half the time; requiring 50 % from members forces x_CHN = 0.5
    u = np.array([[0.0, 1.0], [0.0, 0.0]])
    p = optimize_sourcing(_src(member=(False, True)), u, prob=np.ones(2), alpha=0.0, min_coalition_share=0.5)
    assert p.mix["planned"].tolist() == pytest.approx([0.5, 0.5])
    assert p.summary["after"]["expected"] == pytest.approx(0.25)


def test_stockpile_every_and_cvar_by_hand():
    src = _src()
    u = np.array([[0.5, 0.0], [0.0, 0.0]])  # JPN lost half of a 60-day horizon in scenario 0
    every = size_stockpile(src, u, prob=np.ones(2), horizon=np.array([60.0, 60.0]), tolerance=0.05)
    # 0.6 · 30 = 18 days lost; 5 % of 60 days = 3 days may stay uncovered -> 15 days
    assert every.stock["days"].iloc[0] == pytest.approx(15.0)
    assert every.summary["after"]["worst"] == pytest.approx(0.05)
    # CVaR at 0: the expectation 0.5·(18 − S)/60 <= 0.05 -> S = 12
    cv = size_stockpile(src, u, prob=np.ones(2), horizon=np.array([60.0, 60.0]), tolerance=0.05, mode="cvar",
                        alpha=0.0)
    assert cv.stock["days"].iloc[0] == pytest.approx(12.0)
    assert cv.summary["after"]["expected"] == pytest.approx(0.05)


def test_stockpile_cap_too_low_is_infeasible():
    with pytest.raises(InfeasibleError, match="stockpile model is infeasible"):
        size_stockpile(_src(), np.array([[0.5, 0.0]]), prob=np.ones(1), horizon=np.array([60.0]),
                       tolerance=0.05, max_days=10.0)


def test_stockpile_holding_cost_by_hand():
    p = size_stockpile(_src(spend=365.0), np.array([[0.5, 0.0]]), prob=np.ones(1), horizon=np.array([60.0]),
                       tolerance=0.0, carrying_rate=0.2)
    # 18 days at 0.2 · 365 / 365 = 0.2 USD m a day of cover
    assert p.summary["cost"] == pytest.approx(18 * 0.2)


def test_supply_base_and_unavailability_from_tiny_atlas():
    a = tiny_atlas()
    b = supply_base(a, "TWN", target="chip", chokepoints=False)
    assert b.items == ("wafer",)  # the target itself is not sourced
    assert b.sources["country"].tolist() == ["JPN", "CHN"]
    ev = pd.DataFrame([
        {"scenario": "s", "kind": "export_ban", "item": None, "country": "JPN", "start_day": 0.0,
         "duration_days": 10.0, "severity": 1.0},
        {"scenario": "s", "kind": "disaster", "item": "wafer", "country": None, "region": "East Asia & Pacific",
         "start_day": 0.0, "duration_days": 20.0, "severity": 0.5},
        {"scenario": "t", "kind": "export_ban", "item": "wafer", "country": "TWN", "start_day": 0.0,
         "duration_days": 40.0, "severity": 1.0},
    ])
    s = ScenarioSet("x", ("s", "t"), np.full(2, 0.5), np.array([40.0, 40.0]), ev)
    u = unavailability(s, b.sources, b.countries, a)
    # JPN: ban 10/40 + disaster 0.5·20/40; CHN: the disaster only; a TWN ban does not hit TWN itself
    np.testing.assert_allclose(u, [[0.5, 0.25], [0.0, 0.0]])


def test_chokepoint_hits_scale_the_loss():
    src = pd.DataFrame({"item": ["w", "w"], "country": ["JPN", "CHN"]})
    hits = pd.DataFrame({"item": ["w"], "country": ["CHN"], "chokepoint": ["malacca"], "fraction": [0.5]})
    ev = pd.DataFrame([{"scenario": "a", "kind": "chokepoint_closure", "chokepoint": "malacca",
                        "start_day": 0.0, "duration_days": 30.0, "severity": 1.0}])
    s = ScenarioSet("x", ("a",), np.ones(1), np.array([60.0]), ev)
    assert unavailability(s, src, ["USA"], hits=hits).tolist() == [[0.0, 0.25]]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=8), st.floats(0.0, 0.2),
       st.sampled_from([0.5, 1.0]))
def test_stockpile_every_scenario_matches_closed_form(rows, tol, k):
    # one item: S = max_ω (G_ω − τ H / k)⁺, the smallest stock that keeps every scenario within τ
    u = np.array(rows)
    src = _src().assign(weight=k)
    H = np.full(len(u), 100.0)
    p = size_stockpile(src, u, prob=np.ones(len(u)), horizon=H, tolerance=tol)
    g = (u @ np.array([0.6, 0.4])) * H
    expect = max(0.0, float(np.max(g - tol * H / k)))
    assert p.stock["days"].iloc[0] == pytest.approx(expect, abs=1e-6)
    assert p.summary["after"]["worst"] <= tol + 1e-7
