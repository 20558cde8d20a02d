"""Load test of the REST service: 10,000 requests at concurrency 50 against a loopback server.

Usage::

    python bench/bench_service.py                     # SQLite in a temporary folder
    python bench/bench_service.py --db postgresql+psycopg://user@127.0.0.1/db
    python bench/bench_service.py --requests 2000 --concurrency 20
    python bench/bench_service.py --server-workers 2 --label new   # paxsilica serve --workers 2
    PYTHONPATH=/path/to/old/checkout/src python bench/bench_service.py --label old   # side by side

Starts ``paxsilica serve`` on 127.0.0.1 (a free port) with a fresh database seeded with the test
organisations, logs in once, warms the caches (each metric computed once in each server
process, then 2,000 mixed requests), then sends the requests twice: all metric queries (served from the per-atlas-version cache: the goal's case),
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

import httpx  # the set-up calls; the load itself is a bare asyncio protocol (see _load)
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


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that sends a prepared request and reads one answer
    (status line, ``Content-Length``, body): the least a client can do per request, so that on these
    two shared cores the load client measures the server, not itself."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._try()

    def connection_lost(self, exc) -> None:  # type: ignore[no-untyped-def]
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionResetError("connection closed by the server"))

    def _try(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        length, i = 0, head.find(b"content-length:")
        if i >= 0:
            j = head.find(b"\r\n", i)
            length = int(head[i + 15:j if j >= 0 else len(head)])
        if len(self.buf) < end + 4 + length:
            return
        status = int(head[9:12])
        body = bytes(self.buf[end + 4:end + 4 + length])
        del self.buf[:end + 4 + length]
        self.waiter.set_result((status, body))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        self._try()
        return await self.waiter


async def _load(port: int, token: str, n: int, concurrency: int, mixed: bool
                ) -> tuple[dict[str, list[float]], list[str]]:
    """Send ``n`` GETs over ``concurrency`` keep-alive connections; latencies by kind, and errors.
    ``mixed``: every fifth request is one of the other reads, else all are metric queries.

    The client is a bare asyncio protocol with the requests prepared as bytes (:class:`_Conn`):
    httpx's async client spent about 4.5 ms of CPU a request and aiohttp still a good part of the
    server's; this one does no more than write the request and read the status, length and body.
    """
    loop = asyncio.get_running_loop()
    lat: dict[str, list[float]] = {"metric": [], "other": []}
    errors: list[str] = []
    todo = iter(range(n))

    def raw(path: str) -> bytes:
        return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                "Accept: application/json\r\n\r\n").encode()

    metric_raw = [(f"/api/v1/metrics/{m}", raw(f"/api/v1/metrics/{m}")) for m in METRICS]
    other_raw = [(p, raw(p)) for p in OTHER]

    async def connect() -> _Conn:
        _t, proto = await loop.create_connection(_Conn, "127.0.0.1", port)
        return proto

    async def worker() -> None:  # one of `concurrency` clients, each sending its next request when answered
        conn = await connect()
        for i in todo:
            kind = "other" if mixed and i % 5 == 4 else "metric"
            path, req = other_raw[i % len(other_raw)] if kind == "other" else metric_raw[i % len(metric_raw)]
            if conn.closed:
                conn = await connect()
            t = time.perf_counter()
            try:
                status, _body = await asyncio.wait_for(conn.request(req), 30)
                ok = status == 200
                if not ok:
                    errors.append(f"{status} {path}")
            except (TimeoutError, OSError) as exc:
                ok = False
                errors.append(f"{type(exc).__name__} {path}")
                conn.transport.close()  # type: ignore[union-attr]
                conn = await connect()
            if ok:
                lat[kind].append(time.perf_counter() - t)
        conn.transport.close()  # type: ignore[union-attr]

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return lat, errors


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_cpu(pid: int) -> float:
    """CPU time of the server: its process and, with several workers, its children (the server
    processes uvicorn started; run processes are not started by this benchmark)."""
    total = _cpu_seconds(pid)
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            total += _cpu_seconds(int(child))
        except (OSError, ValueError):
            pass
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in a temporary folder)")
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--server-workers", type=int, default=1,
                    help="server processes (paxsilica serve --workers N; 1: the option is not passed, so "
                         "an older checkout without it runs too)")
    ap.add_argument("--runs", choices=("both", "metric", "mixed"), default="both")
    ap.add_argument("--label", default="", help="name of the code measured, printed in each row")
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
    cmd = [sys.executable, "-m", "paxsilica.cli.main", "serve", "--db", url, "--port", str(port)]
    if args.server_workers > 1:
        cmd += ["--workers", str(args.server_workers)]
    proc = subprocess.Popen(cmd, env=env)
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
        # warm the caches: each metric computed once per atlas version, in every server process
        # (each has its own cache; new connections are spread over the processes by the kernel)
        for _ in range(4 * args.server_workers):
            for m in METRICS:
                with httpx.Client(timeout=300) as c:
                    c.get(f"{base}/api/v1/metrics/{m}", headers=h).raise_for_status()
        warm = time.perf_counter() - t
        asyncio.run(_load(port, token, 2000, args.concurrency, True))  # principals cached, code paths warm
        runs = []
        for mixed in {"both": (False, True), "metric": (False,), "mixed": (True,)}[args.runs]:
            t, server0, client0 = time.perf_counter(), _server_cpu(proc.pid), time.process_time()
            lat, errors = asyncio.run(_load(port, token, args.requests, args.concurrency, mixed))
            wall = time.perf_counter() - t
            runs.append((mixed, lat, errors, wall, _server_cpu(proc.pid) - server0, time.process_time() - client0,
                         os.getloadavg()[0]))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    kind_db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"machine: {machine()}")
    print(f"date: {dt.datetime.now(dt.UTC).isoformat(timespec='minutes')}; database: {kind_db}; "
          f"concurrency {args.concurrency}; server processes {args.server_workers}; "
          f"cache warm-up (8 metrics, cold) {warm:.1f} s")
    print()
    print("| code | run | requests | count | errors | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | requests/s | "
          "server CPU (ms a request) | client CPU (ms a request) | load average |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mixed, lat, errors, wall, server_cpu, client_cpu, load in runs:
        name = "mixed (80 % metric, 20 % other reads)" if mixed else "metric queries only"
        for kind, values in lat.items():
            a = np.array(values) * 1000
            n_err = sum(1 for e in errors if ("/metrics/" in e) == (kind == "metric"))
            if len(a) or n_err:
                p = [f"{np.percentile(a, q):.1f}" for q in (50, 95, 99)] + [f"{a.max():.1f}"] if len(a) else ["-"] * 4
                print(f"| {args.label or '-'} ({args.server_workers} proc) | {name} | {kind} | {len(a) + n_err} | "
                      f"{n_err} | {' | '.join(p)} | {args.requests / wall:.0f} | "
                      f"{1000 * server_cpu / args.requests:.2f} | {1000 * client_cpu / args.requests:.2f} | "
                      f"{load:.1f} |")
        if errors:
            print(f"\nfirst errors ({name}): {errors[:5]}")


if __name__ == "__main__":
    main()
