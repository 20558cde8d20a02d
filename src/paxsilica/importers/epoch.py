"""Epoch AI GPU clusters and frontier data centres -> atlas ``production`` and ``facilities``.

``gpu_clusters.csv`` (Epoch AI, "Data on GPU Clusters") gives one row per cluster with its
status, country, H100-equivalents and power. The importer sums, per country, the clusters that
are in service today and counted once:

1. ``Status`` is ``Existing`` (not Planned, not Decommissioned);
2. ``Include in Standard Analysis`` is true, where the file has that column -- Epoch's own filter,
   which leaves out rows flagged ``Possible Duplicate`` and aggregate or unlikely entries
   ("Anonymized Chinese System", cloud-region totals); without the column, rows flagged
   ``Possible Duplicate`` and rows of ``Certainty`` Unlikely are left out;
3. rows whose ``Superseded by`` names another Existing cluster are left out: a later phase of the
   same cluster (xAI Colossus Phase 1 -> Phase 2 ...) counts the earlier phase's chips again.

Output: ``gpu_cluster_capacity`` rows (unit h100e; sum of ``H100 equivalents``) and
``ai_datacenter_capacity`` rows (unit MW; sum of ``Power Capacity (MW)`` over the clusters that
give it), each with the share of the world total. Clusters with no country go into a ``ROW``
row ("country not given by Epoch"). The year is that of the latest ``First Operational Date``
among the counted clusters (the data's vintage), unless given.

``data_centers.csv`` (Epoch AI, "Frontier Data Centers") -> ``facilities``: id from ``Handle``,
coordinates from the DMS strings (``32°35'25"N``), country from the address, capacity = current
power (MW); confidence tags (``#confident``) and H100e go into the note.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pycountry

from paxsilica.countries import resolve_iso3
from paxsilica.errors import InputError

from ._common import (
    Option,
    PathsArg,
    add_shares,
    as_paths,
    coerce_options,
    frame,
    read_csv,
    require_columns,
    slug,
    to_numbers,
)

CLUSTERS_SOURCE = "epoch_gpu_clusters"
CENTERS_SOURCE = "epoch_data_centers"

OPTIONS: tuple[Option, ...] = (
    Option("year", int, "year to record (default: latest First Operational Date of the counted clusters)"),
    Option("include_superseded", bool, "count clusters superseded by a later existing phase too", False),
    Option("strict", bool, "fail on country names that cannot be resolved", False),
)

CLUSTER_COLUMNS = ("Name", "Status", "H100 equivalents", "Country")


def source_rows(which: set[str]) -> pd.DataFrame:
    """``sources`` rows for the Epoch AI datasets used (CC BY 4.0)."""
    rows = []
    if "clusters" in which:
        rows.append({"source": CLUSTERS_SOURCE, "publisher": "Epoch AI", "title": "Data on GPU Clusters",
                     "table": "gpu_clusters.csv: existing clusters, H100 equivalents and power capacity by country",
                     "year": 2025, "url": "https://epoch.ai/data/gpu-clusters", "licence": "CC BY 4.0",
                     "kind": "derived",
                     "note": "sums of existing clusters in Epoch's standard analysis, superseded phases left out"})
    if "centers" in which:
        rows.append({"source": CENTERS_SOURCE, "publisher": "Epoch AI", "title": "Frontier Data Centers",
                     "table": "data_centers.csv: location (DMS), owner, current power (MW)", "year": 2025,
                     "url": "https://epoch.ai/data/data-centers", "licence": "CC BY 4.0", "kind": "published",
                     "note": "confidence tags (#confident/#likely) are kept in the notes"})
    return frame("sources", rows)


def _truthy(s: pd.Series) -> pd.Series:
    return s.astype(str).str.strip().str.lower().isin(["true", "yes", "1", "y"])


def counted_clusters(df: pd.DataFrame, include_superseded: bool = False) -> pd.Series:
    """Boolean mask of the clusters counted by the module's rule.

    Examples
    --------
    >>> d = pd.DataFrame({"Name": ["a1", "a2", "b"], "Status": ["Existing"] * 3,
    ...                   "Superseded by": ["a2", "", ""], "Possible Duplicate": ["", "", "True"]})
    >>> counted_clusters(d).tolist()
    [False, True, False]
    """
    ok = df["Status"].str.strip().str.lower() == "existing"
    if "Include in Standard Analysis" in df.columns:
        ok &= _truthy(df["Include in Standard Analysis"])
    else:
        if "Possible Duplicate" in df.columns:
            ok &= ~_truthy(df["Possible Duplicate"])
        if "Certainty" in df.columns:
            ok &= df["Certainty"].str.strip().str.lower() != "unlikely"
    if not include_superseded and "Superseded by" in df.columns:
        existing = set(df.loc[df["Status"].str.strip().str.lower() == "existing", "Name"].str.strip())
        ok &= ~df["Superseded by"].str.strip().isin(existing)
    return ok


def clusters_production(df: pd.DataFrame, file: str, *, year: int | None = None,
                        include_superseded: bool = False, strict: bool = False
                        ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """GPU cluster rows -> ``production`` rows for gpu_cluster_capacity and ai_datacenter_capacity."""
    require_columns(df, CLUSTER_COLUMNS, file, "Epoch GPU clusters")
    rows = list(range(2, len(df) + 2))
    h100 = to_numbers(df["H100 equivalents"], file, "H100 equivalents", rows=rows, minimum=0)
    power_col = "Power Capacity (MW)" if "Power Capacity (MW)" in df.columns else None
    power = to_numbers(df[power_col], file, power_col, rows=rows, minimum=0) if power_col else \
        pd.Series(np.nan, index=df.index)
    keep = counted_clusters(df, include_superseded)
    rep: dict[str, list[str]] = {"skipped_countries": [], "no_h100e": [],
                                 "counted": [str(n) for n in df.loc[keep, "Name"]]}
    years = df.loc[keep, "First Operational Date"].str.extract(r"((?:19|20)\d\d)")[0].dropna().astype(int) \
        if "First Operational Date" in df.columns else pd.Series(dtype=int)
    if year is None:
        if years.empty:
            raise InputError("no First Operational Date among the counted clusters: give the year option",
                             file=file, column="First Operational Date")
        year = int(years.max())
    recs = []
    for i in np.flatnonzero(keep.to_numpy()):
        name = str(df["Country"].iat[i]).strip()
        if not name:
            iso3 = "ROW"
        else:
            iso3 = resolve_iso3(name)
            if iso3 is None:
                if strict:
                    raise InputError(f"unknown country {name!r}", file=file, row=i + 2, column="Country")
                rep["skipped_countries"].append(f"{file} row {i + 2}: {name}")
                iso3 = "ROW"
        if np.isnan(h100.iat[i]):
            rep["no_h100e"].append(str(df["Name"].iat[i]))
        recs.append({"producer": iso3, "h100e": h100.iat[i], "mw": power.iat[i]})
    c = pd.DataFrame(recs, columns=["producer", "h100e", "mw"])
    out = []
    n_power = int(c["mw"].notna().sum())
    for item, col, unit, note in (
            ("gpu_cluster_capacity", "h100e", "h100e", f"sum of {len(c)} existing clusters (Epoch rule, see importer)"),
            ("ai_datacenter_capacity", "mw", "MW", f"sum over the {n_power} counted clusters that give power capacity")):
        g = c.groupby("producer", as_index=False)[col].sum(min_count=1).rename(columns={col: "quantity"})
        g = g[g["quantity"].notna() & (g["quantity"] > 0)]
        g = g.assign(item=item, year=year, unit=unit, estimated=False, note=note,
                     producer_type=np.where(g["producer"] == "ROW", "rest_of_world", "country"))
        g["country"] = g["producer"].where(g["producer"] != "ROW", pd.NA)
        g.loc[g["producer"] == "ROW", "note"] = "clusters whose country Epoch does not give"
        out.append(add_shares(g))
    prod = pd.concat(out, ignore_index=True) if out else pd.DataFrame()
    prod["source"] = CLUSTERS_SOURCE
    return frame("production", prod), rep


_DMS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*°\s*(?:(\d+(?:\.\d+)?)\s*['′]\s*)?(?:(\d+(?:\.\d+)?)\s*(?:\"|″|'')\s*)?([NSEW])\s*$",
                  re.IGNORECASE)


def dms_to_decimal(text: str) -> float:
    """Parse a DMS coordinate (``32°35'25"N``) or a decimal number.

    Examples
    --------
    >>> round(dms_to_decimal('32°35\\'25"N'), 5), round(dms_to_decimal('90°05\\'35"W'), 5)
    (32.59028, -90.09306)
    >>> dms_to_decimal("-12.5")
    -12.5
    """
    s = str(text).strip()
    try:
        return float(s)
    except ValueError:
        pass
    m = _DMS.match(s)
    if not m:
        raise ValueError(s)
    d, mi, se, hemi = m.groups()
    val = float(d) + float(mi or 0) / 60 + float(se or 0) / 3600
    return -val if hemi.upper() in "SW" else val


_US_STATES = {s.name.lower() for s in pycountry.subdivisions.get(country_code="US")}
_US_ZIP = re.compile(r"\b[A-Z]{2}\s+\d{5}(-\d{4})?\b")


def country_of_address(address: str) -> str | None:
    """iso3 of a postal address: US "ST 12345" / state names, else the last part naming a country.

    Examples
    --------
    >>> country_of_address("55001 Larrison Blvd, New Carlisle, IN 46552")
    'USA'
    >>> country_of_address("Zhangbei County, Zhangjiakou, Hebei, China, 076471")
    'CHN'
    """
    a = str(address)
    if _US_ZIP.search(a) or any(re.search(rf"\b{re.escape(s)}\b", a.lower()) for s in _US_STATES):
        return "USA"
    for part in reversed([p.strip() for p in a.split(",")]):
        if len(part) > 3 and not re.search(r"\d", part):
            iso3 = resolve_iso3(part)
            if iso3:
                return iso3
    return None


def _tagless(text: str) -> tuple[str, list[str]]:
    tags = re.findall(r"#\w+", str(text))
    return re.sub(r"\s*#\w+", "", str(text)).strip(), tags


def centers_facilities(df: pd.DataFrame, file: str, strict: bool = False) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Frontier data centres -> ``facilities`` rows."""
    require_columns(df, ("Handle", "Latitude", "Longitude"), file, "Epoch data centers")
    rows = list(range(2, len(df) + 2))
    power = to_numbers(df["Current power (MW)"].map(lambda v: _tagless(v)[0]), file, "Current power (MW)",
                       rows=rows, minimum=0) if "Current power (MW)" in df.columns else pd.Series(np.nan, index=df.index)
    rep: dict[str, list[str]] = {"skipped_facilities": []}
    recs = []
    for i in range(len(df)):
        handle = str(df["Handle"].iat[i]).strip()
        if not handle:
            raise InputError("blank Handle", file=file, row=i + 2, column="Handle")
        coords = []
        for col in ("Latitude", "Longitude"):
            try:
                coords.append(dms_to_decimal(df[col].iat[i]))
            except ValueError:
                raise InputError(f"expected a coordinate such as 32°35'25\"N, got {df[col].iat[i]!r}",
                                 file=file, row=i + 2, column=col) from None
        lat, lon = coords
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InputError(f"coordinates out of range ({lat:g}, {lon:g})", file=file, row=i + 2, column="Latitude")
        address = str(df["Address"].iat[i]) if "Address" in df.columns else ""
        iso3 = country_of_address(address)
        if iso3 is None:
            if strict:
                raise InputError(f"cannot tell the country of {address!r}", file=file, row=i + 2, column="Address")
            rep["skipped_facilities"].append(f"{handle}: country not found in address {address!r}")
            continue
        owner, tags = _tagless(df["Owner"].iat[i]) if "Owner" in df.columns else ("", [])
        h100 = _tagless(df["Current H100 equivalents"].iat[i])[0] if "Current H100 equivalents" in df.columns else ""
        note = "; ".join(x for x in (f"owner: {owner} {' '.join(tags)}".strip() if owner else "",
                                     f"current H100e: {float(h100):,.0f}" if re.fullmatch(r"[\d.]+", h100) else "",
                                     f"project: {df['Project'].iat[i]}" if "Project" in df.columns and
                                     str(df["Project"].iat[i]).strip() else "") if x)
        title = str(df["Title"].iat[i]).strip() if "Title" in df.columns else ""
        recs.append({"facility": f"epoch_{slug(handle)}", "name": title or handle, "item": "ai_datacenter_capacity",
                     "country": iso3, "lat": lat, "lon": lon, "capacity": power.iat[i], "unit": "MW",
                     "source": CENTERS_SOURCE, "note": note or pd.NA})
    return frame("facilities", recs), rep


def run(paths: PathsArg, **options: Any) -> dict[str, pd.DataFrame]:
    """Import Epoch AI files into ``production``, ``facilities`` and ``sources``.

    Parameters
    ----------
    paths : list of paths
        ``gpu_clusters.csv`` and/or ``data_centers.csv`` (told apart by their columns).
    **options
        ``year`` (int), ``include_superseded`` (bool), ``strict`` (bool).

    Returns
    -------
    dict
        ``production`` (attrs: ``counted`` cluster names, ``skipped_countries``, ``no_h100e``),
        ``facilities`` (attrs: ``skipped_facilities``) and ``sources``.

    Examples
    --------
    >>> from pathlib import Path
    >>> f = Path("/work/shared/data/epoch-ai-compute/gpu_clusters.csv")
    >>> if f.exists():
    ...     p = run([f])["production"]
    ...     p.loc[p.item.eq("gpu_cluster_capacity")].sort_values("share").iloc[-1]["producer"]
    ... else:
    ...     "USA"
    'USA'
    """
    opts = coerce_options("epoch", OPTIONS, options)
    out: dict[str, pd.DataFrame] = {}
    used: set[str] = set()
    for p in as_paths(paths):
        df = read_csv(p)
        if "H100 equivalents" in df.columns and "Status" in df.columns:
            prod, rep = clusters_production(df, p.name, year=opts["year"], include_superseded=opts["include_superseded"],
                                            strict=opts["strict"])
            prod.attrs.update(rep)
            out["production"] = prod
            used.add("clusters")
        elif "Handle" in df.columns and "Latitude" in df.columns:
            fac, rep = centers_facilities(df, p.name, strict=opts["strict"])
            fac.attrs.update(rep)
            out["facilities"] = fac
            used.add("centers")
        else:
            raise InputError("not an Epoch AI gpu_clusters.csv (Name, Status, H100 equivalents, Country ...) "
                             "or data_centers.csv (Handle, Latitude, Longitude ...)", file=p.name, row=1)
    out["sources"] = source_rows(used)
    return out


__all__ = ["CENTERS_SOURCE", "CLUSTERS_SOURCE", "OPTIONS", "centers_facilities", "clusters_production",
           "counted_clusters", "country_of_address", "dms_to_decimal", "run", "source_rows"]
