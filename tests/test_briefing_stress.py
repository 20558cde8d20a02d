"""The briefing's "Stress tests" section: one row per scenario, offline HTML, Markdown, API twin, CLI flag."""

from __future__ import annotations

import json
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from paxsilica.cli.brief import brief
from paxsilica.report.briefing import build_briefing, render_html, render_markdown

# Hand-made scenarios for the ore → chip → datacentre chain of tests/conftest.py (not real events).
BAN = """\
name: ore_ban
description: China stops exporting ore (hand-made test case).
horizon: 60
sources: ["Hand-made source A, for the test"]
shocks:
  - {type: export_ban, exporter: CHN, items: [ore], start: 5}
"""
OUTAGE = """\
name: chip_outage
description: Taiwan's chip site loses half its output for a while.
horizon: 40
sources: ["Hand-made source B"]
shocks:
  - {type: site_outage, item: chip, producer: TWN, loss: 0.5, start: 0, recovery: {profile: linear, days: 10}}
"""
EXTERNAL = re.compile(r"<(script|link|img|iframe|source|video|audio|embed|object)\b[^>]*\b(src|href|data)\s*=\s*"
                      r"[\"']?(https?:)?//", re.I)


@pytest.fixture
def scenario_files(tmp_path):
    paths = []
    for name, text in (("ore_ban", BAN), ("chip_outage", OUTAGE)):
        p = tmp_path / f"{name}.yaml"
        p.write_text(text, encoding="utf-8")
        paths.append(str(p))
    return paths


def test_section_has_one_row_per_scenario(tiny_atlas, scenario_files) -> None:
    b = build_briefing(tiny_atlas, target="datacentre", scenarios=scenario_files)
    assert b.stress is not None and b.stress["scenario"].tolist() == ["ore_ban", "chip_outage"]
    html = render_html(b)
    sec = html[html.index('<section id="stress">'):html.index("</section>", html.index('<section id="stress">'))]
    assert sec.count('<td class="scen">') == 2
    assert "Ore ban" in sec and "Chip outage" in sec
    assert sec.count("<svg") == 2 and sec.count("<polyline") == 2  # one sparkline each
    ban = b.stress.set_index("scenario").loc["ore_ban"]
    from paxsilica.report.briefing import _loss_text

    assert ban["loss_pct"] > 0 and _loss_text(float(ban["loss_pct"])) in sec
    # the measure is AI compute (a stock) with its band and its two parts
    assert "AI compute lost" in sec and "lost additions" in sec and "lost operation" in sec
    lo, hi = ban["bands"]["loss_pct"]
    assert lo <= ban["loss_pct"] + 1e-9 and hi >= lo and f"{_loss_text(lo)} – {_loss_text(hi)}" in sec
    assert 'href="#stress"' in html  # in the navigation
    # methodology and sources
    assert "Hallegatte" in html and "Inoue &amp; Todo" in html and "time to recover" in html.lower()
    assert "Hand-made source A, for the test" in html and "Hand-made source B" in html
    # the executive summary mentions the worst scenario
    assert "Stress tests:" in html and "Ore ban" in html[:html.index('<section id="maps">')]


def test_html_with_scenarios_makes_no_external_requests(tiny_atlas, scenario_files) -> None:
    html = render_html(build_briefing(tiny_atlas, target="datacentre", scenarios=scenario_files))
    assert not EXTERNAL.search(html)
    assert "@import" not in html and "url(http" not in html and "<script" not in html
    for tag in re.findall(r"<[^>]+(?:src|href)\s*=\s*[\"'](?:https?:)?//[^>]*>", html):
        assert tag.startswith("<a "), tag


def test_markdown_and_api_twin(tiny_atlas, scenario_files) -> None:
    b = build_briefing(tiny_atlas, target="datacentre", scenarios=scenario_files, steps=30)
    md = render_markdown(b)
    assert "## Stress tests" in md and "| Ore ban |" in md and "| Chip outage |" in md
    assert "### Stress scenarios" in md and "Hand-made source B" in md
    d = json.loads(json.dumps(b.to_dict()))  # JSON-ready as is
    assert [r["scenario"] for r in d["stress"]] == ["ore_ban", "chip_outage"]
    assert len(d["stress"][0]["level"]) == 30 and d["stress_parameters"]["steps"] == 30
    assert d["stress"][0]["sources"] == ["Hand-made source A, for the test"]
    row = b.stress.iloc[0]
    assert d["stress"][0]["loss_pct"] == pytest.approx(row["loss_pct"])


def test_without_scenarios_there_is_no_section(tiny_atlas) -> None:
    b = build_briefing(tiny_atlas, target="datacentre")
    assert b.stress is None and b.to_dict()["stress"] is None
    assert 'id="stress"' not in render_html(b) and "## Stress tests" not in render_markdown(b)


def test_scenario_that_does_not_fit_is_listed_with_the_reason(tiny_atlas, tmp_path) -> None:
    p = tmp_path / "odd.yaml"
    p.write_text(BAN.replace("items: [ore]", "items: [unobtainium]"), encoding="utf-8")
    b = build_briefing(tiny_atlas, target="datacentre", scenarios=[str(p)])
    html = render_html(b)
    assert "not run" in html and "unobtainium" in html


def test_cli_no_scenarios_flag(tmp_path, monkeypatch, tiny_atlas, scenario_files) -> None:
    import typer

    from paxsilica.cli import brief as brief_mod
    from paxsilica.cli import common

    monkeypatch.setattr(common, "current_atlas", lambda: tiny_atlas)
    root = typer.Typer()
    root.command("noop")(lambda: None)
    brief_mod.register(root)
    runner = CliRunner()
    r = runner.invoke(root, ["brief", "--out", str(tmp_path / "no.html"), "--target", "datacentre",
                             "--no-scenarios"])
    assert r.exit_code == 0, r.output
    assert 'id="stress"' not in (tmp_path / "no.html").read_text(encoding="utf-8")
    # default: the built-ins run (those that do not fit this tiny atlas are listed as not run)
    r = runner.invoke(root, ["brief", "--out", str(tmp_path / "yes.md"), "--target", "datacentre",
                             "--steps", "10"])
    assert r.exit_code == 0, r.output
    assert "## Stress tests" in (tmp_path / "yes.md").read_text(encoding="utf-8")
    r = runner.invoke(root, ["brief", "--out", str(tmp_path / "bad.html"), "--steps", "0"])
    assert r.exit_code == 2
    # the Python entry point takes a list of scenario files
    out = brief(tiny_atlas, out=tmp_path / "files.html", target="datacentre", scenarios=scenario_files,
                console=Console(quiet=True))
    assert out.read_text(encoding="utf-8").count('<td class="scen">') == 2


@pytest.mark.slow
def test_bundled_briefing_has_every_builtin_scenario(tmp_path) -> None:
    from paxsilica.atlas import bundled_atlas
    from paxsilica.scenarios import list_scenarios

    atlas = bundled_atlas()
    b = build_briefing(atlas, scenarios=True, steps=60)
    assert sorted(b.stress["scenario"]) == sorted(list_scenarios())
    assert (b.stress["note"] == "").all()  # every built-in fits the bundled atlas
    html = render_html(b)
    assert html.count('<td class="scen">') == len(list_scenarios())
    assert not EXTERNAL.search(html)
