"""A small linear / mixed-integer model builder on HiGHS: build → solve → assign (as PyPSA's optimize).

Every planning model declares named **variable blocks** and named **constraint blocks** on a
:class:`LinearModel`, then calls :meth:`LinearModel.solve`, which hands the sparse arrays to HiGHS
(``scipy.optimize.linprog`` for an LP, so that the duals come back; ``scipy.optimize.milp`` when a
block is integer) and returns a :class:`Solution`: the values per block, the objective, and for an LP
the dual value (shadow price) and slack of every constraint row, by block and label. HiGHS's
statuses become :class:`~paxsilica.errors.PaxsilicaError` subclasses with a sentence naming the model
(:class:`InfeasibleError`, :class:`UnboundedError`, :class:`SolverError`), never a solver dump.

Examples
--------
Hand-solvable: maximize ``x + y`` with ``x ≤ 2``, ``x + 2y ≤ 4`` (optimum x = 2, y = 1, value 3; the
dual of ``x + 2y ≤ 4`` is 1/2: one more unit of its right-hand side buys half a unit of ``y``).

>>> m = LinearModel("example", sense="max")
>>> x = m.add_vars("x", ["x"], cost=1.0, ub=2.0)
>>> y = m.add_vars("y", ["y"], cost=1.0)
>>> m.add_rows("cap", ["cap"], [([x[0], y[0]], [1.0, 2.0])], "<=", [4.0])
>>> s = m.solve()
>>> round(s.objective, 9), s.value("x").tolist(), s.value("y").tolist()
(3.0, [2.0], [1.0])
>>> round(float(s.dual("cap").iloc[0]), 9)
0.5
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from ..errors import PaxsilicaError

__all__ = ["InfeasibleError", "LinearModel", "Solution", "SolverError", "UnboundedError"]

_TOL = 1e-7
"""HiGHS's feasibility tolerance: a row with slack below it counts as binding."""


class InfeasibleError(PaxsilicaError):
    """The model's constraints cannot all hold (the message says which model and what to relax)."""


class UnboundedError(PaxsilicaError):
    """The model's objective can improve without limit (a bound is missing)."""


class SolverError(PaxsilicaError):
    """HiGHS stopped without an answer (iteration or time limit, numerical trouble)."""


@dataclass
class _Block:
    name: str
    labels: list
    start: int


@dataclass
class LinearModel:
    """Variables and constraints of one model, in named blocks (see the module docstring).

    Parameters
    ----------
    name : str
        Used in messages ("the sourcing model is infeasible: ...").
    sense : {"min", "max"}
    hint : str
        What to relax when the model is infeasible (added to the message).
    """

    name: str
    sense: str = "min"
    hint: str = ""
    _vblocks: dict[str, _Block] = field(default_factory=dict)
    _cblocks: dict[str, _Block] = field(default_factory=dict)
    _lb: list[float] = field(default_factory=list)
    _ub: list[float] = field(default_factory=list)
    _cost: list[float] = field(default_factory=list)
    _int: list[bool] = field(default_factory=list)
    _rows: list[int] = field(default_factory=list)
    _cols: list[int] = field(default_factory=list)
    _vals: list[float] = field(default_factory=list)
    _sense: list[str] = field(default_factory=list)
    _rhs: list[float] = field(default_factory=list)

    # ------------------------------------------------------------------ build
    @property
    def n_vars(self) -> int:
        return len(self._lb)

    @property
    def n_rows(self) -> int:
        return len(self._rhs)

    def add_vars(self, name: str, labels: Sequence, *, lb: float | Iterable[float] = 0.0,
                 ub: float | Iterable[float] = np.inf, cost: float | Iterable[float] = 0.0,
                 integer: bool = False) -> np.ndarray:
        """Add one variable per label; returns their column numbers.

        ``lb``, ``ub`` and ``cost`` are a number (every variable) or one value per label.
        """
        if name in self._vblocks:
            raise ValueError(f"variable block {name!r} declared twice")
        n = len(labels)
        start = self.n_vars
        self._vblocks[name] = _Block(name, list(labels), start)
        self._lb += _spread(lb, n)
        self._ub += _spread(ub, n)
        self._cost += _spread(cost, n)
        self._int += [integer] * n
        return np.arange(start, start + n)

    def add_rows(self, name: str, labels: Sequence, terms: Sequence[tuple[Sequence[int], Sequence[float]]],
                 sense: str, rhs: float | Iterable[float]) -> None:
        """Add one constraint per label: ``Σ coef · x[col] (sense) rhs``, ``sense`` in ``<=, >=, ==``."""
        if sense not in ("<=", ">=", "=="):
            raise ValueError(f"sense must be <=, >= or ==, got {sense!r}")
        if name in self._cblocks:
            raise ValueError(f"constraint block {name!r} declared twice")
        n = len(labels)
        if len(terms) != n:
            raise ValueError(f"{name}: {n} labels but {len(terms)} rows")
        start = self.n_rows
        self._cblocks[name] = _Block(name, list(labels), start)
        for r, (cols, coefs) in enumerate(terms):
            cols = list(cols)
            coefs = _spread(coefs, len(cols))
            self._rows += [start + r] * len(cols)
            self._cols += [int(c) for c in cols]
            self._vals += [float(v) for v in coefs]
        self._sense += [sense] * n
        self._rhs += _spread(rhs, n)

    def set_rhs(self, name: str, rhs: float | Iterable[float]) -> None:
        """Replace the right-hand sides of a constraint block (for sensitivity runs)."""
        b = self._cblocks[name]
        vals = _spread(rhs, len(b.labels))
        self._rhs[b.start:b.start + len(b.labels)] = vals

    def set_bounds(self, name: str, lb: float | Iterable[float] | None = None,
                   ub: float | Iterable[float] | None = None) -> None:
        """Replace the bounds of a variable block."""
        b = self._vblocks[name]
        sl = slice(b.start, b.start + len(b.labels))
        if lb is not None:
            self._lb[sl] = _spread(lb, len(b.labels))
        if ub is not None:
            self._ub[sl] = _spread(ub, len(b.labels))

    # ------------------------------------------------------------------ solve
    def solve(self, time_limit: float | None = None) -> Solution:
        """Solve with HiGHS; raise :class:`InfeasibleError` / :class:`UnboundedError` / :class:`SolverError`."""
        n, m = self.n_vars, self.n_rows
        c = np.asarray(self._cost, float) * (-1.0 if self.sense == "max" else 1.0)
        a = sp.csr_matrix((self._vals, (self._rows, self._cols)), shape=(m, n))
        sense = np.asarray(self._sense, dtype=object)
        rhs = np.asarray(self._rhs, float)
        lb, ub = np.asarray(self._lb, float), np.asarray(self._ub, float)
        if np.any(lb > ub + _TOL):
            bad = self._var_label(int(np.argmax(lb > ub + _TOL)))
            raise InfeasibleError(f"the {self.name} model is infeasible: variable {bad} has its lower bound "
                                  f"above its upper bound. {self.hint}".strip())
        integer = np.asarray(self._int, bool)
        optimal = True
        if integer.any():
            x, obj, duals, optimal = self._solve_milp(c, a, sense, rhs, lb, ub, integer, time_limit)
        else:
            x, obj, duals = self._solve_lp(c, a, sense, rhs, lb, ub, time_limit)
        activity = a @ x if m else np.zeros(0)
        slack = np.where(sense == ">=", activity - rhs, rhs - activity)
        slack = np.where(sense == "==", 0.0, slack)
        return Solution(self, x, obj * (-1.0 if self.sense == "max" else 1.0), duals, slack, activity, optimal)

    def _solve_lp(self, c, a, sense, rhs, lb, ub, time_limit):  # type: ignore[no-untyped-def]
        le, ge, eq = sense == "<=", sense == ">=", sense == "=="
        a_ub = sp.vstack([a[le], -a[ge]], format="csr")
        b_ub = np.concatenate([rhs[le], -rhs[ge]])
        a_eq, b_eq = a[eq], rhs[eq]
        bounds = np.column_stack([lb, ub])
        opts: dict = {} if time_limit is None else {"time_limit": time_limit}
        kw = dict(A_ub=a_ub if a_ub.shape[0] else None, b_ub=b_ub if a_ub.shape[0] else None,
                  A_eq=a_eq if a_eq.shape[0] else None, b_eq=b_eq if a_eq.shape[0] else None,
                  bounds=bounds, method="highs")
        res = linprog(c, options=opts, **kw)
        if res.status == 2:
            # presolve can report a false infeasible on coefficients near its tolerance (see
            # optimize/tts.py); the answer without presolve is the one that counts
            res = linprog(c, options={**opts, "presolve": False}, **kw)
        self._check(res.status, res.message)
        duals = np.zeros(len(sense))
        sign = -1.0 if self.sense == "max" else 1.0  # marginals are of the minimized objective
        if a_ub.shape[0]:
            mu = np.asarray(res.ineqlin.marginals, float)
            duals[np.flatnonzero(le)] = sign * mu[:int(le.sum())]
            duals[np.flatnonzero(ge)] = -sign * mu[int(le.sum()):]
        if a_eq.shape[0]:
            duals[np.flatnonzero(eq)] = sign * np.asarray(res.eqlin.marginals, float)
        return np.asarray(res.x, float), float(res.fun), duals

    def _solve_milp(self, c, a, sense, rhs, lb, ub, integer, time_limit):  # type: ignore[no-untyped-def]
        lo = np.where(sense == "<=", -np.inf, rhs)
        hi = np.where(sense == ">=", np.inf, rhs)
        cons = [LinearConstraint(a, lo, hi)] if a.shape[0] else []
        opts: dict = {} if time_limit is None else {"time_limit": time_limit}
        res = milp(c, constraints=cons, integrality=integer.astype(int), bounds=Bounds(lb, ub), options=opts)
        if res.status == 2:
            res = milp(c, constraints=cons, integrality=integer.astype(int), bounds=Bounds(lb, ub),
                       options={**opts, "presolve": False})
        if res.status == 1 and res.x is not None:
            # time limit with a feasible point: usable, but not proven optimal (the caller says so)
            x = np.asarray(res.x, float)
            x[integer] = np.round(x[integer])
            return x, float(res.fun), np.full(len(sense), np.nan), False
        self._check(res.status, res.message)
        x = np.asarray(res.x, float)
        x[integer] = np.round(x[integer])
        return x, float(res.fun), np.full(len(sense), np.nan), True

    def _check(self, status: int, message: str) -> None:
        if status == 0:
            return
        if status == 2:
            raise InfeasibleError(f"the {self.name} model is infeasible: its constraints cannot all hold. "
                                  f"{self.hint}".strip())
        if status == 3:
            raise UnboundedError(f"the {self.name} model is unbounded: its objective improves without limit "
                                 "(a bound or a cost is missing)")
        raise SolverError(f"HiGHS stopped without solving the {self.name} model ({message.strip()})")

    def _var_label(self, col: int) -> str:
        for b in self._vblocks.values():
            if b.start <= col < b.start + len(b.labels):
                return f"{b.name}[{b.labels[col - b.start]}]"
        return str(col)


@dataclass(frozen=True)
class Solution:
    """A solved :class:`LinearModel`: values by block, objective, and (LP only) duals and slacks of rows."""

    model: LinearModel
    x: np.ndarray
    objective: float
    duals: np.ndarray
    slack: np.ndarray
    activity: np.ndarray
    optimal: bool = True
    """False when a MILP stopped at its time limit with a feasible point (not proven optimal)."""

    def value(self, block: str) -> pd.Series:
        """Values of a variable block, indexed by its labels."""
        b = self.model._vblocks[block]
        return pd.Series(self.x[b.start:b.start + len(b.labels)], index=_index(b.labels), name=block)

    def dual(self, block: str) -> pd.Series:
        """Shadow prices of a constraint block: change of the objective per unit of right-hand side."""
        b = self.model._cblocks[block]
        return pd.Series(self.duals[b.start:b.start + len(b.labels)], index=_index(b.labels), name=block)

    def constraints(self) -> pd.DataFrame:
        """Every constraint row: ``block, label, sense, rhs, activity, slack, dual, binding``."""
        rows = []
        for b in self.model._cblocks.values():
            for i, lab in enumerate(b.labels):
                r = b.start + i
                rows.append({"block": b.name, "label": _text(lab), "sense": self.model._sense[r],
                             "rhs": self.model._rhs[r], "activity": float(self.activity[r]),
                             "slack": float(self.slack[r]), "dual": float(self.duals[r]),
                             "binding": bool(abs(self.slack[r]) <= _TOL * max(1.0, abs(self.model._rhs[r])))})
        return pd.DataFrame(rows, columns=["block", "label", "sense", "rhs", "activity", "slack", "dual",
                                           "binding"])


def _spread(v: float | Iterable[float], n: int) -> list[float]:
    if np.isscalar(v):
        return [float(v)] * n  # type: ignore[arg-type]
    out = [float(x) for x in v]  # type: ignore[union-attr]
    if len(out) != n:
        raise ValueError(f"expected {n} values, got {len(out)}")
    return out


def _index(labels: list) -> pd.Index:
    if labels and isinstance(labels[0], tuple):
        return pd.MultiIndex.from_tuples(labels)
    return pd.Index(labels)


def _text(lab: object) -> str:
    return " / ".join(str(x) for x in lab) if isinstance(lab, tuple) else str(lab)
