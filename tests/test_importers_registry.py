"""The importer registry: every kind, its options, schema-shaped output, only InputError on junk."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paxsilica.atlas import SCHEMA, Atlas
from paxsilica.errors import InputError, NotFoundError
from paxsilica.importers import IMPORTERS, Importer, Option, importer

FIX = Path(__file__).parent / "fixtures" / "importers"

FIXTURES: dict[str, tuple[list[Path], dict]] = {
    "usgs": ([FIX / "mcs2024-galli_world.csv", FIX / "mcs2024-fluor_world.csv"], {}),
    "wmd": ([FIX / "wmd_long.csv", FIX / "wmd_eolrir.csv"], {}),
    "wgi": ([FIX / "wgi_2022_wide.csv"], {}),
    "baci": ([FIX / "baci_small.csv.gz", FIX / "baci_country_codes.csv", FIX / "baci_product_codes.csv"], {}),
    "epoch": ([FIX / "epoch_gpu_clusters.csv", FIX / "epoch_data_centers.csv"], {}),
    "cset": ([FIX / "cset"], {}),
    "firms": ([FIX / "firm_suppliers.csv"], {}),
}


def test_registry_lists_every_importer_with_typed_options() -> None:
    assert set(FIXTURES) | {"wpi", "chokepoints"} == set(IMPORTERS)
    for kind, imp in IMPORTERS.items():
        assert isinstance(imp, Importer) and imp.kind == kind and imp.description
        for o in imp.options:
            assert isinstance(o, Option) and o.type in (int, str, bool, float, list) and o.help
    assert importer("usgs") is IMPORTERS["usgs"]
    with pytest.raises(NotFoundError):
        importer("nope")


@pytest.mark.parametrize("kind", sorted(FIXTURES))
def test_fixture_output_is_in_schema_columns(kind: str) -> None:
    paths, opts = FIXTURES[kind]
    out = IMPORTERS[kind].run(paths, **opts)
    assert "sources" in out and len(out["sources"]) >= 1
    for name, df in out.items():
        if name == "links":
            continue
        assert name in SCHEMA
        assert list(df.columns) == SCHEMA[name].column_names
    Atlas.from_frames({k: v for k, v in out.items() if k in SCHEMA})
    prod = out.get("production", pd.DataFrame({"source": []}))
    assert prod["source"].isin(out["sources"]["source"]).all()


@pytest.mark.parametrize("kind", sorted(FIXTURES))
def test_unknown_option_is_an_input_error(kind: str) -> None:
    with pytest.raises(InputError, match="unknown option"):
        IMPORTERS[kind].run(FIXTURES[kind][0], no_such_option="1")


@pytest.mark.parametrize("kind", sorted(FIXTURES))
def test_missing_file_is_an_input_error(kind: str, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        IMPORTERS[kind].run([tmp_path / "missing.csv"])


NAMES = {"wmd": "wmd.csv", "wgi": "wgi_2022.csv", "epoch": "gpu_clusters.csv", "firms": "suppliers.csv",
         "cset": "provision.csv"}
HEADERS = {"wmd": "mineral,country,iso3,year,value,unit,data_source", "wgi": "code,country,VA_est,PV_est",
           "epoch": "Name,Status,H100 equivalents,Country,First Operational Date,Power Capacity (MW)",
           "firms": "supplier,customer,item,amount,country", "cset": "provider_id,provided_id,share_provided,year"}
cell = st.one_of(st.text(max_size=6), st.sampled_from(["", "1", "-1", "2024", "China", "Existing", "metr. t", "1e400",
                                                       "nan", "\"", "Germanium", "W"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(NAMES)), header=st.booleans(), junk=st.text(max_size=80),
       rows=st.lists(st.lists(cell, max_size=8), max_size=5))
def test_random_text_gives_only_input_error(tmp_path: Path, kind: str, header: bool, junk: str, rows: list) -> None:
    f = tmp_path / NAMES[kind]
    body = "\n".join(",".join(r) for r in rows)
    f.write_text((HEADERS[kind] if header else junk) + "\n" + body, encoding="utf-8")
    try:
        IMPORTERS[kind].run([f], year=2024) if kind in ("wgi", "firms", "epoch") else IMPORTERS[kind].run([f])
    except InputError:
        pass


@pytest.mark.parametrize("kind", ["usgs", "baci", "wmd"])
def test_items_option_leaves_curated_items_alone(kind: str) -> None:
    paths = [p for p in FIXTURES[kind][0] if "eolrir" not in p.name]
    assert "items" in IMPORTERS[kind].run(paths)
    assert "items" not in IMPORTERS[kind].run(paths, items="false")
