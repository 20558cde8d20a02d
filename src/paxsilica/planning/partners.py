"""Partner value: what the coalition gains if a country joins it, or signs an offtake agreement.

For each candidate country ``k`` (a non-member that produces an item of the plan), three measures of
the coalition's risk, before and after:

* **bottleneck loss**: the autarky loss at the target, if every non-member stopped supplying
  (:func:`paxsilica.metrics.bottlenecks.coalition_bottlenecks` with ``k`` added);
* **expected loss** and **CVaR** at ``α`` of the coalition's *best* sourcing plan over the scenario set
  (:func:`paxsilica.planning.sourcing.optimize_sourcing`), where

  - an **offtake agreement** means ``k``'s export bans no longer reach the coalition (its supply under
    contract keeps flowing; outages at ``k`` still do), and
  - **joining** means the same and, in addition, ``k``'s sources count as coalition sources (minimum
    coalition share) and ``k`` is inside the coalition for the bottleneck loss.

Candidates are ranked by the CVaR reduction of joining, then the bottleneck-loss reduction, with a
reason in words.

Examples
--------
>>> from paxsilica.network import tiny_atlas
>>> from paxsilica.planning.scenarios import ScenarioSet
>>> import numpy as np, pandas as pd
>>> ev = pd.DataFrame([{"scenario": "a", "kind": "export_ban", "item": "wafer", "country": "JPN",
...                     "start_day": 0.0, "duration_days": 60.0, "severity": 1.0}])
>>> s = ScenarioSet("t", ("a",), np.ones(1), np.array([60.0]), ev)
>>> t = partner_value(tiny_atlas(), s, coalition="club", target="chip", alpha=0.0, chokepoints=False)
>>> t[["country", "expected_before", "expected_join"]].round(3).values.tolist()[0]
['JPN', 0.6, 0.0]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..constants import DEFAULT_COALITION, DEFAULT_TARGET
from .base import SupplyBase, _members, supply_base
from .scenarios import ScenarioSet, unavailability
from .sourcing import DEFAULT_MAX_SHARE, optimize_sourcing

__all__ = ["PARTNER_COLUMNS", "partner_value"]

PARTNER_COLUMNS = ["rank", "country", "name", "supply_weight", "bottleneck_before", "bottleneck_join",
                   "expected_before", "expected_offtake", "expected_join", "cvar_before", "cvar_offtake",
                   "cvar_join", "cvar_reduction", "reason"]


def partner_value(atlas: Any, sset: ScenarioSet, *, coalition: str = DEFAULT_COALITION,
                  target: str = DEFAULT_TARGET, items: Iterable[str] | None = None,
                  candidates: Iterable[str] | None = None, top: int = 10, alpha: float = 0.95,
                  max_share: float = DEFAULT_MAX_SHARE, min_coalition_share: float = 0.0,
                  chokepoints: bool = True, base: SupplyBase | None = None) -> pd.DataFrame:
    """Rank candidate partners of ``coalition`` (module docstring); :data:`PARTNER_COLUMNS`.

    ``base`` is the coalition's supply base when the caller has built it already
    (``supply_base(atlas, coalition, coalition=coalition, target=target, items=items,
    chokepoints=chokepoints)``); it must be that one.
    """
    from ..metrics._common import country_names, require_countries
    from ..metrics.bottlenecks import coalition_bottlenecks

    if base is None:
        base = supply_base(atlas, coalition, coalition=coalition, target=target, items=items,
                           chokepoints=chokepoints)
    elif (base.consumer, base.target) != (coalition, target) or base.coalition != _members(atlas, coalition):
        raise ValueError("partner_value: the supply base given is not the coalition's")
    src = base.sources
    names = country_names(atlas)

    def solve(consumers: frozenset[str], members: frozenset[str]) -> dict[str, float]:
        s = src.assign(member=src["country"].isin(members).to_numpy())
        u = unavailability(sset, s, consumers, atlas, base.hits, base.group_members)
        p = optimize_sourcing(s, u, prob=sset.prob, alpha=alpha, max_share=max_share,
                              min_coalition_share=min_coalition_share, scenario_ids=sset.scenarios)
        return p.summary["after"]

    weight = (src["weight"] * src["share"]).groupby(src["country"]).sum()
    if candidates is not None:
        cand = list(require_countries(atlas, list(candidates), "candidate"))
    else:
        pool = weight[~weight.index.isin(base.coalition)].sort_values(ascending=False, kind="stable")
        cand = [str(c) for c in pool.index[:top]]
    ref = solve(base.countries, base.coalition)
    bn0 = coalition_bottlenecks(atlas, coalition, target=target)["autarky_loss"].iloc[0]
    rows = []
    for k in cand:
        off = solve(base.countries | {k}, base.coalition)
        join = solve(base.countries | {k}, base.coalition | {k})
        bn = coalition_bottlenecks(atlas, coalition, add=[k], target=target)["autarky_loss"].iloc[-1]
        mine = src[src["country"] == k].sort_values("share", ascending=False)
        top_items = ", ".join(f"{r.item} {r.share:.0%}" for r in mine.head(3).itertuples())
        bans = sset.events[(sset.events["kind"] == "export_ban") & (sset.events["country"] == k)]["scenario"].nunique()
        reason = (f"supplies {top_items or 'nothing planned'}; its export bans reach the coalition in {bans} of "
                  f"{len(sset)} scenario(s); joining moves the CVaR from {ref['cvar']:.1%} to {join['cvar']:.1%} and the "
                  f"autarky loss from {bn0:.0%} to {bn:.0%}")
        rows.append({"country": k, "name": names.get(k, k), "supply_weight": float(weight.get(k, 0.0)),
                     "bottleneck_before": float(bn0), "bottleneck_join": float(bn),
                     "expected_before": ref["expected"], "expected_offtake": off["expected"],
                     "expected_join": join["expected"], "cvar_before": ref["cvar"], "cvar_offtake": off["cvar"],
                     "cvar_join": join["cvar"], "cvar_reduction": ref["cvar"] - join["cvar"], "reason": reason})
    out = pd.DataFrame(rows, columns=PARTNER_COLUMNS[1:])
    if out.empty:
        return pd.DataFrame(columns=PARTNER_COLUMNS)
    out["_bn"] = out["bottleneck_before"] - out["bottleneck_join"]
    out = out.sort_values(["cvar_reduction", "_bn", "country"], ascending=[False, False, True], kind="stable")
    out = out.drop(columns="_bn")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)
