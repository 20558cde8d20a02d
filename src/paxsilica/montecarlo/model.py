"""The stress model for many draws: events → the engine's schedules → one batched engine call → losses.

This is the stress pipeline of :mod:`paxsilica.stress` (the same network from
:class:`~paxsilica.stress.prepare.Prepared`, the same shock compilers of
:mod:`paxsilica.scenarios.declare` through :class:`~paxsilica.scenarios.compile.Build`, the same
engine and the same loss measure as a stress run's ``loss_pct``), arranged for throughput:

- every draw runs on one network and one set of policies, so the engine's extensions are shared and
  the draws of a batch are **one** engine call (a leading batch axis);
- each effect of an event is compiled alone into per-site and per-link factor columns, and a draw's
  schedules are these columns combined exactly as the compiler combines the shocks of one scenario
  (capacity factors by minimum, lead times by maximum). A window effect (ban, blockade, closure,
  surge) is compiled once per distinct shock (its severity) into the values while on and while off,
  and each event's window is cut from that; a rerouted closure's template is also per set of
  chokepoints closed with it (every closure of the draw overlapping it, whichever event closes it:
  a rerouted lane avoids them all). A recovering effect (outage, disaster, cyber incident) is
  compiled once per event;
- a draw without events is not run: the engine carries its state relative to the baseline, so an
  unshocked run stays on the baseline and loses nothing (checked by ``tests/test_montecarlo_run.py``,
  ``test_a_draw_without_events_loses_nothing_and_is_not_run``);
- the engine's early exits (settle, steady state) are off, so a draw's result does not depend on the
  other draws of its batch: batched = sequential, bit for bit.

Loss (per draw, target and consumer) is the stress run's headline loss: the target's shortfall summed
over the horizon over its baseline summed over the horizon (for a capacity target, the installed AI
capacity that runs, :mod:`paxsilica.capacity`), as a fraction 0..1; ``WORLD`` is the total over every
AI consumer, each consumer country its own share.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..scenarios.compile import Build, _Acc, closed_among, compile_scenario
from ..scenarios.declare import ChokepointClosure, Policies, Shock
from ..scenarios.schema import Scenario
from ..stress.measure import _ai_consumers, _stock
from ..stress.prepare import Prepared
from .catalogue import Catalogue
from .draw import Event, effect_shock

WINDOW_TYPES = ("export_ban", "blockade", "chokepoint_closure", "demand_surge")
"""Shock types whose columns are ``where(on, value, baseline value)`` over their window."""

WORLD = "WORLD"
"""Consumer name of the total over every AI consumer."""
LOSS_FLOOR = 1e-12
"""Losses below this are the engine's rounding, not a loss (an unshocked run gives about 1e-16)."""


@dataclass(frozen=True)
class Parts:
    """One event's (or draw's) factor columns per entity: capacity, link capacity, demand, lead time."""

    cap: dict[int, np.ndarray]
    lcap: dict[int, np.ndarray]
    dem: dict[int, np.ndarray]
    lead: dict[int, np.ndarray]
    touched: tuple[bool, ...] = ()


class _EventBuild(Build):
    """A :class:`Build` reused for every event of a run: lanes under each closure set are computed once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lanes: dict[tuple, Any] = {}

    def lanes_closed(self, s: ChokepointClosure, through: np.ndarray) -> Any:
        from ..scenarios.compile import _closed_with

        key = (_closed_with(self.scenario, s), np.flatnonzero(through).tobytes())
        if key not in self._lanes:
            self._lanes[key] = super().lanes_closed(s, through)
        return self._lanes[key]

    def reset(self, shocks: tuple[Shock, ...]) -> None:
        steps = self.steps
        self.scenario = dataclasses.replace(self.scenario, shocks=shocks)
        self.cap, self.lcap, self.dem = _Acc(steps), _Acc(steps), _Acc(steps)
        self.lead, self.effects, self.failures, self.notes = {}, [], [], []


Block = tuple[np.ndarray, np.ndarray]
"""Factor columns of one schedule: entity ids (int64, sorted, unique) and values ``(ids, steps)``, one
row per entity (the engine's ``(steps, ids)`` transposed, so that combining entities reads whole rows)."""
_KINDS = ("cap", "lcap", "dem", "lead")
"""The schedules of :class:`Parts`, in its field order."""


def _combine(blocks: list[Block], op: np.ufunc) -> Any:
    """One engine schedule from the columns of several shocks: an entity hit by more than one gets
    ``op`` (``np.minimum``, lead times ``np.maximum``) of their columns, as the compiler's accumulators
    give it. Both are exact whatever the order, so grouping by id with ``reduceat`` gives the same bits
    as combining shock by shock."""
    from ..sim import Schedule

    if not blocks:
        return None
    if len(blocks) == 1:
        idx, vals = blocks[0]
    else:
        idx = np.concatenate([b[0] for b in blocks])
        order = np.argsort(idx, kind="stable")
        idx = idx[order]
        vals = np.concatenate([b[1] for b in blocks], axis=0)[order]
        ids, first, counts = np.unique(idx, return_index=True, return_counts=True)
        if ids.size < idx.size:
            # an entity's rows are consecutive after the sort, and few entities have more than two
            # (a link both banned and blockaded): one vectorised pass per rank beats ``reduceat``
            out = vals[first]
            for r in range(1, int(counts.max())):
                g = np.flatnonzero(counts > r)
                out[g] = op(out[g], vals[first[g] + r])
            idx, vals = ids, out
    # C order (steps, ids), as the compiler's column_stack gives it
    return Schedule(idx, np.ascontiguousarray(vals.T))


def _blocks(p: Parts) -> tuple[Block | None, ...]:
    """:class:`Parts` (dicts of columns) as one block per schedule (``None``: no column)."""
    out: list[Block | None] = []
    for cols in (p.cap, p.lcap, p.dem, p.lead):
        if not cols:
            out.append(None)
            continue
        idx = np.array(sorted(cols), dtype=np.int64)
        out.append((idx, np.vstack([cols[i] for i in idx])))
    return tuple(out)


@dataclass(frozen=True)
class _Window:
    """A window shock's columns as ``(ids, on, off)`` per schedule (``None``: no column): each entity's
    value while on and while off (arrays ``(ids, 1)``). An event's rows are ``where(on, on, off)`` over
    its window."""

    rows: tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None, ...]

    @classmethod
    def of(cls, p: Parts) -> _Window:
        """From the columns of the shock compiled with a one-day window at day 0 (rows 0 and 1)."""
        return cls(tuple(None if b is None else (b[0], b[1][:, :1].copy(), b[1][:, 1:2].copy()) for b in _blocks(p)))


class TargetModel:
    """The network of one target and everything a draw's run on it needs (built once per process).

    Parameters
    ----------
    atlas : Atlas
    target : str
    catalogue : Catalogue
    horizon_days : int
    inventory_days, tau_days : float
        As for a stress run.
    version : str, optional
        The atlas version when known.
    """

    def __init__(self, atlas: Any, target: str, catalogue: Catalogue, horizon_days: int, *,
                 inventory_days: float, tau_days: float, version: str | None = None,
                 prepared: Prepared | None = None) -> None:
        self.target = target
        self.steps = int(horizon_days)
        self.inventory_days, self.tau_days = float(inventory_days), float(tau_days)
        prep = prepared or Prepared(atlas, target=target, consumers="producers", year=None, lanes=None,
                                    version=version)
        self.net, self.index = prep.network(1, None)
        base = Scenario(name="montecarlo", description="a Monte Carlo draw", horizon=self.steps, policies=Policies())
        self.comp = compile_scenario(base, self.net, self.index, atlas, steps=self.steps,
                                     inventory_days=self.inventory_days)
        reroute = any(e.type == "chokepoint_closure" and e.mode == "reroute"
                      for h in catalogue.hazards for e in h.effects)
        # no early exit: a draw's run must not depend on the other draws of its batch
        self.extensions = dataclasses.replace(self.comp.extensions, settle_tol=0.0, early_exit=False,
                                              lead_times=self.comp.extensions.lead_times or reroute)
        self.build = _EventBuild(base, self.net, self.index, atlas, self.steps, None)
        names = self.comp.extensions.consumers.names if self.comp.extensions.consumers is not None else ()
        self.consumer_cols = _ai_consumers(self.comp)
        self.consumers = tuple(str(names[k]) for k in self.consumer_cols) if self.consumer_cols else ()
        self._cache: dict[tuple, Parts] = {}
        self.notes: list[str] = []
        self.active = self._active_effects(catalogue)
        # a run may start at its first shock only when nothing else depends on the day (a stockpile
        # released from a given day would)
        self.shift_ok = self.extensions.stockpile_days is None
        # the loss reads the production of the operation sinks only (stress.measure._stock)
        sites = self.index.sites
        self.recorded = (np.flatnonzero(sites["kind"].to_numpy() == "operation") if "kind" in sites.columns
                         else True)

    def _active_effects(self, catalogue: Catalogue) -> dict[int, tuple[int, ...]]:
        """Per hazard, the effects that act on this network (an effect that touches nothing is left
        out, with a note, instead of failing the run as a scenario would)."""
        active: dict[int, tuple[int, ...]] = {}
        for i, h in enumerate(catalogue.hazards):
            keep = []
            for j, e in enumerate(h.effects):
                parts = self.compile_shocks((effect_shock(e, 0, max(1, min(30, self.steps)), 1.0),))
                if parts.touched and parts.touched[0]:
                    keep.append(j)
                else:
                    self.notes.append(f"hazard {h.id}, effect {j} ({e.type}) touches nothing in the network of "
                                      f"{self.target}: left out")
            active[i] = tuple(keep)
        return active

    def compile_shocks(self, shocks: tuple[Shock, ...]) -> Parts:
        """Factor columns of ``shocks`` compiled together (as one scenario's shocks)."""
        b = self.build
        b.reset(shocks)
        for k, s in enumerate(shocks):
            s.apply(b, k)
        return self._parts()

    def _parts(self) -> Parts:
        """The columns the build accumulated since its last reset, and which effects touched anything."""
        b = self.build
        touched = tuple(bool(e["sites"] or e["links"]) for e in b.effects)
        return Parts(dict(b.cap.cols), dict(b.lcap.cols), dict(b.dem.cols), dict(b.lead), touched)

    def event_shocks(self, event: Event) -> tuple[Shock, ...]:
        effs = self.active.get(event.hazard, ())
        return tuple(effect_shock(event.effects[j], event.start_day, event.duration_days, event.severity)
                     for j in effs)

    def compile_alone(self, shock: Shock, context: tuple[Shock, ...] = ()) -> Parts:
        """Factor columns of ``shock`` alone, compiled in a scenario whose other shocks are ``context``.

        The context only tells a rerouted closure which other closures overlap it (its lanes avoid
        them all, :func:`~paxsilica.scenarios.compile.closed_among`); its shocks are not applied. Every
        other shock type acts on its own entities whatever the others do, and the compiler combines the
        shocks' columns by minimum (lead times by maximum), so a scenario's columns are those of its
        shocks compiled alone, combined.
        """
        self.build.reset((shock, *context))
        shock.apply(self.build, 0)
        return self._parts()

    def _window(self, effect: Shock, severity: float, closed: frozenset[str] | None) -> _Window:
        """The two-row template of a window effect at ``severity`` (lanes around ``closed`` for a
        rerouted closure), compiled once per distinct (shock, closure set).

        Compiled with a one-day window at day 0: row 0 holds the values while on, row 1 the baseline
        values (the window moves the rows, never the values: nothing of a window shock depends on its
        start or end, as the model's scenario has no ``reference_date`` for group membership).
        """
        s0 = effect_shock(effect, 0, 1, severity)
        key = ("window", s0, closed)
        t = self._cache.get(key)
        if t is None:
            context = tuple(dataclasses.replace(s0, chokepoint=c) for c in sorted(closed - {s0.chokepoint})) \
                if closed else ()
            t = self._cache[key] = _Window.of(self.compile_alone(s0, context))
        return t

    def _direct(self, event: Event, j: int, shock: Shock) -> tuple[Block | None, ...]:
        """Columns of a non-window effect of ``event`` (a site outage, cyber incident or disaster:
        a recovery profile from its start), compiled once per distinct event."""
        key = ("event", *event.key(), j)
        t = self._cache.get(key)
        if t is None:
            t = self._cache[key] = _blocks(self.compile_alone(shock))
        return t

    def engine_scenario(self, events: list[Event], name: str = "") -> Any:
        """The engine's scenario of one draw (``None``: nothing acts, the draw loses nothing).

        Each effect of each event gives its columns (:meth:`compile_alone`): a window effect's are cut
        from its template (:meth:`_window`), a rerouted closure's routed around every closure of the
        draw that overlaps it, whichever event closes it; the others are compiled once per event. The
        draw's schedules are these columns combined as the compiler combines one scenario's shocks
        (:func:`_combine`), so they equal compiling the draw's shocks as one scenario, bit for bit.
        """
        from ..sim import Scenario as EngineScenario

        if len(self._cache) > 50_000:  # bounded memory on long runs
            self._cache.clear()
        acting = [(ev, j, effect_shock(ev.effects[j], ev.start_day, ev.duration_days, ev.severity))
                  for ev in events for j in self.active.get(ev.hazard, ())]
        if not acting:
            return None
        closures = [s for _ev, _j, s in acting if isinstance(s, ChokepointClosure)]
        blocks: list[list[Block]] = [[] for _ in _KINDS]
        days = np.arange(self.steps)
        for ev, j, s in acting:
            e = ev.effects[j]
            if self.steps >= 2 and e.type in WINDOW_TYPES:
                closed = (closed_among(closures, s) if isinstance(s, ChokepointClosure) and s.mode == "reroute"
                          else None)
                on = ((days >= ev.start_day) & (days < ev.start_day + ev.duration_days))[None, :]
                for k, row in enumerate(self._window(e, ev.severity, closed).rows):
                    if row is not None:
                        blocks[k].append((row[0], np.where(on, row[1], row[2])))
            else:
                parts = (_blocks(self.compile_alone(s, tuple(closures))) if e.type in WINDOW_TYPES
                         else self._direct(ev, j, s))
                for k, blk in enumerate(parts):
                    if blk is not None:  # a copy: the cached columns must not reach the engine
                        blocks[k].append((blk[0], blk[1].copy()))
        cap, lcap, dem, lead = (_combine(blocks[k], np.maximum if k == 3 else np.minimum) for k in range(4))
        return EngineScenario(capacity=cap, link_capacity=lcap, lead_time=lead, demand_factor=dem, name=name)

    def losses(self, draws: list[list[Event]]) -> np.ndarray:
        """Loss of each draw: array ``(len(draws), 1 + consumers)``, column 0 the total (``WORLD``).

        Draws with nothing acting are 0 without an engine run. The others are grouped by their first
        shocked day (:func:`first_shocked_day`; before it a run is on its baseline, so a draw may start
        on any earlier day with exactly the same losses) into batched engine calls, each starting at
        its earliest member's first day (:func:`start_groups`).
        """
        from ..sim import simulate

        out = np.zeros((len(draws), 1 + len(self.consumers)))
        live: list[tuple[int, Any]] = []
        starts: list[int] = []
        for r, evs in enumerate(draws):
            s = self.engine_scenario(evs, name=f"draw {r}")
            if s is not None:
                t0 = first_shocked_day(s, self.net, self.steps) if self.shift_ok else 0
                if t0 < self.steps:  # else nothing acts within the horizon: no loss
                    live.append((r, s))
                    starts.append(t0)
        groups = [(t0, [live[k] for k in ks]) for t0, ks in start_groups(starts, self.steps)]
        for t0, members in groups:
            scen = [shifted(s, t0) for _r, s in members]
            res = simulate(self.net, scen, steps=self.steps - t0, rationing=self.comp.rationing,
                           inventory_days=self.inventory_days, tau=self.tau_days, mode="extended",
                           extensions=self.extensions, record_firms=self.recorded, firm_series=("production",))
            for b, (r, _s) in enumerate(members):
                out[r] = self._loss(_Padded(res, b, t0, self.net.n_firms))
        # an unshocked run stays on its baseline up to rounding (~1e-16): below LOSS_FLOOR is no loss
        out[np.abs(out) < LOSS_FLOOR] = 0.0
        return np.clip(out, 0.0, 1.0)

    def _loss(self, run: Any) -> np.ndarray:
        """One draw's loss row (WORLD, consumers) from its engine series."""
        row = np.zeros(1 + len(self.consumers))
        stock, _names = _stock(self.index, self.comp, run, 1)
        row[0] = stock.loss_pct / 100.0
        if self.consumers:
            kb = stock.baseline.sum(axis=0)
            got = stock.running.sum(axis=0)
            row[1:] = np.divide(np.maximum(kb - got, 0.0), kb, out=np.zeros_like(kb), where=kb > 0)
        return row


STEP_COST_FIXED = 1.5
"""Cost of one engine step of a batch that does not grow with the batch, in units of one draw's share
of a step (measured on the bundled atlas, 365-day draws, compiled step: 255-384 us a step with 1 draw,
97-130 us a draw-step with 8-16; bench/RESULTS.md, 2026-12-01 "Monte Carlo draws batched across start
days"). Only the grouping of draws depends on it, never a loss."""


def start_groups(starts: list[int] | np.ndarray, steps: int,
                 fixed: float = STEP_COST_FIXED) -> list[tuple[int, list[int]]]:
    """Group draws for batched engine calls: ``[(start step, [draw positions]), ...]``.

    A call starting at step ``t`` costs ``(steps - t) * (fixed + size)`` (a step's fixed part, plus one
    unit per draw); each draw must start no later than its own first shocked day. Draws sorted by
    their first day are cut into consecutive groups, each starting at its first member's day, at the
    least total cost (dynamic programming over the cut points). Consecutive groups are enough: moving a
    draw from a group that starts earlier to one that starts later, but not after its own first day,
    only lowers the cost.

    Examples
    --------
    Two draws that start together share a call; a draw that starts much later gets its own:

    >>> start_groups([0, 0, 300], 365)
    [(0, [0, 1]), (300, [2])]
    >>> start_groups([10, 12], 365)
    [(10, [0, 1])]
    """
    order = sorted(range(len(starts)), key=lambda k: (int(starts[k]), k))
    t = [int(starts[k]) for k in order]
    n = len(t)
    best = [0.0] + [np.inf] * n  # best[j]: least cost of the first j draws (in start order)
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j):  # the last group is draws i..j-1, starting at t[i]
            c = best[i] + (steps - t[i]) * (fixed + (j - i))
            if c < best[j]:
                best[j], cut[j] = c, i
    groups = []
    j = n
    while j > 0:
        i = cut[j]
        groups.append((t[i], sorted(order[i:j])))
        j = i
    return groups[::-1]


def first_shocked_day(scenario: Any, net: Any, steps: int) -> int:
    """The first step at which any schedule of an engine scenario leaves its baseline value (capacity,
    link caps and demand factors 1, lead times the links' own); ``steps`` when none does.

    Before that step a run is on its baseline, so it can start there (:func:`shifted`).

    Examples
    --------
    >>> from paxsilica.sim import Scenario, Schedule, SupplyNetwork
    >>> net = SupplyNetwork.from_arrays([0], [1], [1.0], final_demand=[0.0, 1.0])
    >>> s = Scenario(capacity=Schedule([0], [[1.0], [1.0], [0.5], [1.0]]))
    >>> first_shocked_day(s, net, 10), first_shocked_day(Scenario(), net, 10)
    (2, 10)
    """
    first = steps
    for sched, base in ((scenario.capacity, 1.0), (scenario.link_capacity, 1.0), (scenario.demand_factor, 1.0),
                        (scenario.lead_time, None)):
        if sched is None:
            continue
        ref = (np.asarray(net.lead_time, np.float64)[sched.index] if base is None else base)
        moved = np.flatnonzero(np.any(sched.values != ref, axis=1))
        if moved.size:
            first = min(first, int(moved[0]))
    if getattr(scenario, "shocks", None) is not None and scenario.shocks.firm.size:
        first = min(first, int(np.min(scenario.shocks.day)))
    return max(0, min(first, steps))


def shifted(scenario: Any, t0: int) -> Any:
    """The engine scenario from step ``t0`` on (its schedules' first ``t0`` rows dropped)."""
    from ..sim import Schedule

    if t0 <= 0:
        return scenario

    def cut(s: Any) -> Any:
        if s is None:
            return None
        v = s.values
        return Schedule(s.index, v[t0:] if v.shape[0] > t0 else v[-1:])

    return dataclasses.replace(scenario, capacity=cut(scenario.capacity), link_capacity=cut(scenario.link_capacity),
                               demand_factor=cut(scenario.demand_factor), lead_time=cut(scenario.lead_time))


class _Padded:
    """A draw's rows of a run started at step ``t0``, preceded by ``t0`` baseline rows (the setup row's
    values: the state a run from day 0 holds until its first shock, up to the engine's rounding)."""

    def __init__(self, res: Any, b: int, t0: int, n_firms: int | None = None) -> None:
        def pad(a: Any) -> Any:
            if a is None:
                return None
            a = a[b]
            return np.concatenate([np.repeat(a[:1], t0 + 1, axis=0), a[1:]], axis=0)

        self.final_demand = pad(res.final_demand)
        self.final_demand_requested = pad(res.final_demand_requested)
        fp = pad(res.firm_production)
        if fp is not None and getattr(res, "firm_index", None) is not None:  # the recorded firms' columns only
            full = np.zeros((fp.shape[0], n_firms))
            full[:, res.firm_index] = fp
            fp = full
        self.firm_production = fp
        self.consumer_final_demand = pad(res.consumer_final_demand)
        self.consumer_final_demand_requested = pad(res.consumer_final_demand_requested)
        self.parameters = res.parameters
