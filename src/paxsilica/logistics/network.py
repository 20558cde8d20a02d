"""Sea routes on searoute's maritime network, with chokepoints passed and closures.

searoute ships an offline maritime graph (about 9,700 nodes and 16,000 edges, weights in km);
some edges carry a ``passage`` name (``suez``, ``ormuz``, ``malacca``, ...). This module reads
that graph and never changes it: it copies the edges once into a sparse matrix, and a closure
is that matrix without the closed chokepoints' edges (one per closure set), so searoute's
module-level graph (and its ``restrictions``) stays as other callers expect it.

A chokepoint is matched to the graph in one of two ways, and the same edge set serves both to
*detect* that a route passes it and to *close* it, so the two always agree:

- by searoute passage name (atlas ``chokepoints.searoute_passage``): the edges whose
  ``passage`` attribute has that name;
- otherwise by proximity: the edges whose segment comes within the chokepoint's radius of its
  point (:data:`CLOSURE_RADIUS_KM`, default :data:`DEFAULT_RADIUS_KM`).

Routes are computed from searoute's graph node nearest each port (searoute's own snapping) by
Dijkstra on searoute's edge weights (scipy's compiled ``csgraph.dijkstra``, all origins at
once). Distances are the great-circle length of the node path in nautical miles (searoute's
method: the port-to-node approach legs are not added).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from paxsilica.errors import InputError

EARTH_RADIUS_KM = 6371.0088
KM_PER_NM = 1.852

DEFAULT_RADIUS_KM = 50.0
"""Proximity radius for chokepoints searoute has no passage name for."""

CLOSURE_RADIUS_KM: dict[str, float] = {
    # Our estimates: about half the width of the strait at the chokepoint point, so that the
    # edges crossing the narrows are caught and the approaches of ports outside are not.
    "singapore": 30.0,
    "taiwan_strait": 90.0,
    "luzon": 100.0,
    "korea_strait": 60.0,
    "tsugaru": 30.0,
    "bohai": 50.0,
    "lombok": 40.0,
    "makassar": 80.0,
    "balabac": 80.0,
    "ombai": 50.0,
    "torres": 60.0,
    "kerch": 30.0,
    "dover": 40.0,
    "oresund": 25.0,
    "great_belt": 25.0,
    "mozambique_channel": 150.0,
    "windward": 50.0,
    "mona": 50.0,
    "yucatan": 80.0,
}
"""Per-chokepoint proximity radius (km) where the default does not fit the strait's width."""

MIN_SEA_NODES = 10
"""Smallest part of the network, once a closure splits it, that still counts as a sea a port can
sail from (searoute 1.6: the Gulf behind Hormuz has 61 nodes, the Bohai Sea 14; the pockets a
proximity closure cuts around a port have 1-4)."""

ALWAYS_CLOSED: tuple[str, ...] = ("northwest",)
"""searoute passages closed in every scenario (searoute's own default: the Northwest Passage)."""


def searoute_version() -> str:
    """Version of the installed searoute package.

    Examples
    --------
    >>> searoute_version().count(".") >= 1
    True
    """
    import searoute

    return str(getattr(searoute, "__version__", "unknown"))


@lru_cache(maxsize=1)
def _graph():
    import searoute

    # setup_M is cached inside searoute; we only ever read it.
    return searoute.setup_M()


def haversine_km(lon1, lat1, lon2, lat2):
    """Great-circle distance in km (numpy-friendly).

    Examples
    --------
    >>> round(float(haversine_km(0, 0, 1, 0)), 1)
    111.2
    """
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


@lru_cache(maxsize=1)
def _node_array() -> np.ndarray:
    """(lon, lat) of searoute's graph nodes, in the graph's (stable) order."""
    return np.array(list(_graph().nodes), dtype=float)


def unwrap_lon(lon: np.ndarray) -> np.ndarray:
    """Unwrap longitudes across the antimeridian as searoute does (each point within 180 deg
    of the previous one).

    Examples
    --------
    >>> unwrap_lon(np.array([170.0, -175.0, -170.0])).tolist()
    [170.0, 185.0, 190.0]
    """
    lon = np.array(lon, dtype=float)
    for i in range(1, len(lon)):
        dx = lon[i - 1] - lon[i]
        if dx < -180:
            lon[i] -= 360.0
        elif dx > 180:
            lon[i] += 360.0
    return lon


@dataclass(frozen=True)
class Route:
    """One sea route between two points (normally two ports).

    Attributes
    ----------
    distance_nm : float
        Length in nautical miles; ``nan`` when ``cut``.
    chokepoints : tuple of str
        Chokepoint ids passed, in the order met from the origin.
    cut : bool
        True when no sea route remains (never a distance of 0).
    path : tuple of int
        Indices of searoute's graph nodes along the route (stable for one searoute version,
        which is part of every cache key); :attr:`coords` gives the line.
    """

    distance_nm: float
    chokepoints: tuple[str, ...] = ()
    cut: bool = False
    path: tuple[int, ...] = ()

    @property
    def coords(self) -> tuple[tuple[float, float], ...]:
        """The line as (lon, lat), longitudes unwrapped across the antimeridian."""
        if not self.path:
            return ()
        arr = _node_array()[list(self.path)]
        return tuple(zip(unwrap_lon(arr[:, 0]).tolist(), arr[:, 1].tolist(), strict=True))

    def to_json(self) -> dict:
        return {"d": None if self.cut else round(self.distance_nm, 4), "c": list(self.chokepoints),
                "x": self.cut, "p": list(self.path)}

    @classmethod
    def from_json(cls, d: Mapping) -> Route:
        return cls(float("nan") if d["x"] else float(d["d"]), tuple(d["c"]), bool(d["x"]),
                   tuple(d["p"]))


CUT = Route(float("nan"), (), True, ())


def _edge_key(u, v) -> tuple:
    return (u, v) if u <= v else (v, u)


def _point_segment_km(px: float, py: float, ax, ay, bx, by):
    """Distance (km) from point (px, py) to segments a-b, in a local equirectangular frame."""
    k = math.pi / 180 * EARTH_RADIUS_KM
    c = math.cos(math.radians(py))

    def wrap(d):
        return (d + 540.0) % 360.0 - 180.0

    x1, y1 = wrap(ax - px) * c * k, (ay - py) * k
    x2, y2 = wrap(bx - px) * c * k, (by - py) * k
    vx, vy = x2 - x1, y2 - y1
    ll = vx * vx + vy * vy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(ll > 0, -(x1 * vx + y1 * vy) / np.where(ll > 0, ll, 1), 0.0)
    t = np.clip(t, 0, 1)
    return np.hypot(x1 + t * vx, y1 + t * vy)


@dataclass
class SeaNetwork:
    """searoute's graph with the atlas chokepoints attached to its edges.

    Build with :func:`sea_network`. ``edges_of[chokepoint]`` holds the edge keys that detect
    and close the chokepoint.
    """

    chokepoints: pd.DataFrame
    edges_of: dict[str, frozenset] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)
    edge_chokepoints: dict[tuple, tuple[str, ...]] = field(default_factory=dict)

    _nodes: list = field(default_factory=list, repr=False)
    _index: dict = field(default_factory=dict, repr=False)
    _ui: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)
    _vi: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)
    _w: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    _edge_keys: list = field(default_factory=list, repr=False)
    _always_open: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)
    _matrices: dict = field(default_factory=dict, repr=False)
    _snaps: dict = field(default_factory=dict, repr=False)

    @property
    def graph(self):
        return _graph()

    def closed_edges(self, closed: Iterable[str]) -> frozenset:
        """Edge keys hidden by a closure set (unknown ids raise)."""
        out: set = set()
        for c in closed:
            if c not in self.edges_of:
                raise InputError(f"unknown chokepoint {c!r}; known: {', '.join(sorted(self.edges_of))}",
                                 column="closed")
            out |= self.edges_of[c]
        return frozenset(out)

    def _matrix(self, closed: frozenset[str]):
        """Sparse adjacency (km) without the closed chokepoints' edges and the always-closed
        passages, built once per closure set (the graph itself is never modified)."""
        from scipy.sparse import csr_matrix

        key = frozenset(closed)
        if key not in self._matrices:
            blocked = self.closed_edges(key)
            keep = self._always_open.copy()
            if blocked:
                keep &= np.fromiter((k not in blocked for k in self._edge_keys), dtype=bool,
                                    count=len(self._edge_keys))
            n = len(self._nodes)
            m = csr_matrix((self._w[keep], (self._ui[keep], self._vi[keep])), shape=(n, n))
            if len(self._matrices) > 32:
                self._matrices.clear()
            # A start node is usable when its open component is a sea (at least MIN_SEA_NODES
            # nodes, e.g. the Persian Gulf behind Hormuz: 61), not a pocket of a few nodes that
            # the closure cut out around a port on the chokepoint itself.
            from scipy.sparse.csgraph import connected_components

            _, comp = connected_components(m, directed=False)
            usable = (np.bincount(comp) >= MIN_SEA_NODES)[comp]
            self._matrices[key] = (m, usable, {})
        return self._matrices[key]

    def _start(self, point: tuple[float, float], closed: frozenset[str]) -> int:
        """Graph node a port starts from under a closure: searoute's nearest node, unless the
        closure cut that node into a pocket of fewer than :data:`MIN_SEA_NODES` nodes (a port on
        the chokepoint itself, e.g. Busan for the Korea Strait); then the nearest node of a sea
        (the port is assumed to reach it through its own approaches)."""
        i = self._index[self.snap(*point)]
        _, open_node, memo = self._matrix(closed)
        if open_node[i] or not open_node.any():
            return i
        if i not in memo:
            from scipy.spatial import cKDTree

            if "tree" not in memo:
                cand = np.flatnonzero(open_node)
                memo["tree"] = (cKDTree(_node_array()[cand]), cand)
            tree, cand = memo["tree"]
            memo[i] = int(cand[tree.query(_node_array()[i])[1]])
        return memo[i]

    def snap(self, lon: float, lat: float) -> tuple[float, float]:
        """The graph node searoute would start from for a point (its nearest node)."""
        key = (float(lon), float(lat))
        if key not in self._snaps:
            self._snaps[key] = self.graph.kdtree.query(key)
        return self._snaps[key]

    def routes_many(self, od: Mapping[tuple[float, float], Iterable[tuple[float, float]]],
                    closed: Iterable[str] = ()) -> dict[tuple, Route]:
        """Routes from several origins to their destinations, under a closure set.

        Parameters
        ----------
        od : mapping origin (lon, lat) -> iterable of destinations (lon, lat)
        closed : iterable of chokepoint ids

        Returns
        -------
        dict mapping (origin, destination) as given to its :class:`Route`.
        """
        from scipy.sparse.csgraph import dijkstra

        closed = frozenset(closed)
        mat = self._matrix(closed)[0]
        origins = list(od)
        out: dict[tuple, Route] = {}
        for start in range(0, len(origins), 64):
            chunk = origins[start:start + 64]
            idx = [self._start(o, closed) for o in chunk]
            # Unreachable nodes come back with an infinite distance: no exception and no
            # warning (unlike searoute(), which returns an empty route of length 0 with a
            # UserWarning); such lanes are cut.
            dist, pred = dijkstra(mat, directed=False, indices=idx, return_predecessors=True)
            for row, o in enumerate(chunk):
                src = idx[row]
                o_node = self._index[self.snap(*o)]
                for d in od[o]:
                    t = self._start(d, closed)
                    if not np.isfinite(dist[row, t]):
                        out[(tuple(o), tuple(d))] = CUT
                        continue
                    path = [t]
                    while path[-1] != src:
                        path.append(int(pred[row, path[-1]]))
                    path.reverse()
                    # a port moved off a closed pocket keeps its own node: the approach leg to
                    # the substitute node is added (great circle, passing no chokepoint)
                    if o_node != src:
                        path.insert(0, o_node)
                    d_node = self._index[self.snap(*d)]
                    if d_node != t:
                        path.append(d_node)
                    route = self._route_of(path)
                    if len(path) < 2 and tuple(o) != tuple(d):
                        # two ports on one graph node: the great circle between them, not 0
                        route = Route(float(haversine_km(o[0], o[1], d[0], d[1])) / KM_PER_NM, (), False,
                                      route.path)
                    out[(tuple(o), tuple(d))] = route
        return out

    def routes_from(self, origin: tuple[float, float], destinations: Iterable[tuple[float, float]],
                    closed: Iterable[str] = ()) -> dict[tuple[float, float], Route]:
        """Routes from one point to several, under a closure set.

        Returns
        -------
        dict mapping each destination (as given) to its :class:`Route`.
        """
        got = self.routes_many({tuple(origin): [tuple(d) for d in destinations]}, closed)
        return {d: r for (_, d), r in got.items()}

    def _route_of(self, idx: list[int]) -> Route:
        if len(idx) < 2:
            return Route(0.0, (), False, tuple(idx))
        arr = _node_array()[idx]
        km = float(np.sum(haversine_km(arr[:-1, 0], arr[:-1, 1], arr[1:, 0], arr[1:, 1])))
        seen: list[str] = []
        nodes = self._nodes
        for a, b in zip(idx[:-1], idx[1:], strict=True):
            for c in self.edge_chokepoints.get(_edge_key(nodes[a], nodes[b]), ()):
                if c not in seen:
                    seen.append(c)
        return Route(km / KM_PER_NM, tuple(seen), False, tuple(int(i) for i in idx))


def _chokepoint_key(chokepoints: pd.DataFrame) -> tuple:
    cols = ["chokepoint", "lat", "lon", "searoute_passage"]
    cp = chokepoints.reindex(columns=cols)
    return tuple((str(r.chokepoint), float(r.lat), float(r.lon),
                  "" if pd.isna(r.searoute_passage) else str(r.searoute_passage))
                 for r in cp.itertuples(index=False))


def sea_network(chokepoints: pd.DataFrame, radius_km: Mapping[str, float] | None = None) -> SeaNetwork:
    """Attach chokepoints to searoute's graph (cached per chokepoint table and radii).

    Parameters
    ----------
    chokepoints : DataFrame
        Atlas ``chokepoints`` rows (chokepoint, lat, lon, searoute_passage).
    radius_km : mapping, optional
        Proximity radius per chokepoint id, overriding :data:`CLOSURE_RADIUS_KM`.

    Examples
    --------
    >>> cp = pd.DataFrame({"chokepoint": ["suez"], "lat": [30.58], "lon": [32.33],
    ...                    "searoute_passage": ["suez"]})
    >>> net = sea_network(cp)
    >>> net.how["suez"], len(net.edges_of["suez"]) > 0
    ('passage', True)
    """
    radii = dict(CLOSURE_RADIUS_KM)
    radii.update(radius_km or {})
    return _sea_network(_chokepoint_key(chokepoints), tuple(sorted(radii.items())))


@lru_cache(maxsize=8)
def _sea_network(key: tuple, radii_items: tuple) -> SeaNetwork:
    radii = dict(radii_items)
    g = _graph()
    edges = [(u, v, d.get("passage")) for u, v, d in g.edges(data=True)]
    ax = np.array([e[0][0] for e in edges], dtype=float)
    ay = np.array([e[0][1] for e in edges], dtype=float)
    bx = np.array([e[1][0] for e in edges], dtype=float)
    by = np.array([e[1][1] for e in edges], dtype=float)
    names = np.array([e[2] or "" for e in edges], dtype=object)
    known_passages = set(names.tolist()) - {""}
    edges_of: dict[str, frozenset] = {}
    how: dict[str, str] = {}
    for cid, lat, lon, passage in key:
        if passage:
            if passage not in known_passages:
                raise InputError(f"chokepoint {cid!r}: searoute {searoute_version()} has no passage "
                                 f"{passage!r} (known: {', '.join(sorted(known_passages))})",
                                 column="searoute_passage")
            idx = np.flatnonzero(names == passage)
            how[cid] = "passage"
        else:
            r = radii.get(cid, DEFAULT_RADIUS_KM)
            idx = np.flatnonzero(_point_segment_km(lon, lat, ax, ay, bx, by) <= r)
            how[cid] = f"proximity {r:g} km"
        edges_of[cid] = frozenset(_edge_key(edges[i][0], edges[i][1]) for i in idx)
    edge_cp: dict[tuple, list[str]] = {}
    for cid, es in edges_of.items():
        for e in es:
            edge_cp.setdefault(e, []).append(cid)
    cp = pd.DataFrame(list(key), columns=["chokepoint", "lat", "lon", "searoute_passage"])
    nodes = list(g.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    weights = np.array([float(d.get("weight") or 0.0) for _, _, d in g.edges(data=True)])
    # scipy drops explicit zeros from sparse matrices: keep zero-length edges as tiny weights
    weights = np.where(weights > 0, weights, 1e-9)
    return SeaNetwork(
        cp, edges_of, how, {e: tuple(v) for e, v in edge_cp.items()},
        _nodes=nodes, _index=index,
        _ui=np.array([index[e[0]] for e in edges], dtype=np.int64),
        _vi=np.array([index[e[1]] for e in edges], dtype=np.int64),
        _w=weights, _edge_keys=[_edge_key(e[0], e[1]) for e in edges],
        _always_open=~np.isin(names, list(ALWAYS_CLOSED)))


__all__ = ["ALWAYS_CLOSED", "CLOSURE_RADIUS_KM", "CUT", "DEFAULT_RADIUS_KM", "KM_PER_NM", "Route",
           "MIN_SEA_NODES", "SeaNetwork", "haversine_km", "sea_network", "searoute_version", "unwrap_lon"]
