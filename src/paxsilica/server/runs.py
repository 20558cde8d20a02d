"""The worker pool: runs execute in child processes, outside every request, coordinated through
the database so that several server processes (``paxsilica serve --workers N``, or servers on
several hosts sharing one PostgreSQL) share one queue.

A submitted run is a committed ``runs`` row (status ``queued``) before the API answers. Worker
threads of every server process look for queued rows and **claim** one atomically (``UPDATE runs
SET status='running', owner=?, lease_until=? WHERE id=? AND status='queued'``: on SQLite and on
PostgreSQL exactly one process's update matches), start one child process each (at most
``Settings.workers`` at once per server process), relay its progress to the row, stop it on
cancellation (requested in the row, by whichever process served the request) or timeout (the
process is terminated, so a cancelled simulation really stops), and record the result: the JSON
file is written crash-safely first, then the row is marked ``done`` with the file's path and hash
— only if the row is still this process's (``WHERE owner=?``).

The owner renews the lease of its running rows (every ``lease_s / 3``). A row whose lease has
expired, or whose owner is a dead process on this host, is queued again (at start-up and every
``lease_s / 3``); a row another live process holds is never touched. A result file without a
``done`` row is simply rewritten.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import hashlib
import json
import logging
import multiprocessing as mp
import os
import secrets
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, update

from .settings import Settings
from .store import Run, Scenario, Store, Upload, utcnow

log = logging.getLogger("paxsilica.server.runs")


def result_path(files_dir: Path, org_id: int, run_id: str) -> Path:
    """Where the result of a run is kept."""
    return files_dir / "results" / str(org_id) / f"{run_id}.json"


def montecarlo_folder(files_dir: Path, org_id: int, run_id: str) -> Path:
    """Where a Monte Carlo run keeps its run folder (draws, events: a plan's scenarios)."""
    return files_dir / "results" / str(org_id) / f"{run_id}.montecarlo"


def _start_ticks(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot, Linux), or "" where unknown: with the
    pid it names one process, even after the pid is reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def owner_id() -> str:
    """This server process as a run's owner: ``host:pid:start:token``.

    Examples
    --------
    >>> host, pid, start, token = owner_id().rsplit(":", 3)
    >>> int(pid) == os.getpid() and host == socket.gethostname() and len(token) == 8
    True
    """
    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid())}:{secrets.token_hex(4)}"


def owner_dead(owner: str) -> bool:
    """Whether ``owner`` is a process of this host that no longer runs (a run it held may be queued
    again at once). Owners on other hosts, or unreadable ones, are never judged dead here: their
    lease decides.

    Examples
    --------
    >>> owner_dead(owner_id()), owner_dead("elsewhere:1:1:ab12cd34")
    (False, False)
    """
    try:
        host, pid_s, start, _token = owner.rsplit(":", 3)
        pid = int(pid_s)
    except ValueError:
        return False
    if host != socket.gethostname() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    now = _start_ticks(pid)
    return bool(start and now and now != start)  # the pid was reused by a later process


def _die_with_parent() -> None:
    # A SIGKILLed server must not leave simulations running: Linux sends this child SIGTERM then.
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _child(conn: Any, job: dict[str, Any]) -> None:
    """Body of a run's process: compute, write the result file, report its hash."""
    _die_with_parent()
    from ..fsutil import atomic_write
    from . import domain

    def progress(stage: str, fraction: float) -> None:
        conn.send(("progress", stage, float(fraction)))

    try:
        out = domain.run_job(job, progress)
        data = json.dumps(out, sort_keys=True, allow_nan=False).encode("utf-8")
        atomic_write(job["result_path"], data)
        conn.send(("done", hashlib.sha256(data).hexdigest()))
    except Exception as exc:  # reported to the run's owner as a one-line error, never a traceback
        from ..errors import PaxsilicaError

        msg = str(exc).splitlines()[0] if isinstance(exc, PaxsilicaError) else f"internal error ({type(exc).__name__})"
        conn.send(("error", msg[:500]))
    finally:
        conn.close()


class RunManager:
    """Workers, leases and child processes of the runs of one server process.

    Parameters
    ----------
    store, settings, atlas_path
        The service's store and settings, and the public atlas (default: the bundled one).
    lease_s : float
        How long a claim holds without renewal: a run whose owner stopped renewing for this long
        is queued again. Clocks of the hosts sharing a database must agree to well within it (NTP).
    poll_s : float
        How often idle workers look for queued runs submitted to other processes, and running
        children are checked for a cancellation requested through another process.
    """

    def __init__(self, store: Store, settings: Settings, atlas_path: str | None = None, *,
                 lease_s: float = 30.0, poll_s: float = 1.0) -> None:
        self.store, self.settings, self.atlas_path = store, settings, atlas_path
        self.lease_s, self.poll_s = float(lease_s), float(poll_s)
        self.owner = owner_id()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._cancel: set[str] = set()
        self._lost: set[str] = set()
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._ctx = mp.get_context("spawn")  # no fork of a threaded server

    def start(self) -> None:
        """Queue again what dead owners left running, then start the worker threads and the lease
        keeper."""
        self.requeue_abandoned()
        for i in range(max(1, self.settings.workers)):
            t = threading.Thread(target=self._worker, name=f"paxsilica-run-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._keeper, name="paxsilica-run-lease", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        """Stop the workers (running children are terminated; their runs are queued again, for this
        or another process)."""
        self._stopping.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=10)

    def submit(self, run_id: str) -> None:
        """A run's row is committed: wake an idle worker of this process (any process may take it)."""
        self._wake.set()

    def cancel(self, run_id: str) -> None:
        """Ask a running run to stop (its row already has ``cancel_requested``; a run another
        process executes is stopped by that process when it sees the row)."""
        with self._lock:
            if run_id in self._active:
                self._cancel.add(run_id)

    # ------------------------------------------------------------------ claims and leases

    def _lease(self) -> dt.datetime:
        return utcnow() + dt.timedelta(seconds=self.lease_s)

    def requeue_abandoned(self) -> int:
        """Queue again the running rows whose lease expired or whose owner is a dead process of this
        host (a row cancelled meanwhile is marked cancelled); how many rows changed."""
        now = utcnow()
        with self.store.session() as s:
            owners = set(s.execute(select(Run.owner).where(Run.status == "running").distinct()).scalars())
        dead = sorted(o for o in owners if o and owner_dead(o))
        gone = or_(Run.owner.is_(None), Run.lease_until.is_(None), Run.lease_until < now,
                   *([Run.owner.in_(dead)] if dead else []))
        abandoned = and_(Run.status == "running", gone)
        with self.store.session(write=True) as s:
            n = s.execute(update(Run).where(abandoned, Run.cancel_requested.is_(True))
                          .values(status="cancelled", stage="cancelled", finished_at=now, owner=None,
                                  lease_until=None)).rowcount
            n += s.execute(update(Run).where(abandoned)
                           .values(status="queued", progress=0.0, stage=None, started_at=None, owner=None,
                                   lease_until=None)).rowcount
        if n:
            log.warning("%d abandoned run(s) queued again", n)
            self._wake.set()
        return n

    def _claim(self, rid: str) -> bool:
        """Take a queued run for this process: true for exactly one claimant."""
        now = utcnow()
        with self.store.session(write=True) as s:
            res = s.execute(update(Run).where(Run.id == rid, Run.status == "queued",
                                              Run.cancel_requested.is_(False))
                            .values(status="running", owner=self.owner, lease_until=self._lease(),
                                    started_at=now, progress=0.0, stage="starting"))
            return res.rowcount == 1

    def _claim_next(self) -> str | None:
        with self.store.session() as s:
            ids = s.execute(select(Run.id).where(Run.status == "queued", Run.cancel_requested.is_(False))
                            .order_by(Run.created_at, Run.id).limit(8)).scalars().all()
        for rid in ids:  # another process may take some first: try the next
            if self._claim(rid):
                return rid
        return None

    def _keeper(self) -> None:
        """Renew the leases of this process's runs, see cancellations and lost claims, and queue
        again what dead owners left."""
        renew_every = self.lease_s / 3
        last_renew = last_sweep = time.monotonic()
        while not self._stopping.wait(self.poll_s):
            try:
                with self._lock:
                    active = sorted(self._active)
                now = time.monotonic()
                if active and now - last_renew >= renew_every:
                    last_renew = now
                    with self.store.session(write=True) as s:
                        s.execute(update(Run).where(Run.owner == self.owner, Run.status == "running")
                                  .values(lease_until=self._lease()))
                if active:
                    with self.store.session() as s:
                        rows = {r.id: r for r in s.execute(
                            select(Run.id, Run.owner, Run.status, Run.cancel_requested)
                            .where(Run.id.in_(active)))}
                    with self._lock:
                        for rid in active:
                            r = rows.get(rid)
                            if r is None or r.owner != self.owner or r.status != "running":
                                self._lost.add(rid)
                            elif r.cancel_requested:
                                self._cancel.add(rid)
                if now - last_sweep >= renew_every:
                    last_sweep = now
                    self.requeue_abandoned()
            except Exception:  # the database is away for a moment: try again at the next tick
                log.exception("run lease keeper")

    # ------------------------------------------------------------------ worker

    def _worker(self) -> None:
        while not self._stopping.is_set():
            try:
                rid = self._claim_next()
            except Exception:  # the database is away for a moment
                log.exception("claiming a run")
                rid = None
            if rid is None:
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            with self._lock:
                self._active.add(rid)
            try:
                self._execute(rid)
            except Exception:  # a bug in one run must not stop the pool
                log.exception("run %s failed in the worker", rid)
                self._finish(rid, "failed", error="internal error")
            finally:
                with self._lock:
                    self._active.discard(rid)
                    self._cancel.discard(rid)
                    self._lost.discard(rid)

    def _job(self, rid: str) -> tuple[dict[str, Any], float] | None:
        """The job of a run this process has claimed (``None`` if the row is no longer ours)."""
        from . import domain

        with self.store.session() as s:
            run = s.get(Run, rid)
            if run is None or run.status != "running" or run.owner != self.owner:
                return None
            params = json.loads(run.params)
            job = {"kind": run.kind, "params": params, "atlas_path": self.atlas_path,
                   "result_path": str(result_path(self.settings.files_dir, run.org_id, rid))}
            name = params.get("scenario")
            if name:  # a stress run's scenario: the organisation's own, else the built-in one
                own = s.execute(select(Scenario).where(Scenario.org_id == run.org_id, Scenario.name == name)
                                ).scalar_one_or_none()
                job["yaml"] = own.yaml if own is not None else domain.builtin_yaml(name)
                job["file"] = f"{name}.yaml"
            # only this organisation's uploads: the ids were checked at submission, and are
            # filtered by organisation again here
            ups = s.execute(select(Upload).where(Upload.org_id == run.org_id,
                                                 Upload.id.in_(params.get("uploads", [])))).scalars().all()
            job["uploads"] = [(u.table, str(self.settings.files_dir / u.path)) for u in ups]
            if run.kind == "montecarlo":
                job["folder"] = str(montecarlo_folder(self.settings.files_dir, run.org_id, rid))
            if params.get("montecarlo_run"):  # checked at submission: this organisation's, done
                job["montecarlo_folder"] = str(montecarlo_folder(self.settings.files_dir, run.org_id,
                                                                 params["montecarlo_run"]))
            timeout = float(params.get("timeout_s") or self.settings.run_timeout_s)
        return job, timeout

    def _execute(self, rid: str) -> None:
        got = self._job(rid)
        if got is None:
            return
        job, timeout = got
        parent, child = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_child, args=(child, job), daemon=True)
        proc.start()
        child.close()
        started = time.monotonic()
        outcome: tuple[str, ...] | None = None
        last_stage = None
        try:
            while outcome is None:
                if self._stopping.is_set():
                    outcome = ("stopped",)
                    break
                with self._lock:
                    cancelled, lost = rid in self._cancel, rid in self._lost
                if lost:  # our lease expired and another process took the run: it is theirs now
                    outcome = ("lost",)
                    break
                if cancelled:
                    outcome = ("cancelled",)
                    break
                if time.monotonic() - started > timeout:
                    outcome = ("error", f"timed out after {timeout:g} s")
                    break
                if parent.poll(0.2):
                    try:
                        msg = parent.recv()
                    except EOFError:
                        outcome = ("error", "the run's process ended unexpectedly")
                        break
                    if msg[0] == "progress":
                        if msg[1] != last_stage:
                            last_stage = msg[1]
                            with self.store.session(write=True) as s:
                                s.execute(update(Run).where(Run.id == rid, Run.status == "running",
                                                            Run.owner == self.owner)
                                          .values(stage=msg[1], progress=msg[2]))
                    else:
                        outcome = msg
                elif not proc.is_alive() and not parent.poll(0):
                    outcome = ("error", "the run's process ended unexpectedly")
        finally:
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
            parent.close()
        if outcome[0] == "lost":
            log.warning("run %s: claim lost (lease expired), left to its new owner", rid)
            return
        if outcome[0] == "stopped":
            with self.store.session(write=True) as s:  # picked up again by a live process
                s.execute(update(Run).where(Run.id == rid, Run.owner == self.owner)
                          .values(status="queued", stage=None, progress=0.0, started_at=None, owner=None,
                                  lease_until=None))
            return
        if outcome[0] == "done":
            rel = Path(job["result_path"]).relative_to(self.settings.files_dir)
            self._finish(rid, "done", path=str(rel), sha=outcome[1])
        elif outcome[0] == "cancelled":
            self._finish(rid, "cancelled")
        else:
            self._finish(rid, "failed", error=outcome[1])

    def _finish(self, rid: str, status: str, *, error: str | None = None, path: str | None = None,
                sha: str | None = None) -> bool:
        """Record a run's end, if the row is still this process's; whether it was."""
        values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "error": error, "stage": status,
                                  "result_path": path, "result_sha256": sha, "lease_until": None}
        if status == "done":
            values["progress"] = 1.0
        with self.store.session(write=True) as s:
            res = s.execute(update(Run).where(Run.id == rid, Run.owner == self.owner, Run.status == "running")
                            .values(**values))
            return res.rowcount == 1
