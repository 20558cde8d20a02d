"""Shock and policy types, each declared once.

A shock type is one frozen dataclass here, registered by :func:`shock_type`. Its fields carry their
declaration (:func:`param`: what kind of value, whether it is required, its range, which atlas names
it refers to), and the class holds its own cross-field rules (:meth:`Shock.problems`) and how it acts
on the network (:meth:`Shock.apply`). Everything else derives from that one declaration:

- the YAML reader (:func:`paxsilica.scenarios.schema.parse_scenario`) reads and checks each field by
  its kind (:data:`KINDS`), with errors that name file, line and field;
- the atlas checks (:func:`paxsilica.scenarios.schema.check_against_atlas`) look up every field that
  ``refers`` to atlas names (:func:`references`);
- the compiler (:func:`paxsilica.scenarios.compile.compile_scenario`) calls each shock's ``apply``;
- the JSON Schema of the REST API (:func:`paxsilica.scenarios.jsonschema.scenario_json_schema`).

Policies (:class:`Policies`) are declared the same way. A new shock type is one new class; nothing
else needs to be written for it to be read, checked, compiled and described.

Examples
--------
>>> sorted(SHOCKS)[:3]
['blockade', 'chokepoint_closure', 'cyber_incident']
>>> [(name, p.kind, p.refers) for name, p, _ in params_of(SiteOutage)][:2]
[('item', 'text', 'item'), ('producer', 'text', 'producer')]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

Build = Any
"""What :meth:`Shock.apply` is given: a :class:`paxsilica.scenarios.compile.Build` (the compiler
imports this module, not the other way round)."""

MAX_DAYS = 36_525
"""Largest day count of a shock or policy (start, end, duration, recovery days, delays, ramp-up): 100 years."""
RECOVERY_PROFILES = ("linear", "exponential", "step", "none")
RATIONING_RULES = ("proportional", "priority")
CHOKEPOINT_MODES = ("reroute", "cut")
ALLOCATIONS = ("willingness_to_pay", "proportional")
"""Who is cut in a shortage: outside uses that pay less than the chain first, or everyone alike."""
COMMON_FIELDS = ("type", "start", "note", "source")
"""Fields every shock may have (``note`` and ``source`` are free text for the reader, not used)."""

_NOT_ALLOWED = object()


def _show(v: Any) -> str:
    """A value for a message, cut short."""
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Param:
    """The declaration of one field of a shock or of the policies.

    Attributes
    ----------
    kind : str
        A key of :data:`KINDS`: ``text``, ``days``, ``number``, ``flag``, ``names``, ``recovery``,
        ``destinations``, ``releases``.
    required : bool
    choices : tuple of str
        Allowed values of a ``text`` field.
    minimum, maximum : float, optional
        Range of a ``days`` (default 0 to :data:`MAX_DAYS`) or ``number`` field.
    refers : str, optional
        The atlas names the value must be one of (a key of
        :data:`paxsilica.scenarios.schema.ATLAS_NAMES`): ``item``, ``country``, ``producer``, ...
    what : str
        How messages name the value ("licence fraction").
    after : str, optional
        A day field that must come after this other day field (``end`` after ``start``).
    aliases : tuple of str
        Other keys the field may be written under.
    all_as : any
        The value the word ``all`` stands for in a ``names`` field (not allowed unless set).
    nested : tuple of str
        Sibling fields that may also be written inside this one's mapping (``resourcing: {enabled,
        ramp_up_days}``); a ``flag`` field then reads ``enabled``.
    doc : str
        One line for the JSON Schema's ``description``.
    """

    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    refers: str | None = None
    what: str = ""
    after: str | None = None
    aliases: tuple[str, ...] = ()
    all_as: Any = _NOT_ALLOWED
    nested: tuple[str, ...] = ()
    doc: str = ""


START = Param("days", doc="first day of the shock (day 0 is the first simulated day)")
"""The declaration of ``start``, which every shock has."""


def param(default: Any, kind: str, **declaration: Any) -> Any:
    """A dataclass field with its :class:`Param` declaration (``default`` is the value when absent)."""
    return field(default=default, metadata={"param": Param(kind, **declaration)})


def params_of(cls: type) -> list[tuple[str, Param, Any]]:
    """``(name, declaration, default)`` of every declared field of a shock or policies class, in order."""
    return [(f.name, f.metadata["param"], f.default) for f in dataclasses.fields(cls) if "param" in f.metadata]


SHOCKS: dict[str, type[Shock]] = {}
"""Every shock type by its ``type`` name (filled by :func:`shock_type`)."""


def shock_type(name: str) -> Callable[[type[Shock]], type[Shock]]:
    """Register a shock class under its ``type`` name (use as a class decorator)."""

    def register(cls: type[Shock]) -> type[Shock]:
        if name in SHOCKS and SHOCKS[name] is not cls:
            raise ValueError(f"shock type {name!r} is declared twice")
        cls.type = name
        SHOCKS[name] = cls
        return cls

    return register


def shock_types() -> tuple[str, ...]:
    """The registered shock type names, in declaration order."""
    return tuple(SHOCKS)


# --------------------------------------------------------------------------- value classes


@dataclass(frozen=True)
class Where:
    """File and line of a value, for messages."""

    file: str
    line: int | None


@dataclass(frozen=True)
class Recovery:
    """How a lost capacity comes back.

    ``profile``: ``linear`` (straight line from the loss to full capacity over ``days``), ``exponential``
    (the loss decays as exp(-t / (days/3)), i.e. ~95 % recovered after ``days``), ``step`` (nothing
    for ``days``, then full capacity at once) or ``none`` (permanent). ``delay`` days pass at full loss
    before the profile starts.
    """

    profile: str = "none"
    days: int | None = None
    delay: int = 0

    def remaining_loss(self, t: float) -> float:
        """Fraction of the initial loss still present ``t`` days after onset (1 at onset).

        Examples
        --------
        >>> Recovery("linear", 10).remaining_loss(5)
        0.5
        >>> Recovery("step", 10, delay=2).remaining_loss(11), Recovery("step", 10, delay=2).remaining_loss(12)
        (1.0, 0.0)
        """
        if self.profile == "none" or t < self.delay:
            return 1.0
        u = t - self.delay
        d = self.days or 0
        if self.profile == "linear":
            return 0.0 if d <= 0 else max(0.0, 1.0 - u / d)
        if self.profile == "step":
            return 1.0 if u < d else 0.0
        if self.profile == "exponential":
            if d <= 0:
                return 0.0
            return 0.0 if u >= d else math.exp(-3.0 * u / d)
        raise ValueError(self.profile)  # pragma: no cover - checked at parse time


@dataclass(frozen=True)
class Destinations:
    """Where an export ban applies: ``all``, ``outside`` a group, or a ``list`` of countries."""

    kind: str = "all"
    group: str | None = None
    countries: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "all":
            return "all destinations"
        if self.kind == "outside":
            return f"destinations outside {self.group}"
        return ", ".join(self.countries)


@dataclass(frozen=True)
class StockpileRelease:
    """Strategic stocks of ``item`` (held by ``holder``, or all holders) released from ``start``."""

    item: str
    holder: str | None = None
    start: int = 0


# --------------------------------------------------------------------------- kinds of values


@dataclass(frozen=True)
class Kind:
    """How one kind of value is read (``read(reader, mapping, key, path, param, default)``), described
    in JSON Schema (``schema(param)``) and searched for atlas names (``names(value, path)``: the name,
    the path it stands at and what it refers to when not the field's own ``refers``)."""

    read: Callable[..., Any]
    schema: Callable[[Param], dict[str, Any]]
    names: Callable[[Any, tuple], Iterator[tuple[str, tuple, str | None]]] = lambda v, path: iter(())


def _one(v: Any, path: tuple) -> Iterator[tuple[str, tuple, str | None]]:
    if v is not None:
        yield v, path, None


def _many(v: Any, path: tuple) -> Iterator[tuple[str, tuple, str | None]]:
    for j, x in enumerate(v or ()):
        if x != "all":
            yield x, path + (j,), None


def _read_text(r: Any, m: dict, key: str, path: tuple, p: Param, default: Any) -> Any:
    return r.string(m, key, path, default, required=p.required, choices=p.choices or None)


def _read_days(r: Any, m: dict, key: str, path: tuple, p: Param, default: Any) -> Any:
    return r.integer(m, key, path, default, required=p.required,
                     minimum=0 if p.minimum is None else int(p.minimum),
                     maximum=MAX_DAYS if p.maximum is None else int(p.maximum))


def _read_number(r: Any, m: dict, key: str, path: tuple, p: Param, default: Any) -> Any:
    return r.number(m, key, path, None if p.required else default, required=p.required, lo=p.minimum,
                    hi=p.maximum, what=p.what)


def _read_flag(r: Any, m: dict, key: str, path: tuple, p: Param, default: Any) -> Any:
    return r.boolean(m, key, path, default)


def _read_names(r: Any, m: dict, key: str, path: tuple, p: Param, default: Any) -> Any:
    if p.all_as is not _NOT_ALLOWED and m.get(key, "all" if not p.required else None) == "all":
        return p.all_as
    return r.strings(m, key, path, required=p.required)


def _read_recovery(r: Any, m: dict, key: str, path: tuple, p: Param, default: Recovery) -> Recovery:
    v = m.get(key)
    path = path + (key,)
    if v is None:
        return default
    if isinstance(v, str):
        v = {"profile": v}
    rm = r.mapping(v, path, ("profile", "days", "delay"))
    profile = r.string(rm, "profile", path, default.profile, choices=RECOVERY_PROFILES)
    days = r.integer(rm, "days", path, None, minimum=0)
    delay = r.integer(rm, "delay", path, 0, minimum=0)
    if profile in ("linear", "exponential", "step") and days is None:
        r.bad(path + ("profile",), f"recovery profile '{profile}' needs 'days'")
    return Recovery(profile or "none", days, delay or 0)


def _read_destinations(r: Any, m: dict, key: str, path: tuple, p: Param, default: Destinations) -> Destinations:
    v = m.get(key, "all")
    path = path + (key,)
    if v is None or v == "all":
        return Destinations("all")
    if isinstance(v, list):
        return Destinations("list", countries=tuple(str(x).strip() for x in v))
    if isinstance(v, dict):
        dm = r.mapping(v, path, ("outside", "only"))
        if "outside" in dm:
            return Destinations("outside", group=r.string(dm, "outside", path))
        if "only" in dm:
            return Destinations("list", countries=r.strings(dm, "only", path) or ())
    r.bad(path, f"destinations must be 'all', a list of countries, or {{outside: GROUP}}; got {_show(v)}")
    return Destinations("all")


def _destination_names(v: Destinations, path: tuple) -> Iterator[tuple[str, tuple, str | None]]:
    if v.kind == "outside" and v.group is not None:
        yield v.group, path + ("outside",), "group"
    for j, c in enumerate(v.countries):
        yield c, path + (j,), None


def _read_releases(r: Any, m: dict, key: str, path: tuple, p: Param, default: Any) -> tuple[StockpileRelease, ...]:
    sr = m.get(key)
    if sr is None:
        return ()
    if not isinstance(sr, list):
        sr = [sr]
    out = []
    for i, x in enumerate(sr):
        xp = path + (key, i)
        if isinstance(x, str):
            out.append(StockpileRelease(x))
            continue
        xm = r.mapping(x, xp, ("item", "holder", "start"))
        out.append(StockpileRelease(r.string(xm, "item", xp, "", required=True) or "",
                                    r.string(xm, "holder", xp), r.integer(xm, "start", xp, 0) or 0))
    return tuple(out)


def _release_names(v: tuple[StockpileRelease, ...], path: tuple) -> Iterator[tuple[str, tuple, str | None]]:
    for j, rel in enumerate(v):
        yield rel.item, path + (j, "item"), None


def _text_schema(p: Param) -> dict[str, Any]:
    return {"type": "string", "enum": list(p.choices)} if p.choices else {"type": "string"}


def _days_schema(p: Param) -> dict[str, Any]:
    return {"type": "integer", "minimum": 0 if p.minimum is None else p.minimum,
            "maximum": MAX_DAYS if p.maximum is None else p.maximum}


def _number_schema(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "number"}
    if p.minimum is not None:
        out["minimum"] = p.minimum
    if p.maximum is not None:
        out["maximum"] = p.maximum
    return out


_NAMES = {"type": "array", "minItems": 1, "items": {"type": ["string", "integer"]}}


def _names_schema(p: Param) -> dict[str, Any]:
    alts: list[dict[str, Any]] = [{"type": "string"}, _NAMES]
    return {"anyOf": alts}  # "all" is a string too


_RECOVERY = {"anyOf": [{"type": "string", "enum": list(RECOVERY_PROFILES)},
                       {"type": "object", "additionalProperties": False,
                        "properties": {"profile": {"type": "string", "enum": list(RECOVERY_PROFILES)},
                                       "days": {"type": "integer", "minimum": 0, "maximum": MAX_DAYS},
                                       "delay": {"type": "integer", "minimum": 0, "maximum": MAX_DAYS}}}]}
_DESTINATIONS = {"anyOf": [{"const": "all"}, {"type": "array", "items": {"type": "string"}},
                           {"type": "object", "additionalProperties": False, "minProperties": 1,
                            "properties": {"outside": {"type": "string"}, "only": _NAMES}}]}
_RELEASE = {"anyOf": [{"type": "string"},
                      {"type": "object", "additionalProperties": False, "required": ["item"],
                       "properties": {"item": {"type": "string"}, "holder": {"type": "string"},
                                      "start": {"type": "integer", "minimum": 0, "maximum": MAX_DAYS}}}]}

KINDS: dict[str, Kind] = {
    "text": Kind(_read_text, _text_schema, _one),
    "days": Kind(_read_days, _days_schema),
    "number": Kind(_read_number, _number_schema),
    "flag": Kind(_read_flag, lambda p: {"type": "boolean"}),
    "names": Kind(_read_names, _names_schema, _many),
    "recovery": Kind(_read_recovery, lambda p: _RECOVERY),
    "destinations": Kind(_read_destinations, lambda p: _DESTINATIONS, _destination_names),
    "releases": Kind(_read_releases, lambda p: {"anyOf": [_RELEASE, {"type": "array", "items": _RELEASE}]},
                     _release_names),
}
"""Every kind of field value: how it is read, described and searched for atlas names."""


def read_fields(r: Any, cls: type, m: dict, path: tuple, *, start: int | None = None) -> dict[str, Any]:
    """Read the declared fields of ``cls`` from the mapping ``m`` at ``path`` (problems go to ``r``)."""
    values: dict[str, Any] = {}
    inner: dict[str, Any] = {}
    decl = params_of(cls)
    by_name = {name: (p, d) for name, p, d in decl}
    for name, p, default in decl:
        if p.nested and isinstance(m.get(name), dict):  # e.g. resourcing: {enabled, ramp_up_days, ...}
            sub = path + (name,)
            rm = r.mapping(m[name], sub, ("enabled",) + p.nested)
            values[name] = r.boolean(rm, "enabled", sub, default)
            for n in p.nested:
                np_, nd = by_name[n]
                inner[n] = KINDS[np_.kind].read(r, rm, n, sub, np_, nd)
            continue
        key = next((a for a in p.aliases if a in m), name)
        v = KINDS[p.kind].read(r, m, key, path, p, inner.get(name, default))
        values[name] = default if v is None else v  # an invalid or null value: the default (problem noted)
        if p.after == "start" and start is not None and v is not None and v <= start:
            r.bad(path + (key,), f"{key} (day {v}) must come after start (day {start})")
    return values


def allowed_fields(cls: type) -> tuple[str, ...]:
    """Keys a mapping of ``cls`` may hold: its fields and their aliases."""
    return tuple(k for name, p, _ in params_of(cls) for k in (name, *p.aliases))


def references(obj: Any, path: tuple) -> Iterator[tuple[str, str, tuple]]:
    """``(name, what it refers to, path)`` of every atlas name in a shock or the policies."""
    for name, p, _ in params_of(type(obj)):
        if p.refers is not None:
            for value, where, refers in KINDS[p.kind].names(getattr(obj, name), path + (name,)):
                yield value, refers or p.refers, where


# --------------------------------------------------------------------------- shocks


@dataclass(frozen=True)
class Shock:
    """Base class of shocks: a type, a start day and where it was written."""

    start: int
    where: Where = field(compare=False, repr=False)

    type: ClassVar[str] = "shock"

    def end_day(self) -> int | None:
        """Last day (exclusive) the shock is active, ``None`` if open-ended."""
        end = getattr(self, "end", None)
        return end if isinstance(end, int) else None

    def problems(self) -> list[tuple[str | None, str]]:
        """Rules across fields: ``(field or None, reason)`` of each one broken."""
        return []

    def apply(self, b: Build, i: int) -> None:
        """Put this shock (the ``i``-th of its scenario) into the engine's schedules of ``b``."""
        raise NotImplementedError(f"shock type {self.type!r} declares no apply()")


@shock_type("export_ban")
@dataclass(frozen=True)
class ExportBan(Shock):
    """Links of ``items`` from ``exporter`` to the given destinations carry only ``licence`` of their
    baseline flow from ``start`` to ``end`` (exclusive; ``None``: to the horizon)."""

    exporter: str = param("", "text", required=True, refers="country", doc="country whose exports are banned")
    items: tuple[str, ...] = param((), "names", required=True, refers="item", all_as=("all",),
                                   doc="items banned, or all")
    destinations: Destinations = param(Destinations(), "destinations", refers="country_or_group",
                                       doc="all, a list of countries, or {outside: GROUP}")
    end: int | None = param(None, "days", after="start", doc="first day without the ban (none: to the horizon)")
    licence: float = param(0.0, "number", minimum=0, maximum=1, what="licence fraction",
                           aliases=("licence_fraction",), doc="fraction of the baseline flow still licensed")

    def apply(self, b: Build, i: int) -> None:
        items = set(b.litem) if "all" in self.items else set(self.items)
        dom = b.importer != self.exporter
        made = b.cross & (b.exporter == self.exporter)
        share = np.where(made, 1.0, b.controlled_share(self.exporter))
        hit = b.real_link & dom & (share > 0) & np.isin(b.litem, list(items))
        if self.destinations.kind == "outside":
            inside = b.members_on(self.start).get(self.destinations.group or "", set())
            hit &= ~np.isin(b.importer, list(inside))
        elif self.destinations.kind == "list":
            dest: set[str] = set()
            for c in self.destinations.countries:
                dest |= b.members.get(c, {c})
            hit &= np.isin(b.importer, list(dest))
        on = b.window(self.start, self.end)
        # licensed volumes: under willingness to pay they go to the chain's (high-value) buyers first,
        # so the chain keeps min(1, licence / its share of the exporter's sales); else licence for all
        lic = np.full(len(b.links), self.licence)
        if b.wtp and self.licence > 0:
            lic = np.minimum(1.0, self.licence / np.maximum(1.0 - b.o_sup, 1e-9))
        cap_l = 1.0 - share * (1.0 - lic)  # a controller's share of the site is what the ban covers
        for li in np.flatnonzero(hit):
            b.lcap.apply([b.canon[li]], np.where(on, cap_l[li], 1.0))
        b.record(i, self, f"{self.exporter} → {self.destinations.describe()}: {', '.join(sorted(items))} "
                 f"at {self.licence:g} of baseline" + (" (licences to the chain first)" if b.wtp and self.licence > 0
                                                       else ""), 0, int(hit.sum()), self.end)


@shock_type("chokepoint_closure")
@dataclass(frozen=True)
class ChokepointClosure(Shock):
    """A maritime chokepoint closed for ``duration`` days (``None``: to the horizon); lanes through it
    are rerouted (longer lead times, ``mode: reroute``) or cut (``mode: cut``)."""

    chokepoint: str = param("", "text", required=True, refers="chokepoint", doc="chokepoint closed")
    duration: int | None = param(None, "days", minimum=1, doc="days closed (none: to the horizon)")
    mode: str = param("reroute", "text", choices=CHOKEPOINT_MODES, doc="reroute lanes around it, or cut them")

    def end_day(self) -> int | None:
        return None if self.duration is None else self.start + self.duration

    def apply(self, b: Build, i: int) -> None:
        from ..network.build import lead_steps

        links = b.links
        cps = links["chokepoints"].astype(str).to_numpy()
        through = b.real_link & np.array([self.chokepoint in c.split(";") for c in cps], dtype=bool)
        end = self.end_day()
        on = b.window(self.start, end)
        n_cut = n_re = 0
        if through.any():
            table = b.lanes_closed(self, through) if self.mode == "reroute" else None
            if table is None:
                if self.mode == "reroute":
                    b.notes.append(f"shock {i}: no lanes under the closure of {self.chokepoint}; its links are cut")
                b.lcap.apply(b.canon[through], np.where(on, 0.0, 1.0))
                n_cut = int(through.sum())
            else:
                key = ["exporter", "importer"] + (["item"] if "item" in table.columns else [])
                t = table.drop_duplicates(key)
                li_all = np.flatnonzero(through)
                # one merge instead of a lookup per link (same rows: keys are unique after the dedup)
                left = b.lane_keys(through)[key].reset_index(drop=True)
                right = t[key].astype(str).assign(_days=t["days"].astype("float64").to_numpy(),
                                                  _cut=(t["cut"].to_numpy(dtype=object) if "cut" in t.columns
                                                        else np.zeros(len(t), dtype=object)),
                                                  _hit=True)
                m = left.merge(right, on=key, how="left", sort=False)
                hit = m["_hit"].eq(True).to_numpy(dtype=bool)
                days_v = m["_days"].to_numpy(dtype=float)
                cut_v = np.array([bool(v) for v in m["_cut"].to_numpy(dtype=object)], dtype=bool)
                is_cut = ~hit | cut_v | ~np.isfinite(days_v)
                if is_cut.any():
                    b.lcap.apply(b.canon[li_all[is_cut]], np.where(on, 0.0, 1.0))
                n_cut = int(is_cut.sum())
                ok = ~is_cut
                new = lead_steps(np.where(ok, days_v, 0.0), b.step_days)
                base = links["lead_steps"].to_numpy(np.int64)[li_all]
                moved = ok & (new != base)
                for li, nw, bs in zip(li_all[moved].tolist(), new[moved].tolist(), base[moved].tolist(), strict=True):
                    col = np.where(on, float(nw), float(bs))
                    old = b.lead.get(int(b.canon[li]))
                    b.lead[int(b.canon[li])] = col if old is None else np.maximum(old, col)
                    n_re += 1
        b.record(i, self, f"{self.chokepoint} closed ({self.mode}): {n_cut} links cut, {n_re} rerouted", 0,
                 n_cut + n_re, end)


@shock_type("site_outage")
@dataclass(frozen=True)
class SiteOutage(Shock):
    """Site (``item``, ``producer``) loses ``loss`` of its capacity from ``start``, then recovers."""

    item: str = param("", "text", required=True, refers="item", doc="item of the site")
    producer: str = param("", "text", required=True, refers="producer", doc="country or firm of the site")
    loss: float = param(1.0, "number", required=True, minimum=0, maximum=1, what="capacity loss (a fraction)",
                        doc="fraction of capacity lost")
    recovery: Recovery = param(Recovery(), "recovery", doc="how the capacity comes back")

    def apply(self, b: Build, i: int) -> None:
        where_p = (b.sprod == self.producer) | (b.scountry == self.producer)
        if not where_p.any():  # a firm: its production countries (else headquarters)
            where_p = np.isin(b.scountry, list(b.firm_countries(self.producer)))
        hit = np.flatnonzero(b.real_site & (b.sitem == self.item) & where_p)
        b.cap.apply(hit, b.capacity_profile(self.start, self.loss, self.recovery))
        b.record(i, self, f"{self.item}@{self.producer} loses {self.loss:g} ({self.recovery.profile})", hit.size, 0,
                 None)


@shock_type("cyber_incident")
@dataclass(frozen=True)
class CyberIncident(Shock):
    """A full outage of a site (``item`` + ``producer``) or of every site of a ``firm``'s country for
    ``item``, for ``duration`` days, then restored along ``restore``."""

    item: str | None = param(None, "text", refers="item", doc="item of the site hit")
    producer: str | None = param(None, "text", refers="producer", doc="country or firm of the site hit")
    firm: str | None = param(None, "text", refers="firm", doc="firm hit (all its sites)")
    duration: int = param(1, "days", required=True, minimum=1, doc="days of full outage")
    loss: float = param(1.0, "number", minimum=0, maximum=1, what="capacity loss", doc="fraction of capacity lost")
    restore: Recovery = param(Recovery("step", 0), "recovery", doc="how the capacity comes back after the outage")

    def problems(self) -> list[tuple[str | None, str]]:
        if self.firm is None and (self.item is None or self.producer is None):
            return [(None, "a cyber incident needs a site ('item' and 'producer') or a 'firm'")]
        return []

    def apply(self, b: Build, i: int) -> None:
        where = b.real_site.copy()
        if self.item is not None:
            where &= b.sitem == self.item
        if self.producer is not None:
            where &= (b.sprod == self.producer) | (b.scountry == self.producer)
        if self.firm is not None:
            prod = b.atlas["production"]
            made = set(prod.loc[prod["producer"] == self.firm, "item"].dropna())
            where &= np.isin(b.scountry, list(b.firm_countries(self.firm)))
            if self.item is None and made:
                where &= np.isin(b.sitem, list(made))
        hit = np.flatnonzero(where)
        b.cap.apply(hit, b.capacity_profile(self.start, self.loss, self.restore, outage=self.duration))
        b.record(i, self, f"cyber incident, {self.duration} days full outage", hit.size, 0, None)


@shock_type("disaster")
@dataclass(frozen=True)
class Disaster(Shock):
    """A country or region loses ``severity`` of its capacity for ``items`` (``all`` or a list)."""

    country: str | None = param(None, "text", refers="country", doc="country hit")
    region: str | None = param(None, "text", refers="region", doc="region hit")
    items: tuple[str, ...] | None = param(None, "names", refers="item", all_as=None, doc="items hit, or all")
    severity: float = param(0.5, "number", required=True, minimum=0, maximum=1, what="severity (a fraction)",
                            doc="fraction of capacity lost")
    recovery: Recovery = param(Recovery(), "recovery", doc="how the capacity comes back")

    def problems(self) -> list[tuple[str | None, str]]:
        if (self.country is None) == (self.region is None):
            return [(None, "a disaster needs exactly one of 'country' or 'region'")]
        return []

    def apply(self, b: Build, i: int) -> None:
        ctry = {self.country} if self.country else {c for c, r in b.region_of.items() if r == self.region}
        where = b.real_site & np.isin(b.scountry, list(ctry))
        if self.items is not None:
            where &= np.isin(b.sitem, list(self.items))
        hit = np.flatnonzero(where)
        b.cap.apply(hit, b.capacity_profile(self.start, self.severity, self.recovery))
        b.record(i, self, f"{self.country or self.region}: severity {self.severity:g}", hit.size, 0, None)


@shock_type("demand_surge")
@dataclass(frozen=True)
class DemandSurge(Shock):
    """Demand for ``item`` rises to ``factor`` times its baseline from ``start`` to ``end``."""

    item: str = param("", "text", required=True, refers="item", doc="item in demand")
    factor: float = param(1.0, "number", required=True, minimum=0, what="demand factor",
                          doc="demand as a multiple of its baseline")
    end: int | None = param(None, "days", after="start", doc="first day back at baseline (none: to the horizon)")

    def apply(self, b: Build, i: int) -> None:
        sites = b.sites
        on = b.window(self.start, self.end)
        fd = sites["final_demand"].to_numpy(float)
        base = sites["baseline"].to_numpy(float)
        with_fd = np.flatnonzero(b.real_site & (b.sitem == self.item) & (fd > 0))
        if with_fd.size:
            # demand for the item (all its uses) x factor: the extra comes as final demand, so a
            # site whose final demand is only part of its output scales that part up accordingly
            fac = 1.0 + (self.factor - 1.0) * base[with_fd] / fd[with_fd]
            for k_, site in enumerate(with_fd):
                b.dem.apply([site], np.where(on, fac[k_], 1.0))
            b.record(i, self, f"demand for {self.item} x{self.factor:g}", with_fd.size, 0, self.end)
            return
        pol = b.scenario.policies
        head = 0.0
        if pol.resourcing:
            h = sites.loc[b.real_site & (b.sitem == self.item), "capacity_headroom"].astype(float)
            head = float(np.nan_to_num(h.fillna(pol.surge_capacity)).min(initial=0.0)) if len(h) else 0.0
        frac = min(1.0, (1.0 + head) / self.factor) if self.factor > 0 else 1.0
        hit = b.real_link & (b.litem == self.item)
        b.lcap.apply(b.canon[hit], np.where(on, frac, 1.0))
        b.notes.append(f"shock {i}: {self.item} has no final demand in the network; the surge is applied "
                       f"as a cap of {frac:.3g} on its deliveries to the chain")
        b.record(i, self, f"outside demand for {self.item} x{self.factor:g} (chain gets {frac:.3g})", 0,
                 int(hit.sum()), self.end)


@shock_type("blockade")
@dataclass(frozen=True)
class Blockade(Shock):
    """Every link into and out of ``country`` (not its domestic links) carries only ``licence`` of its
    baseline flow from ``start`` to ``end`` (a naval blockade or quarantine)."""

    country: str = param("", "text", required=True, refers="country", doc="country blockaded")
    end: int | None = param(None, "days", after="start", doc="first day without the blockade (none: to the horizon)")
    licence: float = param(0.0, "number", minimum=0, maximum=1, what="licence fraction",
                           doc="fraction of the baseline flow let through")
    inbound: bool = param(True, "flag", doc="also stop what goes in")

    def apply(self, b: Build, i: int) -> None:
        hit = b.cross & ((b.exporter == self.country) | ((b.importer == self.country) & self.inbound))
        b.lcap.apply(b.canon[hit], np.where(b.window(self.start, self.end), self.licence, 1.0))
        b.record(i, self, f"{self.country} blockaded at {self.licence:g} of baseline", 0, int(hit.sum()), self.end)


# --------------------------------------------------------------------------- policies


@dataclass(frozen=True)
class Policies:
    """Responses: rationing rule, who is cut, coalition-first priority, re-sourcing, stockpile release.

    ``ramp_up_days`` and ``surge_capacity`` are ``None`` unless the scenario sets them: the atlas's
    per-item ``dynamics`` (ramp days, spare capacity) apply then, else 30 days and no surge.
    """

    rationing: str = param("proportional", "text", choices=RATIONING_RULES, doc="how a short supplier rations")
    coalition_first: str | None = param(None, "text", refers="group", doc="group whose claims are served first")
    resourcing: bool = param(True, "flag", nested=("ramp_up_days", "surge_capacity"),
                             doc="spare capacity elsewhere ramps up (true/false or {enabled, ...})")
    ramp_up_days: int | None = param(None, "days", doc="days to bring spare capacity online")
    surge_capacity: float | None = param(None, "number", minimum=0, what="surge capacity",
                                         doc="spare capacity as a fraction of output where the atlas gives none")
    stockpile_release: tuple[StockpileRelease, ...] = param((), "releases", refers="item",
                                                            doc="strategic stocks released")
    allocation: str = param("willingness_to_pay", "text", choices=ALLOCATIONS, doc="who is cut in a shortage")
