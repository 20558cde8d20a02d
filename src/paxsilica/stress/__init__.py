"""Stress tests: run a scenario on the atlas network and read the result.

The package is the pipeline in four steps, each a module:

- :mod:`~paxsilica.stress.prepare`: atlas + scenario → the site index and engine network (built once per
  atlas and shared by every scenario), the compiled schedules and the band draws (a ``Job``);
- :mod:`~paxsilica.stress.run`: the one pipeline of single runs (:func:`run_stress`), library runs
  (:func:`run_library`) and band runs, with worker processes for libraries;
- :mod:`~paxsilica.stress.measure`: results, headline measures, the capacity split, bands and backtest
  checks (:class:`StressResult`);
- :mod:`~paxsilica.stress.record`: Parquet, DuckDB, JSON and a self-contained HTML chart
  (:func:`save_result`, crash-safe).

Measures are defined in :mod:`paxsilica.stress.measure`. The shells do not call this package directly:
they call :mod:`paxsilica.services.stress`.

Examples
--------
>>> from paxsilica.network.build import tiny_atlas
>>> from paxsilica.scenarios import parse_scenario
>>> s = parse_scenario("name: t\\ndescription: d\\nhorizon: 40\\nshocks:\\n  - {type: export_ban, "
...                    "exporter: JPN, items: [wafer], start: 0}\\n")
>>> r = run_stress(s, tiny_atlas(), target="chip", inventory_days=10)
>>> r.summary["time_to_survive_days"], round(r.summary["min_level"], 3)
(16, 0.4)
"""

from .measure import (
    BAND_MEASURES,
    DEFAULT_INVENTORY_DAYS,
    DEFAULT_TAU_DAYS,
    SURVIVE_THRESHOLD,
    Measured,
    StressResult,
    _tables,
    _tts_ttr,
    code_version,
    evaluate_checks,
)
from .prepare import Job, Prepared
from .record import RESULT_FILES, RESULT_MARKER, chart_html, chart_svg, result_json, save_result
from .run import LIBRARY_COLUMNS, _run_draws, _simulate, execute, run_library, run_stress

_Prepared = Prepared  # the name bench/ scripts import

__all__ = [
    "BAND_MEASURES", "DEFAULT_INVENTORY_DAYS", "DEFAULT_TAU_DAYS", "LIBRARY_COLUMNS", "RESULT_FILES",
    "RESULT_MARKER", "SURVIVE_THRESHOLD", "Job", "Measured", "Prepared", "StressResult", "chart_html",
    "chart_svg", "code_version", "evaluate_checks", "execute", "result_json", "run_library", "run_stress",
    "save_result", "_Prepared", "_run_draws", "_simulate", "_tables", "_tts_ttr",
]
