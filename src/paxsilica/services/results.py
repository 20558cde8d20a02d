"""What every service returns: tables with a title and notes, that turn themselves into records.

Examples
--------
>>> import pandas as pd
>>> r = TableResult(pd.DataFrame({"item": ["gallium"], "tts_days": [float("inf")]}), title="t",
...                 notes=("a note",))
>>> r.to_record()
{'title': 't', 'notes': ['a note'], 'rows': [{'item': 'gallium', 'tts_days': 'unlimited'}]}
>>> list(r.tables())
['table']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..serialize import records, to_jsonable

__all__ = ["TableResult"]


@dataclass(frozen=True)
class TableResult:
    """A main table, optional further named tables, a title and notes (never printed here).

    Attributes
    ----------
    table : DataFrame
        The main result, every column (shells choose what to show).
    title : str
        What the table is, in words.
    notes : tuple of str
        Assumptions and caveats the computation reports.
    kind : str
        Which listing this is, when one request can give several (e.g. ``"stages"``).
    extra : mapping name -> DataFrame
        Further tables that belong to the answer (e.g. the what-if's bottleneck losses).
    meta : mapping
        Parameters the answer was computed with (JSON-able).
    """

    table: pd.DataFrame
    title: str = ""
    notes: tuple[str, ...] = ()
    kind: str = "table"
    extra: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name, the main one first as ``"table"``."""
        return {"table": self.table, **dict(self.extra)}

    def to_record(self) -> dict[str, Any]:
        """The answer as plain JSON data (see :mod:`paxsilica.serialize` for inf/NaN/None)."""
        rec: dict[str, Any] = {"title": self.title, "notes": list(self.notes), "rows": records(self.table)}
        if self.kind != "table":
            rec["kind"] = self.kind
        for name, df in self.extra.items():
            rec[name] = records(df)
        if self.meta:
            rec["meta"] = to_jsonable(dict(self.meta))
        return rec
