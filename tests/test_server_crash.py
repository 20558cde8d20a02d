"""Crash safety: the server is SIGKILLed during uploads and runs, 20 times, and restarted, on
SQLite and on PostgreSQL. Every acknowledged upload and run is there afterwards, every stored file
matches its recorded hash, no row is half-written, and the audit chain is intact."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from paxsilica.server.store import RUN_STATES, Run, Store, Upload, audit
from paxsilica.server.testing import PASSWORD, db_url, seed  # noqa: F401

KILLS = 20


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(url: str, files: Path, port: int, log) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    env = dict(os.environ, PAXSILICA_FILES_DIR=str(files), PAXSILICA_SECRET="crash-test-secret-" + "z" * 32,
               PAXSILICA_RATE_PER_MINUTE="100000", PAXSILICA_LOG_LEVEL="warning", XDG_STATE_HOME=str(files.parent))
    proc = subprocess.Popen([sys.executable, "-m", "paxsilica.cli.main", "serve", "--db", url, "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {Path(log.name).read_text()[-2000:]}")
        time.sleep(0.1)
    raise AssertionError("server did not start")


def _kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the server and its run processes, at once
    proc.wait()


def _load(base: str, token: str, stop: threading.Event, acked: dict[str, list[str]], k: int) -> None:
    h = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=h, timeout=10) as c:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                if i % 3 != 1:
                    body = "holder,item,days_of_cover,source\n" + "".join(
                        f"H{k}x{i}x{j},helium,{j},crash test\n" for j in range(200))
                    r = c.post("/api/v1/uploads", files={"file": (f"u{k}-{i}.csv", body.encode())},
                               data={"table": "stocks"})
                    if r.status_code == 201:
                        acked["uploads"].append(r.json()["id"])
                        acked["rows"].append(str(r.json()["rows"]))
                else:
                    r = c.post("/api/v1/runs", json={"scenario": "hormuz_closure", "steps": 3})
                    if r.status_code == 202:
                        acked["runs"].append(r.json()["id"])
            except httpx.HTTPError:
                continue  # the server died mid-request: that write was never acknowledged


@pytest.mark.slow
def test_sigkill_during_uploads_and_runs(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    store = Store(db_url)
    store.upgrade()
    seed(store, fast_hash=False)
    store.dispose()
    files = tmp_path / "files"
    with (tmp_path / "server.log").open("ab") as log:
        _crash_and_check(db_url, files, log)


def _crash_and_check(db_url: str, files: Path, log) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    port = _port()
    base = f"http://127.0.0.1:{port}"
    acked: dict[str, list[str]] = {"uploads": [], "runs": [], "rows": []}
    rng = random.Random(7)
    token = None
    for _ in range(KILLS):
        proc = _start(db_url, files, port, log)
        if token is None:
            token = httpx.post(f"{base}/api/v1/auth/login",
                               json={"username": "a_analyst", "password": PASSWORD}).json()["access_token"]
        stop = threading.Event()
        threads = [threading.Thread(target=_load, args=(base, token, stop, acked, k)) for k in range(3)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(1.5, 3.0))
        _kill(proc)  # mid-write: requests in flight, runs in their processes
        stop.set()
        for t in threads:
            t.join()
    assert len(acked["uploads"]) >= 10 and len(acked["runs"]) >= 10, acked

    # restart once more: everything acknowledged is there, whole
    proc = _start(db_url, files, port, log)
    try:
        h = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=h, timeout=30) as c:
            for uid, rows in zip(acked["uploads"], acked["rows"], strict=True):
                r = c.get(f"/api/v1/uploads/{uid}")
                assert r.status_code == 200, uid
                assert r.json()["rows"] == int(rows) == 200
            for rid in acked["runs"]:
                r = c.get(f"/api/v1/runs/{rid}")
                assert r.status_code == 200 and r.json()["status"] in RUN_STATES
        store = Store(db_url)
        with store.session() as s:
            for u in s.query(Upload).all():  # every committed row's file is complete
                data = (files / u.path).read_bytes()
                assert hashlib.sha256(data).hexdigest() == u.sha256
            for r in s.query(Run).all():
                assert r.status in RUN_STATES
                if r.status == "done":
                    data = (files / r.result_path).read_bytes()
                    assert hashlib.sha256(data).hexdigest() == r.result_sha256
            assert audit.verify(s).ok
            assert s.query(Upload).count() >= len(acked["uploads"])
        store.dispose()
        stray = [p for p in (files / "uploads").rglob("*") if p.name.startswith(".")]
        assert stray == []  # temporary files of interrupted writes were cleaned up or never renamed
    finally:
        _kill(proc)
