"""Benchmark: the README's main job, the briefing, with every built-in scenario and uncertainty bands.

Usage::

    python bench/bench_briefing.py            # 3 runs of each variant, whole process, side by side
    python bench/bench_briefing.py --runs 5

Times ``paxsilica brief --out FILE`` as a whole process (interpreter start, imports, the atlas, every
measure, the stress library and the HTML) in five variants run in turn — with bands (the default, 32
draws per scenario) and ``--bands 0`` (central values only), each with the engine's compiled step
(the default) and with its numpy step (``PAXSILICA_KERNEL=numpy``, the before), and ``--no-scenarios``
— and prints each
variant's median wall time and its ratio to the no-scenario briefing, measured pair by pair in the same
run. The issue's target: the briefing with all scenarios and bands in at most 10 s on 2 cores.

``--parts OLD_SRC`` measures the CPU time (user + system, forked workers included) of each part of the
briefing — imports, atlas, measures, the Plans section, the network, the Risk section, the stress
library — one after the other in one process per code version, alternated.

``--compare OLD_SRC`` times the default briefing (all scenarios, bands, Risk and Plans) of this checkout
against the code in another ``src`` folder (e.g. ``git archive`` of an earlier commit, run through
``PYTHONPATH``), alternated, and prints both medians and the ratio of each pair.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_stress import (
    _cpu,  # one machine description for every bench script (bench/ is on sys.path)
)


def _run(args: list[str], out: Path, src: str | None = None) -> float:
    exe = Path(sys.executable).with_name("paxsilica")
    env = dict(os.environ)
    env.pop("PAXSILICA_KERNEL", None)
    if src:
        env["PYTHONPATH"] = src
    if args[:1] == ["--numpy-step"]:  # the engine's numpy step instead of the compiled one
        env["PAXSILICA_KERNEL"] = "numpy"
        args = args[1:]
    t = time.perf_counter()
    subprocess.run([str(exe), "brief", "--out", str(out), *args], check=True, capture_output=True, env=env)
    return time.perf_counter() - t


def _run_cpu(args: list[str], out: Path, src: str | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the process and every process it forked and waited for)."""
    import resource

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = _run(args, out, src)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--compare", metavar="OLD_SRC", help="time the default briefing against this src folder")
    ap.add_argument("--parts", metavar="OLD_SRC", help="CPU of each part of the briefing, this checkout against "
                                                      "this src folder")
    ap.add_argument("--bands", type=int, default=32, help="band draws for --parts (default 32)")
    args = ap.parse_args()
    if args.parts:
        return _parts(args)
    if args.compare:
        return _compare(args)
    variants = {"with bands (32 draws)": [], "with bands, numpy step (PAXSILICA_KERNEL=numpy)": ["--numpy-step"],
                "central only (--bands 0)": ["--bands", "0"],
                "central only, numpy step": ["--numpy-step", "--bands", "0"], "no scenarios": ["--no-scenarios"]}
    times: dict[str, list[float]] = {k: [] for k in variants}
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "brief.html"
        _run(["--no-scenarios"], out)  # warm-up: lanes cache, file system
        for _ in range(args.runs):
            for name, extra in variants.items():
                times[name].append(_run(extra, out))
    base = times["no scenarios"]
    print(f"# briefing — {_cpu()}, Python {platform.python_version()}, {dt.date.today().isoformat()}, "
          f"{args.runs} runs each, in turn; load average at start {load0:.2f}, at end {os.getloadavg()[0]:.2f}")
    print("| variant | median wall s | min–max | ratio to no scenarios (median of pairs) |")
    print("|---|---|---|---|")
    for name, ts in times.items():
        ratio = statistics.median(t / b for t, b in zip(ts, base, strict=True))
        print(f"| {name} | {statistics.median(ts):.2f} | {min(ts):.2f}–{max(ts):.2f} | {ratio:.2f} |")


_PARTS = r"""
import json, resource, sys, time
def cpu():
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime
out = {}
t = cpu()
import paxsilica.cli.brief
from paxsilica.atlas import bundled_atlas
out["imports (cli.brief)"] = cpu() - t; t = cpu()
a = bundled_atlas(); v = a.version
out["atlas load + version"] = cpu() - t; t = cpu()
from paxsilica.report.briefing import build_briefing
build_briefing(a, generated="x")
out["measures (no scenarios, plans, risk)"] = cpu() - t; t = cpu()
from paxsilica.planning.briefing import build_plans
build_plans(a, "pax_silica", "ai_datacenter_capacity")
out["Plans section"] = cpu() - t; t = cpu()
from paxsilica.stress import Prepared
from paxsilica.stress.run import warm_engine, run_library
p = Prepared(a, target="ai_datacenter_capacity", consumers="producers", year=None, lanes=None, version=v)
p.network(1, None); warm_engine(prepared=p)
out["network + engine warm-up"] = cpu() - t; t = cpu()
from paxsilica.montecarlo.briefing import risk_section
risk_section(a, "ai_datacenter_capacity", atlas_version=v, prepared=p)
out["Risk section"] = cpu() - t; t = cpu()
run_library(a, None, target="ai_datacenter_capacity", errors="note", atlas_version=v, bands=int(sys.argv[1]),
            prepared=p)
out["stress library (2 workers)"] = cpu() - t
print(json.dumps(out))
"""


def _parts(args: argparse.Namespace) -> None:
    """CPU seconds of each part of the briefing, before and after, each part in turn in one process."""
    import json

    codes = {"before": str(Path(args.parts).resolve()), "after": str(Path(__file__).resolve().parents[1] / "src")}
    res: dict[str, list[dict[str, float]]] = {k: [] for k in codes}
    load0 = os.getloadavg()[0]
    for rep in range(args.runs):
        for name in (list(codes) if rep % 2 == 0 else list(codes)[::-1]):
            env = dict(os.environ, PYTHONPATH=codes[name])
            env.pop("PAXSILICA_KERNEL", None)
            r = subprocess.run([sys.executable, "-c", _PARTS, str(args.bands)], check=True, capture_output=True,
                               text=True, env=env)
            res[name].append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(f"# briefing CPU by part — {_cpu()}, Python {platform.python_version()}, "
          f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {args.runs} runs each, alternated, bands {args.bands}; "
          f"load average at start {load0:.2f}, at end {os.getloadavg()[0]:.2f}")
    print("| part | before CPU s (median) | after CPU s (median) | before / after |")
    print("|---|---:|---:|---:|")
    tot = {k: 0.0 for k in codes}
    for part in res["after"][0]:
        b = statistics.median(r[part] for r in res["before"])
        a = statistics.median(r[part] for r in res["after"])
        tot["before"] += b
        tot["after"] += a
        print(f"| {part} | {b:.2f} | {a:.2f} | {b / a if a > 0 else float('nan'):.2f} |")
    print(f"| **total** | {tot['before']:.2f} | {tot['after']:.2f} | {tot['before'] / tot['after']:.2f} |")


def _compare(args: argparse.Namespace) -> None:
    codes = {"before": str(Path(args.compare).resolve()), "after": str(Path(__file__).resolve().parents[1] / "src")}
    times: dict[str, list[float]] = {k: [] for k in codes}
    cpus: dict[str, list[float]] = {k: [] for k in codes}
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "brief.html"
        _run(["--no-scenarios"], out)  # warm-up: lanes cache, file system
        for rep in range(args.runs):
            for name in (list(codes) if rep % 2 == 0 else list(codes)[::-1]):
                wall, cpu = _run_cpu([], out, codes[name])
                times[name].append(wall)
                cpus[name].append(cpu)
    print(f"# briefing before vs after — {_cpu()}, Python {platform.python_version()}, "
          f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {args.runs} runs each, alternated; load average at start "
          f"{load0:.2f}, at end {os.getloadavg()[0]:.2f}")
    print("| code | median wall s | runs (s) | median CPU s (all processes) | runs (s) |")
    print("|---|---:|---|---:|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.2f} | {', '.join(f'{t:.1f}' for t in ts)} | "
              f"{statistics.median(cpus[name]):.2f} | {', '.join(f'{t:.1f}' for t in cpus[name])} |")
    pairs = [b / a for b, a in zip(times["before"], times["after"], strict=True)]
    cpairs = [b / a for b, a in zip(cpus["before"], cpus["after"], strict=True)]
    print(f"\nratio before/after, wall: {statistics.median(times['before']) / statistics.median(times['after']):.2f} "
          f"(pairs {', '.join(f'{p:.2f}' for p in pairs)}); CPU: "
          f"{statistics.median(cpus['before']) / statistics.median(cpus['after']):.2f} "
          f"(pairs {', '.join(f'{p:.2f}' for p in cpairs)})")


if __name__ == "__main__":
    main()
