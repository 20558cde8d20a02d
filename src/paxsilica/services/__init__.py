"""The service layer: every shell (CLI, REST API, dashboard, briefing) calls it, and only it.

A service takes a :class:`~paxsilica.services.context.ServiceContext` and a typed request (a frozen
dataclass) and returns a result that turns itself into records (``to_record()``) or tables
(``tables()``); it never prints. :mod:`.stress` holds the scenario and stress services.
"""

from __future__ import annotations

from .context import ServiceContext, ServiceStore

__all__ = ["ServiceContext", "ServiceStore"]
