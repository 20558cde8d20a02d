"""Atlas → simulation network: sites, links with baseline amounts, lanes, stockpiles, final demand.

The network the engine simulates is built from the atlas in five steps (the choices are documented in
``docs/scenarios.md``):

1. **Items.** The target (default ``ai_datacenter_capacity``) and every item upstream of it through
   recipes with ``dependent_share > 0``.
2. **World output per item, in normalized units.** Quantities of different items are not comparable
   (t of gallium, wafers, MW), so by default (``normalize=True``) each item's world output is what
   its downstream recipes need, derived from the target's final demand ``D`` (100 units): with
   ``M[j, k] = dependent_share(k needs j)``, world output ``W`` solves ``W = D·e_target + M·W``. One
   unit of an input is "what one unit of the dependent part of its client's output needs". With
   ``normalize=False`` the recipes' ``quantity`` (input per unit of output) scales ``M`` and ``D`` is
   the target's production quantity in the atlas.
3. **Sites** are (item, producer) at country level (country rows plus the ``ROW`` rest-of-world row;
   latest year, or the latest not after ``year``); producer shares are normalized to sum to 1 per item.
   An item without production rows gets one ``ROW`` site.
4. **Links** carry the baseline flow from supplier sites of input ``j`` to client sites of items that
   need ``j``: client site ``(k, c)`` needs ``dependent_share(k, j) · p̄(k, c)`` of ``j``. The split over
   suppliers is a matrix fitted by iterative proportional fitting (IPF): its rows are the clients'
   needs (exact) and its columns the suppliers' production shares of world output (to tolerance);
   its seed is the importer's sourcing mix — bilateral trade shares where the atlas has trade of ``j``
   into the client's country (latest year; quantity, else value; exporters that are not producer sites
   go to ``ROW``), mixed with the client country's own production share as home supply, else plain
   production shares. So baseline output of every site equals its final demand plus what its clients
   need (flows are conserved by construction) and is its production share of world output.
5. **dependent_share < 1.** The engine is Leontief in sectors: a client cannot produce more than its
   scarcest sector stock allows. The part ``1 - dependent_share`` of a client's output that does not
   need input ``j`` is given a **virtual "no-need" supplier** of sector ``j`` (one virtual site per
   input item, no suppliers, never shocked, no lane, excluded from re-sourcing): it delivers
   ``(1 - ds) · p̄`` of "sector j" to the client, so that when every real supplier of ``j`` is cut
   the client can still make ``1 - ds`` of its output. Virtual sites are flagged (``virtual``) and
   left out of every reported total.

Lanes: link lead times come from the logistics lane table (days → steps of ``step_days``, at least
1 step); links without a lane (same country, ``ROW``, no logistics data) take one step. Stockpiles:
``stocks.days_of_cover`` for a (holder, item) is a strategic reserve, in days of baseline flow, on the
links of that item into the holder's sites (holder = a country, or a group: all its members); it is
drawn only when a scenario releases it (working inventories are the engine's ``inventory_days``).

Examples
--------
>>> from paxsilica.network.build import tiny_atlas
>>> net, index = build_network(tiny_atlas(), target="chip")
>>> index.sites[["item", "producer", "baseline"]].round(6).values.tolist()[:2]
[['chip', 'TWN', 100.0], ['wafer', 'JPN', 60.0]]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..constants import DEFAULT_TARGET
from ..errors import InputError, NotFoundError
from .dynamics import MAX_OUTSIDE_SHARE, Dynamics
from .plan import upstream_plan

TARGET_DEMAND = 100.0
"""World final demand of the target in normalized units."""
IPF_ITERATIONS = 500
IPF_TOLERANCE = 1e-10
SEED_FLOOR = 1e-9
"""Numerical floor added to IPF seeds so every producer can reach its share (not a data assumption)."""
VIRTUAL_PRODUCER = "NO_NEED"
WORLD = "WORLD"
OPERATION_SUFFIX = ".operation"
CAPACITY_SUFFIX = ".capacity"
"""Item label of the sinks that stand for the capacity additions of an item with capital goods."""
"""Item label of the sinks that stand for running the installed target capacity (its operating inputs)."""
PRUNE_SHARE = 0.02
"""Links below 2 % of their client's need of an input are dropped (the client's other suppliers of it
take their part): fitted sourcing otherwise gives every producer a sliver of every client."""
MERGE_SHARE = 0.01
"""Producers below 1 % of an item's world output are merged into its rest-of-world site (they matter
in aggregate, not one by one, and each costs the engine a site and its links)."""
DS_FLOOR = 1e-6
"""Smallest dependent share of a link that exists (a share that may be 0 in a draw keeps its link)."""
VIRTUAL_FLOOR = 1e-6
"""Smallest no-need share kept on a virtual link whose dependent share may reach 1 in a draw (numerical)."""
DEFAULT_SUBSTITUTION_DAYS = 90.0
"""Adaptation time where a substitution fraction is given without one (assumption; docs/atlas.md)."""


@dataclass(frozen=True)
class SiteIndex:
    """What the flat arrays of the network mean, as tables.

    Attributes
    ----------
    sites : DataFrame
        One row per site, in engine order: ``site`` (int), ``item``, ``producer``, ``country``
        (iso3 or ``ROW``/blank), ``share`` (of world output, 0..1), ``baseline`` (p̄), ``final_demand``,
        ``capacity_headroom`` (fraction above p̄ from atlas capacity/quantity, NaN when unknown),
        ``virtual`` (bool), ``stage``.
    links : DataFrame
        One row per link: ``link``, ``supplier``, ``client`` (site ids), ``item`` (supplier's item),
        ``client_item``, ``exporter``, ``importer``, ``amount``, ``lead_days``, ``lead_steps``,
        ``chokepoints`` (``;``-separated), ``mode``, ``stock_days`` (strategic reserve in days of the
        link's baseline flow from atlas ``stocks``, NaN: none), ``virtual``.
    final : DataFrame
        Final demand by consumer: ``site``, ``consumer``, ``amount``.
    target : str
    units : str
        ``"normalized"`` or ``"item units"``.
    step_days : int
    atlas_version : str
    notes : tuple of str
        Approximations taken while building (missing production, unknown lanes, …).
    """

    sites: pd.DataFrame
    links: pd.DataFrame
    final: pd.DataFrame
    target: str
    units: str = "normalized"
    step_days: int = 1
    atlas_version: str = ""
    notes: tuple[str, ...] = ()
    consumers: tuple[str, ...] = field(default=())
    capital: pd.DataFrame | None = field(default=None, repr=False)
    dynamics: Dynamics = field(default_factory=Dynamics, repr=False)
    ranges: dict = field(default_factory=dict, repr=False)
    order: tuple[str, ...] = ()
    local_items: frozenset[str] = frozenset()
    memo: dict = field(default_factory=dict, repr=False, compare=False)
    """Lookup tables derived from this index by the stress measures (scoped to the index)."""

    def site_id(self, item: str, producer: str) -> int:
        """Engine index of site (item, producer)."""
        s = self.sites
        hit = s.index[(s["item"] == item) & (s["producer"] == producer)]
        if not len(hit):
            raise NotFoundError(f"no site ({item}, {producer}) in the network")
        return int(s.loc[hit[0], "site"])

    @property
    def real_sites(self) -> pd.DataFrame:
        return self.sites[~self.sites["virtual"]]


# --------------------------------------------------------------------------- helpers


def _country_production(atlas: Any, year: int | None) -> pd.DataFrame:
    """Country-level production (firm-only items summed by country) with ``share_f``, each item's
    shares as fractions normalized to sum to 1."""
    from ..atlas import country_production

    prod = country_production(atlas, year)
    prod = prod.assign(share_f=prod["share"].astype("float64").fillna(0.0) / 100.0)
    prod = prod[prod["share_f"] > 0]
    return prod.assign(share_f=prod["share_f"] / prod.groupby("item")["share_f"].transform("sum"))


def _local_items(atlas: Any, modes_of: tuple[str, ...] = ("local", "grid")) -> set[str]:
    try:
        from ..logistics import transport_modes

        modes = transport_modes(atlas)
    except Exception:
        it = atlas["items"]
        modes = {str(a): str(b) for a, b in zip(it["item"], it["transport_mode"], strict=True) if isinstance(b, str)}
    return {k for k, v in modes.items() if v in modes_of}


def _upstream(recipes: pd.DataFrame, target: str) -> list[str]:
    return list(upstream_plan(recipes, target).items)


def _world_output(items: list[str], recipes: pd.DataFrame, target: str, demand: float,
                  normalize: bool) -> np.ndarray:
    pos = {it: i for i, it in enumerate(items)}
    n = len(items)
    m = np.zeros((n, n))
    for row in recipes.itertuples(index=False):
        if row.item in pos and row.input in pos:
            q = 1.0 if normalize else float(row.quantity)
            m[pos[row.input], pos[row.item]] += float(row.dependent_share) * q
    d = np.zeros(n)
    d[pos[target]] = demand
    try:
        w = np.linalg.solve(np.eye(n) - m, d)
    except np.linalg.LinAlgError:
        raise InputError("recipes form a cycle that needs more of an item than it makes; "
                         "world output cannot be derived", file="recipes.csv") from None
    if np.any(w < -1e-9) or not np.all(np.isfinite(w)):
        raise InputError("recipes form a cycle that needs more of an item than it makes", file="recipes.csv")
    return np.maximum(w, 0.0)


def _trade_by_item(atlas: Any, year: int | None) -> dict[str, pd.DataFrame]:
    """Trade rows per item (years not after ``year``), split once for every :func:`_trade_mix`."""
    tr = atlas["trade"]
    if tr.empty:
        return {}
    if year is not None:
        tr = tr[tr["year"].astype("float64") <= year]
    return {str(k): g for k, g in tr.groupby("item", sort=False)}


def _trade_mix(atlas: Any, item: str, producers: list[str], year: int | None,
               by_item: Mapping[str, pd.DataFrame] | None = None) -> dict[str, np.ndarray]:
    if by_item is None:
        by_item = _trade_by_item(atlas, year)
    tr = by_item.get(item)
    if tr is None or tr.empty:
        return {}
    tr = tr[tr["year"] == tr["year"].max()]
    qty = tr["quantity"].astype("float64")
    use = qty if qty.notna().any() and qty.fillna(0).sum() > 0 else tr["value"].astype("float64")
    w_all = use.fillna(0.0).to_numpy(dtype=float)
    exp_all = tr["exporter"].astype(object).to_numpy()
    imp_all = tr["importer"].astype(object).to_numpy()
    pos = {p: i for i, p in enumerate(producers)}
    row_pos = pos.get("ROW")
    groups: dict[str, list[int]] = {}
    for k, imp in enumerate(imp_all):
        if isinstance(imp, str):  # like groupby, rows without an importer are left out
            groups.setdefault(imp, []).append(k)
    out: dict[str, np.ndarray] = {}
    for imp in sorted(groups, key=str):
        v = np.zeros(len(producers))
        for k in groups[imp]:
            exp = exp_all[k]
            if exp == imp:
                continue
            if exp in pos:
                v[pos[exp]] += w_all[k]
            elif row_pos is not None:
                v[row_pos] += w_all[k]
        if v.sum() > 0:
            out[str(imp)] = v / v.sum()
    return out


def _ipf(seed: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Scale ``seed`` so its row sums are ``rows`` (exact) and column sums approach ``cols``."""
    x = seed.copy()
    for _ in range(IPF_ITERATIONS):
        rs = x.sum(axis=1)
        x *= np.divide(rows, rs, out=np.zeros_like(rows), where=rs > 0)[:, None]
        cs = x.sum(axis=0)
        x *= np.divide(cols, cs, out=np.zeros_like(cols), where=cs > 0)[None, :]
        err = np.abs(x.sum(axis=1) - rows).max(initial=0.0)
        if err <= IPF_TOLERANCE * max(1.0, rows.max(initial=0.0)):
            break
    rs = x.sum(axis=1)
    x *= np.divide(rows, rs, out=np.zeros_like(rows), where=rs > 0)[:, None]
    return x


def _sourcing(client_countries: list[str], needs: np.ndarray, producers: list[str], shares: np.ndarray,
              trade: Mapping[str, np.ndarray], local: bool = False) -> np.ndarray:
    """Split each client's need over producers (matrix clients × producers).

    ``local`` items (transport mode local or grid) are bought at home where the client's country
    produces them, else from producers in proportion to their shares; no column fitting.
    """
    pos = {p: i for i, p in enumerate(producers)}
    if local:
        x = np.zeros((len(client_countries), len(producers)))
        for r, c in enumerate(client_countries):
            if c in pos:
                x[r, pos[c]] = needs[r]
            else:
                x[r] = needs[r] * shares
        return x
    seed = _seed(client_countries, producers, shares, trade)
    total = needs.sum()
    if total <= 0:
        return np.zeros_like(seed)
    return _ipf(seed, needs.astype(float), shares * total)


def _seed(client_countries: list[str], producers: list[str], shares: np.ndarray,
          trade: Mapping[str, np.ndarray]) -> np.ndarray:
    """IPF seed: each client country's import mix blended with its own production share as home
    supply (plain production shares where it has no trade), plus a numerical floor."""
    pos = {p: i for i, p in enumerate(producers)}
    seed = np.empty((len(client_countries), len(producers)))
    for r, c in enumerate(client_countries):
        if c in trade:
            home = np.zeros(len(producers))
            own = shares[pos[c]] if c in pos else 0.0
            if c in pos:
                home[pos[c]] = 1.0
            seed[r] = (1.0 - own) * trade[c] + own * home
        else:
            seed[r] = shares
    return seed + SEED_FLOOR * np.maximum(shares, 1e-12)[None, :]


def _consumer_demand(consumers: Any, target_prod: pd.DataFrame, demand: float) -> dict[str, float]:
    """Final demand of the target by consumer."""
    if consumers is None or consumers == "producers":
        out = {str(p): float(s) * demand for p, s in zip(target_prod["producer"], target_prod["share_f"], strict=True)}
        return out or {WORLD: demand}
    if consumers == "world":
        return {WORLD: demand}
    if isinstance(consumers, Mapping):
        tot = float(sum(consumers.values()))
        if tot <= 0:
            raise InputError("consumer shares must sum to a positive number")
        return {str(k): float(v) / tot * demand for k, v in consumers.items()}
    if isinstance(consumers, Iterable) and not isinstance(consumers, str):
        named = [str(c) for c in consumers]
        base = {str(p): float(s) for p, s in zip(target_prod["producer"], target_prod["share_f"], strict=True)}
        out = {c: base.get(c, 0.0) * demand for c in named}
        rest = demand - sum(out.values())
        if rest > 1e-12:
            out["REST" if "ROW" in out else "ROW"] = rest
        return {k: v for k, v in out.items() if v > 0} or {WORLD: demand}
    raise InputError(f"consumers must be 'producers', 'world', a list of countries or a mapping; got {consumers!r}")


# --------------------------------------------------------------------------- main


def _use_of(rec: pd.DataFrame) -> pd.Series:
    if "use" not in rec.columns:
        return pd.Series("material", index=rec.index)
    return rec["use"].astype(object).where(rec["use"].notna(), "material").astype(str)


def _topo_order(items: list[str], rec: pd.DataFrame) -> list[str]:
    """Items ordered clients first (every item after all items that use it)."""
    from graphlib import TopologicalSorter

    pos = set(items)
    ts: TopologicalSorter = TopologicalSorter({it: set() for it in items})
    for k, j in zip(rec["item"], rec["input"], strict=True):
        if k in pos and j in pos:
            ts.add(j, k)  # j (input) comes after k (its client)
    order = list(ts.static_order())
    return [it for it in order if it in pos]


def _ds_range(row: Any) -> tuple[float, float, float]:
    v = float(row.dependent_share)
    lo = getattr(row, "dependent_share_low", None)
    hi = getattr(row, "dependent_share_high", None)
    lo = float(lo) if lo is not None and lo == lo and lo is not pd.NA else v
    hi = float(hi) if hi is not None and hi == hi and hi is not pd.NA else v
    return v, min(lo, v), max(hi, v)


def _power_mix(atlas: Any) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Per country: gas_share, lng_share, storage_days as (value, low, high)."""
    try:
        pm = atlas["power_mix"]
    except KeyError:
        return {}
    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    for r in pm.to_dict("records"):
        c = str(r.get("country"))
        d: dict[str, tuple[float, float, float]] = {}
        for f in ("gas_share", "lng_share", "storage_days"):
            v = r.get(f)
            if v is None or v != v or v is pd.NA:
                continue
            lo, hi = r.get(f + "_low"), r.get(f + "_high")
            lo = float(lo) if lo is not None and lo == lo and lo is not pd.NA else float(v)
            hi = float(hi) if hi is not None and hi == hi and hi is not pd.NA else float(v)
            d[f] = (float(v), min(lo, float(v)), max(hi, float(v)))
        out[c] = d
    return out


def _controllers(atlas: Any, year: int | None) -> dict[tuple[str, str], dict[str, float]]:
    """Who controls each (item, made-in country) site: controller iso3 -> share of the site's output.

    Country rows: ``controlled_by`` where given, else the country. Firm rows (items with only firm rows):
    ``controlled_by``, else the firm's headquarters; the site is where the firm makes it (``country``).
    """
    from ..atlas import country_production
    from ..atlas.validate import production_level

    prod = atlas["production"]
    if "controlled_by" not in prod.columns:
        return {}
    prod = prod[prod["share"].notna() & prod["year"].notna()]
    if year is not None:
        prod = prod[prod["year"] <= year]
    lvl = production_level(prod).to_numpy()
    cp = country_production(atlas, year)
    firm_only = set(cp.loc[cp["from_firms"].astype(bool), "item"])
    hq = dict(zip(atlas["firms"]["firm"], atlas["firms"]["country"], strict=True)) if not atlas["firms"].empty else {}
    out: dict[tuple[str, str], dict[str, float]] = {}
    for it, g in prod.groupby("item"):
        want = "firm" if it in firm_only else "country"
        g = g[lvl[prod.index.get_indexer(g.index)] == want]
        if g.empty:
            continue
        g = g[g["year"] == g["year"].max()]
        for r in g.to_dict("records"):
            p = str(r["producer"])
            cb = r.get("controlled_by")
            cb = str(cb) if isinstance(cb, str) and cb else None
            if want == "country":
                site = p
                ctrl = cb or p
            else:
                made = r.get("country")
                site = str(made) if isinstance(made, str) and made else (hq.get(p) or "ROW")
                if p == "OTHER":
                    site = "ROW"
                ctrl = cb or hq.get(p) or site
            d = out.setdefault((str(it), site), {})
            d[ctrl] = d.get(ctrl, 0.0) + float(r["share"])
    for k, d in out.items():
        tot = sum(d.values())
        if tot > 0:
            out[k] = {c: v / tot for c, v in d.items()}
    return out


def _declared(atlas: Any) -> dict[tuple[str, str], list[tuple[str, str, float]]]:
    """Declared supply: (input, client item) -> [(client country or '', supplier, share 0..1)]."""
    try:
        t = atlas["sourcing"]
    except KeyError:
        return {}
    out: dict[tuple[str, str], list[tuple[str, str, float]]] = {}
    for r in t.to_dict("records"):
        c = r.get("client")
        out.setdefault((str(r["item"]), str(r["client_item"])), []).append(
            (str(c) if isinstance(c, str) and c else "", str(r["supplier"]), float(r["share"]) / 100.0))
    return out


def _row_lane_country(atlas: Any, item: str, producers: list[str], side: str,
                      by_item: Mapping[str, pd.DataFrame]) -> str:
    """The largest actual trader behind ``ROW`` for an item: the biggest exporter (``side='exporter'``)
    or importer of it in the trade table that is not a listed producer; '' without trade data."""
    tr = by_item.get(item)
    if tr is None or tr.empty:
        return ""
    tr = tr[tr["year"] == tr["year"].max()]
    qty = tr["quantity"].astype("float64")
    w = qty if qty.notna().any() and qty.fillna(0).sum() > 0 else tr["value"].astype("float64")
    tot = w.fillna(0.0).groupby(tr[side].astype(str)).sum()
    tot = tot[~tot.index.isin(producers)]
    tot = tot[tot > 0]
    return "" if tot.empty else str(tot.sort_values(ascending=False, kind="mergesort").index[0])


def build_index(
    atlas: Any,
    *,
    target: str = DEFAULT_TARGET,
    consumers: Any = "producers",
    year: int | None = None,
    normalize: bool = True,
    lanes: pd.DataFrame | None = None,
    step_days: int = 1,
    demand: float | None = None,
    atlas_version: str | None = None,
    prune: float = PRUNE_SHARE,
    merge: float = MERGE_SHARE,
) -> SiteIndex:
    """Build the tables of the simulation network (see the module docstring for every choice).

    Parameters
    ----------
    atlas : Atlas
    target : str
        Item whose final demand drives the network (capacity additions of the target).
    consumers : "producers", "world", list of countries, or mapping consumer → share
        Who holds the target's final demand: by default each producer country of the target in
        proportion to its share (data centres serve where they stand); a list keeps those countries'
        shares and puts the rest on ``ROW``.
    year : int, optional
        Use production and trade of the latest year not after this.
    normalize : bool
        Normalized units (default) or item units from recipe quantities.
    lanes : DataFrame, optional
        A lane table (``exporter, importer, days, chokepoints``); default: computed with
        :func:`paxsilica.logistics.lane_table` when available, else one step per link.
    step_days : int
        Days per engine step.
    demand : float, optional
        World final demand of the target (default 100 normalized units, or the target's production
        quantity when ``normalize=False``).
    atlas_version : str, optional
        The atlas's version when the caller already has it (hashing the atlas takes a while).
    prune : float
        Links carrying less than this share of their client's need of an input are dropped and the
        client's other suppliers of it scaled up (the largest supplier is always kept); 0 keeps all.
    merge : float
        Producers with less than this share of an item's world output are merged into its ``ROW`` site
        (0 keeps every producer); a scenario naming one of them is told so.

    Returns
    -------
    SiteIndex
    """
    items_t = atlas["items"]
    known = set(items_t["item"].dropna())
    if target not in known:
        import difflib

        close = difflib.get_close_matches(target, sorted(known), n=3)
        raise NotFoundError(f"unknown target item '{target}'" + (f"; did you mean {', '.join(close)}?" if close else ""))
    notes: list[str] = []
    dyn = Dynamics.of(atlas)
    rec_all = atlas["recipes"]
    rec_all = rec_all[rec_all["dependent_share"].astype("float64").fillna(0) > 0]
    rec_all = rec_all[rec_all["item"].isin(known) & rec_all["input"].isin(known)].reset_index(drop=True)
    use = _use_of(rec_all)
    # capital goods of every item but the target leave the daily flow network: installed tools keep
    # running within a stress horizon, a cut delays capacity additions (reported as capital exposure)
    # (items of the infrastructure stage are capacity additions themselves: their capital goods are the
    # flow they are made of)
    infra = rec_all["item"].map(dict(zip(items_t["item"], items_t["stage"], strict=True))).eq("infrastructure")
    is_cap = (use == "capital").to_numpy() & ~infra.to_numpy()
    # the target is capacity additions; its operating inputs are drawn by the installed stock
    target_is_stock = dict(zip(items_t["item"], items_t["stage"], strict=True)).get(target) == "infrastructure"
    is_op_t = (use == "operating").to_numpy() & (rec_all["item"] == target).to_numpy() & target_is_stock
    op_rows = rec_all[is_op_t]
    rec = rec_all[~is_cap & ~is_op_t].reset_index(drop=True)
    items = _upstream(rec, target)
    all_cap = rec_all[is_cap]
    grow = list(op_rows["input"])
    while True:  # the upstream of operating inputs and of the capital goods of every item in the network
        for j in grow:
            for it in _upstream(rec, str(j)):
                if it not in items:
                    items.append(it)
        cap_rows = all_cap[all_cap["item"].isin(items)].reset_index(drop=True)
        grow = [str(j) for j in cap_rows["input"] if j not in items]
        if not grow:
            break
    rec = rec[rec["item"].isin(items) & rec["input"].isin(items)].reset_index(drop=True)
    capital = cap_rows[["item", "input", "dependent_share"]].reset_index(drop=True)
    prod = _country_production(atlas, year)
    if demand is None:
        if normalize:
            demand = TARGET_DEMAND
        else:
            q = prod.loc[prod["item"] == target, "quantity"].astype("float64").sum()
            if not q > 0:
                raise InputError(f"normalize=False needs a production quantity for the target '{target}'",
                                 file="production.csv", column="quantity")
            demand = float(q)
    if not normalize:
        missing = rec[rec["quantity"].isna()]
        if len(missing):
            rows = ", ".join(f"{a}<-{b}" for a, b in zip(missing["item"], missing["input"], strict=True))
            raise InputError(f"normalize=False needs recipe quantities; missing for {rows}",
                             file="recipes.csv", column="quantity")
    derived = sorted(set(prod.loc[prod["from_firms"].eq(True), "item"])) if "from_firms" in prod.columns else []
    if derived:
        notes.append("country sites derived from firm rows (made-in country, else headquarters) for: "
                     + ", ".join(derived))
    local_items = _local_items(atlas)
    # pipeline items (natural gas) are bought at home where the client's country produces them: gas for
    # power, helium and liquefaction is mostly domestic; seaborne gas is the separate LNG item
    home_items = local_items | _local_items(atlas, ("pipeline",))
    stage = dict(zip(items_t["item"], items_t["stage"], strict=True))
    order = _topo_order(items, pd.concat([rec[["item", "input"]], cap_rows[["item", "input"]]], ignore_index=True))
    ctrl = _controllers(atlas, year)
    pmix = _power_mix(atlas)
    dyn = _with_storage(dyn, pmix)
    declared = _declared(atlas)
    trade_by_item = _trade_by_item(atlas, year)

    # ---- sites: production rows (shares normalized per item) ...
    rows: list[dict[str, Any]] = []
    producers_of: dict[str, list[str]] = {}
    shares_of: dict[str, np.ndarray] = {}
    no_prod: list[str] = []
    for it in items:
        p = prod[prod["item"] == it]
        if p.empty:
            no_prod.append(it)
            p = pd.DataFrame({"producer": ["ROW"], "share_f": [1.0], "quantity": [np.nan], "capacity": [np.nan]})
        p = _merge_small(p, merge)
        p = p.sort_values("share_f", ascending=False, kind="mergesort")
        producers_of[it] = [str(x) for x in p["producer"]]
        shares_of[it] = p["share_f"].to_numpy(dtype=float)
        for r in p.itertuples(index=False):
            q, cap = float(getattr(r, "quantity", np.nan)), float(getattr(r, "capacity", np.nan))
            head = cap / q - 1.0 if q > 0 and cap > 0 else np.nan
            rows.append({"item": it, "producer": str(r.producer),
                         "country": "" if str(r.producer) == "ROW" else str(r.producer),
                         "share": float(r.share_f), "capacity_headroom": max(head, 0.0) if head == head else np.nan,
                         "virtual": False, "kind": "site", "stage": stage.get(it, "")})
    if no_prod:
        notes.append("no production rows (one ROW site holds all output) for: " + ", ".join(no_prod))
    site_pos = {(r["item"], r["producer"]): i for i, r in enumerate(rows)}

    def add_site(it: str, producer: str, kind: str = "site", virtual: bool = False, country: str | None = None,
                 item_label: str | None = None, of_site: int = -1) -> int:
        rows.append({"item": item_label or it, "producer": producer,
                     "country": ("" if producer == "ROW" else producer) if country is None else country,
                     "share": 0.0, "capacity_headroom": np.nan if kind == "site" else 0.0, "virtual": virtual,
                     "kind": kind, "stage": stage.get(it, ""), "of_site": of_site})
        site_pos[(item_label or it, producer)] = len(rows) - 1
        return len(rows) - 1

    for r in rows:
        r["of_site"] = -1

    # ... the installed capacity's operation (one sink per target site, drawing the operating inputs) ...
    target_sites = [site_pos[(target, p)] for p in producers_of[target]]
    op_item = f"{target}{OPERATION_SUFFIX}"
    op_sink: dict[int, int] = {}
    if len(op_rows):
        for ts in target_sites:
            op_sink[ts] = add_site(target, rows[ts]["producer"], kind="operation", virtual=True,
                                   country=rows[ts]["country"], item_label=op_item, of_site=ts)
    # ... the capacity additions of every item with capital goods (tools, for fabs): one sink per site;
    # they draw the capital goods and stand apart from the item's daily output
    cap_sinks: dict[str, list[int]] = {}
    for k in dict.fromkeys(cap_rows["item"]):
        for p in producers_of[str(k)]:
            ks = site_pos[(str(k), p)]
            cap_sinks.setdefault(str(k), []).append(
                add_site(str(k), p, kind="capital", virtual=True, country=rows[ks]["country"],
                         item_label=f"{k}{CAPACITY_SUFFIX}", of_site=ks))
    # ... and a home site of every grid/local input in each country that uses it (power is not shipped)
    users_of: dict[str, list[tuple[str, str, float, float, float, float]]] = {}
    for r in rec.itertuples(index=False):
        v, lo, hi = _ds_range(r)
        q = 1.0 if normalize else float(r.quantity)
        users_of.setdefault(str(r.input), []).append((str(r.item), "material",
                                                      v, lo, hi, q))
    for r in op_rows.itertuples(index=False):
        v, lo, hi = _ds_range(r)
        users_of.setdefault(str(r.input), []).append((op_item, "operating", v, lo, hi, 1.0))
    for r in cap_rows.itertuples(index=False):
        v, lo, hi = _ds_range(r)
        users_of.setdefault(str(r.input), []).append((f"{r.item}{CAPACITY_SUFFIX}", "capital", v, lo, hi, 1.0))
    for j in order:
        if j not in local_items or j not in users_of:
            continue
        countries = []
        for (k, *_rest) in users_of[j]:
            for row in rows:
                if row["item"] == k:
                    countries.append(row["country"] or "ROW")
        for c in dict.fromkeys(countries):
            if (j, c) not in site_pos:
                add_site(j, c)
                producers_of[j].append(c)
                shares_of[j] = np.append(shares_of[j], 0.0)

    n_real = len(rows)
    s_item = [r["item"] for r in rows]
    s_country = [r["country"] for r in rows]
    sites_of: dict[str, list[int]] = {}
    for i, it in enumerate(s_item):
        sites_of.setdefault(it, []).append(i)

    # ---- final demand of the target by consumer (and of the operation sinks: their own use)
    tp = prod[prod["item"] == target]
    if tp.empty:
        tp = pd.DataFrame({"producer": ["ROW"], "share_f": [1.0]})
    cons = _consumer_demand(consumers, tp, float(demand))
    cnames = list(cons)
    cneed = np.array([cons[c] for c in cnames])
    tprods = producers_of[target]
    tmix = _trade_mix(atlas, target, tprods, year, trade_by_item)
    x = _sourcing(cnames, cneed, tprods, shares_of[target], tmix, local=target in local_items)
    final_rows = []
    for ci, c in enumerate(cnames):
        for pi, p in enumerate(tprods):
            if x[ci, pi] > 0:
                final_rows.append({"site": site_pos[(target, p)], "consumer": c, "amount": float(x[ci, pi])})
    final = pd.DataFrame(final_rows, columns=["site", "consumer", "amount"])
    f_target = np.zeros(n_real)
    fd = final.groupby("site")["amount"].sum()
    f_target[fd.index.to_numpy(dtype=int)] = fd.to_numpy()
    for ts, sk in op_sink.items():  # installed capacity in proportion to the site's share of additions
        f_target[sk] = f_target[ts]

    # ---- links: who supplies whom, as fractions of each client's need (fitted once, on central values)
    # outside shares and needs of the first pass (central values): clients before their inputs
    pbar0 = f_target.copy()
    o_site = np.zeros(n_real)
    for i in range(n_real):
        if rows[i]["kind"] == "site" and s_item[i] != target:
            o_site[i] = _outside(dyn, s_item[i], s_country[i])
    link_rows: list[dict[str, Any]] = []
    ds_ranges: dict[tuple[str, str, str, str], tuple[float, float, float]] = {}
    for j in order:
        j_sites = [i for i in sites_of.get(j, []) if rows[i]["kind"] == "site"]
        if j in users_of:
            clients, needs, meta = [], [], []
            for (k, usage, v, lo, hi, qs) in users_of[j]:
                for ci in sites_of.get(k, []):
                    dsv, dlo, dhi = v, lo, hi
                    key = (j, "dependent_share", k, "")
                    if k == "electricity" and j in ("natural_gas", "lng") and s_country[ci] in pmix:
                        mix = pmix[s_country[ci]]
                        g = mix.get("gas_share")
                        if g is not None:
                            ls = mix.get("lng_share", (0.0, 0.0, 0.0))
                            if j == "lng":
                                dsv, dlo, dhi = g[0] * ls[0], g[1] * ls[1], g[2] * ls[2]
                            else:
                                dsv, dlo, dhi = g[0] * (1 - ls[0]), g[1] * (1 - ls[2]), g[2] * (1 - ls[1])
                            key = (j, "dependent_share", k, s_country[ci])
                    if dhi <= 0:
                        continue  # never needed here (e.g. no LNG in a country's power)
                    dsv = max(dsv, DS_FLOOR)
                    if dhi > dlo:
                        ds_ranges[key] = (dsv, max(dlo, DS_FLOOR), dhi)
                    clients.append(ci)
                    needs.append(dsv * qs * pbar0[ci])
                    meta.append((k, usage, dsv, dlo, dhi, qs, key))
            frac = _fractions(atlas, j, clients, np.array(needs), [s_country[c] or "ROW" for c in clients],
                              [rows[c]["item"] for c in clients], producers_of[j], shares_of[j], trade_by_item,
                              year, j in home_items, declared, prune)
            sup_ids = [site_pos[(j, p)] for p in producers_of[j]]
            rr, pp = np.nonzero(frac > 0)
            for r_, p_ in zip(rr.tolist(), pp.tolist(), strict=True):
                ci = clients[r_]
                k, usage, dsv, dlo, dhi, q, key = meta[r_]
                exp = producers_of[j][p_]
                link_rows.append({"supplier": sup_ids[p_], "client": ci, "item": j, "client_item": rows[ci]["item"],
                                  "exporter": "" if exp == "ROW" else exp, "importer": s_country[ci],
                                  "frac": float(frac[r_, p_]), "ds": dsv, "ds_key": key, "q": q, "use": usage,
                                  "virtual": False})
            # needs of this item are known: its sites' output of the first pass
            for r_ in range(len(clients)):
                for p_ in np.flatnonzero(frac[r_] > 0):
                    pbar0[sup_ids[p_]] += frac[r_, p_] * needs[r_]
        chain = pbar0[j_sites]
        if j != target and j_sites:
            pbar0[j_sites] = chain + _outside_demand(chain, shares_of[j][[producers_of[j].index(rows[i]["producer"])
                                                                          for i in j_sites]],
                                                     o_site[j_sites], j in local_items)
        for sk in cap_sinks.get(j, []):  # capacity additions in proportion to the site's output
            pbar0[sk] = pbar0[rows[sk]["of_site"]]
    # virtual no-need suppliers, one per (client, input) with a dependent share that can be below 1
    need_virtual = {}
    for lk in link_rows:
        k = lk["ds_key"]
        lo = ds_ranges.get(k, (lk["ds"], lk["ds"], lk["ds"]))[1]
        if min(lk["ds"], lo) < 1.0:
            need_virtual[(lk["client"], lk["item"])] = lk
    vrows = []
    for (ci, j), lk in need_virtual.items():
        vid = len(rows) + len(vrows)
        vrows.append({"item": j, "producer": f"{VIRTUAL_PRODUCER}:{rows[ci]['item']}@{rows[ci]['producer']}",
                      "country": "", "share": 0.0, "capacity_headroom": 0.0, "virtual": True, "kind": "no_need",
                      "stage": stage.get(j, ""), "of_site": -1})
        link_rows.append({"supplier": vid, "client": ci, "item": j, "client_item": rows[ci]["item"],
                          "exporter": "", "importer": s_country[ci], "frac": 1.0, "ds": lk["ds"],
                          "ds_key": lk["ds_key"], "q": lk["q"], "use": lk["use"], "virtual": True})
    sites = pd.DataFrame(rows + vrows)
    sites["virtual"] = sites["virtual"].astype(bool)
    sites["outside_share"] = np.append(o_site, np.zeros(len(sites) - n_real))
    f_all = f_target.copy()
    for ks in [i for v in cap_sinks.values() for i in v]:
        f_all[ks] = pbar0[ks]
    sites["target_demand"] = np.append(f_all, np.zeros(len(sites) - n_real))
    sites["controllers"] = [";".join(f"{c}:{v:.6g}" for c, v in sorted(ctrl.get((r["item"], r["country"] or "ROW"),
                                                                                {}).items()))
                            if r["kind"] == "site" else "" for r in rows + vrows]
    links = pd.DataFrame(link_rows)
    links = links.sort_values(["client", "supplier"], kind="mergesort").reset_index(drop=True)
    links.insert(0, "link", np.arange(len(links)))
    sites.insert(0, "site", np.arange(len(sites)))
    sites["topo"] = sites["item"].map({it: i for i, it in enumerate(order)}).fillna(-1).astype(int)

    index = SiteIndex(sites=sites, links=links, final=final, target=target,
                      units="normalized" if normalize else "item units", step_days=step_days,
                      atlas_version=getattr(atlas, "version", "") if atlas_version is None else atlas_version,
                      notes=tuple(notes), consumers=tuple(cnames), capital=capital, dynamics=dyn,
                      ranges=ds_ranges, order=tuple(order), local_items=frozenset(local_items))
    flows = index_flows(index)
    sites = sites.assign(baseline=flows.baseline, final_demand=flows.final_demand,
                         outside_demand=flows.outside_demand)
    links = links.assign(amount=flows.amount)
    row_clients = links.loc[(links["importer"].astype(str) == "") & ~links["virtual"].astype(bool),
                            ["item", "client_item"]].drop_duplicates()
    links = _attach_lanes(atlas, links, lanes, step_days, items_t, notes,
                          row_lanes={j: (_row_lane_country(atlas, j, producers_of[j], "exporter", trade_by_item))
                                     for j in items},
                          row_lanes_to={(j, k): _row_lane_country(atlas, j, producers_of.get(k, []), "importer",
                                                                  trade_by_item)
                                        for j, k in zip(row_clients["item"], row_clients["client_item"],
                                                        strict=True)})
    links = _attach_stocks(atlas, links, sites, notes)
    links = attach_link_dynamics(links, dyn, local_items)
    sites = attach_site_dynamics(sites, dyn)
    return replace(index, sites=sites.reset_index(drop=True), links=links, notes=tuple(notes))


def _with_storage(dyn: Dynamics, pmix: Mapping[str, Mapping[str, tuple[float, float, float]]]) -> Dynamics:
    """Add each country's gas storage days (``power_mix``) as the stock of gas and LNG its power holds."""
    extra = [{"item": j, "parameter": "inventory_days", "client": "electricity", "holder": c,
              "value": v[0], "low": v[1], "high": v[2]}
             for c, mix in pmix.items() if "storage_days" in mix for v in [mix["storage_days"]]
             for j in ("natural_gas", "lng")]
    if not extra:
        return dyn
    base = dyn.table if dyn.table is not None else pd.DataFrame()
    cols = ["item", "parameter", "client", "holder", "value", "low", "high"]
    t = pd.concat([base[cols] if len(base) else pd.DataFrame(columns=cols), pd.DataFrame(extra)], ignore_index=True)
    t = t.drop_duplicates(["item", "parameter", "client", "holder"], keep="last")
    return Dynamics(t)


def _merge_small(p: pd.DataFrame, merge: float) -> pd.DataFrame:
    """Producers below ``merge`` of an item's output folded into its ROW row (shares, quantities and
    capacities summed; a quantity or capacity missing for one of them leaves ROW's unknown)."""
    if merge <= 0 or len(p) <= 1:
        return p
    small = (p["share_f"] < merge) & (p["producer"].astype(str) != "ROW")
    if not small.any() or small.all():
        return p
    keep = p[~small]
    part = p[small | (p["producer"].astype(str) == "ROW")]

    def total(col: str) -> float:
        if col not in part.columns:
            return np.nan
        v = part[col].astype("float64")
        return float(v.sum()) if v.notna().all() else np.nan

    row = {c: (None if c not in ("share_f", "quantity", "capacity") else np.nan) for c in p.columns}
    row.update({"producer": "ROW", "share_f": float(part["share_f"].sum()), "quantity": total("quantity"),
                "capacity": total("capacity")})
    if "producer_type" in p.columns:
        row["producer_type"] = "rest_of_world"
    keep = keep[keep["producer"].astype(str) != "ROW"]
    return pd.concat([keep, pd.DataFrame([row])], ignore_index=True)


def _outside(dyn: Dynamics, item: str, country: str) -> float:
    v = dyn.value(item, "outside_share", holder=country or "", default=0.0) or 0.0
    return min(max(float(v), 0.0), MAX_OUTSIDE_SHARE)


def _outside_demand(chain: np.ndarray, shares: np.ndarray, o: np.ndarray, local: bool) -> np.ndarray:
    """Outside demand of an item's sites given their chain output.

    Traded items keep their production shares in total output: world output is the chain's need
    over ``1 - o`` and each site serves outside uses with what its share leaves after the chain
    (at least nothing). Local (grid) items serve outside uses at home: ``chain · o / (1 - o)``.
    """
    o = np.minimum(np.maximum(o, 0.0), MAX_OUTSIDE_SHARE)
    if local or shares.sum() <= 0:
        return chain * o / (1.0 - o)
    o_item = float(o.max(initial=0.0))  # traded items: one outside share (holder rows apply to grid items)
    total = chain.sum() / (1.0 - o_item)
    gap = np.maximum(shares / shares.sum() * total - chain, 0.0)
    # outside uses are o of world output exactly; they go where production shares leave room
    return gap * (o_item * total / gap.sum()) if gap.sum() > 0 else gap


def _fractions(atlas: Any, j: str, clients: list[int], needs: np.ndarray, countries: list[str],
               client_items: list[str], producers: list[str], shares: np.ndarray,
               trade_by_item: Mapping[str, pd.DataFrame], year: int | None, local: bool,
               declared: Mapping[tuple[str, str], list[tuple[str, str, float]]], prune: float) -> np.ndarray:
    """Each client's need of ``j`` split over ``j``'s producers, as fractions (rows sum to 1)."""
    ncl, npr = len(clients), len(producers)
    pos = {p: i for i, p in enumerate(producers)}
    fixed = np.zeros((ncl, npr))
    is_fixed = np.zeros(ncl, bool)
    for r in range(ncl):
        rows = declared.get((j, client_items[r]))
        if not rows:
            continue
        mine = [x for x in rows if x[0] == countries[r]] or [x for x in rows if x[0] == ""]
        v = np.zeros(npr)
        for _c, sup, sh in mine:
            if sup in pos:
                v[pos[sup]] += sh
        if v.sum() > 0:
            fixed[r] = v / v.sum()
            is_fixed[r] = True
    free = ~is_fixed
    x = np.zeros((ncl, npr))
    if free.any():
        nf = needs[free]
        if local:
            x[free] = _sourcing([c for c, f in zip(countries, free, strict=True) if f], nf, producers, shares, {},
                                local=True)
        else:
            cols = shares * (needs.sum()) - (fixed * needs[:, None]).sum(axis=0)
            cols = np.maximum(cols, 0.0)
            if cols.sum() <= 0:
                cols = shares.copy()
            cols = cols / cols.sum() * nf.sum()
            mix = _trade_mix(atlas, j, producers, year, trade_by_item)
            seed_shares = cols / cols.sum() if cols.sum() > 0 else shares
            x[free] = _sourcing_cols([c for c, f in zip(countries, free, strict=True) if f], nf, producers,
                                     seed_shares, mix, cols)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(needs[:, None] > 0, x / np.where(needs > 0, needs, 1.0)[:, None], 0.0)
    zero = frac.sum(axis=1) <= 0
    frac[zero] = (shares / shares.sum()) if shares.sum() > 0 else 1.0 / npr
    frac[is_fixed] = fixed[is_fixed]
    if prune > 0:
        big = frac >= prune
        big[np.arange(ncl), frac.argmax(axis=1)] = True
        frac = np.where(big, frac, 0.0)
    frac = frac / frac.sum(axis=1, keepdims=True)
    return frac


def _sourcing_cols(client_countries: list[str], needs: np.ndarray, producers: list[str], shares: np.ndarray,
                   trade: Mapping[str, np.ndarray], cols: np.ndarray) -> np.ndarray:
    """IPF of clients' needs (rows, exact) over producers (columns ``cols``), seeded by trade mixes."""
    seed = _seed(client_countries, producers, shares, trade)
    if needs.sum() <= 0:
        return np.zeros_like(seed)
    return _ipf(seed, needs.astype(float), cols)


@dataclass(frozen=True)
class Flows:
    """Amounts of one parameter draw on an index's topology (see :func:`index_flows`)."""

    amount: np.ndarray
    baseline: np.ndarray
    final_demand: np.ndarray
    outside_demand: np.ndarray


def index_flows(index: SiteIndex, draw: Mapping[tuple[str, str, str, str], float] | None = None) -> Flows:
    """Link amounts and site outputs for one draw of the uncertain parameters, on fixed topology.

    Clients come before their inputs (``index.order``): a site's output is its final demand (the
    target's, an operation sink's, or outside uses) plus what its clients need, and a client needs
    ``dependent_share · quantity · output`` of an input, split over suppliers by the fractions fitted
    when the index was built. A draw changes dependent shares (recipe ranges, power mix) and outside
    shares; the central values give the index's own amounts.

    Examples
    --------
    >>> ix = build_index(tiny_atlas(), target="chip")
    >>> index_flows(ix).amount.round(6).tolist()
    [60.0, 40.0]
    """
    draw = draw or {}
    sites, links = index.sites, index.links
    n, m = len(sites), len(links)
    dyn = index.dynamics.with_overrides(draw) if draw else index.dynamics
    kind = sites["kind"].to_numpy()
    item = sites["item"].to_numpy()
    country = sites["country"].astype(str).to_numpy()
    share = sites["share"].to_numpy(dtype=float)
    final = sites["target_demand"].to_numpy(dtype=float).copy()
    o = sites["outside_share"].to_numpy(dtype=float).copy()
    if draw:
        for i in np.flatnonzero(kind == "site"):
            if item[i] != index.target:
                o[i] = _outside(dyn, str(item[i]), str(country[i]))
    ds = links["ds"].to_numpy(dtype=float).copy()
    if draw:
        keys = links["ds_key"].tolist()
        for e, k in enumerate(keys):
            if k in draw:
                ds[e] = min(max(float(draw[k]), DS_FLOOR), 1.0)
    virt = links["virtual"].to_numpy(bool)
    per = np.where(virt, np.maximum(1.0 - ds, VIRTUAL_FLOOR), ds) * links["q"].to_numpy(dtype=float) \
        * links["frac"].to_numpy(dtype=float)
    sup = links["supplier"].to_numpy(np.int64)
    cli = links["client"].to_numpy(np.int64)
    pbar = final.copy()
    amount = np.zeros(m)
    outside = np.zeros(n)
    sup_item = item[sup]
    by_item_links: dict[str, np.ndarray] = {}
    for it in index.order:
        by_item_links[it] = np.flatnonzero((sup_item == it) & ~virt)
    site_kind_site = kind == "site"
    of_site = sites["of_site"].to_numpy(np.int64) if "of_site" in sites.columns else np.full(n, -1)
    cap_sinks_of: dict[str, np.ndarray] = {}
    for i in np.flatnonzero(kind == "capital"):
        cap_sinks_of.setdefault(str(item[of_site[i]]), []).append(i)  # type: ignore[arg-type]
    cap_sinks_of = {k: np.array(v, np.int64) for k, v in cap_sinks_of.items()}
    for it in index.order:
        e = by_item_links[it]
        if e.size:
            amount[e] = per[e] * pbar[cli[e]]
            np.add.at(pbar, sup[e], amount[e])
        ids = np.flatnonzero((item == it) & site_kind_site)
        if it != index.target and ids.size:
            add = _outside_demand(pbar[ids], share[ids], o[ids], it in index.local_items)
            outside[ids] = add
            pbar[ids] += add
        sk = cap_sinks_of.get(it)
        if sk is not None:  # capacity additions of the item's sites, in proportion to their output
            final[sk] = pbar[of_site[sk]]
            pbar[sk] = final[sk]
    ev = np.flatnonzero(virt)
    amount[ev] = per[ev] * pbar[cli[ev]]
    pbar[sup[ev]] = amount[ev]
    return Flows(amount=amount, baseline=pbar, final_demand=final + outside, outside_demand=outside)


def attach_link_dynamics(links: pd.DataFrame, dyn: Dynamics,
                         local_items: set[str] | frozenset[str]) -> pd.DataFrame:
    """Per-link working stock (days), substitution and its adaptation time, from the dynamics table.

    Links of gas and LNG into a country's power carry its gas storage days (``power_mix``, added to
    the dynamics when the index is built). NaN stock: the run's default.
    """
    # one lookup per distinct (input, client item, client country), not per link
    keys = (links["item"].astype(str) + "\x1f" + links["client_item"].astype(str) + "\x1f"
            + links["importer"].astype(str))
    code, uniq = pd.factorize(keys, sort=False)
    inv_u, sub_u, subd_u = (np.empty(len(uniq)) for _ in range(3))
    for u, key in enumerate(uniq):
        j, k, h = str(key).split("\x1f")
        v = dyn.value(j, "inventory_days", client=k, holder=h, default=np.nan)
        inv_u[u] = np.nan if v is None else float(v)
        sub_u[u] = float(dyn.value(j, "substitution", client=k, holder=h, default=0.0) or 0.0)
        subd_u[u] = float(dyn.value(j, "substitution_days", client=k, holder=h, default=DEFAULT_SUBSTITUTION_DAYS)
                          or DEFAULT_SUBSTITUTION_DAYS)
    virt = links["virtual"].to_numpy(bool)
    return links.assign(inventory_days=np.where(virt, np.nan, inv_u[code]),
                        substitution=np.where(virt, 0.0, sub_u[code]), substitution_days=subd_u[code])


def attach_site_dynamics(sites: pd.DataFrame, dyn: Dynamics) -> pd.DataFrame:
    """Per-site spare capacity (atlas capacity/quantity first, then the dynamics table) and ramp days."""
    if "atlas_headroom" not in sites.columns:
        sites = sites.assign(atlas_headroom=sites["capacity_headroom"].to_numpy(dtype=float))
    head = sites["atlas_headroom"].to_numpy(dtype=float).copy()
    ramp = np.full(len(sites), np.nan)
    kind = sites["kind"].to_numpy()
    items = sites["item"].astype(str).to_numpy()
    ctry = sites["country"].astype(str).to_numpy()
    cache: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    for i in np.flatnonzero(kind == "site"):
        key = (items[i], ctry[i])
        if key not in cache:
            cache[key] = (dyn.value(key[0], "spare_capacity", holder=key[1], default=None),
                          dyn.value(key[0], "ramp_days", holder=key[1], default=None))
        sp, rd = cache[key]
        if not head[i] == head[i] and sp is not None:
            head[i] = float(sp)
        if rd is not None:
            ramp[i] = float(rd)
    return sites.assign(capacity_headroom=head, ramp_days=ramp)



def _ends(links: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The countries a link's lane joins: ``lane_from``/``lane_to`` where set (rest-of-world sites
    ship from the largest actual trader behind them), else exporter/importer."""
    f = links["lane_from"] if "lane_from" in links.columns else links["exporter"]
    t = links["lane_to"] if "lane_to" in links.columns else links["importer"]
    return f.astype(str), t.astype(str)


def _real_cross(links: pd.DataFrame) -> pd.Series:
    f, t = _ends(links)
    return ~links["virtual"].astype(bool) & (f != "") & (t != "") & (f != t)


def lane_pairs(links: pd.DataFrame) -> pd.DataFrame:
    """Distinct (exporter, importer, item) lane ends of the real cross-border links of a network."""
    real = _real_cross(links)
    f, t = _ends(links)
    return (pd.DataFrame({"exporter": f[real], "importer": t[real], "item": links.loc[real, "item"]})
            .drop_duplicates().astype(str).reset_index(drop=True))


def compute_lanes(atlas: Any, pairs: pd.DataFrame, closed: Iterable[str] = frozenset(),
                  notes: list[str] | None = None) -> pd.DataFrame | None:
    """Lane table (per item mode) for ``pairs`` under a closure set, or ``None`` when logistics or
    its data (ports, chokepoints) are not available."""
    notes = notes if notes is not None else []
    if pairs.empty:
        return None
    try:
        from ..logistics import lane_table
    except ImportError:
        notes.append("logistics module unavailable: every link takes one step, no chokepoints")
        return None
    try:
        return lane_table(atlas, pairs, closed=frozenset(closed), mode=None)
    except Exception as e:
        notes.append(f"lanes not computed ({type(e).__name__}: {e}); every link takes one step")
        return None


def _attach_lanes(atlas: Any, links: pd.DataFrame, lanes: pd.DataFrame | None, step_days: int,
                  items_t: pd.DataFrame, notes: list[str],
                  row_lanes: Mapping[str, str] | None = None,
                  row_lanes_to: Mapping[tuple[str, str], str] | None = None) -> pd.DataFrame:
    links = links.copy()
    if "lane_from" not in links.columns:
        exp = links["exporter"].astype(str)
        row_from = links["item"].map(dict(row_lanes or {})).fillna("").astype(str)
        sup_row = (exp == "") & ~links["virtual"].astype(bool)
        links["lane_from"] = np.where(sup_row, row_from, exp)
        imp = links["importer"].astype(str)
        to = [row_lanes_to.get((j, k), "") if (i == "" and not v) else i
              for j, k, i, v in zip(links["item"], links["client_item"], imp, links["virtual"].astype(bool),
                                    strict=True)] if row_lanes_to else imp.tolist()
        links["lane_to"] = to
    links["lead_days"] = np.nan
    links["chokepoints"] = ""
    links["mode"] = ""
    real = _real_cross(links)
    if lanes is None and real.any():
        lanes = compute_lanes(atlas, lane_pairs(links), (), notes)
    if lanes is not None and len(lanes):
        lanes = lanes.copy()
        key_cols = ["exporter", "importer"] + (["item"] if "item" in lanes.columns else [])
        lanes = lanes.drop_duplicates(key_cols)
        if "chokepoints" not in lanes.columns:
            lanes["chokepoints"] = ""
        if "mode" not in lanes.columns:
            lanes["mode"] = ""
        if "cut" not in lanes.columns:
            lanes["cut"] = False
        lanes["chokepoints"] = lanes["chokepoints"].map(_cp_text)
        base_days = lanes["base_days"] if "base_days" in lanes.columns else lanes["days"]
        lanes = lanes.assign(_days=base_days.astype("float64"))
        f, t = _ends(links)
        left = pd.DataFrame({"exporter": f[real], "importer": t[real], "item": links.loc[real, "item"]})[
            key_cols].astype(str)
        merged = left.merge(lanes[key_cols + ["_days", "chokepoints", "mode"]].astype(
            {k: str for k in key_cols}), on=key_cols, how="left")
        links.loc[real, "lead_days"] = merged["_days"].to_numpy(dtype=float)
        links.loc[real, "chokepoints"] = merged["chokepoints"].fillna("").astype(str).to_numpy()
        links.loc[real, "mode"] = merged["mode"].fillna("").astype(str).to_numpy()
    missing = real & links["lead_days"].isna()
    if missing.any():
        notes.append(f"{int(missing.sum())} cross-border links have no lane; they take one step")
    links["lead_steps"] = lead_steps(links["lead_days"].to_numpy(dtype=float), step_days)
    return links


def lead_steps(days: np.ndarray, step_days: int) -> np.ndarray:
    """Lead time in steps of ``step_days`` for lane days (at least 1; NaN → 1).

    Examples
    --------
    >>> lead_steps(np.array([0.0, 3.0, 20.5, np.nan]), 1).tolist()
    [1, 3, 21, 1]
    """
    d = np.nan_to_num(np.asarray(days, dtype=float), nan=0.0)
    return np.maximum(1, np.ceil(d / step_days - 1e-9)).astype(np.int64)


def _cp_text(v: Any) -> str:
    if isinstance(v, list | tuple | set | frozenset | np.ndarray):
        return ";".join(str(x) for x in v)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def _attach_stocks(atlas: Any, links: pd.DataFrame, sites: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    links = links.copy()
    links["stock_days"] = np.nan
    st = atlas["stocks"]
    if st.empty:
        return links
    groups = atlas["groups"]
    members: dict[str, set[str]] = {}
    for g, iso in zip(groups["group"], groups["iso3"], strict=True):
        members.setdefault(str(g), set()).add(str(iso))
    importer = links["importer"].astype(str)
    for r in st.itertuples(index=False):
        days = float(r.days_of_cover) if r.days_of_cover == r.days_of_cover and r.days_of_cover is not None else np.nan
        if not days == days:
            continue
        holders = members.get(str(r.holder), {str(r.holder)})
        hit = (links["item"] == r.item) & importer.isin(holders) & ~links["virtual"].astype(bool)
        if hit.any():
            links.loc[hit, "stock_days"] = np.fmax(links.loc[hit, "stock_days"].to_numpy(), days)
    return links


# --------------------------------------------------------------------------- tiny atlas for docs/tests


def tiny_atlas() -> Any:
    """A two-stage hand atlas: ``chip`` (TWN 100 %) needs ``wafer`` (JPN 60 %, CHN 40 %).

    Examples
    --------
    >>> tiny_atlas()["production"]["producer"].tolist()
    ['TWN', 'JPN', 'CHN']
    """
    from ..atlas import Atlas

    return Atlas.from_frames({
        "items": pd.DataFrame({"item": ["chip", "wafer"], "name": ["Chip", "Wafer"],
                               "stage": ["fabrication", "refined_material"], "unit": ["units", "wafers_300mm_eq"]}),
        "countries": pd.DataFrame({"iso3": ["TWN", "JPN", "CHN", "USA"],
                                   "name": ["Taiwan", "Japan", "China", "United States"],
                                   "region": ["East Asia & Pacific"] * 3 + ["North America"]}),
        "production": pd.DataFrame({"item": ["chip", "wafer", "wafer"], "producer": ["TWN", "JPN", "CHN"],
                                    "producer_type": ["country"] * 3, "year": [2023] * 3,
                                    "share": [100.0, 60.0, 40.0], "source": ["hand"] * 3}),
        "recipes": pd.DataFrame({"item": ["chip"], "input": ["wafer"], "dependent_share": [1.0],
                                 "rationale": ["chips are made on wafers"], "source": ["hand"]}),
        "groups": pd.DataFrame({"group": ["club"], "iso3": ["USA"], "source": ["hand"]}),
        "sources": pd.DataFrame({"source": ["hand"], "publisher": ["paxsilica tests"], "title": ["hand-made"],
                                 "year": [2025], "licence": ["CC0"], "kind": ["estimate"]}),
    }, name="tiny")


def to_supply_network(index: SiteIndex, *, surge_capacity: float | None = None) -> Any:
    """The engine's :class:`~paxsilica.sim.network.SupplyNetwork` for a :class:`SiteIndex`.

    Links are given in the index's order, so ``net.link_positions(index.links["link"])`` maps index
    links to the engine's canonical links; ``link_group`` holds the index link id as well. Sectors are
    items (``sector_names``), firm ids ``"item@producer"``. Capacity headroom: the atlas's
    capacity/quantity where known, else ``surge_capacity`` (default 0); virtual sites have none.
    """
    from ..sim.network import SupplyNetwork

    sites, links = index.sites, index.links
    names = list(dict.fromkeys(sites["item"]))
    code = {n: i for i, n in enumerate(names)}
    head = sites["capacity_headroom"].to_numpy(dtype=float)
    head = np.where(np.isnan(head), float(surge_capacity or 0.0), head)
    head = np.where(sites["virtual"].to_numpy(dtype=bool), 0.0, head)
    return SupplyNetwork.from_arrays(
        links["supplier"].to_numpy(np.int64), links["client"].to_numpy(np.int64),
        links["amount"].to_numpy(float), n_firms=len(sites),
        final_demand=sites["final_demand"].to_numpy(float),
        sector=np.array([code[i] for i in sites["item"]], dtype=np.int64), sector_names=names,
        firm_ids=np.array([f"{i}@{p}" for i, p in zip(sites["item"], sites["producer"], strict=True)], dtype=object),
        lead_time=links["lead_steps"].to_numpy(np.int64), link_group=links["link"].to_numpy(np.int64),
        capacity_headroom=head,
    )


def build_network(
    atlas: Any,
    *,
    target: str = DEFAULT_TARGET,
    consumers: Any = "producers",
    year: int | None = None,
    normalize: bool = True,
    lanes: pd.DataFrame | None = None,
    step_days: int = 1,
    surge_capacity: float | None = None,
) -> tuple[Any, SiteIndex]:
    """Build the simulation network of an atlas: ``(SupplyNetwork, SiteIndex)``.

    See :func:`build_index` for the parameters and the module docstring for the modelling choices.

    Examples
    --------
    >>> net, index = build_network(tiny_atlas(), target="chip")
    >>> net.n_firms, net.n_links, round(float(net.baseline_output.sum()), 6)
    (3, 2, 200.0)
    """
    index = build_index(atlas, target=target, consumers=consumers, year=year, normalize=normalize,
                        lanes=lanes, step_days=step_days)
    return to_supply_network(index, surge_capacity=surge_capacity), index
