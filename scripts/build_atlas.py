"""Rebuild the bundled atlas ``ai-stack`` from ``data-src/`` and the public files in ``../shared/data``.

Usage::

    python scripts/build_atlas.py            # writes src/paxsilica/data/ai-stack/*.csv
    python scripts/build_atlas.py --check    # build, validate, print a summary, write nothing

Inputs
------
- ``data-src/curated/*.csv``: hand-curated tables (items, sources, recipes, groups, firms, production
  of the non-mineral stages, the mineral-to-dataset map, country centroids and regions).
- ``../shared/data``: USGS MCS 2024, World Mining Data 2024, WGI 2023, BACI HS92, Epoch AI,
  NGA World Port Index, chokepoints. These are read through the project's importers
  (``paxsilica.importers``); where an importer is not available the script falls back to a small
  reader of its own (marked TODO) so that the build never depends on the order in which the
  importers land.

The build is deterministic: same inputs, same bytes out (rows sorted by key, fixed float rounding).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CURATED = ROOT / "data-src" / "curated"
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "src" / "paxsilica" / "data" / "ai-stack"

sys.path.insert(0, str(ROOT / "src"))

from paxsilica.atlas import SCHEMA, TABLE_ORDER, Atlas, validate, write_atlas  # noqa: E402
from paxsilica.errors import PaxsilicaError  # noqa: E402

LOG: list[str] = []


def log(msg: str) -> None:
    LOG.append(msg)
    print(msg, file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# helpers


def read_curated(name: str) -> pd.DataFrame:
    """Read one curated CSV with every column as text (blank cells as NA)."""
    return pd.read_csv(CURATED / name, dtype=str, keep_default_na=False, na_values=[""])


def importer(kind: str) -> Callable[..., dict[str, pd.DataFrame]] | None:
    """The ``run`` function of a project importer, or None when it is not (yet) available."""
    try:
        reg = importlib.import_module("paxsilica.importers")
        table = getattr(reg, "IMPORTERS", None)
        if table and kind in table:
            imp = table[kind]
            return imp.run if hasattr(imp, "run") else imp
    except Exception as exc:  # an importer that fails to import must not stop the build
        log(f"importer registry unavailable ({type(exc).__name__}: {exc})")
    try:
        mod = importlib.import_module(f"paxsilica.importers.{kind}")
        return mod.run
    except Exception:
        return None


def country_resolver() -> Callable[[str], str | None]:
    """``paxsilica.countries.resolve_iso3`` when present, else a pycountry-based fallback."""
    try:
        from paxsilica.countries import resolve_iso3  # type: ignore

        def res(name: str) -> str | None:
            try:
                return resolve_iso3(name)
            except Exception:
                return None

        return res
    except Exception:
        pass
    # TODO(importers): fallback until paxsilica.countries lands
    import pycountry

    alias = {
        "burma": "MMR", "congo (kinshasa)": "COD", "korea, north": "PRK", "russia": "RUS",
        "turkey": "TUR", "korea, republic of": "KOR", "korea, south": "KOR", "taiwan": "TWN",
        "korea (republic of)": "KOR", "philippines (the)": "PHL",
    }

    def res(name: str) -> str | None:
        n = str(name).strip()
        key = n.lower()
        if key.startswith("united states"):
            return "USA"
        if key in alias:
            return alias[key]
        try:
            return pycountry.countries.lookup(n).alpha_3
        except LookupError:
            return None

    return res


def shares_from_quantities(df: pd.DataFrame, world: float | None) -> pd.DataFrame:
    """Add ``share`` (percent of world) and, where named producers fall short, a ROW row.

    ``df`` has columns producer, quantity (one row per country). ``world`` is the publisher's world
    total when it has one (USGS), else None (shares of the named producers' sum).
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


def build_countries(resolve) -> pd.DataFrame:
    base = None
    try:
        from paxsilica.countries import base_countries  # type: ignore

        try:
            base = base_countries(with_iso2=True)
        except TypeError:
            base = base_countries()
        base = base.rename(columns={c: c.lower() for c in base.columns})
        if "iso3" not in base.columns:
            base = None
    except Exception:
        base = None
    if base is None:
        # TODO(importers): fallback until paxsilica.countries.base_countries lands
        import pycountry

        base = pd.DataFrame([{"iso3": c.alpha_3, "name": getattr(c, "common_name", c.name),
                              "iso2": c.alpha_2} for c in pycountry.countries])
    if "iso2" not in base.columns:
        import pycountry

        base["iso2"] = [getattr(pycountry.countries.get(alpha_3=i), "alpha_2", None) for i in base["iso3"]]
    base = base[["iso3", "name", "iso2"]].drop_duplicates("iso3")

    cent = read_curated("country_centroids_dspl.csv").rename(columns={"country": "iso2"})
    cent["lat"] = pd.to_numeric(cent["latitude"])
    cent["lon"] = pd.to_numeric(cent["longitude"])
    base = base.merge(cent[["iso2", "lat", "lon"]], on="iso2", how="left")
    reg = read_curated("country_regions_wb.csv")
    base = base.merge(reg, on="iso3", how="left")

    wgi = wgi_table(resolve)
    out = base.merge(wgi, on="iso3", how="left")
    out["source"] = "wgi2023"
    out.loc[out["wgi_year"].isna(), "source"] = pd.NA
    cols = SCHEMA["countries"].column_names
    for c in cols:
        if c not in out.columns:
            out[c] = pd.NA
    return out[cols].sort_values("iso3").reset_index(drop=True)


WGI_CODES = {"ADO": "AND", "ZAR": "COD", "ROM": "ROU", "TMP": "TLS", "WBG": "PSE", "KSV": "XKX",
             "ANT": None}


def wgi_table(resolve) -> pd.DataFrame:
    dims = ["va", "pv", "ge", "rq", "rl", "cc"]
    run = importer("wgi")
    if run is not None:
        try:
            t = run([SHARED / "wgi-2023-update" / "wgi_2022_wide.csv"])
            c = t.get("countries")
            if c is not None and {"iso3", "wgi_va"} <= set(c.columns):
                keep = ["iso3", "wgi_year"] + [f"wgi_{d}" for d in dims] + ["wgi_mean", "governance_risk"]
                c = c[[k for k in keep if k in c.columns]].copy()
                if "wgi_year" not in c.columns:
                    c["wgi_year"] = 2022
                if "governance_risk" not in c.columns:
                    c["governance_risk"] = (5 - 2 * c["wgi_mean"]).clip(0, 10)
                log(f"countries: WGI from the wgi importer ({len(c)} economies)")
                return c
        except PaxsilicaError as exc:
            log(f"wgi importer failed: {exc}; using the fallback reader")
    # TODO(importers): fallback reader of the WGI wide file
    w = pd.read_csv(SHARED / "wgi-2023-update" / "wgi_2022_wide.csv")
    w["iso3"] = [WGI_CODES.get(c, c) for c in w["code"]]
    w = w[w["iso3"].notna()]
    out = pd.DataFrame({"iso3": w["iso3"], "wgi_year": 2022})
    for d in dims:
        out[f"wgi_{d}"] = w[f"{d.upper()}_est"].to_numpy()
    out["wgi_mean"] = out[[f"wgi_{d}" for d in dims]].mean(axis=1, skipna=True)
    out.loc[out[[f"wgi_{d}" for d in dims]].notna().sum(axis=1) == 0, ["wgi_mean", "wgi_year"]] = np.nan
    out["governance_risk"] = (5 - 2 * out["wgi_mean"]).clip(0, 10)
    log(f"countries: WGI from the fallback reader ({len(out)} economies)")
    return out


# ---------------------------------------------------------------------------------------------
# minerals


def mineral_production(resolve, items: pd.DataFrame) -> pd.DataFrame:
    """Production rows of the mineral items, each from the dataset chosen in minerals.csv."""
    m = read_curated("minerals.csv")
    imported = usgs_imported(set(m.loc[m["dataset"] == "usgs", "item"]))
    usgs = usgs_long(resolve) if imported is None else None
    wmd_imp = wmd_imported()
    wmd = wmd_long(resolve) if wmd_imp is None else None
    frames = [] if imported is None else [imported]
    for r in m.itertuples(index=False):
        if r.dataset == "usgs" and imported is not None:
            continue
        if r.dataset == "usgs":
            d = usgs[(usgs["commodity"] == r.commodity) & (usgs["type"] == r.type)]
            year = int(d["year"].max())
            d = d[d["year"] == year]
            world = d.loc[d["is_world"], "value"].sum() if d["is_world"].any() else None
            named = d[~d["is_aggregate"] & d["iso3"].notna()]
            other = d[d["is_aggregate"] & ~d["is_world"]]["value"].sum()
            q = named.groupby("iso3", as_index=False)["value"].sum().rename(
                columns={"iso3": "producer", "value": "quantity"})
            q = q[q["quantity"] > 0]
            if world is None and other > 0:
                world = float(q["quantity"].sum() + other)
            q = shares_from_quantities(q, world)
            q["estimated"] = bool(d["estimated"].any())
            q["source"] = "usgs_mcs2024"
            q["note"] = "USGS MCS 2024 estimate for 2023" if bool(d["estimated"].any()) else pd.NA
        elif wmd_imp is not None:
            q = wmd_imp[wmd_imp["item"] == r.item].copy()
            if q.empty:
                raise PaxsilicaError(f"wmd importer returned no rows for {r.item} ({r.commodity})")
            frames.append(q)
            continue
        else:
            d = wmd[wmd["mineral"] == r.commodity]
            year = int(d["year"].max())
            d = d[(d["year"] == year) & d["iso3"].notna()]
            q = d.groupby("iso3", as_index=False).agg(quantity=("value", "sum"),
                                                      est=("data_source", lambda s: (s == "e").any()))
            q = q.rename(columns={"iso3": "producer"})
            q = q[q["quantity"] > 0]
            q["quantity"] = q["quantity"] * float(r.factor or 1)
            q = shares_from_quantities(q, None)
            q["estimated"] = q["est"].fillna(False).astype(bool)
            q["source"] = "wmd2024"
            q["note"] = np.where(q["estimated"], "WMD flag e (estimated)", None)
            q = q.drop(columns="est")
        q["item"] = r.item
        q["year"] = year
        q["unit"] = pd.NA
        q["producer_type"] = np.where(q["producer"] == "ROW", "rest_of_world", "country")
        q["country"] = np.where(q["producer"] == "ROW", None, q["producer"])
        q.loc[q["producer"] == "ROW", "note"] = "rest of world: publisher's world total minus named producers"
        frames.append(q)
    out = pd.concat(frames, ignore_index=True)
    log(f"production: {len(out)} mineral rows for {out['item'].nunique()} items")
    return out


def usgs_imported(items: set[str]) -> pd.DataFrame | None:
    """USGS MCS 2024 production of ``items`` for 2023 through the usgs importer (None if absent)."""
    run = importer("usgs")
    if run is None:
        return None
    try:
        t = run([SHARED / "usgs-mcs2024-world" / "world"], year=2023)
    except PaxsilicaError as exc:
        log(f"usgs importer failed: {exc}; using the fallback reader")
        return None
    p = t["production"]
    missing = items - set(p["item"])
    if missing:
        log(f"usgs importer: no rows for {sorted(missing)}")
    p = p[p["item"].isin(items)].copy()
    log(f"production: {len(p)} USGS rows for {p['item'].nunique()} items from the usgs importer")
    return p


def usgs_long(resolve) -> pd.DataFrame:
    # TODO(importers): fallback reader of the USGS MCS 2024 tidy world file, used only when the
    # usgs importer is unavailable
    t = pd.read_csv(SHARED / "usgs-mcs2024-world" / "mcs2024_world_tidy.csv")
    t = t[t["measure"] == "production"].copy()
    t["commodity"] = t["commodity_code"]
    t["is_world"] = t["country"].astype(str).str.startswith("World total")
    # USGS splits US helium into "United States (extracted from natural gas)" and "(from Cliffside Field)"
    names = t["country"].astype(str).str.replace(r"^United States \(.*\)$", "United States", regex=True)
    t["iso3"] = [None if a else resolve(c) for c, a in zip(names, t["is_aggregate"], strict=True)]
    lost = sorted(set(names[t["iso3"].isna() & ~t["is_aggregate"]]))
    if lost:
        log(f"usgs: country names not resolved (rows left out): {'; '.join(lost)}")
    t["value"] = pd.to_numeric(t["value"], errors="coerce")
    t["estimated"] = t["estimated"].astype(str).str.lower().eq("true")
    return t[["commodity", "type", "year", "iso3", "value", "is_aggregate", "is_world", "estimated"]]


def wmd_imported() -> pd.DataFrame | None:
    """World Mining Data 2024 production (latest year) through the wmd importer (None if absent)."""
    run = importer("wmd")
    if run is None:
        return None
    try:
        t = run([SHARED / "wmd-2024" / "wmd_production_2018_2024.csv"])
    except PaxsilicaError as exc:
        log(f"wmd importer unavailable ({exc}); using the fallback reader")
        return None
    log(f"production: WMD rows from the wmd importer ({len(t['production'])} rows)")
    return t["production"]


def wmd_long(resolve) -> pd.DataFrame:
    # TODO(importers): fallback reader, used only when the wmd importer is unavailable
    w = pd.read_csv(SHARED / "wmd-2024" / "wmd_production_2018_2024.csv")
    w["value"] = pd.to_numeric(w["value"], errors="coerce")
    # WMD, like UN statistics, codes Taiwan as S19 ("Other Asia, nes")
    w["iso3"] = w["iso3"].replace({"S19": "TWN"})
    return w


def eol_rir(items: pd.DataFrame) -> pd.Series:
    """EU 2023 EoL-RIR per item, by the WMD sheet named in minerals.csv (``eol_sheet``)."""
    m = read_curated("minerals.csv")
    run = importer("wmd")
    if run is not None:
        try:
            t = run([SHARED / "wmd-2024" / "mineral_hs_eolrir.csv"])
            from paxsilica.importers.wmd import read_mapping

            sheet_item = dict(zip(read_mapping()["mineral"], read_mapping()["item"], strict=True))
            rate = dict(zip(t["items"]["item"], t["items"]["eol_rir"], strict=True))
            by_item = {r.item: rate.get(sheet_item.get(r.eol_sheet)) for r in m.itertuples(index=False)
                       if isinstance(r.eol_sheet, str)}
            return items["item"].map(by_item)
        except PaxsilicaError as exc:
            log(f"wmd importer (EoL-RIR) unavailable ({exc}); using the fallback reader")
    # TODO(importers): fallback reader of the EoL-RIR table
    e = pd.read_csv(SHARED / "wmd-2024" / "mineral_hs_eolrir.csv")
    rates = dict(zip(e["Sheet_name"], pd.to_numeric(e["EoL-RIR (2023)"], errors="coerce"), strict=True))
    by_item = {r.item: rates.get(r.eol_sheet) for r in m.itertuples(index=False)
               if isinstance(r.eol_sheet, str)}
    return items["item"].map(by_item)


# ---------------------------------------------------------------------------------------------
# compute (Epoch AI)


@functools.cache
def epoch_imported() -> dict[str, pd.DataFrame] | None:
    """Epoch AI clusters and data centres through the epoch importer (None if absent)."""
    run = importer("epoch")
    if run is None:
        return None
    d = SHARED / "epoch-ai-compute"
    try:
        t = run([d / "gpu_clusters.csv", d / "data_centers.csv"])
    except PaxsilicaError as exc:
        log(f"epoch importer unavailable ({exc}); using the fallback reader")
        return None
    log(f"production: {len(t['production'])} compute rows from the epoch importer")
    return t


def epoch_production(resolve) -> pd.DataFrame:
    t = epoch_imported()
    if t is not None:
        return t["production"]
    # TODO(importers): fallback reader, used only when the epoch importer is unavailable
    g = pd.read_csv(SHARED / "epoch-ai-compute" / "gpu_clusters.csv")
    dup = g["Possible Duplicate"].astype(str).str.lower().eq("true")
    sup = g["Superseded by"].notna()
    e = g[(g["Status"] == "Existing") & ~dup & ~sup & g["Country"].notna()].copy()
    e["iso3"] = e["Country"].map(resolve)
    lost = e["iso3"].isna()
    if lost.any():
        log(f"epoch: {int(lost.sum())} clusters with unresolved country left out: "
            + "; ".join(sorted(set(e.loc[lost, "Country"].astype(str)))))
    e = e[e["iso3"].notna()]
    frames = []
    for item, col, unit in (("gpu_cluster_capacity", "H100 equivalents", None),
                            ("ai_datacenter_capacity", "Power Capacity (MW)", None)):
        v = pd.to_numeric(e[col], errors="coerce")
        q = e.assign(v=v).groupby("iso3", as_index=False)["v"].sum()
        q = q.rename(columns={"iso3": "producer", "v": "quantity"})
        q = q[q["quantity"] > 0]
        q = shares_from_quantities(q, None)
        q["item"] = item
        q["year"] = 2025
        q["unit"] = unit
        q["estimated"] = False
        q["source"] = "epoch_gpu_clusters"
        q["producer_type"] = "country"
        q["country"] = q["producer"]
        q["note"] = ("existing clusters, possible duplicates and superseded phases excluded; "
                     "clusters with a known value only")
        frames.append(q)
    return pd.concat(frames, ignore_index=True)


OWNER_FIRMS = {"Amazon": "amazon", "Google Cloud": "google", "Meta": "meta", "Microsoft": "microsoft",
               "Oracle": "oracle", "xAI": "xai", "Alibaba": "alibaba", "G42": "g42",
               "Coreweave": "coreweave"}


def dms(text: str) -> float:
    """Parse an Epoch DMS coordinate such as ``32°35'25"N`` to decimal degrees."""
    import re

    m = re.match(r"\s*(\d+)°(\d+)'([\d.]+)\"\s*([NSEW])", str(text))
    if not m:
        raise ValueError(f"not a DMS coordinate: {text!r}")
    d, mi, se, hemi = m.groups()
    v = int(d) + int(mi) / 60 + float(se) / 3600
    return -v if hemi in "SW" else v


def epoch_facilities() -> pd.DataFrame:
    """The frontier AI data centres of Epoch AI as ``facilities`` rows, owners linked to firms."""
    t = epoch_imported()
    if t is not None and "facilities" in t:
        f = t["facilities"].copy()
        owner = f["note"].astype(str).str.extract(r"owner: ([^#;]+)")[0].str.strip()
        f["firm"] = f["firm"].fillna(owner.map(OWNER_FIRMS))
        log(f"facilities: {len(f)} frontier AI data centres (epoch importer)")
        return f
    # TODO(importers): fallback reader, used only when the epoch importer is unavailable
    d = pd.read_csv(SHARED / "epoch-ai-compute" / "data_centers.csv")
    rows = []
    for r in d.to_dict("records"):
        raw_owner = r["Owner"] if isinstance(r["Owner"], str) else ""
        owner = raw_owner.split("#")[0].strip()
        addr = str(r["Address"])
        country = "CHN" if "China" in addr else "ARE" if "United Arab Emirates" in addr else "USA"
        slug = "".join(ch if ch.isalnum() else "_" for ch in str(r["Handle"]).lower())
        rows.append({
            "facility": "epoch_dc_" + "_".join(filter(None, slug.split("_"))),
            "name": r["Title"], "firm": OWNER_FIRMS.get(owner), "item": "ai_datacenter_capacity",
            "country": country, "lat": dms(r["Latitude"]), "lon": dms(r["Longitude"]),
            "capacity": pd.to_numeric(r["Current power (MW)"], errors="coerce"), "unit": "MW",
            "source": "epoch_data_centers",
            "note": f"{addr}; owner: {raw_owner}" if raw_owner else addr,
        })
    out = pd.DataFrame(rows)
    log(f"facilities: {len(out)} frontier AI data centres (Epoch AI)")
    return out


# ---------------------------------------------------------------------------------------------
# trade (BACI)


def trade_table(resolve, items: pd.DataFrame, countries_iso3) -> pd.DataFrame:
    codes: dict[str, str] = {}
    for r in items.itertuples(index=False):
        if isinstance(r.hs_codes, str):
            for c in r.hs_codes.split(";"):
                codes.setdefault(c.strip(), r.item)
    base = SHARED / "baci-hs92-minerals"
    run = importer("baci")
    if run is not None:
        try:
            t = run([base / "baci_hs92_2020_2024.csv.gz", base / "country_codes.csv"])["trade"]
            known_items = set(items["item"])
            unknown = sorted(set(t["item"]) - known_items)
            if unknown:
                log(f"trade: items from the baci mapping not in the atlas, left out: {unknown}")
            t = t[t["item"].isin(known_items) & t["exporter"].isin(set(countries_iso3))
                  & t["importer"].isin(set(countries_iso3))]
            t = t.assign(source="baci_hs92_v202401b")
            log(f"trade: {len(t)} flows for {t['item'].nunique()} items, year {int(t['year'].max())} "
                "(baci importer)")
            return t
        except PaxsilicaError as exc:
            log(f"baci importer unavailable ({exc}); using the fallback reader")
    # TODO(importers): fallback reader, used only when the baci importer is unavailable
    t = pd.read_csv(base / "baci_hs92_2020_2024.csv.gz", dtype={"k": str})
    cc = pd.read_csv(base / "country_codes.csv", dtype=str, keep_default_na=False)
    num2iso = dict(zip(cc["country_code"].astype(int), cc["country_iso3"], strict=True))
    # BACI (like UN Comtrade) reports Taiwan as "Other Asia, nes" (code 490, iso3 S19)
    num2iso = {k: ("TWN" if v == "S19" else v) for k, v in num2iso.items()}
    known = set(countries_iso3)
    year = int(t["t"].max())
    t = t[(t["t"] == year) & t["k"].isin(codes)].copy()
    t["item"] = t["k"].map(codes)
    t["exporter"] = t["i"].map(num2iso)
    t["importer"] = t["j"].map(num2iso)
    t = t[t["exporter"].isin(known) & t["importer"].isin(known)]
    out = t.groupby(["item", "exporter", "importer"], as_index=False).agg(
        quantity=("q", "sum"), value=("v", "sum"),
        hs_codes=("k", lambda s: ";".join(sorted(set(s)))))
    out["year"] = year
    out["source"] = "baci_hs92_v202401b"
    log(f"trade: {len(out)} flows for {out['item'].nunique()} items, year {year}")
    return out


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
# ports and chokepoints


def ports_and_chokepoints(producers: set[str], resolve) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    run = importer("wpi")
    try:
        importlib.import_module("paxsilica.countries")
    except ImportError:
        # TODO(importers): until paxsilica.countries lands, lend the wpi importer our resolver
        wpi_mod = importlib.import_module("paxsilica.importers.wpi")
        wpi_mod._resolver = lambda: resolve
    if run is not None:
        try:
            t = run([SHARED / "nga-world-port-index" / "wpi_slim.csv"], per_country=2,
                    countries=sorted(producers))
            out["ports"] = t["ports"]
            out["sources_ports"] = t["sources"]
            log(f"ports: {len(t['ports'])} ports for {t['ports']['iso3'].nunique()} countries")
        except Exception as exc:
            log(f"wpi importer failed ({type(exc).__name__}: {exc}); no ports")
    else:
        log("wpi importer not available; no ports")
    run = importer("chokepoints")
    if run is not None:
        try:
            f = sorted((SHARED / "chokepoints-handcompiled").glob("*.csv"))
            t = run(f)
            out["chokepoints"] = t["chokepoints"]
            out["sources_chokepoints"] = t["sources"]
            log(f"chokepoints: {len(t['chokepoints'])}")
        except Exception as exc:
            log(f"chokepoints importer failed ({type(exc).__name__}: {exc}); no chokepoints")
    return out


# ---------------------------------------------------------------------------------------------
# main


def build() -> Atlas:
    resolve = country_resolver()
    items = read_curated("items.csv")
    items["eol_rir"] = eol_rir(items)
    items["source"] = np.where(items["eol_rir"].notna(), "eu_crm2023", None)

    sources = read_curated("sources.csv")
    countries = build_countries(resolve)

    prod = pd.concat([
        read_curated("production.csv"),
        mineral_production(resolve, items),
        epoch_production(resolve),
    ], ignore_index=True)
    trade = trade_table(resolve, items, countries["iso3"])
    prod = pd.concat([prod, lng_production(trade)], ignore_index=True)

    producers = set(prod.loc[prod["producer_type"] == "country", "producer"].dropna())
    extra = ports_and_chokepoints(producers, resolve)
    for key in ("sources_ports", "sources_chokepoints"):
        if key in extra:
            s = extra[key]
            sources = pd.concat([sources, s[~s["source"].isin(sources["source"])]], ignore_index=True)

    tables = {
        "sources": sources,
        "countries": countries,
        "groups": read_curated("groups.csv"),
        "items": items,
        "production": prod,
        "recipes": read_curated("recipes.csv"),
        "trade": trade,
        "firms": read_curated("firms.csv"),
        "facilities": epoch_facilities(),
        "ports": extra.get("ports"),
        "chokepoints": extra.get("chokepoints"),
    }
    tables = {k: v for k, v in tables.items() if v is not None}
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
    args = ap.parse_args(argv)
    try:
        atlas = build()
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
