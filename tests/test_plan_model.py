"""The LP/MILP builder: hand-solved optima, duals, and clear messages for infeasible and unbounded."""

from __future__ import annotations

import numpy as np
import pytest

from paxsilica.errors import PaxsilicaError
from paxsilica.planning.explain import binding, sensitivity
from paxsilica.planning.model import InfeasibleError, LinearModel, UnboundedError


def _diet(rhs: float = 4.0) -> LinearModel:
    # min 2a + 3b  s.t. a + b >= rhs, a <= 3  ->  a = 3, b = rhs - 3 (b is dearer), cost 6 + 3 (rhs - 3)
    m = LinearModel("diet", "min", hint="Lower the need.")
    a = m.add_vars("a", ["a"], cost=2.0, ub=3.0)
    b = m.add_vars("b", ["b"], cost=3.0)
    m.add_rows("need", ["need"], [([a[0], b[0]], [1.0, 1.0])], ">=", rhs)
    return m


def test_lp_optimum_and_dual_by_hand():
    s = _diet().solve()
    assert s.objective == pytest.approx(9.0)
    assert s.value("a").iloc[0] == pytest.approx(3.0)
    assert s.value("b").iloc[0] == pytest.approx(1.0)
    # one more unit of need is bought at b's price
    assert s.dual("need").iloc[0] == pytest.approx(3.0)
    rows = s.constraints()
    assert bool(rows.loc[0, "binding"]) and rows.loc[0, "slack"] == pytest.approx(0.0)


def test_dual_matches_finite_difference():
    def at(v: float) -> float:
        return _diet(v).solve().objective

    t = sensitivity(at, "need", [4.5, 5.0], base=4.0)
    assert t["change"].tolist() == pytest.approx([1.5, 3.0])


def test_max_sense_dual_sign():
    m = LinearModel("m", "max")
    x = m.add_vars("x", ["x"], cost=1.0)
    m.add_rows("cap", ["cap"], [([x[0]], [2.0])], "<=", 6.0)
    s = m.solve()
    assert s.objective == pytest.approx(3.0)
    assert s.dual("cap").iloc[0] == pytest.approx(0.5)
    assert binding(s.constraints())["block"].tolist() == ["cap"]


def test_infeasible_is_a_clear_message():
    m = LinearModel("toy", "min", hint="Relax the floor.")
    x = m.add_vars("x", ["x"], ub=1.0, cost=1.0)
    m.add_rows("floor", ["floor"], [([x[0]], [1.0])], ">=", 2.0)
    with pytest.raises(InfeasibleError) as e:
        m.solve()
    assert isinstance(e.value, PaxsilicaError)
    assert "toy model is infeasible" in str(e.value) and "Relax the floor" in str(e.value)


def test_unbounded_is_a_clear_message():
    m = LinearModel("toy", "max")
    x = m.add_vars("x", ["x"], cost=1.0)
    m.add_rows("any", ["any"], [([x[0]], [1.0])], ">=", 0.0)
    with pytest.raises(UnboundedError, match="toy model is unbounded"):
        m.solve()


def test_crossed_bounds_name_the_variable():
    m = LinearModel("toy")
    m.add_vars("x", ["a", "b"], lb=[0.0, 2.0], ub=[1.0, 1.0])
    with pytest.raises(InfeasibleError, match=r"x\[b\]"):
        m.solve()


def test_milp_knapsack_by_hand():
    # values 6, 5, 4; weights 3, 2, 2; capacity 4 -> items 2 and 3 (value 9) beat item 1 alone (6)
    m = LinearModel("knapsack", "max")
    z = m.add_vars("z", ["i1", "i2", "i3"], ub=1.0, cost=[6.0, 5.0, 4.0], integer=True)
    m.add_rows("weight", ["w"], [(z, [3.0, 2.0, 2.0])], "<=", 4.0)
    s = m.solve()
    assert s.objective == pytest.approx(9.0)
    assert s.value("z").tolist() == [0.0, 1.0, 1.0]
    assert np.isnan(s.dual("weight").iloc[0])  # no duals for a MILP


def test_infeasible_value_reported_by_sensitivity():
    def at(v: float) -> float:
        m = LinearModel("toy")
        x = m.add_vars("x", ["x"], ub=1.0, cost=1.0)
        m.add_rows("floor", ["floor"], [([x[0]], [1.0])], ">=", v)
        return m.solve().objective

    t = sensitivity(at, "floor", [0.5, 2.0])
    assert t["feasible"].tolist() == [True, False]
    assert "infeasible" in t["note"].iloc[1]
