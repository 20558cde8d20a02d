"""Stress tests: run a scenario on the atlas network and read the result.

:func:`run_stress` builds the network of an atlas (:func:`paxsilica.network.build_network`), compiles
the scenario (:func:`paxsilica.scenarios.compile.compile_scenario`), runs the engine
(:func:`paxsilica.sim.simulate`) and returns a :class:`StressResult`: per-step series per item, per
consumer and per site, the headline measures and what the run depended on (atlas version, scenario,
parameters, code version). :func:`save_result` writes it as Parquet, DuckDB, JSON and a self-contained
HTML chart.

Measures (all on the **target level**: final demand of the target delivered ÷ requested, per step):

- ``loss_pct``: shortfall summed over the horizon ÷ demand summed over the horizon, in percent;
  ``lost_units``: the shortfall in the network's units × days.
- ``time_to_survive_days``: days the target stays whole: the first step whose level is below
  :data:`SURVIVE_THRESHOLD` (99 %), times the step length. ``None`` ("unlimited") when it never falls
  below within the horizon. A shock starting on day ``d`` counts from day 0, so read it with the start.
- ``time_to_recover_days``: days from that first step below 99 % to the first step from which the level
  stays at or above 99 % to the end of the horizon. ``None`` when it has not recovered by then (or never
  fell).
- most affected items and consumers: ranked by their own loss (output or delivered final demand).

Examples
--------
>>> from paxsilica.network.build import tiny_atlas
>>> from paxsilica.scenarios import parse_scenario
>>> s = parse_scenario("name: t\\ndescription: d\\nhorizon: 40\\nshocks:\\n  - {type: export_ban, "
...                    "exporter: JPN, items: [wafer], start: 0}\\n")
>>> r = run_stress(s, tiny_atlas(), target="chip", inventory_days=10)
>>> r.summary["time_to_survive_days"], round(r.summary["min_level"], 3)
(16, 0.4)
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError
from .network.build import DEFAULT_TARGET, SiteIndex, build_index, lead_steps, to_supply_network
from .scenarios.compile import CompiledScenario, compile_scenario
from .scenarios.schema import Scenario, check_against_atlas

SURVIVE_THRESHOLD = 0.99
"""A level below this fraction of demand counts as "no longer whole" (time-to-survive)."""
DEFAULT_INVENTORY_DAYS = 15.0
"""Working inventory in days of baseline use (the engine's reference default)."""
DEFAULT_TAU_DAYS = 6.0
"""Inventory adjustment time in days (the engine's reference default)."""


@dataclass(frozen=True)
class StressResult:
    """Result of one stress run.

    Attributes
    ----------
    scenario : Scenario
    series : DataFrame
        Long table: ``step``, ``day``, ``kind`` (``target``, ``item``, ``consumer``, ``site``),
        ``name``, ``output`` (delivered final demand for target/consumer, production otherwise),
        ``baseline`` (requested or baseline), ``level`` (output ÷ baseline), ``shortfall``.
        Step -1 is the setup state.
    summary : dict
        Headline measures (see module docstring) and the top items and consumers.
    items, consumers : DataFrame
        Per item / consumer: ``min_level``, ``loss_pct``, ``time_to_survive_days``,
        ``time_to_recover_days``.
    effects : DataFrame
        What each shock touched.
    metadata : dict
        ``atlas_name``, ``atlas_version``, ``scenario`` (as data), ``parameters``, ``code_version``,
        ``created``.
    notes : tuple of str
    """

    scenario: Scenario
    series: pd.DataFrame
    summary: dict[str, Any]
    items: pd.DataFrame
    consumers: pd.DataFrame
    effects: pd.DataFrame
    metadata: dict[str, Any]
    notes: tuple[str, ...] = field(default=())
    index: SiteIndex | None = field(default=None, repr=False, compare=False)
    checks: tuple[dict[str, Any], ...] = field(default=())
    """Backtest checks of the scenario (``observed``/``expected``) with the model's value and band."""

    def target_series(self) -> pd.DataFrame:
        """Per-step target level (steps 0.., without the setup row): capacity that runs over its baseline
        path for a stock target (:mod:`paxsilica.capacity`), delivered over requested for a flow."""
        s = self.series
        return s[(s["kind"] == "target") & (s["step"] >= 0)].reset_index(drop=True)

    def additions_series(self) -> pd.DataFrame:
        """Per-step additions of the target delivered over requested (steps 0..)."""
        s = self.series
        return s[(s["kind"] == "additions") & (s["step"] >= 0)].reset_index(drop=True)


def code_version() -> str:
    """paxsilica's version, with the commit when run from a git checkout (read-only, no git call)."""
    from . import __version__

    v = str(__version__)
    try:
        root = Path(__file__).resolve().parents[2] / ".git"
        head = (root / "HEAD").read_text().strip()
        if head.startswith("ref:"):
            ref = root / head.split(" ", 1)[1]
            head = ref.read_text().strip() if ref.exists() else ""
        if len(head) >= 7:
            v += f"+g{head[:12]}"
    except OSError:
        pass
    return v


def _tts_ttr(level: np.ndarray, step_days: int) -> tuple[int | None, int | None]:
    below = np.flatnonzero(level < SURVIVE_THRESHOLD - 1e-12)
    if below.size == 0:
        return None, None
    first = int(below[0])
    last = int(below[-1])
    if last == level.size - 1:
        return first * step_days, None
    return first * step_days, (last + 1 - first) * step_days


def _measures(level: np.ndarray, out: np.ndarray, base: np.ndarray, step_days: int) -> dict[str, Any]:
    tts, ttr = _tts_ttr(level, step_days)
    demand = float(base.sum())
    short = np.maximum(base - out, 0.0)
    return {
        "min_level": float(level.min()) if level.size else 1.0,
        "loss_pct": 100.0 * float(short.sum()) / demand if demand > 0 else 0.0,
        "lost_units": float(short.sum()) * step_days,
        "time_to_survive_days": tts,
        "time_to_recover_days": ttr,
    }


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.ones_like(a, dtype=float), where=b > 0)


class _Prepared:
    """The network of one atlas for one (target, consumers, year), shared by the scenarios run on it.

    The site index is built once (with one-day steps); other step lengths only change the links' lead
    times in steps (:func:`paxsilica.network.build.lead_steps` of the same lane days), and a scenario's
    surge capacity only the engine network's default headroom, so both are derived, not rebuilt.
    """

    def __init__(self, atlas: Any, *, target: str, consumers: Any, year: int | None,
                 lanes: pd.DataFrame | None, version: str | None = None) -> None:
        self.atlas = atlas
        self.version = str(getattr(atlas, "version", "")) if version is None else version
        self.target = target
        self._args = {"target": target, "consumers": consumers, "year": year, "lanes": lanes}
        self._index: dict[int, SiteIndex] = {}
        self._net: dict[tuple[int, float | None], Any] = {}
        self._draws: dict[tuple, Any] = {}

    def index(self, step_days: int) -> SiteIndex:
        if step_days not in self._index:
            if not self._index:
                self._index[1] = build_index(self.atlas, step_days=1, atlas_version=self.version, **self._args)
            base = self._index[1]
            if step_days not in self._index:
                links = base.links.assign(lead_steps=lead_steps(base.links["lead_days"].to_numpy(dtype=float),
                                                                step_days))
                self._index[step_days] = replace(base, links=links, step_days=step_days)
        return self._index[step_days]

    def network(self, step_days: int, surge_capacity: float | None) -> tuple[Any, SiteIndex]:
        index = self.index(step_days)
        key = (step_days, surge_capacity)
        if key not in self._net:
            self._net[key] = to_supply_network(index, surge_capacity=surge_capacity)
        return self._net[key], index

    def draws(self, step_days: int, surge_capacity: float | None, n: int, seed: int) -> Any:
        """Band draws of the network's parameters (shared by every scenario on it)."""
        from .bands import make_draws

        key = (step_days, surge_capacity, n, seed)
        if key not in self._draws:
            net, index = self.network(step_days, surge_capacity)
            self._draws[key] = make_draws(index, net, n, seed)
        return self._draws[key]


def _run_draws(net: Any, index: SiteIndex, comp: CompiledScenario, scenario: Scenario, draws: Any,
               inventory_days: float, tau_days: float) -> list[Any]:
    """One batched engine call over the band draws; a per-draw view of the result for each."""
    from .bands import batched_extensions
    from .sim import simulate

    pol = scenario.policies
    ext = batched_extensions(comp.extensions, draws, step_days=scenario.step, inventory_days=inventory_days,
                             surge_capacity=pol.surge_capacity, ramp_up_days=pol.ramp_up_days,
                             virtual=(index.sites["kind"].to_numpy() != "site"))
    res = simulate(net, [comp.engine_scenario] * draws.n, steps=comp.steps, rationing=comp.rationing,
                   inventory_days=inventory_days / scenario.step, tau=tau_days / scenario.step, mode="extended",
                   extensions=ext, record_firms=True, amounts=draws.amounts, final_demand=draws.final_demand)
    return [_Slice(res, b, comp.steps) for b in range(draws.n)]


BAND_MEASURES = ("loss_pct", "lost_additions_pct", "lost_operation_pct", "min_level")
"""Headline measures that carry a band."""


def _bands_of(scenario: Scenario, net: Any, index: SiteIndex, comp: CompiledScenario, slices: list[Any],
              draws: Any, target: str) -> tuple[dict[str, Any], list[list[float | None]]]:
    """Band (5th-95th percentile over draws) of each headline measure and its drivers, and the value of
    each backtest check in every draw (measured directly on the batched arrays, not table by table)."""
    from .bands import band, drivers

    heads: dict[str, list[float]] = {m: [] for m in BAND_MEASURES}
    checks = scenario.backtest.checks if scenario.backtest is not None else ()
    values: list[list[float | None]] = [[] for _ in checks]
    for b_, sl in enumerate(slices):
        pbar = draws.baseline[b_]
        stock, names = _stock(index, comp, sl, scenario.step, pbar)
        heads["loss_pct"].append(stock.loss_pct)
        heads["lost_additions_pct"].append(stock.lost_additions_pct)
        heads["lost_operation_pct"].append(stock.lost_operation_pct)
        heads["min_level"].append(float(stock.level.min()) if stock.level.size else 1.0)
        for c, chk in enumerate(checks):
            values[c].append(_draw_check_value(chk, index, sl, pbar, scenario.step, stock, names))
    out: dict[str, Any] = {"draws": draws.n - 1}
    for mname in BAND_MEASURES:
        out[mname] = list(band(heads[mname]))
    out["drivers"] = drivers(draws, heads["loss_pct"])
    return out, values


def _site_ids(index: SiteIndex, item: str, producer: str | None = None) -> np.ndarray:
    def make() -> np.ndarray:
        s = index.sites
        m = (s["kind"].to_numpy() == "site") & (s["item"].to_numpy() == item)
        if producer is not None:
            m &= s["producer"].astype(str).to_numpy() == producer
        return np.flatnonzero(m)

    return _cached(index, ("sites", item, producer), make)


def _draw_check_value(chk: Any, index: SiteIndex, res: Any, pbar: np.ndarray, step_days: int, stock: Any,
                      names: list[str]) -> float | None:
    """One backtest check's value in one run (item, site and target measures as in :func:`_tables`)."""
    if chk.of == "target":
        return float(stock.loss_pct) if chk.measure == "loss_pct" else float(stock.level.min())
    kind, _, name = chk.of.partition(":")
    if kind == "consumer":
        if name not in names:
            return None
        col = names.index(name)
        if chk.measure == "loss_pct":
            return float(stock.per_consumer()["loss_pct"][col])
        return float(_ratio(stock.running[:, col], stock.baseline[:, col]).min())
    if kind == "item":
        ids = _site_ids(index, name)
    elif kind == "site":
        it, _, ctry = name.partition("@")
        ids = _site_ids(index, it, ctry)
    else:
        return None
    if not ids.size:
        return None
    out = np.asarray(res.firm_production, float)[1:, ids].sum(axis=1)
    base = np.full(out.shape, float(pbar[ids].sum()))
    return float(_measures(_ratio(out, base), out, base, step_days)[chk.measure])


def _check(scenario: Scenario, atlas: Any) -> None:
    from .errors import ValidationError

    problems = check_against_atlas(scenario, atlas)
    if problems:
        raise ValidationError(problems, f"scenario {scenario.file} does not fit atlas {getattr(atlas, 'name', '')}")


def _simulate(net: Any, comp: CompiledScenario, scenario: Scenario, inventory_days: float, tau_days: float) -> Any:
    from .sim import simulate

    return simulate(net, comp.engine_scenario, steps=comp.steps, rationing=comp.rationing,
                    inventory_days=inventory_days / scenario.step, tau=tau_days / scenario.step,
                    mode="extended", extensions=comp.extensions, record_firms=True)


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

    Returns
    -------
    StressResult
    """
    say = progress or (lambda _s: None)
    if check:
        _check(scenario, atlas)
    if not (inventory_days >= 1 and math.isfinite(inventory_days)) or not (tau_days > 0 and math.isfinite(tau_days)):
        raise InputError("inventory days must be at least 1 (a client consumes a day's need from the stock it "
                         f"held before the day's deliveries) and tau > 0; got {inventory_days:g} and {tau_days:g}")
    say("network")
    prep = _Prepared(atlas, target=target, consumers=consumers, year=year, lanes=lanes)
    net, index = prep.network(scenario.step, scenario.policies.surge_capacity)
    say("compile")
    comp: CompiledScenario = compile_scenario(scenario, net, index, atlas, steps=steps, lanes_under=lanes_under,
                                              inventory_days=inventory_days)
    say("simulate")
    slices = draws = None
    if bands:
        from .bands import DEFAULT_SEED

        seed = DEFAULT_SEED if seed is None else int(seed)
        draws = prep.draws(scenario.step, scenario.policies.surge_capacity, int(bands), seed)
        slices = _run_draws(net, index, comp, scenario, draws, inventory_days, tau_days)
        res = slices[0]
    else:
        res = _simulate(net, comp, scenario, inventory_days, tau_days)
    say("measures")
    result = _assemble(scenario, atlas, net, index, comp, res, target, for_country,
                       {"target": target, "consumers": consumers if isinstance(consumers, str) else list(consumers),
                        "steps": comp.steps, "step_days": scenario.step, "inventory_days": inventory_days,
                        "tau_days": tau_days, "year": year, "for_country": for_country,
                        "survive_threshold": SURVIVE_THRESHOLD, "bands": int(bands), "seed": seed,
                        "engine": res.parameters},
                       atlas_version=prep.version)
    values = None
    if bands and slices is not None:
        band_info, values = _bands_of(scenario, net, index, comp, slices, draws, target)
        result.summary["bands"] = band_info
    checks = evaluate_checks(scenario, index, (result.summary, result.items, result.consumers), res, values)
    return replace(result, checks=tuple(checks))


def _check_value(chk: Any, tables: tuple[dict, pd.DataFrame, pd.DataFrame], res: Any, index: SiteIndex,
                 pbar: np.ndarray, step_days: int) -> float | None:
    """The model's value of one backtest check (None: the thing checked is not in the network)."""
    summary, items, consumers = tables
    if chk.of == "target":
        return float(summary[chk.measure])
    kind, _, name = chk.of.partition(":")
    if kind == "item":
        row = items[items["item"] == name]
        return None if row.empty else float(row.iloc[0][chk.measure])
    if kind == "consumer":
        row = consumers[consumers["consumer"] == name]
        return None if row.empty else float(row.iloc[0][chk.measure])
    if kind == "site":
        it, _, ctry = name.partition("@")
        s = index.sites
        ids = np.flatnonzero((s["kind"].to_numpy() == "site") & (s["item"].to_numpy() == it)
                             & (s["producer"].astype(str).to_numpy() == ctry))
        if not ids.size:
            return None
        out = np.asarray(res.firm_production, float)[1:, ids].sum(axis=1)
        base = np.full(out.shape, float(pbar[ids].sum()))
        return float(_measures(_ratio(out, base), out, base, step_days)[chk.measure])
    return None


def evaluate_checks(scenario: Scenario, index: SiteIndex, tables: tuple[dict, pd.DataFrame, pd.DataFrame],
                    res: Any, values: list[list[float | None]] | None = None) -> list[dict[str, Any]]:
    """Each backtest check of a scenario with the model's central value, band and verdict.

    ``tables`` and ``res`` are the central run's; ``values`` (optional) each check's value in every
    band draw (draw 0 = central). A check passes (``ok``) when the central value lies in
    ``[min, max]``; ``band_overlaps`` says whether the 5th–95th percentile band meets the range.
    """
    from .bands import band

    bt = scenario.backtest
    if bt is None:
        return []
    out = []
    for c, chk in enumerate(bt.checks):
        central = _check_value(chk, tables, res, index, index.sites["baseline"].to_numpy(float), scenario.step)
        vals = [v for v in (values[c] if values is not None else []) if v is not None]
        lo = -math.inf if chk.min is None else chk.min
        hi = math.inf if chk.max is None else chk.max
        row: dict[str, Any] = {"scenario": scenario.name, "kind": bt.kind, "of": chk.of, "measure": chk.measure,
                               "min": chk.min, "max": chk.max, "why": chk.why, "model": central,
                               "band": list(band(vals)) if len(vals) > 1 else None}
        if central is None:
            row["ok"] = False
            row["note"] = f"{chk.of} is not in the network"
        else:
            row["ok"] = bool(lo - 1e-9 <= central <= hi + 1e-9)
            if row["band"] is not None:
                blo, bhi = row["band"]
                row["band_overlaps"] = bool(blo <= hi and bhi >= lo)
        out.append(row)
    return out


def _stock_params(index: SiteIndex) -> tuple[float, float]:
    from .capacity import DEFAULT_GROWTH, DEFAULT_LIFE_YEARS

    d = index.dynamics
    g = d.value(index.target, "installed_growth", default=DEFAULT_GROWTH)
    life = d.value(index.target, "service_life_years", default=DEFAULT_LIFE_YEARS)
    return float(DEFAULT_GROWTH if g is None else g), float(DEFAULT_LIFE_YEARS if life is None else life)


def _target_is_stock(index: SiteIndex) -> bool:
    """Capacity items (stage ``infrastructure``) are stocks; any other target is a flow."""
    st = index.sites.loc[index.sites["item"] == index.target, "stage"]
    return bool(len(st)) and str(st.iloc[0]) == "infrastructure"


def _ai_consumers(comp: CompiledScenario) -> list[int]:
    names = comp.extensions.consumers.names if comp.extensions.consumers is not None else ()
    out = comp.outside or tuple(False for _ in names)
    return [k for k, o in enumerate(out) if not o]


def _operation_weights(index: SiteIndex, names: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Operation sinks and, per AI consumer, the weight of each sink's level in its operation
    (the consumer's shares of the target sites the sinks run): ``(sink ids, weights (k, sinks))``."""
    sites = index.sites
    if "kind" not in sites.columns:
        return None
    kind = sites["kind"].to_numpy()
    sinks = np.flatnonzero(kind == "operation")
    if not sinks.size:
        return None
    of_site = sites["of_site"].to_numpy(np.int64)
    col_of = {int(of_site[s]): c for c, s in enumerate(sinks)}
    w = np.zeros((len(names), sinks.size))
    fin = index.final
    pos = {n: r for r, n in enumerate(names)}
    for s, c, a in zip(fin["site"].to_numpy(np.int64), fin["consumer"].astype(str), fin["amount"].to_numpy(float),
                       strict=True):
        if c in pos and int(s) in col_of:
            w[pos[c], col_of[int(s)]] += a
    tot = w.sum(axis=1, keepdims=True)
    w = np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)
    return sinks, w


def _stock(index: SiteIndex, comp: CompiledScenario, res: Any, step_days: int,
           pbar: np.ndarray | None = None) -> tuple[Any, list[str]]:
    """The installed AI capacity of a run (:mod:`paxsilica.capacity`), per AI consumer."""
    from .capacity import capacity_stock, flow_stock

    sites = index.sites
    fp = res.firm_production
    pbar = sites["baseline"].to_numpy(float) if pbar is None else pbar
    ks = _ai_consumers(comp)
    names = [comp.extensions.consumers.names[k] for k in ks] if ks else [index.target]
    if ks:
        cfd = np.asarray(res.consumer_final_demand, float)[1:, ks]
        cfr = np.asarray(res.consumer_final_demand_requested, float)[1:, ks]
    else:  # no consumer groups: the target's total
        cfr = np.asarray(res.final_demand_requested, float)[1:, None]
        cfd = np.asarray(res.final_demand, float)[1:, None]
    if not _target_is_stock(index):
        return flow_stock(cfr, cfd), names
    T = cfd.shape[0]
    u = np.ones((T, len(names)))
    ow = _cached(index, ("operation", tuple(names)), lambda: _operation_weights(index, names))
    if ow is not None:
        sinks, w = ow
        lvl = np.asarray(fp, float)[1:, sinks] / np.where(pbar[sinks] > 0, pbar[sinks], 1.0)
        has = w.sum(axis=1) > 0
        u[:, has] = lvl @ w[has].T
    g, life = _stock_params(index)
    return capacity_stock(cfr, cfd, u, step_days=step_days, growth=g, life_years=life), names


def _cached(index: SiteIndex, key: tuple, make: Callable[[], Any]) -> Any:
    """Lookup tables derived from an index, kept in the index's own memo (scoped to it)."""
    if key not in index.memo:
        index.memo[key] = make()
    return index.memo[key]


def _tables(scenario: Scenario, net: Any, index: SiteIndex, comp: CompiledScenario, res: Any,
            target: str, pbar: np.ndarray | None = None) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Headline summary, per-item and per-consumer measures of one engine result (no series).

    ``pbar``: the sites' baseline output of the run (default the index's; a band draw has its own).
    """
    step_days = scenario.step
    sites = index.sites
    kind = sites["kind"].to_numpy() if "kind" in sites.columns else np.where(sites["virtual"], "no_need", "site")
    real = kind == "site"
    pbar = np.asarray(sites["baseline"], float) if pbar is None else np.asarray(pbar, float)
    fp = np.asarray(res.firm_production)
    sitem = sites["item"].to_numpy()
    stage = sites["stage"].to_numpy()
    item_rows = []
    for it in dict.fromkeys(sitem[real]):
        ids = np.flatnonzero(real & (sitem == it))
        out = fp[1:, ids].sum(axis=1)
        base = np.full(out.shape, float(pbar[ids].sum()))
        m = _measures(_ratio(out, base), out, base, step_days)
        item_rows.append({"item": it, "stage": stage[ids[0]], **m})
    stock, cnames = _stock(index, comp, res, step_days, pbar)
    per = stock.per_consumer()
    cons_rows = []
    for col, c in enumerate(cnames):
        lvl = _ratio(stock.running[:, col], stock.baseline[:, col])
        m = _measures(lvl, stock.running[:, col], stock.baseline[:, col], step_days)
        cons_rows.append({"consumer": c, **m, "lost_additions_pct": float(per["lost_additions_pct"][col]),
                          "lost_operation_pct": float(per["lost_operation_pct"][col])})
    items = pd.DataFrame(item_rows).sort_values(["loss_pct", "min_level"], ascending=[False, True],
                                                kind="mergesort").reset_index(drop=True)
    consumers = pd.DataFrame(cons_rows, columns=["consumer", "min_level", "loss_pct", "lost_units",
                                                 "time_to_survive_days", "time_to_recover_days",
                                                 "lost_additions_pct", "lost_operation_pct"])
    consumers = consumers.sort_values("loss_pct", ascending=False, kind="mergesort").reset_index(drop=True)
    head = _measures(stock.level, stock.running.sum(axis=1), stock.baseline.sum(axis=1), step_days)
    ks = _ai_consumers(comp)
    if ks and res.consumer_final_demand is not None:
        add_got = np.asarray(res.consumer_final_demand, float)[1:, ks].sum(axis=1)
        add_req = np.asarray(res.consumer_final_demand_requested, float)[1:, ks].sum(axis=1)
    else:
        add_got = np.asarray(res.final_demand, float)[1:]
        add_req = np.asarray(res.final_demand_requested, float)[1:]
    additions = _measures(_ratio(add_got, add_req), add_got, add_req, step_days)
    cap_rows = []
    if np.any(kind == "capital"):
        of_site = sites["of_site"].to_numpy(np.int64)
        cap_item = np.array([str(sitem[of_site[i]]) if of_site[i] >= 0 else "" for i in range(len(sites))])
        for it in dict.fromkeys(cap_item[kind == "capital"]):
            ids = np.flatnonzero((kind == "capital") & (cap_item == it))
            out = fp[1:, ids].sum(axis=1)
            base = np.full(out.shape, float(pbar[ids].sum()))
            loss = _measures(_ratio(out, base), out, base, step_days)["loss_pct"]
            if loss > 1e-6:
                cap_rows.append({"item": it, "capacity_additions_loss_pct": loss})
    summary: dict[str, Any] = {
        "scenario": scenario.name, "target": target, "steps": int(comp.steps), "step_days": step_days,
        "horizon_days": int(comp.steps * step_days),
        "first_shock_day": min((x.start for x in scenario.shocks), default=None), **head,
        "lost_additions_pct": stock.lost_additions_pct, "lost_operation_pct": stock.lost_operation_pct,
        "additions_loss_pct": additions["loss_pct"],
        "capacity_additions": sorted(cap_rows, key=lambda r: -r["capacity_additions_loss_pct"]),
        "most_affected_items": items.loc[items["loss_pct"] > 1e-6, "item"].head(5).tolist(),
        "most_affected_consumers": consumers.loc[consumers["loss_pct"] > 1e-6, "consumer"].head(5).tolist(),
    }
    return summary, items, consumers


def _assemble(scenario: Scenario, atlas: Any, net: Any, index: SiteIndex, comp: CompiledScenario, res: Any,
              target: str, focus: str | None, params: dict[str, Any], atlas_version: str | None = None
              ) -> StressResult:
    step_days = scenario.step
    steps = res.step
    day = np.where(steps >= 0, steps * step_days, -step_days)
    sites = index.sites
    real = (sites["kind"].to_numpy() == "site") if "kind" in sites.columns else ~sites["virtual"].to_numpy(bool)
    pbar = np.asarray(sites["baseline"], float)
    fp = np.asarray(res.firm_production)  # (T+1, n)
    sitem = sites["item"].to_numpy()
    sprod = sites["producer"].astype(str).to_numpy()
    summary, items, consumers = _tables(scenario, net, index, comp, res, target)

    # the long series, built as one block of columns (one per entity) rather than frame by frame
    kinds: list[str] = []
    names: list[str] = []
    outs: list[np.ndarray] = []
    bases: list[np.ndarray] = []

    def add(kind: str, name: str, out: np.ndarray, base: np.ndarray) -> None:
        kinds.append(kind)
        names.append(name)
        outs.append(out)
        bases.append(base)

    stock, cnames = _stock(index, comp, res, step_days)

    def with_setup(v: np.ndarray, first: float) -> np.ndarray:
        return np.concatenate(([first], v))

    kb_tot = stock.baseline.sum(axis=1)
    add("target", target, with_setup(stock.running.sum(axis=1), float(kb_tot[0]) if kb_tot.size else 0.0),
        with_setup(kb_tot, float(kb_tot[0]) if kb_tot.size else 0.0))
    ks = _ai_consumers(comp)
    if ks and res.consumer_final_demand is not None:
        cfd = np.asarray(res.consumer_final_demand, float)[:, ks].sum(axis=1)
        cfr = np.asarray(res.consumer_final_demand_requested, float)[:, ks].sum(axis=1)
    else:
        cfd, cfr = np.asarray(res.final_demand, float), np.asarray(res.final_demand_requested, float)
    add("additions", target, cfd, cfr)
    for it in dict.fromkeys(sitem[real]):
        ids = np.flatnonzero(real & (sitem == it))
        out = fp[:, ids].sum(axis=1)
        add("item", str(it), out, np.full(out.shape, float(pbar[ids].sum())))
    for col, c in enumerate(cnames):
        k0 = float(stock.baseline[0, col]) if len(stock.baseline) else 0.0
        add("consumer", c, with_setup(stock.running[:, col], k0), with_setup(stock.baseline[:, col], k0))
    real_ids = np.flatnonzero(real)
    T1 = len(steps)
    out_m = np.column_stack(outs + [fp[:, real_ids]]) if len(outs) else fp[:, real_ids]
    base_m = np.column_stack(bases + [np.broadcast_to(pbar[real_ids], (T1, real_ids.size))])
    kinds += ["site"] * real_ids.size
    names += [f"{sitem[i]}@{sprod[i]}" for i in real_ids]
    out_f = out_m.T.ravel()
    base_f = base_m.T.ravel()
    k = len(names)
    series = pd.DataFrame({
        "step": np.tile(steps, k), "day": np.tile(day, k),
        "kind": pd.array(np.repeat(np.array(kinds, dtype=object), T1), dtype="string"),
        "name": pd.array(np.repeat(np.array(names, dtype=object), T1), dtype="string"),
        "output": out_f, "baseline": base_f, "level": _ratio(out_f, base_f),
        "shortfall": np.maximum(base_f - out_f, 0.0)})

    if focus:
        f: dict[str, Any] = {"country": focus}
        crow = consumers[consumers["consumer"] == focus]
        f["consumer"] = None if crow.empty else crow.iloc[0].to_dict()
        mine = np.flatnonzero(real & (sites["country"].astype(str).to_numpy() == focus))
        srows = []
        for i in mine:
            out = fp[1:, i]
            base = np.full(out.shape, float(pbar[i]))
            srows.append({"site": f"{sitem[i]}@{focus}", **_measures(_ratio(out, base), out, base, step_days)})
        f["sites"] = sorted(srows, key=lambda r: -r["loss_pct"])
        summary["focus"] = f
    meta = {
        "atlas_name": getattr(atlas, "name", ""),
        "atlas_version": getattr(atlas, "version", "") if atlas_version is None else atlas_version,
        "scenario": scenario.to_dict(), "parameters": params, "code_version": code_version(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "network": {"sites": int(real.sum()), "virtual_sites": int((~real).sum()), "links": int(net.n_links),
                    "units": index.units},
    }
    notes = tuple(index.notes) + tuple(comp.notes)
    return StressResult(scenario, series, summary, items, consumers, comp.effects, meta, notes, index)


# --------------------------------------------------------------------------- saving


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def result_json(result: StressResult) -> dict[str, Any]:
    """Summary, tables and metadata as plain JSON-able data (no per-step series)."""
    return _jsonable({
        "summary": result.summary, "metadata": result.metadata, "notes": list(result.notes),
        "checks": list(result.checks),
        "items": result.items.astype(object).where(result.items.notna(), None).to_dict("records"),
        "consumers": result.consumers.astype(object).where(result.consumers.notna(), None).to_dict("records"),
        "effects": result.effects.astype(object).where(result.effects.notna(), None).to_dict("records"),
    })


RESULT_MARKER = ".paxsilica-run"
#: Files a saved result consists of (plus leftovers of older versions that are also ours to replace).
RESULT_FILES = ("series.parquet", "result.duckdb", "summary.json", "chart.html", RESULT_MARKER)
_OWNED_LEFTOVERS = ("result.duckdb.wal", "series.parquet.tmp")
STALE_TEMP_SECONDS = 60.0


def save_result(result: StressResult, out_dir: str | Path, force: bool = False) -> dict[str, Path]:
    """Write a result to ``out_dir``: ``series.parquet``, ``result.duckdb``, ``summary.json``, ``chart.html``
    and a marker ``.paxsilica-run`` (what wrote it).

    The DuckDB file holds tables ``runs`` (one row: scenario, atlas version, code version, parameters
    and summary as JSON), ``series``, ``items``, ``consumers`` and ``effects``, each with a ``run_id``.

    Every file is built (and closed) in a temporary sibling folder ``.run.<name>.<random>`` first, then
    swapped in by rename, so a killed save leaves the old result or the new one, never a mix. A folder
    that exists and holds anything but a previous result's own files is refused (:class:`InputError`)
    unless ``force``; then only the result's own files are replaced in it, one by one, each by an
    atomic rename, and nothing else in it is touched. Temporary ``.run.*`` folders left beside the
    target by a killed save (older than a minute) are removed first.

    Returns
    -------
    dict of str to Path
    """
    import secrets
    import shutil

    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise InputError("output path exists and is not a folder", file=str(out))
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create output folder: {e}", file=str(out)) from None
    _clean_stale_runs(parent)
    foreign = _foreign_entries(out)
    if foreign and not force:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise InputError(f"output folder is not empty and is not a paxsilica result (holds {shown}); "
                         "choose another folder or pass --force to write only the result files into it",
                         file=str(out))
    tmp = parent / f".run.{out.name}.{secrets.token_hex(6)}"
    try:
        try:
            tmp.mkdir()
            _write_result_files(result, tmp, marker=not foreign or (out / RESULT_MARKER).is_file())
        except OSError as e:
            raise InputError(f"cannot write output folder: {e}", file=str(out)) from None
        try:
            if foreign:
                _replace_files_into(tmp, out)
            else:
                _swap_in(tmp, out)
        except OSError as e:
            raise InputError(f"cannot write output folder: {e}", file=str(out)) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    names = {"series": "series.parquet", "duckdb": "result.duckdb", "summary": "summary.json",
             "chart": "chart.html"}
    return {k: out / v for k, v in names.items()}


def _write_result_files(result: StressResult, folder: Path, *, marker: bool) -> None:
    """Write every result file into ``folder`` (a fresh temporary folder), fsynced, DuckDB closed."""
    import duckdb

    run_id = f"{result.scenario.name}-{result.metadata['created']}"
    series = result.series.assign(run_id=run_id)
    series.to_parquet(folder / "series.parquet", index=False)
    data = result_json(result)
    (folder / "summary.json").write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str),
                                         encoding="utf-8")
    con = duckdb.connect(str(folder / "result.duckdb"))
    try:
        runs = pd.DataFrame([{
            "run_id": run_id, "scenario": result.scenario.name, "atlas_name": result.metadata["atlas_name"],
            "atlas_version": result.metadata["atlas_version"], "code_version": result.metadata["code_version"],
            "created": result.metadata["created"],
            "parameters": json.dumps(data["metadata"]["parameters"], default=str),
            "scenario_json": json.dumps(data["metadata"]["scenario"], default=str),
            "summary": json.dumps(data["summary"], default=str)}])
        for name, df in (("runs", runs), ("series", series), ("items", result.items.assign(run_id=run_id)),
                         ("consumers", result.consumers.assign(run_id=run_id)),
                         ("effects", result.effects.assign(run_id=run_id))):
            con.register("_df", _duck_ready(df))
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _df")
            con.unregister("_df")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    wal = folder / "result.duckdb.wal"
    if wal.exists():  # closed and checkpointed: nothing may be left in a log beside the file
        raise OSError(f"DuckDB left {wal.name} behind after closing")
    (folder / "chart.html").write_text(chart_html(result), encoding="utf-8")
    if marker:
        (folder / RESULT_MARKER).write_text(json.dumps({
            "written_by": "paxsilica stress", "code_version": result.metadata["code_version"],
            "scenario": result.scenario.name, "run_id": run_id, "files": list(RESULT_FILES[:-1])},
            indent=1, default=str) + "\n", encoding="utf-8")
    for p in folder.iterdir():
        _fsync(p)
    _fsync(folder)


def _fsync(path: Path) -> None:
    import os

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _foreign_entries(out: Path) -> list[str]:
    """Names in ``out`` that a paxsilica result does not own (empty when ``out`` is missing or empty,
    or is a previous result holding only its own files)."""
    if not out.is_dir():
        return []
    names = sorted(p.name for p in out.iterdir())
    if not names:
        return []
    if not (out / RESULT_MARKER).is_file():
        return names
    own = set(RESULT_FILES) | set(_OWNED_LEFTOVERS)
    return [n for n in names if n not in own or not (out / n).is_file() or (out / n).is_symlink()]


def _clean_stale_runs(parent: Path) -> None:
    """Remove ``.run.*`` folders in ``parent`` that nothing has touched for :data:`STALE_TEMP_SECONDS`."""
    import shutil
    import time

    now = time.time()
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for p in entries:
        if not p.name.startswith(".run.") or p.is_symlink() or not p.is_dir():
            continue
        try:
            newest = max([p.stat().st_mtime] + [c.lstat().st_mtime for c in p.iterdir()])
        except OSError:
            continue
        if now - newest > STALE_TEMP_SECONDS:
            shutil.rmtree(p, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    import ctypes
    import errno
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    e = ctypes.get_errno()
    if e in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(e, os.strerror(e), str(b))


def _swap_in(tmp: Path, out: Path) -> None:
    """Put the complete folder ``tmp`` at ``out`` (missing, empty or a previous result) by renames."""
    import os
    import secrets
    import shutil

    if not out.exists():
        os.replace(tmp, out)
    elif _exchange(tmp, out):  # one atomic step: ``out`` is new, ``tmp`` now holds the old result
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        aside = out.parent / f".run.{out.name}.{secrets.token_hex(6)}.old"
        os.replace(out, aside)
        try:
            os.replace(tmp, out)
        except BaseException:
            if not out.exists():
                os.replace(aside, out)
            raise
        shutil.rmtree(aside, ignore_errors=True)
    _fsync(out.parent)


def _replace_files_into(tmp: Path, out: Path) -> None:
    """Move each result file from ``tmp`` into ``out`` by an atomic rename, leaving other files alone."""
    import os

    for name in _OWNED_LEFTOVERS:  # a stale log beside a replaced DuckDB file would be replayed into it
        p = out / name
        if p.is_file() and not p.is_symlink():
            p.unlink()
    for name in RESULT_FILES:
        if (tmp / name).exists():
            os.replace(tmp / name, out / name)
    _fsync(out)


def _duck_ready(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                              ).astype("string")
    return df


# --------------------------------------------------------------------------- chart

_COLOURS = ("#1f4e79", "#c0392b", "#e67e22", "#27ae60", "#8e44ad", "#16a085", "#7f8c8d")


def chart_svg(result: StressResult, *, width: int = 760, height: int = 320, top_items: int = 5) -> str:
    """An inline SVG of the target level and the most affected items' output over time (percent of
    baseline), with the target's shortfall shaded."""
    s = result.series[result.series["step"] >= 0]
    tgt = s[s["kind"] == "target"]
    lines = [(f"{result.summary['target']} (delivered)", tgt["day"].to_numpy(float), tgt["level"].to_numpy(float))]
    for it in result.summary["most_affected_items"][:top_items]:
        g = s[(s["kind"] == "item") & (s["name"] == it)]
        if it != result.summary["target"]:
            lines.append((f"{it} output", g["day"].to_numpy(float), g["level"].to_numpy(float)))
    pad_l, pad_r, pad_t, pad_b = 48, 12, 14, 36
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    xmax = max(float(tgt["day"].max()) if len(tgt) else 1.0, 1.0)
    lo = min([0.0] + [float(np.nanmin(v)) for _, _, v in lines if len(v)])
    hi = max([1.05] + [float(np.nanmax(v)) for _, _, v in lines if len(v)])

    def X(d: np.ndarray) -> np.ndarray:
        return pad_l + d / xmax * w

    def Y(v: np.ndarray) -> np.ndarray:
        return pad_t + (hi - v) / (hi - lo) * h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 18 * len(lines)}" '
             f'font-family="sans-serif" font-size="11" role="img">']
    for frac in np.linspace(lo, hi, 6):
        y = float(Y(np.array(frac)))
        parts.append(f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{pad_l - 4}" y="{y + 4:.1f}" text-anchor="end">{100 * frac:.0f}%</text>')
    for k in range(6):
        d = xmax * k / 5
        x = float(X(np.array(d)))
        parts.append(f'<text x="{x:.1f}" y="{pad_t + h + 14}" text-anchor="middle">{d:.0f}</text>')
    parts.append(f'<text x="{pad_l + w / 2}" y="{pad_t + h + 30}" text-anchor="middle">day</text>')
    y99 = float(Y(np.array(SURVIVE_THRESHOLD)))
    parts.append(f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{y99:.1f}" y2="{y99:.1f}" stroke="#999" stroke-dasharray="4 3"/>')
    if len(tgt):
        d, v = tgt["day"].to_numpy(float), tgt["level"].to_numpy(float)
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(X(d), Y(v), strict=True))
        back = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(X(d[::-1]), Y(np.ones_like(d)), strict=True))
        parts.append(f'<polygon points="{pts} {back}" fill="#c0392b" fill-opacity="0.15" stroke="none"/>')
    for k, (name, d, v) in enumerate(lines):
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(X(d), Y(v), strict=True))
        col = _COLOURS[k % len(_COLOURS)]
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{col}" stroke-width="{2.2 if k == 0 else 1.3}"/>')
        ly = height + 18 * k + 4
        parts.append(f'<rect x="{pad_l}" y="{ly}" width="14" height="3" fill="{col}"/>'
                     f'<text x="{pad_l + 20}" y="{ly + 5}">{_esc(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _esc(s: Any) -> str:
    import html

    return html.escape(str(s))


def _fmt_days(v: Any) -> str:
    return "unlimited" if v is None else f"{v} days"


def chart_html(result: StressResult) -> str:
    """A self-contained HTML page: chart, summary, sources and what the run depended on."""
    s, m = result.summary, result.metadata
    rows = [("loss at the target", f"{s['loss_pct']:.2f} % of demand over {s['horizon_days']} days"),
            ("lowest level", f"{100 * s['min_level']:.1f} %"),
            ("time to survive", _fmt_days(s["time_to_survive_days"])),
            ("time to recover", "not reached" if s["time_to_recover_days"] is None and s["time_to_survive_days"] is not None
             else _fmt_days(s["time_to_recover_days"]) if s["time_to_recover_days"] is not None else "-"),
            ("most affected items", ", ".join(s["most_affected_items"]) or "-"),
            ("most affected consumers", ", ".join(s["most_affected_consumers"]) or "-"),
            ("atlas", f"{m['atlas_name']} {m['atlas_version']}"), ("code", m["code_version"]),
            ("created", m["created"])]
    table = "".join(f"<tr><th>{_esc(a)}</th><td>{_esc(b)}</td></tr>" for a, b in rows)
    sources = "".join(f"<li>{_esc(x)}</li>" for x in result.scenario.sources)
    assumptions = "".join(f"<li>{_esc(x)}</li>" for x in result.scenario.assumptions)
    notes = "".join(f"<li>{_esc(x)}</li>" for x in result.notes)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>paxsilica stress: {_esc(result.scenario.name)}</title>"
        "<style>body{font-family:sans-serif;max-width:820px;margin:2em auto;color:#222}"
        "th{text-align:left;padding-right:1em}td,th{vertical-align:top;padding:2px 0}</style></head><body>"
        f"<h1>{_esc(result.scenario.name)}</h1><p>{_esc(result.scenario.description)}</p>"
        f"<p>Target <b>{_esc(s['target'])}</b>: final demand delivered ÷ requested (bold line; shaded = "
        "shortfall); other lines: output of the most affected items, percent of baseline. Dashed: 99 %.</p>"
        f"{chart_svg(result)}<table>{table}</table>"
        f"<h2>Sources</h2><ul>{sources}</ul><h2>Assumptions</h2><ul>{assumptions or '<li>none</li>'}</ul>"
        f"<h2>Notes</h2><ul>{notes or '<li>none</li>'}</ul></body></html>\n"
    )


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
    from .errors import PaxsilicaError
    from .scenarios import list_scenarios, load_scenario

    if errors not in ("raise", "note"):
        raise InputError(f"errors must be 'raise' or 'note', got {errors!r}")
    if not (inventory_days >= 1 and math.isfinite(inventory_days)) or not (tau_days > 0 and math.isfinite(tau_days)):
        raise InputError("inventory days must be at least 1 (a client consumes a day's need from the stock it "
                         f"held before the day's deliveries) and tau > 0; got {inventory_days:g} and {tau_days:g}")
    say = progress or (lambda _s: None)
    prep = _Prepared(atlas, target=target, consumers=consumers, year=year, lanes=lanes, version=atlas_version)
    rows: list[dict[str, Any]] = []
    todo: list[tuple[int, Scenario, Any, SiteIndex, CompiledScenario]] = []
    for n in (list(list_scenarios()) if names is None else list(names)):
        s = n if isinstance(n, Scenario) else load_scenario(n)
        row: dict[str, Any] = dict.fromkeys(LIBRARY_COLUMNS)
        row.update(scenario=s.name if isinstance(n, Scenario) else (Path(n).stem if Path(str(n)).suffix else str(n)),
                   name=s.name, description=" ".join(s.description.split()), sources=tuple(s.sources),
                   step_days=s.step, atlas_version=prep.version, note="")
        rows.append(row)
        say(row["scenario"])
        try:
            _check(s, atlas)
            net, index = prep.network(s.step, s.policies.surge_capacity)
            comp = compile_scenario(s, net, index, atlas, steps=steps, lanes_under=lanes_under,
                                    inventory_days=inventory_days)
        except PaxsilicaError as e:
            if errors == "raise":
                raise
            row["note"] = f"not run: {e}"
            continue
        todo.append((len(rows) - 1, s, net, index, comp))

    if bands or not batch:  # one engine call per scenario (its draws as a batch), in worker processes
        from .bands import DEFAULT_SEED

        seed_ = DEFAULT_SEED if seed is None else int(seed)
        # draws first, in this process: shared by every scenario and inherited by the workers
        jobs = [(s, net, index, comp, prep.draws(s.step, s.policies.surge_capacity, int(bands), seed_)
                 if bands else None) for _r, s, net, index, comp in todo]
        n_workers = _workers(workers, len(jobs))
        args = (inventory_days, tau_days, target, errors)
        outs = _in_processes(jobs, args, n_workers) if n_workers > 1 else [_band_job(j, *args) for j in jobs]
        for (r, *_rest), out in zip(todo, outs, strict=True):
            if isinstance(out, str):
                rows[r]["note"] = out
            elif isinstance(out, BaseException):
                raise out
            else:
                rows[r].update(out)
        return _library_table(rows)

    groups: dict[Any, list[int]] = {}
    for k, (_, s, _, _, comp) in enumerate(todo):
        key = _batch_key(comp, s) if batch else None
        groups.setdefault(("alone", k) if key is None else key, []).append(k)
    from .sim import simulate

    for members in groups.values():
        first = todo[members[0]]
        try:
            if len(members) == 1:
                results = [_simulate(first[2], first[4], first[1], inventory_days, tau_days)]
            else:
                comps = [todo[k][4] for k in members]
                T = max(c.steps for c in comps)
                res = simulate(first[2], [c.engine_scenario for c in comps], steps=T,
                               rationing=first[4].rationing, inventory_days=inventory_days / first[1].step,
                               tau=tau_days / first[1].step, mode="extended", extensions=first[4].extensions,
                               record_firms=True)
                results = [_Slice(res, b, c.steps) for b, c in enumerate(comps)]
        except PaxsilicaError as e:
            if errors == "raise":
                raise
            for k in members:
                rows[todo[k][0]]["note"] = f"not run: {e}"
            continue
        for k, res in zip(members, results, strict=True):
            r, s, net, index, comp = todo[k]
            tables = _tables(s, net, index, comp, res, target)
            _library_row(rows[r], tables[0], _stock(index, comp, res, s.step)[0].level)
            rows[r]["checks"] = evaluate_checks(s, index, tables, res)
    return _library_table(rows)


def _band_job(job: tuple, inventory_days: float, tau_days: float, target: str, errors: str) -> Any:
    """One scenario's band run: the library row's measures, or a note (``errors="note"``)."""
    from .errors import PaxsilicaError

    s, net, index, comp, draws = job
    try:
        if draws is None:
            res = _simulate(net, comp, s, inventory_days, tau_days)
        else:
            slices = _run_draws(net, index, comp, s, draws, inventory_days, tau_days)
            res = slices[0]
    except PaxsilicaError as e:
        if errors == "raise":
            return e
        return f"not run: {e}"
    tables = _tables(s, net, index, comp, res, target)
    row: dict[str, Any] = {}
    _library_row(row, tables[0], _stock(index, comp, res, s.step)[0].level)
    if draws is None:
        row["checks"] = evaluate_checks(s, index, tables, res)
        return row
    info, values = _bands_of(s, net, index, comp, slices, draws, target)
    row["bands"] = info
    row["checks"] = evaluate_checks(s, index, tables, res, values)
    return row


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


_JOBS: list[tuple] = []


def _job_in_child(k: int, args: tuple) -> Any:
    return _band_job(_JOBS[k], *args)


def _in_processes(jobs: list[tuple], args: tuple, n: int) -> list[Any]:
    """Run band jobs in ``n`` forked processes (the prepared network and draws are inherited, not
    pickled); falls back to one process where fork is not available."""
    import multiprocessing as mp

    try:
        ctx = mp.get_context("fork")
    except ValueError:
        return [_band_job(j, *args) for j in jobs]
    global _JOBS
    _JOBS = jobs
    try:
        with ctx.Pool(n) as pool:
            return pool.starmap(_job_in_child, [(k, args) for k in range(len(jobs))], chunksize=1)
    finally:
        _JOBS = []


def _library_row(row: dict[str, Any], summary: dict[str, Any], level: np.ndarray) -> None:
    row.update({c: summary[c] for c in ("horizon_days", "first_shock_day", "loss_pct", "lost_units", "min_level",
                                        "time_to_survive_days", "time_to_recover_days", "lost_additions_pct",
                                        "lost_operation_pct", "additions_loss_pct")})
    row["most_affected_items"] = ", ".join(summary["most_affected_items"])
    row["most_affected_consumers"] = ", ".join(summary["most_affected_consumers"])
    row["level"] = level


def _library_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(LIBRARY_COLUMNS))
    for c in ("first_shock_day", "time_to_survive_days", "time_to_recover_days", "bands", "checks"):
        # None means "unlimited" / "not reached": keep it (and whole days as int) instead of NaN floats
        table[c] = pd.Series([r[c] for r in rows], dtype=object)
    return table
