"""CEPII BACI bilateral trade -> atlas ``trade``.

Reads BACI as CEPII publishes it: one or more data CSVs (``BACI_HS92_Y2022_V202401b.csv``, plain
or gzip) with the columns ``t`` (year), ``i`` (exporter, BACI numeric code), ``j`` (importer),
``k`` (HS-6 product), ``v`` (value, thousand current USD) and ``q`` (quantity, metric tons; blank
when unknown), plus BACI's ``country_codes.csv`` (country_code, country_name, country_iso2,
country_iso3) and, optionally, ``product_codes.csv`` (code, description). The kind of each file
is told by its header.

Rows are mapped to atlas items by ``data/mappings/baci_hs.csv`` (HS-6 -> item; several codes may
feed one item and are summed, their codes listed in ``hs_codes``); unmapped codes are left out
unless ``all=True`` (then each code becomes an item ``hs<code>``). BACI codes are turned into iso3
by the iso3 column (``S19`` "Other Asia, nes" is Taiwan, as in UN Comtrade) or else the name.
Flows with an exporter or importer that is not a country today (USSR, "Europe EFTA, nes", ...)
and self-trade (exporter = importer after mapping) are dropped and reported in
``trade.attrs`` (``unresolved`` with their value, ``self_trade``). Default: the latest year.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paxsilica.countries import resolve_iso3
from paxsilica.errors import InputError

from ._common import (
    Option,
    PathsArg,
    as_paths,
    coerce_options,
    frame,
    load_mapping,
    parse_csv_text,
    read_text,
    require_columns,
)

SOURCE_ID = "baci_hs92_v202401b"
DATA_COLUMNS = ("t", "i", "j", "k", "v", "q")

OPTIONS: tuple[Option, ...] = (
    Option("year", int, "only this year (default: the latest year in the data)"),
    Option("all_years", bool, "keep every year instead of the latest", False),
    Option("all", bool, "also import HS codes with no atlas item, as items hs<code>", False),
    Option("mapping", str, "CSV mapping hs6 -> item (default: bundled baci_hs.csv)"),
    Option("items", bool, "also return items rows (name, stage, unit from the mapping) for the items written", True),
    Option("source", str, "id of the sources row", SOURCE_ID),
)


def source_row(source: str = SOURCE_ID) -> pd.DataFrame:
    """The ``sources`` row for BACI HS92 (Etalab Open Licence 2.0)."""
    return frame("sources", [{
        "source": source, "publisher": "CEPII",
        "title": "BACI: international trade database at the product level, HS92, version 202401b",
        "table": "bilateral flows t,i,j,k,v,q", "year": 2024,
        "url": "https://www.cepii.fr/CEPII/en/bdd_modele/bdd_modele_item.asp?id=37",
        "licence": "Etalab Open Licence 2.0", "kind": "published",
        "note": "Gaulier and Zignago (2010), CEPII Working Paper 2010-23",
    }])


def parse_data(df: pd.DataFrame, file: str) -> pd.DataFrame:
    """Check and convert a BACI data frame (text cells) to typed columns t, i, j, k, v, q.

    Examples
    --------
    >>> d = pd.DataFrame({"t": ["2022"], "i": ["156"], "j": ["392"], "k": ["811230"], "v": ["10.5"], "q": [""]})
    >>> r = parse_data(d, "b.csv").iloc[0]
    >>> int(r["t"]), r["k"], float(r["v"]), bool(np.isnan(r["q"]))
    (2022, '811230', 10.5, True)
    """
    require_columns(df, DATA_COLUMNS, file, "BACI")
    out = {}
    for c, kind in (("t", "int"), ("i", "int"), ("j", "int"), ("v", "float"), ("q", "float")):
        s = df[c].str.strip()
        num = pd.to_numeric(s.where(s != "", None) if c == "q" else s, errors="coerce")
        if c in ("q",):
            bad = (s != "") & (s.str.upper() != "NA") & num.isna()
        else:
            bad = num.isna()
        if kind == "int":
            bad |= num.notna() & (num % 1 != 0)
        bad |= num.notna() & ((num < 0) | ~np.isfinite(num.astype(float)))
        if bad.any():
            r = int(np.flatnonzero(bad.to_numpy())[0])
            what = "a whole number" if kind == "int" else "a non-negative number"
            raise InputError(f"expected {what}, got {df[c].iat[r]!r}", file=file, row=r + 2, column=c)
        out[c] = num.astype("int64") if kind == "int" else num.astype(float)
    k = df["k"].str.strip()
    bad = ~k.str.fullmatch(r"\d{5,6}")
    if bad.any():
        r = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"expected a 6-digit HS code, got {df['k'].iat[r]!r}", file=file, row=r + 2, column="k")
    out["k"] = k.str.zfill(6)
    return pd.DataFrame(out)[list(DATA_COLUMNS)]


def read_country_codes(df: pd.DataFrame, file: str) -> tuple[dict[int, str | None], dict[int, str]]:
    """BACI country_codes -> ({code: iso3 or None}, {code: name})."""
    require_columns(df, ("country_code", "country_name"), file, "BACI country codes")
    codes = pd.to_numeric(df["country_code"].str.strip(), errors="coerce")
    if codes.isna().any():
        r = int(np.flatnonzero(codes.isna().to_numpy())[0])
        raise InputError(f"expected a number, got {df['country_code'].iat[r]!r}", file=file, row=r + 2,
                         column="country_code")
    iso_col = "country_iso3" if "country_iso3" in df.columns else None
    to_iso, names = {}, {}
    for n, (c, name) in enumerate(zip(codes.astype(int), df["country_name"], strict=True)):
        iso = resolve_iso3(df[iso_col].iat[n]) if iso_col and df[iso_col].iat[n].strip() else None
        to_iso[int(c)] = iso if iso is not None else resolve_iso3(name)
        names[int(c)] = name
    return to_iso, names


def read_mapping(path: str | Path | None = None) -> pd.DataFrame:
    """The HS-6 -> item table (``data/mappings/baci_hs.csv`` by default)."""
    m = load_mapping("baci_hs.csv", path)
    require_columns(m, ("hs6", "item"), Path(path).name if path else "baci_hs.csv", "BACI mapping")
    m["hs6"] = m["hs6"].str.strip().str.zfill(6)
    return m


def _kind(path: Path) -> tuple[str, str]:
    text = read_text(path)
    head = re.split(r"\r?\n", text, maxsplit=1)[0].replace("\ufeff", "").lower()
    cols = [c.strip().strip('"') for c in head.split(",")]
    if "country_code" in cols:
        return "countries", text
    if cols[:2] == ["code", "description"] or ("code" in cols and "description" in cols):
        return "products", text
    return "data", text


def trade_table(data: pd.DataFrame, to_iso: dict[int, str | None], names: dict[int, str],
                mapping: pd.DataFrame, *, year: int | None = None, all_years: bool = False,
                all_codes: bool = False, source: str = SOURCE_ID) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Typed BACI rows -> ``trade`` rows (and a report of what was dropped)."""
    rep: dict[str, list[str]] = {"unresolved": [], "self_trade": [], "unmapped_codes": []}
    if year is not None:
        if not (data["t"] == year).any():
            raise InputError(f"year {year} not in the data (years {data['t'].min()}-{data['t'].max()})", column="t",
                             file="BACI data")
        data = data[data["t"] == year]
    elif not all_years and len(data):
        data = data[data["t"] == data["t"].max()]
    code_item = dict(zip(mapping["hs6"], mapping["item"], strict=True))
    mapped = data["k"].map(code_item)
    if all_codes:
        mapped = mapped.fillna("hs" + data["k"])
    else:
        rep["unmapped_codes"] = sorted(set(data.loc[mapped.isna(), "k"]))
    d = data.assign(item=mapped)
    d = d[d["item"].notna()]
    unknown = sorted((set(d["i"]) | set(d["j"])) - set(to_iso))
    if unknown:
        raise InputError(f"BACI country code(s) not in country_codes.csv: {', '.join(map(str, unknown[:10]))}",
                         column="i")
    d = d.assign(exporter=d["i"].map(to_iso), importer=d["j"].map(to_iso))
    bad = d["exporter"].isna() | d["importer"].isna()
    if bad.any():
        lost = d[bad]
        for code in sorted(set(lost.loc[lost["exporter"].isna(), "i"]) | set(lost.loc[lost["importer"].isna(), "j"])):
            v = lost.loc[(lost["i"] == code) | (lost["j"] == code), "v"].sum()
            rep["unresolved"].append(f"{code} {names.get(code, '')}: {v:,.0f} kUSD dropped")
    d = d[~bad]
    self_trade = d["exporter"] == d["importer"]
    if self_trade.any():
        for (e, i), g in d[self_trade].groupby(["i", "j"]):
            rep["self_trade"].append(f"{names.get(e, e)} -> {names.get(i, i)}: {g['v'].sum():,.0f} kUSD dropped")
    d = d[~self_trade]
    keys = ["item", "exporter", "importer", "t"]
    sums = d.groupby(keys, sort=True)[["q", "v"]].sum(min_count=1)
    codes = d[[*keys, "k"]].drop_duplicates().sort_values("k").groupby(keys, sort=True)["k"].agg(";".join)
    out = sums.join(codes).reset_index().rename(columns={"t": "year", "q": "quantity", "v": "value", "k": "hs_codes"})
    out["value"] = out["value"].fillna(0.0)
    out["source"] = source
    return frame("trade", out), rep


def run(paths: PathsArg, **options: Any) -> dict[str, pd.DataFrame]:
    """Import BACI files into ``trade``, ``items`` and ``sources``.

    Parameters
    ----------
    paths : list of paths
        BACI data CSV(s) (.csv or .csv.gz) and ``country_codes.csv``; ``product_codes.csv``
        optional (names of ``hs<code>`` items with ``all=True``).
    **options
        ``year`` (int), ``all_years`` (bool), ``all`` (bool), ``mapping`` (path), ``source``.

    Returns
    -------
    dict
        ``trade`` (``attrs``: ``unresolved``, ``self_trade``, ``unmapped_codes``), ``items``
        (the items traded, with the mapping's name, stage and unit) and ``sources``.

    Examples
    --------
    >>> d = Path("/work/shared/data/baci-hs92-minerals")
    >>> if d.exists():
    ...     t = run([d / "baci_hs92_2020_2024.csv.gz", d / "country_codes.csv"])["trade"]
    ...     int(t["year"].max())
    ... else:
    ...     2024
    2024
    """
    opts = coerce_options("baci", OPTIONS, options)
    data, to_iso, names, products = [], None, {}, {}
    codes_file = "country_codes.csv"
    for p in as_paths(paths):
        kind, text = _kind(p)
        if kind == "countries":
            codes_file = p.name
            to_iso, names = read_country_codes(parse_csv_text(text, p.name), p.name)
        elif kind == "products":
            pc = parse_csv_text(text, p.name)
            products = dict(zip(pc["code"].str.strip().str.zfill(6), pc["description"], strict=True))
        else:
            data.append(parse_data(parse_csv_text(text, p.name, engine_c=True), p.name))
    if not data:
        raise InputError("no BACI data file (columns t,i,j,k,v,q) among the inputs")
    if to_iso is None:
        raise InputError("BACI's country_codes.csv is needed to map the numeric country codes (give it as an input)")
    mapping = read_mapping(opts["mapping"])
    try:
        trade, rep = trade_table(pd.concat(data, ignore_index=True), to_iso, names, mapping, year=opts["year"],
                                 all_years=opts["all_years"], all_codes=opts["all"], source=opts["source"])
    except InputError as e:
        if e.file is not None:
            raise
        # a code of the data missing from the codes file: the codes file is where to look
        raise InputError(e.message.replace("country_codes.csv", codes_file), file=codes_file,
                         column=None) from None
    trade.attrs.update(rep)
    used = set(trade["item"])
    item_rows = {}
    for r in mapping.itertuples(index=False):
        if r.item in used and r.item not in item_rows and "name" in mapping.columns:
            item_rows[r.item] = {"item": r.item, "name": r.name, "stage": r.stage, "unit": r.unit}
    for it in sorted(used - set(item_rows)):
        code = it[2:]
        item_rows[it] = {"item": it, "name": products.get(code, f"HS {code}"), "stage": "raw_material",
                         "unit": "t", "hs_codes": code, "note": "BACI HS-6 code without an atlas item"}
    codes = trade.groupby("item")["hs_codes"].agg(lambda s: ";".join(sorted({c for x in s for c in x.split(";")})))
    items = frame("items", list(item_rows.values()))
    items["hs_codes"] = items["item"].map(codes).astype("string")
    out = {"trade": trade, "items": items, "sources": source_row(opts["source"])}
    if not opts["items"]:
        del out["items"]
    return out


__all__ = ["DATA_COLUMNS", "OPTIONS", "SOURCE_ID", "parse_data", "read_country_codes", "read_mapping", "run",
           "source_row", "trade_table"]
