"""The briefing's "Risk" section: from a default run (hazards the atlas lacks left out) or a saved run."""

from __future__ import annotations

import pytest

from paxsilica.montecarlo import parse_catalogue, run_montecarlo, save_run
from paxsilica.montecarlo.briefing import risk_section
from paxsilica.network.build import tiny_atlas
from paxsilica.report.briefing import build_briefing, render_html, render_markdown
from tests.test_montecarlo_run import TINY


@pytest.fixture(scope="module")
def atlas():  # type: ignore[no-untyped-def]
    return tiny_atlas()


def test_default_run_on_an_atlas_missing_some_names(atlas) -> None:  # type: ignore[no-untyped-def]
    sec = risk_section(atlas, "chip", draws=24)
    assert sec is not None and sec.meta["draws"] == 24
    # the tiny atlas has no chokepoints and no helium: those hazards are left out, and said so
    assert any("taiwan_blockade left out" in n for n in sec.notes)
    assert any("qatar_helium_outage left out" in n for n in sec.notes)
    assert sec.meta["seed"] == 12  # the default seed: a briefing's section is reproducible
    text = " ".join(sec.lines())
    assert "24 seeded draws" in text and "expected shortfall" in text


def test_briefing_with_risk_from_a_saved_run(atlas, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = run_montecarlo(atlas, parse_catalogue(TINY, file="tiny.yaml"), draws=30, seed=2, horizon_days=90,
                       targets=("chip",), levels=(0.8, 0.9))
    out = save_run(r, tmp_path / "run")
    b = build_briefing(atlas, target="chip", coalition="x", add="USA", risk={"run_dir": out})
    html = render_html(b)
    assert 'id="risk"' in html and "30 seeded draws (seed 2)" in html and "<script" not in html
    md = render_markdown(b)
    assert "## Risk" in md and "30 seeded draws" in md
    assert b.to_dict()["risk"]["meta"]["draws"] == 30
    without = build_briefing(atlas, target="chip", coalition="x", add="USA")
    assert 'id="risk"' not in render_html(without) and without.risk is None
    from paxsilica.errors import InputError

    with pytest.raises(InputError):
        risk_section(atlas, "wafer", run_dir=out)  # a run of another target
