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
    DEPENDENCY_SHARE,
    TIERS,
    coalition_by_stage,
    coalition_exposure,
    coalition_whatif,
    members,
    partners,
    supplier_tiers,
    tier_of,
)
from .coercion import (
    coercion_risk,
    governance_filled,
    restriction_events,
    restriction_record,
    supplier_coercion_risk,
)
from .concentration import (
    SPOF_HHI,
    SPOF_TOP_SHARE,
    STALE_YEARS,
    concentration,
    hhi,
    hhi_wgi,
    stage_concentration,
)
from .criticality import EU_SR_THRESHOLD, eu_sourcing_shares, supply_risk
from .trade import import_risk

__all__ = [
    "DEFAULT_COALITION",
    "DEFAULT_TARGET",
    "DEPENDENCY_SHARE",
    "EU_SR_THRESHOLD",
    "SPOF_HHI",
    "SPOF_TOP_SHARE",
    "STALE_YEARS",
    "TIERS",
    "bottlenecks",
    "coalition_bottlenecks",
    "coalition_by_stage",
    "coalition_exposure",
    "coalition_whatif",
    "coercion_risk",
    "concentration",
    "country_availability",
    "country_knockouts",
    "eu_sourcing_shares",
    "governance_filled",
    "group_knockout_loss",
    "hhi",
    "hhi_wgi",
    "import_risk",
    "knockout_loss",
    "latest_production",
    "members",
    "partners",
    "outside_availability",
    "propagate",
    "recipe_graph",
    "restriction_events",
    "restriction_record",
    "stage_concentration",
    "supplier_coercion_risk",
    "supplier_tiers",
    "supply_risk",
    "tier_of",
    "upstream_items",
]
