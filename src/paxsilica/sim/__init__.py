"""Simulation of shock propagation in production networks (see ENGINE.md and docs/engine.md).

>>> from paxsilica.sim import SupplyNetwork, FirmShocks, simulate
>>> net = SupplyNetwork.from_arrays([0, 1], [1, 0], [100.0, 100.0], final_demand=[100.0, 100.0])
>>> simulate(net, FirmShocks([0], [0.1]), steps=2, arithmetic="reference").production.tolist()
[400.0, 380.0, 343.33333333333337]
"""

from .engine import (
    EPS,
    ConsumerSplit,
    Extensions,
    FirmShocks,
    Scenario,
    Schedule,
    SimResult,
    cyber_incident_profile,
    recovery_profile,
    simulate,
)
from .network import SupplyNetwork

__all__ = [
    "EPS",
    "ConsumerSplit",
    "Extensions",
    "FirmShocks",
    "Scenario",
    "Schedule",
    "SimResult",
    "SupplyNetwork",
    "cyber_incident_profile",
    "recovery_profile",
    "simulate",
]
