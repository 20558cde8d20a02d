"""Country names and codes -> ISO 3166-1 alpha-3, for every publisher the importers read.

Publishers spell countries their own way: USGS ("Burma", "Congo (Kinshasa)", "Korea, Republic
of", names with footnote letters glued on such as "Japane" or "New Caledonia11"), the World Bank
WGI (non-ISO codes ZAR, ROM, TMP, ADO, KSV, WBG), CEPII BACI ("Rep. of Korea", "Other Asia, nes"
for Taiwan), World Mining Data ("Congo, D.R."), the NGA World Port Index, Epoch AI ("Korea
(Republic of)"). :func:`resolve_iso3` tries, in order: an alias table, pycountry (names, official
names, alpha-2/alpha-3 codes), and then the same after removing USGS footnote markers and
qualifiers such as "(crude)" or ", concentrate".

Aggregates ("World total", "Other countries", "EU", "Various countries") and former states
(USSR, Czechoslovakia, Netherlands Antilles ...) resolve to ``None``: the caller decides whether
that is a rest-of-world row, a skip or an error.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import pandas as pd
import pycountry

EXTRA_COUNTRIES: dict[str, tuple[str, str | None]] = {
    "XKX": ("Kosovo", "XK"),
}
"""Countries the atlas needs that ISO 3166-1 does not list (iso3 -> (name, iso2)).

``XKX``/``XK`` are the user-assigned codes the European Commission, the IMF and the World Bank
use for Kosovo.
"""

COMMON_NAMES: dict[str, str] = {
    "TWN": "Taiwan",
    "KOR": "South Korea",
    "PRK": "North Korea",
    "RUS": "Russia",
    "IRN": "Iran",
    "SYR": "Syria",
    "VEN": "Venezuela",
    "BOL": "Bolivia",
    "TZA": "Tanzania",
    "VNM": "Vietnam",
    "LAO": "Laos",
    "MDA": "Moldova",
    "COD": "DR Congo",
    "COG": "Congo",
    "FSM": "Micronesia",
    "PSE": "Palestine",
    "VAT": "Holy See",
    "GBR": "United Kingdom",
    "USA": "United States",
    "NLD": "Netherlands",
    "CZE": "Czechia",
    "TUR": "Turkiye",
    "BRN": "Brunei",
    "CPV": "Cabo Verde",
    "MKD": "North Macedonia",
}
"""Short English names used in ``base_countries`` where pycountry's name is a formal one."""

_CODE_ALIASES: dict[str, str | None] = {
    # World Bank WGI codes that are not ISO 3166-1 alpha-3
    "ZAR": "COD", "ROM": "ROU", "TMP": "TLS", "ADO": "AND", "KSV": "XKX", "WBG": "PSE",
    "ANT": None, "JEY": "JEY",
    # UN M49-style codes used by BACI and World Mining Data
    # (WMD writes Kosovo as R20 but BACI uses R20 for "Europe EFTA, nes": resolve R20 by name)
    "S19": "TWN",
    "XKX": "XKX", "XK": "XKX", "KOS": "XKX",
    # aggregates some publishers put among countries
    "EUR": None, "EU": None, "WLD": None, "ROW": None,
}

_NAME_ALIASES: dict[str, str | None] = {
    # USGS MCS
    "burma": "MMR",
    "congo (kinshasa)": "COD",
    "congo (brazzaville)": "COG",
    "korea, republic of": "KOR",
    "korea, north": "PRK",
    "korea, south": "KOR",
    "russia": "RUS",
    "turkey": "TUR",
    "taiwan": "TWN",
    "laos": "LAO",
    "iran": "IRN",
    "venezuela": "VEN",
    "bolivia": "BOL",
    "tanzania": "TZA",
    "vietnam": "VNM",
    "syria": "SYR",
    "brunei": "BRN",
    "macau": "MAC",
    "kosovo": "XKX",
    "cape verde": "CPV",
    "swaziland": "SWZ",
    "czech republic": "CZE",
    "ivory coast": "CIV",
    "cote d'ivoire": "CIV",
    "côte d'ivoire": "CIV",
    "curacao": "CUW",
    "reunion": "REU",
    "saint helena": "SHN",
    "saint maarten": "SXM",
    "sint maarten": "SXM",
    "svalbard": "SJM",
    "micronesia": "FSM",
    # World Bank (WGI) names
    "bahamas, the": "BHS",
    "gambia, the": "GMB",
    "congo, dem. rep.": "COD",
    "congo, rep.": "COG",
    "egypt, arab rep.": "EGY",
    "iran, islamic rep.": "IRN",
    "korea, rep.": "KOR",
    "korea, dem. rep.": "PRK",
    "lao pdr": "LAO",
    "yemen, rep.": "YEM",
    "venezuela, rb": "VEN",
    "micronesia, fed. sts.": "FSM",
    "hong kong sar, china": "HKG",
    "macao sar, china": "MAC",
    "taiwan, china": "TWN",
    "west bank and gaza": "PSE",
    "st. kitts and nevis": "KNA",
    "st. lucia": "LCA",
    "st. vincent and the grenadines": "VCT",
    "jersey, channel islands": "JEY",
    "virgin islands (u.s.)": "VIR",
    "netherlands antilles (former)": None,
    # CEPII BACI names
    "bosnia herzegovina": "BIH",
    "br. indian ocean terr.": "IOT",
    "br. virgin isds": "VGB",
    "cayman isds": "CYM",
    "central african rep.": "CAF",
    "china, hong kong sar": "HKG",
    "china, macao sar": "MAC",
    "christmas isds": "CXR",
    "cocos isds": "CCK",
    "cook isds": "COK",
    "dem. people's rep. of korea": "PRK",
    "dem. rep. of the congo": "COD",
    "dominican rep.": "DOM",
    "falkland isds (malvinas)": "FLK",
    "fr. south antarctic terr.": "ATF",
    "fs micronesia": "FSM",
    "lao people's dem. rep.": "LAO",
    "marshall isds": "MHL",
    "mayotte (overseas france)": "MYT",
    "n. mariana isds": "MNP",
    "norfolk isds": "NFK",
    # BACI and UN Comtrade report Taiwan as "Other Asia, nes" (code 490)
    "other asia, nes": "TWN",
    "rep. of korea": "KOR",
    "rep. of moldova": "MDA",
    "solomon isds": "SLB",
    "state of palestine": "PSE",
    "turks and caicos isds": "TCA",
    "united rep. of tanzania": "TZA",
    "wallis and futuna isds": "WLF",
    "bonaire": "BES",
    "caribbean netherlands": "BES",
    "fed. rep. of germany (...1990)": "DEU",
    "sudan (...2011)": "SDN",
    "us misc. pacific isds": "UMI",
    # World Mining Data
    "congo, d.r.": "COD",
    "bosnia-herzegovina": "BIH",
    # NGA World Port Index
    "falkland islands (islas malvinas)": "FLK",
    "saint helena, ascension, and tristan da cunha": "SHN",
    "saint vincent and the grenadines (windward islands)": "VCT",
    "south georgia and south sandwich islands": "SGS",
    "the bahamas": "BHS",
    "the gambia": "GMB",
    "johnson atoll": "UMI",
    "midway islands": "UMI",
    "wake island": "UMI",
    "u.s. virgin islands": "VIR",
    # Epoch AI
    "korea (republic of)": "KOR",
    "philippines (the)": "PHL",
    "united states of america": "USA",
    "united kingdom of great britain and northern ireland": "GBR",
    # aggregates and former states: never a country
    "world": None,
    "world total": None,
    "other": None,
    "other countries": None,
    "various countries": None,
    "european union": None,
    "united states and canada": None,
    "europe efta, nes": None,
    "belgium-luxembourg (...1998)": None,
    "czechoslovakia (...1992)": None,
    "dem. rep. of germany (...1990)": None,
    "netherlands antilles (...2010)": None,
    "serbia and montenegro (...2005)": None,
    "southern african customs union (...1999)": None,
    "ussr (...1990)": None,
}
"""Publisher spellings -> iso3 (``None``: an aggregate or a former state), keyed by
:func:`normalize_name`."""

_AGGREGATE = re.compile(r"^(world\b|other\b|others\b|rest of\b|total\b|various\b)", re.IGNORECASE)


def normalize_name(name: str) -> str:
    """Lower-case a name, fix UTF-8 read as Latin-1, unify apostrophes and spaces.

    Examples
    --------
    >>> normalize_name("  Côte d’Ivoire ")
    "côte d'ivoire"
    >>> normalize_name("CuraÃ§ao")
    'curaçao'
    """
    s = str(name)
    if "Ã" in s or "Â" in s:
        try:
            s = s.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    s = unicodedata.normalize("NFC", s).replace("\u00a0", " ").replace("\u2019", "'").replace("\u2018", "'")
    s = re.sub(r"\s+", " ", s).strip().lstrip("\ufeff")
    return s.casefold()


def _strip_accents(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def _lookup(key: str, original: str) -> str | None | bool:
    """iso3, None (known non-country) or False (unknown)."""
    if key in _NAME_ALIASES:
        return _NAME_ALIASES[key]
    plain = _strip_accents(key)
    if plain in _NAME_ALIASES:
        return _NAME_ALIASES[plain]
    code = original.strip().upper()
    if re.fullmatch(r"[A-Z]{2,3}|[A-Z]\d{2}", code) and original.strip() == original.strip().upper():
        if code in _CODE_ALIASES:
            return _CODE_ALIASES[code]
    if _AGGREGATE.match(key):
        return None
    try:
        return pycountry.countries.lookup(original.strip()).alpha_3
    except LookupError:
        pass
    for cand in (key, plain):
        try:
            return pycountry.countries.lookup(cand).alpha_3
        except LookupError:
            continue
    return False


@lru_cache(maxsize=8192)
def resolve_iso3(name_or_code: str) -> str | None:
    """Resolve a country name or code, as a publisher writes it, to ISO 3166-1 alpha-3.

    Parameters
    ----------
    name_or_code : str
        A name ("Burma", "Korea, Republic ofe", "Congo, D.R."), an alpha-2 or alpha-3 code, or
        a World Bank / UN code (``ZAR``, ``ROM``, ``KSV``, ``S19``).

    Returns
    -------
    str or None
        The iso3 code (``XKX`` for Kosovo, ``TWN`` for Taiwan), or ``None`` for aggregates,
        former states, blanks and names that cannot be resolved.

    Examples
    --------
    >>> [resolve_iso3(n) for n in ["Burma", "Congo (Kinshasa)", "Japane", "New Caledonia11", "ZAR"]]
    ['MMR', 'COD', 'JPN', 'NCL', 'COD']
    >>> resolve_iso3("World total (rounded)") is None
    True
    """
    if name_or_code is None:
        return None
    original = str(name_or_code)
    if not original.strip() or original.strip().lower() in {"nan", "<na>", "none"}:
        return None
    key = normalize_name(original)
    found = _lookup(key, original)
    if found is not False:
        return found  # type: ignore[return-value]
    if re.fullmatch(r"[A-Z0-9]{2,3}", original.strip()):
        return None  # an unknown code, not a name with a footnote
    # USGS footnote markers: digits ("New Caledonia11") or the letter e ("Japane") glued on
    candidates: list[str] = []
    no_digits = re.sub(r"\d+$", "", key).strip()
    if no_digits != key:
        candidates.append(no_digits)
    base = no_digits or key
    if base.endswith("e"):
        candidates.append(base[:-1].strip())
    # qualifiers: "United States (crude)", "Kazakhstan, concentrate", "Brazil (beneficiated)"
    for c in list(candidates) or [key]:
        for stripped in (re.sub(r"\s*\(.*\)\s*$", "", c), re.sub(r",[^,]*$", "", c)):
            if stripped and stripped != c:
                candidates.append(stripped)
                if stripped.endswith("e"):
                    candidates.append(stripped[:-1])
    for c in candidates:
        found = _lookup(c, c)
        if found is not False:
            return found  # type: ignore[return-value]
    return None


def is_aggregate(name: str) -> bool:
    """True for names of aggregates such as "World total (rounded)" or "Other countries4".

    Examples
    --------
    >>> is_aggregate("Other countries4"), is_aggregate("Oman")
    (True, False)
    """
    return bool(_AGGREGATE.match(normalize_name(name)))


def resolve_many(names: Iterable[str]) -> dict[str, str | None]:
    """Resolve each distinct name once.

    Examples
    --------
    >>> resolve_many(["Burma", "Atlantis"])
    {'Burma': 'MMR', 'Atlantis': None}
    """
    return {n: resolve_iso3(n) for n in dict.fromkeys(names)}


def country_name(iso3: str) -> str | None:
    """Short English name of an iso3 code (``None`` when unknown).

    Examples
    --------
    >>> country_name("TWN"), country_name("XKX")
    ('Taiwan', 'Kosovo')
    """
    iso3 = str(iso3).upper()
    if iso3 in COMMON_NAMES:
        return COMMON_NAMES[iso3]
    if iso3 in EXTRA_COUNTRIES:
        return EXTRA_COUNTRIES[iso3][0]
    c = pycountry.countries.get(alpha_3=iso3)
    if c is None:
        return None
    return getattr(c, "common_name", None) or c.name


def base_countries(with_iso2: bool = False) -> pd.DataFrame:
    """Every ISO 3166-1 country (pycountry) plus Kosovo (``XKX``), one row per iso3.

    Parameters
    ----------
    with_iso2 : bool
        Add an ``iso2`` column (useful to merge centroid tables keyed by alpha-2).

    Returns
    -------
    DataFrame
        Columns ``iso3, name`` (and ``iso2``), sorted by iso3. Names are short common English
        names (``Taiwan``, ``South Korea``, ``Russia``).

    Examples
    --------
    >>> b = base_countries()
    >>> {"TWN", "XKX", "COD"} <= set(b["iso3"]), len(b) > 245
    (True, True)
    """
    rows = [{"iso3": c.alpha_3, "name": country_name(c.alpha_3), "iso2": c.alpha_2}
            for c in pycountry.countries]
    for iso3, (name, iso2) in EXTRA_COUNTRIES.items():
        rows.append({"iso3": iso3, "name": name, "iso2": iso2})
    out = pd.DataFrame(rows).drop_duplicates("iso3").sort_values("iso3").reset_index(drop=True)
    out = out.astype({"iso3": "string", "name": "string", "iso2": "string"})
    return out if with_iso2 else out[["iso3", "name"]]


def add_country_attributes(countries: pd.DataFrame, attributes: pd.DataFrame,
                           columns: Iterable[str] = ("region", "lat", "lon"),
                           key: str = "iso3") -> pd.DataFrame:
    """Fill columns (region, lat, lon ...) of a countries table from another table.

    Parameters
    ----------
    countries : DataFrame
        With an ``iso3`` column (e.g. :func:`base_countries`).
    attributes : DataFrame
        Keyed by ``key``: ``iso3`` or ``iso2`` (alpha-2 keys are converted with pycountry).
    columns : iterable of str
        Columns to take from ``attributes``; existing non-blank values are kept.

    Examples
    --------
    >>> c = base_countries().head(2)
    >>> a = pd.DataFrame({"iso2": ["AW"], "lat": [12.5], "lon": [-69.97]})
    >>> add_country_attributes(c, a, columns=["lat", "lon"], key="iso2")["lat"].tolist()[:1]
    [12.5]
    """
    attrs = attributes.copy()
    if key != "iso3":
        to3 = {}
        for v in attrs[key].dropna().unique():
            c = pycountry.countries.get(alpha_2=str(v).upper())
            to3[v] = c.alpha_3 if c else next(
                (k for k, (_, i2) in EXTRA_COUNTRIES.items() if i2 == str(v).upper()), None)
        attrs["iso3"] = attrs[key].map(to3)
    attrs = attrs.dropna(subset=["iso3"]).drop_duplicates("iso3").set_index("iso3")
    out = countries.copy()
    for col in columns:
        if col not in attrs.columns:
            continue
        new = out["iso3"].map(attrs[col])
        out[col] = out[col].where(out[col].notna(), new) if col in out.columns else new
    return out


__all__ = [
    "COMMON_NAMES", "EXTRA_COUNTRIES", "add_country_attributes", "base_countries", "country_name",
    "is_aggregate", "normalize_name", "resolve_iso3", "resolve_many",
]
