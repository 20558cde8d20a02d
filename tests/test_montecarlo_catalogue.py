"""Hazard catalogue: the default one fits the bundled atlas and says where its numbers come from;
errors name file, line and field; draws respect the distributions' bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.atlas import bundled_atlas
from paxsilica.errors import InputError, ValidationError
from paxsilica.montecarlo.catalogue import (
    EVENT_KINDS,
    check_against_atlas,
    load_catalogue,
    parse_catalogue,
)
from paxsilica.montecarlo.draw import draw_events, effect_shock

GOOD = """\
name: t
hazards:
  - id: a
    kind: export_ban
    probability: 0.2
    source: s
    duration: {dist: lognormal, median: 30, p90: 90}
    severity: {dist: triangular, low: 0.1, mode: 0.5, high: 0.9}
    effects:
      - {type: export_ban, exporter: JPN, items: [wafer]}
"""


def problems(text: str, file: str = "cat.yaml") -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(ValidationError) as e:
        parse_catalogue(text, file=file)
    assert all(p.file == file for p in e.value.problems)
    return [(p.row, p.column, p.reason) for p in e.value.problems]


def test_default_catalogue_fits_the_bundled_atlas_and_cites_or_assumes_every_number() -> None:
    cat = load_catalogue()
    assert len(cat.hazards) >= 15
    assert {h.kind for h in cat.hazards} == set(EVENT_KINDS)
    assert check_against_atlas(cat, bundled_atlas()) == []
    for h in cat.hazards:
        assert h.source or h.assumption, h.id
        assert h.range is not None and h.range[0] <= (h.rate if h.rate is not None else h.probability) <= h.range[1]
    # the correlation group of the Taiwan blockade: the island's trade and the strait together
    tb = next(h for h in cat.hazards if h.id == "taiwan_blockade")
    assert [e.type for e in tb.effects] == ["blockade", "chokepoint_closure"]
    assert len(cat.sha256) == 64


def test_errors_name_file_line_and_field() -> None:
    bad = GOOD.replace("probability: 0.2", "probability: 1.5").replace("p90: 90", "p90: 10")
    got = problems(bad)
    assert (5, "hazards.0.probability", "probability 1.5 is outside [0, 1]") in got
    assert any(r == 7 and c == "hazards.0.duration.p90" and "below the median" in m for r, c, m in got)


@pytest.mark.parametrize(("edit", "line", "column", "words"), [
    (("kind: export_ban", "kind: export_bam"), 4, "hazards.0.kind", "did you mean 'export_ban'"),
    (("source: s", "sauce: s"), 6, "hazards.0.sauce", "unknown field 'sauce'"),
    (("probability: 0.2", "probability: 0.2\n    rate: 1"), 3, "hazards.0", "exactly one of 'rate'"),
    (("items: [wafer]}", "items: [wafer], start: 3}"), 10, "hazards.0.effects.0.start", "set by each draw"),
    (("items: [wafer]}", "items: [wafer], licence: 0.5}"), 10, "hazards.0.effects.0.licence", "set by each draw"),
    (("exporter: JPN", "exportr: JPN"), 10, "hazards.0.effects.0.exportr", "unknown field 'exportr'"),
    (("{dist: triangular, low: 0.1, mode: 0.5, high: 0.9}", "{dist: triangle, low: 0.1}"), 8,
     "hazards.0.severity.dist", "did you mean 'triangular'"),
    (("high: 0.9}", "high: 1.9}"), 8, "hazards.0.severity.high", "outside"),
    (("    source: s\n", ""), 3, "hazards.0", "a 'source', or an 'assumption'"),
])
def test_each_kind_of_mistake_is_located(edit: tuple[str, str], line: int, column: str, words: str) -> None:
    text = GOOD.replace(*edit)
    assert text != GOOD
    got = problems(text)
    assert any(r == line and c == column and words in m for r, c, m in got), got


def test_duplicate_ids_and_yaml_errors_are_located() -> None:
    two = GOOD + GOOD.split("hazards:\n", 1)[1]
    got = problems(two)
    assert any(c == "hazards.1.id" and "duplicate hazard id 'a' (first on line 3)" in m for _r, c, m in got)
    with pytest.raises(InputError) as e:
        parse_catalogue("hazards: [\n", file="broken.yaml")
    assert e.value.file == "broken.yaml" and e.value.row is not None


def test_unknown_atlas_names_are_located_with_suggestions(tmp_path) -> None:
    from paxsilica.network.build import tiny_atlas

    p = tmp_path / "c.yaml"
    p.write_text(GOOD.replace("items: [wafer]", "items: [wafr]"), encoding="utf-8")
    cat = load_catalogue(p)
    got = check_against_atlas(cat, tiny_atlas())
    assert [(x.file, x.row, x.column) for x in got] == [(str(p), 10, "hazards.0.effects.0.items.0")]
    assert "unknown item 'wafr'" in got[0].reason and "'wafer'" in got[0].reason
    with pytest.raises(InputError) as e:
        load_catalogue(tmp_path / "missing.yaml")
    assert "missing.yaml" in str(e.value)


def test_effects_take_the_drawn_start_duration_and_severity() -> None:
    cat = load_catalogue()
    by = {h.id: h for h in cat.hazards}
    ban = effect_shock(by["cn_rare_earth_controls"].effects[0], 40, 100, 0.8)
    assert (ban.start, ban.end, round(ban.licence, 12)) == (40, 140, 0.2)
    quake = effect_shock(by["japan_earthquake"].effects[0], 5, 30, 0.25)
    assert (quake.severity, quake.recovery.profile, quake.recovery.days) == (0.25, "linear", 30)
    surge = effect_shock(by["hbm_demand_surge"].effects[0], 0, 10, 0.5)
    assert (surge.factor, surge.end) == (1.25, 10)
    cut = effect_shock(by["hormuz_closure"].effects[0], 7, 12, 1.0)
    assert (cut.start, cut.duration, cut.mode) == (7, 12, "cut")


_DEFAULT = load_catalogue()


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), draw=st.integers(0, 10**6), horizon=st.integers(1, 730))
def test_draws_stay_within_their_bounds(seed: int, draw: int, horizon: int) -> None:
    cat = _DEFAULT
    evs = draw_events(cat, seed, draw, horizon)
    assert evs == draw_events(cat, seed, draw, horizon)  # a draw is a function of (seed, draw)
    for e in evs:
        assert 0 <= e.start_day < horizon
        assert e.duration_days >= 1
        assert 0.0 <= e.severity <= 1.0
        h = cat.hazards[e.hazard]
        if h.severity.dist in ("uniform", "triangular"):
            assert h.severity.params["low"] - 1e-12 <= e.severity <= h.severity.params["high"] + 1e-12


def test_event_counts_follow_the_rates() -> None:
    """Mean events per draw over 4,000 draws is the catalogue's sum of rates (within 4 standard errors)."""
    cat = load_catalogue()
    n = np.array([len(draw_events(cat, 3, d, 365)) for d in range(4000)])
    mean = sum(h.expected_events(365) for h in cat.hazards)
    # Poisson and Bernoulli counts: the variance is at most the mean
    assert abs(n.mean() - mean) < 4 * np.sqrt(mean / n.size)


def test_the_docs_table_lists_every_default_hazard_with_its_number() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "montecarlo.md").read_text(encoding="utf-8")
    rows = {ln.split("|")[1].strip(): ln for ln in doc.splitlines() if ln.startswith("| ") and ln.count("|") >= 5}
    for h in _DEFAULT.hazards:
        assert h.id in rows, h.id
        number = f"{h.rate:g}" if h.rate is not None else f"p = {h.probability:g}"
        assert f"| {number} (" in rows[h.id], (h.id, rows[h.id])
