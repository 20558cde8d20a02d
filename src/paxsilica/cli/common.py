"""What every CLI command shares: the global atlas option, output formats, error handling.

Sub-apps (``paxsilica risk``, ``lanes``, ``sim`` …) call :func:`current_atlas` for the atlas chosen with
the global ``--atlas`` option and :func:`emit` to print a DataFrame as a table, CSV or JSON.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from ..atlas import Atlas, bundled_atlas, read_atlas

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


class OutputFormat(StrEnum):
    """Output format of listings."""

    table = "table"
    csv = "csv"
    json = "json"


@dataclass
class State:
    """Options given before the sub-command (``paxsilica --atlas DIR ...``)."""

    atlas_path: Path | None = None


STATE = State()


def current_atlas() -> Atlas:
    """The atlas chosen with ``--atlas`` (default: the bundled ``ai-stack``), read once."""
    if STATE.atlas_path is None:
        return bundled_atlas()
    return _read_cached(STATE.atlas_path.resolve())


_CACHE: dict[Path, Atlas] = {}


def _read_cached(path: Path) -> Atlas:
    if path not in _CACHE:
        _CACHE[path] = read_atlas(path)
    return _CACHE[path]


def _cell(v: object) -> str:
    if v is None or (not isinstance(v, (list, tuple, dict)) and pd.isna(v)):
        return ""
    if isinstance(v, float):
        if v == float("inf"):
            return "unlimited"
        return f"{v:,.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    return str(v)


def emit(df: pd.DataFrame, fmt: OutputFormat | str = OutputFormat.table, *, title: str | None = None,
         max_rows: int | None = None) -> None:
    """Print a DataFrame as a rich table, CSV or JSON (records) on standard output.

    Parameters
    ----------
    df : DataFrame
    fmt : {"table", "csv", "json"}
    title : str, optional
        Caption of the rich table.
    max_rows : int, optional
        Rows shown in table format (CSV and JSON always carry every row).
    """
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.csv:
        sys.stdout.write(df.to_csv(index=False, lineterminator="\n"))
        return
    if fmt is OutputFormat.json:
        records = [{k: _json_value(v) for k, v in r.items()}
                   for r in df.astype(object).where(df.notna(), None).to_dict("records")]
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=1, default=_json_default,
                                    allow_nan=False) + "\n")
        return
    shown = df if max_rows is None else df.head(max_rows)
    table = Table(title=title, show_lines=False, header_style="bold")
    for c in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[c].dtype) and not pd.api.types.is_bool_dtype(df[c].dtype)
        table.add_column(str(c), justify="right" if numeric else "left", overflow="fold")
    for row in shown.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
    if max_rows is not None and len(df) > max_rows:
        console.print(f"[dim]… {len(df) - max_rows} more rows (use --format csv for all)[/dim]")


def _json_value(v: object) -> object:
    # JSON has no infinity: an unbounded time-to-survive is reported in words, as in tables.
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "unlimited" if v > 0 else "-unlimited"
    return v


def _json_default(v: object) -> object:
    if hasattr(v, "item"):
        return _json_value(v.item())
    return str(v)


def fail(message: str, code: int = 1) -> None:
    """Print an error message and exit with ``code`` (1 bad input, 2 usage)."""
    import typer

    err_console.print(f"[bold red]error:[/bold red] {message}", highlight=False)
    raise typer.Exit(code)
