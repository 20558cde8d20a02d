"""The ``paxsilica`` command.

Exit codes: 0 ok, 1 bad input (a message naming file, row and field; never a traceback), 2 usage.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from ..errors import PaxsilicaError
from . import atlas_cmd
from .common import STATE, err_console


class _Group(TyperGroup):
    """Root group: turns paxsilica's own errors into a message and exit code 1."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except PaxsilicaError as exc:
            err_console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, markup=True)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="paxsilica",
    help="Security of the supply chains behind AI: map, measure, stress-test and plan.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"paxsilica {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    atlas: Annotated[
        Path | None,
        typer.Option("--atlas", help="Atlas to use: a folder of CSV/Parquet files or an .xlsx workbook "
                     "(default: the bundled 'ai-stack').", show_default=False),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", "-V", help="Print the version and exit.", callback=_print_version,
                           is_eager=True),
    ] = False,
) -> None:
    STATE.atlas_path = atlas


@app.command("version")
def version_cmd() -> None:
    """Print the paxsilica version."""
    from .. import __version__

    typer.echo(__version__)


app.add_typer(atlas_cmd.app, name="atlas", help="Inspect, validate, export and import atlases.")

# Sub-apps built in their own modules; each exposes `register(app)` or a typer sub-app `app`.
_SUBCOMMANDS = ("risk", "brief", "lanes", "sim", "scenarios", "tts", "backtest")
for _mod in _SUBCOMMANDS:
    try:
        _m = importlib.import_module(f"{__package__}.{_mod}")
    except ModuleNotFoundError as _exc:  # module not built in this checkout
        if _exc.name != f"{__package__}.{_mod}":
            raise
        continue
    if hasattr(_m, "register"):
        _m.register(app)
    else:
        app.add_typer(_m.app, name=_mod)


def main() -> None:
    """Entry point of the console script."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
