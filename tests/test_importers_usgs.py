"""USGS MCS importer: hand-made world files, the real release files, the tidy CSV, malformed input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paxsilica.atlas import Atlas
from paxsilica.errors import InputError
from paxsilica.importers import IMPORTERS, usgs

FIX = Path(__file__).parent / "fixtures" / "importers"


def _rows(p: pd.DataFrame, item: str, year: int) -> pd.DataFrame:
    return p[(p["item"] == item) & (p["year"] == year)].set_index("producer")


def test_gallium_fixture_shares_against_world_total() -> None:
    out = usgs.run([FIX / "mcs2024-galli_world.csv"])
    p = _rows(out["production"], "gallium", 2023)
    # world total 610,000 kg; China 600,000 -> 98.36 %; KOR withheld (W) is left out, not zero
    assert p.loc["CHN", "share"] == pytest.approx(100 * 600_000 / 610_000)
    assert p.loc["CHN", "quantity"] == 600_000 and p.loc["CHN", "unit"] == "kg"
    assert p.loc["CHN", "capacity"] == 1_000_000
    assert "KOR" not in p.index and "USA" not in p.index  # withheld; zero output
    assert p.loc["ROW", "quantity"] == pytest.approx(2_000)  # 610,000 - 608,000 listed
    assert p.loc["ROW", "producer_type"] == "rest_of_world" and pd.isna(p.loc["ROW", "country"])
    assert p["share"].sum() == pytest.approx(100.0)
    assert bool(p.loc["CHN", "estimated"])  # _est column
    p22 = _rows(out["production"], "gallium", 2022)
    assert bool(p22.loc["CHN", "estimated"])  # "estimated in 2022 also"
    assert p22.loc["KOR", "quantity"] == 2_000
    assert any("row 5" in w and "2023" in w for w in out["production"].attrs["withheld"])
    assert out["sources"]["source"].tolist() == ["usgs_mcs2024"]
    assert out["items"].set_index("item").loc["gallium", "unit"] == "kg"


def test_fluorspar_header_quirk_e_prefix_and_other_countries() -> None:
    p = usgs.run([FIX / "mcs2024-fluor_world.csv"], year="2023")["production"].set_index("producer")
    assert set(p["year"]) == {2023}
    assert p.loc["CHN", "share"] == pytest.approx(75.0)  # 6,000 of the 8,000 world total
    assert p.loc["MNG", "quantity"] == 900 and bool(p.loc["MNG", "estimated"])  # "e900"
    assert p.loc["ROW", "quantity"] == 100  # "Other countries"
    assert p.loc["CHN", "unit"] == "kt"
    p22 = _rows(usgs.run([FIX / "mcs2024-fluor_world.csv"])["production"], "fluorspar", 2022)
    # 8,320 world - 7,125 listed countries = 1,195 for the rest of the world (190 'Other countries' + gap)
    assert p22.loc["ROW", "quantity"] == pytest.approx(1_195)
    assert p22.loc["CHN", "share"] == pytest.approx(100 * 5_700 / 8_320)


def test_result_builds_a_valid_atlas_frame() -> None:
    out = usgs.run([FIX / "mcs2024-galli_world.csv"])
    Atlas.from_frames(out)  # schema dtypes coerce cleanly


def test_real_release_files(shared_data: Path) -> None:
    world = shared_data / "usgs-mcs2024-world" / "world"
    out = IMPORTERS["usgs"].run([world], year="2023")
    p = out["production"]
    shares = p.groupby("item")["share"].sum()
    assert ((shares > 98) & (shares < 102)).all()
    top = p.sort_values("share").groupby("item").tail(1).set_index("item")
    # SOURCE.txt sanity figures (2023e, share of named producers; ours are of the world total)
    assert top.loc["gallium", "producer"] == "CHN" and top.loc["gallium", "share"] == pytest.approx(98.4, abs=0.1)
    assert top.loc["cobalt_mine", "producer"] == "COD"
    assert top.loc["nickel_mine", "producer"] == "IDN"
    assert top.loc["lithium_mine", "producer"] == "AUS"
    he = p[p["item"] == "helium"].set_index("producer")
    assert he.loc["USA", "quantity"] == 79  # two US rows summed (60 + 19 mcm)
    assert "germanium" not in set(p["item"])  # USGS publishes no country split (W/NA)
    assert not p.attrs["skipped_countries"]
    assert {"bauxite", "rare_earths_mine", "tungsten_mine", "silicon_metal", "copper_refined"} <= set(p["item"])
    assert p.loc[p["item"] == "rare_earths_mine", "unit"].eq("t_REO").all()


def test_real_tidy_file_matches_raw_files(shared_data: Path) -> None:
    d = shared_data / "usgs-mcs2024-world"
    raw = usgs.run([d / "world"])["production"]
    tidy = usgs.run([d / "mcs2024_world_tidy_tech.csv"])["production"]
    key = ["item", "producer", "year"]
    m = raw.merge(tidy, on=key, suffixes=("_raw", "_tidy"))
    assert len(m) == len(raw) == len(tidy)
    assert (m["quantity_raw"] - m["quantity_tidy"]).abs().max() < 1e-6


def test_all_imports_unmapped_commodities_under_slug_ids(shared_data: Path) -> None:
    world = shared_data / "usgs-mcs2024-world" / "world"
    out = usgs.run([world / "MCS2024-bismu_world.csv", world / "mcs2024-galli_world.csv"], all=True)
    assert {"bismuth", "gallium"} == set(out["production"]["item"])
    assert set(out["items"]["item"]) == {"bismuth", "gallium"}
    assert usgs.run([world / "MCS2024-bismu_world.csv"])["production"].empty


@pytest.mark.parametrize(("text", "row", "column"), [
    ("Source,Country,Type,Prod_t_2022\nMCS2024,China,x,12abc\n", 2, "Prod_t_2022"),
    ("Source,Country,Type,Prod_t_2022\nMCS2024,China,x,1\nMCS2024,Chile,x,-5\n", 3, "Prod_t_2022"),
    ("Source,Nation,Type,Prod_t_2022\nMCS2024,China,x,1\n", 1, "Country"),
    ("Source,Country,Type,Production\nMCS2024,China,x,1\n", 1, None),
    ("Source,Country,Type,Prod_t_2022\nMCS2024,,x,1\n", 2, "Country"),
])
def test_malformed_files_name_row_and_column(tmp_path: Path, text: str, row: int, column: str | None) -> None:
    f = tmp_path / "mcs2024-galli_world.csv"
    f.write_text(text)
    with pytest.raises(InputError) as e:
        usgs.run([f])
    assert e.value.file == f.name and e.value.row == row and e.value.column == column


def test_file_name_must_name_the_commodity(tmp_path: Path) -> None:
    f = tmp_path / "gallium.csv"
    f.write_text("Source,Country,Type,Prod_t_2022\nMCS2024,China,x,1\n")
    with pytest.raises(InputError, match="commodity from the file name"):
        usgs.run([f])


def test_unknown_country_strict_and_reported(tmp_path: Path) -> None:
    f = tmp_path / "mcs2024-galli_world.csv"
    f.write_text("Source,Country,Type,Prod_kg_2022\nMCS2024,China,x,10\nMCS2024,Atlantis,x,5\n")
    p = usgs.run([f])["production"]
    assert p.attrs["skipped_countries"] == ["mcs2024-galli_world.csv row 3: Atlantis"]
    with pytest.raises(InputError) as e:
        usgs.run([f], strict=True)
    assert e.value.row == 3 and e.value.column == "Country"


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        usgs.run([tmp_path / "mcs2024-galli_world.csv"])
    (tmp_path / "mcs2024-galli_world.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        usgs.run([tmp_path / "mcs2024-galli_world.csv"])


HEADER = "Source,Country,Type,Prod_kg_2022,Prod_kg_est_2023,Prod_notes\n"
cell = st.one_of(st.text(max_size=8), st.sampled_from(["W", "NA", "XX", "1,000", "e5", "", "\"", "Japane",
                                                      "World total", "-3", "1e400", "Other countries"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.one_of(st.just(HEADER), st.text(max_size=60)),
       rows=st.lists(st.lists(cell, min_size=0, max_size=8), max_size=6))
def test_random_malformed_csv_gives_only_input_error(tmp_path: Path, header: str, rows: list) -> None:
    f = tmp_path / "mcs2024-galli_world.csv"
    f.write_text(header + "\n".join(",".join(r) for r in rows), encoding="utf-8")
    try:
        out = usgs.run([f])
    except InputError:
        return
    assert set(out) == {"production", "items", "sources"}
