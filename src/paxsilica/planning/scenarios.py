"""Scenario sets for the planning models: the built-in stress library, or a Monte Carlo run folder.

A planning model sees a scenario as the **unavailability** of each source ``(item, country)`` to the
consumer: the fraction of the horizon over which its supply is lost. Both kinds of set are first
turned into one events table (``scenario, kind, item, country, chokepoint, region, site, start_day,
duration_days, severity, outside``), then :func:`unavailability` turns events into an array
``U[scenario, source]`` in [0, 1]:

* ``export_ban`` of country ``c`` (on ``item``, or every item when blank): the sources ``(i, c)`` are
  unavailable to consumers outside ``c`` (and, for a ban on destinations ``outside`` a group, to
  consumers outside that group only, and for a ban on a list of destinations, to those) for
  ``duration × severity`` of the horizon; ``blockade`` is a
  ban on every item.
* ``chokepoint_closure``: the sources whose lanes to the consumer cross it, in proportion to the part
  of their flow that does (``hits`` table, from :mod:`paxsilica.logistics`).
* ``site_outage``, ``cyber``, ``disaster`` (a country or a region, an item or all): the sources they
  hit, for every consumer, the consumer's own country included.
* ``demand_surge`` of an item: every source of it (a surge is a shortfall no choice of supplier
  avoids; only stock does).

Several events on one source add up, clipped at 1 (conservative when they overlap in time).

Monte Carlo run folder (written by ``paxsilica montecarlo``, read here with pandas only):
``run.json`` (``seed, draws, horizon_days, atlas_version, complete, ...``), ``losses.parquet``
(``draw, target, consumer, loss``) and ``events.parquet`` (``draw, event, kind, item, country,
chokepoint, region, site, start_day, duration_days, severity``). A run made on another atlas version
is refused.

Examples
--------
>>> s = library_set(["gallium_germanium_export_ban"])
>>> s.scenarios, int(s.horizon[0]) > 0
(('gallium_germanium_export_ban',), True)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, NotFoundError

__all__ = ["EVENT_COLUMNS", "ScenarioSet", "library_set", "montecarlo_set", "resolve_set", "unavailability"]

EVENT_COLUMNS = ["scenario", "kind", "item", "country", "chokepoint", "region", "site", "start_day",
                 "duration_days", "severity", "outside", "destinations"]
KINDS = ("export_ban", "chokepoint_closure", "site_outage", "cyber", "disaster", "demand_surge")


@dataclass(frozen=True)
class ScenarioSet:
    """Scenarios with probabilities, horizons and their events.

    Attributes
    ----------
    label : str
        ``library:<names>`` or ``montecarlo:<folder>``.
    scenarios : tuple of str
    prob : ndarray
        Probability of each scenario (equal weights: the library is a set of stress cases, the Monte
        Carlo draws are equally likely).
    horizon : ndarray
        Days of each scenario.
    events : DataFrame
        :data:`EVENT_COLUMNS`.
    meta : mapping
        What the set was made from (names, or the run's seed, draws and atlas version).
    """

    label: str
    scenarios: tuple[str, ...]
    prob: np.ndarray
    horizon: np.ndarray
    events: pd.DataFrame
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.scenarios)

    def record(self) -> dict[str, Any]:
        """What a saved plan says about its scenarios."""
        return {"label": self.label, "n": len(self), **dict(self.meta)}


# --------------------------------------------------------------------------- the stress library


def _integrated(recovery: Any, start: float, horizon: float, active: float | None = None) -> float:
    """Days of full loss over the horizon of a loss that starts at ``start`` and recovers as ``recovery``."""
    days = 0.0
    end = horizon if active is None else min(horizon, start + active)
    t = start
    while t < horizon:
        if t < end:
            days += 1.0
        elif recovery is not None:
            days += float(recovery.remaining_loss(t - end))
        t += 1.0
    return days


def _shock_events(name: str, s: Any, horizon: int, atlas: Any | None) -> list[dict[str, Any]]:
    t = s.type
    start = float(s.start)
    base = {"scenario": name, "item": None, "country": None, "chokepoint": None, "region": None,
            "site": None, "start_day": start, "outside": None, "destinations": None}
    out: list[dict[str, Any]] = []
    if t in ("export_ban", "blockade"):
        end = s.end_day()
        dur = float((end if end is not None else horizon) - start)
        sev = 1.0 - float(getattr(s, "licence", 0.0) or 0.0)
        country = s.exporter if t == "export_ban" else s.country
        items = tuple(getattr(s, "items", ()) or ()) if t == "export_ban" else ()
        dest = getattr(s, "destinations", None)
        outside = dest.group if dest is not None and dest.kind == "outside" else None
        listed = ";".join(dest.countries) if dest is not None and dest.kind == "list" else None
        for it in (items or (None,)):
            out.append({**base, "kind": "export_ban", "item": None if it in (None, "all") else it,
                        "country": country, "duration_days": dur, "severity": sev, "outside": outside,
                        "destinations": listed})
    elif t == "chokepoint_closure":
        dur = float(s.duration if s.duration is not None else horizon - start)
        # a rerouted lane is late, not lost: its flow is missing for the detour only, which the lane
        # model does not give per event here, so only "cut" closures count as lost supply
        sev = 1.0 if s.mode == "cut" else 0.0
        out.append({**base, "kind": "chokepoint_closure", "chokepoint": s.chokepoint, "duration_days": dur,
                    "severity": sev})
    elif t == "site_outage":
        days = _integrated(s.recovery, start, horizon, active=0.0)
        out.append({**base, "kind": "site_outage", "item": s.item, "site": f"{s.item}@{s.producer}",
                    "duration_days": days, "severity": float(s.loss)})
    elif t == "cyber_incident":
        days = _integrated(s.restore, start, horizon, active=float(s.duration))
        site = f"{s.item}@{s.producer}" if s.item and s.producer else (s.firm or s.producer)
        out.append({**base, "kind": "cyber", "item": s.item, "site": site, "duration_days": days,
                    "severity": float(s.loss)})
    elif t == "disaster":
        days = _integrated(s.recovery, start, horizon, active=0.0)
        for it in (tuple(s.items) if s.items else (None,)):
            out.append({**base, "kind": "disaster", "item": it, "country": s.country, "region": s.region,
                        "duration_days": days, "severity": float(s.severity)})
    elif t == "demand_surge":
        end = s.end_day()
        dur = float((end if end is not None else horizon) - start)
        f = float(s.factor)
        out.append({**base, "kind": "demand_surge", "item": s.item, "duration_days": dur,
                    "severity": max(0.0, 1.0 - 1.0 / f) if f > 0 else 0.0})
    return out


def library_set(names: Iterable[str] | None = None, atlas: Any | None = None) -> ScenarioSet:
    """Scenarios of the built-in stress library (``None``: all of them), equally weighted.

    Examples
    --------
    >>> s = library_set(["hormuz_closure", "taiwan_strait_blockade"])
    >>> len(s), float(s.prob.sum())
    (2, 1.0)
    """
    from ..scenarios import list_scenarios, load_scenario

    names = list(names) if names else list_scenarios()
    ids = tuple(Path(str(n)).stem if Path(str(n)).suffix else str(n) for n in names)
    rows: list[dict[str, Any]] = []
    horizons = []
    for n, sid in zip(names, ids, strict=True):
        sc = load_scenario(n)
        horizons.append(float(sc.horizon))
        for s in sc.shocks:
            rows.extend(_shock_events(sid, s, sc.horizon, atlas))
    ev = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    return ScenarioSet(f"library:{','.join(ids)}", ids, np.full(len(ids), 1.0 / max(len(ids), 1)),
                       np.asarray(horizons, float), ev,
                       {"kind": "library", "names": list(ids), "sources": [str(n) for n in names]})


# --------------------------------------------------------------------------- Monte Carlo runs


def montecarlo_set(folder: str | Path, atlas_version: str | None = None) -> ScenarioSet:
    """The draws of a Monte Carlo run folder as scenarios (see the module docstring for the format).

    Raises :class:`~paxsilica.errors.InputError` naming the file and field when the folder is
    incomplete, malformed or made on another atlas version.
    """
    folder = Path(folder)
    run_path = folder / "run.json"
    if not run_path.is_file():
        raise NotFoundError(f"no Monte Carlo run here (run.json missing): {folder}", file=str(folder))
    try:
        run = json.loads(run_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"run.json is not valid JSON: {e}", file=str(run_path)) from e
    if not isinstance(run, dict):
        raise InputError("run.json must hold an object", file=str(run_path))
    for key in ("draws", "horizon_days", "atlas_version"):
        if key not in run:
            raise InputError(f"run.json lacks {key!r}", file=str(run_path), column=key)
    if run.get("complete") is False:
        raise InputError("the Monte Carlo run is not complete (complete: false); finish or re-run it",
                         file=str(run_path), column="complete")
    if atlas_version is not None and str(run["atlas_version"]) != str(atlas_version):
        raise InputError(f"the Monte Carlo run was made on atlas version {run['atlas_version']}, not on this "
                         f"atlas ({atlas_version}); re-run it on this atlas", file=str(run_path),
                         column="atlas_version")
    try:
        draws = int(run["draws"])
        horizon = float(run["horizon_days"])
    except (TypeError, ValueError) as e:
        raise InputError(f"draws and horizon_days must be numbers: {e}", file=str(run_path)) from e
    if draws < 1 or not horizon > 0:
        raise InputError("draws must be >= 1 and horizon_days > 0", file=str(run_path), column="draws")
    ev_path = folder / "events.parquet"
    if not ev_path.is_file():
        raise InputError("events.parquet missing from the Monte Carlo run", file=str(ev_path))
    try:
        ev = pd.read_parquet(ev_path)
    except Exception as e:  # pyarrow raises several types on a damaged file
        raise InputError(f"events.parquet cannot be read: {e}", file=str(ev_path)) from e
    need = ["draw", "kind", "start_day", "duration_days", "severity"]
    for c in need:
        if c not in ev.columns:
            raise InputError(f"events.parquet lacks column {c!r}", file=str(ev_path), column=c)
    for c in ("item", "country", "chokepoint", "region", "site"):
        if c not in ev.columns:
            ev[c] = None
    bad = ~ev["kind"].isin(KINDS)
    if bad.any():
        r = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"unknown event kind {ev['kind'].iloc[r]!r} (known: {', '.join(KINDS)})",
                         file=str(ev_path), row=r + 1, column="kind")
    for c in ("start_day", "duration_days", "severity"):
        v = pd.to_numeric(ev[c], errors="coerce").to_numpy(float)
        lo_bad = ~np.isfinite(v) | (v < 0) | ((v > 1) if c == "severity" else False)
        if lo_bad.any():
            r = int(np.flatnonzero(lo_bad)[0])
            raise InputError(f"{c} must be a number >= 0{' and <= 1' if c == 'severity' else ''}, got "
                             f"{ev[c].iloc[r]!r}", file=str(ev_path), row=r + 1, column=c)
    d = pd.to_numeric(ev["draw"], errors="coerce")
    if d.isna().any() or ((d < 0) | (d >= draws)).any():
        r = int(np.flatnonzero((d.isna() | (d < 0) | (d >= draws)).to_numpy())[0])
        raise InputError(f"draw must be an integer in 0..{draws - 1}", file=str(ev_path), row=r + 1, column="draw")
    ids = tuple(f"draw{k}" for k in range(draws))
    out = pd.DataFrame({"scenario": [ids[int(k)] for k in d], "kind": ev["kind"].astype(str),
                        **{c: ev[c].astype(object).where(ev[c].notna(), None)
                           for c in ("item", "country", "chokepoint", "region", "site")},
                        "start_day": ev["start_day"].astype(float), "duration_days": ev["duration_days"].astype(float),
                        "severity": ev["severity"].astype(float), "outside": None,
                        "destinations": None})[EVENT_COLUMNS]
    meta = {"kind": "montecarlo", "folder": str(folder), "seed": run.get("seed"), "draws": draws,
            "horizon_days": horizon, "atlas_version": run["atlas_version"]}
    return ScenarioSet(f"montecarlo:{folder.name}", ids, np.full(draws, 1.0 / draws), np.full(draws, horizon),
                       out, meta)


def resolve_set(scenarios: str | None, montecarlo: str | Path | None, atlas_version: str | None) -> ScenarioSet:
    """``--scenarios SET`` (``all``/``library``, or names separated by commas) or ``--montecarlo RUN``."""
    if scenarios and montecarlo:
        raise InputError("give --scenarios or --montecarlo, not both", column="scenarios")
    if montecarlo:
        return montecarlo_set(montecarlo, atlas_version)
    if not scenarios or scenarios in ("all", "library"):
        return library_set(None)
    return library_set([s.strip() for s in scenarios.split(",") if s.strip()])


# --------------------------------------------------------------------------- events -> availability


def _site_key(site: str | None, atlas: Any) -> tuple[str | None, str | None, str | None]:
    """(item, country, firm) of a site id: ``item@PRODUCER``, a facility or a firm."""
    if not site:
        return None, None, None
    if "@" in site:
        it, prod = site.split("@", 1)
        return it or None, prod, None
    if atlas is not None:
        fac = atlas["facilities"]
        if len(fac) and site in set(fac["facility"].astype(str)):
            r = fac[fac["facility"].astype(str) == site].iloc[0]
            return str(r["item"]), str(r["country"]), None
        firms = atlas["firms"]
        if len(firms) and site in set(firms["firm"].astype(str)):
            return None, None, site
    return None, site, None


def unavailability(sset: ScenarioSet, sources: pd.DataFrame, consumers: Iterable[str], atlas: Any | None = None,
                   hits: pd.DataFrame | None = None, group_members: Mapping[str, frozenset[str]] | None = None,
                   ) -> np.ndarray:
    """Fraction of each scenario's horizon over which each source is lost to the consumer.

    Parameters
    ----------
    sset : ScenarioSet
    sources : DataFrame
        ``item, country`` (``None`` for the rest of the world), one row per source.
    consumers : iterable of ISO3
        The consumer's countries (a country, or the members of a coalition); empty: the world.
    hits : DataFrame, optional
        ``item, country, chokepoint, fraction``: part of the source's flow to the consumer that crosses
        the chokepoint.
    group_members : mapping group -> members, optional
        For export bans on destinations ``outside`` a group.

    Returns
    -------
    ndarray (scenarios, sources)

    Examples
    --------
    >>> ev = pd.DataFrame([{"scenario": "a", "kind": "export_ban", "item": "wafer", "country": "JPN",
    ...                     "start_day": 0.0, "duration_days": 30.0, "severity": 1.0}])
    >>> s = ScenarioSet("t", ("a",), np.ones(1), np.array([60.0]), ev)
    >>> src = pd.DataFrame({"item": ["wafer", "wafer"], "country": ["JPN", "CHN"]})
    >>> unavailability(s, src, ["TWN"]).tolist()
    [[0.5, 0.0]]
    """
    cons = frozenset(consumers)
    pos = {k: i for i, k in enumerate(sset.scenarios)}
    items = sources["item"].astype(str).to_numpy()
    countries = np.array([None if c is None or (isinstance(c, float) and math.isnan(c)) else str(c)
                          for c in sources["country"]], dtype=object)
    u = np.zeros((len(sset), len(sources)))
    region_of: dict[str, str] = {}
    firm_items: dict[str, set[tuple[str, str]]] = {}
    if atlas is not None:
        ct = atlas["countries"]
        if len(ct) and "region" in ct.columns:
            region_of = {str(a): str(b) for a, b in zip(ct["iso3"], ct["region"], strict=True)}
        prod = atlas["production"]
        fr = atlas["firms"]
        fcountry = dict(zip(fr["firm"].astype(str), fr["country"].astype(str), strict=True)) if len(fr) else {}
        if len(prod):
            for it, p, c in zip(prod["item"], prod["producer"], prod.get("country", prod["producer"]), strict=True):
                if str(p) in fcountry:
                    cc = str(c) if isinstance(c, str) and c else fcountry[str(p)]
                    firm_items.setdefault(str(p), set()).add((str(it), cc))
    hit_frac: dict[str, np.ndarray] = {}
    if hits is not None and len(hits):
        key = pd.Series(list(zip(items, countries, strict=True)))
        for cp, g in hits.groupby("chokepoint"):
            f = dict(zip(zip(g["item"].astype(str), g["country"], strict=True), g["fraction"].astype(float),
                         strict=True))
            hit_frac[str(cp)] = key.map(lambda k, f=f: f.get(k, 0.0)).to_numpy(float)
    ev = sset.events.reindex(columns=EVENT_COLUMNS)
    ev = ev.astype(object).where(ev.notna(), None)
    for r in ev.itertuples(index=False):
        s = pos.get(r.scenario)
        if s is None:
            continue
        frac = min(1.0, float(r.duration_days) / float(sset.horizon[s])) * float(r.severity)
        if frac <= 0:
            continue
        item_ok = np.ones(len(items), bool) if not r.item else items == str(r.item)
        if r.kind == "export_ban":
            c = r.country
            if c is None or c in cons:
                continue
            listed = getattr(r, "destinations", None)
            if listed and cons and not (cons & set(str(listed).split(";"))):
                continue  # a ban on listed destinations spares the others
            outside = getattr(r, "outside", None)
            if outside and group_members is not None and cons and cons <= group_members.get(str(outside), frozenset()):
                continue  # a ban on destinations outside a group the consumer belongs to spares it
            mask = item_ok & (countries == c)
            u[s, mask] += frac
        elif r.kind == "chokepoint_closure":
            f = hit_frac.get(str(r.chokepoint))
            if f is not None:
                u[s] += frac * f
        elif r.kind == "demand_surge":
            u[s, item_ok] += frac
        else:  # site_outage, cyber, disaster: capacity lost for everyone
            it, c, firm = _site_key(r.site, atlas)
            if c is not None and c in firm_items:
                firm, c = c, None  # "item@firm": the firm's sites of that item
            if it and not r.item:
                item_ok = items == it
            if firm is not None:
                pairs = firm_items.get(firm, set())
                mask = np.array([(a, b) in pairs for a, b in zip(items, countries, strict=True)], bool) & item_ok
            elif c is not None:
                mask = item_ok & (countries == c)
            elif r.country:
                mask = item_ok & (countries == r.country)
            elif r.region:
                mask = item_ok & np.array([region_of.get(str(x)) == r.region for x in countries], bool)
            else:
                continue
            u[s, mask] += frac
    return np.clip(u, 0.0, 1.0)
