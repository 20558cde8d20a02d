"""The upstream plan: which items feed a target through the recipes, and with which shares.

Three analyses start from the same question — the static bottleneck propagation
(:mod:`paxsilica.metrics.bottlenecks`), the simulation network (:func:`paxsilica.network.build_index`)
and the time-to-survive network (:mod:`paxsilica.optimize.atlas_tts`) — and each used to answer it
with a copy of its own. :func:`upstream_plan` is the one answer; each analysis passes the recipe rows
it keeps (all of them for the bottlenecks, rows with ``dependent_share > 0`` for the networks, the
flow rows only in the simulation network) and reads the parts of the plan it needs.

Examples
--------
>>> import pandas as pd
>>> rec = pd.DataFrame({"item": ["chip", "chip", "wafer"], "input": ["wafer", "gas", "silicon"],
...                     "dependent_share": [1.0, 0.3, 0.9]})
>>> p = upstream_plan(rec, "chip")
>>> p.items
('chip', 'wafer', 'gas', 'silicon')
>>> p.order
('gas', 'silicon', 'wafer', 'chip')
>>> p.inputs["chip"]
(('gas', 0.3), ('wafer', 1.0))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

__all__ = ["UpstreamPlan", "upstream_plan"]


@dataclass(frozen=True)
class UpstreamPlan:
    """The target and everything upstream of it, with each item's inputs and dependent shares.

    Attributes
    ----------
    target : str
    items : tuple of str
        The target first, then every item it needs directly or not, in depth-first discovery
        order (the order the network builders number their items in).
    inputs : mapping item -> ((input, dependent_share), ...)
        Per item of the plan its inputs, sorted by id; a pair given by several recipe rows keeps
        its largest share (a missing share counts as 0, shares are clipped to [0, 1]).
    """

    target: str
    items: tuple[str, ...]
    inputs: Mapping[str, tuple[tuple[str, float], ...]]

    @cached_property
    def order(self) -> tuple[str, ...]:
        """The items with inputs before their users, ties broken by id (lexicographic topological
        order); raises ``networkx.NetworkXUnfeasible`` on a cycle."""
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self.items)
        g.add_edges_from((inp, it) for it, ins in self.inputs.items() for inp, _ in ins)
        return tuple(nx.lexicographical_topological_sort(g))


def _share(v: object) -> float:
    d = float(v) if pd.notna(v) else 0.0  # type: ignore[arg-type]
    return min(max(d, 0.0), 1.0)


def upstream_plan(recipes: pd.DataFrame, target: str) -> UpstreamPlan:
    """The upstream plan of ``target`` over the recipe rows given (``item``, ``input``,
    ``dependent_share``).

    Rows whose item or input is not a string are ignored. Cycles are allowed (an item is visited
    once); only :attr:`UpstreamPlan.order` needs a DAG.

    Parameters
    ----------
    recipes : DataFrame
        Recipe rows the caller keeps.
    target : str
        Item whose supply chain is planned (it is always in the plan, with or without recipes).

    Returns
    -------
    UpstreamPlan

    Examples
    --------
    >>> upstream_plan(pd.DataFrame({"item": ["b", "c"], "input": ["a", "b"],
    ...                             "dependent_share": [1.0, 0.5]}), "c").items
    ('c', 'b', 'a')
    """
    needs: dict[str, list[str]] = {}
    share: dict[tuple[str, str], float] = {}
    shares = recipes["dependent_share"] if "dependent_share" in recipes else [None] * len(recipes)
    for it, inp, d in zip(recipes["item"], recipes["input"], shares, strict=True):
        if not (isinstance(it, str) and isinstance(inp, str)):
            continue
        needs.setdefault(it, []).append(inp)
        key = (inp, it)
        share[key] = max(share.get(key, 0.0), _share(d))
    seen = [target]
    known = {target}
    stack = [target]
    while stack:  # depth-first, last input first: the order the builders have always numbered items in
        for inp in needs.get(stack.pop(), []):
            if inp not in known:
                known.add(inp)
                seen.append(inp)
                stack.append(inp)
    inputs = {n: tuple(sorted((inp, share[(inp, n)]) for inp in set(needs.get(n, ()))))
              for n in seen}
    return UpstreamPlan(target, tuple(seen), inputs)
