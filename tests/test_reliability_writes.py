"""``stress --out DIR`` writes can't lose data: built beside the target, swapped in by rename."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from paxsilica import fsutil
from paxsilica.cli.main import app
from paxsilica.errors import InputError
from paxsilica.network import tiny_atlas
from paxsilica.scenarios import parse_scenario
from paxsilica.stress import RESULT_MARKER, run_stress, save_result

TABLES = {"runs", "series", "items", "consumers", "effects"}
SCEN = "name: {name}\ndescription: d\nhorizon: 40\nshocks:\n  - {{type: export_ban, exporter: JPN, items: [wafer]}}\n"


@pytest.fixture(scope="module")
def results():
    atlas = tiny_atlas()
    return [run_stress(parse_scenario(SCEN.format(name=n)), atlas, target="chip", inventory_days=10, bands=0)
            for n in ("first", "second")]


def scenario_of(out: Path) -> str:
    """The scenario of the complete result in ``out``; fails on a missing file or a mix of two results."""
    names = {p.name for p in out.iterdir()}
    assert names == {"series.parquet", "result.duckdb", "summary.json", "chart.html", RESULT_MARKER}, names
    with duckdb.connect(str(out / "result.duckdb"), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        (db,) = con.execute("SELECT scenario FROM runs").fetchone()
    assert TABLES <= tables
    summary = json.loads((out / "summary.json").read_text())["metadata"]["scenario"]["name"]
    marker = json.loads((out / RESULT_MARKER).read_text())["scenario"]
    import pandas as pd

    series = pd.read_parquet(out / "series.parquet")["run_id"].iloc[0].split("-")[0]
    assert db == summary == marker == series, (db, summary, marker, series)
    return db


def temps(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".run."))


def age(parent: Path, seconds: float = 120.0) -> None:
    old = time.time() - seconds
    for p in parent.iterdir():
        if p.name.startswith(".run."):
            for c in p.iterdir():
                os.utime(c, (old, old), follow_symlinks=False)
            os.utime(p, (old, old))


def test_second_save_replaces_first_completely(tmp_path, results) -> None:
    out = tmp_path / "out"
    save_result(results[0], out)
    assert scenario_of(out) == "first"
    (out / "result.duckdb.wal").write_bytes(b"junk from an old version")  # ours: replaced with the rest
    paths = save_result(results[1], out)
    assert scenario_of(out) == "second" and paths["duckdb"] == out.resolve() / "result.duckdb"
    assert temps(tmp_path) == []


def test_missing_and_empty_folders_are_fine(tmp_path, results) -> None:
    save_result(results[0], tmp_path / "a" / "b")
    assert scenario_of(tmp_path / "a" / "b") == "first"
    (tmp_path / "empty").mkdir()
    save_result(results[0], tmp_path / "empty")
    assert scenario_of(tmp_path / "empty") == "first"


def test_foreign_folder_refused_without_force(tmp_path, results) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "README").write_text("keep me")
    with pytest.raises(InputError, match="mine"):
        save_result(results[0], out)
    assert sorted(p.name for p in out.iterdir()) == ["README"] and temps(tmp_path) == []
    # a previous result the user added a file to is not wiped either
    res = tmp_path / "res"
    save_result(results[0], res)
    (res / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="notes.txt"):
        save_result(results[1], res)
    save_result(results[1], res, force=True)
    assert (res / "notes.txt").read_text() == "mine"
    (res / "notes.txt").unlink()
    assert scenario_of(res) == "second"


def _cli_stress(out: Path, *extra: str):
    """``stress`` on the bundled atlas (valid, unlike the tiny one), a few steps, no bands."""
    return CliRunner().invoke(app, ["stress", "advanced_fab_cyber_incident", "--steps", "5", "--bands", "0",
                                    "--out", str(out), *extra])


def test_cli_refuses_foreign_folder_and_force_keeps_readme(tmp_path) -> None:
    out = tmp_path / "docs"
    out.mkdir()
    (out / "README").write_text("keep me")
    r = _cli_stress(out)
    assert r.exit_code == 1, r.output
    assert "docs" in r.output and "--force" in r.output and "Traceback" not in r.output
    assert sorted(p.name for p in out.iterdir()) == ["README"]
    r = _cli_stress(out, "--force")
    assert r.exit_code == 0, r.output
    assert (out / "README").read_text() == "keep me"
    names = {p.name for p in out.iterdir()}
    assert {"series.parquet", "result.duckdb", "summary.json", "chart.html"} <= names
    assert RESULT_MARKER not in names  # still not ours: a later save must not swap the README away
    with duckdb.connect(str(out / "result.duckdb"), read_only=True) as con:
        assert con.execute("SELECT scenario FROM runs").fetchone() == ("advanced_fab_cyber_incident",)
    r = _cli_stress(out, "--force")  # and again, in place
    assert r.exit_code == 0 and (out / "README").read_text() == "keep me"
    assert temps(tmp_path) == []


def test_stale_temp_folders_are_cleaned_fresh_ones_kept(tmp_path, results) -> None:
    stale = tmp_path / ".run.x"
    stale.mkdir()
    (stale / "result.duckdb").write_bytes(b"half")
    fresh = tmp_path / ".run.y.busy"  # another save still building: too young to touch
    fresh.mkdir()
    age(tmp_path)
    os.utime(fresh)
    (tmp_path / ".run.file").write_text("not a folder")
    save_result(results[0], tmp_path / "out")
    assert not stale.exists() and fresh.exists() and (tmp_path / ".run.file").exists()


def _failing_replace(monkeypatch, fail_at: int, exc: type[BaseException] = OSError) -> None:
    real = os.replace
    calls = {"n": 0}

    def replace(a, b, *args, **kw):
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise exc("killed mid-swap")
        return real(a, b, *args, **kw)

    monkeypatch.setattr(os, "replace", replace)


class Killed(BaseException):
    pass


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
@pytest.mark.parametrize("fail_at", [1, 2])
def test_kill_mid_swap_leaves_old_or_new(tmp_path, results, monkeypatch, exchange, fail_at) -> None:
    out = tmp_path / "out"
    save_result(results[0], out)
    if exchange:
        def broken_exchange(a, b):
            raise Killed("killed during the exchange")  # an atomic step either happens or it doesn't
        if fail_at == 2:
            real_ex = fsutil.exchange_paths

            def broken_exchange(a, b):  # killed right after the exchange, before cleanup
                if not real_ex(a, b):
                    pytest.skip("no renameat2 on this file system")
                raise Killed("killed after the exchange")
        monkeypatch.setattr(fsutil, "exchange_paths", broken_exchange)
    else:
        monkeypatch.setattr(fsutil, "exchange_paths", lambda a, b: False)
        _failing_replace(monkeypatch, fail_at, Killed)
    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: None)  # a kill runs no clean-up
    with pytest.raises(Killed):
        save_result(results[1], out)
    monkeypatch.undo()
    assert scenario_of(out) in {"first", "second"}
    age(tmp_path)
    save_result(results[1], out)
    assert scenario_of(out) == "second" and temps(tmp_path) == []


def test_failed_rename_restores_old_result(tmp_path, results, monkeypatch) -> None:
    out = tmp_path / "out"
    save_result(results[0], out)
    monkeypatch.setattr(fsutil, "exchange_paths", lambda a, b: False)
    _failing_replace(monkeypatch, 2)  # out moved aside, the new folder's rename fails
    with pytest.raises(InputError, match="cannot write output folder"):
        save_result(results[1], out)
    monkeypatch.undo()
    assert scenario_of(out) == "first" and temps(tmp_path) == []


def test_atomic_write_never_replaces_a_device(tmp_path: Path) -> None:
    """``--out /dev/null`` writes to the device; renaming over it would turn /dev/null (as root) into a
    regular file for every process on the machine."""
    import os
    import stat

    from paxsilica.fsutil import atomic_write

    atomic_write("/dev/null", "discarded")
    atomic_write("/dev/null", lambda p: p.write_text("via a writer"))
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    r = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        atomic_write(fifo, "through the pipe")
        assert os.read(r, 100) == b"through the pipe"
    finally:
        os.close(r)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
