"""Load test of the REST service: 10,000 requests at concurrency 50 against a loopback server.

Usage::

    python bench/bench_service.py                     # SQLite in a temporary folder
    python bench/bench_service.py --db postgresql+psycopg://user@127.0.0.1/db
    python bench/bench_service.py --requests 2000 --concurrency 20

Starts ``paxsilica serve`` on 127.0.0.1 (a free port) with a fresh database seeded with the test
organisations, logs in once, warms the caches (each metric computed once), then sends the
requests twice: all metric queries (served from the per-atlas-version cache: the goal's case),
then mixed, 80 % metric queries and 20 % other reads (``/me``, ``/atlas``, ``/runs``,
``/uploads``, ``/scenarios``; three of them read the database). The per-token rate limit is raised
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

import httpx  # the set-up calls; the load itself is aiohttp's (see _load)
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


async def _load(base: str, token: str, n: int, concurrency: int, mixed: bool
                ) -> tuple[dict[str, list[float]], list[str]]:
    """Send ``n`` GETs over ``concurrency`` keep-alive connections; latencies by kind, and errors.
    ``mixed``: every fifth request is one of the other reads, else all are metric queries.

    The client is aiohttp: on these two cores the load client shares the CPU with the server, and
    httpx's async client spent about 4.5 ms of CPU a request (4x the server's), so it measured
    itself; aiohttp spends a fraction of that.
    """
    import aiohttp

    lat: dict[str, list[float]] = {"metric": [], "other": []}
    errors: list[str] = []
    todo = iter(range(n))
    conn = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(base_url=base, connector=conn, headers={"Authorization": f"Bearer {token}"},
                                     timeout=aiohttp.ClientTimeout(total=30)) as c:
        async def worker() -> None:  # one of `concurrency` clients, each sending its next request when answered
            for i in todo:
                kind = "other" if mixed and i % 5 == 4 else "metric"
                path = OTHER[i % len(OTHER)] if kind == "other" else f"/api/v1/metrics/{METRICS[i % len(METRICS)]}"
                t = time.perf_counter()
                try:
                    async with c.get(path) as r:
                        await r.read()
                        ok = r.status == 200
                        if not ok:
                            errors.append(f"{r.status} {path}")
                except (TimeoutError, aiohttp.ClientError) as exc:
                    ok = False
                    errors.append(f"{type(exc).__name__} {path}")
                if ok:
                    lat[kind].append(time.perf_counter() - t)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return lat, errors


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        runs = []
        for mixed in (False, True):
            t, server0, client0 = time.perf_counter(), _cpu_seconds(proc.pid), time.process_time()
            lat, errors = asyncio.run(_load(base, token, args.requests, args.concurrency, mixed))
            wall = time.perf_counter() - t
            runs.append((mixed, lat, errors, wall, _cpu_seconds(proc.pid) - server0, time.process_time() - client0,
                         os.getloadavg()[0]))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    kind_db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"machine: {machine()}")
    print(f"date: {dt.date.today().isoformat()}; database: {kind_db}; concurrency {args.concurrency}; "
          f"cache warm-up (8 metrics, cold) {warm:.1f} s")
    print()
    print("| run | requests | count | errors | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | requests/s | "
          "server CPU (ms a request) | client CPU (s) | load average |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mixed, lat, errors, wall, server_cpu, client_cpu, load in runs:
        name = "mixed (80 % metric, 20 % other reads)" if mixed else "metric queries only"
        for kind, values in lat.items():
            a = np.array(values) * 1000
            n_err = sum(1 for e in errors if ("/metrics/" in e) == (kind == "metric"))
            if len(a) or n_err:
                p = [f"{np.percentile(a, q):.1f}" for q in (50, 95, 99)] + [f"{a.max():.1f}"] if len(a) else ["-"] * 4
                print(f"| {name} | {kind} | {len(a) + n_err} | {n_err} | {' | '.join(p)} | "
                      f"{args.requests / wall:.0f} | {1000 * server_cpu / args.requests:.2f} | {client_cpu:.1f} | "
                      f"{load:.1f} |")
        if errors:
            print(f"\nfirst errors ({name}): {errors[:5]}")


if __name__ == "__main__":
    main()
