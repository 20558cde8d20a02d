"""``paxsilica brief``: write the briefing (HTML or Markdown) and print its summary in the terminal.

Building, rendering and writing are :mod:`paxsilica.services.briefing`; this module parses,
prints and calls.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..atlas import Atlas
from ..constants import DEFAULT_COALITION, DEFAULT_TARGET
from ..report.briefing import Briefing, pct
from ..scenarios.schema import MAX_HORIZON_DAYS
from ..services.briefing import FORMATS, BriefingRequest, briefing, briefing_format, write_briefing
from .common import context

__all__ = ["FORMATS", "brief", "brief_command", "print_summary", "register"]


def brief(atlas: Atlas, for_iso3: str | None = None, coalition: str = DEFAULT_COALITION,
          date: str | None = None, out: Path | str = "brief.html", fmt: str | None = None,
          add: str | list[str] | tuple[str, ...] = (), target: str = DEFAULT_TARGET,
          console: Console | None = None, scenarios: bool | list = True, steps: int | None = None,
          allies: str | list[str] | tuple[str, ...] = (), bands: int = 32, plans: bool = False, risk: bool = False,
          risk_run: Path | str | None = None) -> Path:
    """Build the briefing, write it to ``out`` and print a summary with rich tables.

    Parameters
    ----------
    atlas : Atlas
    for_iso3 : str, optional
        Country the briefing is written for.
    coalition : str
        Group id (default ``pax_silica``).
    date : str, optional
        Membership date ``YYYY-MM-DD`` (default: latest membership).
    out : path
        Output file; written atomically (temporary file, then rename).
    fmt : {"html", "md"}, optional
        Default: from the suffix of ``out`` (``.md`` -> Markdown), else HTML.
    add : iso3 codes
        Countries joining in the what-if section.
    target : str
        Target item (default ``ai_datacenter_capacity``).
    console : rich Console, optional
        Where the summary goes (default: standard output; pass ``Console(quiet=True)`` to silence).
    scenarios : bool or list
        Run the built-in stress scenarios (default) or the ones listed (names or YAML paths) for the
        "Stress tests" section; ``False`` leaves it out.
    steps : int, optional
        Steps for every scenario (default: each scenario's horizon).
    allies : group ids
        Groups whose members count as partners, e.g. ``oecd,g7`` (the coalition's guests always do).
    bands : int
        Draws of the parameter ranges for the stress results' uncertainty bands (0: none).
    plans : bool
        Add the "Plans" section (the command's default; off here so library callers opt in).
    risk : bool
        Add the "Risk" section from a small seeded Monte Carlo run (``paxsilica brief`` does by default).
    risk_run : path, optional
        Show this saved Monte Carlo run (``paxsilica montecarlo --out DIR``) in the "Risk" section.

    Returns
    -------
    Path
        The file written.
    """
    out = Path(out)
    fmt = briefing_format(out, fmt)
    console = console or Console()
    t0 = time.perf_counter()
    req = BriefingRequest(for_iso3, coalition, date, add if isinstance(add, str) else tuple(add), target,
                          tuple(scenarios) if isinstance(scenarios, list) else scenarios, steps,
                          allies if isinstance(allies, str) else tuple(allies), bands, plans, risk, risk_run)
    with console.status("computing measures…") as status:
        def progress(name: str) -> None:
            status.update(f"stress scenario {name}…")

        b = briefing(context(atlas), req, progress).briefing
    print_summary(b, console)
    written = write_briefing(b, out, fmt)
    console.print(f"[green]wrote[/green] {out} ({written.size / 1024:.0f} kB, {fmt}) in "
                  f"{time.perf_counter() - t0:.1f} s — atlas {b.atlas_name} {b.atlas_version}")
    return out


def print_summary(b: Briefing, console: Console) -> None:
    """The briefing's executive summary as rich tables."""
    when = f"as of {b.date}" if b.date else "latest membership"
    console.rule(f"[bold]AI supply-chain briefing[/bold] — {b.coalition} ({when}), target {b.target_name}")
    from ..report.briefing import _summary_points

    for s in _summary_points(b):
        console.print(f"• {s}", highlight=False)
    t = Table(title="Most dangerous dependencies", header_style="bold")
    for c, j in (("#", "right"), ("item", "left"), ("outside producer", "left"), ("tier", "left"),
                 ("share", "right"), ("target loss", "right"), ("coalition", "right"), ("flags", "left")):
        t.add_column(c, justify=j, overflow="fold")
    for i, r in enumerate(b.dangers.itertuples(), 1):
        t.add_row(str(i), r.name, str(r.largest_outside_name), str(r.largest_outside_tier or "other"),
                  pct(r.largest_outside_share), pct(r.outside_loss), pct(r.coalition_share),
                  "SPOF" if r.spof else "")
    console.print(t)
    k = b.country_knockouts.head(8)
    if len(k):
        t = Table(title=f"Whole-country knock-outs: loss of {b.target_name}", header_style="bold")
        for c, j in (("country", "left"), ("member", "left"), ("loss", "right"), ("via", "left")):
            t.add_column(c, justify=j)
        from ..report.briefing import named_path

        for r in k.itertuples():
            t.add_row(f"{r.name} ({r.country})", "yes" if r.member else "no", pct(r.loss),
                      named_path(r.path, b.item_names))
        console.print(t)
    if len(b.by_stage):
        t = Table(title="Coalition coverage by stage", header_style="bold")
        for c, j in (("stage", "left"), ("items", "right"), ("mean share", "right"),
                     ("weakest", "left"), ("SPOF", "right"), ("non-member ≥ 50%", "right")):
            t.add_column(c, justify=j)
        for r in b.by_stage.itertuples():
            t.add_row(r.stage, str(r.n_items), pct(r.coalition_share_mean), str(r.weakest_item),
                      str(r.n_spof), str(r.n_nonmember_dependency))
        console.print(t)
    if b.stress is not None and len(b.stress):
        from ..report.briefing import _stress_rows

        t = Table(title=f"Stress tests: {b.target_name}", header_style="bold")
        for c, j in (("scenario", "left"), ("loss", "right"), ("lowest", "right"), ("survives", "right"),
                     ("recovers in", "right"), ("most affected items", "left")):
            t.add_column(c, justify=j)
        for r in _stress_rows(b, svg=False):
            t.add_row(r["title"], r["loss"], r["min_level"], r["tts"], r["ttr"],
                      ", ".join(r["affected_ids"][:3]) if r["ran"] else r["note"])
        console.print(t)


def brief_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.html or .md).")] = Path("brief.html"),
    for_iso3: Annotated[str | None, typer.Option("--for", help="Country (ISO3) the briefing is for, e.g. QAT.")] = None,
    coalition: Annotated[str, typer.Option("--coalition", help="Coalition group id.")] = DEFAULT_COALITION,
    date: Annotated[str | None, typer.Option("--date", help="Membership as of YYYY-MM-DD (default: latest).")] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="html or md (default: from --out).")] = None,
    add: Annotated[str, typer.Option("--add", help="What-if: countries joining, e.g. NLD,TWN,IND.")] = "",
    allies: Annotated[str, typer.Option("--allies", help="Groups whose members count as partners, e.g. "
                                        "oecd,eu27,g7 (the coalition's guests always do).")] = "",
    target: Annotated[str, typer.Option("--target", help="Target item.")] = DEFAULT_TARGET,
    scenarios: Annotated[bool, typer.Option("--scenarios/--no-scenarios",
                                            help="Run the built-in stress scenarios for the 'Stress tests' section.")
                         ] = True,
    steps: Annotated[int | None, typer.Option("--steps", min=1, max=MAX_HORIZON_DAYS,
                                              help="Steps (days) for every stress scenario (default: each one's horizon).")
                     ] = None,
    bands: Annotated[int, typer.Option("--bands", min=0, max=1000,
                                       help="Draws of the parameter ranges for the stress results' "
                                            "uncertainty bands (0: central values only).")] = 32,
    plans: Annotated[bool, typer.Option("--plans/--no-plans", help="Add the 'Plans' section (optimized sourcing, "
                                        "stockpile, partners, worst case; needs the scenarios).")] = True,
    risk: Annotated[bool, typer.Option("--risk/--no-risk", help="Add the 'Risk' section (a small seeded Monte "
                                                                "Carlo run of the default hazard catalogue).")] = True,
    risk_run: Annotated[Path | None, typer.Option("--risk-run", help="Show this saved Monte Carlo run (paxsilica "
                                                                     "montecarlo --out DIR) in the 'Risk' section.")
                        ] = None,
) -> None:
    """Write the AI supply-chain security briefing (self-contained HTML, or Markdown)."""
    from .common import console, current_atlas

    brief(current_atlas(), for_iso3, coalition, date, out, fmt, add, target, console=console,
          scenarios=scenarios, steps=steps, allies=allies, bands=bands, plans=plans and scenarios, risk=risk,
          risk_run=risk_run)


def register(app: typer.Typer) -> None:
    """Add ``paxsilica brief`` to the root app."""
    app.command("brief")(brief_command)
