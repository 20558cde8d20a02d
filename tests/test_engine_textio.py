"""Text formats: parsing, clear errors naming file, line and field, output format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paxsilica.errors import InputError
from paxsilica.sim import SupplyNetwork
from paxsilica.sim.textio import read_network, read_shocks, write_firm_production, write_series


def files(tmp_path: Path, links: str = "1 2 100\n2 1 100\n", fd: str = "1 100\n2 100\n",
          sectors: str = "1 1 0\n2 2 0\n", initial: str = "1 200\n2 200\n") -> dict[str, Path]:
    out = {}
    for name, text in {"links": links, "fd": fd, "sectors": sectors, "initial": initial}.items():
        p = tmp_path / f"{name}.txt"
        p.write_text(text)
        out[name] = p
    return out


def read(f: dict[str, Path]) -> SupplyNetwork:
    return read_network(f["links"], f["fd"], f["sectors"], f["initial"])


def test_reads_whitespace_blank_lines_and_unlisted_final_demand(tmp_path: Path) -> None:
    f = files(tmp_path, links="10  20\t5.5\n\n20 30 1e1\n", fd="30 7\n", initial="10 1\n",
              sectors="10 3\n20 3 1.0\n30 4 0\n")
    net = read(f)
    assert net.firm_ids.tolist() == [10, 20, 30]
    assert net.final_demand.tolist() == [0.0, 0.0, 7.0]
    assert net.sector_names == ("3", "4")
    assert net.sector.tolist() == [0, 0, 1]
    assert sorted(net.amount.tolist()) == [5.5, 10.0]


@pytest.mark.parametrize(
    ("which", "text", "row", "column", "words"),
    [
        ("links", "1 2 100\n2 x 100\n", 2, "client", "not an integer"),
        ("links", "1 2 100\n2 1\n", 2, None, "expected 3 fields"),
        ("links", "1 2 100\n2 1 100 4\n", 2, None, "expected 3 fields"),
        ("links", "1 2 100\n2 9 100\n", 2, "client", "unknown firm id 9"),
        ("links", "1 2 100\n2 1 -3\n", 2, "amount", "must be > 0"),
        ("links", "1 2 100\n2 1 nan\n", 2, "amount", "finite"),
        ("links", "1 2 100\n1 2 5\n", 2, "client", "duplicate link"),
        ("fd", "1 100\n\n7 100\n", 3, "firm", "unknown firm id 7"),
        ("fd", "1 -1\n", 1, "amount", ">= 0"),
        ("sectors", "1 1\n1 2\n", 2, "firm", "listed twice"),
        ("sectors", "1 a\n2 2\n", 1, "sector", "not an integer"),
        ("initial", "1 200\n5 200\n", 2, "firm", "unknown firm id 5"),
    ],
)
def test_malformed_files_name_file_line_field(tmp_path: Path, which: str, text: str, row: int,
                                               column: str | None, words: str) -> None:
    f = files(tmp_path, **{which: text})
    with pytest.raises(InputError) as exc:
        read(f)
    e = exc.value
    assert e.file == str(f[which])
    assert e.row == row
    assert e.column == column
    assert words in e.message


def test_missing_file(tmp_path: Path) -> None:
    f = files(tmp_path)
    f["links"] = tmp_path / "nope.txt"
    with pytest.raises(InputError, match="file not found"):
        read(f)


@pytest.mark.parametrize(
    ("text", "row", "column", "words"),
    [
        ("1 1.5\n", 1, "delta", "[0, 1]"),
        ("1 0.5\n2 -0.1\n", 2, "delta", "[0, 1]"),
        ("3 0.5\n", 1, "firm", "unknown firm id 3"),
        ("1 0.5 -2\n", 1, "day", ">= 0"),
        ("1 0.5 1.5\n", 1, "day", "not an integer"),
        ("1 0.5\n1 0.2\n", 2, "firm", "shocked twice"),
        ("1\n", 1, None, "expected 2 to 3 fields"),
    ],
)
def test_shock_errors(tmp_path: Path, text: str, row: int, column: str | None, words: str) -> None:
    net = read(files(tmp_path))
    p = tmp_path / "shocks.txt"
    p.write_text(text)
    with pytest.raises(InputError) as exc:
        read_shocks(p, net)
    assert (exc.value.file, exc.value.row, exc.value.column) == (str(p), row, column)
    assert words in exc.value.message


def test_shocks_with_and_without_day(tmp_path: Path) -> None:
    net = read(files(tmp_path))
    p = tmp_path / "shocks.txt"
    p.write_text("2 0.25 4\n1 1\n")
    s = read_shocks(p, net)
    assert s.firm.tolist() == [1, 0] and s.delta.tolist() == [0.25, 1.0] and s.day.tolist() == [4, 0]


def test_write_series_17_digits(tmp_path: Path) -> None:
    p = tmp_path / "s.txt"
    write_series(p, np.array([-1, 0, 1]), np.array([400.0, 1 / 3, 1e-30]))
    assert p.read_text() == "-1 400\n0 0.33333333333333331\n1 1.0000000000000001e-30\n"
    assert float(p.read_text().splitlines()[1].split()[1]) == 1 / 3


def test_write_firm_production(tmp_path: Path) -> None:
    p = tmp_path / "f.txt"
    write_firm_production(p, np.array([-1, 0]), np.array([5, 6]), np.array([[1.0, 2.0], [0.1, 3.0]]))
    assert p.read_text().splitlines() == ["-1 5 1", "-1 6 2", "0 5 0.10000000000000001", "0 6 3"]
