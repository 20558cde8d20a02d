"""Scenario files: schema errors name file, line and field; the built-in library is complete and valid."""

from __future__ import annotations

import textwrap

import pytest

from paxsilica.errors import InputError, NotFoundError, ValidationError
from paxsilica.scenarios import (
    ExportBan,
    Recovery,
    check_against_atlas,
    list_scenarios,
    load_scenario,
    parse_scenario,
)

GOOD = textwrap.dedent("""\
    name: demo
    description: gallium ban
    horizon: 100
    sources: [somewhere]
    shocks:
      - type: export_ban
        exporter: CHN
        items: [ore]
        destinations: {outside: pax_silica}
        start: 5
        end: 50
        licence: 0.25
    policies:
      rationing: priority
      resourcing: {enabled: true, ramp_up_days: 20}
    """)


def problems_of(text: str, file: str = "s.yaml") -> list:
    with pytest.raises(ValidationError) as e:
        parse_scenario(text, file=file)
    return e.value.problems


def test_parse_good() -> None:
    s = parse_scenario(GOOD, file="demo.yaml")
    ban = s.shocks[0]
    assert isinstance(ban, ExportBan)
    assert (ban.exporter, ban.items, ban.start, ban.end, ban.licence) == ("CHN", ("ore",), 5, 50, 0.25)
    assert ban.destinations.kind == "outside" and ban.destinations.group == "pax_silica"
    assert s.policies.rationing == "priority" and s.policies.resourcing and s.policies.ramp_up_days == 20
    assert s.steps == 100 and s.step == 1
    assert s.to_dict()["shocks"][0]["type"] == "export_ban"


def test_end_before_start_names_file_line_field() -> None:
    (p,) = problems_of(GOOD.replace("end: 50", "end: 2"), file="bad.yaml")
    assert (p.file, p.row, p.column) == ("bad.yaml", 11, "shocks.0.end")
    assert "must come after start" in p.reason


def test_fraction_outside_unit_interval() -> None:
    (p,) = problems_of(GOOD.replace("licence: 0.25", "licence: 1.5"))
    assert (p.row, p.column) == (12, "shocks.0.licence")
    assert "outside [0, 1]" in p.reason


def test_unknown_field_suggests() -> None:
    (p,) = problems_of(GOOD.replace("exporter: CHN", "exportr: CHN").replace("items: [ore]", "exporter: CHN\n    items: [ore]"))
    assert p.column == "shocks.0.exportr" and p.row == 7
    assert "did you mean 'exporter'" in p.reason


def test_many_problems_at_once_and_missing_required() -> None:
    text = "name: x\nhorizon: -3\nshocks:\n  - type: site_outage\n    item: ore\n    loss: 2\n  - type: nope\n"
    ps = problems_of(text)
    cols = {p.column for p in ps}
    assert {"description", "horizon", "shocks.0.producer", "shocks.0.loss", "shocks.1.type"} <= cols or \
        {"horizon", "shocks.0.loss", "shocks.1.type"} <= cols
    assert any(p.row == 7 and p.column == "shocks.1.type" for p in ps)


def test_bad_yaml_gives_line() -> None:
    with pytest.raises(InputError) as e:
        parse_scenario("name: x\nshocks: [\n  - a: b\n", file="broken.yaml")
    assert e.value.file == "broken.yaml" and e.value.row is not None


def test_recovery_profiles() -> None:
    assert Recovery("linear", 10).remaining_loss(5) == 0.5
    assert Recovery("step", 10, delay=2).remaining_loss(11) == 1.0
    assert Recovery("step", 10, delay=2).remaining_loss(12) == 0.0
    assert Recovery("none").remaining_loss(1000) == 1.0
    assert 0 < Recovery("exponential", 30).remaining_loss(10) < 1
    assert Recovery("exponential", 30).remaining_loss(30) == 0.0
    (p,) = problems_of("name: x\ndescription: y\nshocks:\n  - {type: site_outage, item: a, producer: B, loss: 1, "
                       "recovery: {profile: linear}}\n")
    assert p.column == "shocks.0.recovery.profile" and "needs 'days'" in p.reason


def test_atlas_check_unknown_names_with_suggestions(tiny_atlas) -> None:
    text = textwrap.dedent("""\
        name: x
        description: y
        shocks:
          - type: export_ban
            exporter: CHM
            items: [ore, chipp]
            destinations: {outside: pax_silika}
          - type: chokepoint_closure
            chokepoint: hormuz
        """)
    ps = check_against_atlas(parse_scenario(text, file="x.yaml"), tiny_atlas)
    by_col = {p.column: p for p in ps}
    assert "did you mean 'CHN'" in by_col["shocks.0.exporter"].reason and by_col["shocks.0.exporter"].row == 5
    assert "unknown item 'chipp'" in by_col["shocks.0.items.1"].reason and "'chip'" in by_col["shocks.0.items.1"].reason
    assert by_col["shocks.0.items.1"].row == 6
    assert "unknown group 'pax_silika'" in by_col["shocks.0.destinations.outside"].reason
    assert "unknown chokepoint 'hormuz'" in by_col["shocks.1.chokepoint"].reason
    assert all(p.file == "x.yaml" for p in ps)


def test_registry_library() -> None:
    names = list_scenarios()
    assert len(names) >= 10
    for required in ("gallium_germanium_export_ban", "rare_earth_magnet_licensing", "hormuz_closure",
                     "taiwan_strait_blockade", "red_sea_suez_closure", "neon_shortage_ukraine",
                     "lithography_export_controls", "japan_earthquake", "advanced_fab_cyber_incident",
                     "hbm_demand_surge"):
        assert required in names
    for n in names:
        s = load_scenario(n)
        assert s.name == n and s.description and s.sources and s.shocks, n


def test_registry_by_path_and_unknown(tmp_path) -> None:
    p = tmp_path / "mine.yaml"
    p.write_text(GOOD, encoding="utf-8")
    assert load_scenario(p).name == "demo"
    with pytest.raises(NotFoundError, match="did you mean hormuz_closure"):
        load_scenario("hormuz_closur")
    with pytest.raises(NotFoundError):
        load_scenario(tmp_path / "missing.yaml")


def test_builtins_validate_against_bundled_atlas() -> None:
    from paxsilica.atlas import bundled_atlas

    atlas = bundled_atlas()
    bad = []
    for n in list_scenarios():
        bad += [str(p) for p in check_against_atlas(load_scenario(n), atlas)]
    assert not bad, "\n".join(bad)
