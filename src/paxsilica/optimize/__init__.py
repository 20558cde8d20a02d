"""Optimisation models: time-to-survive / time-to-recover (Simchi-Levi et al.).

Examples
--------
>>> from paxsilica.optimize import Network, time_to_survive, UNLIMITED
>>> UNLIMITED
inf
"""

from .atlas_tts import DEFAULT_TARGET, AtlasNetwork, atlas_tts, network_from_atlas, upstream_items
from .tts import (
    UNLIMITED,
    Network,
    SolverError,
    analyze,
    performance_impact,
    rank,
    sustainable_fraction,
    time_to_survive,
)

__all__ = [
    "DEFAULT_TARGET",
    "AtlasNetwork",
    "atlas_tts",
    "network_from_atlas",
    "upstream_items",
    "UNLIMITED",
    "Network",
    "SolverError",
    "analyze",
    "performance_impact",
    "rank",
    "sustainable_fraction",
    "time_to_survive",
]
