"""Monte Carlo on the real stress model (tiny atlas): batched = sequential, the same seed gives the same
result whatever the batch size or the Dask backend, unshocked draws lose nothing, the output contract."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from paxsilica.montecarlo import load_run, parse_catalogue, run_montecarlo, save_run
from paxsilica.montecarlo.draw import Event, draw_events
from paxsilica.montecarlo.model import TargetModel
from paxsilica.network.build import tiny_atlas

TINY = """\
name: tiny
hazards:
  - id: jp_ban
    kind: export_ban
    probability: 0.9
    source: test
    duration: {dist: uniform, low: 20, high: 80}
    severity: {dist: uniform, low: 0.3, high: 1.0}
    effects: [{type: export_ban, exporter: JPN, items: [wafer]}]
  - id: cn_quake
    kind: disaster
    rate: 3.0
    source: test
    duration: {dist: lognormal, median: 20, p90: 60}
    severity: {dist: beta, a: 2, b: 3}
    effects: [{type: disaster, country: CHN, items: [wafer], recovery: linear}]
  - id: tw_cyber
    kind: cyber_incident
    rate: 2.0
    assumption: test
    duration: {dist: fixed, value: 5}
    severity: {dist: fixed, value: 1.0}
    effects: [{type: cyber_incident, item: chip, producer: TWN}]
  - id: chip_surge
    kind: demand_surge
    rate: 1.5
    assumption: test
    duration: 30
    severity: {dist: uniform, low: 0, high: 1}
    effects: [{type: demand_surge, item: chip, factor: 1.4}]
"""
HORIZON = 90


@pytest.fixture(scope="module")
def atlas():  # type: ignore[no-untyped-def]
    return tiny_atlas()


@pytest.fixture(scope="module")
def cat():  # type: ignore[no-untyped-def]
    return parse_catalogue(TINY, file="tiny.yaml")


@pytest.fixture(scope="module")
def model(atlas, cat):  # type: ignore[no-untyped-def]
    return TargetModel(atlas, "chip", cat, HORIZON, inventory_days=10.0, tau_days=6.0)


def run(atlas, cat, **kw):  # type: ignore[no-untyped-def]
    base = {"draws": 40, "seed": 3, "horizon_days": HORIZON, "targets": ("chip",), "levels": (0.8, 0.9),
            "inventory_days": 10.0}
    return run_montecarlo(atlas, cat, **{**base, **kw})


def test_batched_equals_sequential(model, cat) -> None:  # type: ignore[no-untyped-def]
    draws = [draw_events(cat, 9, d, HORIZON) for d in range(12)]
    assert sum(map(len, draws)) > 12
    together = model.losses(draws)
    one_by_one = np.vstack([model.losses([d]) for d in draws])
    assert np.array_equal(together, one_by_one)
    assert together[:, 0].max() > 0.01  # the events do hurt: the comparison is not of zeros


def test_a_draw_without_events_loses_nothing_and_is_not_run(model) -> None:  # type: ignore[no-untyped-def]
    from paxsilica.sim import Scenario, simulate
    from paxsilica.stress.measure import _stock
    from paxsilica.stress.run import _Slice

    assert model.engine_scenario([]) is None
    assert model.losses([[]]).tolist() == [[0.0] * (1 + len(model.consumers))]
    # what the run would give if it were run: the baseline, up to rounding
    res = simulate(model.net, [Scenario()], steps=model.steps, rationing=model.comp.rationing,
                   inventory_days=model.inventory_days, tau=model.tau_days, mode="extended",
                   extensions=model.extensions, record_firms=True)
    stock, _ = _stock(model.index, model.comp, _Slice(res, 0, model.steps), 1)
    assert abs(stock.loss_pct) < 1e-10


def test_events_compiled_once_equal_the_scenario_compiler(model, cat, atlas) -> None:  # type: ignore[no-untyped-def]
    """A draw's schedules (events compiled once, windows cut from templates) equal compiling the draw's
    shocks as one scenario with the stress compiler."""
    from paxsilica.scenarios.compile import compile_scenario
    from paxsilica.scenarios.schema import Scenario

    checked = 0
    for d in range(30):
        evs = draw_events(cat, 21, d, HORIZON)
        if not evs:
            continue
        mine = model.engine_scenario(evs)
        shocks = tuple(s for e in evs for s in model.event_shocks(e))
        ref = compile_scenario(Scenario("d", "d", horizon=HORIZON, shocks=shocks), model.net, model.index, atlas,
                               steps=HORIZON, inventory_days=10.0).engine_scenario
        for f in ("capacity", "link_capacity", "demand_factor", "lead_time"):
            a, b = getattr(mine, f), getattr(ref, f)
            assert (a is None) == (b is None), f
            if a is not None:
                assert np.array_equal(a.index, b.index) and np.array_equal(a.values, b.values), f
        checked += 1
    assert checked >= 10


def test_same_seed_same_result_whatever_the_batch_size(atlas, cat) -> None:  # type: ignore[no-untyped-def]
    a = run(atlas, cat, batch_size=40)
    b = run(atlas, cat, batch_size=3)
    pd.testing.assert_frame_equal(a.losses, b.losses)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.contributions, b.contributions)
    c = run(atlas, cat, batch_size=40, seed=4)
    assert not c.losses["loss"].equals(a.losses["loss"])  # another seed, another sample


def test_contributions_add_up_to_es(atlas, cat) -> None:  # type: ignore[no-untyped-def]
    r = run(atlas, cat, draws=60, batch_size=20)
    s = r.summary[(r.summary["consumer"] == "WORLD") & (r.summary["measure"] == "es")]
    assert s["value"].max() > 0
    for a, es in zip(s["level"], s["value"], strict=True):
        for by in ("kind", "hazard", "chokepoint"):
            c = r.contributions[(r.contributions["level"] == a) & (r.contributions["by"] == by)]
            assert c["es_contribution"].sum() == pytest.approx(es, rel=1e-9, abs=1e-15), (a, by)
    # no chokepoint in this catalogue: the whole tail is "(none)"
    ch = r.contributions[(r.contributions["by"] == "chokepoint")]
    assert set(ch["name"]) == {"(none)"}


def test_local_cluster_in_threads_gives_the_same_result(atlas, cat) -> None:  # type: ignore[no-untyped-def]
    a = run(atlas, cat, batch_size=40)
    b = run(atlas, cat, batch_size=7, workers=2, threads=True)
    pd.testing.assert_frame_equal(a.losses, b.losses)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.contributions, b.contributions)


def test_local_cluster_of_two_processes_gives_the_same_result(atlas, cat) -> None:  # type: ignore[no-untyped-def]
    a = run(atlas, cat, draws=24, batch_size=24)
    b = run(atlas, cat, draws=24, batch_size=6, workers=2)
    pd.testing.assert_frame_equal(a.losses, b.losses)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.summary, b.summary)


def test_output_contract(atlas, cat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = run(atlas, cat, draws=20, batch_size=10)
    out = save_run(r, tmp_path / "run")
    meta = json.loads((out / "run.json").read_text())
    for k in ("seed", "draws", "horizon_days", "catalogue", "atlas_version", "targets", "levels", "complete",
              "paxsilica_version", "created"):
        assert k in meta, k
    assert meta["catalogue"]["path"] == "tiny.yaml" and len(meta["catalogue"]["sha256"]) == 64
    assert (meta["seed"], meta["draws"], meta["horizon_days"], meta["complete"]) == (3, 20, HORIZON, True)
    back = load_run(out)
    assert list(back.losses.columns) == ["draw", "target", "consumer", "loss"]
    assert str(back.losses["draw"].dtype) == "int64" and back.losses["loss"].between(0, 1).all()
    assert set(back.losses["consumer"]) >= {"WORLD"} and set(back.losses["target"]) == {"chip"}
    n_cons = back.losses["consumer"].nunique()
    assert len(back.losses) == 20 * n_cons
    assert list(back.events.columns) == ["draw", "event", "kind", "item", "country", "chokepoint", "region",
                                         "site", "start_day", "duration_days", "severity"]
    assert str(back.events["draw"].dtype) == "int64" and str(back.events["event"].dtype) == "int64"
    assert back.events["severity"].between(0, 1).all() and (back.events["duration_days"] >= 1).all()
    assert set(back.events["kind"]) <= {"export_ban", "disaster", "cyber_incident", "demand_surge"}
    quake = back.events[back.events["kind"] == "disaster"]
    assert (quake["country"] == "CHN").all() and (quake["item"] == "wafer").all()
    cyber = back.events[back.events["kind"] == "cyber_incident"]
    assert (cyber["site"] == "chip@TWN").all()
    import duckdb

    con = duckdb.connect(str(out / "risk.duckdb"), read_only=True)
    try:
        tables = {t[0] for t in con.execute("SHOW TABLES").fetchall()}
        n = con.execute("SELECT count(*) FROM losses").fetchone()[0]
    finally:
        con.close()
    assert tables == {"run", "losses", "events", "summary", "contributions"} and n == len(back.losses)
    html = (out / "report.html").read_text()
    assert "<svg" in html and "<script" not in html and "http" not in html.split("xmlns")[0]
    # writing again replaces the run; a foreign folder is refused
    save_run(r, out)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    from paxsilica.errors import InputError

    with pytest.raises(InputError):
        save_run(r, tmp_path / "other")
    assert (tmp_path / "other" / "keep.txt").exists()


def test_event_rows_follow_the_draws(cat) -> None:  # type: ignore[no-untyped-def]
    evs = draw_events(cat, 5, 2, HORIZON)
    assert all(isinstance(e, Event) for e in evs)
    assert [e.hazard for e in evs] == sorted(e.hazard for e in evs)
