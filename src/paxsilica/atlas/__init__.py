"""The Atlas: the supply-network data model of paxsilica.

Examples
--------
>>> from paxsilica.atlas import bundled_atlas, validate
>>> atlas = bundled_atlas()
>>> validate(atlas)
[]
"""

from .io import (
    BUNDLED,
    FORMATS,
    bundled_atlas,
    bundled_path,
    read_atlas,
    read_csv_dir,
    read_parquet_dir,
    read_xlsx,
    to_networkx,
    write_atlas,
)
from .model import Atlas, Origin
from .parse import empty_table, parse_table
from .schema import SCHEMA, STAGE_ORDER, STAGES, TABLE_ORDER, UNITS, schema_markdown
from .validate import production_level, validate
from .views import country_production

__all__ = [
    "BUNDLED",
    "FORMATS",
    "SCHEMA",
    "STAGES",
    "STAGE_ORDER",
    "TABLE_ORDER",
    "UNITS",
    "Atlas",
    "Origin",
    "bundled_atlas",
    "bundled_path",
    "country_production",
    "empty_table",
    "parse_table",
    "production_level",
    "read_atlas",
    "read_csv_dir",
    "read_parquet_dir",
    "read_xlsx",
    "schema_markdown",
    "to_networkx",
    "validate",
    "write_atlas",
]
