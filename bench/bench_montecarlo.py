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

``--compare OLD_SRC`` instead times the in-process run of this checkout against another one's
``src`` folder (e.g. ``git archive`` of an earlier commit), each in its own process, alternated, each
warmed up first, and prints the medians, their ratio, the largest difference between the two
codes' losses and whether the losses and the tail's ES contributions are identical.

Prints a table; copy it into bench/RESULTS.md (section "montecarlo").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_stress import (
    _cpu,  # one machine description for every bench script (bench/ is on sys.path)
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=160, help="draws per configuration")
    ap.add_argument("--batch", type=int, default=16, help="draws per engine call")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--reps", type=int, default=3, help="alternated timed runs per configuration")
    ap.add_argument("--compare", metavar="OLD_SRC", help="time the in-process run against this src folder")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: one timed in-process run, JSON to a file
    args = ap.parse_args()
    if args.one:
        return _one(args)
    if args.compare:
        return _compare(args)

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


def _one(args: argparse.Namespace) -> None:
    """One process: warm up (network, compiled engine), then one timed run; losses and times to a file."""
    from paxsilica.atlas import bundled_atlas
    from paxsilica.montecarlo import load_catalogue, run_montecarlo

    atlas = bundled_atlas()
    cat = load_catalogue()
    kw = {"horizon_days": 365, "batch_size": args.batch, "atlas_version": atlas.version}
    cache: dict = {}
    run_montecarlo(atlas, cat, draws=args.batch, seed=args.seed + 1, cache=cache, **kw)
    w, c = time.perf_counter(), time.process_time()
    r = run_montecarlo(atlas, cat, draws=args.draws, seed=args.seed, cache=cache, **kw)
    out = {"wall": time.perf_counter() - w, "cpu": time.process_time() - c,
           "loss": r.losses["loss"].tolist(), "contrib": r.contributions["es_contribution"].tolist()}
    Path(args.one).write_text(json.dumps(out))


def _compare(args: argparse.Namespace) -> None:
    import numpy as np

    here = str(Path(__file__).resolve().parents[1] / "src")
    codes = {"before": str(Path(args.compare).resolve()), "after": here}
    load0 = os.getloadavg()[0]
    got: dict[str, list[dict]] = {k: [] for k in codes}
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_mc_{os.getpid()}.json"
    for rep in range(args.reps):
        for name in (list(codes) if rep % 2 == 0 else list(codes)[::-1]):
            env = {**os.environ, "PYTHONPATH": codes[name]}
            subprocess.run([sys.executable, __file__, "--one", str(out), "--draws", str(args.draws), "--batch",
                            str(args.batch), "--seed", str(args.seed)], check=True, env=env)
            got[name].append(json.loads(out.read_text()))
    out.unlink(missing_ok=True)
    print(f"# Monte Carlo in process, before vs after, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {_cpu()}; "
          f"{args.draws} draws x 365 days, batch {args.batch}, {args.reps} alternated runs each; load average "
          f"{load0:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    print("| code | median wall s | runs (s) | median CPU s | draws/min (wall) | draws/min per core (CPU) |")
    print("|---|---:|---|---:|---:|---:|")
    med = {}
    for name, runs in got.items():
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        med[name] = (wall, cpu)
        each = ", ".join(f"{r['wall']:.1f}" for r in runs)
        print(f"| {name} | {wall:.1f} | {each} | {cpu:.1f} | "
              f"{args.draws / wall * 60:,.0f} | {args.draws / cpu * 60:,.0f} |")
    pairs = [b["wall"] / a["wall"] for b, a in zip(got["before"], got["after"], strict=True)]
    diff = np.abs(np.array(got["before"][0]["loss"]) - np.array(got["after"][0]["loss"]))
    same = all(np.array_equal(np.array(r[k]), np.array(got["before"][0][k]))
               for rs in got.values() for r in rs for k in ("loss", "contrib"))
    print(f"\nratio before/after: wall {med['before'][0] / med['after'][0]:.2f} (pairs {min(pairs):.2f}-"
          f"{max(pairs):.2f}), CPU {med['before'][1] / med['after'][1]:.2f}; largest loss difference "
          f"{diff.max():.1e} (of the horizon's capacity); losses and tail contributions identical in every run: "
          f"{same}")


if __name__ == "__main__":
    main()
