"""paxsilica.countries: publisher spellings and codes -> iso3, the base country list."""

from __future__ import annotations

import pytest

from paxsilica.countries import add_country_attributes, base_countries, country_name, resolve_iso3


@pytest.mark.parametrize(("name", "iso3"), [
    # USGS MCS (footnote letters/digits glued on, NBSP, qualifiers)
    ("Burma", "MMR"), ("Congo (Kinshasa)", "COD"), ("Korea, Republic of", "KOR"),
    ("Korea, Republic ofe", "KOR"), ("Japane", "JPN"), ("Russiae", "RUS"), ("New Caledonia11", "NCL"),
    ("United\u00a0States1", "USA"), ("United States (from Cliffside Field)", "USA"), ("Turkeye", "TUR"),
    ("Kazakhstan, concentrate", "KAZ"), ("Denmark (processed)5", "DNK"),
    # World Bank WGI codes that are not ISO
    ("ZAR", "COD"), ("ROM", "ROU"), ("TMP", "TLS"), ("ADO", "AND"), ("KSV", "XKX"), ("WBG", "PSE"),
    ("Taiwan, China", "TWN"),
    # BACI / UN
    ("Rep. of Korea", "KOR"), ("Other Asia, nes", "TWN"), ("S19", "TWN"), ("Bosnia Herzegovina", "BIH"),
    ("Dem. Rep. of the Congo", "COD"), ("CuraÃ§ao", "CUW"),
    # WMD, WPI, Epoch
    ("Congo, D.R.", "COD"), ("Korea, South", "KOR"), ("Korea (Republic of)", "KOR"),
    ("United States of America", "USA"), ("Taiwan", "TWN"), ("Kosovo", "XKX"), ("Côte d’Ivoire", "CIV"),
    # plain ISO
    ("DEU", "DEU"), ("de", "DEU"), ("Germany", "DEU"), ("  netherlands ", "NLD"),
])
def test_resolve_publisher_spellings(name: str, iso3: str) -> None:
    assert resolve_iso3(name) == iso3


@pytest.mark.parametrize("name", ["World total (rounded)", "Other countries4", "Other countries", "EUR",
                                  "Various countries", "USSR (...1990)", "", "   ", "Atlantis", "ANT", "ZA1",
                                  "R20", "SUN"])
def test_aggregates_and_unknowns_are_none(name: str) -> None:
    assert resolve_iso3(name) is None


def test_base_countries_has_every_iso_country_plus_kosovo_and_taiwan() -> None:
    b = base_countries()
    assert list(b.columns) == ["iso3", "name"]
    assert b["iso3"].is_unique and len(b) == 250
    names = dict(zip(b["iso3"], b["name"], strict=True))
    assert names["TWN"] == "Taiwan" and names["XKX"] == "Kosovo" and names["KOR"] == "South Korea"
    assert "iso2" in base_countries(with_iso2=True).columns
    assert country_name("XKX") == "Kosovo" and country_name("QQQ") is None


def test_add_country_attributes_by_iso2_keeps_existing_values() -> None:
    c = base_countries().head(3).assign(region=["x", None, None])
    a = base_countries(with_iso2=True).head(3).assign(region="r", lat=1.0)[["iso2", "region", "lat"]]
    out = add_country_attributes(c, a, columns=["region", "lat"], key="iso2")
    assert out["region"].tolist() == ["x", "r", "r"] and out["lat"].tolist() == [1.0, 1.0, 1.0]
