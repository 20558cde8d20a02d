"""Part A of ENGINE.md: the worked example, number for number, through the API, the text files and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from paxsilica.cli.sim import app
from paxsilica.errors import InputError
from paxsilica.sim import FirmShocks, SupplyNetwork, simulate
from paxsilica.sim.textio import FirmFiles, read_firm_files

FIX = Path(__file__).parent / "engine_fixtures" / "worked"

# ENGINE.md, worked example: total production with proportional rationing, t = -1 .. 11
EXPECTED = ["400", "380", "343.33333333333337", "303.76492194674017", "251.7485460667279",
            "231.01941128456284"] + ["200"] * 7
# ENGINE.md: the reference simulator's priority mode at t = 2, 3, 4
REFERENCE_PRIORITY = {3: "303.88888888888891", 4: "251.8518518518519", 5: "231.21913580246925"}


def two_firms() -> SupplyNetwork:
    return SupplyNetwork.from_arrays([0, 1], [1, 0], [100.0, 100.0], final_demand=[100.0, 100.0],
                                     firm_ids=[1, 2])


def fmt(values: np.ndarray) -> list[str]:
    return [f"{v:.17g}" for v in values]


def test_worked_example_reference_arithmetic_is_exact() -> None:
    r = simulate(two_firms(), FirmShocks([0], [0.1]), steps=12, arithmetic="reference")
    assert fmt(r.production) == EXPECTED
    assert r.step.tolist() == list(range(-1, 12))


def test_worked_example_relative_arithmetic_matches_to_rounding() -> None:
    r = simulate(two_firms(), FirmShocks([0], [0.1]), steps=12)
    np.testing.assert_allclose(r.production, [float(v) for v in EXPECTED], rtol=1e-15)


def test_worked_example_by_hand_first_steps() -> None:
    # t=0: firm 1 capped at 180, firm 2 at 200.  t=1: firm 2 holds 14.9 days of firm 1's good and
    # orders 100 + (1500 - 1490)/6; firm 1 produced 180, holds 15.1 days and orders
    # 90 + (1350 - 1510)/6 = 63.33, so firm 2 makes 100 + 63.33.
    r = simulate(two_firms(), FirmShocks([0], [0.1]), steps=2, record_firms=True)
    np.testing.assert_allclose(r.firm_production[1], [180.0, 200.0])
    np.testing.assert_allclose(r.firm_production[2], [180.0, 100 + 90 - 160 / 6])
    # value added: both firms have v = 0.5
    np.testing.assert_allclose(r.value_added, r.production / 2)
    # final demand at t=0: firm 1 serves 0.9 of its 100, firm 2 all
    assert r.final_demand[1] == pytest.approx(190.0)


@pytest.mark.parametrize("arithmetic", ["reference", "relative"])
def test_worked_example_priority_clean_rule(arithmetic: str) -> None:
    r = simulate(two_firms(), FirmShocks([0], [0.1]), steps=12, rationing="priority", arithmetic=arithmetic)
    if arithmetic == "reference":
        # on this example the clean rule gives the reference's priority numbers bit for bit
        for k, v in REFERENCE_PRIORITY.items():
            assert fmt(r.production)[k] == v
    else:
        for k, v in REFERENCE_PRIORITY.items():
            assert r.production[k] == pytest.approx(float(v), rel=1e-15)
    np.testing.assert_allclose(r.production[:3], [float(v) for v in EXPECTED[:3]], rtol=1e-15)
    assert r.production[6:].tolist() == [200.0] * 7


def test_recovery_days_linear() -> None:
    # with C = 2 the shock falls by half each step: capacity 180, 190, 200
    r = simulate(two_firms(), FirmShocks([0], [0.1]), steps=4, recovery_days=2, record_firms=True)
    np.testing.assert_allclose(r.firm_capacity[1:, 0], [180.0, 190.0, 200.0, 200.0])


def test_shock_onset_day() -> None:
    r = simulate(two_firms(), FirmShocks([0], [0.1], [3]), steps=6)
    assert r.production[:4].tolist() == [400.0] * 4
    assert r.production[4] == 380.0


def test_read_fixture_files_and_simulate() -> None:
    net, shocks = read_firm_files(FirmFiles(FIX / "links.txt", FIX / "final_demand.txt", FIX / "initial.txt",
                                            FIX / "sectors.txt", FIX / "shocks.txt"))
    assert net.firm_ids.tolist() == [1, 2]
    assert net.sector_names == ("1", "2")
    assert shocks is not None and shocks.firm.tolist() == [0] and shocks.delta.tolist() == [0.1]
    r = simulate(net, shocks, steps=12, arithmetic="reference")
    assert fmt(r.production) == EXPECTED


def test_cli_writes_reference_format(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["firms", str(FIX / "links.txt"), str(FIX / "final_demand.txt"),
                                   str(FIX / "initial.txt"), str(FIX / "sectors.txt"), "--shocks",
                                   str(FIX / "shocks.txt"), "--steps", "12", "--arithmetic", "reference",
                                   "--per-firm", "--out", str(out)])
    assert res.exit_code == 0, res.output
    expected = (FIX / "expected_production.txt").read_text()
    assert (out / "production.txt").read_text() == expected
    va = (out / "value_added.txt").read_text().splitlines()
    assert va[0] == "-1 200" and len(va) == 13
    fd = (out / "final_demand.txt").read_text().splitlines()
    assert fd[:2] == ["-1 200", "0 190"]
    firms = (out / "firm_production.txt").read_text().splitlines()
    assert firms[:4] == ["-1 1 200", "-1 2 200", "0 1 180", "0 2 200"]
    assert (out / "parameters.json").exists()


def test_cli_relative_default_and_priority(tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = CliRunner().invoke(app, ["firms", str(FIX / "links.txt"), str(FIX / "final_demand.txt"),
                                   str(FIX / "initial.txt"), str(FIX / "sectors.txt"), "--shocks",
                                   str(FIX / "shocks.txt"), "--steps", "5", "--rationing", "priority",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = (out / "production.txt").read_text().splitlines()
    assert lines[0] == "-1 400" and lines[1] == "0 380" and len(lines) == 6


def test_cli_bad_input_is_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "shocks.txt"
    bad.write_text("1 1.5\n")
    res = CliRunner().invoke(app, ["firms", str(FIX / "links.txt"), str(FIX / "final_demand.txt"),
                                   str(FIX / "initial.txt"), str(FIX / "sectors.txt"), "--shocks", str(bad),
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert isinstance(res.exception, InputError)
    assert "row 1" in str(res.exception) and "delta" in str(res.exception)
