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

TONNES = {"t": 1.0, "kt": 1000.0, "kg": 0.001}
"""Production units convertible to the metric tons of ``trade.quantity``."""


def _flows(atlas: Atlas, year: int | None) -> pd.DataFrame:
    """Latest-year flows per item, with ``measure``: quantity (t) when every flow of the item has
    one, else value (kUSD), and ``amount`` in that measure."""
    t = atlas["trade"]
    t = t[t["item"].notna() & t["exporter"].notna() & t["importer"].notna()
          & (t["exporter"] != t["importer"]).fillna(False)]
    if year is not None:
        t = t[t["year"] <= year]
    if t.empty:
        return t.assign(measure=pd.Series(dtype=object), amount=pd.Series(dtype="float64"))
    latest = t.groupby("item")["year"].transform("max")
    t = t[t["year"] == latest]
    has_q = t["quantity"].notna().groupby(t["item"]).transform("all")
    measure = np.where(has_q, "quantity", "value")
    amount = np.where(has_q, t["quantity"].astype("float64"), t["value"].astype("float64"))
    t = t.assign(measure=measure, amount=amount)
    return t[t["amount"].notna()]


def _production_t(atlas: Atlas, item: str, country: str) -> float:
    """Domestic production of ``country`` in metric tons: 0 when the atlas lists it as no producer
    of the item, NaN when it produces but in no unit convertible to tons (or without quantity)."""
    prod = atlas["production"]
    p = prod[(prod["item"] == item).fillna(False) & (prod["producer"] == country).fillna(False)]
    if p.empty:
        return 0.0
    p = p[p["year"] == p["year"].max()]
    items = atlas["items"].drop_duplicates("item").set_index("item")
    default_unit = items["unit"].get(item) if len(items) else None
    total = 0.0
    for q, unit in zip(p["quantity"], p["unit"], strict=True):
        unit = unit if isinstance(unit, str) and unit else default_unit
        if pd.isna(q) or unit not in TONNES:
            return np.nan
        total += float(q) * TONNES[unit]
    return total


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
        ``measure`` is ``quantity`` (t) when every flow of the item has one, else ``value``
        (kUSD). ``production`` is the consumer's own output in t: 0 when the atlas lists it as no
        producer, NaN when its production is not in t/kt/kg (or trade is in value) — then
        reliance and risk are NaN rather than mixing units. Empty when the atlas has no trade.

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
    cols = ["consumer", "item", "name", "stage", "year", "measure", "imports", "exports",
            "production", "import_reliance", "top_supplier", "top_supplier_share", "hhi",
            "import_risk", "gov_missing"]
    flows = _flows(atlas, year)
    if flows.empty:
        return pd.DataFrame(columns=cols)
    wanted = set(parse_codes(consumers)) if consumers is not None else None
    conc = concentration(atlas, "country").set_index("item")
    gov = governance(atlas)
    info = item_info(atlas)
    rows = []
    for (item, consumer), g in flows.groupby(["item", "importer"], sort=True):
        if wanted is not None and consumer not in wanted:
            continue
        measure = str(g["measure"].iloc[0])
        by = g.groupby("exporter")["amount"].sum().astype("float64")
        total = float(by.sum())
        exports = float(flows.loc[(flows["item"] == item) & (flows["exporter"] == consumer),
                                  "amount"].sum())
        p = _production_t(atlas, item, consumer)
        if measure == "value" and p != 0.0:
            p = np.nan  # production in tons cannot be added to trade values
        denom = p + total
        if np.isnan(denom):
            reliance = np.nan
        else:
            reliance = float(np.clip((total - exports) / (denom - exports), 0.0, 1.0)) \
                if denom - exports > 0 else 0.0
        h = float(conc["hhi"].get(item, np.nan)) / 10_000 if item in conc.index else np.nan
        g_i = np.array([gov.get(e, np.nan) / 10 for e in by.index])
        known = ~np.isnan(g_i)
        weighted = float(np.sum(g_i[known] * by.to_numpy()[known]) / denom) \
            if not np.isnan(denom) and denom > 0 else np.nan
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
