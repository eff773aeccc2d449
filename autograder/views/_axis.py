"""Where things go in a sequence diagram: the panels' columns and the time axis they share.

The vertical axis is shared by all panels: each distinct event time gets a row, each
event at that time and endpoint one or more lines ("slots") within the row, so lane
notes never overlap however many things happen in one instant. Gaps between rows grow
with the logarithm of the idle time; gaps over half a second become breaks, taller the
longer they are. Panels share the time column on the left, so a moment sits at one
height in every panel.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

from ._fold import Fold
from ._geometry import text_width, wrap_greedy
from ._style import SMALL
from .explain import Captions
from .model import SLOT_EVENTS, Event

LINE = 18  # one slot
BREAK_US = 500_000  # idle gaps longer than this are folded
FOLD_H = 58  # a band where repeated moments are not drawn: room for its words between the zigzags
PANEL_GAP = 18


@dataclass(frozen=True)
class Geometry:
    compact: bool = False

    @property
    def time_col(self) -> int:
        return 80 if self.compact else 70

    @property
    def time_x(self) -> int:
        """Where the times end (they stand right-aligned): side by side, 22 px short of the first panel,
        so that its labels have the room the other panel's have and still keep clear of the times."""
        return self.time_col - (22 if self.compact else 6)

    def label_left(self, i: int) -> int:
        """The left edge of panel i's labels: a timer's name in the first panel keeps 22 px from the
        times ("0.070 TIME_WAIT 240 s" read as one line)."""
        return self.ox(i) + (16 if i == 0 and not self.compact else 0)

    @property
    def side(self) -> int:
        return 112 if self.compact else 190

    @property
    def gap(self) -> int:
        return 206 if self.compact else 430

    @property
    def panel_w(self) -> int:
        return 2 * self.side + self.gap

    def ox(self, i: int) -> int:
        """The left edge of panel i (right of the shared time column)."""
        return self.time_col + i * (self.panel_w + PANEL_GAP)

    def xa(self, i: int) -> int:
        return self.ox(i) + self.side

    def xb(self, i: int) -> int:
        return self.xa(i) + self.gap

    def width(self, n: int) -> int:
        return self.time_col + n * self.panel_w + (n - 1) * PANEL_GAP

    @property
    def note_room(self) -> float:
        return self.side - 16


@dataclass
class Panel:
    name: str
    events: list[Event]
    total: int = 0  # events in the whole trace (more than shown when windowed)
    start: int = 0
    captions: Captions | None = None
    appear: dict[int, int] = field(default_factory=dict)  # event index -> animation step
    mark: int | None = None  # the event marked as the first divergence
    folds: dict[int, Fold] = field(default_factory=dict)  # time of the last moment drawn before -> the fold

    @property
    def drawn_or_folded(self) -> int:
        return len(self.events) + sum(f.events for f in self.folds.values())


@dataclass
class Axis:
    top: float
    times: list[int] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    slots: list[dict[int, int]] = field(default_factory=list)
    breaks: list[tuple[float, float, int]] = field(default_factory=list)
    break_from: list[int] = field(default_factory=list)  # the time of the row above each break
    bottom: float = 0.0

    def y(self, panel: int, e: Event) -> float:
        i = bisect_right(self.times, e.time) - 1
        return self.ys[i] + self.slots[panel].get(e.index, 0) * LINE

    def y_at(self, t: int) -> float:
        """Where an arbitrary time falls (for a lost segment's would-be arrival)."""
        if not self.times:
            return self.top
        i = bisect_right(self.times, t) - 1
        if i < 0:
            return self.ys[0]
        if i + 1 >= len(self.ys):
            return min(self.ys[-1] + spacing(t - self.times[-1]), self.bottom - 8)
        t0, t1 = self.times[i], self.times[i + 1]
        return self.ys[i] + (self.ys[i + 1] - self.ys[i]) * (t - t0) / (t1 - t0)

    def break_after(self, y: float) -> tuple[float, float] | None:
        """The first break band below y."""
        return next(((a, b) for a, b, _ in self.breaks if a >= y - 1), None)

    def pieces(self, y0: float, y1: float) -> list[tuple[float, float]]:
        """[y0, y1] without the break bands it crosses (a timer bar is not drawn across a break)."""
        out, cur = [], y0
        for a, b, _ in self.breaks:
            if a + 9 >= y1 or b - 6 <= cur:
                continue
            if a + 9 > cur:
                out.append((cur, a + 9))
            cur = b - 6
        if y1 > cur:
            out.append((cur, y1))
        return out


def spacing(dt: int) -> float:
    """Vertical room for an idle gap: logarithmic, so 10 ms and 300 ms both read as time."""
    return 0.0 if dt <= 0 else 20 + 30 * math.log2(1 + dt / 10_000)


def break_height(dt: int) -> float:
    """Taller for longer gaps (doubling gaps read as doubling), within bounds."""
    return min(44 + 9 * math.log2(max(dt / BREAK_US, 1.0)), 110)


def note_lines(note: str, first_room: float, room: float, size: float = SMALL) -> list[str]:
    """A note wrapped at spaces: the first line beside a state pill (first_room), the rest
    under it (room). Never cut: a word longer than a line stands alone."""
    if not note:
        return []
    words = []
    for word in note.split(" "):  # a word longer than a line breaks before a parenthesis
        if text_width(word, size) > room and "(" in word[1:]:
            k = word.index("(", 1)
            words += [word[:k], word[k:]]
        else:
            words.append(word)
    lines = wrap_greedy(words, lambda cur, word: f"{cur} {word}",
                        lambda text, k: text_width(text, size) <= (first_room if k == 0 else room))  # fmt: skip
    if lines and text_width(lines[0], size) > first_room and first_room < room:
        lines.insert(0, "")  # nothing fits beside the pill: start under it
    return lines


def pill_width(state: str, size: float = SMALL) -> float:
    return text_width(state, size) + 12


def layout(panels: list[list[Event]], geom: Geometry, lines: list[dict[int, int]] | None = None,
           top: float = 0.0, room: dict[int, float] | None = None, folds: frozenset[int] = frozenset()) -> Axis:  # fmt: skip
    """Rows per distinct time, slots per event (an event may take several lines), breaks (after
    every long idle gap, and after each time in `folds`, where repeated moments are not drawn).
    room: how many times its usual height the gap after a row's time gets (where labels were crowded)."""
    named = len(panels) > 1
    axis = Axis(top=top or (108 + (44 if named else 0)))
    height: dict[int, int] = defaultdict(lambda: 1)
    for p, evs in enumerate(panels):
        count: dict[tuple[int, str], int] = defaultdict(int)
        slots: dict[int, int] = {}
        want = lines[p] if lines else {}
        for e in evs:
            k = (e.time, e.endpoint)
            if e.event in SLOT_EVENTS:
                slots[e.index] = count[k]
                count[k] += want.get(e.index, 1)
                height[e.time] = max(height[e.time], count[k])
            else:
                slots[e.index] = max(count[k] - 1, 0)
        axis.slots.append(slots)
    axis.times = sorted({e.time for evs in panels for e in evs})
    y = axis.top
    for i, t in enumerate(axis.times):
        axis.ys.append(y)
        h = height[t] * LINE
        if i + 1 < len(axis.times):
            dt = axis.times[i + 1] - t
            if dt > BREAK_US or t in folds:
                bh = max(break_height(dt), FOLD_H if t in folds else 0)
                # room above the break where labels were crowded (a lost ACK's label, just before it, lay on
                # the zigzag past B's lifeline)
                pre = ((room or {}).get(t, 1.0) - 1.0) * 2 * LINE
                axis.breaks.append((y + h + pre - 4, y + h + pre - 4 + bh, dt))
                axis.break_from.append(t)
                y += h + pre + bh + 6
            else:
                y += max(h + 6, (room or {}).get(t, 1.0) * spacing(dt))
    last = height[axis.times[-1]] * LINE if axis.times else 0
    axis.bottom = y + last + (40 if axis.times else 150)
    return axis


def fmt_gap(dt: int) -> str:
    s = dt / 1e6
    return f"≈ {s:.0f} s" if s >= 10 else f"≈ {s:.1f} s".replace(".0 s", " s")
