"""Importers: publishers' own file formats in, partial atlas tables out.

Each importer is registered in :data:`IMPORTERS` under its kind name with a one-line
description, its options (name, type, help, default) and a function
``run(paths, **options) -> dict[str, DataFrame]`` returning atlas tables in schema columns
(``production``, ``items``, ``countries``, ``trade``, ``firms``, ``facilities``, ``recipes``,
``sources`` ...; ``firms`` may also return a ``links`` table outside the schema). Options given as
strings (from the CLI ``--option name=value``) are converted to the declared types. What an
importer left out (withheld values, unresolved country names, unmapped codes) is listed in the
``attrs`` of the returned frames.

A malformed file raises :class:`paxsilica.errors.InputError` naming file, row and column.

Examples
--------
>>> sorted(IMPORTERS)[:3]
['baci', 'chokepoints', 'cset']
>>> IMPORTERS["usgs"].options[0].name
'year'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from . import baci, cset, epoch, firms, usgs, wgi, wmd
from . import chokepoints as _chokepoints
from . import wpi as _wpi
from ._common import Importer, Option, coerce_options


def _coercing(kind: str, run: Callable[..., dict[str, pd.DataFrame]], spec: tuple[Option, ...]
              ) -> Callable[..., dict[str, pd.DataFrame]]:
    """Wrap a ``run`` that expects typed options: convert the declared ones from strings."""

    def wrapped(paths: Any, **options: Any) -> dict[str, pd.DataFrame]:
        typed = {k: v for k, v in options.items() if k in {o.name for o in spec}}
        typed = {k: v for k, v in coerce_options(kind, spec, typed).items() if k in typed}
        return run(paths, **{**options, **typed})

    wrapped.__doc__ = run.__doc__
    return wrapped


IMPORTERS: dict[str, Importer] = {
    "usgs": Importer(
        "usgs", "USGS Mineral Commodity Summaries world data release (mcsYYYY-<code>_world.csv or the tidy CSV) "
        "-> production, items", usgs.run, usgs.OPTIONS),
    "wmd": Importer(
        "wmd", "World Mining Data (BMF Austria): workbook (one sheet per mineral) or long CSV; EoL-RIR table "
        "-> production, items", wmd.run, wmd.OPTIONS),
    "wgi": Importer(
        "wgi", "World Bank Worldwide Governance Indicators (workbook, long or wide CSV) -> countries "
        "governance columns and governance_risk", wgi.run, wgi.OPTIONS),
    "baci": Importer(
        "baci", "CEPII BACI bilateral trade (t,i,j,k,v,q CSV, gzip ok) with country_codes.csv and "
        "product_codes.csv -> trade", baci.run, baci.OPTIONS),
    "epoch": Importer(
        "epoch", "Epoch AI GPU clusters (gpu_clusters.csv) and frontier data centres (data_centers.csv) "
        "-> production (h100e, MW), facilities", epoch.run, epoch.OPTIONS),
    "cset": Importer(
        "cset", "CSET ETO Supply Chain Explorer CSVs (stages, inputs, providers, provision, sequence) -> items, "
        "production, firms, recipes (CC BY-NC: for users' own atlases only)", cset.run, cset.OPTIONS),
    "firms": Importer(
        "firms", "firm-level supplier table (CSV/XLSX: supplier, customer, item, amount[, country]) -> firms, "
        "production (firm shares), links", firms.run, firms.OPTIONS),
    "wpi": Importer(
        "wpi", "NGA World Port Index (UpdatedPub150 CSV, full or slim) -> ports", _coercing("wpi", _wpi.run, (
            Option("per_country", int, "keep this many best-ranked ports per country", 3),
            Option("strict", bool, "fail on country names that cannot be resolved", False),
        )), (
            Option("per_country", int, "keep this many best-ranked ports per country", 3),
            Option("strict", bool, "fail on country names that cannot be resolved", False),
            Option("source", str, "id of the sources row", _wpi.SOURCE_ID),
        )),
    "chokepoints": Importer(
        "chokepoints", "maritime chokepoints CSV (id, name, type, lat, lon, connects, bordering_states_iso3) "
        "-> chokepoints", _chokepoints.run, (
            Option("source", str, "id of the sources row", _chokepoints.SOURCE_ID),
        )),
}
"""Every importer by kind name."""


def importer(kind: str) -> Importer:
    """The importer registered under ``kind``.

    Raises
    ------
    paxsilica.errors.NotFoundError
        When no importer has that name.

    Examples
    --------
    >>> importer("wgi").kind
    'wgi'
    """
    from paxsilica.errors import NotFoundError

    try:
        return IMPORTERS[kind]
    except KeyError:
        raise NotFoundError(f"unknown importer {kind!r}; known: {', '.join(sorted(IMPORTERS))}") from None


__all__ = ["IMPORTERS", "Importer", "Option", "importer"]
