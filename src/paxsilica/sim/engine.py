"""The simulation engine: shock propagation in a production network (ENGINE.md).

Part A (``mode="reference"``) is the adaptive regional input-output model of Hallegatte (2008) at firm
level, as run by Inoue & Todo (2019) and computed by their reference simulator with default options.
Part B (``mode="extended"``) adds lead times, link caps, re-sourcing, stockpiles, consumer groups and
a stabilised order rule. See ``docs/engine.md`` for the model, the departures and how to read results.

Everything is relative to the baseline so that the equilibrium is exact: production is carried as
x = P/p̄, stocks as s = S/A (days of baseline flow), orders and deliveries as fractions of A. With no
shock every deviation is exactly zero, so no rounding noise can seed a "phantom crisis".

The engine is pure: it never prints, reads files or mutates its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import InputError
from . import kernel as _kernel
from . import refkernel as _refkernel
from .network import SupplyNetwork

if TYPE_CHECKING:  # pandas is imported by `series` only: `paxsilica sim firms` never needs it
    import pandas as pd

__all__ = [
    "EPS",
    "ConsumerSplit",
    "Extensions",
    "FirmShocks",
    "Scenario",
    "Schedule",
    "SimResult",
    "cyber_incident_profile",
    "recovery_profile",
    "simulate",
]

EPS = 1e-20
"""Threshold below which the reference treats a stock as zero (absolute units)."""

FIRM_SERIES = ("production", "final_demand", "capacity")
"""The per-firm series ``simulate(record_firms=...)`` can keep (``firm_series``)."""

Rationing = Literal["proportional", "priority"]


# ---------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True, eq=False)
class FirmShocks:
    """Reference-style shocks: firm ``firm[k]`` loses ``delta[k]`` of its capacity from step ``day[k]``.

    Recovery is linear over ``recovery_days`` (an argument of :func:`simulate`) or never.

    Parameters
    ----------
    firm : int array (k,)
        Firm indices (not external ids; see :meth:`SupplyNetwork.firm_index`).
    delta : float array (k,)
        Capacity loss in [0, 1].
    day : int array (k,), optional
        Onset step (default 0).

    Examples
    --------
    >>> FirmShocks([0], [0.1]).day.tolist()
    [0]
    """

    firm: np.ndarray
    delta: np.ndarray
    day: np.ndarray | None = None

    def __post_init__(self) -> None:
        firm = np.asarray(self.firm, dtype=np.int64).ravel()
        delta = np.asarray(self.delta, dtype=np.float64).ravel()
        day = np.zeros(firm.size, np.int64) if self.day is None else np.asarray(self.day, np.int64).ravel()
        if not (firm.size == delta.size == day.size):
            raise InputError("shocks: firm, delta and day must have the same length")
        if np.any(~np.isfinite(delta)) or np.any((delta < 0) | (delta > 1)):
            raise InputError("shocks: delta must lie in [0, 1]")
        if np.any(day < 0):
            raise InputError("shocks: day must be >= 0")
        if np.unique(firm).size != firm.size:
            raise InputError("shocks: a firm is shocked twice")
        object.__setattr__(self, "firm", firm)
        object.__setattr__(self, "delta", delta)
        object.__setattr__(self, "day", day)


@dataclass(frozen=True, eq=False)
class Schedule:
    """Per-step factors for a subset of firms or links (sparse in space, dense in time).

    ``values[t, k]`` applies at step t to firm/link ``index[k]``; after the last row the last row
    holds. A 1-D ``values`` is one row held for every step. Everything not listed has factor 1 (for
    lead-time schedules: the link's own lead time).

    Parameters
    ----------
    index : int array (k,)
        Firm indices (capacity, demand schedules) or canonical link indices (link caps, lead times).
    values : array (T', k) or (k,)
        Factors (capacity and link caps in [0, 1]; demand factors >= 0; lead times int >= 1).

    Examples
    --------
    >>> s = Schedule([3], [[0.0], [0.5], [1.0]])
    >>> s.row(1).tolist(), s.row(10).tolist()
    ([0.5], [1.0])
    """

    index: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        idx = np.asarray(self.index, dtype=np.int64).ravel()
        vals = np.asarray(self.values, dtype=np.float64)
        if vals.ndim == 1:
            vals = vals[None, :]
        if vals.ndim != 2 or vals.shape[1] != idx.size or vals.shape[0] == 0:
            raise InputError(f"schedule values must have shape (steps, {idx.size})")
        if not np.all(np.isfinite(vals)):
            raise InputError("schedule values must be finite")
        if np.unique(idx).size != idx.size:
            raise InputError("schedule index has duplicates")
        vals.flags.writeable = False
        idx.flags.writeable = False
        object.__setattr__(self, "index", idx)
        object.__setattr__(self, "values", vals)

    def row(self, t: int) -> np.ndarray:
        """Factors at step ``t``."""
        return self.values[min(t, self.values.shape[0] - 1)]


@dataclass(frozen=True, eq=False)
class Scenario:
    """The arrays a scenario layer hands to the engine (all optional).

    Parameters
    ----------
    shocks : FirmShocks, optional
        Reference-style capacity shocks (linear recovery over ``recovery_days`` or permanent).
    capacity : Schedule, optional
        Per-firm capacity factors in [0, 1] (outages, recovery profiles, cyber incidents); multiplied
        with the ``shocks``.
    link_capacity : Schedule, optional
        Per-link caps in [0, 1]: a cap c < 1 lets at most c times the baseline amount through per
        step (export bans 0, licence regimes a fraction, chokepoint cuts 0); 1 means unrestricted.
    lead_time : Schedule, optional
        Per-link lead time in steps (e.g. rerouting around a closed chokepoint); needs the
        ``lead_times`` extension.
    demand_factor : Schedule, optional
        Per-firm final-demand factors >= 0 (demand surges).
    name : str
        Label kept in the result.

    Examples
    --------
    >>> Scenario(shocks=FirmShocks([0], [0.5]), name="half").name
    'half'
    """

    shocks: FirmShocks | None = None
    capacity: Schedule | None = None
    link_capacity: Schedule | None = None
    lead_time: Schedule | None = None
    demand_factor: Schedule | None = None
    name: str = ""


@dataclass(frozen=True, eq=False)
class ConsumerSplit:
    """How each firm's final demand divides among consumer groups (countries, coalitions).

    Parameters
    ----------
    firm, consumer : int arrays (k,)
        Firm index and consumer-group index of each share.
    share : float array (k,)
        Fraction of the firm's final demand that goes to that consumer (per firm, shares sum to <= 1).
    names : sequence of str
        Name of each consumer group.

    Examples
    --------
    >>> ConsumerSplit([0, 0], [0, 1], [0.25, 0.75], ["USA", "CHN"]).names
    ('USA', 'CHN')
    """

    firm: np.ndarray
    consumer: np.ndarray
    share: np.ndarray
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        firm = np.asarray(self.firm, np.int64).ravel()
        cons = np.asarray(self.consumer, np.int64).ravel()
        share = np.asarray(self.share, np.float64).ravel()
        names = tuple(str(n) for n in self.names)
        if not (firm.size == cons.size == share.size):
            raise InputError("consumers: firm, consumer and share must have the same length")
        if np.any((share < 0) | ~np.isfinite(share)):
            raise InputError("consumers: shares must be >= 0")
        if cons.size and (cons.min() < 0 or cons.max() >= len(names)):
            raise InputError("consumers: consumer index out of range")
        object.__setattr__(self, "firm", firm)
        object.__setattr__(self, "consumer", cons)
        object.__setattr__(self, "share", share)
        object.__setattr__(self, "names", names)


@dataclass(frozen=True, eq=False)
class Extensions:
    """Part B options (all off by default). Giving an ``Extensions`` selects ``mode="extended"``.

    Parameters
    ----------
    lead_times : bool
        Deliveries on link e arrive after ``network.lead_time[e]`` steps (or the scenario's lead-time
        schedule) instead of one; orders count the pipeline.
    resourcing : bool
        A client short of a sector's input moves the unfillable part of its orders to the other
        suppliers of that sector that are unshocked and not short themselves (in proportion to
        their baseline amounts); unshocked suppliers facing excess demand may raise output up to
        ``1 + headroom`` times baseline, ramping linearly over ``ramp_days`` steps of excess demand.
    ramp_days : int or int array (n,) or (B, n)
        Steps to reach full headroom (0 = at once), one for all firms or per firm (and scenario).
    capacity_headroom : float or array (n,) or (B, n), optional
        Overrides ``network.capacity_headroom`` (per scenario with a leading batch axis).
    stockpile_days : float or array (m,), optional
        Strategic reserve per link in days of baseline flow, held apart from working stock.
    stockpile_release_day : int
        From this step on, a link whose working stock is below ``inventory_days`` draws on its reserve.
    stockpile_release_rate : float
        At most this many days of reserve released per link and step (default unlimited).
    consumers : ConsumerSplit, optional
        Report final demand served per consumer group.
    link_priority : int array (m,), optional
        Priority class of each link's client as a claimant on its supplier, in canonical link order
        (``net.links_of(...)`` finds links). **Class 0 is served first**, then 1, and so on: a short
        supplier fills every claimant of a class before the next class gets anything; within a class
        the ``rationing`` rule applies. Coalition-first: ``np.where(np.isin(net.client, members), 0, 1)``.
        Default: every link in class 0.
    consumer_priority : int array (k,), optional
        Priority class of each consumer group of ``consumers`` (needs ``consumers``), e.g.
        ``[0 if name in coalition else 1 for name in consumers.names]``.
    final_demand_priority : int, optional
        Class of final demand not attributed to a consumer group (all of it without ``consumers``;
        else the part of a firm's final demand its shares leave over). Default: the last (largest)
        class given in ``link_priority`` or ``consumer_priority``.
    order_target : {"baseline", "output"}
        Inventory target of orders: ``n·A`` (baseline, stable; default) or ``n·A·P/p̄`` (the reference).
    settle_tol : float
        When every factor of a scenario is back at baseline and its state is within this relative
        distance of the baseline, its state is set exactly to the baseline (0 disables).
    inventory_days : float or array (m,) or (B, m), optional
        Days (steps) of baseline flow each client holds of each link, in canonical link order,
        overriding the ``inventory_days`` argument of :func:`simulate`; a (B, m) array gives every
        scenario of a batch its own. Must be >= 1 (a client needs at least one day of stock: the
        Leontief limit x <= stock/need is below 1 at the baseline otherwise). Per-link days: the
        target of a (client, sector) segment is n_seg = sum of w·n over its links (w = A/A^sec);
        stocks start at n, orders close the segment's gap to n_seg, and the client draws from each
        link in proportion to its fill s/n (exactly its baseline flow at the baseline).
    substitution : array (m,) or (B, m), optional
        Largest fraction sigma-bar in [0, 1] of a client's need of the link's sector it can do without
        once adapted (recycling, thrifting, alternative materials); a (client, sector) segment uses
        the amount-weighted mean of its links'. While the segment's stock is below its target (by
        more than ``substitution_tol``) sigma rises by sigma-bar/``substitution_days`` per step,
        afterwards it falls back at the same rate; the client then needs (1 - sigma) of the input per
        unit of output (consumption, Leontief limit and the orders' flow term). Default: none.
    substitution_days : float or array (m,) or (B, m)
        Steps to adapt fully (segment: amount-weighted mean; 0 = at once). Default 30.
    substitution_tol : float
        Relative shortfall of a segment's stock below its target that counts as short (default 1e-3).
    early_exit : bool
        Once every scenario has settled at the baseline and no schedule moves any more, stop
        stepping and fill the remaining rows with the baseline step (identical to stepping on).
        False computes every step (no steady-state exit either).
    steady_tol : float
        Steady-state exit (0 or ``early_exit=False`` disables; default 1e-10). A scenario whose schedules (capacity, link
        caps, demand factors, lead times) no longer change and whose state changed in the last step
        by at most this much relative to the baseline (production x = P/p̄ and shipments by 1,
        stocks and reserves by max(n, 1) days, substitution σ by 1; ramp clocks unchanged or past
        ``ramp_days``; shipments in transit: the shipments were that steady for the longest lead
        time) is frozen: its remaining rows repeat its last step; except a scenario back at its
        default factors whose production is within ``settle_tol`` of the baseline but whose stocks are
        not yet: it is converging on the baseline and is left to the settle test (frozen, it kept a
        residual a stock's decay time times ``steady_tol`` for good). Once every scenario of a batch is
        frozen the run stops. Each scenario freezes on its own, so a batch still equals its
        sequential runs. Bound: while the state's per-step change does not grow (the model
        contracts towards its new steady state), a frozen series differs from the stepped one by
        at most about ``steady_tol`` × remaining steps relative to the baseline.

    Examples
    --------
    >>> Extensions(resourcing=True, ramp_days=10).order_target
    'baseline'

    Per-link stock and substitution: the client of link 0 holds 10 days of it and can do without
    half of that input after 20 days of shortage.

    >>> ext = Extensions(inventory_days=[10.0, 20.0], substitution=[0.5, 0.0], substitution_days=20)
    >>> ext.as_dict()["inventory_days"], ext.as_dict()["substitution"]
    ('array(2)', 'array(2)')

    Coalition-first: links to clients 0 and 2 are served before the others (class 1).

    >>> net = SupplyNetwork.from_arrays([3, 3, 3], [0, 1, 2], [1.0, 1.0, 1.0])
    >>> Extensions(link_priority=np.where(np.isin(net.client, [0, 2]), 0, 1)).as_dict()["link_priority"]
    {'0': 2, '1': 1}
    """

    lead_times: bool = False
    resourcing: bool = False
    ramp_days: int | np.ndarray = 0
    capacity_headroom: float | np.ndarray | None = None
    stockpile_days: float | np.ndarray | None = None
    stockpile_release_day: int = 0
    stockpile_release_rate: float = math.inf
    consumers: ConsumerSplit | None = None
    order_target: Literal["baseline", "output"] = "baseline"
    settle_tol: float = 1e-9
    link_priority: np.ndarray | None = None
    consumer_priority: np.ndarray | None = None
    final_demand_priority: int | None = None
    inventory_days: float | np.ndarray | None = None
    substitution: np.ndarray | None = None
    substitution_days: float | np.ndarray = 30.0
    substitution_tol: float = 1e-3
    early_exit: bool = True
    steady_tol: float = 1e-10

    def as_dict(self) -> dict[str, Any]:
        """Plain summary for the result's parameters."""
        def small(v: object) -> object:
            if v is None or np.ndim(v) == 0:
                return v if not isinstance(v, np.generic) else v.item()
            return f"array({np.size(v)})"

        return {
            "lead_times": self.lead_times, "resourcing": self.resourcing, "ramp_days": small(self.ramp_days),
            "capacity_headroom": small(self.capacity_headroom), "stockpile_days": small(self.stockpile_days),
            "stockpile_release_day": self.stockpile_release_day,
            "stockpile_release_rate": self.stockpile_release_rate,
            "consumers": None if self.consumers is None else list(self.consumers.names),
            "order_target": self.order_target, "settle_tol": self.settle_tol,
            "link_priority": None if self.link_priority is None else {  # links per class
                str(int(k)): int(v) for k, v in zip(*np.unique(np.asarray(self.link_priority), return_counts=True),
                                               strict=True)},
            "consumer_priority": None if self.consumer_priority is None else [
                int(v) for v in np.asarray(self.consumer_priority).ravel()],
            "final_demand_priority": self.final_demand_priority,
            "inventory_days": small(self.inventory_days), "substitution": small(self.substitution),
            "substitution_days": small(self.substitution_days), "substitution_tol": self.substitution_tol,
            "early_exit": self.early_exit, "steady_tol": self.steady_tol,
        }


# ---------------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class SimResult:
    """Per-step series of a run. Row 0 is the setup state (step -1), row t+1 is step t.

    Single runs have 1-D series of length ``steps + 1``; batched runs have a leading scenario axis.

    Attributes
    ----------
    step : int array (steps+1,)
        -1, 0, …, steps-1.
    production, value_added, final_demand : arrays
        Total production Σ P, value added Σ v·P, final demand delivered Σ ĉ.
    final_demand_requested : array
        Final demand asked for (differs from the baseline only under demand surges).
    firm_production : array (steps+1, n) or (steps+1, k) or None
        Per-firm production when ``record_firms`` is given (with an index array: those k firms'
        columns, in its order; ``firm_index`` names them) and ``firm_series`` includes it.
    firm_final_demand, firm_capacity : arrays (steps+1, n) or (steps+1, k) or None
        Per-firm final demand served and production capacity (incl. headroom), as ``firm_production``.
    firm_index : int array (k,) or None
        The firms of the per-firm columns when ``record_firms`` was an index array (None: every firm).
    link_deliveries, link_stock : arrays (steps+1, m) or None
        Per-link shipments Ô (sent at the step) and working stock S (after the step's inventory
        update), absolute units, when ``record_links=True``.
    sector_production : array (steps+1, n_sectors) or None
        Production per sector when ``record_sectors=True``.
    consumer_final_demand, consumer_final_demand_requested : arrays (steps+1, k) or None
        Final demand served / asked per consumer group (``Extensions.consumers``).
    parameters : dict
        Everything needed to rerun: rationing, inventory_days, tau, recovery_days, steps, mode,
        seed, extensions, scenario names.
    """

    step: np.ndarray
    production: np.ndarray
    value_added: np.ndarray
    final_demand: np.ndarray
    final_demand_requested: np.ndarray
    firm_production: np.ndarray | None
    sector_production: np.ndarray | None
    consumer_final_demand: np.ndarray | None
    consumer_final_demand_requested: np.ndarray | None
    parameters: dict[str, Any] = field(default_factory=dict)
    firm_final_demand: np.ndarray | None = None
    firm_capacity: np.ndarray | None = None
    link_deliveries: np.ndarray | None = None
    link_stock: np.ndarray | None = None
    firm_index: np.ndarray | None = None

    @property
    def batched(self) -> bool:
        """True when the run had a scenario axis."""
        return self.production.ndim == 2

    def series(self) -> pd.DataFrame:
        """Tidy table: one row per (scenario,) step with production, value added, final demand.

        Examples
        --------
        >>> net = SupplyNetwork.from_arrays([0], [1], [1.0], final_demand=[0.0, 1.0])
        >>> simulate(net, steps=2).series()["production"].tolist()
        [2.0, 2.0, 2.0]
        """
        import pandas as pd

        cols = ("production", "value_added", "final_demand", "final_demand_requested")
        if not self.batched:
            return pd.DataFrame({"step": self.step, **{c: getattr(self, c) for c in cols}})
        b, t = self.production.shape
        return pd.DataFrame({
            "scenario": np.repeat(np.arange(b), t),
            "step": np.tile(self.step, b),
            **{c: getattr(self, c).ravel() for c in cols},
        })


# ---------------------------------------------------------------------------------------- profiles
def recovery_profile(
    steps: int,
    *,
    loss: float,
    start: int = 0,
    kind: Literal["linear", "exponential", "step", "permanent"] = "linear",
    duration: float | None = None,
    delay: int = 0,
) -> np.ndarray:
    """Capacity factor per step of a firm that loses ``loss`` of its capacity at ``start``.

    The loss holds for ``delay`` steps, then recovers:

    - ``linear``: falls by loss/duration per step (the reference rule when ``delay = 0``): full
      capacity ``duration`` steps after recovery begins;
    - ``exponential``: the loss halves every ``duration`` steps (set to exactly 1 once below 1e-12);
    - ``step``: full loss for ``duration`` steps, then full capacity;
    - ``permanent``: no recovery.

    Returns
    -------
    ndarray (steps,)
        Factors in [0, 1], non-decreasing from ``start`` on.

    Examples
    --------
    >>> recovery_profile(6, loss=1.0, start=1, kind="linear", duration=2, delay=1).tolist()
    [1.0, 0.0, 0.0, 0.5, 1.0, 1.0]
    """
    if not 0 <= loss <= 1:
        raise InputError(f"capacity loss must lie in [0, 1], got {loss!r}")
    if kind != "permanent" and (duration is None or duration < 0 or (kind != "step" and duration == 0
                                                                      and kind != "linear")):
        raise InputError(f"recovery profile {kind!r} needs a duration > 0")
    t = np.arange(steps, dtype=np.float64)
    k = t - start - delay  # steps since recovery began
    if kind == "permanent":
        remaining = np.full(steps, loss)
    elif kind == "linear":
        remaining = loss * np.clip(1.0 - k / duration, 0.0, 1.0) if duration else np.where(k >= 0, 0.0, loss)
    elif kind == "exponential":
        remaining = loss * np.power(0.5, np.maximum(k, 0.0) / duration)
        remaining[remaining < 1e-12] = 0.0
    elif kind == "step":
        remaining = np.where(k >= duration, 0.0, loss)
    else:
        raise InputError(f"unknown recovery profile {kind!r} (linear, exponential, step, permanent)")
    out = 1.0 - remaining
    out[t < start] = 1.0
    return out


def cyber_incident_profile(
    steps: int,
    *,
    start: int,
    outage_days: int,
    restore: Literal["linear", "exponential", "step"] = "linear",
    restore_days: float = 1.0,
) -> np.ndarray:
    """Capacity factor of a cyber incident: a full outage for ``outage_days``, then a restore profile.

    Examples
    --------
    >>> cyber_incident_profile(5, start=1, outage_days=2, restore="step", restore_days=0).tolist()
    [1.0, 0.0, 0.0, 1.0, 1.0]
    """
    return recovery_profile(steps, loss=1.0, start=start, kind=restore, duration=restore_days,
                            delay=outage_days)


# ---------------------------------------------------------------------------------------- helpers
class _Sparse:
    """Union of one schedule kind over the batch: per step a (B, k) row for the union index."""

    def __init__(self, scheds: list[Schedule | None], default: np.ndarray | float) -> None:
        present = [s for s in scheds if s is not None]
        self.active = bool(present)
        self.index = (np.unique(np.concatenate([s.index for s in present])) if present
                      else np.zeros(0, np.int64))
        self.b = len(scheds)
        self.default = (np.broadcast_to(np.asarray(default, np.float64)[self.index]
                                        if np.ndim(default) else float(default), (self.index.size,)))
        self.scheds = scheds
        self.pos = [None if s is None else np.searchsorted(self.index, s.index) for s in scheds]
        # per schedule row: does it differ from the default? (for the settle check)
        self.moved_rows = [None if s is None else np.any(s.values != self.default[p], axis=1)
                           for s, p in zip(scheds, self.pos, strict=True)]
        # last step at which each scenario's schedule differs from the default (-1: never; a moved
        # last row holds for ever)
        self.last_moved = np.array([-1.0 if mv is None or not mv.any() else
                                    (math.inf if mv[-1] else float(np.flatnonzero(mv)[-1])) for mv in self.moved_rows])
        # last row that differs from the row before it (0: constant from the start; the last row holds)
        self.last_change = np.array([0 if s is None or s.values.shape[0] < 2 else
                                     int(np.flatnonzero(np.r_[True, np.any(s.values[1:] != s.values[:-1], axis=1)])[-1])
                                     for s in scheds], dtype=np.int64)
        # scenarios sharing one schedule object (draws of one scenario) are filled at once
        groups: dict[int, list[int]] = {}
        for b, s in enumerate(scheds):
            if s is not None:
                groups.setdefault(id(s), []).append(b)
        self.groups = [(np.array(bs), scheds[bs[0]], self.pos[bs[0]]) for bs in groups.values()]

    # a table of every row up to the last one (which then holds) is built once when it stays below
    # this many values (32 MB): filling the (B, k) row from the batch's schedules each step cost
    # about 0.25 ms a step on Monte Carlo batches of 16 draws, each with schedules of its own
    TABLE_MAX = 4_000_000

    def _fill(self, t: int) -> np.ndarray:
        out = np.empty((self.b, self.index.size))
        out[:] = self.default
        for bs, s, p in self.groups:
            if bs.size == 1:
                out[bs[0], p] = s.row(t)
            else:
                out[np.ix_(bs, p)] = s.row(t)
        return out

    def table(self) -> np.ndarray | None:
        """Every row up to the last one (which then holds), (rows, B, k), or None when it would pass
        ``TABLE_MAX`` values (built once, read-only)."""
        if not hasattr(self, "_table"):
            n_rows = max((s.values.shape[0] for _, s, _ in self.groups), default=1)
            self._table = None
            if n_rows * self.b * self.index.size <= self.TABLE_MAX:
                table = np.empty((n_rows, self.b, self.index.size))
                table[:] = self.default
                for bs, s, p in self.groups:  # row r of every schedule, each padded with its last row
                    vals = s.values[np.minimum(np.arange(n_rows), s.values.shape[0] - 1)]
                    for b in bs:
                        table[:, b, p] = vals
                table.flags.writeable = False
                self._table = table
        return self._table

    def rows_from(self, t0: int, steps: int) -> tuple[np.ndarray, int, int]:
        """``(table, its first step, the step it ends before)`` for the compiled loop: the whole
        table when it fits (it holds its last row for ever), else the rows of the steps from ``t0``
        that fit in ``TABLE_MAX`` values."""
        table = self.table()
        if table is not None:
            return table, 0, steps
        n = max(1, self.TABLE_MAX // max(self.b * self.index.size, 1))
        stop = min(steps, t0 + n)
        chunk = np.stack([self._fill(t) for t in range(t0, stop)])
        chunk.flags.writeable = False  # read-only as the whole table: one compiled signature
        return chunk, t0, stop

    def row(self, t: int) -> np.ndarray:
        """The (B, k) factors at step ``t`` (read-only: callers copy it into their own arrays)."""
        table = self.table()
        if table is not None:
            return table[min(t, table.shape[0] - 1)]
        return self._fill(t)

    def default_table(self, steps: int) -> np.ndarray:
        """(B, steps) table of :meth:`at_default` for the steps 0 .. steps − 1."""
        self.at_default(0)  # builds the (scenario, row) table
        return ~self._moved[:, np.minimum(np.arange(steps), self._moved.shape[1] - 1)]

    def at_default(self, t: int) -> np.ndarray:
        """Per scenario: is its schedule at the default at step ``t``?"""
        if not hasattr(self, "_moved"):  # (scenario, row) table, each padded with its last row
            rows = max((mv.size for mv in self.moved_rows if mv is not None), default=1)
            self._moved = np.zeros((self.b, rows), dtype=bool)
            for b, mv in enumerate(self.moved_rows):
                if mv is not None:
                    self._moved[b, :mv.size] = mv
                    self._moved[b, mv.size:] = mv[-1]
        return ~self._moved[:, min(t, self._moved.shape[1] - 1)]

    def default_from(self, t: int) -> np.ndarray:
        """Per scenario: is its schedule at the default at every step from ``t`` on?"""
        return t > self.last_moved

    def constant_from(self, t: int) -> np.ndarray:
        """Per scenario: is its schedule the same at every step from ``t`` on?"""
        return t >= self.last_change


def _shock_schedule(shocks: FirmShocks | None, steps: int, recovery_days: float | None) -> Schedule | None:
    """Capacity factors 1 − δ(t) of reference shocks, computed as the reference does (step 1 and 8)."""
    if shocks is None or shocks.firm.size == 0:
        return None
    k = shocks.firm.size
    vals = np.ones((max(steps, 1), k))
    delta = np.zeros(k)
    for t in range(steps):
        onset = shocks.day == t
        delta[onset] = shocks.delta[onset]
        vals[t] = 1.0 - delta
        if recovery_days is not None:
            delta = np.maximum(0.0, delta - shocks.delta / recovery_days)
    return Schedule(shocks.firm, vals)


def _combine(a: Schedule | None, b: Schedule | None, steps: int) -> Schedule | None:
    if a is None or b is None:
        return a if b is None else b
    idx = np.union1d(a.index, b.index)
    vals = np.ones((max(steps, 1), idx.size))
    for s in (a, b):
        p = np.searchsorted(idx, s.index)
        rows = np.stack([s.row(t) for t in range(max(steps, 1))])
        vals[:, p] *= rows
    return Schedule(idx, vals)


def _waterfill(seg: np.ndarray, w: np.ndarray, g: np.ndarray, target: np.ndarray, n_seg: int,
               seg_member: np.ndarray | None = None, n_members: int = 1) -> np.ndarray:
    """Level L per segment with Σ_k w_k·min(g_k, L) = target (claimants sorted by request).

    ``seg`` holds segment ids 0..n_seg-1 for every claimant; every segment must have a claimant with
    positive weight and its total request must exceed its target (else no rationing is needed).
    With a batch, ``seg_member`` gives the scenario of each segment (segments numbered scenario by
    scenario, claimants of a scenario in the order a single run lists them): the running sums restart
    at each scenario, so that each computes exactly what its single run computes.
    """
    def sort(sg: np.ndarray, gg: np.ndarray) -> np.ndarray:
        # one float sort on seg + g/(1+g) (fast), checked; the exact two-key sort if rounding tied or
        # crossed two keys
        o_ = np.argsort(sg + gg / (1.0 + gg))
        s_, g_ = sg[o_], gg[o_]
        if s_.size > 1 and (np.any(s_[1:] < s_[:-1]) or np.any((s_[1:] == s_[:-1]) & (g_[1:] < g_[:-1]))):
            o_ = np.lexsort((gg, sg))
        return o_

    if seg_member is None or n_members == 1:
        order = sort(seg, g)
    else:
        # each scenario's claimants sorted on their own, exactly as its single run sorts them (same
        # keys in the same order: segment ids local to the scenario), so that ties fall the same way
        mem = seg_member[seg]
        by_mem = np.argsort(mem.astype(np.uint16) if n_members <= 1 << 16 else mem, kind="stable")
        bounds = np.searchsorted(mem[by_mem], np.arange(n_members + 1))
        seg_lo = np.searchsorted(seg_member, np.arange(n_members))  # first segment of each scenario
        parts = []
        for b in range(n_members):  # one sort call per scenario; everything else is batched
            lo, hi = bounds[b], bounds[b + 1]
            if hi > lo:
                idx = by_mem[lo:hi]
                parts.append(idx[sort(seg[idx] - seg_lo[b], g[idx])])
        order = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    seg_s, w_s, g_s = seg[order], w[order], g[order]
    counts = np.bincount(seg_s, minlength=n_seg)
    start = np.zeros(n_seg + 1, np.int64)
    np.cumsum(counts, out=start[1:])
    wg = w_s * g_s
    if seg_member is None or n_members == 1:
        cum_wg = np.cumsum(wg)
        cum_w = np.cumsum(w_s)
        first = np.zeros(wg.size, dtype=bool)
        first[:1] = True
    else:  # running sums per scenario: rows of a (scenario, claimant) array, zero-padded at the end
        mem = seg_member[seg_s]
        mstart = np.searchsorted(mem, np.arange(n_members))
        col = np.arange(mem.size) - mstart[mem]
        width = int(col.max(initial=-1)) + 1
        buf = np.zeros((2, n_members, width))
        buf[0, mem, col] = wg
        buf[1, mem, col] = w_s
        np.cumsum(buf, axis=2, out=buf)
        cum_wg, cum_w = buf[0, mem, col], buf[1, mem, col]
        first = col == 0
    # running sums before each claimant (0 at a scenario's first)
    prev_wg = np.concatenate(([0.0], cum_wg[:-1]))
    prev_w = np.concatenate(([0.0], cum_w[:-1]))
    prev_wg[first] = 0.0
    prev_w[first] = 0.0
    base_wg = prev_wg[start[:-1]]
    base_w = prev_w[start[:-1]]
    total_w = cum_w[start[1:] - 1] - base_w
    wg_before = cum_wg - wg - base_wg[seg_s]  # filled amount of claimants below k (within segment)
    w_from = total_w[seg_s] - (cum_w - w_s - base_w[seg_s])  # weight of claimants k.. (incl. k)
    reach = wg_before + g_s * w_from  # total delivered if the level were g_k
    short = reach < target[seg_s]
    k = start[:-1] + np.add.reduceat(short, start[:-1]).astype(np.int64)
    k = np.minimum(k, start[1:] - 1)
    level = (target - wg_before[k]) / np.where(w_from[k] > 0, w_from[k], 1.0)
    return np.maximum(level, 0.0)


@dataclass(frozen=True, eq=False)
class _Classes:
    """Priority classes of a run's claimants, renumbered 0..k-1 (only the order of classes matters)."""

    k: int
    link: np.ndarray  # (m,) class of each link's client
    key: np.ndarray  # (m,) supplier * k + class: bins of the per-(supplier, class) demand
    fd_frac: np.ndarray  # (n, k) share of each firm's final demand in each class (rows sum to 1)
    entry: np.ndarray | None  # class of each ConsumerSplit entry


def _class_array(v: object, size: int, what: str) -> np.ndarray:
    arr = np.asarray(v)
    if arr.dtype == bool:
        raise InputError(f"{what}: give integer classes (0 = served first), not booleans; "
                         "e.g. np.where(in_coalition, 0, 1)")
    arr = arr.ravel()
    if arr.size != size:
        raise InputError(f"{what}: {arr.size} entries, expected {size}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise InputError(f"{what}: classes must be integers >= 0")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise InputError(f"{what}: classes must be integers >= 0")
    return arr


def _priority_classes(ext: Extensions, net: SupplyNetwork, consumers: ConsumerSplit | None,
                      c: np.ndarray | None = None) -> _Classes | None:
    """Validate the priority extension; None when every claimant falls in one class (no effect)."""
    if ext.link_priority is None and ext.consumer_priority is None and ext.final_demand_priority is None:
        return None
    n, m = net.n_firms, net.n_links
    link = np.zeros(m, np.int64) if ext.link_priority is None else _class_array(ext.link_priority, m, "link_priority")
    cons = None
    if ext.consumer_priority is not None:
        if consumers is None:
            raise InputError("consumer_priority needs Extensions(consumers=ConsumerSplit(...))")
        cons = _class_array(ext.consumer_priority, len(consumers.names), "consumer_priority")
    if ext.final_demand_priority is not None:
        rest = int(_class_array([ext.final_demand_priority], 1, "final_demand_priority")[0])
    else:
        rest = max(int(link.max(initial=0)), int(cons.max(initial=0)) if cons is not None else 0)
    if c is None:  # only where c > 0 matters: with per-scenario final demand, where any is > 0
        c = net.final_demand
    if cons is not None and consumers is not None:
        entry = cons[consumers.consumer]
        share = np.where(c[consumers.firm] > 0, consumers.share, 0.0)
        total = np.bincount(consumers.firm, weights=share, minlength=n)
        if np.any(total > 1.0 + 1e-9):
            k = int(np.flatnonzero(total > 1.0 + 1e-9)[0])
            raise InputError(f"consumers: the shares of firm {net.firm_ids[k]} sum to {total[k]:.6g} > 1")
        resid = np.where(c > 0, np.maximum(1.0 - total, 0.0), 0.0)
        used_e = np.unique(entry[share > 0])
    else:
        entry, share, resid = None, None, np.where(c > 0, 1.0, 0.0)
        used_e = np.zeros(0, np.int64)
    used = np.unique(np.concatenate((link, used_e, [rest] if np.any(resid > 0) else [])).astype(np.int64))
    if used.size <= 1:
        return None
    k = int(used.size)
    link = np.searchsorted(used, link)
    rest_k = int(np.searchsorted(used, rest))  # a class not used by anyone maps to its rank: harmless
    fd_frac = np.zeros((n, k))
    fd_frac[:, min(rest_k, k - 1)] = resid
    if entry is not None and share is not None and consumers is not None:
        entry = np.minimum(np.searchsorted(used, entry), k - 1)
        fd_frac += np.bincount(consumers.firm * k + entry, weights=share, minlength=n * k).reshape(n, k)
    return _Classes(k=k, link=link, key=net.supplier * k + link, fd_frac=fd_frac, entry=entry)


def _ration_classes(x: np.ndarray, y: np.ndarray, o: np.ndarray, dfac: np.ndarray | None, a_rel: np.ndarray,
                    c_rel: np.ndarray, sup: np.ndarray, pc: _Classes, rationing: str, by_key: Any,
                    cfk: np.ndarray | None = None, key_flat: np.ndarray | None = None,
                    key_weighted: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coalition-first rationing: a short supplier serves its claimants class by class (0 first).

    Classes before the marginal one (the first the remaining output cannot fill) get everything
    they asked, classes after it nothing; within the marginal class the ``rationing`` rule shares
    what is left. Suppliers that are not short are computed exactly as without classes.

    ``by_key`` sums a (B, m) array into (supplier, class) bins, of ``o·a_rel`` (or of ``o`` when
    ``key_weighted``: it applies a_rel itself). ``dfac`` is None when no demand factor moves (all
    ones: a product by 1 is exact, so it is skipped); ``cfk`` = c_rel·fd_frac per (firm, class) and
    ``key_flat`` the flat (scenario, supplier, class) bin of every (scenario, link), computed when
    not given. Every scenario of a batch is computed at once, each exactly as its single run.

    Returns deliveries (relative to A), final demand served per firm and per (firm, class) (relative
    to c and to c times the class's share of it).
    """
    B, n = x.shape
    m = o.shape[1]
    K = pc.k
    short = x < y
    pos_y = y > 0
    r = np.where(pos_y, x / np.where(pos_y, y, 1.0), 0.0)  # the classless rule, for suppliers not short
    if cfk is None:
        cfk = c_rel[..., None] * pc.fd_frac
    if key_flat is None:
        key_flat = (pc.key[None, :] + (np.arange(B) * (n * K))[:, None]).ravel()
    dem = by_key(o if key_weighted else o * a_rel).reshape(B * n, K)  # demand per (supplier, class) / p̄
    # only short suppliers need the classes: their rows, (short suppliers, K)
    fs = np.flatnonzero(short)
    fs_firm = fs % n if B > 1 else fs
    dem_s = dem[fs]
    cfk_s = cfk[fs_firm] if cfk.ndim == 2 else cfk.reshape(B * n, K)[fs]
    dem_s += cfk_s if dfac is None else cfk_s * dfac.reshape(-1)[fs, None]
    before = np.zeros_like(dem_s)  # demand of the classes served before class k
    np.cumsum(dem_s[:, :-1], axis=1, out=before[:, 1:])
    room = x.reshape(-1)[fs, None] - before  # output left for class k
    has = dem_s > 0
    ones = dfac is None
    if ones:
        dfac = np.ones((B, n))
    dfac_s = dfac.reshape(-1)[fs]
    if rationing == "proportional":
        with np.errstate(over="ignore"):  # a denormal class demand: the ratio clips to 1
            ratio_s = np.where(has, np.clip(room / np.where(has, dem_s, 1.0), 0.0, 1.0), 1.0)
        ratio = np.repeat(r.reshape(-1, 1), K, axis=1)  # suppliers not short: the classless rule
        ratio[fs] = ratio_s
        d = o * np.take(ratio.reshape(-1), key_flat).reshape(o.shape)
        served_s = ratio_s if ones else dfac_s[:, None] * ratio_s
        served_k = (ratio if ones else dfac.reshape(-1, 1) * ratio).reshape(B, n, K)
    else:
        d = o.copy()
        served_k = np.repeat(dfac.reshape(-1, 1), K, axis=1)
        lack = (room < dem_s) & has
        marg = lack.any(axis=1)  # short suppliers with a marginal class
        kof_s = np.where(marg, lack.argmax(axis=1), K)  # marginal class (K: none, everyone is filled)
        served_s = served_k[fs]
        if marg.any():
            kof = np.full(B * n, K, np.int64)
            kof[fs] = kof_s
            lk = np.take(kof.reshape(B, n), sup, axis=1)
            d[pc.link[None, :] > lk] = 0.0
            lf = np.flatnonzero(pc.link[None, :] == lk)  # links of the marginal class, scenario by scenario
            lb = lf // m
            ll = lf - lb * m
            mi = np.flatnonzero(marg)  # rows (of the short suppliers) with a marginal class
            mb, mj = np.divmod(fs[mi], n)
            km = kof_s[mi]
            seg_of = np.full((B, n), -1, np.int64)
            seg_of[mb, mj] = np.arange(mb.size)
            cr = c_rel[mj] if c_rel.ndim == 1 else c_rel[mb, mj]
            wf = cr * pc.fd_frac[mj, km]
            fp = wf > 0
            seg_l = seg_of[lb, sup[ll]]
            seg = np.concatenate((seg_l, seg_of[mb[fp], mj[fp]]))
            o_l = np.take(o, lf)
            w = np.concatenate((a_rel[ll] if a_rel.ndim == 1 else np.take(a_rel, lf), wf[fp]))
            g = np.concatenate((o_l, dfac[mb[fp], mj[fp]]))
            with np.errstate(over="ignore"):  # denormal weights: an infinite level fills every request
                level = _waterfill(seg, w, g, np.maximum(room[mi, km], 0.0), mb.size, mb, B)
            np.put(d, lf, np.minimum(o_l, level[seg_l]))
        served_s[np.arange(K)[None, :] > kof_s[:, None]] = 0.0  # classes after the marginal one
        if marg.any():
            served_s[mi, km] = np.minimum(dfac[mb, mj], level)
        served_k[fs] = served_s
        served_k = served_k.reshape(B, n, K)
        ratio = None
    part = served_s * pc.fd_frac[fs_firm]
    if K <= 8:  # a short sum over classes, added in order as sum() does for fewer than 8 terms
        tot = part[:, 0].copy()
        for k in range(1, K):
            tot += part[:, k]
    else:
        tot = part.sum(axis=1)
    served = dfac * r if ratio is not None else dfac.copy()
    served.reshape(-1)[fs] = tot
    return d, served, served_k


def _as_scenarios(scenario: Scenario | FirmShocks | Sequence[Scenario] | None) -> tuple[list[Scenario], bool]:
    if scenario is None:
        return [Scenario()], False
    if isinstance(scenario, FirmShocks):
        return [Scenario(shocks=scenario)], False
    if isinstance(scenario, Scenario):
        return [scenario], False
    scen = list(scenario)
    if not scen or not all(isinstance(s, Scenario) for s in scen):
        raise InputError("a batch must be a non-empty list of Scenario")
    return scen, True


def _batch_param(v: object, B: int, size: int, what: str, *, lo: float | None = 0.0) -> np.ndarray:
    """A number, an array (size,) or one row per scenario (B, size), as float64, checked."""
    try:
        arr = np.array(v, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"{what}: expected numbers ({e})") from None
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    if (arr.ndim == 1 and arr.size != size) or (arr.ndim == 2 and arr.shape != (B, size)) or arr.ndim > 2:
        raise InputError(f"{what}: shape {arr.shape}, expected ({size},) or (scenarios, {size}) = ({B}, {size})")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{what} must be finite")
    if lo is not None and np.any(arr < lo):
        raise InputError(f"{what} must be >= {lo:g}")
    return arr


def _record_choice(record_firms: object, firm_series: Sequence[str], n: int) -> tuple[np.ndarray | None, frozenset]:
    """``(firm index or None for every firm, per-firm series kept)`` of simulate's options, checked."""
    if isinstance(firm_series, str):
        firm_series = (firm_series,)
    bad = [f for f in firm_series if f not in FIRM_SERIES]
    if bad:
        raise InputError(f"firm_series: unknown series {bad[0]!r} (expected some of {', '.join(FIRM_SERIES)})")
    if isinstance(record_firms, (bool, np.bool_)):
        return None, frozenset(firm_series) if record_firms else frozenset()
    idx = np.asarray(record_firms)
    if idx.ndim != 1 or not (idx.size == 0 or np.issubdtype(idx.dtype, np.integer)):
        raise InputError(f"record_firms: expected True/False or a 1-D array of firm indices, got shape {idx.shape} "
                         f"of {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise InputError(f"record_firms: firm index out of range 0..{n - 1}")
    return idx.astype(np.int64), frozenset(firm_series)


def _check_range(s: Schedule | None, what: str, n: int, lo: float, hi: float) -> None:
    if s is None:
        return
    if s.index.size and (s.index.min() < 0 or s.index.max() >= n):
        raise InputError(f"{what}: index out of range 0..{n - 1}")
    if s.values.size and (s.values.min() < lo or s.values.max() > hi):
        raise InputError(f"{what}: values must lie in [{lo}, {hi}]")


# ---------------------------------------------------------------------------------------- simulate
def simulate(
    network: SupplyNetwork,
    scenario: Scenario | FirmShocks | Sequence[Scenario] | None = None,
    *,
    steps: int,
    rationing: Rationing = "proportional",
    inventory_days: float = 15.0,
    tau: float = 6.0,
    recovery_days: float | None = None,
    seed: int | None = None,
    mode: Literal["reference", "extended"] | None = None,
    extensions: Extensions | None = None,
    record_firms: bool | Sequence[int] | np.ndarray = False,
    record_sectors: bool = False,
    record_links: bool = False,
    arithmetic: Literal["relative", "reference"] = "relative",
    amounts: np.ndarray | None = None,
    final_demand: np.ndarray | None = None,
    kernel: Literal["auto", "numba", "numpy"] = "auto",
    firm_series: Sequence[str] = FIRM_SERIES,
) -> SimResult:
    """Run the model of ENGINE.md for ``steps`` steps.

    Parameters
    ----------
    network : SupplyNetwork
    scenario : Scenario, FirmShocks, list of Scenario, or None
        What happens. A list runs a batch (many scenarios on the same network at once; results get
        a leading scenario axis and equal sequential runs).
    steps : int
        Number of steps T (rows 0..T-1 after the setup row -1).
    rationing : {"proportional", "priority"}
        How a short supplier splits its output: in proportion to orders (Hallegatte), or by
        water-filling on fill ratios relative to baseline amounts (Inoue & Todo, rule as stated in
        ENGINE.md).
    inventory_days : float
        n, target inventory in days (steps) of baseline use.
    tau : float
        τ, inventory adjustment time in steps.
    recovery_days : float, optional
        C: shocks given as :class:`FirmShocks` recover linearly over C steps; permanent if None.
    seed : int, optional
        Recorded only: the dynamics are deterministic.
    mode : {"reference", "extended"}, optional
        Default "extended" when ``extensions`` is given, else "reference".
    extensions : Extensions, optional
        Part B options.
    record_firms, record_sectors, record_links : bool
        Keep per-firm (production, final demand served, capacity), per-sector (production) or
        per-link (shipments, stocks) series (memory: steps × firms or links). ``record_firms`` may
        also be an array of firm indices: the per-firm series of those firms only, as columns in
        that order (``SimResult.firm_index``); recording every firm of a batch costs about as much
        as a fifth of the compiled step on the bundled atlas.
    arithmetic : {"relative", "reference"}
        ``relative`` (default) carries the state relative to the baseline, so the equilibrium is
        exact. ``reference`` (reference mode only) computes in absolute units with the reference
        simulator's order of operations: same numbers to the last bit on small cases, and the same
        rounding-noise amplification (phantom crises) on large unshocked networks. For checking only.
    amounts : float array (m,) or (B, m), optional
        Extended mode: baseline link amounts A (> 0, canonical link order) replacing
        ``network.amount``, one row per scenario of a batch: the topology is shared, the amounts
        (e.g. a draw of recipe dependent shares) are not. Every relative quantity (p̄, a, c/p̄, w,
        value weights) is then per scenario; the equilibrium stays exact.
    final_demand : float array (n,) or (B, n), optional
        Extended mode: final demand c (>= 0) replacing ``network.final_demand``, per scenario with a
        leading batch axis (e.g. a draw of the outside-demand share).
    kernel : {"auto", "numba", "numpy"}
        Extended mode: how a step is computed. ``numba``: one compiled function per step
        (:mod:`paxsilica.sim.kernel`, several times faster); ``numpy``: array passes (the reference
        implementation, and the fallback); ``auto`` (default): numba when it can be imported, unless
        the environment sets ``PAXSILICA_KERNEL=numpy``. Both agree to rounding (tests: 1e-9
        relative). The reference mode (relative arithmetic) has its own compiled step
        (:mod:`paxsilica.sim.refkernel`, the same numbers bit for bit under proportional rationing);
        there ``auto`` compiles large runs only (links × steps >= ``refkernel.AUTO_MIN_LINK_STEPS``).

    firm_series : sequence of {"production", "final_demand", "capacity"}
        Which per-firm series ``record_firms`` keeps (default all three); the others are None.

    Returns
    -------
    SimResult

    Examples
    --------
    The worked example of ENGINE.md:

    >>> net = SupplyNetwork.from_arrays([0, 1], [1, 0], [100.0, 100.0], final_demand=[100.0, 100.0])
    >>> r = simulate(net, FirmShocks([0], [0.1]), steps=6)
    >>> [round(float(v), 6) for v in r.production]
    [400.0, 380.0, 343.333333, 303.764922, 251.748546, 231.019411, 200.0]

    Two draws of the same scenario at once, with their own final demand and per-link stock:

    >>> cut = Scenario(capacity=Schedule([0], [0.0]))
    >>> r = simulate(net, [cut, cut], steps=4, extensions=Extensions(inventory_days=[[2.0, 2.0], [3.0, 3.0]]),
    ...              final_demand=[[100.0, 100.0], [50.0, 100.0]])
    >>> r.production.shape
    (2, 5)

    Per-firm production of firm 1 only:

    >>> r = simulate(net, cut, steps=2, extensions=Extensions(), record_firms=[1], firm_series=["production"])
    >>> r.firm_production.shape, r.firm_index.tolist(), r.firm_capacity is None
    ((3, 1), [1], True)
    """
    if steps < 0:
        raise InputError("steps must be >= 0")
    if rationing not in ("proportional", "priority"):
        raise InputError(f"unknown rationing {rationing!r} (proportional or priority)")
    if not (inventory_days >= 0 and math.isfinite(inventory_days)):
        raise InputError("inventory_days must be >= 0")
    if not (tau > 0 and math.isfinite(tau)):
        raise InputError("tau must be > 0")
    if recovery_days is not None and not recovery_days > 0:
        raise InputError("recovery_days must be > 0")
    if mode is None:
        mode = "extended" if extensions is not None else "reference"
    if mode not in ("reference", "extended"):
        raise InputError(f"unknown mode {mode!r}")
    if mode == "reference" and extensions is not None:
        raise InputError("extensions need mode='extended'")
    ext = extensions if extensions is not None else Extensions()
    extended = mode == "extended"
    if arithmetic not in ("relative", "reference"):
        raise InputError(f"unknown arithmetic {arithmetic!r} (relative or reference)")
    if arithmetic == "reference" and extended:
        raise InputError("arithmetic='reference' exists only in mode='reference'")

    scen, batched = _as_scenarios(scenario)
    net = network
    n, m = net.n_firms, net.n_links
    for s in scen:
        if s.shocks is not None and s.shocks.firm.size and (s.shocks.firm.min() < 0 or s.shocks.firm.max() >= n):
            raise InputError(f"shocks: firm index out of range 0..{n - 1}")
        _check_range(s.capacity, "capacity schedule", n, 0.0, 1.0)
        _check_range(s.link_capacity, "link capacity schedule", m, 0.0, 1.0)
        _check_range(s.demand_factor, "demand factor schedule", n, 0.0, math.inf)
        _check_range(s.lead_time, "lead time schedule", m, 1.0, math.inf)
        if s.lead_time is not None and not ext.lead_times:
            raise InputError("a lead-time schedule needs Extensions(lead_times=True)")
        if not extended and (s.link_capacity is not None or s.demand_factor is not None):
            raise InputError("link caps and demand factors need mode='extended'")

    B = len(scen)
    rec_idx, keep = _record_choice(record_firms, firm_series, n)
    n_days = float(inventory_days)
    if (amounts is not None or final_demand is not None) and not extended:
        raise InputError("amounts and final_demand overrides need mode='extended'")
    A = net.amount if amounts is None else _batch_param(amounts, B, m, "amounts", lo=None)
    if amounts is not None and np.any(A <= 0):
        raise InputError("amounts: every link amount must be > 0")
    c = net.final_demand if final_demand is None else _batch_param(final_demand, B, n, "final_demand", lo=0.0)
    sup, cli = net.supplier, net.client
    if amounts is None and final_demand is None:
        pbar, input_total, seg_amount = net.baseline_output, net.input_total, net.seg_amount
    else:  # per scenario, computed as the network computes them (same sums in the same order)
        A2, c2 = np.broadcast_to(A, (B, m)), np.broadcast_to(c, (B, n))
        pbar = np.stack([c2[b] + np.bincount(sup, weights=A2[b], minlength=n) for b in range(B)])
        input_total = np.stack([np.bincount(cli, weights=A2[b], minlength=n) for b in range(B)])
        seg_amount = (np.stack([np.add.reduceat(A2[b], net.seg_start) for b in range(B)]) if m
                      else np.zeros((B, 0)))
        if A.ndim == 1:
            input_total, seg_amount = input_total[0], seg_amount[0]
    idle = pbar <= 0  # firms nobody buys from: they produce nothing, order A, keep their stock
    idle_link = idle[..., cli]
    any_idle = bool(idle.any())
    safe_pbar = np.where(idle, 1.0, pbar)
    a_rel = A / safe_pbar[..., sup]  # link amount as a share of its supplier's baseline output
    c_rel = np.where(idle, 0.0, c / safe_pbar)
    w_link = A / seg_amount[..., net.link_seg] if m else np.zeros(0)
    eps_link = EPS / A
    eps_seg = EPS / seg_amount
    eps_seg_max = float(eps_seg.max(initial=0.0))
    value_weight = np.where(idle, 0.0, pbar - input_total)
    n_seg = net.seg_start.size
    inv_tau = 1.0 / tau

    def grouper(index: np.ndarray, size: int) -> Any:
        """Sum a (B, len(index)) array into (B, size) bins (bincount: sequential, so batch = single)."""
        flat = (index[None, :] + (np.arange(B) * size)[:, None]).ravel() if B > 1 else index

        def go(v: np.ndarray) -> np.ndarray:
            if B == 1:
                return np.bincount(index, weights=v[0], minlength=size)[None, :]
            return np.bincount(flat, weights=v.ravel(), minlength=B * size).reshape(B, size)

        return go

    by_sector = grouper(net.sector, net.n_sectors)
    by_key = None  # per (supplier, priority class), set up with the extensions
    seg_client = net.seg_client

    # Sums over links as bincounts: numpy's bincount adds a bin's terms one after the other in input
    # order, so a bin listed in canonical link order is summed as the reference does (the same bits),
    # and a batch, scenario b's bins offset by b, sums each scenario exactly as a single run does.
    # (No scipy.sparse: its import alone costs a short command-line run about 0.2 s.)
    def link_sum(cols: np.ndarray, ptr: np.ndarray, rows: int, w: np.ndarray | None) -> Any:
        row_e = np.repeat(np.arange(rows, dtype=np.int64), np.diff(ptr))  # the bin of each listed link
        same = row_e[1:] == row_e[:-1]
        if cols.size == m and bool(np.all(np.diff(cols)[same] > 0)):
            # every link once, each bin in link order: sum the links where they lie (no gather)
            idx, gather = np.empty(m, np.int64), None
            idx[cols] = row_e
        else:
            idx, gather = row_e, cols
        flat = (idx[None, :] + (np.arange(B) * rows)[:, None]).ravel() if 1 < B and B * idx.size <= 1 << 24 else None

        buf: list[np.ndarray] = []  # the products' buffer, reused: a fresh one costs its page faults

        def go(v: np.ndarray) -> np.ndarray:
            if w is None:
                t = v
            else:
                if not buf:
                    buf.append(np.empty((B, m)))
                t = np.multiply(v, w, out=buf[0])  # the product a matrix entry would form
            if t.shape != (B, m):
                t = np.broadcast_to(t, (B, m))
            if gather is not None:
                t = t[:, gather]
            if B == 1:
                return np.bincount(idx, weights=t[0], minlength=rows)[None, :]
            if flat is not None:
                return np.bincount(flat, weights=t.ravel(), minlength=B * rows).reshape(B, rows)
            return np.stack([np.bincount(idx, weights=t[b], minlength=rows) for b in range(B)])

        return go

    seg_ptr = np.append(net.seg_start, m)
    link_ids = np.arange(m)
    seg_w_sum = link_sum(link_ids, seg_ptr, n_seg, w_link)  # Σ w·v per (client, sector) segment
    sup_a_sum = link_sum(net.by_supplier, net.supplier_start, n, a_rel)  # Σ a·v per supplier
    ones_bm = np.ones((B, m))
    a_one = sup_a_sum(ones_bm)  # Σ a per supplier

    has_seg = net.client_seg_start[1:] > net.client_seg_start[:-1]
    first_seg = net.client_seg_start[:-1][has_seg]

    def prop_limit(sbar: np.ndarray, capmax: float) -> np.ndarray:
        # only segments below every capacity can bind; few of them: scatter their minimum per
        # client, many: a segmented minimum over all
        out = np.full((B, n), np.inf)
        if sbar.size == 0 or sbar.min() >= capmax:
            return out
        low = sbar < capmax
        count = int(np.count_nonzero(low))
        if count == 0:
            return out
        if count * 20 > low.size:
            out[:, has_seg] = np.minimum.reduceat(sbar, first_seg, axis=1)
        else:
            bb, ss = np.nonzero(low)
            np.minimum.at(out, (bb, seg_client[ss]), sbar[bb, ss])
        return out

    # --- schedules
    cap_sched = _Sparse([_combine(_shock_schedule(s.shocks, steps, recovery_days), s.capacity, steps)
                         for s in scen], 1.0)
    link_sched = _Sparse([s.link_capacity for s in scen], 1.0)
    dem_sched = _Sparse([s.demand_factor for s in scen], 1.0)
    lt_sched = _Sparse([s.lead_time for s in scen], net.lead_time.astype(np.float64))

    if arithmetic == "reference":
        res = _run_absolute(net, scen, batched, cap_sched, steps=steps, rationing=rationing,
                            n_days=n_days, tau=tau, record_firms="production" in keep,
                            record_sectors=record_sectors,
                            params={"steps": steps, "rationing": rationing,
                                    "inventory_days": inventory_days, "tau": tau,
                                    "recovery_days": recovery_days, "seed": seed, "mode": mode,
                                    "arithmetic": arithmetic, "extensions": None,
                                    "scenarios": [s.name for s in scen], "n_firms": n, "n_links": m})
        if rec_idx is not None and res.firm_production is not None:  # the checking path: a copy of the columns
            import dataclasses

            res = dataclasses.replace(res, firm_production=np.ascontiguousarray(res.firm_production[..., rec_idx]),
                                      firm_index=rec_idx)
        return res

    # --- extension set-up
    use_lead = extended and ext.lead_times and m > 0
    use_res = extended and ext.resourcing and m > 0
    if use_lead:
        lmax = int(max(net.lead_time.max(initial=1),
                       max((int(s.lead_time.values.max()) for s in scen if s.lead_time is not None), default=1)))
    else:
        lmax = 1
    headroom = np.zeros(n)
    ramp_days: float | np.ndarray = 0.0
    if use_res:
        h = net.capacity_headroom if ext.capacity_headroom is None else ext.capacity_headroom
        headroom = _batch_param(h, B, n, "capacity_headroom", lo=0.0)
        if np.ndim(ext.ramp_days) == 0:
            ramp_days = float(ext.ramp_days)
            if not ramp_days >= 0:
                raise InputError("ramp_days must be >= 0")
        else:
            ramp_days = _batch_param(ext.ramp_days, B, n, "ramp_days", lo=0.0)
    reserve0 = None
    if extended and ext.stockpile_days is not None:
        reserve0 = np.broadcast_to(np.asarray(ext.stockpile_days, np.float64), (m,)).copy()
        if np.any(reserve0 < 0) or not np.all(np.isfinite(reserve0)):
            raise InputError("stockpile_days must be finite and >= 0")
    # per-link inventory days (an array selects the per-link rule, a number the uniform one)
    n_link: np.ndarray | None = None
    if extended and ext.inventory_days is not None:
        if np.ndim(ext.inventory_days) == 0:
            n_days = float(ext.inventory_days)  # type: ignore[arg-type]
        else:
            n_link = _batch_param(ext.inventory_days, B, m, "inventory_days", lo=None)
    if extended:
        low_n = n_days if n_link is None else float(n_link.min(initial=math.inf))
        if not low_n >= 1.0:
            raise InputError(f"inventory days must be >= 1 in the extended mode, got {low_n:g}: a client "
                             "needs at least one day of stock (its output is limited to the days of need "
                             "in stock, so with less than one day it cannot even make its baseline)")
    # substitution: per (client, sector) segment, sigma-bar and its rate (amount-weighted means)
    use_sub = False
    if extended and ext.substitution is not None and m:
        sub_l = _batch_param(ext.substitution, B, m, "substitution", lo=0.0)
        if np.any(sub_l > 1.0):
            raise InputError("substitution must lie in [0, 1] (the fraction of the need a client can do without)")
        use_sub = bool(np.any(sub_l > 0))
    if use_sub:
        sub_days_l = _batch_param(ext.substitution_days, B, m, "substitution_days", lo=0.0)
        if not (ext.substitution_tol >= 0 and math.isfinite(ext.substitution_tol)):
            raise InputError("substitution_tol must be finite and >= 0")
        sig_max = seg_w_sum(np.broadcast_to(sub_l, (B, m)))
        np.clip(sig_max, 0.0, 1.0, out=sig_max)
        days_seg = seg_w_sum(np.broadcast_to(sub_days_l, (B, m)))
        with np.errstate(divide="ignore", invalid="ignore"):
            sig_rate = np.where(sig_max > 0, np.where(days_seg > 0, sig_max / days_seg, np.inf), 0.0)
        sig = np.zeros((B, n_seg))
        releasing = np.zeros((B, n_seg), dtype=bool)  # back at target once: σ falls to 0
        keep_l = np.ones((B, m))  # 1 - sigma per link, of the last production
    consumers = ext.consumers if extended else None
    if consumers is not None and consumers.firm.size and (consumers.firm.min() < 0 or consumers.firm.max() >= n):
        raise InputError("consumers: firm index out of range")
    prio = _priority_classes(ext, net, consumers, c if c.ndim == 1 else c.max(axis=0)) if extended else None
    if prio is not None:
        # Σ a·o per (supplier, class): links of a bin in canonical order, as a bincount would add them
        key_order = np.argsort(prio.key, kind="stable")
        key_ptr = np.zeros(n * prio.k + 1, np.int64)
        np.cumsum(np.bincount(prio.key, minlength=n * prio.k), out=key_ptr[1:])
        by_key = link_sum(key_order, key_ptr, n * prio.k, a_rel)
        prio_cfk = c_rel[..., None] * prio.fd_frac
        prio_key_flat = (prio.key[None, :] + (np.arange(B) * (n * prio.k))[:, None]).ravel()
    baseline_target = extended and ext.order_target == "baseline"
    if ext.order_target not in ("baseline", "output"):
        raise InputError(f"unknown order_target {ext.order_target!r}")

    # targets: n (uniform) or per link; segment target n_seg = Σ w·n
    if n_link is None:
        w_n = seg_w_sum(np.full((B, m), n_days))  # Σ w·n per segment
        n_l: float | np.ndarray = n_days
        n_sg: float | np.ndarray = n_days
    else:
        n_l = np.broadcast_to(n_link, (B, m))
        w_n = seg_w_sum(n_l)
        n_sg = w_n  # sbar = n_seg + (Σ w·s − Σ w·n): exactly n_seg at the baseline
        w_one = seg_w_sum(ones_bm)  # Σ w per segment (1 up to rounding)
    if use_sub:
        short_below = np.broadcast_to(n_sg, (B, n_seg)) * (1.0 - ext.substitution_tol)

    def seg_mean(s: np.ndarray) -> np.ndarray:
        # n_seg + (Σ w·s − Σ w·n): exactly n_seg when every stock is at target
        out = seg_w_sum(s)
        out -= w_n
        out += n_sg
        return out

    # the compiled step (kernel.py) or the numpy step: chosen before the state is made, which differs
    use_kernel = extended and _kernel.kernel_choice(kernel)

    # --- state at t = -1 (relative to baseline)
    base_x = np.where(idle, 0.0, 1.0)
    x = np.broadcast_to(base_x, (B, n)).copy()  # P/p̄
    s = np.broadcast_to(n_l, (B, m)).copy()  # S/A
    sbar = np.broadcast_to(n_sg, (B, n_seg)).copy()
    d = np.ones((B, m))  # last shipments (for lead time 1 they arrive next step)
    lead_base = net.lead_time
    if use_lead:
        # Shipments in transit. Links whose lead time no schedule changes: a ring of the last lmax
        # steps' shipments (in links sorted by lead time, so the arrivals of one lead time are one
        # slice); links with a lead-time schedule: a ring of arrival slots (shipments added at
        # their arrival step). Both are full at the baseline.
        slots = np.arange(lmax)[:, None]
        var_links = lt_sched.index
        const_mask = np.ones(m, dtype=bool)
        const_mask[var_links] = False
        const_links = np.flatnonzero(const_mask)
        c_order = const_links[np.argsort(lead_base[const_links], kind="stable")]
        c_lead = lead_base[c_order]
        bounds = np.flatnonzero(np.diff(c_lead)) + 1
        groups = [(int(c_lead[lo]), int(lo), int(hi)) for lo, hi in
                  zip(np.concatenate(([0], bounds)), np.concatenate((bounds, [c_order.size])), strict=True)
                  if hi > lo]
        perm = np.concatenate((c_order, var_links))
        inv_perm = np.empty(m, np.int64)
        inv_perm[perm] = np.arange(m)
        mc, kv = c_order.size, var_links.size
        # the compiled loop keeps its own ring per link (kernel.py); this is the numpy step's
        hist = None if use_kernel else np.ones((lmax, B, mc))
        vbuf = np.zeros((B, lmax, kv))
        vbuf[:] = (slots < lead_base[var_links][None, :]).astype(np.float64)
        vbuf_flat = vbuf.reshape(-1)
        v_base = (np.arange(B)[:, None] * (lmax * kv) + np.arange(kv)[None, :])
        arrive_p = np.empty((B, m))
        arrive = np.empty((B, m))
        pipe = np.broadcast_to(lead_base.astype(np.float64), (B, m)).copy()  # in transit, incl. next arrival
        lead_m1 = np.broadcast_to((lead_base - 1).astype(np.float64), (B, m)).copy()
        lead_v = np.broadcast_to(lead_base[var_links], (B, kv)).copy()
    reserve = None if reserve0 is None else np.broadcast_to(reserve0, (B, m)).copy()
    ramp = np.zeros((B, n))  # steps of excess demand (re-sourcing ramp clock)

    T1 = steps + 1
    shape = (B, T1)
    out_prod, out_va, out_fd, out_fdr = (np.empty(shape) for _ in range(4))
    out_prod[:, 0] = np.broadcast_to(pbar, (B, n)).sum(axis=1)
    out_va[:, 0] = np.broadcast_to(value_weight, (B, n)).sum(axis=1)
    out_fd[:, 0] = np.broadcast_to(c, (B, n)).sum(axis=1)
    out_fdr[:, 0] = out_fd[:, 0]
    n_rec = n if rec_idx is None else rec_idx.size
    firm_prod = np.empty((B, T1, n_rec)) if "production" in keep else None
    firm_fd = np.empty((B, T1, n_rec)) if "final_demand" in keep else None
    firm_cap = np.empty((B, T1, n_rec)) if "capacity" in keep else None

    def cols(v: np.ndarray) -> np.ndarray:  # the recorded firms' columns
        return v if rec_idx is None else v[..., rec_idx]

    for arr, v0 in ((firm_prod, pbar), (firm_fd, c), (firm_cap, pbar)):
        if arr is not None:
            arr[:, 0] = cols(np.broadcast_to(v0, (B, n)))
    link_del = np.empty((B, T1, m)) if record_links else None
    link_st = np.empty((B, T1, m)) if record_links else None
    if link_del is not None:
        link_del[:, 0] = A
        link_st[:, 0] = n_l * A
    sector_prod = np.empty((B, T1, net.n_sectors)) if record_sectors else None
    if sector_prod is not None:
        sector_prod[:, 0] = by_sector(np.broadcast_to(pbar, (B, n)).copy())
    if consumers is not None:
        k_cons = len(consumers.names)
        cons_w = consumers.share * c[..., consumers.firm]
        cons_fd = np.empty((B, T1, k_cons))
        cons_fdr = np.empty((B, T1, k_cons))
        cons_bins = (consumers.consumer[None, :] + (np.arange(B) * k_cons)[:, None]).ravel()

        def by_consumer(v: np.ndarray) -> np.ndarray:
            # one bincount over (scenario, consumer) bins: each bin sums its own scenario's entries
            # in order, exactly as one bincount per scenario would
            return np.bincount(cons_bins, weights=v.ravel(), minlength=B * k_cons).reshape(B, k_cons)

        base = by_consumer(np.broadcast_to(cons_w, (B, consumers.firm.size)))
        cons_fd[:, 0] = base
        cons_fdr[:, 0] = base

    # work buffers: the step reuses them instead of allocating (page faults cost as much as the maths)
    wa, wb, xc, o_buf = (np.empty((B, m)) for _ in range(4))
    need_buf = np.empty((B, m)) if use_sub else None
    wbool = np.empty((B, m), dtype=bool)
    s_bufs = (s, np.empty((B, m)))
    d_bufs = (d, np.empty((B, m)))
    capf = np.ones((B, n))
    linkcap = np.ones((B, m))
    dfac = np.ones((B, n))
    cap_idx, link_idx, dem_idx = cap_sched.index, link_sched.index, dem_sched.index
    settle_on = extended and ext.settle_tol > 0
    exit_step = -1  # early exit: the step after which every remaining row is the baseline step
    steps_run = 0
    # steady-state exit: a scenario whose schedules no longer change and whose state changed by at most
    # steady_tol in the last step is frozen (its remaining rows repeat its last step)
    steady_on = extended and ext.early_exit and ext.steady_tol > 0
    if extended and not (ext.steady_tol >= 0 and math.isfinite(ext.steady_tol)):
        raise InputError("steady_tol must be finite and >= 0")
    frozen_at = np.full(B, -1, np.int64)  # step whose values fill a frozen scenario's remaining rows
    if steady_on:
        stol = float(ext.steady_tol)
        calm = np.zeros(B, np.int64)  # consecutive steps in which production and shipments were steady
        # shipments in transit are steady once the shipments were, for the longest lead time (per
        # scenario, from its own lead-time schedule, so that a batch freezes as its single runs do)
        if use_lead:
            win = np.array([max(int(lead_base.max(initial=1)), 1 if sc.lead_time is None
                                else int(sc.lead_time.values.max())) for sc in scen], np.int64)
        else:
            win = np.ones(B, np.int64)
        s_tol = stol * (max(n_days, 1.0) if n_link is None else np.maximum(n_l, 1.0))  # stock: days
        res_tol = None if reserve is None else stol * np.maximum(reserve0, np.maximum(n_l, 1.0))
        x_prev, d_prev, s_prev, ramp_prev, res_prev = x, d, s, ramp, reserve
        if use_sub:
            sig_prev, rel_prev = sig.copy(), releasing.copy()
    outputs = [out_prod, out_va, out_fd, out_fdr, firm_prod, firm_fd, firm_cap, link_del, link_st, sector_prod,
               cons_fd if consumers is not None else None, cons_fdr if consumers is not None else None]

    # the compiled step (kernel.py): the same step on the same state, updated in place
    if use_kernel:
        def full(v: object, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
            return np.array(np.broadcast_to(np.asarray(v, dtype), shape), dtype=dtype, order="C")

        def ints(v: np.ndarray) -> np.ndarray:
            return np.array(v, dtype=np.int64, order="C")

        # The compiled step loops draws innermost: the state is stored draws-fastest (a (B, ...)
        # array whose kernel view, the batch axis moved last, is C-contiguous), so that the Python
        # side below indexes it as before ([b] is a draw) while the kernel reads each link's draws
        # as one contiguous run.
        def bl(v: object, dtype: Any = np.float64) -> np.ndarray:
            a = np.asarray(v, dtype)
            return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 0, -1)), -1, 0)

        def kv(v: np.ndarray) -> np.ndarray:
            return np.moveaxis(v, 0, -1)

        def ro(a: np.ndarray) -> np.ndarray:
            # numba compiles one specialisation per combination of argument types, read-only flags
            # included (about 30 s each, then cached): every array the loop only reads is passed
            # read-only, whatever its origin, so that scripts/setup's warm-up compiles the one every
            # caller uses (tests/test_engine_kernel.py checks it)
            if a.flags.writeable:
                a = a.view()
                a.flags.writeable = False
            return a

        def full_t(v: object, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
            # with one draw the moved broadcast is contiguous and comes back as the read-only view itself,
            # with more it is a writeable copy: read-only either way
            return ro(np.ascontiguousarray(np.moveaxis(np.broadcast_to(np.asarray(v, dtype), shape), 0, -1)))

        x, s, sbar, d, ramp = bl(x), bl(s), bl(sbar), bl(d), bl(ramp)
        capf, linkcap, dfac = bl(capf), bl(linkcap), bl(dfac)
        if use_sub:
            sig, releasing, keep_l = bl(sig), bl(releasing, np.bool_), bl(keep_l)
        else:
            sig, releasing, keep_l = bl(np.zeros((B, 1))), bl(np.zeros((B, 1)), np.bool_), bl(np.ones((B, 1)))
        if reserve is not None:
            reserve = bl(reserve)
        if use_lead:
            vbuf, pipe, lead_m1, lead_v = bl(vbuf), bl(pipe), bl(lead_m1), bl(lead_v, np.int64)

        Bm, Bn, Bs = (B, m), (B, n), (B, n_seg)
        K_k = prio.k if prio is not None else 1
        k_topo = (ints(sup), ints(cli), ints(net.link_seg), ints(seg_ptr), ints(seg_client),
                  ints(net.client_seg_start), ints(net.supplier_start), ints(net.by_supplier),
                  ints(prio.link) if prio is not None else np.zeros(m, np.int64))
        k_par = (full_t(a_rel, Bm), full_t(c_rel, Bn), full_t(w_link, Bm), full_t(eps_link, Bm),
                 full_t(eps_seg, Bs), full_t(n_l, Bm), full_t(n_sg, Bs), full_t(w_n, Bs),
                 full_t(w_one if n_link is not None else 1.0, Bs), full_t(a_one, Bn), full_t(headroom, Bn),
                 full_t(ramp_days, Bn), full_t(sig_max if use_sub else 0.0, Bs),
                 full_t(sig_rate if use_sub else 0.0, Bs), full_t(short_below if use_sub else 0.0, Bs),
                 full_t(prio_cfk if prio is not None else 0.0, (B, n, K_k)),
                 full(prio.fd_frac if prio is not None else 0.0, (n, K_k)),
                 full_t(idle, Bn, np.bool_), full_t(idle_link, Bm, np.bool_))
        if use_lead:  # the pipeline: shipments in transit on fixed-lead links, arrival slots of the others
            # a ring of its last L shipments per fixed-lead link (c_ring: L and the ring's first row), not
            # the numpy step's (lmax, links) history: on the bundled atlas 21,332 rows instead of 103,870
            # (lmax 47, mean lead time 9.7 days), 5.6 MB instead of 27 MB at 33 draws
            c_ring = np.stack((ints(c_lead), ints(np.cumsum(c_lead) - c_lead)))
            k_lead = (ints(c_order), c_ring, ints(var_links), np.ones((int(c_lead.sum()), B)), kv(vbuf),
                      kv(lead_v), kv(pipe), kv(lead_m1))
        else:
            k_lead = (np.zeros(0, np.int64), np.zeros((2, 0), np.int64), np.zeros(0, np.int64), np.zeros((0, B)),
                      np.zeros((1, 0, B)), np.zeros((0, B), np.int64), np.zeros((1, B)), np.zeros((1, B)))
        k_reserve = reserve if reserve is not None else bl(np.zeros((B, 1)))
        k_served, k_capacity, k_y = np.empty((n, B)).T, np.empty((n, B)).T, np.empty((n, B)).T
        k_served_k = np.moveaxis(np.empty((n, K_k, B)), -1, 0)
        # the kernel's views of the state (updated in place, never rebound) and its scratch
        k_wg = np.empty((4, n_seg, B))
        k_wg[0] = 1.0  # each segment's 1 − σ of the last orders (kept between steps): none yet
        k_state = (kv(capf), kv(linkcap), kv(dfac), *k_lead, kv(x), kv(s), kv(sbar), kv(d), kv(sig),
                   kv(releasing), kv(keep_l), kv(ramp), kv(k_reserve), kv(k_served), kv(k_served_k),
                   kv(k_capacity), kv(k_y), np.empty((6, m, B)), k_wg, np.empty((n, B)),
                   np.ones((n, K_k, B)))
        # the whole time loop compiled (kernel._time_loop): factors from the schedules' tables,
        # step, recording, settle and steady tests, with no Python between steps
        k_loop = _kernel.compiled_loop()
        cons_on = consumers is not None
        use_entry = cons_on and prio is not None and prio.entry is not None
        k_rec = (full_t(pbar, Bn), full_t(value_weight, Bn), full_t(c, Bn), bool(dem_sched.active),
                 out_prod, out_va, out_fd, out_fdr, ints(np.arange(n) if rec_idx is None else rec_idx),
                 *(a if a is not None else np.zeros((1, 1, 1)) for a in (firm_prod, firm_fd, firm_cap)),
                 firm_prod is not None, firm_fd is not None, firm_cap is not None, cons_on,
                 ints(consumers.firm) if cons_on else np.zeros(0, np.int64),
                 ints(consumers.consumer) if cons_on else np.zeros(0, np.int64),
                 ints(prio.entry) if use_entry else np.zeros(consumers.firm.size if cons_on else 0, np.int64),
                 use_entry, full_t(cons_w, (B, consumers.firm.size)) if cons_on else np.zeros((0, B)),
                 cons_fd if cons_on else np.zeros((1, 1, 1)), cons_fdr if cons_on else np.zeros((1, 1, 1)),
                 np.empty((4, 8, B)), np.empty((k_cons if cons_on else 0, B)),
                 # the pairwise sums' stack (depth about log2(n / 128)) and, last, their result
                 np.zeros((64, 3), np.int64), np.empty((64, 4, B)))
        k_links = ((True, full_t(A, Bm), link_del, link_st) if link_del is not None
                   else (False, np.zeros((0, B)), np.zeros((1, 1, 1)), np.zeros((1, 1, 1))))
        k_sectors = ((True, ints(net.sector), sector_prod) if sector_prod is not None
                     else (False, np.zeros(0, np.int64), np.zeros((1, 1, 1))))
        # per scenario and step: every schedule at its default (the settle test's precondition); the
        # last step any schedule leaves its default (early exit) or changes (steady test)
        scheds = (cap_sched, link_sched, dem_sched) + ((lt_sched,) if use_lead else ())
        dflt_tab = np.ones((B, steps + 1), dtype=np.bool_)
        for sch in scheds:
            dflt_tab &= sch.default_table(steps + 1)
        lm_all = np.max([sch.last_moved for sch in scheds], axis=0).astype(np.float64)
        lc_all = np.max([sch.last_change for sch in (cap_sched, link_sched, dem_sched)], axis=0).astype(np.int64)
        k_set = (bool(settle_on), float(ext.settle_tol), full_t(base_x, Bn),
                 full_t(ext.settle_tol * (max(n_days, 1.0) if n_link is None else np.maximum(n_l, 1.0)), Bm),
                 ints(lead_base), ints(lead_base[var_links] if use_lead else np.zeros(0, np.int64)),
                 float(ext.settle_tol * lmax if use_lead else 0.0), np.zeros(B, np.bool_), np.zeros(B, np.bool_),
                 bool(ext.early_exit))
        if steady_on:  # the state is updated in place: the last step's copies (kernel layout)
            k_prev = tuple(np.array(v, order="C") for v in k_state[11:13] + k_state[14:17])  # x, s, d, sig, releasing
            k_std = (True, float(stol), np.zeros(B, np.bool_), ints(win), calm, frozen_at, k_prev[0], k_prev[2],
                     k_prev[1], full_t(s_tol, Bm), k_prev[3], k_prev[4], np.array(k_state[19], order="C"),
                     full_t(res_tol, Bm) if res_tol is not None else ro(np.zeros((1, B))),
                     np.array(k_state[18], order="C"))
        else:
            z = np.zeros((1, B))
            k_std = (False, 0.0, np.zeros(B, np.bool_), np.ones(B, np.int64), np.zeros(B, np.int64), frozen_at,
                     z, z, z, ro(z), z, np.zeros((1, B), np.bool_), z, ro(z), z)

    # the compiled reference step (refkernel.py): Part A fused into two passes over the links, the
    # numpy step's operations in its order (proportional: the same bits)
    use_ref_kernel = (not extended and m > 0 and n_link is None
                      and _refkernel.reference_kernel_wanted(kernel, m, steps))
    if use_ref_kernel:
        def _writable(v: object, dtype: Any) -> np.ndarray:
            # own C-contiguous copies: one compiled signature (a read-only view would compile another)
            return np.array(v, dtype=dtype, order="C", copy=True)

        r_step = _refkernel.reference_step()
        r_x = (x, np.empty_like(x))
        # last step's orders and ratio per supplier: the deliveries O·r of the setup state are 1·1
        r_o, r_level, r_last = np.ones((B, m)), np.ones((B, n)), np.zeros(1, dtype=np.bool_)
        r_y, r_served, r_d = np.empty((B, n)), np.empty((B, n)), np.empty((B, m))
        r_sup = sup.astype(np.int64)
        r_deg = int(np.diff(net.supplier_start).max(initial=0)) + 1
        r_top = (_writable(net.client_seg_start, np.int64), _writable(seg_ptr, np.int64),
                 _writable(sup, np.int32), _writable(w_link, np.float64),
                 _writable(a_rel, np.float64), _writable(eps_link, np.float64),
                 _writable(eps_seg, np.float64), _writable(w_n[0], np.float64),
                 _writable(a_one[0], np.float64), _writable(c_rel, np.float64),
                 _writable(idle, np.bool_), _writable(idle_link, np.bool_), any_idle,
                 float(n_days), float(inv_tau), rationing == "priority",
                 _writable(net.supplier_start, np.int64), _writable(net.by_supplier, np.int64),
                 np.empty(r_deg), np.empty(r_deg), np.empty(r_deg, np.int64), np.empty(r_deg, np.int64),
                 np.empty(r_deg), np.empty(r_deg), r_d)
        r_top += _refkernel.step_layout(sup, net.by_supplier, a_rel, n, rationing == "priority")

    if use_kernel:
        k_flags = (int(lmax), bool(use_lead), bool(use_res), bool(use_sub), n_link is not None, bool(baseline_target),
                   bool(link_sched.active), bool(dem_sched.active), prio is not None, int(K_k),
                   rationing == "priority", bool(any_idle), reserve is not None, int(ext.stockpile_release_day),
                   float(ext.stockpile_release_rate), float(inv_tau))
        ctl = np.array([-1, 0, 0], np.int64)
        empty_tab = np.zeros((1, B, 0))
        empty_tab.flags.writeable = False  # the tables are read-only: one type for the compiled loop
        t0 = 0
        while t0 < steps:
            parts: list[Any] = []
            t_end = steps
            for sch, on in ((cap_sched, cap_sched.active), (link_sched, link_sched.active),
                            (dem_sched, dem_sched.active), (lt_sched, use_lead and lt_sched.active)):
                if on:
                    tab, tab_t0, stop = sch.rows_from(t0, steps)
                    t_end = min(t_end, stop)
                    parts += [True, ints(sch.index), tab, int(tab_t0)]
                else:
                    parts += [False, np.zeros(0, np.int64), empty_tab, 0]
            k_sched = (*parts[:12], parts[12], parts[14], parts[15], dflt_tab, lm_all, lc_all, ints(lt_sched.last_change))
            k_loop(t0, t_end, steps, ctl, k_sched, k_flags, k_topo, k_par, k_state, k_rec, k_links, k_sectors,
                   k_set, k_std)
            if ctl[2]:
                break
            t0 = t_end
        steps_run = int(ctl[1])
        if ctl[2] == 1:  # the state is the baseline and nothing moves any more: every later step is this one
            for arr in outputs:
                if arr is not None:
                    arr[:, steps_run + 1:] = arr[:, steps_run: steps_run + 1]

    for t in range(0 if use_kernel else steps):
        # 1. factors of this step (shock onset, recovery profiles, link caps, demand surges)
        if cap_sched.active:
            capf[:, cap_idx] = cap_sched.row(t)
        if link_sched.active:
            linkcap[:, link_idx] = link_sched.row(t)
        if dem_sched.active:
            dfac[:, dem_idx] = dem_sched.row(t)
        if use_lead and lt_sched.active:
            lead_v[:] = lt_sched.row(t).astype(np.int64)
            lead_m1[:, var_links] = lead_v - 1

        if use_ref_kernel:
            xn = r_x[1] if x is r_x[0] else r_x[0]
            r_step(x, s, sbar, r_last, r_o, r_y, xn, r_level, r_served, capf, *r_top)
            x, served, capacity, served_k = xn, r_served, capf, None
            if link_del is not None:  # this step's shipments, as the kernel forms them next step
                lv_l = np.take(r_level, r_sup, axis=1)
                d = np.minimum(r_o, lv_l) if r_last[0] else np.multiply(r_o, lv_l)
        else:
            # 2. inventory update: last shipments arrive, last production consumes inputs
            if m:
                if use_lead:
                    for L, lo, hi in groups:  # shipments of step t − L on links of lead time L
                        arrive_p[:, lo:hi] = hist[(t - L) % lmax, :, lo:hi]
                    if kv:
                        slot = t % lmax
                        arrive_p[:, mc:] = vbuf[:, slot, :]
                        vbuf[:, slot, :] = 0.0
                    np.take(arrive_p, inv_perm, axis=1, out=arrive, mode="clip")
                    pipe -= arrive
                else:
                    arrive = d
                np.take(x, cli, axis=1, out=xc, mode="clip")
                need = xc if not use_sub else np.multiply(xc, keep_l, out=need_buf)  # need of last production
                # a client draws its sector need from each supplier's stock in proportion to it:
                # S_ij κ = S_ij (P_i/p̄_i)(A^sec/S^sec) = (s_ij / s̄) · x_i in relative units, which is
                # exactly x_i at the baseline (s_ij = s̄ = n)
                if n_link is None:
                    if n_seg == 0 or sbar.min() > eps_seg_max:  # no segment near zero stock (one pass)
                        np.take(sbar, net.link_seg, axis=1, out=wa, mode="clip")
                    else:  # a segment without stock gives nothing: s / inf is exactly 0 (no mask over links)
                        np.take(np.where(sbar > eps_seg, sbar, np.inf), net.link_seg, axis=1, out=wa, mode="clip")
                    np.divide(s, wa, out=wb)
                else:
                    # per-link days: in proportion to the fill s/n of each link, so that every link gives
                    # exactly its baseline flow at the baseline: r = x·(s/n)/q, q = Σ w·(s/n) / Σ w
                    # (exactly 1 there); a segment without stock gives nothing (q = inf)
                    np.divide(s, n_l, out=wb)
                    q = seg_w_sum(wb)
                    q /= w_one
                    if n_seg and not (sbar.min() > eps_seg_max and q.min() > 0):
                        q = np.where((sbar > eps_seg) & (q > 0), q, np.inf)
                    np.take(q, net.link_seg, axis=1, out=wa, mode="clip")
                    wb /= wa
                wb *= need
                if n_link is not None and np.greater(wb, s, out=wbool).any():
                    # a link with few days relative to its segment cannot give more than it holds: the
                    # rest of the segment's draw comes from the others, in proportion to what they keep
                    over = np.minimum(wb, s)
                    excess = seg_w_sum(wb - over)
                    room = s - over
                    rooms = seg_w_sum(room)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        share = np.where(rooms > 0, np.minimum(excess / rooms, 1.0), 0.0)
                    wb = over + room * np.take(share, net.link_seg, axis=1)
                s_new = s_bufs[0] if s is s_bufs[1] else s_bufs[1]
                if n_link is None:
                    np.add(s, arrive, out=s_new)
                    s_new -= wb
                else:  # s + (arrivals − draw): s itself at the baseline for any n (s + 1 − 1 may not be)
                    np.subtract(arrive, wb, out=wb)
                    np.add(s, wb, out=s_new)
                np.less_equal(s_new, eps_link, out=wbool)
                if wbool.any():
                    np.copyto(s_new, 0.0, where=wbool)
                if any_idle:
                    np.copyto(s_new, s, where=idle_link)
                s = s_new
                if reserve is not None and t >= ext.stockpile_release_day:
                    draw = np.minimum(np.minimum(reserve, np.maximum(n_l - s, 0.0)), ext.stockpile_release_rate)
                    s += draw
                    reserve = reserve - draw

            # 3. orders (relative to A), from the client's own output last step
            if m:
                sbar = seg_mean(s)  # S^sec/A^sec in days, per (client, sector) segment
                if use_sub:
                    # σ rises while the segment is short; once its stock is back at target it falls back
                    # to 0 at the same rate (a dip while it falls, e.g. the lead time of the extra
                    # orders, does not send it up again: no chatter around the target)
                    back = sbar >= short_below
                    releasing |= back & (sig > 0)
                    sig += np.where(releasing | back, -sig_rate, sig_rate)
                    np.clip(sig, 0.0, sig_max, out=sig)
                    releasing &= sig > 0
                    keep_seg = 1.0 - sig
                    np.take(keep_seg, net.link_seg, axis=1, out=keep_l, mode="clip")
                o = o_buf
                if not extended:
                    # reference: per link, target n·A·P/p̄
                    np.multiply(xc, n_days, out=o)
                    o -= s
                else:
                    # extended: per (client, sector) segment, so stock held at any supplier of the sector
                    # counts (re-sourced stock does not pile up); target n·A (baseline) or n·A·P/p̄
                    gap_seg = (n_sg - sbar) if baseline_target else (n_sg * x[:, seg_client] - sbar)
                    if use_lead:
                        if baseline_target:
                            lag = np.subtract(lead_m1, pipe, out=wa)
                        else:
                            lag = np.multiply(lead_m1, xc, out=wa)
                            lag -= pipe
                        gap_seg = gap_seg + seg_w_sum(lag)
                    np.take(gap_seg, net.link_seg, axis=1, out=o, mode="clip")
                o *= inv_tau  # a product, not a quotient: 0 stays exactly 0 at the baseline
                if use_sub:
                    o += np.multiply(xc, keep_l, out=wb)  # flow term: what the client now needs
                else:
                    o += xc
                np.maximum(o, 0.0, out=o)
                if any_idle:
                    np.copyto(o, 1.0, where=idle_link)
                # a cap c < 1 limits the link to c·A per step; 1 means unrestricted (orders may exceed A)
                if link_sched.active:
                    o_eff = np.minimum(o, linkcap, out=wb)
                    np.copyto(o_eff, o, where=linkcap >= 1.0)
                else:
                    o_eff = o
            else:
                o_eff = np.zeros((B, 0))

            # 5a. producible output (capacity and Leontief stock limit); needed before demand when re-sourcing
            capacity = capf
            if use_res:
                unshocked = capf >= 1.0
                if np.ndim(ramp_days) == 0:
                    grow = np.minimum(1.0, ramp / ramp_days) if ramp_days > 0 else np.ones_like(ramp)
                else:
                    pos_rd = ramp_days > 0
                    grow = np.where(pos_rd, np.minimum(1.0, ramp / np.where(pos_rd, ramp_days, 1.0)), 1.0)
                capacity = np.where(unshocked, capf + headroom * grow, capf)
            if m:
                if use_sub:  # the client needs 1 − σ per unit: stock lasts sbar/(1 − σ) days of output
                    lim = np.full((B, n_seg), np.inf)
                    np.divide(sbar, keep_seg, out=lim, where=keep_seg > 0)
                else:
                    lim = sbar
                pmax = np.minimum(capacity, prop_limit(lim, float(capacity.max(initial=0.0))))
            else:
                pmax = capacity.copy()

            # 4. demand (ratio to p̄), with re-sourcing of orders a supplier cannot fill
            dem_dev = c_rel * (dfac - 1.0) if dem_sched.active else 0.0
            if m:
                # 1 + (Σ a·o − Σ a): exactly 1 at the baseline
                y = sup_a_sum(o_eff)
                y -= a_one
                y += 1.0
                y += dem_dev
            else:
                y = np.ones((B, n)) + dem_dev
            np.maximum(y, 0.0, out=y)  # the deviation form can leave -1e-17 where nothing is asked
            if any_idle:
                np.copyto(y, 0.0, where=idle)
            if use_res:
                if prio is not None:
                    # with priority classes a supplier short overall may still fill a class in full (its
                    # later classes absorb the shortage): what counts for a link is the fill of its class
                    K = prio.k
                    dem_k = by_key(o_eff).reshape(B, n, K)
                    dem_k += prio_cfk if not dem_sched.active else prio_cfk * dfac[..., None]
                    before_k = np.zeros_like(dem_k)
                    np.cumsum(dem_k[..., :-1], axis=2, out=before_k[..., 1:])
                    room_k = pmax[..., None] - before_k
                    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                        fill_k = np.where(dem_k > 0, np.clip(room_k / np.where(dem_k > 0, dem_k, 1.0), 0.0, 1.0), 1.0)
                    fill_l = np.take(fill_k.reshape(B, n * K), prio.key, axis=1)
                else:
                    fill = np.where(y > pmax, pmax / np.where(y > 0, y, 1.0), 1.0)
                    fill_l = np.take(fill, sup, axis=1)
                unmet = o_eff * fill_l
                np.subtract(o, unmet, out=unmet)  # per unit of A: blocked by caps or by the supplier's limit
                ok = np.greater_equal(fill_l, 1.0, out=wbool)
                ok &= np.take(unshocked, sup, axis=1)
                if link_sched.active:
                    ok &= linkcap >= 1.0
                u_seg = seg_w_sum(unmet)
                e_seg = seg_w_sum(ok.astype(np.float64))
                moved = (u_seg > 0) & (e_seg > 0)
                if np.any(moved):
                    extra = np.take(np.where(moved, u_seg / np.where(moved, e_seg, 1.0), 0.0), net.link_seg, axis=1)
                    mv = np.take(moved, net.link_seg, axis=1)
                    o_new = o_eff.copy()
                    np.add(o_eff, extra, out=extra)
                    np.copyto(o_new, extra, where=mv & ok)
                    np.multiply(o_eff, fill_l, out=fill_l)
                    np.copyto(o_new, fill_l, where=mv & ~ok)
                    o_eff = o_new
                    y = sup_a_sum(o_eff)  # the same sum as above, so a batch equals single runs
                    y -= a_one
                    y += 1.0
                    y += dem_dev
                    np.maximum(y, 0.0, out=y)
                    if any_idle:
                        np.copyto(y, 0.0, where=idle)
                ramp = np.where(y > 1.0 + _kernel.RAMP_EXCESS, ramp + 1.0, 0.0)  # not on rounding

            # 5b. production
            xnew = np.minimum(pmax, y)
            if any_idle:
                np.copyto(xnew, 0.0, where=idle)

            # 6. rationing: deliveries (relative to A) and final demand served (relative to c)
            served_k = None
            if prio is not None and np.any(xnew < y):
                d, served, served_k = _ration_classes(xnew, y, o_eff, dfac if dem_sched.active else None, a_rel, c_rel,
                                                      sup, prio, rationing, by_key, prio_cfk, prio_key_flat, True)
            elif rationing == "proportional" or not np.any(xnew < y):
                pos = y > 0
                r = xnew / y if pos.all() else np.where(pos, xnew / np.where(pos, y, 1.0), 0.0)
                if m:
                    d_new = d_bufs[0] if d is d_bufs[1] else d_bufs[1]
                    np.take(r, sup, axis=1, out=wa, mode="clip")
                    np.multiply(o_eff, wa, out=d_new)
                    d = d_new
                else:
                    d = o_eff
                served = dfac * r
            else:
                d, served = _priority(xnew, y, o_eff, dfac, a_rel, c_rel, sup, n, B)

            # shipments enter the pipeline
            if use_lead:
                np.take(d, c_order, axis=1, out=hist[t % lmax], mode="clip")
                if kv:
                    idx = v_base + ((t + lead_v) % lmax) * kv
                    vbuf_flat[idx.ravel()] += d[:, var_links].ravel()  # one (scenario, link) per index
                pipe += d
            x = xnew

        # 7. output: one sum per scenario (a row sum adds exactly as a single run's sum does; no
        # BLAS: its threads would spin on the other core)
        xp = np.multiply(x, pbar)
        xp.sum(axis=1, out=out_prod[:, t + 1])
        np.multiply(x, value_weight).sum(axis=1, out=out_va[:, t + 1])
        sc_ = np.multiply(served, c)
        sc_.sum(axis=1, out=out_fd[:, t + 1])
        if dem_sched.active:
            np.multiply(dfac, c).sum(axis=1, out=out_fdr[:, t + 1])
        else:
            out_fdr[:, t + 1] = out_fdr[:, 0]
        if firm_prod is not None:
            firm_prod[:, t + 1] = cols(xp)
        if firm_fd is not None:
            firm_fd[:, t + 1] = cols(sc_)
        if firm_cap is not None:
            firm_cap[:, t + 1] = cols(np.multiply(capacity, pbar))
        if link_del is not None:
            link_del[:, t + 1] = d * A
            link_st[:, t + 1] = s * A
        if sector_prod is not None:
            sector_prod[:, t + 1] = by_sector(xp)
        if consumers is not None:
            got = served[:, consumers.firm] if served_k is None or prio is None or prio.entry is None \
                else served_k[:, consumers.firm, prio.entry]
            cons_fd[:, t + 1] = by_consumer(cons_w * got)
            if dem_sched.active:
                cons_fdr[:, t + 1] = by_consumer(cons_w * dfac[:, consumers.firm])
            else:
                cons_fdr[:, t + 1] = cons_fdr[:, 0]

        steps_run = t + 1
        if t == exit_step:
            # the state is the baseline and nothing moves any more: every later step is this one
            rows = slice(t + 2, T1)
            for arr in outputs:
                if arr is not None:
                    arr[:, rows] = arr[:, t + 1: t + 2]
            break

        # settle: once a scenario's factors are back at baseline and its state is within settle_tol
        # of it, set its state exactly to the baseline (removes residual decay that would otherwise
        # never end); each scenario on its own, so a batch equals single runs
        near = None  # back at the default factors with production within settle_tol, not settled
        if settle_on and t + 1 < steps:
            dflt = cap_sched.at_default(t + 1) & link_sched.at_default(t + 1) & dem_sched.at_default(t + 1)
            if use_lead:
                dflt &= lt_sched.at_default(t + 1)
            if dflt.any():
                tol = ext.settle_tol
                close = dflt & (np.abs(x - base_x) <= tol).all(axis=1)
                near = close.copy()
                cb = np.flatnonzero(close)
                if m and cb.size:  # the scenarios close in production: stocks, shipments, pipeline, σ
                    if n_link is None:
                        ok_c = (np.abs(s[cb] - n_l) <= tol * max(n_days, 1.0)).all(axis=1)
                    else:
                        ok_c = (np.abs(s[cb] - n_l[cb]) <= tol * np.maximum(n_l[cb], 1.0)).all(axis=1)
                    ok_c &= (np.abs(d[cb] - 1.0) <= tol).all(axis=1)
                    if use_lead:
                        ok_c &= (np.abs(pipe[cb] - lead_base) <= tol * lmax).all(axis=1)
                    if use_sub:
                        ok_c &= (sig[cb] <= tol).all(axis=1)
                    close[cb] = ok_c
                near &= ~close
                for b in np.flatnonzero(close):
                    x[b] = base_x if base_x.ndim == 1 else base_x[b]
                    s[b] = n_l if n_link is None else n_l[b]
                    d[b] = 1.0
                    sbar[b] = n_sg if n_link is None else n_sg[b]
                    ramp[b] = 0.0
                    if use_sub:
                        sig[b] = 0.0
                        releasing[b] = False
                        keep_l[b] = 1.0
                    if use_lead:  # full pipeline: every past shipment at baseline, arrivals in their slots
                        hist[:, b, :] = 1.0
                        vbuf[b] = (((slots - (t + 1)) % lmax) < lead_base[var_links][None, :]).astype(np.float64)
                        pipe[b] = lead_base
                if (ext.early_exit and close.all() and cap_sched.default_from(t + 1).all()
                        and link_sched.default_from(t + 1).all() and dem_sched.default_from(t + 1).all()
                        and (not use_lead or lt_sched.default_from(t + 1).all())):
                    exit_step = t + 1
                if steady_on and close.any():
                    calm[close] = win[close]  # the pipeline was reset to the baseline: as if steady for long

        if steady_on and t + 1 < steps:
            live = frozen_at < 0
            ok = live & (np.abs(x - x_prev).max(axis=1, initial=0.0) <= stol)
            rows_ok = np.flatnonzero(ok)
            if m and rows_ok.size:
                dd = np.abs(d - d_prev) if rows_ok.size == B else np.abs(d[rows_ok] - d_prev[rows_ok])
                ok[rows_ok] = dd.max(axis=1, initial=0.0) <= stol
            calm = np.where(ok, calm + 1, 0)
            cand = ok & (calm >= win)
            if cand.any():
                # the factors of this step hold for every later step
                cand &= cap_sched.constant_from(t) & link_sched.constant_from(t) & dem_sched.constant_from(t)
                if use_lead:
                    cand &= lt_sched.last_change <= np.maximum(t + 1 - win, 0)
                if reserve is not None and t < ext.stockpile_release_day:
                    cand[:] = False  # reserves are released later
                if near is not None:
                    cand &= ~near  # converging on the baseline: left to the settle test
            for b in np.flatnonzero(cand):
                good = True
                if m:
                    st = s_tol if np.ndim(s_tol) == 0 else s_tol[b]
                    good = bool((np.abs(s[b] - s_prev[b]) <= st).all())
                    if good and use_sub:
                        good = bool((np.abs(sig[b] - sig_prev[b]) <= stol).all()
                                    and np.array_equal(releasing[b], rel_prev[b]))
                    if good and reserve is not None:
                        rt = res_tol if res_tol.ndim == 1 else res_tol[b]  # per link, or per scenario and link
                        good = bool((np.abs(reserve[b] - res_prev[b]) <= rt).all())
                if good and use_res:  # a ramp clock past ramp_days no longer changes anything
                    rd = ramp_days if np.ndim(ramp_days) == 0 else ramp_days[b]
                    good = bool(np.all((ramp[b] == ramp_prev[b]) | ((ramp[b] >= rd) & (ramp_prev[b] >= rd))))
                if good:
                    frozen_at[b] = t
            if (frozen_at >= 0).all():
                break
            x_prev, d_prev, s_prev, ramp_prev, res_prev = x, d, s, ramp, reserve
            if use_sub:
                np.copyto(sig_prev, sig)
                np.copyto(rel_prev, releasing)

    # frozen scenarios: every row after the step they froze at repeats that step
    for b in np.flatnonzero(frozen_at >= 0):
        for arr in outputs:
            if arr is not None:
                arr[b, frozen_at[b] + 2:] = arr[b, frozen_at[b] + 1]

    def squeeze(a: np.ndarray | None) -> np.ndarray | None:
        return a if a is None or batched else a[0]

    params: dict[str, Any] = {
        "steps": steps, "rationing": rationing, "inventory_days": inventory_days, "tau": tau,
        "recovery_days": recovery_days, "seed": seed, "mode": mode, "arithmetic": arithmetic,
        "extensions": ext.as_dict() if extended else None,
        "scenarios": [s.name for s in scen], "n_firms": n, "n_links": m, "steps_run": steps_run,
        "amounts": None if amounts is None else f"array{tuple(np.shape(amounts))}",
        "final_demand": None if final_demand is None else f"array{tuple(np.shape(final_demand))}",
    }
    return SimResult(
        step=np.arange(-1, steps),
        production=squeeze(out_prod),
        value_added=squeeze(out_va),
        final_demand=squeeze(out_fd),
        final_demand_requested=squeeze(out_fdr),
        firm_production=squeeze(firm_prod),
        sector_production=squeeze(sector_prod),
        consumer_final_demand=squeeze(cons_fd) if consumers is not None else None,
        consumer_final_demand_requested=squeeze(cons_fdr) if consumers is not None else None,
        parameters=params,
        firm_final_demand=squeeze(firm_fd),
        firm_capacity=squeeze(firm_cap),
        link_deliveries=squeeze(link_del),
        link_stock=squeeze(link_st),
        firm_index=rec_idx if keep else None,
    )


def _priority(x: np.ndarray, y: np.ndarray, o: np.ndarray, dfac: np.ndarray, a_rel: np.ndarray,
              c_rel: np.ndarray, sup: np.ndarray, n: int, B: int) -> tuple[np.ndarray, np.ndarray]:
    """Water-filling rationing for the suppliers that are short (x < y); the rest fill every order.

    Every scenario of a batch at once; each computes exactly what its single run computes (segments
    numbered scenario by scenario, running sums restarting at each scenario).
    """
    d = o.copy()
    served = dfac.copy()
    short = x < y
    sb, sj = np.nonzero(short)  # short suppliers
    if not sb.size:
        return d, served
    seg_of = np.full((B, n), -1, np.int64)
    seg_of[sb, sj] = np.arange(sb.size)
    m = o.shape[1]
    lf = np.flatnonzero(np.take(short, sup, axis=1))  # their links
    lb = lf // max(m, 1)
    le = lf - lb * m
    cr = np.broadcast_to(c_rel, (B, n))
    fb, fj = np.nonzero(short & (cr > 0))  # their final consumers
    seg_l = seg_of[lb, sup[le]]
    seg = np.concatenate((seg_l, seg_of[fb, fj]))
    o_l = np.take(o, lf)
    w = np.concatenate((a_rel[le] if a_rel.ndim == 1 else np.take(a_rel, lf), cr[fb, fj]))
    g = np.concatenate((o_l, dfac[fb, fj]))
    level = _waterfill(seg, w, g, x[sb, sj], sb.size, sb, B)
    np.put(d, lf, np.minimum(o_l, level[seg_l]))
    served[sb, sj] = np.minimum(dfac[sb, sj], level)
    return d, served


def _run_absolute(net: SupplyNetwork, scen: list[Scenario], batched: bool, cap_sched: _Sparse, *,
                  steps: int, rationing: str, n_days: float, tau: float, record_firms: bool,
                  record_sectors: bool, params: dict[str, Any]) -> SimResult:
    """Part A in absolute units, in the reference simulator's order of operations (for checking)."""
    B, n, m = len(scen), net.n_firms, net.n_links
    pbar, A, c = net.baseline_output, net.amount, net.final_demand
    sup, cli, seg_start = net.supplier, net.client, net.seg_start
    idle = pbar == 0
    safe_pbar = np.where(idle, 1.0, pbar)
    idle_link = idle[cli]
    A_sec = net.seg_amount
    has_seg = net.client_seg_start[1:] > net.client_seg_start[:-1]
    first_seg = net.client_seg_start[:-1][has_seg]
    va = net.value_added_ratio
    nA = n_days * A

    P = np.broadcast_to(pbar, (B, n)).copy()
    S = np.broadcast_to(nA, (B, m)).copy()
    Oh = np.broadcast_to(A, (B, m)).copy()
    cap = np.broadcast_to(pbar, (B, n)).copy()
    capf = np.ones((B, n))
    T1 = steps + 1
    prod, vadd, fd = (np.empty((B, T1)) for _ in range(3))
    firm = np.empty((B, T1, n)) if record_firms else None
    sect = np.empty((B, T1, net.n_sectors)) if record_sectors else None

    def record(k: int, P: np.ndarray, chat: np.ndarray) -> None:
        for b in range(B):
            prod[b, k] = P[b].sum()
            vadd[b, k] = (va * P[b]).sum()
            fd[b, k] = chat[b].sum()
            if firm is not None:
                firm[b, k] = P[b]
            if sect is not None:
                sect[b, k] = np.bincount(net.sector, weights=P[b], minlength=net.n_sectors)

    record(0, P, np.broadcast_to(c, (B, n)))
    for t in range(steps):
        if cap_sched.active:
            capf[:, cap_sched.index] = cap_sched.row(t)
            cap = pbar * capf
        out_P = np.empty((B, n))
        out_c = np.empty((B, n))
        for b in range(B):
            Pb = P[b]
            if m:
                S_sec = np.add.reduceat(S[b], seg_start)
                ok = S_sec > EPS
                kappa = np.where(ok, (Pb[net.seg_client] / safe_pbar[net.seg_client])
                                 * (A_sec / np.where(ok, S_sec, 1.0)), 0.0)
                Sn = S[b] + Oh[b] - S[b] * kappa[net.link_seg]
                Sn[Sn <= EPS] = 0.0
                S[b] = np.where(idle_link, S[b], Sn)
                Dh = Pb[cli]
                p_c = safe_pbar[cli]
                Ord = A * Dh / p_c + 1 / tau * (nA * Dh / p_c - S[b])
                Ord = np.maximum(Ord, 0.0)
                Ord[idle_link] = A[idle_link]
                D = np.bincount(sup, weights=Ord, minlength=n) + c
                S_sec = np.add.reduceat(S[b], seg_start)
                pprop = np.full(n, np.inf)
                pprop[has_seg] = np.minimum.reduceat(S_sec / A_sec * pbar[net.seg_client], first_seg)
                pmax = np.minimum(cap[b], pprop)
            else:
                Ord = np.zeros(0)
                D = c.copy()
                pmax = cap[b].copy()
            Pn = np.minimum(pmax, D)
            if rationing == "proportional":
                r = np.where(D == 0, 0.0, Pn / np.where(D == 0, 1.0, D))
                out_c[b] = r * c
                Oh[b] = Ord * r[sup]
            else:
                y = D / safe_pbar
                x = Pn / safe_pbar
                o_rel = Ord / A
                d, served = _priority(x[None, :], y[None, :], o_rel[None, :], np.ones((1, n)),
                                      A / safe_pbar[sup], c / safe_pbar, sup, n, 1)
                Oh[b] = d[0] * A
                out_c[b] = served[0] * c
            out_P[b] = Pn
        P = out_P
        record(t + 1, P, out_c)

    def squeeze(a: np.ndarray | None) -> np.ndarray | None:
        return a if a is None or batched else a[0]

    return SimResult(step=np.arange(-1, steps), production=squeeze(prod), value_added=squeeze(vadd),
                     final_demand=squeeze(fd), final_demand_requested=squeeze(np.broadcast_to(
                         c.sum(), (B, T1)).copy()), firm_production=squeeze(firm),
                     sector_production=squeeze(sect), consumer_final_demand=None,
                     consumer_final_demand_requested=None, parameters=params)
