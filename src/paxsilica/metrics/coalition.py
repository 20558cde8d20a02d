"""Coalition exposure: how much of each item a group produces, who outside it dominates, what-ifs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..atlas import Atlas
from ..errors import InputError
from ._common import DEFAULT_COALITION, country_names, item_info, latest_production, parse_codes
from .concentration import SPOF_HHI, SPOF_TOP_SHARE, _stage_sorted, hhi

COERCIVE_SHARE = 0.5
"""A producer outside the coalition holding at least this share makes a coercive dependency."""


def _iso_date(date: str | dt.date | None) -> str | None:
    if date is None:
        return None
    if isinstance(date, dt.date):
        return date.isoformat()
    try:
        return dt.date.fromisoformat(str(date).strip()).isoformat()
    except ValueError:
        raise InputError(f"bad date {date!r}; use YYYY-MM-DD") from None


def members(atlas: Atlas, group: str = DEFAULT_COALITION, date: str | dt.date | None = None,
            add: Iterable[str] | str | None = (), remove: Iterable[str] | str | None = ()
            ) -> frozenset[str]:
    """Members of ``group`` on ``date`` (``joined`` <= date < ``left``), plus ``add``, minus ``remove``.

    Without a date, every member that has no ``left`` date counts (the latest state). A blank
    ``joined`` means a founding member. A group the atlas does not know is empty (so that
    ``add`` alone can build a hypothetical coalition).

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"groups": pd.DataFrame({"group": ["g", "g"], "iso3": ["USA", "JPN"],
    ...     "joined": ["2025-12-12", "2026-03-01"], "source": ["s", "s"]})})
    >>> sorted(members(a, "g", "2026-01-01")), sorted(members(a, "g", add="NLD"))
    (['USA'], ['JPN', 'NLD', 'USA'])
    """
    day = _iso_date(date)
    g = atlas["groups"]
    g = g[(g["group"] == group).fillna(False) & g["iso3"].notna()]
    out = set()
    for iso3, joined, left in zip(g["iso3"], g["joined"], g["left"], strict=True):
        joined = joined if isinstance(joined, str) and joined else None
        left = left if isinstance(left, str) and left else None
        if day is None:
            ok = left is None
        else:
            ok = (joined is None or joined <= day) and (left is None or day < left)
        if ok:
            out.add(str(iso3))
    out |= set(parse_codes(add))
    out -= set(parse_codes(remove))
    return frozenset(out)


def coalition_exposure(atlas: Atlas, group: str = DEFAULT_COALITION,
                       date: str | dt.date | None = None, add: Iterable[str] | str | None = (),
                       level: str = "country", year: int | None = None,
                       member_set: Iterable[str] | None = None) -> pd.DataFrame:
    """Per item: share produced inside the coalition, largest producer outside, risk flags.

    The rest-of-world remainder is counted outside the coalition (its members are unknown), so
    ``coalition_share`` is a lower bound. At firm level a firm belongs to its country.

    Returns
    -------
    DataFrame
        ``item, name, stage, year, coalition_share, outside_share, rest_share, largest_outside,
        largest_outside_name, largest_outside_share, top1, top1_share, hhi, spof, coercive,
        members_producing``; shares are fractions. ``spof``: top producer >= 65 % or HHI >= 2,500;
        ``coercive``: a producer outside the coalition holds >= 50 %.

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"production": pd.DataFrame({"item": ["x"] * 3,
    ...     "producer": ["CHN", "USA", "ROW"], "producer_type": ["country", "country", "rest_of_world"],
    ...     "year": [2023] * 3, "share": [60.0, 30.0, 10.0], "source": ["s"] * 3})})
    >>> r = coalition_exposure(a, add="USA").iloc[0]
    >>> round(float(r["coalition_share"]), 2), r["largest_outside"], bool(r["coercive"])
    (0.3, 'CHN', True)
    """
    mem = frozenset(member_set) if member_set is not None else members(atlas, group, date, add)
    prod = latest_production(atlas, level, year)
    info = item_info(atlas)
    names = country_names(atlas)
    rows = []
    for item, g in prod.groupby("item", sort=True):
        named = g[~g["rest"]].sort_values(["share", "producer"], ascending=[False, True])
        inside = named["country"].isin(mem).to_numpy()
        rest_share = float(g.loc[g["rest"], "share"].sum())
        coal = float(np.clip(named["share"].to_numpy()[inside].sum(), 0.0, 1.0))
        outside = named[~inside]
        lo = str(outside["producer"].iloc[0]) if len(outside) else None
        lo_share = float(outside["share"].iloc[0]) if len(outside) else 0.0
        top1_share = float(named["share"].iloc[0]) if len(named) else 0.0
        h = hhi(100 * named["share"].to_numpy())
        rows.append({
            "item": item,
            "name": info["name"].get(item, item) if len(info) else item,
            "stage": info["stage"].get(item) if len(info) else None,
            "year": int(g["year"].iloc[0]),
            "coalition_share": coal,
            "outside_share": float(np.clip(1.0 - coal, 0.0, 1.0)),
            "rest_share": rest_share,
            "largest_outside": lo,
            "largest_outside_name": names.get(lo, lo) if lo else None,
            "largest_outside_share": lo_share,
            "top1": str(named["producer"].iloc[0]) if len(named) else None,
            "top1_share": top1_share,
            "hhi": h,
            "spof": bool(top1_share >= SPOF_TOP_SHARE or h >= SPOF_HHI),
            "coercive": bool(lo_share >= COERCIVE_SHARE),
            "members_producing": ";".join(sorted(set(named.loc[inside, "country"].astype(str)))),
        })
    cols = ["item", "name", "stage", "year", "coalition_share", "outside_share", "rest_share",
            "largest_outside", "largest_outside_name", "largest_outside_share", "top1",
            "top1_share", "hhi", "spof", "coercive", "members_producing"]
    return _stage_sorted(pd.DataFrame(rows, columns=cols))


def coalition_by_stage(exposure: pd.DataFrame) -> pd.DataFrame:
    """Aggregate :func:`coalition_exposure` per stage: mean and minimum coalition share, flags.

    Examples
    --------
    >>> coalition_by_stage(pd.DataFrame(columns=["stage", "item", "coalition_share",
    ...     "spof", "coercive"])).empty
    True
    """
    cols = ["stage", "n_items", "coalition_share_mean", "coalition_share_min",
            "weakest_item", "n_spof", "n_coercive", "coercive_items"]
    if exposure.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for stage, g in exposure.groupby("stage", sort=False):
        rows.append({
            "stage": stage, "n_items": len(g),
            "coalition_share_mean": float(g["coalition_share"].mean()),
            "coalition_share_min": float(g["coalition_share"].min()),
            "weakest_item": g.loc[g["coalition_share"].idxmin(), "item"],
            "n_spof": int(g["spof"].sum()), "n_coercive": int(g["coercive"].sum()),
            "coercive_items": ";".join(g.loc[g["coercive"], "item"]),
        })
    return pd.DataFrame(rows, columns=cols)


def coalition_whatif(atlas: Atlas, add: Iterable[str] | str, group: str = DEFAULT_COALITION,
                     date: str | dt.date | None = None, level: str = "country",
                     year: int | None = None) -> pd.DataFrame:
    """Coalition exposure before and after countries join: shares and flags side by side.

    Returns
    -------
    DataFrame
        ``item, name, stage, coalition_share_before, coalition_share_after, gain, coercive_before,
        coercive_after, largest_outside_before, largest_outside_after``, sorted by gain.

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"production": pd.DataFrame({"item": ["x", "x"],
    ...     "producer": ["NLD", "USA"], "producer_type": ["country"] * 2,
    ...     "year": [2023] * 2, "share": [80.0, 20.0], "source": ["s"] * 2})})
    >>> float(coalition_whatif(a, "NLD", group="none").iloc[0]["gain"])
    0.8
    """
    before = coalition_exposure(atlas, group, date, (), level, year)
    after = coalition_exposure(atlas, group, date, add, level, year)
    keep = ["item", "coalition_share", "coercive", "largest_outside", "spof"]
    m = before[["item", "name", "stage"] + keep[1:]].merge(
        after[keep], on="item", suffixes=("_before", "_after"))
    m["gain"] = m["coalition_share_after"] - m["coalition_share_before"]
    cols = ["item", "name", "stage", "coalition_share_before", "coalition_share_after", "gain",
            "coercive_before", "coercive_after", "largest_outside_before", "largest_outside_after"]
    return m[cols].sort_values(["gain", "item"], ascending=[False, True],
                               kind="mergesort").reset_index(drop=True)
