"""The service layer: every shell (CLI, REST API, dashboard, briefing) calls it, and only it.

A service takes a :class:`ServiceContext` (which atlas, which organisation, which caches) and a
typed request (a frozen dataclass), computes with the pure functions of the model packages
(:mod:`paxsilica.metrics`, :mod:`paxsilica.logistics`, :mod:`paxsilica.optimize`,
:mod:`paxsilica.report`), and returns a result that turns itself into records
(``to_record()``, through :mod:`paxsilica.serialize`) or tables (``tables()``). Services never
print; writes go through :mod:`paxsilica.fsutil`. Shells add parsing, formatting and transport.

Modules: :mod:`.atlas` (info, schema, tables, validate, import, export), :mod:`.measures`
(concentration, coalition, bottlenecks, import and coercion risk), :mod:`.lanes` (sea lanes,
chokepoints, GeoJSON), :mod:`.tts` (time-to-survive), :mod:`.briefing` (the briefing),
``stress`` (scenarios), ``montecarlo`` (loss distributions from a hazard catalogue) and ``planning``
(plans by optimization).
"""

from __future__ import annotations

from .context import InvalidAtlasError, ServiceContext, ServiceStore, validation_problems
from .results import TableResult

__all__ = ["InvalidAtlasError", "ServiceContext", "ServiceStore", "TableResult", "validation_problems"]
