"""Server-rendered SVG charts (no script, no inline style: the CSP allows neither).

Each function returns markup-safe SVG with a ``<title>`` and a text label on every bar or
point, so a chart is readable without colour and by a screen reader; the figures are also
in the table next to it. Colours come from CSS classes (``app/static/style.css``)."""
from __future__ import annotations

from markupsafe import Markup, escape

BAR_H = 22
GAP = 6


def _fit(name: str, room: float, size: float = 12) -> str:
    """``name`` cut with "…" so it fits ``room`` pixels at font size ``size`` (a CJK or
    full-width character counts one em, anything else about 0.6 em); the bar's title keeps
    the whole name."""
    def width(text: str) -> float:
        return sum(size if ord(c) > 0x2E7F else size * 0.6 for c in text)

    if width(name) <= room:
        return name
    while name and width(name + "…") > room:
        name = name[:-1]
    return name + "…"


def bars(title: str, items: list[tuple[str, float]], *, percent: bool = False, width: int = 520) -> Markup:
    """Horizontal bars: (label, value) pairs, largest scale = the largest value."""
    if not items:
        return Markup("")
    label_w, value_w = 150, 60
    plot = width - label_w - value_w
    top = 1 if percent else (max(v for _, v in items) or 1)
    h = len(items) * (BAR_H + GAP) + GAP
    parts = [(f'<svg class="chart bars" role="img" viewBox="0 0 {width} {h}" width="{width}" height="{h}" '
              f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>')]
    for i, (name, value) in enumerate(items):
        y = GAP + i * (BAR_H + GAP)
        w = max(1, round(plot * value / top)) if value else 0
        shown = f"{value * 100:.1f}%" if percent else f"{value:g}"
        shown_name = _fit(name, label_w - 10)
        parts.append(f'<text class="label" x="{label_w - 6}" y="{y + BAR_H - 6}" text-anchor="end">{escape(shown_name)}</text>')
        parts.append(f'<rect class="bar" x="{label_w}" y="{y}" width="{w}" height="{BAR_H}" rx="2">'
                     f'<title>{escape(name)}: {escape(shown)}</title></rect>')
        parts.append(f'<text class="value" x="{label_w + w + 6}" y="{y + BAR_H - 6}">{escape(shown)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def trend(title: str, points: list[tuple[str, int]], *, width: int = 640, height: int = 220) -> Markup:
    """A line over time: (period label, count) pairs, evenly spaced."""
    if not points:
        return Markup("")
    # right: half of the last period's label ("2026-12"), which is centred on the last point
    left, right, top_pad, bottom = 40, 40, 20, 40
    pw, ph = width - left - right, height - top_pad - bottom
    top = max(v for _, v in points) or 1
    step = pw / max(len(points) - 1, 1)
    coords = [(left + i * step, top_pad + ph - ph * v / top) for i, (_, v) in enumerate(points)]
    parts = [(f'<svg class="chart trend" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
              f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'),
             f'<line class="axis" x1="{left}" y1="{top_pad + ph}" x2="{left + pw}" y2="{top_pad + ph}"/>',
             f'<text class="label" x="{left - 6}" y="{top_pad + 4}" text-anchor="end">{top}</text>',
             f'<text class="label" x="{left - 6}" y="{top_pad + ph}" text-anchor="end">0</text>']
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline class="line" points="{path}"/>')
    every = max(1, len(points) // 12)
    for i, ((name, value), (x, y)) in enumerate(zip(points, coords)):
        parts.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5"><title>{escape(name)}: {value}</title></circle>')
        if i % every == 0 or i == len(points) - 1:
            parts.append(f'<text class="label" x="{x:.1f}" y="{height - bottom + 18}" text-anchor="middle">{escape(name)}</text>')
            parts.append(f'<text class="value" x="{x:.1f}" y="{y - 7:.1f}" text-anchor="middle">{value}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
