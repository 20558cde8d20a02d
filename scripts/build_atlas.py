"""Rebuild the bundled atlas ``ai-stack`` from ``data-src/`` and the public files in ``../shared/data``.

Usage::

    python scripts/build_atlas.py            # writes src/paxsilica/data/ai-stack/*.csv
    python scripts/build_atlas.py --check    # build, validate, print a summary, write nothing
    python scripts/build_atlas.py --transit-ports   # also add transit ports of landlocked countries

Inputs
------
- ``data-src/curated/*.csv``: hand-curated tables (items, sources, recipes, groups, firms, production
  of the non-mineral stages, stocks, the mineral-to-dataset map, transit ports of landlocked
  countries, country centroids and regions).
- ``../shared/data``: USGS MCS 2024, World Mining Data 2024, WGI 2023, BACI HS92, Epoch AI,
  NGA World Port Index, chokepoints. These are read through the project's importers
  (``paxsilica.importers``), the only code that reads those formats; an importer error stops the
  build and nothing is written.

The build is deterministic: same inputs, same bytes out (rows sorted by key, fixed float rounding).
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CURATED = ROOT / "data-src" / "curated"
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "src" / "paxsilica" / "data" / "ai-stack"

sys.path.insert(0, str(ROOT / "src"))

from paxsilica.atlas import SCHEMA, TABLE_ORDER, Atlas, validate, write_atlas  # noqa: E402
from paxsilica.countries import base_countries  # noqa: E402
from paxsilica.errors import PaxsilicaError  # noqa: E402
from paxsilica.importers import IMPORTERS  # noqa: E402

LOG: list[str] = []


def log(msg: str) -> None:
    LOG.append(msg)
    print(msg, file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# helpers


def read_curated(name: str) -> pd.DataFrame:
    """Read one curated CSV with every column as text (blank cells as NA)."""
    return pd.read_csv(CURATED / name, dtype=str, keep_default_na=False, na_values=[""])


def read_curated_parts(pattern: str) -> pd.DataFrame:
    """Concatenate the curated CSVs matching ``pattern`` (sorted by name; none: an empty frame).

    Tables curated by topic (``dynamics_materials.csv``, ``dynamics_chips.csv``; ``sources_*.csv``)
    are kept in separate files so each names its own evidence.
    """
    parts = [read_curated(p.name) for p in sorted(CURATED.glob(pattern))]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def read_optional(name: str) -> pd.DataFrame:
    """A curated CSV that may be absent (an empty frame then)."""
    return read_curated(name) if (CURATED / name).exists() else pd.DataFrame()


def merge_sources(sources: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """Add source rows whose id is new (the first file that names an id wins)."""
    if extra.empty:
        return sources
    extra = extra.drop_duplicates("source")
    return pd.concat([sources, extra[~extra["source"].isin(sources["source"])]], ignore_index=True)


def override_rows(base: pd.DataFrame, extra: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Rows of ``extra`` replace rows of ``base`` with the same key and add the others."""
    if extra.empty:
        return base
    k_base = base[key].astype(str).agg("|".join, axis=1)
    k_extra = set(extra[key].astype(str).agg("|".join, axis=1))
    return pd.concat([base[~k_base.isin(k_extra)], extra], ignore_index=True)


def run_importer(kind: str, paths, **options) -> dict[str, pd.DataFrame]:
    """Run the project importer ``kind`` (``paxsilica.importers``) on ``paths``.

    The importers are the only code that reads the publishers' formats; a failure is a
    ``PaxsilicaError`` that stops the build (nothing is written).
    """
    return IMPORTERS[kind].run(paths, **options)


def shares_from_quantities(df: pd.DataFrame, world: float | None) -> pd.DataFrame:
    """Add ``share`` (percent of world) and, where named producers fall short, a ROW row.

    ``df`` has columns producer, quantity (one row per country). ``world`` is the publisher's world
    total when it has one, else None (shares of the named producers' sum).
    """
    df = df[df["quantity"].notna()].copy()
    named = float(df["quantity"].sum())
    total = named if world is None or not np.isfinite(world) or world < named else float(world)
    if total <= 0:
        return df.iloc[0:0].assign(share=pd.Series(dtype=float))
    df["share"] = 100.0 * df["quantity"] / total
    rest = total - named
    if rest > 0 and 100.0 * rest / total > 0.05:
        df = pd.concat([df, pd.DataFrame([{"producer": "ROW", "quantity": rest,
                                           "share": 100.0 * rest / total}])], ignore_index=True)
    return df


# ---------------------------------------------------------------------------------------------
# countries


def build_countries() -> pd.DataFrame:
    """Every ISO country (``paxsilica.countries.base_countries``) with position, region and WGI."""
    base = base_countries(with_iso2=True)[["iso3", "name", "iso2"]]
    cent = read_curated("country_centroids_dspl.csv").rename(columns={"country": "iso2"})
    cent["lat"] = pd.to_numeric(cent["latitude"])
    cent["lon"] = pd.to_numeric(cent["longitude"])
    base = base.merge(cent[["iso2", "lat", "lon"]], on="iso2", how="left")
    reg = read_curated("country_regions_wb.csv")
    base = base.merge(reg, on="iso3", how="left")

    out = base.merge(wgi_table(), on="iso3", how="left")
    out["source"] = "wgi2023"
    out.loc[out["wgi_year"].isna(), "source"] = pd.NA
    cols = SCHEMA["countries"].column_names
    for c in cols:
        if c not in out.columns:
            out[c] = pd.NA
    return out[cols].sort_values("iso3").reset_index(drop=True)


def wgi_table() -> pd.DataFrame:
    """WGI 2022 estimates, their mean and governance risk per iso3 (the ``wgi`` importer)."""
    c = run_importer("wgi", [SHARED / "wgi-2023-update" / "wgi_2022_wide.csv"])["countries"]
    keep = ["iso3", "wgi_year"] + [f"wgi_{d}" for d in ("va", "pv", "ge", "rq", "rl", "cc")]
    keep += ["wgi_mean", "governance_risk"]
    c = c[[k for k in keep if k in c.columns]].copy()
    log(f"countries: WGI from the wgi importer ({len(c)} economies)")
    return c


# ---------------------------------------------------------------------------------------------
# minerals


def mineral_production() -> pd.DataFrame:
    """Production rows of the mineral items, each from the dataset chosen in minerals.csv."""
    m = read_curated("minerals.csv")
    usgs_items = set(m.loc[m["dataset"] == "usgs", "item"])
    p = run_importer("usgs", [SHARED / "usgs-mcs2024-world" / "world"], year=2023)["production"]
    missing = usgs_items - set(p["item"])
    if missing:
        raise PaxsilicaError(f"usgs importer returned no rows for {sorted(missing)}")
    frames = [p[p["item"].isin(usgs_items)]]
    log(f"production: {len(frames[0])} USGS rows for {len(usgs_items)} items from the usgs importer")
    wmd = run_importer("wmd", [SHARED / "wmd-2024" / "wmd_production_2018_2024.csv"])["production"]
    for item in m.loc[m["dataset"] == "wmd", "item"]:
        q = wmd[wmd["item"] == item]
        if q.empty:
            raise PaxsilicaError(f"wmd importer returned no rows for {item}")
        frames.append(q)
    out = pd.concat(frames, ignore_index=True)
    log(f"production: {len(out)} mineral rows for {out['item'].nunique()} items")
    return out


def eol_rir(items: pd.DataFrame) -> pd.Series:
    """EU 2023 EoL-RIR per item, by the WMD sheet named in minerals.csv (``eol_sheet``)."""
    from paxsilica.importers.wmd import read_mapping

    m = read_curated("minerals.csv")
    t = run_importer("wmd", [SHARED / "wmd-2024" / "mineral_hs_eolrir.csv"])
    mapping = read_mapping()
    sheet_item = dict(zip(mapping["mineral"], mapping["item"], strict=True))
    rate = dict(zip(t["items"]["item"], t["items"]["eol_rir"], strict=True))
    by_item = {r.item: rate.get(sheet_item.get(r.eol_sheet)) for r in m.itertuples(index=False)
               if isinstance(r.eol_sheet, str)}
    return items["item"].map(by_item)


# ---------------------------------------------------------------------------------------------
# compute (Epoch AI)


@functools.cache
def epoch_tables() -> dict[str, pd.DataFrame]:
    """Epoch AI clusters and data centres through the ``epoch`` importer."""
    d = SHARED / "epoch-ai-compute"
    t = run_importer("epoch", [d / "gpu_clusters.csv", d / "data_centers.csv"])
    log(f"production: {len(t['production'])} compute rows from the epoch importer")
    return t


OWNER_FIRMS = {"Amazon": "amazon", "Google Cloud": "google", "Meta": "meta", "Microsoft": "microsoft",
               "Oracle": "oracle", "xAI": "xai", "Alibaba": "alibaba", "G42": "g42",
               "Coreweave": "coreweave"}
"""Epoch owner names -> atlas firm ids (the firms table lists them)."""


def epoch_facilities() -> pd.DataFrame:
    """The frontier AI data centres of Epoch AI as ``facilities`` rows, owners linked to firms."""
    f = epoch_tables()["facilities"].copy()
    owner = f["note"].astype(str).str.extract(r"owner: ([^#;]+)")[0].str.strip()
    f["firm"] = f["firm"].fillna(owner.map(OWNER_FIRMS))
    log(f"facilities: {len(f)} frontier AI data centres (epoch importer)")
    return f


# ---------------------------------------------------------------------------------------------
# trade (BACI)


def trade_table(items: pd.DataFrame, countries_iso3) -> pd.DataFrame:
    """BACI flows of the atlas items (the ``baci`` importer), latest year, known countries only."""
    base = SHARED / "baci-hs92-minerals"
    t = run_importer("baci", [base / "baci_hs92_2020_2024.csv.gz", base / "country_codes.csv"])["trade"]
    known_items = set(items["item"])
    unknown = sorted(set(t["item"]) - known_items)
    if unknown:
        log(f"trade: items from the baci mapping not in the atlas, left out: {unknown}")
    known = set(countries_iso3)
    t = t[t["item"].isin(known_items) & t["exporter"].isin(known) & t["importer"].isin(known)]
    t = t.assign(source="baci_hs92_v202401b")
    log(f"trade: {len(t)} flows for {t['item'].nunique()} items, year {int(t['year'].max())} (baci importer)")
    return t


def lng_production(trade: pd.DataFrame) -> pd.DataFrame:
    t = trade[trade["item"] == "lng"]
    q = t.groupby("exporter", as_index=False)["quantity"].sum().rename(
        columns={"exporter": "producer"})
    q = shares_from_quantities(q[q["quantity"] > 0], None)
    q["item"] = "lng"
    q["year"] = int(t["year"].max())
    q["unit"] = pd.NA
    q["estimated"] = False
    q["source"] = "baci_lng_exports"
    q["producer_type"] = "country"
    q["country"] = q["producer"]
    q["note"] = "share of world LNG exports (HS 271111, tonnes)"
    return q


# ---------------------------------------------------------------------------------------------
# ports, transit ports and chokepoints

WPI_FILE = SHARED / "nga-world-port-index" / "wpi_slim.csv"

TRANSIT_PORTS = True
"""Emit the transit-port rows of ``transit_ports.csv`` (``--transit-ports``).

Off by default: ``paxsilica.logistics.lanes`` decides that two countries ship from one port (and
so trade overland) by comparing port ids, and a transit row is a copy of the neighbour's port
under its own id, so a landlocked country and its transit neighbour would get a zero-length sea
lane. Switch it on once lanes compares port positions (or strips the ``-ISO3`` suffix)."""


def ports_table(countries: set[str], transit: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Main ports (up to 2) of ``countries`` from the ``wpi`` importer, plus transit ports.

    With ``transit``, a country without a WPI port (landlocked) gets the rows of ``transit_ports.csv``: the
    neighbour's port, with ``iso3`` = the landlocked country (so lanes use it as that country's
    main port), a port id ``wpi<number>-<ISO3>`` (ids are unique) and the mapping's rank.
    """
    t = run_importer("wpi", [WPI_FILE], per_country=2, countries=sorted(countries))
    ports = t["ports"]
    mapping = read_curated("transit_ports.csv")
    mapping = mapping[~mapping["iso3"].isin(set(ports["iso3"])) & mapping["iso3"].isin(countries)]
    if not transit:
        mapping = mapping.iloc[0:0]
    if not mapping.empty:
        every = run_importer("wpi", [WPI_FILE], per_country=None,
                             countries=sorted(set(mapping["port_iso3"])))["ports"]
        by_id = every.set_index("port")
        rows = []
        for r in mapping.itertuples(index=False):
            pid = f"wpi{r.wpi_number}"
            if pid not in by_id.index:
                raise PaxsilicaError(f"transit_ports.csv: {pid} ({r.port_name}) is not a WPI port of {r.port_iso3}")
            w = by_id.loc[pid]
            if str(w["iso3"]) != r.port_iso3:
                raise PaxsilicaError(f"transit_ports.csv: {pid} is in {w['iso3']}, not {r.port_iso3}")
            rows.append({"port": f"{pid}-{r.iso3}", "name": w["name"], "iso3": r.iso3, "lat": w["lat"],
                         "lon": w["lon"], "unlocode": w["unlocode"], "harbor_size": w["harbor_size"],
                         "rank": int(r.rank), "source": "paxsilica_transit_ports",
                         "note": f"transit port for landlocked {r.iso3} (port in {r.port_iso3}): {r.reason}"})
        ports = pd.concat([ports, pd.DataFrame(rows)], ignore_index=True)
    no_port = sorted(countries - set(ports["iso3"]))
    log(f"ports: {len(ports)} ports for {ports['iso3'].nunique()} countries "
        f"({len(mapping)} transit rows); countries without a port: {', '.join(no_port) or 'none'}")
    return ports, t["sources"]


def chokepoints_table() -> dict[str, pd.DataFrame]:
    files = sorted((SHARED / "chokepoints-handcompiled").glob("*.csv"))
    t = run_importer("chokepoints", files)
    log(f"chokepoints: {len(t['chokepoints'])}")
    return t


# ---------------------------------------------------------------------------------------------
# main


def build(transit_ports: bool = TRANSIT_PORTS) -> Atlas:
    """The atlas from ``data-src`` and the shared public files (see the module docstring)."""
    items = read_curated("items.csv")
    items["eol_rir"] = eol_rir(items)
    items["source"] = np.where(items["eol_rir"].notna(), "eu_crm2023", None)

    sources = merge_sources(read_curated("sources.csv"), read_curated_parts("sources_*.csv"))
    countries = build_countries()

    prod = pd.concat([
        override_rows(read_curated("production.csv"), read_optional("production_more.csv"),
                      ["item", "producer", "year"]),
        mineral_production(),
        epoch_tables()["production"],
    ], ignore_index=True)
    trade = trade_table(items, countries["iso3"])
    prod = pd.concat([prod, lng_production(trade)], ignore_index=True)

    # ports for every country that produces or trades (lanes need both ends)
    producers = set(prod.loc[prod["producer_type"] == "country", "producer"].dropna())
    traders = set(trade["exporter"]) | set(trade["importer"])
    ports, port_sources = ports_table(producers | traders, transit=transit_ports)
    choke = chokepoints_table()
    for s in (port_sources, choke["sources"]):
        sources = pd.concat([sources, s[~s["source"].isin(sources["source"])]], ignore_index=True)

    tables = {
        "sources": sources,
        "countries": countries,
        "groups": read_curated("groups.csv"),
        "items": items,
        "production": prod,
        "recipes": read_curated("recipes.csv"),
        "trade": trade,
        "firms": override_rows(read_curated("firms.csv"), read_optional("firms_more.csv"), ["firm"]),
        "facilities": epoch_facilities(),
        "ports": ports,
        "chokepoints": choke["chokepoints"],
        "stocks": read_curated("stocks.csv"),
        "dynamics": read_curated_parts("dynamics_*.csv"),
        "power_mix": read_optional("power_mix.csv"),
        "sourcing": read_optional("sourcing.csv"),
        "restrictions": read_optional("restrictions.csv"),
    }
    return Atlas.from_frames(finalize(tables))


def finalize(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Schema column order, sorted rows, rounded floats: byte-stable output."""
    out = {}
    for name, df in tables.items():
        t = SCHEMA[name]
        df = df.copy()
        for c in t.columns:
            if c.name not in df.columns:
                df[c.name] = pd.NA
            if c.dtype == "float":
                df[c.name] = pd.to_numeric(df[c.name], errors="coerce").round(6)
        df = df[t.column_names]
        df = df.sort_values(list(t.key), kind="stable").reset_index(drop=True)
        out[name] = df
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="build and validate only; write nothing")
    ap.add_argument("--out", type=Path, default=OUT, help="output folder (default: the bundled atlas)")
    ap.add_argument("--transit-ports", action="store_true",
                    help="add transit-port rows for landlocked countries (see TRANSIT_PORTS)")
    args = ap.parse_args(argv)
    try:
        atlas = build(transit_ports=TRANSIT_PORTS or args.transit_ports)
    except PaxsilicaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    problems = validate(atlas)
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    counts = {name: len(atlas[name]) for name in TABLE_ORDER}
    print("rows: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    print(f"problems: {len(problems)}")
    if problems:
        return 1
    if not args.check:
        write_atlas(atlas, args.out, format="csv")
        print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
