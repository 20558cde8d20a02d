"""Hand-compiled chokepoints importer -> atlas ``chokepoints`` rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from paxsilica.errors import InputError, ValidationError
from paxsilica.importers import chokepoints
from paxsilica.logistics import sea_network
from tests.conftest import require_shared

CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "chokepoints-handcompiled" / "maritime_chokepoints.csv"


def test_real_file() -> None:
    t = chokepoints.run(require_shared(CSV))
    cp = t["chokepoints"].set_index("chokepoint")
    assert len(cp) == 31
    assert cp.loc["hormuz", "searoute_passage"] == "ormuz"
    assert cp.loc["good_hope", "searoute_passage"] == "south_africa"
    assert cp.loc["taiwan_strait", "searoute_passage"] is not None
    assert cp["searoute_passage"].isna().sum() == 31 - len(chokepoints.SEAROUTE_PASSAGES)
    assert cp.loc["bab_el_mandeb", "bordering_iso3"] == "YEM;DJI;ERI"
    assert t["sources"].loc[0, "licence"] == "CC0"
    # every passage name exists in the installed searoute graph (raises otherwise)
    net = sea_network(t["chokepoints"])
    assert {c for c, h in net.how.items() if h == "passage"} == set(chokepoints.SEAROUTE_PASSAGES)


def test_bad_rows(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_text("id,name,type,lat,lon\nsuez,Suez,canal,30.5,32.3\nx,,lake,100,0\nsuez,Dup,canal,1,1\n",
                 encoding="utf-8")
    with pytest.raises(ValidationError) as e:
        chokepoints.read_chokepoints(p)
    got = {(pr.row, pr.column) for pr in e.value.problems}
    assert got == {(3, "name"), (3, "type"), (3, "lat"), (4, "id")}


def test_single_problem_and_missing_column(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_text("id,name,lat,lon\nsuez,Suez,30.5,east\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        chokepoints.read_chokepoints(p)
    assert (e.value.file, e.value.row, e.value.column) == ("c.csv", 2, "lon")
    p.write_text("id,name,lat\nsuez,Suez,30.5\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing column"):
        chokepoints.read_chokepoints(p)


def test_unknown_searoute_passage_is_reported(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_text("id,name,lat,lon,searoute_passage\nx,X,0,0,atlantis\n", encoding="utf-8")
    cp = chokepoints.read_chokepoints(p)
    with pytest.raises(InputError, match="no passage 'atlantis'"):
        sea_network(cp)
