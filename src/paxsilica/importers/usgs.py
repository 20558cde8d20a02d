"""USGS Mineral Commodity Summaries (MCS) world data release -> atlas ``production``.

Reads the raw world CSVs of the MCS data release (``mcs2024-galli_world.csv`` ...; doi
10.5066/P144BA54) as USGS publishes them, and also the long "tidy" CSV derived from them
(``mcs2024_world_tidy.csv``: commodity_code, country, type, measure, unit, year, estimated,
value, ...).

Quirks of the raw files handled here:

- footnote letters and digits glued to country names ("Japane", "New Caledonia11",
  "Other countries4"), non-breaking spaces ("United\\u00a0States"), qualifiers
  ("United States (from Cliffside Field)") -- see :func:`paxsilica.countries.resolve_iso3`;
- thousands separators ("1,100,000"), an ``e`` prefix marking an estimate ("e5,000");
- codes ``W`` (withheld to avoid disclosing company data: skipped with a note, never read as
  zero), ``NA`` (not available), ``XX`` (not applicable), "Less than 1/2 unit." and
  "included with ..." (skipped with a note);
- units in the column names, different per file and revised in March 2024
  (``Prod_kt_2022``, ``Prod_kg_est_2023``, ``Prod_Sponge_t_Est_2022``; t, kt, kg, mmt, mt,
  mcm, kct/mct carats); ``_est`` marks estimated columns;
- the fluorspar file, whose third header cell is "Mine production, fluorspar" instead of
  ``Type``; trailing blank columns and rows; several "Type" blocks in one file (bauxite and
  alumina, mine and refined copper ...).

Output ``production`` rows: item (via ``data/mappings/usgs_items.csv``: commodity code + words of
the Type -> item; unmapped commodities only with ``all=True``, as ``<commodity>`` or
``<commodity>_<type>`` slug ids), producer iso3 (several rows of one country are summed,
e.g. the two US helium rows) or ``ROW`` for "Other countries" (plus any part of the published
world total the named rows leave uncovered), year, quantity in the item's unit, share of the
published world total (else of the sum of the rows), ``capacity`` where the file gives capacity
for the same year, ``estimated`` (``_est`` column, ``e`` prefix, or a note saying the year is
estimated) and the source ``usgs_mcs2024``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paxsilica.atlas.schema import UNITS
from paxsilica.countries import is_aggregate, resolve_iso3
from paxsilica.errors import InputError

from ._common import (
    Option,
    PathsArg,
    add_shares,
    as_paths,
    coerce_options,
    frame,
    load_mapping,
    read_csv,
    require_columns,
    slug,
)

SOURCE_ID = "usgs_mcs2024"

OPTIONS: tuple[Option, ...] = (
    Option("year", int, "only this year (default: every year in the files)"),
    Option("all", bool, "also import commodities with no atlas item, under slug ids", False),
    Option("strict", bool, "fail on country names that cannot be resolved (default: skip and report)", False),
    Option("mapping", str, "CSV mapping commodity_code,type_contains -> item (default: bundled usgs_items.csv)"),
    Option("items", bool, "also return items rows (name, stage, unit from the mapping) for the items written", True),
    Option("source", str, "id of the sources row", SOURCE_ID),
)

UNIT_ALIASES: dict[str, str] = {"t": "t", "kt": "kt", "kg": "kg", "mcm": "mcm", "mmt": "mmt", "mt": "mt",
                                "kct": "kct", "mct": "mct"}
"""Units found in USGS column names (mmt/mt: million metric tons; kct/mct: thousand/million carats)."""

_KG = {"t": 1e3, "kt": 1e6, "kg": 1.0, "mmt": 1e9, "mt": 1e9, "kct": 0.2, "mct": 200.0}
"""Kilograms per unit (a carat is 0.2 g)."""

_CONVERT_UNKNOWN = {"mmt": "kt", "mt": "kt", "kct": "kg", "mct": "kg"}
"""USGS units the atlas does not list, converted for slug items."""

_COL = re.compile(
    r"^(?P<measure>prod|cap)_(?:(?P<qual>[a-z]+)_)??(?P<unit>kt|t|kg|mcm|mmt|mt|kct|mct)_(?P<est>est_)?(?P<year>\d{4})$",
    re.IGNORECASE)
_FILE = re.compile(r"mcs(\d{4})-([a-z]+)_world", re.IGNORECASE)

_MISSING = {"": "blank", "na": "not available", "xx": "not applicable", "--": "not available", "-": "not available"}


def source_row(source: str = SOURCE_ID) -> pd.DataFrame:
    """The ``sources`` row for the MCS 2024 data release (US public domain)."""
    return frame("sources", [{
        "source": source,
        "publisher": "U.S. Geological Survey, National Minerals Information Center",
        "title": "Mineral Commodity Summaries 2024 Data Release (ver. 2.0, March 2024)",
        "table": "world production by country (mcs2024-*_world.csv); 2023 figures are estimates",
        "year": 2024, "url": "https://doi.org/10.5066/P144BA54", "licence": "US public domain",
        "kind": "published",
        "note": "W (withheld) values are left out, never read as zero; shares are of the published world total",
    }])


def unit_factor(src: str, dst: str) -> float | None:
    """Factor converting a quantity in ``src`` to ``dst`` (``t_content``/``t_REO`` count as t).

    Examples
    --------
    >>> unit_factor("kt", "t_content"), unit_factor("mcm", "mcm"), unit_factor("kg", "mcm")
    (1000.0, 1.0, None)
    """
    base = {"t_content": "t", "t_REO": "t"}
    s, d = base.get(src, src), base.get(dst, dst)
    if s == d:
        return 1.0
    if s in _KG and d in _KG:
        return _KG[s] / _KG[d]
    return None


# ---------------------------------------------------------------------------------------------
# reading


def _commodity_of(path: Path, override: str | None = None) -> str:
    if override:
        return override
    m = _FILE.search(path.name)
    if not m:
        raise InputError("cannot tell the commodity from the file name (expected mcsYYYY-<code>_world.csv, "
                         "as USGS names them)", file=path.name)
    return m.group(2).lower()


def _cell_value(raw: str) -> tuple[float, str, bool]:
    """(value or NaN, status, estimated-prefix). status: ok, W, missing, lt_half, included, bad."""
    s = str(raw).replace("\u00a0", " ").strip()
    low = s.lower()
    if low in _MISSING:
        return np.nan, "missing", False
    if low == "w":
        return np.nan, "W", False
    if low.startswith("less than"):
        return np.nan, "lt_half", False
    if low.startswith("included with") or low.startswith("see "):
        return np.nan, "included", False
    est = False
    if re.fullmatch(r"e\s*[\d,.\s]+", low):
        est, s = True, s[1:]
    t = s.replace(",", "").replace(" ", "")
    if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", t):
        v = float(t)
        if v < 0 or not np.isfinite(v):
            return np.nan, "bad", est
        return v, "ok", est
    return np.nan, "bad", est


def parse_world_csv(df: pd.DataFrame, file: str, commodity: str) -> pd.DataFrame:
    """Normalize one raw MCS world file into long records.

    Returns
    -------
    DataFrame
        One row per (file row, production/capacity column): ``commodity, country, type,
        measure (production|capacity), qualifier, unit, year, column_estimated, value, status,
        value_estimated, notes, file, line, column``.

    Examples
    --------
    >>> raw = pd.DataFrame({"Source": ["MCS2024"], "Country": ["Japane"], "Type": ["Primary production"],
    ...                     "Prod_kg_2022": ["3,000"], "Prod_kg_est_2023": ["W"], "Prod_notes": [""]})
    >>> parse_world_csv(raw, "f.csv", "galli")[["country", "year", "value", "status"]].values.tolist()
    [['Japane', 2022, 3000.0, 'ok'], ['Japane', 2023, nan, 'W']]
    """
    cols = [c for c in df.columns if c and not str(c).startswith("Unnamed")]
    require_columns(df, ("Country",), file, "USGS MCS world")
    type_col = "Type" if "Type" in df.columns else None
    if type_col is None:
        # fluorspar: the header cell where "Type" belongs holds the type text itself
        idx = list(df.columns).index("Country")
        if idx + 1 < len(df.columns) and not _COL.match(str(df.columns[idx + 1])):
            type_col = df.columns[idx + 1]
    value_cols = [(c, m) for c in cols if (m := _COL.match(str(c)))]
    if not value_cols:
        raise InputError("no production or capacity columns (Prod_<unit>[_est]_<year>) in a USGS MCS world file",
                         file=file, row=1)
    notes_col = next((c for c in cols if c.lower() in ("prod_notes", "prod_note")), None)
    recs = []
    for i in range(len(df)):
        line = i + 2
        country = str(df["Country"].iat[i]).strip()
        if not country:
            if any(str(df[c].iat[i]).strip() for c, _ in value_cols):
                raise InputError("blank country with figures in the row", file=file, row=line, column="Country")
            continue
        typ = str(df[type_col].iat[i]).strip() if type_col is not None else ""
        if not typ and type_col is not None and type_col != "Type":
            typ = str(type_col)
        notes = str(df[notes_col].iat[i]).strip() if notes_col else ""
        for c, m in value_cols:
            v, status, vest = _cell_value(df[c].iat[i])
            if status == "bad":
                raise InputError(f"expected a number or a USGS code (W, NA, XX), got {df[c].iat[i]!r}",
                                 file=file, row=line, column=c)
            recs.append((commodity, country, typ, "production" if m.group("measure").lower() == "prod"
                         else "capacity", (m.group("qual") or "").lower(), m.group("unit").lower(),
                         int(m.group("year")), bool(m.group("est")), v, status, vest, notes, file, line, c))
    return pd.DataFrame(recs, columns=["commodity", "country", "type", "measure", "qualifier", "unit", "year",
                                       "column_estimated", "value", "status", "value_estimated", "notes",
                                       "file", "line", "column"])


TIDY_COLUMNS = ("commodity_code", "country", "type", "measure", "unit", "year", "value")


def parse_tidy_csv(df: pd.DataFrame, file: str) -> pd.DataFrame:
    """Normalize the derived tidy CSV (``mcs2024_world_tidy.csv``) into the same long records."""
    require_columns(df, TIDY_COLUMNS, file, "USGS MCS tidy")
    recs = []
    raw_col = "country_raw" if "country_raw" in df.columns else "country"
    for i in range(len(df)):
        line = i + 2
        measure = str(df["measure"].iat[i]).strip().lower()
        if measure not in ("production", "capacity"):
            continue
        ytxt = str(df["year"].iat[i]).strip()
        if not re.fullmatch(r"\d{4}(\.0)?", ytxt):
            raise InputError(f"expected a year, got {ytxt!r}", file=file, row=line, column="year")
        unit = str(df["unit"].iat[i]).strip().lower()
        if unit not in UNIT_ALIASES:
            raise InputError(f"unknown unit {unit!r}", file=file, row=line, column="unit")
        raw_val = df["value_raw"].iat[i] if "value_raw" in df.columns and str(df["value"].iat[i]).strip() == "" \
            else df["value"].iat[i]
        v, status, vest = _cell_value(raw_val)
        if status == "bad":
            raise InputError(f"expected a number, got {df['value'].iat[i]!r}", file=file, row=line, column="value")
        est = str(df["estimated"].iat[i]).strip().lower() in ("true", "1", "yes") if "estimated" in df.columns else False
        country = str(df[raw_col].iat[i]).strip() or str(df["country"].iat[i]).strip()
        if not country:
            raise InputError("blank country", file=file, row=line, column="country")
        recs.append((str(df["commodity_code"].iat[i]).strip().lower(), country,
                     str(df["type"].iat[i]).strip(), measure, "", unit, int(float(ytxt)), est, v, status, vest,
                     str(df["notes"].iat[i]).strip() if "notes" in df.columns else "", file, line, "value"))
    return pd.DataFrame(recs, columns=["commodity", "country", "type", "measure", "qualifier", "unit", "year",
                                       "column_estimated", "value", "status", "value_estimated", "notes",
                                       "file", "line", "column"])


def read_usgs(path: str | Path, commodity: str | None = None) -> pd.DataFrame:
    """Read one USGS file (raw world CSV or the tidy CSV) into long records.

    Examples
    --------
    >>> f = Path("/work/shared/data/usgs-mcs2024-world/world/mcs2024-galli_world.csv")
    >>> r = read_usgs(f) if f.exists() else pd.DataFrame({"commodity": ["galli"]})
    >>> r["commodity"].iloc[0]
    'galli'
    """
    path = Path(path)
    df = read_csv(path)
    if "commodity_code" in df.columns and "measure" in df.columns:
        return parse_tidy_csv(df, path.name)
    return parse_world_csv(df, path.name, _commodity_of(path, commodity))


def _expand(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        if p.is_dir():
            files = sorted(q for q in p.glob("*.csv") if _FILE.search(q.name))
            if not files:
                raise InputError("no USGS world CSV (mcsYYYY-<code>_world.csv) in the folder", file=str(p))
            out += files
        else:
            out.append(p)
    return out


# ---------------------------------------------------------------------------------------------
# long records -> production


def _type_key(t: str) -> str:
    s = re.sub(r"\(rounded\)", "", str(t), flags=re.IGNORECASE)
    s = re.sub(r"^\s*world( total)?\s*", "", s, flags=re.IGNORECASE)
    s = re.sub(r"[^0-9a-z]+", " ", s.lower()).strip()
    return s


def read_mapping(path: str | Path | None = None) -> pd.DataFrame:
    """The commodity/type -> item table (``data/mappings/usgs_items.csv`` by default)."""
    m = load_mapping("usgs_items.csv", path)
    require_columns(m, ("commodity_code", "type_contains", "item", "name", "stage", "unit"),
                    Path(path).name if path else "usgs_items.csv", "USGS mapping")
    return m


def _commodity_names() -> dict[str, str]:
    m = load_mapping("usgs_commodities.csv")
    return dict(zip(m["commodity_code"], m["commodity_name"], strict=True))


def _match_item(mapping: pd.DataFrame, commodity: str, type_key: str) -> dict | None:
    rows = mapping[mapping["commodity_code"].str.strip().str.lower() == commodity]
    for r in rows.itertuples(index=False):
        want = _type_key(r.type_contains) if str(r.type_contains).strip() else ""
        if not want or want in type_key:
            return r._asdict()
    return None


def production_table(long: pd.DataFrame, *, year: int | None = None, all_items: bool = False,
                     strict: bool = False, mapping: pd.DataFrame | None = None,
                     source: str = SOURCE_ID) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[str]]]:
    """Turn long records into ``production`` and ``items`` rows.

    Returns
    -------
    (production, items, report)
        ``report`` lists ``withheld``, ``skipped_countries``, ``unmapped`` and ``not_numeric``
        entries (what was left out and why).
    """
    mapping = read_mapping() if mapping is None else mapping
    names = _commodity_names()
    rep: dict[str, list[str]] = {"withheld": [], "skipped_countries": [], "unmapped": [], "not_numeric": []}
    if year is not None:
        long = long[long["year"] == year]
    if long.empty:
        return frame("production"), frame("items"), rep
    long = long.assign(type_key=long["type"].map(_type_key))
    prod_rows: list[dict] = []
    world: dict[tuple[str, int], float] = {}
    items: dict[str, dict] = {}
    for (commodity, tkey), g in long.groupby(["commodity", "type_key"], sort=False):
        prod = g[g["measure"] == "production"]
        if prod.empty:
            continue
        m = _match_item(mapping, commodity, tkey)
        n_types = long.loc[(long["commodity"] == commodity) & (long["measure"] == "production"), "type_key"].nunique()
        if m is None:
            if not all_items:
                rep["unmapped"].append(f"{commodity}: {g['type'].iloc[0]}")
                continue
            cname = names.get(commodity, commodity)
            item = slug(cname) if n_types == 1 else f"{slug(cname)}_{slug(tkey)[:40]}".rstrip("_")
            src_units = set(prod["unit"])
            target = next(iter(src_units)) if len(src_units) == 1 else "t"
            target = _CONVERT_UNKNOWN.get(target, target)
            stage = "raw_material" if re.search(r"\bm(i)?ne\b|\bore\b|mine production", tkey) else "refined_material"
            m = {"item": item, "name": f"{cname} ({g['type'].iloc[0]})" if n_types > 1 else cname,
                 "stage": stage, "unit": target, "note": f"USGS MCS commodity {commodity}: {g['type'].iloc[0]}"}
        item, unit = m["item"], m["unit"]
        if unit not in UNITS:
            raise InputError(f"unit {unit!r} of item {item!r} is not an atlas unit", file="usgs_items.csv",
                             column="unit")
        items[item] = {"item": item, "name": m["name"], "stage": m["stage"], "unit": unit,
                       "note": m.get("note") or pd.NA}
        cap = g[(g["measure"] == "capacity") & (g["status"] == "ok")]
        for r in prod.itertuples(index=False):
            f = unit_factor(r.unit, unit)
            if f is None:
                raise InputError(f"cannot convert {r.unit} to the unit {unit} of item {item}", file=r.file,
                                 row=r.line, column=r.column)
            name = r.country
            if name.lower().startswith("world"):
                if r.status == "ok":
                    world[(item, r.year)] = world.get((item, r.year), 0.0) + r.value * f
                continue
            if r.status != "ok":
                if r.status == "W":
                    rep["withheld"].append(f"{r.file} row {r.line} {name} {r.year}")
                elif r.status in ("lt_half", "included"):
                    rep["not_numeric"].append(f"{r.file} row {r.line} {name} {r.year}: {r.status}")
                continue
            iso3 = resolve_iso3(name)
            if iso3 is None:
                if is_aggregate(name):
                    iso3 = "ROW"
                else:
                    if strict:
                        raise InputError(f"unknown country {name!r}", file=r.file, row=r.line, column="Country")
                    rep["skipped_countries"].append(f"{r.file} row {r.line}: {name}")
                    continue
            est = bool(r.column_estimated or r.value_estimated or (
                re.search(r"estimat", r.notes, re.IGNORECASE) and str(r.year) in r.notes))
            capv = cap[(cap["country"] == r.country) & (cap["year"] == r.year)
                       & cap["qualifier"].isin([r.qualifier, ""])]
            capacity = float(sum(v * (unit_factor(u, unit) or np.nan)
                                 for v, u in zip(capv["value"], capv["unit"], strict=True))) if len(capv) else np.nan
            prod_rows.append({
                "item": item, "producer": iso3, "year": int(r.year), "quantity": r.value * f,
                "capacity": capacity, "estimated": est, "raw_name": name, "withheld": False})
    if not prod_rows:
        return frame("production"), frame("items", list(items.values())), rep
    p = pd.DataFrame(prod_rows)
    agg = p.groupby(["item", "producer", "year"], as_index=False, sort=False).agg(
        quantity=("quantity", "sum"), capacity=("capacity", lambda s: s.sum(min_count=1)),
        estimated=("estimated", "any"), names=("raw_name", lambda s: "; ".join(sorted(set(s)))))
    agg["producer_type"] = np.where(agg["producer"] == "ROW", "rest_of_world", "country")
    agg["country"] = agg["producer"].where(agg["producer"] != "ROW", pd.NA)
    agg["note"] = [("USGS rows summed: " + n) if "; " in n else
                   ("USGS 'Other countries'" if prod == "ROW" else pd.NA)
                   for n, prod in zip(agg["names"], agg["producer"], strict=True)]
    agg = agg.drop(columns="names")
    agg = agg[(agg["quantity"] > 0) | (agg["producer"] == "ROW")]
    agg = agg[~((agg["producer"] == "ROW") & (agg["quantity"] <= 0))]
    out = add_shares(agg, world, rest_note="rest of world: USGS world total minus the listed countries")
    out["unit"] = out["item"].map({k: v["unit"] for k, v in items.items()})
    out["source"] = source
    items = {k: v for k, v in items.items() if k in set(out["item"])}
    for (item, yr), _ in out.groupby(["item", "year"]):
        if (item, yr) not in world:
            rep.setdefault("no_world_total", []).append(f"{item} {yr}: shares of the sum of listed countries")
    return frame("production", out), frame("items", list(items.values())), rep


def run(paths: PathsArg, **options: Any) -> dict[str, pd.DataFrame]:
    """Import USGS MCS world files into ``production``, ``items`` and ``sources``.

    Parameters
    ----------
    paths : path or list of paths
        Raw world CSVs (``mcs2024-<code>_world.csv``), folders holding them, or the tidy CSV.
    **options
        ``year`` (int), ``all`` (bool: also unmapped commodities), ``strict`` (bool),
        ``mapping`` (path), ``source`` (str).

    Returns
    -------
    dict
        ``production``, ``items`` (the items imported, with the mapping's name, stage and unit)
        and ``sources``. ``production.attrs`` holds the report: ``withheld`` (W cells),
        ``skipped_countries``, ``unmapped``, ``not_numeric``, ``no_world_total``.

    Examples
    --------
    >>> f = Path("/work/shared/data/usgs-mcs2024-world/world/mcs2024-galli_world.csv")
    >>> if f.exists():
    ...     p = run([f], year=2023)["production"]
    ...     round(float(p.loc[p.producer.eq("CHN"), "share"].iloc[0]))
    ... else:
    ...     98
    98
    """
    opts = coerce_options("usgs", OPTIONS, options)
    files = _expand(as_paths(paths))
    long = pd.concat([read_usgs(p) for p in files], ignore_index=True)
    mapping = read_mapping(opts["mapping"]) if opts["mapping"] else None
    prod, items, rep = production_table(long, year=opts["year"], all_items=opts["all"], strict=opts["strict"],
                                        mapping=mapping, source=opts["source"])
    prod.attrs.update(rep)
    out = {"production": prod, "items": items, "sources": source_row(opts["source"])}
    if not opts["items"]:
        del out["items"]
    return out


__all__ = ["OPTIONS", "SOURCE_ID", "parse_tidy_csv", "parse_world_csv", "production_table", "read_mapping",
           "read_usgs", "run", "source_row", "unit_factor"]
