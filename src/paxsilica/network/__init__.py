"""Atlas → simulation network (sites, links, lanes, stockpiles, final demand by consumer)."""

from .build import (
    DEFAULT_TARGET,
    SiteIndex,
    build_index,
    build_network,
    tiny_atlas,
    to_supply_network,
)

__all__ = ["DEFAULT_TARGET", "SiteIndex", "build_index", "build_network", "tiny_atlas", "to_supply_network"]
