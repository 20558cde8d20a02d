"""A firm-level supplier table (a company's own data) -> firms, production, recipes and links.

Input: a CSV or Excel sheet with one row per supply relation and the columns (names are matched
case-insensitively; synonyms in brackets)

- ``supplier`` (seller, vendor) -- the firm that makes and sells;
- ``customer`` (buyer, client) -- the firm that buys;
- ``item`` (product, part) -- what is supplied: an atlas item id or a name (turned into a
  snake_case id);
- ``amount`` (quantity, value, volume) -- how much, in one unit per item (the ``unit`` option);
- optional ``country`` (supplier_country) -- where the supplier makes it (iso3 or a name);
  ``customer_country``; ``year``.

What is derived:

- ``firms``: every supplier with a country, and every customer with a ``customer_country``
  (id = snake_case of the name); firms without a country are listed in ``firms.attrs``.
- ``production``: per item and year, each supplier's share of the total amount (firm level,
  ``producer_type`` firm, ``country`` its country) and, where countries are given, the same summed
  by country (country level). Shares are of the amounts in the table, i.e. of the user's view of
  the market, not of world output.
- ``recipes``: where a customer of item X is itself a supplier of item Y, item Y needs X:
  ``dependent_share`` = the part of Y's amount supplied by firms that buy X, rationale
  "firm table: n of m suppliers of Y buy X".
- ``links`` (not an atlas table; the simulation's firm graph): supplier, customer, item, year,
  amount, ``share_of_customer`` (of the customer's purchases of that item) and
  ``share_of_supplier`` (of the supplier's sales of that item), supplier/customer countries.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paxsilica.atlas.schema import STAGE_ORDER, UNITS
from paxsilica.countries import resolve_iso3
from paxsilica.errors import InputError

from ._common import Option, PathsArg, as_paths, coerce_options, frame, read_csv, slug, to_numbers

SOURCE_ID = "firm_table"

OPTIONS: tuple[Option, ...] = (
    Option("year", int, "year of the figures when the table has no year column"),
    Option("unit", str, "unit of the amounts (an atlas unit)", "usd_m"),
    Option("stage", str, "stage of items the table introduces", "component"),
    Option("sheet", str, "sheet of an Excel workbook (default: the first)"),
    Option("strict", bool, "fail on countries that cannot be resolved (default: report)", False),
    Option("source", str, "id of the sources row", SOURCE_ID),
)

SYNONYMS: dict[str, tuple[str, ...]] = {
    "supplier": ("supplier", "seller", "vendor", "supplier_name"),
    "customer": ("customer", "buyer", "client", "customer_name"),
    "item": ("item", "product", "part", "item_id"),
    "amount": ("amount", "quantity", "value", "volume"),
    "country": ("country", "supplier_country", "supplier_iso3"),
    "customer_country": ("customer_country", "customer_iso3", "buyer_country"),
    "year": ("year",),
}

LINK_COLUMNS = ("supplier", "customer", "item", "year", "amount", "share_of_customer", "share_of_supplier",
                "supplier_country", "customer_country", "source")


def _norm(c: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(c).strip().lower()).strip("_")


def read_table(path: Path, sheet: str | None = None) -> pd.DataFrame:
    """Read the CSV or Excel sheet as text cells with normalized column names."""
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        if not path.exists():
            raise InputError("file not found", file=str(path))
        try:
            df = pd.read_excel(path, sheet_name=sheet or 0, dtype=str, engine="openpyxl").fillna("")
        except (ValueError, KeyError) as e:
            raise InputError(f"cannot read the sheet: {e}", file=path.name) from None
        except Exception as e:  # openpyxl raises many types on a broken file
            raise InputError(f"cannot read as an Excel workbook: {type(e).__name__}: {e}", file=path.name) from None
        df = df.astype(str)
    else:
        df = read_csv(path)
    cols = {}
    for c in df.columns:
        n = _norm(c)
        for key, names in SYNONYMS.items():
            if n in names and key not in cols.values():
                cols[c] = key
                break
    out = df.rename(columns=cols)
    missing = [k for k in ("supplier", "customer", "item", "amount") if k not in out.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)} (a firm table needs supplier, customer, item, "
                         f"amount[, country])", file=path.name, row=1, column=missing[0])
    return out


def _country(value: str, file: str, row: int, column: str, strict: bool, report: list[str]) -> str | None:
    v = str(value).strip()
    if not v:
        return None
    iso3 = resolve_iso3(v)
    if iso3 is None:
        if strict:
            raise InputError(f"unknown country {v!r}", file=file, row=row, column=column)
        report.append(f"{file} row {row}: {v}")
    return iso3


def parse_links(df: pd.DataFrame, file: str, *, year: int | None, strict: bool, source: str
                ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Check the table and return the ``links`` frame (before shares)."""
    rows = list(range(2, len(df) + 2))
    rep: dict[str, list[str]] = {"unresolved_countries": [], "self_links": []}
    for c in ("supplier", "customer", "item"):
        blank = df[c].astype(str).str.strip() == ""
        if blank.any():
            i = int(np.flatnonzero(blank.to_numpy())[0])
            raise InputError(f"blank {c}", file=file, row=i + 2, column=c)
    amount = to_numbers(df["amount"], file, "amount", rows=rows, minimum=0)
    if amount.isna().any():
        i = int(np.flatnonzero(amount.isna().to_numpy())[0])
        raise InputError("blank amount", file=file, row=i + 2, column="amount")
    if "year" in df.columns:
        years = to_numbers(df["year"], file, "year", rows=rows)
        bad = years.isna() | (years % 1 != 0) | (years < 1990) | (years > 2100)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"expected a year 1990-2100, got {df['year'].iat[i]!r}", file=file, row=i + 2,
                             column="year")
        years = years.astype(int)
    elif year is not None:
        years = pd.Series(year, index=df.index)
    else:
        raise InputError("the table has no year column: give the year option (--option year=YYYY)", file=file,
                         column="year")
    recs = []
    for i in range(len(df)):
        s, c = str(df["supplier"].iat[i]).strip(), str(df["customer"].iat[i]).strip()
        if slug(s) == slug(c):
            rep["self_links"].append(f"{file} row {i + 2}: {s}")
            continue
        sc = _country(df["country"].iat[i], file, i + 2, "country", strict, rep["unresolved_countries"]) \
            if "country" in df.columns else None
        cc = _country(df["customer_country"].iat[i], file, i + 2, "customer_country", strict,
                      rep["unresolved_countries"]) if "customer_country" in df.columns else None
        item = str(df["item"].iat[i]).strip()
        recs.append({"supplier": slug(s), "supplier_name": s, "customer": slug(c), "customer_name": c,
                     "item": slug(item), "item_name": item, "year": int(years.iat[i]), "amount": float(amount.iat[i]),
                     "supplier_country": sc, "customer_country": cc})
    links = pd.DataFrame(recs, columns=["supplier", "supplier_name", "customer", "customer_name", "item", "item_name",
                                        "year", "amount", "supplier_country", "customer_country"])
    links["source"] = source
    return links, rep


def with_shares(links: pd.DataFrame) -> pd.DataFrame:
    """Merge repeated relations and add share_of_customer / share_of_supplier."""
    links = links.groupby(["supplier", "customer", "item", "year"], as_index=False, sort=False).agg(
        supplier_name=("supplier_name", "first"), customer_name=("customer_name", "first"),
        item_name=("item_name", "first"), amount=("amount", "sum"),
        supplier_country=("supplier_country", "first"), customer_country=("customer_country", "first"),
        source=("source", "first"))
    by_cust = links.groupby(["customer", "item", "year"])["amount"].transform("sum")
    by_supp = links.groupby(["supplier", "item", "year"])["amount"].transform("sum")
    links["share_of_customer"] = (links["amount"] / by_cust.where(by_cust > 0)).astype(float)
    links["share_of_supplier"] = (links["amount"] / by_supp.where(by_supp > 0)).astype(float)
    return links


def derive_tables(links: pd.DataFrame, *, unit: str, stage: str, source: str) -> dict[str, pd.DataFrame]:
    """firms, production, recipes and items from the links frame."""
    # firms: suppliers (country where they supply from) and customers with a country
    firm_rows: dict[str, dict] = {}
    no_country = []
    for fid, name, ctry in list(zip(links["supplier"], links["supplier_name"], links["supplier_country"], strict=True)) + \
            list(zip(links["customer"], links["customer_name"], links["customer_country"], strict=True)):
        if fid in firm_rows:
            continue
        if ctry is None or (isinstance(ctry, float) and np.isnan(ctry)):
            continue
        firm_rows[fid] = {"firm": fid, "name": name, "country": ctry, "source": source}
    for fid in sorted((set(links["supplier"]) | set(links["customer"])) - set(firm_rows)):
        no_country.append(fid)

    # production: firm shares of each item's amount, and country shares where countries are known
    prod = []
    for (item, year), g in links.groupby(["item", "year"], sort=False):
        total = float(g["amount"].sum())
        if total <= 0:
            continue
        by_firm = g.groupby("supplier", sort=False).agg(amount=("amount", "sum"),
                                                        country=("supplier_country", "first"))
        unnamed = []
        for fid, r in by_firm.iterrows():
            if r["amount"] <= 0:
                continue
            if fid not in firm_rows:  # a firm needs a country: its amount goes to OTHER
                unnamed.append((fid, r["amount"]))
                continue
            prod.append({"item": item, "producer": fid, "producer_type": "firm", "country": r["country"],
                         "year": year, "quantity": r["amount"], "unit": unit, "share": 100 * r["amount"] / total,
                         "source": source, "note": "share of the amounts in the firm table"})
        if unnamed:
            a = sum(x for _, x in unnamed)
            prod.append({"item": item, "producer": "OTHER", "producer_type": "rest_of_world", "year": year,
                         "quantity": a, "unit": unit, "share": 100 * a / total, "source": source,
                         "note": "suppliers without a country: " + ", ".join(f for f, _ in unnamed)})
        known = g[g["supplier_country"].notna()]
        if len(known):
            by_c = known.groupby("supplier_country")["amount"].sum()
            for c, a in by_c.items():
                if a <= 0:
                    continue
                prod.append({"item": item, "producer": c, "producer_type": "country", "country": c, "year": year,
                             "quantity": a, "unit": unit, "share": 100 * a / total, "source": source,
                             "note": "sum of the firm rows of this country"})
            rest = total - float(by_c.sum())
            if rest > 0:
                prod.append({"item": item, "producer": "ROW", "producer_type": "rest_of_world", "year": year,
                             "quantity": rest, "unit": unit, "share": 100 * rest / total, "source": source,
                             "note": "suppliers without a country"})

    # recipes: Y needs X where suppliers of Y buy X
    recipes = []
    supplied = links.groupby(["item", "supplier"])["amount"].sum()
    for y in sorted(set(links["item"])):
        makers = supplied.loc[y]
        total = float(makers.sum())
        for x in sorted(set(links["item"]) - {y}):
            buyers = set(links.loc[links["item"] == x, "customer"])
            use = makers[makers.index.isin(buyers)]
            if len(use) and total > 0:
                recipes.append({"item": y, "input": x, "dependent_share": min(1.0, float(use.sum()) / total),
                                "rationale": f"firm table: {len(use)} of {len(makers)} suppliers of {y} buy {x}",
                                "source": source})
    names = links.drop_duplicates("item").set_index("item")["item_name"]
    items = [{"item": i, "name": names[i], "stage": stage, "unit": unit, "source": source,
              "note": "introduced by a firm table"} for i in names.index]
    firms = frame("firms", list(firm_rows.values()))
    firms.attrs["firms_without_country"] = no_country
    return {"firms": firms, "production": frame("production", prod), "recipes": frame("recipes", recipes),
            "items": frame("items", items)}


def source_row(source: str, files: list[str]) -> pd.DataFrame:
    """A ``sources`` row for the user's table."""
    return frame("sources", [{
        "source": source, "publisher": "user-supplied firm table", "title": ", ".join(files),
        "table": "supplier, customer, item, amount", "year": pd.Timestamp.now().year, "licence": "user data",
        "kind": "derived", "note": "shares are of the amounts in the table, not of world output",
    }])


def run(paths: PathsArg, **options: Any) -> dict[str, pd.DataFrame]:
    """Import firm-level supplier tables.

    Parameters
    ----------
    paths : list of paths
        CSV or XLSX tables (concatenated).
    **options
        ``year`` (int, when there is no year column), ``unit`` (default usd_m), ``stage`` (default
        component), ``sheet``, ``strict``, ``source``.

    Returns
    -------
    dict
        ``firms``, ``production``, ``recipes``, ``items``, ``links`` (not an atlas table) and
        ``sources``.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "suppliers.csv"
    >>> _ = p.write_text("supplier,customer,item,amount,country\\nA,B,wafer,3,JPN\\nC,B,wafer,1,TWN\\n")
    >>> run([p], year=2024)["production"].query("producer_type == 'firm'")["share"].tolist()
    [75.0, 25.0]
    """
    opts = coerce_options("firms", OPTIONS, options)
    if opts["unit"] not in UNITS:
        raise InputError(f"unit {opts['unit']!r} is not an atlas unit (one of {', '.join(UNITS)})", column="unit")
    if opts["stage"] not in STAGE_ORDER:
        raise InputError(f"stage {opts['stage']!r} is not an atlas stage (one of {', '.join(STAGE_ORDER)})",
                         column="stage")
    files = as_paths(paths)
    parts, rep = [], {"unresolved_countries": [], "self_links": []}
    for p in files:
        df = read_table(p, opts["sheet"])
        links, r = parse_links(df, p.name, year=opts["year"], strict=opts["strict"], source=opts["source"])
        parts.append(links)
        for k, v in r.items():
            rep[k] += v
    links = with_shares(pd.concat(parts, ignore_index=True))
    out = derive_tables(links, unit=opts["unit"], stage=opts["stage"], source=opts["source"])
    out["production"].attrs.update(rep)
    out["links"] = links[list(LINK_COLUMNS)].reset_index(drop=True)
    out["sources"] = source_row(opts["source"], [p.name for p in files])
    return out


__all__ = ["LINK_COLUMNS", "OPTIONS", "SOURCE_ID", "SYNONYMS", "derive_tables", "parse_links", "read_table", "run",
           "with_shares"]
