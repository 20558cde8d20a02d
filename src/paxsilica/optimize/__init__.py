"""Optimisation models: time-to-survive / time-to-recover (Simchi-Levi et al.).

Examples
--------
>>> from paxsilica.optimize import Network, time_to_survive, UNLIMITED
>>> UNLIMITED
inf
"""

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
    "UNLIMITED",
    "Network",
    "SolverError",
    "analyze",
    "performance_impact",
    "rank",
    "sustainable_fraction",
    "time_to_survive",
]
