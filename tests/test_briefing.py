"""The briefing: builds on a small hand-made atlas, renders offline HTML and Markdown, CLI works."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from paxsilica.atlas import Atlas
from paxsilica.cli.brief import brief
from paxsilica.errors import InputError, NotFoundError
from paxsilica.report.briefing import build_briefing, render_html, render_markdown

# Illustrative test data, hand-made: not real market shares.
COUNTRIES = [("CHN", "China", 35.9, 104.2, 5.9), ("USA", "United States", 38.0, -97.0, 2.4),
             ("TWN", "Taiwan", 23.7, 121.0, 1.6), ("KOR", "Korea, Rep.", 36.5, 127.9, 2.2),
             ("JPN", "Japan", 36.2, 138.3, 1.9), ("NLD", "Netherlands", 52.1, 5.3, 1.3),
             ("QAT", "Qatar", 25.3, 51.2, 3.9), ("SGP", "Singapore", 1.35, 103.8, 0.9),
             ("DEU", "Germany", 51.2, 10.4, 1.6)]
ITEMS = [("gallium", "Gallium", "refined_material", "t"), ("helium", "Helium", "raw_material", "t"),
         ("euv_lithography", "EUV lithography", "equipment", "units"),
         ("advanced_logic", "Advanced logic", "fabrication", "wspm_300mm_eq"),
         ("hbm", "HBM", "component", "units"), ("ai_accelerators", "AI accelerators", "accelerator", "units"),
         ("ai_datacenter_capacity", "AI data-centre capacity", "infrastructure", "MW")]
PROD = {
    "gallium": {"CHN": 98.0, "JPN": 1.0, "ROW": 1.0},
    "helium": {"USA": 40.0, "QAT": 38.0, "ROW": 22.0},
    "euv_lithography": {"NLD": 100.0},
    "advanced_logic": {"TWN": 85.0, "KOR": 8.0, "USA": 7.0},
    "hbm": {"KOR": 90.0, "USA": 5.0, "ROW": 5.0},
    "ai_accelerators": {"USA": 95.0, "CHN": 5.0},
    "ai_datacenter_capacity": {"USA": 60.0, "CHN": 25.0, "SGP": 3.0, "ROW": 12.0},
}
RECIPES = [("ai_datacenter_capacity", "ai_accelerators", 1.0), ("ai_accelerators", "advanced_logic", 1.0),
           ("ai_accelerators", "hbm", 0.9), ("advanced_logic", "euv_lithography", 1.0),
           ("advanced_logic", "helium", 0.6), ("hbm", "gallium", 0.2)]


def demo_atlas() -> Atlas:
    src = "test_src"
    return Atlas.from_frames({
        "sources": pd.DataFrame([{"source": src, "publisher": "Test", "title": "Hand-made test data",
                                  "year": 2025, "licence": "CC0", "url": "https://example.org/data",
                                  "kind": "estimate"}]),
        "countries": pd.DataFrame([{"iso3": i, "name": n, "lat": la, "lon": lo, "governance_risk": g}
                                   for i, n, la, lo, g in COUNTRIES]),
        "groups": pd.DataFrame([{"group": "pax_silica", "iso3": c, "joined": "2025-12-12", "source": src}
                                for c in ("USA", "JPN", "KOR", "SGP", "NLD")]),
        "items": pd.DataFrame([{"item": i, "name": n, "stage": s, "unit": u} for i, n, s, u in ITEMS]),
        "production": pd.DataFrame([
            {"item": i, "producer": p, "producer_type": "rest_of_world" if p == "ROW" else "country",
             "year": 2024, "share": s, "source": src} for i, d in PROD.items() for p, s in d.items()]),
        "recipes": pd.DataFrame([{"item": i, "input": j, "dependent_share": d, "rationale": "r",
                                  "source": src} for i, j, d in RECIPES]),
    }, name="demo")


def test_build_briefing_hand_checked():
    b = build_briefing(demo_atlas(), for_iso3="QAT", date="2026-06-30", add="TWN", generated="2026-01-01")
    k = b.country_knockouts.set_index("country")
    # TWN: advanced logic 0.15 left -> accelerators 0.15 -> data centres 0.15
    assert k.loc["TWN", "loss"] == pytest.approx(0.85)
    # QAT: helium 0.62 -> advanced logic 1 - 0.6 * 0.38 = 0.772
    assert k.loc["QAT", "loss"] == pytest.approx(0.228)
    assert b.dangers.iloc[0]["item"] == "advanced_logic"
    assert set(b.spofs["item"]) >= {"gallium", "euv_lithography", "advanced_logic", "hbm"}
    cb = b.coalition_bottlenecks.set_index("scenario")
    assert cb.loc["with TWN", "autarky_loss"] < cb.loc["current", "autarky_loss"]
    assert b.whatif is not None and b.whatif.iloc[0]["item"] == "advanced_logic"
    assert "test_src" in set(b.sources["source"])


def test_html_is_self_contained_and_complete():
    html = render_html(build_briefing(demo_atlas(), for_iso3="QAT", add="TWN"))
    # no resource loads over the network: only <a href> links may carry a URL
    assert not re.search(r"<(script|link|img|iframe|source|video|audio|embed|object)\b[^>]*\b(src|href|data)\s*=\s*[\"']?(https?:)?//", html, re.I)
    assert "@import" not in html and "url(http" not in html and "<script" not in html
    for tag in re.findall(r"<[^>]+(?:src|href)\s*=\s*[\"'](?:https?:)?//[^>]*>", html):
        assert tag.startswith("<a "), tag
    assert "https://example.org/data" in html  # the citation link is kept
    for part in ("Executive summary", "most dangerous dependencies", "Single points of failure",
                 "Coalition coverage by stage", "Bottlenecks of", "Methodology", "Sources",
                 "Country focus: Qatar", demo_atlas().version, "<svg", 'href="#c-CHN"'):
        assert part in html, part
    assert html.count("<figure><h4>") >= 3  # maps of the top risks


def test_markdown():
    md = render_markdown(build_briefing(demo_atlas()))
    assert md.startswith("# AI supply-chain security briefing")
    assert "| # | item |" in md and "## Methodology" in md and "test_src" in md


def test_brief_writes_files(tmp_path):
    # its speed is measured by bench/bench_stress.py, not asserted here
    quiet = Console(quiet=True)
    out = brief(demo_atlas(), "QAT", out=tmp_path / "b.html", add="TWN", console=quiet)
    with pytest.raises(NotFoundError, match="unknown country 'IND'"):  # not in this atlas: a typo?
        brief(demo_atlas(), "QAT", out=tmp_path / "b.html", add="TWN,IND", console=quiet)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    md = brief(demo_atlas(), out=tmp_path / "b.md", console=quiet)
    assert md.read_text(encoding="utf-8").startswith("# ")
    with pytest.raises(InputError):
        brief(demo_atlas(), out=tmp_path / "b.pdf", fmt="pdf", console=quiet)
    with pytest.raises(NotFoundError):
        brief(demo_atlas(), "XXX", out=tmp_path / "c.html", console=quiet)
    with pytest.raises(NotFoundError, match="unknown group"):
        brief(demo_atlas(), coalition="paxsilica", out=tmp_path / "c.html", console=quiet)
    # a hypothetical coalition made only of --add countries is allowed
    b = build_briefing(demo_atlas(), coalition="chips4", add="USA,TWN")
    assert b.coalition_bottlenecks["scenario"].tolist() == ["current", "with USA, TWN"]


def test_cli_risk_and_brief(tmp_path, monkeypatch):
    import typer

    from paxsilica.cli import brief as brief_mod
    from paxsilica.cli import common, risk

    monkeypatch.setattr(common, "current_atlas", demo_atlas)
    monkeypatch.setattr(risk, "current_atlas", demo_atlas)
    runner = CliRunner()
    r = runner.invoke(risk.app, ["items", "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].startswith("item,name,stage")
    r = runner.invoke(risk.app, ["bottlenecks", "--format", "json"])
    assert r.exit_code == 0 and '"loss"' in r.output
    r = runner.invoke(risk.app, ["bottlenecks", "--countries"])
    assert r.exit_code == 0 and "TWN" in r.output
    r = runner.invoke(risk.app, ["coalition", "--add", "TWN", "--date", "2026-06-30", "-f", "csv"])
    assert r.exit_code == 0 and "advanced_logic" in r.output
    root = typer.Typer()
    root.command("noop")(lambda: None)
    brief_mod.register(root)
    r = runner.invoke(root, ["brief", "--out", str(tmp_path / "x.html"), "--for", "QAT"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "x.html").exists()


def test_brief_on_bundled_atlas(tmp_path):
    from paxsilica.atlas import bundled_atlas

    atlas = bundled_atlas()
    out = brief(atlas, "QAT", out=tmp_path / "brief.html", add="NLD,TWN", console=Console(quiet=True))
    html = out.read_text(encoding="utf-8")
    assert atlas.version in html and "<script" not in html
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//", html, re.I)
    # the stress section runs every built-in scenario by default
    from paxsilica.scenarios import list_scenarios

    assert 'id="stress"' in html and html.count('<td class="scen">') == len(list_scenarios())
