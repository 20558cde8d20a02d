"""The Atlas adapter of the time-to-survive LPs, and ``paxsilica tts``, on hand-checkable atlases."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from paxsilica.atlas import Atlas, write_atlas
from paxsilica.cli.main import app
from paxsilica.cli.tts import tts_report
from paxsilica.errors import InputError, NotFoundError
from paxsilica.optimize import atlas_tts, network_from_atlas, upstream_items

SRC = {"source": "s"}


def frames(*, production: list[dict], recipes: list[dict], stocks: list[dict] | None = None,
           items: list[tuple[str, str, str]] | None = None) -> dict[str, pd.DataFrame]:
    items = items or [("ore", "raw_material", "t"), ("chip", "fabrication", "units"),
                      ("dc", "infrastructure", "MW")]
    out = {
        "sources": pd.DataFrame({"source": ["s"], "publisher": ["tests"], "title": ["hand-made"],
                                 "year": [2026], "licence": ["CC0"], "kind": ["estimate"]}),
        "items": pd.DataFrame({"item": [i[0] for i in items], "name": [i[0] for i in items],
                               "stage": [i[1] for i in items], "unit": [i[2] for i in items]}),
        "production": pd.DataFrame([{**{"producer_type": "country", "year": 2023}, **r, **SRC}
                                    for r in production]),
        "recipes": pd.DataFrame([{**{"rationale": "r"}, **r, **SRC} for r in recipes]),
    }
    if stocks:
        out["stocks"] = pd.DataFrame([{**r, **SRC} for r in stocks])
    # the tables every command's validation asks for (countries, groups, firms) — a valid atlas
    iso = sorted({r["producer"] for r in production if r.get("producer_type", "country") == "country"}
                 | {"CHN", "AUS", "TWN", "USA"})
    out["countries"] = pd.DataFrame({"iso3": iso, "name": iso})
    out["groups"] = pd.DataFrame({"group": ["club"], "iso3": ["USA"], **SRC})
    out["firms"] = pd.DataFrame({"firm": ["tsmc"], "name": ["TSMC"], "country": ["TWN"]})
    return out


def chain_atlas(**kw) -> Atlas:  # type: ignore[no-untyped-def]
    """ore (CHN 60 %, AUS 40 %) -> chip (TWN 100 %; half of it needs ore) -> dc (USA 100 %).

    A 2020 ore row and a firm-level row must be ignored (latest year, country level)."""
    production = [
        {"item": "ore", "producer": "CHN", "share": 60.0},
        {"item": "ore", "producer": "AUS", "share": 40.0},
        {"item": "ore", "producer": "CHN", "share": 90.0, "year": 2020},
        {"item": "ore", "producer": "AUS", "share": 10.0, "year": 2020},
        {"item": "chip", "producer": "TWN", "share": 100.0},
        {"item": "chip", "producer": "tsmc", "producer_type": "firm", "share": 100.0},
        {"item": "dc", "producer": "USA", "share": 100.0},
    ]
    recipes = [{"item": "chip", "input": "ore", "dependent_share": 0.5, "quantity": 2.0},
               {"item": "dc", "input": "chip", "dependent_share": 1.0}]
    return Atlas.from_frames(frames(production=production, recipes=recipes, **kw))


def test_upstream_items() -> None:
    assert upstream_items(chain_atlas(), "dc") == ["dc", "chip", "ore"]
    assert upstream_items(chain_atlas(), "ore") == ["ore"]


def test_simple_chain_by_hand() -> None:
    # Ore loss of CHN (60 %): the ore-dependent half of the chips keeps 40 % -> chips (and dc)
    # at 0.5 + 0.5 * 0.4 = 0.7 of baseline. No stock -> survives 0 days; over 10 days 3 days lost.
    res = atlas_tts(chain_atlas(), "dc", ttr_days=10).set_index("producer")
    assert res.loc["CHN", "sustainable_fraction"] == pytest.approx(0.7)
    assert res.loc["CHN", "tts_days"] == 0.0
    assert res.loc["CHN", "impact_days"] == pytest.approx(3.0)
    assert res.loc["AUS", "impact_days"] == pytest.approx(2.0)  # 0.5 * 0.4 * 10
    assert res.loc["USA", "impact_days"] == pytest.approx(10.0)
    assert res.loc["TWN", "impact_days"] == pytest.approx(10.0)
    assert res.loc["CHN", "rei"] == pytest.approx(0.3)
    assert set(res.index) == {"CHN", "AUS", "TWN", "USA"}  # the firm row is not a node
    assert res.loc["CHN", "stock_note"] == "no stock data (0 assumed)"
    assert any("no stock data" in n for n in atlas_tts(chain_atlas(), "dc").attrs["notes"])
    # Ranks: dc and chip producers tie on impact (and TTS 0); then by id.
    assert res.sort_values("rank").index.tolist() == ["TWN", "USA", "CHN", "AUS"]


def test_stocks_days_of_cover() -> None:
    # 9 days of chips (two holders: the larger counts): CHN down -> t <= 9 + 0.7 t -> 30 days.
    stocks = [{"holder": "USA", "item": "chip", "days_of_cover": 9.0},
              {"holder": "JPN", "item": "chip", "days_of_cover": 4.0}]
    res = atlas_tts(chain_atlas(stocks=stocks), "dc", ttr_days=40).set_index("producer")
    assert res.loc["CHN", "tts_days"] == pytest.approx(30.0)
    assert res.loc["AUS", "tts_days"] == pytest.approx(9 / 0.2)
    # Over 40 days with CHN down: 40 demanded, 9 + 0.7 * 40 = 37 made -> 3 days lost.
    assert res.loc["CHN", "impact_days"] == pytest.approx(3.0)
    assert res.loc["CHN", "stock_days"] == 0.0  # ore itself has no stock
    assert res.loc["TWN", "stock_days"] == pytest.approx(9.0)
    assert res.loc["TWN", "stock_note"] == "max of 2 holder(s): USA, JPN"
    summed = atlas_tts(chain_atlas(stocks=stocks), "dc", stock_rule="sum").set_index("producer")
    assert summed.loc["CHN", "tts_days"] == pytest.approx(13 / 0.3)


def test_default_stock_days_and_spare_capacity() -> None:
    a = chain_atlas()
    base = atlas_tts(a, "dc", default_stock_days=5.0).set_index("producer")
    # Each tier's 5 days add up: dc stock 5 days; chip stock 5 days; ore stock 5 days of the ore
    # the chain uses, which makes 5 days of the ore-dependent half of the chips. With CHN down the
    # daily shortfall is 0.3: t = (5 + 5 + 0.5 * 5) / 0.3.
    assert base.loc["CHN", "tts_days"] == pytest.approx(12.5 / 0.3)
    assert base.loc["CHN", "stock_note"] == "no stock data (5 days assumed)"
    # 60 % spare capacity everywhere: AUS gone leaves 0.6 * 1.6 = 0.96 of the ore the chain needs,
    # so the ore-dependent half of the chips runs at 96 %; with 70 % spare, 1.02: absorbed.
    spare = atlas_tts(a, "dc", spare_capacity=0.6).set_index("producer")
    assert spare.loc["AUS", "sustainable_fraction"] == pytest.approx(0.5 + 0.5 * 0.96)
    assert math.isinf(atlas_tts(a, "dc", spare_capacity=0.7).set_index("producer").loc["AUS", "tts_days"])
    with pytest.raises(InputError):
        network_from_atlas(a, "dc", spare_capacity=-1)


def test_physical_units_give_spare_capacity() -> None:
    # ore 1000 t/yr (CHN 600, AUS 400); chips 1000 units/yr, 0.5 t of ore per chip -> the chain
    # uses 500 t of the 1000: losing AUS (400) is absorbed, losing CHN leaves 400 t = 800 chips.
    production = [
        {"item": "ore", "producer": "CHN", "share": 60.0, "quantity": 600.0},
        {"item": "ore", "producer": "AUS", "share": 40.0, "quantity": 400.0},
        {"item": "chip", "producer": "TWN", "share": 100.0, "quantity": 1000.0},
        {"item": "dc", "producer": "USA", "share": 100.0},
    ]
    recipes = [{"item": "chip", "input": "ore", "dependent_share": 1.0, "quantity": 0.5},
               {"item": "dc", "input": "chip", "dependent_share": 1.0}]
    atlas = Atlas.from_frames(frames(production=production, recipes=recipes,
                                     stocks=[{"holder": "TWN", "item": "ore", "quantity": 25.0}]))
    an = network_from_atlas(atlas, "dc")
    items = an.items.set_index("item")
    assert items.loc["ore", "basis"] == "physical"
    assert items.loc["chip", "basis"] == "physical"
    assert items.loc["dc", "basis"] == "normalized"
    assert items.loc["ore", "baseline_use"] == pytest.approx(500 / 365)
    res = atlas_tts(atlas, "dc", ttr_days=30, network=an).set_index("producer")
    assert math.isinf(res.loc["AUS", "tts_days"])
    assert res.loc["CHN", "sustainable_fraction"] == pytest.approx(0.8)
    # 25 t of ore = 50 chips = 50 / (1000/365) days of chips; shortfall 0.2 a day.
    assert res.loc["CHN", "tts_days"] == pytest.approx(50 / (1000 / 365) / 0.2)


def test_missing_producers_and_rows() -> None:
    # Shares of ore sum to 80 % without ROW: a '@ROW*' node holds 20 %. Chips have no production
    # rows: an unranked '@WORLD*' node that only ore constrains.
    production = [{"item": "ore", "producer": "CHN", "share": 60.0},
                  {"item": "ore", "producer": "AUS", "share": 20.0},
                  {"item": "dc", "producer": "USA", "share": 100.0}]
    recipes = [{"item": "chip", "input": "ore", "dependent_share": 1.0},
               {"item": "dc", "input": "chip", "dependent_share": 1.0}]
    atlas = Atlas.from_frames(frames(production=production, recipes=recipes))
    an = network_from_atlas(atlas, "dc")
    nodes = an.nodes.set_index("node")
    assert bool(nodes.loc["ore@ROW*", "synthetic"]) and bool(nodes.loc["chip@WORLD*", "synthetic"])
    assert nodes.loc["ore@ROW*", "share"] == pytest.approx(20.0)
    res = atlas_tts(atlas, "dc", ttr_days=10, network=an).set_index("producer")
    assert set(res.index) == {"CHN", "AUS", "USA"}
    assert res.loc["CHN", "impact_days"] == pytest.approx(6.0)
    assert any("@ROW*" in n for n in an.notes) and any("@WORLD*" in n for n in an.notes)


def test_unknown_target() -> None:
    with pytest.raises(NotFoundError, match="unknown target"):
        atlas_tts(chain_atlas(), "nope")


def test_bundled_atlas_smoke() -> None:
    from paxsilica.atlas import bundled_atlas

    atlas = bundled_atlas()
    df = tts_report(atlas, ttr_days=30)
    assert len(df) > 20
    assert df["rank"].tolist() == list(range(1, len(df) + 1))
    assert df["rei"].iloc[0] == pytest.approx(1.0)
    assert (df["rei"].between(0, 1)).all()
    assert (df["tts_days"] >= 0).all()
    assert df["impact_days"].is_monotonic_decreasing
    assert (df["impact_days"] <= 30 + 1e-6).all()
    assert not df["producer"].str.endswith("*").any()


def test_cli_tts(tmp_path: Path) -> None:
    write_atlas(chain_atlas(), tmp_path / "a", format="csv")
    runner = CliRunner()
    res = runner.invoke(app, ["--atlas", str(tmp_path / "a"), "tts", "--target", "dc", "--ttr-days", "10",
                              "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    by = {r["producer"]: r for r in rows}
    assert by["CHN"]["impact_days"] == pytest.approx(3.0)
    assert by["CHN"]["rank"] == 3
    res = runner.invoke(app, ["--atlas", str(tmp_path / "a"), "tts", "--target", "dc"])
    assert res.exit_code == 0, res.output
    assert "CHN" in res.stdout and "note:" in res.stdout
    res = runner.invoke(app, ["--atlas", str(tmp_path / "a"), "tts", "--target", "nope"])
    assert res.exit_code == 1
    assert "unknown target" in res.output


def test_cli_unlimited_word(tmp_path: Path) -> None:
    write_atlas(chain_atlas(), tmp_path / "a", format="csv")
    res = CliRunner().invoke(app, ["--atlas", str(tmp_path / "a"), "tts", "--target", "dc",
                                   "--spare-capacity", "1", "--format", "table"])
    assert res.exit_code == 0, res.output
    assert "unlimited" in res.stdout
    res = CliRunner().invoke(app, ["--atlas", str(tmp_path / "a"), "tts", "--target", "dc",
                                   "--spare-capacity", "2", "--format", "json"])
    assert res.exit_code == 0, res.output
    # Triple capacity: 40 % of ore producers make 120 % of what the chain needs.
    by = {r["producer"]: r["tts_days"] for r in json.loads(res.stdout)}
    assert by == {"CHN": "unlimited", "AUS": "unlimited", "TWN": 0.0, "USA": 0.0}
    res = CliRunner().invoke(app, ["--atlas", str(tmp_path / "a"), "tts", "--target", "dc",
                                   "--spare-capacity", "2", "--format", "csv"])
    csv = pd.read_csv(io.StringIO(res.stdout)).set_index("producer")["tts_days"]
    assert math.isinf(csv["CHN"]) and csv["TWN"] == 0.0


def test_cycles_keep_baseline_feasible() -> None:
    # ore <-> chip form a cycle (mining needs chips for half its output): fine, every item runs at
    # its world output. dc also feeds ore mining (a cycle through the target): that row is dropped.
    production = [{"item": "ore", "producer": "CHN", "share": 100.0},
                  {"item": "chip", "producer": "TWN", "share": 100.0},
                  {"item": "dc", "producer": "USA", "share": 100.0}]
    recipes = [{"item": "dc", "input": "chip", "dependent_share": 1.0},
               {"item": "chip", "input": "ore", "dependent_share": 1.0},
               {"item": "ore", "input": "chip", "dependent_share": 0.5},
               {"item": "ore", "input": "dc", "dependent_share": 0.5}]
    atlas = Atlas.from_frames(frames(production=production, recipes=recipes))
    an = network_from_atlas(atlas, "dc")
    assert any("recipes using the target itself are ignored: ore" in n for n in an.notes)
    from paxsilica.optimize import time_to_survive

    assert math.isinf(time_to_survive(an.network))
    res = atlas_tts(atlas, "dc", ttr_days=10, network=an).set_index("producer")
    assert res.loc["CHN", "impact_days"] == pytest.approx(10.0)
