"""Scenario sets: the stress library and Monte Carlo run folders (fixtures in the run-folder format)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paxsilica.errors import InputError, NotFoundError
from paxsilica.network import tiny_atlas
from paxsilica.planning.scenarios import library_set, montecarlo_set, resolve_set, unavailability


def write_run(folder: Path, events: list[dict], *, draws: int = 3, horizon: float = 100.0, version: str = "v1",
              complete: bool = True) -> Path:
    """A Monte Carlo run folder as ``paxsilica montecarlo`` writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    run = {"seed": 7, "draws": draws, "horizon_days": horizon, "catalogue": {"path": "c.yaml", "sha256": "0" * 64},
           "atlas_version": version, "targets": ["chip"], "levels": [0.95], "complete": complete}
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    cols = {"draw": "int64", "event": "int64", "kind": "object", "item": "object", "country": "object",
            "chokepoint": "object", "region": "object", "site": "object", "start_day": "float64",
            "duration_days": "float64", "severity": "float64"}
    ev = pd.DataFrame(events, columns=list(cols)).astype(cols)
    ev.to_parquet(folder / "events.parquet", index=False)
    pd.DataFrame({"draw": np.arange(draws, dtype="int64"), "target": "chip", "consumer": "WORLD",
                  "loss": 0.0}).to_parquet(folder / "losses.parquet", index=False)
    return folder


def _ev(draw, kind, **kw):
    base = {"draw": draw, "event": 0, "kind": kind, "item": None, "country": None, "chokepoint": None,
            "region": None, "site": None, "start_day": 0.0, "duration_days": 50.0, "severity": 1.0}
    return {**base, **kw}


def test_montecarlo_draws_become_scenarios(tmp_path):
    a = tiny_atlas()
    run = write_run(tmp_path / "run", [_ev(0, "export_ban", item="wafer", country="JPN"),
                                       _ev(1, "site_outage", site="wafer@CHN", severity=0.5),
                                       _ev(2, "demand_surge", item="wafer", duration_days=20.0, severity=0.5)],
                    version=a.version)
    s = montecarlo_set(run, a.version)
    assert s.scenarios == ("draw0", "draw1", "draw2") and s.prob.sum() == pytest.approx(1.0)
    src = pd.DataFrame({"item": ["wafer", "wafer"], "country": ["JPN", "CHN"]})
    u = unavailability(s, src, ["TWN"], a)
    # draw 0: JPN banned half the horizon; draw 1: CHN's site at half capacity for half of it;
    # draw 2: a surge costs every source 0.5 · 20 / 100
    np.testing.assert_allclose(u, [[0.5, 0.0], [0.0, 0.25], [0.1, 0.1]])


def test_other_atlas_version_is_refused(tmp_path):
    run = write_run(tmp_path / "run", [], version="abc")
    with pytest.raises(InputError, match="atlas version abc") as e:
        montecarlo_set(run, "def")
    assert e.value.column == "atlas_version" and e.value.file.endswith("run.json")


def test_incomplete_run_is_refused(tmp_path):
    run = write_run(tmp_path / "run", [], complete=False)
    with pytest.raises(InputError, match="not complete"):
        montecarlo_set(run)


def test_bad_event_names_row_and_column(tmp_path):
    run = write_run(tmp_path / "run", [_ev(0, "export_ban", country="JPN"), _ev(1, "volcano")])
    with pytest.raises(InputError, match="unknown event kind 'volcano'") as e:
        montecarlo_set(run)
    assert e.value.row == 2 and e.value.column == "kind"
    run = write_run(tmp_path / "run2", [_ev(0, "export_ban", country="JPN", severity=1.5)])
    with pytest.raises(InputError, match="severity") as e:
        montecarlo_set(run)
    assert e.value.row == 1
    run = write_run(tmp_path / "run3", [_ev(5, "export_ban", country="JPN")])
    with pytest.raises(InputError, match="draw must be an integer in 0..2"):
        montecarlo_set(run)


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(NotFoundError, match="run.json missing"):
        montecarlo_set(tmp_path)
    (tmp_path / "run.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        montecarlo_set(tmp_path)


def test_library_set_reads_bans_and_their_destinations():
    s = library_set(["lithography_export_controls"])
    ev = s.events
    assert (ev["kind"] == "export_ban").any()
    src = pd.DataFrame({"item": ["duv_lithography"], "country": ["NLD"]})
    # the controls name CHN as destination: the United States is not hit; China loses the unlicensed
    # half (licence 0.5) for the whole horizon
    assert unavailability(s, src, ["USA"]).max() == 0.0
    assert unavailability(s, src, ["CHN"]).max() == pytest.approx(0.5)


def test_resolve_set_rules(tmp_path):
    with pytest.raises(InputError, match="not both"):
        resolve_set("all", tmp_path, None)
    assert len(resolve_set(None, None, None)) >= 10
    assert resolve_set("hormuz_closure, japan_earthquake", None, None).scenarios == ("hormuz_closure",
                                                                                      "japan_earthquake")
    with pytest.raises(NotFoundError):
        resolve_set("no_such_scenario", None, None)
