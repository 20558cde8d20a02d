"""Why a plan is what it is: binding constraints, shadow prices, and what moves if a bound moves.

* :func:`binding` lists the constraint rows that hold with equality, with their dual value (the change
  of the objective per unit of right-hand side; for the sourcing model: shortfall per unit of share or
  of budget), largest first.
* :func:`sensitivity` re-solves a model with one parameter moved and reports the objective: the
  finite-difference check of a dual, valid beyond the small range where the dual holds.

Examples
--------
>>> import pandas as pd
>>> c = pd.DataFrame({"block": ["need", "budget"], "label": ["a", "budget"], "sense": ["==", "<="],
...     "rhs": [1.0, 5.0], "activity": [1.0, 5.0], "slack": [0.0, 0.0], "dual": [0.2, -0.01],
...     "binding": [True, True]})
>>> binding(c)["block"].tolist()
['need', 'budget']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SENSITIVITY_COLUMNS", "binding", "sensitivity"]

SENSITIVITY_COLUMNS = ["parameter", "value", "objective", "change", "feasible", "note"]
_TOL = 1e-9


def binding(constraints: pd.DataFrame, top: int | None = 20, blocks: Iterable[str] | None = None) -> pd.DataFrame:
    """Binding rows with a nonzero dual (or any binding row of ``blocks``), by |dual| descending."""
    c = constraints[constraints["binding"]]
    if blocks is not None:
        c = c[c["block"].isin(set(blocks))]
    else:
        c = c[c["dual"].abs() > _TOL]
    c = c.assign(_a=c["dual"].abs()).sort_values(["_a", "block", "label"], ascending=[False, True, True],
                                                 kind="stable").drop(columns="_a")
    return (c.head(top) if top else c).reset_index(drop=True)


def sensitivity(solve: Callable[[float], float], parameter: str, values: Iterable[float],
                base: float | None = None) -> pd.DataFrame:
    """Objective of ``solve(value)`` for each value (an infeasible one is reported, not raised)."""
    from ..errors import PaxsilicaError

    rows: list[dict[str, Any]] = []
    ref = None
    if base is not None:
        ref = solve(base)
    for v in values:
        try:
            obj = float(solve(float(v)))
            rows.append({"parameter": parameter, "value": float(v), "objective": obj,
                         "change": (obj - ref) if ref is not None else np.nan, "feasible": True, "note": ""})
        except PaxsilicaError as e:
            rows.append({"parameter": parameter, "value": float(v), "objective": np.nan, "change": np.nan,
                         "feasible": False, "note": e.message})
    return pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
