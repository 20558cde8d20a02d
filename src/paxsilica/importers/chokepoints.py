"""Importer for the hand-compiled maritime chokepoints CSV -> the atlas ``chokepoints`` table.

Input columns: ``id, name, type, lat, lon, connects, bordering_states_iso3`` (the file in
``shared/data/chokepoints-handcompiled``; approximate points, roughly +-0.5 deg). The atlas
column ``searoute_passage`` is filled from :data:`SEAROUTE_PASSAGES`: the name of the passage in
the searoute package's maritime network where it has one (checked against searoute 1.6's
graph: its edges carry ``passage`` = ``ormuz``, ``babalmandab``, ``suez``, ``panama``,
``malacca``, ``sunda``, ``gibraltar``, ``bosporus``, ``dardanelles``, ``south_africa``,
``chili``, ``bering``, ``northwest``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from paxsilica.errors import InputError, Problem, ValidationError

from ._common import read_csv

SOURCE_ID = "chokepoints_handcompiled"

SEAROUTE_PASSAGES: dict[str, str] = {
    "hormuz": "ormuz",
    "bab_el_mandeb": "babalmandab",
    "suez": "suez",
    "panama": "panama",
    "malacca": "malacca",
    "sunda": "sunda",
    "gibraltar": "gibraltar",
    "bosporus": "bosporus",
    "dardanelles": "dardanelles",
    # searoute's `south_africa` edges run south of the Cape (18-30 E, 35-50 S): the Cape route.
    "good_hope": "south_africa",
    # searoute's `chili` edges cover the southern tip of South America (Magellan and Drake).
    "magellan": "chili",
    "bering": "bering",
}
"""Chokepoint id -> searoute passage name (for the others searoute has no name)."""

TYPES = ("strait", "canal", "channel", "cape_route")
COLUMNS = ("chokepoint", "name", "type", "lat", "lon", "connects", "bordering_iso3",
           "searoute_passage", "source")


def source_row() -> pd.DataFrame:
    """The ``sources`` row of the hand-compiled chokepoint list.

    Examples
    --------
    >>> source_row().loc[0, "licence"]
    'CC0'
    """
    return pd.DataFrame([{
        "source": SOURCE_ID,
        "publisher": "paxsilica contributors",
        "title": "Maritime chokepoints (hand-compiled geographic facts)",
        "table": "id, name, type, approximate position, water bodies, bordering states",
        "year": 2026,
        "url": pd.NA,
        "licence": "CC0",
        "accessed": pd.NA,
        "kind": "estimate",
        "note": "positions approximate (+-0.5 deg) at or near the narrowest section; each point checked "
                "to lie 2-234 km from a WPI port on the expected coast; searoute passage names "
                "matched by paxsilica against searoute's network",
    }])


def parse_chokepoints(raw: pd.DataFrame, file: str = "<chokepoints>") -> pd.DataFrame:
    """Turn the hand-compiled table (text cells) into ``chokepoints`` rows.

    Accepts the source's column names (``id``, ``bordering_states_iso3``) or the atlas ones
    (``chokepoint``, ``bordering_iso3``).

    Raises
    ------
    InputError, ValidationError
        Missing columns; blank id or name; unknown type; latitude/longitude not numbers in
        range; duplicate id. Each problem names file, row (header = 1) and column.

    Examples
    --------
    >>> raw = pd.DataFrame({"id": ["hormuz"], "name": ["Strait of Hormuz"], "type": ["strait"],
    ...                     "lat": ["26.57"], "lon": ["56.42"]})
    >>> parse_chokepoints(raw).loc[0, ["chokepoint", "searoute_passage"]].tolist()
    ['hormuz', 'ormuz']
    """
    raw = raw.copy()
    raw.columns = [str(c).strip().lstrip("\ufeff") for c in raw.columns]
    names = {"chokepoint": "chokepoint" if "chokepoint" in raw.columns else "id"}
    raw = raw.rename(columns={"id": "chokepoint", "bordering_states_iso3": "bordering_iso3"})
    missing = [c for c in ("chokepoint", "name", "lat", "lon") if c not in raw.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=file, row=1)
    for c in ("type", "connects", "bordering_iso3", "searoute_passage"):
        if c not in raw.columns:
            raw[c] = ""
    text = raw.astype(object).where(raw.notna(), "").map(lambda v: str(v).strip())
    problems: list[Problem] = []
    out = {}
    for c, lo, hi in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
        v = pd.to_numeric(text[c], errors="coerce")
        for i in (v.isna() | (v < lo) | (v > hi)).to_numpy().nonzero()[0]:
            problems.append(Problem(file, int(i) + 2, c, f"must be a number in [{lo:g}, {hi:g}], got {text[c].iat[i]!r}"))
        out[c] = v.astype(float)
    for i, r in enumerate(text.itertuples(index=False)):
        row = i + 2
        rd = r._asdict()
        if not rd["chokepoint"]:
            problems.append(Problem(file, row, names["chokepoint"], "blank id"))
        if not rd["name"]:
            problems.append(Problem(file, row, "name", "blank name"))
        if rd["type"] and rd["type"] not in TYPES:
            problems.append(Problem(file, row, "type", f"unknown type {rd['type']!r} (one of {', '.join(TYPES)})"))
    dup = text["chokepoint"].duplicated() & text["chokepoint"].ne("")
    for i in dup.to_numpy().nonzero()[0]:
        problems.append(Problem(file, int(i) + 2, names["chokepoint"], f"duplicate id {text['chokepoint'].iat[i]!r}"))
    if problems:
        if len(problems) == 1:
            p = problems[0]
            raise InputError(p.reason, file=p.file, row=p.row, column=p.column)
        raise ValidationError(problems, f"{file}: {len(problems)} problems in the chokepoint list")
    passage = [s or SEAROUTE_PASSAGES.get(c, "") for c, s in zip(text["chokepoint"], text["searoute_passage"], strict=True)]
    res = pd.DataFrame({
        "chokepoint": text["chokepoint"],
        "name": text["name"],
        "type": text["type"],
        "lat": out["lat"],
        "lon": out["lon"],
        "connects": text["connects"],
        "bordering_iso3": text["bordering_iso3"].str.replace(" ", "", regex=False).str.upper(),
        "searoute_passage": passage,
        "source": text["source"] if "source" in text.columns else SOURCE_ID,
    })
    for c in ("chokepoint", "name", "type", "connects", "bordering_iso3", "searoute_passage", "source"):
        res[c] = res[c].replace("", pd.NA).astype("string")
    res["source"] = res["source"].fillna(SOURCE_ID)
    return res[list(COLUMNS)].reset_index(drop=True)


def read_chokepoints(path: str | Path) -> pd.DataFrame:
    """Read the chokepoint CSV into ``chokepoints`` rows (see :func:`parse_chokepoints`).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "c.csv"
    >>> _ = p.write_text("id,name,type,lat,lon\\nsuez,Suez Canal,canal,30.58,32.33\\n")
    >>> read_chokepoints(p)["searoute_passage"].tolist()
    ['suez']
    """
    path = Path(path)
    return parse_chokepoints(read_csv(path), file=path.name)


def run(paths: str | Path | Sequence[str | Path], **options) -> dict[str, pd.DataFrame]:
    """Import the chokepoint list into atlas tables.

    Parameters
    ----------
    paths : path or list of paths
        Chokepoint CSV file(s); several are concatenated (an id repeated across files is an error).
    **options
        ``source`` (str): id for the ``sources`` row and the ``source`` column.

    Returns
    -------
    dict
        ``{"chokepoints": DataFrame, "sources": DataFrame}``.

    Examples
    --------
    >>> from pathlib import Path
    >>> f = Path("/work/shared/data/chokepoints-handcompiled/maritime_chokepoints.csv")
    >>> len(run(f)["chokepoints"]) if f.exists() else 31
    31
    """
    unknown = set(options) - {"source"}
    if unknown:
        raise InputError(f"unknown option(s) for the chokepoints importer: {', '.join(sorted(unknown))}")
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise InputError("no chokepoint file given")
    frames = [read_chokepoints(p) for p in paths]
    cp = pd.concat(frames, ignore_index=True)
    dup = cp["chokepoint"].duplicated()
    if dup.any():
        raise InputError(f"chokepoint id(s) repeated across files: {', '.join(cp.loc[dup, 'chokepoint'])}",
                         column="chokepoint")
    sid = options.get("source", SOURCE_ID)
    if sid != SOURCE_ID:
        cp["source"] = cp["source"].replace(SOURCE_ID, sid)
    src = source_row()
    src["source"] = sid
    return {"chokepoints": cp, "sources": src}


__all__ = ["COLUMNS", "SEAROUTE_PASSAGES", "SOURCE_ID", "TYPES", "parse_chokepoints",
           "read_chokepoints", "run", "source_row"]
