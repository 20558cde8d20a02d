"""``atlas export --to`` and ``atlas import --into`` write only their own files (issue 10)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paxsilica.atlas import Atlas, read_atlas, write_atlas
from paxsilica.atlas.io import ATLAS_MARKER, TEMP_PREFIX, clean_stale_temps, foreign_entries
from paxsilica.atlas.schema import TABLE_ORDER
from paxsilica.cli.main import app
from paxsilica.errors import InputError

runner = CliRunner()
FIX = Path(__file__).parent / "fixtures" / "importers"


def run(*args: str):
    return runner.invoke(app, list(args))


def tables(folder: Path, ext: str = "csv") -> set[str]:
    return {f"{t}.{ext}" for t in TABLE_ORDER}


def test_export_refuses_a_foreign_folder_and_deletes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    (out / ".git").mkdir(parents=True)
    (out / "README").write_text("keep")
    (out / "my_table.csv").write_text("a\n1\n")
    r = run("atlas", "export", "--to", str(out))
    assert r.exit_code == 1 and "--force" in r.stderr and "README" in r.stderr and "Traceback" not in r.output
    assert sorted(p.name for p in out.iterdir()) == [".git", "README", "my_table.csv"]
    r = run("atlas", "export", "--to", str(out), "--force")
    assert r.exit_code == 0, r.output
    names = {p.name for p in out.iterdir()}
    assert tables(out) <= names and {".git", "README", "my_table.csv"} <= names
    assert ATLAS_MARKER not in names  # still the user's folder: a later export must not swap it away
    assert (out / "README").read_text() == "keep" and len(read_atlas(out)["items"]) > 0


def test_export_replaces_its_own_folder_whole(tmp_path: Path, tiny_atlas: Atlas) -> None:
    out = tmp_path / "a"
    write_atlas(tiny_atlas, out)
    assert foreign_entries(out) == [] and (out / ATLAS_MARKER).is_file()
    write_atlas(tiny_atlas.replace(items=tiny_atlas["items"].iloc[:1]), out)
    assert len(read_atlas(out)["items"]) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]
    # a CSV atlas is foreign to a Parquet export into the same folder (its tables would be lost)
    with pytest.raises(InputError, match="countries.csv"):
        write_atlas(tiny_atlas, out, "parquet")


@pytest.mark.parametrize("spelling", [".", ""])
def test_current_folder_is_never_wiped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    r = run("atlas", "import", "wgi", str(FIX / "wgi_2022_wide.csv"), "--into", spelling)
    assert r.exit_code == 1 and "notes.txt" in r.stderr
    r = run("atlas", "export", "--to", ".")
    assert r.exit_code == 1 and "notes.txt" in r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_current_atlas_folder_is_updated_in_place(tmp_path: Path, tiny_atlas: Atlas,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    d = write_atlas(tiny_atlas, tmp_path / "a")
    inode = os.stat(d).st_ino
    monkeypatch.chdir(d)
    r = run("atlas", "import", "wgi", str(FIX / "wgi_2022_wide.csv"), "--into", ".")
    assert r.exit_code == 0, r.output
    assert os.stat(d).st_ino == inode and Path.cwd() == d  # the same folder, not a swapped-in one
    assert read_atlas(d)["countries"]["wgi_mean"].notna().any()


def test_import_refuses_foreign_folder_before_importing(tmp_path: Path, monkeypatch) -> None:
    into = tmp_path / "proj"
    into.mkdir()
    (into / "README.md").write_text("keep")
    import dataclasses

    import paxsilica.importers as imp

    def never(*a, **k):
        raise AssertionError("the importer ran although the folder is refused")

    monkeypatch.setitem(imp.IMPORTERS, "wgi", dataclasses.replace(imp.IMPORTERS["wgi"], run=never))
    r = run("atlas", "import", "wgi", str(FIX / "wgi_2022_wide.csv"), "--into", str(into))
    assert r.exit_code == 1 and "README.md" in r.stderr
    assert [p.name for p in into.iterdir()] == ["README.md"]


def test_import_keeps_extras_of_earlier_imports(tmp_path: Path) -> None:
    into = tmp_path / "a"
    assert run("atlas", "import", "firms", str(FIX / "firm_suppliers.csv"), "--into", str(into)).exit_code == 0
    assert (into / "links.extra.csv").is_file()
    r = run("atlas", "import", "wgi", str(FIX / "wgi_2022_wide.csv"), "--into", str(into))
    assert r.exit_code == 0, r.output
    assert (into / "links.extra.csv").is_file() and foreign_entries(into) == []


def test_stale_temporary_folders_are_cleaned_fresh_ones_kept(tmp_path: Path, tiny_atlas: Atlas) -> None:
    stale, fresh = tmp_path / f"{TEMP_PREFIX}a.x", tmp_path / f"{TEMP_PREFIX}a.y"
    for d in (stale, fresh):
        d.mkdir()
        (d / "items.csv").write_text("half")
    old = time.time() - 600
    os.utime(stale / "items.csv", (old, old))
    os.utime(stale, (old, old))
    (tmp_path / ".notes.tmp").write_text("the user's, not ours")
    os.utime(tmp_path / ".notes.tmp", (old, old))
    write_atlas(tiny_atlas, tmp_path / "a")
    assert not stale.exists() and fresh.exists() and (tmp_path / ".notes.tmp").exists()
    assert clean_stale_temps(tmp_path, age=-1) == [fresh.name]


def test_export_to_a_file_path_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "x.xlsx").mkdir()
    r = run("atlas", "export", "--to", str(tmp_path / "x.xlsx"))
    assert r.exit_code == 1 and "is a folder" in r.stderr


def test_export_files_get_normal_permissions_and_force_leaves_others_alone(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        out = tmp_path / "a"
        assert run("atlas", "export", "--to", str(out)).exit_code == 0
        assert (out / "items.csv").stat().st_mode & 0o777 == 0o644
        assert out.stat().st_mode & 0o777 == 0o755
        mine = tmp_path / "mine"
        mine.mkdir()
        (mine / "secret.txt").write_text("x")
        os.chmod(mine / "secret.txt", 0o600)
        assert run("atlas", "export", "--to", str(mine), "--force").exit_code == 0
        assert (mine / "secret.txt").stat().st_mode & 0o777 == 0o600  # not the command's file
        assert (tmp_path / "b.xlsx").exists() is False
        assert run("atlas", "export", "--to", str(tmp_path / "b.xlsx")).exit_code == 0
        assert (tmp_path / "b.xlsx").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)
