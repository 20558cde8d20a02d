"""Risk measures against distributions known by hand, and the Euler allocation's invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.montecarlo.catalogue import parse_catalogue
from paxsilica.montecarlo.risk import (
    euler_contributions,
    exceedance_curve,
    expected_shortfall,
    summarize,
    tail_weights,
    value_at_risk,
)
from paxsilica.montecarlo.run import run_montecarlo

# Two independent events with fixed losses that add up: A (p = 0.1, loss 0.2), B (p = 0.05, loss 0.5).
# Loss distribution: 0 (0.855), 0.2 (0.095), 0.5 (0.045), 0.7 (0.005).
P_A, P_B, L_A, L_B = 0.1, 0.05, 0.2, 0.5
BERNOULLI = f"""\
name: bernoulli
hazards:
  - {{id: a, kind: site_outage, probability: {P_A}, source: hand, duration: 10, severity: 1.0,
     effects: [{{type: site_outage, item: wafer, producer: JPN}}]}}
  - {{id: b, kind: disaster, probability: {P_B}, source: hand, duration: 10, severity: 1.0,
     effects: [{{type: disaster, country: CHN}}]}}
"""


class FixedLosses:
    """A stand-in for the stress model: each hazard that happens adds its fixed loss (no engine)."""

    consumers = ("AAA",)

    def __init__(self, atlas: object, target: str, spec: object) -> None:
        self.per_hazard = (L_A, L_B)

    def losses(self, draws: list) -> np.ndarray:
        tot = np.array([sum(self.per_hazard[e.hazard] for e in evs) for evs in draws], float)
        return np.column_stack([tot, tot / 2])


def analytic() -> tuple[list[float], list[float]]:
    values = [0.0, L_A, L_B, L_A + L_B]
    probs = [(1 - P_A) * (1 - P_B), P_A * (1 - P_B), (1 - P_A) * P_B, P_A * P_B]
    return values, probs


def analytic_var_es(alpha: float) -> tuple[float, float]:
    values, probs = analytic()
    cdf = np.cumsum(probs)
    var = values[int(np.searchsorted(cdf, alpha - 1e-12))]
    # ES = (1/(1-a)) * integral of the quantile function from a to 1
    es, lo = 0.0, 0.0
    for v, hi in zip(values, cdf, strict=True):
        es += v * max(0.0, min(hi, 1.0) - max(lo, alpha))
        lo = hi
    return var, es / (1 - alpha)


def test_exact_frequencies_give_the_analytic_values() -> None:
    values, probs = analytic()
    sample = np.repeat(values, [round(p * 20_000) for p in probs])
    for a in (0.9, 0.95, 0.99):
        var, es = analytic_var_es(a)
        assert value_at_risk(sample, a) == pytest.approx(var)
        assert expected_shortfall(sample, a) == pytest.approx(es, rel=1e-9)
    # by hand: VaR 0.95 = 0.2; ES 0.95 = (0.045 * 0.5 + 0.005 * 0.7) / 0.05 = 0.52
    assert analytic_var_es(0.95) == (0.2, pytest.approx(0.52))


def test_monte_carlo_of_independent_bernoulli_events_matches_the_analytic_distribution() -> None:
    """Through the whole pipeline (catalogue, seeded draws, batches, summary), a loss model with fixed
    additive losses: every estimate lies within 4 of its standard errors of the analytic value."""
    from paxsilica.network.build import tiny_atlas

    cat = parse_catalogue(BERNOULLI, file="bernoulli.yaml")
    n = 40_000
    r = run_montecarlo(tiny_atlas(), cat, draws=n, seed=11, targets=("chip",), levels=(0.9, 0.95),
                       thresholds=(0.1, 0.6), batch_size=4000, model=FixedLosses)
    s = r.summary[r.summary["consumer"] == "WORLD"].set_index(["measure", "level"], drop=False)
    values, probs = analytic()
    el = float(np.dot(values, probs))
    row = s[s["measure"] == "expected_loss"].iloc[0]
    assert abs(row["value"] - el) < 4 * row["se"]
    for a in (0.9, 0.95):
        var, es = analytic_var_es(a)
        got_es = s[(s["measure"] == "es") & (s["level"] == a)].iloc[0]
        assert abs(got_es["value"] - es) < 4 * got_es["se"] + 1e-12
        got_var = s[(s["measure"] == "var") & (s["level"] == a)].iloc[0]
        assert got_var["value"] == pytest.approx(var)  # an atom of the distribution: hit exactly
    for x, p in ((0.1, 1 - probs[0]), (0.6, probs[3])):
        got = s[(s["measure"] == "p_exceed") & (s["level"] == x)].iloc[0]
        assert abs(got["value"] - p) < 4 * math.sqrt(p * (1 - p) / n)
    # the tail's drivers: at 0.95 the tail is B's draws (0.5, 0.7) plus a share of the 0.2 atom
    c = r.contributions[(r.contributions["level"] == 0.95) & (r.contributions["by"] == "hazard")]
    es95 = s[(s["measure"] == "es") & (s["level"] == 0.95)].iloc[0]["value"]
    assert c["es_contribution"].sum() == pytest.approx(es95, rel=1e-9)
    shares = dict(zip(c["name"], c["share"], strict=True))
    assert shares["b"] > shares["a"] > 0


@settings(deadline=None, max_examples=60)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=200), st.floats(0.01, 0.99), st.integers(1, 5))
def test_euler_contributions_add_up_to_es(losses: list[float], alpha: float, k: int) -> None:
    L = np.array(losses)
    rng = np.random.default_rng(len(losses))
    w = rng.dirichlet(np.ones(k), size=L.size)
    parts = w * L[:, None]
    c = euler_contributions(L, parts, alpha)
    assert c.sum() == pytest.approx(expected_shortfall(L, alpha), abs=1e-12)
    assert np.all(c >= -1e-15)


@settings(deadline=None, max_examples=60)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=300), st.floats(0.01, 0.98))
def test_es_is_at_least_var_and_both_grow_with_the_level(losses: list[float], alpha: float) -> None:
    L = np.array(losses)
    hi = min(0.99, alpha + 0.01)
    assert expected_shortfall(L, alpha) >= value_at_risk(L, alpha) - 1e-12
    assert value_at_risk(L, hi) >= value_at_risk(L, alpha)
    assert expected_shortfall(L, hi) >= expected_shortfall(L, alpha) - 1e-12
    assert expected_shortfall(L, alpha) <= L.max() + 1e-12
    assert tail_weights(L.size, alpha).sum() == pytest.approx(1.0)


def test_few_tail_draws_are_flagged() -> None:
    rows = summarize(np.r_[np.zeros(90), np.ones(10)], [0.99], [0.5])
    es = next(r for r in rows if r["measure"] == "es")
    assert "tail rests on 1 draws" in es["warning"]
    rows = summarize(np.r_[np.zeros(9000), np.ones(1000)], [0.9], [0.5])
    assert all(r["warning"] == "" for r in rows)


def test_exceedance_curve_is_a_decreasing_step_function() -> None:
    rng = np.random.default_rng(0)
    L = np.where(rng.random(1000) < 0.3, rng.random(1000), 0.0)
    c = exceedance_curve(L, points=50)
    assert len(c) <= 50
    assert np.all(np.diff(c["p_exceed"].to_numpy()) <= 0)
    assert c["p_exceed"].iloc[0] == pytest.approx(np.mean(L > 0))
