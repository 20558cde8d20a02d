"""Benchmark: the planning models on the bundled atlas (issue 14's goals).

Usage::

    python bench/bench_plan.py            # 3 runs of each case
    python bench/bench_plan.py --runs 5 --scenarios 1000

Cases, each timed as the model's build + HiGHS solve + assign (the supply base and the interdiction
network are built once, outside the timings, and reported on their own line):

* CVaR sourcing for the coalition over every item upstream of the target, on the 13 built-in stress
  scenarios and on ``--scenarios`` (default 1,000) Monte Carlo-format draws. The draws are a **timing
  workload, not data**: each draw takes 1-3 events of the built-in library at random (seeded) with its
  severity and duration scaled by U(0.5, 1). Goal: <= 10 s on 2 cores.
* The k-worst interdiction MILP on the bundled atlas network (sites, countries and chokepoints as
  attacks) for k = 1 and k = 3, and with chokepoints as the only attacks (no single attack takes
  everything there, so the branch and bound has work to do). Goal for k = 3: <= 30 s.

Prints a table with the median time, the goal and the ratio time / goal, and the ratio of each case to
its smaller sibling (1,000 draws vs the library; k = 3 vs k = 1), measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import time

import numpy as np
import pandas as pd

from bench_stress import _cpu  # one machine description for every bench script


def _draws(lib, n: int, seed: int = 20261201):  # type: ignore[no-untyped-def]
    from paxsilica.planning.scenarios import ScenarioSet

    rng = np.random.default_rng(seed)
    ev = lib.events.reset_index(drop=True)
    rows = []
    for d in range(n):
        for j in rng.choice(len(ev), size=int(rng.integers(1, 4)), replace=False):
            r = ev.iloc[int(j)].to_dict()
            r["scenario"] = f"draw{d}"
            r["severity"] = float(r["severity"]) * float(rng.uniform(0.5, 1.0))
            r["duration_days"] = float(r["duration_days"]) * float(rng.uniform(0.5, 1.0))
            rows.append(r)
    ids = tuple(f"draw{d}" for d in range(n))
    return ScenarioSet(f"bench:{n}", ids, np.full(n, 1.0 / n), np.full(n, float(lib.horizon.max())),
                       pd.DataFrame(rows, columns=lib.events.columns), {"kind": "bench"})


def _time(fn, runs: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    ts, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scenarios", type=int, default=1000)
    args = ap.parse_args()

    from paxsilica.atlas import bundled_atlas
    from paxsilica.planning.base import supply_base
    from paxsilica.planning.interdiction import atlas_network, worst_attack
    from paxsilica.planning.scenarios import library_set, unavailability
    from paxsilica.planning.sourcing import optimize_sourcing

    atlas = bundled_atlas()
    t0 = time.perf_counter()
    base = supply_base(atlas, "pax_silica")
    t_base = time.perf_counter() - t0
    lib = library_set(None)
    many = _draws(lib, args.scenarios)

    def sourcing(sset):  # type: ignore[no-untyped-def]
        def run():  # type: ignore[no-untyped-def]
            u = unavailability(sset, base.sources, base.countries, atlas, base.hits, base.group_members)
            return optimize_sourcing(base.sources, u, prob=sset.prob, alpha=0.95, scenario_ids=sset.scenarios)
        return run

    t_lib, _ = _time(sourcing(lib), args.runs)
    t_many, plan = _time(sourcing(many), args.runs)
    t0 = time.perf_counter()
    net, _ = atlas_network(atlas, "ai_datacenter_capacity")
    t_net = time.perf_counter() - t0
    t_k1, _ = _time(lambda: worst_attack(net, 1), args.runs)
    t_k3, a3 = _time(lambda: worst_attack(net, 3), args.runs)
    # a harder instance: chokepoints only (no single attack takes everything, so the search is real)
    cnet, _ = atlas_network(atlas, "ai_datacenter_capacity", kinds=("chokepoint",))
    t_c3, c3 = _time(lambda: worst_attack(cnet, 3), args.runs)
    t_c1, _ = _time(lambda: worst_attack(cnet, 1), args.runs)

    print(f"bench_plan: {_cpu()}, Python {platform.python_version()}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"supply base: {len(base.sources)} sources of {len(base.items)} items (built in {t_base:.2f} s); "
          f"interdiction network: {len(net.portions)} portions, {len(net.units)} attacks (built in {t_net:.2f} s)")
    print()
    print("| case | median (s) | goal (s) | time / goal | ratio to sibling |")
    print("|---|---:|---:|---:|---:|")
    print(f"| CVaR sourcing, 13 library scenarios | {t_lib:.2f} | | | 1 |")
    print(f"| CVaR sourcing, {args.scenarios:,} draws | {t_many:.2f} | 10 | {t_many / 10:.2f} | {t_many / t_lib:.1f} |")
    print(f"| interdiction k = 1 | {t_k1:.2f} | | | 1 |")
    print(f"| interdiction k = 3 | {t_k3:.2f} | 30 | {t_k3 / 30:.2f} | {t_k3 / t_k1:.1f} |")
    print(f"| interdiction k = 1, chokepoints only | {t_c1:.2f} | | | 1 |")
    print(f"| interdiction k = 3, chokepoints only | {t_c3:.2f} | 30 | {t_c3 / 30:.2f} | {t_c3 / t_c1:.1f} |")
    print()
    print(f"k = 3 worst set: {'; '.join(a3.attacks)} (loss {a3.loss:.0%}); chokepoints only: "  # type: ignore[attr-defined]
          f"{'; '.join(c3.attacks)} (loss {c3.loss:.1%}); "  # type: ignore[attr-defined]
          f"CVaR sourcing over the draws: {plan.summary['before']['cvar']:.1%} -> "  # type: ignore[attr-defined]
          f"{plan.summary['after']['cvar']:.1%}")  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
