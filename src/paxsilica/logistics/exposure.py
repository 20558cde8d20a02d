"""Chokepoint exposure: which part of each item's supply passes each chokepoint, and what a
closure does to supply and to the AI data-centre target.

Flows are those of :func:`paxsilica.logistics.lanes.network_pairs` (bilateral trade where the
atlas has it, else production shares x demand shares); only sea lanes pass chokepoints (air,
land and same-country flows pass none).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from paxsilica.atlas import Atlas
from paxsilica.constants import DEFAULT_TARGET
from paxsilica.errors import PaxsilicaError

from .lanes import (
    DEFAULT_PORT_DAYS,
    DEFAULT_SPEED_KNOTS,
    _chokepoints,
    lane_table,
    lanes,
    parse_closed,
)

EXPOSURE_COLUMNS = ("chokepoint", "item", "name", "stage", "scope", "basis", "share")


def _item_info(atlas: Atlas) -> pd.DataFrame:
    it = atlas["items"]
    return it.set_index(it["item"].astype(str))[["name", "stage"]] if not it.empty else pd.DataFrame(
        columns=["name", "stage"])


def _explode(lt: pd.DataFrame) -> pd.DataFrame:
    t = lt[(lt["mode"] == "sea") & lt["chokepoints"].ne("")].copy()
    t["chokepoint"] = t["chokepoints"].str.split(";")
    return t.explode("chokepoint")


def chokepoint_exposure(atlas: Atlas, importer: str | None = None, items: Iterable[str] | None = None,
                        speed_knots: float = DEFAULT_SPEED_KNOTS, cache: bool | str | Path | None = True,
                        lane_frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Share of each item's supply that passes each chokepoint.

    Parameters
    ----------
    atlas : Atlas
    importer : iso3, optional
        None: share of world supply (``basis`` production: including domestic use; ``trade``: of
        world exports). An iso3: share of that country's imports of the item.
    items : iterable of item ids, optional
    lane_frame : DataFrame, optional
        Output of :func:`~paxsilica.logistics.lanes.lanes` to reuse.

    Returns
    -------
    DataFrame
        ``chokepoint, item, name, stage, scope, basis, share`` (share 0-1), rows with share > 0,
        sorted by chokepoint then share.

    Examples
    --------
    >>> from paxsilica.atlas import bundled_atlas
    >>> chokepoint_exposure(bundled_atlas()).columns.tolist()  # doctest: +SKIP
    ['chokepoint', 'item', 'name', 'stage', 'scope', 'basis', 'share']
    """
    lt = lane_frame if lane_frame is not None else lanes(atlas, items=items, speed_knots=speed_knots,
                                                          cache=cache)
    if items is not None:
        lt = lt[lt["item"].isin(set(items))]
    if importer is not None:
        importer = importer.upper()
        lt = lt[(lt["importer"] == importer) & (lt["exporter"] != importer)]
        totals = lt.groupby("item")["weight"].sum()
        scope = importer
    else:
        # weights are fractions of world supply already (unlocated supply passes nothing)
        totals = pd.Series(1.0, index=pd.Index(lt["item"].unique()))
        scope = "world"
    ex = _explode(lt)
    if ex.empty:
        return pd.DataFrame(columns=list(EXPOSURE_COLUMNS))
    g = ex.groupby(["chokepoint", "item"], as_index=False).agg(weight=("weight", "sum"), basis=("basis", "first"))
    g["share"] = g["weight"] / g["item"].map(totals).to_numpy()
    info = _item_info(atlas)
    g["name"] = g["item"].map(info["name"]) if len(info) else g["item"]
    g["stage"] = g["item"].map(info["stage"]) if len(info) else None
    g["scope"] = scope
    g = g[g["share"] > 0].sort_values(["chokepoint", "share", "item"], ascending=[True, False, True],
                                      kind="stable")
    return g[list(EXPOSURE_COLUMNS)].reset_index(drop=True)


def closure_impact(atlas: Atlas, closed: Iterable[str] | str, items: Iterable[str] | None = None,
                   importer: str | None = None, speed_knots: float = DEFAULT_SPEED_KNOTS,
                   port_days: float = DEFAULT_PORT_DAYS,
                   cache: bool | str | Path | None = True, alternate_ports: bool = False) -> pd.DataFrame:
    """What a closure set does to each item's supply (``alternate_ports``: see
    :func:`~paxsilica.logistics.lanes.lane_table`).

    Returns
    -------
    DataFrame
        ``item, name, stage, basis, share_passing`` (of supply through any closed chokepoint at
        baseline), ``share_cut`` (no sea route left), ``share_rerouted``, ``mean_added_days``
        (over rerouted flows, weighted), ``availability`` (1 - share_cut: the static supply left
        when rerouting is allowed), sorted by share cut. With ``importer``: shares of that
        country's imports.

    Examples
    --------
    >>> from paxsilica.atlas import bundled_atlas
    >>> closure_impact(bundled_atlas(), "hormuz").columns[:3].tolist()  # doctest: +SKIP
    ['item', 'name', 'stage']
    """
    closed = parse_closed(closed)
    lt = lanes(atlas, closed, items=items, speed_knots=speed_knots, port_days=port_days, cache=cache,
               alternate_ports=alternate_ports)
    if importer is not None:
        importer = importer.upper()
        lt = lt[(lt["importer"] == importer) & (lt["exporter"] != importer)]
    cols = ["item", "name", "stage", "basis", "share_passing", "share_cut", "share_rerouted",
            "mean_added_days", "availability"]
    if lt.empty:
        return pd.DataFrame(columns=cols)
    lt = lt.assign(
        _pass=[bool(closed.intersection(c.split(";"))) if m == "sea" and c else False
               for c, m in zip(lt["chokepoints"], lt["mode"], strict=True)])
    rows = []
    info = _item_info(atlas)
    for it, g in lt.groupby("item", sort=True):
        tot = float(g["weight"].sum()) if importer is not None else 1.0
        if tot <= 0:
            continue
        w = g["weight"]
        rer = g["rerouted"].astype(bool)
        added = float((w[rer] * g.loc[rer, "added_days"]).sum() / w[rer].sum()) if rer.any() else 0.0
        cut = float(w[g["cut"].astype(bool)].sum()) / tot
        rows.append({"item": it, "name": info["name"].get(it, it) if len(info) else it,
                     "stage": info["stage"].get(it) if len(info) else None, "basis": g["basis"].iloc[0],
                     "share_passing": float(w[g["_pass"]].sum()) / tot, "share_cut": cut,
                     "share_rerouted": float(w[rer].sum()) / tot, "mean_added_days": added,
                     "availability": 1.0 - cut})
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["share_cut", "share_passing", "item"], ascending=[False, False, True],
                           kind="stable").reset_index(drop=True)


def _knockout_loss():
    """The metrics layer's loss function, if present (``knockout_loss(atlas, target, avail)``)."""
    try:
        from paxsilica.metrics import knockout_loss
    except ImportError:  # metrics not installed in this build: supply-share ranking only
        return None
    return knockout_loss


def chokepoint_ranking(atlas: Atlas, target: str = DEFAULT_TARGET,
                       chokepoints: Iterable[str] | None = None,
                       closure_sets: dict[str, Iterable[str]] | None = None,
                       speed_knots: float = DEFAULT_SPEED_KNOTS,
                       cache: bool | str | Path | None = True, alternate_ports: bool = False) -> pd.DataFrame:
    """Rank chokepoints (or named closure sets) by their effect on the target.

    For each closure, the availability of each item is ``1 - share_cut`` (supply that has no sea
    route left) and the loss at ``target`` is the metrics layer's bottleneck propagation
    (:func:`paxsilica.metrics.knockout_loss`) over the recipes. ``loss_if_passing_lost`` is the
    worst case where every flow through the closure is lost (no rerouting, no time to adapt).

    Returns
    -------
    DataFrame
        ``rank, closure, chokepoints, loss, loss_if_passing_lost, max_share_passing,
        max_share_item, items_over_10pct, mean_added_days``, sorted by loss, then worst case, then
        the largest supply share passing. ``loss`` columns are NaN when the metrics layer is
        missing (the ranking then falls back to the supply shares).

    Examples
    --------
    >>> from paxsilica.atlas import bundled_atlas
    >>> chokepoint_ranking(bundled_atlas()).columns[:3].tolist()  # doctest: +SKIP
    ['rank', 'closure', 'chokepoints']
    """
    if closure_sets is None:
        ids = list(chokepoints) if chokepoints is not None else [str(c) for c in _chokepoints(atlas)["chokepoint"]]
        closure_sets = {c: [c] for c in ids}
    loss_fn = _knockout_loss()
    base = lanes(atlas, speed_knots=speed_knots, cache=cache)
    tot = pd.Series(1.0, index=pd.Index(base["item"].unique()))  # weights: fractions of world supply
    sea = base["mode"].eq("sea").to_numpy()
    base_cps = [frozenset(c.split(";")) if m and c else frozenset()
                for c, m in zip(base["chokepoints"], sea, strict=True)]
    rows = []
    for name, members in closure_sets.items():
        closed = parse_closed(members)
        passing = np.array([bool(closed & c) for c in base_cps], dtype=bool)
        # only the lanes passing the closure can change: route just those again
        hit = base.loc[passing, ["exporter", "importer"]].drop_duplicates()
        status = lane_table(atlas, hit, closed, mode="sea", speed_knots=speed_knots, cache=cache,
                            alternate_ports=alternate_ports) \
            if len(hit) else pd.DataFrame(columns=["exporter", "importer", "cut", "rerouted", "added_days"])
        key = dict(zip(zip(status["exporter"], status["importer"], strict=True),
                       zip(status["cut"], status["added_days"], strict=True), strict=True))
        flows = base[passing]
        got = [key.get((e, i), (False, 0.0)) for e, i in zip(flows["exporter"], flows["importer"], strict=True)]
        cut = np.array([bool(g[0]) for g in got], dtype=bool)
        added = np.array([0.0 if g[0] or pd.isna(g[1]) else float(g[1]) for g in got])
        share_pass = (flows.groupby("item")["weight"].sum() / tot).dropna()
        share_cut = (flows[cut].groupby("item")["weight"].sum() / tot).dropna()
        rer = (~cut) & (added > 0)
        w = flows["weight"].to_numpy()
        mean_added = float((w[rer] * added[rer]).sum() / w[rer].sum()) if rer.any() else 0.0
        loss = worst = float("nan")
        if loss_fn is not None:
            try:
                loss = loss_fn(atlas, target, {k: float(1 - v) for k, v in share_cut.items()})
                worst = loss_fn(atlas, target, {k: float(1 - v) for k, v in share_pass.items()})
            except (PaxsilicaError, KeyError):  # no such target in this atlas: shares only
                loss = worst = float("nan")
        top = share_pass.sort_values(ascending=False, kind="stable")
        rows.append({"closure": name, "chokepoints": ";".join(sorted(closed)), "loss": loss,
                     "loss_if_passing_lost": worst,
                     "max_share_passing": float(top.iloc[0]) if len(top) else 0.0,
                     "max_share_item": str(top.index[0]) if len(top) else "",
                     "items_over_10pct": int((share_pass > 0.10).sum()),
                     "mean_added_days": mean_added})
    out = pd.DataFrame(rows, columns=["closure", "chokepoints", "loss", "loss_if_passing_lost",
                                      "max_share_passing", "max_share_item", "items_over_10pct",
                                      "mean_added_days"])
    out = out.sort_values(["loss", "loss_if_passing_lost", "max_share_passing", "closure"],
                          ascending=[False, False, False, True], na_position="last",
                          kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


__all__ = ["DEFAULT_TARGET", "EXPOSURE_COLUMNS", "chokepoint_exposure", "chokepoint_ranking", "closure_impact"]
