"""CVaR: the Rockafellar–Uryasev properties, on the formula and on the sourcing LP (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.errors import InputError
from paxsilica.planning.risk import cvar, expectation, var
from paxsilica.planning.sourcing import optimize_sourcing

losses = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=30)
alphas = st.floats(0.0, 0.99)


@settings(max_examples=60, deadline=None)
@given(losses)
def test_alpha_zero_is_the_expectation(ls):
    L = np.array(ls)
    assert cvar(L, 0.0) == pytest.approx(expectation(L), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(losses)
def test_alpha_near_one_is_the_worst_case(ls):
    L = np.array(ls)
    # with n equally likely scenarios, any alpha above 1 - 1/n leaves only the worst one in the tail
    a = 1.0 - 0.5 / len(L)
    assert cvar(L, a) == pytest.approx(L.max(), abs=1e-12)
    assert cvar(L, 1.0) == L.max()


@settings(max_examples=80, deadline=None)
@given(losses, alphas)
def test_cvar_bounds(ls, a):
    L = np.array(ls)
    c, v = cvar(L, a), var(L, a)
    assert c >= v - 1e-12
    assert c >= expectation(L) - 1e-12
    assert c <= L.max() + 1e-12


def test_hand_values():
    L = np.array([0.0, 0.1, 0.2, 0.5])
    assert var(L, 0.5) == 0.1
    # the worst half: (0.2 + 0.5) / 2
    assert cvar(L, 0.5) == pytest.approx(0.35)
    # unequal probabilities: P(0.5) = 0.1 -> CVaR at 0.9 is 0.5
    assert cvar(L, 0.9, np.array([0.3, 0.3, 0.3, 0.1])) == pytest.approx(0.5)


def test_alpha_out_of_range():
    with pytest.raises(InputError, match="alpha"):
        cvar(np.ones(2), 1.5)


def _fixed(u_col: list[float]) -> tuple[pd.DataFrame, np.ndarray]:
    # one item, one source that must supply everything: the LP can only evaluate CVaR of u
    src = pd.DataFrame({"item": ["x"], "producer": ["A"], "country": ["A"], "share": [1.0], "current": [1.0],
                        "cap": [1.0], "spare": [0.0], "member": [False], "weight": [1.0], "spend_usd_m": [np.nan]})
    return src, np.array(u_col)[:, None]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=12), alphas)
def test_lp_cvar_equals_formula(ls, a):
    src, u = _fixed(ls)
    p = optimize_sourcing(src, u, prob=np.ones(len(ls)), alpha=a, max_share=1.0, tiebreak=0.0)
    assert p.summary["objective"] == pytest.approx(cvar(np.array(ls), a), abs=1e-7)
    assert p.summary["after"]["cvar"] == pytest.approx(cvar(np.array(ls), a), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=10), alphas)
def test_lp_plan_is_never_worse_than_the_current_mix(rows, a):
    u = np.array(rows)
    src = pd.DataFrame({"item": ["x", "x"], "producer": ["A", "B"], "country": ["A", "B"], "share": [0.5, 0.5],
                        "current": [0.5, 0.5], "cap": [1.0, 1.0], "spare": [0.0, 0.0], "member": [False, False],
                        "weight": [1.0, 1.0], "spend_usd_m": [np.nan, np.nan]})
    p = optimize_sourcing(src, u, prob=np.ones(len(u)), alpha=a, max_share=1.0, tiebreak=0.0)
    assert p.summary["after"]["cvar"] <= p.summary["before"]["cvar"] + 1e-7
    # the optimum over a 1-D family, found by a fine grid, cannot beat the LP
    grid = min(cvar(u @ np.array([t, 1 - t]), a) for t in np.linspace(0, 1, 201))
    assert p.summary["after"]["cvar"] <= grid + 1e-7
