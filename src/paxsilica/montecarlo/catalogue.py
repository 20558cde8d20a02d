"""Hazard catalogues: which events can happen in a year, how often, how long and how hard.

A catalogue is a YAML file (the default is ``paxsilica/data/hazards/default.yaml``). Each hazard has

- ``id`` and ``kind`` (one of :data:`EVENT_KINDS`: export bans, chokepoint closures, site outages,
  cyber incidents, disasters, demand surges, blockades);
- how often: ``rate`` (events a year, a Poisson process) or ``probability`` (chance of one event in a
  year, at most one); ``range`` gives the plausible interval of that number;
- ``duration`` (days) and ``severity`` (a fraction 0..1) as distributions (:class:`Distribution`);
- ``effects``: the shocks the event causes, written as shocks of a scenario file (the types of
  :mod:`paxsilica.scenarios.declare`) without the fields the draw sets (start, end, duration, loss,
  licence, severity, factor's scale). The effects of one hazard are its **correlation group**: they
  start together and share the draw's duration and severity (a Taiwan blockade closes the strait *and*
  stops the island's trade);
- ``source`` (a citation) or ``assumption`` (our reasoning): every number says where it comes from.

Errors name the file, the line and the field, read with the scenario reader's YAML-with-lines loader
(:func:`paxsilica.scenarios.schema.load_yaml`) and field reader, so an effect is checked exactly as a
scenario's shock is.

Examples
--------
>>> cat = parse_catalogue('''
... name: demo
... hazards:
...   - id: jp_quake
...     kind: disaster
...     rate: 0.1
...     source: "USGS catalogue"
...     duration: {dist: fixed, value: 30}
...     severity: {dist: uniform, low: 0.1, high: 0.3}
...     effects:
...       - {type: disaster, country: JPN}
... ''', file="demo.yaml")
>>> h = cat.hazards[0]
>>> h.id, h.kind, h.rate, h.effects[0].type, h.effects[0].country
('jp_quake', 'disaster', 0.1, 'disaster', 'JPN')
>>> try:
...     parse_catalogue("hazards:\\n  - id: x\\n    kind: disaster\\n    rate: -1\\n", file="bad.yaml")
... except ValidationError as e:
...     print(next(p for p in e.problems if p.column == "hazards.0.rate"))
bad.yaml, row 4, column 'hazards.0.rate': rate -1 is outside [0, 365]
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, Problem, ValidationError
from ..scenarios.declare import SHOCKS, Shock, references
from ..scenarios.schema import ATLAS_NAMES, _Reader, _shock, _suggest, load_yaml

EVENT_KINDS = ("export_ban", "chokepoint_closure", "site_outage", "cyber_incident", "disaster", "demand_surge",
               "blockade")
"""Kinds of hazard (each maps onto the shock type of the same name)."""

DISTRIBUTIONS = {
    "fixed": ("value",),
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "lognormal": ("median", "p90"),
    "beta": ("a", "b"),
}
"""Distribution families and their parameters (``lognormal`` by its median and 90th percentile;
``beta`` on 0..1, or on ``low``..``high`` when given)."""

_Z90 = 1.2815515655446004  # standard normal 90th percentile

FILLED = {
    "export_ban": ("start", "end", "licence", "licence_fraction"),
    "blockade": ("start", "end", "licence"),
    "chokepoint_closure": ("start", "duration"),
    "site_outage": ("start", "loss"),
    "cyber_incident": ("start", "duration", "loss"),
    "disaster": ("start", "severity"),
    "demand_surge": ("start", "end"),
}
"""Fields of each shock type that the draw sets (from the event's start, duration and severity), so an
effect may not write them."""

_DEFAULTS = {"site_outage": {"loss": 1.0}, "cyber_incident": {"duration": 1}, "disaster": {"severity": 1.0}}
"""Placeholders for required fields the draw sets, so the scenario reader accepts the effect."""

RECOVERING = ("site_outage", "disaster")
"""Shock types whose ``recovery`` profile (default ``step``) lasts the drawn duration."""

MAX_HAZARDS = 1000
MAX_EFFECTS = 50


@dataclass(frozen=True)
class Distribution:
    """A distribution of a duration (days) or a severity (fraction).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> Distribution("fixed", {"value": 7.0}).sample(rng)
    7.0
    >>> d = Distribution("lognormal", {"median": 30.0, "p90": 90.0})
    >>> round(float(np.median([d.sample(rng) for _ in range(4000)])), -1)
    30.0
    """

    dist: str
    params: dict[str, float]

    def sample(self, rng: np.random.Generator) -> float:
        """One value (the generator is advanced by exactly one call of its family)."""
        p = self.params
        if self.dist == "fixed":
            return float(p["value"])
        if self.dist == "uniform":
            return float(rng.uniform(p["low"], p["high"]))
        if self.dist == "triangular":
            if p["low"] == p["high"]:
                rng.random()  # same draws consumed whatever the parameters
                return float(p["low"])
            return float(rng.triangular(p["low"], p["mode"], p["high"]))
        if self.dist == "lognormal":
            sigma = math.log(p["p90"] / p["median"]) / _Z90
            return float(p["median"] * math.exp(sigma * rng.standard_normal()))
        if self.dist == "beta":
            x = float(rng.beta(p["a"], p["b"]))
            lo, hi = p.get("low", 0.0), p.get("high", 1.0)
            return lo + (hi - lo) * x
        raise ValueError(self.dist)  # pragma: no cover - checked when read

    def mean(self) -> float:
        """The distribution's mean (for the docs and the catalogue table).

        Examples
        --------
        >>> Distribution("triangular", {"low": 0.0, "mode": 0.5, "high": 1.0}).mean()
        0.5
        """
        p = self.params
        if self.dist == "fixed":
            return float(p["value"])
        if self.dist == "uniform":
            return (p["low"] + p["high"]) / 2
        if self.dist == "triangular":
            return (p["low"] + p["mode"] + p["high"]) / 3
        if self.dist == "lognormal":
            sigma = math.log(p["p90"] / p["median"]) / _Z90
            return p["median"] * math.exp(sigma**2 / 2)
        lo, hi = p.get("low", 0.0), p.get("high", 1.0)
        return lo + (hi - lo) * p["a"] / (p["a"] + p["b"])

    def describe(self) -> str:
        """Short text, e.g. ``lognormal(median=30, p90=90)``."""
        return f"{self.dist}(" + ", ".join(f"{k}={v:g}" for k, v in self.params.items()) + ")"


@dataclass(frozen=True)
class Hazard:
    """One kind of event of a catalogue (see the module docstring)."""

    id: str
    kind: str
    rate: float | None
    probability: float | None
    duration: Distribution
    severity: Distribution
    effects: tuple[Shock, ...]
    description: str = ""
    source: str = ""
    assumption: str = ""
    range: tuple[float, float] | None = None
    line: int | None = None

    def expected_events(self, horizon_days: float) -> float:
        """Mean number of events over ``horizon_days``.

        Examples
        --------
        >>> h = Hazard("x", "disaster", 0.5, None, Distribution("fixed", {"value": 1.0}),
        ...            Distribution("fixed", {"value": 1.0}), ())
        >>> h.expected_events(730)
        1.0
        """
        years = horizon_days / 365.0
        if self.rate is not None:
            return self.rate * years
        return 1.0 - (1.0 - float(self.probability or 0.0)) ** years


@dataclass(frozen=True)
class Catalogue:
    """A parsed hazard catalogue: ``hazards`` in file order, the file it was read from and its SHA-256."""

    name: str
    hazards: tuple[Hazard, ...]
    file: str = "<catalogue>"
    sha256: str = ""
    description: str = ""
    sources: tuple[str, ...] = ()
    lines: dict[tuple, int] = field(default_factory=dict, compare=False, repr=False)

    def table(self) -> Any:
        """One row per hazard: id, kind, rate or probability, range, duration and severity, source."""
        import pandas as pd

        rows = [{"hazard": h.id, "kind": h.kind, "rate_per_year": h.rate, "probability_per_year": h.probability,
                 "range": None if h.range is None else f"{h.range[0]:g}-{h.range[1]:g}",
                 "duration_days": h.duration.describe(), "severity": h.severity.describe(),
                 "effects": ", ".join(e.type for e in h.effects),
                 "basis": "source" if h.source else "assumption", "source": h.source or h.assumption}
                for h in self.hazards]
        return pd.DataFrame(rows)


def default_catalogue_path() -> Path:
    """The bundled default catalogue (``paxsilica/data/hazards/default.yaml``)."""
    return Path(__file__).resolve().parents[1] / "data" / "hazards" / "default.yaml"


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Read and check a catalogue file (default: :func:`default_catalogue_path`).

    Raises
    ------
    InputError
        The file cannot be read.
    ValidationError
        Every problem found, each naming file, line and field.
    """
    p = default_catalogue_path() if path is None else Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the hazard catalogue: {e.strerror or e}", file=str(p)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"the catalogue is not UTF-8 text (byte {e.start})", file=str(p)) from None
    return parse_catalogue(text, file=str(p), sha256=hashlib.sha256(raw).hexdigest())


def _distribution(r: _Reader, m: dict, key: str, path: tuple, *, lo: float, hi: float | None) -> Distribution:
    v = m.get(key)
    sub = path + (key,)
    if v is None:
        r.bad(path if key not in m else sub, f"required field '{key}' is missing")
        return Distribution("fixed", {"value": max(lo, 1.0) if hi is None else hi})
    if isinstance(v, int | float) and not isinstance(v, bool):
        v = {"dist": "fixed", "value": v}
    if not isinstance(v, dict):
        r.bad(sub, f"expected a distribution such as {{dist: uniform, low: 1, high: 5}} or a number, got {v!r}")
        return Distribution("fixed", {"value": lo})
    dist = r.string(v, "dist", sub, None, required=True, choices=tuple(DISTRIBUTIONS))
    if dist is None:
        return Distribution("fixed", {"value": lo})
    names = DISTRIBUTIONS[dist] + (("low", "high") if dist == "beta" else ())
    dm = r.mapping(v, sub, ("dist",) + names)
    params: dict[str, float] = {}
    ok = True
    for n in names:
        optional = dist == "beta" and n in ("low", "high")
        if n not in dm and optional:
            continue
        bound_lo = 0.0 if n in ("a", "b", "median", "p90") else lo
        x = r.number(dm, n, sub, None, required=True, lo=bound_lo, hi=None if n in ("a", "b") else hi, what=n)
        if x is None:
            ok = False
            continue
        if n in ("a", "b", "median", "p90") and x <= 0:
            r.bad(sub + (n,), f"{n} must be > 0, got {x:g}")
            ok = False
        params[n] = x
    if ok:
        if dist == "uniform" and params["low"] > params["high"]:
            r.bad(sub + ("high",), f"high ({params['high']:g}) is below low ({params['low']:g})")
        if dist == "triangular" and not params["low"] <= params["mode"] <= params["high"]:
            r.bad(sub + ("mode",), "needs low <= mode <= high")
        if dist == "lognormal" and params["p90"] < params["median"]:
            r.bad(sub + ("p90",), f"p90 ({params['p90']:g}) is below the median ({params['median']:g})")
        if dist == "beta" and params.get("low", 0.0) > params.get("high", 1.0):
            r.bad(sub + ("high",), "high is below low")
    if not ok:
        return Distribution("fixed", {"value": lo})
    return Distribution(dist, params)


def _effect(r: _Reader, data: Any, path: tuple, kind: str) -> Shock | None:
    if not isinstance(data, dict):
        r.bad(path, f"an effect must be a mapping with a 'type' (a shock type), got {data!r}")
        return None
    t = data.get("type")
    if isinstance(t, str) and t in SHOCKS:
        for key in FILLED.get(t, ("start",)):
            if key in data:
                r.bad(path + (key,), f"'{key}' is set by each draw (from the hazard's start, duration and "
                                     "severity); leave it out of the effect")
        data = {**_DEFAULTS.get(t, {}), **{k: v for k, v in data.items() if k not in FILLED.get(t, ())}}
        rec = data.get("recovery")
        if t in RECOVERING and rec is not None:
            # the profile is the effect's, its length the draw's duration
            if isinstance(rec, dict) and "days" in rec:
                r.bad(path + ("recovery", "days"), "the recovery's 'days' are the drawn duration; leave them out")
            if isinstance(rec, str):
                data["recovery"] = {"profile": rec, "days": 1}
            elif isinstance(rec, dict):
                data["recovery"] = {**rec, "days": 1}
    shock = _shock(r, data, path)
    if shock is not None and shock.type not in FILLED:
        r.bad(path + ("type",), f"effects of type '{shock.type}' are not drawn; use one of {', '.join(FILLED)}")
        return None
    return shock


def parse_catalogue(text: str, file: str = "<catalogue>", sha256: str | None = None) -> Catalogue:
    """Parse catalogue YAML text; every problem names ``file``, the line and the field.

    Raises
    ------
    ValidationError
        Listing every problem (unknown fields, missing or out-of-range numbers, bad distributions,
        effects that are not valid shocks, duplicate ids, ...).
    """
    data, lines = load_yaml(text, file)
    r = _Reader(file, lines)
    m = r.mapping(data, (), ("name", "description", "sources", "hazards"))
    name = r.string(m, "name", (), Path(file).stem) or Path(file).stem
    description = r.string(m, "description", (), "") or ""
    sources = r.strings(m, "sources", ()) or ()
    raw = m.get("hazards")
    hazards: list[Hazard] = []
    if not isinstance(raw, list) or not raw:
        r.bad(("hazards",) if "hazards" in m else (), "expected a non-empty list of hazards")
        raw = []
    if len(raw) > MAX_HAZARDS:
        r.bad(("hazards",), f"more than {MAX_HAZARDS} hazards")
        raw = raw[:MAX_HAZARDS]
    seen: dict[str, int] = {}
    for i, h in enumerate(raw):
        p = ("hazards", i)
        hm = r.mapping(h, p, ("id", "kind", "description", "rate", "probability", "range", "duration", "severity",
                              "effects", "source", "assumption"))
        if not isinstance(h, dict):
            continue
        hid = r.string(hm, "id", p, "", required=True) or ""
        if hid in seen:
            r.bad(p + ("id",), f"duplicate hazard id '{hid}' (first on line {seen[hid]})")
        elif hid:
            seen[hid] = r.line(p + ("id",)) or 0
        kind = r.string(hm, "kind", p, None, required=True, choices=EVENT_KINDS) or "disaster"
        rate = r.number(hm, "rate", p, None, lo=0.0, hi=365.0, what="rate")
        prob = r.number(hm, "probability", p, None, lo=0.0, hi=1.0, what="probability")
        if ("rate" in hm) == ("probability" in hm):
            r.bad(p, "a hazard needs exactly one of 'rate' (events a year) or 'probability' (chance of one a year)")
        rng_ = None
        if "range" in hm:
            v = hm["range"]
            if (not isinstance(v, list) or len(v) != 2
                    or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v) or v[0] > v[1]):
                r.bad(p + ("range",), f"expected [low, high] of the rate or probability, got {v!r}")
            else:
                rng_ = (float(v[0]), float(v[1]))
                centre = rate if rate is not None else prob
                if centre is not None and not rng_[0] <= centre <= rng_[1]:
                    r.bad(p + ("range",), f"the range {rng_[0]:g}-{rng_[1]:g} does not hold the value {centre:g}")
        source = r.string(hm, "source", p, "") or ""
        assumption = r.string(hm, "assumption", p, "") or ""
        if not source and not assumption:
            r.bad(p, "say where the numbers come from: a 'source', or an 'assumption' with its reasoning")
        duration = _distribution(r, hm, "duration", p, lo=1.0, hi=None)
        severity = _distribution(r, hm, "severity", p, lo=0.0, hi=1.0)
        effs_raw = hm.get("effects")
        effects: list[Shock] = []
        if not isinstance(effs_raw, list) or not effs_raw:
            r.bad(p + ("effects",) if "effects" in hm else p, "expected a non-empty list of effects (shocks)")
            effs_raw = []
        for j, e in enumerate(effs_raw[:MAX_EFFECTS]):
            sh = _effect(r, e, p + ("effects", j), kind)
            if sh is not None:
                effects.append(sh)
        hazards.append(Hazard(hid, kind, rate, prob, duration, severity, tuple(effects),
                              r.string(hm, "description", p, "") or "", source, assumption, rng_, r.line(p)))
    if r.problems:
        raise ValidationError(r.problems, f"hazard catalogue {file} is not valid")
    digest = sha256 if sha256 is not None else hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Catalogue(name, tuple(hazards), file, digest, " ".join(description.split()), tuple(sources), dict(lines))


def check_against_atlas(catalogue: Catalogue, atlas: Any) -> list[Problem]:
    """Problems of a catalogue's effects against an atlas (unknown items, countries, chokepoints, ...),
    each naming the catalogue file, line and field, with close matches suggested."""
    known: dict[str, set[str]] = {}
    problems: list[Problem] = []
    lines = catalogue.lines

    def line(path: tuple) -> int | None:
        while path and path not in lines:
            path = path[:-1]
        return lines.get(path)

    for i, h in enumerate(catalogue.hazards):
        for j, s in enumerate(h.effects):
            for value, refers, path in references(s, ("hazards", i, "effects", j)):
                word, names = ATLAS_NAMES[refers]
                if refers not in known:
                    known[refers] = names(atlas)
                if value in known[refers]:
                    continue
                if isinstance(path[-1], int) and path not in lines and path[:-1] in lines:
                    path = path[:-1]
                hint = _suggest(value, sorted(known[refers])) if known[refers] else f" (the atlas has no {word}s)"
                problems.append(Problem(catalogue.file, line(path), ".".join(map(str, path)),
                                        f"unknown {word} '{value}'{hint}"))
    return problems


def validate_catalogue(catalogue: Catalogue, atlas: Any) -> Catalogue:
    """Raise :class:`ValidationError` when the catalogue names what the atlas does not have."""
    problems = check_against_atlas(catalogue, atlas)
    if problems:
        raise ValidationError(problems, f"hazard catalogue {catalogue.file} does not fit atlas "
                                        f"{getattr(atlas, 'name', '')}")
    return catalogue
