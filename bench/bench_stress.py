"""Benchmark: the built-in stress scenarios on the bundled atlas, one by one and as a library.

Usage::

    python bench/bench_stress.py               # every built-in, each for its own horizon
    python bench/bench_stress.py --steps 120   # every scenario for 120 steps
    python bench/bench_stress.py --names hormuz_closure,neon_shortage_ukraine

Compares, in one run:

- **one by one**: :func:`paxsilica.stress.run_stress` per scenario (what ``paxsilica stress NAME``
  does: builds the network, compiles, simulates, measures and builds the per-step series of every
  site);
- **library**: :func:`paxsilica.stress.run_library` (one network for all scenarios, measures without
  the series), with its per-scenario parts (compile, simulate, measure) timed separately;
- **library, batched**: ``run_library(batch=True)`` (compatible scenarios share engine calls);
- the briefing with and without its "Stress tests" section.

Lanes come from the on-disk cache when it is warm (run once before timing). Results go to stdout;
copy them into bench/RESULTS.md (section "stress").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import time


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "")
    except OSError:
        model = ""
    return f"{model or platform.processor() or 'unknown CPU'}, {os.cpu_count()} cores"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=None, help="steps for every scenario (default: its horizon)")
    ap.add_argument("--names", default="", help="comma-separated built-in names (default: all)")
    args = ap.parse_args()

    import numpy as np
    import pandas as pd

    from paxsilica.atlas import bundled_atlas
    from paxsilica.report.briefing import build_briefing, render_html
    from paxsilica.scenarios import list_scenarios, load_scenario
    from paxsilica.scenarios.compile import compile_scenario
    from paxsilica.stress import (
        DEFAULT_INVENTORY_DAYS,
        DEFAULT_TAU_DAYS,
        _Prepared,
        _simulate,
        _tables,
        run_library,
        run_stress,
    )

    names = [n for n in args.names.split(",") if n] or list_scenarios()
    atlas = bundled_atlas()
    _ = atlas.version
    run_library(atlas, names[:1], steps=5)  # warm: imports, searoute graph, lane cache

    print(f"paxsilica bench_stress — {dt.date.today().isoformat()} — {_cpu()} — Python "
          f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")
    print(f"atlas {atlas.name} {atlas.version}; {len(names)} scenarios; steps: "
          f"{args.steps or 'each horizon'}\n")

    # one by one (the `paxsilica stress` path)
    single: dict[str, float] = {}
    t0 = time.perf_counter()
    for n in names:
        t = time.perf_counter()
        run_stress(load_scenario(n), atlas, steps=args.steps)
        single[n] = time.perf_counter() - t
    t_single = time.perf_counter() - t0

    # library parts, timed one by one on a shared network
    t = time.perf_counter()
    prep = _Prepared(atlas, target="ai_datacenter_capacity", consumers="producers", year=None, lanes=None)
    prep.network(1, None)
    t_net = time.perf_counter() - t
    parts: dict[str, tuple[int, float, float, float]] = {}
    for n in names:
        s = load_scenario(n)
        net, index = prep.network(s.step, s.policies.surge_capacity)
        t = time.perf_counter()
        comp = compile_scenario(s, net, index, atlas, steps=args.steps)
        t1 = time.perf_counter()
        res = _simulate(net, comp, s, DEFAULT_INVENTORY_DAYS, DEFAULT_TAU_DAYS)
        t2 = time.perf_counter()
        _tables(s, net, index, comp, res, "ai_datacenter_capacity")
        parts[n] = (comp.steps, t1 - t, t2 - t1, time.perf_counter() - t2)

    t = time.perf_counter()
    run_library(atlas, names, steps=args.steps)
    t_lib = time.perf_counter() - t
    t = time.perf_counter()
    run_library(atlas, names, steps=args.steps, batch=True)
    t_batch = time.perf_counter() - t

    w = max(len(n) for n in names)
    print(f"| {'scenario':{w}} | steps | one by one (s) | library: compile | simulate | measure | total (s) | ratio |")
    print(f"|{'-' * (w + 2)}|------:|---------------:|-----------------:|---------:|--------:|----------:|------:|")
    for n in names:
        k, c, sim, m = parts[n]
        tot = c + sim + m
        print(f"| {n:{w}} | {k:5d} | {single[n]:14.2f} | {c:16.2f} | {sim:8.2f} | {m:7.2f} | {tot:9.2f} | "
              f"{single[n] / tot:5.1f} |")
    sim_total = sum(p[2] for p in parts.values())
    print(f"\nshared network build (once per atlas): {t_net:.2f} s; engine time over all scenarios: "
          f"{sim_total:.2f} s")
    print(f"one by one, all scenarios:      {t_single:6.2f} s")
    print(f"run_library:                    {t_lib:6.2f} s   (one by one / library = {t_single / t_lib:.1f}x)")
    print(f"run_library(batch=True):        {t_batch:6.2f} s   (library / batched = {t_lib / t_batch:.2f}x)")

    t = time.perf_counter()
    b0 = build_briefing(atlas)
    render_html(b0)
    t_b0 = time.perf_counter() - t
    t = time.perf_counter()
    b1 = build_briefing(atlas, scenarios=names, steps=args.steps)
    render_html(b1)
    t_b1 = time.perf_counter() - t
    print(f"briefing without scenarios:     {t_b0:6.2f} s (in process, atlas loaded)")
    print(f"briefing with scenarios:        {t_b1:6.2f} s")


if __name__ == "__main__":
    main()
