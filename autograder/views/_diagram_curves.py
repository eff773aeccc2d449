"""The state diagram's geometry: edges as quadratic curves between state boxes, and rectangles.

Kept apart from what the labels say and where they sit (_diagram_labels), which asks these
questions many times over: where a curve runs, where it leaves a box, what it crosses.
"""

from __future__ import annotations

import math
from itertools import pairwise

BOX_W, BOX_H = 136, 36  # a state's box

Rect = tuple[float, float, float, float]  # left, top, right, bottom
Points = list[tuple[float, float]]
# How far a curve's control point may stray from the straight line, least bent first.
BENDS = (0, 30, -30, 60, -60, 90, -90, 120, -120, 150, -150, 180, -180, 240, -240, 300, -300, 360, -360)


def routes(pos, src: str, dst: str, bend: float, size) -> list[tuple[tuple[float, float], ...]]:
    """The edge's possible curves (start, control, end), least bent first: each clears every other box,
    its name included, by 10 px, and stays in the picture (the most bent one if none does)."""
    (x0, y0), (x1, y1) = pos[src], pos[dst]
    n = math.hypot(x1 - x0, y1 - y0) or 1.0
    nx, ny = -(y1 - y0) / n, (x1 - x0) / n
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    others = [state_box(p, 10) for s, p in pos.items() if s not in (src, dst)]
    out = []
    for k in BENDS:
        c = (mx + nx * (bend + k), my + ny * (bend + k))
        curve = (_clip(pos[src], c), c, _clip(pos[dst], c))
        pts = curve_points(curve)
        if all(0 <= x <= size[0] and 30 <= y <= size[1] for x, y in pts) and not any(crosses(pts, b) for b in others):
            out.append(curve)
    return out[:6] or [curve]


def span(pts: Points) -> Rect:
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    return (min(xs) - 1, min(ys) - 1, max(xs) + 1, max(ys) + 1)


def rect_around(c, size) -> Rect:
    return (c[0] - size[0] / 2, c[1] - size[1] / 2, c[0] + size[0] / 2, c[1] + size[1] / 2)


def state_box(p, pad: float) -> Rect:
    return (p[0] - BOX_W / 2 - pad, p[1] - BOX_H / 2 - pad, p[0] + BOX_W / 2 + pad, p[1] + BOX_H / 2 + pad)


def meets(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def crosses(pts: Points, r: Rect) -> bool:
    """Whether the polyline enters the rectangle (Liang-Barsky clipping of each segment)."""
    for (x0, y0), (x1, y1) in pairwise(pts):
        if (
            (x0 < r[0] and x1 < r[0])
            or (x0 > r[2] and x1 > r[2])
            or (y0 < r[1] and y1 < r[1])
            or (y0 > r[3] and y1 > r[3])
        ):
            continue
        lo, hi, dx, dy = 0.0, 1.0, x1 - x0, y1 - y0
        for p, q in ((-dx, x0 - r[0]), (dx, r[2] - x0), (-dy, y0 - r[1]), (dy, r[3] - y0)):
            if p == 0 and q < 0:
                break
            if p < 0:
                lo = max(lo, q / p)
            elif p > 0:
                hi = min(hi, q / p)
        else:
            if lo <= hi:
                return True
    return False


def point_at(curve, t) -> tuple[float, float]:
    (x0, y0), (cx, cy), (x1, y1) = curve
    u = 1 - t
    return (u * u * x0 + 2 * u * t * cx + t * t * x1, u * u * y0 + 2 * u * t * cy + t * t * y1)


def tangent_at(curve, t) -> tuple[float, float]:
    (x0, y0), (cx, cy), (x1, y1) = curve
    dx, dy = (1 - t) * (cx - x0) + t * (x1 - cx), (1 - t) * (cy - y0) + t * (y1 - cy)
    n = math.hypot(dx, dy) or 1.0
    return dx / n, dy / n


def curve_points(curve, steps: int = 32) -> Points:
    return [point_at(curve, i / steps) for i in range(steps + 1)]


def _clip(box_centre, toward) -> tuple[float, float]:
    """Where the line from a box's centre toward a point leaves the box."""
    (x, y), (tx, ty) = box_centre, toward
    dx, dy = tx - x, ty - y
    k = min((BOX_W / 2 + 3) / abs(dx) if dx else math.inf, (BOX_H / 2 + 3) / abs(dy) if dy else math.inf)
    return x + dx * k, y + dy * k
