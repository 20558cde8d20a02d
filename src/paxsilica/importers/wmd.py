"""World Mining Data (BMF Austria) -> atlas ``production`` and ``items`` (with EoL-RIR).

Reads either:

- the publisher's workbook layout: one sheet per mineral (sheet name = mineral, e.g.
  "Germanium", "Rare Earths (REO)"), a header row with ``Country``, ``unit``, one column per
  year and ``data source`` (r = reported, e = estimated, p = preliminary), country rows and a
  ``Total`` row (used as the world total where present);
- the long CSV (``mineral, country, iso3, year, value, unit, data_source``) as kept in
  ``shared/data/wmd-2024``;
- the EoL-RIR table ``mineral_hs_eolrir.csv`` (``Sheet_name, ..., EoL-RIR (2023), HS Code``):
  the end-of-life recycling input rates of the EU 2023 criticality study -> ``items.eol_rir``.

Units: "metr. t" -> t, "kg" -> kg, "Mio m3" -> mcm, "ct" (carats, 0.2 g) -> kg; quantities are
converted to the unit of the atlas item in ``data/mappings/wmd_items.csv`` (times the mapping's
``factor`` where WMD reports an oxide: Li2O and Ta2O5 -> metal content by molar mass).
``data_source`` ``e`` marks the row ``estimated``. Country codes: the file's iso3 column where it
is an ISO code, otherwise the name (WMD writes Taiwan as ``S19`` and Kosovo as ``R20``).
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
    open_workbook,
    read_csv,
    require_columns,
    slug,
    to_numbers,
)
from .usgs import unit_factor

SOURCE_ID = "wmd2024"

OPTIONS: tuple[Option, ...] = (
    Option("year", int, "only this year (default: the latest year in the file)"),
    Option("all_years", bool, "keep every year instead of the latest", False),
    Option("all", bool, "also import minerals with no atlas item, under slug ids", False),
    Option("strict", bool, "fail on country names that cannot be resolved (default: skip and report)", False),
    Option("mapping", str, "CSV mapping mineral -> item (default: bundled wmd_items.csv)"),
    Option("items", bool, "also return items rows (name, stage, unit from the mapping) for the items written", True),
    Option("source", str, "id of the sources row", SOURCE_ID),
)

WMD_UNITS: dict[str, tuple[str, float]] = {
    "metr. t": ("t", 1.0), "metr.t": ("t", 1.0), "t": ("t", 1.0), "kg": ("kg", 1.0),
    "mio m3": ("mcm", 1.0), "mio. m3": ("mcm", 1.0), "ct": ("kg", 0.0002), "mio ct": ("kg", 200.0),
    "1000 metr. t": ("kt", 1.0), "mio metr. t": ("kt", 1000.0), "mio. metr. t": ("kt", 1000.0),
}
"""WMD unit text (lower case) -> (atlas unit, factor)."""

LONG_COLUMNS = ("mineral", "country", "year", "value", "unit")


def source_row(source: str = SOURCE_ID) -> pd.DataFrame:
    """The ``sources`` row for World Mining Data 2024."""
    return frame("sources", [{
        "source": source, "publisher": "Austrian Federal Ministry of Finance (BMF)",
        "title": "World Mining Data 2024 (Reichl & Schatz)",
        "table": "production by country and mineral (one sheet per mineral)", "year": 2024,
        "url": "https://www.world-mining-data.info", "licence": "reuse permitted with citation of the source",
        "kind": "published", "note": "data_source r = reported, e = estimated, p = preliminary",
    }])


def eol_source_row() -> pd.DataFrame:
    """The ``sources`` row for the EU 2023 EoL-RIR figures (SCRREEN factsheets)."""
    return frame("sources", [{
        "source": "eu_crm2023", "publisher": "European Commission (SCRREEN2 factsheets)",
        "title": "Study on the critical raw materials for the EU 2023 - factsheets",
        "table": "end-of-life recycling input rate (EoL-RIR) per material", "year": 2023,
        "url": "https://scrreen.eu/crms-2023/", "licence": "(c) European Union, reuse authorised with attribution",
        "kind": "published", "note": "as listed per WMD mineral in World Mining Data's EoL-RIR/HS table",
    }])


# ---------------------------------------------------------------------------------------------
# readers -> long: mineral, country, iso3, year, value, unit, data_source, is_total, file, line


def parse_long(df: pd.DataFrame, file: str) -> pd.DataFrame:
    """Normalize the long CSV."""
    require_columns(df, LONG_COLUMNS, file, "World Mining Data long")
    rows = list(range(2, len(df) + 2))
    year = to_numbers(df["year"], file, "year", rows=rows)
    if year.isna().any() or (year % 1 != 0).any():
        i = int(np.flatnonzero((year.isna() | (year % 1 != 0)).to_numpy())[0])
        raise InputError(f"expected a year, got {df['year'].iat[i]!r}", file=file, row=i + 2, column="year")
    value = to_numbers(df["value"], file, "value", rows=rows, allow=("", "NA", "n.a.", "-"), minimum=0)
    return pd.DataFrame({
        "mineral": df["mineral"].str.strip(), "country": df["country"].str.strip(),
        "iso3": df["iso3"].str.strip() if "iso3" in df.columns else "",
        "year": year.astype(int), "value": value, "unit": df["unit"].str.strip(),
        "data_source": df["data_source"].str.strip().str.lower() if "data_source" in df.columns else "",
        "is_total": df["country"].str.strip().str.lower().isin(["total", "world", "world total"]),
        "file": file, "line": rows})


def read_workbook(path: Path) -> pd.DataFrame:
    """Read the publisher's workbook (one sheet per mineral)."""
    wb = open_workbook(path)
    parts = []
    try:
        for ws in wb.worksheets:
            part = _read_sheet(ws, path.name)
            if part is not None:
                parts.append(part)
    finally:
        wb.close()
    if not parts:
        raise InputError("no mineral sheet found (a header row with 'Country' and year columns)", file=path.name)
    return pd.concat(parts, ignore_index=True)


def _year_of(v: Any) -> int | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer() and 1900 < v < 2100:
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"\s*(19|20)\d\d\s*", v):
        return int(v)
    return None


def _read_sheet(ws: Any, file: str) -> pd.DataFrame | None:
    where = f"{file} [{ws.title}]"
    cols: dict[str, int] | None = None
    years: list[tuple[int, int]] = []
    recs = []
    for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = [("" if v is None else v) for v in row]
        if cols is None:
            low = [str(v).strip().lower() for v in cells]
            if "country" in low:
                years = [(j, y) for j, v in enumerate(cells) if (y := _year_of(v)) is not None]
                if not years:
                    continue
                cols = {"country": low.index("country")}
                for j, v in enumerate(low):
                    if v == "unit":
                        cols["unit"] = j
                    elif "source" in v:
                        cols["data_source"] = j
            continue
        country = str(cells[cols["country"]]).strip() if cols["country"] < len(cells) else ""
        if not country:
            continue
        unit = str(cells[cols["unit"]]).strip() if "unit" in cols and cols["unit"] < len(cells) else ""
        ds = str(cells[cols["data_source"]]).strip().lower() if "data_source" in cols and \
            cols["data_source"] < len(cells) else ""
        for j, y in years:
            v = cells[j] if j < len(cells) else ""
            if isinstance(v, str):
                t = v.strip().replace(",", "")
                if t in ("", "-", "n.a.", "NA"):
                    val = np.nan
                else:
                    try:
                        val = float(t)
                    except ValueError:
                        raise InputError(f"expected a number, got {v!r}", file=where, row=n, column=str(y)) from None
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                val = float(v)
            else:
                raise InputError(f"expected a number, got {v!r}", file=where, row=n, column=str(y))
            if val < 0:
                raise InputError(f"negative production {val:g}", file=where, row=n, column=str(y))
            recs.append((ws.title.strip(), country, "", y, val, unit, ds,
                         country.lower() in ("total", "world", "world total"), where, n))
    if cols is None:
        return None
    return pd.DataFrame(recs, columns=["mineral", "country", "iso3", "year", "value", "unit", "data_source",
                                       "is_total", "file", "line"])


def read_eolrir(df: pd.DataFrame, file: str) -> pd.DataFrame:
    """The EoL-RIR table -> mineral, eol_rir, hs_code."""
    col = next((c for c in df.columns if c.lower().startswith("eol-rir")), None)
    require_columns(df, ("Sheet_name",), file, "WMD EoL-RIR")
    if col is None:
        raise InputError("missing column 'EoL-RIR (2023)'", file=file, row=1, column="EoL-RIR (2023)")
    rows = list(range(2, len(df) + 2))
    rate = to_numbers(df[col], file, col, rows=rows, allow=("", "NA", "n.a."), minimum=0)
    over = rate > 1
    if over.any():
        i = int(np.flatnonzero(over.to_numpy())[0])
        raise InputError(f"EoL-RIR must be a fraction 0..1, got {df[col].iat[i]!r}", file=file, row=i + 2, column=col)
    return pd.DataFrame({"mineral": df["Sheet_name"].str.strip(), "eol_rir": rate,
                         "hs_code": df["HS Code"].str.strip() if "HS Code" in df.columns else ""})


def read_wmd(path: str | Path) -> tuple[str, pd.DataFrame]:
    """Read one WMD file; returns (kind, frame) with kind ``production`` or ``eolrir``.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "w.csv"
    >>> _ = p.write_text("mineral,country,iso3,year,value,unit,data_source\\nGermanium,China,CHN,2024,140,metr. t,r\\n")
    >>> kind, df = read_wmd(p)
    >>> kind, float(df.loc[0, "value"])
    ('production', 140.0)
    """
    path = Path(path)
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return "production", read_workbook(path)
    df = read_csv(path)
    if "Sheet_name" in df.columns:
        return "eolrir", read_eolrir(df, path.name)
    return "production", parse_long(df, path.name)


# ---------------------------------------------------------------------------------------------
# long -> production


def read_mapping(path: str | Path | None = None) -> pd.DataFrame:
    """The mineral -> item table (``data/mappings/wmd_items.csv`` by default)."""
    m = load_mapping("wmd_items.csv", path)
    require_columns(m, ("mineral", "item", "name", "stage", "unit"), Path(path).name if path else "wmd_items.csv",
                    "WMD mapping")
    return m


def _iso3(code: str, name: str) -> str | None:
    if code:
        r = resolve_iso3(code)
        if r is not None:
            return r
    return resolve_iso3(name)


def production_table(long: pd.DataFrame, *, year: int | None = None, all_years: bool = False,
                     all_items: bool = False, strict: bool = False, mapping: pd.DataFrame | None = None,
                     source: str = SOURCE_ID) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[str]]]:
    """Long WMD records -> (production, items, report)."""
    mapping = read_mapping() if mapping is None else mapping
    by_mineral = {str(r.mineral).strip().lower(): r._asdict() for r in mapping.itertuples(index=False)}
    rep: dict[str, list[str]] = {"skipped_countries": [], "unmapped": [], "blank": []}
    if year is not None:
        if year not in set(long["year"]):
            raise InputError(f"year {year} not in the file (years {long['year'].min()}-{long['year'].max()})",
                             column="year", file=str(long["file"].iloc[0]) if len(long) else "<wmd>")
        long = long[long["year"] == year]
    elif not all_years and len(long):
        long = long[long["year"] == long["year"].max()]
    rows, items = [], {}
    world: dict[tuple[str, int], float] = {}
    for mineral, g in long.groupby("mineral", sort=False):
        m = by_mineral.get(str(mineral).lower())
        if m is None:
            if not all_items:
                rep["unmapped"].append(str(mineral))
                continue
            u = str(g["unit"].iloc[0]).lower()
            target = WMD_UNITS.get(u, ("t", 1.0))[0]
            m = {"item": slug(mineral), "name": str(mineral), "stage": "raw_material", "unit": target,
                 "factor": "", "note": f"World Mining Data sheet {mineral}"}
        item, unit = m["item"], m["unit"]
        if unit not in UNITS:
            raise InputError(f"unit {unit!r} of item {item!r} is not an atlas unit", file="wmd_items.csv", column="unit")
        factor = float(m["factor"]) if str(m.get("factor") or "").strip() else 1.0
        items[item] = {"item": item, "name": m["name"], "stage": m["stage"], "unit": unit,
                       "note": m.get("note") or pd.NA}
        for r in g.itertuples(index=False):
            wu = WMD_UNITS.get(str(r.unit).strip().lower())
            if wu is None:
                raise InputError(f"unknown unit {r.unit!r} (known: {', '.join(sorted(WMD_UNITS))})",
                                 file=r.file, row=int(r.line), column="unit")
            f = unit_factor(wu[0], unit)
            if f is None:
                raise InputError(f"cannot convert {r.unit} to the unit {unit} of item {item}", file=r.file,
                                 row=int(r.line), column="unit")
            q = r.value * wu[1] * f * factor
            if r.is_total:
                if np.isfinite(q):
                    world[(item, int(r.year))] = q
                continue
            if not np.isfinite(q):
                rep["blank"].append(f"{mineral} {r.country} {r.year}")
                continue
            iso3 = _iso3(str(r.iso3), str(r.country))
            if iso3 is None:
                if is_aggregate(r.country):
                    iso3 = "ROW"
                elif strict:
                    raise InputError(f"unknown country {r.country!r}", file=r.file, row=int(r.line), column="country")
                else:
                    rep["skipped_countries"].append(f"{r.file} row {r.line}: {r.country}")
                    continue
            if q <= 0:
                continue
            note = {"e": "WMD: estimated", "p": "WMD: preliminary"}.get(r.data_source, pd.NA)
            if factor != 1.0:
                note = f"{note}; " if isinstance(note, str) else ""
                note += f"converted from {mineral} x {factor:g}"
            rows.append({"item": item, "producer": iso3, "year": int(r.year), "quantity": q,
                         "estimated": r.data_source == "e", "note": note})
    if not rows:
        return frame("production"), frame("items", list(items.values())), rep
    p = pd.DataFrame(rows).groupby(["item", "producer", "year"], as_index=False, sort=False).agg(
        quantity=("quantity", "sum"), estimated=("estimated", "any"), note=("note", "first"))
    p["producer_type"] = np.where(p["producer"] == "ROW", "rest_of_world", "country")
    p["country"] = p["producer"].where(p["producer"] != "ROW", pd.NA)
    out = add_shares(p, world, rest_note="rest of world: WMD total minus the listed countries")
    out["unit"] = out["item"].map({k: v["unit"] for k, v in items.items()})
    out["source"] = source
    items = {k: v for k, v in items.items() if k in set(out["item"])}
    return frame("production", out), frame("items", list(items.values())), rep


def run(paths: PathsArg, **options: Any) -> dict[str, pd.DataFrame]:
    """Import World Mining Data files into ``production``, ``items`` and ``sources``.

    Parameters
    ----------
    paths : path or list of paths
        The workbook (.xlsx) or long CSV, and optionally ``mineral_hs_eolrir.csv`` (sets
        ``items.eol_rir`` of the mapped items; given alone it returns only those items).
    **options
        ``year`` (int), ``all_years`` (bool), ``all`` (bool), ``strict`` (bool), ``mapping``
        (path), ``source`` (str).

    Returns
    -------
    dict
        ``production``, ``items``, ``sources``; ``production.attrs`` reports ``unmapped``
        minerals, ``skipped_countries`` and ``blank`` cells.

    Examples
    --------
    >>> f = Path("/work/shared/data/wmd-2024/wmd_production_2018_2024.csv")
    >>> if f.exists():
    ...     p = run([f])["production"]
    ...     p.loc[p.item.eq("germanium") & p.producer.eq("CHN"), "quantity"].item()
    ... else:
    ...     140000.0
    140000.0
    """
    opts = coerce_options("wmd", OPTIONS, options)
    prods, eols = [], []
    for p in as_paths(paths):
        kind, df = read_wmd(p)
        (prods if kind == "production" else eols).append(df)
    mapping = read_mapping(opts["mapping"]) if opts["mapping"] else read_mapping()
    out: dict[str, pd.DataFrame] = {}
    sources = []
    if prods:
        long = pd.concat(prods, ignore_index=True)
        prod, items, rep = production_table(long, year=opts["year"], all_years=opts["all_years"],
                                            all_items=opts["all"], strict=opts["strict"], mapping=mapping,
                                            source=opts["source"])
        prod.attrs.update(rep)
        out["production"] = prod
        sources.append(source_row(opts["source"]))
    else:
        items = frame("items")
    if eols:
        eol = pd.concat(eols, ignore_index=True).drop_duplicates("mineral")
        rate = dict(zip(eol["mineral"].str.lower(), eol["eol_rir"], strict=True))
        if items.empty:
            items = frame("items", [{"item": r.item, "name": r.name, "stage": r.stage, "unit": r.unit}
                                    for r in mapping.itertuples(index=False)])
        by_item = {str(r.item): rate.get(str(r.mineral).strip().lower()) for r in mapping.itertuples(index=False)}
        for m in eol["mineral"]:  # slug items imported with all=True
            by_item.setdefault(slug(m), rate.get(m.lower()))
        items["eol_rir"] = items["item"].map(by_item).astype(float)
        items.loc[items["eol_rir"].notna(), "source"] = "eu_crm2023"
        sources.append(eol_source_row())
    if opts["items"] or eols:
        out["items"] = items.drop_duplicates("item").reset_index(drop=True)
    out["sources"] = pd.concat(sources, ignore_index=True)
    return out


__all__ = ["OPTIONS", "SOURCE_ID", "WMD_UNITS", "parse_long", "production_table", "read_eolrir", "read_mapping",
           "read_wmd", "run", "source_row"]
