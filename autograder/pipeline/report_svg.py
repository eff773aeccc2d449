"""The class report's charts as standalone SVG strings, drawn the way autograder.views draws:
stdlib only, every text escaped, no script, the timelines' monospace font.

heatmap_svg: a square per (row, column) coloured by pass rate, red through amber to green, with
  a <title> saying "n of m passed"; legend_svg: that colour scale; histogram_svg: a bar per bin
  of points (bins_for), tallest bar = most submissions.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

import pandas as pd

FONT = "'DejaVu Sans Mono', ui-monospace, Menlo, Consolas, monospace"  # the timelines' font
INK, MUTED, EMPTY = "#1f2328", "#6e7781", "#f6f8fa"
RED, AMBER, GREEN = (207, 34, 46), (212, 167, 44), (26, 127, 55)  # views' lost / timer / established
CELL_W, CELL_H = 46, 28


def heat_color(rate: float) -> str:
    """Red (nobody) through amber to green (everybody)."""
    a, b, t = (RED, AMBER, rate * 2) if rate < 0.5 else (AMBER, GREEN, rate * 2 - 1)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def heatmap_svg(rates: pd.DataFrame, svg_id: str, title: str) -> str:
    """Rows: assignments; columns: transitions; each square its pass rate (a <title> says n of m)."""
    assignments = list(dict.fromkeys(rates["assignment"]))
    transitions = [str(t) for t in dict.fromkeys(rates["transition"])]
    left = 14 + 7 * max(len(a) for a in assignments)
    reach = math.ceil(6.6 * max(len(t) for t in transitions) * 0.72)  # a label at 45°: as far up as right
    top = 16 + reach
    width, height = left + CELL_W * len(transitions) + reach, top + CELL_H * len(assignments) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{svg_id}" class="heatmap" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" font-family={quoteattr(FONT)} font-size="11">',
             f"<title>{escape(title)}</title>"]  # fmt: skip
    for j, t in enumerate(transitions):
        x, y = left + CELL_W * j + CELL_W / 2, top - 6
        parts.append(f'<text class="col-label" x="{x:g}" y="{y:g}" transform="rotate(-45 {x:g} {y:g})" '
                     f'fill="{INK}">{escape(t)}</text>')  # fmt: skip
    for i, a in enumerate(assignments):
        y = top + CELL_H * i
        parts.append(f'<text class="row-label" x="{left - 8}" y="{y + CELL_H / 2 + 4:g}" text-anchor="end" '
                     f'fill="{INK}">{escape(a)}</text>')  # fmt: skip
    index = {(r.assignment, str(r.transition)): r for r in rates.itertuples(index=False)}
    for i, a in enumerate(assignments):
        for j, t in enumerate(transitions):
            x, y = left + CELL_W * j, top + CELL_H * i
            parts.append(_heat_cell(a, t, index.get((a, t)), x, y))
    parts.append("</svg>")
    return f'<div class="scroll">{"".join(parts)}</div>'


def _heat_cell(a: str, t: str, r, x: int, y: int) -> str:
    """One square of the heat map at (x, y): its pass rate, or an empty square when nobody was graded."""
    if r is None or not r.graded:
        return (f'<rect class="heat-empty" x="{x + 1}" y="{y + 1}" width="{CELL_W - 2}" '
                f'height="{CELL_H - 2}" fill="{EMPTY}"/>')  # fmt: skip
    rate = float(r.pass_rate)
    ink = "#ffffff" if rate < 0.2 or rate > 0.75 else INK
    tip = f"{a} · {t}: {int(r.passed)} of {int(r.graded)} passed ({rate:.0%})"
    return (
        f'<g class="heat-cell" data-assignment={quoteattr(a)} data-transition={quoteattr(t)} '
        f'data-pass-rate="{rate:.3f}" data-passed="{int(r.passed)}" data-graded="{int(r.graded)}">'
        f"<title>{escape(tip)}</title>"
        f'<rect x="{x + 1}" y="{y + 1}" width="{CELL_W - 2}" height="{CELL_H - 2}" rx="3" fill="{heat_color(rate)}"/>'
        f'<text x="{x + CELL_W / 2:g}" y="{y + CELL_H / 2 + 4:g}" text-anchor="middle" fill="{ink}">'
        f"{rate:.0%}</text></g>"
    )


def legend_svg() -> str:
    stops = "".join(f'<stop offset="{k / 10:g}" stop-color="{heat_color(k / 10)}"/>' for k in range(11))
    return ('<svg xmlns="http://www.w3.org/2000/svg" class="legend" width="260" height="34" viewBox="0 0 260 34" '
            f'font-family={quoteattr(FONT)} font-size="11"><defs><linearGradient id="heat-legend">{stops}'
            '</linearGradient></defs><rect x="30" y="4" width="200" height="12" fill="url(#heat-legend)"/>'
            f'<text x="30" y="30" fill="{MUTED}">0%</text><text x="230" y="30" text-anchor="end" fill="{MUTED}">'
            "100% passed</text></svg>")  # fmt: skip


def bins_for(max_points: float) -> list[tuple[float, float]]:
    """Whole points up to 20 (one bar each, the last one for full marks), else ten equal bins."""
    if max_points <= 20 and float(max_points).is_integer():
        return [(k, k + 1) for k in range(int(max_points))] + [(max_points, max_points)]
    w = max_points / 10 if max_points > 0 else 1
    return [(k * w, (k + 1) * w) for k in range(10)]


def histogram_svg(assignment: str, totals: pd.DataFrame) -> str:
    max_points = float(totals["max_points"].max())
    bins = bins_for(max_points)
    counts = [0] * len(bins)
    for p in totals["points"]:
        k = next((i for i, (lo, hi) in enumerate(bins) if lo <= p < hi or (lo == hi == p)), len(bins) - 1)
        counts[k] += 1
    w, h, left, bottom, top = 380, 170, 30, 30, 12
    bw = (w - left - 10) / len(bins)
    peak = max(counts) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="score-histogram" data-assignment={quoteattr(assignment)} '
             f'viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" font-family={quoteattr(FONT)} font-size="10">'
             f"<title>{escape(f'{assignment}: scores of {len(totals)} submissions')}</title>",
             f'<line x1="{left}" y1="{h - bottom}" x2="{w - 10}" y2="{h - bottom}" stroke="{MUTED}"/>']  # fmt: skip
    for i, ((lo, hi), n) in enumerate(zip(bins, counts, strict=True)):
        bh = (h - bottom - top) * n / peak
        x, y = left + bw * i, h - bottom - bh
        label = f"{lo:g}" if lo == hi else f"{lo:g}–{hi:g}"
        parts.append(f'<g class="bin"><title>{escape(f"{label} points: {n} submission" + "s" * (n != 1))}</title>'
                     f'<rect class="bar" data-from="{lo:g}" data-to="{hi:g}" data-count="{n}" x="{x + 2:.1f}" '
                     f'y="{y:.1f}" width="{bw - 4:.1f}" height="{bh:.1f}" fill="#0969da"/>'
                     + (f'<text x="{x + bw / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" fill="{INK}">{n}</text>'
                        if n else "")
                     + f'<text x="{x + bw / 2:.1f}" y="{h - bottom + 13}" text-anchor="middle" fill="{MUTED}">'
                     f"{lo:g}</text></g>")  # fmt: skip
    parts.append(
        f'<text x="{w - 10}" y="{h - 4}" text-anchor="end" fill="{MUTED}">points (of {max_points:g})</text></svg>'
    )
    return "".join(parts)
