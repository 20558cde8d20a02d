"""Epoch AI importer: clusters counted once (duplicates, superseded phases), data-centre facilities."""

from __future__ import annotations

from pathlib import Path

import pytest

from paxsilica.errors import InputError
from paxsilica.importers import IMPORTERS, epoch

FIX = Path(__file__).parent / "fixtures" / "importers"


def test_fixture_cluster_rule_and_shares() -> None:
    out = epoch.run([FIX / "epoch_gpu_clusters.csv"])
    p = out["production"]
    h = p[p["item"] == "gpu_cluster_capacity"].set_index("producer")
    # counted: Colossus Phase 2 (Phase 1 superseded by it), Beijing, the country-less cluster,
    # Euro Phase 1 (superseded only by a *planned* phase); not the duplicate, not planned rows
    assert sorted(p.attrs["counted"]) == ["Beijing cluster", "Colossus Phase 2", "Euro Phase 1", "Somewhere cluster"]
    assert h.loc["USA", "quantity"] == 200_000 and h.loc["USA", "share"] == pytest.approx(50.0)
    assert h.loc["CHN", "share"] == pytest.approx(12.5) and h.loc["FRA", "share"] == pytest.approx(25.0)
    assert h.loc["ROW", "share"] == pytest.approx(12.5) and h.loc["ROW", "producer_type"] == "rest_of_world"
    assert (h["unit"] == "h100e").all() and (h["year"] == 2025).all()
    mw = p[p["item"] == "ai_datacenter_capacity"].set_index("producer")
    assert "CHN" not in mw.index  # no power given
    assert mw.loc["USA", "quantity"] == 300 and mw.loc["USA", "share"] == pytest.approx(100 * 300 / 450)
    assert set(out["sources"]["source"]) == {"epoch_gpu_clusters"}


def test_options_year_and_include_superseded() -> None:
    p = IMPORTERS["epoch"].run([FIX / "epoch_gpu_clusters.csv"], year="2024", include_superseded="true")["production"]
    h = p[p["item"] == "gpu_cluster_capacity"].set_index("producer")
    assert h.loc["USA", "quantity"] == 300_000 and (h["year"] == 2024).all()


def test_without_epoch_flag_column_uses_duplicate_and_certainty(tmp_path: Path) -> None:
    f = tmp_path / "gpu_clusters.csv"
    f.write_text("Name,Status,Certainty,H100 equivalents,Country,First Operational Date,Possible Duplicate\n"
                 "a,Existing,Confirmed,10,Japan,2024-01-01,\nb,Existing,Confirmed,5,Japan,2024-01-01,True\n"
                 "c,Existing,Unlikely,7,Japan,2024-01-01,\n")
    h = epoch.run([f])["production"]
    assert h.loc[h["item"] == "gpu_cluster_capacity", "quantity"].tolist() == [10.0]


def test_data_centers_to_facilities() -> None:
    out = epoch.run([FIX / "epoch_data_centers.csv"])
    f = out["facilities"].set_index("facility")
    assert list(f.index) == ["epoch_test_memphis_tennessee", "epoch_test_zhangbei_hebei"]
    m = f.loc["epoch_test_memphis_tennessee"]
    assert m["country"] == "USA" and m["lat"] == pytest.approx(35 + 3 / 60 + 35 / 3600)
    assert m["lon"] == pytest.approx(-(90 + 9 / 60 + 23 / 3600)) and m["capacity"] == 498
    z = f.loc["epoch_test_zhangbei_hebei"]
    assert z["country"] == "CHN" and z["capacity"] == 339 and z["lon"] == pytest.approx(114.700452, abs=1e-6)
    assert "owner: Alibaba #confident" in z["note"]
    assert out["facilities"].attrs["skipped_facilities"][0].startswith("Test Nowhere")
    with pytest.raises(InputError) as e:
        epoch.run([FIX / "epoch_data_centers.csv"], strict=True)
    assert e.value.row == 4 and e.value.column == "Address"


@pytest.mark.parametrize(("name", "text", "row", "column"), [
    ("gpu_clusters.csv", "Name,Status,H100 equivalents,Country\na,Existing,many,China\n", 2, "H100 equivalents"),
    ("gpu_clusters.csv", "Name,Status,H100 equivalents\na,Existing,1\n", 1, "Country"),
    ("data_centers.csv", "Handle,Latitude,Longitude,Address\nx,north,1,\"a, TX 75001\"\n", 2, "Latitude"),
    ("whatever.csv", "a,b\n1,2\n", 1, None),
])
def test_malformed(tmp_path: Path, name: str, text: str, row: int, column: str | None) -> None:
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(InputError) as e:
        epoch.run([f], year=2024)
    assert e.value.file == name and e.value.row == row and e.value.column == column


def test_real_files(shared_data: Path) -> None:
    d = shared_data / "epoch-ai-compute"
    out = epoch.run([d / "gpu_clusters.csv", d / "data_centers.csv"])
    p = out["production"]
    h = p[p["item"] == "gpu_cluster_capacity"].set_index("producer")
    assert h["share"].sum() == pytest.approx(100.0)
    assert h["share"].idxmax() == "USA" and 60 < h.loc["USA", "share"] < 85
    assert not p.attrs["skipped_countries"]
    assert "xAI Colossus Memphis Phase 1" not in p.attrs["counted"]  # superseded by Phase 2
    f = out["facilities"]
    assert len(f) == 17 and set(f["country"]) == {"USA", "CHN", "ARE"}
    assert f["lat"].between(-90, 90).all() and f["lon"].between(-180, 180).all()
