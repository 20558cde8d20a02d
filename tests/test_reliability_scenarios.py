"""Hostile scenario YAML: refused quickly with a located error, never a traceback, a hang or a wrong success.

Covers the scenario part of issue 10: the bounded safe loader (aliases, expansion, nesting, duplicate
keys, unreadable scalars), finite numbers and bounded day counts, and a fuzz test over mutated built-in
scenario files and random YAML documents.
"""

from __future__ import annotations

import math
import signal
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paxsilica.errors import InputError, PaxsilicaError, Problem, ValidationError
from paxsilica.scenarios import Scenario, parse_scenario
from paxsilica.scenarios.schema import (
    MAX_ALIASES,
    MAX_DAYS,
    MAX_DEPTH,
    MAX_HORIZON_DAYS,
    MAX_NODES,
    SHOCK_TYPES,
    load_yaml,
)

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "src" / "paxsilica" / "data" / "scenarios"
BUILTIN_TEXTS = sorted(p.read_text(encoding="utf-8") for p in BUILTIN_DIR.glob("*.yaml"))

HEAD = "name: x\ndescription: y\n"

OUTAGE = textwrap.dedent("""\
    name: demo
    description: an outage
    horizon: 100
    shocks:
      - type: site_outage
        item: ore
        producer: CHN
        loss: 0.5
        recovery: {profile: linear, days: 30}
      - type: demand_surge
        item: chip
        factor: 1.5
        start: 10
        end: 40
    """)

# The classic "billion laughs": 9 levels of 10 aliases each, 10^9 strings once expanded.
BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))


def problems(e: PaxsilicaError) -> list[Problem]:
    """Every problem of an error (an InputError is one problem)."""
    if isinstance(e, ValidationError):
        return list(e.problems)
    return [Problem(e.file or "", e.row, e.column, e.message)]


def refusal(text: str, file: str = "s.yaml") -> list[Problem]:
    with pytest.raises(PaxsilicaError) as e:
        parse_scenario(text, file=file)
    ps = problems(e.value)
    assert ps and all(p.file == file and p.reason for p in ps), ps
    return ps


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail (rather than hang) when the block takes longer than ``seconds``."""
    if not hasattr(signal, "setitimer"):  # pragma: no cover - Windows: measure only
        t0 = time.perf_counter()
        yield
        assert time.perf_counter() - t0 < seconds
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# --------------------------------------------------------------------------- aliases and nesting


def test_billion_laughs_refused_fast_with_location() -> None:
    assert len(BILLION_LAUGHS.encode()) < 500
    t0 = time.perf_counter()
    with time_limit(5), pytest.raises(InputError) as e:
        parse_scenario(BILLION_LAUGHS, file="bomb.yaml")
    assert time.perf_counter() - t0 < 0.5
    assert e.value.file == "bomb.yaml" and e.value.row is not None
    assert f"more than {MAX_NODES:,} values" in e.value.message
    assert str(e.value).startswith("bomb.yaml, row ")


def test_alias_budget() -> None:
    within = HEAD + "a: &x 1\nb: [" + ", ".join(["*x"] * MAX_ALIASES) + "]\n"
    data, _ = load_yaml(within, "ok.yaml")
    assert data["b"] == [1] * MAX_ALIASES
    text = HEAD + "a: &x 1\nb:\n" + "".join(["  - *x\n"] * (MAX_ALIASES + 1))
    (p,) = refusal(text, "many.yaml")
    assert p.row == 5 + MAX_ALIASES and f"more than {MAX_ALIASES} aliases" in p.reason


def test_alias_inside_its_own_anchor() -> None:
    (p,) = refusal(HEAD + "shocks: &s [*s]\n")
    assert p.row == 3 and "nested deeper" in p.reason


def test_aliases_within_budget_keep_lines() -> None:
    text = OUTAGE.replace("recovery: {profile: linear, days: 30}", "recovery: &r {profile: linear, days: 30}") + \
        "  - {type: site_outage, item: chip, producer: TWN, loss: 0.2, recovery: *r}\n"
    s = parse_scenario(text, file="a.yaml")
    assert s.shocks[2].recovery == s.shocks[0].recovery
    assert s.lines[("shocks", 2)] == 15 and s.lines[("shocks", 0, "loss")] == 8


@pytest.mark.parametrize("style", ["flow", "block", "mapping"])
def test_deep_nesting_is_a_located_error(style: str) -> None:
    n = 1000
    if style == "flow":
        text = HEAD + "shocks: " + "[" * n + "]" * n + "\n"
    elif style == "block":
        text = HEAD + "shocks:\n" + "".join(" " * (i + 1) + "-\n" for i in range(n))
    else:
        text = HEAD + "policies: " + "{a: " * n + "1" + "}" * n + "\n"
    with time_limit(5):
        (p,) = refusal(text, "deep.yaml")
    assert f"deeper than {MAX_DEPTH} levels" in p.reason and p.row is not None


def test_moderate_nesting_still_reads() -> None:
    data, lines = load_yaml("a: " + "[" * (MAX_DEPTH - 2) + "1" + "]" * (MAX_DEPTH - 2) + "\n", "f.yaml")
    depth, v = 0, data["a"]
    while isinstance(v, list):
        depth, v = depth + 1, v[0]
    assert (depth, v) == (MAX_DEPTH - 2, 1)


# --------------------------------------------------------------------------- keys and scalars


def test_duplicate_keys_name_file_line_and_key() -> None:
    ps = refusal(OUTAGE.replace("    loss: 0.5\n", "    loss: 0.5\n    loss: 0.9\n") + "horizon: 200\n", "dup.yaml")
    assert [(p.file, p.row, p.column) for p in ps] == [("dup.yaml", 9, "shocks.0.loss"),
                                                        ("dup.yaml", 16, "horizon")]
    assert "duplicate key 'loss' (first written on line 8)" in ps[0].reason
    assert str(ps[1]) == "dup.yaml, row 16, column 'horizon': duplicate key 'horizon' (first written on line 3)"


def test_duplicate_keys_in_flow_mapping_and_quoted() -> None:
    (p,) = refusal(HEAD + 'policies: {rationing: priority, "rationing": proportional}\n')
    assert (p.row, p.column) == (3, "policies.rationing") and "duplicate key 'rationing'" in p.reason


@pytest.mark.parametrize(("value", "what"), [
    ("2024-13-45", "month must be in 1..12"),
    ("!!python/object/apply:os.system [echo hi]", "unsupported tag"),
    ("!!python/object:os.system x", "constructor"),
    ("!!set {a, b}", "unsupported tag"),
    ("!foo bar", "'!foo'"),
    ("0b" + "1" * 400, "more than 100 characters"),
    ("123456789012345678901234567890", "number too large"),
])
def test_unreadable_scalars_are_located(value: str, what: str) -> None:
    (p,) = refusal(HEAD + f"reference_date: {value}\n")
    assert (p.row, p.column) == (3, "reference_date") and what in p.reason


def test_complex_key_and_control_character() -> None:
    (p,) = refusal(HEAD + "? [a, b]\n: 1\n")
    assert p.row == 3 and "plain name" in p.reason
    (p,) = refusal(HEAD + "horizon: 10\x07\n")
    assert p.row == 3 and "#x0007" in p.reason


def test_too_large_file() -> None:
    (p,) = refusal(HEAD + "# " + "x" * 1_000_000 + "\n")
    assert "at most 1,000,000" in p.reason


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN"])
@pytest.mark.parametrize(("old", "field", "row"), [
    ("loss: 0.5", "shocks.0.loss", 8),
    ("factor: 1.5", "shocks.1.factor", 12),
    ("start: 10", "shocks.1.start", 13),
    ("days: 30", "shocks.0.recovery.days", 9),
])
def test_non_finite_numbers_name_field_and_line(value: str, old: str, field: str, row: int) -> None:
    key = old.split(":")[0]
    ps = refusal(OUTAGE.replace(old, f"{key}: {value}"), "nan.yaml")
    assert any((p.row, p.column) == (row, field) and "finite" in p.reason for p in ps), ps


@pytest.mark.parametrize("value", ["1e30", "1.0e+30", "1000000000", str(MAX_HORIZON_DAYS + 1), "1e400"])
def test_horizon_bounded(value: str) -> None:
    ps = refusal(OUTAGE.replace("horizon: 100", f"horizon: {value}"))
    assert any(p.column == "horizon" and p.row == 3 and f"{MAX_HORIZON_DAYS:,}" in p.reason for p in ps) or \
        any(p.column == "horizon" and "finite" in p.reason for p in ps), ps


def test_horizon_at_limit_and_exponent_numbers_read() -> None:
    s = parse_scenario(OUTAGE.replace("horizon: 100", f"horizon: {MAX_HORIZON_DAYS}").replace("end: 40", "end: 4e1"))
    assert s.horizon == MAX_HORIZON_DAYS and s.shocks[1].end == 40 and isinstance(s.shocks[1].end, int)


def test_step_bounded_by_horizon() -> None:
    (p,) = refusal(OUTAGE + "step: 101\n")
    assert (p.row, p.column) == (15, "step") and "longer than the horizon (100 days)" in p.reason
    assert parse_scenario(OUTAGE + "step: 100\n").steps == 1


@pytest.mark.parametrize("value", ["1e30", "1.0e+300", "99999999999999999999", "0x" + "f" * 30])
def test_huge_integers_refused_cleanly(value: str) -> None:
    ps = refusal(OUTAGE.replace("start: 10", f"start: {value}"))
    assert any(p.column == "shocks.1.start" and p.row == 13 and ("at most" in p.reason or "too large" in p.reason)
               for p in ps), ps


def test_other_day_counts_bounded() -> None:
    ps = refusal(OUTAGE.replace("days: 30", f"days: {MAX_DAYS + 1}"))
    assert any(p.column == "shocks.0.recovery.days" and f"{MAX_DAYS:,}" in p.reason for p in ps), ps


# --------------------------------------------------------------------------- fuzz


def _check_scenario(s: Scenario) -> None:
    """A parsed scenario is within every bound (no wrong success)."""
    assert 1 <= s.horizon <= MAX_HORIZON_DAYS and 1 <= s.step <= s.horizon

    def walk(x: object) -> None:
        if isinstance(x, bool) or x is None or isinstance(x, str):
            return
        if isinstance(x, float):
            assert math.isfinite(x)
        elif isinstance(x, int):
            assert abs(x) <= MAX_DAYS
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list | tuple):
            for v in x:
                walk(v)

    walk(s.to_dict())


def _outcome(text: str, file: str = "fuzz.yaml") -> None:
    t0 = time.perf_counter()
    with time_limit(5):
        try:
            s = parse_scenario(text, file=file)
        except PaxsilicaError as e:
            ps = problems(e)
            assert ps
            for p in ps:
                assert p.file == file and p.reason, p
                assert p.row is None or (isinstance(p.row, int) and p.row >= 1), p
        else:
            assert isinstance(s, Scenario)
            _check_scenario(s)
    assert time.perf_counter() - t0 < 2.0


SNIPPETS = ["&a ", "*a", "[", "]", "{", "}", ": ", "- ", "? ", "<<: *a", ".nan", ".inf", "-.inf", "1e30",
            "1000000000", "0x7fffffffffffffff", "2024-13-45", "!!python/object:os.system", "!foo ", "!!binary x",
            "\t", "\n", "'", '"', "#", "|", ">", "~", "null", "yes", "-1", "0.5", "1:30", "---", "...", "\x00",
            "\u2028", "\ufeff", "%YAML 1.1\n", "*undefined", "&a [*a]"]

mutation = st.one_of(
    st.tuples(st.just("del_line"), st.integers(0, 10_000)),
    st.tuples(st.just("dup_line"), st.integers(0, 10_000)),
    st.tuples(st.just("swap_line"), st.integers(0, 10_000), st.integers(0, 10_000)),
    st.tuples(st.just("insert"), st.integers(0, 100_000), st.sampled_from(SNIPPETS)),
    st.tuples(st.just("insert"), st.integers(0, 100_000), st.text(max_size=5)),
    st.tuples(st.just("replace"), st.integers(0, 100_000), st.sampled_from(SNIPPETS)),
    st.tuples(st.just("delete"), st.integers(0, 100_000), st.integers(1, 20)),
    st.tuples(st.just("value"), st.integers(0, 10_000), st.sampled_from(SNIPPETS)),
)


def _mutate(text: str, ops: list[tuple]) -> str:
    for op in ops:
        lines = text.splitlines(keepends=True) or [""]
        kind = op[0]
        if kind == "del_line":
            del lines[op[1] % len(lines)]
        elif kind == "dup_line":
            i = op[1] % len(lines)
            lines.insert(i, lines[i])
        elif kind == "swap_line":
            i, j = op[1] % len(lines), op[2] % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "value":  # replace what follows the colon of a line
            i = op[1] % len(lines)
            head, colon, _ = lines[i].partition(":")
            lines[i] = f"{head}: {op[2]}\n" if colon else lines[i]
        text = "".join(lines)
        if kind in ("insert", "replace", "delete"):
            at = op[1] % (len(text) + 1)
            if kind == "insert":
                text = text[:at] + op[2] + text[at:]
            elif kind == "replace":
                text = text[:at] + op[2] + text[at + len(op[2]):]
            else:
                text = text[:at] + text[at + op[2]:]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(BUILTIN_TEXTS), st.lists(mutation, min_size=1, max_size=6))
def test_fuzz_mutated_builtin_scenarios(text: str, ops: list[tuple]) -> None:
    _outcome(_mutate(text, ops))


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                    st.sampled_from(["export_ban", "site_outage", "demand_surge", "CHN", "all", "linear"]))
keys = st.sampled_from(["name", "description", "horizon", "step", "shocks", "policies", "type", "start", "end",
                        "loss", "factor", "item", "items", "producer", "exporter", "recovery", "days",
                        "observed", "checks", "min", "max", "of", "reference_date", "resourcing",
                        "stockpile_release", "destinations", "outside"]) | st.text(max_size=5)
documents = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(keys, kids, max_size=6),
                         max_leaves=40)


numbers = st.one_of(st.integers(-5, 400), st.floats(0, 1), st.floats(), st.integers(), st.sampled_from([1e30, 1e9]))
fields = {k: st.one_of(numbers, scalars, documents) for k in (
    "start", "end", "duration", "loss", "severity", "factor", "licence", "days", "delay")}
fields.update({k: st.sampled_from(["CHN", "TWN", "gallium", "hormuz", "all"]) | scalars for k in (
    "exporter", "item", "producer", "country", "chokepoint", "firm", "region")})
fields["items"] = st.lists(st.sampled_from(["gallium", "ore"]), max_size=2) | st.just("all") | documents
fields["recovery"] = st.fixed_dictionaries({"profile": st.sampled_from(["linear", "step", "none", "x"])},
                                           optional={"days": numbers, "delay": numbers}) | scalars
shock = st.fixed_dictionaries({"type": st.sampled_from(SHOCK_TYPES)}, optional=fields)
scenario_like = st.fixed_dictionaries(
    {"name": st.just("fuzz"), "description": st.just("random"), "shocks": st.lists(shock, max_size=3)},
    optional={"horizon": numbers, "step": numbers, "reference_date": scalars, "policies": documents,
              "extra": documents})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(documents, scenario_like), st.booleans())
def test_fuzz_random_yaml_documents(doc: object, flow: bool) -> None:
    _outcome(yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True, sort_keys=False))


def test_builtin_scenarios_still_parse_within_bounds() -> None:
    assert BUILTIN_TEXTS
    for text in BUILTIN_TEXTS:
        _check_scenario(parse_scenario(text, file="builtin.yaml"))
