"""run_library: one shared network for many scenarios gives exactly what run_stress gives one by one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paxsilica.errors import ValidationError
from paxsilica.scenarios import parse_scenario
from paxsilica.stress import LIBRARY_COLUMNS, run_library, run_stress

ONE_DAY = pd.DataFrame({"exporter": ["CHN", "AUS", "TWN"], "importer": ["TWN", "TWN", "USA"],
                        "days": [1.0, 2.0, 3.0], "chokepoints": ["", "", ""]})

# Hand-made scenarios on the ore → chip → datacentre chain of tests/conftest.py, covering each policy
# that changes the engine call: rationing, re-sourcing with ramp-up and surge capacity, step length.
SCENARIOS = {
    "ban": "name: ban\ndescription: CHN stops ore exports\nhorizon: 60\nsources: [hand]\nshocks:\n"
           "  - {type: export_ban, exporter: CHN, items: [ore], start: 0}\n",
    "outage": "name: outage\ndescription: half of TWN's chip output lost, back in 20 days\nhorizon: 50\n"
              "shocks:\n  - {type: site_outage, item: chip, producer: TWN, loss: 0.5, start: 3,\n"
              "     recovery: {profile: linear, days: 20}}\npolicies: {rationing: priority}\n",
    "resourced": "name: resourced\ndescription: ban with re-sourcing\nhorizon: 70\nshocks:\n"
                 "  - {type: export_ban, exporter: CHN, items: [ore], start: 5, end: 30}\n"
                 "policies:\n  resourcing: {enabled: true, ramp_up_days: 10, surge_capacity: 0.5}\n",
    "weekly": "name: weekly\ndescription: same ban in steps of two days\nhorizon: 60\nstep: 2\nshocks:\n"
              "  - {type: export_ban, exporter: CHN, items: [ore], start: 0, licence: 0.5}\n",
    "surge": "name: surge\ndescription: data-centre demand +30 %\nhorizon: 60\nshocks:\n"
             "  - {type: demand_surge, item: datacentre, factor: 1.3, start: 2, end: 20}\n",
}


def scenarios():
    return [parse_scenario(t, file=f"{k}.yaml") for k, t in SCENARIOS.items()]


def same(row: pd.Series, r, tol: float = 1e-9) -> None:
    s = r.summary
    for k in ("loss_pct", "lost_units", "min_level"):
        assert row[k] == pytest.approx(s[k], abs=tol, rel=0), k
    for k in ("time_to_survive_days", "time_to_recover_days", "first_shock_day", "horizon_days"):
        assert row[k] == s[k], k
    assert row["most_affected_items"] == ", ".join(s["most_affected_items"])
    assert row["most_affected_consumers"] == ", ".join(s["most_affected_consumers"])
    np.testing.assert_allclose(row["level"], r.target_series()["level"].to_numpy(), rtol=0, atol=tol)


@pytest.mark.parametrize("batch", [False, True])
def test_library_equals_single_runs_by_hand(tiny_atlas, batch, monkeypatch) -> None:
    import paxsilica.sim

    calls = []
    real = paxsilica.sim.simulate
    monkeypatch.setattr(paxsilica.sim, "simulate", lambda *a, **k: calls.append(1) or real(*a, **k))
    table = run_library(tiny_atlas, scenarios(), target="datacentre", inventory_days=10, lanes=ONE_DAY,
                        batch=batch, workers=1)  # in this process, so the engine calls can be counted
    monkeypatch.undo()
    # batched: "ban" and "surge" (same steps, rule and options) share one engine call
    assert len(calls) == (4 if batch else 5)
    assert list(table.columns) == list(LIBRARY_COLUMNS)
    assert table["scenario"].tolist() == list(SCENARIOS)
    for (_, row), s in zip(table.iterrows(), scenarios(), strict=True):
        same(row, run_stress(s, tiny_atlas, target="datacentre", inventory_days=10, lanes=ONE_DAY))
    # something actually happened, and the hand case still holds: 10 days of ore stock, two tiers
    ban = table.set_index("scenario").loc["ban"]
    assert ban["time_to_survive_days"] is not None and ban["loss_pct"] > 0
    assert table.set_index("scenario").loc["weekly", "step_days"] == 2


def test_library_steps_override_and_files(tiny_atlas, tmp_path) -> None:
    paths = []
    for k in ("ban", "surge"):
        p = tmp_path / f"my_{k}.yaml"
        p.write_text(SCENARIOS[k], encoding="utf-8")
        paths.append(p)
    table = run_library(tiny_atlas, [str(p) for p in paths], target="datacentre", steps=25, lanes=ONE_DAY)
    assert table["scenario"].tolist() == ["my_ban", "my_surge"]  # the file's stem
    assert table["name"].tolist() == ["ban", "surge"]
    assert [len(v) for v in table["level"]] == [25, 25]
    assert table.loc[0, "sources"] == ("hand",)


def test_library_notes_scenarios_that_do_not_fit(tiny_atlas) -> None:
    odd = parse_scenario("name: odd\ndescription: d\nshocks:\n  - {type: export_ban, exporter: CHN, "
                         "items: [unobtainium], start: 0}\n", file="odd.yaml")
    with pytest.raises(ValidationError):
        run_library(tiny_atlas, [odd], target="datacentre", lanes=ONE_DAY)
    table = run_library(tiny_atlas, [odd, scenarios()[0]], target="datacentre", lanes=ONE_DAY, errors="note")
    assert table.loc[0, "note"].startswith("not run") and "unobtainium" in table.loc[0, "note"]
    assert table.loc[0, "loss_pct"] is None or np.isnan(table.loc[0, "loss_pct"])
    assert table.loc[1, "note"] == "" and table.loc[1, "loss_pct"] > 0


@pytest.mark.slow
def test_library_equals_single_runs_on_bundled_atlas() -> None:
    from paxsilica.atlas import bundled_atlas
    from paxsilica.scenarios import load_scenario

    atlas = bundled_atlas()
    # an export ban with re-sourcing, a rerouting chokepoint closure with a blockade and priority
    # rationing, and a stockpile release: the paths the shared network must not change
    names = ["gallium_germanium_export_ban", "taiwan_strait_blockade", "neon_shortage_ukraine"]
    table = run_library(atlas, names, steps=150)
    for (_, row), n in zip(table.iterrows(), names, strict=True):
        same(row, run_stress(load_scenario(n), atlas, steps=150))
    assert (table["loss_pct"] > 0).all()


def test_library_in_two_processes_equals_one(tiny_atlas) -> None:
    one = run_library(tiny_atlas, scenarios(), target="datacentre", inventory_days=10, lanes=ONE_DAY, workers=1)
    two = run_library(tiny_atlas, scenarios(), target="datacentre", inventory_days=10, lanes=ONE_DAY, workers=2)
    for c in ("loss_pct", "lost_additions_pct", "min_level", "time_to_survive_days"):
        assert one[c].tolist() == two[c].tolist(), c
    for a, b in zip(one["level"], two["level"], strict=True):
        np.testing.assert_array_equal(a, b)
    banded = run_library(tiny_atlas, scenarios()[:2], target="datacentre", lanes=ONE_DAY, bands=4, workers=2)
    alone = run_library(tiny_atlas, scenarios()[:2], target="datacentre", lanes=ONE_DAY, bands=4, workers=1)
    assert banded["bands"].tolist() == alone["bands"].tolist()
