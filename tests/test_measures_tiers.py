"""Supplier tiers, dependency on a non-member, coercion risk and the coalition facts (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from paxsilica.atlas import Atlas, bundled_atlas, validate
from paxsilica.metrics import (
    coalition_exposure,
    coercion_risk,
    members,
    partners,
    restriction_events,
    restriction_record,
    supplier_coercion_risk,
)

CURATED = Path(__file__).resolve().parents[1] / "data-src" / "curated"


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(CURATED / name, dtype=str, keep_default_na=False, na_values=[""])


def curated_atlas() -> Atlas:
    """The bundled atlas with this issue's curated tables (until build_atlas.py bundles them)."""
    a = bundled_atlas()
    src = a["sources"]
    extra = read("sources_measures.csv")
    sources = pd.concat([src.astype(object), extra[~extra["source"].isin(src["source"])]], ignore_index=True)
    return a.replace(groups=read("groups.csv"), restrictions=read("restrictions.csv"), sources=sources)


GROUPS = pd.DataFrame([
    {"group": "pax", "iso3": "USA", "source": "s"},
    {"group": "pax", "iso3": "JPN", "source": "s"},
    {"group": "pax_guests", "iso3": "NLD", "source": "s"},
    {"group": "pax_guests", "iso3": "TWN", "source": "s"},
    {"group": "oecd", "iso3": "USA", "source": "s"},
    {"group": "oecd", "iso3": "DEU", "source": "s"},
])


def tier_atlas() -> Atlas:
    shares = {"euv": {"NLD": 100.0}, "logic": {"TWN": 90.0, "KOR": 10.0},
              "ga": {"CHN": 98.0, "JPN": 2.0}, "tool": {"DEU": 60.0, "USA": 40.0}}
    rows = [{"item": i, "producer": p, "producer_type": "country", "year": 2024, "share": s, "source": "s"}
            for i, d in shares.items() for p, s in d.items()]
    items = [{"item": i, "name": i, "stage": "equipment", "unit": "units"} for i in shares]
    countries = [{"iso3": c, "name": c, "governance_risk": g}
                 for c, g in (("NLD", 1.0), ("TWN", 2.0), ("KOR", 2.5), ("CHN", 6.0), ("JPN", 2.0),
                              ("DEU", 1.2), ("USA", 3.0))]
    return Atlas.from_frames({"production": pd.DataFrame(rows), "items": pd.DataFrame(items),
                              "groups": GROUPS, "countries": pd.DataFrame(countries)})


def test_allies_are_partners_not_coercive():
    e = coalition_exposure(tier_atlas(), "pax").set_index("item")
    # every item depends on one non-member (plain name, no judgement) ...
    assert e.loc["euv", "nonmember_dependency"] and e.loc["logic", "nonmember_dependency"]
    assert e.loc["ga", "nonmember_dependency"]
    # ... but the Netherlands and Taiwan are partners (the coalition's guests), China is other
    assert e.loc["euv", "largest_outside_tier"] == "partner"
    assert e.loc["logic", "largest_outside_tier"] == "partner"
    assert e.loc["ga", "largest_outside_tier"] == "other"
    assert not e.loc["euv", "other_dependency"] and not e.loc["logic", "other_dependency"]
    assert e.loc["ga", "other_dependency"]
    assert e.loc["logic", "partner_share"] == pytest.approx(0.9)
    assert e.loc["logic", "other_share"] == pytest.approx(0.1)
    assert "coercive" not in e.columns


def test_allied_groups_named_by_the_user():
    a = tier_atlas()
    assert partners(a, "pax") == {"NLD", "TWN"}
    assert partners(a, "pax", allies="oecd") == {"NLD", "TWN", "DEU"}  # USA is a member, not a partner
    e0 = coalition_exposure(a, "pax").set_index("item")
    e1 = coalition_exposure(a, "pax", allies=["oecd"]).set_index("item")
    assert e0.loc["tool", "largest_outside_tier"] == "other" and e0.loc["tool", "other_dependency"]
    assert e1.loc["tool", "largest_outside_tier"] == "partner" and not e1.loc["tool", "other_dependency"]


def test_bundled_briefing_never_calls_netherlands_or_taiwan_coercive():
    e = coalition_exposure(curated_atlas()).set_index("item")
    for item in ("euv_lithography", "duv_lithography"):
        assert e.loc[item, "largest_outside"] == "NLD"
        assert e.loc[item, "largest_outside_tier"] == "partner"
        assert not e.loc[item, "other_dependency"]
    assert e.loc["gallium", "largest_outside_tier"] == "other" and e.loc["gallium", "other_dependency"]


def restriction_atlas() -> Atlas:
    a = tier_atlas()
    r = pd.DataFrame([
        {"country": "CHN", "item": "ga", "announced": "2023-07-03", "effective": "2023-08-01", "source": "s"},
        {"country": "CHN", "item": "ga", "announced": "2024-12-03", "ended": "2025-11-09",
         "kind": "ban_to_country", "targets": "USA", "source": "s"},
    ])
    return a.replace(restrictions=r)


def test_coercion_risk_by_hand():
    a = restriction_atlas()
    # before the first event: no record, no coercion risk (concentration is another measure)
    assert coercion_risk(a, "2023-01-01").set_index("item").loc["ga", "coercion_risk"] == 0.0
    r = coercion_risk(a, "2024-01-01").set_index("item")
    # CHN: share 0.98, governance 6/10, restricted this item (record 1) -> 0.98 * 0.6
    assert r.loc["ga", "coercion_risk"] == pytest.approx(0.98 * 0.6)
    assert r.loc["ga", "top_coercer"] == "CHN" and r.loc["ga", "restricted_by"] == "CHN"
    # an item China did not restrict but China produces none of: zero; allies with no record: zero
    assert r.loc["euv", "coercion_risk"] == 0.0 and r.loc["logic", "coercion_risk"] == 0.0
    sup = supplier_coercion_risk(a, "2024-01-01").set_index(["item", "country"])
    assert sup.loc[("ga", "JPN"), "record"] == 0.0


def test_record_on_other_items_counts_half():
    a = restriction_atlas()
    prod = pd.concat([a["production"], pd.DataFrame([
        {"item": "tool", "producer": "CHN", "producer_type": "country", "year": 2023, "share": 50.0,
         "source": "s"}])])
    prod = prod[~((prod["item"] == "tool") & (prod["year"] == 2024))]
    prod = pd.concat([prod, pd.DataFrame([{"item": "tool", "producer": "DEU", "producer_type": "country",
                                           "year": 2023, "share": 50.0, "source": "s"}])])
    r = coercion_risk(a.replace(production=prod), "2024-01-01").set_index("item")
    assert r.loc["tool", "coercion_risk"] == pytest.approx(0.5 * 0.6 * 0.5)


def test_events_in_force_and_record():
    ev = restriction_events(restriction_atlas(), "2026-01-01")
    assert list(ev["in_force"]) == [True, False]  # the US ban was suspended on 2025-11-09
    rec = restriction_record(restriction_atlas()).set_index("country")
    assert rec.loc["CHN", "n_events"] == 2 and rec.loc["CHN", "first"] == "2023-07-03"


def test_curated_restrictions_are_valid_and_cited():
    a = curated_atlas()
    probs = [p for p in validate(a) if p.file in ("restrictions.csv", "groups.csv")
             or "restriction" in p.reason]
    assert probs == []
    r = a["restrictions"]
    key = {(c, i, d[:4]) for c, i, d in zip(r["country"], r["item"], r["announced"], strict=True)}
    for expected in (("CHN", "gallium", "2023"), ("CHN", "germanium", "2023"),
                     ("CHN", "graphite_natural", "2023"), ("CHN", "antimony_mine", "2024"),
                     ("CHN", "rare_earth_oxides", "2025"), ("CHN", "rare_earth_magnets", "2025")):
        assert expected in key
    assert r["source"].notna().all()
    assert set(r["source"]) <= set(a["sources"]["source"])
    urls = a["sources"].set_index("source")["url"]
    assert all(isinstance(urls[s], str) and urls[s].startswith("https://") for s in set(r["source"]))


# ------------------------------------------------------------------ coalition facts

# Dates checked by hand against each row's cited source (sources.csv / sources_measures.csv).
REFERENCE_DATES = {
    ("pax_silica", "USA"): ("2025-12-12", None), ("pax_silica", "JPN"): ("2025-12-12", None),
    ("pax_silica", "QAT"): ("2026-01-12", None), ("pax_silica", "ARE"): ("2026-01-14", None),
    ("pax_silica", "IND"): ("2026-02-20", None),   # WAM / MEA, 20 February 2026
    ("eu27", "GBR"): ("1973-01-01", "2020-01-31"), ("eu27", "HRV"): ("2013-07-01", None),
    ("eu27", "POL"): ("2004-05-01", None), ("eu27", "BGR"): ("2007-01-01", None),
    ("eu27", "AUT"): ("1995-01-01", None), ("eu27", "ESP"): ("1986-01-01", None),
    ("eu27", "GRC"): ("1981-01-01", None), ("g7", "CAN"): ("1976-06-27", None),
    ("oecd", "JPN"): ("1964-04-28", None), ("oecd", "KOR"): ("1996-12-12", None),
    ("oecd", "CRI"): ("2021-05-25", None), ("oecd", "COL"): ("2020-04-28", None),
}


def test_group_dates_match_cited_sources():
    g = read("groups.csv").set_index(["group", "iso3"])
    for key, (joined, left) in REFERENCE_DATES.items():
        row = g.loc[key]
        assert (row["joined"] if pd.notna(row["joined"]) else None) == joined, key
        assert (row["left"] if pd.notna(row["left"]) else None) == left, key
    src = pd.concat([read("sources.csv"), read("sources_measures.csv")]).set_index("source")
    for s in set(g["source"]):
        assert s in src.index and str(src.loc[s, "url"]).startswith("https://"), s
    assert len(g.loc["eu27"]) == 28 and g.loc["eu27"]["left"].notna().sum() == 1
    assert len(g.loc["g7"]) == 7 and len(g.loc["oecd"]) == 38


def test_india_signed_and_uk_member_on_its_last_day():
    a = curated_atlas()
    assert "IND" not in members(a, "pax_silica", "2026-02-19")
    assert "IND" in members(a, "pax_silica", "2026-02-20")
    assert "GBR" in members(a, "eu27", "2020-01-31")
    assert "GBR" not in members(a, "eu27", "2020-02-01")
    assert "GBR" not in members(a, "eu27")
