"""``paxsilica scenarios`` and ``paxsilica stress`` through the CLI (in-process)."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from paxsilica.atlas import write_atlas
from paxsilica.cli.main import app
from paxsilica.network import tiny_atlas

runner = CliRunner()


def test_list_show_validate() -> None:
    r = runner.invoke(app, ["scenarios", "list", "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert "hormuz_closure" in r.stdout
    r = runner.invoke(app, ["scenarios", "show", "advanced_fab_cyber_incident", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["shocks"][0]["duration"] == 14
    r = runner.invoke(app, ["scenarios", "show", "hormuz_closur"])
    assert r.exit_code == 1 and "did you mean hormuz_closure" in r.output


def test_validate_reports_file_line_field(tmp_path) -> None:
    atlas_dir = tmp_path / "atlas"
    write_atlas(tiny_atlas(), atlas_dir)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ndescription: d\nshocks:\n  - type: export_ban\n    exporter: JPM\n"
                   "    items: [wafer]\n    start: 9\n    end: 3\n", encoding="utf-8")
    r = runner.invoke(app, ["--atlas", str(atlas_dir), "scenarios", "validate", str(bad)])
    assert r.exit_code == 1
    assert "row 8, column 'shocks.0.end'" in r.output
    good = tmp_path / "good.yaml"
    good.write_text("name: good\ndescription: d\nshocks:\n  - {type: export_ban, exporter: JPM, items: [wafer]}\n",
                    encoding="utf-8")
    r = runner.invoke(app, ["--atlas", str(atlas_dir), "scenarios", "validate", str(good)])
    assert r.exit_code == 1 and "row 4, column 'shocks.0.exporter': unknown country 'JPM'" in r.output
    assert "did you mean 'JPN'" in r.output


def test_stress_command(tmp_path) -> None:
    atlas_dir = tmp_path / "atlas"
    write_atlas(tiny_atlas(), atlas_dir)
    scen = tmp_path / "ban.yaml"
    scen.write_text("name: ban\ndescription: d\nhorizon: 40\nshocks:\n  - {type: export_ban, exporter: JPN, "
                    "items: [wafer]}\n", encoding="utf-8")
    out = tmp_path / "out"
    r = runner.invoke(app, ["--atlas", str(atlas_dir), "stress", str(scen), "--target", "chip", "--for", "TWN",
                            "--inventory-days", "10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "time to survive" in r.stdout and "16 days" in r.stdout
    assert (out / "series.parquet").exists() and (out / "chart.html").exists() and (out / "result.duckdb").exists()
    assert len(pd.read_parquet(out / "series.parquet")) > 0
    r = runner.invoke(app, ["--atlas", str(atlas_dir), "stress", str(scen), "--target", "chip", "--steps", "10",
                            "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["summary"]["steps"] == 10
    r = runner.invoke(app, ["--atlas", str(atlas_dir), "stress", str(scen), "--target", "chips"])
    assert r.exit_code == 1 and "unknown target item 'chips'" in r.output
