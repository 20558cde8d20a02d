"""Briefing service: build the :class:`~paxsilica.report.briefing.Briefing`, render it, write it.

Computing is :func:`paxsilica.report.briefing.build_briefing`, rendering HTML or Markdown stays in
:mod:`paxsilica.report`, writing goes through :func:`paxsilica.fsutil.atomic_write`. The CLI's
``paxsilica brief`` only parses options, prints the summary and calls :func:`make_briefing`.

Examples
--------
>>> briefing_format("out/brief.md"), briefing_format("brief.html"), briefing_format("x", "MD")
('md', 'html', 'md')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..constants import DEFAULT_COALITION, DEFAULT_TARGET
from ..errors import InputError
from ..fsutil import atomic_write
from ..report.briefing import Briefing, build_briefing, render_html, render_markdown
from ..serialize import to_jsonable
from .context import ServiceContext

__all__ = ["FORMATS", "BriefingRequest", "BriefingResult", "WrittenBriefing", "briefing", "briefing_format",
           "make_briefing", "render", "write_briefing"]

FORMATS = ("html", "md")
"""Formats a briefing is rendered in."""


@dataclass(frozen=True)
class BriefingRequest:
    """What the briefing is about (see :func:`paxsilica.report.briefing.build_briefing`).

    Attributes
    ----------
    for_iso3 : str, optional
        Country the briefing is written for.
    coalition, date : str
        Coalition group id and membership date (``YYYY-MM-DD``; default latest).
    add, allies : str or tuple of str
        Countries joining in the what-if section; groups whose members count as partners.
    target : str
        Target item.
    scenarios : bool or tuple
        Run the built-in stress scenarios (``True``) or the ones listed (names or YAML paths);
        ``False`` leaves the "Stress tests" section out.
    steps : int, optional
        Steps for every scenario (default: each scenario's horizon).
    bands : int
        Draws of the parameter ranges for the stress results' uncertainty bands (0: none).
    plans : bool
        Add the "Plans" section (:mod:`paxsilica.planning.briefing`; default False).
    """

    for_iso3: str | None = None
    coalition: str = DEFAULT_COALITION
    date: str | None = None
    add: str | tuple[str, ...] = ()
    target: str = DEFAULT_TARGET
    scenarios: bool | tuple[Any, ...] = True
    steps: int | None = None
    allies: str | tuple[str, ...] = ()
    bands: int = 32
    plans: bool = False
    risk: bool = False
    """Add the "Risk" section (a small seeded Monte Carlo run, :mod:`paxsilica.montecarlo.briefing`)."""
    risk_run: str | Path | None = None
    """Show this saved Monte Carlo run in the "Risk" section instead of a default run."""


@dataclass(frozen=True)
class BriefingResult:
    """The briefing as data."""

    briefing: Briefing

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the briefing by field name (tables not computed are left out)."""
        b = self.briefing
        return {f.name: getattr(b, f.name) for f in dataclasses.fields(b)
                if isinstance(getattr(b, f.name), pd.DataFrame)}

    def to_record(self) -> dict[str, Any]:
        """Every field as plain data (tables as records)."""
        return to_jsonable(self.briefing)


@dataclass(frozen=True)
class WrittenBriefing:
    """A briefing rendered and written."""

    briefing: Briefing
    path: Path
    format: str
    size: int
    """Characters written."""

    def to_record(self) -> dict[str, Any]:
        """Where it went and what it is about."""
        b = self.briefing
        return {"path": str(self.path), "format": self.format, "size": self.size, "atlas": b.atlas_name,
                "atlas_version": b.atlas_version, "coalition": b.coalition, "target": b.target}


def briefing_format(out: str | Path, fmt: str | None = None) -> str:
    """The format to render: ``fmt`` if given, else from the suffix of ``out`` (``.md`` -> Markdown)."""
    out = Path(out)
    f = (fmt or ("md" if out.suffix.lower() in (".md", ".markdown") else "html")).lower()
    if f not in FORMATS:
        raise InputError(f"unknown briefing format {f!r}; use one of: {', '.join(FORMATS)}")
    return f


def briefing(ctx: ServiceContext, req: BriefingRequest,
             progress: Callable[[str], None] | None = None) -> BriefingResult:
    """Compute every measure of the briefing (``progress`` is told each stress scenario's name)."""
    if req.steps is not None and req.steps < 1:
        raise InputError(f"steps must be at least 1, got {req.steps}")
    scenarios = list(req.scenarios) if isinstance(req.scenarios, tuple) else req.scenarios
    b = build_briefing(ctx.atlas(), for_iso3=req.for_iso3, coalition=req.coalition, date=req.date,
                       target=req.target, add=req.add, scenarios=scenarios or None, steps=req.steps,
                       progress=progress, allies=req.allies, bands=req.bands, plans=req.plans,
                       risk={"run_dir": req.risk_run} if req.risk_run else req.risk)
    return BriefingResult(b)


def render(b: Briefing, fmt: str = "html") -> str:
    """The briefing as self-contained HTML or as Markdown."""
    if fmt not in FORMATS:
        raise InputError(f"unknown briefing format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return render_html(b) if fmt == "html" else render_markdown(b)


def write_briefing(b: Briefing, out: str | Path, fmt: str | None = None) -> WrittenBriefing:
    """Render ``b`` and write it to ``out`` crash-safely (the folder must exist)."""
    fmt = briefing_format(out, fmt)
    path = Path(out).resolve()
    if not path.parent.is_dir():
        raise InputError("output folder does not exist", file=str(path.parent))
    text = render(b, fmt)
    atomic_write(path, text, make_parents=False)
    return WrittenBriefing(b, Path(out), fmt, len(text))


def make_briefing(ctx: ServiceContext, req: BriefingRequest, out: str | Path, fmt: str | None = None,
                  progress: Callable[[str], None] | None = None) -> WrittenBriefing:
    """:func:`briefing`, rendered and written to ``out`` (format checked before computing)."""
    briefing_format(out, fmt)
    return write_briefing(briefing(ctx, req, progress).briefing, out, fmt)
