"""The root CLI's error handling: exit codes 0/1/2/3, no traceback for the user, crash logs (issue 10)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import paxsilica.cli.scenarios as scenarios_cli
from paxsilica.cli import main as cli_main
from paxsilica.cli.main import app, handle_exception
from paxsilica.errors import InputError

runner = CliRunner()
PAXSILICA = Path(sys.executable).with_name("paxsilica")


@pytest.fixture
def state_home(tmp_path, monkeypatch) -> Path:
    """A private ``$XDG_STATE_HOME``: crash logs land in ``<it>/paxsilica``."""
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    monkeypatch.delenv("PAXSILICA_DEBUG", raising=False)
    return home


def _boom(*args, **kwargs):
    raise RuntimeError("boom: the table broke\nsecond line never shown")


def _logs(folder: Path) -> list[Path]:
    return sorted(folder.glob("crash-*.log"))


# --------------------------------------------------------------------------- internal errors: exit 3


def test_unexpected_error_exits_3_with_one_line_and_log(state_home, monkeypatch) -> None:
    monkeypatch.setattr(scenarios_cli, "scenarios_table", _boom)
    r = runner.invoke(app, ["scenarios", "list"])
    assert r.exit_code == 3, r.output
    assert "internal error (please report): RuntimeError: boom: the table broke" in r.stderr
    assert "second line" not in r.stderr
    assert "Traceback" not in r.output
    logs = _logs(state_home / "paxsilica")
    assert len(logs) == 1
    assert str(logs[0]) in r.stderr  # the message names the log file
    text = logs[0].read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert "_boom" in text and "second line never shown" in text
    assert "paxsilica" in text.splitlines()[0]


def test_debug_prints_the_traceback(state_home, monkeypatch) -> None:
    monkeypatch.setattr(scenarios_cli, "scenarios_table", _boom)
    r = runner.invoke(app, ["--debug", "scenarios", "list"])
    assert r.exit_code == 3
    assert "Traceback (most recent call last)" in r.stderr and "_boom" in r.stderr
    assert "internal error (please report): RuntimeError: boom" in r.stderr
    assert len(_logs(state_home / "paxsilica")) == 1  # the log is written as well


def test_debug_from_environment(state_home, monkeypatch) -> None:
    monkeypatch.setattr(scenarios_cli, "scenarios_table", _boom)
    monkeypatch.setenv("PAXSILICA_DEBUG", "1")
    r = runner.invoke(app, ["scenarios", "list"])
    assert r.exit_code == 3 and "Traceback (most recent call last)" in r.stderr


def test_log_falls_back_to_temp_dir(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))  # <file>/paxsilica cannot be created
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(scenarios_cli, "scenarios_table", _boom)
    r = runner.invoke(app, ["scenarios", "list"])
    assert r.exit_code == 3
    logs = _logs(tmp_path / "tmp" / "paxsilica")
    assert len(logs) == 1 and str(logs[0]) in r.stderr


def test_default_log_dir_without_xdg(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli_main.log_dir() == tmp_path / ".local" / "state" / "paxsilica"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")  # the XDG spec: relative paths are invalid
    assert cli_main.log_dir() == tmp_path / ".local" / "state" / "paxsilica"


def test_old_logs_are_pruned(state_home, monkeypatch) -> None:
    folder = state_home / "paxsilica"
    folder.mkdir(parents=True)
    for i in range(cli_main._KEEP_LOGS + 5):
        p = folder / f"crash-20000101-0000{i:02d}-1.log"
        p.write_text("old", encoding="utf-8")
        os.utime(p, (i, i))
    keep = folder / "notes.txt"
    keep.write_text("mine", encoding="utf-8")
    monkeypatch.setattr(scenarios_cli, "scenarios_table", _boom)
    assert runner.invoke(app, ["scenarios", "list"]).exit_code == 3
    assert len(_logs(folder)) == cli_main._KEEP_LOGS
    assert keep.exists()


def test_internal_error_through_console_script(tmp_path) -> None:
    """The installed entry point (``main()``), not only the in-process app."""
    code = ("import sys, paxsilica.cli.scenarios as s\n"
            "def boom(*a, **k): raise ZeroDivisionError('division by zero')\n"
            "s.scenarios_table = boom\n"
            "from paxsilica.cli.main import main\n"
            "sys.argv = ['paxsilica', 'scenarios', 'list']\n"
            "main()\n")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    env.pop("PAXSILICA_DEBUG", None)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 3, p.stderr
    assert "internal error (please report): ZeroDivisionError: division by zero" in p.stderr
    assert "Traceback" not in p.stderr
    assert len(_logs(tmp_path / "paxsilica")) == 1


# --------------------------------------------------------------------------- OS errors on user paths: exit 1


def test_brief_out_directory_exits_1(tmp_path) -> None:
    out = tmp_path / "a-folder"
    out.mkdir()
    r = runner.invoke(app, ["brief", "--no-scenarios", "--bands", "0", "--out", str(out)])
    assert r.exit_code == 1, r.output
    assert f"error: {out}: Is a directory" in r.stderr
    assert "Traceback" not in r.output
    assert out.is_dir() and not list(out.iterdir())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_lanes_geojson_out_directory_exits_1(tmp_path) -> None:
    out = tmp_path / "a-folder"
    out.mkdir()
    r = runner.invoke(app, ["lanes", "geojson", "--out", str(out)])
    assert r.exit_code == 1, r.output
    assert f"error: {out}: Is a directory" in r.stderr


def test_lanes_geojson_out_directory_console_script(tmp_path) -> None:
    if not PAXSILICA.exists():
        pytest.skip("console script not installed next to the interpreter")
    p = subprocess.run([str(PAXSILICA), "lanes", "geojson", "--out", str(tmp_path)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 1, p.stderr
    assert str(tmp_path) in p.stderr and "Traceback" not in p.stderr


def test_export_to_missing_parent_exits_1(tmp_path) -> None:
    target = tmp_path / "no" / "such" / "x.xlsx"
    (tmp_path / "no").write_text("a file, so no folder can be made under it", encoding="utf-8")
    r = runner.invoke(app, ["atlas", "export", "--to", str(target)])
    assert r.exit_code == 1, r.output
    assert "error: " in r.stderr and str(tmp_path / "no") in r.stderr
    assert "Traceback" not in r.output


@pytest.mark.parametrize(("exc", "expected"), [
    (PermissionError(errno.EACCES, "Permission denied", "/srv/data/out.csv"), "/srv/data/out.csv: Permission denied"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "/proc/nope"), "/proc/nope: No such file"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/d/.tmp123", None, "/d/out"), "/d/out: Is a directory"),
    # a temp file we could not create beside the target: name the folder, not our temp name
    (PermissionError(errno.EACCES, "Permission denied", "/ro-folder/.brief.html.x8k2"), "/ro-folder: Permission"),
    (OSError(errno.ENOSPC, "No space left on device"), "error: No space left on device"),
])
def test_os_errors_become_exit_1(state_home, capsys, exc, expected) -> None:
    assert handle_exception(exc) == 1
    err = capsys.readouterr().err
    assert expected in err and "internal error" not in err
    assert not (state_home / "paxsilica").exists()


def test_os_error_without_path_is_internal(state_home, capsys) -> None:
    assert handle_exception(OSError("something odd")) == 3
    assert "internal error (please report): OSError: something odd" in capsys.readouterr().err


# --------------------------------------------------------------------------- bad input (1) and usage (2)


def test_unknown_scenario_exits_1(state_home) -> None:
    r = runner.invoke(app, ["scenarios", "show", "no_such_scenario"])
    assert r.exit_code == 1
    assert "error: no built-in scenario 'no_such_scenario'" in r.stderr
    assert not (state_home / "paxsilica").exists()  # bad input writes no crash log


def test_paxsilica_error_message_is_printed_verbatim(state_home, monkeypatch) -> None:
    def bad(*a, **k):
        raise InputError("value [bold]x[/bold] is not a number", file="f.csv", row=3, column="share")

    monkeypatch.setattr(scenarios_cli, "scenarios_table", bad)
    r = runner.invoke(app, ["scenarios", "list"])
    assert r.exit_code == 1
    assert "error: f.csv, row 3, column 'share': value [bold]x[/bold] is not a number" in r.stderr


@pytest.mark.parametrize("args", [["no-such-command"], ["--no-such-option", "version"],
                                  ["scenarios", "list", "--format", "yaml"], ["lanes", "geojson"]])
def test_usage_errors_exit_2(state_home, args) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert not (state_home / "paxsilica").exists()


def test_ok_exits_0(state_home) -> None:
    r = runner.invoke(app, ["--debug", "version"])
    assert r.exit_code == 0 and r.stdout.strip()


def test_one_line_is_bounded() -> None:
    assert cli_main._one_line(ValueError("")) == "ValueError"
    long = cli_main._one_line(ValueError("x" * 1000))
    assert len(long) == 200 and long.startswith("ValueError: x")


@pytest.mark.parametrize("args", [["risk", "items", "--top", "-3"], ["atlas", "show", "items", "--limit", "-1"],
                                  ["tts", "--top", "-1"], ["lanes", "show", "--from", "CHN", "--to", "USA",
                                                           "--limit", "-2"]])
def test_negative_row_counts_are_usage_errors(args: list[str]) -> None:
    """A negative row count is refused (exit 2, the option named), not silently read as 'all but'."""
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert args[-2] in r.output
