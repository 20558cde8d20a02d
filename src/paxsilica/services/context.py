"""The service context: which atlas, for which organisation, with which caches.

Minimal version written for the stress services (``ctx.atlas()``, ``ctx.cache(name)``, ``ctx.org``);
the full one (atlas validation, reading atlases by path) is the service layer's main part.

Examples
--------
>>> from paxsilica.network import tiny_atlas
>>> store = ServiceStore()
>>> a = ServiceContext(source=tiny_atlas(), org="ministry", validate=False, store=store)
>>> a.cache("plans")["x"] = 1
>>> a.with_org("ministry").cache("plans"), a.with_org("port").cache("plans")
({'x': 1}, {})
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..atlas import Atlas, bundled_atlas, read_atlas

__all__ = ["ServiceContext", "ServiceStore"]


@dataclass
class ServiceStore:
    """What a shell keeps between calls (one per process, server or test): atlases read by path,
    atlas versions (hashed once per atlas object) and service caches by (atlas version, organisation,
    name)."""

    atlases: dict[Path, Atlas] = field(default_factory=dict)
    caches: dict[tuple[str, str | None, str], dict[Any, Any]] = field(default_factory=dict)
    _versions: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def version(self, atlas: Atlas) -> str:
        with self._lock:
            v = self._versions.get(atlas)
            if v is None:
                v = self._versions[atlas] = atlas.version
            return v

    def read(self, path: Path) -> Atlas:
        key = path.resolve()
        with self._lock:
            if key not in self.atlases:
                self.atlases[key] = read_atlas(key)
            return self.atlases[key]

    def cache(self, version: str, org: str | None, name: str) -> dict[Any, Any]:
        with self._lock:
            return self.caches.setdefault((version, org, name), {})


@dataclass(frozen=True)
class ServiceContext:
    """Everything a service needs besides its request: the atlas, the organisation, the caches.

    ``source`` (an atlas given directly) wins over ``atlas_path``; neither: the bundled atlas.
    """

    atlas_path: Path | None = None
    source: Atlas | None = None
    org: str | None = None
    validate: bool = True
    store: ServiceStore = field(default_factory=ServiceStore)

    def atlas(self) -> Atlas:
        """The current atlas."""
        if self.source is not None:
            return self.source
        if self.atlas_path is None:
            return bundled_atlas()
        return self.store.read(Path(self.atlas_path))

    def atlas_version(self) -> str:
        return self.store.version(self.atlas())

    def cache(self, name: str) -> dict[Any, Any]:
        """A dict kept in the store for this (atlas version, organisation) and ``name``."""
        return self.store.cache(self.atlas_version(), self.org, name)

    def with_org(self, org: str | None) -> ServiceContext:
        return replace(self, org=org)
