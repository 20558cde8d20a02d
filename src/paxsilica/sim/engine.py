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
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import InputError
from .network import SupplyNetwork

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
    ramp_days : int
        Steps to reach full headroom (0 = at once).
    capacity_headroom : float or array (n,), optional
        Overrides ``network.capacity_headroom``.
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
        When every factor is back at baseline and the state is within this relative distance of the
        baseline, the state is set exactly to the baseline (0 disables).

    Examples
    --------
    >>> Extensions(resourcing=True, ramp_days=10).order_target
    'baseline'

    Coalition-first: links to clients 0 and 2 are served before the others (class 1).

    >>> net = SupplyNetwork.from_arrays([3, 3, 3], [0, 1, 2], [1.0, 1.0, 1.0])
    >>> Extensions(link_priority=np.where(np.isin(net.client, [0, 2]), 0, 1)).as_dict()["link_priority"]
    {'0': 2, '1': 1}
    """

    lead_times: bool = False
    resourcing: bool = False
    ramp_days: int = 0
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

    def as_dict(self) -> dict[str, Any]:
        """Plain summary for the result's parameters."""
        def small(v: object) -> object:
            if v is None or np.ndim(v) == 0:
                return v if not isinstance(v, np.generic) else v.item()
            return f"array({np.size(v)})"

        return {
            "lead_times": self.lead_times, "resourcing": self.resourcing, "ramp_days": self.ramp_days,
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
    firm_production : array (steps+1, n) or None
        Per-firm production when ``record_firms=True``.
    firm_final_demand, firm_capacity : arrays (steps+1, n) or None
        Per-firm final demand served and production capacity (incl. headroom), ``record_firms=True``.
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

    def row(self, t: int) -> np.ndarray:
        out = np.empty((self.b, self.index.size))
        out[:] = self.default
        for b, (s, p) in enumerate(zip(self.scheds, self.pos, strict=True)):
            if s is not None:
                out[b, p] = s.row(t)
        return out

    def at_default(self, t: int) -> bool:
        if not self.active:
            return True
        return not any(mv[min(t, mv.size - 1)] for mv in self.moved_rows if mv is not None)


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


def _waterfill(seg: np.ndarray, w: np.ndarray, g: np.ndarray, target: np.ndarray,
               n_seg: int) -> np.ndarray:
    """Level L per segment with Σ_k w_k·min(g_k, L) = target (claimants sorted by request).

    ``seg`` holds segment ids 0..n_seg-1 for every claimant; every segment must have a claimant with
    positive weight and its total request must exceed its target (else no rationing is needed).
    """
    # one float sort on seg + g/(1+g) (fast), checked; exact two-key sort if rounding tied two keys
    order = np.argsort(seg + g / (1.0 + g))
    seg_s, w_s, g_s = seg[order], w[order], g[order]
    if seg_s.size > 1 and np.any((seg_s[1:] == seg_s[:-1]) & (g_s[1:] < g_s[:-1])):
        order = np.lexsort((g, seg))
        seg_s, w_s, g_s = seg[order], w[order], g[order]
    counts = np.bincount(seg_s, minlength=n_seg)
    start = np.zeros(n_seg + 1, np.int64)
    np.cumsum(counts, out=start[1:])
    wg = w_s * g_s
    cum_wg = np.cumsum(wg)
    cum_w = np.cumsum(w_s)
    base_wg = np.concatenate(([0.0], cum_wg))[start[:-1]]
    base_w = np.concatenate(([0.0], cum_w))[start[:-1]]
    total_w = np.concatenate(([0.0], cum_w))[start[1:]] - base_w
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


def _priority_classes(ext: Extensions, net: SupplyNetwork, consumers: ConsumerSplit | None) -> _Classes | None:
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


def _ration_classes(x: np.ndarray, y: np.ndarray, o: np.ndarray, dfac: np.ndarray, a_rel: np.ndarray,
                    c_rel: np.ndarray, sup: np.ndarray, pc: _Classes, rationing: str,
                    by_key: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coalition-first rationing: a short supplier serves its claimants class by class (0 first).

    Classes before the marginal one (the first the remaining output cannot fill) get everything
    they asked, classes after it nothing; within the marginal class the ``rationing`` rule shares
    what is left. Suppliers that are not short are computed exactly as without classes.

    Returns deliveries (relative to A), final demand served per firm and per (firm, class) (relative
    to c and to c times the class's share of it).
    """
    B, n = x.shape
    K = pc.k
    short = x < y
    pos_y = y > 0
    r = np.where(pos_y, x / np.where(pos_y, y, 1.0), 0.0)  # the classless rule, for suppliers not short
    dem = by_key(o * a_rel).reshape(B, n, K)  # demand per (supplier, class), relative to p̄
    dem += (c_rel[:, None] * pc.fd_frac)[None] * dfac[:, :, None]
    before = np.zeros_like(dem)  # demand of the classes served before class k
    np.cumsum(dem[..., :-1], axis=2, out=before[..., 1:])
    room = x[..., None] - before  # output left for class k
    has = dem > 0
    if rationing == "proportional":
        with np.errstate(over="ignore"):  # a denormal class demand: the ratio clips to 1
            ratio = np.where(has, np.clip(room / np.where(has, dem, 1.0), 0.0, 1.0), 1.0)
        ratio = np.where(short[..., None], ratio, r[..., None])
        d = o * np.take_along_axis(ratio.reshape(B, n * K), np.broadcast_to(pc.key, o.shape), axis=1)
        served_k = dfac[..., None] * ratio
    else:
        d = o.copy()
        served_k = np.repeat(dfac[..., None], K, axis=2)
        for b in range(B):
            sj = np.flatnonzero(short[b])
            if not sj.size:
                continue
            lack = (room[b, sj] < dem[b, sj]) & has[b, sj]
            marg = lack.any(axis=1)
            kof = np.full(n, K, np.int64)  # marginal class per supplier (K: none, everyone is filled)
            kof[sj] = np.where(marg, lack.argmax(axis=1), K)
            lk = kof[sup]
            d[b, pc.link > lk] = 0.0
            ml = np.flatnonzero(pc.link == lk)  # links of the marginal class
            mj = sj[marg]
            km = kof[mj]
            seg_of = np.full(n, -1, np.int64)
            seg_of[mj] = np.arange(mj.size)
            wf = c_rel[mj] * pc.fd_frac[mj, km]
            fj = mj[wf > 0]
            seg_l = seg_of[sup[ml]]
            seg = np.concatenate((seg_l, seg_of[fj]))
            w = np.concatenate((a_rel[ml], wf[wf > 0]))
            g = np.concatenate((o[b, ml], dfac[b, fj]))
            with np.errstate(over="ignore"):  # denormal weights: an infinite level fills every request
                level = _waterfill(seg, w, g, np.maximum(room[b, mj, km], 0.0), mj.size)
            d[b, ml] = np.minimum(o[b, ml], level[seg_l])
            after = np.arange(K)[None, :] > kof[sj, None]
            served_k[b, sj] = np.where(after, 0.0, served_k[b, sj])
            served_k[b, mj, km] = np.minimum(dfac[b, mj], level)
        ratio = None
    served = np.where(short, (served_k * pc.fd_frac[None]).sum(axis=2), dfac * r if ratio is not None else dfac)
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
    record_firms: bool = False,
    record_sectors: bool = False,
    record_links: bool = False,
    arithmetic: Literal["relative", "reference"] = "relative",
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
        per-link (shipments, stocks) series (memory: steps × firms or links).
    arithmetic : {"relative", "reference"}
        ``relative`` (default) carries the state relative to the baseline, so the equilibrium is
        exact. ``reference`` (reference mode only) computes in absolute units with the reference
        simulator's order of operations: same numbers to the last bit on small cases, and the same
        rounding-noise amplification (phantom crises) on large unshocked networks. For checking only.

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
    n_days = float(inventory_days)
    pbar = net.baseline_output
    A = net.amount
    c = net.final_demand
    sup, cli = net.supplier, net.client
    idle = pbar <= 0  # firms nobody buys from: they produce nothing, order A, keep their stock
    idle_link = idle[cli]
    any_idle = bool(idle.any())
    safe_pbar = np.where(idle, 1.0, pbar)
    a_rel = A / safe_pbar[sup]  # link amount as a share of its supplier's baseline output
    c_rel = np.where(idle, 0.0, c / safe_pbar)
    w_link = A / net.seg_amount[net.link_seg] if m else np.zeros(0)
    eps_link = EPS / A
    eps_seg = EPS / net.seg_amount
    eps_seg_max = float(eps_seg.max(initial=0.0))
    value_weight = np.where(idle, 0.0, pbar - net.input_total)
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

    by_supplier = grouper(sup, n)
    by_segment = grouper(net.link_seg, n_seg)
    by_sector = grouper(net.sector, net.n_sectors)
    by_key = None  # per (supplier, priority class), set up with the extensions
    seg_client = net.seg_client

    # Sums are taken as deviations from their baseline value, computed by the same bincount in
    # the same order, so that at the baseline they cancel exactly.
    seg_w = None
    if B == 1 and m:
        # Σ w·s per segment as a CSR product: links of a segment are contiguous, so the product reads
        # s in order and folds the weights in (one pass instead of a multiply and a bincount); it adds
        # in the same order as bincount, so the sums are the same to the bit (a batch still equals
        # single runs)
        from scipy.sparse import csr_matrix

        seg_w = csr_matrix((w_link, np.arange(m), np.append(net.seg_start, m)), shape=(n_seg, m))

    def seg_wsum(v: np.ndarray) -> np.ndarray:
        if seg_w is not None:
            return (seg_w @ v[0])[None, :]
        return by_segment(np.multiply(v, w_link, out=wa))

    w_n = (seg_w @ np.full(m, n_days))[None, :] if seg_w is not None else \
        by_segment(np.broadcast_to(w_link * n_days, (B, m)))  # Σ w·n per segment
    a_one = by_supplier(np.broadcast_to(a_rel, (B, m)))  # Σ a per supplier

    def seg_mean(s: np.ndarray) -> np.ndarray:
        # n + (Σ w·s − Σ w·n): exactly n when every stock is at target
        out = seg_wsum(s)
        out -= w_n
        out += n_days
        return out

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
        return _run_absolute(net, scen, batched, cap_sched, steps=steps, rationing=rationing,
                             n_days=n_days, tau=tau, record_firms=record_firms,
                             record_sectors=record_sectors,
                             params={"steps": steps, "rationing": rationing,
                                     "inventory_days": inventory_days, "tau": tau,
                                     "recovery_days": recovery_days, "seed": seed, "mode": mode,
                                     "arithmetic": arithmetic, "extensions": None,
                                     "scenarios": [s.name for s in scen], "n_firms": n, "n_links": m})

    # --- extension set-up
    use_lead = extended and ext.lead_times and m > 0
    use_res = extended and ext.resourcing and m > 0
    if use_lead:
        lmax = int(max(net.lead_time.max(initial=1),
                       max((int(s.lead_time.values.max()) for s in scen if s.lead_time is not None), default=1)))
    else:
        lmax = 1
    headroom = np.zeros(n)
    if use_res:
        h = net.capacity_headroom if ext.capacity_headroom is None else ext.capacity_headroom
        headroom = np.broadcast_to(np.asarray(h, np.float64), (n,)).copy()
        if np.any(headroom < 0) or not np.all(np.isfinite(headroom)):
            raise InputError("capacity_headroom must be finite and >= 0")
    reserve0 = None
    if extended and ext.stockpile_days is not None:
        reserve0 = np.broadcast_to(np.asarray(ext.stockpile_days, np.float64), (m,)).copy()
        if np.any(reserve0 < 0) or not np.all(np.isfinite(reserve0)):
            raise InputError("stockpile_days must be finite and >= 0")
    consumers = ext.consumers if extended else None
    if consumers is not None and consumers.firm.size and (consumers.firm.min() < 0 or consumers.firm.max() >= n):
        raise InputError("consumers: firm index out of range")
    prio = _priority_classes(ext, net, consumers) if extended else None
    if prio is not None:
        by_key = grouper(prio.key, n * prio.k)
    baseline_target = extended and ext.order_target == "baseline"
    if ext.order_target not in ("baseline", "output"):
        raise InputError(f"unknown order_target {ext.order_target!r}")

    # --- state at t = -1 (relative to baseline)
    x = np.where(idle, 0.0, 1.0)[None, :].repeat(B, axis=0)  # P/p̄
    s = np.full((B, m), n_days)  # S/A
    sbar = np.full((B, net.seg_start.size), n_days)
    d = np.ones((B, m))  # last shipments (for lead time 1 they arrive next step)
    lead_base = net.lead_time
    if use_lead:
        slots = np.arange(lmax)[:, None]
        buf = np.zeros((B, lmax, m))
        buf[:] = (slots < lead_base[None, :]).astype(np.float64)  # the pipeline is full at baseline
        pipe = np.broadcast_to(lead_base.astype(np.float64), (B, m)).copy()  # in transit, incl. next arrival
        buf_flat = buf.reshape(B, lmax * m)
        link_ids = np.arange(m)
    reserve = None if reserve0 is None else np.broadcast_to(reserve0, (B, m)).copy()
    ramp = np.zeros((B, n))  # steps of excess demand (re-sourcing ramp clock)

    T1 = steps + 1
    shape = (B, T1)
    out_prod, out_va, out_fd, out_fdr = (np.empty(shape) for _ in range(4))
    out_prod[:, 0] = pbar.sum()
    out_va[:, 0] = value_weight.sum()
    out_fd[:, 0] = c.sum()
    out_fdr[:, 0] = c.sum()
    firm_prod = np.empty((B, T1, n)) if record_firms else None
    firm_fd = np.empty((B, T1, n)) if record_firms else None
    firm_cap = np.empty((B, T1, n)) if record_firms else None
    if firm_prod is not None:
        firm_prod[:, 0] = pbar
        firm_fd[:, 0] = c
        firm_cap[:, 0] = pbar
    link_del = np.empty((B, T1, m)) if record_links else None
    link_st = np.empty((B, T1, m)) if record_links else None
    if link_del is not None:
        link_del[:, 0] = A
        link_st[:, 0] = n_days * A
    sector_prod = np.empty((B, T1, net.n_sectors)) if record_sectors else None
    if sector_prod is not None:
        sector_prod[:, 0] = by_sector(np.broadcast_to(pbar, (B, n)).copy())
    if consumers is not None:
        k_cons = len(consumers.names)
        cons_w = consumers.share * c[consumers.firm]
        cons_fd = np.empty((B, T1, k_cons))
        cons_fdr = np.empty((B, T1, k_cons))
        base = np.bincount(consumers.consumer, weights=cons_w, minlength=k_cons)
        cons_fd[:, 0] = base
        cons_fdr[:, 0] = base

    # work buffers: the step reuses them instead of allocating (page faults cost as much as the maths)
    wa, wb, xc, o_buf = (np.empty((B, m)) for _ in range(4))
    wbool = np.empty((B, m), dtype=bool)
    nbuf = np.empty(n)
    s_bufs = (s, np.empty((B, m)))
    d_bufs = (d, np.empty((B, m)))
    capf = np.ones((B, n))
    linkcap = np.ones((B, m))
    dfac = np.ones((B, n))
    lead = np.broadcast_to(lead_base, (B, m)).copy() if use_lead else None
    cap_idx, link_idx, dem_idx, lt_idx = cap_sched.index, link_sched.index, dem_sched.index, lt_sched.index

    for t in range(steps):
        # 1. factors of this step (shock onset, recovery profiles, link caps, demand surges)
        if cap_sched.active:
            capf[:, cap_idx] = cap_sched.row(t)
        if link_sched.active:
            linkcap[:, link_idx] = link_sched.row(t)
        if dem_sched.active:
            dfac[:, dem_idx] = dem_sched.row(t)
        if use_lead and lt_sched.active:
            lead[:, lt_idx] = lt_sched.row(t).astype(np.int64)

        # 2. inventory update: last shipments arrive, last production consumes inputs
        if m:
            if use_lead:
                slot = t % lmax
                arrive = buf[:, slot, :].copy()
                buf[:, slot, :] = 0.0
                pipe -= arrive
            else:
                arrive = d
            # a client draws its sector need from each supplier's stock in proportion to it:
            # S_ij κ = S_ij (P_i/p̄_i)(A^sec/S^sec) = (s_ij / s̄) · x_i in relative units, which is
            # exactly x_i at the baseline (s_ij = s̄ = n)
            if n_seg == 0 or sbar.min() > eps_seg_max:  # no segment near zero stock (one pass)
                np.take(sbar, net.link_seg, axis=1, out=wa, mode="clip")
            else:  # a segment without stock gives nothing: s / inf is exactly 0 (no mask over links)
                np.take(np.where(sbar > eps_seg, sbar, np.inf), net.link_seg, axis=1, out=wa, mode="clip")
            np.take(x, cli, axis=1, out=xc, mode="clip")
            np.divide(s, wa, out=wb)
            wb *= xc
            s_new = s_bufs[0] if s is s_bufs[1] else s_bufs[1]
            np.add(s, arrive, out=s_new)
            s_new -= wb
            np.less_equal(s_new, eps_link, out=wbool)
            if wbool.any():
                np.copyto(s_new, 0.0, where=wbool)
            if any_idle:
                s_new[:, idle_link] = s[:, idle_link]
            s = s_new
            if reserve is not None and t >= ext.stockpile_release_day:
                draw = np.minimum(np.minimum(reserve, np.maximum(n_days - s, 0.0)), ext.stockpile_release_rate)
                s += draw
                reserve = reserve - draw

        # 3. orders (relative to A), from the client's own output last step
        if m:
            sbar = seg_mean(s)  # S^sec/A^sec in days, per (client, sector) segment
            o = o_buf
            if not extended:
                # reference: per link, target n·A·P/p̄
                np.multiply(xc, n_days, out=o)
                o -= s
            else:
                # extended: per (client, sector) segment, so stock held at any supplier of the sector
                # counts (re-sourced stock does not pile up); target n·A (baseline) or n·A·P/p̄
                gap_seg = (n_days - sbar) if baseline_target else (n_days * x[:, seg_client] - sbar)
                if use_lead:
                    lag = (lead - 1) - pipe if baseline_target else (lead - 1) * xc - pipe
                    lag *= w_link
                    gap_seg = gap_seg + by_segment(lag)
                np.take(gap_seg, net.link_seg, axis=1, out=o, mode="clip")
            o *= inv_tau  # a product, not a quotient: 0 stays exactly 0 at the baseline
            o += xc
            np.maximum(o, 0.0, out=o)
            if any_idle:
                o[:, idle_link] = 1.0
            # a cap c < 1 limits the link to c·A per step; 1 means unrestricted (orders may exceed A)
            o_eff = np.where(linkcap < 1.0, np.minimum(o, linkcap), o) if link_sched.active else o
        else:
            o_eff = np.zeros((B, 0))

        # 5a. producible output (capacity and Leontief stock limit); needed before demand when re-sourcing
        capacity = capf
        if use_res:
            unshocked = capf >= 1.0
            grow = np.minimum(1.0, ramp / ext.ramp_days) if ext.ramp_days > 0 else np.ones_like(ramp)
            capacity = np.where(unshocked, capf + headroom * grow, capf)
        pmax = np.minimum(capacity, prop_limit(sbar, float(capacity.max(initial=0.0)))) if m else capacity.copy()

        # 4. demand (ratio to p̄), with re-sourcing of orders a supplier cannot fill
        dem_dev = c_rel * (dfac - 1.0) if dem_sched.active else 0.0
        if m:
            # 1 + (Σ a·o − Σ a): exactly 1 at the baseline
            np.multiply(o_eff, a_rel, out=wa)
            y = by_supplier(wa)
            y -= a_one
            y += 1.0
            y += dem_dev
        else:
            y = np.ones((B, n)) + dem_dev
        np.maximum(y, 0.0, out=y)  # the deviation form can leave -1e-17 where nothing is asked
        if any_idle:
            y[:, idle] = 0.0
        if use_res:
            fill = np.where(y > pmax, pmax / np.where(y > 0, y, 1.0), 1.0)
            fill_l = fill[:, sup]
            unmet = o - o_eff * fill_l  # per unit of A: blocked by caps or by the supplier's limit
            ok = (fill_l >= 1.0) & unshocked[:, sup] & (linkcap >= 1.0)
            u_seg = by_segment(w_link * unmet)
            e_seg = by_segment(w_link * ok)
            moved = (u_seg > 0) & (e_seg > 0)
            if np.any(moved):
                extra = np.where(moved, u_seg / np.where(moved, e_seg, 1.0), 0.0)[:, net.link_seg]
                mv = moved[:, net.link_seg]
                o_eff = np.where(mv, np.where(ok, o_eff + extra, o_eff * fill_l), o_eff)
                y = by_supplier(o_eff * a_rel)  # the same sum as above, so a batch equals single runs
                y -= a_one
                y += 1.0
                y += dem_dev
                np.maximum(y, 0.0, out=y)
                if any_idle:
                    y[:, idle] = 0.0
            ramp = np.where(y > 1.0, ramp + 1.0, 0.0)

        # 5b. production
        xnew = np.minimum(pmax, y)
        if any_idle:
            xnew[:, idle] = 0.0

        # 6. rationing: deliveries (relative to A) and final demand served (relative to c)
        served_k = None
        if prio is not None and np.any(xnew < y):
            d, served, served_k = _ration_classes(xnew, y, o_eff, dfac, a_rel, c_rel, sup, prio, rationing,
                                                  by_key)
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
            arr_slot = (t + lead) % lmax
            for b in range(B):
                buf_flat[b, arr_slot[b] * m + link_ids] += d[b]
            pipe += d
        x = xnew

        # 7. output
        # one sum per scenario, so a batch sums exactly like single runs (no BLAS: its threads
        # would spin on the other core)
        for b in range(B):
            out_prod[b, t + 1] = np.multiply(x[b], pbar, out=nbuf).sum()
            out_va[b, t + 1] = np.multiply(x[b], value_weight, out=nbuf).sum()
            out_fd[b, t + 1] = np.multiply(served[b], c, out=nbuf).sum()
            out_fdr[b, t + 1] = np.multiply(dfac[b], c, out=nbuf).sum() if dem_sched.active else out_fdr[b, 0]
        if firm_prod is not None:
            firm_prod[:, t + 1] = x * pbar
            firm_fd[:, t + 1] = served * c
            firm_cap[:, t + 1] = capacity * pbar
        if link_del is not None:
            link_del[:, t + 1] = d * A
            link_st[:, t + 1] = s * A
        if sector_prod is not None:
            sector_prod[:, t + 1] = by_sector(x * pbar)
        if consumers is not None:
            for b in range(B):
                got = served[b, consumers.firm] if served_k is None or prio is None or prio.entry is None \
                    else served_k[b, consumers.firm, prio.entry]
                cons_fd[b, t + 1] = np.bincount(consumers.consumer, weights=cons_w * got, minlength=k_cons)
                cons_fdr[b, t + 1] = np.bincount(consumers.consumer, weights=cons_w * dfac[b, consumers.firm],
                                                 minlength=k_cons)

        # settle: once every factor is back at baseline and the state is within settle_tol of it,
        # set it exactly to the baseline (removes residual decay that would otherwise never end)
        if extended and ext.settle_tol > 0 and t + 1 < steps:
            if (cap_sched.at_default(t + 1) and link_sched.at_default(t + 1) and dem_sched.at_default(t + 1)
                    and (not use_lead or lt_sched.at_default(t + 1))):
                tol = ext.settle_tol
                base_x = np.where(idle, 0.0, 1.0)
                close = (np.abs(x - base_x) <= tol).all(axis=1)
                if m:
                    close &= (np.abs(s - n_days) <= tol * max(n_days, 1.0)).all(axis=1)
                    close &= (np.abs(d - 1.0) <= tol).all(axis=1)
                    if use_lead:
                        close &= (np.abs(pipe - lead_base) <= tol * lmax).all(axis=1)
                for b in np.flatnonzero(close):
                    x[b] = base_x
                    s[b] = n_days
                    d[b] = 1.0
                    sbar[b] = n_days
                    ramp[b] = 0.0
                    if use_lead:  # full pipeline: arrivals at steps t+1 .. t+L in their ring slots
                        buf[b] = (((slots - (t + 1)) % lmax) < lead_base[None, :]).astype(np.float64)
                        pipe[b] = lead_base

    def squeeze(a: np.ndarray | None) -> np.ndarray | None:
        return a if a is None or batched else a[0]

    params: dict[str, Any] = {
        "steps": steps, "rationing": rationing, "inventory_days": inventory_days, "tau": tau,
        "recovery_days": recovery_days, "seed": seed, "mode": mode, "arithmetic": arithmetic,
        "extensions": ext.as_dict() if extended else None,
        "scenarios": [s.name for s in scen], "n_firms": n, "n_links": m,
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
    )


def _priority(x: np.ndarray, y: np.ndarray, o: np.ndarray, dfac: np.ndarray, a_rel: np.ndarray,
              c_rel: np.ndarray, sup: np.ndarray, n: int, B: int) -> tuple[np.ndarray, np.ndarray]:
    """Water-filling rationing for the suppliers that are short (x < y); the rest fill every order.

    Scenarios are handled one by one so that a batch computes exactly what single runs compute.
    """
    d = o.copy()
    served = dfac.copy()
    for b in range(B):
        short = x[b] < y[b]
        if not short.any():
            continue
        sj = np.flatnonzero(short)  # short suppliers
        seg_of = np.full(n, -1, np.int64)
        seg_of[sj] = np.arange(sj.size)
        le = np.flatnonzero(short[sup])  # their links
        fj = sj[c_rel[sj] > 0]  # their final consumers
        seg_l = seg_of[sup[le]]
        seg = np.concatenate((seg_l, seg_of[fj]))
        w = np.concatenate((a_rel[le], c_rel[fj]))
        g = np.concatenate((o[b, le], dfac[b, fj]))
        level = _waterfill(seg, w, g, x[b, sj], sj.size)
        d[b, le] = np.minimum(o[b, le], level[seg_l])
        served[b, sj] = np.minimum(dfac[b, sj], level)
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
