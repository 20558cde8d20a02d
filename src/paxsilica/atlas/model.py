"""The Atlas: one typed pandas DataFrame per table, with its schema kept as data."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pandas as pd

from ..errors import NotFoundError, Problem
from .parse import empty_table, parse_table
from .schema import SCHEMA, STAGE_ORDER, TABLE_ORDER


@dataclass(frozen=True)
class Origin:
    """Where a table came from, so problems can name the file and line."""

    file: str
    row_base: int = 2


@dataclass(frozen=True, eq=False)
class Atlas:
    """The supply-network atlas: typed tables, treated as immutable.

    Build one with :meth:`from_frames`, :func:`paxsilica.atlas.read_atlas` or
    :func:`paxsilica.atlas.bundled_atlas`; derive a changed copy with :meth:`replace`.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Every table of :data:`~paxsilica.atlas.schema.SCHEMA`, typed (use :meth:`from_frames`).
    origins : dict of str to Origin
        File and first data line of each table, for messages.
    load_problems : tuple of Problem
        Cells that could not be parsed when the atlas was read; :func:`validate` reports them.
    name : str
        A label, e.g. ``"ai-stack"`` or the folder read.

    Examples
    --------
    >>> import pandas as pd
    >>> a = Atlas.from_frames({"items": pd.DataFrame({"item": ["gallium"], "name": ["Gallium"],
    ...                        "stage": ["refined_material"], "unit": ["t"]})})
    >>> a["items"].loc[0, "item"], len(a["production"])
    ('gallium', 0)
    """

    tables: Mapping[str, pd.DataFrame]
    origins: Mapping[str, Origin] = field(default_factory=dict)
    load_problems: tuple[Problem, ...] = ()
    name: str = "atlas"

    @classmethod
    def from_frames(
        cls,
        frames: Mapping[str, pd.DataFrame],
        *,
        origins: Mapping[str, Origin] | None = None,
        name: str = "atlas",
        extra_problems: tuple[Problem, ...] = (),
    ) -> Atlas:
        """Build an Atlas from raw or typed DataFrames, coercing each to its schema.

        Tables not given are empty. Unknown table names raise :class:`NotFoundError`.
        Cells that cannot be converted are recorded in ``load_problems``.
        """
        unknown = sorted(set(frames) - set(SCHEMA))
        if unknown:
            raise NotFoundError(
                f"unknown atlas table(s) {', '.join(unknown)}; known: {', '.join(TABLE_ORDER)}"
            )
        origins = dict(origins or {})
        tables: dict[str, pd.DataFrame] = {}
        problems: list[Problem] = list(extra_problems)
        for tname in TABLE_ORDER:
            origin = origins.setdefault(tname, Origin(f"{tname}.csv"))
            if tname in frames and frames[tname] is not None:
                df, found = parse_table(tname, frames[tname], file=origin.file, row_base=origin.row_base)
                problems += found
            else:
                df = empty_table(tname)
            tables[tname] = df
        return cls(tables, origins, tuple(problems), name)

    def __getitem__(self, table: str) -> pd.DataFrame:
        try:
            return self.tables[table]
        except KeyError:
            raise NotFoundError(
                f"no table {table!r}; tables: {', '.join(TABLE_ORDER)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(TABLE_ORDER)

    def replace(self, **tables: pd.DataFrame) -> Atlas:
        """A new Atlas with the given tables replaced (coerced to the schema).

        Examples
        --------
        >>> a = Atlas.from_frames({})
        >>> b = a.replace(stocks=pd.DataFrame({"holder": ["JPN"], "item": ["helium"]}))
        >>> len(a["stocks"]), len(b["stocks"])
        (0, 1)
        """
        frames = dict(self.tables)
        frames.update(tables)
        return Atlas.from_frames(frames, origins=self.origins, name=self.name,
                                 extra_problems=tuple(p for p in self.load_problems))

    def file_of(self, table: str) -> Origin:
        """Origin (file name, first data line) of a table."""
        return self.origins.get(table, Origin(f"{table}.csv"))

    @property
    def version(self) -> str:
        """Content hash of the atlas (12 hex digits): equal data give equal versions.

        Rows are sorted by key and the columns put in schema order first, so the hash does not depend
        on row order or on the file format the atlas was read from. Computed once per Atlas object
        (a second of hashing for the bundled atlas; :mod:`paxsilica.atlas.memo`).
        """
        from .memo import memo_view

        return memo_view(self, "version", None, self._digest, tables=TABLE_ORDER)[:12]

    def _digest(self) -> str:
        h = hashlib.sha256()
        for tname in TABLE_ORDER:
            df = self.tables[tname]
            table = SCHEMA[tname]
            cols = table.column_names + sorted(c for c in df.columns if c not in table.column_names)
            df = df[cols]
            key = [k for k in table.key if k in df.columns]
            if len(df) and key:
                df = df.sort_values(key, kind="mergesort", na_position="last")
            h.update(tname.encode())
            h.update(df.to_csv(index=False, lineterminator="\n", float_format="%.12g").encode())
        # a cell that could not be read is blank in the table; without this an atlas with an
        # unreadable cell would share the version (and cached validation) of one with a blank cell
        for p in sorted(self.load_problems, key=str):
            h.update(str(p).encode())
        return h.hexdigest()

    def summary(self) -> dict:
        """Counts per table and per stage, sources and version, as plain data.

        Examples
        --------
        >>> Atlas.from_frames({}).summary()["tables"]["items"]
        0
        """
        items = self.tables["items"]
        prod = self.tables["production"]
        stage_counts = items["stage"].value_counts() if len(items) else pd.Series(dtype="int64")
        per_stage = []
        for stage in STAGE_ORDER:
            stage_items = set(items.loc[items["stage"] == stage, "item"].dropna())
            rows = prod[prod["item"].isin(stage_items)]
            per_stage.append(
                {
                    "stage": stage,
                    "items": int(stage_counts.get(stage, 0)),
                    "items_with_production": int(rows["item"].nunique()),
                    "production_rows": len(rows),
                }
            )
        return {
            "name": self.name,
            "version": self.version,
            "tables": {t: len(self.tables[t]) for t in TABLE_ORDER},
            "stages": per_stage,
            "sources": self.tables["sources"][["source", "publisher", "title", "year"]].to_dict("records"),
        }
