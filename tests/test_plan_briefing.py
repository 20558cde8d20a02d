"""The briefing's "Plans" section: built by the planning package, shown in HTML and Markdown."""

from __future__ import annotations

import pandas as pd

from paxsilica.atlas import Atlas
from paxsilica.network import tiny_atlas
from paxsilica.planning.briefing import build_plans
from paxsilica.report.briefing import build_briefing, render_html, render_markdown


def test_plans_section_in_both_renderings():
    b = build_briefing(tiny_atlas(), target="chip", coalition="club", plans=True, generated="2026-12-01")
    p = b.plans
    assert p is not None and "error" not in p
    # TWN makes every chip: the worst single disruption takes the whole target
    assert p["worst"][0]["loss"] == "100.0 %" and "TWN" in p["worst"][0]["attacks"]
    md = render_markdown(b)
    assert "## Plans" in md and "Worst case" in md
    html = render_html(b)
    assert 'id="plans"' in html and 'href="#plans"' in html


def test_plans_left_out_by_default_and_errors_are_shown():
    b = build_briefing(tiny_atlas(), target="chip", coalition="club", generated="2026-12-01")
    assert b.plans is None and "## Plans" not in render_markdown(b)
    empty = Atlas.from_frames({"items": pd.DataFrame({"item": ["dc"], "name": ["DC"], "stage": ["infrastructure"],
                                                      "unit": ["MW"]}),
                               "groups": pd.DataFrame({"group": ["g"], "iso3": ["USA"], "source": ["s"]})})
    p = build_plans(empty, coalition="g", target="dc")
    assert "nothing to plan" in p["error"]
