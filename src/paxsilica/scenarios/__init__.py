"""Stress scenarios as data: YAML files with a schema, a registry of built-ins, and a compiler to the
engine's shock and capacity schedules. Each shock and policy type is declared once
(:mod:`paxsilica.scenarios.declare`); the reader, the atlas checks, the compiler and the JSON Schema
(:func:`scenario_json_schema`) derive from the declarations."""

from .json_schema import scenario_json_schema
from .registry import builtin_paths, list_scenarios, load_all, load_scenario
from .schema import (
    Blockade,
    ChokepointClosure,
    CyberIncident,
    DemandSurge,
    Destinations,
    Disaster,
    ExportBan,
    Policies,
    Recovery,
    Scenario,
    Shock,
    SiteOutage,
    StockpileRelease,
    check_against_atlas,
    parse_scenario,
    validate_scenario,
)

__all__ = [
    "Blockade", "ChokepointClosure", "CyberIncident", "DemandSurge", "Destinations", "Disaster",
    "ExportBan", "Policies", "Recovery", "Scenario", "Shock", "SiteOutage", "StockpileRelease",
    "builtin_paths", "check_against_atlas", "list_scenarios", "load_all", "load_scenario",
    "parse_scenario", "scenario_json_schema", "validate_scenario",
]
