"""Derived views of an Atlas that several analyses share."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .memo import memo_view
from .model import Atlas
from .schema import OTHER_FIRMS_PRODUCER, ROW_PRODUCER
from .validate import production_level

COUNTRY_PRODUCTION_COLUMNS = ("item", "producer", "producer_type", "country", "year", "share", "quantity",
                              "capacity", "from_firms")


def country_production(atlas: Atlas, year: int | None = None) -> pd.DataFrame:
    """Country-level production, per item its latest year (at or before ``year``).

    Items that only have firm rows get them summed by country: a firm row counts for its
    ``country`` (where it produces), else the firm's headquarters (``firms.country``); ``OTHER`` and
    firms of unknown country go to ``ROW``. Rows repeated for one (item, producer) are summed. Metrics,
    the simulation network and the time-to-survive model all read production through this view, so
    they agree on who makes what.

    Parameters
    ----------
    atlas : Atlas
    year : int, optional
        Latest year to consider (default: every year, so the latest available per item).

    Returns
    -------
    DataFrame
        ``item, producer, producer_type (country | rest_of_world), country (iso3, NA for ROW), year,
        share (percent), quantity, capacity, from_firms (bool)``, sorted by item and producer.

    Examples
    --------
    >>> a = Atlas.from_frames({
    ...     "firms": pd.DataFrame({"firm": ["tsmc", "samsung"], "name": ["TSMC", "Samsung"],
    ...                            "country": ["TWN", "KOR"]}),
    ...     "production": pd.DataFrame({"item": ["logic"] * 3, "producer": ["tsmc", "samsung", "OTHER"],
    ...         "producer_type": ["firm", "firm", "rest_of_world"], "year": [2024] * 3,
    ...         "share": [69.0, 21.0, 10.0], "source": ["s"] * 3})})
    >>> country_production(a)[["producer", "share", "from_firms"]].values.tolist()
    [['KOR', 21.0, True], ['ROW', 10.0, True], ['TWN', 69.0, True]]
    """
    # computed once per atlas (the briefing asks for it from a dozen modules); a copy each time
    return memo_view(atlas, "country_production", year, lambda: _country_production(atlas, year),
                     tables=("production", "firms"))


def _country_production(atlas: Atlas, year: int | None) -> pd.DataFrame:
    prod = atlas["production"]
    prod = prod[prod["item"].notna() & prod["producer"].notna() & prod["year"].notna() & prod["share"].notna()]
    if year is not None:
        prod = prod[prod["year"] <= year]
    level = production_level(prod).to_numpy()
    country = _latest(prod[level == "country"])
    firm = _latest(prod[level == "firm"])
    firm = firm[~firm["item"].isin(set(country["item"]))]
    if len(firm):
        hq = dict(zip(atlas["firms"]["firm"], atlas["firms"]["country"], strict=True))
        where = [c if isinstance(c, str) and c else (None if p == OTHER_FIRMS_PRODUCER else hq.get(p))
                 for c, p in zip(firm["country"].astype(object).where(firm["country"].notna(), None),
                                 firm["producer"], strict=True)]
        where = [w if isinstance(w, str) and w else ROW_PRODUCER for w in where]
        firm = firm.assign(producer=where)
    parts = [df.assign(from_firms=flag) for df, flag in ((country, False), (firm, True)) if len(df)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("share", "quantity", "capacity") else object)
                             for c in COUNTRY_PRODUCTION_COLUMNS})
    both = pd.concat(parts, ignore_index=True)
    both = both.assign(quantity=both["quantity"].astype("float64"), capacity=both["capacity"].astype("float64"),
                       share=both["share"].astype("float64"))
    g = both.groupby(["item", "producer"], sort=True)
    # cython group sums (min_count=1: a group with no quantity stays blank, not 0)
    out = pd.concat([g["year"].max(), g["share"].sum(), g[["quantity", "capacity"]].sum(min_count=1),
                     g["from_firms"].first()], axis=1).reset_index()
    rest = out["producer"].eq(ROW_PRODUCER).to_numpy()
    out["producer_type"] = np.where(rest, "rest_of_world", "country")
    out["country"] = pd.array(np.where(rest, None, out["producer"].astype(object)), dtype="string")
    out["year"] = out["year"].astype("int64")
    out["from_firms"] = out["from_firms"].astype(bool)
    return out[list(COUNTRY_PRODUCTION_COLUMNS)].reset_index(drop=True)


def _latest(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df
    return df[df["year"] == df.groupby("item")["year"].transform("max")]
