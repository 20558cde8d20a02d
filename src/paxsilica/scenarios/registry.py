"""The registry of scenarios: built-ins (``paxsilica/data/scenarios/*.yaml``) by name, or a file path.

Examples
--------
>>> "gallium_germanium_export_ban" in list_scenarios()
True
>>> load_scenario("gallium_germanium_export_ban").horizon > 0
True
"""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path

from ..errors import InputError, NotFoundError
from .schema import Scenario, parse_scenario


def _builtin_dir() -> Path:
    return Path(str(resources.files("paxsilica") / "data" / "scenarios"))


def builtin_paths() -> dict[str, Path]:
    """Built-in scenario files by name (file stem), sorted by name."""
    d = _builtin_dir()
    if not d.is_dir():
        return {}
    return {p.stem: p for p in sorted(d.glob("*.yaml"))}


def list_scenarios() -> list[str]:
    """Names of the built-in scenarios."""
    return list(builtin_paths())


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario by built-in name or by path to a YAML file.

    Raises
    ------
    NotFoundError
        Neither a built-in name nor an existing file (close names are suggested).
    ValidationError
        The file is not a valid scenario (every problem with file, line and field).
    """
    text_name = str(name_or_path)
    builtins = builtin_paths()
    if text_name in builtins:
        p = builtins[text_name]
        return parse_scenario(p.read_text(encoding="utf-8"), file=f"{p.name}")
    p = Path(text_name)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise NotFoundError(f"scenario file {p} does not exist")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read scenario file: {e}", file=str(p)) from None
        return parse_scenario(text, file=str(p))
    close = difflib.get_close_matches(text_name, list(builtins), n=3, cutoff=0.4)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise NotFoundError(f"no built-in scenario '{text_name}' and no such file{hint} "
                        f"(built-ins: {', '.join(builtins) or 'none'})")


def load_all() -> list[Scenario]:
    """Every built-in scenario, parsed."""
    return [load_scenario(n) for n in list_scenarios()]
