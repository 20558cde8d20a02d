"""The one conversion of paxsilica's results to JSON-able data (every JSON writer uses it).

JSON has no NaN and no infinity, and numpy or pandas scalars are not JSON types. The rule, decided
once here:

* ``None``, ``NaN``, ``pd.NA`` and ``NaT`` (a missing value) become ``null``;
* ``+inf`` becomes the word ``"unlimited"`` and ``-inf`` ``"-unlimited"``: in paxsilica an infinite
  number is an unbounded duration or quantity (a time-to-survive that never runs out), and the
  word is what the tables print too, so a reader of the JSON never mistakes it for "no data";
* numpy scalars become Python numbers, numpy arrays and tuples lists, sets sorted lists;
* a DataFrame becomes a list of records, a Series a dict, a dataclass the dict of its fields,
  an object with ``to_record()`` that record; dates and paths their ISO / text form;
* dict keys become strings.

:func:`dumps` writes the result with ``allow_nan=False``, so anything the rule missed fails
loudly instead of producing invalid JSON.

Examples
--------
>>> import math, numpy as np, pandas as pd
>>> to_jsonable({"tts_days": math.inf, "loss": np.float64(0.25), "note": None, "x": math.nan})
{'tts_days': 'unlimited', 'loss': 0.25, 'note': None, 'x': None}
>>> to_jsonable(pd.DataFrame({"a": [1, None], "b": ["x", None]}))
[{'a': 1.0, 'b': 'x'}, {'a': None, 'b': None}]
>>> dumps([np.int64(3), -math.inf])
'[3, "-unlimited"]'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["UNLIMITED", "dumps", "to_jsonable", "records"]

UNLIMITED = "unlimited"
"""How ``+inf`` is written (``-inf``: ``"-unlimited"``)."""


def _number(v: float) -> float | str | None:
    if math.isnan(v):
        return None
    if math.isinf(v):
        return UNLIMITED if v > 0 else f"-{UNLIMITED}"
    return float(v)  # np.float64 is a float subclass: made plain


def to_jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON data under the module's rule (missing → null, ±inf → "±unlimited").

    Parameters
    ----------
    obj : object
        Scalars (Python, numpy, pandas), containers, DataFrames and Series, dataclasses, objects
        with a ``to_record()`` method.

    Returns
    -------
    object
        Built from ``dict``, ``list``, ``str``, ``int``, ``float``, ``bool`` and ``None`` only.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class P:
    ...     name: str
    ...     days: float
    >>> to_jsonable([P("a", float("inf")), (1, 2), {3: np.bool_(True)}])
    [{'name': 'a', 'days': 'unlimited'}, [1, 2], {'3': True}]
    """
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return _number(obj)
    if isinstance(obj, np.generic):
        if isinstance(obj, np.datetime64 | np.timedelta64):
            return to_jsonable(pd.Timestamp(obj) if isinstance(obj, np.datetime64) else pd.Timedelta(obj))
        return to_jsonable(obj.item())
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, pd.DataFrame):
        return records(obj)
    if isinstance(obj, pd.Series):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray | pd.Index):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, set | frozenset):
        return [to_jsonable(v) for v in sorted(obj, key=str)]
    if hasattr(obj, "to_record") and callable(obj.to_record):
        return to_jsonable(obj.to_record())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dt.datetime | dt.date | dt.time | pd.Timestamp):
        return obj.isoformat()
    if isinstance(obj, pd.Timedelta | dt.timedelta):
        return str(obj)
    if isinstance(obj, PurePath):
        return str(obj)
    return str(obj)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``df`` as JSON-able dicts (column order kept, missing cells ``None``).

    Examples
    --------
    >>> records(pd.DataFrame({"item": ["gallium"], "tts_days": [float("inf")]}))
    [{'item': 'gallium', 'tts_days': 'unlimited'}]
    """
    plain = df.astype(object).where(df.notna(), None)
    cols = [str(c) for c in plain.columns]
    return [{c: to_jsonable(v) for c, v in zip(cols, row, strict=True)}
            for row in plain.itertuples(index=False, name=None)]


def dumps(obj: Any, *, indent: int | None = None, compact: bool = False) -> str:
    """``obj`` as JSON text (UTF-8 kept readable; ``compact``: no spaces, for large files).

    Examples
    --------
    >>> dumps({"a": float("nan")}, compact=True)
    '{"a":null}'
    """
    return json.dumps(to_jsonable(obj), ensure_ascii=False, allow_nan=False, indent=indent,
                      separators=(",", ":") if compact else None)
