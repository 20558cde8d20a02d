"""Runs shared by several server processes, on SQLite and on PostgreSQL: a queued run is claimed
by exactly one process; a run whose owner died is queued again (at once when the owner is a dead
process of this host, else when its lease expires), never while its owner is alive; cancellation
and progress work whichever process serves the request."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paxsilica.server.app import create_app
from paxsilica.server.runs import RunManager, owner_dead, owner_id
from paxsilica.server.settings import Settings
from paxsilica.server.store import Run, Store, new_id, utcnow
from paxsilica.server.testing import PASSWORD, db_url, seed  # noqa: F401  (fixture)


@pytest.fixture
def store(db_url: str):  # noqa: F811
    s = Store(db_url)
    s.upgrade()
    s.seeded = seed(s)  # type: ignore[attr-defined]
    yield s
    s.dispose()


def _settings(store: Store, tmp_path: Path, workers: int = 1) -> Settings:
    return Settings.from_env(db_url=store.url, files_dir=tmp_path / "files", workers=workers,
                             secret="coordination-test-" + "y" * 32, argon2_fast=True, rate_per_minute=100_000)


def _queue(store: Store, n: int, status: str = "queued", **values: object) -> list[str]:
    org, user = store.seeded.orgs["ministry_a"], store.seeded.users["a_analyst"]  # type: ignore[attr-defined]
    ids = []
    with store.session(write=True) as s:
        for i in range(n):
            r = Run(id=new_id(), org_id=org, user_id=user, kind="stress", status=status,
                    params=json.dumps({"scenario": "hormuz_closure", "steps": 1, "uploads": []}),
                    created_at=utcnow() + dt.timedelta(microseconds=i), **values)
            s.add(r)
            ids.append(r.id)
    return ids


class Recording(RunManager):
    """A run manager whose runs take a few milliseconds (no child process): it records what it ran."""

    ran: list[tuple[str, str]]

    def _execute(self, rid: str) -> None:
        self.ran.append((self.owner, rid))
        time.sleep(0.005)
        assert self._finish(rid, "done", path="x", sha="0" * 64)


def _wait_until(cond, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def _statuses(store: Store, ids: list[str]) -> dict[str, str]:
    with store.session() as s:
        return dict(s.query(Run.id, Run.status).filter(Run.id.in_(ids)).all())


def test_two_managers_never_run_a_run_twice(store: Store, tmp_path: Path) -> None:
    ids = _queue(store, 40)
    ran: list[tuple[str, str]] = []
    managers = []
    for _ in range(2):
        m = Recording(store, _settings(store, tmp_path, workers=4), poll_s=0.05)
        m.ran = ran
        managers.append(m)
    for m in managers:
        m.start()
    try:
        _wait_until(lambda: set(_statuses(store, ids).values()) == {"done"})
    finally:
        for m in managers:
            m.stop()
    counts = Counter(rid for _owner, rid in ran)
    assert sorted(counts) == sorted(ids) and set(counts.values()) == {1}
    with store.session() as s:  # each row names the one process that ran it
        owners = dict(s.query(Run.id, Run.owner).filter(Run.id.in_(ids)).all())
    assert owners == {rid: owner for owner, rid in ran}
    assert {o for o, _ in ran} <= {m.owner for m in managers}


def test_a_claim_is_taken_once(store: Store, tmp_path: Path) -> None:
    """Many threads of two managers race for one queued run: exactly one claim succeeds."""
    (rid,) = _queue(store, 1)
    a, b = (RunManager(store, _settings(store, tmp_path)) for _ in range(2))
    won: list[str] = []
    barrier = threading.Barrier(8)

    def race(m: RunManager) -> None:
        barrier.wait()
        if m._claim(rid):
            won.append(m.owner)

    threads = [threading.Thread(target=race, args=(m,)) for m in (a, b) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    with store.session() as s:
        row = s.get(Run, rid)
        assert row.status == "running" and row.owner == won[0] and row.lease_until > utcnow()


def test_live_owners_run_is_left_alone_expired_lease_requeued(store: Store, tmp_path: Path) -> None:
    future, past = utcnow() + dt.timedelta(minutes=5), utcnow() - dt.timedelta(seconds=1)
    (alive,) = _queue(store, 1, status="running", owner="otherhost:4242:1:abcdabcd", lease_until=future)
    (mine,) = _queue(store, 1, status="running", owner=owner_id(), lease_until=past)  # this host, alive
    (expired,) = _queue(store, 1, status="running", owner="otherhost:4243:1:abcdabcd", lease_until=past)
    (legacy,) = _queue(store, 1, status="running")  # from before owners: no lease
    (stopped,) = _queue(store, 1, status="running", owner="otherhost:9:1:abcdabcd", lease_until=past,
                        cancel_requested=True)
    m = RunManager(store, _settings(store, tmp_path))
    assert m.requeue_abandoned() == 4
    st = _statuses(store, [alive, mine, expired, legacy, stopped])
    assert st == {alive: "running", mine: "queued", expired: "queued", legacy: "queued", stopped: "cancelled"}
    with store.session() as s:
        assert s.get(Run, expired).owner is None and s.get(Run, alive).owner == "otherhost:4242:1:abcdabcd"


def test_dead_owner_on_this_host_is_requeued_at_once(store: Store, tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    probe = RunManager(store, _settings(store, tmp_path))
    host, _pid, _start, token = probe.owner.rsplit(":", 3)
    from paxsilica.server.runs import _start_ticks

    owner = f"{host}:{child.pid}:{_start_ticks(child.pid)}:{token}"
    (rid,) = _queue(store, 1, status="running", owner=owner, lease_until=utcnow() + dt.timedelta(minutes=5))
    assert not owner_dead(owner)
    assert probe.requeue_abandoned() == 0 and _statuses(store, [rid])[rid] == "running"
    child.kill()
    child.wait()
    assert owner_dead(owner)
    assert probe.requeue_abandoned() == 1 and _statuses(store, [rid])[rid] == "queued"
    # a later process with the same pid is another process: its start time differs
    assert owner_dead(f"{host}:{probe.owner.split(':')[1]}:1:{token}")


def test_lease_renewed_by_live_owner_and_taken_over_after_death(store: Store, tmp_path: Path) -> None:
    """Owner A keeps renewing its run (B never takes it); when A stops renewing, B re-queues and
    runs it after the lease."""
    (rid,) = _queue(store, 1)
    ran: list[tuple[str, str]] = []
    gate = threading.Event()

    class Slow(Recording):
        def _execute(self, rid: str) -> None:
            self.ran.append((self.owner, rid))
            gate.wait(30)  # "executing" until the test releases it

    a = Slow(store, _settings(store, tmp_path), lease_s=0.6, poll_s=0.05)
    a.ran = ran
    a.start()
    _wait_until(lambda: _statuses(store, [rid])[rid] == "running")
    b = Recording(store, _settings(store, tmp_path), lease_s=0.6, poll_s=0.05)
    b.ran = ran
    b.start()
    try:
        time.sleep(2.0)  # > 3 leases: A's renewals keep its claim
        assert [r for r in ran] == [(a.owner, rid)]
        with store.session() as s:
            assert s.get(Run, rid).owner == a.owner
        a._stopping.set()  # A "dies": its keeper stops renewing (its worker is still stuck)
        _wait_until(lambda: _statuses(store, [rid])[rid] == "done", timeout=30)
        assert ran == [(a.owner, rid), (b.owner, rid)]
        with store.session() as s:
            assert s.get(Run, rid).owner == b.owner
    finally:
        gate.set()
        a.stop()
        b.stop()
    assert not a._finish(rid, "failed", error="late")  # A's late answer changes nothing
    assert _statuses(store, [rid])[rid] == "done"


def test_cancel_and_progress_through_another_process(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    """Process A executes the run (its workers); process B (no workers) serves the submission, the
    progress and the cancellation."""
    store = Store(db_url)
    store.upgrade()
    seed(store)
    store.dispose()
    kw = {"argon2_fast": True, "rate_per_minute": 100_000, "secret": "two-process-" + "q" * 32}
    settings = Settings.from_env(db_url=db_url, files_dir=tmp_path / "files", **kw)
    a_app = create_app(settings)
    b_app = create_app(settings, start_workers=False)
    a_app.state.runs.poll_s = b_app.state.runs.poll_s = 0.1
    with TestClient(a_app) as a, TestClient(b_app) as b:
        r = b.post("/api/v1/auth/login", json={"username": "a_analyst", "password": PASSWORD})
        h = {"Authorization": "Bearer " + r.json()["access_token"]}
        rid = b.post("/api/v1/runs", headers=h, json={"scenario": "hormuz_closure", "bands": 16}).json()["id"]
        seen: list[dict] = []

        def running() -> bool:
            seen.append(b.get(f"/api/v1/runs/{rid}", headers=h).json())
            return seen[-1]["status"] == "running" and seen[-1]["stage"] not in (None, "starting")

        _wait_until(running, timeout=120)  # A took it (B has no workers) and its progress shows in B
        assert 0.0 < seen[-1]["progress"] < 1.0
        assert b.post(f"/api/v1/runs/{rid}/cancel", headers=h).status_code == 200
        _wait_until(lambda: b.get(f"/api/v1/runs/{rid}", headers=h).json()["status"] == "cancelled", timeout=30)
        assert a.get(f"/api/v1/runs/{rid}", headers=h).json()["status"] == "cancelled"
        with a_app.state.store.session() as s:
            assert s.get(Run, rid).owner == a_app.state.runs.owner


@pytest.mark.slow
def test_serve_with_two_processes(tmp_path: Path) -> None:
    """``paxsilica serve --workers 2``: two server processes share the signing key (a token from
    one works on the other), the runs (each done, by a server process, not the parent) and the
    database. (SQLite only: the claims on PostgreSQL are the tests above; this one costs a minute.)"""
    import os
    import signal
    import socket

    import httpx

    url = f"sqlite:///{tmp_path / 'service.db'}"
    store = Store(url)
    store.upgrade()
    seed(store, fast_hash=True)
    store.dispose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PAXSILICA_FILES_DIR=str(tmp_path / "files"), PAXSILICA_LOG_LEVEL="warning",
               PAXSILICA_RATE_PER_MINUTE="100000")
    env.pop("PAXSILICA_SECRET", None)  # generated once by the parent, read by both processes
    with (tmp_path / "server.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "paxsilica.cli.main", "serve", "--db", url, "--port",
                                 str(port), "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            try:
                return httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_until(up, timeout=120)
        h = {"Authorization": "Bearer " + httpx.post(f"{base}/api/v1/auth/login", json={
            "username": "a_analyst", "password": PASSWORD}).json()["access_token"]}
        # fresh connections land on either process: the token works on both
        assert {httpx.get(f"{base}/api/v1/me", headers=h).status_code for _ in range(20)} == {200}
        ids = [httpx.post(f"{base}/api/v1/runs", headers=h, json={"scenario": "hormuz_closure", "steps": 1}
                          ).json()["id"] for _ in range(2)]

        def done() -> bool:
            st = {httpx.get(f"{base}/api/v1/runs/{i}", headers=h).json()["status"] for i in ids}
            assert not st & {"failed", "cancelled"}, st
            return st == {"done"}

        _wait_until(done, timeout=240)
        children = {int(c) for c in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()}
        check = Store(url)
        with check.session() as s:
            owners = [s.get(Run, i).owner for i in ids]
        check.dispose()
        assert {int(o.rsplit(":", 3)[1]) for o in owners} <= children  # executed by the server processes
        assert len(children) >= 2
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
