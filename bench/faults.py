"""SIGKILL fault tests (issue 10): kill writers at random moments, check old-or-new-complete every time.

    .venv/bin/python bench/faults.py [--kills 30] [--seed 0] [--only stress,import,lanes]

Three writers, each killed ``--kills`` times with SIGKILL:

- ``stress SCENARIO --out DIR``: DIR must hold one complete result (every file, all of one run:
  DuckDB, Parquet, summary and marker name the same scenario), the old one or the new one;
- ``atlas import wgi FILE --into DIR``: DIR must be byte for byte the folder before the run or the
  folder a completed run makes from it (computed beforehand in a twin folder);
- the lanes cache (``lanes show`` with a new pair each time): every cache file must be the old one
  byte for byte or a complete new one holding every route of the old (none lost).

Each kill's moment is drawn by a seeded RNG: a third uniform over the whole command's measured
duration, two thirds uniform over its write phase (from the moment the writer is entered, measured
in a calibration run, to the end), where a kill can do harm. A user file beside each target
(``README``) must survive. The command runs in a forked child of a server process that imported
paxsilica once (so a kill costs milliseconds, not a Python start-up); the server itself never
touches pandas, pyarrow or DuckDB, so forking it is safe. Every check runs in a forked child too.

Prints a table (writer, kills, during write phase, old, new, failures, seconds) and exits 1 on any
failure. ``tests/test_faults_sigkill.py`` runs it in CI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SCENARIOS = ("first", "second")
SCENARIO_YAML = ("name: {name}\ndescription: fault test\nhorizon: 40\nshocks:\n"
                 "  - {{type: export_ban, exporter: JPN, items: [wafer]}}\n")
"""Two runs of the small hand-made network atlas (``paxsilica.network.tiny_atlas``), told apart by name."""
ROOT = Path(__file__).resolve().parents[1]
WGI = (ROOT / "tests" / "fixtures" / "importers" / "wgi_2022_wide.csv",
       ROOT / "tests" / "fixtures" / "importers" / "wgi_long.csv")
PAIRS = [(e, i) for e in ("CHN", "JPN", "KOR", "TWN", "USA", "DEU", "NLD", "AUS")
         for i in ("USA", "JPN", "DEU", "IND", "BRA", "ZAF", "SGP", "GBR") if e != i]


# ------------------------------------------------------------------------- children (forked)


def _child(fn: Callable[[], int], wfd: int | None = None) -> int:
    """Fork; the child runs ``fn`` and leaves with its return value (never returns to the caller)."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            if wfd is not None:
                os.dup2(wfd, 3)
            code = fn()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException as e:  # report, never propagate into the server's loop
            try:
                os.write(2, f"child failed: {type(e).__name__}: {e}\n".encode())
            except OSError:
                pass
            code = 98
        finally:
            os._exit(code if isinstance(code, int) else 1)
    return pid


def _run_cli(args: list[str], env: dict[str, str] | None = None, mark_writer: str | None = None) -> int:
    """In a child: run the paxsilica CLI with ``args``; with ``mark_writer``, write the moment the
    named writer is entered (monotonic seconds) to fd 3 (calibration runs only)."""
    os.environ.update(env or {})
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    if mark_writer:
        _mark_on_entry(mark_writer)
    from paxsilica.cli.main import main

    sys.argv = ["paxsilica", *args]
    try:
        main()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


def _mark_on_entry(writer: str) -> None:
    import paxsilica.atlas.io as aio
    import paxsilica.logistics.cache as cache
    import paxsilica.services.atlas as satlas
    import paxsilica.stress as stress

    def wrap(obj, name):
        real = getattr(obj, name)

        def marked(*a, **k):
            try:
                os.write(3, f"{time.monotonic()}\n".encode())
            except OSError:
                pass
            return real(*a, **k)
        setattr(obj, name, marked)

    if writer == "stress":
        wrap(stress, "save_result")  # the command imports it from the module at call time
    elif writer == "import":
        wrap(aio, "write_atlas")
        wrap(satlas, "write_atlas")  # the import service calls the name it imported
    else:
        wrap(cache.RouteCache, "save")


def _wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _run_to_end(args: list[str], env: dict[str, str] | None = None, writer: str | None = None
                ) -> tuple[int, float, float | None]:
    """Run the CLI in a child to completion: (exit code, duration, writer entered after … s)."""
    r, w = os.pipe()
    t0 = time.monotonic()
    pid = _child(lambda: _run_cli(args, env, writer), w)
    os.close(w)
    code = _wait(pid)
    t1 = time.monotonic()
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    os.close(r)
    marks = [float(x) for x in data.decode().split()]
    return code, t1 - t0, (marks[0] - t0) if marks else None


def _kill_at(args: list[str], delay: float, env: dict[str, str] | None = None) -> int:
    pid = _child(lambda: _run_cli(args, env))
    time.sleep(delay)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return _wait(pid)


def _check(fn: Callable[[], int]) -> int:
    """Run a check in a child (it may use pandas, pyarrow, DuckDB: the server must not)."""
    return _wait(_child(fn))


# ------------------------------------------------------------------------------- snapshots


def _snapshot(folder: Path) -> dict[str, str]:
    """Name -> sha256 of every regular file in ``folder`` (not recursing; temp siblings are outside)."""
    if not folder.is_dir():
        return {}
    out = {}
    for p in sorted(folder.iterdir()):
        out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "<dir>"
    return out


def _stress_state(out: Path) -> int:
    """In a child: exit 10 + index of the scenario of the complete result in ``out``; 1 if mixed."""
    import duckdb
    import pandas as pd

    from paxsilica.stress import RESULT_FILES, RESULT_MARKER

    names = {p.name for p in out.iterdir()}
    if names != set(RESULT_FILES):
        os.write(2, f"stress: files {sorted(names)}\n".encode())
        return 1
    with duckdb.connect(str(out / "result.duckdb"), read_only=True) as con:
        (db,) = con.execute("SELECT scenario FROM runs").fetchone()
        con.execute("SELECT count(*) FROM series").fetchone()
    summary = json.loads((out / "summary.json").read_text())["metadata"]["scenario"]["name"]
    marker = json.loads((out / RESULT_MARKER).read_text())["scenario"]
    series = pd.read_parquet(out / "series.parquet")["run_id"].iloc[0].split("-")[0]
    if not db == summary == marker == series or db not in SCENARIOS:
        os.write(2, f"stress: mixed {db} {summary} {marker} {series}\n".encode())
        return 1
    return 10 + SCENARIOS.index(db)


# ------------------------------------------------------------------------------------ writers


class Tally:
    def __init__(self, name: str) -> None:
        self.name, self.kills, self.in_write, self.old, self.new, self.failures = name, 0, 0, 0, 0, []
        self.t0 = time.monotonic()

    def row(self) -> list[str]:
        return [self.name, str(self.kills), str(self.in_write), str(self.old), str(self.new),
                str(len(self.failures)), f"{time.monotonic() - self.t0:.0f}"]


def _delay(rng: random.Random, total: float, write_at: float | None) -> tuple[float, bool]:
    if write_at is not None and rng.random() < 2 / 3:
        return rng.uniform(write_at, total), True
    d = rng.uniform(0, total)
    return d, write_at is not None and d >= write_at


def fault_stress(work: Path, kills: int, rng: random.Random) -> Tally:
    t = Tally("stress --out")
    out = work / "result"
    (work / "README").write_text("the user's own file\n")
    atlas = work / "tiny"
    for name in SCENARIOS:
        (work / f"{name}.yaml").write_text(SCENARIO_YAML.format(name=name), encoding="utf-8")

    def seed() -> int:
        from paxsilica.atlas import write_atlas
        from paxsilica.network import tiny_atlas

        write_atlas(tiny_atlas(), atlas)
        return 0

    assert _check(seed) == 0

    def args(k: int) -> list[str]:
        return ["--atlas", str(atlas), "stress", str(work / f"{SCENARIOS[k % 2]}.yaml"), "--target", "chip",
                "--steps", "10", "--bands", "0", "--inventory-days", "10", "--out", str(out)]

    code, total, write_at = _run_to_end(args(0), writer="stress")
    assert code == 0, f"stress calibration run exited {code}"
    state = _check(lambda: _stress_state(out))
    assert state == 10, state
    for k in range(1, kills + 1):
        before = state
        delay, in_write = _delay(rng, total, write_at)
        code = _kill_at(args(k), delay)
        t.kills += 1
        t.in_write += in_write
        state = _check(lambda: _stress_state(out))
        if state == 1 or state < 10:
            t.failures.append(f"kill {k} at {delay:.2f} s: not one complete result (check exit {state})")
            break
        if state == before:
            t.old += 1
        elif state - 10 == k % 2:
            t.new += 1
        else:
            t.failures.append(f"kill {k}: result of neither the old nor the new run")
    if (work / "README").read_text() != "the user's own file\n":
        t.failures.append("README beside the result changed")
    return t


def fault_import(work: Path, kills: int, rng: random.Random) -> Tally:
    t = Tally("atlas import --into")
    home, twin_home = work / "a", work / "twin"
    home.mkdir()
    twin_home.mkdir()
    into, twin = home / "atlas", twin_home / "atlas"  # same name: the marker holds the folder name
    (home / "README").write_text("the user's own file\n")

    def args(k: int, folder: Path) -> list[str]:
        return ["atlas", "import", "wgi", str(WGI[k % 2]), "--into", str(folder)]

    def seed() -> int:
        sys.path.insert(0, str(ROOT))
        from paxsilica.atlas import Atlas, write_atlas
        from tests.conftest import tiny_frames

        write_atlas(Atlas.from_frames(tiny_frames(), name="atlas"), into)
        return 0

    assert _check(seed) == 0
    code, total, write_at = _run_to_end(args(0, into), writer="import")
    assert code == 0, f"import calibration run exited {code}"
    outcomes: dict[tuple[str, int], dict[str, str]] = {}  # (state before, file) -> state after
    for k in range(1, kills + 1):
        before = _snapshot(into)
        key = (json.dumps(before, sort_keys=True), k % 2)
        if key not in outcomes:  # what a completed run makes of this state, in a twin folder
            shutil.rmtree(twin, ignore_errors=True)
            shutil.copytree(into, twin)
            code, _, _ = _run_to_end(args(k, twin))
            assert code == 0, code
            outcomes[key] = _snapshot(twin)
        after = outcomes[key]
        delay, in_write = _delay(rng, total, write_at)
        _kill_at(args(k, into), delay)
        t.kills += 1
        t.in_write += in_write
        now = _snapshot(into)
        if now == before:
            t.old += 1
        elif now == after:
            t.new += 1
        else:
            changed = sorted(n for n in set(now) | set(before) if now.get(n) != before.get(n))
            t.failures.append(f"kill {k} at {delay:.2f} s: a mix (changed {changed[:4]}, new "
                              f"{sorted(set(after) ^ set(now))[:4]})")
            break
    if (home / "README").read_text() != "the user's own file\n":
        t.failures.append("README beside the atlas changed")
    return t


def _cache_state(folder: Path, old: dict[str, str]) -> int:
    """In a child: 0 when every cache file is the old one or a complete superset of it, else 1."""
    from paxsilica.logistics.cache import load_routes

    for f in sorted(folder.glob("routes-*.json")):
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        if old.get(f.name) == digest:
            continue
        routes = load_routes(f)
        if not routes:
            os.write(2, f"cache: {f.name} is not a complete cache file\n".encode())
            return 1
    return 0


def fault_lanes(work: Path, kills: int, rng: random.Random) -> Tally:
    t = Tally("lanes cache")
    cache_root = work / "cache"
    env = {"PAXSILICA_CACHE_DIR": str(cache_root)}
    folder = cache_root / "lanes"
    (work / "README").write_text("the user's own file\n")

    def args(k: int) -> list[str]:
        e, i = PAIRS[k % len(PAIRS)]
        return ["lanes", "show", "--from", e, "--to", i]

    code, total, write_at = _run_to_end(args(0), env, writer="lanes")
    assert code == 0, f"lanes calibration run exited {code}"
    for k in range(1, kills + 1):
        old = _snapshot(folder)
        delay, in_write = _delay(rng, total, write_at)
        _kill_at(args(k), delay, env)
        t.kills += 1
        t.in_write += in_write
        if _check(lambda old=old: _cache_state(folder, old)) != 0:
            t.failures.append(f"kill {k} at {delay:.2f} s: a damaged cache file")
            break
        now = _snapshot(folder)
        if {n: h for n, h in now.items() if n.endswith(".json")} == \
                {n: h for n, h in old.items() if n.endswith(".json")}:
            t.old += 1
        else:
            t.new += 1
    if (work / "README").read_text() != "the user's own file\n":
        t.failures.append("README beside the cache changed")
    return t


WRITERS = {"stress": fault_stress, "import": fault_import, "lanes": fault_lanes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=",".join(WRITERS))
    opts = ap.parse_args(argv)
    # one thread: the server forks, and a forked child inherits no other thread (nor its locks)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    import paxsilica.atlas.io
    import paxsilica.cli.atlas_cmd
    import paxsilica.cli.main
    import paxsilica.logistics.cache
    import paxsilica.stress  # noqa: F401 - imported once here, not in every child
    from paxsilica.atlas import bundled_atlas
    from paxsilica.cli.common import atlas_problems
    from paxsilica.logistics.network import _graph

    atlas_problems(bundled_atlas())  # read and validated once: every child would do it again
    _graph()  # searoute's graph, likewise
    rng = random.Random(opts.seed)
    rows, failed = [], False
    with tempfile.TemporaryDirectory(prefix="paxsilica-faults-") as tmp:
        os.environ.setdefault("XDG_STATE_HOME", str(Path(tmp) / "state"))
        for name in opts.only.split(","):
            work = Path(tmp) / name
            work.mkdir()
            tally = WRITERS[name](work, opts.kills, rng)
            rows.append(tally.row())
            for f in tally.failures:
                print(f"FAIL {tally.name}: {f}", file=sys.stderr)
            failed |= bool(tally.failures)
    head = ["writer", "kills", "in write phase", "old", "new", "failures", "seconds"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, ["-" * w for w in widths], *rows]:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
