"""Record: a Monte Carlo run as files, and reading them back.

A run folder holds (the output contract other parts of paxsilica read; keep it):

- ``run.json``: ``seed``, ``draws`` (done), ``horizon_days``, ``catalogue`` (``path``, ``sha256``),
  ``atlas_version``, ``targets``, ``levels``, ``complete``, ``paxsilica_version``, ``created`` (and a few
  more keys: ``draws_requested``, ``thresholds``, ``warnings``, ``notes``, ...);
- ``losses.parquet``: ``draw`` (int64), ``target``, ``consumer`` (ISO3, or ``WORLD``), ``loss`` (0..1);
- ``events.parquet``: ``draw``, ``event`` (per draw), ``kind``, ``item``, ``country``, ``chokepoint``,
  ``region``, ``site``, ``start_day``, ``duration_days``, ``severity``;
- ``summary.parquet`` and ``contributions.parquet``; ``risk.duckdb`` with the tables ``run``,
  ``losses``, ``events``, ``summary``, ``contributions``; ``report.html`` (self-contained, offline).

Everything is written into a temporary sibling folder and put in place with
:func:`paxsilica.fsutil.atomic_replace_dir`: a killed write leaves the old run or the new one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from ..fsutil import atomic_replace_dir, shared_mode
from ..serialize import to_jsonable
from .run import MonteCarloResult

MARKER = ".paxsilica-montecarlo"
RUN_FILES = ("run.json", "losses.parquet", "events.parquet", "summary.parquet", "contributions.parquet",
             "risk.duckdb", "report.html", MARKER)


def check_out_dir(out_dir: str | Path, *, force: bool = False) -> Path:
    """The resolved output folder, if a run may be written there: missing, empty, a previous run's,
    or anything with ``force``; else :class:`InputError` (checked before a run, so that a long run
    is not computed only to be refused, and again when it is saved)."""
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise InputError("output path exists and is not a folder", file=str(out))
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file() and not force:
        names = sorted(p.name for p in out.iterdir())[:5]
        raise InputError(f"output folder is not empty and is not a paxsilica Monte Carlo run (holds "
                         f"{', '.join(names)}); choose another folder or pass --force to replace it", file=str(out))
    return out


def save_run(result: MonteCarloResult, out_dir: str | Path, *, force: bool = False) -> Path:
    """Write ``result`` to ``out_dir`` (see the module docstring); returns the folder.

    A folder that holds anything but a previous run's files is refused (:class:`InputError`) unless
    ``force`` (then it is replaced as a whole).
    """
    out = check_out_dir(out_dir, force=force)

    def fill(tmp: Path) -> None:
        # a folder as mkdir would make it (searchable where readable), not mkdtemp's owner-only 0700
        os.chmod(tmp, shared_mode() | (shared_mode() & 0o444) >> 2)
        write_files(result, tmp)

    try:
        return atomic_replace_dir(out, fill, prefix=".mc.")
    except OSError as e:
        raise InputError(f"cannot write output folder: {e}", file=str(out)) from None


def run_json(result: MonteCarloResult) -> dict[str, Any]:
    """``run.json``: the run's metadata and notes (JSON-able)."""
    return to_jsonable({**result.meta, "notes": list(result.notes)})


def _duck(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].astype("string")
    return df


def write_files(result: MonteCarloResult, folder: Path) -> None:
    """Write every file of a run into ``folder`` (DuckDB closed and checkpointed)."""
    import duckdb

    from .report import report_html

    folder.mkdir(parents=True, exist_ok=True)
    meta = run_json(result)
    (folder / "run.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    result.losses.to_parquet(folder / "losses.parquet", index=False)
    result.events.to_parquet(folder / "events.parquet", index=False)
    result.summary.to_parquet(folder / "summary.parquet", index=False)
    result.contributions.to_parquet(folder / "contributions.parquet", index=False)
    con = duckdb.connect(str(folder / "risk.duckdb"))
    try:
        run = pd.DataFrame([{"seed": meta["seed"], "draws": meta["draws"], "horizon_days": meta["horizon_days"],
                             "atlas_version": meta["atlas_version"], "complete": meta["complete"],
                             "created": meta["created"], "run_json": json.dumps(meta)}])
        for name, df in (("run", run), ("losses", result.losses), ("events", result.events),
                         ("summary", result.summary), ("contributions", result.contributions)):
            con.register("_df", _duck(df))
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _df")
            con.unregister("_df")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    (folder / "report.html").write_text(report_html(result), encoding="utf-8")
    (folder / MARKER).write_text(json.dumps({"written_by": "paxsilica montecarlo",
                                             "files": list(RUN_FILES[:-1])}) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class MonteCarloRun:
    """A run read back from its folder: ``meta`` (run.json), ``losses``, ``events``, ``summary``,
    ``contributions``."""

    meta: dict[str, Any]
    losses: pd.DataFrame
    events: pd.DataFrame
    summary: pd.DataFrame
    contributions: pd.DataFrame
    folder: Path


def load_run(folder: str | Path) -> MonteCarloRun:
    """Read a run folder written by :func:`save_run` (``paxsilica montecarlo --out DIR``).

    Raises
    ------
    InputError
        When the folder or one of its files is missing or unreadable.
    """
    d = Path(folder)
    if not (d / "run.json").is_file():
        raise InputError("not a Monte Carlo run folder (no run.json)", file=str(d))
    try:
        meta = json.loads((d / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read run.json: {e}", file=str(d / "run.json")) from None
    tables = {}
    for name in ("losses", "events", "summary", "contributions"):
        p = d / f"{name}.parquet"
        try:
            tables[name] = pd.read_parquet(p)
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read {p.name}: {e}", file=str(p)) from None
    return MonteCarloRun(meta, tables["losses"], tables["events"], tables["summary"], tables["contributions"], d)
