"""Reading and writing atlases: round trips keep the version; bad files give clean errors."""

from __future__ import annotations

import string
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paxsilica.atlas import Atlas, read_atlas, to_networkx, validate, write_atlas
from paxsilica.errors import InputError


@pytest.mark.parametrize("fmt,name", [("csv", "out"), ("xlsx", "out.xlsx"), ("parquet", "outpq")])
def test_round_trip_keeps_version(tiny_atlas: Atlas, tmp_path: Path, fmt: str, name: str) -> None:
    path = write_atlas(tiny_atlas, tmp_path / name, fmt)
    back = read_atlas(path)
    assert back.version == tiny_atlas.version
    assert validate(back) == []
    pd.testing.assert_frame_equal(back["production"], tiny_atlas["production"])


def test_version_ignores_row_order_but_not_content(tiny_atlas: Atlas) -> None:
    shuffled = tiny_atlas.replace(production=tiny_atlas["production"].iloc[::-1])
    assert shuffled.version == tiny_atlas.version
    changed = tiny_atlas["production"].copy()
    changed.loc[0, "share"] = 59.0
    assert tiny_atlas.replace(production=changed).version != tiny_atlas.version


def test_json_and_graphml_export(tiny_atlas: Atlas, tmp_path: Path) -> None:
    import json

    doc = json.loads(write_atlas(tiny_atlas, tmp_path / "a.json", "json").read_text())
    assert doc["version"] == tiny_atlas.version and len(doc["tables"]["production"]) == 4
    g = nx.read_graphml(write_atlas(tiny_atlas, tmp_path / "a.graphml", "graphml"))
    assert g.has_edge("ore", "chip") and g.has_edge("country:CHN", "ore")
    assert to_networkx(tiny_atlas).edges["country:CHN", "ore"]["share"] == 60.0


def test_failed_write_leaves_existing_atlas_intact(tiny_atlas: Atlas, tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "atlas"
    write_atlas(tiny_atlas, target, "csv")
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def boom(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OSError):
        write_atlas(tiny_atlas.replace(stocks=pd.DataFrame({"holder": ["USA"], "item": ["ore"]})), target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["atlas"]


def test_csv_problems_name_file_and_line(tiny_atlas: Atlas, tmp_path: Path) -> None:
    d = write_atlas(tiny_atlas, tmp_path / "a", "csv")
    text = (d / "production.csv").read_text().splitlines()
    text[2] = text[2].replace(",40.0,", ",forty,")
    (d / "production.csv").write_text("\n".join(text) + "\n")
    (p,) = [p for p in validate(read_atlas(d)) if "not a number" in p.reason]
    assert (Path(p.file).name, p.row, p.column) == ("production.csv", 3, "share")


def test_malformed_csv_line_is_reported(tiny_atlas: Atlas, tmp_path: Path) -> None:
    d = write_atlas(tiny_atlas, tmp_path / "a", "csv")
    with (d / "items.csv").open("a") as f:
        f.write("x,y,raw_material,t,a,b,c,d,e,f,g,h,i,j,k,l\n")
    probs = validate(read_atlas(d))
    (p,) = [p for p in probs if "malformed CSV" in p.reason]
    assert Path(p.file).name == "items.csv" and p.row == 5


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_atlas(tmp_path / "nope")
    with pytest.raises(InputError, match="no atlas tables"):
        read_atlas(tmp_path)


def test_non_utf8_file_is_a_clean_problem(tiny_atlas: Atlas, tmp_path: Path) -> None:
    d = write_atlas(tiny_atlas, tmp_path / "a", "csv")
    (d / "sources.csv").write_bytes(b"source,publisher\n\xff\xfe,x\n")
    probs = validate(read_atlas(d))
    assert any("not UTF-8" in p.reason and p.file.endswith("sources.csv") for p in probs)


_cell = st.text(alphabet=string.printable + "éü€\u00a0", max_size=12)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    from tests.conftest import tiny_frames

    return write_atlas(Atlas.from_frames(tiny_frames()), tmp_path_factory.mktemp("fuzz") / "a", "csv")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.lists(st.sampled_from(["item", "producer", "producer_type", "year", "share", "source", "x",
                                     ""]), min_size=0, max_size=7),
    rows=st.lists(st.lists(_cell, max_size=8), max_size=6),
    raw=st.binary(max_size=40),
    use_raw=st.booleans(),
)
def test_random_malformed_csv_gives_only_clean_problems(fuzz_dir, header, rows, raw, use_raw) -> None:
    d = fuzz_dir  # each example overwrites production.csv in the same folder
    if use_raw:
        (d / "production.csv").write_bytes(raw)
    else:
        lines = [",".join(header)] + [",".join(r) for r in rows]
        (d / "production.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    atlas = read_atlas(d)  # must not raise
    for p in validate(atlas):
        assert p.file and p.reason
        assert p.row is None or p.row >= 1
