"""The stress model's per-item parameters: lookup in the atlas ``dynamics`` table, ranges, draws.

The ``dynamics`` table (``docs/atlas.md``, "Dynamics") gives, per item, how it behaves in a
disruption: the share of its world output that serves uses outside the AI chain
(``outside_share``) and how much of those uses would be cut first (``low_value_share``), the days of
stock its users hold (``inventory_days``, optionally per client item and holder country), the spare
capacity of its producers (``spare_capacity``) and the days to bring it online (``ramp_days``), and
how much of its use can be done without once users adapt (``substitution``, ``substitution_days``).
Every row has a central ``value`` and a ``low``–``high`` range.

:class:`Dynamics` answers "what is parameter P of item X for client item K in country C", taking the
most specific row (client and holder, then client, then holder, then the item's general row), and
draws seeded samples inside the ranges for uncertainty bands (:meth:`Dynamics.draws`).

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"item": ["neon", "neon"], "parameter": ["inventory_days"] * 2,
...                   "client": [None, "dram"], "holder": [None, None],
...                   "value": [30.0, 90.0], "low": [15.0, 60.0], "high": [60.0, 120.0]})
>>> d = Dynamics(t)
>>> d.value("neon", "inventory_days", client="advanced_logic"), d.value("neon", "inventory_days", client="dram")
(30.0, 90.0)
>>> d.value("helium", "inventory_days", default=15.0)
15.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

Key = tuple[str, str, str, str]
"""(item, parameter, client, holder); blank client/holder are ``""``."""

FRACTION_PARAMETERS = frozenset({"outside_share", "low_value_share", "substitution"})
"""Parameters that are fractions (clipped to [0, 1] when drawn)."""
MAX_OUTSIDE_SHARE = 0.999
"""An item's chain share is at least 0.1 % (an outside share of 1 would make world output infinite)."""


def _s(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and v != v) or v is pd.NA else str(v)


@dataclass(frozen=True)
class Dynamics:
    """Parameter lookup over an atlas ``dynamics`` table, with optional overrides (one draw).

    Parameters
    ----------
    table : DataFrame
        Columns ``item, parameter, client, holder, value, low, high`` (``low``/``high`` blank: the
        value). An empty or ``None`` table gives every parameter its default.
    overrides : mapping Key -> float, optional
        Values that replace the central ones (a draw of :meth:`draws`).
    """

    table: pd.DataFrame | None = None
    overrides: Mapping[Key, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rows: dict[Key, tuple[float, float, float]] = {}
        t = self.table
        if t is not None and len(t):
            for r in t.itertuples(index=False):
                v = float(r.value)
                lo = float(r.low) if _s(getattr(r, "low", None)) else v
                hi = float(r.high) if _s(getattr(r, "high", None)) else v
                rows[(_s(r.item), _s(r.parameter), _s(getattr(r, "client", "")), _s(getattr(r, "holder", "")))] = (
                    v, min(lo, v), max(hi, v))
        object.__setattr__(self, "_rows", rows)

    @classmethod
    def of(cls, atlas: Any) -> Dynamics:
        """The dynamics of an atlas (empty when it has no ``dynamics`` table)."""
        try:
            t = atlas["dynamics"]
        except KeyError:
            t = None
        return cls(t)

    @property
    def rows(self) -> dict[Key, tuple[float, float, float]]:
        """Every row: key -> (value, low, high)."""
        return self._rows  # type: ignore[attr-defined]

    def key(self, item: str, parameter: str, client: str = "", holder: str = "") -> Key | None:
        """The most specific row that applies, or None."""
        rows = self.rows
        for k in ((item, parameter, client, holder), (item, parameter, client, ""),
                  (item, parameter, "", holder), (item, parameter, "", "")):
            if k in rows:
                return k
        return None

    def value(self, item: str, parameter: str, *, client: str = "", holder: str = "",
              default: float | None = None) -> float | None:
        """Parameter value (the override of this draw where there is one), else ``default``."""
        k = self.key(item, parameter, client or "", holder or "")
        if k is None:
            return default
        if k in self.overrides:
            return float(self.overrides[k])
        return self.rows[k][0]

    def uncertain(self) -> list[Key]:
        """Rows whose range is not a single point, in a stable order."""
        return sorted(k for k, (_v, lo, hi) in self.rows.items() if hi > lo)

    def with_overrides(self, overrides: Mapping[Key, float]) -> Dynamics:
        """The same table with one draw's values (the parsed rows are shared, not re-read)."""
        out = object.__new__(Dynamics)
        object.__setattr__(out, "table", self.table)
        object.__setattr__(out, "overrides", dict(overrides))
        object.__setattr__(out, "_rows", self.rows)
        return out

    def draws(self, n: int, seed: int, extra: Mapping[Key, tuple[float, float, float]] | None = None
              ) -> list[dict[Key, float]]:
        """``n`` seeded draws of every uncertain parameter; draw 0 is the central values.

        Each parameter is drawn from a triangular distribution on its ``low``–``high`` range with the
        central value as mode, independently of the others (no data on their correlation). ``extra``
        adds ranges held elsewhere (recipe dependent shares, power mix), keyed like rows.

        Examples
        --------
        >>> import pandas as pd
        >>> d = Dynamics(pd.DataFrame({"item": ["x"], "parameter": ["spare_capacity"], "client": [None],
        ...                            "holder": [None], "value": [0.1], "low": [0.0], "high": [0.3]}))
        >>> ds = d.draws(4, seed=1)
        >>> ds[0], all(0.0 <= v[("x", "spare_capacity", "", "")] <= 0.3 for v in ds)
        ({('x', 'spare_capacity', '', ''): 0.1}, True)
        """
        ranges = {k: v for k, v in self.rows.items() if v[2] > v[1]}
        if extra:
            ranges.update({k: v for k, v in extra.items() if v[2] > v[1]})
        keys = sorted(ranges)
        rng = np.random.default_rng(seed)
        out: list[dict[Key, float]] = [{k: ranges[k][0] for k in keys}]
        for _ in range(1, n):
            u = rng.random(len(keys))
            d: dict[Key, float] = {}
            for k, ui in zip(keys, u, strict=True):
                v, lo, hi = ranges[k]
                d[k] = _triangular(ui, lo, v, hi)
                if k[1] in FRACTION_PARAMETERS:
                    d[k] = min(max(d[k], 0.0), 1.0)
            out.append(d)
        return out


def _triangular(u: float, lo: float, mode: float, hi: float) -> float:
    """Inverse CDF of the triangular distribution (lo, mode, hi) at u in [0, 1)."""
    if hi <= lo:
        return mode
    f = (mode - lo) / (hi - lo)
    if u < f:
        return lo + float(np.sqrt(u * (hi - lo) * (mode - lo)))
    return hi - float(np.sqrt((1.0 - u) * (hi - lo) * (hi - mode)))
