"""Upstream bottlenecks: how much of a target item is lost when producers upstream are knocked out.

Static Leontief propagation over the recipe graph (a DAG, input -> item). With ``a_j`` the available
fraction of item ``j`` (1 = normal supply):

    a_j = min( own_j , min over inputs i of [ 1 - d_ij * (1 - a_i) ] )

where ``own_j`` is the part of j's own production still running (1 minus the knocked-out producer
shares) and ``d_ij`` the recipe's ``dependent_share``: the part of j's output that needs input i.
The part of output that needs an input is limited by that input's availability, and output is set
by the scarcest input (no substitution, no inventories, scarce inputs go to surviving capacity).
Items are evaluated in topological order; the loss at the target is ``1 - a_target``.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Iterable, Mapping

import networkx as nx
import numpy as np
import pandas as pd

from ..atlas import Atlas
from ..errors import InputError
from ..network.plan import UpstreamPlan, upstream_plan
from ._common import (
    DEFAULT_COALITION,
    DEFAULT_TARGET,
    country_names,
    item_info,
    latest_production,
    parse_codes,
    require_item,
)
from .coalition import members

_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def recipe_graph(atlas: Atlas) -> nx.DiGraph:
    """The recipe graph: an edge ``input -> item`` with attribute ``dependent_share`` (0-1).

    Raises :class:`~paxsilica.errors.InputError` if the recipes contain a cycle.

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"recipes": pd.DataFrame({"item": ["b"], "input": ["a"],
    ...     "dependent_share": [0.5], "rationale": ["r"], "source": ["s"]})})
    >>> list(recipe_graph(a).edges(data="dependent_share"))
    [('a', 'b', 0.5)]
    """
    g = nx.DiGraph()
    g.add_nodes_from(str(i) for i in atlas["items"]["item"].dropna())
    r = atlas["recipes"]
    for item, inp, d in zip(r["item"], r["input"], r["dependent_share"], strict=True):
        if not (isinstance(item, str) and isinstance(inp, str)):
            continue
        d = float(d) if pd.notna(d) else 0.0
        d = min(max(d, 0.0), 1.0)
        if g.has_edge(inp, item):
            d = max(d, g[inp][item]["dependent_share"])
        g.add_edge(inp, item, dependent_share=d)
    if not nx.is_directed_acyclic_graph(g):
        cycle = nx.find_cycle(g)
        path = " -> ".join([cycle[0][0]] + [v for _, v in cycle])
        raise InputError(f"the recipes contain a cycle: {path}", file=atlas.file_of("recipes").file)
    return g


def _plan(atlas: Atlas, target: str) -> UpstreamPlan:
    cache = _PLANS.setdefault(atlas, {})
    if target in cache:
        return cache[target]
    g = recipe_graph(atlas)  # refuses cyclic recipes, which the propagation order needs
    if target not in g:
        require_item(atlas, target)
    plan = upstream_plan(atlas["recipes"], target)
    plan.order  # noqa: B018  (computed once, with the plan, while it is cached)
    cache[target] = plan
    return plan


def _propagate(plan: UpstreamPlan, own: Mapping[str, float]) -> tuple[dict[str, float], dict[str, str | None]]:
    avail: dict[str, float] = {}
    binding: dict[str, str | None] = {}
    for n in plan.order:
        a = float(own.get(n, 1.0))
        b = None
        for inp, d in plan.inputs[n]:
            lim = 1.0 - d * (1.0 - avail[inp])
            if lim < a - 1e-12:
                a, b = lim, inp
        avail[n] = min(max(a, 0.0), 1.0)
        binding[n] = b
    return avail, binding


def _check_availability(availability_by_item: Mapping[str, float]) -> dict[str, float]:
    out = {}
    for k, v in availability_by_item.items():
        v = float(v)
        if not (0.0 <= v <= 1.0) or np.isnan(v):
            raise InputError(f"availability of {k!r} must be in [0, 1], got {v}")
        out[str(k)] = v
    return out


def propagate(atlas: Atlas, availability_by_item: Mapping[str, float],
              target: str = DEFAULT_TARGET) -> dict[str, float]:
    """Available output fraction of the target and of every item upstream of it.

    Parameters
    ----------
    atlas : Atlas
    availability_by_item : mapping of item id to float in [0, 1]
        The part of each item's own production still running (missing items: 1). Items not
        upstream of the target are ignored.
    target : str
        Item whose supply chain is evaluated (default ``ai_datacenter_capacity``).

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"recipes": pd.DataFrame({"item": ["b"], "input": ["a"],
    ...     "dependent_share": [0.5], "rationale": ["r"], "source": ["s"]})})
    >>> propagate(a, {"a": 0.0}, target="b")
    {'a': 0.0, 'b': 0.5}
    """
    avail, _ = _propagate(_plan(atlas, target), _check_availability(availability_by_item))
    return avail


def knockout_loss(atlas: Atlas, target: str, availability_by_item: Mapping[str, float]) -> float:
    """Fraction of the target's output lost (0-1) when items' own production is cut to the given
    availabilities. Stable public API (used by the logistics layer to rank chokepoints).

    Parameters
    ----------
    atlas : Atlas
    target : str
        Target item id, e.g. ``"ai_datacenter_capacity"``.
    availability_by_item : mapping of item id to float in [0, 1]
        Remaining fraction of each item's own production; items not given are at 1.

    Returns
    -------
    float
        ``1 - a_target`` after propagation through the recipes, in [0, 1].

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({"recipes": pd.DataFrame({"item": ["chip"], "input": ["gas"],
    ...     "dependent_share": [1.0], "rationale": ["r"], "source": ["s"]})})
    >>> knockout_loss(a, "chip", {"gas": 0.4})
    0.6
    """
    avail, _ = _propagate(_plan(atlas, target), _check_availability(availability_by_item))
    return float(round(1.0 - avail[target], 12))


def upstream_items(atlas: Atlas, target: str = DEFAULT_TARGET) -> tuple[str, ...]:
    """The target and every item upstream of it, inputs before the items that use them."""
    return _plan(atlas, target).order


def _path(binding: Mapping[str, str | None], target: str) -> str:
    chain = [target]
    while binding.get(chain[-1]) is not None and len(chain) < 100:
        chain.append(str(binding[chain[-1]]))
    return " <- ".join(chain)


def bottlenecks(atlas: Atlas, target: str = DEFAULT_TARGET, level: str = "country",
                year: int | None = None, include_rest: bool = False) -> pd.DataFrame:
    """Rank every (item, producer) knock-out upstream of the target by the loss at the target.

    Parameters
    ----------
    atlas : Atlas
    target : str
    level : {"country", "firm"}
    year : int, optional
    include_rest : bool
        Also knock out the rest-of-world remainder rows (off by default: they are no single producer).

    Returns
    -------
    DataFrame
        ``rank, item, name, stage, producer, producer_country, producer_share, loss, path``,
        sorted by loss (then share). ``path`` is the chain of binding inputs from the target down
        to the knocked-out item.

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({
    ...   "recipes": pd.DataFrame({"item": ["dc"], "input": ["gas"], "dependent_share": [1.0],
    ...                            "rationale": ["r"], "source": ["s"]}),
    ...   "production": pd.DataFrame({"item": ["gas", "gas"], "producer": ["QAT", "USA"],
    ...       "producer_type": ["country"] * 2, "year": [2024] * 2, "share": [60.0, 40.0],
    ...       "source": ["s"] * 2})})
    >>> bottlenecks(a, "dc")[["producer", "loss"]].values.tolist()
    [['QAT', 0.6], ['USA', 0.4]]
    """
    plan = _plan(atlas, target)
    ups = set(plan.order)
    prod = latest_production(atlas, level, year)
    prod = prod[prod["item"].isin(ups)]
    if not include_rest:
        prod = prod[~prod["rest"]]
    info = item_info(atlas)
    rows = []
    for r in prod.itertuples(index=False):
        avail, binding = _propagate(plan, {r.item: max(0.0, 1.0 - float(r.share))})
        rows.append({
            "item": r.item, "name": info["name"].get(r.item, r.item),
            "stage": info["stage"].get(r.item), "producer": r.producer,
            "producer_country": r.country, "producer_share": float(r.share),
            "loss": float(round(1.0 - avail[target], 12)), "path": _path(binding, target),
        })
    cols = ["rank", "item", "name", "stage", "producer", "producer_country", "producer_share",
            "loss", "path"]
    out = pd.DataFrame(rows, columns=cols[1:])
    if out.empty:
        return pd.DataFrame(columns=cols)
    out = out.sort_values(["loss", "producer_share", "item", "producer"],
                          ascending=[False, False, True, True], kind="mergesort")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def country_availability(atlas: Atlas, countries: Iterable[str], level: str = "country",
                         year: int | None = None) -> dict[str, float]:
    """Own-production availability per item when every producer in ``countries`` stops.

    At firm level a firm's production counts for the country it produces in.
    """
    cs = set(parse_codes(countries))
    prod = latest_production(atlas, level, year)
    hit = prod[prod["country"].isin(cs)]
    lost = hit.groupby("item")["share"].sum()
    return {str(i): float(np.clip(1.0 - s, 0.0, 1.0)) for i, s in lost.items()}


def country_knockouts(atlas: Atlas, target: str = DEFAULT_TARGET, level: str = "country",
                      year: int | None = None, coalition: str | None = DEFAULT_COALITION,
                      date: str | dt.date | None = None,
                      add: Iterable[str] | str | None = ()) -> pd.DataFrame:
    """Loss at the target when one country's production of every item stops (e.g. CHN, TWN).

    Returns
    -------
    DataFrame
        ``rank, country, name, member, loss, n_items, largest_item, largest_item_share, path``,
        sorted by loss; ``member`` says whether the country is in ``coalition`` (as of ``date``,
        with ``add``).

    Examples
    --------
    >>> import pandas as pd
    >>> from paxsilica.atlas import Atlas
    >>> a = Atlas.from_frames({
    ...   "recipes": pd.DataFrame({"item": ["dc"], "input": ["gas"], "dependent_share": [1.0],
    ...                            "rationale": ["r"], "source": ["s"]}),
    ...   "production": pd.DataFrame({"item": ["gas", "gas"], "producer": ["QAT", "USA"],
    ...       "producer_type": ["country"] * 2, "year": [2024] * 2, "share": [60.0, 40.0],
    ...       "source": ["s"] * 2})})
    >>> country_knockouts(a, "dc")[["country", "loss"]].values.tolist()
    [['QAT', 0.6], ['USA', 0.4]]
    """
    from ..atlas.memo import memo_view

    mem = members(atlas, coalition, date, add) if coalition else frozenset(parse_codes(add))
    # the ranking does not depend on membership: one table per (target, level, year), computed once per
    # atlas (the briefing asks for it with and without a coalition, and once per candidate partner)
    out = memo_view(atlas, "country_knockouts", (target, level, year), lambda: _knockouts(atlas, target, level, year),
                    tables=("production", "firms", "recipes", "items", "countries"))
    if len(out):
        out["member"] = out["country"].isin(mem).to_numpy()
    return out


def _knockouts(atlas: Atlas, target: str, level: str, year: int | None) -> pd.DataFrame:
    plan = _plan(atlas, target)
    prod = latest_production(atlas, level, year)
    prod = prod[prod["item"].isin(set(plan.order)) & prod["country"].notna()]
    mem: frozenset[str] = frozenset()
    names = country_names(atlas)
    rows = []
    for c, g in prod.groupby("country", sort=True):
        by_item = g.groupby("item")["share"].sum()
        own = {str(i): float(np.clip(1.0 - s, 0.0, 1.0)) for i, s in by_item.items()}
        avail, binding = _propagate(plan, own)
        top = by_item.sort_values(ascending=False, kind="mergesort")
        rows.append({
            "country": c, "name": names.get(c, c), "member": c in mem,
            "loss": float(round(1.0 - avail[target], 12)), "n_items": int(len(by_item)),
            "largest_item": str(top.index[0]), "largest_item_share": float(top.iloc[0]),
            "path": _path(binding, target),
        })
    cols = ["rank", "country", "name", "member", "loss", "n_items", "largest_item",
            "largest_item_share", "path"]
    out = pd.DataFrame(rows, columns=cols[1:])
    if out.empty:
        return pd.DataFrame(columns=cols)
    out = out.sort_values(["loss", "n_items", "country"], ascending=[False, False, True],
                          kind="mergesort")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def group_knockout_loss(atlas: Atlas, countries: Iterable[str], target: str = DEFAULT_TARGET,
                        level: str = "country", year: int | None = None) -> float:
    """Loss at the target when all ``countries`` stop producing at once.

    Examples
    --------
    >>> from paxsilica.atlas import Atlas
    >>> group_knockout_loss(Atlas.from_frames({"items": pd.DataFrame({"item": ["dc"],
    ...     "name": ["DC"], "stage": ["infrastructure"], "unit": ["MW"]})}), ["CHN"], "dc")
    0.0
    """
    return knockout_loss(atlas, target, country_availability(atlas, countries, level, year))


def outside_availability(atlas: Atlas, member_set: Iterable[str], level: str = "country",
                         year: int | None = None) -> dict[str, float]:
    """Own-production availability per item when only coalition members supply (ROW counts outside)."""
    mem = set(member_set)
    prod = latest_production(atlas, level, year)
    prod = prod[prod["item"].notna()]
    codes, uniq = pd.factorize(prod["item"], sort=True)
    share = prod["share"].to_numpy(dtype="float64")
    inside = prod["country"].isin(mem).to_numpy(dtype=bool)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniq) + 1))
    out = {}
    for k, item in enumerate(uniq):
        rows = order[bounds[k]:bounds[k + 1]]
        # the members' shares of the item in row order, summed as one numpy array (as a pandas sum would)
        out[str(item)] = float(np.clip(share[rows[inside[rows]]].sum(), 0.0, 1.0))
    return out


def coalition_bottlenecks(atlas: Atlas, group: str = DEFAULT_COALITION,
                          date: str | dt.date | None = None, add: Iterable[str] | str | None = (),
                          target: str = DEFAULT_TARGET, level: str = "country",
                          year: int | None = None) -> pd.DataFrame:
    """Bottleneck losses for the coalition as it is and with ``add`` joining.

    Returns
    -------
    DataFrame
        One row per scenario (``current`` and, if ``add`` is given, ``with ADD``): ``scenario,
        n_members, autarky_loss`` (loss at the target if every non-member and the unknown rest
        stop supplying), ``worst_outsider, worst_outsider_loss`` (the non-member whose
        knock-out costs most) and ``n_outsiders_over_10pct`` (non-members whose knock-out alone
        costs > 10 % of the target).

    Examples
    --------
    >>> from paxsilica.atlas import Atlas
    >>> coalition_bottlenecks(Atlas.from_frames({"items": pd.DataFrame({"item": ["dc"],
    ...     "name": ["DC"], "stage": ["infrastructure"], "unit": ["MW"]})}), target="dc")["scenario"].tolist()
    ['current']
    """
    plan = _plan(atlas, target)
    scenarios = [("current", ())]
    added = parse_codes(add)
    if added:
        scenarios.append((f"with {', '.join(added)}", added))
    knock = country_knockouts(atlas, target, level, year, coalition=None)
    rows = []
    for name, extra in scenarios:
        mem = members(atlas, group, date, extra)
        own = outside_availability(atlas, mem, level, year)
        avail, _ = _propagate(plan, own)
        out = knock[~knock["country"].isin(mem)]
        rows.append({
            "scenario": name, "n_members": len(mem),
            "autarky_loss": float(round(1.0 - avail[target], 12)),
            "worst_outsider": out["country"].iloc[0] if len(out) else None,
            "worst_outsider_loss": float(out["loss"].iloc[0]) if len(out) else 0.0,
            "n_outsiders_over_10pct": int((out["loss"] > 0.10).sum()),
        })
    return pd.DataFrame(rows)
