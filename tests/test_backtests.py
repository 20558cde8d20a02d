"""Backtests: every reference event's observed outcome, and every case that must hurt, is reproduced by the
model's central run on the bundled atlas (docs/backtests.md has the evidence behind each range)."""

from __future__ import annotations

import pandas as pd
import pytest

from paxsilica.backtest import BACKTEST_COLUMNS, backtest_scenarios, run_backtests

REFERENCE_EVENTS = {"neon_shortage_ukraine", "gallium_germanium_export_ban", "helium_qatar_plant_outage",
                    "rare_earth_magnet_licensing", "red_sea_suez_closure", "japan_earthquake",
                    "tsmc_malware_2018"}
MUST_HURT = {"taiwan_blockade_year", "advanced_fab_cyber_incident"}


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    from paxsilica.atlas import bundled_atlas

    return run_backtests(bundled_atlas(), bands=0)


def test_every_reference_event_and_must_hurt_case_is_covered() -> None:
    names = set(backtest_scenarios())
    assert REFERENCE_EVENTS | MUST_HURT <= names


@pytest.mark.parametrize("scenario", sorted(REFERENCE_EVENTS | MUST_HURT))
def test_model_within_observed_range(results: pd.DataFrame, scenario: str) -> None:
    rows = results[results["scenario"] == scenario]
    assert len(rows) >= 1
    assert (rows["note"].fillna("") == "").all(), rows["note"].tolist()
    out = rows[~rows["ok"].astype(bool)]
    assert out.empty, out[["of", "min", "max", "model"]].to_string()


def test_cases_that_must_hurt_do_hurt(results: pd.DataFrame) -> None:
    # a model that answers "0" everywhere passes no expected check
    exp = results[results["kind"] == "expected"]
    assert len(exp) >= 2 and (exp["model"] >= exp["min"]).all() and (exp["model"] > 0.5).all()


def test_table_columns(results: pd.DataFrame) -> None:
    assert list(results.columns) == list(BACKTEST_COLUMNS)


def test_backtest_command_prints_model_against_observed() -> None:
    from typer.testing import CliRunner

    from paxsilica.cli.main import app

    r = CliRunner().invoke(app, ["backtest", "tsmc_malware_2018", "--bands", "0"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert "tsmc_malware_2018" in r.output and "site:advanced_logic@TWN" in r.output
    assert "4 of 4 checks in range" in r.output
    j = CliRunner().invoke(app, ["backtest", "tsmc_malware_2018", "--bands", "0", "--format", "json"])
    import json

    rows = json.loads(j.output)
    assert {row["of"] for row in rows} == {"site:advanced_logic@TWN", "item:advanced_logic",
                                           "item:ai_accelerators", "target"}
    assert all(row["ok"] for row in rows)
