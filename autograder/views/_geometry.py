"""Text boxes as a browser draws them, and a placer that never lets two of them overlap.

The timeline's labels are set in DejaVu Sans Mono, whose every glyph advances 0.602 em,
so a label's box is known before any browser draws it. Each box is a quadrilateral (labels
along arrows are rotated); two boxes collide when no axis separates them (the separating
axis theorem on convex polygons). The browser test measures the same boxes in chromium.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

CW = 0.602  # advance of one monospace character, in em
ASCENT, DESCENT = 0.78, 0.22  # of the glyphs' ink, in em: what a reader sees overlap
GAP = 3.0  # px a label keeps clear of others where it can: two lines of text that touch read as one

Quad = tuple[tuple[float, float], ...]
Segment2 = tuple[float, float, float, float]  # (x0, y0, x1, y1): a line in the picture
NOWHERE: Quad = ((-1e9, -1e9), (-1e9, -1e9), (-1e9, -1e9), (-1e9, -1e9))  # a candidate ruled out: never free


def text_width(s: str, size: float) -> float:
    return len(s) * size * CW


def wrap_greedy(tokens: list[str], joined, fits) -> list[str]:
    """Tokens packed into as few lines as fit, in order: `joined(line, token)` spells them together,
    `fits(text, k)` says whether `text` fits line k. Never cut: a token longer than a line stands alone."""
    lines: list[str] = []
    cur = ""
    for token in tokens:
        cand = joined(cur, token) if cur else token
        if cur and not fits(cand, len(lines)):
            lines.append(cur)
            cur = token
        else:
            cur = cand
    lines.append(cur)
    return lines


def text_quad(x: float, y: float, lines: list[str], size: float, anchor: str = "start", angle: float = 0.0,
              pivot: tuple[float, float] | None = None, leading: float | None = None) -> Quad:  # fmt: skip
    """The box of text whose first baseline is at (x, y), rotated by `angle` degrees about `pivot`."""
    lead = leading if leading is not None else size + 1
    w = max((text_width(s, size) for s in lines), default=0.0)
    left = x - w if anchor == "end" else x - w / 2 if anchor == "middle" else x
    top, bottom = y - ASCENT * size, y + (len(lines) - 1) * lead + DESCENT * size
    return rotate(((left, top), (left + w, top), (left + w, bottom), (left, bottom)), angle, pivot or (x, y))


def line_quad(x0: float, y0: float, x1: float, y1: float, half: float = 1.0) -> Quad:
    """A line from (x0, y0) to (x1, y1) as a box `half` px either side of it."""
    n = math.hypot(x1 - x0, y1 - y0) or 1.0
    nx, ny = (y0 - y1) / n * half, (x1 - x0) / n * half
    return ((x0 + nx, y0 + ny), (x1 + nx, y1 + ny), (x1 - nx, y1 - ny), (x0 - nx, y0 - ny))


def rect_quad(x: float, y: float, w: float, h: float) -> Quad:
    return ((x, y), (x + w, y), (x + w, y + h), (x, y + h))


def rotate(q: Quad, angle: float, pivot: tuple[float, float]) -> Quad:
    if not angle:
        return q
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    px, py = pivot
    return tuple((px + (x - px) * c - (y - py) * s, py + (x - px) * s + (y - py) * c) for x, y in q)


def overlap(a: Quad, b: Quad, margin: float = 1.0) -> bool:
    """True when the two convex quads overlap by more than `margin` px along every axis."""
    # Rectangles apart in height by d are apart by at least d/√2 along one of their edges' normals, so a
    # pair that far apart is a fast no (most pairs are); the slack covers a negative margin (a gap).
    slack = 1.5 * max(0.0, -margin)
    ay, by = (a[0][1], a[1][1], a[2][1], a[3][1]), (b[0][1], b[1][1], b[2][1], b[3][1])
    if max(ay) + slack < min(by) or max(by) + slack < min(ay):
        return False
    for poly in (a, b):
        for i in range(len(poly)):
            (x0, y0), (x1, y1) = poly[i], poly[(i + 1) % len(poly)]
            nx, ny = y0 - y1, x1 - x0
            n = math.hypot(nx, ny) or 1.0
            nx, ny = nx / n, ny / n
            pa = [x * nx + y * ny for x, y in a]
            pb = [x * nx + y * ny for x, y in b]
            if min(max(pa), max(pb)) - max(min(pa), min(pb)) <= margin:
                return False
    return True


def inside(q: Quad, width: float, height: float) -> bool:
    return all(0 <= x <= width and 0 <= y <= height for x, y in q)


class Shelves:
    """Quads filed by height on shelves SHELF px tall, so that a check looks only at the quads near its
    own: a divergence tag tries ~60 places against every label of a long run (05's old duplicate with a
    mistake took 1.2 s to draw). Iterates, and appends, like the list it stands for."""

    SHELF = 64.0

    def __init__(self) -> None:
        self.items: list[Quad] = []
        self.shelves: dict[int, list[int]] = {}

    def append(self, q: Quad) -> None:
        ys = [y for _, y in q]
        for k in range(int(min(ys) // self.SHELF), int(max(ys) // self.SHELF) + 1):
            self.shelves.setdefault(k, []).append(len(self.items))
        self.items.append(q)

    def near(self, q: Quad, pad: float) -> list[Quad]:
        """Every quad whose height range comes within `pad` px of q's (and maybe a few farther)."""
        ys = [y for _, y in q]
        lo, hi = int((min(ys) - pad) // self.SHELF), int((max(ys) + pad) // self.SHELF)
        if hi - lo > 64:  # taller than the shelves are worth: all of them
            return self.items
        found = sorted({i for k in range(lo, hi + 1) for i in self.shelves.get(k, ())})
        return [self.items[i] for i in found]

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class Placer:
    """The boxes drawn so far; a new label takes the first of its candidate places that is free."""

    width: float
    height: float = math.inf
    boxes: Shelves = field(default_factory=Shelves)
    lines: Shelves = field(default_factory=Shelves)  # the arrows: a timer's label must not sit on one
    bands: list[Quad] = field(default_factory=list)  # the breaks' zigzags: a label goes there only if nowhere else
    bars: list[Quad] = field(default_factory=list)  # the timers' bars: a segment's label keeps off them where it can
    dropped: int = 0
    on_lines: int = 0  # timer labels placed over an arrow because no place clear of them was free
    past_lifelines: int = 0  # segment labels that run past a lifeline because no place between was free
    tight: int = 0  # timer labels placed closer than GAP to another label because no place farther was free
    crossed: int = 0  # segment labels over another segment's arrow because no place clear of them was free
    on_bands: int = 0  # segment and timer labels on a break's zigzag because no other place was free
    loose_tags: int = 0  # divergence tags across a lifeline or a timer's bar, for want of a place between them
    far_tags: int = 0  # divergence tags drawn under the panel's name, far from their ring, for want of a nearer place
    crowded: list[tuple[float, float]] = field(default_factory=list)  # heights where a label took a fallback place
    crossings: list[tuple[float, float]] = field(default_factory=list)  # of those, a segment label's

    def free(
        self,
        q: Quad,
        clear_of_lines: bool = False,
        along: Segment2 | None = None,
        bands: bool = True,
        bars: bool = False,
        gap: float = 0.0,
    ) -> bool:
        """Inside the picture, on no box (nor, with bands, a break), and (clear_of_lines) on no arrow but
        the one it runs `along`; with gap, that many px clear of every box."""
        pad = 2 + 1.5 * max(gap, 0.0)  # farther than overlap()'s slack for this margin: a fast no there anyway
        if not inside(q, self.width, self.height) or any(
            overlap(q, b, margin=1.0 - gap) for b in self.boxes.near(q, pad)
        ):
            return False
        if bands and any(overlap(q, b) for b in self.bands):
            return False
        if bars and any(overlap(q, b, margin=0.5) for b in self.bars):
            return False
        return not clear_of_lines or not any(
            overlap(q, ln, margin=0.5) for ln in self.lines.near(q, 2) if along is None or not _lies_along(ln, along)
        )

    def add(self, q: Quad) -> Quad:
        self.boxes.append(q)
        return q

    def add_line(self, x0: float, y0: float, x1: float, y1: float, half: float = 1.5) -> None:
        """An arrow, as a thin box along it."""
        self.lines.append(line_quad(x0, y0, x1, y1, half))

    def first_free(
        self,
        candidates: list[Quad],
        clear_of_lines: bool = False,
        along: Segment2 | None = None,
        bands: bool = True,
        bars: bool = False,
        gap: float = 0.0,
    ) -> int | None:
        for i, q in enumerate(candidates):
            if self.free(q, clear_of_lines, along, bands, bars, gap):
                return i
        return None


def _lies_along(line: Quad, seg: Segment2) -> bool:
    """Whether an arrow's thin box runs along the segment (x0, y0, x1, y1): its own arrow, or part of it."""
    x0, y0, x1, y1 = seg
    n = math.hypot(x1 - x0, y1 - y0) or 1.0
    mids = [((line[0][0] + line[3][0]) / 2, (line[0][1] + line[3][1]) / 2),
            ((line[1][0] + line[2][0]) / 2, (line[1][1] + line[2][1]) / 2)]  # fmt: skip
    return all(abs((x1 - x0) * (y0 - py) - (x0 - px) * (y1 - y0)) / n < 1.0 for px, py in mids)
