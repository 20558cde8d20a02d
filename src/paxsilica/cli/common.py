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

import numpy as np
import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from ..atlas import Atlas
from ..atlas import validate as validate_atlas
from ..errors import Problem
from ..serialize import records as json_records
from ..services import InvalidAtlasError, ServiceContext, ServiceStore, validation_problems

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


STORE = ServiceStore()
"""What the CLI process keeps between calls (atlases read, validation problems, service caches)."""

_PROBLEMS = STORE.problems  # atlas version -> validation problems (the store's own dict)

MAX_PROBLEMS_SHOWN = 20
"""Problems printed when a command refuses an invalid atlas (the rest are counted)."""


def service_context(validate: bool = True, org: str | None = None) -> ServiceContext:
    """The service context of this command: the atlas of ``--atlas`` (default the bundled one)."""
    return ServiceContext(atlas_path=STATE.atlas_path, org=org, validate=validate, store=STORE)


def context(atlas: Atlas, org: str | None = None) -> ServiceContext:
    """A service context for an atlas the command already holds (and :func:`current_atlas` checked)."""
    return ServiceContext(source=atlas, org=org, validate=False, store=STORE)


def current_atlas(validate: bool = True) -> Atlas:
    """The atlas chosen with ``--atlas`` (default: the bundled ``ai-stack``), read once.

    With ``validate`` (the default) the atlas is checked with :func:`paxsilica.atlas.validate` first,
    once per atlas version in the process (:class:`~paxsilica.services.ServiceContext` does it), and
    an atlas with problems is refused: the located problems are printed (at most
    :data:`MAX_PROBLEMS_SHOWN`) and the command exits with code 1. ``validate=False`` is for the
    commands that inspect or repair atlases (``atlas validate``, ``info``, ``show``, ``export``),
    which must work on invalid atlases.
    """
    try:
        return service_context(validate).atlas()
    except InvalidAtlasError as exc:
        refuse_invalid(exc.atlas, exc.problems)
        raise  # not reached: refuse_invalid exits


def atlas_problems(atlas: Atlas) -> tuple[Problem, ...]:
    """The validation problems of ``atlas``, computed once per atlas version in this process."""
    return validation_problems(atlas, _PROBLEMS, STORE.version(atlas), validate_atlas)


def refuse_invalid(atlas: Atlas, problems: tuple[Problem, ...] | list[Problem]) -> None:
    """Print the located problems of an invalid atlas (at most 20, then a count) and exit with 1."""
    import typer

    err_console.print(f"[bold red]error:[/bold red] atlas '{atlas.name}' has {len(problems)} problem(s); "
                      "fix them before computing (`paxsilica atlas validate` lists them all):",
                      highlight=False)
    for p in problems[:MAX_PROBLEMS_SHOWN]:
        err_console.print(f"  - {p}", highlight=False, markup=False)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        err_console.print(f"  … and {len(problems) - MAX_PROBLEMS_SHOWN} more", highlight=False, markup=False)
    raise typer.Exit(1)


_WORDS = {"hhi": "HHI", "wgi": "WGI", "sr": "SR", "eu": "EU", "gs": "GS", "spof": "SPOF", "iso3": "ISO3",
          "tts": "TTS", "ttr": "TTR", "rei": "REI", "id": "id", "nm": "(nm)", "pct": "%", "ir": "IR",
          "eol": "EoL", "rir": "RIR", "kusd": "kUSD", "usd": "USD", "mw": "MW", "lng": "LNG"}
HEADERS = {
    "hhi_upper": "HHI (ROW as 1)", "hhi_wgi": "HHI·WGI", "top1": "top producer", "top1_share_%": "top %",
    "top1_tier": "top tier", "largest_outside": "largest outside", "largest_outside_share_%": "outside %",
    "largest_outside_tier": "tier", "coalition_share_%": "coalition %", "rest_share_%": "rest %",
    "nonmember_dependency": "non-member ≥ 50%", "other_dependency": "other ≥ 50%",
    "distance_nm": "distance (nm)", "base_distance_nm": "base distance (nm)", "tts_days": "survives (days)",
    "impact_days": "impact (days)", "stock_days": "stock (days)", "import_reliance_%": "reliance %",
    "top_supplier": "top supplier", "top_supplier_share_%": "top supplier %", "import_risk": "import risk",
    "coercion_risk": "coercion risk", "producer_share_%": "producer %", "loss_%": "loss %",
    "min_level": "lowest level", "loss_pct": "loss %", "time_to_survive_days": "survives (days)",
    "time_to_recover_days": "recovers (days)", "n_above_1pct": "producers > 1%",
}
"""Table headers for column names whose plain spelling is not clear enough."""


def human_header(col: object) -> str:
    """A column name as a table header: ``largest_outside_share_%`` -> ``outside %``.

    Examples
    --------
    >>> human_header("distance_nm"), human_header("hhi_wgi_eu"), human_header("added_days")
    ('distance (nm)', 'HHI WGI EU', 'added days')
    """
    c = str(col)
    if c in HEADERS:
        return HEADERS[c]
    words = c.replace("_%", " %").split("_")
    return " ".join(_WORDS.get(w, w) for w in words).replace("  ", " ").strip()


def _decimals(values: pd.Series) -> int:
    """Digits after the point for a float column: fewer for bigger numbers, never scientific."""
    a = pd.to_numeric(values, errors="coerce").astype("float64")
    a = a[np.isfinite(a)].abs()
    if a.empty:
        return 1
    top = float(a.max())
    if top >= 1000:
        return 0
    if top >= 10:
        return 1
    if top >= 1:
        return 2
    return 3


def _cell(v: object, decimals: int | None = None) -> str:
    if v is None or (not isinstance(v, (list, tuple, dict)) and pd.isna(v)):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        if v == float("inf"):
            return "unlimited"
        d = 1 if decimals is None else decimals
        out = f"{float(v):,.{d}f}"
        return "0" if out.strip("-0.,") == "" and float(v) == 0 else out
    return str(v)


def _words(text: str) -> list[str]:
    return text.split()


def fit_columns(headers: list[str], cells: list[list[str]], width: int,
                keep: int = 1) -> tuple[list[int], list[int]]:
    """Widths for a table that fits ``width`` characters, and the columns shown.

    A cell never breaks inside a word (ids stay whole): a column's minimum is its longest word
    (cell or header; headers wrap between words). Columns whose cells are single tokens (ids,
    numbers) get their full width; columns of words may wrap. When even the minima do not fit,
    columns are dropped from the right (the first ``keep`` always stay).

    Examples
    --------
    >>> fit_columns(["id", "text"], [["abc", "one two three"]], 80)
    ([0, 1], [3, 13])
    >>> fit_columns(["id", "text"], [["abc", "one two three and four"]], 17)
    ([0, 1], [3, 12])
    >>> fit_columns(["id", "text"], [["abc", "one two three and four"]], 12)
    ([0], [3])
    """
    n = len(headers)
    natural, minimum = [], []
    for j in range(n):
        col = [r[j] for r in cells]
        longest_cell = max((len(c) for c in col), default=0)
        longest_word = max([len(w) for c in col for w in _words(c)] + [0])
        head_word = max([len(w) for w in _words(headers[j])] + [1])
        token = all(len(_words(c)) <= 1 for c in col)
        natural.append(max(longest_cell, head_word, 1))
        minimum.append(max(longest_cell if token else max(longest_word, min(12, longest_cell)), head_word))

    def overhead(k: int) -> int:  # SIMPLE_HEAD box, no outer edge: a divider and a space between columns
        return 2 * max(k - 1, 0)

    shown = list(range(n))
    while len(shown) > keep and sum(minimum[j] for j in shown) + overhead(len(shown)) > width:
        shown.pop()
    widths = {j: natural[j] for j in shown}
    excess = sum(widths.values()) + overhead(len(shown)) - width
    # shrink the widest wrapping columns first, never below their minimum
    while excess > 0:
        cand = [j for j in shown if widths[j] > minimum[j]]
        if not cand:
            break
        j = max(cand, key=lambda k: (widths[k] - minimum[k], widths[k]))
        widths[j] -= 1
        excess -= 1
    return shown, [widths[j] for j in shown]


def emit(df: pd.DataFrame, fmt: OutputFormat | str = OutputFormat.table, *, title: str | None = None,
         max_rows: int | None = None, width: int | None = None) -> None:
    """Print a DataFrame as a rich table, CSV or JSON (records) on standard output.

    Tables fit the terminal (``width``, default the console's): ids never break across lines,
    headers are in words, numbers have fixed decimals per column (never scientific notation);
    columns that do not fit are left out with a hint.

    Parameters
    ----------
    df : DataFrame
    fmt : {"table", "csv", "json"}
    title : str, optional
        Caption of the rich table.
    max_rows : int, optional
        Rows shown in table format (CSV and JSON always carry every row).
    width : int, optional
        Characters available (default: the terminal width).
    """
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.csv:
        sys.stdout.write(df.to_csv(index=False, lineterminator="\n"))
        return
    if fmt is OutputFormat.json:
        # one serializer for every JSON output: missing -> null, +inf -> "unlimited" (paxsilica.serialize)
        sys.stdout.write(json.dumps(json_records(df), ensure_ascii=False, indent=1, allow_nan=False) + "\n")
        return
    shown_df = df if max_rows is None else df.head(max_rows)
    decimals = {c: _decimals(shown_df[c]) for c in df.columns
                if pd.api.types.is_float_dtype(df[c].dtype) or df[c].dtype == object}
    cells = [[_cell(v, decimals.get(c)) for c, v in zip(df.columns, row, strict=True)]
             for row in shown_df.itertuples(index=False)]
    headers = [human_header(c) for c in df.columns]
    avail = width or console.width
    cols, widths = fit_columns(headers, cells, avail)
    table = Table(title=title, show_lines=False, header_style="bold", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), collapse_padding=True)
    for j, w in zip(cols, widths, strict=True):
        c = df.columns[j]
        numeric = pd.api.types.is_numeric_dtype(df[c].dtype) and not pd.api.types.is_bool_dtype(df[c].dtype)
        table.add_column(headers[j], justify="right" if numeric else "left", width=w, overflow="fold")
    for r in cells:
        table.add_row(*(r[j] for j in cols))
    console.print(table, width=max(avail, sum(widths) + 2 * len(widths)), crop=False)
    hidden = [headers[j] for j in range(len(headers)) if j not in cols]
    if hidden:
        console.print(f"[dim]{len(hidden)} column(s) hidden to fit {avail} characters: {', '.join(hidden)}"
                      " — use --format csv, or a wider terminal[/dim]", highlight=False)
    if max_rows is not None and len(df) > max_rows:
        console.print(f"[dim]… {len(df) - max_rows} more rows (use --format csv for all)[/dim]")


def fail(message: str, code: int = 1) -> None:
    """Print an error message and exit with ``code`` (1 bad input, 2 usage)."""
    import typer

    err_console.print(f"[bold red]error:[/bold red] {message}", highlight=False)
    raise typer.Exit(code)
