"""Benchmark: Monte Carlo draws per minute on the bundled atlas (365-day horizon), in process and on Dask.

Usage::

    python bench/bench_montecarlo.py                # 160 draws per configuration
    python bench/bench_montecarlo.py --draws 400 --batch 16

Measured in one run, side by side, the configurations alternated (each warmed up first, so network
building, imports and the JIT are not counted; the set-up times are printed separately):

- **in process** (``paxsilica montecarlo`` without ``--workers``);
- a **Dask LocalCluster of 1 worker process** and one of **2 worker processes**, through
  ``--scheduler`` on a cluster started here (the ratio 2 workers / 1 worker is the issue's goal, >= 1.6);
- the same draws give the same losses in every configuration (checked).

Prints a table; copy it into bench/RESULTS.md (section "montecarlo").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

from bench_stress import (
    _cpu,  # one machine description for every bench script (bench/ is on sys.path)
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=160, help="draws per configuration")
    ap.add_argument("--batch", type=int, default=16, help="draws per engine call")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--reps", type=int, default=3, help="alternated timed runs per configuration")
    args = ap.parse_args()

    import logging

    import numpy as np
    from distributed import Client, LocalCluster

    from paxsilica.atlas import bundled_atlas
    from paxsilica.montecarlo import load_catalogue, run_montecarlo

    atlas = bundled_atlas()
    cat = load_catalogue()
    kw = {"horizon_days": 365, "batch_size": args.batch, "atlas_version": atlas.version}
    print(f"# Monte Carlo bench, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {_cpu()}, "
          f"load average {os.getloadavg()[0]:.2f} at start; {args.draws} draws x 365 days, batch {args.batch}")

    cache: dict = {}
    t0 = time.perf_counter()
    run_montecarlo(atlas, cat, draws=args.batch, seed=args.seed + 1, cache=cache, **kw)  # build + warm up
    setup = {"in process": time.perf_counter() - t0}
    clusters = {}
    try:
        for n in (1, 2):
            name = f"Dask LocalCluster, {n} worker process{'es' if n > 1 else ''}"
            t0 = time.perf_counter()
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                                   silence_logs=logging.ERROR)
            clusters[name] = (cluster, Client(cluster))
            # every worker builds its network once (kept between runs with the same catalogue and atlas)
            run_montecarlo(atlas, cat, draws=args.batch * n * 2, seed=args.seed + 1,
                           scheduler=cluster.scheduler_address, **kw)
            setup[name] = time.perf_counter() - t0
        names = list(setup)
        walls: dict[str, list[float]] = {k: [] for k in names}
        results = {}
        for rep in range(args.reps):  # alternated, the order reversed every other round: load drifts
            for name in (names if rep % 2 == 0 else names[::-1]):
                t0 = time.perf_counter()
                if name == "in process":
                    r = run_montecarlo(atlas, cat, draws=args.draws, seed=args.seed, cache=cache, **kw)
                else:
                    r = run_montecarlo(atlas, cat, draws=args.draws, seed=args.seed,
                                       scheduler=clusters[name][0].scheduler_address, **kw)
                walls[name].append(time.perf_counter() - t0)
                results[name] = r
    finally:
        for cluster, client in clusters.values():
            client.close()
            cluster.close()

    ref = results["in process"]
    same = all(np.array_equal(r.losses["loss"].to_numpy(), ref.losses["loss"].to_numpy()) for r in results.values())
    med = {k: float(np.median(v)) for k, v in walls.items()}
    one = med[names[1]]
    print()
    print("| configuration | median wall s | runs (s) | draws/min (median) | set-up s (not counted) | "
          "speed-up over 1 worker |")
    print("|---|---:|---|---:|---:|---:|")
    for name in names:
        runs = ", ".join(f"{w:.1f}" for w in walls[name])
        print(f"| {name} | {med[name]:.1f} | {runs} | {args.draws / med[name] * 60:,.0f} | {setup[name]:.1f} | "
              f"{one / med[name]:.2f} |")
    w = ref.meta
    print()
    print(f"same losses in every configuration: {same}; events per draw {w['events_per_draw']:.2f}, "
          f"draws without events {w['draws_without_events']}; load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
