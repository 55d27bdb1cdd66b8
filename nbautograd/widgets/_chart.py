"""A small SVG line chart: one line per leaf, its ``.grad`` after each step, every point labelled
with its value. Deterministic text from plain numbers (no plotting library).

>>> svg = line_chart({"x": [-1.3254, -2.6509]}, ["backward #1", "backward #2"])
>>> svg.startswith("<svg") and "-2.6509" in svg
True
"""
from __future__ import annotations

import html as _html
import math
from typing import Mapping, Sequence

from ._common import fmt_number

COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")


def line_chart(series: Mapping[str, Sequence], labels: Sequence[str], width: int = 420,
               height: int = 170, title: str = "") -> str:
    """``series``: ``{name: [value or None per step]}`` (None: ``.grad`` is None, a gap)."""
    esc = _html.escape
    n = len(labels)
    vals = [v for s in series.values() for v in s if v is not None and math.isfinite(v)]
    if not n or not vals:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="40">'
                f'<text x="8" y="24" font-size="12" fill="#6b7280" '
                f'font-family="Helvetica,Arial,sans-serif">no gradient yet</text></svg>')
    lo, hi = min(vals + [0.0]), max(vals + [0.0])
    if hi == lo:
        hi, lo = hi + 1.0, lo - 1.0
    left, right, top, bottom = 46, 14, 22 if title else 10, 34
    pw, ph = width - left - right, height - top - bottom

    def x_at(i):
        return left + (pw * (i + 0.5) / n)

    def y_at(v):
        return top + ph * (hi - v) / (hi - lo)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="nbag-chart-svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" '
           f'font-family="Helvetica,Arial,sans-serif">']
    if title:
        out.append(f'<text x="{left}" y="14" font-size="12" fill="#374151">{esc(title)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#f9fafb" '
               f'stroke="#e5e7eb"/>')
    y0 = y_at(0.0)
    out.append(f'<line x1="{left}" y1="{y0:.1f}" x2="{left + pw}" y2="{y0:.1f}" '
               f'stroke="#9ca3af" stroke-dasharray="3,3"/>')
    for v in (hi, lo):
        out.append(f'<text x="{left - 4}" y="{y_at(v) + 4:.1f}" font-size="10" '
                   f'text-anchor="end" fill="#6b7280">{esc(fmt_number(v))}</text>')
    out.append(f'<text x="{left - 4}" y="{y0 + 4:.1f}" font-size="10" text-anchor="end" '
               f'fill="#6b7280">0</text>' if lo < 0 < hi else "")
    for i, lab in enumerate(labels):
        out.append(f'<text x="{x_at(i):.1f}" y="{height - bottom + 14}" font-size="10" '
                   f'text-anchor="middle" fill="#6b7280">{i + 1}</text>')
    for k, (name, values) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        runs, run = [], []
        for i, v in enumerate(values):
            if v is None or not math.isfinite(v):
                if run:
                    runs.append(run)
                run = []
            else:
                run.append((x_at(i), y_at(v), v))
        if run:
            runs.append(run)
        for r in runs:
            if len(r) > 1:
                pts = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in r)
                out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" '
                           f'stroke-width="2"/>')
            for x, y, v in r:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>')
                out.append(f'<text class="nbag-point" x="{x:.1f}" y="{y - 7:.1f}" '
                           f'font-size="10" text-anchor="middle" fill="{color}">'
                           f'{esc(fmt_number(v))}</text>')
        out.append(f'<text x="{left + 6 + 70 * k}" y="{height - 4}" font-size="11" '
                   f'fill="{color}">● {esc(name)}.grad</text>')
    out.append(f'<text x="{left + pw}" y="{height - 4}" font-size="10" text-anchor="end" '
               f'fill="#6b7280">step</text></svg>')
    return "".join(out)
