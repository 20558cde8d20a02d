"""Import dependence of consumer countries, from bilateral trade (optional atlas table).

GeoPolRisk-style import risk (Gemechu et al. 2016; Santillán-Saldivar et al. 2021):

    import_risk_{c,A} = HHI_A * sum_i ( g_i * f_{i,c,A} / (p_{c,A} + F_{c,A}) )

HHI_A: concentration of global production of item A (fraction scale 0-1); g_i: governance risk of
exporter i (``countries.governance_risk`` / 10, 0-1); f: imports of c from i; F: total imports of c;
p: domestic production of c. Import reliance: (imports - exports) / (production + imports - exports),
clipped to [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..atlas import Atlas
from ._common import governance, item_info, parse_codes
from .concentration import concentration


def _flows(atlas: Atlas, year: int | None) -> tuple[pd.DataFrame, str]:
    t = atlas["trade"]
    t = t[t["item"].notna() & t["exporter"].notna() & t["importer"].notna()
          & (t["exporter"] != t["importer"]).fillna(False)]
    if year is not None:
        t = t[t["year"] <= year]
    if t.empty:
        return t, "quantity"
    measure = "quantity" if t["quantity"].notna().all() else "value"
    t = t[t[measure].notna()]
    latest = t.groupby("item")["year"].transform("max")
    return t[t["year"] == latest], measure


def import_risk(atlas: Atlas, consumers: Iterable[str] | str | None = None,
                year: int | None = None) -> pd.DataFrame:
    """Import reliance and GeoPolRisk-style import risk per (consumer, item) with trade data.

    Parameters
    ----------
    atlas : Atlas
    consumers : iso3 codes, optional
        Importing countries to evaluate (default: every importer in the trade table).
    year : int, optional
        Latest trade year to use per item.

    Returns
    -------
    DataFrame
        ``consumer, item, name, stage, year, measure, imports, exports, production,
        import_reliance, top_supplier, top_supplier_share, hhi, import_risk, gov_missing``.
        ``measure`` is ``quantity`` (t) or ``value`` (kUSD, then production is unknown and
        reliance is on gross imports). Empty when the atlas has no trade.

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({
    ...   "countries": pd.DataFrame({"iso3": ["CHN", "JPN", "USA"], "name": ["C", "J", "U"],
    ...                              "governance_risk": [6.0, 2.0, 3.0]}),
    ...   "production": pd.DataFrame({"item": ["ga"], "producer": ["CHN"], "producer_type": ["country"],
    ...       "year": [2023], "share": [100.0], "source": ["s"]}),
    ...   "trade": pd.DataFrame({"item": ["ga", "ga"], "exporter": ["CHN", "USA"],
    ...       "importer": ["JPN", "JPN"], "year": [2023, 2023], "quantity": [75.0, 25.0],
    ...       "source": ["s", "s"]})})
    >>> r = import_risk(a, "JPN").iloc[0]
    >>> float(r["import_reliance"]), round(float(r["import_risk"]), 3)
    (1.0, 0.525)
    """
    flows, measure = _flows(atlas, year)
    cols = ["consumer", "item", "name", "stage", "year", "measure", "imports", "exports",
            "production", "import_reliance", "top_supplier", "top_supplier_share", "hhi",
            "import_risk", "gov_missing"]
    if flows.empty:
        return pd.DataFrame(columns=cols)
    wanted = set(parse_codes(consumers)) if consumers is not None else None
    conc = concentration(atlas, "country").set_index("item")
    gov = governance(atlas)
    info = item_info(atlas)
    prod = atlas["production"]
    rows = []
    for (item, consumer), g in flows.groupby(["item", "importer"], sort=True):
        if wanted is not None and consumer not in wanted:
            continue
        by = g.groupby("exporter")[measure].sum().astype("float64")
        total = float(by.sum())
        exports = float(flows.loc[(flows["item"] == item) & (flows["exporter"] == consumer),
                                  measure].sum())
        p = np.nan
        if measure == "quantity":
            pr = prod[(prod["item"] == item).fillna(False) & (prod["producer"] == consumer).fillna(False)
                      & prod["quantity"].notna()]
            p = float(pr.loc[pr["year"] == pr["year"].max(), "quantity"].sum()) if len(pr) else 0.0
        denom = (0.0 if np.isnan(p) else p) + total
        reliance = float(np.clip((total - exports) / (denom - exports), 0.0, 1.0)) \
            if denom - exports > 0 else 0.0
        h = float(conc["hhi"].get(item, np.nan)) / 10_000 if item in conc.index else np.nan
        g_i = np.array([gov.get(e, np.nan) / 10 for e in by.index])
        known = ~np.isnan(g_i)
        weighted = float(np.sum(g_i[known] * by.to_numpy()[known]) / denom) if denom > 0 else 0.0
        top = by.sort_values(ascending=False, kind="mergesort")
        rows.append({
            "consumer": consumer, "item": item, "name": info["name"].get(item, item),
            "stage": info["stage"].get(item), "year": int(g["year"].iloc[0]), "measure": measure,
            "imports": total, "exports": exports, "production": p, "import_reliance": reliance,
            "top_supplier": str(top.index[0]), "top_supplier_share": float(top.iloc[0] / total)
            if total > 0 else 0.0, "hhi": h * 10_000, "import_risk": h * weighted,
            "gov_missing": ";".join(sorted(str(e) for e, k in zip(by.index, known, strict=True)
                                           if not k)),
        })
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["consumer", "import_risk"], ascending=[True, False],
                           kind="mergesort").reset_index(drop=True)
