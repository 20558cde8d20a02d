"""Time-to-survive and time-to-recover linear programs (Simchi-Levi et al.).

A disruption model that needs no probabilities: knock out one node (a supplier site, a producing
country) and ask two questions of a linear program solved with HiGHS (``scipy.optimize.linprog``):

* **Time-to-survive** (TTS): the longest time ``t`` over which all demand can still be met from the
  inventories on hand and the capacity left elsewhere (re-routing, flexible sites).
* **Performance impact** for a given **time-to-recover** (TTR): the least demand (weighted by
  margin) that is lost over the TTR window if the response is chosen optimally.

Nodes are then ranked by their **risk exposure index** (impact divided by the largest impact).

All flows are totals over the horizon, so every rate term is ``rate × t``: the time-to-survive
program is linear in ``t``. The model (see ``docs/tts.md`` for the full write-up)::

    TTS(n) = max t
      s.t. Σ_{a at node k} w_a u_a            ≤ c_k t          every node k    (c_n = 0)
           Σ_{a makes i} u_a + S_i            ≥ d_i t + Σ_b q_b v_b(i)   every item i
           y_j − z_b                          ≤ (1 − δ_b) B_j t          BOM rows b with δ_b < 1
           u, z, t ≥ 0

with ``y_j = Σ_{a makes j} u_a`` the production of item ``j`` and ``v_b = y_j`` (δ = 1) or
``z_b`` (δ < 1) the part of ``j`` that needs input ``i`` of BOM row ``b``.

Worked example (the issue's hand-solved case, reproduced in ``tests/test_tts.py``)
---------------------------------------------------------------------------------
Product P: demand 100/week, 200 in stock, plant capacity 150/week, one unit of input A per unit.
Supplier S1 of A: 300 in stock, capacity 60/week. S2 of A: no stock, capacity 50/week.

*S1 down.* Over ``t`` weeks the plant needs ``100 t − 200`` units of A (demand less the stock of
P). A available: S1's 300 units already made (inventory is not destroyed by the outage, see below)
plus S2's ``50 t``. ``100 t − 200 ≤ 300 + 50 t`` ⇔ ``t ≤ 10``; plant capacity ``150 t`` is not
binding. **TTS = 10 weeks.**

*S2 down.* ``100 t − 200 ≤ 300 + 60 t`` ⇔ ``t ≤ 12.5``. **TTS = 12.5 weeks.**

These figures hold only under the reading that a disrupted node's *inventory* stays usable (the
outage stops production; goods already made, in a warehouse or in transit, still ship). If S1's
300 units were lost with it, the answer would be ``100 t − 200 ≤ 50 t`` ⇔ 4 weeks. The reading is
the default (``inventory_lost=False``) and the other one is an option.

Time-phasing: with constant rates and all inventory available at time 0, the aggregate program is
exact — if a plan covers ``[0, t]``, running it at the constant rates ``u/t`` covers every
``[0, s]``, ``s ≤ t``: every flow scales by ``s/t`` while the stock on hand stays whole, so no
constraint is violated on the way. Lead times are not modelled.

Examples
--------
>>> import pandas as pd
>>> net = Network.from_frames(
...     items=pd.DataFrame({"item": ["P", "A"], "demand": [100.0, 0.0], "inventory": [200.0, 0.0]}),
...     nodes=pd.DataFrame({"node": ["plant", "S1", "S2"], "capacity": [150.0, 60.0, 50.0],
...                         "item": ["P", "A", "A"], "inventory": [0.0, 300.0, 0.0]}),
...     bom=pd.DataFrame({"item": ["P"], "input": ["A"], "quantity": [1.0]}))
>>> time_to_survive(net, "S1"), time_to_survive(net, "S2")
(10.0, 12.5)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from ..errors import InputError, PaxsilicaError

UNLIMITED = math.inf
"""Time-to-survive of a node whose loss the network absorbs forever (shown as ``unlimited``)."""

_THETA_TOL = 1e-7
"""Relative slack under which a sustainable fraction counts as 1 (HiGHS works to ~1e-7)."""

Disruption = str | Iterable[str] | Mapping[str, float]
"""A node id, several node ids (all down), or ``{node: fraction of capacity lost}``."""


class SolverError(PaxsilicaError):
    """HiGHS returned no usable answer (numerical trouble or an iteration limit)."""


@dataclass(frozen=True)
class Network:
    """A supply network for the time-to-survive / time-to-recover programs (arrays, no solver).

    Build it with :meth:`from_frames`. Units are free but must agree: capacities, demands and
    inventories per *period* (a week, a day) in each item's own unit, BOM quantities in input units
    per unit of output.

    Attributes
    ----------
    items, nodes : tuple of str
        Item and node ids (positions index the arrays below).
    capacity : ndarray (N,)
        Capacity of each node per period, in capacity units (see ``arc_usage``).
    demand, margin, item_stock, baseline : ndarray (I,)
        External demand per period, weight of a lost unit, inventory not tied to any node, and the
        baseline output per period (only used by BOM rows with ``dependent_share < 1``).
    arc_node, arc_item : ndarray (A,) of int
        Which node can make which item (a node with several arcs is flexible: its capacity is
        shared).
    arc_usage : ndarray (A,)
        Capacity units used per unit of item made on the arc.
    arc_stock : ndarray (A,)
        Inventory of the arc's item held at the node.
    bom_item, bom_input : ndarray (B,) of int
        Bill of materials: ``bom_item`` needs ``bom_input``.
    bom_quantity : ndarray (B,)
        Units of input per unit of the output that needs it.
    bom_share : ndarray (B,)
        Dependent share δ: part of the item's baseline output that needs the input (0-1]. Output up
        to ``(1 - δ) × baseline`` per period can be made without it; every unit beyond needs it.
    """

    items: tuple[str, ...]
    nodes: tuple[str, ...]
    capacity: np.ndarray
    demand: np.ndarray
    margin: np.ndarray
    item_stock: np.ndarray
    baseline: np.ndarray
    arc_node: np.ndarray
    arc_item: np.ndarray
    arc_usage: np.ndarray
    arc_stock: np.ndarray
    bom_item: np.ndarray
    bom_input: np.ndarray
    bom_quantity: np.ndarray
    bom_share: np.ndarray

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frames(
        cls,
        *,
        items: pd.DataFrame,
        nodes: pd.DataFrame,
        bom: pd.DataFrame | None = None,
        arcs: pd.DataFrame | None = None,
    ) -> Network:
        """Build a network from tables.

        Parameters
        ----------
        items : DataFrame
            ``item`` (required), ``demand`` per period (default 0), ``inventory`` not tied to a
            node (default 0), ``margin`` weight of a lost unit (default 1), ``baseline`` output
            per period (needed only by BOM rows with ``dependent_share < 1``; default: demand).
        nodes : DataFrame
            ``node`` (required), ``capacity`` per period (required), ``item`` it makes (optional:
            a shortcut for one arc with usage 1), ``inventory`` of that item held there.
        bom : DataFrame, optional
            ``item``, ``input``, ``quantity`` (default 1) per unit of dependent output,
            ``dependent_share`` (default 1).
        arcs : DataFrame, optional
            Flexibility: ``node``, ``item``, ``usage`` (capacity units per unit, default 1),
            ``inventory`` (default 0).

        Examples
        --------
        >>> net = Network.from_frames(
        ...     items=pd.DataFrame({"item": ["P"], "demand": [1.0]}),
        ...     nodes=pd.DataFrame({"node": ["f"], "capacity": [2.0], "item": ["P"]}))
        >>> net.nodes, float(net.capacity[0])
        (('f',), 2.0)
        """
        items = _frame(items, "items", ["item"])
        nodes = _frame(nodes, "nodes", ["node", "capacity"])
        item_ids = _ids(items["item"], "items", "item")
        node_ids = _ids(nodes["node"], "nodes", "node")
        ipos = {k: i for i, k in enumerate(item_ids)}
        npos = {k: i for i, k in enumerate(node_ids)}

        demand = _num(items, "demand", 0.0, "items")
        margin = _num(items, "margin", 1.0, "items")
        item_stock = _num(items, "inventory", 0.0, "items")
        baseline = _num(items, "baseline", np.nan, "items", allow_nan=True)
        baseline = np.where(np.isnan(baseline), demand, baseline)
        capacity = _num(nodes, "capacity", np.nan, "nodes")

        a_node: list[int] = []
        a_item: list[int] = []
        a_usage: list[float] = []
        a_stock: list[float] = []
        node_inv = _num(nodes, "inventory", 0.0, "nodes")
        if "item" in nodes.columns:
            for r, (nid, it) in enumerate(zip(node_ids, nodes["item"], strict=True)):
                if _blank(it):
                    if node_inv[r] > 0:
                        raise InputError("inventory given for a node without an item", file="nodes",
                                         row=r + 1, column="inventory")
                    continue
                a_node.append(npos[nid])
                a_item.append(_lookup(ipos, it, "nodes", r, "item"))
                a_usage.append(1.0)
                a_stock.append(float(node_inv[r]))
        elif np.any(node_inv > 0):
            raise InputError("node inventory needs an 'item' column", file="nodes", column="inventory")
        if arcs is not None and len(arcs):
            arcs = _frame(arcs, "arcs", ["node", "item"])
            usage = _num(arcs, "usage", 1.0, "arcs")
            stock = _num(arcs, "inventory", 0.0, "arcs")
            for r, (nid, it) in enumerate(zip(arcs["node"], arcs["item"], strict=True)):
                a_node.append(_lookup(npos, nid, "arcs", r, "node"))
                a_item.append(_lookup(ipos, it, "arcs", r, "item"))
                if usage[r] <= 0:
                    raise InputError("usage must be > 0", file="arcs", row=r + 1, column="usage")
                a_usage.append(float(usage[r]))
                a_stock.append(float(stock[r]))
        pairs = list(zip(a_node, a_item, strict=True))
        if len(set(pairs)) != len(pairs):
            raise InputError("a (node, item) pair is given twice (nodes.item and arcs)", file="arcs")

        b_item: list[int] = []
        b_input: list[int] = []
        b_q: list[float] = []
        b_s: list[float] = []
        if bom is not None and len(bom):
            bom = _frame(bom, "bom", ["item", "input"])
            q = _num(bom, "quantity", 1.0, "bom")
            share = _num(bom, "dependent_share", 1.0, "bom")
            for r, (it, inp) in enumerate(zip(bom["item"], bom["input"], strict=True)):
                if not 0 < share[r] <= 1:
                    if share[r] == 0:
                        continue  # nothing needs the input
                    raise InputError("dependent_share must be in (0, 1]", file="bom", row=r + 1,
                                     column="dependent_share")
                j = _lookup(ipos, it, "bom", r, "item")
                if share[r] < 1 and not np.isfinite(baseline[j]):
                    raise InputError(f"item {it!r} needs a baseline for dependent_share < 1",
                                     file="items", column="baseline")
                b_item.append(j)
                b_input.append(_lookup(ipos, inp, "bom", r, "input"))
                b_q.append(float(q[r]))
                b_s.append(float(share[r]))

        def arr(x: list, dtype: type) -> np.ndarray:
            return np.asarray(x, dtype=dtype)

        return cls(
            items=tuple(item_ids), nodes=tuple(node_ids), capacity=capacity, demand=demand,
            margin=margin, item_stock=item_stock, baseline=baseline,
            arc_node=arr(a_node, np.int64), arc_item=arr(a_item, np.int64),
            arc_usage=arr(a_usage, np.float64), arc_stock=arr(a_stock, np.float64),
            bom_item=arr(b_item, np.int64), bom_input=arr(b_input, np.int64),
            bom_quantity=arr(b_q, np.float64), bom_share=arr(b_s, np.float64),
        )

    # ------------------------------------------------------------------ helpers
    def node_index(self, node: str) -> int:
        try:
            return self.nodes.index(node)
        except ValueError:
            raise InputError(f"unknown node {node!r}") from None

    def with_stock(self, item_stock: np.ndarray) -> Network:
        """Copy with another item-level inventory vector (for what-if runs)."""
        return _replace(self, item_stock=np.asarray(item_stock, dtype=np.float64))

    def with_capacity(self, capacity: np.ndarray) -> Network:
        """Copy with another node capacity vector (for what-if runs)."""
        return _replace(self, capacity=np.asarray(capacity, dtype=np.float64))


def _replace(net: Network, **kw: np.ndarray) -> Network:
    from dataclasses import replace

    return replace(net, **kw)


# ---------------------------------------------------------------------- input helpers
def _frame(df: pd.DataFrame, name: str, required: list[str]) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{name} must be a DataFrame")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=name)
    return df.reset_index(drop=True)


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v == ""


def _ids(col: pd.Series, file: str, column: str) -> list[str]:
    out: list[str] = []
    for r, v in enumerate(col):
        if _blank(v):
            raise InputError("blank id", file=file, row=r + 1, column=column)
        out.append(str(v))
    if len(set(out)) != len(out):
        dup = sorted({x for x in out if out.count(x) > 1})
        raise InputError(f"duplicate id(s): {', '.join(dup)}", file=file, column=column)
    return out


def _num(df: pd.DataFrame, col: str, default: float, file: str, *, allow_nan: bool = False) -> np.ndarray:
    if col not in df.columns:
        if np.isnan(default) and not allow_nan:
            raise InputError(f"missing column {col!r}", file=file)
        return np.full(len(df), default, dtype=np.float64)
    vals = pd.to_numeric(df[col].astype(object), errors="coerce").astype("float64").to_numpy()
    vals = vals.copy()
    if not np.isnan(default):
        vals[np.isnan(vals)] = default
    for r, v in enumerate(vals):
        if np.isnan(v) and not allow_nan:
            raise InputError("missing or non-numeric value", file=file, row=r + 1, column=col)
        if v < 0 or v == np.inf:
            raise InputError(f"must be a finite number >= 0, got {v}", file=file, row=r + 1, column=col)
    return vals


def _lookup(pos: Mapping[str, int], key: object, file: str, row: int, column: str) -> int:
    if _blank(key) or str(key) not in pos:
        raise InputError(f"unknown id {key!r}", file=file, row=row + 1, column=column)
    return pos[str(key)]


# ---------------------------------------------------------------------- the programs
@dataclass(frozen=True)
class _Blocks:
    """Constraint blocks shared by the three programs (built once per network)."""

    cap_u: sp.csr_matrix  # N × A
    bal_u: sp.csr_matrix  # I × A   consumption − production
    bal_z: sp.csr_matrix  # I × K
    split_u: sp.csr_matrix  # K × A
    split_rhs: np.ndarray  # K: (1 − δ) B_j per period
    n_arcs: int
    n_split: int
    a_base: sp.csr_matrix  # rows [capacity; balance; split] × columns [u, z]
    a_theta: sp.csr_matrix  # a_base + column θ (demand in the balance rows)
    a_impact: sp.csr_matrix  # a_base + columns l (lost demand, −1 in the balance rows)


def _blocks(net: Network) -> _Blocks:
    n_items, n_nodes, n_arcs = len(net.items), len(net.nodes), len(net.arc_node)
    cols = np.arange(n_arcs)
    make = sp.csr_matrix((np.ones(n_arcs), (net.arc_item, cols)), shape=(n_items, n_arcs))
    cap_u = sp.csr_matrix((net.arc_usage, (net.arc_node, cols)), shape=(n_nodes, n_arcs))
    full = net.bom_share >= 1.0
    cons_full = sp.csr_matrix(
        (net.bom_quantity[full], (net.bom_input[full], net.bom_item[full])), shape=(n_items, n_items))
    part = np.flatnonzero(~full)
    k = len(part)
    bal_z = sp.csr_matrix((net.bom_quantity[part], (net.bom_input[part], np.arange(k))),
                          shape=(n_items, k))
    pick = sp.csr_matrix((np.ones(k), (np.arange(k), net.bom_item[part])), shape=(k, n_items))
    split_u = (pick @ make).tocsr()
    split_rhs = (1.0 - net.bom_share[part]) * net.baseline[net.bom_item[part]]
    bal_u = (cons_full @ make - make).tocsr()
    a_base = sp.vstack([
        sp.hstack([cap_u, sp.csr_matrix((n_nodes, k))]),
        sp.hstack([bal_u, bal_z]),
        sp.hstack([split_u, -sp.identity(k, format="csr")]),
    ], format="csr")
    theta_col = sp.csr_matrix(np.concatenate([np.zeros(n_nodes), net.demand, np.zeros(k)]).reshape(-1, 1))
    lost = sp.vstack([sp.csr_matrix((n_nodes, n_items)), -sp.identity(n_items, format="csr"),
                      sp.csr_matrix((k, n_items))])
    return _Blocks(cap_u, bal_u, bal_z, split_u, split_rhs, n_arcs, k, a_base,
                   sp.hstack([a_base, theta_col], format="csr"),
                   sp.hstack([a_base, lost], format="csr"))


@dataclass(frozen=True)
class _Plan:
    """The network with its single-item nodes pooled per item, ready for the solver.

    A node that can make only one item constrains the programs only through the total capacity of
    that item's single-item nodes, so those nodes are merged into one pool per item (exact, and it
    cuts the Atlas programs from ~550 production variables to ~70). Flexible nodes stay as they are.
    """

    red: Network
    blk: _Blocks
    weight: sp.csr_matrix  # reduced nodes × original nodes: reduced capacity = weight @ capacity

    def capacity(self, net: Network, loss: np.ndarray) -> np.ndarray:
        return np.asarray(self.weight @ (net.capacity * (1.0 - loss))).ravel()


def _plan(net: Network) -> _Plan:
    n_items = len(net.items)
    arcs_per_node = np.bincount(net.arc_node, minlength=len(net.nodes))
    single = arcs_per_node[net.arc_node] == 1
    pool_items = np.unique(net.arc_item[single])
    pool_of_item = {int(i): p for p, i in enumerate(pool_items)}
    multi_nodes = np.unique(net.arc_node[~single])
    red_of_multi = {int(k): len(pool_items) + r for r, k in enumerate(multi_nodes)}
    rows, cols, vals = [], [], []
    for a in np.flatnonzero(single):
        rows.append(pool_of_item[int(net.arc_item[a])])
        cols.append(int(net.arc_node[a]))
        vals.append(1.0 / float(net.arc_usage[a]))
    for k in multi_nodes:
        rows.append(red_of_multi[int(k)])
        cols.append(int(k))
        vals.append(1.0)
    n_red = len(pool_items) + len(multi_nodes)
    weight = sp.csr_matrix((vals, (rows, cols)), shape=(n_red, len(net.nodes)))
    multi_arcs = np.flatnonzero(~single)
    arc_node = np.concatenate([np.arange(len(pool_items)),
                               [red_of_multi[int(k)] for k in net.arc_node[multi_arcs]]]).astype(np.int64)
    arc_item = np.concatenate([pool_items, net.arc_item[multi_arcs]]).astype(np.int64)
    arc_usage = np.concatenate([np.ones(len(pool_items)), net.arc_usage[multi_arcs]])
    red = _replace(
        net,
        nodes=tuple(f"pool:{net.items[i]}" for i in pool_items) + tuple(net.nodes[k] for k in multi_nodes),
        capacity=np.zeros(n_red), item_stock=np.zeros(n_items), arc_node=arc_node, arc_item=arc_item,
        arc_usage=arc_usage, arc_stock=np.zeros(len(arc_node)),
    )
    return _Plan(red, _blocks(red), weight)


def _disruption(net: Network, disrupted: Disruption | None) -> np.ndarray:
    """Fraction of capacity lost per node."""
    loss = np.zeros(len(net.nodes))
    if disrupted is None:
        return loss
    if isinstance(disrupted, str):
        disrupted = [disrupted]
    if isinstance(disrupted, Mapping):
        for node, frac in disrupted.items():
            f = float(frac)
            if not 0 <= f <= 1:
                raise InputError(f"capacity loss of node {node!r} must be in [0, 1], got {f}")
            loss[net.node_index(str(node))] = f
    else:
        for node in disrupted:
            loss[net.node_index(str(node))] = 1.0
    return loss


def _stock(net: Network, loss: np.ndarray, inventory_lost: bool) -> np.ndarray:
    arc_stock = net.arc_stock
    if inventory_lost:
        arc_stock = arc_stock * (1.0 - loss[net.arc_node])
    return net.item_stock + np.bincount(net.arc_item, weights=arc_stock, minlength=len(net.items))


def _solve(c: np.ndarray, a_ub: sp.csr_matrix, b_ub: np.ndarray, bounds: np.ndarray, what: str):  # type: ignore[no-untyped-def]
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status == 2 and np.all(b_ub >= 0) and np.all(bounds[:, 0] <= 0):
        # x = 0 satisfies every row here (A·0 = 0 ≤ b), so "infeasible" is HiGHS's presolve tripping
        # over coefficients near its 1e-7 tolerance (a capacity of 1e-7 beside a demand of 1, found by
        # hypothesis); solving without presolve gives the right answer
        res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs", options={"presolve": False})
    if res.status not in (0, 3):
        raise SolverError(f"HiGHS could not solve the {what} program: {res.message}")
    return res


def _theta(net: Network, blk: _Blocks, cap: np.ndarray) -> float:
    """Largest fraction θ ≤ 1 of every demand the network can serve forever, without inventory."""
    if not np.any(net.demand > 0):
        return 1.0
    n_u, k = blk.n_arcs, blk.n_split
    b_ub = np.concatenate([cap, np.zeros(len(net.items)), blk.split_rhs])
    c = np.zeros(n_u + k + 1)
    c[-1] = -1.0
    bounds = np.zeros((n_u + k + 1, 2))
    bounds[:, 1] = np.inf
    bounds[-1, 1] = 1.0
    res = _solve(c, blk.a_theta, b_ub, bounds, "sustainable-fraction")
    return min(_clean(res.x[-1]), 1.0)


def _tts(net: Network, blk: _Blocks, cap: np.ndarray, stock: np.ndarray) -> float:
    n_u, k = blk.n_arcs, blk.n_split
    n_nodes = len(net.nodes)
    t_col = sp.csr_matrix(np.concatenate([-cap, net.demand, -blk.split_rhs]).reshape(-1, 1))
    a_ub = sp.hstack([blk.a_base, t_col], format="csr")
    b_ub = np.concatenate([np.zeros(n_nodes), stock, np.zeros(k)])
    c = np.zeros(n_u + k + 1)
    c[-1] = -1.0
    bounds = np.zeros((n_u + k + 1, 2))
    bounds[:, 1] = np.inf
    res = _solve(c, a_ub, b_ub, bounds, "time-to-survive")
    if res.status == 3:
        return UNLIMITED
    return _clean(res.x[-1])


def _clean(x: float) -> float:
    """Round a solver value to 10 significant digits (HiGHS is exact to ~1e-7 relative)."""
    v = float(x)
    return float(f"{v:.10g}") if v > 0 else 0.0


def _impact(net: Network, blk: _Blocks, cap: np.ndarray, stock: np.ndarray, ttr: float) -> float:
    n_u, k, n_items = blk.n_arcs, blk.n_split, len(net.items)
    b_ub = np.concatenate([cap * ttr, stock - net.demand * ttr, blk.split_rhs * ttr])
    c = np.concatenate([np.zeros(n_u + k), net.margin])
    bounds = np.zeros((n_u + k + n_items, 2))
    bounds[:, 1] = np.inf
    bounds[n_u + k:, 1] = net.demand * ttr
    res = _solve(c, blk.a_impact, b_ub, bounds, "performance-impact")
    return _clean(res.fun)


# ---------------------------------------------------------------------- public API
def sustainable_fraction(net: Network, disrupted: Disruption | None = None) -> float:
    """Largest fraction of all demands the network can meet indefinitely with ``disrupted`` down.

    Inventory is ignored (it runs out). 1 means the loss is absorbed forever: the time-to-survive is
    unlimited.

    Examples
    --------
    >>> net = Network.from_frames(
    ...     items=pd.DataFrame({"item": ["P"], "demand": [100.0]}),
    ...     nodes=pd.DataFrame({"node": ["f1", "f2"], "capacity": [60.0, 50.0], "item": ["P", "P"]}))
    >>> sustainable_fraction(net, "f1")
    0.5
    """
    plan = _plan(net)
    return _theta(plan.red, plan.blk, plan.capacity(net, _disruption(net, disrupted)))


def time_to_survive(net: Network, disrupted: Disruption | None = None, *,
                    inventory_lost: bool = False) -> float:
    """Time-to-survive: the longest time all demand is met with ``disrupted`` down.

    Parameters
    ----------
    net : Network
    disrupted : str, iterable of str or mapping
        Node(s) down (capacity 0), or ``{node: fraction of capacity lost}``. ``None``: nothing down.
    inventory_lost : bool
        If true, inventory held at a disrupted node is lost in proportion to its capacity loss.
        Default false: goods already made still ship (the reading that gives the issue's 10 and
        12.5 weeks).

    Returns
    -------
    float
        Periods; ``math.inf`` (:data:`UNLIMITED`) when the rest of the network meets demand forever.

    Examples
    --------
    >>> net = Network.from_frames(
    ...     items=pd.DataFrame({"item": ["P"], "demand": [100.0], "inventory": [300.0]}),
    ...     nodes=pd.DataFrame({"node": ["f1", "f2"], "capacity": [60.0, 50.0], "item": ["P", "P"]}))
    >>> time_to_survive(net, "f1"), time_to_survive(net, {"f1": 0.5})
    (6.0, 15.0)
    """
    plan = _plan(net)
    loss = _disruption(net, disrupted)
    cap = plan.capacity(net, loss)
    if _theta(plan.red, plan.blk, cap) >= 1.0 - _THETA_TOL:
        return UNLIMITED
    return _tts(plan.red, plan.blk, cap, _stock(net, loss, inventory_lost))


def performance_impact(net: Network, disrupted: Disruption | None, ttr: float, *,
                       inventory_lost: bool = False) -> float:
    """Least margin-weighted demand lost over a time-to-recover of ``ttr`` periods.

    ``disrupted`` is down for the whole window ``[0, ttr]``; the response (re-routing, use of
    inventory, flexible capacity) is the best one.

    Examples
    --------
    >>> net = Network.from_frames(
    ...     items=pd.DataFrame({"item": ["P"], "demand": [100.0], "inventory": [300.0]}),
    ...     nodes=pd.DataFrame({"node": ["f1", "f2"], "capacity": [60.0, 50.0], "item": ["P", "P"]}))
    >>> performance_impact(net, "f1", 10)   # 1000 demanded, 300 + 500 available
    200.0
    """
    if not np.isfinite(ttr) or ttr < 0:
        raise InputError(f"time-to-recover must be a finite number >= 0, got {ttr}")
    plan = _plan(net)
    loss = _disruption(net, disrupted)
    return _impact(plan.red, plan.blk, plan.capacity(net, loss), _stock(net, loss, inventory_lost),
                   float(ttr))


def analyze(net: Network, ttr: float | Mapping[str, float] = 30.0, *,
            nodes: Iterable[str] | None = None, inventory_lost: bool = False) -> pd.DataFrame:
    """Disrupt each node alone: time-to-survive, impact for its time-to-recover, risk exposure.

    Parameters
    ----------
    net : Network
    ttr : float or mapping node -> float
        Time-to-recover in periods, one for all nodes or one per node (missing nodes: error).
    nodes : iterable of str, optional
        Nodes to disrupt (default: all).
    inventory_lost : bool
        See :func:`time_to_survive`.

    Returns
    -------
    DataFrame
        One row per node, sorted by rank: ``node, capacity, tts, sustainable_fraction, ttr,
        impact, demand_over_ttr, lost_share, rei, rank``. ``tts`` is ``inf`` where unlimited;
        ``rei`` (risk exposure index) is ``impact / max(impact)`` (0 everywhere if nothing is
        lost); rank 1 is the worst node (ties broken by shorter time-to-survive, then id).

    Examples
    --------
    >>> net = Network.from_frames(
    ...     items=pd.DataFrame({"item": ["P"], "demand": [100.0], "inventory": [300.0]}),
    ...     nodes=pd.DataFrame({"node": ["f1", "f2"], "capacity": [60.0, 50.0], "item": ["P", "P"]}))
    >>> analyze(net, ttr=10)[["node", "tts", "impact", "rei", "rank"]].to_dict("records")[0]
    {'node': 'f1', 'tts': 6.0, 'impact': 200.0, 'rei': 1.0, 'rank': 1}
    """
    chosen = list(net.nodes) if nodes is None else [str(n) for n in nodes]
    for n in chosen:
        net.node_index(n)
    plan = _plan(net)
    red, blk = plan.red, plan.blk
    weighted_rate = float(net.margin @ net.demand)
    single_demand = int(np.count_nonzero(net.demand > 0)) == 1
    rows = []
    memo: dict[tuple[bytes, bytes, float], tuple[float, float, float]] = {}
    for node in chosen:
        t_r = _ttr_of(ttr, node)
        loss = _disruption(net, node)
        cap = plan.capacity(net, loss)
        stock = _stock(net, loss, inventory_lost)
        key = (cap.tobytes(), stock.tobytes(), t_r)
        if key not in memo:
            memo[key] = _one(red, blk, cap, stock, t_r, single_demand)
        theta, tts, impact = memo[key]
        demand_ttr = weighted_rate * t_r
        rows.append({
            "node": node, "capacity": float(net.capacity[net.node_index(node)]), "tts": tts,
            "sustainable_fraction": theta, "ttr": t_r, "impact": impact, "demand_over_ttr": demand_ttr,
            "lost_share": impact / demand_ttr if demand_ttr > 0 else 0.0,
        })
    return rank(pd.DataFrame(rows, columns=[
        "node", "capacity", "tts", "sustainable_fraction", "ttr", "impact", "demand_over_ttr",
        "lost_share"]))


def _one(red: Network, blk: _Blocks, cap: np.ndarray, stock: np.ndarray, ttr: float,
         single_demand: bool) -> tuple[float, float, float]:
    """(sustainable fraction, time-to-survive, impact) of one disruption.

    Two exact shortcuts save solver calls: without any inventory the time-to-survive program is
    homogeneous in t, so it is 0 unless unlimited; and then, with one demanded item, the least
    loss over the window is what the sustainable fraction leaves unserved, ``m d ttr (1 - θ)``.
    """
    theta = _theta(red, blk, cap)
    if theta >= 1.0 - _THETA_TOL:
        return theta, UNLIMITED, 0.0
    if not np.any(stock > 0):
        if single_demand:
            return theta, 0.0, _clean(float(red.margin @ red.demand) * ttr * (1.0 - theta))
        return theta, 0.0, _impact(red, blk, cap, stock, ttr)
    tts = _tts(red, blk, cap, stock)
    impact = 0.0 if tts >= ttr else _impact(red, blk, cap, stock, ttr)
    return theta, tts, impact


def rank(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``rei`` (impact / max impact) and ``rank`` (1 = worst) and sort by rank.

    Ties in impact (e.g. several nodes with no loss) are broken by shorter time-to-survive, then
    by lower sustainable fraction, then by node id.
    """
    df = df.copy()
    worst = float(df["impact"].max()) if len(df) else 0.0
    df["rei"] = df["impact"] / worst if worst > 0 else 0.0
    tie = df["sustainable_fraction"] if "sustainable_fraction" in df.columns else 0.0
    order = df.assign(_neg=-df["impact"], _tie=tie).sort_values(
        ["_neg", "tts", "_tie", "node"], kind="mergesort").index
    df = df.loc[order].reset_index(drop=True)
    df["rank"] = np.arange(1, len(df) + 1)
    return df


def _ttr_of(ttr: float | Mapping[str, float], node: str) -> float:
    if isinstance(ttr, Mapping):
        if node not in ttr:
            raise InputError(f"no time-to-recover given for node {node!r}")
        val = float(ttr[node])
    else:
        val = float(ttr)
    if not np.isfinite(val) or val < 0:
        raise InputError(f"time-to-recover must be a finite number >= 0, got {val} (node {node!r})")
    return val

