"""Import dependence of consumer countries, from bilateral trade (optional atlas table).

GeoPolRisk import risk (Gemechu et al. 2016; Santillán-Saldivar et al. 2021):

    import_risk_{c,A} = HHI_A * sum_i ( g_i * f_{i,c,A} / (p_{c,A} + F_{c,A}) )

HHI_A: concentration of global production of item A (fraction scale 0-1); g_i: instability of
exporter i (0-1); f: imports of c from i; F: total imports of c; p: domestic production of c, all in
metric tons. Import reliance: (imports - exports) / (production + imports - exports), clipped to
[0, 1].

Two methods differ only in g_i:

- ``"wgi_mean"`` (default): ``countries.governance_risk`` / 10, the mean of the six WGI dimensions
  rescaled as in the EU criticality method (consistent with HHI_WGI and the EU supply risk);
- ``"geopolrisk"``: the published GeoPolRisk choice, the WGI *political stability and absence of
  violence* estimate PV rescaled to (2.5 - PV) / 5 (0 stable .. 1 unstable).

Tonnage: a flow without a quantity gets one from its value at the item's unit value (sum of values ÷
sum of quantities over the item's flows that have both); ``imputed_share`` is the part of a consumer's
imports so estimated. Only an item none of whose flows has a quantity is weighted by value, and then
domestic production (in tons) cannot be added: reliance and risk are NaN unless the consumer produces
none. An exporter without a governance figure gets the median of its region (else of all countries),
listed in ``gov_imputed`` — never a risk of zero.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..atlas import Atlas
from ..errors import InputError
from ._common import item_info, parse_codes
from .coercion import filled_by_region, governance_filled
from .concentration import concentration

TONNES = {"t": 1.0, "kt": 1000.0, "kg": 0.001, "t_content": 1.0, "mcm": 730.0, "bcm": 730_000.0}
"""Production units convertible to the metric tons of ``trade.quantity``. Natural gas: 1 billion
cubic metres = 0.73 million tonnes of LNG (Energy Institute, *Statistical Review of World Energy*,
approximate conversion factors), so 1 mcm = 730 t."""
METHODS = ("wgi_mean", "geopolrisk")
"""Choices of the exporter instability g_i (see the module docstring)."""


def _flows(atlas: Atlas, year: int | None) -> pd.DataFrame:
    """Latest-year flows per item with ``amount`` (t, or kUSD when no flow of the item has a
    quantity), ``measure`` (quantity or value) and ``imputed`` (tonnage estimated from value)."""
    t = atlas["trade"]
    t = t[t["item"].notna() & t["exporter"].notna() & t["importer"].notna()
          & (t["exporter"] != t["importer"]).fillna(False)]
    if year is not None:
        t = t[t["year"] <= year]
    if t.empty:
        return t.assign(measure=pd.Series(dtype=object), amount=pd.Series(dtype="float64"),
                        imputed=pd.Series(dtype=bool))
    latest = t.groupby("item")["year"].transform("max")
    t = t[t["year"] == latest].copy()
    q = t["quantity"].astype("float64")
    v = t["value"].astype("float64")
    both = q.notna() & v.notna() & (q > 0)
    unit_value = (v.where(both).groupby(t["item"]).sum() / q.where(both).groupby(t["item"]).sum())
    uv = t["item"].map(unit_value).astype("float64")
    any_q = q.notna().groupby(t["item"]).transform("any")
    est = np.where(q.isna() & v.notna() & (uv > 0), v / uv, np.nan)
    amount = np.where(any_q, np.where(q.notna(), q, est), v)
    t = t.assign(measure=np.where(any_q, "quantity", "value"), amount=amount,
                 imputed=(any_q & q.isna()).to_numpy())
    return t[pd.notna(t["amount"])]


def _production_t(atlas: Atlas, item: str, country: str) -> float:
    """Domestic production of ``country`` in metric tons: 0 when the atlas lists it as no producer
    of the item, NaN when it produces but in no unit convertible to tons (or without quantity)."""
    prod = atlas["production"]
    p = prod[(prod["item"] == item).fillna(False) & (prod["producer"] == country).fillna(False)]
    if p.empty:
        return 0.0
    withq = p[p["quantity"].notna()]
    p = withq if len(withq) else p
    p = p[p["year"] == p["year"].max()]
    items = atlas["items"].drop_duplicates("item").set_index("item")
    default_unit = items["unit"].get(item) if len(items) else None
    # one figure per source: several publishers for one year are alternatives, not parts
    vals = []
    for q, unit in zip(p["quantity"], p["unit"], strict=True):
        unit = unit if isinstance(unit, str) and unit else default_unit
        if pd.isna(q) or unit not in TONNES:
            return np.nan
        vals.append(float(q) * TONNES[unit])
    return float(np.median(vals)) if vals else np.nan


def instability(atlas: Atlas, method: str = "wgi_mean") -> tuple[dict[str, float], set[str]]:
    """g_i (0 stable .. 1 unstable) by iso3 for ``method``, and the codes whose value was imputed
    (median of the region, else of all countries).

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"countries": pd.DataFrame({"iso3": ["A"], "name": ["a"],
    ...     "governance_risk": [4.0], "wgi_pv": [0.5]})})
    >>> instability(a)[0]["A"], instability(a, "geopolrisk")[0]["A"]
    (0.4, 0.4)
    """
    if method not in METHODS:
        raise InputError(f"unknown import-risk method {method!r}; use one of: {', '.join(METHODS)}")
    if method == "wgi_mean":
        g, imputed = governance_filled(atlas)
        return {k: v / 10.0 for k, v in g.items()}, imputed
    c = atlas["countries"]
    pv = pd.to_numeric(c["wgi_pv"], errors="coerce") if "wgi_pv" in c else pd.Series(np.nan, index=c.index)
    g = ((2.5 - pv) / 5.0).clip(0.0, 1.0)
    return filled_by_region(c, g)


def import_risk(atlas: Atlas, consumers: Iterable[str] | str | None = None,
                year: int | None = None, method: str = "wgi_mean") -> pd.DataFrame:
    """Import reliance and GeoPolRisk import risk per (consumer, item) with trade data.

    Parameters
    ----------
    atlas : Atlas
    consumers : iso3 codes, optional
        Importing countries to evaluate (default: every importer in the trade table).
    year : int, optional
        Latest trade year to use per item.
    method : {"wgi_mean", "geopolrisk"}
        Exporter instability g_i: the mean-of-six-WGI governance risk / 10 (default), or the
        published GeoPolRisk choice, political stability (2.5 - PV) / 5.

    Returns
    -------
    DataFrame
        ``consumer, item, name, stage, year, measure, imports, exports, production,
        import_reliance, top_supplier, top_supplier_share, hhi, import_risk, imputed_share,
        gov_imputed, gov_missing``. ``measure`` is ``quantity`` (t; flows without one estimated
        from value, ``imputed_share`` of the imports) or ``value`` (kUSD, when no flow of the item
        has a quantity). ``production`` is the consumer's own output in t: 0 when the atlas lists
        it as no producer, NaN when its production is not in t/kt/kg (or trade is in value) — then
        reliance and risk are NaN rather than mixing units. ``gov_imputed``: exporters whose
        instability was imputed; ``gov_missing``: exporters with none at all (left out).
        Empty when the atlas has no trade.

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
            "import_risk", "imputed_share", "gov_imputed", "gov_missing"]
    gov, imputed_gov = instability(atlas, method)
    flows = _flows(atlas, year)
    if flows.empty:
        return pd.DataFrame(columns=cols)
    wanted = set(parse_codes(consumers)) if consumers is not None else None
    conc = concentration(atlas, "country").set_index("item")
    info = item_info(atlas)
    exports_by = flows.groupby(["item", "exporter"])["amount"].sum()
    rows = []
    for (item, consumer), g in flows.groupby(["item", "importer"], sort=True):
        if wanted is not None and consumer not in wanted:
            continue
        measure = str(g["measure"].iloc[0])
        by = g.groupby("exporter")["amount"].sum().astype("float64")
        total = float(by.sum())
        est = float(g.loc[g["imputed"], "amount"].sum())
        exports = float(exports_by.get((item, consumer), 0.0))
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
        g_i = np.array([gov.get(e, np.nan) for e in by.index])
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
            "imputed_share": est / total if total > 0 else 0.0,
            "gov_imputed": ";".join(sorted(str(e) for e in by.index if e in imputed_gov)),
            "gov_missing": ";".join(sorted(str(e) for e, k in zip(by.index, known, strict=True)
                                           if not k)),
        })
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["consumer", "import_risk"], ascending=[True, False],
                           kind="mergesort").reset_index(drop=True)
