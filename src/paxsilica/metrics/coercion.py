"""Coercion risk: governance combined with a dated, cited record of export restrictions used as leverage.

A supplier's share of an item is a *dependency*; whether that dependency is a *coercion risk*
depends on whether the supplier has used export restrictions as leverage. The atlas table
``restrictions`` (optional) records such events, each dated and cited (e.g. China's licensing of
gallium and germanium, announced 2023-07-03). For supplier country c and item i on a date:

    record_{c,i} = 1    if c announced a restriction on item i on or before the date
                 = 0.5  if c announced restrictions on other items of the atlas only
                 = 0    otherwise (no recorded use)
    coercion_risk_{c,i} = (governance_risk_c / 10) * record_{c,i}          (0 .. 1)
    coercion_risk_i     = sum_c share_{c,i} * coercion_risk_{c,i}            (0 .. 1)

Events stay on the record after they end (the leverage was used). A supplier without a governance
figure gets the median governance risk of its region (else of all countries), flagged in
``gov_imputed``. See ``docs/metrics.md``, "Coercion risk".
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..atlas import Atlas
from ._common import country_names, item_info, latest_production
from .coalition import _iso_date
from .concentration import _stage_sorted

RECORD_SAME_ITEM = 1.0
"""Record factor of a supplier that restricted this very item."""
RECORD_OTHER_ITEM = 0.5
"""Record factor of a supplier that restricted other items only."""


def restriction_events(atlas: Atlas, date: str | dt.date | None = None) -> pd.DataFrame:
    """Restriction events announced on or before ``date`` (default: all), with ``in_force`` on it.

    Returns ``country, item, announced, effective, ended, kind, targets, in_force, source, note``.

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"restrictions": pd.DataFrame({"country": ["CHN"], "item": ["gallium"],
    ...     "announced": ["2023-07-03"], "effective": ["2023-08-01"], "source": ["s"]})})
    >>> len(restriction_events(a, "2023-01-01")), bool(restriction_events(a, "2024-01-01")["in_force"][0])
    (0, True)
    """
    day = _iso_date(date)
    cols = ["country", "item", "announced", "effective", "ended", "kind", "targets", "in_force",
            "source", "note"]
    r = atlas["restrictions"]
    if r.empty:
        return pd.DataFrame(columns=cols)
    r = r[r["country"].notna() & r["item"].notna() & r["announced"].notna()].copy()
    if day is not None:
        r = r[r["announced"].astype(str) <= day]
    ref = day or dt.date.today().isoformat()
    eff = r["effective"].where(r["effective"].notna(), r["announced"]).astype(str)
    ended = r["ended"].astype("string")
    r["in_force"] = (eff <= ref) & (ended.isna() | (ended > ref)).fillna(True)
    for c in cols:
        if c not in r:
            r[c] = None
    return r[cols].sort_values(["country", "announced", "item"], kind="mergesort").reset_index(drop=True)


def restriction_record(atlas: Atlas, date: str | dt.date | None = None) -> pd.DataFrame:
    """Per country: how many restriction events, on which items, first and latest, and in force.

    Examples
    --------
    >>> from paxsilica.atlas import Atlas
    >>> restriction_record(Atlas.from_frames({})).empty
    True
    """
    ev = restriction_events(atlas, date)
    cols = ["country", "name", "n_events", "items", "first", "latest", "in_force_items"]
    if ev.empty:
        return pd.DataFrame(columns=cols)
    names = country_names(atlas)
    rows = []
    for c, g in ev.groupby("country", sort=True):
        rows.append({"country": c, "name": names.get(c, c), "n_events": len(g),
                     "items": ";".join(sorted(set(g["item"]))), "first": g["announced"].min(),
                     "latest": g["announced"].max(),
                     "in_force_items": ";".join(sorted(set(g.loc[g["in_force"], "item"])))})
    return pd.DataFrame(rows, columns=cols).sort_values(["n_events", "country"], ascending=[False, True],
                                                        kind="mergesort").reset_index(drop=True)


def governance_filled(atlas: Atlas) -> tuple[dict[str, float], set[str]]:
    """``governance_risk`` by iso3, with a missing value imputed by the median of the country's
    region (else of every country); returns the values and the set of imputed codes.

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"countries": pd.DataFrame({"iso3": ["AUS", "NZL", "NCL"],
    ...     "name": ["a", "n", "c"], "region": ["EAP"] * 3, "governance_risk": [2.0, 1.0, None]})})
    >>> g, imputed = governance_filled(a)
    >>> g["NCL"], sorted(imputed)
    (1.5, ['NCL'])
    """
    c = atlas["countries"]
    if c.empty:
        return {}, set()
    return filled_by_region(c, pd.to_numeric(c["governance_risk"], errors="coerce"))


def filled_by_region(countries: pd.DataFrame, values: pd.Series) -> tuple[dict[str, float], set[str]]:
    """``values`` (aligned with ``countries``) by iso3, a missing one imputed by the median of its
    region (else of every country); returns the values and the set of imputed codes.

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"iso3": ["A", "B", "C"], "region": ["r", "r", "s"]})
    >>> values, imputed = filled_by_region(c, pd.Series([1.0, None, None]))
    >>> values, sorted(imputed)
    ({'A': 1.0, 'B': 1.0, 'C': 1.0}, ['B', 'C'])
    """
    region = (countries["region"].fillna("") if "region" in countries
              else pd.Series("", index=countries.index))
    values = pd.Series(np.asarray(values, dtype=float), index=countries.index)
    by_region = values.groupby(region).median()
    overall = float(values.median()) if values.notna().any() else np.nan
    out: dict[str, float] = {}
    imputed: set[str] = set()
    for iso3, v, reg in zip(countries["iso3"], values, region, strict=True):
        if not isinstance(iso3, str):
            continue
        if pd.isna(v):
            v = by_region.get(reg, np.nan)
            v = overall if pd.isna(v) else v
            if pd.isna(v):
                continue
            imputed.add(iso3)
        out[iso3] = float(v)
    return out, imputed


def supplier_coercion_risk(atlas: Atlas, date: str | dt.date | None = None,
                           year: int | None = None) -> pd.DataFrame:
    """Per (item, supplier country): share, governance risk, record factor and coercion risk.

    Returns ``item, country, share, governance_risk, gov_imputed, record, restricted_item,
    coercion_risk``; the rest-of-world row is left out (its members are unknown).
    """
    prod = latest_production(atlas, "country", year)
    prod = prod[~prod["rest"]]
    ev = restriction_events(atlas, date)
    same = set(zip(ev["country"], ev["item"], strict=True))
    any_c = set(ev["country"])
    gov, imputed = governance_filled(atlas)
    rows = []
    for r in prod.itertuples(index=False):
        c = r.country
        rec = RECORD_SAME_ITEM if (c, r.item) in same else (RECORD_OTHER_ITEM if c in any_c else 0.0)
        g = gov.get(c, np.nan)
        rows.append({"item": r.item, "country": c, "share": float(r.share), "governance_risk": g,
                     "gov_imputed": c in imputed, "record": rec, "restricted_item": (c, r.item) in same,
                     "coercion_risk": (g / 10.0) * rec if pd.notna(g) else np.nan})
    return pd.DataFrame(rows, columns=["item", "country", "share", "governance_risk", "gov_imputed",
                                       "record", "restricted_item", "coercion_risk"])


def coercion_risk(atlas: Atlas, date: str | dt.date | None = None, year: int | None = None) -> pd.DataFrame:
    """Per item: share-weighted coercion risk of its suppliers and the riskiest one.

    Returns
    -------
    DataFrame
        ``item, name, stage, coercion_risk, top_coercer, top_coercer_name, top_coercer_share,
        top_coercer_risk, restricted_by, gov_imputed``. ``coercion_risk`` is 0..1 (see the module
        docstring); ``restricted_by`` lists the countries on record for restricting this item;
        ``gov_imputed`` the suppliers whose governance figure was imputed.

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({
    ...   "countries": pd.DataFrame({"iso3": ["CHN", "JPN"], "name": ["China", "Japan"],
    ...                              "governance_risk": [6.0, 2.0]}),
    ...   "production": pd.DataFrame({"item": ["ga", "ga"], "producer": ["CHN", "JPN"],
    ...       "producer_type": ["country"] * 2, "year": [2023] * 2, "share": [90.0, 10.0],
    ...       "source": ["s"] * 2}),
    ...   "restrictions": pd.DataFrame({"country": ["CHN"], "item": ["ga"],
    ...       "announced": ["2023-07-03"], "source": ["s"]})})
    >>> r = coercion_risk(a, "2024-01-01").iloc[0]
    >>> round(float(r["coercion_risk"]), 3), r["top_coercer"]
    (0.54, 'CHN')
    """
    sup = supplier_coercion_risk(atlas, date, year)
    info = item_info(atlas)
    names = country_names(atlas)
    cols = ["item", "name", "stage", "coercion_risk", "top_coercer", "top_coercer_name",
            "top_coercer_share", "top_coercer_risk", "restricted_by", "gov_imputed"]
    rows = []
    for item, g in sup.groupby("item", sort=True):
        risk = g["share"].to_numpy() * g["coercion_risk"].fillna(0.0).to_numpy()
        k = int(np.argmax(risk)) if len(g) else 0
        top = g.iloc[k] if len(g) and risk[k] > 0 else None
        rows.append({
            "item": item, "name": info["name"].get(item, item) if len(info) else item,
            "stage": info["stage"].get(item) if len(info) else None,
            "coercion_risk": float(risk.sum()),
            "top_coercer": None if top is None else top["country"],
            "top_coercer_name": None if top is None else names.get(top["country"], top["country"]),
            "top_coercer_share": 0.0 if top is None else float(top["share"]),
            "top_coercer_risk": 0.0 if top is None else float(top["coercion_risk"]),
            "restricted_by": ";".join(sorted(set(g.loc[g["restricted_item"], "country"]))),
            "gov_imputed": ";".join(sorted(set(g.loc[g["gov_imputed"], "country"]))),
        })
    return _stage_sorted(pd.DataFrame(rows, columns=cols))
