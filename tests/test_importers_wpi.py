"""NGA World Port Index importer: real files (full and slim), a tiny fixture, malformed input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from paxsilica.errors import InputError, ValidationError
from paxsilica.importers import wpi
from tests.conftest import require_shared

WPI_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "nga-world-port-index"
FULL = WPI_DIR / "WPI_UpdatedPub150_full.csv"
SLIM = WPI_DIR / "wpi_slim.csv"

NAMES = {"Qatar": "QAT", "Netherlands": "NLD", "Taiwan": "TWN", "Congo (Kinshasa)": "COD"}

SLIM_HEADER = ",".join(wpi.SLIM_COLUMNS)


def _row(**kw) -> str:
    base = dict.fromkeys(wpi.SLIM_COLUMNS, "")
    base.update(kw)
    return ",".join(str(base[c]) for c in wpi.SLIM_COLUMNS)


@pytest.fixture
def fake_resolver(monkeypatch):
    """Country names resolved from a small table (independent of paxsilica.countries)."""

    def resolve(name: str) -> str | None:
        return NAMES.get(name)

    monkeypatch.setattr(wpi, "_resolver", lambda: resolve)


@pytest.fixture
def tiny_wpi(tmp_path: Path) -> Path:
    rows = [
        _row(wpi_number="48297.0", port_name="Ras Laffan", unlocode="QA RLF", country="Qatar",
             harbor_size="Medium", channel_depth_m="15.0", cargo_pier_depth_m="12.5", lat="25.91667", lon="51.58333"),
        _row(wpi_number="48290", port_name="Doha", unlocode="QADOH", country="Qatar", harbor_size="Large",
             channel_depth_m="9.4", cargo_pier_depth_m="0.0", lat="25.28", lon="51.55"),
        _row(wpi_number="31140", port_name="Rotterdam", unlocode="NL RTM", country="Netherlands",
             harbor_size="Large", channel_depth_m="11.0", cargo_pier_depth_m="6.4", lat="51.9", lon="4.48333"),
        _row(wpi_number="31060", port_name="Amsterdam", unlocode="NL AMS", country="Netherlands",
             harbor_size="Large", channel_depth_m="12.5", cargo_pier_depth_m="9.4", lat="52.4", lon="4.8"),
        _row(wpi_number="49454.5", port_name="Fraction Port", country="Atlantis", harbor_size="Large",
             lat="1", lon="2"),
        _row(wpi_number="31140", port_name="Rotterdam again", country="Netherlands", lat="51.9", lon="4.5"),
    ]
    p = tmp_path / "wpi.csv"
    p.write_text(SLIM_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return p


def test_tiny_fixture_ranks_and_ids(fake_resolver, tiny_wpi: Path) -> None:
    t = wpi.run(tiny_wpi)
    ports = t["ports"].set_index("port")
    # override: Ras Laffan is Qatar's main port although Doha is Large
    assert ports.loc["wpi48297", "rank"] == 1 and ports.loc["wpi48290", "rank"] == 2
    assert "override" in ports.loc["wpi48297", "note"]
    assert ports.loc["wpi31140", "rank"] == 1  # Rotterdam by override; Amsterdam deeper by rule
    assert ports.loc["wpi31060", "rank"] == 2
    assert ports.loc["wpi48297", "unlocode"] == "QARLF"
    assert "wpi49454.5" not in ports.index  # unresolved country is left out ...
    assert t["ports"].attrs["unresolved_countries"] == ["Atlantis"]  # ... and reported
    assert t["ports"].attrs["duplicate_numbers_dropped"] == ["31140 Rotterdam again"]
    assert t["sources"].loc[0, "source"] == "nga_wpi"
    assert set(t["ports"]["source"]) == {"nga_wpi"}


def test_rule_without_overrides(fake_resolver, tiny_wpi: Path) -> None:
    ports = wpi.run(tiny_wpi, overrides=False)["ports"].set_index("port")
    assert ports.loc["wpi48290", "rank"] == 1  # Large before Medium
    assert ports.loc["wpi31060", "rank"] == 1  # both Large: Amsterdam's limiting depth 9.4 > 6.4
    assert "harbour size Large" in ports.loc["wpi31060", "note"]


def test_per_country_and_country_filter(fake_resolver, tiny_wpi: Path) -> None:
    one = wpi.run(tiny_wpi, per_country=1)["ports"]
    assert sorted(one["name"]) == ["Ras Laffan", "Rotterdam"]
    q = wpi.run(tiny_wpi, countries=["qat"])["ports"]
    assert set(q["iso3"]) == {"QAT"}
    assert set(wpi.run(tiny_wpi, countries="QAT, NLD")["ports"]["iso3"]) == {"QAT", "NLD"}


def test_strict_raises_on_unresolved(fake_resolver, tiny_wpi: Path) -> None:
    with pytest.raises(InputError, match="Atlantis"):
        wpi.run(tiny_wpi, strict=True)


def test_unknown_option(fake_resolver, tiny_wpi: Path) -> None:
    with pytest.raises(InputError, match="unknown option"):
        wpi.run(tiny_wpi, per_contry=2)


def test_malformed_cell_names_file_row_column(fake_resolver, tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(SLIM_HEADER + "\n" + _row(wpi_number="1", port_name="A", country="Qatar", lat="25", lon="51") + "\n"
                 + _row(wpi_number="2", port_name="B", country="Qatar", lat="north", lon="51") + "\n",
                 encoding="utf-8")
    with pytest.raises(InputError) as e:
        wpi.read_wpi(p)
    assert (e.value.file, e.value.row, e.value.column) == ("bad.csv", 3, "lat")
    assert "bad.csv, row 3, column 'lat'" in str(e.value)


def test_many_problems_at_once(fake_resolver, tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(SLIM_HEADER + "\n" + _row(wpi_number="x", port_name="", country="Qatar", lat="95", lon="51",
                                           harbor_size="Huge") + "\n", encoding="utf-8")
    with pytest.raises(ValidationError) as e:
        wpi.read_wpi(p)
    cols = {pr.column for pr in e.value.problems}
    assert cols == {"wpi_number", "port_name", "lat", "harbor_size"}
    assert all(pr.row == 2 and pr.file == "bad.csv" for pr in e.value.problems)


def test_full_format_errors_use_nga_column_names(fake_resolver, tmp_path: Path) -> None:
    cols = list(wpi.FULL_TO_SLIM)
    vals = dict.fromkeys(cols, "")
    vals.update({"World Port Index Number": "1", "Main Port Name": "A", "Country Code": "Qatar",
                 "Latitude": "25", "Longitude": "999"})
    p = tmp_path / "full.csv"
    p.write_text("\ufeff" + ",".join(cols) + "\n" + ",".join(vals[c] for c in cols) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        wpi.read_wpi(p)
    assert (e.value.row, e.value.column) == (2, "Longitude")


def test_not_a_wpi_file(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        wpi.read_wpi(p)
    assert e.value.row == 1 and "not a World Port Index file" in str(e.value)
    with pytest.raises(InputError, match="file not found"):
        wpi.read_wpi(tmp_path / "missing.csv")


def test_override_table_is_well_formed() -> None:
    o = wpi.read_main_port_overrides()
    assert o["reason"].str.len().gt(10).all()
    assert not o.duplicated(["iso3", "rank"]).any()
    assert (o.groupby("iso3")["rank"].min() == 1).all()


def test_bad_override_table(tmp_path: Path) -> None:
    p = tmp_path / "o.csv"
    p.write_text("iso3,wpi_number,port_name,rank,reason\nQAT,48297,Ras Laffan,one,LNG\nNLD,31140,R,1,\n",
                 encoding="utf-8")
    with pytest.raises(ValidationError) as e:
        wpi.read_main_port_overrides(p)
    assert {(pr.row, pr.column) for pr in e.value.problems} == {(2, "rank"), (3, "reason")}


# --- the real files (need paxsilica.countries) ---------------------------------------------------

@pytest.fixture(scope="module")
def real_ports() -> dict[str, pd.DataFrame]:
    require_shared(FULL)
    return {"full": wpi.run(FULL, per_country=None)["ports"], "slim": wpi.run(SLIM, per_country=None)["ports"]}


def test_real_full_file(real_ports) -> None:
    p = real_ports["full"]
    assert len(p) > 3600  # 3803 ports less duplicates and unresolvable territories
    main = p[p["rank"] == 1].set_index("iso3")
    assert main.loc["QAT", "name"] == "Ras Laffan"
    assert main.loc["NLD", "name"] == "Rotterdam"
    assert main.loc["TWN", "name"] == "Kao-Hsiung"
    assert main.loc["KOR", "name"] == "Busan"
    assert main.loc["JPN", "name"] == "Yokohama Ko"
    assert p["port"].is_unique and p["port"].str.match(r"^wpi\d+(\.\d+)?$").all()
    assert "wpi49454.5" in set(p["port"])  # NGA's fractional number kept as written
    assert p["lat"].between(-90, 90).all() and p["lon"].between(-180, 180).all()
    assert p["unlocode"].dropna().str.fullmatch(r"[A-Z]{2}[A-Z0-9]{3}").all()
    # WPI's country names that matter for the AI stack must resolve (cobalt: COD; neon: UKR ...)
    assert {"COD", "MMR", "TWN", "KOR", "RUS", "VNM", "IRN", "UKR", "CIV"} <= set(p["iso3"])
    assert len(p.attrs["unresolved_countries"]) <= 15, p.attrs["unresolved_countries"]
    assert (p.groupby("iso3")["rank"].min() == 1).all()


def test_real_slim_file_agrees_with_full(real_ports) -> None:
    full = real_ports["full"].set_index("port")
    slim = real_ports["slim"].set_index("port")
    common = full.index.intersection(slim.index)
    assert len(common) > 3600
    pd.testing.assert_series_equal(full.loc[common, "iso3"], slim.loc[common, "iso3"])
    assert (full.loc[common, "lat"] - slim.loc[common, "lat"]).abs().max() < 1e-5  # slim rounds to 5 d.p.


def test_real_default_keeps_three_per_country(real_ports) -> None:
    p = wpi.run(SLIM)["ports"]
    assert p.groupby("iso3").size().max() <= 3


def test_injected_resolver(tiny_wpi: Path) -> None:
    t = wpi.run(tiny_wpi, resolve={"Qatar": "QAT"}.get)
    assert set(t["ports"]["iso3"]) == {"QAT"}
    assert t["ports"].attrs["unresolved_countries"] == ["Atlantis", "Netherlands"]
