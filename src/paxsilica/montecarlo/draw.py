"""Draws: a seeded year (or horizon) of events from a hazard catalogue, and the shocks they cause.

Draw ``d`` of seed ``s`` uses its own generator, ``numpy.random.default_rng(SeedSequence(s,
spawn_key=(d,)))`` (what ``SeedSequence(s).spawn`` gives as its ``d``-th child), so a draw is the same
whichever worker makes it, in whatever batch, in whatever order. Within a draw the hazards are taken in
catalogue order: the number of events (Poisson for a ``rate``, Bernoulli for a ``probability`` over the
horizon), then for each event its start day (uniform over the horizon, whole days: the engine's step),
its duration (whole days, at least 1) and its severity (clipped to 0..1).

Examples
--------
>>> from paxsilica.montecarlo.catalogue import parse_catalogue
>>> cat = parse_catalogue('''
... hazards:
...   - {id: q, kind: disaster, rate: 2.0, source: s, duration: 10, severity: 0.5,
...      effects: [{type: disaster, country: JPN}]}
... ''', file="c.yaml")
>>> a, b = draw_events(cat, seed=7, draw=3, horizon_days=365), draw_events(cat, seed=7, draw=3, horizon_days=365)
>>> a == b, all(e.duration_days == 10 and e.severity == 0.5 for e in a)
(True, True)
>>> shocks = event_shocks(a[0]) if a else ()
>>> all(s.start == a[0].start_day and s.recovery.days == 10 for s in shocks)
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..scenarios.declare import MAX_DAYS, Recovery, Shock
from .catalogue import RECOVERING, Catalogue, Hazard


@dataclass(frozen=True)
class Event:
    """One event of a draw: which hazard, when, how long and how hard."""

    hazard: int
    """Position of the hazard in the catalogue."""
    hazard_id: str
    kind: str
    start_day: int
    duration_days: int
    severity: float
    effects: tuple[Shock, ...]

    def key(self) -> tuple:
        """What makes two events act the same (the compiled-shock cache's key)."""
        return (self.hazard, self.start_day, self.duration_days, self.severity)


def rng_for(seed: int, draw: int) -> np.random.Generator:
    """The generator of draw ``draw`` of ``seed`` (independent of workers and batches).

    Examples
    --------
    >>> float(rng_for(1, 5).random()) == float(np.random.default_rng(np.random.SeedSequence(1).spawn(6)[5]).random())
    True
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(draw),)))


def _count(h: Hazard, rng: np.random.Generator, horizon_days: int) -> int:
    years = horizon_days / 365.0
    if h.rate is not None:
        return int(rng.poisson(h.rate * years))
    p = 1.0 - (1.0 - float(h.probability or 0.0)) ** years
    return int(rng.random() < p)


def draw_events(catalogue: Catalogue, seed: int, draw: int, horizon_days: int) -> list[Event]:
    """The events of draw ``draw``: a list ordered by hazard, then by the order drawn."""
    rng = rng_for(seed, draw)
    out: list[Event] = []
    for i, h in enumerate(catalogue.hazards):
        for _ in range(_count(h, rng, horizon_days)):
            start = min(int(rng.uniform(0.0, horizon_days)), horizon_days - 1)
            dur = h.duration.sample(rng)
            sev = h.severity.sample(rng)
            duration = int(min(max(round(dur), 1), MAX_DAYS))
            severity = float(min(max(sev, 0.0), 1.0))
            out.append(Event(i, h.id, h.kind, start, duration, severity, h.effects))
    return out


def effect_shock(effect: Shock, start: int, duration: int, severity: float) -> Shock:
    """The shock an effect causes for an event starting on ``start`` for ``duration`` days at ``severity``.

    Examples
    --------
    >>> from paxsilica.scenarios.declare import ExportBan, Where
    >>> s = effect_shock(ExportBan(0, Where("f", 1), exporter="CHN", items=("gallium",)), 10, 30, 0.75)
    >>> s.start, s.end, s.licence
    (10, 40, 0.25)
    """
    end = min(start + duration, MAX_DAYS)
    t = effect.type
    ch: dict[str, Any] = {"start": start}
    if t in ("export_ban", "blockade"):
        ch.update(end=end, licence=1.0 - severity)
    elif t == "chokepoint_closure":
        ch.update(duration=duration)
    elif t == "cyber_incident":
        ch.update(duration=duration, loss=severity)
    elif t in RECOVERING:
        rec = getattr(effect, "recovery", Recovery())
        profile = "step" if rec.profile == "none" else rec.profile
        ch.update(recovery=Recovery(profile, duration, rec.delay), **{"loss" if t == "site_outage" else "severity":
                                                                       severity})
    elif t == "demand_surge":
        ch.update(end=end, factor=1.0 + severity * (float(effect.factor) - 1.0))
    return dataclasses.replace(effect, **ch)


def event_shocks(event: Event) -> tuple[Shock, ...]:
    """The shocks of one event (one per effect)."""
    return tuple(effect_shock(e, event.start_day, event.duration_days, event.severity) for e in event.effects)


def _is_iso3(v: Any) -> bool:
    return isinstance(v, str) and len(v) == 3 and v.isupper()


def event_fields(event: Event) -> dict[str, Any]:
    """The event's row of ``events.parquet`` (without ``draw`` and ``event``): kind, item, country,
    chokepoint, region, site (the first effect that names each), start, duration and severity."""
    row: dict[str, Any] = {"kind": event.kind, "item": None, "country": None, "chokepoint": None, "region": None,
                           "site": None}
    for e in event.effects:
        item = getattr(e, "item", None)
        items = getattr(e, "items", None)
        if row["item"] is None:
            if isinstance(item, str) and item:
                row["item"] = item
            elif items and "all" not in items:
                row["item"] = ",".join(items)
        for attr in ("exporter", "country", "producer"):
            v = getattr(e, attr, None)
            if row["country"] is None and _is_iso3(v):
                row["country"] = v
        if row["chokepoint"] is None and getattr(e, "chokepoint", None):
            row["chokepoint"] = e.chokepoint
        if row["region"] is None and getattr(e, "region", None):
            row["region"] = e.region
        if row["site"] is None and e.type in ("site_outage", "cyber_incident") and getattr(e, "producer", None):
            row["site"] = f"{getattr(e, 'item', None) or '*'}@{e.producer}"
    row.update(start_day=float(event.start_day), duration_days=float(event.duration_days),
               severity=float(event.severity))
    return row


def event_chokepoints(event: Event) -> tuple[str, ...]:
    """Chokepoints an event closes (for the contributions by chokepoint)."""
    return tuple(dict.fromkeys(e.chokepoint for e in event.effects if e.type == "chokepoint_closure"))
