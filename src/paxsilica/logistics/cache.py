"""On-disk cache of sea routes.

One JSON file per (searoute version, chokepoint attachment, closure set); inside, routes keyed by
the origin and destination port coordinates. Days are derived from distances at read time, so
the speed and port time need not be part of the key: a run at another speed reuses the routes.

Location: ``$PAXSILICA_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/paxsilica/lanes``, else
``~/.cache/paxsilica/lanes``. Writes go to a temporary file in the same folder, then
``os.replace`` (atomic on POSIX and Windows); a folder that cannot be written is skipped
silently (the routes are then recomputed next time).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

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
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT_VERSION:
                return {}
            return {k: Route.from_json(v) for k, v in data.get("routes", {}).items()}
        except (OSError, ValueError, KeyError, TypeError):
            return {}  # a damaged cache file is recomputed

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
            merged = {**self._load(), **self.routes}
            payload = {"format": FORMAT_VERSION, "parts": self.parts,
                       "routes": {k: v.to_json() for k, v in merged.items()}}
            fd, tmp = tempfile.mkstemp(prefix=".routes-", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(payload, f, separators=(",", ":"))
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _MEMORY[self._mem_key] = merged
            self.routes = merged
            self._dirty = False
        except OSError:
            return  # read-only or full disk: keep going without the cache


def clear_memory() -> None:
    """Forget routes held in memory (the files stay); used by tests and benchmarks."""
    _MEMORY.clear()


__all__ = ["FORMAT_VERSION", "RouteCache", "cache_dir", "clear_memory", "file_key", "pair_key", "point_key"]
