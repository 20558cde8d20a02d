"""Planning services and ``paxsilica plan``: the stress model confirms a stockpile's promise; plans are
saved with atlas version, scenarios and parameters; errors are one-line messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paxsilica.atlas import write_atlas
from paxsilica.cli.main import app
from paxsilica.errors import InputError, NotFoundError
from paxsilica.network import tiny_atlas
from paxsilica.services.context import ServiceContext
from paxsilica.services.planning import (
    PartnersRequest,
    SourcingRequest,
    StockpileRequest,
    WorstCaseRequest,
    load_plan,
    partners,
    sourcing,
    stockpile,
    worst_case,
)

runner = CliRunner()
BAN = ("name: ban\ndescription: JPN stops wafer exports for 30 of 60 days\nhorizon: 60\nshocks:\n"
       "  - {type: export_ban, exporter: JPN, items: [wafer], start: 0, end: 30}\n")


@pytest.fixture()
def ban(tmp_path: Path) -> Path:
    p = tmp_path / "ban.yaml"
    p.write_text(BAN, encoding="utf-8")
    return p


def _ctx() -> ServiceContext:
    return ServiceContext(source=tiny_atlas(), validate=False)


def test_stockpile_promise_confirmed_by_the_stress_model(ban, tmp_path):
    req = StockpileRequest(consumer="TWN", coalition="club", target="chip", scenarios=str(ban), tolerance=0.05,
                           chokepoints=False, out=tmp_path / "plan")
    r = stockpile(req, _ctx())
    stock = r.tables()["stock"].set_index("item")
    # 0.6 of the wafers for 30 of 60 days = 18 days of need; 3 days (5 % of 60) may stay uncovered
    assert stock.loc["wafer", "days"] == pytest.approx(15.0)
    chk = r.tables()["check"].iloc[0]
    assert chk["stress_before"] > 0.05  # without the stock the stress model breaks the tolerance
    assert chk["stress_after"] <= 0.05 + 1e-9  # with it, it keeps the promise
    assert bool(chk["confirmed"]) and r.summary["confirmed"] is True
    # sensitivity of the tolerance: 2.5 % needs 16.5 days, 10 % needs 12 (cost per day 0.25 / 365)
    sens = r.tables()["sensitivity"].set_index("value")["objective"]
    assert sens[0.025] == pytest.approx(16.5 * 0.25 / 365) and sens[0.1] == pytest.approx(12 * 0.25 / 365)
    saved = load_plan(tmp_path / "plan")
    assert saved["atlas_version"] == tiny_atlas().version
    assert saved["parameters"]["tolerance"] == 0.05
    assert saved["scenarios"]["names"] == ["ban"]
    assert (tmp_path / "plan" / "stock.csv").is_file()


def test_sourcing_service_before_after(ban):
    r = sourcing(SourcingRequest(consumer="TWN", coalition="club", target="chip", scenarios=str(ban), alpha=0.0,
                                 chokepoints=False), _ctx())
    s = r.summary
    # no trade and no spare capacity in the tiny atlas: the mix cannot move, the plan says so
    assert s["after"]["expected"] == pytest.approx(s["before"]["expected"])
    assert s["before"]["expected"] == pytest.approx(0.6 * 0.5)
    assert set(r.tables()) >= {"mix", "items", "scenarios", "binding", "sensitivity"}
    rec = r.to_record()
    assert rec["kind"] == "sourcing" and rec["atlas_version"] == tiny_atlas().version


def test_partners_rank_the_banning_country_first(ban):
    r = partners(PartnersRequest(consumer="club", coalition="club", target="chip", scenarios=str(ban), alpha=0.0,
                                 chokepoints=False), _ctx())
    t = r.tables()["partners"]
    assert t["country"].iloc[0] == "JPN"
    assert t["expected_join"].iloc[0] == pytest.approx(0.0)
    assert t["expected_before"].iloc[0] == pytest.approx(0.3)
    assert "1 of 1 scenario" in t["reason"].iloc[0]


def test_worst_case_service_and_robust_plan():
    r = worst_case(WorstCaseRequest(target="chip", ks=(1, 2), kinds=("country",), budget=0.2, k=1), _ctx())
    # countries: TWN (all chips) is the worst single attack
    assert r.summary["worst"][1] == pytest.approx(1.0)
    assert r.summary["robust"]["worst_after"] <= r.summary["robust"]["worst_before"]


def test_service_errors_are_clear(tmp_path):
    with pytest.raises(NotFoundError, match="target item"):
        worst_case(WorstCaseRequest(target="chipz"), _ctx())
    with pytest.raises(NotFoundError):
        sourcing(SourcingRequest(consumer="XXX", coalition="club", target="chip", chokepoints=False), _ctx())
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="holds other files"):
        worst_case(WorstCaseRequest(target="chip", ks=(1,), kinds=("site",), out=tmp_path / "other"), _ctx())


def test_cli_worst_case_json_and_out(tmp_path):
    atlas_dir = tmp_path / "atlas"
    write_atlas(tiny_atlas(), atlas_dir)
    r = runner.invoke(app, ["--atlas", str(atlas_dir), "plan", "worst-case", "--target", "chip", "--kinds", "site",
                            "--k-max", "2", "--format", "json", "--out", str(tmp_path / "wc")])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.output)
    assert rec["kind"] == "worst-case" and [row["k"] for row in rec["tables"]["worst"]] == [1, 2]
    assert json.loads((tmp_path / "wc" / "plan.json").read_text())["atlas_version"] == rec["atlas_version"]


def test_cli_stockpile_table_and_montecarlo_mismatch(tmp_path, ban):
    atlas_dir = tmp_path / "atlas"
    write_atlas(tiny_atlas(), atlas_dir)
    r = runner.invoke(app, ["--atlas", str(atlas_dir), "plan", "stockpile", "--for", "TWN", "--coalition", "club",
                            "--target", "chip", "--scenarios", str(ban), "--tolerance", "0.05", "--no-lanes"])
    assert r.exit_code == 0, r.output
    assert "stress check confirms it" in " ".join(r.output.split())
    run = tmp_path / "mc"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"draws": 1, "horizon_days": 10, "atlas_version": "old"}))
    r = runner.invoke(app, ["--atlas", str(atlas_dir), "plan", "sourcing", "--for", "TWN", "--coalition", "club",
                            "--target", "chip", "--montecarlo", str(run), "--no-lanes"])
    assert r.exit_code == 1
    assert "atlas version old" in " ".join(r.output.split()) and "Traceback" not in r.output


def test_cli_sourcing_and_partners_tables(tmp_path, ban):
    atlas_dir = tmp_path / "atlas"
    write_atlas(tiny_atlas(), atlas_dir)
    common = ["--coalition", "club", "--target", "chip", "--scenarios", str(ban), "--no-lanes"]
    r = runner.invoke(app, ["--atlas", str(atlas_dir), "plan", "sourcing", "--for", "TWN", "--alpha", "0", *common])
    assert r.exit_code == 0, r.output
    assert "Sourcing plan for TWN (expected)" in " ".join(r.output.split())
    r = runner.invoke(app, ["--atlas", str(atlas_dir), "plan", "partners", "--format", "csv", *common])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].startswith("rank,country") and ",JPN," in r.output.splitlines()[1]
    r = runner.invoke(app, ["--atlas", str(atlas_dir), "plan", "sourcing", "--for", "TWN", "--alpha", "0",
                            "--min-coalition-share", "0.5", *common])
    assert r.exit_code == 1
    assert "coalition members can supply at most" in " ".join(r.output.split())
