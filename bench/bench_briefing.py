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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--compare", metavar="OLD_SRC", help="time the default briefing against this src folder")
    args = ap.parse_args()
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


def _compare(args: argparse.Namespace) -> None:
    codes = {"before": str(Path(args.compare).resolve()), "after": str(Path(__file__).resolve().parents[1] / "src")}
    times: dict[str, list[float]] = {k: [] for k in codes}
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "brief.html"
        _run(["--no-scenarios"], out)  # warm-up: lanes cache, file system
        for rep in range(args.runs):
            for name in (list(codes) if rep % 2 == 0 else list(codes)[::-1]):
                times[name].append(_run([], out, codes[name]))
    print(f"# briefing before vs after — {_cpu()}, Python {platform.python_version()}, "
          f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {args.runs} runs each, alternated; load average at start "
          f"{load0:.2f}, at end {os.getloadavg()[0]:.2f}")
    print("| code | median wall s | runs (s) |")
    print("|---|---:|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.2f} | {', '.join(f'{t:.1f}' for t in ts)} |")
    pairs = [b / a for b, a in zip(times["before"], times["after"], strict=True)]
    print(f"\nratio before/after: {statistics.median(times['before']) / statistics.median(times['after']):.2f} "
          f"(pairs {', '.join(f'{p:.2f}' for p in pairs)})")


if __name__ == "__main__":
    main()
