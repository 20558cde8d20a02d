"""The service context: which atlas, for which organisation, with which caches.

A shell (the CLI, the REST API, the dashboard) makes one :class:`ServiceStore` for its lifetime and
a :class:`ServiceContext` per command or request. The store holds what is worth keeping between
calls: atlases read from disk (by path), their versions and validation problems (by atlas version),
and the named caches of the services. Nothing is kept at module level: two stores never share
anything, and a test makes a fresh one.

A service cache (``ctx.cache("sites")``) is scoped to the pair (atlas version, organisation):
an edited atlas or another organisation never sees results computed for the first.

Examples
--------
>>> import pandas as pd
>>> from paxsilica.atlas import Atlas
>>> atlas = Atlas.from_frames({"items": pd.DataFrame({"item": ["ore"], "name": ["Ore"],
...                                                   "stage": ["raw_material"], "unit": ["t"]})})
>>> store = ServiceStore()
>>> a = ServiceContext(store=store, source=atlas, org="ministry", validate=False)
>>> a.cache("plans")["x"] = 1
>>> a.with_org("ministry").cache("plans"), a.with_org("port").cache("plans")
({'x': 1}, {})
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..atlas import Atlas, bundled_atlas, read_atlas
from ..atlas import validate as validate_atlas
from ..errors import Problem, ValidationError

__all__ = ["InvalidAtlasError", "ServiceContext", "ServiceStore", "validation_problems"]

MAX_PROBLEMS_SHOWN = 20
"""Problems named in the message of an :class:`InvalidAtlasError` (the rest are counted)."""


class InvalidAtlasError(ValidationError):
    """The atlas has validation problems and a computation was asked of it.

    Attributes
    ----------
    atlas : Atlas
    problems : list of Problem
        Every problem (the message names at most :data:`MAX_PROBLEMS_SHOWN`).
    """

    def __init__(self, atlas: Atlas, problems: Sequence[Problem]) -> None:
        self.atlas = atlas
        n = len(problems)
        more = f" (the first {MAX_PROBLEMS_SHOWN} below)" if n > MAX_PROBLEMS_SHOWN else ""
        super().__init__(list(problems)[:MAX_PROBLEMS_SHOWN],
                         f"atlas '{atlas.name}' has {n} problem(s){more}; fix them before computing "
                         "(`paxsilica atlas validate` lists them all)")
        self.problems = list(problems)


def validation_problems(atlas: Atlas, memo: dict[str, tuple[Problem, ...]], version: str | None = None,
                        validator: Callable[[Atlas], Sequence[Problem]] = validate_atlas
                        ) -> tuple[Problem, ...]:
    """The problems of ``atlas``, validated once per version: ``memo`` maps version -> problems.

    Examples
    --------
    >>> from paxsilica.atlas import bundled_atlas
    >>> memo = {}
    >>> validation_problems(bundled_atlas(), memo), len(memo)
    ((), 1)
    """
    version = atlas.version if version is None else version
    if version not in memo:
        memo[version] = tuple(validator(atlas))
    return memo[version]


@dataclass
class ServiceStore:
    """What a shell keeps between calls (one per process, server or test).

    Thread-safe for the dictionaries it hands out (a lock around their creation); the values in a
    service cache are the service's to guard.
    """

    atlases: dict[Path, Atlas] = field(default_factory=dict)
    """Atlases read from disk, by resolved path."""
    problems: dict[str, tuple[Problem, ...]] = field(default_factory=dict)
    """Validation problems by atlas version."""
    caches: dict[tuple[str, str | None, str], dict[Any, Any]] = field(default_factory=dict)
    """Service caches by (atlas version, organisation, name)."""
    validator: Callable[[Atlas], Sequence[Problem]] = validate_atlas
    _versions: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def version(self, atlas: Atlas) -> str:
        """The atlas's version, hashed once per atlas object (hashing a large atlas takes a while)."""
        with self._lock:
            v = self._versions.get(atlas)
            if v is None:
                v = self._versions[atlas] = atlas.version
            return v

    def read(self, path: Path) -> Atlas:
        """The atlas at ``path``, read once."""
        key = path.resolve()
        with self._lock:
            if key not in self.atlases:
                self.atlases[key] = read_atlas(key)
            return self.atlases[key]

    def problems_of(self, atlas: Atlas) -> tuple[Problem, ...]:
        """Validation problems of ``atlas``, once per version."""
        with self._lock:
            return validation_problems(atlas, self.problems, self.version(atlas), self.validator)

    def cache(self, version: str, org: str | None, name: str) -> dict[Any, Any]:
        """The cache ``name`` of (``version``, ``org``), created empty on first use."""
        with self._lock:
            return self.caches.setdefault((version, org, name), {})


@dataclass(frozen=True)
class ServiceContext:
    """Everything a service needs besides its request: the atlas, the organisation, the caches.

    Parameters
    ----------
    atlas_path : Path, optional
        Folder or workbook of the atlas; default the bundled ``ai-stack`` (or ``source``).
    source : Atlas, optional
        An atlas given directly (an upload, a test); wins over ``atlas_path``.
    org : str, optional
        Organisation the request is made for (caches are kept apart per organisation).
    validate : bool
        Refuse an atlas with validation problems (:class:`InvalidAtlasError`); ``False`` for the
        services that inspect or repair atlases.
    store : ServiceStore
        The shell's store (a fresh one by default).
    """

    atlas_path: Path | None = None
    source: Atlas | None = None
    org: str | None = None
    validate: bool = True
    store: ServiceStore = field(default_factory=ServiceStore)

    def atlas(self) -> Atlas:
        """The current atlas (validated once per version when :attr:`validate`)."""
        if self.source is not None:
            atlas = self.source
        elif self.atlas_path is None:
            atlas = bundled_atlas()
        else:
            atlas = self.store.read(Path(self.atlas_path))
        if self.validate:
            problems = self.store.problems_of(atlas)
            if problems:
                raise InvalidAtlasError(atlas, problems)
        return atlas

    def atlas_version(self) -> str:
        """Version of :meth:`atlas` (hashed once per atlas object)."""
        return self.store.version(self.atlas())

    def cache(self, name: str) -> dict[Any, Any]:
        """A dict kept in the store for this (atlas version, organisation) and ``name``.

        Examples
        --------
        >>> from paxsilica.atlas import Atlas
        >>> s = ServiceStore()
        >>> old, new = Atlas.from_frames({}), Atlas.from_frames({}, name="other")
        >>> ServiceContext(source=old, store=s, validate=False).cache("c")["k"] = 1
        >>> ServiceContext(source=new, store=s, validate=False).cache("c")  # same data: same version
        {'k': 1}
        """
        return self.store.cache(self.atlas_version(), self.org, name)

    def with_org(self, org: str | None) -> ServiceContext:
        """The same context for another organisation (same store)."""
        return replace(self, org=org)

    def unvalidated(self) -> ServiceContext:
        """The same context without the validity check (inspecting or repairing an atlas)."""
        return replace(self, validate=False)
