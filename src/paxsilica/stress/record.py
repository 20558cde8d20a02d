"""Record: a stress result as files (Parquet, DuckDB, JSON, a self-contained HTML chart).

:func:`save_result` builds every file in a temporary sibling folder, closes the DuckDB file completely,
then puts the folder in place with :func:`paxsilica.fsutil.atomic_replace_dir` (one atomic exchange where
the platform has it): a killed save leaves the old result or the new one, never a mix.
:func:`result_json` is the result as plain JSON-able data; :func:`chart_svg` / :func:`chart_html` draw it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..fsutil import atomic_replace_dir, fsync_path, shared_mode
from ..serialize import to_jsonable
from .measure import SURVIVE_THRESHOLD, StressResult


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return df.astype(object).where(df.notna(), None).to_dict("records")


def result_json(result: StressResult) -> dict[str, Any]:
    """Summary, tables and metadata as plain JSON-able data (no per-step series)."""
    return to_jsonable({
        "summary": result.summary, "metadata": result.metadata, "notes": list(result.notes),
        "checks": list(result.checks), "items": _records(result.items), "consumers": _records(result.consumers),
        "effects": _records(result.effects),
    })


RESULT_MARKER = ".paxsilica-run"
#: Files a saved result consists of (plus leftovers of older versions that are also ours to replace).
RESULT_FILES = ("series.parquet", "result.duckdb", "summary.json", "chart.html", RESULT_MARKER)
_OWNED_LEFTOVERS = ("result.duckdb.wal", "series.parquet.tmp")
STALE_TEMP_SECONDS = 60.0


def save_result(result: StressResult, out_dir: str | Path, force: bool = False) -> dict[str, Path]:
    """Write a result to ``out_dir``: ``series.parquet``, ``result.duckdb``, ``summary.json``, ``chart.html``
    and a marker ``.paxsilica-run`` (what wrote it).

    The DuckDB file holds tables ``runs`` (one row: scenario, atlas version, code version, parameters
    and summary as JSON), ``series``, ``items``, ``consumers`` and ``effects``, each with a ``run_id``.

    Every file is built (and closed) in a temporary sibling folder ``.run.<name>.<random>`` first, then
    swapped in (:func:`paxsilica.fsutil.atomic_replace_dir`), so a killed save leaves the old result or
    the new one, never a mix. A folder that exists and holds anything but a previous result's own files
    is refused (:class:`InputError`) unless ``force``; then only the result's own files are replaced in
    it, one by one, each by an atomic rename, and nothing else in it is touched. Temporary ``.run.*``
    folders left beside the target by a killed save (older than a minute) are removed first.

    Returns
    -------
    dict of str to Path
    """
    import shutil
    import tempfile

    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise InputError("output path exists and is not a folder", file=str(out))
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create output folder: {e}", file=str(out)) from None
    _clean_stale_runs(parent)
    foreign = _foreign_entries(out)
    if foreign and not force:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise InputError(f"output folder is not empty and is not a paxsilica result (holds {shown}); "
                         "choose another folder or pass --force to write only the result files into it",
                         file=str(out))

    def fill(tmp: Path) -> None:
        # a folder as mkdir would make it (searchable where readable), not mkdtemp's owner-only 0700
        os.chmod(tmp, shared_mode() | (shared_mode() & 0o444) >> 2)
        _write_result_files(result, tmp, marker=not foreign or (out / RESULT_MARKER).is_file())

    try:
        if not foreign:
            atomic_replace_dir(out, fill, prefix=".run.")
        else:  # --force into a folder of other files: ours replaced one by one, the rest left alone
            tmp = Path(tempfile.mkdtemp(prefix=f".run.{out.name}.", dir=parent))
            try:
                fill(tmp)
                for p in tmp.iterdir():
                    fsync_path(p)
                _replace_files_into(tmp, out)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        raise InputError(f"cannot write output folder: {e}", file=str(out)) from None
    names = {"series": "series.parquet", "duckdb": "result.duckdb", "summary": "summary.json",
             "chart": "chart.html"}
    return {k: out / v for k, v in names.items()}


def _write_result_files(result: StressResult, folder: Path, *, marker: bool) -> None:
    """Write every result file into ``folder`` (a fresh temporary folder), fsynced, DuckDB closed."""
    import duckdb

    run_id = f"{result.scenario.name}-{result.metadata['created']}"
    series = result.series.assign(run_id=run_id)
    series.to_parquet(folder / "series.parquet", index=False)
    data = result_json(result)
    (folder / "summary.json").write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str),
                                         encoding="utf-8")
    con = duckdb.connect(str(folder / "result.duckdb"))
    try:
        runs = pd.DataFrame([{
            "run_id": run_id, "scenario": result.scenario.name, "atlas_name": result.metadata["atlas_name"],
            "atlas_version": result.metadata["atlas_version"], "code_version": result.metadata["code_version"],
            "created": result.metadata["created"],
            "parameters": json.dumps(data["metadata"]["parameters"], default=str),
            "scenario_json": json.dumps(data["metadata"]["scenario"], default=str),
            "summary": json.dumps(data["summary"], default=str)}])
        for name, df in (("runs", runs), ("series", series), ("items", result.items.assign(run_id=run_id)),
                         ("consumers", result.consumers.assign(run_id=run_id)),
                         ("effects", result.effects.assign(run_id=run_id))):
            con.register("_df", _duck_ready(df))
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _df")
            con.unregister("_df")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    wal = folder / "result.duckdb.wal"
    if wal.exists():  # closed and checkpointed: nothing may be left in a log beside the file
        raise OSError(f"DuckDB left {wal.name} behind after closing")
    (folder / "chart.html").write_text(chart_html(result), encoding="utf-8")
    if marker:
        (folder / RESULT_MARKER).write_text(json.dumps({
            "written_by": "paxsilica stress", "code_version": result.metadata["code_version"],
            "scenario": result.scenario.name, "run_id": run_id, "files": list(RESULT_FILES[:-1])},
            indent=1, default=str) + "\n", encoding="utf-8")


def _foreign_entries(out: Path) -> list[str]:
    """Names in ``out`` that a paxsilica result does not own (empty when ``out`` is missing or empty,
    or is a previous result holding only its own files)."""
    if not out.is_dir():
        return []
    names = sorted(p.name for p in out.iterdir())
    if not names:
        return []
    if not (out / RESULT_MARKER).is_file():
        return names
    own = set(RESULT_FILES) | set(_OWNED_LEFTOVERS)
    return [n for n in names if n not in own or not (out / n).is_file() or (out / n).is_symlink()]


def _clean_stale_runs(parent: Path) -> None:
    """Remove ``.run.*`` folders in ``parent`` that nothing has touched for :data:`STALE_TEMP_SECONDS`."""
    import shutil
    import time

    now = time.time()
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for p in entries:
        if not p.name.startswith(".run.") or p.is_symlink() or not p.is_dir():
            continue
        try:
            newest = max([p.stat().st_mtime] + [c.lstat().st_mtime for c in p.iterdir()])
        except OSError:
            continue
        if now - newest > STALE_TEMP_SECONDS:
            shutil.rmtree(p, ignore_errors=True)


def _replace_files_into(tmp: Path, out: Path) -> None:
    """Move each result file from ``tmp`` into ``out`` by an atomic rename, leaving other files alone."""
    import os

    for name in _OWNED_LEFTOVERS:  # a stale log beside a replaced DuckDB file would be replayed into it
        p = out / name
        if p.is_file() and not p.is_symlink():
            p.unlink()
    for name in RESULT_FILES:
        if (tmp / name).exists():
            os.replace(tmp / name, out / name)
    fsync_path(out)


def _duck_ready(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                              ).astype("string")
    return df


# --------------------------------------------------------------------------- chart (SVG + HTML)

_COLOURS = ("#1f4e79", "#c0392b", "#e67e22", "#27ae60", "#8e44ad", "#16a085", "#7f8c8d")


def chart_svg(result: StressResult, *, width: int = 760, height: int = 320, top_items: int = 5) -> str:
    """An inline SVG of the target level and the most affected items' output over time (percent of
    baseline), with the target's shortfall shaded."""
    s = result.series[result.series["step"] >= 0]
    tgt = s[s["kind"] == "target"]
    lines = [(f"{result.summary['target']} (delivered)", tgt["day"].to_numpy(float), tgt["level"].to_numpy(float))]
    for it in result.summary["most_affected_items"][:top_items]:
        g = s[(s["kind"] == "item") & (s["name"] == it)]
        if it != result.summary["target"]:
            lines.append((f"{it} output", g["day"].to_numpy(float), g["level"].to_numpy(float)))
    pad_l, pad_r, pad_t, pad_b = 48, 12, 14, 36
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    xmax = max(float(tgt["day"].max()) if len(tgt) else 1.0, 1.0)
    lo = min([0.0] + [float(np.nanmin(v)) for _, _, v in lines if len(v)])
    hi = max([1.05] + [float(np.nanmax(v)) for _, _, v in lines if len(v)])

    def X(d: np.ndarray) -> np.ndarray:
        return pad_l + d / xmax * w

    def Y(v: np.ndarray) -> np.ndarray:
        return pad_t + (hi - v) / (hi - lo) * h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 18 * len(lines)}" '
             f'font-family="sans-serif" font-size="11" role="img">']
    for frac in np.linspace(lo, hi, 6):
        y = float(Y(np.array(frac)))
        parts.append(f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{pad_l - 4}" y="{y + 4:.1f}" text-anchor="end">{100 * frac:.0f}%</text>')
    for k in range(6):
        d = xmax * k / 5
        x = float(X(np.array(d)))
        parts.append(f'<text x="{x:.1f}" y="{pad_t + h + 14}" text-anchor="middle">{d:.0f}</text>')
    parts.append(f'<text x="{pad_l + w / 2}" y="{pad_t + h + 30}" text-anchor="middle">day</text>')
    y99 = float(Y(np.array(SURVIVE_THRESHOLD)))
    parts.append(f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{y99:.1f}" y2="{y99:.1f}" stroke="#999" stroke-dasharray="4 3"/>')
    if len(tgt):
        d, v = tgt["day"].to_numpy(float), tgt["level"].to_numpy(float)
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(X(d), Y(v), strict=True))
        back = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(X(d[::-1]), Y(np.ones_like(d)), strict=True))
        parts.append(f'<polygon points="{pts} {back}" fill="#c0392b" fill-opacity="0.15" stroke="none"/>')
    for k, (name, d, v) in enumerate(lines):
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(X(d), Y(v), strict=True))
        col = _COLOURS[k % len(_COLOURS)]
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{col}" stroke-width="{2.2 if k == 0 else 1.3}"/>')
        ly = height + 18 * k + 4
        parts.append(f'<rect x="{pad_l}" y="{ly}" width="14" height="3" fill="{col}"/>'
                     f'<text x="{pad_l + 20}" y="{ly + 5}">{_esc(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _esc(s: Any) -> str:
    import html

    return html.escape(str(s))


def _fmt_days(v: Any) -> str:
    return "unlimited" if v is None else f"{v} days"


def chart_html(result: StressResult) -> str:
    """A self-contained HTML page: chart, summary, sources and what the run depended on."""
    s, m = result.summary, result.metadata
    rows = [("loss at the target", f"{s['loss_pct']:.2f} % of demand over {s['horizon_days']} days"),
            ("lowest level", f"{100 * s['min_level']:.1f} %"),
            ("time to survive", _fmt_days(s["time_to_survive_days"])),
            ("time to recover", "not reached" if s["time_to_recover_days"] is None and s["time_to_survive_days"] is not None
             else _fmt_days(s["time_to_recover_days"]) if s["time_to_recover_days"] is not None else "-"),
            ("most affected items", ", ".join(s["most_affected_items"]) or "-"),
            ("most affected consumers", ", ".join(s["most_affected_consumers"]) or "-"),
            ("atlas", f"{m['atlas_name']} {m['atlas_version']}"), ("code", m["code_version"]),
            ("created", m["created"])]
    table = "".join(f"<tr><th>{_esc(a)}</th><td>{_esc(b)}</td></tr>" for a, b in rows)
    sources = "".join(f"<li>{_esc(x)}</li>" for x in result.scenario.sources)
    assumptions = "".join(f"<li>{_esc(x)}</li>" for x in result.scenario.assumptions)
    notes = "".join(f"<li>{_esc(x)}</li>" for x in result.notes)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>paxsilica stress: {_esc(result.scenario.name)}</title>"
        "<style>body{font-family:sans-serif;max-width:820px;margin:2em auto;color:#222}"
        "th{text-align:left;padding-right:1em}td,th{vertical-align:top;padding:2px 0}</style></head><body>"
        f"<h1>{_esc(result.scenario.name)}</h1><p>{_esc(result.scenario.description)}</p>"
        f"<p>Target <b>{_esc(s['target'])}</b>: final demand delivered ÷ requested (bold line; shaded = "
        "shortfall); other lines: output of the most affected items, percent of baseline. Dashed: 99 %.</p>"
        f"{chart_svg(result)}<table>{table}</table>"
        f"<h2>Sources</h2><ul>{sources}</ul><h2>Assumptions</h2><ul>{assumptions or '<li>none</li>'}</ul>"
        f"<h2>Notes</h2><ul>{notes or '<li>none</li>'}</ul></body></html>\n"
    )


