"""BACI importer: hand-made files in BACI's format, the real extract, malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paxsilica.errors import InputError
from paxsilica.importers import IMPORTERS, baci

FIX = Path(__file__).parent / "fixtures" / "importers"
CODES = FIX / "baci_country_codes.csv"
PRODUCTS = FIX / "baci_product_codes.csv"


def test_fixture_latest_year_aggregates_codes_and_drops_self_trade() -> None:
    out = baci.run([FIX / "baci_small.csv.gz", CODES, PRODUCTS])
    t = out["trade"].set_index(["item", "exporter", "importer"])
    assert set(t["year"]) == {2022}
    assert t.loc[("germanium", "CHN", "JPN"), "value"] == 200.0
    assert t.loc[("germanium", "CHN", "JPN"), "quantity"] == 2.0
    li = t.loc[("lithium_mine", "CHN", "JPN")]
    assert li["value"] == 80.0 and li["quantity"] == 3.0 and li["hs_codes"] == "282520;283691"
    assert t.loc[("germanium", "TWN", "USA"), "value"] == 10.0  # S19 "Other Asia, nes" = Taiwan
    assert len(t) == 3
    attrs = out["trade"].attrs
    assert attrs["self_trade"] == ["China -> China: 5 kUSD dropped"]
    assert attrs["unresolved"] == ["810 USSR (...1990): 7 kUSD dropped"]
    assert attrs["unmapped_codes"] == ["999999"]
    items = out["items"].set_index("item")
    assert items.loc["lithium_mine", "hs_codes"] == "282520;283691"
    assert out["sources"]["source"].tolist() == ["baci_hs92_v202401b"]


def test_year_all_years_and_all_codes() -> None:
    t = IMPORTERS["baci"].run([FIX / "baci_small.csv", CODES], year="2021")["trade"]
    assert t[["item", "exporter", "importer", "value"]].values.tolist() == [["germanium", "CHN", "JPN", 100.0]]
    assert set(baci.run([FIX / "baci_small.csv", CODES], all_years=True)["trade"]["year"]) == {2021, 2022}
    out = baci.run([FIX / "baci_small.csv", CODES, PRODUCTS], all=True)
    assert "hs999999" in set(out["trade"]["item"])
    assert out["items"].set_index("item").loc["hs999999", "name"] == "Test product"
    with pytest.raises(InputError, match="year 2019 not in the data"):
        baci.run([FIX / "baci_small.csv", CODES], year=2019)


def test_country_codes_are_required() -> None:
    with pytest.raises(InputError, match="country_codes.csv is needed"):
        baci.run([FIX / "baci_small.csv"])


@pytest.mark.parametrize(("line", "column"), [
    ("2022,156,392,811230,abc,1", "v"), ("2022,156,392,811230,-1,1", "v"), ("2022.5,156,392,811230,1,1", "t"),
    ("2022,156,392,81x230,1,1", "k"), ("2022,,392,811230,1,1", "i"), ("2022,156,392,811230,1,lots", "q"),
])
def test_malformed_data_names_row_and_column(tmp_path: Path, line: str, column: str) -> None:
    f = tmp_path / "BACI_HS92_Y2022_V202401b.csv"
    f.write_text("t,i,j,k,v,q\n2022,156,392,811230,1.0,1.0\n" + line + "\n")
    with pytest.raises(InputError) as e:
        baci.run([f, CODES])
    assert e.value.file == f.name and e.value.row == 3 and e.value.column == column


def test_unknown_country_code(tmp_path: Path) -> None:
    f = tmp_path / "b.csv"
    f.write_text("t,i,j,k,v,q\n2022,156,999,811230,1.0,1.0\n")
    with pytest.raises(InputError, match="999"):
        baci.run([f, CODES])


def test_real_extract(shared_data: Path) -> None:
    d = shared_data / "baci-hs92-minerals"
    out = baci.run([d / "baci_hs92_2020_2024.csv.gz", d / "country_codes.csv", d / "product_codes.csv"])
    t = out["trade"]
    assert set(t["year"]) == {2024} and len(t) > 10_000
    assert not (t["exporter"] == t["importer"]).any()
    lng = t[t["item"] == "lng"].groupby("exporter")["quantity"].sum()
    assert {"QAT", "AUS", "USA"} <= set(lng.sort_values().tail(5).index)  # the large LNG exporters
    assert "TWN" in set(t["exporter"]) | set(t["importer"])
    assert t["hs_codes"].str.fullmatch(r"\d{6}(;\d{6})*").all()


row = st.lists(st.one_of(st.text(max_size=6), st.integers(-5, 10**7).map(str),
                         st.sampled_from(["", "NA", "2022", "156", "811230", "1e400", "nan", "\""])),
               min_size=0, max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.one_of(st.just("t,i,j,k,v,q"), st.text(max_size=30)), rows=st.lists(row, max_size=6))
def test_random_malformed_csv_gives_only_input_error(tmp_path: Path, header: str, rows: list) -> None:
    f = tmp_path / "BACI_random.csv"
    f.write_text(header + "\n" + "\n".join(",".join(r) for r in rows), encoding="utf-8")
    try:
        out = baci.run([f, CODES])
    except InputError:
        return
    assert set(out) == {"trade", "items", "sources"}
