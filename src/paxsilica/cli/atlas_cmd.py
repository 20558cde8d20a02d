"""``paxsilica atlas``: validate, info, show, export, import, schema.

The work is :mod:`paxsilica.services.atlas` (``merge_into`` and ``check_value`` are re-exported
from there); this module parses options and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from ..atlas import FORMATS, TABLE_ORDER
from ..atlas.schema import schema_markdown
from ..errors import InputError
from ..services import atlas as service
from ..services.atlas import check_value, merge_into
from .common import OutputFormat, console, emit, err_console, service_context

__all__ = ["app", "check_value", "export_format", "merge_into"]

app = typer.Typer(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})

FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Write into a folder that holds other files: only the atlas tables are replaced, "
                    "nothing else is touched.")]


@app.command("validate")
def validate_cmd(fmt: FormatOpt = OutputFormat.table) -> None:
    """Check the atlas; list every problem with file, row, column and reason (exit 1 if any)."""
    report = service.validate(service_context(validate=False))
    problems = report.problems
    if fmt is not OutputFormat.table:
        emit(report.tables()["problems"], fmt)
    elif problems:
        err_console.print(f"[bold red]{len(problems)} problem(s)[/bold red] in atlas '{report.name}':")
        for p in problems:
            err_console.print(f"  - {p}", highlight=False, markup=False)
    else:
        console.print(f"atlas '{report.name}' (version {report.version}): [green]0 problems[/green]")
    if problems:
        raise typer.Exit(1)


@app.command("info")
def info_cmd(fmt: FormatOpt = OutputFormat.table) -> None:
    """Summary: version hash, rows per table, items per stage, sources."""
    res = service.info(service_context(validate=False))
    s = res.summary
    if fmt is OutputFormat.json:
        import json

        typer.echo(json.dumps(res.to_record(), indent=1))  # ASCII escapes, as always
        return
    if fmt is OutputFormat.csv:
        emit(pd.DataFrame(s["stages"]), fmt)
        return
    console.print(f"[bold]atlas[/bold] {s['name']}   [bold]version[/bold] {s['version']}")
    t = Table(title="tables", header_style="bold")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in s["tables"].items():
        t.add_row(name, str(n))
    console.print(t)
    stages = pd.DataFrame(s["stages"])
    emit(stages, OutputFormat.table, title="items per stage")
    emit(pd.DataFrame(s["sources"]), OutputFormat.table, title=f"sources ({len(s['sources'])})")


@app.command("show")
def show_cmd(
    table: Annotated[str, typer.Argument(help=f"Table: {', '.join(TABLE_ORDER)}.")],
    where: Annotated[list[str] | None, typer.Option("--where", "-w", help="Filter COLUMN=VALUE (repeatable).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=0, help="Rows to show in table format.")] = 50,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Print one table (filter with --where item=gallium)."""
    res = service.show_table(service_context(validate=False), service.ShowRequest(table, tuple(where or ())))
    emit(res.table, fmt, title=res.title, max_rows=limit)


SUFFIX_FORMATS = {".xlsx": "xlsx", ".json": "json", ".graphml": "graphml", ".parquet": "parquet", ".csv": "csv"}
"""Export format implied by the suffix of ``--to`` (no suffix: a CSV folder)."""


def export_format(to: Path, fmt: str | None) -> str:
    """The format to write: ``--format`` if given, else from the suffix of ``--to``.

    Examples
    --------
    >>> export_format(Path("out.xlsx"), None), export_format(Path("out"), None), export_format(Path("x"), "json")
    ('xlsx', 'csv', 'json')
    """
    if fmt is not None:
        if fmt not in FORMATS:
            raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
        return fmt
    suffix = to.suffix.lower()
    if suffix and suffix not in SUFFIX_FORMATS:
        raise typer.BadParameter(f"cannot tell the format from {to.name!r}; add --format "
                                 f"({', '.join(FORMATS)})", param_hint="--to")
    return SUFFIX_FORMATS.get(suffix, "csv")


@app.command("export")
def export_cmd(
    to: Annotated[Path, typer.Option("--to", help="File (.xlsx, .json, .graphml) or folder (CSV; .parquet).")],
    fmt: Annotated[str | None, typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)} "
                                            "(default: from the suffix of --to; none: a CSV folder).")] = None,
    force: ForceOpt = False,
) -> None:
    """Write the atlas in another format (atomically: nothing is half-written, nothing else deleted)."""
    res = service.export_atlas(service_context(validate=False),
                               service.ExportRequest(to, export_format(to, fmt), force=force))
    console.print(f"wrote atlas '{res.name}' (version {res.version}) as {res.format} to {res.path}")


@app.command("schema")
def schema_cmd(fmt: FormatOpt = OutputFormat.table) -> None:
    """Describe every table and column (the schema kept as data)."""
    if fmt is OutputFormat.table:
        typer.echo(schema_markdown(), nl=False)
        return
    emit(service.schema_table().table, fmt)


def _parse_options(options: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for o in options:
        k, sep, v = o.partition("=")
        if not sep or not k:
            raise InputError(f"--option {o!r}: expected NAME=VALUE")
        out[k.strip().replace("-", "_")] = v.strip()
    return out


@app.command("import")
def import_cmd(
    kind: Annotated[str, typer.Argument(help="Importer: see `paxsilica atlas importers`.")],
    paths: Annotated[list[Path], typer.Argument(help="Files in the publisher's own format.")],
    into: Annotated[Path, typer.Option("--into", help="Atlas folder to create or merge into (CSV).")],
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="Importer option NAME=VALUE.")] = None,
    force: ForceOpt = False,
) -> None:
    """Read publisher files (USGS, WMD, WGI, BACI, Epoch, CSET, WPI, firm tables) into an atlas folder."""
    from ..importers import IMPORTERS

    if kind not in IMPORTERS:
        raise typer.BadParameter(f"unknown importer {kind!r}; known: {', '.join(sorted(IMPORTERS))}",
                                 param_hint="KIND")
    res = service.import_into(service.ImportRequest(kind, tuple(paths), into, _parse_options(option or []),
                                                    force=force))
    counts = ", ".join(f"{k}: {v}" for k, v in res.counts.items())
    console.print(f"imported {kind} ({counts}) into {into}")
    n = len(res.problems)
    if n:
        console.print(f"[yellow]{n} validation problem(s) in {into}[/yellow] (a partial atlas usually lacks "
                      f"countries or sources): run `paxsilica --atlas {into} atlas validate`")


@app.command("importers")
def importers_cmd(fmt: FormatOpt = OutputFormat.table) -> None:
    """List the importers and their options."""
    res = service.importers_table()
    emit(res.table, fmt, title=res.title)
