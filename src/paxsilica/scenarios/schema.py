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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import InputError, Problem, ValidationError
from .declare import (
    ALLOCATIONS,
    CHOKEPOINT_MODES,
    COMMON_FIELDS,
    KINDS,
    MAX_DAYS,
    RATIONING_RULES,
    RECOVERY_PROFILES,
    SHOCKS,
    START,
    Blockade,
    ChokepointClosure,
    CyberIncident,
    DemandSurge,
    Destinations,
    Disaster,
    ExportBan,
    Policies,
    Recovery,
    Shock,
    SiteOutage,
    StockpileRelease,
    Where,
    _show,
    allowed_fields,
    read_fields,
    references,
    shock_types,
)

SHOCK_TYPES = shock_types()
"""The built-in shock types (:data:`paxsilica.scenarios.declare.SHOCKS` holds every registered one)."""

__all__ = [
    "ALLOCATIONS", "CHOKEPOINT_MODES", "MAX_DAYS", "RATIONING_RULES", "RECOVERY_PROFILES", "SHOCK_TYPES",
    "Backtest", "Blockade", "Check", "ChokepointClosure", "CyberIncident", "DemandSurge", "Destinations",
    "Disaster", "ExportBan", "Policies", "Recovery", "Scenario", "Shock", "SiteOutage", "StockpileRelease",
    "Where", "check_against_atlas", "load_yaml", "parse_scenario", "scenario_from_data", "validate_scenario",
]


# --------------------------------------------------------------------------- models

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


def _in_years(days: int, unit: str) -> str:
    return f" ({days / 365.25:g} years)" if unit == "days" and days >= 3650 else ""


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=3, cutoff=0.6)
    if not close:
        lower = {c.lower(): c for c in choices}
        close = [lower[c] for c in difflib.get_close_matches(str(word).lower(), list(lower), n=3, cutoff=0.6)]
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


# --------------------------------------------------------------------------- parsing

def _shock(r: _Reader, data: Any, path: tuple) -> Shock | None:
    """A shock read by its type's declaration (:mod:`paxsilica.scenarios.declare`)."""
    if not isinstance(data, dict):
        r.bad(path, f"a shock must be a mapping with a 'type', got {data!r}")
        return None
    t = r.string(data, "type", path, required=True, choices=shock_types())
    if t is None:
        return None
    cls = SHOCKS[t]
    where = Where(r.file, r.line(path))
    start = KINDS["days"].read(r, data, "start", path, START, 0)
    m = r.mapping(data, path, COMMON_FIELDS + allowed_fields(cls))
    shock = cls(start or 0, where, **read_fields(r, cls, m, path, start=start))
    for field_, reason in shock.problems():
        r.bad(path + ((field_,) if field_ else ()), reason)
    return shock


def _policies(r: _Reader, v: Any, path: tuple) -> Policies:
    if v is None:
        return Policies()
    m = r.mapping(v, path, allowed_fields(Policies))
    return Policies(**read_fields(r, Policies, m, path))


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


ATLAS_NAMES: dict[str, tuple[str, Callable[[Any], set[str]]]] = {
    "item": ("item", lambda a: set(a["items"]["item"].dropna())),
    "country": ("country", lambda a: _countries(a)),
    "country_or_group": ("country", lambda a: _countries(a) | _groups(a)),
    "producer": ("producer", lambda a: _countries(a) | _firms(a)),
    "firm": ("firm", lambda a: _firms(a)),
    "group": ("group", lambda a: _groups(a)),
    "region": ("region", lambda a: set(a["countries"]["region"].dropna())),
    "chokepoint": ("chokepoint", lambda a: set(a["chokepoints"]["chokepoint"].dropna())),
}
"""What a declared field may ``refer`` to: the word used in messages and the atlas's names of it."""


def _countries(atlas: Any) -> set[str]:
    prod = atlas["production"]
    return (set(atlas["countries"]["iso3"].dropna()) | {"ROW"}
            | set(prod.loc[prod["producer_type"] != "firm", "producer"].dropna()))


def _firms(atlas: Any) -> set[str]:
    prod = atlas["production"]
    return set(atlas["firms"]["firm"].dropna()) | set(prod.loc[prod["producer_type"] == "firm", "producer"].dropna())


def _groups(atlas: Any) -> set[str]:
    return set(atlas["groups"]["group"].dropna())


def check_against_atlas(scenario: Scenario, atlas: Any) -> list[Problem]:
    """Problems of a scenario with respect to an atlas: unknown items, countries, groups, regions,
    chokepoints, firms and sites, each with close matches suggested.

    Every field whose declaration ``refers`` to atlas names is checked (:data:`ATLAS_NAMES`).
    Returns an empty list when the scenario fits the atlas.
    """
    known: dict[str, set[str]] = {}
    problems: list[Problem] = []
    lines = scenario.lines

    def line(path: tuple) -> int | None:
        while path and path not in lines:
            path = path[:-1]
        return lines.get(path)

    def check(value: str, refers: str, path: tuple) -> None:
        word, names = ATLAS_NAMES[refers]
        if refers not in known:
            known[refers] = names(atlas)
        if value in known[refers]:
            return
        if isinstance(path[-1], int) and path not in lines and path[:-1] in lines:
            path = path[:-1]  # a single name written without a list
        hint = _suggest(value, sorted(known[refers])) if known[refers] else f" (the atlas has no {word}s)"
        problems.append(Problem(scenario.file, line(path), ".".join(map(str, path)), f"unknown {word} '{value}'{hint}"))

    for i, s in enumerate(scenario.shocks):
        for value, refers, path in references(s, ("shocks", i)):
            check(value, refers, path)
    for value, refers, path in references(scenario.policies, ("policies",)):
        check(value, refers, path)
    return problems


def validate_scenario(scenario: Scenario, atlas: Any) -> Scenario:
    """Raise :class:`ValidationError` if the scenario does not fit the atlas; return it otherwise."""
    problems = check_against_atlas(scenario, atlas)
    if problems:
        raise ValidationError(problems, f"scenario {scenario.file} does not fit atlas {getattr(atlas, 'name', '')}")
    return scenario
