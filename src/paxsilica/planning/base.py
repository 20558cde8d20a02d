"""The supply base a plan is made on: a consumer's sources of each item, their bounds and weights.

One table, built once per (consumer, items) from the atlas and shared by every planning model:

* **Sources** of item ``i``: its producer countries (country level, latest year,
  :func:`paxsilica.metrics._common.latest_production`) and the rest of the world (``country`` blank).
* **Current mix** ``cur[i, c]``: the consumer's imports of ``i`` by exporter (``trade``, latest year,
  quantity else value; exporters that are not producers go to the rest of the world); where the atlas
  has no trade of ``i`` into the consumer, the world production shares. Home production is not in
  the mix (it would need quantities the atlas lacks for most items), which is conservative for a
  producing consumer.
* **Bound** ``cap[i, c] = min(1, cur + spare × share / m)``: the consumer can take from ``c`` what it
  takes now plus ``c``'s spare capacity (``dynamics`` ``spare_capacity``; 0 where none), scaled by
  the consumer's share ``m`` of world imports of ``i`` (trade). Without trade data ``m = 1``: the
  consumer is taken to be the whole market, so only spare capacity can move (conservative).
* **Weight** ``k[i]``: the loss at the target when item ``i`` is lost entirely
  (:func:`paxsilica.metrics.bottlenecks.knockout_loss`). The bottleneck propagation is max-times
  (an item's loss is the largest of its own loss and each input's loss times its dependent share), so
  the target's loss when items lose ``ℓ_i`` of their supply is exactly ``max_i k_i ℓ_i``: the
  planning models use this form.
* **Spend** per item: the consumer's imports of ``i`` in USD million a year (``trade.value``, thousand
  USD), and ``imports_t`` in tonnes a year (``trade.quantity``); blank where the atlas has none.

Examples
--------
>>> from paxsilica.network import tiny_atlas
>>> b = supply_base(tiny_atlas(), consumer="TWN", target="chip", items=["wafer"], chokepoints=False)
>>> b.sources[["item", "country", "share", "current", "cap", "weight"]].values.tolist()
[['wafer', 'JPN', 0.6, 0.6, 0.6, 1.0], ['wafer', 'CHN', 0.4, 0.4, 0.4, 1.0]]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..constants import DEFAULT_COALITION, DEFAULT_TARGET
from ..errors import InputError

__all__ = ["ROW", "SupplyBase", "supply_base"]

ROW = "ROW"
"""Label of the rest-of-world source (its ``country`` is blank)."""
WORLD = "WORLD"


@dataclass(frozen=True)
class SupplyBase:
    """Sources and their bounds for one consumer (see the module docstring).

    Attributes
    ----------
    consumer : str
        ISO3, a group id, or ``WORLD``.
    countries : frozenset of str
        The consumer's countries (members of a group; empty for the world).
    coalition : frozenset of str
        Members of the coalition (for the coalition-share constraint and the ``member`` column).
    sources : DataFrame
        ``item, producer, country, share, current, cap, spare, member, weight, spend_usd_m, imports_t``.
    items : tuple of str
    hits : DataFrame
        ``item, country, chokepoint, fraction`` (part of a source's flow to the consumer through it).
    notes : tuple of str
    """

    consumer: str
    countries: frozenset[str]
    coalition: frozenset[str]
    target: str
    sources: pd.DataFrame
    items: tuple[str, ...]
    hits: pd.DataFrame
    group_members: Mapping[str, frozenset[str]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def weights(self) -> pd.Series:
        """``k[i]`` per item."""
        return self.sources.groupby("item", sort=False)["weight"].first()


def _members(atlas: Any, group: str) -> frozenset[str]:
    from ..metrics.coalition import members

    return frozenset(members(atlas, group))


def _consumer_countries(atlas: Any, consumer: str) -> frozenset[str]:
    from ..metrics._common import require_countries

    if consumer.strip().upper() == WORLD:
        return frozenset()
    groups = atlas["groups"]
    if len(groups) and consumer in set(groups["group"].astype(str)):
        return _members(atlas, consumer)
    codes = require_countries(atlas, consumer, "consumer")
    if len(codes) != 1:
        raise InputError(f"the consumer is one country (ISO3), a group id or WORLD, got {consumer!r}",
                         column="for")
    return frozenset(codes)


def _trade_mix(trade: pd.DataFrame, item: str, importers: frozenset[str]
               ) -> tuple[pd.Series, float, float, float]:
    """Imports of ``item`` into ``importers`` by exporter (latest year), their share of world imports,
    their value in USD m and their quantity in t (NaN when not given)."""
    t = trade[trade["item"] == item]
    if t.empty:
        return pd.Series(dtype=float), np.nan, np.nan, np.nan
    t = t[t["year"] == t["year"].max()]
    col = "quantity" if t["quantity"].notna().any() else "value"
    t = t[t[col].notna()]
    inside = t[t["importer"].isin(importers) & ~t["exporter"].isin(importers)] if importers else t
    if inside.empty:
        return pd.Series(dtype=float), np.nan, np.nan, np.nan
    by = inside.groupby("exporter")[col].sum()
    total = float(t[col].sum())
    share = float(by.sum() / total) if total > 0 else np.nan
    value = float(inside["value"].sum() / 1000.0) if inside["value"].notna().any() else np.nan
    tonnes = float(inside["quantity"].sum()) if inside["quantity"].notna().any() else np.nan
    return by / by.sum(), share, value, tonnes


def supply_base(atlas: Any, consumer: str = DEFAULT_COALITION, *, coalition: str = DEFAULT_COALITION,
                target: str = DEFAULT_TARGET, items: Iterable[str] | None = None, chokepoints: bool = True,
                top: int | None = None) -> SupplyBase:
    """Build the :class:`SupplyBase` of ``consumer`` (ISO3, a group id, or ``WORLD``).

    Parameters
    ----------
    items : iterable of str, optional
        Items to plan (default: every item upstream of the target with production rows).
    chokepoints : bool
        Compute which lanes to the consumer cross which chokepoint (:func:`paxsilica.logistics.lanes`).
    top : int, optional
        Keep only the ``top`` items by weight (the items whose loss costs the target most).
    """
    from ..metrics._common import latest_production, require_items
    from ..metrics.bottlenecks import knockout_loss, upstream_items
    from ..network.dynamics import Dynamics

    countries = _consumer_countries(atlas, consumer)
    coal = _members(atlas, coalition) if coalition else frozenset()
    up = upstream_items(atlas, target)
    prod = latest_production(atlas, "country")
    # the target is what the consumer makes, not what it sources
    prod = prod[prod["item"].isin(set(up) - {target})]
    if items is not None:
        items = list(dict.fromkeys(items))
        require_items(atlas, items)
        missing = [i for i in items if i not in set(prod["item"])]
        if missing:
            raise InputError(f"no production rows for {', '.join(missing)} upstream of {target}: nothing to plan",
                             column="items")
        prod = prod[prod["item"].isin(set(items))]
    if prod.empty:
        raise InputError(f"no item upstream of {target} has production rows: nothing to plan", column="items")
    dyn = Dynamics.of(atlas)
    trade = atlas["trade"]
    # each item's rows once, in table order (filtering the whole table per item was a third of the time)
    trade_of = {str(k): g for k, g in trade.groupby("item", sort=False)} if countries and len(trade) else {}
    notes: list[str] = []
    rows = []
    weight = {i: knockout_loss(atlas, target, {i: 0.0}) for i in prod["item"].unique()}
    order = [i for i in (items or sorted(weight, key=lambda i: (-weight[i], i))) if i in weight]
    if top is not None:
        order = order[:top]
    no_trade = []
    for it in order:
        g = prod[prod["item"] == it]
        share = g.groupby(g["country"].fillna(ROW), sort=False)["share"].sum()
        share = (share / share.sum()).sort_values(ascending=False, kind="stable")
        # the world's mix is the production shares (its trade is not a sourcing choice)
        mix, m, spend, tonnes = (_trade_mix(trade_of.get(it, trade.iloc[:0]), it, countries) if countries
                                 else (pd.Series(dtype=float), np.nan, np.nan, np.nan))
        if mix.empty:
            no_trade.append(it)
            cur = share.copy()
            m = 1.0
        else:
            cur = pd.Series(0.0, index=share.index)
            for ex, v in mix.items():
                key = ex if ex in cur.index else ROW
                if key not in cur.index:
                    cur.loc[ROW] = 0.0
                    share.loc[ROW] = 0.0
                cur.loc[key] += float(v)
            m = m if m == m and m > 0 else 1.0
        for c in share.index:
            country = None if c == ROW else str(c)
            spare = float(dyn.value(it, "spare_capacity", holder=country or "", default=0.0) or 0.0)
            cap = min(1.0, float(cur[c]) + spare * float(share[c]) / m)
            rows.append({"item": it, "producer": c, "country": country, "share": float(share[c]),
                         "current": float(cur[c]), "cap": cap, "spare": spare,
                         "member": bool(country in coal) if country else False, "weight": float(weight[it]),
                         "spend_usd_m": spend, "imports_t": tonnes})
    if no_trade and countries:
        notes.append(f"no trade into {consumer} for {len(no_trade)} item(s) ({', '.join(no_trade[:5])}"
                     f"{', ...' if len(no_trade) > 5 else ''}): current mix = world production shares, and only "
                     "spare capacity can move (the consumer counted as the whole market)")
    src = pd.DataFrame(rows, columns=["item", "producer", "country", "share", "current", "cap", "spare",
                                      "member", "weight", "spend_usd_m", "imports_t"])
    src["share"] = src["share"].round(12)
    src["current"] = src["current"].round(12)
    src["cap"] = src["cap"].round(12)
    hits = _hits(atlas, order, countries, notes) if chokepoints else _no_hits()
    groups = atlas["groups"]
    gm = {str(g): frozenset(s.astype(str)) for g, s in groups.groupby("group")["iso3"]} if len(groups) else {}
    return SupplyBase(consumer, countries, coal, target, src, tuple(order), hits, gm, tuple(notes))


def _no_hits() -> pd.DataFrame:
    return pd.DataFrame(columns=["item", "country", "chokepoint", "fraction"])


def _hits(atlas: Any, items: list[str], countries: frozenset[str], notes: list[str]) -> pd.DataFrame:
    """Part of each source's flow to the consumer that crosses each chokepoint (sea lanes)."""
    from ..logistics import lanes

    try:
        lt = lanes(atlas, items=items)
    except Exception as e:  # no ports or lanes in a small atlas: chokepoints simply do not apply
        notes.append(f"no sea lanes for this atlas ({type(e).__name__}): chokepoint closures not counted")
        return _no_hits()
    if lt.empty:
        return _no_hits()
    lt = lt[lt["exporter"] != lt["importer"]]
    if countries:
        lt = lt[lt["importer"].isin(countries) & ~lt["exporter"].isin(countries)]
    if lt.empty:
        return _no_hits()
    lt = lt.assign(weight=lt["weight"].astype(float))
    tot = lt.groupby(["item", "exporter"])["weight"].sum()
    sea = lt[(lt["mode"] == "sea") & lt["chokepoints"].fillna("").ne("")].copy()
    if sea.empty:
        return _no_hits()
    sea["chokepoint"] = sea["chokepoints"].str.split(";")
    sea = sea.explode("chokepoint")
    g = sea.groupby(["item", "exporter", "chokepoint"], as_index=False)["weight"].sum()
    g["fraction"] = (g["weight"] / tot.reindex(pd.MultiIndex.from_frame(g[["item", "exporter"]])).to_numpy()).clip(0, 1)
    return g.rename(columns={"exporter": "country"})[["item", "country", "chokepoint", "fraction"]]
