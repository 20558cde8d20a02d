"""The worker pool: runs execute in child processes, outside every request.

A submitted run is a committed ``runs`` row (status ``queued``) before the API answers; worker
threads take queued runs, start one child process each (at most ``Settings.workers`` at once),
relay its progress to the row, stop it on cancellation or timeout (the process is terminated, so
a cancelled simulation really stops), and record the result: the JSON file is written crash-safely
first, then the row is marked ``done`` with the file's path and hash. After a crash, queued and
running rows are queued again at start-up; a result file without a ``done`` row is simply
rewritten.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import multiprocessing as mp
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from .settings import Settings
from .store import Run, Scenario, Store, Upload, utcnow

log = logging.getLogger("paxsilica.server.runs")


def result_path(files_dir: Path, org_id: int, run_id: str) -> Path:
    """Where the result of a run is kept."""
    return files_dir / "results" / str(org_id) / f"{run_id}.json"


def montecarlo_folder(files_dir: Path, org_id: int, run_id: str) -> Path:
    """Where a Monte Carlo run keeps its run folder (draws, events: a plan's scenarios)."""
    return files_dir / "results" / str(org_id) / f"{run_id}.montecarlo"


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
    """Queue, workers and child processes of the runs of one service."""

    def __init__(self, store: Store, settings: Settings, atlas_path: str | None = None) -> None:
        self.store, self.settings, self.atlas_path = store, settings, atlas_path
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._cancel: set[str] = set()
        self._lock = threading.Lock()
        self._ctx = mp.get_context("spawn")  # no fork of a threaded server

    def start(self) -> None:
        """Queue again what a crash interrupted, then start the worker threads."""
        with self.store.session(write=True) as s:
            s.execute(update(Run).where(Run.status.in_(("queued", "running")))
                      .values(status="queued", progress=0.0, stage=None, started_at=None))
            pending = s.execute(select(Run.id).where(Run.status == "queued").order_by(Run.created_at)
                                ).scalars().all()
        for rid in pending:
            self._queue.put(rid)
        for i in range(max(1, self.settings.workers)):
            t = threading.Thread(target=self._worker, name=f"paxsilica-run-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Stop the workers (running children are terminated; their runs stay queued for later)."""
        self._stopping.set()
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=10)

    def submit(self, run_id: str) -> None:
        """Queue a run whose row is committed."""
        self._queue.put(run_id)

    def cancel(self, run_id: str) -> None:
        """Ask a running run to stop (its row already has ``cancel_requested``)."""
        with self._lock:
            self._cancel.add(run_id)

    # ------------------------------------------------------------------ worker

    def _worker(self) -> None:
        while not self._stopping.is_set():
            rid = self._queue.get()
            if rid is None:
                return
            try:
                self._execute(rid)
            except Exception:  # a bug in one run must not stop the pool
                log.exception("run %s failed in the worker", rid)
                self._finish(rid, "failed", error="internal error")

    def _job(self, rid: str) -> tuple[dict[str, Any], float] | None:
        from . import domain

        with self.store.session(write=True) as s:
            run = s.get(Run, rid)
            if run is None or run.status != "queued":
                return None
            if run.cancel_requested:
                run.status, run.finished_at = "cancelled", utcnow()
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
            run.status, run.started_at, run.progress, run.stage = "running", utcnow(), 0.0, "starting"
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
                    cancelled = rid in self._cancel
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
                                s.execute(update(Run).where(Run.id == rid, Run.status == "running")
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
            with self._lock:
                self._cancel.discard(rid)
        if outcome[0] == "stopped":
            with self.store.session(write=True) as s:  # picked up again at the next start
                s.execute(update(Run).where(Run.id == rid).values(status="queued", stage=None, progress=0.0))
            return
        if outcome[0] == "done":
            rel = Path(job["result_path"]).relative_to(self.settings.files_dir)
            self._finish(rid, "done", path=str(rel), sha=outcome[1])
        elif outcome[0] == "cancelled":
            self._finish(rid, "cancelled")
        else:
            self._finish(rid, "failed", error=outcome[1])

    def _finish(self, rid: str, status: str, *, error: str | None = None, path: str | None = None,
                sha: str | None = None) -> None:
        with self.store.session(write=True) as s:
            run = s.get(Run, rid)
            if run is None:
                return
            run.status, run.finished_at, run.error = status, utcnow(), error
            run.progress = 1.0 if status == "done" else run.progress
            run.stage = status
            run.result_path, run.result_sha256 = path, sha
