"""Benchmark of the simulation engine (ENGINE.md Part C, "Speed").

Usage::

    python bench/bench_engine.py            # 100k firms / 500k links x 30 steps (text files read
                                            # included), then 1M firms / 5M links x 365 steps
    python bench/bench_engine.py --quick    # one repetition, and 200k firms / 1M links x 365 instead
    python bench/bench_engine.py --library [--compare OLD_ENGINE.py]
                                            # the stress runner's engine calls: every built-in
                                            # scenario on the bundled atlas, 33 band draws at once
                                            # (run_library(bands=32)), simulate() timed alone
    python bench/bench_engine.py --library --kernels
                                            # the same calls, numpy step against the compiled
                                            # (numba) step, alternated, with their difference
    python bench/bench_engine.py --library --before OLD_SRC [--reps 3] [--mc]
                                            # the same calls (or, with --mc, the Monte Carlo
                                            # engine calls: batches of 16 one-year draws) in child
                                            # processes, an older checkout's src/ (e.g. `git archive
                                            # HEAD~3 src | tar -x -C /tmp/old`, OLD_SRC=/tmp/old/src)
                                            # against this one, alternated per repetition; CPU time
                                            # of simulate() (best of reps), results compared bit for bit
    python bench/bench_engine.py --compare OLD_ENGINE.py [--quick]
                                            # before/after in one process: an older engine.py (e.g.
                                            # `git show HEAD:src/paxsilica/sim/engine.py > /tmp/old.py`)
                                            # against the current one, runs alternated, results
                                            # compared bit for bit, ratio of the best times

Prints a Markdown table (paste it into bench/RESULTS.md with the machine and date lines printed
above it). Timings are wall-clock seconds; peak memory is the child process's maximum resident set
size (the large case runs in its own process so that its peak is its own).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from paxsilica.sim import FirmShocks, simulate
from paxsilica.sim.network import random_network
from paxsilica.sim.textio import FirmFiles, read_firm_files, write_network_files

SEED = 20260101


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}"


def shocks_for(net, rng: np.random.Generator) -> FirmShocks:  # type: ignore[no-untyped-def]
    """Three shocked firms among the 100 largest, losses 30-90 %."""
    big = np.argsort(-net.baseline_output)[:100]
    firms = rng.choice(big, 3, replace=False)
    return FirmShocks(firms, rng.uniform(0.3, 0.9, 3), np.zeros(3, np.int64))


def case_text(n: int, m: int, steps: int, reps: int) -> list[dict[str, object]]:
    """Write the network as text files, then time read + simulate for both rationing rules."""
    rng = np.random.default_rng(SEED)
    net = random_network(n, m, 50, seed=SEED)
    shocks = shocks_for(net, rng)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = write_network_files(net, tmp, shocks)
        files = FirmFiles(files.links, files.final_demand, files.initial_production, files.sectors, files.shocks)
        for rationing in ("proportional", "priority"):
            t_read, t_sim, t_all, t_cpu = [], [], [], []
            for _ in range(reps):
                c0 = time.process_time()
                t0 = time.perf_counter()
                net2, sh2 = read_firm_files(files)
                t1 = time.perf_counter()
                res = simulate(net2, sh2, steps=steps, rationing=rationing)
                t2 = time.perf_counter()
                t_cpu.append(time.process_time() - c0)
                t_read.append(t1 - t0)
                t_sim.append(t2 - t1)
                t_all.append(t2 - t0)
            rows.append({
                "case": f"{n:,} firms / {net.n_links:,} links x {steps} steps (read + simulate)",
                "rationing": rationing, "read_s": statistics.median(t_read),
                "simulate_s": statistics.median(t_sim), "total_s": statistics.median(t_all),
                "min_total_s": min(t_all), "cpu_s": statistics.median(t_cpu), "reps": reps,
                "loss_pct": float(100 * (1 - res.production[-1] / res.production[0])),
            })
    return rows


def case_large(n: int, m: int, steps: int, rationing: str) -> dict[str, object]:
    """In memory (no text files): generation excluded from the time, included in the peak."""
    rng = np.random.default_rng(SEED)
    net = random_network(n, m, 50, seed=SEED)
    shocks = shocks_for(net, rng)
    c0 = time.process_time()
    t0 = time.perf_counter()
    res = simulate(net, shocks, steps=steps, rationing=rationing)
    t1 = time.perf_counter()
    cpu = time.process_time() - c0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"case": f"{n:,} firms / {net.n_links:,} links x {steps} steps (in memory)", "rationing": rationing,
            "read_s": float("nan"), "simulate_s": t1 - t0, "total_s": t1 - t0, "min_total_s": t1 - t0,
            "cpu_s": cpu,
            "reps": 1, "peak_gb": peak_kb / 1024**2,
            "loss_pct": float(100 * (1 - res.production[-1] / res.production[0]))}


def run_child(n: int, m: int, steps: int, rationing: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--child", str(n), str(m), str(steps), rationing],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_engine(path: str):  # type: ignore[no-untyped-def]
    """Import an engine.py from a file as a module of paxsilica.sim (its relative imports work)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("paxsilica.sim._engine_before", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def compare(old_path: str, n: int, m: int, steps: int, reps: int) -> None:
    """Best-of-``reps`` wall and CPU time of the old and the current engine, alternated."""
    from paxsilica.sim import engine as new

    old = load_engine(old_path)
    net = random_network(n, m, 50, seed=SEED)
    best: dict[str, list[float]] = {}
    prod: dict[str, np.ndarray] = {}
    for rep in range(reps):
        for name, eng in (("before", old), ("after", new)):
            sh = shocks_for(net, np.random.default_rng(SEED))
            sh = eng.FirmShocks(sh.firm, sh.delta, sh.day)
            c0, t0 = time.process_time(), time.perf_counter()
            res = eng.simulate(net, sh, steps=steps)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            print(f"{name} run {rep + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU, load {os.getloadavg()[0]:.2f}",
                  flush=True)
            b = best.setdefault(name, [math.inf, math.inf])
            best[name] = [min(b[0], wall), min(b[1], cpu)]
            prod[name] = res.production
    same = np.array_equal(prod["before"], prod["after"])
    print(f"{n:,} firms / {net.n_links:,} links x {steps} steps, proportional: best before "
          f"{best['before'][0]:.2f} s, after {best['after'][0]:.2f} s, ratio {best['after'][0] / best['before'][0]:.3f} "
          f"(CPU ratio {best['after'][1] / best['before'][1]:.3f}); production bit-identical: {same}")


def library_calls(bands: int = 32) -> list[tuple[str, object, list, dict]]:
    """The simulate() arguments of run_library(bundled_atlas(), bands=bands): one batched call per
    built-in scenario (captured from the runner's own code, so they stay what the runner passes)."""
    import paxsilica.sim as sim
    from paxsilica.atlas import bundled_atlas
    from paxsilica.bands import DEFAULT_SEED
    from paxsilica.network.build import DEFAULT_TARGET
    from paxsilica.scenarios import list_scenarios, load_scenario
    from paxsilica.scenarios.compile import compile_scenario
    from paxsilica.stress import DEFAULT_INVENTORY_DAYS, DEFAULT_TAU_DAYS, _Prepared, _run_draws

    class Captured(Exception):
        pass

    got: list = []

    def capture(net, scen, **kw):  # type: ignore[no-untyped-def]
        got.append((net, scen, kw))
        raise Captured

    atlas = bundled_atlas()
    prep = _Prepared(atlas, target=DEFAULT_TARGET, consumers="producers", year=None, lanes=None)
    out = []
    real = sim.simulate
    sim.simulate = capture
    try:
        for name in list_scenarios():
            s = load_scenario(name)
            net, index = prep.network(s.step, s.policies.surge_capacity)
            comp = compile_scenario(s, net, index, atlas, inventory_days=DEFAULT_INVENTORY_DAYS)
            draws = prep.draws(s.step, s.policies.surge_capacity, bands + 1, DEFAULT_SEED)
            try:
                _run_draws(net, index, comp, s, draws, DEFAULT_INVENTORY_DAYS, DEFAULT_TAU_DAYS)
            except Captured:
                n_, sc, kw = got.pop()
                out.append((name, n_, sc, kw))
    finally:
        sim.simulate = real
    return out


def library(old_path: str | None) -> None:
    """Engine time of the stress runner's batched calls, per scenario; with an old engine, alternated
    and compared bit for bit (the current engine with steady_tol=0, i.e. without the steady exit)."""
    import dataclasses

    from paxsilica.sim import engine as new

    old = load_engine(old_path) if old_path else None
    calls = library_calls()
    net0 = calls[0][1]
    print(f"{len(calls)} scenarios, {net0.n_firms:,} sites / {net0.n_links:,} links, "
          f"{len(calls[0][2])} draws per call", flush=True)
    print("| scenario | steps | rationing | before (s) | after (s) | steps run | bit-identical (steady_tol=0) |")
    print("|---|---:|---|---:|---:|---:|---|")
    tot = [0.0, 0.0]
    for name, net, scen, kw in calls:
        t_old, same = math.nan, ""
        if old is not None:
            conv = old.Scenario(**{f.name: getattr(scen[0], f.name) for f in dataclasses.fields(scen[0])})
            t0 = time.perf_counter()
            import inspect

            okw = kw if "firm_series" in inspect.signature(old.simulate).parameters else {
                k: v for k, v in kw.items() if k != "firm_series"}
            a = old.simulate(net, [conv] * len(scen), **okw)
            t_old = time.perf_counter() - t0
            b = new.simulate(net, scen, **{**kw, "extensions": dataclasses.replace(kw["extensions"], steady_tol=0.0)})
            fields = ("production", "value_added", "final_demand", "firm_production", "firm_final_demand",
                      "firm_capacity", "consumer_final_demand")
            diff = [f for f in fields if getattr(b, f) is not None and not np.array_equal(getattr(a, f), getattr(b, f))]
            same = "yes" if not diff else "no: " + ", ".join(
                f"{f} (max rel {np.max(np.abs(getattr(a, f) - getattr(b, f)) / np.maximum(np.abs(getattr(a, f)), 1e-300)):.0e})"
                for f in diff)
            tot[0] += t_old
        t0 = time.perf_counter()
        r = new.simulate(net, scen, **kw)
        t_new = time.perf_counter() - t0
        tot[1] += t_new
        print(f"| {name} | {kw['steps']} | {kw['rationing']} | {t_old:.2f} | {t_new:.2f} | "
              f"{r.parameters['steps_run']} | {same} |", flush=True)
    print(f"| **total** | | | {tot[0]:.2f} | {tot[1]:.2f} | | |")


def kernels() -> None:
    """The stress runner's calls through the numpy step and the compiled step, alternated per
    scenario in one process; largest difference relative to each series' scale."""
    from paxsilica.sim import engine as eng
    from paxsilica.sim import kernel as K

    K.warm_up()  # load the compiled step from numba's cache before timing
    calls = library_calls()
    net0 = calls[0][1]
    print(f"{len(calls)} scenarios, {net0.n_firms:,} sites / {net0.n_links:,} links, "
          f"{len(calls[0][2])} draws per call", flush=True)
    print("| scenario | steps | rationing | numpy step (s) | numba step (s) | ratio | max rel difference |")
    print("|---|---:|---|---:|---:|---:|---:|")
    tot = [0.0, 0.0]
    fields = ("production", "value_added", "final_demand", "firm_production", "firm_final_demand",
              "consumer_final_demand")
    for name, net, scen, kw in calls:
        t0 = time.perf_counter()
        a = eng.simulate(net, scen, **kw, kernel="numpy")
        t1 = time.perf_counter()
        b = eng.simulate(net, scen, **kw, kernel="numba")
        t2 = time.perf_counter()
        tot[0] += t1 - t0
        tot[1] += t2 - t1
        worst = max(float(np.max(np.abs(getattr(a, f) - getattr(b, f))
                                 / np.maximum(np.abs(getattr(a, f)).max(axis=-1, keepdims=True), 1e-300)))
                    for f in fields)
        print(f"| {name} | {kw['steps']} | {kw['rationing']} | {t1 - t0:.2f} | {t2 - t1:.2f} | "
              f"{(t1 - t0) / (t2 - t1):.2f} | {worst:.1e} |", flush=True)
    print(f"| **total** | | | {tot[0]:.2f} | {tot[1]:.2f} | {tot[0] / tot[1]:.2f} | |")


def mc_calls(draws: int = 32) -> list[tuple[str, object, list, dict]]:
    """The simulate() arguments of a Monte Carlo run on the bundled atlas (365 days, batches of 16),
    captured from the run's own code."""
    import paxsilica.sim as sim
    from paxsilica.atlas import bundled_atlas
    from paxsilica.montecarlo import load_catalogue, run_montecarlo

    got: list = []
    real = sim.simulate

    def capture(net, scen, **kw):  # type: ignore[no-untyped-def]
        got.append((f"montecarlo batch {len(got) + 1}", net, scen, kw))
        return real(net, scen, **kw)

    atlas = bundled_atlas()
    sim.simulate = capture
    try:
        run_montecarlo(atlas, load_catalogue(), draws=draws, seed=12, horizon_days=365, batch_size=16,
                       atlas_version=atlas.version)
    finally:
        sim.simulate = real
    return got


def child_times(calls_file: str, reps: int, out_file: str) -> None:
    """(In a child process) CPU time of simulate() per captured call, best of ``reps``; results kept."""
    import pickle

    from paxsilica.sim import engine as eng
    from paxsilica.sim import kernel as K

    K.warm_up()
    with open(calls_file, "rb") as f:
        calls = pickle.load(f)
    import inspect

    out = []
    knows = inspect.signature(eng.simulate).parameters
    for name, net, scen, kw in calls:
        subset = None
        if "firm_series" not in knows:  # an older engine: every firm's series, the subset's columns kept
            kw = {k: v for k, v in kw.items() if k != "firm_series"}
            if not isinstance(kw.get("record_firms", False), bool):
                subset = np.asarray(kw["record_firms"])
                kw["record_firms"] = True
        eng.simulate(net, scen, **{**kw, "steps": 2})  # compile (or load) this call's signature first
        best = math.inf
        for _ in range(reps):
            c0 = time.process_time()
            r = eng.simulate(net, scen, **kw)
            best = min(best, time.process_time() - c0)
        got = {f: getattr(r, f) for f in ("production", "firm_production", "final_demand", "consumer_final_demand")}
        if subset is not None:
            got["firm_production"] = np.ascontiguousarray(got["firm_production"][..., subset])
        out.append((name, best, r.parameters["steps_run"], len(scen), net.n_links, got))
    with open(out_file, "wb") as f:
        pickle.dump(out, f)


def before_after(old_src: str, reps: int, mc: bool) -> None:
    """This checkout's engine against an older checkout's src/, each in child processes (the old one
    with PYTHONPATH=OLD_SRC), alternated per repetition."""
    import pickle

    calls = mc_calls() if mc else library_calls()
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    with tempfile.TemporaryDirectory() as tmp:
        cf = os.path.join(tmp, "calls.pkl")
        with open(cf, "wb") as f:
            pickle.dump(calls, f)
        best: dict[str, list] = {}
        for rep in range(reps):
            for label, src in (("before", old_src), ("after", here))[:: 1 if rep % 2 == 0 else -1]:
                of = os.path.join(tmp, f"{label}.pkl")
                env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
                subprocess.run([sys.executable, __file__, "--child-times", cf, "1", of], env=env, check=True)
                with open(of, "rb") as f:
                    res = pickle.load(f)
                if label not in best:
                    best[label] = res
                else:
                    best[label] = [a if a[1] <= b[1] else (b[0], b[1], b[2], b[3], b[4], a[5])
                                   for a, b in zip(best[label], res, strict=True)]
                print(f"{label} run {rep + 1} done, load {os.getloadavg()[0]:.2f}", flush=True)
    print("| call | draws | steps | before CPU s | after CPU s | ratio | after ns per link and draw-step "
          "| bit-identical |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    tot = [0.0, 0.0]
    for a, b in zip(best["before"], best["after"], strict=True):
        same = all((a[5][f] is None and b[5][f] is None) or np.array_equal(a[5][f], b[5][f]) for f in a[5])
        tot[0] += a[1]
        tot[1] += b[1]
        print(f"| {a[0]} | {a[3]} | {b[2]} | {a[1]:.2f} | {b[1]:.2f} | {a[1] / b[1]:.2f} | "
              f"{b[1] / (b[2] * b[3] * b[4]) * 1e9:.0f} | {'yes' if same else 'no'} |")
    print(f"| **total** | | | {tot[0]:.2f} | {tot[1]:.2f} | {tot[0] / tot[1]:.2f} | | |")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def table(rows: list[dict[str, object]]) -> str:
    head = ("| case | rationing | read (s) | simulate (s) | total (s, median) | best (s) | CPU (s) | peak memory "
            "| output loss at end |")
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        read = "" if r["read_s"] != r["read_s"] else f"{r['read_s']:.3f}"  # NaN check
        peak = f"{r['peak_gb']:.2f} GB" if "peak_gb" in r else ""
        lines.append(f"| {r['case']} | {r['rationing']} | {read} | {r['simulate_s']:.3f} | {r['total_s']:.3f} | "
                     f"{r['min_total_s']:.3f} | {r['cpu_s']:.3f} | {peak} | {r['loss_pct']:.2f} % |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one repetition and a smaller large case")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--compare", metavar="OLD_ENGINE_PY", help="time an older engine.py against the current one")
    ap.add_argument("--library", action="store_true",
                    help="time the stress runner's batched engine calls on the bundled atlas")
    ap.add_argument("--kernels", action="store_true",
                    help="with --library: the numpy step against the compiled (numba) step")
    ap.add_argument("--before", metavar="OLD_SRC", help="with --library: an older checkout's src/ to time against")
    ap.add_argument("--mc", action="store_true", help="with --before: the Monte Carlo engine calls instead")
    ap.add_argument("--reps", type=int, default=3, help="with --before: repetitions (best of)")
    ap.add_argument("--child-times", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_times:
        child_times(args.child_times[0], int(args.child_times[1]), args.child_times[2])
        return
    if args.library:
        print(f"machine: {machine()}")
        print(f"date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}")
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
        if args.before:
            before_after(args.before, args.reps, args.mc)
        elif args.kernels:
            kernels()
        else:
            library(args.compare)
        return
    if args.compare:
        print(f"machine: {machine()}")
        print(f"date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}")
        big = (200_000, 1_000_000) if args.quick else (1_000_000, 5_000_000)
        compare(args.compare, big[0], big[1], 365, 1 if args.quick else 2)
        return
    if args.child:
        n, m, steps, rationing = args.child
        print(json.dumps(case_large(int(n), int(m), int(steps), rationing)))
        return
    print(f"machine: {machine()}")
    print(f"date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    rows = case_text(100_000, 500_000, 30, 1 if args.quick else 3)
    print(table(rows), flush=True)
    big = (200_000, 1_000_000) if args.quick else (1_000_000, 5_000_000)
    rows.append(run_child(big[0], big[1], 365, "proportional"))
    print(table(rows[-1:]).splitlines()[-1], flush=True)
    if not args.quick:
        # priority sorts the claimants of every short supplier each step; on the large network,
        # where most suppliers end up short, we time 30 steps
        rows.append(run_child(big[0], big[1], 30, "priority"))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    print("\nall cases:\n")
    print(table(rows))


if __name__ == "__main__":
    main()
