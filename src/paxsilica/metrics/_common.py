"""Helpers shared by the metric modules: latest-year production at one level, lookups."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..atlas import Atlas, country_production, production_level
from ..atlas.schema import OTHER_FIRMS_PRODUCER, ROW_PRODUCER
from ..constants import DEFAULT_COALITION, DEFAULT_TARGET  # noqa: F401  (the metrics re-export them)
from ..errors import InputError, NotFoundError

LEVELS = ("country", "firm")


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise InputError(f"unknown production level {level!r}; use one of: {', '.join(LEVELS)}")
    return level


def latest_production(atlas: Atlas, level: str = "country", year: int | None = None) -> pd.DataFrame:
    """Production rows of one level, per item the latest year (or ``year`` when given).

    Returns columns ``item, producer, producer_type, country, year, share`` (share as a fraction 0-1)
    and ``rest`` (True on the ``ROW``/``OTHER`` row). ``country`` is the producer's country: the
    producer itself at country level, the firm's ``country`` (else its headquarters) at firm level.
    """
    check_level(level)
    prod = atlas["production"]
    cols = ["item", "producer", "producer_type", "country", "year", "share", "rest"]
    if prod.empty:
        return _empty(cols)
    if level == "country":
        return _country_level(atlas, year, cols)
    return _one_level(atlas, prod, level, year, cols)


def _country_level(atlas: Atlas, year: int | None, cols: list[str]) -> pd.DataFrame:
    """Country rows of :func:`paxsilica.atlas.country_production` (items that only have firm rows
    count at country level, summed by the firms' countries), shares as fractions."""
    cp = country_production(atlas, year)
    if cp.empty:
        return _empty(cols)
    rest = cp["producer_type"].eq("rest_of_world").to_numpy()
    return pd.DataFrame({
        "item": cp["item"].astype(object).to_numpy(),
        "producer": cp["producer"].astype(object).to_numpy(),
        "producer_type": cp["producer_type"].astype(object).to_numpy(),
        "country": np.where(rest, None, cp["producer"].astype(object).to_numpy()),
        "year": cp["year"].astype("int64").to_numpy(),
        "share": cp["share"].to_numpy(dtype="float64") / 100.0,
        "rest": rest,
    })[cols]


def _one_level(atlas: Atlas, prod: pd.DataFrame, level: str, year: int | None,
               cols: list[str]) -> pd.DataFrame:
    df = prod[production_level(prod).to_numpy() == level]
    df = df[df["item"].notna() & df["producer"].notna() & df["share"].notna() & df["year"].notna()]
    if year is not None:
        df = df[df["year"] <= year]
    if df.empty:
        return _empty(cols)
    latest = df.groupby("item")["year"].transform("max")
    df = df[df["year"] == latest]
    out = pd.DataFrame({
        "item": df["item"].astype(object).to_numpy(),
        "producer": df["producer"].astype(object).to_numpy(),
        "producer_type": df["producer_type"].astype(object).to_numpy(),
        "year": df["year"].astype("int64").to_numpy(),
        "share": df["share"].astype("float64").to_numpy() / 100.0,
    })
    rest = out["producer"].isin([ROW_PRODUCER, OTHER_FIRMS_PRODUCER]) | out["producer_type"].eq(
        "rest_of_world")
    out["rest"] = rest.to_numpy()
    if level == "country":
        out["country"] = np.where(rest, None, out["producer"])
    else:
        firm_country = df["country"].astype(object).to_numpy()
        hq = _firm_hq(atlas)
        out["country"] = [
            None if r else (c if isinstance(c, str) and c else hq.get(p))
            for r, c, p in zip(rest, firm_country, out["producer"], strict=True)
        ]
    # Duplicate rows for one (item, producer) in one year would double-count: sum them.
    out = (out.groupby(["item", "producer"], sort=True, as_index=False)
              .agg(producer_type=("producer_type", "first"), country=("country", "first"),
                   year=("year", "first"), share=("share", "sum"), rest=("rest", "first")))
    out["rest"] = out["rest"].astype(bool)
    return out[cols]


def _empty(cols: list[str]) -> pd.DataFrame:
    dtypes = {"share": "float64", "rest": "bool", "year": "int64"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in cols})


def _firm_hq(atlas: Atlas) -> dict[str, str]:
    firms = atlas["firms"]
    if firms.empty:
        return {}
    return {str(f): str(c) for f, c in zip(firms["firm"], firms["country"], strict=True)
            if isinstance(f, str) and isinstance(c, str)}


def item_info(atlas: Atlas) -> pd.DataFrame:
    """``item, name, stage, unit`` of every item, indexed by item."""
    items = atlas["items"]
    df = pd.DataFrame({
        "item": items["item"].astype(object).to_numpy(),
        "name": items["name"].astype(object).to_numpy(),
        "stage": items["stage"].astype(object).to_numpy(),
        "unit": items["unit"].astype(object).to_numpy(),
    })
    return df.drop_duplicates("item").set_index("item", drop=False)


def governance(atlas: Atlas) -> dict[str, float]:
    """``countries.governance_risk`` (0 best .. 10 worst) by iso3, for countries that have it."""
    c = atlas["countries"]
    if c.empty:
        return {}
    out = {}
    for iso3, g in zip(c["iso3"], c["governance_risk"], strict=True):
        if isinstance(iso3, str) and pd.notna(g):
            out[iso3] = float(g)
    return out


def country_names(atlas: Atlas) -> dict[str, str]:
    c = atlas["countries"]
    return {str(i): str(n) for i, n in zip(c["iso3"], c["name"], strict=True)
            if isinstance(i, str) and isinstance(n, str)}


def did_you_mean(word: str, known: Iterable[str], kind: str, *, case: bool = True) -> NotFoundError:
    """The error for an unknown ``kind`` (item, country, group): with the closest known names.

    Examples
    --------
    >>> str(did_you_mean("galium", ["gallium", "germanium"], "item"))
    "unknown item 'galium' — did you mean 'gallium'?"
    """
    import difflib

    known = sorted({str(k) for k in known})
    pool = known if case else [k.upper() for k in known]
    back = dict(zip(pool, known, strict=True))
    probe = word if case else word.upper()
    close = [back[c] for c in difflib.get_close_matches(probe, pool, n=1, cutoff=0.6)]
    if close:
        return NotFoundError(f"unknown {kind} {word!r} — did you mean {close[0]!r}?")
    if not known:
        return NotFoundError(f"unknown {kind} {word!r}")
    return NotFoundError(f"unknown {kind} {word!r}; the atlas has {len(known)} {kind}s"
                         + (f": {', '.join(known)}" if len(known) <= 12 else ""))


def require_item(atlas: Atlas, item: str) -> None:
    """Raise :class:`NotFoundError` (with the closest item ids) unless the atlas has ``item``."""
    known = set(atlas["items"]["item"].dropna().astype(str))
    if item not in known:
        raise did_you_mean(item, known, "item")


def require_items(atlas: Atlas, items: Iterable[str]) -> None:
    for i in items:
        require_item(atlas, i)


def country_codes(atlas: Atlas) -> set[str]:
    """Every iso3 of ``countries`` (plus ``ROW``)."""
    return set(atlas["countries"]["iso3"].dropna().astype(str)) | {ROW_PRODUCER}


def require_countries(atlas: Atlas, codes: str | Iterable[str] | None, what: str = "country"
                      ) -> tuple[str, ...]:
    """Parse ``"NLD, twn"`` and raise :class:`NotFoundError` on a code the atlas does not know.

    Returns the parsed upper-case codes. A name ("Netherlands") is suggested as its code.

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"countries": pd.DataFrame({"iso3": ["NLD", "TWN"],
    ...     "name": ["Netherlands", "Taiwan"]})})
    >>> require_countries(a, "nld,TWN")
    ('NLD', 'TWN')
    >>> require_countries(a, "NL")
    Traceback (most recent call last):
    ...
    paxsilica.errors.NotFoundError: unknown country 'NL' — did you mean 'NLD'?
    """
    parsed = parse_codes(codes)
    if atlas["countries"].empty:  # nothing to check against (a partial atlas)
        return parsed
    known = country_codes(atlas)
    names = {v.upper(): k for k, v in country_names(atlas).items()}
    for c in parsed:
        if c in known:
            continue
        if c in names:
            raise NotFoundError(f"unknown {what} {c!r} — did you mean {names[c]!r}? (use iso3 codes)")
        prefix = sorted(k for k in known if k.startswith(c[:2])) if len(c) == 2 else []
        if len(prefix) == 1:
            raise NotFoundError(f"unknown {what} {c!r} — did you mean {prefix[0]!r}?")
        raise did_you_mean(c, {k for k in known if k[:1] == c[:1]}, what)
    return parsed


def require_group(atlas: Atlas, group: str) -> None:
    """Raise :class:`NotFoundError` unless ``groups`` has ``group`` (catches typos in shells)."""
    known = sorted(set(atlas["groups"]["group"].dropna().astype(str)))
    if group not in known:
        raise did_you_mean(group, known, "group")


def parse_codes(codes: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"NLD, twn"`` or ``["NLD", "TWN"]`` -> ``("NLD", "TWN")`` (upper case, de-duplicated)."""
    if codes is None:
        return ()
    if isinstance(codes, str):
        codes = codes.split(",")
    seen: dict[str, None] = {}
    for c in codes:
        c = c.strip().upper()
        if c:
            seen[c] = None
    return tuple(seen)


def fmt_share(x: float) -> str:
    """0.6234 -> '62%' ; 0.004 -> '0.4%'."""
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return ""
    p = 100 * x
    return f"{p:.0f}%" if p >= 9.95 or p == 0 else f"{p:.1f}%"
