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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, NotFoundError

DEFAULT_TARGET = "ai_datacenter_capacity"
TARGET_DEMAND = 100.0
"""World final demand of the target in normalized units."""
IPF_ITERATIONS = 500
IPF_TOLERANCE = 1e-10
SEED_FLOOR = 1e-9
"""Numerical floor added to IPF seeds so every producer can reach its share (not a data assumption)."""
VIRTUAL_PRODUCER = "NO_NEED"
WORLD = "WORLD"


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


def _local_items(atlas: Any) -> set[str]:
    try:
        from ..logistics import transport_modes

        modes = transport_modes(atlas)
    except Exception:
        it = atlas["items"]
        modes = {str(a): str(b) for a, b in zip(it["item"], it["transport_mode"], strict=True) if isinstance(b, str)}
    return {k for k, v in modes.items() if v in ("local", "grid")}


def _upstream(recipes: pd.DataFrame, target: str) -> list[str]:
    needs: dict[str, list[str]] = {}
    for it, inp in zip(recipes["item"], recipes["input"], strict=True):
        needs.setdefault(it, []).append(inp)
    seen = [target]
    stack = [target]
    while stack:
        k = stack.pop()
        for j in needs.get(k, []):
            if j not in seen:
                seen.append(j)
                stack.append(j)
    return seen


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
    seed = seed + SEED_FLOOR * shares[None, :]
    total = needs.sum()
    if total <= 0:
        return np.zeros_like(seed)
    return _ipf(seed, needs.astype(float), shares * total)


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
) -> SiteIndex:
    """Build the tables of the simulation network (see the module docstring for every choice).

    Parameters
    ----------
    atlas : Atlas
    target : str
        Item whose final demand drives the network.
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
    rec = atlas["recipes"]
    rec = rec[rec["dependent_share"].astype("float64").fillna(0) > 0]
    rec = rec[rec["item"].isin(known) & rec["input"].isin(known)]
    items = _upstream(rec, target)
    rec = rec[rec["item"].isin(items) & rec["input"].isin(items)].reset_index(drop=True)
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
        notes.append("country sites derived from firm rows (production country, else headquarters) for: "
                     + ", ".join(derived))
    local_items = _local_items(atlas)
    w = _world_output(items, rec, target, float(demand), normalize)
    world = dict(zip(items, w, strict=True))
    stage = dict(zip(items_t["item"], items_t["stage"], strict=True))

    # sites
    rows: list[dict[str, Any]] = []
    producers_of: dict[str, list[str]] = {}
    shares_of: dict[str, np.ndarray] = {}
    no_prod: list[str] = []
    for it in items:
        p = prod[prod["item"] == it]
        if p.empty:
            no_prod.append(it)
            p = pd.DataFrame({"producer": ["ROW"], "share_f": [1.0], "quantity": [np.nan], "capacity": [np.nan],
                              "country": [pd.NA], "producer_type": ["rest_of_world"]})
        p = p.sort_values("share_f", ascending=False, kind="mergesort")
        producers_of[it] = [str(x) for x in p["producer"]]
        shares_of[it] = p["share_f"].to_numpy(dtype=float)
        for r in p.itertuples(index=False):
            q, cap = float(getattr(r, "quantity", np.nan)), float(getattr(r, "capacity", np.nan))
            head = cap / q - 1.0 if q > 0 and cap > 0 else np.nan
            rows.append({"item": it, "producer": str(r.producer),
                         "country": "" if str(r.producer) == "ROW" else str(r.producer),
                         "share": float(r.share_f), "capacity_headroom": max(head, 0.0) if head == head else np.nan,
                         "virtual": False, "stage": stage.get(it, "")})
    if no_prod:
        notes.append("no production rows (one ROW site holds all output) for: " + ", ".join(no_prod))
    sites = pd.DataFrame(rows)
    sites["baseline"] = 0.0
    sites["final_demand"] = 0.0
    site_pos = {(a, b): i for i, (a, b) in enumerate(zip(sites["item"], sites["producer"], strict=True))}

    # final demand of the target
    tp = prod[prod["item"] == target]
    if tp.empty:
        tp = pd.DataFrame({"producer": ["ROW"], "share_f": [1.0]})
    cons = _consumer_demand(consumers, tp, float(demand))
    cnames = list(cons)
    cneed = np.array([cons[c] for c in cnames])
    tprods = producers_of[target]
    trade_by_item = _trade_by_item(atlas, year)
    tmix = _trade_mix(atlas, target, tprods, year, trade_by_item)
    x = _sourcing(cnames, cneed, tprods, shares_of[target], tmix, local=target in local_items)
    final_rows = []
    for ci, c in enumerate(cnames):
        for pi, p in enumerate(tprods):
            if x[ci, pi] > 0:
                final_rows.append({"site": site_pos[(target, p)], "consumer": c, "amount": float(x[ci, pi])})
    final = pd.DataFrame(final_rows, columns=["site", "consumer", "amount"])
    fd = final.groupby("site")["amount"].sum()
    sites.loc[fd.index, "final_demand"] = fd.to_numpy()

    # site baselines: share of world output (links below are fitted to these)
    sites["baseline"] = [world[it] * s for it, s in zip(sites["item"], sites["share"], strict=True)]

    # links (plain lists: per-cell DataFrame access dominated the build time)
    s_item = [str(v) for v in sites["item"]]
    s_prod = [str(v) for v in sites["producer"]]
    s_country = [str(v) for v in sites["country"]]
    s_base = sites["baseline"].to_numpy(dtype=float)
    link_rows: list[dict[str, Any]] = []
    virtual_rows: list[dict[str, Any]] = []
    for j in items:
        users = rec[rec["input"] == j]
        if users.empty:
            continue
        clients: list[int] = []
        needs: list[float] = []
        no_need: list[tuple[int, float]] = []
        for u in users.itertuples(index=False):
            ds = float(u.dependent_share)
            q = 1.0 if normalize else float(u.quantity)
            for p in producers_of[u.item]:
                ci = site_pos[(u.item, p)]
                pbar = float(s_base[ci])
                clients.append(ci)
                needs.append(ds * q * pbar)
                if ds < 1.0:
                    no_need.append((ci, (1.0 - ds) * q * pbar))
        ccountries = [s_country[c] or "ROW" for c in clients]
        mix = _sourcing(ccountries, np.array(needs), producers_of[j], shares_of[j],
                        _trade_mix(atlas, j, producers_of[j], year, trade_by_item), local=j in local_items)
        sup_ids = [site_pos[(j, p)] for p in producers_of[j]]
        exps = ["" if p == "ROW" else p for p in producers_of[j]]
        rr, pp = np.nonzero(mix > 0)
        vals = mix[rr, pp].tolist()
        for r, pi, a in zip(rr.tolist(), pp.tolist(), vals, strict=True):
            ci = clients[r]
            link_rows.append({"supplier": sup_ids[pi], "client": ci, "item": j, "client_item": s_item[ci],
                              "exporter": exps[pi], "importer": s_country[ci], "amount": a, "virtual": False})
        if no_need:
            virtual_rows.append({"item": j, "clients": no_need})
    # virtual no-need suppliers, one per (client, input) pair with dependent_share < 1, so that no
    # client can draw on another's no-need supply
    vrows = []
    for v in virtual_rows:
        for ci, a in v["clients"]:
            if a <= 0:
                continue
            vid = len(sites) + len(vrows)
            vrows.append({"item": v["item"], "producer": f"{VIRTUAL_PRODUCER}:{s_item[ci]}@{s_prod[ci]}",
                          "country": "", "share": 0.0, "capacity_headroom": 0.0, "virtual": True,
                          "stage": stage.get(v["item"], ""), "baseline": a, "final_demand": 0.0})
            link_rows.append({"supplier": vid, "client": ci, "item": v["item"], "client_item": s_item[ci],
                              "exporter": "", "importer": s_country[ci], "amount": a, "virtual": True})
    if vrows:
        sites = pd.concat([sites, pd.DataFrame(vrows)], ignore_index=True)
    links = pd.DataFrame(link_rows, columns=["supplier", "client", "item", "client_item", "exporter", "importer",
                                             "amount", "virtual"])
    links = links.sort_values(["client", "supplier"], kind="mergesort").reset_index(drop=True)
    links.insert(0, "link", np.arange(len(links)))
    sites["virtual"] = sites["virtual"].astype(bool)
    sites.insert(0, "site", np.arange(len(sites)))

    # baseline output from flows (= final demand + clients' needs); differs from the share target
    # only by the IPF tolerance
    out = links.groupby("supplier")["amount"].sum().reindex(sites.index, fill_value=0.0)
    fitted = sites["final_demand"].to_numpy() + out.to_numpy()
    real = ~sites["virtual"].to_numpy()
    real = real & ~sites["item"].isin(list(local_items)).to_numpy()
    dev = np.abs(fitted - sites["baseline"].to_numpy())[real]
    if dev.size and dev.max() > 1e-6 * float(demand):
        notes.append(f"sourcing fit: site outputs deviate from production shares by up to {dev.max():.3g} units")
    sites["baseline"] = fitted

    links = _attach_lanes(atlas, links, lanes, step_days, items_t, notes)
    links = _attach_stocks(atlas, links, sites, notes)
    return SiteIndex(sites=sites.reset_index(drop=True), links=links, final=final, target=target,
                     units="normalized" if normalize else "item units", step_days=step_days,
                     atlas_version=getattr(atlas, "version", "") if atlas_version is None else atlas_version,
                     notes=tuple(notes), consumers=tuple(cnames))


def _real_cross(links: pd.DataFrame) -> pd.Series:
    return (~links["virtual"].astype(bool) & (links["exporter"] != "") & (links["importer"] != "")
            & (links["exporter"] != links["importer"]))


def lane_pairs(links: pd.DataFrame) -> pd.DataFrame:
    """Distinct (exporter, importer, item) of the real cross-border links of a network."""
    real = _real_cross(links)
    return (links.loc[real, ["exporter", "importer", "item"]].drop_duplicates()
            .astype(str).reset_index(drop=True))


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
                  items_t: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    links = links.copy()
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
        left = links.loc[real, key_cols].astype(str)
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
