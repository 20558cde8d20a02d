"""Time-to-survive / time-to-recover on an Atlas: build the network, run every node, rank.

How the Atlas becomes a :class:`~paxsilica.optimize.tts.Network` (period = one day):

* **Items**: the target and everything upstream of it through ``recipes`` (rows with
  ``dependent_share > 0``; rows whose input is the target itself are left out, noted).
* **Nodes**: one per (item, producer) of ``production``, per item the latest year, country level
  (countries and the ``ROW`` rest-of-world row; items with only firm rows are summed by the firms'
  countries, see :func:`paxsilica.atlas.country_production`). Where the shares of an item sum to less than 100 %
  and no ``ROW`` row exists, an unnamed rest-of-world node ``<item>@ROW*`` holds the remainder. An
  item in the chain without any production row gets one unlimited-in-practice node
  ``<item>@WORLD*`` (its inputs still constrain it); such nodes are not ranked.
* **World output** ``W`` per day: from ``production.quantity`` where the rows give it
  (``Σ quantity / Σ share``, per year ÷ 365, in the item's unit: *physical* basis); else 1 unit per
  day (*normalized* basis: one day of world output).
* **Capacity** of a node: ``share / Σ share × W`` (``production.capacity`` ÷ 365 instead when it
  is larger and the basis is physical), times ``1 + spare_capacity``.
* **Baseline**: every item runs at its world output ``W``; the target's demand is its baseline
  output ``W_target`` per day (margin 1; other items have no external demand).
* **Bill of materials**: ``recipes`` rows. ``dependent_share`` δ is the part of the item's output
  that needs the input (the rest can be made without it). Units of input per unit of dependent
  output: ``recipes.quantity`` where given and both items are on a physical basis; otherwise the
  *closed-chain* rule — an input's world output is shared by its consumers in the chain in
  proportion to ``δ × W`` (what is left after consumers with a known quantity): at baseline the
  chain uses all of it, so there is no spare capacity unless ``spare_capacity`` says so. If known
  quantities alone exceed an input's world output, its capacity is raised to meet the baseline
  (noted).
* **Inventory**: from ``stocks``, per item, pooled (it survives the loss of any node):
  ``quantity`` where given on a physical basis, else ``days_of_cover × baseline daily use by the
  chain``. Several holders: the largest (``stock_rule="max"``, default) or their sum. Items without
  a stock row hold 0 (``stock_note`` says so).

Examples
--------
>>> import pandas as pd
>>> from paxsilica.atlas import Atlas
>>> atlas = Atlas.from_frames({
...     "items": pd.DataFrame({"item": ["ore", "dc"], "name": ["Ore", "DC"],
...                            "stage": ["raw_material", "infrastructure"], "unit": ["t", "MW"]}),
...     "production": pd.DataFrame({"item": ["ore", "ore", "dc"], "producer": ["CHN", "AUS", "USA"],
...                                 "producer_type": ["country"] * 3, "year": [2023] * 3,
...                                 "share": [60.0, 40.0, 100.0], "source": ["s"] * 3}),
...     "recipes": pd.DataFrame({"item": ["dc"], "input": ["ore"], "dependent_share": [1.0],
...                              "rationale": ["r"], "source": ["s"]}),
...     "stocks": pd.DataFrame({"holder": ["USA"], "item": ["ore"], "days_of_cover": [30.0],
...                             "source": ["s"]})})
>>> res = atlas_tts(atlas, target="dc", ttr_days=60)
>>> res[["item", "producer", "tts_days", "impact_days", "rank"]].to_dict("records")[0]
{'item': 'dc', 'producer': 'USA', 'tts_days': 0.0, 'impact_days': 60.0, 'rank': 1}
>>> float(res.set_index("producer").loc["CHN", "tts_days"])  # 30 days of ore / 60 % lost
50.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from ..atlas import Atlas, country_production
from ..constants import DEFAULT_TARGET
from ..errors import InputError, NotFoundError
from ..network.plan import upstream_plan
from .tts import Network, analyze

DAYS_PER_YEAR = 365.0
_SHARE_TOL = 1e-6


@dataclass(frozen=True)
class AtlasNetwork:
    """A :class:`Network` built from an Atlas, with what is needed to read its results.

    Attributes
    ----------
    network : Network
        Period = one day; every item's unit is one day of its world output (so the target's
        demand is 1 and an impact of 3 means three days of target output lost).
    target : str
    nodes : DataFrame
        ``node, item, producer, share`` (percent), ``capacity`` (per day, in the item's unit or
        normalized units, before rescaling to days of world output),
        ``synthetic`` (True for ``@WORLD*``/``@ROW*`` nodes added by the adapter).
    items : DataFrame
        ``item, basis`` (``physical``/``normalized``), ``world_per_day``, ``baseline_use``
        (chain use per day), ``stock`` (model units), ``stock_days``, ``stock_note``.
    notes : list of str
        Assumptions the adapter had to make (shown by the CLI).
    """

    network: Network
    target: str
    nodes: pd.DataFrame
    items: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def upstream_items(atlas: Atlas, target: str) -> list[str]:
    """The target and every item it needs, directly or not (recipes with dependent_share > 0).

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"recipes": pd.DataFrame({"item": ["b", "c"], "input": ["a", "b"],
    ...     "dependent_share": [1.0, 0.5], "rationale": ["r", "r"], "source": ["s", "s"]})})
    >>> upstream_items(a, "c")
    ['c', 'b', 'a']
    """
    return list(upstream_plan(_recipes(atlas), target).items)


def _recipes(atlas: Atlas) -> pd.DataFrame:
    rec = atlas["recipes"]
    df = pd.DataFrame({
        "item": rec["item"].astype(object).to_numpy(),
        "input": rec["input"].astype(object).to_numpy(),
        "quantity": pd.to_numeric(rec["quantity"], errors="coerce").astype("float64").to_numpy(),
        "dependent_share": pd.to_numeric(rec["dependent_share"], errors="coerce").astype("float64").to_numpy(),
    })
    df = df[df["item"].map(lambda v: isinstance(v, str)) & df["input"].map(lambda v: isinstance(v, str))]
    df = df[(df["dependent_share"] > 0) & (df["item"] != df["input"])]
    return df.drop_duplicates(["item", "input"]).reset_index(drop=True)


def _production(atlas: Atlas, items: list[str]) -> pd.DataFrame:
    """Country-level rows (firm-only items summed by country), per item the latest year."""
    prod = country_production(atlas)
    return prod.loc[prod["item"].isin(items), ["item", "producer", "share", "quantity", "capacity", "year"]]


def network_from_atlas(
    atlas: Atlas,
    target: str = DEFAULT_TARGET,
    *,
    spare_capacity: float = 0.0,
    stock_rule: Literal["max", "sum"] = "max",
    default_stock_days: float = 0.0,
) -> AtlasNetwork:
    """Build the time-to-survive network of ``target`` from an Atlas (see the module docstring).

    Parameters
    ----------
    atlas : Atlas
    target : str
        Item whose baseline output is the demand (default ``ai_datacenter_capacity``).
    spare_capacity : float
        Extra capacity of every node as a fraction of its baseline (default 0: none).
    stock_rule : {"max", "sum"}
        How stocks of one item held by several holders add up.
    default_stock_days : float
        Days of the chain's use assumed in stock for items without stock data (default 0).
    """
    items_tbl = atlas["items"]
    known = set(items_tbl["item"].dropna().astype(str))
    if target not in known:
        raise NotFoundError(f"unknown target item {target!r}; it is not in the atlas items table")
    if not np.isfinite(spare_capacity) or spare_capacity < 0:
        raise InputError(f"spare capacity must be a number >= 0, got {spare_capacity}")
    if not np.isfinite(default_stock_days) or default_stock_days < 0:
        raise InputError(f"default stock days must be a number >= 0, got {default_stock_days}")
    if stock_rule not in ("max", "sum"):
        raise InputError(f"unknown stock rule {stock_rule!r}; use max or sum")
    notes: list[str] = []
    chain = upstream_items(atlas, target)
    rec = _recipes(atlas)
    rec = rec[rec["item"].isin(chain) & rec["input"].isin(chain)].reset_index(drop=True)
    # Every item runs at its world output at baseline, which is consistent (cycles included) as long
    # as only the target has external demand; a recipe using the target itself would need the
    # target's output twice, so such rows are left out.
    into_target = rec["input"] == target
    if into_target.any():
        notes.append(f"recipes using the target itself are ignored: "
                     f"{', '.join(sorted(rec.loc[into_target, 'item']))}.")
        rec = rec[~into_target].reset_index(drop=True)
    prod = _production(atlas, chain)

    # World output per day, basis per item.
    world: dict[str, float] = {}
    basis: dict[str, str] = {}
    for it in chain:
        rows = prod[prod["item"] == it]
        known_q = rows[rows["quantity"].notna() & (rows["share"] > 0)]
        if len(known_q):
            world[it] = float(known_q["quantity"].sum() / (known_q["share"].sum() / 100.0)) / DAYS_PER_YEAR
            basis[it] = "physical"
        else:
            world[it] = 1.0
            basis[it] = "normalized"
        if world[it] <= 0:
            world[it], basis[it] = 1.0, "normalized"
    normalized = [it for it in chain if basis[it] == "normalized"]
    if normalized:
        notes.append(f"{len(normalized)} of {len(chain)} items have no production quantity: their "
                     "world output is 1 unit per day (normalized units).")

    # BOM quantities per dependent unit (closed-chain rule where not given).
    q = np.full(len(rec), np.nan)
    for r, (it, inp, qty) in enumerate(zip(rec["item"], rec["input"], rec["quantity"], strict=True)):
        if np.isfinite(qty) and basis[it] == "physical" and basis[inp] == "physical":
            q[r] = qty
    cap_factor = {it: 1.0 for it in chain}
    for inp in rec["input"].unique():
        sel = np.flatnonzero(rec["input"].to_numpy() == inp)
        dep = rec["dependent_share"].to_numpy()[sel] * np.array([world[i] for i in rec["item"].to_numpy()[sel]])
        known_mask = np.isfinite(q[sel])
        used_known = float((q[sel][known_mask] * dep[known_mask]).sum())
        unknown_need = float(dep[~known_mask].sum())
        rest = world[inp] - used_known
        if unknown_need > 0:
            if rest <= _SHARE_TOL * world[inp]:
                rest = world[inp]
            q[sel[~known_mask]] = rest / unknown_need
        total = used_known + (rest if unknown_need > 0 else 0.0)
        if total > world[inp] * (1 + 1e-9):
            cap_factor[inp] = total / world[inp]
            notes.append(f"{inp}: recipe quantities need {total / world[inp]:.3g}× its world output; "
                         "its capacity is raised to meet the baseline.")
    baseline_use = {it: 0.0 for it in chain}
    baseline_use[target] = world[target]
    for it, inp, d, qq in zip(rec["item"], rec["input"], rec["dependent_share"], q, strict=True):
        baseline_use[inp] += qq * d * world[it]

    # Nodes.
    node_rows = []
    for it in chain:
        rows = prod[prod["item"] == it]
        scale = cap_factor[it] * (1.0 + spare_capacity)
        if rows.empty or rows["share"].sum() <= 0:
            node_rows.append({"node": f"{it}@WORLD*", "item": it, "producer": "WORLD*", "share": 100.0,
                              "capacity": world[it] * scale, "synthetic": True})
            continue
        total_share = float(rows["share"].sum())
        has_row = bool((rows["producer"] == "ROW").any())
        denom = max(total_share, 100.0) if not has_row else total_share
        for p, s, c in zip(rows["producer"], rows["share"], rows["capacity"], strict=True):
            cap = s / denom * world[it]
            if basis[it] == "physical" and np.isfinite(c):
                cap = max(cap, c / DAYS_PER_YEAR)
            node_rows.append({"node": f"{it}@{p}", "item": it, "producer": p, "share": float(s),
                              "capacity": cap * scale, "synthetic": False})
        if not has_row and total_share < 100.0 - 1e-9:
            node_rows.append({"node": f"{it}@ROW*", "item": it, "producer": "ROW*",
                              "share": 100.0 - total_share,
                              "capacity": (100.0 - total_share) / 100.0 * world[it] * scale,
                              "synthetic": True})
    missing = [it for it in chain if prod[prod["item"] == it].empty]
    if missing:
        notes.append(f"no production rows for {', '.join(missing)}: each gets one unranked node "
                     "'@WORLD*' that only its inputs can constrain.")
    short = sorted({r["item"] for r in node_rows if r["producer"] == "ROW*"})
    if short:
        notes.append(f"shares sum to less than 100 % without a ROW row for {', '.join(short)}: the "
                     "remainder is an unranked rest-of-world node '@ROW*'.")
    nodes = pd.DataFrame(node_rows, columns=["node", "item", "producer", "share", "capacity", "synthetic"])

    # Stocks.
    stock, stock_days, stock_note = _stocks(atlas, chain, basis, baseline_use, stock_rule)
    no_stock = [it for it in chain if stock_note[it].startswith("no stock")]
    if no_stock and default_stock_days > 0:
        for it in no_stock:
            stock[it] = default_stock_days * baseline_use[it]
            stock_days[it] = default_stock_days if baseline_use[it] > 0 else 0.0
            stock_note[it] = f"no stock data ({default_stock_days:g} days assumed)"
        notes.append(f"{len(no_stock)} of {len(chain)} items have no stock data: "
                     f"{default_stock_days:g} days of cover assumed.")
    elif no_stock:
        notes.append(f"{len(no_stock)} of {len(chain)} items have no stock data: 0 inventory assumed.")
    if spare_capacity > 0:
        notes.append(f"every node has {spare_capacity:.0%} spare capacity above its baseline output.")
    else:
        notes.append("no spare capacity: the chain uses all of each item's output at baseline "
                     "(closed-chain rule; see docs/tts.md).")

    items = pd.DataFrame({
        "item": chain,
        "basis": [basis[i] for i in chain],
        "world_per_day": [world[i] for i in chain],
        "baseline_use": [baseline_use[i] for i in chain],
        "stock": [stock[i] for i in chain],
        "stock_days": [stock_days[i] for i in chain],
        "stock_note": [stock_note[i] for i in chain],
    })
    # The LP works in days of world output (W = 1 for every item): physical units span ten orders
    # of magnitude (helium vs LNG) and HiGHS needs well-scaled rows.
    w_item = np.array([world[i] for i in rec["item"]])
    w_input = np.array([world[i] for i in rec["input"]])
    net = Network.from_frames(
        items=pd.DataFrame({"item": chain,
                            "demand": [1.0 if i == target else 0.0 for i in chain],
                            "inventory": [stock[i] / world[i] for i in chain],
                            "baseline": [1.0] * len(chain)}),
        nodes=pd.DataFrame({"node": nodes["node"], "item": nodes["item"],
                            "capacity": nodes["capacity"] / nodes["item"].map(world)}),
        bom=pd.DataFrame({"item": rec["item"], "input": rec["input"], "quantity": q * w_item / w_input,
                          "dependent_share": rec["dependent_share"]}),
    )
    return AtlasNetwork(net, target, nodes, items, notes)


def _stocks(atlas: Atlas, chain: list[str], basis: dict[str, str], use: dict[str, float],
            rule: str) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
    st = atlas["stocks"]
    amount = {it: 0.0 for it in chain}
    note = {it: "no stock data (0 assumed)" for it in chain}
    if not st.empty:
        df = pd.DataFrame({
            "holder": st["holder"].astype(object).to_numpy(),
            "item": st["item"].astype(object).to_numpy(),
            "days": pd.to_numeric(st["days_of_cover"], errors="coerce").astype("float64").to_numpy(),
            "quantity": pd.to_numeric(st["quantity"], errors="coerce").astype("float64").to_numpy(),
        })
        for it, g in df[df["item"].isin(chain)].groupby("item", sort=True):
            vals, holders = [], []
            for h, d, qty in zip(g["holder"], g["days"], g["quantity"], strict=True):
                if np.isfinite(qty) and basis[it] == "physical":
                    vals.append(float(qty))
                elif np.isfinite(d):
                    vals.append(float(d) * use[it])
                else:
                    continue
                holders.append(str(h))
            if vals:
                amount[it] = max(vals) if rule == "max" else float(sum(vals))
                note[it] = f"{rule} of {len(vals)} holder(s): {', '.join(holders)}"
    days = {it: (amount[it] / use[it] if use[it] > 0 else 0.0) for it in chain}
    return amount, days, note


def atlas_tts(
    atlas: Atlas,
    target: str = DEFAULT_TARGET,
    ttr_days: float = 30.0,
    *,
    spare_capacity: float = 0.0,
    stock_rule: Literal["max", "sum"] = "max",
    default_stock_days: float = 0.0,
    network: AtlasNetwork | None = None,
) -> pd.DataFrame:
    """Time-to-survive, impact for a time-to-recover and risk exposure of every (item, producer).

    Parameters
    ----------
    atlas : Atlas
    target : str
        Item whose baseline output is the demand (default ``ai_datacenter_capacity``).
    ttr_days : float
        Time-to-recover of every node, in days.
    spare_capacity, stock_rule, default_stock_days
        See :func:`network_from_atlas`.
    network : AtlasNetwork, optional
        A network already built from ``atlas`` (skips building it again).

    Returns
    -------
    DataFrame
        One row per real (ranked) node, sorted by rank: ``rank, item, producer, share`` (percent),
        ``tts_days`` (``inf`` = unlimited), ``sustainable_fraction`` (of the target's output the
        rest of the world keeps up forever), ``ttr_days``, ``impact_days`` (target output lost,
        in days of its baseline output), ``lost_share`` (of the target's output over the TTR),
        ``rei`` (risk exposure index: impact / worst impact), ``stock_days`` (inventory of the
        node's item, days of the chain's use), ``stock_note``. ``df.attrs["notes"]`` lists the
        adapter's assumptions.
    """
    an = network if network is not None else network_from_atlas(
        atlas, target, spare_capacity=spare_capacity, stock_rule=stock_rule,
        default_stock_days=default_stock_days)
    real = an.nodes.loc[~an.nodes["synthetic"], "node"].tolist()
    res = analyze(an.network, ttr=float(ttr_days), nodes=real)
    daily = 1.0  # the network's units are days of world output
    meta = an.nodes.set_index("node")
    stocks = an.items.set_index("item")
    out = pd.DataFrame({
        "rank": res["rank"].to_numpy(),
        "item": meta.loc[res["node"], "item"].to_numpy(),
        "producer": meta.loc[res["node"], "producer"].to_numpy(),
        "share": meta.loc[res["node"], "share"].to_numpy(),
        "tts_days": res["tts"].to_numpy(),
        "sustainable_fraction": res["sustainable_fraction"].to_numpy(),
        "ttr_days": res["ttr"].to_numpy(),
        "impact_days": np.array([float(f"{v:.10g}") for v in res["impact"].to_numpy() / daily]),
        "lost_share": res["lost_share"].to_numpy(),
        "rei": res["rei"].to_numpy(),
    })
    out["stock_days"] = stocks.loc[out["item"], "stock_days"].to_numpy()
    out["stock_note"] = stocks.loc[out["item"], "stock_note"].to_numpy()
    out.attrs["notes"] = list(an.notes)
    out.attrs["target"] = an.target
    return out
