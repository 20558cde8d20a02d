"""Briefing charts label bars with item names, never with raw item ids."""

from __future__ import annotations

import dataclasses
import re

from paxsilica.report.briefing import briefing_context, build_briefing, item_label, render_html
from tests.test_briefing import ITEMS, demo_atlas

ITEM_IDS = [i for i, *_ in ITEMS]
ID_RE = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, ITEM_IDS)) + r")(?![\w-])")


def _svg_texts(svg: str) -> list[str]:
    """Visible labels and hover tips of an SVG chart."""
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg) + re.findall(r"<title>([^<]*)</title>", svg)


def _raw_ids(texts: list[str]) -> list[str]:
    return [t for t in texts if ID_RE.search(t)]


def test_knockout_charts_show_item_names():
    ctx = briefing_context(build_briefing(demo_atlas()))
    for key in ("bott_chart", "knock_chart"):
        texts = _svg_texts(ctx[key])
        assert texts, key
        assert _raw_ids(texts) == [], key
    labels = re.findall(r'text-anchor="end" fill="#222">([^<]*)</text>', ctx["bott_chart"])
    assert any(lab.startswith("EUV lithography — ") for lab in labels), labels


def test_knockout_chart_uses_item_names_even_if_the_table_holds_ids():
    # A bottleneck table whose ``name`` column fell back to the id (e.g. an item the metric could
    # not name) must still be labelled from the briefing's item names.
    b = build_briefing(demo_atlas())
    raw = dataclasses.replace(b, bottlenecks=b.bottlenecks.assign(name=b.bottlenecks["item"]))
    ctx = briefing_context(raw)
    texts = _svg_texts(ctx["bott_chart"])
    assert texts
    assert _raw_ids(texts) == []
    assert all(not ID_RE.fullmatch(d["name"]) for d in ctx["bottlenecks"])


def test_rendered_charts_carry_no_raw_ids():
    html = render_html(build_briefing(demo_atlas()))
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert svgs
    bad = [t for s in svgs for t in _raw_ids(_svg_texts(s))]
    assert bad == []


def test_item_label_falls_back():
    assert item_label("hbm", {"hbm": "HBM"}, "hbm") == "HBM"
    assert item_label("hbm", {}, "High-bandwidth memory") == "High-bandwidth memory"
    assert item_label("hbm", {"hbm": "nan"}, None) == "hbm"
