"""Concentration and EU supply-risk metrics on hand-checked atlases."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.atlas import Atlas
from paxsilica.metrics import concentration, hhi, hhi_wgi, stage_concentration, supply_risk


def prod_rows(item: str, shares: dict[str, float], year: int = 2023) -> list[dict]:
    return [{"item": item, "producer": p, "year": year, "share": s, "source": "s",
             "producer_type": "rest_of_world" if p == "ROW" else "country"}
            for p, s in shares.items()]


def make_atlas(production: list[dict], items: list[dict] | None = None,
               countries: list[dict] | None = None, **more: pd.DataFrame) -> Atlas:
    frames = {"production": pd.DataFrame(production)}
    if items is not None:
        frames["items"] = pd.DataFrame(items)
    if countries is not None:
        frames["countries"] = pd.DataFrame(countries)
    frames.update(more)
    return Atlas.from_frames(frames)


def test_hhi_textbook_case():
    assert hhi([25, 20, 15, 10, 8, 7, 6, 5, 4]) == pytest.approx(1540.0)
    assert hhi([]) == 0.0
    assert hhi([100]) == 10_000.0


def test_concentration_hand_case_with_rest_row():
    a = make_atlas(prod_rows("ga", {"CHN": 70.0, "JPN": 10.0, "KOR": 5.0, "DEU": 0.5, "ROW": 14.5}),
                   items=[{"item": "ga", "name": "Gallium", "stage": "refined_material", "unit": "t"}],
                   countries=[{"iso3": "CHN", "name": "China", "governance_risk": 6.0},
                              {"iso3": "JPN", "name": "Japan", "governance_risk": 2.0},
                              {"iso3": "KOR", "name": "Korea", "governance_risk": 3.0}])
    r = concentration(a).iloc[0]
    assert r["hhi"] == pytest.approx(70**2 + 10**2 + 5**2 + 0.5**2)
    assert r["hhi_upper"] == pytest.approx(r["hhi"] + 14.5**2)
    assert r["top1"] == "CHN" and r["top1_name"] == "China"
    assert r["top1_share"] == pytest.approx(0.70)
    assert r["top3_share"] == pytest.approx(0.85)
    assert r["top3"] == "CHN 70%, JPN 10%, KOR 5.0%"
    assert r["n_above_1pct"] == 3 and r["n_producers"] == 4
    assert r["rest_share"] == pytest.approx(0.145)
    # governance-weighted: DEU has no governance value, left out and reported.
    assert r["hhi_wgi"] == pytest.approx(0.49 * 6 + 0.01 * 2 + 0.0025 * 3)
    assert r["wgi_missing"] == "DEU"
    assert bool(r["spof"])
    st_ = stage_concentration(a)
    assert st_.loc[0, "n_spof"] == 1 and st_.loc[0, "hhi_max_item"] == "ga"


def test_latest_year_and_firm_level_are_separate():
    rows = prod_rows("x", {"USA": 50.0, "CHN": 50.0}, 2020) + prod_rows("x", {"USA": 90.0, "ROW": 10.0}, 2023)
    rows += [{"item": "x", "producer": "acme", "producer_type": "firm", "country": "USA",
              "year": 2023, "share": 100.0, "source": "s"}]
    a = make_atlas(rows, firms=pd.DataFrame([{"firm": "acme", "name": "Acme", "country": "USA"}]))
    c = concentration(a).iloc[0]
    assert c["year"] == 2023 and c["hhi"] == pytest.approx(8100)
    f = concentration(a, level="firm").iloc[0]
    assert f["top1"] == "acme" and f["hhi"] == pytest.approx(10_000)
    assert concentration(a, year=2021).iloc[0]["hhi"] == pytest.approx(5000)


def test_spof_by_hhi_alone():
    a = make_atlas(prod_rows("x", {"A": 40.0, "B": 30.0, "C": 30.0}))
    r = concentration(a).iloc[0]
    assert r["top1_share"] < 0.65 and r["hhi"] == pytest.approx(3400) and bool(r["spof"])
    b = make_atlas(prod_rows("x", {f"C{i}": 10.0 for i in range(10)}))
    assert not bool(concentration(b).iloc[0]["spof"])


def test_concentration_does_not_mutate_input():
    a = make_atlas(prod_rows("x", {"CHN": 60.0, "ROW": 40.0}))
    before = a["production"].copy()
    concentration(a)
    pd.testing.assert_frame_equal(a["production"], before)


def test_supply_risk_reports_missing_inputs():
    items = [{"item": "x", "name": "X", "stage": "raw_material", "unit": "t",
              "eol_rir": 0.2, "substitution_index": 0.9},
             {"item": "y", "name": "Y", "stage": "raw_material", "unit": "t"}]
    a = make_atlas(prod_rows("x", {"CHN": 100.0}) + prod_rows("y", {"CHN": 100.0}), items=items,
                   countries=[{"iso3": "CHN", "name": "China", "governance_risk": 5.0}])
    sr = supply_risk(a).set_index("item")
    assert math.isnan(sr.loc["x", "sr"])
    assert sr.loc["x", "missing"] == "hhi_wgi_eu_sourcing;import_reliance_eu"
    # proxy: HHI_WGI (1 * 5) * (1 - 0.2) * 0.9
    assert sr.loc["x", "sr_gs_proxy"] == pytest.approx(3.6)
    assert sr.loc["y", "sr_gs_bound"] == pytest.approx(5.0)  # worst case: EoL-RIR 0, SI_SR 1
    assert bool(sr.loc["x", "sr_critical"])
    assert sr.loc["y", "missing"] == "hhi_wgi_eu_sourcing;import_reliance_eu;eol_rir;substitution_index"
    assert pd.isna(sr.loc["y", "sr_critical"])


def test_supply_risk_full_eu_formula():
    items = [{"item": "x", "name": "X", "stage": "raw_material", "unit": "t", "eol_rir": 0.0,
              "substitution_index": 1.0, "import_reliance_eu": 0.5}]
    countries = [{"iso3": i, "name": i, "governance_risk": g}
                 for i, g in (("CHN", 6.0), ("USA", 2.0), ("DEU", 1.0), ("FRA", 1.0))]
    groups = pd.DataFrame([{"group": "eu27", "iso3": "DEU", "source": "s"},
                           {"group": "eu27", "iso3": "FRA", "source": "s"}])
    trade = pd.DataFrame([{"item": "x", "exporter": "USA", "importer": "DEU", "year": 2023,
                           "quantity": 100.0, "source": "s"}])
    rows = prod_rows("x", {"CHN": 80.0, "USA": 20.0})
    a = make_atlas(rows, items=items, countries=countries, groups=groups, trade=trade)
    r = supply_risk(a).iloc[0]
    gs = 0.64 * 6 + 0.04 * 2
    eu = 1.0 * 2  # the EU sources all of it from the USA
    assert r["hhi_wgi_gs"] == pytest.approx(gs)
    assert r["hhi_wgi_eu"] == pytest.approx(eu)
    assert r["sr"] == pytest.approx(gs * 0.25 + eu * 0.75)
    assert r["missing"] == ""


shares_strategy = st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=12).map(
    lambda xs: [100 * x / sum(xs) for x in xs] if sum(xs) > 100 else xs)


@settings(max_examples=60, deadline=None)
@given(shares_strategy)
def test_hhi_bounds(shares):
    h = hhi(shares)
    assert -1e-9 <= h <= 10_000 + 1e-6
    assert h >= max(shares) ** 2 - 1e-9


@settings(max_examples=60, deadline=None)
@given(shares_strategy, st.floats(0, 10))
def test_hhi_wgi_bounds(shares, g):
    fr = [s / 100 for s in shares]
    v = hhi_wgi(fr, [g] * len(fr))
    assert 0 <= v <= 10 + 1e-9
    assert v == pytest.approx(hhi(shares) / 10_000 * g, abs=1e-9)


def test_firm_only_item_is_summed_by_country():
    rows = [{"item": "euv", "producer": f, "producer_type": t, "country": c, "year": 2024,
             "share": s, "source": "s"}
            for f, t, c, s in (("asml", "firm", "NLD", 90.0), ("zeiss", "firm", "DEU", 4.0),
                               ("smee", "firm", "DEU", 1.0), ("OTHER", "rest_of_world", None, 5.0))]
    r = concentration(make_atlas(rows)).iloc[0]
    assert r["top1"] == "NLD" and r["top1_share"] == pytest.approx(0.9)
    assert r["top3"] == "NLD 90%, DEU 5.0%"
    assert r["rest_share"] == pytest.approx(0.05)


def test_concentration_is_computed_once_per_atlas_and_handed_out_as_copies(tiny_atlas) -> None:
    from paxsilica.metrics import concentration

    first = concentration(tiny_atlas)
    first.loc[:, "hhi"] = -1.0  # a caller changing its copy
    again = concentration(tiny_atlas)
    assert (again["hhi"] >= 0).all()
    prod = tiny_atlas["production"].copy()
    prod.loc[0:1, "share"] = [50.0, 50.0]
    changed = concentration(tiny_atlas.replace(production=prod)).set_index("item")
    assert changed.loc["ore", "hhi"] == 5000.0 and again.set_index("item").loc["ore", "hhi"] == 5200.0
