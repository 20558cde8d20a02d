"""Importer for the NGA World Port Index (Pub. 150) -> the atlas ``ports`` table.

Reads either the full "UpdatedPub150" CSV published by NGA (109 columns, headers such as
``World Port Index Number``, ``Main Port Name``, ``Country Code`` ...) or the 21-column slim CSV
kept in ``shared/data/nga-world-port-index`` (``wpi_number, port_name, ... lat, lon``).

Country names (the WPI's ``Country Code`` column actually holds names such as ``Congo
(Kinshasa)``) are turned into ISO 3166-1 alpha-3 codes with :func:`paxsilica.countries.resolve_iso3`.

Main port per country (``rank`` 1), by this rule, in order:

1. an override in ``paxsilica/data/mappings/main_ports.csv`` (each with a one-line reason),
   e.g. QAT -> Ras Laffan (LNG, helium), NLD -> Rotterdam, TWN -> Kaohsiung;
2. otherwise WPI harbour size: Large > Medium > Small > Very Small > blank;
3. then the limiting depth: the smaller of channel depth and cargo-pier depth where both are
   known (WPI writes 0.0 for unknown), else the known one;
4. then the number of cargo facilities flagged ``Yes`` (container, solid bulk, liquid bulk,
   oil terminal, LNG terminal);
5. then the lowest WPI number (stable tie-break).

Overridden ports come first in their listed order; the rule ranks the rest after them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from paxsilica.errors import InputError, PaxsilicaError, Problem, ValidationError

from ._common import read_csv

SOURCE_ID = "nga_wpi"
"""Id of the ``sources`` row this importer writes."""

SLIM_COLUMNS: tuple[str, ...] = (
    "wpi_number", "port_name", "alternate_name", "unlocode", "country", "region", "water_body",
    "harbor_size", "harbor_type", "harbor_use", "channel_depth_m", "cargo_pier_depth_m",
    "max_vessel_length_m", "max_vessel_draft_m", "fac_container", "fac_solid_bulk",
    "fac_liquid_bulk", "fac_oil_terminal", "fac_lng_terminal", "lat", "lon",
)
"""Columns of the normalized ("slim") WPI frame."""

FULL_TO_SLIM: dict[str, str] = {
    "World Port Index Number": "wpi_number",
    "Main Port Name": "port_name",
    "Alternate Port Name": "alternate_name",
    "UN/LOCODE": "unlocode",
    "Country Code": "country",
    "Region Name": "region",
    "World Water Body": "water_body",
    "Harbor Size": "harbor_size",
    "Harbor Type": "harbor_type",
    "Harbor Use": "harbor_use",
    "Channel Depth (m)": "channel_depth_m",
    "Cargo Pier Depth (m)": "cargo_pier_depth_m",
    "Maximum Vessel Length (m)": "max_vessel_length_m",
    "Maximum Vessel Draft (m)": "max_vessel_draft_m",
    "Facilities - Container": "fac_container",
    "Facilities - Solid Bulk": "fac_solid_bulk",
    "Facilities - Liquid Bulk": "fac_liquid_bulk",
    "Facilities - Oil Terminal": "fac_oil_terminal",
    "Facilities - LNG Terminal": "fac_lng_terminal",
    "Latitude": "lat",
    "Longitude": "lon",
}
"""Column names of NGA's full UpdatedPub150 CSV -> slim names."""

REQUIRED_SLIM = ("wpi_number", "port_name", "country", "lat", "lon")
_OPTIONAL_NUMERIC = ("channel_depth_m", "cargo_pier_depth_m", "max_vessel_length_m", "max_vessel_draft_m")
_FACILITIES = ("fac_container", "fac_solid_bulk", "fac_liquid_bulk", "fac_oil_terminal", "fac_lng_terminal")

HARBOR_SIZES: tuple[str, ...] = ("Large", "Medium", "Small", "Very Small")
"""WPI harbour sizes, largest first (blank ranks after ``Very Small``)."""

PORT_COLUMNS: tuple[str, ...] = (
    "port", "name", "iso3", "lat", "lon", "unlocode", "harbor_size", "rank", "source", "note",
)

MAIN_PORTS_CSV = Path(__file__).resolve().parents[1] / "data" / "mappings" / "main_ports.csv"
"""Default override table: iso3, wpi_number, port_name, rank, reason."""


def source_row() -> pd.DataFrame:
    """The ``sources`` row for NGA Pub. 150 (public domain).

    Examples
    --------
    >>> source_row().loc[0, "source"]
    'nga_wpi'
    """
    return pd.DataFrame([{
        "source": SOURCE_ID,
        "publisher": "National Geospatial-Intelligence Agency (NGA)",
        "title": "World Port Index (Pub. 150)",
        "table": "UpdatedPub150 CSV: port number, name, UN/LOCODE, country, harbour size, depths, position",
        "year": 2019,
        "url": "https://msi.nga.mil/Publications/WPI",
        "licence": "public domain (U.S. Government work)",
        "accessed": pd.NA,
        "kind": "published",
        "note": "UpdatedPub150 edition (post-2019 format); main-port ranks are derived by paxsilica "
                "(harbour size, depth, facilities, overrides in data/mappings/main_ports.csv)",
    }])


# ---------------------------------------------------------------------------------------------
# parsing


def parse_wpi(raw: pd.DataFrame, file: str = "<wpi>") -> pd.DataFrame:
    """Normalize a WPI table (full or slim columns, all text) into the slim frame.

    Parameters
    ----------
    raw : DataFrame
        The file's cells as read (text); either NGA's full column names or the slim ones.
    file : str
        File name used in error messages.

    Returns
    -------
    DataFrame
        One row per port, columns :data:`SLIM_COLUMNS`; ``wpi_number`` text (``"31140"``,
        ``"49454.5"``; a trailing ``.0`` dropped), depths and
        positions float (``NaN`` where unknown; WPI's 0.0 depth means unknown), ``unlocode``
        compacted to five characters (``"NL RTM"`` -> ``"NLRTM"``).

    Raises
    ------
    InputError, ValidationError
        Missing columns, or rows whose number, name, country or position is blank or invalid;
        every problem names the file, the row (header = row 1) and the column.

    Examples
    --------
    >>> raw = pd.DataFrame({"wpi_number": ["31140"], "port_name": ["Rotterdam"],
    ...                     "country": ["Netherlands"], "lat": ["51.9"], "lon": ["4.48333"],
    ...                     "unlocode": ["NL RTM"], "harbor_size": ["Large"]})
    >>> parse_wpi(raw).loc[0, ["wpi_number", "unlocode"]].tolist()
    ['31140', 'NLRTM']
    """
    raw = raw.copy()
    raw.columns = [str(c).strip().lstrip("\ufeff") for c in raw.columns]
    full = "World Port Index Number" in raw.columns
    names = {v: k for k, v in FULL_TO_SLIM.items()} if full else {c: c for c in SLIM_COLUMNS}
    if full:
        raw = raw.rename(columns=FULL_TO_SLIM)
    missing = [names[c] for c in REQUIRED_SLIM if c not in raw.columns]
    if missing:
        raise InputError(
            f"not a World Port Index file: missing column(s) {', '.join(missing)} "
            f"(expected NGA UpdatedPub150 or slim wpi_* columns)", file=file, row=1)
    for c in SLIM_COLUMNS:
        if c not in raw.columns:
            raw[c] = ""
    text = raw[list(SLIM_COLUMNS)].astype(object).where(raw[list(SLIM_COLUMNS)].notna(), "")
    text = text.map(lambda v: str(v).strip())
    problems: list[Problem] = []
    line = pd.Series(np.arange(len(text)) + 2, index=text.index)

    def bad(mask: pd.Series, column: str, reason: str) -> None:
        for i in np.flatnonzero(mask.to_numpy()):
            val = text[column].iat[i]
            problems.append(Problem(file, int(line.iat[i]), names.get(column, column),
                                    reason.format(value=val)))

    for c in ("port_name", "country"):
        bad(text[c] == "", c, "blank value")
    number = pd.to_numeric(text["wpi_number"], errors="coerce")
    # NGA numbers are integers written as "31140.0"; a few are fractional ("49454.5", a port
    # inserted between two others) and are kept as written.
    bad(number.isna() | (number <= 0), "wpi_number", "port number must be a positive number, got {value!r}")
    out = pd.DataFrame(index=text.index)
    for c, lo, hi in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
        v = pd.to_numeric(text[c], errors="coerce")
        bad(v.isna() | (v < lo) | (v > hi), c, f"must be a number in [{lo:g}, {hi:g}], got {{value!r}}")
        out[c] = v.astype(float)
    for c in _OPTIONAL_NUMERIC:
        v = pd.to_numeric(text[c], errors="coerce")
        bad((text[c] != "") & (v.isna() | (v < 0)), c, "must be a non-negative number, got {value!r}")
        out[c] = v.where(v > 0).astype(float)
    size = text["harbor_size"]
    bad((size != "") & ~size.isin(HARBOR_SIZES), "harbor_size",
        f"unknown harbour size {{value!r}} (one of {', '.join(HARBOR_SIZES)} or blank)")
    if problems:
        if len(problems) == 1:
            p = problems[0]
            raise InputError(p.reason, file=p.file, row=p.row, column=p.column)
        raise ValidationError(problems, f"{file}: {len(problems)} problems in the World Port Index")

    out.insert(0, "wpi_number", pd.array([_number_text(v) for v in number], dtype="string"))
    for c in ("port_name", "alternate_name", "country", "region", "water_body", "harbor_size",
              "harbor_type", "harbor_use", *_FACILITIES):
        out[c] = text[c].replace("", pd.NA).astype("string")
    loc = text["unlocode"].str.replace(" ", "", regex=False).str.upper()
    out["unlocode"] = loc.where(loc.str.fullmatch(r"[A-Z]{2}[A-Z0-9]{3}"), pd.NA).astype("string")
    return out[list(SLIM_COLUMNS)].reset_index(drop=True)


def _number_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def drop_duplicate_numbers(wpi: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off rows repeating an earlier port number (the first row wins).

    NGA's file repeats a few ports under a second spelling (e.g. 49460 Machilipatnam, 400
    Seydisfjordur); the derived slim file also merged 49454 and 49454.5.

    Examples
    --------
    >>> w = pd.DataFrame({"wpi_number": ["1", "1", "2"], "port_name": ["a", "b", "c"]})
    >>> kept, dropped = drop_duplicate_numbers(w)
    >>> kept["port_name"].tolist(), dropped["port_name"].tolist()
    (['a', 'c'], ['b'])
    """
    dup = wpi["wpi_number"].duplicated(keep="first")
    return wpi[~dup].reset_index(drop=True), wpi[dup].reset_index(drop=True)


def read_wpi(path: str | Path) -> pd.DataFrame:
    """Read a WPI CSV (full NGA or slim format) into the normalized slim frame.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "w.csv"
    >>> _ = p.write_text("wpi_number,port_name,country,lat,lon\\n31140,Rotterdam,Netherlands,51.9,4.48\\n")
    >>> read_wpi(p)["port_name"].tolist()
    ['Rotterdam']
    """
    path = Path(path)
    return parse_wpi(read_csv(path, engine_c=True), file=path.name)


# ---------------------------------------------------------------------------------------------
# countries and main ports


def _resolver():
    try:
        from paxsilica.countries import resolve_iso3
    except ImportError as e:  # pragma: no cover - only while the module is being written
        raise InputError("paxsilica.countries.resolve_iso3 is not available") from e
    return resolve_iso3


def country_iso3(names: Iterable[str], resolve: Callable[[str], str | None] | None = None
                 ) -> dict[str, str | None]:
    """Map WPI country names to iso3 (``None`` when a name cannot be resolved).

    Parameters
    ----------
    names : iterable of str
    resolve : callable, optional
        Name -> iso3 (or None / raising for unknown names); default
        :func:`paxsilica.countries.resolve_iso3`.

    Examples
    --------
    >>> country_iso3(["Netherlands"], resolve={"Netherlands": "NLD"}.get)["Netherlands"]
    'NLD'
    """
    resolve = resolve or _resolver()
    out: dict[str, str | None] = {}
    for name in dict.fromkeys(names):
        try:
            code = resolve(name)
        except (LookupError, ValueError, PaxsilicaError):
            code = None
        out[name] = str(code) if code else None
    return out


def read_main_port_overrides(path: str | Path | None = None) -> pd.DataFrame:
    """Read the override table (iso3, wpi_number, port_name, rank, reason).

    Examples
    --------
    >>> o = read_main_port_overrides()
    >>> o.loc[o.iso3.eq("QAT") & o["rank"].eq(1), "port_name"].item()
    'Ras Laffan'
    """
    path = Path(path) if path is not None else MAIN_PORTS_CSV
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    need = ("iso3", "wpi_number", "rank", "reason")
    for c in need:
        if c not in raw.columns:
            raise InputError(f"missing column {c!r}", file=path.name, row=1, column=c)
    problems = []
    for i, r in raw.iterrows():
        for c in ("wpi_number", "rank"):
            if not re.fullmatch(r"\d+(\.\d+)?" if c == "wpi_number" else r"\d+", str(r[c]).strip()):
                problems.append(Problem(path.name, int(i) + 2, c, f"must be a positive integer, got {r[c]!r}"))
        if not str(r["reason"]).strip():
            problems.append(Problem(path.name, int(i) + 2, "reason", "every override needs a reason"))
    if problems:
        raise ValidationError(problems)
    out = raw.copy()
    out["iso3"] = out["iso3"].str.strip().str.upper()
    out["wpi_number"] = [_number_text(float(v)) for v in out["wpi_number"]]
    out["rank"] = out["rank"].astype("int64")
    return out.sort_values(["iso3", "rank"], kind="stable").reset_index(drop=True)


def _limiting_depth(wpi: pd.DataFrame) -> pd.Series:
    ch, pier = wpi["channel_depth_m"], wpi["cargo_pier_depth_m"]
    both = pd.concat([ch, pier], axis=1).min(axis=1)
    return both.where(ch.notna() & pier.notna(), ch.fillna(pier)).fillna(0.0)


def rank_ports(wpi: pd.DataFrame, iso3: pd.Series,
               overrides: pd.DataFrame | None = None) -> pd.Series:
    """Rank ports within each country (1 = main port for lanes) by the module's rule.

    Parameters
    ----------
    wpi : DataFrame
        Normalized WPI frame (:func:`parse_wpi`).
    iso3 : Series
        Country iso3 for each row of ``wpi`` (NA rows get NA rank).
    overrides : DataFrame, optional
        From :func:`read_main_port_overrides`; ``None`` uses none.

    Returns
    -------
    Series of Int64, aligned to ``wpi``.

    Examples
    --------
    >>> w = pd.DataFrame({"wpi_number": ["1", "2"], "harbor_size": ["Small", "Large"],
    ...                   "channel_depth_m": [10.0, 5.0], "cargo_pier_depth_m": [np.nan, np.nan]})
    >>> rank_ports(w, pd.Series(["XXX", "XXX"])).tolist()
    [2, 1]
    """
    w = wpi.copy()
    w["_iso3"] = iso3.to_numpy()
    size_order = {s: i for i, s in enumerate(HARBOR_SIZES)}
    w["_override"] = np.inf
    if overrides is not None and len(overrides):
        key = dict(zip(zip(overrides["iso3"], overrides["wpi_number"].astype(str), strict=True),
                       overrides["rank"], strict=True))
        w["_override"] = [float(key.get((c, str(n)), np.inf)) if isinstance(c, str) else np.inf
                          for c, n in zip(w["_iso3"], w["wpi_number"], strict=True)]
    w["_size"] = w["harbor_size"].map(lambda s: size_order.get(s, len(HARBOR_SIZES)) if isinstance(s, str)
                                      else len(HARBOR_SIZES)).astype(float)
    w["_depth"] = -_limiting_depth(w) if "channel_depth_m" in w else 0.0
    fac = [c for c in _FACILITIES if c in w.columns]
    w["_fac"] = -(w[fac].eq("Yes").sum(axis=1)) if fac else 0
    w["_num"] = pd.to_numeric(w["wpi_number"], errors="coerce")
    w = w[w["_iso3"].notna()]
    w = w.sort_values(["_iso3", "_override", "_size", "_depth", "_fac", "_num"], kind="stable")
    ranks = w.groupby("_iso3", sort=False).cumcount() + 1
    return ranks.reindex(wpi.index).astype("Int64")


def ports_table(wpi: pd.DataFrame, *, per_country: int | None = 3,
                countries: Iterable[str] | None = None,
                overrides: pd.DataFrame | str | Path | None | bool = True,
                source: str = SOURCE_ID,
                resolve: Callable[[str], str | None] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Build ``ports`` rows from a normalized WPI frame.

    Parameters
    ----------
    wpi : DataFrame
        From :func:`read_wpi` / :func:`parse_wpi`.
    per_country : int or None
        Keep the ``per_country`` best-ranked ports of each country (``None``: all).
    countries : iterable of iso3 or comma-separated text, optional
        Keep only these countries (e.g. those of the atlas ``countries`` table).
    overrides : DataFrame, path, True or False/None
        Main-port overrides; ``True`` uses the bundled ``main_ports.csv``.
    source : str
        Value of the ``source`` column.
    resolve : callable, optional
        Country name -> iso3; default :func:`paxsilica.countries.resolve_iso3`.

    Returns
    -------
    (DataFrame, list of str)
        The ``ports`` rows (columns :data:`PORT_COLUMNS`, sorted by iso3 and rank) and the WPI
        country names that could not be resolved to iso3 (their ports are left out).

    Examples
    --------
    >>> w = parse_wpi(pd.DataFrame({"wpi_number": ["1"], "port_name": ["A"], "country": ["Qatar"],
    ...                             "lat": ["25"], "lon": ["51"]}))
    >>> t, unresolved = ports_table(w, overrides=False, resolve={"Qatar": "QAT"}.get)
    >>> t.loc[0, "port"], t.loc[0, "iso3"], int(t.loc[0, "rank"]), unresolved
    ('wpi1', 'QAT', 1, [])
    """
    if overrides is True:
        ov = read_main_port_overrides()
    elif overrides is None or overrides is False:
        ov = None
    elif isinstance(overrides, pd.DataFrame):
        ov = overrides
    else:
        ov = read_main_port_overrides(overrides)
    mapping = country_iso3(wpi["country"].dropna().astype(str), resolve)
    unresolved = sorted(k for k, v in mapping.items() if v is None)
    iso3 = wpi["country"].map(lambda n: mapping.get(n) if isinstance(n, str) else None)
    iso3 = iso3.astype(object).where(iso3.notna(), None)
    rank = rank_ports(wpi, pd.Series(iso3.to_numpy(), index=wpi.index), ov)
    reasons: dict[tuple[str, int], str] = {}
    if ov is not None:
        reasons = {(r.iso3, str(r.wpi_number)): str(r.reason) for r in ov.itertuples()}
    depth = _limiting_depth(wpi)
    notes = []
    for i in wpi.index:
        key = (iso3[i], str(wpi.at[i, "wpi_number"]))
        if key in reasons:
            notes.append(f"main-port override: {reasons[key]}")
        else:
            size = wpi.at[i, "harbor_size"]
            size = size if isinstance(size, str) else "blank"
            d = f", limiting depth {depth[i]:g} m" if depth[i] > 0 else ""
            notes.append(f"ranked by rule: harbour size {size}{d}")
    out = pd.DataFrame({
        "port": "wpi" + wpi["wpi_number"].astype(str),
        "name": wpi["port_name"].astype("string"),
        "iso3": pd.array(iso3.tolist(), dtype="string"),
        "lat": wpi["lat"].astype(float),
        "lon": wpi["lon"].astype(float),
        "unlocode": wpi["unlocode"].astype("string"),
        "harbor_size": wpi["harbor_size"].astype("string"),
        "rank": rank,
        "source": source,
        "note": pd.array(notes, dtype="string"),
    })
    out = out[out["iso3"].notna()]
    if countries is not None:
        if isinstance(countries, str):  # "QAT,NLD" from the command line
            countries = countries.split(",")
        keep = {str(c).strip().upper() for c in countries}
        out = out[out["iso3"].isin(keep)]
    if per_country is not None:
        out = out[out["rank"] <= per_country]
    out = out.sort_values(["iso3", "rank"], kind="stable").reset_index(drop=True)
    return out[list(PORT_COLUMNS)], unresolved


def main_ports(ports: pd.DataFrame, n: int = 1) -> pd.DataFrame:
    """The ``n`` best-ranked ports of each country from a ``ports`` table.

    Rows without a rank come after ranked ones (then by port id).

    Examples
    --------
    >>> p = pd.DataFrame({"port": ["wpi1", "wpi2"], "iso3": ["QAT", "QAT"], "rank": [2, 1]})
    >>> main_ports(p)["port"].tolist()
    ['wpi2']
    """
    p = ports.copy()
    p["_r"] = pd.to_numeric(p["rank"], errors="coerce").fillna(np.inf)
    p = p.sort_values(["iso3", "_r", "port"], kind="stable")
    return p.groupby("iso3", sort=False).head(n).drop(columns="_r").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# entry point


def run(paths: str | Path | Sequence[str | Path], **options) -> dict[str, pd.DataFrame]:
    """Import the World Port Index into atlas tables.

    Parameters
    ----------
    paths : path or list of paths
        WPI CSV file(s), full or slim format; several files are concatenated (first wins on a
        duplicate port number).
    **options
        ``per_country`` (int or None, default 3), ``countries`` (iso3 list to keep),
        ``overrides`` (path/DataFrame/True/False, default True: bundled main_ports.csv),
        ``strict`` (bool, default False: raise when a country name cannot be resolved),
        ``resolve`` (callable name -> iso3; default :func:`paxsilica.countries.resolve_iso3`).

    Returns
    -------
    dict
        ``{"ports": DataFrame, "sources": DataFrame}``. ``ports.attrs`` lists
        ``unresolved_countries`` (their ports are left out) and ``duplicate_numbers_dropped``.

    Examples
    --------
    >>> from pathlib import Path
    >>> f = Path("/work/shared/data/nga-world-port-index/wpi_slim.csv")
    >>> t = run(f, countries=["QAT"], resolve={"Qatar": "QAT"}.get) if f.exists() else {
    ...     "ports": pd.DataFrame({"name": ["Ras Laffan"]})}
    >>> t["ports"]["name"].iloc[0]
    'Ras Laffan'
    """
    unknown = set(options) - {"per_country", "countries", "overrides", "strict", "source", "resolve"}
    if unknown:
        raise InputError(f"unknown option(s) for the wpi importer: {', '.join(sorted(unknown))}")
    if isinstance(paths, (str, Path)):
        paths = [paths]
    frames = [read_wpi(p) for p in paths]
    if not frames:
        raise InputError("no World Port Index file given")
    wpi, dropped = drop_duplicate_numbers(pd.concat(frames, ignore_index=True))
    ports, unresolved = ports_table(
        wpi, per_country=options.get("per_country", 3), countries=options.get("countries"),
        overrides=options.get("overrides", True), source=options.get("source", SOURCE_ID),
        resolve=options.get("resolve"))
    if unresolved and options.get("strict", False):
        raise InputError("country name(s) not resolved to iso3: " + "; ".join(unresolved),
                         file=Path(paths[0]).name, column="country")
    ports.attrs["unresolved_countries"] = list(unresolved)
    ports.attrs["duplicate_numbers_dropped"] = [
        f"{n} {name}" for n, name in zip(dropped["wpi_number"], dropped["port_name"], strict=True)]
    src = source_row()
    src["source"] = options.get("source", SOURCE_ID)
    return {"ports": ports, "sources": src}


__all__ = [
    "FULL_TO_SLIM", "HARBOR_SIZES", "MAIN_PORTS_CSV", "PORT_COLUMNS", "SLIM_COLUMNS", "SOURCE_ID",
    "country_iso3", "drop_duplicate_numbers", "main_ports", "parse_wpi", "ports_table", "rank_ports", "read_main_port_overrides",
    "read_wpi", "run", "source_row",
]
