"""Logistics: sea lanes between countries, chokepoints passed, closures and exposure.

Pure functions on an :class:`~paxsilica.atlas.Atlas` and parameters (routes are cached on disk,
see :mod:`paxsilica.logistics.cache`).

Examples
--------
>>> from paxsilica.logistics import parse_closed
>>> sorted(parse_closed("red_sea"))
['bab_el_mandeb', 'suez']
"""

from .cache import cache_dir, clear_memory
from .exposure import chokepoint_exposure, chokepoint_ranking, closure_impact
from .geojson import lanes_geojson, write_geojson
from .lanes import (
    AIR_DAYS,
    CLOSURE_PRESETS,
    DEFAULT_MODE_BY_STAGE,
    DEFAULT_PORT_DAYS,
    DEFAULT_SPEED_KNOTS,
    LANE_COLUMNS,
    lane_table,
    lanes,
    main_port_table,
    network_pairs,
    parse_closed,
    port_of_countries,
    sea_routes,
    transport_modes,
    unique_lanes,
)
from .network import (
    CLOSURE_RADIUS_KM,
    DEFAULT_RADIUS_KM,
    MIN_SEA_NODES,
    Route,
    SeaNetwork,
    sea_network,
    searoute_version,
)

__all__ = [
    "AIR_DAYS",
    "CLOSURE_PRESETS",
    "CLOSURE_RADIUS_KM",
    "DEFAULT_MODE_BY_STAGE",
    "DEFAULT_PORT_DAYS",
    "DEFAULT_RADIUS_KM",
    "DEFAULT_SPEED_KNOTS",
    "LANE_COLUMNS",
    "MIN_SEA_NODES",
    "Route",
    "SeaNetwork",
    "cache_dir",
    "chokepoint_exposure",
    "chokepoint_ranking",
    "closure_impact",
    "clear_memory",
    "lane_table",
    "lanes",
    "lanes_geojson",
    "main_port_table",
    "network_pairs",
    "parse_closed",
    "port_of_countries",
    "sea_network",
    "sea_routes",
    "searoute_version",
    "transport_modes",
    "unique_lanes",
    "write_geojson",
]
