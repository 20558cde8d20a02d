"""The JSON Schema of a scenario (for the REST API), derived from the shock and policy declarations.

The schema checks structure: which fields each shock type has, their types and ranges, required
fields and allowed words. Rules across fields (an ``end`` after its ``start``, a disaster with exactly
one of ``country`` or ``region``) and names that must exist in the atlas are checked by the parser and
:func:`~paxsilica.scenarios.schema.check_against_atlas`, which say file, line and field.

Examples
--------
>>> s = scenario_json_schema()
>>> sorted(s["$defs"]["shocks"])[:2]
['blockade', 'chokepoint_closure']
>>> s["$defs"]["shocks"]["export_ban"]["required"]
['type', 'exporter', 'items']
"""

from __future__ import annotations

from typing import Any

from .declare import KINDS, SHOCKS, START, Policies, params_of
from .schema import CHECK_MEASURES, MAX_HORIZON_DAYS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _object(cls: type, *, extra: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    props: dict[str, Any] = dict(extra or {})
    req = list(required)
    for name, p, _default in params_of(cls):
        sch = dict(KINDS[p.kind].schema(p))
        if p.nested:  # e.g. resourcing: true/false or {enabled, ramp_up_days, surge_capacity}
            inner = {n: KINDS[q.kind].schema(q) for n, q, _ in params_of(cls) if n in p.nested}
            sch = {"anyOf": [sch, {"type": "object", "additionalProperties": False,
                                   "properties": {"enabled": {"type": "boolean"}, **inner}}]}
        if p.doc:
            sch["description"] = p.doc
        props[name] = sch
        for alias in p.aliases:
            props[alias] = sch
        if p.required:
            req.append(name)
    out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    if req:
        out["required"] = req
    if cls.__doc__:
        out["description"] = " ".join(cls.__doc__.split())
    return out


def shock_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one shock type (``type`` fixed to ``name``)."""
    common = {"type": {"const": name}, "start": {**KINDS["days"].schema(START), "description": START.doc},
              "note": {"type": "string"},
              "source": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}}
    return _object(SHOCKS[name], extra=common, required=("type",))


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a scenario document, with every registered shock type.

    Returns
    -------
    dict
        The schema; ``$defs.shocks`` holds one schema per shock type, ``$defs.policies`` the policies.
    """
    shocks = {name: shock_schema(name) for name in SHOCKS}
    check = {"type": "object", "additionalProperties": False, "required": ["of"],
             "properties": {"of": {"type": "string", "pattern": r"^(target|(item|consumer|site):\S+)$"},
                            "measure": {"type": "string", "enum": list(CHECK_MEASURES)},
                            "min": {"type": "number"}, "max": {"type": "number"}, "why": {"type": "string"}},
             "anyOf": [{"required": ["min"]}, {"required": ["max"]}]}
    backtest = {"type": "object", "additionalProperties": False, "required": ["outcome", "checks"],
                "properties": {"outcome": {"type": "string"},
                               "checks": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/check"}},
                               "sources": {"anyOf": [{"type": "string"},
                                                     {"type": "array", "items": {"type": "string"}}]}}}
    texts = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "paxsilica stress scenario",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "description"],
        "properties": {
            "name": {"type": "string"}, "description": {"type": "string"},
            "horizon": {"type": "integer", "minimum": 1, "maximum": MAX_HORIZON_DAYS},
            "step": {"type": "integer", "minimum": 1},
            "sources": texts, "assumptions": texts, "tags": {},
            "reference_date": {"type": "string", "format": "date"},
            "shocks": {"type": "array", "items": {"oneOf": [{"$ref": f"#/$defs/shocks/{n}"} for n in shocks]}},
            "policies": {"$ref": "#/$defs/policies"},
            "observed": {"$ref": "#/$defs/backtest"}, "expected": {"$ref": "#/$defs/backtest"},
        },
        "not": {"required": ["observed", "expected"]},
        "$defs": {"shocks": shocks, "policies": _object(Policies), "check": check, "backtest": backtest},
    }
