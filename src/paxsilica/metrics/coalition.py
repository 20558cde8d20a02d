"""Coalition exposure: how much of each item a group produces, who outside it dominates, what-ifs.

Suppliers fall in three tiers: **member** (of the coalition on the date), **partner** (the
coalition's guests, group ``<coalition>_guests``, and members of the ally groups a user names, e.g.
``oecd``, ``eu27``, ``g7``) and **other**. See ``docs/metrics.md``, "Supplier tiers".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..atlas import Atlas
from ..errors import InputError
from ._common import DEFAULT_COALITION, country_names, item_info, latest_production, parse_codes
from .concentration import SPOF_HHI, SPOF_TOP_SHARE, _stage_sorted, hhi

DEPENDENCY_SHARE = 0.5
"""A single non-member producer holding at least this share makes a *dependency on a non-member*."""
TIERS = ("member", "partner", "other")
"""Supplier tiers, closest first."""
GUESTS_SUFFIX = "_guests"
"""``<coalition>_guests`` is the group of the coalition's invited, non-signatory partners."""


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
    """Members of ``group`` on ``date`` (``joined`` <= date <= ``left``), plus ``add``, minus ``remove``.

    ``left`` is the member's last day (the UK left the EU at the end of 2020-01-31, so it was a
    member that day). Without a date, every member that has no ``left`` date counts (the latest
    state). A blank ``joined`` means a founding member. A group the atlas does not know is empty (so that
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
            ok = (joined is None or joined <= day) and (left is None or day <= left)
        if ok:
            out.add(str(iso3))
    out |= set(parse_codes(add))
    out -= set(parse_codes(remove))
    return frozenset(out)


def partners(atlas: Atlas, group: str = DEFAULT_COALITION, date: str | dt.date | None = None,
             allies: Iterable[str] | str | None = (), member_set: Iterable[str] | None = None,
             add: Iterable[str] | str | None = ()) -> frozenset[str]:
    """Partner tier: the coalition's guests (``<group>_guests``) and members of the ``allies``
    groups on ``date``, minus the coalition's own members.

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"groups": pd.DataFrame({"group": ["g", "g_guests", "oecd", "oecd"],
    ...     "iso3": ["USA", "TWN", "USA", "NLD"], "source": ["s"] * 4})})
    >>> sorted(partners(a, "g")), sorted(partners(a, "g", allies="oecd"))
    (['TWN'], ['NLD', 'TWN'])
    """
    mem = frozenset(member_set) if member_set is not None else members(atlas, group, date, add)
    out = set(members(atlas, group + GUESTS_SUFFIX, date))
    for ally in _group_list(allies):
        out |= members(atlas, ally, date)
    return frozenset(out - mem)


def _group_list(groups: Iterable[str] | str | None) -> tuple[str, ...]:
    if groups is None:
        return ()
    if isinstance(groups, str):
        groups = groups.split(",")
    return tuple(dict.fromkeys(g.strip() for g in groups if g and g.strip()))


def tier_of(country: str | None, member_set: Iterable[str], partner_set: Iterable[str]) -> str | None:
    """``member``, ``partner`` or ``other`` (None for no country, e.g. the rest of the world).

    Examples
    --------
    >>> tier_of("NLD", {"USA"}, {"NLD"}), tier_of("CHN", {"USA"}, {"NLD"}), tier_of(None, (), ())
    ('partner', 'other', None)
    """
    if not isinstance(country, str) or not country:
        return None
    if country in set(member_set):
        return "member"
    return "partner" if country in set(partner_set) else "other"


def supplier_tiers(atlas: Atlas, group: str = DEFAULT_COALITION, date: str | dt.date | None = None,
                   allies: Iterable[str] | str | None = (), add: Iterable[str] | str | None = ()
                   ) -> pd.DataFrame:
    """Every country of the atlas with its tier: ``iso3, name, tier`` (member / partner / other)."""
    mem = members(atlas, group, date, add)
    par = partners(atlas, group, date, allies, member_set=mem)
    c = atlas["countries"]
    rows = [{"iso3": str(i), "name": str(n) if isinstance(n, str) else str(i),
             "tier": tier_of(str(i), mem, par)}
            for i, n in zip(c["iso3"], c["name"], strict=True) if isinstance(i, str)]
    return pd.DataFrame(rows, columns=["iso3", "name", "tier"])


def coalition_exposure(atlas: Atlas, group: str = DEFAULT_COALITION,
                       date: str | dt.date | None = None, add: Iterable[str] | str | None = (),
                       level: str = "country", year: int | None = None,
                       member_set: Iterable[str] | None = None,
                       allies: Iterable[str] | str | None = ()) -> pd.DataFrame:
    """Per item: share produced inside the coalition, by partners, largest producer outside, flags.

    The rest-of-world remainder is counted outside the coalition (its members are unknown), so
    ``coalition_share`` is a lower bound. At firm level a firm belongs to its country.

    Returns
    -------
    DataFrame
        ``item, name, stage, year, coalition_share, outside_share, rest_share, largest_outside,
        largest_outside_name, largest_outside_share, largest_outside_tier, partner_share,
        other_share, largest_other, largest_other_share, top1, top1_share, top1_tier, hhi, spof,
        nonmember_dependency, other_dependency, members_producing``; shares are fractions.
        ``spof``: top producer >= 65 % or HHI >= 2,500; ``nonmember_dependency``: one producer
        outside the coalition (partner or other) holds >= 50 %; ``other_dependency``: one producer
        of the *other* tier (neither member nor partner) holds >= 50 %. ``partner_share`` and
        ``other_share`` split the named outside share by tier (the rest of the world is in neither).

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"production": pd.DataFrame({"item": ["x"] * 3,
    ...     "producer": ["CHN", "USA", "ROW"], "producer_type": ["country", "country", "rest_of_world"],
    ...     "year": [2023] * 3, "share": [60.0, 30.0, 10.0], "source": ["s"] * 3})})
    >>> r = coalition_exposure(a, add="USA").iloc[0]
    >>> round(float(r["coalition_share"]), 2), r["largest_outside"], bool(r["nonmember_dependency"])
    (0.3, 'CHN', True)
    >>> r["largest_outside_tier"], bool(r["other_dependency"])
    ('other', True)
    """
    mem = frozenset(member_set) if member_set is not None else members(atlas, group, date, add)
    par = partners(atlas, group, date, allies, member_set=mem)
    prod = latest_production(atlas, level, year)
    info = item_info(atlas)
    names = country_names(atlas)
    rows = []
    # one pass over numpy columns (the per-item pandas filters and sorts were most of the briefing's
    # measures); every sum is a numpy sum of the same values in the same order as before
    prod = prod[prod["item"].notna()]
    codes, uniq = pd.factorize(prod["item"], sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniq) + 1))
    share_a = prod["share"].to_numpy(dtype="float64")
    rest_a = prod["rest"].to_numpy(dtype=bool)
    producer_a = prod["producer"].to_numpy(dtype=object)
    country_a = prod["country"].astype(object).where(prod["country"].notna(), None).to_numpy(dtype=object)
    year_a = prod["year"].to_numpy()
    in_mem = np.array([c in mem for c in country_a], dtype=bool)
    in_par = np.array([c in par for c in country_a], dtype=bool)
    for k, item in enumerate(uniq):
        g = order[bounds[k]:bounds[k + 1]]
        named = sorted(g[~rest_a[g]], key=lambda r: (-share_a[r], producer_a[r]))
        named = np.asarray(named, dtype=np.intp)
        inside = in_mem[named]
        rest_share = float(share_a[g[rest_a[g]]].sum())
        coal = float(np.clip(share_a[named][inside].sum(), 0.0, 1.0))
        outside = named[~inside]
        lo = str(producer_a[outside[0]]) if len(outside) else None
        lo_share = float(share_a[outside[0]]) if len(outside) else 0.0
        lo_country = country_a[outside[0]] if len(outside) else None
        is_partner = in_par[outside]
        others = outside[~is_partner]
        lother = str(producer_a[others[0]]) if len(others) else None
        lother_share = float(share_a[others[0]]) if len(others) else 0.0
        top1_share = float(share_a[named[0]]) if len(named) else 0.0
        h = hhi(100 * share_a[named])
        rows.append({
            "item": item,
            "name": info["name"].get(item, item) if len(info) else item,
            "stage": info["stage"].get(item) if len(info) else None,
            "year": int(year_a[g[0]]),
            "coalition_share": coal,
            "outside_share": float(np.clip(1.0 - coal, 0.0, 1.0)),
            "rest_share": rest_share,
            "largest_outside": lo,
            "largest_outside_name": names.get(lo, lo) if lo else None,
            "largest_outside_share": lo_share,
            "largest_outside_tier": tier_of(lo_country, mem, par) if lo else None,
            "partner_share": float(share_a[outside][is_partner].sum()),
            "other_share": float(share_a[others].sum()),
            "largest_other": lother,
            "largest_other_share": lother_share,
            "top1": str(producer_a[named[0]]) if len(named) else None,
            "top1_share": top1_share,
            "top1_tier": tier_of(country_a[named[0]], mem, par) if len(named) else None,
            "hhi": h,
            "spof": bool(top1_share >= SPOF_TOP_SHARE or h >= SPOF_HHI),
            "nonmember_dependency": bool(lo_share >= DEPENDENCY_SHARE),
            "other_dependency": bool(lother_share >= DEPENDENCY_SHARE),
            "members_producing": ";".join(sorted({str(c) for c in country_a[named][inside]})),
        })
    cols = ["item", "name", "stage", "year", "coalition_share", "outside_share", "rest_share",
            "largest_outside", "largest_outside_name", "largest_outside_share",
            "largest_outside_tier", "partner_share", "other_share", "largest_other",
            "largest_other_share", "top1", "top1_share", "top1_tier", "hhi", "spof",
            "nonmember_dependency", "other_dependency", "members_producing"]
    return _stage_sorted(pd.DataFrame(rows, columns=cols))


def coalition_by_stage(exposure: pd.DataFrame) -> pd.DataFrame:
    """Aggregate :func:`coalition_exposure` per stage: mean and minimum coalition share, flags.

    Examples
    --------
    >>> coalition_by_stage(pd.DataFrame(columns=["stage", "item", "coalition_share",
    ...     "spof", "nonmember_dependency", "other_dependency"])).empty
    True
    """
    cols = ["stage", "n_items", "coalition_share_mean", "coalition_share_min",
            "weakest_item", "n_spof", "n_nonmember_dependency", "n_other_dependency",
            "other_dependency_items"]
    if exposure.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for stage, g in exposure.groupby("stage", sort=False):
        rows.append({
            "stage": stage, "n_items": len(g),
            "coalition_share_mean": float(g["coalition_share"].mean()),
            "coalition_share_min": float(g["coalition_share"].min()),
            "weakest_item": g.loc[g["coalition_share"].idxmin(), "item"],
            "n_spof": int(g["spof"].sum()),
            "n_nonmember_dependency": int(g["nonmember_dependency"].sum()),
            "n_other_dependency": int(g["other_dependency"].sum()),
            "other_dependency_items": ";".join(g.loc[g["other_dependency"], "item"]),
        })
    return pd.DataFrame(rows, columns=cols)


def coalition_whatif(atlas: Atlas, add: Iterable[str] | str, group: str = DEFAULT_COALITION,
                     date: str | dt.date | None = None, level: str = "country",
                     year: int | None = None, allies: Iterable[str] | str | None = ()) -> pd.DataFrame:
    """Coalition exposure before and after countries join: shares and flags side by side.

    Returns
    -------
    DataFrame
        ``item, name, stage, coalition_share_before, coalition_share_after, gain,
        nonmember_dependency_before, nonmember_dependency_after, largest_outside_before,
        largest_outside_after``, sorted by gain.

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
    before = coalition_exposure(atlas, group, date, (), level, year, allies=allies)
    after = coalition_exposure(atlas, group, date, add, level, year, allies=allies)
    keep = ["item", "coalition_share", "nonmember_dependency", "largest_outside", "spof"]
    m = before[["item", "name", "stage"] + keep[1:]].merge(
        after[keep], on="item", suffixes=("_before", "_after"))
    m["gain"] = m["coalition_share_after"] - m["coalition_share_before"]
    cols = ["item", "name", "stage", "coalition_share_before", "coalition_share_after", "gain",
            "nonmember_dependency_before", "nonmember_dependency_after", "largest_outside_before",
            "largest_outside_after"]
    return m[cols].sort_values(["gain", "item"], ascending=[False, True],
                               kind="mergesort").reset_index(drop=True)
