"""Measures of supply risk: pure functions from an Atlas (and parameters) to DataFrames.

Shares in outputs are fractions 0-1; HHI is on the 0-10,000 scale; losses are fractions of the
target's output. See ``docs/metrics.md`` for formulas, sources and choices.

Examples
--------
>>> from paxsilica.metrics import hhi
>>> hhi([25, 20, 15, 10, 8, 7, 6, 5, 4])
1540.0
"""

from ._common import DEFAULT_COALITION, DEFAULT_TARGET, latest_production
from .bottlenecks import (
    bottlenecks,
    coalition_bottlenecks,
    country_availability,
    country_knockouts,
    group_knockout_loss,
    knockout_loss,
    outside_availability,
    propagate,
    recipe_graph,
    upstream_items,
)
from .coalition import (
    COERCIVE_SHARE,
    coalition_by_stage,
    coalition_exposure,
    coalition_whatif,
    members,
)
from .concentration import (
    SPOF_HHI,
    SPOF_TOP_SHARE,
    concentration,
    hhi,
    hhi_wgi,
    stage_concentration,
)
from .criticality import EU_SR_THRESHOLD, eu_sourcing_shares, supply_risk
from .trade import import_risk

__all__ = [
    "COERCIVE_SHARE",
    "DEFAULT_COALITION",
    "DEFAULT_TARGET",
    "EU_SR_THRESHOLD",
    "SPOF_HHI",
    "SPOF_TOP_SHARE",
    "bottlenecks",
    "coalition_bottlenecks",
    "coalition_by_stage",
    "coalition_exposure",
    "coalition_whatif",
    "concentration",
    "country_availability",
    "country_knockouts",
    "eu_sourcing_shares",
    "group_knockout_loss",
    "hhi",
    "hhi_wgi",
    "import_risk",
    "knockout_loss",
    "latest_production",
    "members",
    "outside_availability",
    "propagate",
    "recipe_graph",
    "stage_concentration",
    "supply_risk",
    "upstream_items",
]
