"""Import reliance and GeoPolRisk-style import risk."""

from __future__ import annotations

import pandas as pd
import pytest

from paxsilica.atlas import Atlas
from paxsilica.metrics import import_risk


def trade_atlas() -> Atlas:
    return Atlas.from_frames({
        "countries": pd.DataFrame([{"iso3": i, "name": i, "governance_risk": g}
                                   for i, g in (("CHN", 6.0), ("JPN", 2.0), ("USA", 3.0), ("DEU", 1.0))]),
        "production": pd.DataFrame([
            {"item": "ga", "producer": "CHN", "producer_type": "country", "year": 2023, "share": 80.0,
             "source": "s"},
            {"item": "ga", "producer": "JPN", "producer_type": "country", "year": 2023, "share": 20.0,
             "quantity": 0.1, "unit": "kt", "source": "s"}]),
        "trade": pd.DataFrame([
            {"item": "ga", "exporter": "CHN", "importer": "JPN", "year": 2023, "quantity": 300.0, "source": "s"},
            {"item": "ga", "exporter": "USA", "importer": "JPN", "year": 2023, "quantity": 100.0, "source": "s"},
            {"item": "ga", "exporter": "JPN", "importer": "DEU", "year": 2023, "quantity": 100.0, "source": "s"},
            {"item": "ga", "exporter": "CHN", "importer": "DEU", "year": 2022, "quantity": 999.0, "source": "s"},
        ]),
    })


def test_import_reliance_and_risk_by_hand():
    r = import_risk(trade_atlas(), "JPN").iloc[0]
    # imports 400, exports 100, production 100 -> (400 - 100) / (100 + 400 - 100) = 0.75
    assert r["import_reliance"] == pytest.approx(0.75)
    assert r["top_supplier"] == "CHN" and r["top_supplier_share"] == pytest.approx(0.75)
    hhi = (0.8**2 + 0.2**2)
    assert r["hhi"] == pytest.approx(hhi * 10_000)
    # sum g_i f_i / (p + F) = (0.6 * 300 + 0.3 * 100) / 500
    assert r["import_risk"] == pytest.approx(hhi * (0.6 * 300 + 0.3 * 100) / 500)


def test_all_consumers_latest_year_only():
    df = import_risk(trade_atlas())
    assert set(df["consumer"]) == {"DEU", "JPN"}
    deu = df[df["consumer"] == "DEU"].iloc[0]
    assert deu["imports"] == pytest.approx(100.0)  # the 2022 flow is older than the item's latest year
    assert deu["import_reliance"] == pytest.approx(1.0)


def test_production_in_other_units_is_not_mixed_with_tons():
    a = trade_atlas()
    prod = a["production"].copy()
    prod.loc[prod["producer"] == "JPN", "unit"] = "usd_m"
    r = import_risk(a.replace(production=prod), "JPN").iloc[0]
    assert pd.isna(r["production"]) and pd.isna(r["import_reliance"]) and pd.isna(r["import_risk"])
    # a consumer the atlas lists as no producer has production 0
    assert import_risk(a, "DEU").iloc[0]["production"] == 0.0


def test_no_trade_gives_empty_frame():
    assert import_risk(Atlas.from_frames({})).empty
