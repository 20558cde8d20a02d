"""On-disk cache of sea routes.

One JSON file per (searoute version, chokepoint attachment, closure set); inside, routes keyed by
the origin and destination port coordinates. Days are derived from distances at read time, so
the speed and port time need not be part of the key: a run at another speed reuses the routes.

Location: ``$PAXSILICA_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/paxsilica/lanes``, else
``~/.cache/paxsilica/lanes``. Writes go through :func:`paxsilica.fsutil.atomic_write` (a
temporary sibling, fsync, rename), so a killed writer leaves the old file or the new one; its
orphaned temporary files (``.routes-*.tmp``) are removed on the next save. A folder that cannot be
written is skipped silently (the routes are then recomputed next time), and a file that is not a
cache of this format (damaged, ``[]``, another version) is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..fsutil import atomic_write
from .network import Route

FORMAT_VERSION = 7
"""Bumped whenever the route computation changes, so that old files are not reused."""

_MEMORY: dict[str, dict[str, Route]] = {}


def cache_dir() -> Path:
    """The default cache folder (see the module docstring).

    Examples
    --------
    >>> cache_dir().name
    'lanes'
    """
    env = os.environ.get("PAXSILICA_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "lanes"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "paxsilica" / "lanes"


def point_key(p: tuple[float, float]) -> str:
    """Text key of a (lon, lat) point, rounded to 1e-5 degree (about 1 m).

    Examples
    --------
    >>> point_key((4.483333, 51.9))
    '4.48333,51.90000'
    """
    return f"{p[0]:.5f},{p[1]:.5f}"


def pair_key(o: tuple[float, float], d: tuple[float, float]) -> str:
    return point_key(o) + "|" + point_key(d)


def file_key(parts: Mapping) -> str:
    """Short hash naming a cache file for the given key parts."""
    text = json.dumps({"format": FORMAT_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class RouteCache:
    """Routes for one closure set, loaded from and saved to one file.

    Parameters
    ----------
    directory : Path or None
        Folder of cache files; ``None`` keeps the routes in memory only.
    parts : mapping
        Everything the routes depend on (searoute version, chokepoints, radii, closure set).
    """

    def __init__(self, directory: Path | None, parts: Mapping) -> None:
        self.key = file_key(parts)
        self.parts = dict(parts)
        self.path = None if directory is None else Path(directory) / f"routes-{self.key}.json"
        mem_key = str(self.path) if self.path else f"mem:{self.key}"
        self._mem_key = mem_key
        if mem_key not in _MEMORY:
            _MEMORY[mem_key] = self._load()
        self.routes = _MEMORY[mem_key]
        self._dirty = False

    def _load(self) -> dict[str, Route]:
        return load_routes(self.path) if self.path is not None else {}

    def get(self, o: tuple[float, float], d: tuple[float, float]) -> Route | None:
        return self.routes.get(pair_key(o, d))

    def put_many(self, items: Iterable[tuple[tuple[float, float], tuple[float, float], Route]]) -> None:
        for o, d, r in items:
            self.routes[pair_key(o, d)] = r
            self._dirty = True

    def save(self) -> None:
        """Write the file atomically (merging what another process may have written meanwhile)."""
        if self.path is None or not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            clean_orphans(self.path.parent)
            merged = {**self._load(), **self.routes}
            payload = {"format": FORMAT_VERSION, "parts": self.parts,
                       "routes": {k: v.to_json() for k, v in merged.items()}}
            atomic_write(self.path, json.dumps(payload, separators=(",", ":"), default=str))
            _MEMORY[self._mem_key] = merged
            self.routes = merged
            self._dirty = False
        except OSError:
            return  # read-only or full disk: keep going without the cache


def load_routes(path: Path) -> dict[str, Route]:
    """The routes in the cache file ``path``; ``{}`` when it is missing, damaged or not of this format.

    A cache is only ever a speed-up: anything unexpected inside (``[]``, a truncated file, routes of
    the wrong shape, a folder at the path) means recomputing, never an error.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "routes-x.json"
    >>> _ = p.write_text("[]")
    >>> load_routes(p)
    {}
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
        return {}
    routes = data.get("routes")
    if not isinstance(routes, dict):
        return {}
    try:
        out = {str(k): Route.from_json(v) for k, v in routes.items()}
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return {}
    if any(not r.cut and not (0.0 <= r.distance_nm < 1e6) for r in out.values()):
        return {}  # a distance no sea lane has (negative, infinite, NaN): not our file
    return out


ORPHAN_SECONDS = 60.0
"""A ``.routes-*.tmp`` file untouched this long was left by a killed writer (a live one is younger)."""


def clean_orphans(folder: Path, age: float = ORPHAN_SECONDS) -> list[str]:
    """Remove temporary files of killed cache writes in ``folder``; the names removed.

    Examples
    --------
    >>> import tempfile, pathlib, os
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / ".routes-ab.json.x1.tmp").write_text("{"); os.utime(d / ".routes-ab.json.x1.tmp", (0, 0))
    1
    >>> clean_orphans(d)
    ['.routes-ab.json.x1.tmp']
    """
    removed = []
    now = time.time()
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for e in entries:
        if not (e.name.startswith(".routes-") and e.name.endswith(".tmp")):
            continue
        try:
            if e.is_file() and not e.is_symlink() and now - e.lstat().st_mtime > age:
                e.unlink()
                removed.append(e.name)
        except OSError:
            continue
    return removed


def clear_memory() -> None:
    """Forget routes held in memory (the files stay); used by tests and benchmarks."""
    _MEMORY.clear()


__all__ = ["FORMAT_VERSION", "RouteCache", "cache_dir", "clean_orphans", "clear_memory", "file_key",
           "load_routes", "pair_key", "point_key"]
