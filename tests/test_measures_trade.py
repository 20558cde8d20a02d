"""GeoPolRisk import risk: hand-computed cases from the papers' definitions (issue 11).

GeoPolRisk_{A,c} = HHI_A * sum_i g_i f_{A,i,c} / (p_{A,c} + F_{A,c})   (Gemechu et al. 2016, eq. 1;
Santillán-Saldivar et al. 2021, eq. 1), HHI on the 0-1 scale, all amounts in tons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paxsilica.atlas import Atlas, bundled_atlas
from paxsilica.metrics import import_risk
from paxsilica.metrics.trade import instability

COUNTRIES = pd.DataFrame([
    # iso3, governance_risk (0-10), WGI political stability PV (-2.5..2.5), region
    {"iso3": "CHN", "name": "China", "governance_risk": 6.0, "wgi_pv": -0.5, "region": "EAP"},
    {"iso3": "USA", "name": "United States", "governance_risk": 3.0, "wgi_pv": 0.0, "region": "NA"},
    {"iso3": "JPN", "name": "Japan", "governance_risk": 2.0, "wgi_pv": 1.0, "region": "EAP"},
    {"iso3": "AUS", "name": "Australia", "governance_risk": 2.0, "wgi_pv": 1.0, "region": "EAP"},
    {"iso3": "NZL", "name": "New Zealand", "governance_risk": 1.0, "wgi_pv": 1.5, "region": "EAP"},
    {"iso3": "NCL", "name": "New Caledonia", "governance_risk": None, "wgi_pv": None, "region": "EAP"},
    {"iso3": "DEU", "name": "Germany", "governance_risk": 1.0, "wgi_pv": 0.5, "region": "ECA"},
])


def atlas(trade: list[dict], jpn_production_t: float | None = 100.0) -> Atlas:
    prod = [{"item": "ni", "producer": "CHN", "producer_type": "country", "year": 2023, "share": 80.0,
             "source": "s"},
            {"item": "ni", "producer": "JPN", "producer_type": "country", "year": 2023, "share": 20.0,
             "quantity": jpn_production_t, "unit": "t", "source": "s"}]
    return Atlas.from_frames({
        "countries": COUNTRIES,
        "items": pd.DataFrame([{"item": "ni", "name": "Nickel", "stage": "raw_material", "unit": "t"}]),
        "production": pd.DataFrame(prod),
        "trade": pd.DataFrame([dict(item="ni", year=2023, source="s", **t) for t in trade]),
    })


HHI = 0.8 ** 2 + 0.2 ** 2  # 0.68


def test_gemechu_case_tonnage_and_domestic_production():
    a = atlas([{"exporter": "CHN", "importer": "JPN", "quantity": 300.0, "value": 600.0},
               {"exporter": "USA", "importer": "JPN", "quantity": 100.0, "value": 200.0}])
    r = import_risk(a, "JPN").iloc[0]
    # F = 400 t, p = 100 t: (0.6*300 + 0.3*100) / (100 + 400) = 0.42
    assert r["measure"] == "quantity" and r["production"] == 100.0
    assert r["import_risk"] == pytest.approx(HHI * 0.42)
    assert r["import_reliance"] == pytest.approx(400 / 500)


def test_a_flow_without_quantity_does_not_switch_the_item_to_value():
    # the USA flow has only a value; the item's unit value is (600 + 200) / (300 + 100) = 2 kUSD/t,
    # so it stands for 200 / 2 = 100 t and the answer equals the all-tonnage case
    a = atlas([{"exporter": "CHN", "importer": "JPN", "quantity": 300.0, "value": 600.0},
               {"exporter": "USA", "importer": "JPN", "quantity": None, "value": 200.0},
               {"exporter": "JPN", "importer": "DEU", "quantity": 100.0, "value": 200.0}])
    r = import_risk(a, "JPN").iloc[0]
    assert r["measure"] == "quantity"
    assert r["production"] == 100.0  # not blanked
    assert r["imports"] == pytest.approx(400.0)
    assert r["imputed_share"] == pytest.approx(0.25)
    # reliance (F - E) / (p + F - E) = (400 - 100) / (100 + 400 - 100)
    assert r["import_reliance"] == pytest.approx(0.75)
    assert r["import_risk"] == pytest.approx(HHI * 0.42)


def test_supplier_without_governance_is_not_zero_risk():
    a = atlas([{"exporter": "NCL", "importer": "JPN", "quantity": 400.0}], jpn_production_t=0.0)
    r = import_risk(a, "JPN").iloc[0]
    # New Caledonia has no WGI: the median of its region (AUS 2, NZL 1, JPN 2, CHN 6 -> 2) / 10
    assert r["gov_imputed"] == "NCL" and r["gov_missing"] == ""
    assert r["import_risk"] == pytest.approx(HHI * 0.2 * 400 / 400)
    assert r["import_risk"] > 0


def test_published_geopolrisk_uses_political_stability():
    a = atlas([{"exporter": "CHN", "importer": "JPN", "quantity": 300.0},
               {"exporter": "USA", "importer": "JPN", "quantity": 100.0}])
    g, _ = instability(a, "geopolrisk")
    assert g["CHN"] == pytest.approx((2.5 + 0.5) / 5) and g["USA"] == pytest.approx(0.5)
    r = import_risk(a, "JPN", method="geopolrisk").iloc[0]
    assert r["import_risk"] == pytest.approx(HHI * (0.6 * 300 + 0.5 * 100) / 500)
    r0 = import_risk(a, "JPN").iloc[0]
    assert r0["import_risk"] != pytest.approx(r["import_risk"])


def test_only_value_data_keeps_units_apart():
    a = atlas([{"exporter": "CHN", "importer": "JPN", "value": 600.0},
               {"exporter": "USA", "importer": "JPN", "value": 200.0}])
    r = import_risk(a, "JPN").iloc[0]
    assert r["measure"] == "value" and np.isnan(r["import_risk"])


def test_bundled_importers_that_also_produce_get_figures():
    df = import_risk(bundled_atlas(), ["USA", "KOR"]).set_index(["consumer", "item"])
    for key in (("USA", "aluminium"), ("USA", "nickel_mine"), ("USA", "zinc_mine"),
                ("KOR", "graphite_natural")):
        r = df.loc[key]
        assert r["measure"] == "quantity", key
        assert r["production"] > 0 and np.isfinite(r["import_reliance"]), key
        assert np.isfinite(r["import_risk"]), key
    nick = import_risk(bundled_atlas(), ["JPN"]).set_index("item").loc["nickel_mine"]
    assert "NCL" in nick["gov_imputed"]
