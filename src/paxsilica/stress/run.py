"""Run: the one pipeline of single runs, library runs and band runs.

Every run goes prepare → execute → measure: :class:`~paxsilica.stress.prepare.Prepared` builds the
network once per (atlas, step, surge capacity) and compiles each scenario into a
:class:`~paxsilica.stress.prepare.Job`; :func:`execute` runs the engine (one call, or one batched call
over the band draws); :func:`~paxsilica.stress.measure.measure` turns the run into measures.
:func:`run_stress` adds the per-step series (:func:`~paxsilica.stress.measure.assemble`);
:func:`run_library` tabulates many scenarios, in worker processes.

Examples
--------
>>> from paxsilica.network.build import tiny_atlas
>>> from paxsilica.scenarios import parse_scenario
>>> s = parse_scenario("name: t\\ndescription: d\\nhorizon: 40\\nshocks:\\n  - {type: export_ban, "
...                    "exporter: JPN, items: [wafer], start: 0}\\n")
>>> prep = Prepared(tiny_atlas(), target="chip", consumers="producers", year=None, lanes=None)
>>> job = prep.job(s, steps=None, lanes_under=None, inventory_days=10)
>>> res, slices = execute(job, inventory_days=10, tau_days=DEFAULT_TAU_DAYS)
>>> slices is None, measure(job, res, slices, "chip").summary["time_to_survive_days"]
(True, 16)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, PaxsilicaError
from ..network.build import DEFAULT_TARGET
from ..scenarios.compile import CompiledScenario
from ..scenarios.schema import Scenario
from .measure import (
    DEFAULT_INVENTORY_DAYS,
    DEFAULT_TAU_DAYS,
    SURVIVE_THRESHOLD,
    Measured,
    StressResult,
    assemble,
    measure,
)
from .prepare import Job, Prepared, band_seed, check_fit, check_parameters


def _simulate(net: Any, comp: CompiledScenario, scenario: Scenario, inventory_days: float, tau_days: float) -> Any:
    """One engine run of a compiled scenario (central values)."""
    from ..sim import simulate

    return simulate(net, comp.engine_scenario, steps=comp.steps, rationing=comp.rationing,
                    inventory_days=inventory_days / scenario.step, tau=tau_days / scenario.step,
                    mode="extended", extensions=comp.extensions, record_firms=True, firm_series=("production",))


def _run_draws(net: Any, index: Any, comp: CompiledScenario, scenario: Scenario, draws: Any,
               inventory_days: float, tau_days: float) -> list[Any]:
    """One batched engine call over the band draws; a per-draw view of the result for each."""
    from ..bands import batched_extensions
    from ..sim import simulate

    pol = scenario.policies
    ext = batched_extensions(comp.extensions, draws, step_days=scenario.step, inventory_days=inventory_days,
                             surge_capacity=pol.surge_capacity, ramp_up_days=pol.ramp_up_days,
                             virtual=(index.sites["kind"].to_numpy() != "site"))
    res = simulate(net, [comp.engine_scenario] * draws.n, steps=comp.steps, rationing=comp.rationing,
                   inventory_days=inventory_days / scenario.step, tau=tau_days / scenario.step, mode="extended",
                   extensions=ext, record_firms=True, firm_series=("production",), amounts=draws.amounts,
                   final_demand=draws.final_demand)
    return [_Slice(res, b, comp.steps) for b in range(draws.n)]


def execute(job: Job, inventory_days: float, tau_days: float) -> tuple[Any, list[Any] | None]:
    """Run the engine for a job: ``(central result, per-draw slices or None)``; draw 0 is the central run."""
    if job.draws is None:
        return _simulate(job.net, job.comp, job.scenario, inventory_days, tau_days), None
    slices = _run_draws(job.net, job.index, job.comp, job.scenario, job.draws, inventory_days, tau_days)
    return slices[0], slices


def run_stress(
    scenario: Scenario,
    atlas: Any,
    *,
    target: str = DEFAULT_TARGET,
    consumers: Any = "producers",
    steps: int | None = None,
    for_country: str | None = None,
    inventory_days: float = DEFAULT_INVENTORY_DAYS,
    tau_days: float = DEFAULT_TAU_DAYS,
    year: int | None = None,
    lanes: pd.DataFrame | None = None,
    lanes_under: Callable[[frozenset], pd.DataFrame] | None = None,
    check: bool = True,
    progress: Callable[[str], None] | None = None,
    bands: int = 0,
    seed: int | None = None,
    prepared: Prepared | None = None,
) -> StressResult:
    """Run a scenario on an atlas.

    Parameters
    ----------
    scenario : Scenario
    atlas : Atlas
    target : str
        Item whose final demand is measured (default ``ai_datacenter_capacity``).
    consumers : see :func:`paxsilica.network.build_index`
    steps : int, optional
        Steps to run (default: the scenario's horizon).
    for_country : str, optional
        Focus country: its consumer series and its sites are summarized in ``summary["focus"]``.
    inventory_days, tau_days : float
        Working inventory and adjustment time, in days (converted to steps).
    year : int, optional
        Atlas year (latest not after it).
    lanes, lanes_under : optional
        Lane tables for the baseline and under closures (default: from the logistics module).
    check : bool
        Check the scenario against the atlas first (unknown items, countries, … raise).
    progress : callable, optional
        Called with a stage name ("network", "compile", "simulate", "measures") as each begins.
    bands : int
        Draws of the parameter ranges for uncertainty bands (:mod:`paxsilica.bands`; 0: none). The
        central run is draw 0 of the same batch; ``summary["bands"]`` holds each headline measure's
        5th–95th percentile and the parameters that drive it.
    seed : int, optional
        Seed of the band draws (default :data:`paxsilica.bands.DEFAULT_SEED`).
    prepared : Prepared, optional
        The network of this atlas for this ``target``, ``consumers``, ``year`` and ``lanes``, kept by
        the caller between runs (a service's cache); built here when not given.

    Returns
    -------
    StressResult
    """
    say = progress or (lambda _s: None)
    if check:
        check_fit(scenario, atlas)
    check_parameters(inventory_days, tau_days)
    say("network")
    prep = prepared or Prepared(atlas, target=target, consumers=consumers, year=year, lanes=lanes)
    prep.network(scenario.step, scenario.policies.surge_capacity)
    say("compile")
    job = prep.job(scenario, steps=steps, lanes_under=lanes_under, inventory_days=inventory_days, bands=bands,
                   seed=seed)
    say("simulate")
    res, slices = execute(job, inventory_days, tau_days)
    say("measures")
    measured = measure(job, res, slices, target)
    params = {"target": target, "consumers": consumers if isinstance(consumers, str) else list(consumers),
              "steps": job.comp.steps, "step_days": scenario.step, "inventory_days": inventory_days,
              "tau_days": tau_days, "year": year, "for_country": for_country,
              "survive_threshold": SURVIVE_THRESHOLD, "bands": int(bands),
              "seed": band_seed(seed) if bands else seed, "engine": res.parameters}
    return assemble(job, measured, res, atlas, target, for_country, params, atlas_version=prep.version)


LIBRARY_COLUMNS = ("scenario", "name", "description", "sources", "horizon_days", "step_days", "first_shock_day",
                   "loss_pct", "lost_units", "min_level", "time_to_survive_days", "time_to_recover_days",
                   "lost_additions_pct", "lost_operation_pct", "additions_loss_pct", "bands", "checks",
                   "most_affected_items", "most_affected_consumers", "level", "atlas_version", "note")
"""Columns of :func:`run_library`'s table."""


def _batch_key(comp: CompiledScenario, scenario: Scenario) -> tuple | None:
    """Scenarios with equal keys can share one batched engine call: the engine takes one step count,
    one rationing rule and one set of extensions per batch. ``None``: run alone."""
    ext = comp.extensions

    def arr(v: Any) -> Any:
        return None if v is None else (np.asarray(v, float).tobytes() if np.ndim(v) else float(v))

    if ext.stockpile_days is not None:
        return None
    return (comp.steps, scenario.step, scenario.policies.surge_capacity, comp.rationing, ext.lead_times, ext.resourcing,
            arr(ext.ramp_days) if ext.resourcing else 0, arr(ext.capacity_headroom) if ext.resourcing else None,
            arr(ext.inventory_days), arr(ext.substitution), arr(ext.substitution_days),
            ext.stockpile_release_day, ext.stockpile_release_rate, ext.order_target, ext.settle_tol)


class _Slice:
    """One scenario's rows of a batched engine result, cut to its own horizon."""

    def __init__(self, res: Any, b: int, steps: int) -> None:
        t1 = steps + 1
        self.step = res.step[:t1]
        self.final_demand = res.final_demand[b, :t1]
        self.final_demand_requested = res.final_demand_requested[b, :t1]
        self.firm_production = res.firm_production[b, :t1]
        cfd, cfr = res.consumer_final_demand, res.consumer_final_demand_requested
        self.consumer_final_demand = None if cfd is None else cfd[b, :t1]
        self.consumer_final_demand_requested = None if cfr is None else cfr[b, :t1]
        self.parameters = res.parameters


def run_library(
    atlas: Any,
    names: list[str | Path | Scenario] | None = None,
    *,
    target: str = DEFAULT_TARGET,
    consumers: Any = "producers",
    steps: int | None = None,
    inventory_days: float = DEFAULT_INVENTORY_DAYS,
    tau_days: float = DEFAULT_TAU_DAYS,
    year: int | None = None,
    lanes: pd.DataFrame | None = None,
    lanes_under: Callable[[frozenset], pd.DataFrame] | None = None,
    batch: bool = False,
    errors: str = "raise",
    progress: Callable[[str], None] | None = None,
    atlas_version: str | None = None,
    bands: int = 0,
    seed: int | None = None,
    workers: int | None = None,
    prepared: Prepared | None = None,
) -> pd.DataFrame:
    """Run several scenarios (default: every built-in) on one atlas and tabulate their headline measures.

    The atlas network is built once and shared by every scenario (one :func:`run_stress` per
    scenario would rebuild it each time); each scenario is then compiled and simulated on it, and
    measured exactly as :func:`run_stress` measures it, without the per-step series of every site.

    Parameters
    ----------
    atlas : Atlas
    names : list of str, Path or Scenario, optional
        Built-in scenario names or YAML paths (see :func:`paxsilica.scenarios.load_scenario`), or
        parsed scenarios. Default: every built-in scenario.
    target, consumers, steps, inventory_days, tau_days, year, lanes, lanes_under
        As for :func:`run_stress`; ``steps`` overrides every scenario's horizon.
    batch : bool
        Run compatible scenarios (same steps, rationing rule and engine extensions) as one batched
        engine call. Off by default: on the bundled atlas it is slower (the engine's step is bound by
        array work, not by Python overhead, and a batch runs until its longest scenario settles), and
        the engine settles a batch to its baseline only when every scenario of it is back at
        baseline, so batched results may differ from single runs by the engine's settle tolerance
        (1e-9 relative).
    errors : {"raise", "note"}
        A scenario that does not fit the atlas raises, or (``"note"``) gets a row with the reason in
        ``note`` and missing measures (for the briefing on a user's own atlas).
    progress : callable, optional
        Called with each scenario's name as it is compiled and run.
    atlas_version : str, optional
        The atlas's version when the caller already has it (hashing the atlas takes a while).
    bands, seed : int
        Uncertainty bands from ``bands`` seeded draws per scenario, as for :func:`run_stress`
        (``bands`` and ``checks`` columns); 0: none. With bands, ``batch`` is ignored (each scenario's
        draws are one batch).
    workers : int, optional
        Scenarios run in this many processes (default: the cores available, at most one per
        scenario; ``batch=True`` runs in this process); results do not depend on it.
    prepared : Prepared, optional
        As for :func:`run_stress`.

    Returns
    -------
    DataFrame
        One row per scenario, columns :data:`LIBRARY_COLUMNS`: ``scenario`` (the name asked for),
        ``name`` and ``description`` (from the file), ``sources`` (tuple of citations),
        ``horizon_days``, ``step_days``, ``first_shock_day``, ``loss_pct``, ``lost_units``,
        ``min_level``, ``time_to_survive_days``, ``time_to_recover_days`` (``None``: unlimited / not
        reached, see the module docstring), ``most_affected_items`` and ``most_affected_consumers``
        (comma-separated, most affected first), ``level`` (array: target level per step),
        ``atlas_version``, ``note``.

    Examples
    --------
    >>> from paxsilica.network.build import tiny_atlas
    >>> from paxsilica.scenarios import parse_scenario
    >>> s = parse_scenario("name: t\\ndescription: d\\nhorizon: 40\\nshocks:\\n  - {type: export_ban, "
    ...                    "exporter: JPN, items: [wafer], start: 0}\\n")
    >>> t = run_library(tiny_atlas(), [s], target="chip", inventory_days=10)
    >>> t.loc[0, ["time_to_survive_days", "most_affected_items"]].tolist()
    [16, 'wafer, chip']
    """
    from ..scenarios import list_scenarios, load_scenario

    if errors not in ("raise", "note"):
        raise InputError(f"errors must be 'raise' or 'note', got {errors!r}")
    check_parameters(inventory_days, tau_days)
    say = progress or (lambda _s: None)
    prep = prepared or Prepared(atlas, target=target, consumers=consumers, year=year, lanes=lanes,
                                version=atlas_version)
    rows: list[dict[str, Any]] = []
    todo: list[tuple[int, Job]] = []
    one_by_one = bool(bands) or not batch
    for n in (list(list_scenarios()) if names is None else list(names)):
        s = n if isinstance(n, Scenario) else load_scenario(n)
        row: dict[str, Any] = dict.fromkeys(LIBRARY_COLUMNS)
        row.update(scenario=s.name if isinstance(n, Scenario) else (Path(n).stem if Path(str(n)).suffix else str(n)),
                   name=s.name, description=" ".join(s.description.split()), sources=tuple(s.sources),
                   step_days=s.step, atlas_version=prep.version, note="")
        rows.append(row)
        say(row["scenario"])
        try:
            check_fit(s, atlas)
            # draws are made here, in this process: shared by every scenario and inherited by the workers
            job = prep.job(s, steps=steps, lanes_under=lanes_under, inventory_days=inventory_days,
                           bands=bands if one_by_one else 0, seed=seed)
        except PaxsilicaError as e:
            if errors == "raise":
                raise
            row["note"] = f"not run: {e}"
            continue
        todo.append((len(rows) - 1, job))

    if one_by_one:  # one engine call per scenario (its draws as a batch), in worker processes
        jobs = [job for _r, job in todo]
        n_workers = _workers(workers, len(jobs))
        args = (inventory_days, tau_days, target, errors)
        outs = _in_processes(jobs, args, n_workers) if n_workers > 1 else [_library_job(j, *args) for j in jobs]
    else:
        outs = _batched(jobs=[job for _r, job in todo], inventory_days=inventory_days, tau_days=tau_days,
                        target=target, errors=errors)
    for (r, _job), out in zip(todo, outs, strict=True):
        if isinstance(out, str):
            rows[r]["note"] = out
        elif isinstance(out, BaseException):
            raise out
        else:
            rows[r].update(out)
    return _library_table(rows)


def _batched(jobs: list[Job], *, inventory_days: float, tau_days: float, target: str, errors: str) -> list[Any]:
    """Library rows of compatible scenarios run as one batched engine call each (see ``batch``)."""
    from ..sim import simulate

    groups: dict[Any, list[int]] = {}
    for k, job in enumerate(jobs):
        key = _batch_key(job.comp, job.scenario)
        groups.setdefault(("alone", k) if key is None else key, []).append(k)
    outs: list[Any] = [None] * len(jobs)
    for members in groups.values():
        first = jobs[members[0]]
        try:
            if len(members) == 1:
                results = [_simulate(first.net, first.comp, first.scenario, inventory_days, tau_days)]
            else:
                comps = [jobs[k].comp for k in members]
                T = max(c.steps for c in comps)
                res = simulate(first.net, [c.engine_scenario for c in comps], steps=T,
                               rationing=first.comp.rationing, inventory_days=inventory_days / first.scenario.step,
                               tau=tau_days / first.scenario.step, mode="extended",
                               extensions=first.comp.extensions, record_firms=True, firm_series=("production",))
                results = [_Slice(res, b, c.steps) for b, c in enumerate(comps)]
        except PaxsilicaError as e:
            if errors == "raise":
                raise
            for k in members:
                outs[k] = f"not run: {e}"
            continue
        for k, res in zip(members, results, strict=True):
            outs[k] = _library_row(measure(jobs[k], res, None, target))
    return outs


def _library_job(job: Job, inventory_days: float, tau_days: float, target: str, errors: str) -> Any:
    """One scenario's run as a library row's measures, or a note (``errors="note"``), or the error."""
    try:
        res, slices = execute(job, inventory_days, tau_days)
    except PaxsilicaError as e:
        if errors == "raise":
            return e
        return f"not run: {e}"
    return _library_row(measure(job, res, slices, target))


def _workers(asked: int | None, jobs: int) -> int:
    import os

    if asked is not None:
        if asked < 1:
            raise InputError(f"workers must be at least 1, got {asked}")
        return min(asked, max(jobs, 1))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, jobs))


_JOBS: list[Job] = []


def _job_in_child(k: int, args: tuple) -> Any:
    return _library_job(_JOBS[k], *args)


def warm_engine(job: Job | None = None, prepared: Prepared | None = None) -> None:
    """Load the engine's compiled step in this process (one step of ``job``, or of a scenario without
    shocks on ``prepared``'s one-day network), so that processes forked from it inherit the loaded code
    instead of each loading it again (seconds per process). Results do not change.

    Examples
    --------
    >>> from paxsilica.network.build import tiny_atlas
    >>> warm_engine(prepared=Prepared(tiny_atlas(), target="chip", consumers="producers", year=None, lanes=None))
    """
    from ..scenarios.compile import compile_scenario
    from ..scenarios.declare import Policies
    from ..sim import simulate

    try:
        if job is None:
            if prepared is None:
                return
            net, index = prepared.network(1, None)
            base = Scenario(name="warm-up", description="no shock", horizon=1, policies=Policies())
            comp = compile_scenario(base, net, index, prepared.atlas, steps=1, inventory_days=DEFAULT_INVENTORY_DAYS)
            step = 1
        else:
            net, comp, step = job.net, job.comp, job.scenario.step
        simulate(net, comp.engine_scenario, steps=1, rationing=comp.rationing,
                 inventory_days=DEFAULT_INVENTORY_DAYS / step, tau=DEFAULT_TAU_DAYS / step, mode="extended",
                 extensions=comp.extensions, record_firms=True, firm_series=("production",))
    except PaxsilicaError:  # only a warm-up: the real run reports what is wrong
        pass


def _in_processes(jobs: list[Job], args: tuple, n: int) -> list[Any]:
    """Run band jobs in ``n`` forked processes (the prepared network and draws are inherited, not
    pickled); falls back to one process where fork is not available."""
    import multiprocessing as mp

    try:
        ctx = mp.get_context("fork")
    except ValueError:
        return [_library_job(j, *args) for j in jobs]
    warm_engine(jobs[0] if jobs else None)  # loaded once here, inherited by the workers
    global _JOBS
    _JOBS = jobs
    try:
        with ctx.Pool(n) as pool:
            return pool.starmap(_job_in_child, [(k, args) for k in range(len(jobs))], chunksize=1)
    finally:
        _JOBS = []


def _library_row(m: Measured) -> dict[str, Any]:
    summary = m.summary
    row = {c: summary[c] for c in ("horizon_days", "first_shock_day", "loss_pct", "lost_units", "min_level",
                                   "time_to_survive_days", "time_to_recover_days", "lost_additions_pct",
                                   "lost_operation_pct", "additions_loss_pct")}
    row["most_affected_items"] = ", ".join(summary["most_affected_items"])
    row["most_affected_consumers"] = ", ".join(summary["most_affected_consumers"])
    row["level"] = m.level
    if m.bands is not None:
        row["bands"] = m.bands
    row["checks"] = m.checks
    return row


def _library_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(LIBRARY_COLUMNS))
    for c in ("first_shock_day", "time_to_survive_days", "time_to_recover_days", "bands", "checks"):
        # None means "unlimited" / "not reached": keep it (and whole days as int) instead of NaN floats
        table[c] = pd.Series([r[c] for r in rows], dtype=object)
    return table
