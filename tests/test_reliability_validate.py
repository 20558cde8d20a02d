"""Validate before computing: commands refuse an atlas that `atlas validate` rejects (issue 10).

Every command that reads the atlas through ``current_atlas()`` validates it first (once per atlas
version) and exits 1 with the validator's located problems; the `atlas` inspection commands keep
working on invalid atlases, since they are how users find and fix the problems.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from paxsilica.atlas import Atlas, bundled_atlas, validate, write_atlas
from paxsilica.cli import common
from paxsilica.cli.main import app
from paxsilica.errors import Problem

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def bad_atlas(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The bundled atlas with gallium shares summing to 400 %; its folder and the flagged row."""
    atlas = bundled_atlas()
    prod = atlas["production"].copy()
    gallium = prod["item"].eq("gallium").fillna(False)
    assert gallium.sum() == 4
    prod.loc[gallium, "share"] = 100.0
    d = Path(write_atlas(atlas.replace(production=prod), tmp_path_factory.mktemp("bad") / "atlas"))
    lines = (d / "production.csv").read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(lines, start=1) if line.startswith("gallium,"))
    return d, row


def _assert_refused(r, row: int) -> None:
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert "production.csv" in r.output
    assert f"row {row}" in r.output
    assert "column 'share'" in r.output
    assert "sum to 400 %" in r.output


def test_bad_atlas_really_is_invalid(bad_atlas: tuple[Path, int]) -> None:
    from paxsilica.atlas import read_atlas

    d, row = bad_atlas
    problems = validate(read_atlas(d))
    assert [(Path(p.file).name, p.row, p.column) for p in problems] == [("production.csv", row, "share")]


def test_risk_items_refuses_invalid_atlas(bad_atlas: tuple[Path, int]) -> None:
    d, row = bad_atlas
    _assert_refused(run("--atlas", str(d), "risk", "items"), row)


def test_stress_refuses_invalid_atlas(bad_atlas: tuple[Path, int], tmp_path: Path) -> None:
    d, row = bad_atlas
    out = tmp_path / "run"
    _assert_refused(run("--atlas", str(d), "stress", "gallium_germanium_export_ban", "--out", str(out)), row)
    assert not out.exists()


def test_brief_refuses_invalid_atlas(bad_atlas: tuple[Path, int], tmp_path: Path) -> None:
    d, row = bad_atlas
    out = tmp_path / "brief.html"
    _assert_refused(run("--atlas", str(d), "brief", "--out", str(out)), row)
    assert not out.exists()


def test_lanes_show_refuses_invalid_atlas(bad_atlas: tuple[Path, int]) -> None:
    d, row = bad_atlas
    _assert_refused(run("--atlas", str(d), "lanes", "show", "--from", "CHN", "--to", "USA"), row)


def test_atlas_validate_still_lists_the_problems(bad_atlas: tuple[Path, int]) -> None:
    d, row = bad_atlas
    r = run("--atlas", str(d), "atlas", "validate")
    assert r.exit_code == 1
    assert "1 problem(s)" in r.output
    assert f"production.csv, row {row}, column 'share': country shares of 'gallium' in 2023 sum to 400 %" \
        in r.output
    assert "fix them before computing" not in r.output  # the validator's own listing, not the refusal


@pytest.mark.parametrize("args", [("atlas", "info"), ("atlas", "schema"), ("atlas", "show", "items")])
def test_atlas_inspection_works_on_invalid_atlas(bad_atlas: tuple[Path, int], args: tuple[str, ...]) -> None:
    d, _ = bad_atlas
    r = run("--atlas", str(d), *args)
    assert r.exit_code == 0, r.output


def test_atlas_export_works_on_invalid_atlas(bad_atlas: tuple[Path, int], tmp_path: Path) -> None:
    d, _ = bad_atlas
    r = run("--atlas", str(d), "atlas", "export", "--to", str(tmp_path / "copy.xlsx"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "copy.xlsx").exists()


def test_clean_bundled_atlas_still_runs() -> None:
    r = run("risk", "items")
    assert r.exit_code == 0, r.output
    assert "gallium" in r.output


def test_validation_runs_once_per_version(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = common.validate_atlas

    def counting(atlas: Atlas) -> list[Problem]:
        calls.append(atlas.version)
        return real(atlas)

    monkeypatch.setattr(common, "validate_atlas", counting)
    monkeypatch.setattr(common, "_PROBLEMS", {})
    atlas = bundled_atlas()
    assert common.atlas_problems(atlas) == ()
    assert common.atlas_problems(atlas) == ()
    assert calls == [atlas.version]
    prod = atlas["production"].copy()
    prod.loc[prod["item"].eq("gallium").fillna(False), "share"] = 100.0
    changed = atlas.replace(production=prod)
    assert len(common.atlas_problems(changed)) == 1
    assert len(common.atlas_problems(changed)) == 1
    assert calls == [atlas.version, changed.version]


def test_refusal_shows_at_most_20_problems(capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    problems = [Problem("production.csv", i, "share", f"bad {i}") for i in range(2, 27)]
    with pytest.raises(typer.Exit) as exc:
        common.refuse_invalid(bundled_atlas(), problems)
    assert exc.value.exit_code == 1
    err = capsys.readouterr().err
    assert "production.csv, row 21, column 'share': bad 21" in err
    assert "row 22," not in err
    assert "… and 5 more" in err
