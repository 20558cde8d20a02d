"""Briefing page one: tiers not red badges on allies, static vs dynamic, names, QAT first (issue 11)."""

from __future__ import annotations

import re

import pytest

from paxsilica.atlas import bundled_atlas
from paxsilica.report.briefing import build_briefing, named_path, render_html, render_markdown
from paxsilica.report.svg import day_ticks, hbar_chart, share_ticks


@pytest.fixture(scope="module")
def qat():
    return build_briefing(bundled_atlas(), for_iso3="QAT", generated="2026-12-01")


@pytest.fixture(scope="module")
def html(qat):
    return render_html(qat)


def page_one(html: str) -> str:
    return html[:html.index('<div class="pageone-end">')]


def test_allies_are_partners_on_page_one(html):
    p1 = page_one(html)
    assert "COERCIVE" not in html and "coercive" not in p1.lower()
    for name in ("Netherlands", "Taiwan"):
        cells = re.findall(rf'<td class="t-(\w+)">{name}</td>', p1)
        assert cells and set(cells) == {"partner"}, (name, cells)
    assert re.search(r'<td class="t-other">China</td>', p1)


def test_static_worst_case_is_named_and_explained(qat, html):
    p1 = page_one(html)
    assert "Static worst case" in p1 and "stress tests below let inventories" in p1
    assert "Losing one country" not in p1


def test_names_not_ids_in_chains_and_charts(qat, html):
    assert "ai_datacenter_capacity &lt;-" not in html and "ai_datacenter_capacity <-" not in html
    assert "AI data-centre capacity ‹" in html
    assert named_path("ai_servers <- ai_accelerators", qat.item_names) == "AI servers ‹ AI accelerators"


def test_country_view_first_and_gas_logic(qat, html):
    assert html.index('<section id="focus">') < html.index('<section id="summary">')
    focus = html[html.index('<section id="focus">'):html.index("</section>", html.index('<section id="focus">'))]
    # Qatar produces gas: its trickle of imports is no dependence on Korea
    assert not re.search(r"Natural gas</td><td[^>]*>[^<]*</td><td>South Korea 100%", focus)
    assert "Supplies itself" in focus and "Natural gas" in focus
    md = render_markdown(qat)
    assert md.index("## Country focus") < md.index("## Executive summary")


def test_empty_eu_supply_risk_table_is_explained_not_shown(qat, html):
    sec = html[html.index('<section id="eu-sr">'):html.index("</section>", html.index('<section id="eu-sr">'))]
    if qat.supply_risk["sr"].isna().all() and qat.supply_risk["sr_gs_proxy"].isna().all():
        assert "<table>" not in sec and "Not computed for any item" in sec
    else:
        assert "<table>" in sec


def test_header_cells_can_wrap_and_stale_figures_are_marked(html):
    assert "overflow-wrap: anywhere" in html
    assert "· old</span>" in html or ">old</span>" in html


def test_round_ticks():
    assert share_ticks(1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert day_ticks(90) == [0, 30, 60, 90] and day_ticks(365) == [0, 90, 180, 270, 360]
    svg = hbar_chart(["a", "b"], [0.3, 0.9], vmax=1.0)
    labels = re.findall(r'class="tick"[^>]*>([^<]+)</text>', svg)
    assert labels == ["0%", "25%", "50%", "75%", "100%"]


def test_print_layout_has_a_page_break_after_page_one(html):
    assert "@media print" in html and ".pageone-end { break-after: page; }" in html
