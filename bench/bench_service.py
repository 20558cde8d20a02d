"""Load test of the REST service: 10,000 requests at concurrency 50 against a loopback server.

Usage::

    python bench/bench_service.py                     # SQLite in a temporary folder
    python bench/bench_service.py --db postgresql+psycopg://user@127.0.0.1/db
    python bench/bench_service.py --requests 2000 --concurrency 20

Starts ``paxsilica serve`` on 127.0.0.1 (a free port) with a fresh database seeded with the test
organisations, logs in once, warms the caches (each metric computed once), then sends the
requests: 80 % metric queries (served from the per-atlas-version cache), 20 % other reads
(``/me``, ``/atlas``, ``/runs``, ``/uploads``, ``/scenarios``). The per-token rate limit is raised
for the run (one token sends everything). Prints a Markdown table: errors (goal 0) and latency
percentiles (goal p99 <= 50 ms for metric queries); paste it into bench/RESULTS.md ("service").
Only loopback addresses are contacted; the loop is bounded in count and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import machine  # one machine description for every bench script

METRICS = ("concentration", "stage_concentration", "coalition_exposure", "coalition_by_stage", "bottlenecks",
           "country_knockouts", "supply_risk", "coercion_risk")
OTHER = ("/api/v1/me", "/api/v1/atlas", "/api/v1/runs", "/api/v1/uploads", "/api/v1/scenarios?limit=5")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _load(base: str, token: str, n: int, concurrency: int) -> tuple[dict[str, list[float]], list[str]]:
    lat: dict[str, list[float]] = {"metric": [], "other": []}
    errors: list[str] = []
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=30) as c:
        async def one(i: int) -> None:
            kind = "other" if i % 5 == 4 else "metric"
            path = OTHER[i % len(OTHER)] if kind == "other" else f"/api/v1/metrics/{METRICS[i % len(METRICS)]}"
            async with sem:
                t = time.perf_counter()
                try:
                    r = await c.get(path)
                    ok = r.status_code == 200
                    if not ok:
                        errors.append(f"{r.status_code} {path}")
                except httpx.HTTPError as exc:
                    ok = False
                    errors.append(f"{type(exc).__name__} {path}")
                if ok:
                    lat[kind].append(time.perf_counter() - t)

        await asyncio.gather(*(one(i) for i in range(n)))
    return lat, errors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in a temporary folder)")
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=50)
    args = ap.parse_args()
    from paxsilica.server.store import Store
    from paxsilica.server.testing import PASSWORD, seed

    tmp = Path(tempfile.mkdtemp(prefix="paxsilica-bench-"))
    url = args.db or f"sqlite:///{tmp / 'service.db'}"
    store = Store(url)
    store.upgrade()
    seed(store, fast_hash=False)
    store.dispose()
    port = _port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PAXSILICA_FILES_DIR=str(tmp / "files"), PAXSILICA_RATE_PER_MINUTE="10000000",
               PAXSILICA_LOG_LEVEL="warning")
    proc = subprocess.Popen([sys.executable, "-m", "paxsilica.cli.main", "serve", "--db", url, "--port", str(port)],
                            env=env)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = httpx.post(f"{base}/api/v1/auth/login", json={"username": "a_viewer", "password": PASSWORD}
                           ).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        t = time.perf_counter()
        for m in METRICS:  # warm the cache: each metric computed once per atlas version
            httpx.get(f"{base}/api/v1/metrics/{m}", headers=h, timeout=120).raise_for_status()
        warm = time.perf_counter() - t
        t = time.perf_counter()
        lat, errors = asyncio.run(_load(base, token, args.requests, args.concurrency))
        wall = time.perf_counter() - t
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    kind_db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"machine: {machine()}")
    print(f"date: {dt.date.today().isoformat()}; database: {kind_db}; {args.requests} requests at concurrency "
          f"{args.concurrency}; cache warm-up (8 metrics, cold) {warm:.1f} s; wall {wall:.1f} s "
          f"({args.requests / wall:.0f} requests/s)")
    print()
    print("| requests | count | errors | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, values in lat.items():
        a = np.array(values) * 1000
        n_err = sum(1 for e in errors if ("/metrics/" in e) == (kind == "metric"))
        if len(a):
            print(f"| {kind} | {len(a) + n_err} | {n_err} | {np.percentile(a, 50):.1f} | {np.percentile(a, 95):.1f} | "
                  f"{np.percentile(a, 99):.1f} | {a.max():.1f} |")
    if errors:
        print(f"\nfirst errors: {errors[:5]}")


if __name__ == "__main__":
    main()
