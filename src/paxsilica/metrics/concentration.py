"""Market concentration of producers per item: HHI, top producers, governance-weighted HHI.

Shares in outputs are fractions 0-1; HHI is on the usual 0-10,000 scale (shares in percent).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..atlas import Atlas
from ..atlas.schema import STAGE_ORDER
from ._common import country_names, fmt_share, governance, item_info, latest_production

SPOF_TOP_SHARE = 0.65
"""Top producer share that makes a single point of failure: the EU Critical Raw Materials Act
(Regulation (EU) 2024/1252, Art. 5(1)(d)) caps reliance on one third country at 65 %."""
SPOF_HHI = 2500.0
"""HHI above which a market is highly concentrated (US DOJ/FTC 2010 merger guidelines)."""
STALE_YEARS = 5
"""A figure older than this many years (before the reference year) is flagged as stale."""


def stale_year(year: object, as_of: int | None = None, limit: int = STALE_YEARS) -> bool:
    """True when ``year`` is more than ``limit`` years before ``as_of`` (default: this year).

    Examples
    --------
    >>> stale_year(2019, 2026), stale_year(2021, 2026), stale_year(None, 2026)
    (True, False, False)
    """
    import datetime as dt

    try:
        y = int(year)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False
    return y < (as_of or dt.date.today().year) - limit


def hhi(shares: Iterable[float]) -> float:
    """Herfindahl-Hirschman index of shares given in percent (0-100): sum of squares, 0-10,000.

    Examples
    --------
    >>> hhi([25, 20, 15, 10, 8, 7, 6, 5, 4])
    1540.0
    >>> hhi([100])
    10000.0
    """
    a = np.asarray(list(shares), dtype="float64")
    a = a[~np.isnan(a)]
    return float(np.sum(a * a))


def hhi_wgi(shares: Iterable[float], governance_risk: Iterable[float]) -> float:
    """Governance-weighted HHI of the EU criticality method: sum of s_i^2 * WGI_scaled,i.

    Shares are fractions (0-1) and the scaled WGI is 0 (best) .. 10 (worst), so the result is 0-10
    as in European Commission (2017). Pairs with a missing governance value are left out.

    Examples
    --------
    >>> round(hhi_wgi([0.5, 0.5], [2.0, 8.0]), 6)
    2.5
    """
    s = np.asarray(list(shares), dtype="float64")
    g = np.asarray(list(governance_risk), dtype="float64")
    ok = ~(np.isnan(s) | np.isnan(g))
    return float(np.sum(s[ok] ** 2 * g[ok]))


# The briefing, supply risk and import risk all need the same table; an Atlas is immutable, so it is
# computed once per atlas (and level, year) and handed out as copies.
_CONCENTRATION: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def concentration(atlas: Atlas, level: str = "country", year: int | None = None) -> pd.DataFrame:
    """Concentration of producers per item (latest year of each item).

    The rest-of-world row (``ROW``, or ``OTHER`` at firm level) is an unknown, fragmented remainder.
    ``hhi`` leaves it out (a lower bound: the remainder spread over many small producers);
    ``hhi_upper`` counts it as one producer (an upper bound). Top producers, counts and the
    governance-weighted HHI ignore it too.

    Parameters
    ----------
    atlas : Atlas
    level : {"country", "firm"}
    year : int, optional
        Use for each item the latest year not after ``year``.

    Returns
    -------
    DataFrame
        One row per item with production data: ``item, name, stage, year, n_producers,
        n_above_1pct, top1, top1_name, top1_share, top3, top3_share, rest_share, hhi, hhi_upper,
        hhi_wgi, wgi_coverage, wgi_missing, spof, stale``. ``hhi_wgi`` (0-10) uses ``countries.
        governance_risk`` of the producer's country; ``wgi_coverage`` is the part of sum s^2 whose
        governance is known; ``spof`` is the single-point-of-failure flag (top producer >= 65 % or
        HHI >= 2,500); ``stale`` marks figures more than 5 years older than this year
        (:data:`STALE_YEARS`).

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"production": pd.DataFrame({"item": ["x", "x", "x"],
    ...     "producer": ["CHN", "USA", "ROW"], "producer_type": ["country", "country", "rest_of_world"],
    ...     "year": [2023] * 3, "share": [60.0, 30.0, 10.0], "source": ["s"] * 3})})
    >>> r = concentration(a).iloc[0]
    >>> float(r["hhi"]), float(r["hhi_upper"]), r["top1"], bool(r["spof"])
    (4500.0, 4600.0, 'CHN', True)
    """
    cache = _CONCENTRATION.setdefault(atlas, {})
    if (level, year) not in cache:
        cache[(level, year)] = _concentration(atlas, level, year)
    return cache[(level, year)].copy()


def _concentration(atlas: Atlas, level: str, year: int | None) -> pd.DataFrame:
    prod = latest_production(atlas, level, year)
    info = item_info(atlas)
    gov = governance(atlas)
    names = country_names(atlas)
    firm_names = _firm_names(atlas) if level == "firm" else {}
    rows = []
    for item, g in prod.groupby("item", sort=True):
        named = g[~g["rest"]].sort_values(["share", "producer"], ascending=[False, True])
        rest_share = float(g.loc[g["rest"], "share"].sum())
        s = named["share"].to_numpy()
        pct = 100 * s
        top = named.head(3)
        gvals = np.array([gov.get(c, np.nan) if isinstance(c, str) else np.nan
                          for c in named["country"]], dtype="float64")
        sq = s * s
        known = ~np.isnan(gvals)
        top1 = str(named["producer"].iloc[0]) if len(named) else None
        top1_share = float(s[0]) if len(s) else 0.0
        h = hhi(pct)
        rows.append({
            "item": item,
            "name": info["name"].get(item, item) if len(info) else item,
            "stage": info["stage"].get(item) if len(info) else None,
            "year": int(g["year"].iloc[0]),
            "n_producers": int(len(named)),
            "n_above_1pct": int(np.sum(s > 0.01)),
            "top1": top1,
            "top1_name": (firm_names.get(top1) or names.get(top1) or top1) if top1 else None,
            "top1_share": top1_share,
            "top3": ", ".join(f"{p} {fmt_share(x)}" for p, x in zip(top["producer"], top["share"],
                                                                   strict=True)),
            "top3_share": float(top["share"].sum()),
            "rest_share": rest_share,
            "hhi": h,
            "hhi_upper": hhi(np.append(pct, 100 * rest_share)),
            "hhi_wgi": hhi_wgi(s, gvals),
            "wgi_coverage": float(sq[known].sum() / sq.sum()) if sq.sum() > 0 else np.nan,
            "wgi_missing": ";".join(sorted({str(c) for c, k in zip(named["producer"], known,
                                                                   strict=True) if not k})),
            "spof": bool(top1_share >= SPOF_TOP_SHARE or h >= SPOF_HHI),
            "stale": stale_year(g["year"].iloc[0]),
        })
    cols = ["item", "name", "stage", "year", "n_producers", "n_above_1pct", "top1", "top1_name",
            "top1_share", "top3", "top3_share", "rest_share", "hhi", "hhi_upper", "hhi_wgi",
            "wgi_coverage", "wgi_missing", "spof", "stale"]
    out = pd.DataFrame(rows, columns=cols)
    return _stage_sorted(out)


def _firm_names(atlas: Atlas) -> dict[str, str]:
    f = atlas["firms"]
    return {str(a): str(b) for a, b in zip(f["firm"], f["name"], strict=True)
            if isinstance(a, str) and isinstance(b, str)}


def _stage_sorted(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df.reset_index(drop=True)
    order = {s: i for i, s in enumerate(STAGE_ORDER)}
    key = df["stage"].map(lambda s: order.get(s, len(order)))
    return (df.assign(_k=key).sort_values(["_k", "item"], kind="mergesort")
              .drop(columns="_k").reset_index(drop=True))


def stage_concentration(atlas: Atlas, level: str = "country", year: int | None = None) -> pd.DataFrame:
    """Per stage: items with data, mean and max HHI, single points of failure.

    Examples
    --------
    >>> from paxsilica.atlas import Atlas
    >>> stage_concentration(Atlas.from_frames({})).empty
    True
    """
    c = concentration(atlas, level, year)
    cols = ["stage", "n_items", "hhi_mean", "hhi_max", "hhi_max_item", "n_spof", "spof_items"]
    if c.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for stage, g in c.groupby("stage", sort=False):
        rows.append({
            "stage": stage, "n_items": len(g), "hhi_mean": float(g["hhi"].mean()),
            "hhi_max": float(g["hhi"].max()), "hhi_max_item": g.loc[g["hhi"].idxmax(), "item"],
            "n_spof": int(g["spof"].sum()), "spof_items": ";".join(g.loc[g["spof"], "item"]),
        })
    return pd.DataFrame(rows, columns=cols)
