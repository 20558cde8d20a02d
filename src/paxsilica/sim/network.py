"""The production network the simulation engine runs on: flat numpy arrays, nothing else.

A :class:`SupplyNetwork` is what every builder hands to :func:`paxsilica.sim.simulate`: the firm-level
text reader (:mod:`paxsilica.sim.textio`), the Atlas builder (sites = (item, producer)) and tests.
It is immutable; building one validates the arrays and precomputes the orderings the engine needs
(links grouped by client and by supplier sector, and by supplier).

Conventions (the API other modules write against; keep stable)
----------------------------------------------------------------
- Firms are numbered ``0 .. n_firms-1``. ``firm_ids[k]`` is the external id of firm ``k`` (an int or
  a string such as ``"advanced_logic@TWN"``).
- Sectors are numbered ``0 .. n_sectors-1``; ``sector[k]`` is firm ``k``'s sector code and
  ``sector_names[code]`` its name (for Atlas sites: the item id).
- Links are stored **in canonical order**: sorted by client, then by the supplier's sector, then by
  supplier. Link ``e`` goes from ``supplier[e]`` to ``client[e]`` with baseline amount ``amount[e] > 0``
  per step. ``original_link_index[e]`` is the position of link ``e`` in the arrays given to
  :meth:`SupplyNetwork.from_arrays`, and :meth:`SupplyNetwork.link_positions` maps the other way, so a
  builder can address its own links in per-link schedules.
- Optional per-link data: ``lead_time`` (steps a shipment takes, >= 1; used only when the
  ``lead_times`` extension is on) and ``link_group`` (any integer label, -1 = none; e.g. a lane,
  chokepoint, exporter-item-importer triple coded by the builder; the engine never reads it, it is a
  hook for selecting links: ``np.flatnonzero(net.link_group == g)``).
- Optional per-firm data: ``capacity_headroom`` h >= 0: an unshocked firm may produce up to
  ``(1 + h) * baseline_output`` when the re-sourcing extension is on.
- Final demand ``final_demand[k] >= 0`` is the per-step demand of final consumers for firm k's output.

Derived (computed on construction): ``baseline_output`` p̄ = c + Σ_clients A, ``input_total``
Σ_suppliers A, ``value_added_ratio`` v, and the orderings (``seg_start`` … ``supplier_start``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

__all__ = ["SupplyNetwork", "random_network"]


def _as_int(a: object, name: str, size: int | None = None) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a one-dimensional array")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise InputError(f"{name} must hold integers")
    arr = arr.astype(np.int64, copy=True)
    if size is not None and arr.size != size:
        raise InputError(f"{name} has {arr.size} entries, expected {size}")
    return arr


def _as_float(a: object, name: str, size: int) -> np.ndarray:
    arr = np.array(a, dtype=np.float64, copy=True)
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    if arr.ndim != 1 or arr.size != size:
        raise InputError(f"{name} has {arr.size} entries, expected {size}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite")
    return arr


def _stable_argsort(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` of non-negative integers, as passes of 16-bit radix sorts.

    numpy sorts 16-bit integers stably by radix, and a stable sort of the low digits followed by
    stable sorts of the higher ones is the stable sort of the whole key (least significant digit
    first): at 5M links one pass per 16 bits is several times faster than the merge sort numpy
    uses for 64-bit keys, and the permutation is the same (a stable sort has one answer).

    Examples
    --------
    >>> key = np.array([70000, 3, 70000, 1, 3])
    >>> _stable_argsort(key).tolist() == np.argsort(key, kind="stable").tolist()
    True
    """
    key = np.asarray(key)
    top = int(key.max(initial=0))
    if key.size < 1 << 16 or key.min(initial=0) < 0 or top >= 2**63:
        return np.argsort(key, kind="stable")
    order: np.ndarray | None = None
    shift = 0
    while True:
        digit = ((key if order is None else key[order]) >> shift & 0xFFFF).astype(np.uint16)
        step = np.argsort(digit, kind="stable")
        order = step if order is None else order[step]
        shift += 16
        if top >> shift == 0:
            return order.astype(np.int64, copy=False)


def _readonly(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


@dataclass(frozen=True, eq=False)
class SupplyNetwork:
    """A firm (or site) production network as flat arrays, links in canonical order.

    Build it with :meth:`from_arrays` (or :func:`paxsilica.sim.textio.read_network` for the text
    formats); calling the class directly with links in any order works too (they are sorted and
    validated in ``__post_init__``; ``original_link_index`` then refers to the order given).

    Parameters
    ----------
    supplier, client : int arrays (m,)
        Firm indices of each link's supplier and client.
    amount : float array (m,)
        Baseline (pre-shock) amount per step, > 0.
    final_demand : float array (n,)
        Final demand per firm, >= 0.
    sector : int array (n,)
        Sector code per firm.
    sector_names : tuple of str
        Name of each sector code.
    firm_ids : array (n,)
        External firm ids.
    lead_time : int array (m,)
        Steps a shipment takes (>= 1).
    link_group : int array (m,)
        Free integer labels for builders (-1 = none).
    capacity_headroom : float array (n,)
        Extra capacity above baseline an unshocked firm may reach (re-sourcing extension).

    Attributes (derived)
    --------------------
    n_firms, n_links, n_sectors : int
    baseline_output : (n,) p̄ = final demand + Σ client amounts
    input_total : (n,) Σ supplier amounts
    value_added_ratio : (n,) (p̄ − inputs)/p̄, 0 where p̄ = 0
    seg_start : (n_seg,) first link of each (client, supplier-sector) segment
    seg_client, seg_sector : (n_seg,) client and sector of each segment
    seg_amount : (n_seg,) A^sec, the segment's baseline amount
    link_seg : (m,) segment of each link
    client_start : (n+1,) CSR pointer: links of client i are ``client_start[i]:client_start[i+1]``
    client_seg_start : (n+1,) CSR pointer into segments per client
    by_supplier : (m,) link indices sorted by supplier (stable)
    supplier_start : (n+1,) CSR pointer into ``by_supplier``
    original_link_index : (m,) position of each canonical link in the input arrays

    Examples
    --------
    >>> net = SupplyNetwork.from_arrays([0, 1], [1, 0], [100.0, 100.0], final_demand=[100.0, 100.0])
    >>> net.n_firms, net.baseline_output.tolist()
    (2, [200.0, 200.0])
    """

    supplier: np.ndarray
    client: np.ndarray
    amount: np.ndarray
    final_demand: np.ndarray
    sector: np.ndarray
    sector_names: tuple[str, ...]
    firm_ids: np.ndarray
    lead_time: np.ndarray
    link_group: np.ndarray
    capacity_headroom: np.ndarray

    n_firms: int = field(init=False)
    n_links: int = field(init=False)
    n_sectors: int = field(init=False)
    baseline_output: np.ndarray = field(init=False, repr=False)
    input_total: np.ndarray = field(init=False, repr=False)
    value_added_ratio: np.ndarray = field(init=False, repr=False)
    seg_start: np.ndarray = field(init=False, repr=False)
    seg_client: np.ndarray = field(init=False, repr=False)
    seg_sector: np.ndarray = field(init=False, repr=False)
    seg_amount: np.ndarray = field(init=False, repr=False)
    link_seg: np.ndarray = field(init=False, repr=False)
    client_start: np.ndarray = field(init=False, repr=False)
    client_seg_start: np.ndarray = field(init=False, repr=False)
    by_supplier: np.ndarray = field(init=False, repr=False)
    supplier_start: np.ndarray = field(init=False, repr=False)
    original_link_index: np.ndarray = field(init=False, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        supplier: Sequence[int] | np.ndarray,
        client: Sequence[int] | np.ndarray,
        amount: Sequence[float] | np.ndarray,
        *,
        n_firms: int | None = None,
        final_demand: Sequence[float] | np.ndarray | float | None = None,
        sector: Sequence[int] | np.ndarray | None = None,
        sector_names: Sequence[str] | None = None,
        firm_ids: Sequence[object] | np.ndarray | None = None,
        lead_time: Sequence[int] | np.ndarray | int | None = None,
        link_group: Sequence[int] | np.ndarray | None = None,
        capacity_headroom: Sequence[float] | np.ndarray | float | None = None,
    ) -> SupplyNetwork:
        """Build a network from index arrays.

        Parameters
        ----------
        supplier, client : sequences of int
            Firm index (0-based) of the supplier and of the client of each link.
        amount : sequence of float
            Baseline amount of each link per step (> 0).
        n_firms : int, optional
            Number of firms (default: from ``sector``, ``final_demand``, ``firm_ids`` or the largest index + 1).
        final_demand : sequence of float or float, optional
            Final demand per firm (default 0).
        sector : sequence of int, optional
            Sector code per firm (default: each firm its own sector ``0 .. n-1``, as in the reference
            when every firm is its own sector).
        sector_names : sequence of str, optional
            Name per sector code (default ``"0"``, ``"1"``, …).
        firm_ids : sequence, optional
            External ids (default ``0 .. n-1``).
        lead_time : sequence of int or int, optional
            Lead time per link in steps (default 1).
        link_group : sequence of int, optional
            Integer label per link (default -1).
        capacity_headroom : sequence of float or float, optional
            Headroom per firm (default 0).

        Returns
        -------
        SupplyNetwork

        Raises
        ------
        InputError
            On inconsistent sizes, indices out of range, non-positive amounts, negative final demand,
            duplicate (supplier, client) pairs.

        Examples
        --------
        >>> net = SupplyNetwork.from_arrays([0], [1], [50.0], final_demand=[0.0, 80.0], sector=[0, 1],
        ...                                 sector_names=["ore", "chip"])
        >>> net.baseline_output.tolist(), net.value_added_ratio.tolist()
        ([50.0, 80.0], [1.0, 0.375])
        """
        sup = _as_int(supplier, "supplier")
        cli = _as_int(client, "client", sup.size)
        m = sup.size
        if n_firms is None:
            for cand in (sector, final_demand, firm_ids, capacity_headroom):
                if cand is not None and np.ndim(cand) == 1:
                    n_firms = len(cand)  # type: ignore[arg-type]
                    break
        if n_firms is None:
            n_firms = int(max(sup.max(initial=-1), cli.max(initial=-1)) + 1)
        n = int(n_firms)
        sec = np.arange(n, dtype=np.int64) if sector is None else _as_int(sector, "sector", n)
        if sec.size and sec.min() < 0:
            raise InputError("sector codes must be >= 0")
        n_sec = int(sec.max(initial=-1) + 1)
        names = tuple(str(k) for k in range(n_sec)) if sector_names is None else tuple(str(s) for s in sector_names)
        ids = np.arange(n, dtype=np.int64) if firm_ids is None else np.asarray(firm_ids)
        lt = np.ones(m, dtype=np.int64) if lead_time is None else (
            np.full(m, int(lead_time), dtype=np.int64) if np.ndim(lead_time) == 0 else _as_int(lead_time, "lead_time", m)
        )
        grp = np.full(m, -1, dtype=np.int64) if link_group is None else _as_int(link_group, "link_group", m)
        return cls(
            supplier=sup,
            client=cli,
            amount=_as_float(amount, "amount", m),
            final_demand=_as_float(0.0 if final_demand is None else final_demand, "final_demand", n),
            sector=sec,
            sector_names=names,
            firm_ids=ids,
            lead_time=lt,
            link_group=grp,
            capacity_headroom=_as_float(0.0 if capacity_headroom is None else capacity_headroom,
                                        "capacity_headroom", n),
        )

    def __post_init__(self) -> None:
        sup = _as_int(self.supplier, "supplier")
        m = sup.size
        cli = _as_int(self.client, "client", m)
        amt = _as_float(self.amount, "amount", m)
        sec = _as_int(self.sector, "sector")
        n = sec.size
        fd = _as_float(self.final_demand, "final_demand", n)
        ids = np.array(self.firm_ids, copy=True)
        if ids.ndim != 1 or ids.size != n:
            raise InputError(f"firm_ids has {ids.size} entries, expected {n}")
        names = tuple(str(s) for s in self.sector_names)
        n_sec = len(names)
        lt = _as_int(self.lead_time, "lead_time", m)
        grp = _as_int(self.link_group, "link_group", m)
        head = _as_float(self.capacity_headroom, "capacity_headroom", n)

        if m and (sup.min() < 0 or sup.max() >= n or cli.min() < 0 or cli.max() >= n):
            raise InputError(f"link firm index out of range 0..{n - 1}")
        if n and (sec.min() < 0 or sec.max() >= n_sec):
            raise InputError(f"sector code out of range 0..{n_sec - 1} (sector_names has {n_sec} names)")
        if np.any(amt <= 0):
            k = int(np.flatnonzero(amt <= 0)[0])
            raise InputError(f"link {k}: amount must be > 0, got {amt[k]!r}")
        if np.any(fd < 0):
            k = int(np.flatnonzero(fd < 0)[0])
            raise InputError(f"firm {ids[k]}: final demand must be >= 0, got {fd[k]!r}")
        if np.any(lt < 1):
            raise InputError("lead_time must be >= 1 step")
        if np.any(head < 0):
            raise InputError("capacity_headroom must be >= 0")

        if m and n * max(n_sec, 1) * n < 2**62:
            # one int64 key (client, supplier sector, supplier) sorts faster than a 3-key lexsort;
            # files written from a network are in this order already (one pass instead of a sort)
            key = (cli * max(n_sec, 1) + sec[sup]) * n + sup
            in_order = bool(np.all(key[1:] >= key[:-1]))
            order = np.arange(m, dtype=np.int64) if in_order else _stable_argsort(key)
        else:
            in_order = False
            order = np.lexsort((sup, sec[sup], cli)) if m else np.zeros(0, dtype=np.int64)
        if not in_order:
            sup, cli, amt, lt, grp = sup[order], cli[order], amt[order], lt[order], grp[order]
        if m > 1:
            dup = (sup[1:] == sup[:-1]) & (cli[1:] == cli[:-1])
            if np.any(dup):
                k = int(np.flatnonzero(dup)[0]) + 1
                raise InputError(f"duplicate link from firm {ids[sup[k]]} to firm {ids[cli[k]]}")

        ssec = sec[sup]
        new_seg = np.ones(m, dtype=bool)
        if m > 1:
            new_seg[1:] = (cli[1:] != cli[:-1]) | (ssec[1:] != ssec[:-1])
        seg_start = np.flatnonzero(new_seg).astype(np.int64)
        link_seg = np.cumsum(new_seg, dtype=np.int64) - 1
        seg_client = cli[seg_start]
        seg_sector = ssec[seg_start]
        seg_amount = np.add.reduceat(amt, seg_start) if m else np.zeros(0)
        client_start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(cli, minlength=n), out=client_start[1:])
        client_seg_start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(seg_client, minlength=n), out=client_seg_start[1:])
        by_supplier = _stable_argsort(sup)
        supplier_start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(sup, minlength=n), out=supplier_start[1:])

        pbar = fd + np.bincount(sup, weights=amt, minlength=n)
        inputs = np.bincount(cli, weights=amt, minlength=n)
        with np.errstate(divide="ignore", invalid="ignore"):
            va = np.where(pbar > 0, (pbar - inputs) / np.where(pbar > 0, pbar, 1.0), 0.0)

        arrays = dict(supplier=sup, client=cli, amount=amt, final_demand=fd, sector=sec, firm_ids=ids,
                      lead_time=lt, link_group=grp, capacity_headroom=head,
                      baseline_output=pbar, input_total=inputs, value_added_ratio=va,
                      seg_start=seg_start, seg_client=seg_client, seg_sector=seg_sector,
                      seg_amount=seg_amount, link_seg=link_seg, client_start=client_start,
                      client_seg_start=client_seg_start, by_supplier=by_supplier,
                      supplier_start=supplier_start, original_link_index=order.astype(np.int64))
        for k, v in arrays.items():
            _readonly(v)
            object.__setattr__(self, k, v)
        object.__setattr__(self, "sector_names", names)
        object.__setattr__(self, "n_firms", n)
        object.__setattr__(self, "n_links", m)
        object.__setattr__(self, "n_sectors", n_sec)

    # ------------------------------------------------------------------ helpers
    def link_positions(self, original: Sequence[int] | np.ndarray) -> np.ndarray:
        """Canonical link index of links given by their position in the constructor's input arrays.

        Examples
        --------
        >>> net = SupplyNetwork.from_arrays([1, 0], [0, 1], [1.0, 2.0])
        >>> net.supplier.tolist(), net.link_positions([0]).tolist()
        ([1, 0], [0])
        """
        inv = np.empty(self.n_links, dtype=np.int64)
        inv[self.original_link_index] = np.arange(self.n_links, dtype=np.int64)
        return inv[np.asarray(original, dtype=np.int64)]

    def firm_index(self, ids: Sequence[object] | np.ndarray) -> np.ndarray:
        """Firm indices of external ids (raises :class:`InputError` for unknown ids).

        Examples
        --------
        >>> net = SupplyNetwork.from_arrays([0], [1], [1.0], firm_ids=["a", "b"])
        >>> net.firm_index(["b"]).tolist()
        [1]
        """
        import pandas as pd

        idx = pd.Index(self.firm_ids)
        pos = idx.get_indexer(pd.Index(np.asarray(ids, dtype=self.firm_ids.dtype)))
        if np.any(pos < 0):
            bad = np.asarray(ids)[pos < 0][0]
            raise InputError(f"unknown firm id {bad!r}")
        return pos.astype(np.int64)

    def links_of(self, suppliers: Sequence[int] | np.ndarray | None = None,
                 clients: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Canonical indices of links whose supplier (and/or client) is among the given firm indices.

        Examples
        --------
        >>> net = SupplyNetwork.from_arrays([0, 0, 1], [1, 2, 2], [1.0, 1.0, 1.0])
        >>> net.links_of(suppliers=[0], clients=[2]).tolist()
        [1]
        """
        mask = np.ones(self.n_links, dtype=bool)
        if suppliers is not None:
            mask &= np.isin(self.supplier, np.asarray(suppliers, dtype=np.int64))
        if clients is not None:
            mask &= np.isin(self.client, np.asarray(clients, dtype=np.int64))
        return np.flatnonzero(mask)


def random_network(
    n_firms: int,
    n_links: int,
    n_sectors: int = 50,
    *,
    seed: int = 0,
    no_supplier_share: float = 0.1,
    no_client_share: float = 0.1,
    pareto_shape: float = 1.2,
    sigma: float = 1.0,
) -> SupplyNetwork:
    """A seeded random firm network as in ENGINE.md Part C (benchmarks and tests).

    Supplier degrees are heavy-tailed (suppliers drawn with Pareto weights), about
    ``no_supplier_share`` of firms buy nothing and ``no_client_share`` sell to no firm (only to final
    demand), link amounts and final demand are lognormal, sectors uniform.

    Parameters
    ----------
    n_firms, n_links, n_sectors : int
        Size (the link count may come out slightly lower after removing duplicates and self-loops).
    seed : int
        Seed of ``numpy.random.default_rng``.

    Examples
    --------
    >>> net = random_network(50, 200, 5, seed=1)
    >>> net.n_firms, net.n_links <= 200, bool((net.baseline_output > 0).all())
    (50, True, True)
    """
    rng = np.random.default_rng(seed)
    n = int(n_firms)
    perm = rng.permutation(n)
    k_ns = int(round(no_supplier_share * n))
    k_nc = int(round(no_client_share * n))
    buyers = np.sort(perm[k_ns:])
    sellers = np.sort(np.concatenate((perm[:k_ns], perm[k_ns + k_nc:])))
    weight = rng.pareto(pareto_shape, sellers.size) + 1.0
    cdf = np.cumsum(weight)
    cdf /= cdf[-1]
    want = int(n_links)
    draw = int(want * 1.15) + 16
    # every seller gets one client first (so ~no_client_share of firms sell to no firm), the rest of
    # the links go to suppliers drawn with heavy-tailed weights
    first_round = sellers[rng.permutation(sellers.size)][: min(sellers.size, want // 2)]
    heavy = sellers[np.minimum(np.searchsorted(cdf, rng.random(draw), side="right"), sellers.size - 1)]
    sup = np.concatenate((first_round, heavy))
    cli = buyers[rng.integers(0, buyers.size, sup.size)]
    keep = sup != cli
    sup, cli = sup[keep], cli[keep]
    _, first = np.unique(sup.astype(np.int64) * n + cli, return_index=True)
    first = np.sort(first)[:want]
    sup, cli = sup[first], cli[first]
    amount = rng.lognormal(0.0, sigma, sup.size)
    final_demand = rng.lognormal(0.0, sigma, n) * float(np.median(amount))
    sector = rng.integers(0, max(int(n_sectors), 1), n)
    return SupplyNetwork.from_arrays(sup, cli, amount, n_firms=n, final_demand=final_demand,
                                     sector=sector, sector_names=[f"s{k}" for k in range(max(int(n_sectors), 1))])
