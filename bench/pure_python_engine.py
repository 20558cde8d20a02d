"""A straightforward pure-Python implementation of ENGINE.md Part A (one loop per link, dicts and
lists, absolute units), for the engine's speed ratio in ``bench/bench_large.py``.

It is written from the specification, not from paxsilica's engine: the same equations, the plain
way (the reference C++ simulator is written this way too, with hash maps). Its series agree with
``paxsilica.sim.simulate`` to about 1e-9 relative on shocked runs (checked by the benchmark).
"""

from __future__ import annotations

EPS = 1e-20


def simulate_pure(supplier: list[int], client: list[int], amount: list[float], final_demand: list[float],
                  sector: list[int], shocks: dict[int, tuple[float, int]], steps: int, *,
                  rationing: str = "proportional", n: float = 15.0, tau: float = 6.0) -> list[float]:
    """Total production per step (first value: the setup state) of the reference model."""
    nf = len(final_demand)
    links = list(zip(supplier, client, amount, strict=True))
    clients_of: list[list[int]] = [[] for _ in range(nf)]  # link ids by supplier
    inputs_of: list[list[int]] = [[] for _ in range(nf)]  # link ids by client
    for k, (j, i, _) in enumerate(links):
        clients_of[j].append(k)
        inputs_of[i].append(k)
    pbar = [final_demand[j] + sum(links[k][2] for k in clients_of[j]) for j in range(nf)]
    a_sec: list[dict[int, float]] = [{} for _ in range(nf)]
    for i in range(nf):
        for k in inputs_of[i]:
            s = sector[links[k][0]]
            a_sec[i][s] = a_sec[i].get(s, 0.0) + links[k][2]
    stock = [n * a for _, _, a in links]
    orders = [a for _, _, a in links]
    delivered = [a for _, _, a in links]
    prod = list(pbar)
    cap = list(pbar)
    out = [sum(pbar)]
    for t in range(steps):
        for f, (delta, day) in shocks.items():
            if day == t:
                cap[f] = pbar[f] * (1.0 - delta)
        # inventory update
        s_sec: list[dict[int, float]] = [{} for _ in range(nf)]
        for i in range(nf):
            for k in inputs_of[i]:
                s = sector[links[k][0]]
                s_sec[i][s] = s_sec[i].get(s, 0.0) + stock[k]
        for i in range(nf):
            if pbar[i] <= 0:
                continue
            for k in inputs_of[i]:
                s = sector[links[k][0]]
                ss = s_sec[i][s]
                kappa = 0.0 if abs(ss) <= EPS else (prod[i] / pbar[i]) * (a_sec[i][s] / ss)
                v = stock[k] + delivered[k] - stock[k] * kappa
                stock[k] = 0.0 if v <= EPS else v
        # orders and demand
        demand = list(final_demand)
        for i in range(nf):
            for k in inputs_of[i]:
                a = links[k][2]
                if pbar[i] <= 0:
                    o = a
                else:
                    x = prod[i] / pbar[i]
                    o = max(a * x + (n * a * x - stock[k]) / tau, 0.0)
                orders[k] = o
                demand[links[k][0]] += o
        # production
        for i in range(nf):
            s_now: dict[int, float] = {}
            for k in inputs_of[i]:
                s = sector[links[k][0]]
                s_now[s] = s_now.get(s, 0.0) + stock[k]
            pmax = cap[i]
            for s, need in a_sec[i].items():
                pmax = min(pmax, s_now[s] / need * pbar[i])
            prod[i] = 0.0 if pbar[i] <= 0 else min(pmax, demand[i])
        # rationing
        for j in range(nf):
            p, d = prod[j], demand[j]
            if rationing == "proportional" or p >= d:
                r = p / d if d > 0 else 0.0
                for k in clients_of[j]:
                    delivered[k] = r * orders[k] if p < d else orders[k]
                continue
            # water-filling on ratios to the baseline amounts: claimants sorted by requested ratio
            claim = [(orders[k] / links[k][2], links[k][2], k) for k in clients_of[j]]
            if final_demand[j] > 0:
                claim.append((1.0, final_demand[j], -1))
            claim.sort()
            left, weight = p, sum(w for _, w, _ in claim)
            level = float("inf")
            for g, w, _ in claim:
                if left >= g * weight:  # the level reaches g: this claimant gets all it asked
                    left -= w * g
                    weight -= w
                else:
                    level = left / weight
                    break
            for g, w, k in claim:
                if k >= 0:
                    delivered[k] = w * min(g, level)
        out.append(sum(prod))
    return out
