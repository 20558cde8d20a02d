"""The `paxsilica atlas` commands: exit codes 0 / 1 / 2, readable errors, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from paxsilica.atlas import Atlas, read_atlas, write_atlas
from paxsilica.cli.main import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_validate_clean_atlas(tiny_atlas: Atlas, tmp_path: Path) -> None:
    d = write_atlas(tiny_atlas, tmp_path / "a")
    r = run("--atlas", str(d), "atlas", "validate")
    assert r.exit_code == 0, r.output
    assert "0 problems" in r.output


def test_validate_bad_atlas_lists_problems_and_exits_1(tiny_atlas: Atlas, tmp_path: Path) -> None:
    prod = tiny_atlas["production"].copy()
    prod.loc[0, "share"] = 160.0
    d = write_atlas(tiny_atlas.replace(production=prod), tmp_path / "a")
    r = run("--atlas", str(d), "atlas", "validate")
    assert r.exit_code == 1
    assert "production.csv, row 2, column 'share': 160 % is outside [0, 100]" in r.output
    assert "Traceback" not in r.output


def test_validate_json_format(tiny_atlas: Atlas, tmp_path: Path) -> None:
    prod = tiny_atlas["production"].copy()
    prod.loc[0, "item"] = "unobtainium"
    d = write_atlas(tiny_atlas.replace(production=prod), tmp_path / "a")
    r = run("--atlas", str(d), "atlas", "validate", "--format", "json")
    assert r.exit_code == 1
    rows = json.loads(r.stdout)
    assert {"file", "row", "column", "reason"} <= set(rows[0])
    assert any(x["column"] == "item" and x["row"] == 2 for x in rows)


def test_missing_atlas_path_is_a_clean_error(tmp_path: Path) -> None:
    r = run("--atlas", str(tmp_path / "missing"), "atlas", "info")
    assert r.exit_code == 1
    assert "no such file or folder" in r.output and "Traceback" not in r.output


def test_usage_error_exits_2() -> None:
    assert run("atlas", "show").exit_code == 2
    assert run("atlas", "export", "--to", "x", "--format", "docx").exit_code == 2


def test_info_shows_version_and_stages(tiny_atlas: Atlas, tmp_path: Path) -> None:
    d = write_atlas(tiny_atlas, tmp_path / "a")
    r = run("--atlas", str(d), "atlas", "info", "--format", "json")
    assert r.exit_code == 0
    info = json.loads(r.stdout)
    assert info["version"] == tiny_atlas.version
    stages = {s["stage"]: s["items"] for s in info["stages"]}
    assert stages["raw_material"] == 1 and stages["fabrication"] == 1


def test_show_with_filter_as_csv(tiny_atlas: Atlas, tmp_path: Path) -> None:
    d = write_atlas(tiny_atlas, tmp_path / "a")
    r = run("--atlas", str(d), "atlas", "show", "production", "--where", "item=ore", "--format", "csv")
    assert r.exit_code == 0
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[1].startswith("ore,CHN")
    bad = run("--atlas", str(d), "atlas", "show", "nosuchtable")
    assert bad.exit_code == 1 and "no table 'nosuchtable'" in bad.output


def test_export_every_format(tiny_atlas: Atlas, tmp_path: Path) -> None:
    d = write_atlas(tiny_atlas, tmp_path / "a")
    for fmt, name in [("xlsx", "x.xlsx"), ("parquet", "pq"), ("json", "a.json"), ("graphml", "g.graphml"),
                      ("csv", "c")]:
        r = run("--atlas", str(d), "atlas", "export", "--to", str(tmp_path / name), "--format", fmt)
        assert r.exit_code == 0, r.output
        assert (tmp_path / name).exists()
    assert read_atlas(tmp_path / "x.xlsx").version == tiny_atlas.version


def test_schema_listing() -> None:
    r = run("atlas", "schema", "--format", "csv")
    assert r.exit_code == 0
    df = pd.read_csv(__import__("io").StringIO(r.stdout))
    assert {"production", "recipes"} <= set(df["table"])


def test_emit_json_writes_unlimited_for_infinity(capsys) -> None:
    import numpy as np

    from paxsilica.cli.common import emit

    emit(pd.DataFrame({"node": ["a", "b"], "tts": [np.inf, 2.5]}), "json")
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"node": "a", "tts": "unlimited"}, {"node": "b", "tts": 2.5}]


def test_import_merges_publishers_into_one_folder(shared_data: Path, tmp_path: Path) -> None:
    into = tmp_path / "mine"
    gallium = shared_data / "usgs-mcs2024-world" / "world" / "mcs2024-galli_world.csv"
    r = run("atlas", "import", "usgs", str(gallium), "--into", str(into))
    assert r.exit_code == 0, r.output
    prod = read_atlas(into)["production"]
    chn = prod[(prod["item"] == "gallium") & (prod["producer"] == "CHN") & (prod["year"] == 2023)]
    assert len(chn) == 1 and 97 < float(chn["share"].iloc[0]) < 99  # USGS: China ~98 % in 2023
    r = run("atlas", "import", "wgi", str(shared_data / "wgi-2023-update" / "wgi_2022_wide.csv"),
            "--into", str(into))
    assert r.exit_code == 0, r.output
    merged = read_atlas(into)
    assert len(merged["production"]) == len(prod)  # the second import kept the first
    assert merged["countries"].set_index("iso3").loc["CHN", "governance_risk"] > 5


def test_import_keeps_curated_columns(tiny_atlas: Atlas, shared_data: Path, tmp_path: Path) -> None:
    countries = tiny_atlas["countries"].assign(region=["East Asia & Pacific"] * 5)
    into = write_atlas(tiny_atlas.replace(countries=countries), tmp_path / "a")
    r = run("atlas", "import", "wgi", str(shared_data / "wgi-2023-update" / "wgi_2022_wide.csv"),
            "--into", str(into))
    assert r.exit_code == 0, r.output
    c = read_atlas(into)["countries"].set_index("iso3")
    assert c.loc["AUS", "region"] == "East Asia & Pacific"  # kept
    assert c.loc["AUS", "wgi_mean"] > 1  # added by the import


def test_import_errors_are_clean(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Source,Country\nMCS2024,China\n")
    r = run("atlas", "import", "usgs", str(bad), "--into", str(tmp_path / "x"))
    assert r.exit_code == 1 and "bad.csv" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "x").exists()
    assert run("atlas", "import", "nosuch", str(bad), "--into", str(tmp_path / "x")).exit_code == 2
    r = run("atlas", "import", "usgs", str(tmp_path / "missing.csv"), "--into", str(tmp_path / "x"))
    assert r.exit_code == 1 and "no such file" in r.output
