"""A memo of pure derived views, one per Atlas object.

The briefing asks the same views of one atlas many times from many modules (country-level production
17 times, the lane table three times, the country knock-outs four times). :func:`memo_view` keeps each
result on the Atlas it was computed from: the memo is held in a :class:`weakref.WeakKeyDictionary`
keyed by the Atlas object itself, so it goes when the atlas goes, and a changed atlas — an
:class:`~paxsilica.atlas.Atlas` is immutable; :meth:`~paxsilica.atlas.Atlas.replace` returns a new object —
starts with an empty memo. It can never hand out a result computed for other data, because no result is
keyed by a name, a path or a version string: only by the very object it came from, and (as a second
guard) by the identity of every table the view reads.

Results are returned as copies where they are mutable (DataFrames, Series, dicts, lists), so a caller that
edits its result cannot change what the next caller gets. A forked process (the briefing's side
processes) inherits the memo as it stands at the fork.

Examples
--------
>>> import pandas as pd
>>> from paxsilica.atlas import Atlas
>>> a = Atlas.from_frames({"items": pd.DataFrame({"item": ["ore"], "name": ["Ore"],
...                                               "stage": ["raw_material"], "unit": ["t"]})})
>>> calls = []
>>> def n_items(atlas):
...     calls.append(1)
...     return len(atlas["items"])
>>> memo_view(a, "n_items", (), lambda: n_items(a), tables=("items",)), memo_view(a, "n_items", (), lambda: n_items(a), tables=("items",))
(1, 1)
>>> len(calls)
1
>>> b = a.replace(items=pd.DataFrame({"item": ["ore", "gas"], "name": ["Ore", "Gas"],
...     "stage": ["raw_material"] * 2, "unit": ["t"] * 2}))
>>> memo_view(b, "n_items", (), lambda: n_items(b), tables=("items",)), len(calls)
(2, 2)
"""

from __future__ import annotations

import copy
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

import pandas as pd

__all__ = ["MEMO_SIZE", "clear_memo", "memo_view"]

T = TypeVar("T")

MEMO_SIZE = 128
"""Results kept per atlas (least recently used first out): the briefing asks for about 40 distinct views."""

_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _new_lock() -> None:
    # a process forked while another thread held the lock gets a free one (the memo's dict is whole:
    # it is only changed under the lock, by steps that do not fork)
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock)


def _fresh(value: Any) -> Any:
    # a copy for what a caller could edit in place; immutable values (floats, str, tuples of them,
    # frozensets) are shared
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.copy()
    if isinstance(value, (dict, list, set)):
        return copy.deepcopy(value)
    return value


def memo_view(atlas: Any, name: str, key: Hashable, compute: Callable[[], T],
              tables: Iterable[str] = ()) -> T:
    """``compute()``, computed once per (atlas object, ``name``, ``key``) and then recalled.

    Parameters
    ----------
    atlas : Atlas
        The atlas the view is computed from (held weakly).
    name : str
        The view (e.g. ``"country_production"``).
    key : hashable
        The view's other arguments. An unhashable key (a list given by a caller) computes without the memo.
    compute : callable
        The pure computation; its errors are raised and nothing is kept.
    tables : iterable of str
        Tables the view reads: the entry is kept only while each is the same DataFrame object.

    Returns
    -------
    The result (a copy of a mutable one).
    """
    tabs = getattr(atlas, "tables", None)
    ident = tuple(id(tabs[t]) if tabs is not None and t in tabs else None for t in tables)
    full = (name, key, ident)
    try:
        hash(full)
        with _LOCK:  # the server computes views from several threads
            per = _MEMO.setdefault(atlas, OrderedDict())
            if full in per:
                per.move_to_end(full)
                return _fresh(per[full])
    except TypeError:  # not weak-referenceable, or an unhashable key: no memo
        return compute()
    value = compute()  # outside the lock: two threads may both compute a view once, never wait on each other
    with _LOCK:
        per[full] = value
        while len(per) > MEMO_SIZE:
            per.popitem(last=False)
    return _fresh(value)


def clear_memo(atlas: Any = None) -> None:
    """Forget the memo of ``atlas`` (default: of every atlas), e.g. to time a view from cold."""
    with _LOCK:
        if atlas is None:
            _MEMO.clear()
        else:
            _MEMO.pop(atlas, None)
