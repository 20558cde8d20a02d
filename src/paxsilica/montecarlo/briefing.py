"""The briefing's "Risk" section: a small seeded Monte Carlo run (or a saved run) as HTML and Markdown.

:func:`risk_section` runs the default catalogue for the briefing's target (``BRIEFING_DRAWS`` draws of
365 days, seed :data:`~paxsilica.montecarlo.run.DEFAULT_SEED`, in this process) or reads a run folder
written by ``paxsilica montecarlo --out DIR`` (a large run, made once). :class:`RiskSection` holds its
tables and renders itself; :mod:`paxsilica.report.briefing` only calls these.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from ..report.svg import hbar_chart
from .model import WORLD, TargetModel
from .report import exceedance_svg
from .risk import exceedance_curve

BRIEFING_DRAWS = 64
"""Draws of the briefing's default run: what fits in about ten seconds of a briefing on two shared cores
(a draw of the bundled atlas costs 40-150 ms of engine time; 128 draws added 22 s at load 5). The section
says how rough its tail is and how to show a larger run instead (``--risk-run DIR``)."""


@dataclass(frozen=True)
class RiskSection:
    """What the "Risk" section shows: the run's metadata, the world summary, the contributions by kind
    and hazard, the exceedance curve."""

    meta: dict[str, Any]
    summary: pd.DataFrame
    contributions: pd.DataFrame
    curve: pd.DataFrame
    target: str
    notes: tuple[str, ...] = field(default=())

    def value(self, measure: str, level: float | None = None) -> tuple[float, float]:
        s = self.summary[(self.summary["measure"] == measure) & (self.summary["target"] == self.target)
                         & (self.summary["consumer"] == WORLD)]
        if level is not None:
            s = s[(s["level"] - level).abs() < 1e-12]
        if s.empty:
            return math.nan, math.nan
        return float(s["value"].iloc[0]), float(s["se"].iloc[0])

    def lines(self) -> list[str]:
        """The headline sentences (plain text)."""
        m = self.meta
        el, el_se = self.value("expected_loss")
        out = [f"{m['draws']:,} seeded draws (seed {m['seed']}) of {m['horizon_days']} days of events from the "
               f"hazard catalogue '{m['catalogue'].get('name', '')}', run through the stress model: expected "
               f"loss of {self.target} {_pct(el)} (± {_pct(el_se)})."]
        for a in m["levels"]:
            v, _ = self.value("var", a)
            e, e_se = self.value("es", a)
            out.append(f"At {a:g}: value at risk {_pct(v)}, expected shortfall {_pct(e)} (± {_pct(e_se)}).")
        ex = [(x, self.value("p_exceed", x)[0]) for x in m.get("thresholds", [])]
        if ex:
            out.append("P(loss > x): " + ", ".join(f"{_pct(x)}: {p:.3f}" for x, p in ex) + ".")
        return out

    def drivers(self) -> pd.DataFrame:
        """Contributions to ES at the highest level, by kind and by hazard, largest first."""
        c = self.contributions
        if c.empty:
            return c
        top = max(self.meta["levels"])
        c = c[(c["target"] == self.target) & ((c["level"] - top).abs() < 1e-12) & (c["es_contribution"] > 0)]
        return c.sort_values(["by", "es_contribution"], ascending=[True, False])

    def html(self) -> str:
        """The section's body (self-contained: inline SVG, no scripts)."""
        parts = [f"<p>{escape(s)}</p>" for s in self.lines()]
        parts.append(exceedance_svg(self.curve, width=620, height=260, title=f"{self.target}: P(loss > x)"))
        d = self.drivers()
        for by in ("kind", "hazard"):
            rows = d[d["by"] == by].head(8)
            if len(rows):
                parts.append(f"<p><b>What drives the tail</b> (share of the expected shortfall at "
                             f"{max(self.meta['levels']):g} by {by}, Euler allocation):</p>")
                parts.append(hbar_chart(rows["name"].str.replace("_", " ").tolist(), rows["share"].tolist(),
                                        title=f"share of ES by {by}", vmax=1.0, label_width=220))
        for w in self.meta.get("warnings", [])[:3]:
            parts.append(f'<p class="note">Note: {escape(w)}.</p>')
        parts.append('<p class="note">Method, catalogue and sources: docs/montecarlo.md. A larger run: '
                     "<code>paxsilica montecarlo --draws 100000 --workers N --out DIR</code>, then "
                     "<code>paxsilica brief --risk-run DIR</code>.</p>")
        return "".join(parts)

    def markdown(self) -> list[str]:
        """The section as Markdown lines (heading included)."""
        L = ["", "## Risk", ""] + self.lines()
        d = self.drivers()
        rows = d[d["by"] == "kind"].head(8)
        if len(rows):
            L += ["", f"What drives the tail (share of ES at {max(self.meta['levels']):g}, by event kind): "
                  + ", ".join(f"{n.replace('_', ' ')} {100 * s:.0f} %" for n, s in zip(rows["name"], rows["share"],
                                                                                       strict=True)) + "."]
        for w in self.meta.get("warnings", [])[:3]:
            L += ["", f"Note: {w}."]
        return L

    def to_record(self) -> dict[str, Any]:
        from ..serialize import records, to_jsonable

        return {"meta": to_jsonable(self.meta), "summary": records(self.summary),
                "contributions": records(self.contributions)}


def _pct(x: float) -> str:
    if x != x:
        return "–"
    p = 100 * x
    return f"{p:.2f} %" if p < 10 else f"{p:.1f} %"


def risk_section(atlas: Any, target: str, *, draws: int = BRIEFING_DRAWS, seed: int | None = None,
                 run_dir: str | Path | None = None, atlas_version: str | None = None,
                 prepared: Any = None) -> RiskSection | None:
    """The "Risk" section: from a saved run (``run_dir``) or a default run of ``draws`` draws.

    A saved run must be of this ``target`` (else :class:`~paxsilica.errors.InputError`). On an atlas that
    lacks what some hazards of the default catalogue name, those are left out (``notes``); ``None`` when
    none is left. ``prepared``: the briefing's :class:`~paxsilica.stress.prepare.Prepared` network for
    ``target`` (shared with its stress tests instead of building it twice).
    """
    from ..errors import InputError
    from . import load_catalogue, load_run, run_montecarlo
    from .catalogue import check_against_atlas
    from .run import DEFAULT_SEED

    if run_dir is not None:
        run = load_run(run_dir)
        if target not in run.meta.get("targets", []):
            raise InputError(f"the run has targets {', '.join(run.meta.get('targets', []))}, not {target}",
                             file=str(run_dir))
        world = run.losses[(run.losses["target"] == target) & (run.losses["consumer"] == WORLD)]
        return RiskSection(run.meta, run.summary, run.contributions, exceedance_curve(world["loss"].to_numpy()),
                           target)
    cat = load_catalogue()
    # on a user's own atlas, hazards naming what it does not have are left out (and said so)
    bad = {int(p.column.split(".")[1]) for p in check_against_atlas(cat, atlas) if p.column}
    notes = [f"hazard {cat.hazards[i].id} left out: it names what this atlas does not have" for i in sorted(bad)]
    if bad:
        cat = dataclasses.replace(cat, hazards=tuple(h for i, h in enumerate(cat.hazards) if i not in bad))
    if not cat.hazards:
        return None
    def model(a: Any, t: str, spec: Any) -> TargetModel:  # in this process only: the shared network
        return TargetModel(a, t, spec.catalogue, spec.horizon_days, inventory_days=spec.inventory_days,
                           tau_days=spec.tau_days, version=spec.atlas_version, prepared=prepared)

    r = run_montecarlo(atlas, cat, draws=draws, seed=DEFAULT_SEED if seed is None else seed, targets=(target,),
                       atlas_version=atlas_version, model=model if prepared is not None else None)
    return RiskSection(r.meta, r.summary, r.contributions, r.curve[r.curve["target"] == target], target,
                       tuple(notes + r.notes))
