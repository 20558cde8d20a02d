"""Generic firm-level supplier table: shares, firms, recipes and links by hand."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from paxsilica.atlas import Atlas, validate
from paxsilica.countries import base_countries
from paxsilica.errors import InputError
from paxsilica.importers import IMPORTERS, firms

FIX = Path(__file__).parent / "fixtures" / "importers"


def test_fixture_shares_recipes_and_links() -> None:
    out = firms.run([FIX / "firm_suppliers.csv"])
    p = out["production"].set_index(["item", "producer"])
    # wafers: Wafer Co 80 of 100 (JPN), Other Wafers 20 (DEU)
    assert p.loc[("silicon_wafers", "wafer_co"), "share"] == pytest.approx(80.0)
    assert p.loc[("silicon_wafers", "wafer_co"), "country"] == "JPN"
    assert p.loc[("silicon_wafers", "JPN"), "producer_type"] == "country"
    assert p.loc[("silicon_wafers", "DEU"), "share"] == pytest.approx(20.0)
    # accelerators: Fab A 75, Fab B 25; Fab C has no country -> ROW 0 is not written
    assert p.loc[("ai_accelerators", "chip_fab_a"), "share"] == pytest.approx(75.0)
    assert ("ai_accelerators", "ROW") not in p.index
    r = out["recipes"].set_index(["item", "input"])
    # both accelerator makers buy wafers: all of the accelerator output needs wafers
    assert r.loc[("ai_accelerators", "silicon_wafers"), "dependent_share"] == pytest.approx(1.0)
    assert ("silicon_wafers", "ai_accelerators") not in r.index
    links = out["links"].set_index(["supplier", "customer", "item"])
    assert links.loc[("wafer_co", "chip_fab_b", "silicon_wafers"), "share_of_customer"] == pytest.approx(0.5)
    assert links.loc[("wafer_co", "chip_fab_b", "silicon_wafers"), "share_of_supplier"] == pytest.approx(0.25)
    f = out["firms"].set_index("firm")
    assert f.loc["server_inc", "country"] == "USA" and "chip_fab_c" not in f.index
    assert out["firms"].attrs["firms_without_country"] == ["chip_fab_c"]
    atlas = Atlas.from_frames({k: v for k, v in out.items() if k != "links"} | {"countries": base_countries()})
    assert [x for x in validate(atlas) if "groups" not in x.reason] == []


def test_partial_dependency(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("Seller,Buyer,Product,Value,Country\nW,A,wafer,10,JPN\nA,S,chip,30,TWN\nB,S,chip,70,KOR\n")
    out = IMPORTERS["firms"].run([f], year="2023")
    r = out["recipes"].set_index(["item", "input"])
    assert r.loc[("chip", "wafer"), "dependent_share"] == pytest.approx(0.3)  # only A (30 of 100) buys wafers
    assert r.loc[("chip", "wafer"), "rationale"] == "firm table: 1 of 2 suppliers of chip buy wafer"
    assert set(out["production"]["year"]) == {2023}


def test_xlsx_input(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["supplier", "customer", "item", "amount", "country"])
    ws.append(["A", "B", "neon", 3, "Ukraine"])
    ws.append(["C", "B", "neon", 1, "China"])
    wb.save(tmp_path / "s.xlsx")
    p = firms.run([tmp_path / "s.xlsx"], year=2022)["production"]
    assert p.set_index("producer").loc["UKR", "share"] == pytest.approx(75.0)


@pytest.mark.parametrize(("text", "row", "column"), [
    ("supplier,customer,item,amount,year\nA,B,x,abc,2024\n", 2, "amount"),
    ("supplier,customer,item,amount,year\nA,B,x,-1,2024\n", 2, "amount"),
    ("supplier,customer,item,amount,year\nA,,x,1,2024\n", 2, "customer"),
    ("supplier,customer,item,year\nA,B,x,2024\n", 1, "amount"),
    ("supplier,customer,item,amount,year\nA,B,x,1,24\n", 2, "year"),
    ("supplier,customer,item,amount\nA,B,x,1\n", None, "year"),
])
def test_malformed(tmp_path: Path, text: str, row: int | None, column: str) -> None:
    f = tmp_path / "t.csv"
    f.write_text(text)
    with pytest.raises(InputError) as e:
        firms.run([f])
    assert e.value.row == row and e.value.column == column


def test_unknown_country_and_options(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("supplier,customer,item,amount,country\nA,B,x,1,Atlantis\n")
    out = firms.run([f], year=2024)
    assert out["production"].attrs["unresolved_countries"] == ["t.csv row 2: Atlantis"]
    with pytest.raises(InputError) as e:
        firms.run([f], year=2024, strict=True)
    assert e.value.row == 2 and e.value.column == "country"
    with pytest.raises(InputError, match="not an atlas unit"):
        firms.run([f], year=2024, unit="bananas")
