"""CLI: did-you-mean errors, usage exit codes, --version, 80-column tables, export (issue 11)."""

from __future__ import annotations

import io
import os
import re
import stat

import pandas as pd
import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from paxsilica.cli import common
from paxsilica.cli.common import emit, fit_columns, human_header
from paxsilica.cli.main import app

runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch):
    monkeypatch.setattr(common.console, "width", 80)


MISTAKES = [
    (("atlas", "show", "production", "--where", "item=galium"), "unknown item 'galium' — did you mean 'gallium'?"),
    (("tts", "--item", "galium"), "unknown item 'galium' — did you mean 'gallium'?"),
    (("tts", "--target", "ai_datacentre_capacity"), "did you mean 'ai_datacenter_capacity'?"),
    (("lanes", "show", "--from", "QTR", "--to", "NLD"), "unknown country 'QTR' — did you mean 'QAT'?"),
    (("lanes", "exposure", "--for", "XXX"), "unknown country 'XXX'"),
    (("lanes", "rank", "--target", "galium"), "unknown item 'galium'"),
    (("stress", "hormuz_closure", "--for", "XXX"), "unknown country 'XXX'"),
    (("stress", "hormuz_closure", "--target", "galium"), "unknown target item 'galium'"),
    (("risk", "items", "--consumer", "XXX"), "unknown country 'XXX'"),
    (("risk", "coalition", "--add", "NL,TW"), "unknown country 'NL' — did you mean 'NLD'?"),
    (("risk", "coalition", "--coalition", "pax_silika"), "unknown group 'pax_silika' — did you mean 'pax_silica'?"),
    (("risk", "items", "--allies", "oced"), "unknown group 'oced' — did you mean 'oecd'?"),
    (("risk", "bottlenecks", "--target", "ai_datacenter"), "did you mean 'ai_datacenter_capacity'?"),
    (("brief", "--for", "QTA", "--no-scenarios", "--out", "/tmp/never.html"), "unknown country 'QTA'"),
    (("brief", "--target", "galium", "--no-scenarios", "--out", "/tmp/never.html"), "unknown item 'galium'"),
]


@pytest.mark.parametrize(("args", "message"), MISTAKES, ids=[" ".join(a[:3]) for a, _ in MISTAKES])
def test_mistakes_exit_1_with_a_suggestion(args, message):
    r = run(*args)
    assert r.exit_code == 1, r.output
    assert message in r.output


@pytest.mark.parametrize("args", [("risk", "items", "--level", "country2"),
                                  ("risk", "bottlenecks", "--level", "x"),
                                  ("risk", "items", "--method", "nope"),
                                  ("atlas", "export", "--to", "out.xls"),
                                  ("risk", "items", "--no-such-option")])
def test_usage_errors_exit_2(args):
    assert run(*args).exit_code == 2


def test_version():
    from paxsilica import __version__

    for flag in ("--version", "-V"):
        r = run(flag)
        assert r.exit_code == 0 and r.output.strip() == f"paxsilica {__version__}"


TABLE_COMMANDS = [
    ("lanes", "show", "--from", "QAT", "--to", "NLD", "--closed", "suez"),
    ("lanes", "show", "--from", "QAT,AUS", "--to", "NLD,JPN"),
    ("lanes", "exposure", "--for", "QAT"),
    ("risk", "items"),
    ("risk", "items", "--stages"),
    ("risk", "items", "--eu-sr"),
    ("risk", "items", "--consumer", "USA"),
    ("risk", "items", "--coercion"),
    ("risk", "bottlenecks"),
    ("risk", "bottlenecks", "--countries"),
    ("risk", "coalition"),
    ("risk", "coalition", "--add", "NLD,TWN"),
    ("atlas", "show", "production", "--where", "item=gallium"),
    ("atlas", "show", "countries"),
    ("atlas", "importers"),
    ("atlas", "info"),
    ("scenarios", "list"),
    ("tts", "--top", "10"),
]


def _first_column_ids(args: tuple[str, ...]) -> list[str]:
    r = run(*args, "--format", "csv")
    if r.exit_code != 0 or not r.output.strip():
        return []
    df = pd.read_csv(io.StringIO(r.output), dtype=str)
    ids = [v for v in df.iloc[:10, 0].dropna().astype(str) if re.fullmatch(r"[A-Za-z0-9_.]+", v)]
    return ids


@pytest.mark.parametrize("args", TABLE_COMMANDS, ids=[" ".join(a[:3]) for a in TABLE_COMMANDS])
def test_tables_fit_80_columns_and_ids_never_fold(args):
    r = run(*args)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert max(cell_len(x) for x in lines) <= 80, "\n".join(x for x in lines if cell_len(x) > 80)
    assert not re.search(r"\d\.\d+e[+-]\d", r.output), "scientific notation"
    assert not re.search(r"\b(distance_nm|top1_share|largest_outside_share|coalition_share)\b", r.output)
    if args[:2] == ("atlas", "info"):
        return
    for v in _first_column_ids(args) if args[0] != "tts" else []:
        assert re.search(rf"(^|\s){re.escape(v)}(\s|$)", r.output, re.M), f"{v!r} split or missing"
    if args[:2] == ("lanes", "show") and "--closed" in args:
        assert "Rotterdam" in r.output and "Ras Laffan" in r.output.replace("\n", " ")


def test_fit_columns_drops_rather_than_folding():
    headers = ["item", "description"]
    cells = [["antimony_mine", "a word list that can wrap"], ["ai_datacenter_capacity", "x"]]
    shown, widths = fit_columns(headers, cells, 40)
    assert shown == [0, 1] and widths[0] == len("ai_datacenter_capacity")
    shown, widths = fit_columns(headers + ["another_long_identifier_col"], [c + ["identifier_long_value"]
                                                                           for c in cells], 40)
    assert shown == [0, 1]


def test_human_headers_and_fixed_numbers(capsys, monkeypatch):
    assert human_header("largest_outside_share_%") == "outside %"
    assert human_header("hhi") == "HHI" and "_" not in human_header("time_to_survive_days")
    emit(pd.DataFrame({"item": ["a", "b"], "distance_nm": [11220.123, 5.5], "share": [0.000012, 0.5],
                       "flag": [True, False]}), width=80)
    out = capsys.readouterr().out
    assert "11,220" in out and "e-05" not in out and "0.000" in out and "yes" in out
    assert "distance (nm)" in out.replace("\n", " ") or "(nm)" in out


@pytest.mark.parametrize(("name", "fmt"), [("out.xlsx", "xlsx"), ("out.json", "json"), ("folder", "csv")])
def test_export_infers_format_and_gives_normal_permissions(tmp_path, name, fmt):
    to = tmp_path / name
    r = run("atlas", "export", "--to", str(to))
    assert r.exit_code == 0, r.output
    assert f"as {fmt}" in r.output
    umask = os.umask(0)
    os.umask(umask)
    if fmt == "csv":
        assert to.is_dir() and (to / "items.csv").is_file()
        mode = stat.S_IMODE((to / "items.csv").stat().st_mode)
    else:
        assert to.is_file()
        mode = stat.S_IMODE(to.stat().st_mode)
    assert mode == 0o666 & ~umask


def test_help_texts():
    assert "ENGINE.md" not in run("sim", "firms", "--help").output
    h = run("risk", "bottlenecks", "--help").output
    assert "default: all" not in h
    assert "``" not in run("tts", "--help").output
