"""Measure: an engine run → the headline measures, per-item and per-consumer tables, bands and checks.

Measures (all on the **target level**: final demand of the target delivered ÷ requested, per step, or
for a capacity target the installed capacity that runs over its baseline path, :mod:`paxsilica.capacity`):

- ``loss_pct``: shortfall summed over the horizon ÷ demand summed over the horizon, in percent;
  ``lost_units``: the shortfall in the network's units × days.
- ``time_to_survive_days``: days the target stays whole: the first step whose level is below
  :data:`SURVIVE_THRESHOLD` (99 %), times the step length. ``None`` ("unlimited") when it never falls
  below within the horizon.
- ``time_to_recover_days``: days from that first step below 99 % to the first step from which the level
  stays at or above 99 % to the end of the horizon. ``None`` when it has not recovered by then.
- the capacity split: ``lost_additions_pct`` (capacity not delivered or installed) and
  ``lost_operation_pct`` (installed capacity that could not run).

Examples
--------
>>> _tts_ttr(np.array([1.0, 0.5, 0.5, 1.0, 1.0]), step_days=2)
(2, 4)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..network.build import SiteIndex
from ..scenarios.compile import CompiledScenario
from ..scenarios.schema import Scenario
from .prepare import Job

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
    from .. import __version__

    v = str(__version__)
    try:
        root = Path(__file__).resolve().parents[3] / ".git"
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

BAND_MEASURES = ("loss_pct", "lost_additions_pct", "lost_operation_pct", "min_level")
"""Headline measures that carry a band."""


def _bands_of(scenario: Scenario, net: Any, index: SiteIndex, comp: CompiledScenario, slices: list[Any],
              draws: Any, target: str) -> tuple[dict[str, Any], list[list[float | None]]]:
    """Band (5th-95th percentile over draws) of each headline measure and its drivers, and the value of
    each backtest check in every draw (measured directly on the batched arrays, not table by table)."""
    from ..bands import BAND_PERCENTILES, band, drivers

    heads: dict[str, list[float]] = {m: [] for m in BAND_MEASURES}
    levels: list[np.ndarray] = []
    checks = scenario.backtest.checks if scenario.backtest is not None else ()
    values: list[list[float | None]] = [[] for _ in checks]
    for b_, sl in enumerate(slices):
        pbar = draws.baseline[b_]
        stock, names = _stock(index, comp, sl, scenario.step, pbar)
        heads["loss_pct"].append(stock.loss_pct)
        heads["lost_additions_pct"].append(stock.lost_additions_pct)
        heads["lost_operation_pct"].append(stock.lost_operation_pct)
        heads["min_level"].append(float(stock.level.min()) if stock.level.size else 1.0)
        levels.append(np.asarray(stock.level, float))
        for c, chk in enumerate(checks):
            values[c].append(_draw_check_value(chk, index, sl, pbar, scenario.step, stock, names))
    out: dict[str, Any] = {"draws": draws.n - 1}
    for mname in BAND_MEASURES:
        out[mname] = list(band(heads[mname]))
    out["drivers"] = drivers(draws, heads["loss_pct"])
    # the target's level per step (as in the series, without the setup step), 5th-95th percentile
    # over the same draws as each headline band (bands.band's definition, step by step)
    lv = np.vstack(levels) if levels else np.zeros((0, 0))
    lo, hi = np.percentile(lv, BAND_PERCENTILES, axis=0) if lv.size else (np.zeros(0), np.zeros(0))
    out["level_by_step"] = {"low": [float(x) for x in lo], "high": [float(x) for x in hi]}
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
    from ..bands import band

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
    from ..capacity import DEFAULT_GROWTH, DEFAULT_LIFE_YEARS

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
    from ..capacity import capacity_stock, flow_stock

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
    # per-index facts, looked up once (this runs once per band draw: 33 times a scenario)
    if not _cached(index, ("target_is_stock",), lambda: _target_is_stock(index)):
        return flow_stock(cfr, cfd), names
    T = cfd.shape[0]
    u = np.ones((T, len(names)))
    ow = _cached(index, ("operation", tuple(names)), lambda: _operation_weights(index, names))
    if ow is not None:
        sinks, w = ow
        lvl = np.asarray(fp, float)[1:, sinks] / np.where(pbar[sinks] > 0, pbar[sinks], 1.0)
        has = w.sum(axis=1) > 0
        u[:, has] = lvl @ w[has].T
    g, life = _cached(index, ("stock_params",), lambda: _stock_params(index))
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


def assemble(job: Job, measured: Measured, res: Any, atlas: Any, target: str, focus: str | None,
             params: dict[str, Any], atlas_version: str | None = None) -> StressResult:
    """The full result of a single run: the measures, the long per-step series and the metadata."""
    scenario, net, index, comp = job.scenario, job.net, job.index, job.comp
    step_days = scenario.step
    steps = res.step
    day = np.where(steps >= 0, steps * step_days, -step_days)
    sites = index.sites
    real = (sites["kind"].to_numpy() == "site") if "kind" in sites.columns else ~sites["virtual"].to_numpy(bool)
    pbar = np.asarray(sites["baseline"], float)
    fp = np.asarray(res.firm_production)  # (T+1, n)
    sitem = sites["item"].to_numpy()
    sprod = sites["producer"].astype(str).to_numpy()
    summary, items, consumers = dict(measured.summary), measured.items, measured.consumers

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
    if measured.bands is not None:
        summary["bands"] = measured.bands
    return StressResult(scenario, series, summary, items, consumers, comp.effects, meta, notes, index,
                        tuple(measured.checks))


@dataclass(frozen=True)
class Measured:
    """The measures of one run, shared by single runs (:func:`assemble`) and library rows.

    ``summary``, ``items``, ``consumers``: as in :class:`StressResult`; ``level``: the target level per
    step; ``bands``: the band of each headline measure and its drivers, and ``level_by_step`` (the
    target level's band per step: ``low``, ``high``) (``None`` without draws);
    ``checks``: the scenario's backtest checks (:func:`evaluate_checks`).
    """

    summary: dict[str, Any]
    items: pd.DataFrame
    consumers: pd.DataFrame
    level: np.ndarray
    bands: dict[str, Any] | None
    checks: list[dict[str, Any]]


def measure(job: Job, res: Any, slices: list[Any] | None, target: str) -> Measured:
    """Measure one run of ``job``: its central result ``res`` and, for a band run, every draw's slice."""
    s = job.scenario
    tables = _tables(s, job.net, job.index, job.comp, res, target)
    info = values = None
    if slices is not None:
        info, values = _bands_of(s, job.net, job.index, job.comp, slices, job.draws, target)
    checks = evaluate_checks(s, job.index, tables, res, values)
    level = _stock(job.index, job.comp, res, s.step)[0].level
    return Measured(tables[0], tables[1], tables[2], level, info, checks)


