"""Scenario files: a declarative YAML schema with errors that name file, line and field.

A scenario is data: when shocks hit the AI supply network, how long they last and which policies
respond. This module parses a YAML document into frozen dataclasses (:class:`Scenario` and the shock
and policy classes) and checks it, first on its own (types, ranges, start before end) and then
against an :class:`~paxsilica.atlas.Atlas` (:func:`check_against_atlas`: unknown items, countries,
groups, regions and chokepoints, with close matches suggested).

Times are in **days from the start of the scenario** (day 0 is the first simulated day); the compiler
turns them into engine steps of ``step`` days each.

Example
-------
>>> s = parse_scenario('''
... name: demo
... description: a full ban on gallium from China for 90 days
... horizon: 180
... shocks:
...   - type: export_ban
...     exporter: CHN
...     items: [gallium]
...     start: 0
...     end: 90
... ''', file="demo.yaml")
>>> s.shocks[0].exporter, s.shocks[0].end, s.horizon
('CHN', 90, 180)
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import InputError, Problem, ValidationError

SHOCK_TYPES = (
    "export_ban",
    "chokepoint_closure",
    "site_outage",
    "cyber_incident",
    "disaster",
    "demand_surge",
    "blockade",
)
RECOVERY_PROFILES = ("linear", "exponential", "step", "none")
RATIONING_RULES = ("proportional", "priority")
CHOKEPOINT_MODES = ("reroute", "cut")


# --------------------------------------------------------------------------- models


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
        import math

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
class Shock:
    """Base class of shocks: a type, a start day and where it was written."""

    start: int
    where: Where = field(compare=False, repr=False)

    type = "shock"

    def end_day(self) -> int | None:
        """Last day (exclusive) the shock is active, ``None`` if open-ended."""
        return None


@dataclass(frozen=True)
class ExportBan(Shock):
    """Links of ``items`` from ``exporter`` to the given destinations carry only ``licence`` of their
    baseline flow from ``start`` to ``end`` (exclusive; ``None``: to the horizon)."""

    exporter: str = ""
    items: tuple[str, ...] = ()
    destinations: Destinations = Destinations()
    end: int | None = None
    licence: float = 0.0

    type = "export_ban"

    def end_day(self) -> int | None:
        return self.end


@dataclass(frozen=True)
class ChokepointClosure(Shock):
    """A maritime chokepoint closed for ``duration`` days (``None``: to the horizon); lanes through it
    are rerouted (longer lead times, ``mode: reroute``) or cut (``mode: cut``)."""

    chokepoint: str = ""
    duration: int | None = None
    mode: str = "reroute"

    type = "chokepoint_closure"

    def end_day(self) -> int | None:
        return None if self.duration is None else self.start + self.duration


@dataclass(frozen=True)
class SiteOutage(Shock):
    """Site (``item``, ``producer``) loses ``loss`` of its capacity from ``start``, then recovers."""

    item: str = ""
    producer: str = ""
    loss: float = 1.0
    recovery: Recovery = Recovery()

    type = "site_outage"


@dataclass(frozen=True)
class CyberIncident(Shock):
    """A full outage of a site (``item`` + ``producer``) or of every site of a ``firm``'s country for
    ``item``, for ``duration`` days, then restored along ``restore``."""

    item: str | None = None
    producer: str | None = None
    firm: str | None = None
    duration: int = 1
    loss: float = 1.0
    restore: Recovery = Recovery("step", 0)

    type = "cyber_incident"


@dataclass(frozen=True)
class Disaster(Shock):
    """A country or region loses ``severity`` of its capacity for ``items`` (``all`` or a list)."""

    country: str | None = None
    region: str | None = None
    items: tuple[str, ...] | None = None
    severity: float = 0.5
    recovery: Recovery = Recovery()

    type = "disaster"


@dataclass(frozen=True)
class DemandSurge(Shock):
    """Demand for ``item`` rises to ``factor`` times its baseline from ``start`` to ``end``."""

    item: str = ""
    factor: float = 1.0
    end: int | None = None

    type = "demand_surge"

    def end_day(self) -> int | None:
        return self.end


@dataclass(frozen=True)
class Blockade(Shock):
    """Every link into and out of ``country`` (not its domestic links) carries only ``licence`` of its
    baseline flow from ``start`` to ``end`` (a naval blockade or quarantine)."""

    country: str = ""
    end: int | None = None
    licence: float = 0.0
    inbound: bool = True

    type = "blockade"

    def end_day(self) -> int | None:
        return self.end


@dataclass(frozen=True)
class StockpileRelease:
    """Strategic stocks of ``item`` (held by ``holder``, or all holders) released from ``start``."""

    item: str
    holder: str | None = None
    start: int = 0


ALLOCATIONS = ("willingness_to_pay", "proportional")
"""Who is cut in a shortage: outside uses that pay less than the chain first, or everyone alike."""


@dataclass(frozen=True)
class Policies:
    """Responses: rationing rule, who is cut, coalition-first priority, re-sourcing, stockpile release.

    ``ramp_up_days`` and ``surge_capacity`` are ``None`` unless the scenario sets them: the atlas's
    per-item ``dynamics`` (ramp days, spare capacity) apply then, else 30 days and no surge.
    """

    rationing: str = "proportional"
    coalition_first: str | None = None
    resourcing: bool = True
    ramp_up_days: int | None = None
    surge_capacity: float | None = None
    stockpile_release: tuple[StockpileRelease, ...] = ()
    allocation: str = "willingness_to_pay"


@dataclass(frozen=True)
class Check:
    """One backtest check: a measure of the result that must lie in ``[min, max]``."""

    of: str
    measure: str
    min: float | None = None
    max: float | None = None
    why: str = ""


@dataclass(frozen=True)
class Backtest:
    """What happened (``observed``) or what must happen (``expected``) in a scenario, with sources."""

    kind: str
    outcome: str
    checks: tuple[Check, ...]
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A stress scenario, as read from a YAML file.

    Attributes
    ----------
    name, description : str
    horizon : int
        Days simulated.
    step : int
        Days per engine step (default 1).
    sources : tuple of str
        Citations behind the scenario's numbers.
    assumptions : tuple of str
        Numbers that are our assumptions, said as such.
    shocks : tuple of Shock
    policies : Policies
    file : str
        Where it was read from.
    """

    name: str
    description: str
    horizon: int = 365
    step: int = 1
    sources: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    shocks: tuple[Shock, ...] = ()
    policies: Policies = Policies()
    file: str = "<scenario>"
    lines: Mapping[tuple, int] = field(default_factory=dict, compare=False, repr=False)
    reference_date: str | None = None
    """Calendar date of day 0 (ISO), optional: dates group membership for ``outside: GROUP``."""
    backtest: Backtest | None = None
    """The ``observed:`` (a historical event) or ``expected:`` (a case that must hurt) block."""

    @property
    def steps(self) -> int:
        """Number of engine steps covering the horizon."""
        return -(-self.horizon // self.step)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for results and JSON)."""
        import dataclasses

        def conv(x: Any) -> Any:
            if dataclasses.is_dataclass(x):
                out = {f.name: conv(getattr(x, f.name)) for f in dataclasses.fields(x)
                       if f.name not in ("where", "lines")}
                if isinstance(x, Shock):
                    out = {"type": x.type, **out}
                return out
            if isinstance(x, tuple | list):
                return [conv(v) for v in x]
            return x

        return conv(self)


# --------------------------------------------------------------------------- YAML with lines

MAX_YAML_CHARS = 1_000_000
"""Longest scenario file read (characters); the built-in ones are a few thousand."""
MAX_ALIASES = 100
"""Alias uses (``*name``) allowed in one file: enough for sharing, too few for an alias bomb."""
MAX_NODES = 10_000
"""Values (scalars, lists, mappings) allowed after aliases are expanded."""
MAX_DEPTH = 50
"""Deepest nesting of lists and mappings."""
MAX_NUMBER_CHARS = 100
"""Longest text of one number (a longer one is refused before it is converted)."""
MAX_INTEGER = 10**18
"""Largest whole number read (in absolute value); day counts have far lower bounds of their own."""
MAX_HORIZON_DAYS = 7_305
"""Longest horizon: 20 years of days."""
MAX_DAYS = 36_525
"""Largest other day count (start, end, duration, recovery days, delays, ramp-up): 100 years."""

_FLOAT_EXP = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)[eE][-+]?[0-9]+$")
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class _Refused(Exception):
    """A budget of the loader ran out at ``mark``."""

    def __init__(self, mark: Any, reason: str) -> None:
        super().__init__(reason)
        self.mark = mark
        self.reason = reason


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader with budgets: aliases used, nesting depth; ``1e30`` is a number (YAML 1.2)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Refused(event.start_mark, f"more than {MAX_ALIASES} aliases (*name) in one file")
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(event.start_mark, f"lists and mappings nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_SafeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_EXP, list("-+0123456789."))


class _Builder:
    """Turns a node graph into Python data, counting values after alias expansion."""

    def __init__(self, file: str, lines: dict[tuple, int]) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []
        self.nodes = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def refuse(self, node: yaml.Node, path: tuple, reason: str) -> InputError:
        return InputError(reason, file=self.file, row=node.start_mark.line + 1,
                          column=".".join(map(str, path)) if path else None)

    def bad(self, line: int, path: tuple, reason: str) -> None:
        self.problems.append(Problem(self.file, line, ".".join(map(str, path)) if path else None, reason))

    def build(self, node: yaml.Node, path: tuple, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.refuse(node, path, f"more than {MAX_NODES:,} values once aliases (*name) are expanded")
        if depth > MAX_DEPTH:  # only an alias can get here (the loader bounds written nesting)
            raise self.refuse(node, path, f"lists and mappings nested deeper than {MAX_DEPTH} levels "
                                          "(is an alias inside its own anchor?)")
        line = node.start_mark.line + 1
        self.lines[path] = line
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
            self.bad(line, path, f"unsupported tag '{node.tag}': a scenario holds plain lists and mappings")
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            first: dict[str, int] = {}
            for k, v in node.value:
                kline = k.start_mark.line + 1
                if not isinstance(k, yaml.ScalarNode):
                    self.bad(kline, path, "a key must be a plain name, not a list or mapping")
                    continue
                key = str(k.value)
                if key in first:
                    self.bad(kline, path + (key,), f"duplicate key '{key}' (first written on line {first[key]})")
                    continue
                first[key] = kline
                self.lines[path + (key,)] = kline
                out[key] = self.build(v, path + (key,), depth + 1)
                self.lines[path + (key,)] = kline
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, path + (i,), depth + 1) for i, v in enumerate(node.value)]
        return self.scalar(node, path, line)

    def scalar(self, node: yaml.Node, path: tuple, line: int) -> Any:
        if node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
            self.bad(line, path, f"a number written with more than {MAX_NUMBER_CHARS} characters")
            return None
        try:
            v = self.constructor.construct_object(node)
        except yaml.constructor.ConstructorError as e:
            self.bad(line, path, f"cannot read this value: {e.problem or e.context}")
            return None
        except (ValueError, TypeError, OverflowError) as e:  # e.g. a date 2024-13-45
            self.bad(line, path, f"cannot read {node.value[:40]!r}: {e}")
            return None
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_INTEGER:
            self.bad(line, path, f"number too large (more than {MAX_INTEGER:.0e} in absolute value)")
            return None
        return v


def _to_python(node: yaml.Node, path: tuple, lines: dict[tuple, int], file: str = "<scenario>") -> Any:
    """Python data of ``node`` (recording the line of every path in ``lines``); raise a located
    :class:`InputError` when a budget runs out, a :class:`ValidationError` for duplicate keys and
    unreadable values."""
    b = _Builder(file, lines)
    out = b.build(node, path, len(path))
    if b.problems:
        raise ValidationError(b.problems, f"scenario {file} is not valid YAML")
    return out


def load_yaml(text: str, file: str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML text into Python data plus the line (1-based) of every path in it.

    The loader is safe (plain data only) and bounded: at most :data:`MAX_ALIASES` alias uses,
    :data:`MAX_NODES` values after expansion, :data:`MAX_DEPTH` levels of nesting, no duplicate keys.

    Examples
    --------
    >>> data, lines = load_yaml("a: 1\\nb:\\n  - x\\n", "f.yaml")
    >>> data, lines[("b", 0)]
    ({'a': 1, 'b': ['x']}, 3)
    >>> try:
    ...     load_yaml("a: 1\\nb: 2\\na: 3\\n", "f.yaml")
    ... except ValidationError as e:
    ...     print(e.problems[0])
    f.yaml, row 3, column 'a': duplicate key 'a' (first written on line 1)
    """
    if len(text) > MAX_YAML_CHARS:
        raise InputError(f"the file has {len(text):,} characters; a scenario may have at most {MAX_YAML_CHARS:,}",
                         file=file)
    loader: _SafeLoader | None = None
    try:
        loader = _SafeLoader(text)
        node = loader.get_single_node()
    except _Refused as e:
        raise InputError(e.reason, file=file, row=e.mark.line + 1) from None
    except yaml.reader.ReaderError as e:  # a control character: no mark, a position
        ch = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        raise InputError(f"not valid YAML: unacceptable character {ch} (special characters are not allowed)",
                         file=file,
                         row=text.count("\n", 0, e.position) + 1) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        what = getattr(e, "problem", None) or getattr(e, "context", None) or str(e).splitlines()[0]
        raise InputError(f"not valid YAML: {what}", file=file,
                         row=None if mark is None else mark.line + 1) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise InputError("the file is empty", file=file)
    lines: dict[tuple, int] = {}
    return _to_python(node, (), lines, file), lines


class _Reader:
    """Collects problems while reading fields of a mapping at a path."""

    def __init__(self, file: str, lines: Mapping[tuple, int]) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []

    def line(self, path: tuple) -> int | None:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def bad(self, path: tuple, reason: str) -> None:
        fieldname = ".".join(str(p) for p in path) if path else None
        self.problems.append(Problem(self.file, self.line(path), fieldname, reason))

    def mapping(self, data: Any, path: tuple, allowed: Iterable[str]) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.bad(path, f"expected a mapping of fields, got {type(data).__name__}")
            return {}
        allowed = list(allowed)
        for k in data:
            if k not in allowed:
                self.bad(path + (k,), f"unknown field '{k}'{_suggest(k, allowed)}; allowed: {', '.join(allowed)}")
        return data

    def require(self, m: dict, key: str, path: tuple) -> bool:
        if key not in m or m[key] is None:
            self.bad(path + (key,) if key in m else path, f"required field '{key}' is missing")
            return False
        return True

    def string(self, m: dict, key: str, path: tuple, default: str | None = None, *,
               required: bool = False, choices: Iterable[str] | None = None) -> str | None:
        if required and not self.require(m, key, path):
            return default
        v = m.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            self.bad(path + (key,), f"expected text, got {_show(v)}")
            return default
        v = str(v).strip()
        if choices is not None:
            choices = list(choices)
            if v not in choices:
                self.bad(path + (key,), f"'{v}' is not one of {', '.join(choices)}{_suggest(v, choices)}")
                return default
        return v

    def integer(self, m: dict, key: str, path: tuple, default: int | None = None, *,
                required: bool = False, minimum: int | None = 0, maximum: int | None = MAX_DAYS,
                unit: str = "days") -> int | None:
        if required and not self.require(m, key, path):
            return default
        v = m.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.bad(path + (key,), f"expected a whole number of {unit}, got {_show(v)}")
            return default
        if isinstance(v, float) and not math.isfinite(v):
            self.bad(path + (key,), f"must be a finite whole number of {unit}, got {v!r}")
            return default
        if isinstance(v, float) and not v.is_integer():
            self.bad(path + (key,), f"expected a whole number of {unit}, got {v!r}")
            return default
        if minimum is not None and v < minimum:
            self.bad(path + (key,), f"must be at least {minimum}, got {_num(v)}")
            return default
        if maximum is not None and v > maximum:
            self.bad(path + (key,), f"must be at most {maximum:,} {unit}{_in_years(maximum, unit)}, got {_num(v)}")
            return default
        return int(v)

    def number(self, m: dict, key: str, path: tuple, default: float | None = None, *,
               required: bool = False, lo: float | None = None, hi: float | None = None,
               what: str = "") -> float | None:
        if required and not self.require(m, key, path):
            return default
        v = m.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.bad(path + (key,), f"expected a number, got {_show(v)}")
            return default
        v = float(v)
        if not math.isfinite(v):
            self.bad(path + (key,), f"{what or 'value'} must be a finite number, got {v!r}")
            return default
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f"[{lo:g}, {hi:g}]" if hi is not None else f">= {lo:g}"
            self.bad(path + (key,), f"{what or 'value'} {v:g} is outside {rng}")
            return default
        return v

    def strings(self, m: dict, key: str, path: tuple, *, required: bool = False) -> tuple[str, ...] | None:
        if required and not self.require(m, key, path):
            return ()
        v = m.get(key)
        if v is None:
            return None
        if isinstance(v, str):
            return (v.strip(),)
        if not isinstance(v, list) or not all(isinstance(x, str | int) and not isinstance(x, bool) for x in v):
            self.bad(path + (key,), f"expected a list of names, got {_show(v)}")
            return ()
        if not v:
            self.bad(path + (key,), "the list is empty")
        return tuple(str(x).strip() for x in v)

    def boolean(self, m: dict, key: str, path: tuple, default: bool) -> bool:
        v = m.get(key, default)
        if not isinstance(v, bool):
            self.bad(path + (key,), f"expected true or false, got {_show(v)}")
            return default
        return v


def _num(v: float) -> str:
    """A number for a message: ``1e+30`` rather than thirty-one digits."""
    return str(v) if isinstance(v, int) and abs(v) < 10**15 else f"{float(v):g}"


def _show(v: Any) -> str:
    """A value for a message, cut short."""
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _in_years(days: int, unit: str) -> str:
    return f" ({days / 365.25:g} years)" if unit == "days" and days >= 3650 else ""


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=3, cutoff=0.6)
    if not close:
        lower = {c.lower(): c for c in choices}
        close = [lower[c] for c in difflib.get_close_matches(str(word).lower(), list(lower), n=3, cutoff=0.6)]
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


# --------------------------------------------------------------------------- parsing

_COMMON = ("type", "start", "note", "source")


def _recovery(r: _Reader, v: Any, path: tuple, default: Recovery) -> Recovery:
    if v is None:
        return default
    if isinstance(v, str):
        v = {"profile": v}
    m = r.mapping(v, path, ("profile", "days", "delay"))
    profile = r.string(m, "profile", path, default.profile, choices=RECOVERY_PROFILES)
    days = r.integer(m, "days", path, None, minimum=0)
    delay = r.integer(m, "delay", path, 0, minimum=0)
    if profile in ("linear", "exponential", "step") and days is None:
        r.bad(path + ("profile",), f"recovery profile '{profile}' needs 'days'")
    return Recovery(profile or "none", days, delay or 0)


def _check_end(r: _Reader, start: int | None, end: int | None, path: tuple, key: str = "end") -> None:
    if start is not None and end is not None and end <= start:
        r.bad(path + (key,), f"{key} (day {end}) must come after start (day {start})")


def _shock(r: _Reader, data: Any, path: tuple) -> Shock | None:
    if not isinstance(data, dict):
        r.bad(path, f"a shock must be a mapping with a 'type', got {data!r}")
        return None
    t = r.string(data, "type", path, required=True, choices=SHOCK_TYPES)
    if t is None:
        return None
    where = Where(r.file, r.line(path))
    start = r.integer(data, "start", path, 0)
    if t == "export_ban":
        m = r.mapping(data, path, _COMMON + ("exporter", "items", "destinations", "end", "licence", "licence_fraction"))
        dest = _destinations(r, m.get("destinations", "all"), path + ("destinations",))
        end = r.integer(m, "end", path)
        _check_end(r, start, end, path)
        lic_key = "licence_fraction" if "licence_fraction" in m else "licence"
        return ExportBan(start or 0, where, exporter=r.string(m, "exporter", path, "", required=True) or "",
                         items=("all",) if m.get("items") == "all" else (r.strings(m, "items", path, required=True) or ()),
                         destinations=dest, end=end,
                         licence=r.number(m, lic_key, path, 0.0, lo=0, hi=1, what="licence fraction") or 0.0)
    if t == "chokepoint_closure":
        m = r.mapping(data, path, _COMMON + ("chokepoint", "duration", "mode"))
        dur = r.integer(m, "duration", path, None, minimum=1)
        return ChokepointClosure(start or 0, where, chokepoint=r.string(m, "chokepoint", path, "", required=True) or "",
                                 duration=dur, mode=r.string(m, "mode", path, "reroute", choices=CHOKEPOINT_MODES) or "reroute")
    if t == "site_outage":
        m = r.mapping(data, path, _COMMON + ("item", "producer", "loss", "recovery"))
        return SiteOutage(start or 0, where, item=r.string(m, "item", path, "", required=True) or "",
                          producer=r.string(m, "producer", path, "", required=True) or "",
                          loss=_req_num(r, m, "loss", path, "capacity loss"),
                          recovery=_recovery(r, m.get("recovery"), path + ("recovery",), Recovery()))
    if t == "cyber_incident":
        m = r.mapping(data, path, _COMMON + ("item", "producer", "firm", "duration", "loss", "restore"))
        item = r.string(m, "item", path)
        producer = r.string(m, "producer", path)
        firm = r.string(m, "firm", path)
        if firm is None and (item is None or producer is None):
            r.bad(path, "a cyber incident needs a site ('item' and 'producer') or a 'firm'")
        dur = r.integer(m, "duration", path, None, required=True, minimum=1)
        return CyberIncident(start or 0, where, item=item, producer=producer, firm=firm, duration=dur or 1,
                             loss=r.number(m, "loss", path, 1.0, lo=0, hi=1, what="capacity loss") or 1.0,
                             restore=_recovery(r, m.get("restore"), path + ("restore",), Recovery("step", 0)))
    if t == "disaster":
        m = r.mapping(data, path, _COMMON + ("country", "region", "items", "severity", "recovery"))
        country, region = r.string(m, "country", path), r.string(m, "region", path)
        if (country is None) == (region is None):
            r.bad(path, "a disaster needs exactly one of 'country' or 'region'")
        items = m.get("items", "all")
        items_t = None if items == "all" else r.strings(m, "items", path)
        return Disaster(start or 0, where, country=country, region=region, items=items_t,
                        severity=_req_num(r, m, "severity", path, "severity"),
                        recovery=_recovery(r, m.get("recovery"), path + ("recovery",), Recovery()))
    if t == "demand_surge":
        m = r.mapping(data, path, _COMMON + ("item", "factor", "end"))
        end = r.integer(m, "end", path)
        _check_end(r, start, end, path)
        factor = r.number(m, "factor", path, None, required=True, lo=0, what="demand factor")
        return DemandSurge(start or 0, where, item=r.string(m, "item", path, "", required=True) or "",
                           factor=1.0 if factor is None else factor, end=end)
    if t == "blockade":
        m = r.mapping(data, path, _COMMON + ("country", "end", "licence", "inbound"))
        end = r.integer(m, "end", path)
        _check_end(r, start, end, path)
        return Blockade(start or 0, where, country=r.string(m, "country", path, "", required=True) or "",
                        end=end, licence=r.number(m, "licence", path, 0.0, lo=0, hi=1, what="licence fraction") or 0.0,
                        inbound=r.boolean(m, "inbound", path, True))
    return None  # pragma: no cover - choices checked above


def _req_num(r: _Reader, m: dict, key: str, path: tuple, what: str) -> float:
    v = r.number(m, key, path, None, required=True, lo=0, hi=1, what=f"{what} (a fraction)")
    return 0.0 if v is None else v


def _destinations(r: _Reader, v: Any, path: tuple) -> Destinations:
    if v is None or v == "all":
        return Destinations("all")
    if isinstance(v, list):
        return Destinations("list", countries=tuple(str(x).strip() for x in v))
    if isinstance(v, dict):
        m = r.mapping(v, path, ("outside", "only"))
        if "outside" in m:
            return Destinations("outside", group=r.string(m, "outside", path))
        if "only" in m:
            return Destinations("list", countries=r.strings(m, "only", path) or ())
    r.bad(path, f"destinations must be 'all', a list of countries, or {{outside: GROUP}}; got {_show(v)}")
    return Destinations("all")


def _policies(r: _Reader, v: Any, path: tuple) -> Policies:
    if v is None:
        return Policies()
    m = r.mapping(v, path, ("rationing", "coalition_first", "resourcing", "ramp_up_days",
                            "surge_capacity", "stockpile_release", "allocation"))
    res = m.get("resourcing", True)
    ramp: int | None = None
    surge: float | None = None
    if isinstance(res, dict):
        rm = r.mapping(res, path + ("resourcing",), ("enabled", "ramp_up_days", "surge_capacity"))
        enabled = r.boolean(rm, "enabled", path + ("resourcing",), True)
        ramp = r.integer(rm, "ramp_up_days", path + ("resourcing",), None, minimum=0)
        surge = r.number(rm, "surge_capacity", path + ("resourcing",), None, lo=0, what="surge capacity")
    else:
        enabled = r.boolean(m, "resourcing", path, True)
    ramp = r.integer(m, "ramp_up_days", path, ramp, minimum=0)
    surge = r.number(m, "surge_capacity", path, surge, lo=0, what="surge capacity")
    releases = []
    sr = m.get("stockpile_release")
    if sr is not None:
        if not isinstance(sr, list):
            sr = [sr]
        for i, x in enumerate(sr):
            p = path + ("stockpile_release", i)
            if isinstance(x, str):
                releases.append(StockpileRelease(x))
                continue
            xm = r.mapping(x, p, ("item", "holder", "start"))
            releases.append(StockpileRelease(r.string(xm, "item", p, "", required=True) or "",
                                             r.string(xm, "holder", p), r.integer(xm, "start", p, 0) or 0))
    return Policies(rationing=r.string(m, "rationing", path, "proportional", choices=RATIONING_RULES) or "proportional",
                    coalition_first=r.string(m, "coalition_first", path), resourcing=enabled,
                    ramp_up_days=ramp, surge_capacity=surge, stockpile_release=tuple(releases),
                    allocation=r.string(m, "allocation", path, "willingness_to_pay", choices=ALLOCATIONS)
                    or "willingness_to_pay")


CHECK_MEASURES = ("loss_pct", "min_level")
"""Measures a backtest check may bound."""


def _backtest(r: _Reader, v: Any, path: tuple, kind: str) -> Backtest | None:
    if v is None:
        return None
    m = r.mapping(v, path, ("outcome", "checks", "sources"))
    outcome = r.string(m, "outcome", path, "", required=True) or ""
    raw = m.get("checks")
    checks: list[Check] = []
    if not isinstance(raw, list) or not raw:
        r.bad(path + ("checks",), "expected a non-empty list of checks")
        raw = []
    for i, c in enumerate(raw):
        p = path + ("checks", i)
        cm = r.mapping(c, p, ("of", "measure", "min", "max", "why"))
        of = r.string(cm, "of", p, "", required=True) or ""
        if of and of != "target" and not re.match(r"^(item|consumer|site):\S+$", of):
            r.bad(p + ("of",), f"expected target, item:ID, consumer:ISO3 or site:ITEM@ISO3, got {of!r}")
        measure = r.string(cm, "measure", p, "loss_pct", choices=CHECK_MEASURES) or "loss_pct"
        lo = r.number(cm, "min", p, None, what="min")
        hi = r.number(cm, "max", p, None, what="max")
        if lo is None and hi is None:
            r.bad(p, "a check needs min, max or both")
        if lo is not None and hi is not None and lo > hi:
            r.bad(p + ("max",), f"max ({hi:g}) is below min ({lo:g})")
        checks.append(Check(of, measure, lo, hi, r.string(cm, "why", p, "") or ""))
    sources = r.strings(m, "sources", path) or ()
    return Backtest(kind, outcome, tuple(checks), tuple(sources))


def scenario_from_data(data: Any, lines: Mapping[tuple, int], file: str) -> Scenario:
    """Build a :class:`Scenario` from parsed YAML data; raise :class:`ValidationError` listing every problem."""
    r = _Reader(file, lines)
    m = r.mapping(data, (), ("name", "description", "horizon", "step", "sources", "assumptions",
                             "shocks", "policies", "reference_date", "tags", "observed", "expected"))
    name = r.string(m, "name", (), "", required=True) or ""
    desc = r.string(m, "description", (), "", required=True) or ""
    horizon = r.integer(m, "horizon", (), 365, minimum=1, maximum=MAX_HORIZON_DAYS) or 365
    step = r.integer(m, "step", (), 1, minimum=1, maximum=None) or 1
    if step > horizon and "horizon" not in {p.column for p in r.problems}:
        r.bad(("step",), f"a step of {step:,} days is longer than the horizon ({horizon:,} days)")
        step = 1
    sources = r.strings(m, "sources", ()) or ()
    assumptions = r.strings(m, "assumptions", ()) or ()
    shocks_raw = m.get("shocks", [])
    shocks: list[Shock] = []
    if shocks_raw is None:
        shocks_raw = []
    if not isinstance(shocks_raw, list):
        r.bad(("shocks",), "expected a list of shocks")
        shocks_raw = []
    for i, s in enumerate(shocks_raw):
        sh = _shock(r, s, ("shocks", i))
        if sh is not None:
            if sh.start >= horizon:
                r.bad(("shocks", i, "start"), f"start (day {sh.start}) is not before the horizon (day {horizon})")
            shocks.append(sh)
    pol = _policies(r, m.get("policies"), ("policies",))
    if m.get("observed") is not None and m.get("expected") is not None:
        r.bad(("expected",), "a scenario has either an observed or an expected block, not both")
    bt = _backtest(r, m.get("observed"), ("observed",), "observed") or \
        _backtest(r, m.get("expected"), ("expected",), "expected")
    ref = m.get("reference_date")
    if ref is not None:
        import datetime as _dt

        try:
            ref = _dt.date.fromisoformat(str(ref)).isoformat()
        except ValueError:
            r.bad(("reference_date",), f"expected a date YYYY-MM-DD, got {ref!r}")
            ref = None
    if r.problems:
        raise ValidationError(r.problems, f"scenario {file} is not valid")
    return Scenario(name, desc, horizon, step, sources, assumptions, tuple(shocks), pol, file, dict(lines), ref, bt)


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    """Parse scenario YAML text; errors name ``file``, the line and the field.

    Examples
    --------
    >>> try:
    ...     parse_scenario("name: x\\ndescription: y\\nshocks:\\n  - type: export_ban\\n    exporter: CHN\\n"
    ...                    "    items: [gallium]\\n    start: 10\\n    end: 5\\n", file="x.yaml")
    ... except ValidationError as e:
    ...     print(e.problems[0])
    x.yaml, row 8, column 'shocks.0.end': end (day 5) must come after start (day 10)
    """
    data, lines = load_yaml(text, file)
    return scenario_from_data(data, lines, file)


# --------------------------------------------------------------------------- atlas checks


def check_against_atlas(scenario: Scenario, atlas: Any) -> list[Problem]:
    """Problems of a scenario with respect to an atlas: unknown items, countries, groups, regions,
    chokepoints, firms and sites, each with close matches suggested.

    Returns an empty list when the scenario fits the atlas.
    """
    items = set(atlas["items"]["item"].dropna())
    countries = set(atlas["countries"]["iso3"].dropna()) | {"ROW"}
    prod = atlas["production"]
    countries |= set(prod.loc[prod["producer_type"] != "firm", "producer"].dropna())
    groups = set(atlas["groups"]["group"].dropna())
    regions = set(atlas["countries"]["region"].dropna())
    chokepoints = set(atlas["chokepoints"]["chokepoint"].dropna())
    firms = set(atlas["firms"]["firm"].dropna()) | set(prod.loc[prod["producer_type"] == "firm", "producer"].dropna())
    problems: list[Problem] = []
    lines = scenario.lines

    def line(path: tuple) -> int | None:
        while path and path not in lines:
            path = path[:-1]
        return lines.get(path)

    def check(value: str | None, known: set[str], kind: str, path: tuple) -> None:
        if value is None or value in known:
            return
        hint = _suggest(value, sorted(known)) if known else f" (the atlas has no {kind}s)"
        problems.append(Problem(scenario.file, line(path), ".".join(map(str, path)), f"unknown {kind} '{value}'{hint}"))

    for i, s in enumerate(scenario.shocks):
        p = ("shocks", i)
        if isinstance(s, ExportBan):
            check(s.exporter, countries, "country", p + ("exporter",))
            for j, it in enumerate(s.items):
                if it != "all":
                    check(it, items, "item", p + ("items", j) if (p + ("items", j)) in lines else p + ("items",))
            if s.destinations.kind == "outside":
                check(s.destinations.group, groups, "group", p + ("destinations", "outside"))
            for j, c in enumerate(s.destinations.countries):
                check(c, countries | groups, "country", p + ("destinations", j))
        elif isinstance(s, ChokepointClosure):
            check(s.chokepoint, chokepoints, "chokepoint", p + ("chokepoint",))
        elif isinstance(s, SiteOutage):
            check(s.item, items, "item", p + ("item",))
            check(s.producer, countries | firms, "producer", p + ("producer",))
        elif isinstance(s, CyberIncident):
            check(s.item, items, "item", p + ("item",))
            check(s.producer, countries | firms, "producer", p + ("producer",))
            check(s.firm, firms, "firm", p + ("firm",))
        elif isinstance(s, Disaster):
            check(s.country, countries, "country", p + ("country",))
            check(s.region, regions, "region", p + ("region",))
            for j, it in enumerate(s.items or ()):
                check(it, items, "item", p + ("items", j) if (p + ("items", j)) in lines else p + ("items",))
        elif isinstance(s, DemandSurge):
            check(s.item, items, "item", p + ("item",))
        elif isinstance(s, Blockade):
            check(s.country, countries, "country", p + ("country",))
    pol = scenario.policies
    check(pol.coalition_first, groups, "group", ("policies", "coalition_first"))
    for j, rel in enumerate(pol.stockpile_release):
        check(rel.item, items, "item", ("policies", "stockpile_release", j, "item"))
    return problems


def validate_scenario(scenario: Scenario, atlas: Any) -> Scenario:
    """Raise :class:`ValidationError` if the scenario does not fit the atlas; return it otherwise."""
    problems = check_against_atlas(scenario, atlas)
    if problems:
        raise ValidationError(problems, f"scenario {scenario.file} does not fit atlas {getattr(atlas, 'name', '')}")
    return scenario
