"""The ``paxsilica`` command.

Exit codes: 0 ok, 1 bad input (a message naming file, row and field; never a traceback), 2 usage,
3 internal error (a bug: a one-line message, the traceback in a log file; ``--debug`` shows it).
See ``docs/reliability.md``.
"""

from __future__ import annotations

import errno
import importlib
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import MutableMapping
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.markup import escape
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from ..errors import PaxsilicaError

# Sub-command modules (and `.common`, which imports pandas and the services) are imported when a
# command needs them, not at start: `paxsilica sim firms` on 100k firms is timed as a whole process
# and half of its time used to be imports of modules it never calls (see `_Group`).

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
"""The exit codes of every command."""

_KEEP_LOGS = 20
"""Crash logs kept in the log folder (older ones are removed when a new one is written)."""

_NO_FILENAME_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EROFS}
"""OS errors that are the machine's state, not a bug, even when Python does not say which file."""


def log_dir() -> Path:
    """Folder of the crash logs: ``$XDG_STATE_HOME/paxsilica`` (default ``~/.local/state/paxsilica``)."""
    base = os.environ.get("XDG_STATE_HOME") or ""
    root = Path(base) if Path(base).is_absolute() else Path.home() / ".local" / "state"
    return root / "paxsilica"


def _one_line(exc: BaseException, limit: int = 200) -> str:
    """``ExceptionType: first line of the message``, at most ``limit`` characters."""
    text = str(exc).strip().splitlines()
    head = type(exc).__name__ + (f": {text[0].strip()}" if text and text[0].strip() else "")
    return head if len(head) <= limit else head[: limit - 1] + "…"


def _write_crash_log(exc: BaseException) -> Path | None:
    """Write the traceback (with version, platform and command line) to a new log file; its path.

    Tries :func:`log_dir`, then the system temp folder; ``None`` when neither can be written.
    """
    from .. import __version__

    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    body = (f"paxsilica {__version__} internal error at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n"
            f"python {platform.python_version()} on {platform.platform()}\n"
            f"command: {' '.join(sys.argv)}\n\n{tb}")
    for folder in (log_dir(), Path(tempfile.gettempdir()) / "paxsilica"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{stamp}-{os.getpid()}.log"
            with open(path, "a", encoding="utf-8") as f:
                f.write(body)
        except OSError:
            continue
        _prune_logs(folder)
        return path
    return None


def _prune_logs(folder: Path) -> None:
    try:
        logs = sorted(folder.glob("crash-*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in logs[_KEEP_LOGS:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def _user_path(path: object, code: int | None) -> str:
    """The path to name in a message: a hidden temporary file we failed to create is named by its folder."""
    text = os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else str(path)
    p = Path(text)
    if code in (errno.EACCES, errno.EPERM, errno.EROFS) and p.name.startswith(".") and not p.exists():
        return str(p.parent)
    return text


def _err_console() -> Any:
    from .common import err_console

    return err_console


def _error(message: str) -> None:
    _err_console().print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False)


def handle_exception(exc: BaseException, *, debug: bool = False) -> int:
    """Report an exception that escaped a command on stderr; the exit code to use.

    - :class:`~paxsilica.errors.PaxsilicaError`: its located message, exit 1;
    - an :class:`OSError` naming a file (a folder given as ``--out``, a missing parent of ``--into``,
      no permission): ``error: <path>: <reason>``, exit 1;
    - anything else is a bug: ``internal error (please report): <Type: one line>``, exit 3, and the
      full traceback in a log file (see :func:`log_dir`) whose path is printed.

    With ``debug`` the traceback is also printed on stderr.
    """
    err_console = _err_console()
    if debug:
        err_console.print(escape("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))),
                          highlight=False, end="")
    if isinstance(exc, PaxsilicaError):
        _error(str(exc))
        return int(getattr(exc, "exit_code", EXIT_INPUT))
    if isinstance(exc, OSError):
        # os.replace(tmp, target) names both; the second is the user's target, the first our temp file
        path = exc.filename2 if exc.filename2 is not None else exc.filename
        reason = exc.strerror or str(exc)
        if path is not None:
            _error(f"{_user_path(path, exc.errno)}: {reason}")
            return EXIT_INPUT
        if exc.errno in _NO_FILENAME_ERRNOS:
            _error(reason)
            return EXIT_INPUT
    try:
        log = _write_crash_log(exc)
    except Exception:  # e.g. MemoryError while formatting: the one line below still gets out
        log = None
    err_console.print(f"[bold red]internal error (please report):[/bold red] {escape(_one_line(exc))}",
                      highlight=False)
    if log is not None:
        err_console.print(f"traceback written to {escape(str(log))}"
                          + ("" if debug else " (run with --debug to show it)"), highlight=False)
    elif not debug:
        err_console.print("(no log file could be written; run with --debug to see the traceback)",
                          highlight=False)
    return EXIT_INTERNAL


_PASS_THROUGH = (Exit, Abort, TyperException, BrokenPipeError)
"""Exceptions typer itself turns into an exit code (usage errors: 2) or a quiet exit (closed pipe)."""


class _Group(TyperGroup):
    """Root group: the one place where errors become a message and an exit code (see :func:`handle_exception`).

    It also loads the sub-commands lazily: ``paxsilica sim firms`` imports ``cli/sim.py`` only (the
    module named in :data:`_COMMAND_MODULES`, else the module named like the command, else every
    module of :data:`_SUBCOMMANDS`); listing the commands (``--help``, or anything reading
    ``commands``) imports them all, in :data:`_SUBCOMMANDS` order.
    """

    @property  # type: ignore[override]
    def commands(self) -> MutableMapping[str, click.Command]:
        _load_all(self)
        return self._commands

    @commands.setter
    def commands(self, value: MutableMapping[str, click.Command]) -> None:
        self._commands = value

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name is None:
            raise TypeError("Command has no name.")
        self._commands[name] = cmd

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._commands:
            mod = _COMMAND_MODULES.get(cmd_name, cmd_name)
            if mod in _load_order():
                _load(self, mod)
            if cmd_name not in self._commands:
                _load_all(self)
        return self._commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        _load_all(self)
        return list(self._commands)

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except _PASS_THROUGH:
            raise
        except Exception as exc:
            code = handle_exception(exc, debug=bool(ctx.params.get("debug")))
            raise typer.Exit(code) from None


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
    debug: Annotated[
        bool, typer.Option("--debug", envvar="PAXSILICA_DEBUG",
                           help="On an internal error, print the traceback (it always goes to a log file).")
    ] = False,
) -> None:
    # `.common` is imported by the commands that use an atlas; without --atlas its fresh STATE is
    # already right, and a process that imported it (tests invoking several commands) is reset here
    if atlas is not None or f"{__package__}.common" in sys.modules:
        from .common import STATE

        STATE.atlas_path = atlas


@app.command("version")
def version_cmd() -> None:
    """Print the paxsilica version."""
    from .. import __version__

    typer.echo(__version__)


# Sub-apps built in their own modules; each exposes `register(app)` or a typer sub-app `app`. They
# are imported when first needed (see `_Group`); adding a module name here is all it takes.
_SUBCOMMANDS = ("risk", "brief", "lanes", "sim", "scenarios", "tts", "backtest",
                "server_cmd", "plan", "montecarlo")  # server_cmd: serve, user, org, audit, db

_COMMAND_MODULES = {"atlas": "atlas_cmd", "stress": "scenarios", "serve": "server_cmd", "user": "server_cmd",
                    "org": "server_cmd", "audit": "server_cmd", "db": "server_cmd"}
"""Commands whose module is not named like them (any other command is looked up in its namesake)."""

_SUB_APPS = {"atlas_cmd": ("atlas", "Inspect, validate, export and import atlases.")}
"""Modules whose typer app is added under another name, with its help."""


def _load_order() -> tuple[str, ...]:
    return ("atlas_cmd", *_SUBCOMMANDS)


def _load(group: _Group, mod: str) -> None:
    """Import one sub-command module and add its commands to ``group`` (once)."""
    done: set[str] = group.__dict__.setdefault("_loaded", set())
    if mod in done:
        return
    done.add(mod)
    try:
        m = importlib.import_module(f"{__package__}.{mod}")
    except ModuleNotFoundError as exc:  # module not built in this checkout
        if exc.name != f"{__package__}.{mod}":
            raise
        return
    holder = typer.Typer()
    if hasattr(m, "register"):
        m.register(holder)
    else:
        name, help_ = _SUB_APPS.get(mod, (mod, None))
        holder.add_typer(m.app, name=name, **({"help": help_} if help_ else {}))
    for name, cmd in typer.main.get_group(holder).commands.items():
        group._commands.setdefault(name, cmd)


def _load_all(group: _Group) -> None:
    if group.__dict__.get("_all_loaded"):
        return
    group.__dict__["_all_loaded"] = True
    for mod in _load_order():
        _load(group, mod)


def _debug_requested() -> bool:
    env = os.environ.get("PAXSILICA_DEBUG", "").strip().lower()
    return "--debug" in sys.argv[1:] or env not in ("", "0", "false", "no", "off")


def main() -> None:
    """Entry point of the console script."""
    try:
        app()
    except KeyboardInterrupt:
        _err_console().print("interrupted")
        sys.exit(130)
    except _PASS_THROUGH:
        raise
    except Exception as exc:  # escaped the root group (e.g. raised while parsing): still no bare traceback
        sys.exit(handle_exception(exc, debug=_debug_requested()))


if __name__ == "__main__":  # pragma: no cover
    main()
