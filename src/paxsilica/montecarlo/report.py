"""The run's HTML page: loss exceedance curve, risk table and the tail's drivers (inline SVG, offline)."""

from __future__ import annotations

import math
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from ..report.svg import FONT, OUTSIDE, hbar_chart
from .model import WORLD


def _pct(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    p = 100 * float(x)
    return f"{p:.2f}%" if p < 10 else f"{p:.1f}%"


def exceedance_svg(curve: pd.DataFrame, *, width: int = 640, height: int = 300, title: str = "") -> str:
    """Loss exceedance curve P(loss > x) against x, probability on a log scale (1e-4..1).

    Examples
    --------
    >>> svg = exceedance_svg(pd.DataFrame({"loss": [0.0, 0.1, 0.2], "p_exceed": [0.3, 0.05, 0.0]}))
    >>> svg.startswith("<svg") and "polyline" in svg
    True
    """
    left, right, top, bottom = 60, 20, 16, 40
    pw, ph = width - left - right, height - top - bottom
    x = curve["loss"].to_numpy(float)
    p = curve["p_exceed"].to_numpy(float)
    xmax = max(float(x.max()) if x.size else 0.0, 1e-3) * 1.05
    pmin = 1e-4
    keep = p > 0
    if keep.any():
        pmin = min(pmin, float(p[keep].min()))
    lo = math.floor(math.log10(pmin))

    def X(v: float) -> float:
        return left + v / xmax * pw

    def Y(v: float) -> float:
        return top + (0 - math.log10(max(v, 10**lo))) / (0 - lo) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" role="img" '
           f'aria-label="{escape(title or "loss exceedance curve")}" style="{FONT}">']
    for e in range(lo, 1):
        y = Y(10.0**e)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10.5" text-anchor="end" fill="#5a6472">'
                   f"{escape(f'{10.0**e:g}')}</text>")
    for k in range(6):
        v = xmax * k / 5
        out.append(f'<text x="{X(v):.1f}" y="{height - bottom + 15}" font-size="10.5" text-anchor="middle" '
                   f'fill="#5a6472">{_pct(v)}</text>')
    pts = []
    for xv, pv in zip(x, p, strict=True):  # a step function: P(L > x) drops at each observed loss
        if pv <= 0:
            pts.append((X(xv), Y(10.0**lo)))
            break
        if pts:
            pts.append((X(xv), pts[-1][1]))
        pts.append((X(xv), Y(pv)))
    if pts:
        out.append('<polyline fill="none" stroke="' + OUTSIDE + '" stroke-width="2" points="'
                   + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 6}" font-size="11.5" text-anchor="middle" fill="#222">'
               "loss x (share of the horizon's baseline)</text>"
               f'<text x="14" y="{top + ph / 2}" font-size="11.5" text-anchor="middle" fill="#222" '
               f'transform="rotate(-90 14 {top + ph / 2})">P(loss &gt; x)</text></svg>')
    return "".join(out)


def risk_table_html(summary: pd.DataFrame, target: str) -> str:
    """The WORLD rows of one target's summary as an HTML table."""
    s = summary[(summary["target"] == target) & (summary["consumer"] == WORLD)]
    rows = []
    for _, r in s.iterrows():
        what = {"expected_loss": "expected loss", "var": "VaR", "es": "expected shortfall",
                "p_exceed": "P(loss > x)"}[r["measure"]]
        lvl = "" if r["level"] is None or (isinstance(r["level"], float) and math.isnan(r["level"])) else (
            f"{r['level']:.4g}" if r["measure"] in ("var", "es") else f"x = {_pct(r['level'])}")
        val = _pct(r["value"]) if r["measure"] != "p_exceed" else f"{r['value']:.4f}"
        se = _pct(r["se"]) if r["measure"] != "p_exceed" else f"{r['se']:.4f}"
        warn = f'<br><small class="warn">{escape(str(r["warning"]))}</small>' if r["warning"] else ""
        rows.append(f"<tr><td>{what}</td><td>{escape(lvl)}</td><td>{val}</td><td>± {se}</td><td>{warn}</td></tr>")
    return ("<table><tr><th>measure</th><th>level</th><th>value</th><th>standard error</th><th></th></tr>"
            + "".join(rows) + "</table>")


def contributions_svg(contrib: pd.DataFrame, target: str, level: float, by: str, top: int = 10) -> str:
    c = contrib[(contrib["target"] == target) & (contrib["level"] == level) & (contrib["by"] == by)]
    c = c[c["es_contribution"] > 0].sort_values("es_contribution", ascending=False).head(top)
    if c.empty:
        return "<p><i>No loss in the tail.</i></p>"
    return hbar_chart(c["name"].tolist(), c["share"].tolist(), title=f"share of ES by {by}", vmax=1.0,
                      label_width=220,
                      notes=[f"ES contribution {_pct(v)}" for v in c["es_contribution"]])


def report_html(result: Any) -> str:
    """The self-contained page of a run (no scripts, no external files)."""
    meta = result.meta
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>paxsilica Monte Carlo risk</title>"
             f"<style>body{{{FONT};max-width:980px;margin:24px auto;color:#222}}"
             "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}"
             ".warn{color:#a0522d}</style></head><body>",
             "<h1>Monte Carlo risk</h1>",
             f"<p>{meta['draws']:,} draws of {meta['horizon_days']} days (seed {meta['seed']}), catalogue "
             f"<code>{escape(str(meta['catalogue'].get('name', '')))}</code> "
             f"(sha256 {escape(str(meta['catalogue']['sha256'])[:12])}…), atlas {escape(str(meta['atlas_version']))}, "
             f"paxsilica {escape(str(meta['paxsilica_version']))}, {escape(str(meta['created']))}."
             + ("" if meta["complete"] else " <b>Incomplete run (interrupted)</b>.") + "</p>"]
    for w in meta.get("warnings", []):
        parts.append(f'<p class="warn">⚠ {escape(w)}</p>')
    for t in meta["targets"]:
        parts.append(f"<h2>{escape(t)}</h2>")
        curve = result.curve[result.curve["target"] == t]
        parts.append("<h3>Loss exceedance curve</h3>" + exceedance_svg(curve, title=f"{t}: P(loss > x)"))
        parts.append("<h3>Risk measures (world total)</h3>" + risk_table_html(result.summary, t))
        if not result.contributions.empty:
            for lvl in meta["levels"]:
                parts.append(f"<h3>What drives the tail (ES at {lvl:g}, Euler allocation)</h3>")
                for by in ("kind", "hazard", "chokepoint"):
                    parts.append(f"<h4>by {by}</h4>" + contributions_svg(result.contributions, t, lvl, by))
        cons = result.summary[(result.summary["target"] == t) & (result.summary["measure"] == "expected_loss")
                              & (result.summary["consumer"] != WORLD)]
        cons = cons.sort_values("value", ascending=False).head(10)
        if len(cons) and float(np.nanmax(cons["value"].to_numpy(float))) > 0:
            parts.append("<h3>Expected loss by consumer country</h3>"
                         + hbar_chart(cons["consumer"].tolist(), cons["value"].tolist(), title="expected loss",
                                      vmax=None, label_width=120, value_fmt=_pct))
    for n in result.notes:
        parts.append(f"<p><small>{escape(n)}</small></p>")
    parts.append("</body></html>")
    return "".join(parts)
