"""Run: draws in batches, in this process or on a Dask cluster, then the risk summary and the tail's drivers.

:func:`run_montecarlo` splits the draws ``0..N-1`` into batches of ``batch_size``; a batch is one task
(:func:`draw_batch`): it makes its draws' events (:func:`~paxsilica.montecarlo.draw.draw_events`, each
draw from its own seed), runs them as one engine call per target
(:meth:`~paxsilica.montecarlo.model.TargetModel.losses`) and returns the losses and the events. Tasks
run in this process (``backend="inline"``, the default), on a ``LocalCluster`` of ``workers``
processes, or on an existing cluster (``scheduler="tcp://HOST:PORT"``); each worker builds the network
once and keeps it for its later tasks. Results are put back in draw order, so the output does not
depend on the backend, the number of workers or the batch size.

After the draws, the **tail's drivers**: each draw's total loss is divided among its events in
proportion to the events' stand-alone losses (each event of a draw with several events in the tail of
the lowest level is run alone, in one more round of batched tasks; a single event takes the whole
loss; if no event loses anything alone, the draw's loss is split equally). The Euler allocation of ES
(:func:`~paxsilica.montecarlo.risk.euler_contributions`) of these parts gives the contribution of each
event kind, each hazard and each chokepoint (loss of events that close none: ``(none)``); the
contributions add up to ES.

Ctrl-C (``KeyboardInterrupt``) stops the run: what is done is kept, summarized and marked
``complete: false``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .catalogue import Catalogue
from .draw import Event, draw_events, event_chokepoints, event_fields
from .model import WORLD, TargetModel
from .risk import euler_contributions, exceedance_curve, summarize, tail_draws

DEFAULT_DRAWS = 10_000
DEFAULT_SEED = 12
DEFAULT_HORIZON_DAYS = 365
DEFAULT_LEVELS = (0.95, 0.99)
DEFAULT_THRESHOLDS = (0.01, 0.05, 0.10, 0.25)
"""Losses (fractions of the horizon's baseline) whose exceedance probability is reported."""
DEFAULT_BATCH = 16
"""Draws per engine call (and per task): enough to amortize the call, small enough for memory."""
MAX_DRAWS = 10_000_000
MAX_HORIZON_DAYS = 3_650

EVENT_COLUMNS = ("draw", "event", "kind", "item", "country", "chokepoint", "region", "site", "start_day",
                 "duration_days", "severity")
LOSS_COLUMNS = ("draw", "target", "consumer", "loss")


@dataclass(frozen=True)
class Spec:
    """Everything a task needs besides the atlas (plain, picklable data)."""

    catalogue: Catalogue
    seed: int
    horizon_days: int
    targets: tuple[str, ...]
    inventory_days: float
    tau_days: float
    atlas_version: str
    model: Callable[..., Any] | None = None
    """Test hook: ``model(atlas, target, spec)`` returning an object with ``losses(draws)`` and
    ``consumers`` (default: :class:`~paxsilica.montecarlo.model.TargetModel`)."""

    def key(self) -> tuple:
        return (self.atlas_version, self.catalogue.sha256, self.horizon_days, self.targets, self.inventory_days,
                self.tau_days, self.model)


@dataclass(frozen=True)
class BatchResult:
    """What a task returns: its draws, their loss per target (rows: draws; columns: WORLD, consumers),
    the consumers of each target and the events' rows."""

    draws: np.ndarray
    losses: dict[str, np.ndarray]
    consumers: dict[str, tuple[str, ...]]
    events: pd.DataFrame
    n_events: np.ndarray


@dataclass
class MonteCarloResult:
    """A run's result: ``meta`` (run.json), ``losses`` and ``events`` (the output contract's tables),
    ``summary`` (one row per target, consumer, measure and level), ``contributions`` (ES by event kind,
    hazard and chokepoint), ``curve`` (loss exceedance per target, WORLD), ``notes``."""

    meta: dict[str, Any]
    losses: pd.DataFrame
    events: pd.DataFrame
    summary: pd.DataFrame
    contributions: pd.DataFrame
    curve: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.meta.get("complete"))


# --------------------------------------------------------------------------- tasks (run anywhere)


def _models(spec: Spec, atlas: Any, cache: dict) -> dict[str, Any]:
    key = spec.key()
    if key not in cache:
        cache.clear()  # one run's networks at a time per process
        make = spec.model or (lambda a, t, s: TargetModel(a, t, s.catalogue, s.horizon_days,
                                                           inventory_days=s.inventory_days, tau_days=s.tau_days,
                                                           version=s.atlas_version))
        cache[key] = {t: make(atlas, t, spec) for t in spec.targets}
    return cache[key]


def _worker_cache() -> dict:
    """The cache of this Dask worker (kept on the worker object between tasks), or of this process."""
    try:
        from distributed import get_worker

        w = get_worker()
    except (ImportError, ValueError):
        return _PROCESS_CACHE
    c = getattr(w, "_paxsilica_montecarlo", None)
    if c is None:
        c = {}
        w._paxsilica_montecarlo = c
    return c


_PROCESS_CACHE: dict = {}
"""Used only by tasks run outside a Dask worker without a cache of their own (a process's networks)."""


def draw_batch(spec: Spec, atlas: Any, first: int, stop: int, cache: dict | None = None) -> BatchResult:
    """Draws ``first..stop-1``: their events and their losses for every target."""
    models = _models(spec, atlas, _worker_cache() if cache is None else cache)
    draws = list(range(first, stop))
    evs = [draw_events(spec.catalogue, spec.seed, d, spec.horizon_days) for d in draws]
    rows: list[dict[str, Any]] = []
    for d, events in zip(draws, evs, strict=True):
        for k, e in enumerate(events):
            rows.append({"draw": d, "event": k, **event_fields(e)})
    losses = {t: np.asarray(m.losses(evs), float) for t, m in models.items()}
    # columns, not a dict per event: what a worker sends back and the client keeps for 10^5 draws
    table = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    return BatchResult(np.array(draws, np.int64), losses, {t: tuple(m.consumers) for t, m in models.items()}, table,
                       np.array([len(e) for e in evs], np.int64))


def alone_batch(spec: Spec, atlas: Any, target: str, items: Sequence[tuple[int, int]],
                cache: dict | None = None) -> np.ndarray:
    """Stand-alone total loss (WORLD) of event ``k`` of draw ``d`` for each ``(d, k)`` of ``items``."""
    models = _models(spec, atlas, _worker_cache() if cache is None else cache)
    one: list[list[Event]] = []
    memo: dict[int, list[Event]] = {}
    for d, k in items:
        if d not in memo:
            memo[d] = draw_events(spec.catalogue, spec.seed, d, spec.horizon_days)
        one.append([memo[d][k]])
    return np.asarray(models[target].losses(one), float)[:, 0]


# --------------------------------------------------------------------------- backends


class _Inline:
    """Tasks run one after the other in this process."""

    def __init__(self) -> None:
        self.cache: dict = {}

    def run(self, fn: Callable[..., Any], args: list[tuple], atlas: Any, spec: Spec,
            progress: Callable[[int], None]) -> tuple[list[Any], bool]:
        out: list[Any] = [None] * len(args)
        try:
            for i, a in enumerate(args):
                out[i] = fn(spec, atlas, *a, cache=self.cache)
                progress(1)
        except KeyboardInterrupt:
            return out, False
        return out, True

    def close(self) -> None:
        self.cache.clear()


class _Dask:
    """Tasks on a Dask cluster: a LocalCluster of ``workers`` processes, or an existing scheduler."""

    def __init__(self, workers: int | None, scheduler: str | None, threads: bool = False) -> None:
        import logging

        try:
            from distributed import Client, LocalCluster
        except ImportError as e:  # pragma: no cover - a dependency
            raise InputError(f"the Dask backend needs dask[distributed]: {e}") from None
        self.cluster = None
        # the cluster's own chatter (INFO lines, tracebacks of comms closed at shutdown) is not the user's
        self._log = logging.getLogger("distributed")
        self._level = self._log.level
        self._log.setLevel(logging.ERROR)
        try:
            if scheduler:
                self.client = Client(scheduler, timeout="15s", set_as_default=False)
            else:
                # the scheduler's HTTP server on a free local port: without one it takes 8787 and warns
                # when another cluster has it
                self.cluster = LocalCluster(n_workers=int(workers or 1), threads_per_worker=1,
                                            processes=not threads, dashboard_address="127.0.0.1:0",
                                            silence_logs=logging.ERROR)
                self.client = Client(self.cluster, set_as_default=False)
        except (OSError, ValueError) as e:  # unreachable, or not an address
            if self.cluster is not None:
                self.cluster.close()
            self._log.setLevel(self._level)
            raise InputError(f"cannot reach the Dask scheduler {scheduler or '(local)'}: {e}") from None
        self._scattered: dict[int, Any] = {}

    def _put(self, obj: Any) -> Any:
        if id(obj) not in self._scattered:
            self._scattered[id(obj)] = self.client.scatter(obj, broadcast=True, hash=False)
        return self._scattered[id(obj)]

    def run(self, fn: Callable[..., Any], args: list[tuple], atlas: Any, spec: Spec,
            progress: Callable[[int], None]) -> tuple[list[Any], bool]:
        from distributed import as_completed

        a_f, s_f = self._put(atlas), self._put(spec)
        futs = [self.client.submit(fn, s_f, a_f, *a, pure=False) for a in args]
        pos = {f.key: i for i, f in enumerate(futs)}
        out: list[Any] = [None] * len(args)
        try:
            for f in as_completed(futs, loop=self.client.loop):
                out[pos[f.key]] = f.result()
                progress(1)
        except KeyboardInterrupt:
            import logging

            self._log.setLevel(logging.CRITICAL + 1)
            self.client.cancel(futs)
            return out, False
        return out, True

    def close(self) -> None:
        import logging

        # closing a LocalCluster (after Ctrl-C above all) logs its workers' shutdown as errors
        self._log.setLevel(logging.CRITICAL + 1)
        try:
            self.client.close()
        finally:
            try:
                if self.cluster is not None:
                    self.cluster.close()
            finally:
                self._log.setLevel(self._level)


# --------------------------------------------------------------------------- the run


def _check(draws: int, horizon: int, levels: Sequence[float], batch: int, workers: int | None,
           scheduler: str | None, targets: Sequence[str]) -> None:
    if not 1 <= draws <= MAX_DRAWS:
        raise InputError(f"draws must be between 1 and {MAX_DRAWS:,}, got {draws}")
    if not 1 <= horizon <= MAX_HORIZON_DAYS:
        raise InputError(f"horizon must be between 1 and {MAX_HORIZON_DAYS:,} days, got {horizon}")
    for a in levels:
        if not (isinstance(a, float | int) and 0 < a < 1):
            raise InputError(f"levels must lie strictly between 0 and 1, got {a}")
    if batch < 1:
        raise InputError(f"batch size must be at least 1, got {batch}")
    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    if workers is not None and scheduler:
        raise InputError("give either --workers (a local cluster) or --scheduler (an existing one), not both")
    if not targets:
        raise InputError("at least one target is needed")


def run_montecarlo(
    atlas: Any,
    catalogue: Catalogue,
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    targets: Sequence[str] = ("ai_datacenter_capacity",),
    levels: Sequence[float] = DEFAULT_LEVELS,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    batch_size: int = DEFAULT_BATCH,
    workers: int | None = None,
    scheduler: str | None = None,
    threads: bool = False,
    inventory_days: float = 15.0,
    tau_days: float = 6.0,
    atlas_version: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    model: Callable[..., Any] | None = None,
    cache: dict | None = None,
) -> MonteCarloResult:
    """Draw ``draws`` horizons of events from ``catalogue``, run them through the stress model and
    summarize the loss distribution.

    Parameters
    ----------
    atlas : Atlas
    catalogue : Catalogue
    draws, seed, horizon_days : int
        Number of draws, their seed (same seed, same result whatever the backend) and days per draw.
    targets : sequence of str
        Items whose loss is measured (each on its own network).
    levels : sequence of float
        VaR/ES levels, e.g. ``(0.95, 0.99)``.
    thresholds : sequence of float
        Losses whose exceedance probability is reported.
    batch_size : int
        Draws per engine call and per task.
    workers : int, optional
        Run on a LocalCluster of this many worker processes.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://HOST:PORT``).
    threads : bool
        The LocalCluster's workers are threads of this process (for tests; the engine holds the GIL
        for much of a step, so processes are what scales).
    inventory_days, tau_days : float
        As for a stress run.
    progress : callable, optional
        ``progress(done, total)`` after each task (total counts the tail round once it is known).
    model : callable, optional
        Test hook (see :class:`Spec`).
    cache : dict, optional
        Keeps the in-process networks between runs (a service's cache).

    Returns
    -------
    MonteCarloResult
    """
    targets = tuple(dict.fromkeys(targets))
    levels = tuple(sorted(float(a) for a in levels))
    _check(int(draws), int(horizon_days), levels, int(batch_size), workers, scheduler, targets)
    version = str(getattr(atlas, "version", "")) if atlas_version is None else atlas_version
    spec = Spec(catalogue, int(seed), int(horizon_days), targets, float(inventory_days), float(tau_days), version,
                model)
    spans = [(a, min(a + batch_size, draws)) for a in range(0, draws, batch_size)]
    total = [len(spans)]
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total[0])

    backend: Any
    if workers is None and not scheduler:
        backend = _Inline()
        if cache is not None:
            backend.cache = cache
    else:
        backend = _Dask(workers, scheduler, threads)
    notes: list[str] = []
    try:
        batches, complete = backend.run(draw_batch, spans, atlas, spec, tick)
        got = [b for b in batches if b is not None]
        if not got:
            raise KeyboardInterrupt  # stopped before any batch finished: nothing to keep
        losses, n_events, draw_ids, consumers, events = _collect(got, targets)
        parts = None
        if complete:
            parts, complete = _tail_parts(backend, spec, atlas, losses, n_events, draw_ids, levels, total, tick,
                                          events)
        else:
            notes.append(f"interrupted: {draw_ids.size:,} of {draws:,} draws done")
    finally:
        if not isinstance(backend, _Inline) or cache is None:
            backend.close()
    if parts is None:
        notes.append("the tail's drivers are not computed for an interrupted run")
    return _assemble(spec, catalogue, draws, draw_ids, losses, consumers, events, parts, levels, thresholds,
                     complete, notes)


def _collect(got: list[BatchResult], targets: tuple[str, ...]) -> tuple:
    got = sorted(got, key=lambda b: int(b.draws[0]))
    draw_ids = np.concatenate([b.draws for b in got])
    n_events = np.concatenate([b.n_events for b in got])
    consumers = {t: got[0].consumers[t] for t in targets}
    losses = {t: np.vstack([b.losses[t] for b in got]) for t in targets}
    frames = [b.events for b in got if len(b.events)]
    events = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(EVENT_COLUMNS))
    return losses, n_events, draw_ids, consumers, events


def _tail_parts(backend: Any, spec: Spec, atlas: Any, losses: dict[str, np.ndarray], n_events: np.ndarray,
                draw_ids: np.ndarray, levels: tuple[float, ...], total: list[int],
                tick: Callable[[int], None], events: pd.DataFrame | None = None,
                ) -> tuple[dict[str, dict[int, np.ndarray]] | None, bool]:
    """Per target, each tail draw's loss split among its events (by their stand-alone losses).

    The stand-alone runs go to the tasks in order of the events' start days (``events``, the run's
    events table): a task's events then start close together, so they share engine calls that start
    late (:func:`~paxsilica.montecarlo.model.start_groups`). An event's stand-alone loss does not
    depend on the other runs of its call, so the order changes the cost only.
    """
    todo: dict[str, list[tuple[int, int]]] = {}
    tails: dict[str, np.ndarray] = {}
    start: dict[tuple[int, int], float] = {}
    if events is not None and len(events):
        keys = zip(events["draw"].astype(int).tolist(), events["event"].astype(int).tolist(), strict=True)
        start = dict(zip(keys, events["start_day"].astype(float).tolist(), strict=True))
    for t in spec.targets:
        world = losses[t][:, 0]
        pos = tail_draws(world, levels[0])
        pos = pos[world[pos] > 0]
        tails[t] = pos
        todo[t] = [(int(draw_ids[p]), k) for p in pos if n_events[p] > 1 for k in range(int(n_events[p]))]
        todo[t].sort(key=lambda dk: (start.get(dk, 0.0), dk))
    args = [(t, items[a:a + 16]) for t, items in todo.items() for a in range(0, len(items), 16)]
    total[0] += len(args)
    alone: dict[tuple[str, int, int], float] = {}
    if args:
        outs, complete = backend.run(alone_batch, args, atlas, spec, tick)
        if not complete:
            return None, False
        for (t, items), vals in zip(args, outs, strict=True):
            for (d, k), v in zip(items, vals, strict=True):
                alone[(t, d, k)] = float(v)
    parts: dict[str, dict[int, np.ndarray]] = {}
    for t in spec.targets:
        world = losses[t][:, 0]
        pt: dict[int, np.ndarray] = {}
        for p in tails[t]:
            d, n = int(draw_ids[p]), int(n_events[p])
            if n == 1:
                pt[int(p)] = np.array([world[p]])
                continue
            s = np.array([max(alone[(t, d, k)], 0.0) for k in range(n)])
            pt[int(p)] = world[p] * (s / s.sum() if s.sum() > 0 else np.full(n, 1.0 / n))
        parts[t] = pt
    return parts, True


def _contributions(spec: Spec, world: np.ndarray, parts: dict[int, np.ndarray], draw_ids: np.ndarray,
                   levels: tuple[float, ...], target: str) -> list[dict[str, Any]]:
    """ES contributions by kind, hazard and chokepoint (they add up to ES at each level)."""
    cat = spec.catalogue
    kinds = list(dict.fromkeys(h.kind for h in cat.hazards))
    hazards = [h.id for h in cat.hazards]
    cps = sorted({c for h in cat.hazards for e in h.effects if e.type == "chokepoint_closure" for c in [e.chokepoint]})
    cps_all = [*cps, "(none)"]
    n = world.size
    by = {"kind": (kinds, np.zeros((n, len(kinds)))), "hazard": (hazards, np.zeros((n, len(hazards)))),
          "chokepoint": (cps_all, np.zeros((n, len(cps_all))))}
    for p, share in parts.items():
        evs = draw_events(cat, spec.seed, int(draw_ids[p]), spec.horizon_days)
        for e, v in zip(evs, share, strict=True):
            by["kind"][1][p, kinds.index(e.kind)] += v
            by["hazard"][1][p, e.hazard] += v
            closed = event_chokepoints(e)
            if closed:
                for c in closed:
                    by["chokepoint"][1][p, cps_all.index(c)] += v / len(closed)
            else:
                by["chokepoint"][1][p, -1] += v
    rows = []
    for a in levels:
        es = None
        for what, (names, mat) in by.items():
            # draws outside the lowest level's tail carry no weight at any level, so zeros there are exact
            c = euler_contributions(world, mat, a)
            es = float(c.sum()) if es is None else es
            tot = float(c.sum())
            for name, v in zip(names, c, strict=True):
                rows.append({"target": target, "level": a, "by": what, "name": name, "es_contribution": float(v),
                             "share": float(v / tot) if tot > 0 else 0.0})
    return rows


def _assemble(spec: Spec, catalogue: Catalogue, asked: int, draw_ids: np.ndarray, losses: dict[str, np.ndarray],
              consumers: dict[str, tuple[str, ...]], events: pd.DataFrame,
              parts: dict[str, dict[int, np.ndarray]] | None, levels: tuple[float, ...],
              thresholds: Sequence[float], complete: bool, notes: list[str]) -> MonteCarloResult:
    from .. import __version__

    n = draw_ids.size
    loss_frames = []
    summary_rows: list[dict[str, Any]] = []
    contrib_rows: list[dict[str, Any]] = []
    curves = []
    for t in spec.targets:
        names = (WORLD, *consumers[t])
        mat = losses[t]
        loss_frames.append(pd.DataFrame({
            "draw": np.repeat(draw_ids, len(names)).astype(np.int64),
            "target": pd.array(np.full(n * len(names), t, dtype=object), dtype="string"),
            "consumer": pd.array(np.tile(np.array(names, dtype=object), n), dtype="string"),
            "loss": mat.reshape(-1).astype(float)}))
        for c, name in enumerate(names):
            for r in summarize(mat[:, c], levels, thresholds):
                summary_rows.append({"target": t, "consumer": name, **r})
        curves.append(exceedance_curve(mat[:, 0]).assign(target=t))
        if parts is not None:
            contrib_rows += _contributions(spec, mat[:, 0], parts[t], draw_ids, levels, t)
    ev = events[list(EVENT_COLUMNS)].reset_index(drop=True)
    ev = ev.astype({"draw": "int64", "event": "int64", "start_day": "float64", "duration_days": "float64",
                    "severity": "float64"})
    for c in ("kind", "item", "country", "chokepoint", "region", "site"):
        ev[c] = pd.array(ev[c].tolist(), dtype="string")
    summary = pd.DataFrame(summary_rows, columns=["target", "consumer", "measure", "level", "value", "se",
                                                  "tail_draws", "warning"])
    contributions = pd.DataFrame(contrib_rows, columns=["target", "level", "by", "name", "es_contribution", "share"])
    warnings = sorted({w for w in summary.loc[summary["consumer"] == WORLD, "warning"] if w})
    meta = {
        "seed": spec.seed, "draws": int(n), "draws_requested": int(asked), "horizon_days": spec.horizon_days,
        "catalogue": {"path": catalogue.file, "sha256": catalogue.sha256, "name": catalogue.name},
        "atlas_version": spec.atlas_version, "targets": list(spec.targets), "levels": list(levels),
        "thresholds": [float(x) for x in thresholds], "complete": bool(complete),
        "paxsilica_version": str(__version__),
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "inventory_days": spec.inventory_days, "tau_days": spec.tau_days, "warnings": warnings,
        "events_per_draw": float(len(events) / n) if n else math.nan,
        "draws_without_events": int(n - ev["draw"].nunique()) if n else 0,
    }
    return MonteCarloResult(meta, pd.concat(loss_frames, ignore_index=True), ev, summary, contributions,
                            pd.concat(curves, ignore_index=True), notes)


def replace_meta(result: MonteCarloResult, **kw: Any) -> MonteCarloResult:
    """A copy of ``result`` with ``meta`` keys replaced (e.g. the catalogue path as the user wrote it)."""
    return dataclasses.replace(result, meta={**result.meta, **kw})
