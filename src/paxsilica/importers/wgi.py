"""World Bank Worldwide Governance Indicators (WGI) -> atlas ``countries`` governance columns.

Reads any of:

- the World Bank workbook (``wgidataset*.xlsx``: an Introduction sheet and one sheet per
  indicator; a header row ``Country/Territory, Code, Estimate, StdErr, NumSrc, Rank, Lower,
  Upper`` repeated per year, the years in the row above; ``#N/A`` for missing);
- a long CSV (``code, country, year, indicator, estimate, ...``; indicator VA, PV, GE, RQ, RL, CC);
- a wide CSV, one row per economy: ``code`` (or ``iso3``/``iso3c``) and ``VA_est ... CC_est``
  (or the 2024-update names ``VA.EST ... CC.EST``), with a ``year`` column or the year in the
  file name (``wgi_2022_wide.csv``).

Output columns: ``iso3, name, wgi_year, wgi_va, wgi_pv, wgi_ge, wgi_rq, wgi_rl, wgi_cc,
wgi_mean, governance_risk, source``. ``wgi_mean`` is the mean of the available estimates and
``governance_risk = 5 - 2 * wgi_mean`` clipped to [0, 10]: the rescaling of the WGI average to a
0 (best) .. 10 (worst) scale used by the EU criticality methodology (European Commission 2017,
*Methodology for establishing the EU list of critical raw materials*, supply-risk indicator).

World Bank codes that are not ISO 3166-1 (ZAR, ROM, TMP, ADO, KSV, WBG) are mapped by
:func:`paxsilica.countries.resolve_iso3`; economies that cannot be mapped (ANT, the former
Netherlands Antilles) are skipped and listed in ``countries.attrs["skipped"]``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paxsilica.countries import country_name, resolve_iso3
from paxsilica.errors import InputError

from ._common import (
    Option,
    PathsArg,
    as_paths,
    coerce_options,
    frame,
    open_workbook,
    read_csv,
    require_columns,
    to_numbers,
)

SOURCE_ID = "wgi2023"
DIMENSIONS: tuple[str, ...] = ("va", "pv", "ge", "rq", "rl", "cc")
"""WGI dimensions in the World Bank's order."""

SHEET_KEYWORDS: dict[str, str] = {
    "voice": "va", "political": "pv", "government": "ge", "regulatory": "rq", "rule": "rl",
    "corruption": "cc",
}

OPTIONS: tuple[Option, ...] = (
    Option("year", int, "data year to import (default: the latest year with estimates)"),
    Option("strict", bool, "fail on economy codes that cannot be mapped to iso3 (default: skip them)", False),
    Option("source", str, "id of the sources row", SOURCE_ID),
)

_NA = ("", "#N/A", "#N/A N/A", "N/A", "NA", "..", "nan")


def source_row(source: str = SOURCE_ID, year: int | None = None) -> pd.DataFrame:
    """The ``sources`` row for the WGI 2023 update (CC BY 4.0)."""
    return frame("sources", [{
        "source": source, "publisher": "World Bank (Kaufmann and Kraay)",
        "title": "Worldwide Governance Indicators, 2023 update",
        "table": f"six dimensions, estimates{f' for {year}' if year else ''}",
        "year": 2023, "url": "https://www.govindicators.org", "licence": "CC BY 4.0",
        "kind": "published",
        "note": "The WGI are a product of the staff of The World Bank; the World Bank does not guarantee "
                "the accuracy of the data. governance_risk = 5 - 2*mean (EU CRM methodology 2017).",
    }])


# ---------------------------------------------------------------------------------------------
# readers -> long frame: code, country, year, indicator (va..cc), estimate


def read_long_csv(df: pd.DataFrame, file: str) -> pd.DataFrame:
    """Normalize the long CSV (code, country, year, indicator, estimate)."""
    require_columns(df, ("code", "year", "indicator", "estimate"), file, "WGI long")
    rows = list(range(2, len(df) + 2))
    ind = df["indicator"].str.strip().str.lower()
    bad = ~ind.isin(DIMENSIONS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"unknown indicator {df['indicator'].iat[i]!r} (expected VA, PV, GE, RQ, RL, CC)",
                         file=file, row=i + 2, column="indicator")
    year = to_numbers(df["year"], file, "year", rows=rows)
    if year.isna().any():
        i = int(np.flatnonzero(year.isna().to_numpy())[0])
        raise InputError("blank year", file=file, row=i + 2, column="year")
    est = to_numbers(df["estimate"], file, "estimate", rows=rows, allow=_NA)
    return pd.DataFrame({"code": df["code"].str.strip(),
                         "country": df["country"] if "country" in df else "",
                         "year": year.astype(int), "indicator": ind, "estimate": est})


_WIDE_RE = re.compile(r"^(va|pv|ge|rq|rl|cc)[._](est|estimate)$", re.IGNORECASE)


def read_wide_csv(df: pd.DataFrame, file: str, year: int | None) -> pd.DataFrame:
    """Normalize a wide CSV (one row per economy, VA_est .. CC_est)."""
    code_col = next((c for c in ("code", "iso3", "iso3c", "Code", "ISO3") if c in df.columns), None)
    if code_col is None:
        raise InputError("missing column 'code' (or iso3/iso3c) of a WGI file", file=file, row=1, column="code")
    dims = {m.group(1).lower(): c for c in df.columns if (m := _WIDE_RE.match(c))}
    if not dims:
        raise InputError("no estimate columns (VA_est .. CC_est) in a WGI file", file=file, row=1)
    rows = list(range(2, len(df) + 2))
    if "year" in df.columns:
        years = to_numbers(df["year"], file, "year", rows=rows)
        if years.isna().any():
            i = int(np.flatnonzero(years.isna().to_numpy())[0])
            raise InputError("blank year", file=file, row=i + 2, column="year")
        years = years.astype(int)
    else:
        m = re.search(r"(?<!\d)(19\d\d|20\d\d)(?!\d)", file)
        y = year if year is not None else (int(m.group(1)) if m else None)
        if y is None:
            raise InputError("the file has no year column and no year in its name; give the year option",
                             file=file, column="year")
        years = pd.Series(y, index=df.index)
    name_col = next((c for c in ("country", "Country", "countryname") if c in df.columns), None)
    parts = []
    for d, col in dims.items():
        parts.append(pd.DataFrame({
            "code": df[code_col].str.strip(), "country": df[name_col] if name_col else "",
            "year": years.to_numpy(), "indicator": d,
            "estimate": to_numbers(df[col], file, col, rows=rows, allow=_NA).to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def read_workbook(path: Path) -> pd.DataFrame:
    """Read the World Bank WGI workbook (one sheet per indicator)."""
    wb = open_workbook(path)
    parts = []
    try:
        for ws in wb.worksheets:
            dim = next((v for k, v in SHEET_KEYWORDS.items() if k in ws.title.lower()), None)
            if dim is None:
                continue
            parts.append(_read_sheet(ws, dim, path.name))
    finally:
        wb.close()
    if not parts:
        raise InputError("no indicator sheet found (expected sheets such as 'VoiceandAccountability')",
                         file=path.name)
    return pd.concat(parts, ignore_index=True)


def _read_sheet(ws: Any, dim: str, file: str) -> pd.DataFrame:
    # The header is a row "Country/Territory, Code, Estimate, StdErr ..." and a row of years;
    # most sheets put the years above the labels, one sheet repeats the labels below them.
    where = f"{file} [{ws.title}]"
    header: tuple | None = None
    years_row: tuple | None = None
    est_cols: list[tuple[int, int]] | None = None
    records = []
    for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
        if est_cols is None:
            is_years = sum(isinstance(v, (int, float)) and 1900 < v < 2100 for v in row[2:]) >= 1
            is_header = len(row) > 2 and any(isinstance(v, str) and v.strip() == "Estimate" for v in row[2:])
            if is_years and not is_header:
                years_row = row
            elif is_header and len(row) > 1 and isinstance(row[1], str) and row[1].strip() == "Code":
                header = row
            elif header is not None and years_row is not None:
                est_cols = []
                for j, h in enumerate(header):
                    if isinstance(h, str) and h.strip() == "Estimate":
                        y = years_row[j] if j < len(years_row) else None
                        try:
                            est_cols.append((j, int(float(y))))
                        except (TypeError, ValueError):
                            raise InputError(f"no year for the Estimate column {j + 1}", file=where) from None
            if est_cols is None:
                continue
        code = row[1] if len(row) > 1 else None
        if code is None or str(code).strip() in ("", "Code"):
            continue
        for j, y in est_cols:
            v = row[j] if j < len(row) else None
            if v is None or (isinstance(v, str) and v.strip() in _NA):
                val = np.nan
            elif isinstance(v, (int, float)):
                val = float(v)
            else:
                try:
                    val = float(str(v).strip())
                except ValueError:
                    raise InputError(f"expected a number, got {v!r}", file=where, row=n,
                                     column=f"Estimate {y}") from None
            records.append((str(code).strip(), str(row[0] or "").strip(), y, dim, val))
    if est_cols is None:
        raise InputError("no header rows (a row of years and a row 'Country/Territory, Code, Estimate ...')",
                         file=where)
    return pd.DataFrame(records, columns=["code", "country", "year", "indicator", "estimate"])


def read_wgi(path: str | Path, year: int | None = None) -> pd.DataFrame:
    """Read one WGI file (workbook, long or wide CSV) into a long frame.

    Returns
    -------
    DataFrame
        Columns ``code, country, year, indicator (va..cc), estimate``.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "wgi_2022_wide.csv"
    >>> _ = p.write_text("code,country,VA_est,PV_est\\nZAR,Congo,-1.3,-1.8\\n")
    >>> read_wgi(p)[["code", "year", "indicator", "estimate"]].values.tolist()[0]
    ['ZAR', 2022, 'va', -1.3]
    """
    path = Path(path)
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return read_workbook(path)
    df = read_csv(path)
    if "indicator" in df.columns:
        return read_long_csv(df, path.name)
    return read_wide_csv(df, path.name, year)


# ---------------------------------------------------------------------------------------------
# long -> countries


def wgi_countries(long: pd.DataFrame, year: int | None = None, source: str = SOURCE_ID,
                  file: str = "<wgi>", strict: bool = False) -> pd.DataFrame:
    """Pivot long WGI estimates of one year into ``countries`` rows.

    Parameters
    ----------
    long : DataFrame
        From :func:`read_wgi`.
    year : int, optional
        Data year; default the latest year with any estimate.
    strict : bool
        Raise on codes that cannot be mapped to iso3 instead of skipping them.

    Examples
    --------
    >>> long = pd.DataFrame({"code": ["ZAR", "ZAR"], "country": ["Congo, Dem. Rep."] * 2,
    ...                      "year": [2022, 2022], "indicator": ["va", "pv"], "estimate": [-1.0, -2.0]})
    >>> c = wgi_countries(long)
    >>> c.loc[0, "iso3"], float(c.loc[0, "wgi_mean"]), float(c.loc[0, "governance_risk"])
    ('COD', -1.5, 8.0)
    """
    have = long[long["estimate"].notna()]
    if have.empty:
        raise InputError("no WGI estimates in the file", file=file)
    if year is None:
        year = int(have["year"].max())
    elif year not in set(long["year"].unique()):
        raise InputError(f"year {year} not in the file (years {int(long['year'].min())}-"
                         f"{int(long['year'].max())})", file=file, column="year")
    d = long[long["year"] == year]
    wide = d.pivot_table(index="code", columns="indicator", values="estimate", aggfunc="first",
                         dropna=False)
    names = d.drop_duplicates("code").set_index("code")["country"]
    skipped = []
    rows = []
    for code, r in wide.iterrows():
        iso3 = resolve_iso3(str(code))
        if iso3 is None:
            iso3 = resolve_iso3(str(names.get(code, "")))
        if iso3 is None:
            skipped.append(f"{code} {names.get(code, '')}".strip())
            continue
        vals = {f"wgi_{dim}": float(r[dim]) if dim in r.index and pd.notna(r[dim]) else np.nan
                for dim in DIMENSIONS}
        have_any = any(np.isfinite(v) for v in vals.values())
        if not have_any:
            skipped.append(f"{code} (no estimates in {year})")
            continue
        mean = float(np.nanmean(list(vals.values())))
        rows.append({"iso3": iso3, "name": country_name(iso3) or names.get(code), "wgi_year": year, **vals,
                     "wgi_mean": mean, "governance_risk": float(np.clip(5.0 - 2.0 * mean, 0.0, 10.0)),
                     "source": source})
    if strict and skipped:
        raise InputError("economy code(s) not mapped to iso3: " + "; ".join(skipped), file=file, column="code")
    out = frame("countries", rows)
    dup = out["iso3"].duplicated(keep="first")
    if dup.any():
        skipped += [f"{c} (duplicate iso3)" for c in out.loc[dup, "iso3"]]
        out = out[~dup].reset_index(drop=True)
    out = out.sort_values("iso3").reset_index(drop=True)
    out.attrs["skipped"] = skipped
    return out


def run(paths: PathsArg, **options: Any) -> dict[str, pd.DataFrame]:
    """Import WGI files into ``countries`` (governance columns) and ``sources``.

    Parameters
    ----------
    paths : path or list of paths
        WGI workbook, long CSV or wide CSV (several files are combined; the first file wins
        for a code and year present in several).
    **options
        ``year`` (int, default latest), ``strict`` (bool), ``source`` (str).

    Returns
    -------
    dict
        ``{"countries": ..., "sources": ...}``; ``countries.attrs["skipped"]`` lists economies
        left out.

    Examples
    --------
    >>> f = Path("/work/shared/data/wgi-2023-update/wgi_2022_wide.csv")
    >>> c = run([f])["countries"] if f.exists() else pd.DataFrame({"iso3": ["CHN"]})
    >>> "CHN" in set(c["iso3"])
    True
    """
    opts = coerce_options("wgi", OPTIONS, options)
    ps = as_paths(paths)
    longs = [read_wgi(p, opts["year"]) for p in ps]
    long = pd.concat(longs, ignore_index=True).drop_duplicates(["code", "year", "indicator"], keep="first")
    countries = wgi_countries(long, year=opts["year"], source=opts["source"], file=ps[0].name,
                              strict=opts["strict"])
    return {"countries": countries,
            "sources": source_row(opts["source"], int(countries["wgi_year"].max()) if len(countries) else None)}


__all__ = ["DIMENSIONS", "OPTIONS", "SOURCE_ID", "read_wgi", "run", "source_row", "wgi_countries"]
