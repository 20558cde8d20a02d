"""Each shock type is declared once: the parser, the atlas checks, the compiler and the JSON Schema
all follow the declaration (a new one appears in all four without further code)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.errors import InputError, ValidationError
from paxsilica.network import tiny_atlas
from paxsilica.scenarios import builtin_paths, check_against_atlas, parse_scenario
from paxsilica.scenarios.declare import SHOCKS, Shock, param, params_of, shock_type
from paxsilica.scenarios.json_schema import scenario_json_schema
from paxsilica.stress import run_stress

INVALID = sorted((Path(__file__).parent / "fixtures" / "scenarios" / "invalid").glob("*.yaml"))


def validator() -> jsonschema.Draft202012Validator:
    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_accepts_every_builtin() -> None:
    v = validator()
    for name, path in builtin_paths().items():
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in v.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
        assert not errors, (name, errors)


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_schema_and_parser_reject_invalid_fixtures(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not validator().is_valid(yaml.safe_load(text))
    with pytest.raises((ValidationError, InputError)):
        parse_scenario(text, file=path.name)


def test_invalid_fixtures_are_there() -> None:
    assert len(INVALID) >= 10


def test_every_shock_type_is_in_the_schema_with_its_fields() -> None:
    shocks = scenario_json_schema()["$defs"]["shocks"]
    assert set(shocks) == set(SHOCKS)
    for name, cls in SHOCKS.items():
        props = shocks[name]["properties"]
        assert {n for n, _, _ in params_of(cls)} <= set(props), name
        assert set(shocks[name]["required"]) == {"type"} | {n for n, p, _ in params_of(cls) if p.required}


# --------------------------------------------------------------------------- a new declaration


@dataclass(frozen=True)
class PortStrike(Shock):
    """The ports of ``country`` stop: its exports carry only ``licence`` of their flow until ``end``."""

    country: str = param("", "text", required=True, refers="country")
    end: int | None = param(None, "days", after="start")
    licence: float = param(0.0, "number", minimum=0, maximum=1, what="licence fraction")

    def apply(self, b, i: int) -> None:
        hit = b.cross & (b.exporter == self.country)
        b.lcap.apply(b.canon[hit], np.where(b.window(self.start, self.end), self.licence, 1.0))
        b.record(i, self, f"ports of {self.country} on strike", 0, int(hit.sum()), self.end)


@pytest.fixture
def port_strike():
    shock_type("port_strike")(PortStrike)
    try:
        yield PortStrike
    finally:
        SHOCKS.pop("port_strike", None)


STRIKE = textwrap.dedent("""\
    name: strike
    description: JPN's ports stop for 20 days
    horizon: 40
    shocks:
      - type: port_strike
        country: {country}
        start: 0
        {extra}
    """)


def test_new_declaration_is_parsed(port_strike) -> None:
    s = parse_scenario(STRIKE.format(country="JPN", extra="end: 20"), file="strike.yaml")
    (sh,) = s.shocks
    assert isinstance(sh, PortStrike) and (sh.country, sh.end, sh.licence, sh.type) == ("JPN", 20, 0.0, "port_strike")
    with pytest.raises(ValidationError) as e:
        parse_scenario(STRIKE.format(country="JPN", extra="licence: 2"), file="strike.yaml")
    (p,) = e.value.problems
    assert (p.row, p.column) == (8, "shocks.0.licence") and "licence fraction 2 is outside [0, 1]" in p.reason
    with pytest.raises(ValidationError) as e:
        parse_scenario(STRIKE.format(country="JPN", extra="ends: 20"), file="strike.yaml")
    assert "did you mean 'end'" in e.value.problems[0].reason


def test_new_declaration_is_checked_against_the_atlas(port_strike) -> None:
    s = parse_scenario(STRIKE.format(country="JPM", extra=""), file="strike.yaml")
    (p,) = check_against_atlas(s, tiny_atlas())
    assert (p.row, p.column) == (6, "shocks.0.country")
    assert "unknown country 'JPM'" in p.reason and "'JPN'" in p.reason


def test_new_declaration_is_compiled(port_strike) -> None:
    # a port strike is an outbound-only blockade, by construction: same links, same caps, same result
    atlas = tiny_atlas()
    strike = run_stress(parse_scenario(STRIKE.format(country="JPN", extra="end: 20")), atlas, target="chip",
                        inventory_days=10)
    blockade = run_stress(parse_scenario(STRIKE.format(country="JPN", extra="end: 20").replace(
        "port_strike", "blockade") + "    inbound: false\n"), atlas, target="chip", inventory_days=10)
    assert strike.effects.loc[0, "type"] == "port_strike" and strike.effects.loc[0, "links"] > 0
    assert strike.effects.loc[0, "links"] == blockade.effects.loc[0, "links"]
    assert strike.summary["loss_pct"] > 0
    for k in ("loss_pct", "min_level", "time_to_survive_days", "time_to_recover_days"):
        assert strike.summary[k] == blockade.summary[k], k


def test_new_declaration_is_in_the_json_schema(port_strike) -> None:
    schema = scenario_json_schema()
    ps = schema["$defs"]["shocks"]["port_strike"]
    assert ps["required"] == ["type", "country"] and ps["properties"]["licence"]["maximum"] == 1
    v = jsonschema.Draft202012Validator(schema)
    doc = yaml.safe_load(STRIKE.format(country="JPN", extra="end: 20"))
    assert v.is_valid(doc)
    doc["shocks"][0]["licence"] = 2
    assert not v.is_valid(doc)


def test_unregistered_type_is_refused() -> None:
    assert "port_strike" not in SHOCKS
    with pytest.raises(ValidationError, match="is not one of"):
        parse_scenario(STRIKE.format(country="JPN", extra=""))
    assert "port_strike" not in scenario_json_schema()["$defs"]["shocks"]


def test_a_type_is_declared_only_once() -> None:
    @dataclass(frozen=True)
    class Other(Shock):
        pass

    with pytest.raises(ValueError, match="declared twice"):
        shock_type("blockade")(Other)


# --------------------------------------------------------------------------- parser and schema agree


def _numeric_fields() -> list[tuple[str, int, str]]:
    """(built-in, shock position, field) of every number or day field of the built-in shocks, except
    those bound by another field (``end`` after ``start``; ``start`` before the horizon)."""
    out = []
    for name, path in builtin_paths().items():
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for k, sh in enumerate(doc.get("shocks") or []):
            for f, p, _ in params_of(SHOCKS[sh["type"]]):
                if p.kind in ("number", "days") and p.after is None:
                    out.append((name, k, f))
    return out


FIELDS = _numeric_fields()


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(FIELDS), st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False),
                                         st.sampled_from([0, 1, 0.5, -1, 1.0000001, 36_525, 36_526])))
def test_parser_and_schema_agree_on_numbers(where: tuple[str, int, str], value: float) -> None:
    name, k, f = where
    doc = yaml.safe_load(builtin_paths()[name].read_text(encoding="utf-8"))
    doc["shocks"][k][f] = value
    try:
        parse_scenario(yaml.safe_dump(doc), file=f"{name}.yaml")
        parsed = True
    except ValidationError:
        parsed = False
    assert validator().is_valid(doc) == parsed, (name, k, f, value)
