"""``paxsilica atlas``: validate, info, show, export, import, schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from ..atlas import FORMATS, SCHEMA, TABLE_ORDER, Atlas, read_atlas, validate, write_atlas
from ..atlas.io import check_atlas_folder
from ..atlas.schema import schema_markdown
from ..errors import InputError, NotFoundError
from .common import OutputFormat, console, current_atlas, emit, err_console

app = typer.Typer(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})

FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Write into a folder that holds other files: only the atlas tables are replaced, "
                    "nothing else is touched.")]


@app.command("validate")
def validate_cmd(fmt: FormatOpt = OutputFormat.table) -> None:
    """Check the atlas; list every problem with file, row, column and reason (exit 1 if any)."""
    atlas = current_atlas(validate=False)
    problems = validate(atlas)
    if fmt is not OutputFormat.table:
        emit(pd.DataFrame([p.__dict__ for p in problems], columns=["file", "row", "column", "reason"]), fmt)
    elif problems:
        err_console.print(f"[bold red]{len(problems)} problem(s)[/bold red] in atlas '{atlas.name}':")
        for p in problems:
            err_console.print(f"  - {p}", highlight=False, markup=False)
    else:
        console.print(f"atlas '{atlas.name}' (version {atlas.version}): [green]0 problems[/green]")
    if problems:
        raise typer.Exit(1)


@app.command("info")
def info_cmd(fmt: FormatOpt = OutputFormat.table) -> None:
    """Summary: version hash, rows per table, items per stage, sources."""
    atlas = current_atlas(validate=False)
    s = atlas.summary()
    if fmt is OutputFormat.json:
        import json

        typer.echo(json.dumps(s, indent=1, default=str))
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
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="Rows to show in table format.")] = 50,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Print one table (filter with --where item=gallium)."""
    atlas = current_atlas(validate=False)
    if table not in SCHEMA:
        raise NotFoundError(f"no table {table!r}; tables: {', '.join(TABLE_ORDER)}")
    df = atlas[table]
    for cond in where or []:
        col, sep, val = cond.partition("=")
        if not sep or col not in df.columns:
            raise InputError(f"--where {cond!r}: expected COLUMN=VALUE with a column of {table}: "
                             f"{', '.join(df.columns)}")
        check_value(atlas, col, val)
        df = df[df[col].astype("string") == val]
    emit(df, fmt, title=f"{table} ({len(df)} rows)", max_rows=limit)


_ITEM_COLUMNS = ("item", "input", "client_item")
_COUNTRY_COLUMNS = ("iso3", "country", "exporter", "importer", "holder", "supplier", "client", "controlled_by")


def check_value(atlas: Atlas, column: str, value: str) -> None:
    """Raise :class:`NotFoundError` (with suggestions) when a ``--where`` value names an item,
    country, producer or group the atlas does not have (a typo would print an empty table)."""
    from ..metrics._common import country_codes, did_you_mean, require_group, require_item

    if column in _ITEM_COLUMNS:
        require_item(atlas, value)
    elif column in _COUNTRY_COLUMNS:
        known = country_codes(atlas)
        if value not in known:
            raise did_you_mean(value, known, "country", case=False)
    elif column == "producer":
        known = country_codes(atlas) | set(atlas["firms"]["firm"].dropna().astype(str)) | {"OTHER"}
        if value not in known:
            raise did_you_mean(value, known, "producer")
    elif column == "group":
        require_group(atlas, value)


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
    fmt = export_format(to, fmt)
    atlas = current_atlas(validate=False)
    path = write_atlas(atlas, to, fmt, force=force)  # files get the user's normal permissions
    console.print(f"wrote atlas '{atlas.name}' (version {atlas.version}) as {fmt} to {path}")


@app.command("schema")
def schema_cmd(fmt: FormatOpt = OutputFormat.table) -> None:
    """Describe every table and column (the schema kept as data)."""
    if fmt is OutputFormat.table:
        typer.echo(schema_markdown(), nl=False)
        return
    rows = [
        {"table": t.name, "column": c.name, "dtype": c.dtype, "unit": c.unit, "required": c.required,
         "key": c.name in t.key, "description": c.description}
        for t in SCHEMA.values() for c in t.columns
    ]
    emit(pd.DataFrame(rows), fmt)


def _parse_options(options: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for o in options:
        k, sep, v = o.partition("=")
        if not sep or not k:
            raise InputError(f"--option {o!r}: expected NAME=VALUE")
        out[k.strip().replace("-", "_")] = v.strip()
    return out


def merge_into(existing: Atlas | None, tables: dict[str, pd.DataFrame], name: str) -> Atlas:
    """Merge imported tables into an atlas.

    A row whose key already exists is updated column by column: the imported value wins where it is
    not blank, and the existing value is kept where the import has none (so importing WGI figures
    never blanks a curated region or coordinates). New keys are appended.

    Examples
    --------
    >>> old = Atlas.from_frames({"countries": pd.DataFrame({"iso3": ["QAT"], "name": ["Qatar"],
    ...                                                     "region": ["Middle East"]})})
    >>> new = {"countries": pd.DataFrame({"iso3": ["QAT", "JPN"], "name": ["Qatar", "Japan"],
    ...                                   "wgi_mean": [0.5, 1.2]})}
    >>> merge_into(old, new, "x")["countries"][["iso3", "region", "wgi_mean"]].values.tolist()
    [['QAT', 'Middle East', 0.5], ['JPN', <NA>, 1.2]]
    """
    frames: dict[str, pd.DataFrame] = {}
    for t in TABLE_ORDER:
        new = tables.get(t)
        old = existing[t] if existing is not None else None
        if new is None:
            frames[t] = old
            continue
        new = Atlas.from_frames({t: new})[t]
        if old is None or old.empty:
            frames[t] = new
            continue
        key = list(SCHEMA[t].key)
        new = new.drop_duplicates(key, keep="last")
        old_i, new_i = old.set_index(key), new.set_index(key)
        merged = new_i.combine_first(old_i)
        order = old_i.index.append(new_i.index.difference(old_i.index, sort=False))
        frames[t] = merged.loc[order, [c for c in old.columns if c not in key]].reset_index()
    return Atlas.from_frames({k: v for k, v in frames.items() if v is not None}, name=name)


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
    for p in paths:
        if not p.exists():
            raise InputError("no such file", file=str(p))
    check_atlas_folder(into, "csv", force)  # refuse a foreign folder before the (long) import
    tables = IMPORTERS[kind].run(list(paths), **_parse_options(option or []))
    existing = read_atlas(into) if any((into / f"{t}.csv").is_file() for t in TABLE_ORDER) else None
    atlas = merge_into(existing, {k: v for k, v in tables.items() if k in SCHEMA}, name=into.resolve().name)
    write_atlas(atlas, into, "csv", force=force,
                extras={k: v for k, v in tables.items() if k not in SCHEMA})
    counts = ", ".join(f"{k}: {len(v)}" for k, v in tables.items())
    console.print(f"imported {kind} ({counts}) into {into}")
    n = len(validate(atlas))
    if n:
        console.print(f"[yellow]{n} validation problem(s) in {into}[/yellow] (a partial atlas usually lacks "
                      f"countries or sources): run `paxsilica --atlas {into} atlas validate`")


@app.command("importers")
def importers_cmd(fmt: FormatOpt = OutputFormat.table) -> None:
    """List the importers and their options."""
    from ..importers import IMPORTERS

    rows = [{"kind": k, "description": getattr(v, "description", ""),
             "options": ", ".join(str(o) for o in getattr(v, "options", ()) or ())}
            for k, v in sorted(IMPORTERS.items())]
    emit(pd.DataFrame(rows), fmt, title="importers")
