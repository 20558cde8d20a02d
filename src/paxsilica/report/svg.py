"""Small inline-SVG charts and maps for the briefing (no external assets, no JavaScript)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

from .geo import equal_earth, world_geometry

SHARE_BINS: tuple[tuple[float, str, str], ...] = (
    (0.01, "#fee5d9", "< 1%"),
    (0.05, "#fcbba1", "1–5%"),
    (0.15, "#fc9272", "5–15%"),
    (0.30, "#fb6a4a", "15–30%"),
    (0.50, "#de2d26", "30–50%"),
    (1.01, "#a50f15", "≥ 50%"),
)
NO_DATA = "#e4e4e4"
MEMBER = "#2b6cb0"
OUTSIDE = "#c53030"
UNKNOWN = "#a0aec0"
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"


def share_colour(share: float) -> str:
    """Fill colour of a producer share (fraction) on the map's sequential scale."""
    for upper, colour, _ in SHARE_BINS:
        if share < upper:
            return colour
    return SHARE_BINS[-1][1]


def _pct(x: float) -> str:
    p = 100 * x
    return f"{p:.0f}%" if p >= 9.95 or p == 0 else f"{p:.1f}%"


def world_defs() -> str:
    """A hidden SVG holding every country outline once (``<path id="c-ISO3">``); maps ``<use>`` them."""
    geo = world_geometry()
    paths = "".join(f'<path id="c-{iso3}" d="{c["d"]}"/>' for iso3, c in geo["countries"].items())
    return (f'<svg width="0" height="0" style="position:absolute" aria-hidden="true">'
            f"<defs>{paths}</defs></svg>")


def choropleth(shares: Mapping[str, float], title: str = "", names: Mapping[str, str] | None = None,
               points: Mapping[str, tuple[float, float]] | None = None, width: int = 520,
               highlight: frozenset[str] | set[str] = frozenset()) -> str:
    """A world map colouring each producer country by its share (fraction 0-1).

    Countries missing from the 1:110m outlines (Singapore, Hong Kong…) are drawn as dots at
    ``points[iso3] = (lat, lon)``. Countries in ``highlight`` (coalition members) get a blue outline.
    Requires :func:`world_defs` once in the same HTML document.
    """
    geo = world_geometry()
    x0, y0, w, h = geo["viewbox"]
    names = names or {}
    points = points or {}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0} {y0} {w} {h + 34}" '
             f'width="{width}" role="img" aria-label="{escape(title)}" style="{FONT}">',
             f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="#f7fbff"/>']
    base = [f'<use href="#c-{iso3}" fill="{NO_DATA}"/>' for iso3 in geo["countries"]
            if iso3 not in shares]
    parts.append('<g stroke="#ffffff" stroke-width="0.4">' + "".join(base) + "</g>")
    dots, labels = [], []
    for iso3, s in sorted(shares.items(), key=lambda kv: kv[1]):
        tip = f"<title>{escape(names.get(iso3, iso3))}: {_pct(s)}</title>"
        member = iso3 in highlight
        stroke = f' stroke="{MEMBER}" stroke-width="1.6"' if member else \
            ' stroke="#ffffff" stroke-width="0.4"'
        if iso3 in geo["countries"]:
            parts.append(f'<use href="#c-{iso3}" fill="{share_colour(s)}"{stroke}>{tip}</use>')
        # A bubble at the country's point keeps small producers (Taiwan, Korea, the Netherlands,
        # Singapore) visible at world scale; its area is proportional to the share.
        if iso3 in points and (s >= 0.02 or iso3 not in geo["countries"]):
            lat, lon = points[iso3]
            x, y = equal_earth(lon, lat)
            r = 3 + 22 * math.sqrt(max(s, 0.0))
            ring = f' stroke="{MEMBER}" stroke-width="2.5"' if member else \
                ' stroke="#3a0a0a" stroke-width="1"'
            dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{share_colour(s)}" '
                        f'fill-opacity="0.9"{ring}>{tip}</circle>')
            if s >= 0.10:
                labels.append(f'<text x="{x + r + 3:.1f}" y="{y + 6:.1f}" font-size="17" '
                              f'font-weight="600" fill="#1a202c" stroke="#fff" stroke-width="3" '
                              f'paint-order="stroke">{escape(iso3)} {_pct(s)}</text>')
    parts += dots + labels
    ly = y0 + h + 8
    lx = x0 + 10
    for i, (_, colour, label) in enumerate(SHARE_BINS):
        parts.append(f'<rect x="{lx + i * 140}" y="{ly}" width="20" height="18" fill="{colour}"/>'
                     f'<text x="{lx + i * 140 + 26}" y="{ly + 16}" font-size="19" fill="#333">'
                     f"{escape(label)}</text>")
    parts.append(f'<rect x="{lx + 840}" y="{ly}" width="20" height="18" fill="{NO_DATA}"/>'
                 f'<text x="{lx + 866}" y="{ly + 16}" font-size="19" fill="#333">no data</text>')
    parts.append("</svg>")
    return "".join(parts)


def share_ticks(vmax: float = 1.0) -> list[float]:
    """Round tick values for a 0..vmax share axis: quarters of 100 % (or tenths below 50 %).

    Examples
    --------
    >>> share_ticks(1.0)
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> share_ticks(0.3)
    [0.0, 0.1, 0.2, 0.3]
    """
    step = 0.25 if vmax > 0.5 else (0.1 if vmax > 0.2 else 0.05)
    n = int(math.floor(vmax / step + 1e-9))
    return [round(k * step, 4) for k in range(n + 1)]


def day_ticks(horizon_days: int) -> list[int]:
    """Round day ticks: every 30 days up to a year's horizon, every 90 beyond.

    Examples
    --------
    >>> day_ticks(120), day_ticks(365)[:3]
    ([0, 30, 60, 90, 120], [0, 90, 180])
    """
    step = 30 if horizon_days <= 180 else 90
    return list(range(0, int(horizon_days) + 1, step))


def hbar_chart(labels: Sequence[str], values: Sequence[float], colours: Sequence[str] | None = None,
               title: str = "", vmax: float | None = 1.0, width: int = 600,
               value_fmt=_pct, label_width: int = 250, notes: Sequence[str] | None = None) -> str:
    """Horizontal bar chart; values are fractions unless ``value_fmt`` says otherwise."""
    n = len(values)
    bar_h, gap, top = 18, 6, 8
    axis_h = 18 if value_fmt is _pct else 0
    height = top + n * (bar_h + gap) + 8 + axis_h
    vmax = vmax or max([v for v in values if v == v] + [1e-9])
    plot_w = width - label_width - 70
    colours = list(colours) if colours is not None else [OUTSIDE] * n
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'role="img" aria-label="{escape(title)}" style="{FONT}">']
    if axis_h:
        y_axis = top + n * (bar_h + gap)
        for t in share_ticks(vmax):
            x = label_width + t / vmax * plot_w
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 2}" y2="{y_axis}" stroke="#cbd5e0" '
                       f'stroke-width="0.6" stroke-dasharray="2 2"/>'
                       f'<text class="tick" x="{x:.1f}" y="{y_axis + 13}" font-size="10.5" fill="#5a6472" '
                       f'text-anchor="middle">{_pct(t)}</text>')
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = top + i * (bar_h + gap)
        bw = 0 if v != v else max(0.0, min(1.0, v / vmax)) * plot_w
        tip = escape(lab + (f" — {notes[i]}" if notes else ""))
        out.append(f'<text x="{label_width - 6}" y="{y + 13}" font-size="12" text-anchor="end" '
                   f'fill="#222">{escape(_clip(lab, 36))}</text>'
                   f'<rect x="{label_width}" y="{y}" width="{plot_w}" height="{bar_h}" fill="#f1f1f1"/>'
                   f'<rect x="{label_width}" y="{y}" width="{bw:.1f}" height="{bar_h}" '
                   f'fill="{colours[i]}"><title>{tip}: {escape(value_fmt(v))}</title></rect>'
                   f'<text x="{label_width + bw + 4:.1f}" y="{y + 13}" font-size="12" fill="#222">'
                   f"{escape(value_fmt(v))}</text>")
    out.append("</svg>")
    return "".join(out)


def stacked_share_bars(labels: Sequence[str], parts: Sequence[Sequence[float]],
                       colours: Sequence[str], legend: Sequence[str], title: str = "",
                       width: int = 600, label_width: int = 130) -> str:
    """100 % stacked horizontal bars: ``parts[i]`` are the fractions of row i (summing to <= 1)."""
    bar_h, gap, top = 20, 6, 28
    n = len(labels)
    height = top + n * (bar_h + gap) + 6
    plot_w = width - label_width - 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'role="img" aria-label="{escape(title)}" style="{FONT}">']
    x = label_width
    for colour, name in zip(colours, legend, strict=True):
        out.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{x + 16}" y="16" font-size="12" fill="#222">{escape(name)}</text>')
        x += 28 + 7 * len(name)
    for i, (lab, fr) in enumerate(zip(labels, parts, strict=True)):
        y = top + i * (bar_h + gap)
        out.append(f'<text x="{label_width - 6}" y="{y + 14}" font-size="12" text-anchor="end" '
                   f'fill="#222">{escape(_clip(lab, 24))}</text>')
        x = float(label_width)
        for f, colour, name in zip(fr, colours, legend, strict=True):
            w = max(0.0, min(1.0, f)) * plot_w
            if w <= 0:
                continue
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                       f"<title>{escape(lab)} — {escape(name)}: {_pct(f)}</title></rect>")
            if w > 34:
                out.append(f'<text x="{x + w / 2:.1f}" y="{y + 14}" font-size="11" fill="#fff" '
                           f'text-anchor="middle">{_pct(f)}</text>')
            x += w
    out.append("</svg>")
    return "".join(out)


def sparkline(values: Sequence[float], step_days: int = 1, width: int = 170, height: int = 38,
              threshold: float | None = 0.99, lo: float = 0.0, hi: float = 1.0, title: str = "") -> str:
    """A small line of a level over time (fractions; 1 = baseline) with the shortfall shaded.

    The y range is fixed (``lo`` .. ``hi``, clipped) so that sparklines side by side compare; the
    dotted line is ``threshold`` (e.g. 99 %: time-to-survive / -recover). Hover shows the lowest
    level and its day.

    Examples
    --------
    >>> svg = sparkline([1.0, 1.0, 0.5, 0.8, 1.0])
    >>> svg.startswith("<svg") and "polyline" in svg and "lowest 50% on day 2" in svg
    True
    """
    v = [float(x) if x == x else 1.0 for x in values]
    n = len(v)
    pad_x, pad_t, pad_b = 2.0, 3.0, 3.0
    w, h = width - 2 * pad_x, height - pad_t - pad_b
    span = max(hi - lo, 1e-9)

    def X(k: float) -> float:
        return pad_x + (k / max(n - 1, 1)) * w

    def Y(x: float) -> float:
        return pad_t + (hi - min(max(x, lo), hi)) / span * h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="{escape(title)}" style="{FONT}">',
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f7fafc"/>']
    if n:
        k_min = min(range(n), key=lambda k: v[k])
        tip = f"{title + ': ' if title else ''}lowest {_pct(v[k_min])} on day {k_min * step_days}"
        out.append(f"<title>{escape(tip)}</title>")
        pts = " ".join(f"{X(k):.1f},{Y(x):.1f}" for k, x in enumerate(v))
        top = f"{X(n - 1):.1f},{Y(1.0):.1f} {X(0):.1f},{Y(1.0):.1f}"
        if any(x < 1.0 - 1e-9 for x in v):
            out.append(f'<polygon points="{pts} {top}" fill="{OUTSIDE}" fill-opacity="0.18" stroke="none"/>')
        out.append(f'<line x1="{pad_x}" x2="{pad_x + w}" y1="{Y(1.0):.1f}" y2="{Y(1.0):.1f}" stroke="#a0aec0" '
                   'stroke-width="0.6"/>')
        if threshold is not None:
            out.append(f'<line x1="{pad_x}" x2="{pad_x + w}" y1="{Y(threshold):.1f}" y2="{Y(threshold):.1f}" '
                       'stroke="#718096" stroke-width="0.6" stroke-dasharray="2 2"/>')
        for d in day_ticks((n - 1) * step_days)[1:]:
            x = X(d / step_days)
            out.append(f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{height - pad_b}" y2="{height - pad_b - 3}" '
                       f'stroke="#a0aec0" stroke-width="0.6"><title>day {d}</title></line>')
        out.append(f'<polyline points="{pts}" fill="none" stroke="{MEMBER}" stroke-width="1.4" '
                   'stroke-linejoin="round"/>')
    out.append("</svg>")
    return "".join(out)


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
