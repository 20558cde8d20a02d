"""``paxsilica montecarlo`` end to end (a subprocess on the tiny atlas), with Ctrl-C keeping a partial run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from paxsilica.atlas import write_atlas
from paxsilica.network.build import tiny_atlas
from tests.test_montecarlo_run import TINY

EXE = [sys.executable, "-m", "paxsilica.cli.main"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("mc")
    write_atlas(tiny_atlas(), d / "atlas")
    (d / "tiny.yaml").write_text(TINY, encoding="utf-8")
    return d


def cli(files: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*EXE, "--atlas", str(files / "atlas"), "montecarlo", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_cli_writes_a_run_and_prints_the_risk_table(files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    p = cli(files, "--draws", "30", "--catalogue", str(files / "tiny.yaml"), "--target", "chip", "--horizon", "90",
            "--seed", "5", "--levels", "0.8,0.9", "--batch", "10", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "expected_loss" in p.stdout and "es" in p.stdout and f"wrote {out}" in p.stdout
    meta = json.loads((out / "run.json").read_text())
    assert (meta["draws"], meta["seed"], meta["levels"], meta["complete"]) == (30, 5, [0.8, 0.9], True)
    assert meta["catalogue"]["path"] == str(files / "tiny.yaml")
    assert len(pd.read_parquet(out / "losses.parquet")["draw"].unique()) == 30
    # the same seed from the library gives the same losses
    from paxsilica.montecarlo import parse_catalogue, run_montecarlo

    r = run_montecarlo(tiny_atlas(), parse_catalogue(TINY, file="t"), draws=30, seed=5, horizon_days=90,
                       targets=("chip",), levels=(0.8, 0.9))
    pd.testing.assert_frame_equal(pd.read_parquet(out / "losses.parquet"), r.losses, check_dtype=False)


def test_cli_bad_input_is_a_located_error_not_a_traceback(files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("items: [wafer]}]\n  - id: cn_quake", "items: [wafr]}]\n  - id: cn_quake"))
    p = cli(files, "--draws", "5", "--catalogue", str(bad), "--target", "chip", "--out", str(tmp_path / "o"))
    assert p.returncode == 1, p.stderr
    assert "bad.yaml" in p.stderr and "row 9" in p.stderr and "hazards.0.effects.0.items" in p.stderr
    assert "Traceback" not in p.stderr
    p = cli(files, "--draws", "5", "--catalogue", str(files / "tiny.yaml"), "--target", "chp",
            "--out", str(tmp_path / "o"))
    assert p.returncode == 1 and "chip" in p.stderr and "Traceback" not in p.stderr
    p = cli(files, "--draws", "5", "--levels", "1.5", "--target", "chip", "--catalogue", str(files / "tiny.yaml"),
            "--out", str(tmp_path / "o"))
    assert p.returncode == 1 and "levels" in p.stderr


def test_a_foreign_out_folder_is_refused_before_the_draws(files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # the folder is checked before anything is computed (no progress line), and is left as it was
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    p = cli(files, "--draws", "30", "--catalogue", str(files / "tiny.yaml"), "--target", "chip", "--out", str(mine))
    assert p.returncode == 1 and "not a paxsilica Monte Carlo run" in p.stderr and "notes.txt" in p.stderr
    assert "tasks" not in p.stdout + p.stderr  # no draw was run
    assert [f.name for f in mine.iterdir()] == ["notes.txt"] and (mine / "notes.txt").read_text() == "keep me"


def test_ctrl_c_keeps_the_draws_done(files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "partial"
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen([*EXE, "--atlas", str(files / "atlas"), "montecarlo", "--draws", "200000",
                             "--catalogue", str(files / "tiny.yaml"), "--target", "chip", "--horizon", "90",
                             "--batch", "20", "--out", str(out)], stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 240
        seen = 0
        while time.monotonic() < deadline:  # wait until a few batches are done (progress lines on stderr)
            line = proc.stderr.readline()
            if not line:
                break
            if line.startswith("montecarlo: "):
                seen += 1
                if int(line.split()[1]) >= 3:
                    break
        assert seen, "no progress line before the deadline"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "complete: false" in stderr
    meta = json.loads((out / "run.json").read_text())
    assert meta["complete"] is False and meta["draws_requested"] == 200000
    assert 60 <= meta["draws"] < 200000
    losses = pd.read_parquet(out / "losses.parquet")
    assert losses["draw"].nunique() == meta["draws"]
    assert (out / "report.html").exists()
