"""CSET ETO importer (CC BY-NC: tests read ../shared/data directly and a hand-made fixture)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from paxsilica.atlas import Atlas, validate
from paxsilica.countries import base_countries
from paxsilica.errors import InputError
from paxsilica.importers import IMPORTERS, cset

FIX = Path(__file__).parent / "fixtures" / "importers" / "cset"


def test_fixture_items_shares_remainders_and_recipes() -> None:
    out = cset.run([FIX])
    items = out["items"].set_index("item")
    assert set(items.index) == {"cset_fabrication", "cset_widget_tools", "cset_widget_process", "euv_lithography"}
    assert items.loc["cset_widget_tools", "stage"] == "equipment"
    assert items.loc["cset_widget_process", "stage"] == "fabrication"
    assert "type of Widget tools" in items.loc["euv_lithography", "note"]
    p = out["production"].set_index(["item", "producer"])
    assert p.loc[("euv_lithography", "NLD"), "share"] == 100.0
    # firms: Acme 60 + Beta 30 -> OTHER 10; countries: USA 70, EUR is no country -> ROW 30
    assert p.loc[("cset_widget_tools", "acme_corp"), "country"] == "USA"
    assert p.loc[("cset_widget_tools", "OTHER"), "share"] == pytest.approx(10.0)
    assert p.loc[("cset_widget_tools", "ROW"), "share"] == pytest.approx(30.0)
    # 60 + 45 = 105 -> scaled to 100
    assert p.loc[("cset_widget_process", "NLD"), "share"] == pytest.approx(100 * 60 / 105)
    assert "scaled to 100" in p.loc[("cset_widget_process", "USA"), "note"]
    attrs = out["production"].attrs
    assert attrs["unquantified"] == ["Acme Corp -> Widget process"]
    assert attrs["not_countries"] == ["EUR -> Widget tools: 20 %"]
    assert out["recipes"][["item", "input", "dependent_share"]].values.tolist() == [
        ["cset_widget_process", "cset_widget_tools", 1.0]]
    assert out["recipes"]["rationale"].item() == "CSET sequence: Widget tools goes into Widget process"
    assert sorted(out["firms"]["firm"]) == ["acme_corp", "beta_ltd"]
    assert out["sources"]["licence"].item() == "CC BY-NC 4.0"


def test_options() -> None:
    out = IMPORTERS["cset"].run([FIX], firms="false", atlas_ids="false", year="2022")
    assert "firms" not in out and (out["production"]["producer_type"] != "firm").all()
    assert set(out["production"]["year"]) == {2022}
    assert "cset_euv_lithography_tools" in set(out["items"]["item"])


def test_missing_file_and_bad_rows(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="provision.csv is needed"):
        cset.run([FIX / "inputs.csv", FIX / "providers.csv"])
    bad = tmp_path / "provision.csv"
    bad.write_text("provider_name,provider_id,provided_name,provided_id,share_provided,year\n"
                   "NLD,P1,EUV lithography tools,N20,lots,2025\n")
    with pytest.raises(InputError) as e:
        cset.run([FIX / "inputs.csv", FIX / "providers.csv", bad])
    assert e.value.file == "provision.csv" and e.value.row == 2 and e.value.column == "share_provided"
    bad.write_text("provider_name,provider_id,provided_name,provided_id,share_provided,year\n"
                   "X,P99,EUV lithography tools,N20,5,2025\n")
    with pytest.raises(InputError) as e:
        cset.run([FIX / "inputs.csv", FIX / "providers.csv", bad])
    assert e.value.row == 2 and e.value.column == "provider_id"
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a CSET"):
        cset.run([other])


def test_real_files_validate_as_an_atlas(shared_data: Path) -> None:
    out = cset.run([shared_data / "cset-chip-explorer"])
    p = out["production"]
    euv = p[(p["item"] == "euv_lithography") & (p["producer_type"] == "country")]
    assert euv[["producer", "share"]].values.tolist() == [["NLD", 100.0]]
    assert len(out["items"]) == 129 and len(out["recipes"]) > 40
    g = nx.DiGraph(list(zip(out["recipes"]["input"], out["recipes"]["item"], strict=True)))
    assert nx.is_directed_acyclic_graph(g)
    atlas = Atlas.from_frames({**out, "countries": base_countries()})
    problems = [x for x in validate(atlas) if "groups" not in x.reason]
    assert problems == []
