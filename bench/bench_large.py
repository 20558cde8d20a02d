"""Benchmark of large firm networks: whole-process `paxsilica sim firms`, passes per step, the engine
against a pure-Python implementation, and the synthetic-network generator (issue 12).

Usage::

    python bench/bench_large.py            # every case (about 10 minutes on 2 quiet cores)
    python bench/bench_large.py --quick    # 200k firms / 1M links instead of 1M / 5M, fewer repetitions
    python bench/bench_large.py --numpy    # also the numpy step at 1M x 365 (proportional) and 1M x 30
                                           # (priority), side by side with the compiled step
    python bench/bench_large.py --only passes --passes-steps 40 --numpy
                                           # one section (whole, passes, pure, layout; repeatable)
    python bench/bench_large.py --only layout --layout-steps 20 --layout-reps 6
                                           # the compiled step with and without the supplier buckets

Networks: ENGINE.md Part C's seeded random network (``paxsilica.sim.network.random_network``, seed
20260101, 50 sectors, 3 shocked firms among the 100 largest, permanent losses of 30-90 %), written in
the text formats to a temporary folder (not timed). Whole-process figures are measured from outside
(wall time, and the child's own peak resident memory from ``os.wait4``), interpreter start, imports,
reading the files and writing the series included, as a user runs the command. The C++ reference
simulator is not built here: its figures (8.5 s proportional, 19 s priority on 100k firms / 500k links
x 30 steps on these machines) are ENGINE.md's and are marked as such.

Prints Markdown tables (paste them into bench/RESULTS.md with the machine, date and load lines).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_engine import SEED, machine, shocks_for
from pure_python_engine import simulate_pure

CPP_S = {"proportional": 8.5, "priority": 19.0}
"""ENGINE.md: the reference C++ simulator on 100k firms / 500k links x 30 steps on these machines."""


def cli() -> list[str]:
    exe = Path(sys.executable).with_name("paxsilica")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "paxsilica.cli.main"]


def run_proc(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS GB) of one child process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=None if env is None else {**os.environ, **env})
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        err = p.stderr.read().decode() if p.stderr else ""
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {err[-2000:]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024**2


def write_case(folder: Path, n: int, m: int) -> list[str]:
    """Write the network's text files from a child process: the parent stays small, since a child's
    peak memory (``ru_maxrss``) counts the parent's resident memory at the fork."""
    if not (folder / "links.txt").exists():
        subprocess.run([sys.executable, __file__, "--write", str(n), str(m), str(folder)], check=True)
    f = {k: str(folder / f"{k}.txt") for k in ("links", "final_demand", "initial_production", "sectors", "shocks")}
    return [f["links"], f["final_demand"], f["initial_production"], f["sectors"], "--shocks", f["shocks"]]


def write_child(n: int, m: int, folder: str) -> None:
    from paxsilica.sim.network import random_network
    from paxsilica.sim.textio import write_network_files

    net = random_network(n, m, 50, seed=SEED)
    write_network_files(net, folder, shocks_for(net, np.random.default_rng(SEED)))


def sim_firms(files: list[str], out: Path, steps: int, rationing: str, reps: int,
              env: dict[str, str] | None = None) -> dict[str, float]:
    cmd = [*cli(), "sim", "firms", *files, "--steps", str(steps), "--rationing", rationing, "--out", str(out)]
    runs = [run_proc(cmd, env) for _ in range(reps)]
    final = [float(line.split()[1]) for line in (out / "production.txt").read_text().splitlines()]
    return {"wall": statistics.median(r[0] for r in runs), "best": min(r[0] for r in runs),
            "cpu": statistics.median(r[1] for r in runs), "peak": max(r[2] for r in runs), "reps": reps,
            "loss": 100 * (1 - final[-1] / final[0])}


def passes_child(n: int, m: int, steps: int, kernel: str) -> dict[str, object]:
    """In one process: step time of both rules against one copy of the link floats."""
    from paxsilica.sim import simulate
    from paxsilica.sim.network import random_network

    net = random_network(n, m, 50, seed=SEED)
    sh = shocks_for(net, np.random.default_rng(SEED))
    simulate(net, sh, steps=1, kernel=kernel)  # load the compiled step
    a, b = np.random.default_rng(0).random(net.n_links), np.empty(net.n_links)
    copies = []
    for _ in range(30):
        t0 = time.perf_counter()
        np.copyto(b, a)
        copies.append(time.perf_counter() - t0)
    copy = statistics.median(copies)
    out: dict[str, object] = {"copy_ms": 1e3 * copy, "n_links": net.n_links}
    for rationing in ("proportional", "priority"):
        t0 = time.perf_counter()
        simulate(net, sh, steps=steps, rationing=rationing, kernel=kernel)
        step = (time.perf_counter() - t0) / steps
        out[rationing] = {"step_ms": 1e3 * step, "passes": step / copy}
    return out


def pure_python_case(n: int, m: int, steps: int) -> list[dict[str, object]]:
    from paxsilica.sim import FirmShocks, simulate
    from paxsilica.sim.network import random_network

    net = random_network(n, m, 50, seed=SEED)
    sh = shocks_for(net, np.random.default_rng(SEED))
    simulate(net, sh, steps=1, kernel="numba")  # load the compiled step
    rows = []
    for rationing in ("proportional", "priority"):
        t0 = time.perf_counter()
        pp = simulate_pure(net.supplier.tolist(), net.client.tolist(), net.amount.tolist(), net.final_demand.tolist(),
                           net.sector.tolist(), {int(f): (float(d), int(t)) for f, d, t in
                                                 zip(sh.firm, sh.delta, sh.day, strict=True)},
                           steps, rationing=rationing)
        t_pure = time.perf_counter() - t0
        times = {}
        for kernel in ("numpy", "numba"):
            best = np.inf
            for _ in range(5):
                t0 = time.perf_counter()
                r = simulate(net, FirmShocks(sh.firm, sh.delta, sh.day), steps=steps, rationing=rationing,
                             kernel=kernel)
                best = min(best, time.perf_counter() - t0)
            times[kernel] = best
        diff = float(np.max(np.abs(np.asarray(pp) - r.production)) / r.production[0])
        rows.append({"rationing": rationing, "pure": t_pure, **times, "diff": diff})
    return rows


def section_whole(root: Path, big: tuple[int, int], reps: int, small_only: bool, with_numpy: bool) -> None:
    small = write_case(root / "100k", 100_000, 500_000)
    large = [] if small_only else write_case(root / "big", *big)
    out = root / "out"
    print("\n### `paxsilica sim firms`, whole process (interpreter start, imports, reading, writing)\n")
    print("| case | rationing | step | wall (s, median) | best (s) | CPU (s) | peak memory | vs C++ reference "
          "(ENGINE.md's 8.5 s / 19 s) | output loss at end |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|", flush=True)

    def row(case: str, rationing: str, step: str, r: dict[str, float], cpp: bool = False) -> None:
        ratio = f"{CPP_S[rationing] / r['wall']:.1f}x faster" if cpp else ""
        print(f"| {case} | {rationing} | {step} | {r['wall']:.2f} | {r['best']:.2f} | {r['cpu']:.2f} | "
              f"{r['peak']:.2f} GB | {ratio} | {r['loss']:.2f} % |", flush=True)

    for rationing in ("proportional", "priority"):
        row("100,000 firms / 500,000 links x 30", rationing, "auto (numpy below 2e7 link-steps)",
            sim_firms(small, out, 30, rationing, reps), cpp=True)
        row("100,000 firms / 500,000 links x 30", rationing, "compiled (PAXSILICA_KERNEL=numba)",
            sim_firms(small, out, 30, rationing, reps, {"PAXSILICA_KERNEL": "numba"}), cpp=True)
    if small_only:
        return
    label = f"{big[0]:,} firms / {big[1]:,} links x 365"
    for rationing in ("proportional", "priority"):
        row(label, rationing, "auto (compiled)", sim_firms(large, out, 365, rationing, 1))
    if with_numpy:
        row(label, "proportional", "numpy (PAXSILICA_KERNEL=numpy)",
            sim_firms(large, out, 365, "proportional", 1, {"PAXSILICA_KERNEL": "numpy"}))
        row(f"{big[0]:,} firms / {big[1]:,} links x 30", "priority", "numpy (PAXSILICA_KERNEL=numpy)",
            sim_firms(large, out, 30, "priority", 1, {"PAXSILICA_KERNEL": "numpy"}))
        row(f"{big[0]:,} firms / {big[1]:,} links x 30", "priority", "auto (compiled)",
            sim_firms(large, out, 30, "priority", 1))
    t_gen = run_proc([*cli(), "sim", "generate", "--firms", str(big[0]), "--links", str(big[1]), "--seed", "1",
                      "--shocks", "3", "--out", str(root / "gen")])
    print(f"\n`paxsilica sim generate --firms {big[0]:,} --links {big[1]:,}` (whole process, files written): "
          f"{t_gen[0]:.1f} s wall, {t_gen[1]:.1f} s CPU, {t_gen[2]:.2f} GB peak", flush=True)


def section_passes(big: tuple[int, int], steps: int, with_numpy: bool) -> None:
    print(f"\n### Passes per step ({big[0]:,} firms / {big[1]:,} links, in one process)\n")
    print("| step | rationing | step time (ms) | one copy of the link floats (ms) | passes per step |")
    print("|---|---|---:|---:|---:|", flush=True)
    for kernel in ("numba", "numpy") if with_numpy else ("numba",):
        st = steps if kernel == "numba" else min(steps, 30)
        res = json.loads(subprocess.run([sys.executable, __file__, "--child", str(big[0]), str(big[1]), str(st), kernel],
                                        capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        for rationing in ("proportional", "priority"):
            r = res[rationing]
            print(f"| {kernel} ({st} steps) | {rationing} | {r['step_ms']:.1f} | {res['copy_ms']:.2f} | "
                  f"{r['passes']:.1f} |", flush=True)


def layout_child(n: int, m: int, steps: int, reps: int) -> dict[str, object]:
    """In one process: the compiled step with the supplier buckets against the direct loops, runs of
    ``steps`` steps alternated ``reps`` times (order swapped every other time), CPU time per step."""
    from paxsilica.sim import refkernel as rk
    from paxsilica.sim import simulate
    from paxsilica.sim.network import random_network

    net = random_network(n, m, 50, seed=SEED)
    sh = shocks_for(net, np.random.default_rng(SEED))
    simulate(net, sh, steps=1, kernel="numba")  # load the compiled step
    on = rk.BUCKET_MIN_FIRMS
    out: dict[str, object] = {"n_links": net.n_links, "on": net.n_firms >= on}
    for rationing in ("proportional", "priority"):
        runs: dict[str, list[float]] = {"bucketed": [], "direct": []}
        same = True
        for r in range(reps):
            series = {}
            for mode in ("direct", "bucketed") if r % 2 == 0 else ("bucketed", "direct"):
                rk.BUCKET_MIN_FIRMS = on if mode == "bucketed" else 1 << 62
                t0 = time.process_time()
                series[mode] = simulate(net, sh, steps=steps, rationing=rationing, kernel="numba").production
                runs[mode].append((time.process_time() - t0) / steps)
            same &= bool(np.array_equal(series["direct"], series["bucketed"]))
        rk.BUCKET_MIN_FIRMS = on
        ratios = [b / d for b, d in zip(runs["bucketed"], runs["direct"], strict=True)]
        out[rationing] = {"direct_ms": 1e3 * statistics.median(runs["direct"]),
                          "bucketed_ms": 1e3 * statistics.median(runs["bucketed"]),
                          "ratio": statistics.median(ratios), "lo": min(ratios), "hi": max(ratios), "same": same}
    return out


def section_layout(big: tuple[int, int], steps: int, reps: int) -> None:
    print(f"\n### Supplier buckets against direct loops ({big[0]:,} firms / {big[1]:,} links, compiled step, "
          f"{steps} steps x {reps}, alternated in one process)\n")
    print("| rationing | direct (ms CPU per step) | bucketed (ms CPU per step) | bucketed / direct (median, min-max) "
          "| same series |")
    print("|---|---:|---:|---:|---|", flush=True)
    res = json.loads(subprocess.run([sys.executable, __file__, "--layout-child", str(big[0]), str(big[1]), str(steps),
                                     str(reps)], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    for rationing in ("proportional", "priority"):
        r = res[rationing]
        print(f"| {rationing} | {r['direct_ms']:.1f} | {r['bucketed_ms']:.1f} | {r['ratio']:.3f} ({r['lo']:.3f}-"
              f"{r['hi']:.3f}) | {'bit for bit' if r['same'] else 'DIFFERENT'} |", flush=True)


def section_pure() -> None:
    n_pp, m_pp, s_pp = 10_000, 50_000, 30
    print(f"\n### Engine against a pure-Python per-link implementation ({n_pp:,} firms / {m_pp:,} links x {s_pp})\n")
    print("| rationing | pure Python (s) | numpy step (s, best of 5) | compiled step (s, best of 5) | "
          "pure / numpy | pure / compiled | max difference (rel. to baseline) |")
    print("|---|---:|---:|---:|---:|---:|---:|", flush=True)
    for r in pure_python_case(n_pp, m_pp, s_pp):
        print(f"| {r['rationing']} | {r['pure']:.2f} | {r['numpy']:.4f} | {r['numba']:.4f} | "
              f"{r['pure'] / r['numpy']:.0f}x | {r['pure'] / r['numba']:.0f}x | {r['diff']:.1e} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="200k firms / 1M links instead of 1M / 5M")
    ap.add_argument("--numpy", action="store_true", help="also the numpy step on the large network")
    ap.add_argument("--small-only", action="store_true", help="whole-process runs: the 100k rows only")
    ap.add_argument("--only", choices=("whole", "passes", "pure", "layout"), action="append",
                    help="run only these sections (repeatable): whole-process runs, passes per step, pure Python, "
                         "supplier buckets against direct loops")
    ap.add_argument("--layout-steps", type=int, default=20, metavar="N", help="steps of each layout run")
    ap.add_argument("--layout-reps", type=int, default=6, metavar="R", help="alternated layout runs")
    ap.add_argument("--passes-steps", type=int, default=365, metavar="N",
                    help="steps of the passes-per-step runs (the numpy step runs at most 30)")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--write", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--layout-child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.write:
        write_child(int(args.write[0]), int(args.write[1]), args.write[2])
        return
    if args.layout_child:
        n, m, steps, reps = (int(v) for v in args.layout_child)
        print(json.dumps(layout_child(n, m, steps, reps)))
        return
    if args.child:
        n, m, steps, kernel = args.child
        print(json.dumps(passes_child(int(n), int(m), int(steps), kernel)))
        return
    big = (200_000, 1_000_000) if args.quick else (1_000_000, 5_000_000)
    only = set(args.only or ("whole", "passes", "pure", "layout"))
    print(f"machine: {machine()}")
    print(f"date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    if "whole" in only:
        with tempfile.TemporaryDirectory(prefix="paxsilica-bench-large-") as tmp:
            section_whole(Path(tmp), big, 3 if args.quick else 5, args.small_only, args.numpy)
    if "passes" in only:
        section_passes(big, args.passes_steps, args.numpy)
    if "pure" in only:
        section_pure()
    if "layout" in only:
        section_layout(big, args.layout_steps, args.layout_reps)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
