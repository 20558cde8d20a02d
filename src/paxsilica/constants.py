"""Defaults every layer shares, defined once (metrics, network, logistics, time-to-survive, shells).

Examples
--------
>>> DEFAULT_TARGET
'ai_datacenter_capacity'
"""

from __future__ import annotations

DEFAULT_TARGET = "ai_datacenter_capacity"
"""Item whose supply every analysis measures unless told otherwise: new AI data-centre capacity."""

DEFAULT_COALITION = "pax_silica"
"""Group id of the coalition the coalition measures and the briefing are about."""

__all__ = ["DEFAULT_COALITION", "DEFAULT_TARGET"]
