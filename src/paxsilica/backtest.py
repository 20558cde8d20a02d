"""Backtests: the stress model against what happened in real disruptions.

Each reference-event scenario of the built-in library carries an ``observed:`` block (the outcome
that happened, as ranges on the model's measures, with sources), and each case that must hurt an
``expected:`` block (``docs/backtests.md``). :func:`run_backtests` runs them all on an atlas, with
uncertainty bands, and returns one row per check: the range, the model's central value, its band
and whether the central value lies in the range.

Examples
--------
>>> "neon_shortage_ukraine" in backtest_scenarios()
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from .bands import DEFAULT_DRAWS
from .network.build import DEFAULT_TARGET

BACKTEST_COLUMNS = ("scenario", "kind", "of", "measure", "min", "max", "model", "band_low", "band_high", "ok",
                    "why", "note")
"""Columns of :func:`run_backtests`."""


def backtest_scenarios() -> list[str]:
    """Built-in scenarios with an ``observed:`` or ``expected:`` block, in library order."""
    from .scenarios import list_scenarios, load_scenario

    return [n for n in list_scenarios() if load_scenario(n).backtest is not None]


def run_backtests(atlas: Any, names: Iterable[str] | None = None, *, bands: int = DEFAULT_DRAWS,
                  seed: int | None = None, target: str = DEFAULT_TARGET,
                  progress: Callable[[str], None] | None = None, prepared: Any = None) -> pd.DataFrame:
    """Run the backtest scenarios and compare each check with the model.

    Parameters
    ----------
    atlas : Atlas
    names : iterable of str, optional
        Scenario names or paths (default: :func:`backtest_scenarios`).
    bands : int
        Band draws per scenario (0: central values only).
    seed : int, optional
        Seed of the draws.
    target : str
    progress : callable, optional
        Called with each scenario's name.
    prepared : paxsilica.stress.Prepared, optional
        The atlas's network for ``target``, kept by the caller (see :func:`paxsilica.stress.run_library`).

    Returns
    -------
    DataFrame
        Columns :data:`BACKTEST_COLUMNS`; ``ok`` is True when the central value lies in
        ``[min, max]`` (a missing bound is open).
    """
    from .stress import run_library

    names = list(backtest_scenarios() if names is None else names)
    table = run_library(atlas, names, target=target, bands=bands, seed=seed, progress=progress,
                        prepared=prepared)
    rows: list[dict[str, Any]] = []
    for r in table.itertuples(index=False):
        if r.note:
            rows.append({"scenario": r.scenario, "ok": False, "note": r.note})
            continue
        for c in r.checks or []:
            b = c.get("band") or [None, None]
            rows.append({"scenario": r.scenario, "kind": c["kind"], "of": c["of"], "measure": c["measure"],
                         "min": c["min"], "max": c["max"], "model": c["model"], "band_low": b[0],
                         "band_high": b[1], "ok": bool(c["ok"]), "why": c["why"], "note": c.get("note", "")})
    return pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))
