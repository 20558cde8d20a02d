"""The Atlas schema, kept as data.

Each table is described by its columns (name, dtype, unit, required, description), its key and
the references its columns make to other tables. Validation, file I/O, documentation
(``docs/schema.md``) and later the API models are all derived from this one description.

Dtypes are logical: ``str`` (string id or text), ``float``, ``int``, ``bool``, ``date``
(ISO ``YYYY-MM-DD``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

STAGES: dict[str, str] = {
    "raw_material": "mined or extracted raw material (ores, concentrates, natural gas, crude helium)",
    "refined_material": "refined metals, chemicals, gases, wafers-grade materials and films",
    "equipment": "semiconductor manufacturing equipment and design software (EDA)",
    "fabrication": "wafer fabrication: logic, memory and their wafers",
    "component": "memory stacks, substrates, packaging, assembly/test, optics, power equipment",
    "accelerator": "AI accelerators and server CPUs",
    "system": "servers, switches, network systems",
    "infrastructure": "AI data centres and GPU cluster capacity",
    "energy": "energy inputs beside the chain: natural gas/LNG, electricity",
}
"""Stages of the AI stack, upstream to downstream (energy sits beside the chain)."""

STAGE_ORDER: tuple[str, ...] = tuple(STAGES)

UNITS: dict[str, str] = {
    "t": "metric tons",
    "kt": "thousand metric tons",
    "kg": "kilograms",
    "t_REO": "metric tons of rare-earth oxide equivalent",
    "t_content": "metric tons of metal content",
    "mcm": "million cubic metres (gas)",
    "bcm": "billion cubic metres (gas)",
    "TWh": "terawatt-hours",
    "MW": "megawatts of power capacity",
    "GW": "gigawatts of power capacity",
    "units": "pieces (machines, chips, servers)",
    "wafers_300mm_eq": "300 mm-equivalent wafers",
    "wspm_300mm_eq": "300 mm-equivalent wafer starts per month (capacity)",
    "usd_m": "million US dollars (value, used where no physical unit is meaningful)",
    "usd_k": "thousand US dollars",
    "h100e": "H100-equivalents of AI compute (Epoch AI)",
    "percent": "percent share (0-100)",
    "fraction": "fraction (0-1)",
    "days": "days",
    "nm": "nautical miles",
    "index": "dimensionless index",
}
"""Units an atlas may use; anything else is reported as an unknown unit."""

PRODUCER_TYPES = ("country", "firm", "rest_of_world")
TRANSPORT_MODES = ("sea", "air", "land", "pipeline", "grid", "digital", "local")
ROW_PRODUCER = "ROW"
"""Producer id of an explicit rest-of-world row at country level in ``production``."""
OTHER_FIRMS_PRODUCER = "OTHER"
"""Producer id of an explicit "all other firms" row at firm level in ``production``."""
REST_PRODUCERS = (ROW_PRODUCER, OTHER_FIRMS_PRODUCER)
RECIPE_USES = ("material", "capital", "operating")
"""How a client uses an input: consumed per unit of output, a capital good of its capacity, or needed
every day to run its installed capacity."""
DYNAMICS_PARAMETERS = (
    "outside_share", "low_value_share", "inventory_days", "spare_capacity", "ramp_days",
    "substitution", "substitution_days", "installed_growth", "service_life_years",
)
"""Parameters of the ``dynamics`` table (docs/atlas.md, 'Dynamics')."""


@dataclass(frozen=True)
class Column:
    """One column of an Atlas table."""

    name: str
    dtype: str
    unit: str | None = None
    required: bool = False
    description: str = ""
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Reference:
    """A column whose values must be keys of another table (blank values allowed)."""

    column: str
    table: str
    target: str
    allow: tuple[str, ...] = ()
    """Values accepted without a match (e.g. ``ROW``)."""
    when: tuple[str, str] | None = None
    """Only check rows where ``row[when[0]] == when[1]``."""


@dataclass(frozen=True)
class Table:
    """Schema of one Atlas table."""

    name: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    references: tuple[Reference, ...] = ()
    required_table: bool = True
    sources_column: str | None = "source"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _src(required: bool = True) -> Column:
    return Column("source", "str", required=required, description="id of the row's source in `sources`")


def _note() -> Column:
    return Column("note", "str", description="free text: caveats, method, estimate flags")


SCHEMA: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "sources",
            "Citations. Every figure row of the atlas names one of these.",
            ("source",),
            (
                Column("source", "str", required=True, description="short id, e.g. `usgs_mcs2024`"),
                Column("publisher", "str", required=True, description="original publisher"),
                Column("title", "str", required=True, description="publication title"),
                Column("table", "str", description="table, page or dataset part used"),
                Column("year", "int", required=True, description="publication year", minimum=1900, maximum=2100),
                Column("url", "str", description="where to find it"),
                Column("licence", "str", required=True, description="licence of the source"),
                Column("accessed", "date", description="when the figures were taken"),
                Column("kind", "str", description="`published`, `derived` (computed by us from published data) or `estimate` (our assumption)",
                       choices=("published", "derived", "estimate")),
                _note(),
            ),
            sources_column=None,
        ),
        Table(
            "countries",
            "Countries and territories (ISO 3166-1 alpha-3) with governance indicators.",
            ("iso3",),
            (
                Column("iso3", "str", required=True, description="ISO 3166-1 alpha-3 code"),
                Column("name", "str", required=True, description="common English name"),
                Column("region", "str", description="world region (World Bank classification)"),
                Column("lat", "float", "deg", description="representative latitude", minimum=-90, maximum=90),
                Column("lon", "float", "deg", description="representative longitude", minimum=-180, maximum=180),
                Column("wgi_year", "int", description="year of the WGI estimates"),
                Column("wgi_va", "float", "index", description="WGI Voice and Accountability estimate (-2.5..2.5)", minimum=-3, maximum=3),
                Column("wgi_pv", "float", "index", description="WGI Political Stability and Absence of Violence/Terrorism", minimum=-4, maximum=3),
                Column("wgi_ge", "float", "index", description="WGI Government Effectiveness", minimum=-3, maximum=3),
                Column("wgi_rq", "float", "index", description="WGI Regulatory Quality", minimum=-3, maximum=3),
                Column("wgi_rl", "float", "index", description="WGI Rule of Law", minimum=-3, maximum=3),
                Column("wgi_cc", "float", "index", description="WGI Control of Corruption", minimum=-3, maximum=3),
                Column("wgi_mean", "float", "index", description="mean of the available WGI estimates", minimum=-3, maximum=3),
                Column("governance_risk", "float", "index",
                       description="WGI mean rescaled as in the EU criticality method: 5 - 2*WGI, 0 (best) .. 10 (worst)",
                       minimum=0, maximum=10),
                _src(required=False),
            ),
        ),
        Table(
            "groups",
            "Membership of coalitions and country groups, with dates.",
            ("group", "iso3"),
            (
                Column("group", "str", required=True, description="group id, e.g. `pax_silica`"),
                Column("iso3", "str", required=True, description="member country"),
                Column("joined", "date", description="date the member joined (blank: founding/unknown, always a member)"),
                Column("left", "date", description="date the member left (blank: still a member)"),
                _src(),
                _note(),
            ),
            (Reference("iso3", "countries", "iso3"),),
        ),
        Table(
            "items",
            "Goods and services of the AI stack.",
            ("item",),
            (
                Column("item", "str", required=True, description="item id, snake_case"),
                Column("name", "str", required=True, description="display name"),
                Column("stage", "str", required=True, description="stage of the AI stack", choices=STAGE_ORDER),
                Column("unit", "str", required=True, description="unit of quantities", choices=tuple(UNITS)),
                Column("description", "str", description="what the item is"),
                Column("hs_codes", "str", description="HS-6 codes where they exist, `;`-separated"),
                Column("transport_mode", "str", description="how it mostly travels; blank: default by stage", choices=TRANSPORT_MODES),
                Column("eol_rir", "float", "fraction", description="end-of-life recycling input rate (EU 2023), 0..1", minimum=0, maximum=1),
                Column("substitution_index", "float", "index", description="EU substitution index for supply risk (SI_SR), 0..1", minimum=0, maximum=1),
                Column("import_reliance_eu", "float", "fraction", description="EU import reliance, 0..1", minimum=0, maximum=1),
                _src(required=False),
                _note(),
            ),
        ),
        Table(
            "production",
            "Who produces each item: countries (and firms where public), with shares.",
            ("item", "producer", "year"),
            (
                Column("item", "str", required=True, description="item id"),
                Column("producer", "str", required=True, description="country iso3, firm id, `ROW` (rest of the world, country level) or `OTHER` (all other firms, firm level)"),
                Column("producer_type", "str", required=True, description="`country`, `firm` or `rest_of_world`", choices=PRODUCER_TYPES),
                Column("country", "str", description="where the output is made (iso3): the sites physical shocks hit; equals producer for countries"),
                Column("controlled_by", "str", description="headquarters or jurisdiction of the producer (iso3), which export controls and ownership use (blank: the firm's headquarters, or the country itself)"),
                Column("year", "int", required=True, description="year of the figure", minimum=1990, maximum=2100),
                Column("quantity", "float", description="quantity produced, in `unit`", minimum=0),
                Column("unit", "str", description="unit of quantity and capacity (blank: the item's unit)", choices=tuple(UNITS)),
                Column("share", "float", "percent", required=True, description="share of world output, 0..100", minimum=0, maximum=100),
                Column("capacity", "float", description="production capacity, in `unit`", minimum=0),
                Column("estimated", "bool", description="true where the figure is an estimate (the source's or ours)"),
                _src(),
                _note(),
            ),
            (
                Reference("item", "items", "item"),
                Reference("producer", "countries", "iso3", when=("producer_type", "country")),
                Reference("producer", "firms", "firm", when=("producer_type", "firm")),
                Reference("country", "countries", "iso3"),
                Reference("controlled_by", "countries", "iso3"),
            ),
        ),
        Table(
            "recipes",
            "What each item needs: the bill of materials of the AI stack.",
            ("item", "input"),
            (
                Column("item", "str", required=True, description="the item made"),
                Column("input", "str", required=True, description="an item it needs"),
                Column("quantity", "float", description="input per unit of output, in input units per item unit (blank: unknown)", minimum=0),
                Column("dependent_share", "float", "fraction", required=True,
                       description="part of the item's output that needs this input, 0..1", minimum=0, maximum=1),
                Column("dependent_share_low", "float", "fraction", minimum=0, maximum=1,
                       description="low end of the range of `dependent_share` (blank: the value itself)"),
                Column("dependent_share_high", "float", "fraction", minimum=0, maximum=1,
                       description="high end of the range of `dependent_share` (blank: the value itself)"),
                Column("use", "str", choices=RECIPE_USES,
                       description="`material` (consumed per unit of output; blank means this), `capital` "
                                   "(a capital good of the item's capacity: tools, transformers; a cut delays "
                                   "capacity additions, installed capacity keeps running) or `operating` (needed "
                                   "every day to run installed capacity: electricity)"),
                Column("rationale", "str", required=True, description="one line: why the item needs the input"),
                _src(),
            ),
            (Reference("item", "items", "item"), Reference("input", "items", "item")),
        ),
        Table(
            "trade",
            "Bilateral trade flows (optional).",
            ("item", "exporter", "importer", "year"),
            (
                Column("item", "str", required=True, description="item id"),
                Column("exporter", "str", required=True, description="exporting country iso3"),
                Column("importer", "str", required=True, description="importing country iso3"),
                Column("year", "int", required=True, description="year", minimum=1990, maximum=2100),
                Column("quantity", "float", "t", description="quantity in metric tons", minimum=0),
                Column("value", "float", "usd_k", description="value in thousand current US dollars", minimum=0),
                Column("hs_codes", "str", description="HS-6 codes summed into this row, `;`-separated"),
                _src(),
            ),
            (
                Reference("item", "items", "item"),
                Reference("exporter", "countries", "iso3"),
                Reference("importer", "countries", "iso3"),
            ),
            required_table=False,
        ),
        Table(
            "firms",
            "Firms named as producers or owners (optional).",
            ("firm",),
            (
                Column("firm", "str", required=True, description="firm id, snake_case"),
                Column("name", "str", required=True, description="legal or common name"),
                Column("country", "str", required=True, description="headquarters country iso3"),
                _src(required=False),
                _note(),
            ),
            (Reference("country", "countries", "iso3"),),
            required_table=False,
        ),
        Table(
            "facilities",
            "Production sites (optional, finer grain than countries).",
            ("facility",),
            (
                Column("facility", "str", required=True, description="facility id"),
                Column("name", "str", required=True, description="site name"),
                Column("firm", "str", description="owner firm id"),
                Column("item", "str", description="main item made there"),
                Column("country", "str", required=True, description="country iso3"),
                Column("lat", "float", "deg", minimum=-90, maximum=90, description="latitude"),
                Column("lon", "float", "deg", minimum=-180, maximum=180, description="longitude"),
                Column("capacity", "float", description="capacity, in `unit`", minimum=0),
                Column("unit", "str", description="unit of capacity", choices=tuple(UNITS)),
                _src(),
                _note(),
            ),
            (
                Reference("firm", "firms", "firm"),
                Reference("item", "items", "item"),
                Reference("country", "countries", "iso3"),
            ),
            required_table=False,
        ),
        Table(
            "ports",
            "Main ports per country (NGA World Port Index).",
            ("port",),
            (
                Column("port", "str", required=True, description="port id, `wpi<number>`"),
                Column("name", "str", required=True, description="port name"),
                Column("iso3", "str", required=True, description="country iso3"),
                Column("lat", "float", "deg", required=True, minimum=-90, maximum=90, description="latitude"),
                Column("lon", "float", "deg", required=True, minimum=-180, maximum=180, description="longitude"),
                Column("unlocode", "str", description="UN/LOCODE"),
                Column("harbor_size", "str", description="WPI harbour size"),
                Column("rank", "int", description="1 = the country's main port for lanes; 2.. alternates", minimum=1),
                _src(),
                _note(),
            ),
            (Reference("iso3", "countries", "iso3"),),
            required_table=False,
        ),
        Table(
            "chokepoints",
            "Maritime chokepoints.",
            ("chokepoint",),
            (
                Column("chokepoint", "str", required=True, description="chokepoint id, e.g. `hormuz`"),
                Column("name", "str", required=True, description="name"),
                Column("type", "str", description="strait, canal, channel or cape_route", choices=("strait", "canal", "channel", "cape_route")),
                Column("lat", "float", "deg", required=True, minimum=-90, maximum=90, description="approximate latitude"),
                Column("lon", "float", "deg", required=True, minimum=-180, maximum=180, description="approximate longitude"),
                Column("connects", "str", description="water bodies connected"),
                Column("bordering_iso3", "str", description="bordering states, `;`-separated"),
                Column("searoute_passage", "str", description="name of the passage in searoute, where it has one"),
                _src(),
            ),
            required_table=False,
        ),
        Table(
            "stocks",
            "Inventories and strategic stockpiles (optional).",
            ("holder", "item"),
            (
                Column("holder", "str", required=True, description="country iso3, group id or firm id"),
                Column("item", "str", required=True, description="item id"),
                Column("days_of_cover", "float", "days", description="days of normal use covered", minimum=0),
                Column("quantity", "float", description="quantity held, in the item's unit", minimum=0),
                _src(),
                _note(),
            ),
            (Reference("item", "items", "item"),),
            required_table=False,
        ),
        Table(
            "dynamics",
            "How each item behaves in a disruption: demand outside the AI chain, inventories, spare capacity, "
            "ramp-up, substitution (optional; the stress model's parameters, each cited with a range).",
            ("item", "parameter", "client", "holder"),
            (
                Column("item", "str", required=True, description="item id"),
                Column("parameter", "str", required=True, choices=DYNAMICS_PARAMETERS,
                       description="which parameter (see docs/atlas.md, 'Dynamics')"),
                Column("client", "str", description="client item whose stock of `item` this is (blank: every client)"),
                Column("holder", "str", description="country iso3 where the holder sits (blank: everywhere)"),
                Column("value", "float", required=True, description="central value (fractions 0..1, days, years)", minimum=0),
                Column("low", "float", description="low end of the range (blank: the value)", minimum=0),
                Column("high", "float", description="high end of the range (blank: the value)", minimum=0),
                _src(),
                _note(),
            ),
            (Reference("item", "items", "item"), Reference("client", "items", "item"),
             Reference("holder", "countries", "iso3")),
            required_table=False,
        ),
        Table(
            "power_mix",
            "Where each country's electricity comes from, for the power drawn by fabs and data centres (optional).",
            ("country",),
            (
                Column("country", "str", required=True, description="country iso3"),
                Column("year", "int", description="year of the figures", minimum=1990, maximum=2100),
                Column("gas_share", "float", "fraction", required=True, minimum=0, maximum=1,
                       description="share of electricity generated from natural gas"),
                Column("gas_share_low", "float", "fraction", minimum=0, maximum=1, description="low end of the range"),
                Column("gas_share_high", "float", "fraction", minimum=0, maximum=1, description="high end of the range"),
                Column("lng_share", "float", "fraction", minimum=0, maximum=1,
                       description="share of that gas imported as LNG (blank: 0)"),
                Column("lng_share_low", "float", "fraction", minimum=0, maximum=1, description="low end of the range"),
                Column("lng_share_high", "float", "fraction", minimum=0, maximum=1, description="high end of the range"),
                Column("storage_days", "float", "days", minimum=0,
                       description="days of gas-fired generation held in LNG tanks or gas storage"),
                Column("storage_days_low", "float", "days", minimum=0, description="low end of the range"),
                Column("storage_days_high", "float", "days", minimum=0, description="high end of the range"),
                Column("fab_share", "float", "fraction", minimum=0, maximum=1,
                       description="wafer fabs' share of the country's electricity use, where known"),
                _src(),
                _note(),
            ),
            (Reference("country", "countries", "iso3"),),
            required_table=False,
        ),
        Table(
            "sourcing",
            "Known supply relations (foundry to chip designer, HBM maker to accelerator maker) that override the "
            "fitted country shares (optional).",
            ("item", "client_item", "client", "supplier"),
            (
                Column("item", "str", required=True, description="the input supplied"),
                Column("client_item", "str", required=True, description="the item its buyer makes"),
                Column("client", "str", description="buyer's country iso3 (blank: every buyer of `client_item`)"),
                Column("supplier", "str", required=True, description="supplying country iso3 (or `ROW`)"),
                Column("share", "float", "percent", required=True, minimum=0, maximum=100,
                       description="share of the buyer's need of `item` from this supplier, 0..100"),
                _src(),
                _note(),
            ),
            (Reference("item", "items", "item"), Reference("client_item", "items", "item"),
             Reference("client", "countries", "iso3"),
             Reference("supplier", "countries", "iso3", allow=(ROW_PRODUCER,))),
            required_table=False,
        ),
        Table(
            "restrictions",
            "Export restrictions used as leverage: a dated record (optional).",
            ("country", "item", "announced"),
            (
                Column("country", "str", required=True, description="restricting country iso3"),
                Column("item", "str", required=True, description="item restricted"),
                Column("announced", "date", required=True, description="date announced"),
                Column("effective", "date", description="date in force"),
                Column("ended", "date", description="date lifted or suspended (blank: in force)"),
                Column("kind", "str", description="licensing, ban, quota or ban_to_country",
                       choices=("licensing", "ban", "quota", "ban_to_country")),
                Column("targets", "str", description="countries targeted, `;`-separated (blank: all)"),
                _src(),
                _note(),
            ),
            (Reference("country", "countries", "iso3"), Reference("item", "items", "item")),
            required_table=False,
        ),
    )
}
"""All Atlas tables, by name, in a stable order."""

TABLE_ORDER: tuple[str, ...] = tuple(SCHEMA)


def schema_markdown() -> str:
    """Render the schema as Markdown (used for ``docs/schema.md``).

    Examples
    --------
    >>> "| item |" in schema_markdown()
    True
    """
    out = ["# Atlas schema", "", "Generated from `paxsilica.atlas.schema`; do not edit by hand.", ""]
    for t in SCHEMA.values():
        out += [f"## `{t.name}`", "", t.description, "", f"Key: {', '.join(t.key)}. "
                + ("Required table." if t.required_table else "Optional table."), ""]
        out += ["| column | dtype | unit | required | description |", "|---|---|---|---|---|"]
        for c in t.columns:
            desc = c.description
            if c.choices and len(c.choices) <= 12:
                desc += f" (one of: {', '.join(c.choices)})"
            out.append(f"| {c.name} | {c.dtype} | {c.unit or ''} | {'yes' if c.required else ''} | {desc} |")
        if t.references:
            out.append("")
            for r in t.references:
                cond = f" where {r.when[0]} = {r.when[1]}" if r.when else ""
                out.append(f"- `{r.column}` refers to `{r.table}.{r.target}`{cond}")
        out.append("")
    out += ["## Stages", ""] + [f"- `{k}`: {v}" for k, v in STAGES.items()]
    out += ["", "## Units", ""] + [f"- `{k}`: {v}" for k, v in UNITS.items()]
    return "\n".join(out) + "\n"


MAX_WHOLE = 2**53
"""Largest magnitude of a whole-number field (exact in a float64), as in :mod:`paxsilica.atlas.parse`."""


@cache
def row_model(table: str):  # -> type[pydantic.BaseModel]
    """A pydantic model of one row of ``table``, derived from the schema (for the REST API's 422s).

    Numbers must be finite and within the column's minimum and maximum, whole numbers within
    ±2^53, choices one of the allowed values, dates real ISO dates; required columns must be present.
    Unknown fields are refused. The error's ``loc`` is the column name.

    Examples
    --------
    >>> Share = row_model("production")
    >>> Share(item="ga", producer="CHN", producer_type="country", year=2023, share=98.0, source="usgs").share
    98.0
    >>> import pydantic
    >>> try:
    ...     Share(item="ga", producer="CHN", producer_type="country", year=2023, share=float("nan"),
    ...           source="usgs")
    ... except pydantic.ValidationError as e:
    ...     [(err["loc"], err["type"]) for err in e.errors()]
    [(('share',), 'finite_number')]
    """
    import datetime as dt
    from typing import Annotated, Literal

    import pydantic

    name = table

    fields: dict[str, tuple] = {}
    for c in SCHEMA[name].columns:
        bounds = {"ge": c.minimum, "le": c.maximum}
        if c.dtype == "float":
            typ = Annotated[float, pydantic.Field(allow_inf_nan=False, **bounds,
                                                  description=c.description)]
        elif c.dtype == "int":
            lo = -MAX_WHOLE if c.minimum is None else c.minimum
            hi = MAX_WHOLE if c.maximum is None else c.maximum
            typ = Annotated[int, pydantic.Field(ge=lo, le=hi, description=c.description)]
        elif c.dtype == "bool":
            typ = bool
        elif c.dtype == "date":
            typ = dt.date
        elif c.choices:
            typ = Literal[c.choices]  # type: ignore[valid-type]
        else:
            typ = Annotated[str, pydantic.Field(min_length=1, description=c.description)]
        fields[c.name] = (typ, ...) if c.required else (typ | None, None)
    config = pydantic.ConfigDict(extra="forbid", strict=False)
    return pydantic.create_model(f"{name.title().replace('_', '')}Row", __config__=config, **fields)
