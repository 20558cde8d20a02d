"""WGI importer: wide/long CSV, the World Bank workbook layout, real files, malformed input."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from paxsilica.errors import InputError
from paxsilica.importers import IMPORTERS, wgi

FIX = Path(__file__).parent / "fixtures" / "importers"


def test_wide_fixture_maps_codes_and_rescales() -> None:
    c = wgi.run([FIX / "wgi_2022_wide.csv"])["countries"].set_index("iso3")
    assert set(c.index) == {"CHN", "COD", "XKX", "NOR"}
    assert c.loc["COD", "wgi_mean"] == pytest.approx(-1.5)
    assert c.loc["COD", "governance_risk"] == pytest.approx(8.0)  # 5 - 2 * (-1.5)
    assert c.loc["XKX", "wgi_pv"] != c.loc["XKX", "wgi_pv"]  # NaN: PV blank
    assert c.loc["XKX", "wgi_mean"] == pytest.approx(0.5)  # mean of the 5 available
    assert c.loc["NOR", "governance_risk"] == 0.0  # 5 - 2 * 2.6 < 0 -> clipped
    assert c.loc["CHN", "governance_risk"] == pytest.approx(5 - 2 * c.loc["CHN", "wgi_mean"])
    assert (c["wgi_year"] == 2022).all() and (c["source"] == "wgi2023").all()
    assert any("ANT" in s for s in wgi.run([FIX / "wgi_2022_wide.csv"])["countries"].attrs["skipped"])


def test_long_fixture_latest_year_and_year_option() -> None:
    c = wgi.run([FIX / "wgi_long.csv"])["countries"].set_index("iso3")
    assert c.loc["ROU", "wgi_mean"] == pytest.approx(0.5) and c.loc["TLS", "wgi_mean"] == pytest.approx(0.2)
    c21 = IMPORTERS["wgi"].run([FIX / "wgi_long.csv"], year="2021")["countries"]
    assert c21["iso3"].tolist() == ["ROU"] and c21["wgi_va"].item() == 0.5
    with pytest.raises(InputError, match="year 1990 not in the file"):
        wgi.run([FIX / "wgi_long.csv"], year=1990)
    with pytest.raises(InputError, match="unknown option"):
        wgi.run([FIX / "wgi_long.csv"], yaer=2021)


def test_strict_fails_on_unmapped_code() -> None:
    with pytest.raises(InputError, match="ANT"):
        wgi.run([FIX / "wgi_2022_wide.csv"], strict=True)


def _workbook(path: Path, bad: bool = False) -> Path:
    wb = openpyxl.Workbook()
    wb.active.title = "Introduction"
    for title, va in (("VoiceandAccountability", 1.0), ("Political StabilityNoViolence", 0.0),
                      ("ControlofCorruption", -1.0)):
        ws = wb.create_sheet(title)
        ws.append([title])
        ws.append([None])
        ws.append([None, None, 2021, 2021, 2022, 2022])
        ws.append(["Country/Territory", "Code", "Estimate", "StdErr", "Estimate", "StdErr"])
        ws.append(["Andorra", "ADO", "#N/A", "#N/A", va, 0.3])
        ws.append(["Romania", "ROM", 0.1, 0.2, "oops" if bad and title.startswith("Control") else va + 0.5, 0.2])
    wb.save(path)
    return path


def test_workbook_layout(tmp_path: Path) -> None:
    c = wgi.run([_workbook(tmp_path / "wgi.xlsx")])["countries"].set_index("iso3")
    assert c.loc["AND", "wgi_va"] == 1.0 and c.loc["AND", "wgi_cc"] == -1.0
    assert c.loc["AND", "wgi_mean"] == pytest.approx(0.0) and c.loc["AND", "governance_risk"] == 5.0
    assert c.loc["ROU", "wgi_mean"] == pytest.approx(0.5)


def test_workbook_bad_cell_names_sheet_row_column(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        wgi.run([_workbook(tmp_path / "wgi.xlsx", bad=True)])
    assert "[ControlofCorruption]" in str(e.value) and e.value.row == 6 and e.value.column == "Estimate 2022"


@pytest.mark.parametrize(("text", "row", "column"), [
    ("code,country,VA_est\nCHN,China,abc\n", 2, "VA_est"),
    ("country,VA_est\nChina,1\n", 1, "code"),
    ("code,country,year,indicator,estimate\nCHN,China,2022,XX,1\n", 2, "indicator"),
    ("code,country,year,indicator,estimate\nCHN,China,20x2,VA,1\n", 2, "year"),
])
def test_malformed_csv_names_row_and_column(tmp_path: Path, text: str, row: int, column: str) -> None:
    f = tmp_path / "wgi_2022.csv"
    f.write_text(text)
    with pytest.raises(InputError) as e:
        wgi.run([f])
    assert e.value.file == "wgi_2022.csv" and e.value.row == row and e.value.column == column


def test_real_files_agree(shared_data: Path) -> None:
    d = shared_data / "wgi-2023-update"
    wide = wgi.run([d / "wgi_2022_wide.csv"])["countries"].set_index("iso3")
    long = wgi.run([d / "wgi_1996_2022_long.csv"])["countries"].set_index("iso3")
    assert len(wide) == 213 and {"COD", "ROU", "TLS", "AND", "XKX", "PSE", "TWN"} <= set(wide.index)
    pd.testing.assert_series_equal(wide["wgi_mean"], long["wgi_mean"], atol=1e-4)
    assert wide.loc["CHN", "wgi_mean"] == pytest.approx(-0.3332, abs=1e-4)
    assert wide.loc["CHN", "governance_risk"] == pytest.approx(5.6665, abs=1e-3)


def test_real_workbook_matches_wide_file(shared_data: Path) -> None:
    d = shared_data / "wgi-2023-update"
    wb = wgi.run([d / "wgidataset_2023update_original.xlsx"])["countries"].set_index("iso3")
    wide = wgi.run([d / "wgi_2022_wide.csv"])["countries"].set_index("iso3")
    assert (wb["wgi_year"] == 2022).all() and set(wb.index) == set(wide.index)
    pd.testing.assert_series_equal(wb["wgi_va"], wide["wgi_va"], atol=1e-4)
