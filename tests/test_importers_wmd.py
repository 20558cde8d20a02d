"""World Mining Data importer: long CSV, the publisher's workbook layout, EoL-RIR, real files."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from paxsilica.errors import InputError
from paxsilica.importers import IMPORTERS, wmd

FIX = Path(__file__).parent / "fixtures" / "importers"


def test_long_fixture_germanium_china_140_of_150() -> None:
    out = wmd.run([FIX / "wmd_long.csv"])
    p = out["production"]
    ge = p[p["item"] == "germanium"].set_index("producer")
    assert set(ge["year"]) == {2024}  # latest year by default
    assert ge.loc["CHN", "quantity"] == 140_000 and ge.loc["CHN", "unit"] == "kg"  # 140 t
    assert ge.loc["CHN", "share"] == pytest.approx(100 * 140 / 150)
    assert "UKR" not in ge.index  # zero output
    assert bool(ge.loc["JPN", "estimated"]) and not bool(ge.loc["CHN", "estimated"])  # data_source e / r
    li = p[p["item"] == "lithium_mine"].set_index("producer")
    assert li.loc["TWN", "quantity"] == pytest.approx(100 * 0.46457)  # S19 = Taiwan; Li2O -> Li
    assert li.loc["TWN", "share"] == pytest.approx(25.0)
    assert li["unit"].eq("t_content").all()
    assert "Gold" in p.attrs["unmapped"] and any("Kosovo" in b for b in p.attrs["blank"])
    assert out["sources"]["source"].tolist() == ["wmd2024"]


def test_year_options() -> None:
    p = IMPORTERS["wmd"].run([FIX / "wmd_long.csv"], year="2023")["production"]
    assert p[["item", "producer", "share"]].values.tolist() == [["germanium", "CHN", 100.0]]
    p = wmd.run([FIX / "wmd_long.csv"], all_years=True)["production"]
    assert set(p["year"]) == {2023, 2024}
    with pytest.raises(InputError, match="year 2030 not in the file"):
        wmd.run([FIX / "wmd_long.csv"], year=2030)


def test_all_adds_slug_items() -> None:
    out = wmd.run([FIX / "wmd_long.csv"], all=True)
    assert "gold" in set(out["production"]["item"])
    assert out["items"].set_index("item").loc["gold", "unit"] == "kg"


def test_eolrir_sets_items() -> None:
    out = wmd.run([FIX / "wmd_long.csv", FIX / "wmd_eolrir.csv"])
    items = out["items"].set_index("item")
    assert items.loc["germanium", "eol_rir"] == pytest.approx(0.02)
    assert "eu_crm2023" in set(out["sources"]["source"])
    only = wmd.run([FIX / "wmd_eolrir.csv"])
    assert "production" not in only
    assert only["items"].set_index("item").loc["gallium", "eol_rir"] == 0.0


def _workbook(path: Path, bad: object = None) -> Path:
    wb = openpyxl.Workbook()
    wb.active.title = "Index"
    wb.active.append(["World Mining Data 2024"])
    ws = wb.create_sheet("Germanium")
    ws.append(["Germanium", None, None, None])
    ws.append(["Country", "unit", 2023, 2024, "data source"])
    ws.append(["China", "metr. t", 130, 140 if bad is None else bad, "r"])
    ws.append(["Japan", "metr. t", 2, 2, "e"])
    ws.append(["Russia", "metr. t", 5, 5, "e"])
    ws.append(["United States", "metr. t", 2, 2, "e"])
    ws.append(["Congo, D.R.", "metr. t", 1, 1, "r"])
    ws.append(["Total", "metr. t", 145, 160, None])
    ws2 = wb.create_sheet("Natural Gas")
    ws2.append(["Country", "unit", "2024", "data source"])
    ws2.append(["Qatar", "Mio m3", "178,000", "r"])
    wb.save(path)
    return path


def test_workbook_layout_uses_total_row(tmp_path: Path) -> None:
    p = wmd.run([_workbook(tmp_path / "wmd.xlsx")])["production"]
    ge = p[p["item"] == "germanium"].set_index("producer")
    # the workbook's Total (160 t) exceeds the listed 150 t: the gap is a rest-of-world row
    assert ge.loc["CHN", "share"] == pytest.approx(100 * 140 / 160)
    assert ge.loc["ROW", "quantity"] == pytest.approx(10_000)
    gas = p[p["item"] == "natural_gas"].set_index("producer")
    assert gas.loc["QAT", "quantity"] == 178_000 and gas.loc["QAT", "unit"] == "mcm"


def test_workbook_bad_cell(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        wmd.run([_workbook(tmp_path / "wmd.xlsx", bad="lots")])
    assert "[Germanium]" in str(e.value) and e.value.row == 3 and e.value.column == "2024"


@pytest.mark.parametrize(("text", "row", "column"), [
    ("mineral,country,iso3,year,value,unit,data_source\nTin,China,CHN,2024,x,metr. t,r\n", 2, "value"),
    ("mineral,country,iso3,year,value,unit,data_source\nTin,China,CHN,2024,-1,metr. t,r\n", 2, "value"),
    ("mineral,country,iso3,year,value,unit,data_source\nTin,China,CHN,two,1,metr. t,r\n", 2, "year"),
    ("mineral,country,iso3,year,value,unit,data_source\nTin,China,CHN,2024,1,furlongs,r\n", 2, "unit"),
    ("mineral,country,iso3,year,value\nTin,China,CHN,2024,1\n", 1, "unit"),
])
def test_malformed_long_csv(tmp_path: Path, text: str, row: int, column: str) -> None:
    f = tmp_path / "wmd.csv"
    f.write_text(text)
    with pytest.raises(InputError) as e:
        wmd.run([f])
    assert e.value.file == "wmd.csv" and e.value.row == row and e.value.column == column


def test_real_files(shared_data: Path) -> None:
    d = shared_data / "wmd-2024"
    out = wmd.run([d / "wmd_production_2018_2024.csv", d / "mineral_hs_eolrir.csv"])
    p = out["production"]
    assert set(p["year"]) == {2024} and not p.attrs["skipped_countries"]
    ge = p[p["item"] == "germanium"].set_index("producer")
    assert ge.loc["CHN", "quantity"] == 140_000 and ge.loc["CHN", "share"] == pytest.approx(93.33, abs=0.01)
    ga = p[p["item"] == "gallium"].set_index("producer")
    assert ga.loc["CHN", "share"] == pytest.approx(100 * 974 / 987, abs=0.01)
    co = p[p["item"] == "cobalt_mine"].set_index("producer")
    assert co.loc["COD", "quantity"] == pytest.approx(200_000, rel=0.01)
    assert (p.groupby("item")["share"].sum().round(6) == 100).all()
    assert out["items"].set_index("item").loc["copper_mine", "eol_rir"] == pytest.approx(0.55)
