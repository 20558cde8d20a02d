"""Seeded synthetic firm networks: multi-tier, heavy-tailed, with final demand and geography.

Corporate users bring firm networks of 10^5–10^6 firms; to test and benchmark the engine at that
size without their data, :func:`generate_network` draws a network with the features the literature
reports for real production networks (Inoue & Todo 2019 on ~1M Japanese firms; Bernard & Zi 2022):

- **tiers and sectors**: firms belong to sectors, sectors to tiers (raw materials, parts, ...,
  final goods); a link mostly goes from a lower tier to a higher one (the next tier most often,
  a tier further with geometric probability), a share ``same_tier_share`` within a tier (these
  make the cycles that real networks have);
- **heavy-tailed degrees**: a firm's size is a Pareto draw; suppliers are drawn with weight
  size, clients with weight size^``in_exponent`` (in-degrees less skewed than out-degrees, as in
  the Japanese data), so a few hubs have very many clients; every firm below the top tier gets one
  client first and every firm above tier 0 one supplier first (isolated firms are rare in real
  data), the rest of the links go by weight;
- **final demand**: every firm sells some output to final demand (lognormal), more in higher
  tiers (``final_demand_by_tier``, relative to the median link amount): final goods are mostly
  consumed, raw materials mostly used by other firms;
- **amounts**: lognormal link amounts;
- **geography**: a country per firm, drawn with the weights of :func:`country_weights` (the
  bundled atlas's average country share of production across its items).

Everything is vectorised numpy (no Python loop over firms or links; loops run over tiers and at
most a few redraw rounds), so 1M firms / 5M links take a few seconds; writing the text files takes
longer than drawing them.

The numbers of the defaults are **assumptions** (ranges in the parameter docs), chosen so that
the degree distributions are heavy-tailed as reported (power-law tails with exponents around
2–2.5 for the Japanese data, i.e. Pareto shapes 1–1.5) and about 10 % of firms have no supplier
(tier 0), as in ENGINE.md Part C's benchmark network.

Examples
--------
>>> g = generate_network(200, 800, seed=1)
>>> g.network.n_firms, g.network.n_links
(200, 800)
>>> bool((g.network.baseline_output > 0).all()), len(g.country) == 200
(True, True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fsutil import atomic_write
from .engine import FirmShocks
from .network import SupplyNetwork

__all__ = ["GeneratedNetwork", "country_weights", "generate_network", "write_generated"]

_MAX_FIRMS = 50_000_000
_MAX_LINKS = 200_000_000


@dataclass(frozen=True, eq=False)
class GeneratedNetwork:
    """A drawn network with its firms' tiers and countries and the parameters that made it."""

    network: SupplyNetwork
    tier: np.ndarray
    """Tier of each firm (0 = raw materials, no supplier in the network)."""
    country: np.ndarray
    """ISO3 code of each firm (``ROW``: rest of the world)."""
    shocks: FirmShocks | None
    parameters: dict[str, object] = field(default_factory=dict)


def country_weights() -> tuple[np.ndarray, np.ndarray, str]:
    """Country weights: each country's mean share of world production over the bundled atlas's items.

    Per item, :func:`paxsilica.atlas.country_production` gives every producing country's share
    (latest year, ``ROW`` for the rest of the world); a country's weight is the mean of its share
    over all items (0 where it makes nothing). These are production shares of the AI supply chain's
    inputs (minerals from USGS MCS 2024 and World Mining Data 2024, chips and tools from the atlas's
    cited sources in ``sources.csv``), not GDP: a synthetic chip-supply network, not an economy.

    Returns
    -------
    codes : array of str
        ISO3 codes (and ``ROW``), sorted by decreasing weight.
    weights : float array
        Summing to 1.
    source : str
        What the weights are, for the network's metadata.

    Examples
    --------
    >>> codes, w, _ = country_weights()
    >>> bool(abs(w.sum() - 1.0) < 1e-12), bool((np.diff(w) <= 0).all())
    (True, True)
    """
    from ..atlas import bundled_atlas
    from ..atlas.views import country_production

    prod = country_production(bundled_atlas())
    n_items = prod["item"].nunique()
    key = prod["country"].astype("string").fillna("ROW")
    per = (prod["share"].astype(float) / 100.0).groupby(key.to_numpy()).sum() / max(n_items, 1)
    per = per[per > 0].sort_values(ascending=False, kind="stable")
    w = per.to_numpy(np.float64)
    return (per.index.to_numpy(dtype=str), w / w.sum(),
            f"mean country share of production over the {n_items} items of the bundled atlas 'ai-stack' "
            "(paxsilica.atlas.country_production; sources in its sources.csv)")


def _pick(rng: np.random.Generator, pool: np.ndarray, cdf: np.ndarray, k: int) -> np.ndarray:
    """``k`` members of ``pool`` drawn with the weights whose normalised cumulative sum is ``cdf``.

    The uniforms are sorted before the search (a binary search with sorted keys stays in cache:
    several times faster on millions of draws) and the picks shuffled back into random order.
    """
    u = np.sort(rng.random(k))
    idx = np.minimum(np.searchsorted(cdf, u, side="right"), pool.size - 1)
    return pool[idx[rng.permutation(k)]]


def generate_network(
    n_firms: int,
    n_links: int,
    *,
    seed: int = 0,
    n_sectors: int = 50,
    tier_shares: tuple[float, ...] = (0.1, 0.2, 0.3, 0.25, 0.15),
    same_tier_share: float = 0.1,
    size_shape: float = 1.2,
    in_exponent: float = 0.6,
    sigma: float = 1.0,
    final_demand_by_tier: tuple[float, ...] | None = None,
    n_shocks: int = 0,
    shock_delta: tuple[float, float] = (0.3, 0.9),
) -> GeneratedNetwork:
    """Draw a seeded multi-tier firm network (see the module docs for the model).

    Parameters
    ----------
    n_firms, n_links : int
        Size; exactly ``n_links`` distinct links (no self-loops) unless the tiers cannot hold that
        many (an ``InputError`` says so).
    seed : int
        Seed of ``numpy.random.default_rng``: the same seed gives the same network.
    n_sectors : int
        Sectors, spread over the tiers in proportion to ``tier_shares`` (at least one per tier).
    tier_shares : tuple of float
        Share of firms per tier, lowest first (assumption: 5 tiers; tier 0, the ~10 % without
        suppliers, as in ENGINE.md Part C).
    same_tier_share : float
        Share of links within a tier (assumption, 0.05–0.2: the cycles of real networks).
    size_shape : float
        Pareto shape of firm size (assumption, 1.0–1.5: out-degree tail exponent ~2–2.5).
    in_exponent : float
        Client weight = size^in_exponent (assumption, 0.5–1: in-degrees less skewed).
    sigma : float
        Lognormal sigma of link amounts and final demand (assumption, 0.5–1.5).
    final_demand_by_tier : tuple of float, optional
        Mean final demand per tier relative to the median link amount (default: 0.2 at tier 0
        rising geometrically to 8 at the top tier).
    n_shocks : int
        Shocked firms drawn among the 100 largest by baseline output, losses uniform in
        ``shock_delta``, from day 0, permanent (as the benchmarks of ENGINE.md Part C).

    Returns
    -------
    GeneratedNetwork

    Examples
    --------
    >>> g = generate_network(1000, 5000, seed=3, n_shocks=2)
    >>> deg = np.bincount(g.network.supplier, minlength=1000)
    >>> bool(deg.max() > 10 * deg.mean()), g.shocks.firm.size
    (True, 2)
    """
    n, m = int(n_firms), int(n_links)
    k_t = len(tier_shares)
    if not 2 <= n <= _MAX_FIRMS:
        raise InputError(f"--firms must be between 2 and {_MAX_FIRMS:,}, got {n:,}")
    if not 1 <= m <= _MAX_LINKS:
        raise InputError(f"--links must be between 1 and {_MAX_LINKS:,}, got {m:,}")
    if k_t < 2 or any(not s > 0 for s in tier_shares):
        raise InputError("tier_shares: at least two tiers, each with a share > 0")
    if not n_sectors >= k_t:
        raise InputError(f"n_sectors must be at least the number of tiers ({k_t}), got {n_sectors}")
    if not 0 <= same_tier_share < 1 or not size_shape > 0 or not sigma >= 0 or not in_exponent >= 0:
        raise InputError("same_tier_share in [0, 1), size_shape > 0, sigma >= 0, in_exponent >= 0")
    if not 0 <= n_shocks <= n:
        raise InputError(f"n_shocks must be between 0 and the number of firms, got {n_shocks}")
    fd_tier = (np.geomspace(0.2, 8.0, k_t) if final_demand_by_tier is None
               else np.asarray(final_demand_by_tier, np.float64))
    if fd_tier.shape != (k_t,) or np.any(fd_tier < 0):
        raise InputError("final_demand_by_tier: one value >= 0 per tier")
    rng = np.random.default_rng(seed)

    # tiers: contiguous blocks of a random permutation, sizes by share (each tier at least one firm)
    share = np.asarray(tier_shares, np.float64) / float(np.sum(tier_shares))
    sizes = np.maximum(np.floor(share * n).astype(np.int64), 1)
    sizes[-1 if sizes.sum() < n else int(np.argmax(sizes))] += n - sizes.sum()
    if np.any(sizes < 1):
        raise InputError(f"--firms: {n} firms cannot fill {k_t} tiers (at least one firm each)")
    tier = np.repeat(np.arange(k_t, dtype=np.int8), sizes)[rng.permutation(n)]
    members = [np.flatnonzero(tier == k) for k in range(k_t)]
    # sectors: a tier's sectors in proportion to its share, firms uniform among them
    sec_per = np.maximum(np.round(share * n_sectors).astype(np.int64), 1)
    sec_per[int(np.argmax(sec_per))] += n_sectors - sec_per.sum()
    sec_per = np.maximum(sec_per, 1)
    sec_off = np.concatenate(([0], np.cumsum(sec_per)[:-1]))
    sector = (sec_off[tier] + (rng.random(n) * sec_per[tier]).astype(np.int64)).astype(np.int64)

    size = rng.pareto(size_shape, n) + 1.0
    out_w, in_w = size, size ** in_exponent

    def cdf_of(w: np.ndarray) -> np.ndarray:
        c = np.cumsum(w)
        return c / c[-1]

    out_cdf = [cdf_of(out_w[p]) for p in members]
    in_cdf = [cdf_of(in_w[p]) for p in members]
    # clients of a drawn link: any firm above tier 0, by client weight
    upper = np.flatnonzero(tier > 0)
    upper_cdf = cdf_of(in_w[upper])

    def supplier_tier(ct: np.ndarray) -> np.ndarray:
        same = rng.random(ct.size) < same_tier_share
        down = ct - rng.geometric(0.65, ct.size)
        return np.where(same, ct, np.maximum(down, 0)).astype(np.int8)

    def client_tier(st: np.ndarray) -> np.ndarray:
        same = (rng.random(st.size) < same_tier_share) & (st > 0)
        up = st + rng.geometric(0.65, st.size)
        return np.where(same, st, np.minimum(up, k_t - 1)).astype(np.int8)

    def by_tier(t_of: np.ndarray, cdfs: list[np.ndarray]) -> np.ndarray:
        out = np.empty(t_of.size, np.int64)
        for k in range(k_t):  # a loop over tiers (a handful), each one vectorised draw
            sel = np.flatnonzero(t_of == k)
            if sel.size:
                out[sel] = _pick(rng, members[k], cdfs[k], sel.size)
        return out

    # first rounds: one supplier for every firm above tier 0, one client for every firm below the
    # top tier (at most a quarter of the links each), in random order
    budget = m // 4
    need_sup = upper[rng.permutation(upper.size)][:budget]
    lower = np.flatnonzero(tier < k_t - 1)
    need_cli = lower[rng.permutation(lower.size)][:budget]
    sup_parts = [by_tier(supplier_tier(tier[need_sup]), out_cdf), need_cli]
    cli_parts = [need_sup, by_tier(client_tier(tier[need_cli]), in_cdf)]
    sup = np.concatenate(sup_parts)
    cli = np.concatenate(cli_parts)
    key = np.zeros(0, np.int64)
    for rnd in range(9):  # redraw rounds until m distinct links (duplicates come from the hubs)
        keep = sup != cli
        sup, cli = sup[keep], cli[keep]
        key = sup * n + cli
        _, first = np.unique(key, return_index=True)
        first.sort()
        sup, cli = sup[first], cli[first]
        if sup.size >= m or rnd == 8:
            break
        extra = int((m - sup.size) * 1.2) + 16
        c_new = _pick(rng, upper, upper_cdf, extra)
        s_new = by_tier(supplier_tier(tier[c_new]), out_cdf)
        sup, cli = np.concatenate((sup, s_new)), np.concatenate((cli, c_new))
    if sup.size < m:
        raise InputError(f"cannot draw {m:,} distinct links among {n:,} firms with these tiers "
                         f"(got {sup.size:,}): ask for fewer links")
    sup, cli = sup[:m], cli[:m]
    del key

    amount = rng.lognormal(0.0, sigma, m)
    scale = float(np.median(amount))
    final_demand = rng.lognormal(0.0, sigma, n) * scale * fd_tier[tier]
    codes, weights, source = country_weights()
    country = codes[np.minimum(np.searchsorted(np.cumsum(weights), rng.random(n) * weights.sum(), side="right"),
                               codes.size - 1)]
    net = SupplyNetwork.from_arrays(sup, cli, amount, n_firms=n, final_demand=final_demand, sector=sector,
                                    sector_names=[f"s{k}" for k in range(n_sectors)],
                                    firm_ids=np.arange(1, n + 1, dtype=np.int64))
    shocks = None
    if n_shocks:
        big = np.argsort(-net.baseline_output, kind="stable")[: max(100, n_shocks)]
        firms = np.sort(rng.choice(big, n_shocks, replace=False))
        lo, hi = shock_delta
        if not 0 <= lo <= hi <= 1:
            raise InputError("shock_delta: 0 <= low <= high <= 1")
        shocks = FirmShocks(firms, rng.uniform(lo, hi, n_shocks), np.zeros(n_shocks, np.int64))
    out_deg = np.bincount(net.supplier, minlength=n)
    in_deg = np.bincount(net.client, minlength=n)
    params: dict[str, object] = {
        "generator": "paxsilica.sim.generate.generate_network",
        "n_firms": n, "n_links": m, "seed": int(seed), "n_sectors": int(n_sectors),
        "tier_shares": [float(s) for s in tier_shares], "same_tier_share": same_tier_share,
        "size_shape": size_shape, "in_exponent": in_exponent, "sigma": sigma,
        "final_demand_by_tier": [float(v) for v in fd_tier], "n_shocks": int(n_shocks),
        "country_weights": source,
        "assumptions": "tier shares, same-tier share, Pareto size shape, client weight exponent, lognormal "
                       "sigma and final demand by tier are assumptions (ranges in generate_network's docs)",
        "stats": {
            "out_degree_max": int(out_deg.max()), "out_degree_mean": float(out_deg.mean()),
            "in_degree_max": int(in_deg.max()), "in_degree_mean": float(in_deg.mean()),
            "firms_without_supplier": int((in_deg == 0).sum()), "firms_without_client": int((out_deg == 0).sum()),
            "firms_per_tier": [int(s) for s in np.bincount(tier, minlength=k_t)],
        },
    }
    return GeneratedNetwork(net, tier, country, shocks, params)


def write_generated(g: GeneratedNetwork, folder: str | Path) -> dict[str, Path]:
    """Write a generated network in the engine's text formats, plus its countries and metadata.

    Files (each written atomically): ``links.txt``, ``final_demand.txt``, ``initial_production.txt``,
    ``sectors.txt`` (and ``shocks.txt`` with shocks) as :func:`paxsilica.sim.textio.write_network_files`
    writes them, ``countries.txt`` (``firm iso3``; not read by the engine) and ``network.json`` (the
    parameters, degree statistics and the source of the country weights).

    Examples
    --------
    >>> import tempfile
    >>> from paxsilica.sim.textio import FirmFiles, read_firm_files
    >>> paths = write_generated(generate_network(50, 150, seed=2), tempfile.mkdtemp())
    >>> net, _ = read_firm_files(FirmFiles(paths["links"], paths["final_demand"],
    ...                                    paths["initial_production"], paths["sectors"]))
    >>> net.n_firms, net.n_links
    (50, 150)
    """
    from .textio import _write_columns, write_network_files

    folder = Path(folder)
    files = write_network_files(g.network, folder, g.shocks)
    countries = _write_columns(folder / "countries.txt", [np.asarray(g.network.firm_ids, np.int64), g.country])
    meta = folder / "network.json"
    atomic_write(meta, json.dumps(g.parameters, indent=1) + "\n")
    out = {"links": files.links, "final_demand": files.final_demand,
           "initial_production": files.initial_production, "sectors": files.sectors,
           "countries": countries, "metadata": meta}
    if files.shocks is not None:
        out["shocks"] = files.shocks
    return out
