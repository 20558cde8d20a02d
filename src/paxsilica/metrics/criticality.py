"""Supply risk as in the EU criticality assessment (European Commission 2017, used in 2020 and 2023).

SR = [HHI_WGI,GS * IR/2 + HHI_WGI,EUsourcing * (1 - IR/2)] * (1 - EoL_RIR) * SI_SR

with HHI_WGI = sum_i s_i^2 * WGI_scaled,i (shares as fractions, WGI rescaled 0-10), GS the global
supply (production shares), EU sourcing the EU's own supply mix (EU production + imports by origin),
IR the EU import reliance, EoL_RIR the end-of-life recycling input rate and SI_SR the substitution
index for supply risk. Inputs the atlas lacks are reported, never invented.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..atlas import Atlas
from ._common import governance, item_info
from .coalition import members
from .concentration import concentration, hhi_wgi

EU_SR_THRESHOLD = 1.0
"""Supply-risk threshold of the EU criticality assessment (with economic importance >= 2.8)."""
EU_GROUP = "eu27"


def eu_sourcing_shares(atlas: Atlas, item: str, eu_group: str = EU_GROUP,
                       year: int | None = None) -> pd.Series | None:
    """EU sourcing mix of one item: EU members' production plus imports from non-members, by country.

    Needs production quantities of the EU members (or none produced) and ``trade`` quantities into
    EU members; returns shares (fractions) by country, or None when the atlas cannot tell.
    """
    return _eu_sourcing(_eu_rows(atlas, eu_group), item, year)


_Rows = tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]


def _eu_rows(atlas: Atlas, eu_group: str) -> _Rows | None:
    """The rows every item's EU sourcing mix reads, per item in table order: imports into the EU from
    outside it with a quantity, and EU members' production with a quantity (None: no EU or no trade)."""
    eu = members(atlas, eu_group)
    trade = atlas["trade"]
    if not eu or trade.empty:
        return None
    t = trade[trade["importer"].isin(eu) & ~trade["exporter"].isin(eu) & trade["quantity"].notna()]
    prod = atlas["production"]
    p = prod[prod["producer"].isin(eu) & prod["quantity"].notna()]
    return ({str(k): g for k, g in t.groupby("item", sort=False)},
            {str(k): g for k, g in p.groupby("item", sort=False)}, t.iloc[:0], p.iloc[:0])


def _eu_sourcing(rows: _Rows | None, item: str, year: int | None) -> pd.Series | None:
    if rows is None:
        return None
    trade_of, prod_of, no_trade, no_prod = rows
    t = trade_of.get(item, no_trade)
    if year is not None:
        t = t[t["year"] <= year]
    if t.empty:
        return None
    t = t[t["year"] == t["year"].max()]
    imports = t.groupby("exporter")["quantity"].sum().astype("float64")
    p = prod_of.get(item, no_prod)
    if len(p):
        p = p[p["year"] == p["year"].max()]
    domestic = p.groupby("producer")["quantity"].sum().astype("float64")
    total = imports if domestic.empty else pd.concat([imports, domestic]).groupby(level=0).sum()
    if total.sum() <= 0:
        return None
    return total / total.sum()


def supply_risk(atlas: Atlas, eu_group: str = EU_GROUP, year: int | None = None) -> pd.DataFrame:
    """EU supply risk (SR) per item, where its inputs exist, and which inputs are missing.

    Returns
    -------
    DataFrame
        ``item, name, stage, hhi_wgi_gs, hhi_wgi_eu, import_reliance_eu, eol_rir,
        substitution_index, sr, sr_gs_proxy, sr_gs_bound, sr_critical, missing``. ``sr`` is the EU
        formula, NaN unless every input exists; ``sr_gs_proxy`` assumes the EU sources like the world
        (HHI_WGI,EUsourcing = HHI_WGI,GS, so IR drops out) and needs only EoL-RIR and SI_SR;
        ``sr_gs_bound`` is that proxy at the worst case of whichever of EoL-RIR (0) and SI_SR (1)
        is missing, an upper bound under the same sourcing assumption;
        ``sr_critical`` is sr (else the proxy) >= 1; ``missing`` names the absent inputs.

    Examples
    --------
    >>> from paxsilica.atlas import Atlas
    >>> supply_risk(Atlas.from_frames({})).empty
    True
    """
    conc = concentration(atlas, "country", year)
    info = item_info(atlas)
    items = atlas["items"].drop_duplicates("item").set_index("item")
    gov = governance(atlas)
    rows = []
    eu_rows = _eu_rows(atlas, eu_group)  # the EU's rows once, not filtered from the whole tables per item
    for r in conc.itertuples(index=False):
        def get(col: str, item: str = r.item) -> float:
            v = items[col].get(item) if col in items else None
            return float(v) if v is not None and pd.notna(v) else np.nan

        ir, eol, si = get("import_reliance_eu"), get("eol_rir"), get("substitution_index")
        src = _eu_sourcing(eu_rows, r.item, year)
        if src is not None:
            h_eu = hhi_wgi(src.to_numpy(), [gov.get(c, np.nan) for c in src.index])
        else:
            h_eu = np.nan
        missing = [n for n, v in (("hhi_wgi_eu_sourcing", h_eu), ("import_reliance_eu", ir),
                                  ("eol_rir", eol), ("substitution_index", si)) if np.isnan(v)]
        sr = (r.hhi_wgi * ir / 2 + h_eu * (1 - ir / 2)) * (1 - eol) * si
        proxy = r.hhi_wgi * (1 - eol) * si
        bound = r.hhi_wgi * (1 - (0.0 if np.isnan(eol) else eol)) * (1.0 if np.isnan(si) else si)
        best = sr if not np.isnan(sr) else proxy
        rows.append({
            "item": r.item, "name": info["name"].get(r.item, r.item), "stage": r.stage,
            "hhi_wgi_gs": r.hhi_wgi, "hhi_wgi_eu": h_eu, "import_reliance_eu": ir, "eol_rir": eol,
            "substitution_index": si, "sr": sr, "sr_gs_proxy": proxy, "sr_gs_bound": bound,
            "sr_critical": bool(best >= EU_SR_THRESHOLD) if not np.isnan(best) else pd.NA,
            "missing": ";".join(missing),
        })
    cols = ["item", "name", "stage", "hhi_wgi_gs", "hhi_wgi_eu", "import_reliance_eu", "eol_rir",
            "substitution_index", "sr", "sr_gs_proxy", "sr_gs_bound", "sr_critical", "missing"]
    out = pd.DataFrame(rows, columns=cols)
    out["sr_critical"] = out["sr_critical"].astype("boolean")
    return out
