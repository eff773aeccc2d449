"""Geometry and drawing primitives behind `svg.render_svg` (kept apart so svg.py reads as the API).

The vertical axis is shared by all panels: each distinct event time gets a row, each
event at that time and endpoint one or more lines ("slots") within the row, so lane
notes never overlap however many things happen in one instant. Gaps between rows grow
with the logarithm of the idle time; gaps over half a second become breaks, taller the
longer they are. Panels share the time column on the left, so a moment sits at one
height in every panel.

Legibility rules the browser test holds us to (tests/browser/test_legibility_browser.py):
no text under 11 px at 1:1 (the pictures are sized to fit a JupyterLab output at
1400x900 without scaling), no two labels overlapping (every label is placed through
`_geometry.Placer`), nothing outside the picture, no note cut short (long notes wrap).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from reference_impl.segment import Flags
from reference_impl.trace import EventKind

from ._geometry import CW, Placer, rect_quad, text_quad, text_width
from .explain import Captions
from .model import SLOT_EVENTS, Event, pair_flights, timer_brackets

LINE = 18  # one slot
BREAK_US = 500_000  # idle gaps longer than this are folded
PANEL_GAP = 18
FONT = "'DejaVu Sans Mono', ui-monospace, Menlo, Consolas, monospace"
SMALL = 11  # the smallest text anywhere
LABEL = 12

# Colours: every one keeps at least 4.5:1 contrast with white text on it (pills) or with the
# white ground under it (text), WCAG 2.1 AA (tests/views/test_accessibility.py).
STATE_COLORS = {
    "ESTABLISHED": "#1a7f37", "FIN_WAIT_1": "#0860ca", "FIN_WAIT_2": "#0550ae",
    "CLOSING": "#7443c9", "TIME_WAIT": "#875b00", "CLOSE_WAIT": "#176f75",
    "LAST_ACK": "#0e5a5f", "CLOSED": "#57606a",
}  # fmt: skip
# Shapes tell the kinds of state apart without colour: a round pill for the synchronized
# state, a square-cornered tag for those closing, a dashed outline for CLOSED.
STATE_RADIUS = {"ESTABLISHED": 8, "CLOSED": 0}
LOST = "#cf222e"
MUTED = "#59636e"
INK = "#1f2328"
TIMER_COLORS = {"TIME_WAIT": "#875b00", "RETRANSMIT": "#6639ba"}


def seg_color(flags: Flags | None, length: int | None) -> str:
    flags = flags or Flags.NONE
    if Flags.RST in flags:
        return "#a84400"
    if Flags.FIN in flags:
        return "#0860ca"
    if length:
        return "#7443c9"
    return "#1a7f37"


_NOWHERE = ((-1e9, -1e9), (-1e9, -1e9), (-1e9, -1e9), (-1e9, -1e9))  # a candidate ruled out: never free


@dataclass(frozen=True)
class Geometry:
    compact: bool = False

    @property
    def time_col(self) -> int:
        return 64 if self.compact else 70

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


@dataclass
class Axis:
    top: float
    times: list[int] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    slots: list[dict[int, int]] = field(default_factory=list)
    breaks: list[tuple[float, float, int]] = field(default_factory=list)
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
            if a + 6 >= y1 or b - 6 <= cur:
                continue
            if a + 6 > cur:
                out.append((cur, a + 6))
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
    lines: list[str] = []
    cur = ""
    words = []
    for word in note.split(" "):  # a word longer than a line breaks before a parenthesis
        if text_width(word, size) > room and "(" in word[1:]:
            k = word.index("(", 1)
            words += [word[:k], word[k:]]
        else:
            words.append(word)
    for word in words:
        limit = first_room if not lines else room
        cand = f"{cur} {word}" if cur else word
        if cur and text_width(cand, size) > limit:
            lines.append(cur)
            cur = word
        else:
            cur = cand
    lines.append(cur)
    if lines and text_width(lines[0], size) > first_room and first_room < room:
        lines.insert(0, "")  # nothing fits beside the pill: start under it
    return lines


def pill_width(state: str, size: float = SMALL) -> float:
    return text_width(state, size) + 12


def layout(panels: list[list[Event]], geom: Geometry, lines: list[dict[int, int]] | None = None,
           top: float = 0.0, stretch: float = 1.0) -> Axis:  # fmt: skip
    """Rows per distinct time, slots per event (an event may take several lines), breaks."""
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
            if dt > BREAK_US:
                bh = break_height(dt)
                axis.breaks.append((y + h - 4, y + h - 4 + bh, dt))
                y += h + bh + 6
            else:
                y += max(h + 6, stretch * spacing(dt))
    last = height[axis.times[-1]] * LINE if axis.times else 0
    axis.bottom = y + last + (40 if axis.times else 150)
    return axis


def fmt_gap(dt: int) -> str:
    s = dt / 1e6
    return f"≈ {s:.0f} s" if s >= 10 else f"≈ {s:.1f} s".replace(".0 s", " s")


def _t(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


class Canvas:
    """Accumulates SVG elements; one instance draws one picture."""

    def __init__(self, geom: Geometry, axis: Axis, n_panels: int, heading: str, animate: bool) -> None:
        self.g, self.axis, self.n, self.animate = geom, axis, n_panels, animate
        self.heading = heading
        self.width = geom.width(n_panels)
        self.back: list[str] = []  # bands, drawn under everything
        self.out: list[str] = []
        self.front: list[str] = []
        self.panels: list[Panel] = []
        self.place = Placer(self.width, math.ceil(axis.bottom))
        self.appear: dict[int, int] = {}
        self.step_y: dict[int, float] = {}  # animation step -> the highest y of what appears then

    # ---- primitives -------------------------------------------------------------------

    def _anim(self, a: int | None, b: int | None = None) -> str:
        """Appear at the step of event `a`, disappear at step `b` (a step number)."""
        if not self.animate or a is None:
            return ""
        step = self.appear.get(a)
        if step is None:
            return ""
        style = f"--a:{step}" + (f";--b:{b}" if b is not None else "")
        return f' class="tv" style="{style}"'

    def text(self, x, y, s, *, size=SMALL, anchor="start", color=INK, weight="", extra="", a=None, b=None, to=None,
             register=True):  # fmt: skip
        w = f' font-weight="{weight}"' if weight else ""
        dest = self.out if to is None else to
        dest.append(
            f'<text x="{_t(x)}" y="{_t(y)}" font-size="{size}" text-anchor="{anchor}" fill="{color}"{w}{extra}'
            f"{self._anim(a, b)}>{escape(s)}</text>"
        )
        if register:
            self.place.add(text_quad(x, y, [s], size, anchor))

    def line(self, x1, y1, x2, y2, color, *, width=1.6, dash="", a=None, b=None, to=None, cls=""):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        c = f' data-kind="{cls}"' if cls else ""
        (self.out if to is None else to).append(
            f'<line x1="{_t(x1)}" y1="{_t(y1)}" x2="{_t(x2)}" y2="{_t(y2)}" stroke="{color}" '
            f'stroke-width="{width}"{d}{c}{self._anim(a, b)}/>'
        )

    def head(self, x1, y1, x2, y2, color, a=None, hollow=False) -> None:
        dx, dy = x2 - x1, y2 - y1
        n = math.hypot(dx, dy) or 1.0
        ux, uy = dx / n, dy / n
        bx, by = x2 - 10 * ux, y2 - 10 * uy
        pts = f"{_t(x2)},{_t(y2)} {_t(bx - 4.5 * uy)},{_t(by + 4.5 * ux)} {_t(bx + 4.5 * uy)},{_t(by - 4.5 * ux)}"
        fill = "#ffffff" if hollow else color
        self.out.append(f'<polygon points="{pts}" fill="{fill}" stroke="{color}"{self._anim(a)}/>')

    def pill(self, x, y, state, anchor, a=None, size=SMALL) -> float:
        """A state name on a coloured tag; returns its width. The shape says what kind of state
        it is (see STATE_RADIUS), the text which one."""
        w = pill_width(state, size)
        x0 = x - w if anchor == "end" else x
        color = STATE_COLORS.get(state, MUTED)
        rx = STATE_RADIUS.get(state, 3)
        outline = ' stroke="#1f2328" stroke-width="1.5" stroke-dasharray="3 2"' if state == "CLOSED" else ""
        self.out.append(
            f'<g data-state="{escape(state)}"{self._anim(a)}><rect x="{_t(x0)}" y="{_t(y - 8)}" width="{_t(w)}" height="16" '
            f'rx="{rx}" fill="{color}"{outline}/>'
            f'<text x="{_t(x0 + w / 2)}" y="{_t(y + 4)}" font-size="{size}" text-anchor="middle" fill="#ffffff" '
            f'font-weight="bold">{escape(state)}</text></g>'
        )
        self.place.add(rect_quad(x0, y - 8, w, 16))
        return w

    # ---- one panel -------------------------------------------------------------------

    def panel(self, i: int, p: Panel) -> None:
        g, ax = self.g, self.axis
        ox, xa, xb = g.ox(i), g.xa(i), g.xb(i)
        self.appear = p.appear
        self.panels.append(p)
        top = ax.top - 66
        if p.name:
            self.text(ox + g.panel_w / 2, top - 30, p.name, size=14, anchor="middle", weight="bold")
        starts = {"A": "", "B": ""}
        for e in p.events:
            if e.endpoint in starts and not starts[e.endpoint]:
                starts[e.endpoint] = e.before or e.after
        for ep, x, role in (("A", xa, "client"), ("B", xb, "server")):
            present = bool(starts[ep]) or not p.events
            self.out.append(
                f'<rect x="{_t(x - 52)}" y="{_t(top)}" width="104" height="24" rx="6" '
                f'fill="{"#24292f" if present else "#59636e"}"/>'
            )
            self.text(x, top + 16, f"{ep} · {role}", size=LABEL, anchor="middle", color="#ffffff", weight="bold")
            self.line(x, top + 24, x, ax.bottom - 12, "#424a53" if present else "#8c959f", width=2,
                      dash="" if present else "4 4")  # fmt: skip
            if starts[ep]:
                self.pill(x - pill_width(starts[ep]) / 2, top + 42, starts[ep], "start")
            elif p.events:
                self.text(x, top + 46, "no events", size=SMALL, anchor="middle", color=MUTED)
        if not p.events:
            self._empty(i)
            return
        if p.total > len(p.events):
            shown = f"showing events {p.start + 1}–{p.start + len(p.events)} of {p.total:,}"
            self.text(ox + g.panel_w / 2, ax.bottom - 16, shown, size=LABEL, anchor="middle", color=LOST, weight="bold")
            self.place.add(
                text_quad(ox + g.panel_w / 2, ax.bottom - 16, [shown], LABEL, "middle")
            )  # labels keep off it
        if i == 0:
            self._times(p.events)
            self._break_labels()
        self._break_bands(i)
        self._states(i, p)
        for args in self._flights(i, p):  # the arrows first, then their labels, then the timers' around them
            self._label(*args)
        self._brackets(i, p)

    def _empty(self, i: int) -> None:
        g, y = self.g, self.axis.top + 40
        cx = (g.xa(i) + g.xb(i)) / 2
        self.out.append(
            f'<rect x="{_t(cx - 100)}" y="{_t(y - 26)}" width="200" height="78" rx="10" fill="#f6f8fa" stroke="#d0d7de"/>'
        )
        self.text(cx, y, "Nothing happened", size=14, anchor="middle", weight="bold")
        self.text(cx, y + 22, "no close(), no segment,", size=SMALL, anchor="middle", color=MUTED)
        self.text(cx, y + 38, "no timer", size=SMALL, anchor="middle", color=MUTED)

    def _times(self, events: list[Event]) -> None:
        """The time of every row, in the shared column (the first panel draws it for all)."""
        ax = self.axis
        for t, y in zip(ax.times, ax.ys, strict=True):
            self.text(self.g.time_col - 6, y + 4, f"{t / 1e6:.3f}", size=SMALL, anchor="end", color=MUTED)
        if self.animate:  # the current instant's band, in every panel at once
            for t, y in zip(ax.times, ax.ys, strict=True):
                steps = [s for p in self._all_panels for e in p.events if e.time == t
                         for s in [p.appear.get(e.index)] if s is not None]  # fmt: skip
                if steps:
                    self.back.append(
                        f'<rect x="0" y="{_t(y - LINE / 2)}" width="{self.width}" height="{LINE}" fill="#fff8c5" '
                        f'class="tv" style="--a:{min(steps)};--b:{max(steps) + 1}"/>'
                    )

    def _break_labels(self) -> None:
        for y0, y1, dt in self.axis.breaks:
            mid = (y0 + y1) / 2 + 4
            self.text(self.g.time_col - 6, mid, fmt_gap(dt), size=SMALL, anchor="end", color=INK, weight="bold")

    def _break_bands(self, i: int) -> None:
        g = self.g
        for y0, y1, dt in self.axis.breaks:
            ox = g.ox(i)
            self.out.append(
                f'<rect x="{_t(ox)}" y="{_t(y0 + 6)}" width="{g.panel_w}" height="{_t(y1 - y0 - 12)}" fill="#ffffff" '
                f'data-kind="break"/>'
            )
            for yy in (y0 + 6, y1 - 6):
                pts = " ".join(
                    f"{_t(g.xa(i) - 30 + k * 12)},{_t(yy + (3 if k % 2 else -3))}"
                    for k in range(int((g.gap + 60) / 12) + 1)
                )
                self.out.append(f'<polyline points="{pts}" fill="none" stroke="#8c959f" stroke-width="1.2"/>')
            mid = (y0 + y1) / 2 + 4
            self.text((g.xa(i) + g.xb(i)) / 2, mid, f"{fmt_gap(dt)} later", size=LABEL, anchor="middle", color=MUTED,
                      extra=' font-style="italic"')  # fmt: skip

    def _states(self, i: int, p: Panel) -> None:
        g, ax = self.g, self.axis
        cap = p.captions or Captions(p.events)
        for e in p.events:
            if e.endpoint not in ("A", "B"):
                continue
            note = cap.note(e)
            if not note and not e.changes_state:
                continue
            y = ax.y(i, e)
            left = e.endpoint == "A"
            x = g.xa(i) - 12 if left else g.xb(i) + 12
            a = e.index
            pw = self.pill(x, y, e.after, "end" if left else "start", a=a) if e.changes_state else 0.0
            lines = note_lines(note, g.note_room - pw - (6 if pw else 0), g.note_room)
            color = LOST if e.event == EventKind.ERROR else MUTED
            tip = escape(cap.sentence(e))
            for k, ln in enumerate(lines):
                if not ln:
                    continue
                nx = (x - pw - 6 if left else x + pw + 6) if k == 0 and pw else x
                anchor = "end" if left else "start"
                self.out.append(
                    f'<text x="{_t(nx)}" y="{_t(y + 4 + k * LINE)}" font-size="{SMALL}" text-anchor="{anchor}" '
                    f'fill="{color}"{self._anim(a)}><title>{tip}</title>{escape(ln)}</text>'
                )
                self.place.add(text_quad(nx, y + 4 + k * LINE, [ln], SMALL, anchor))

    def _brackets(self, i: int, p: Panel) -> None:
        ax, g = self.axis, self.g
        lanes: dict[str, list[float]] = defaultdict(list)  # endpoint → end y of each column
        for chain in _chains(timer_brackets(p.events)):
            first, last = chain[0], chain[-1]
            y0 = ax.y(i, first.start)
            y1 = ax.y(i, last.end) if last.end is not None else ax.bottom - 18
            cols = lanes[first.endpoint]
            col = next((k for k, end in enumerate(cols) if end <= y0), len(cols))
            if col == len(cols):
                cols.append(y1)
            cols[col] = y1
            sign = 1 if first.endpoint == "A" else -1
            x = (g.xa(i) if first.endpoint == "A" else g.xb(i)) + sign * (9 + 8 * col)
            color = TIMER_COLORS.get(first.timer, "#59636e")
            a = first.start.index
            dash = "3 3" if last.how == "open" else ""
            for s0, s1 in ax.pieces(y0, y1):
                self.line(x, s0, x, s1, color, width=2.4, dash=dash, a=a, cls="timer")
            self.line(x, y0, x - sign * 6, y0, color, width=2.4, a=a)
            for br in chain[1:]:  # each restart: a tick across the bar
                yr = ax.y(i, br.start)
                self.line(x - 5, yr, x + 5, yr, color, width=2, a=br.start.index)
            end_a = last.end.index if last.end is not None else None
            if last.how == "expired":
                self.out.append(f'<circle cx="{_t(x)}" cy="{_t(y1)}" r="4" fill="{color}"{self._anim(end_a)}/>')
            elif last.how != "open":
                self.line(x, y1, x - sign * 6, y1, color, width=2.4, a=end_a)
            label = f"{first.timer} {first.duration}".strip()
            if len(chain) > 1:
                # the label stands at the first start: the restarts come later, at the ticks across the bar
                label += " + restart" if len(chain) == 2 else f" + {len(chain) - 1} restarts"
            lane = g.xa(i) if first.endpoint == "A" else g.xb(i)
            self._timer_label(x, y0, y1, sign, label, color, a, lane, (g.ox(i), g.ox(i) + g.panel_w))

    def _timer_label(self, x, y0, y1, sign, label, color, a, lane: float, panel: tuple[float, float]) -> None:
        """Along the bar where it is long enough, else beside its start or end; never over
        another label (arrows' labels are placed first), nor an arrow where a place clear of them
        is free. Where nothing is free the bar keeps its name as a tooltip, and the caption and the
        text table say it."""
        halo = ' paint-order="stroke" stroke="#ffffff" stroke-width="3"'
        cands: list[tuple[float, float, str, float]] = []
        for piece0, piece1 in self.axis.pieces(y0, y1):
            if piece1 - piece0 > text_width(label, SMALL) + 16:
                # rotated a quarter turn, the glyphs stand to the right of their baseline's x
                cands.append((x + 12 if sign > 0 else x - 14, piece0 + 6, "start", 90.0))
        anchor = "start" if sign > 0 else "end"
        for yy in (y0 + 14, y0 - 5, y1 + 14, y0 + 28):
            cands.append((x + sign * 6, yy, anchor, 0.0))
        # Outside the lifeline, under the state's pill, where the arrows between the lanes do not go.
        outside = "end" if sign > 0 else "start"
        for yy in (y0 + 14, y1 + 14, y0 + 28):
            cands.append((lane - sign * 8, yy, outside, 0.0))
        quads = [text_quad(tx, ty, [label], SMALL, anc, ang) for tx, ty, anc, ang in cands]
        # within its own panel: side by side, a label outside B's lifeline would run into the next panel
        quads = [q if all(panel[0] <= px <= panel[1] for px, _ in q) else _NOWHERE for q in quads]
        k = self.place.first_free(quads, clear_of_lines=True)  # "TIME_WAIT 240 s" struck through by an arrow
        if k is None:
            k = self.place.first_free(quads)
            self.place.on_lines += k is not None
        if k is None:
            self.place.dropped += 1
            self.out.append(f"<!-- timer {escape(label)}: no free place for its label -->")
            return
        tx, ty, anc, ang = cands[k]
        rot = f' transform="rotate({ang:g} {_t(tx)} {_t(ty)})"' if ang else ""
        self.out.append(
            f'<text x="{_t(tx)}" y="{_t(ty)}" font-size="{SMALL}" text-anchor="{anc}" data-kind="timer" '
            f'fill="{color}"{rot}{halo}{self._anim(a)}>{escape(label)}</text>'
        )
        self.place.add(quads[k])

    def _flights(self, i: int, p: Panel) -> list[tuple]:
        """Draw every segment's arrow; return their labels, to place once the timers' are."""
        ax, g = self.axis, self.g
        lane = {"A": g.xa(i), "B": g.xb(i)}
        cap = p.captions or Captions(p.events)
        flights = pair_flights(p.events)
        delays = sorted(r.time - f.send.time for f in flights if f.send is not None for r in f.recvs[:1])
        delay = delays[len(delays) // 2] if delays else 10_000
        labels: list[tuple] = []
        number = {"A": 0, "B": 0}
        for f in sorted(flights, key=lambda f: (f.send or f.recvs[0]).index):
            if f.sender not in lane:
                continue
            peer = "B" if f.sender == "A" else "A"
            s = f.send
            color = seg_color((s or f.recvs[0]).flags, (s or f.recvs[0]).length)
            if s is not None:
                number[f.sender] += 1
            name = f"{f.sender}{number[f.sender]}" if s is not None else ""
            text = f"{name} {f.text}".strip()
            if s is None:  # an arrival whose send is not in this trace
                r = f.recvs[0]
                y1 = ax.y(i, r)
                y0 = max(ax.y_at(r.time - delay), y1 - 30)
                self._arrow(lane[f.sender], y0, lane[peer], y1, color, "5 4", r.index, r.index)
                labels.append((lane[f.sender], y0, lane[peer], y1, text, color, r.index, r, cap))
                continue
            y0 = ax.y(i, s)
            if not f.recvs:
                y1 = max(ax.y_at(s.time + delay), y0 + 30)
                band = ax.break_after(y0)
                if band is not None and y1 > band[0] + 2:
                    y1 = max(band[0] + 2, y0 + 20)  # stop short of the break and its label
                x1 = lane[peer]
                if s.fate == "lost":
                    mx, my = (lane[f.sender] + x1) / 2, (y0 + y1) / 2
                    self.line(lane[f.sender], y0, mx, my, color, width=1.8, a=s.index)
                    self.place.add_line(lane[f.sender], y0, mx, my)
                    self.out.append(
                        f'<path d="M{_t(mx - 6)},{_t(my - 6)} L{_t(mx + 6)},{_t(my + 6)} M{_t(mx - 6)},{_t(my + 6)} '
                        f'L{_t(mx + 6)},{_t(my - 6)}" stroke="{LOST}" stroke-width="3.2" data-kind="lost"'
                        f"{self._anim(s.index)}/>"
                    )
                    self.place.add(rect_quad(mx - 7, my - 7, 14, 14))
                    self._lost_label(mx, my, s.index)
                    labels.append((lane[f.sender], y0, x1, y1, text, color, s.index, s, cap))
                else:  # sent, but its arrival is not in the trace (cut short, or one endpoint only)
                    self._arrow(lane[f.sender], y0, x1, y1, color, "5 4", s.index, s.index, hollow=True)
                    labels.append((lane[f.sender], y0, x1, y1, text, color, s.index, s, cap))
                continue
            for k, r in enumerate(f.recvs):
                y1 = ax.y(i, r)
                self._arrow(lane[f.sender], y0, lane[peer], y1, color, "6 4" if k else "", s.index, r.index)
                if k == 0:
                    labels.append((lane[f.sender], y0, lane[peer], y1, text, color, s.index, s, cap))
                else:  # the network's copy: say so along its (dashed) arrow
                    labels.append((lane[f.sender], y0, lane[peer], y1, "second copy", color, r.index, r, cap))
        return labels

    def _lost_label(self, mx: float, my: float, a: int) -> None:
        cands = [(mx, my + 20, "middle"), (mx + 11, my + 4, "start"), (mx - 11, my + 4, "end"), (mx, my - 12, "middle")]
        quads = [text_quad(x, y, ["lost"], SMALL, anc) for x, y, anc in cands]
        k = self.place.first_free(quads)
        k = 0 if k is None else k
        x, y, anc = cands[k]
        self.text(x, y, "lost", size=SMALL, anchor=anc, color=LOST, weight="bold", a=a)

    def _arrow(self, x0, y0, x1, y1, color, dash, a0, a1, hollow=False) -> None:
        self.place.add_line(x0, y0, x1, y1)
        if self.animate and a1 != a0:  # in flight from the send step, arrives at the recv step
            mx, my = (x0 + x1) / 2, (y0 + y1) / 2
            self.line(x0, y0, mx, my, color, width=1.8, dash=dash, a=a0)
            self.line(mx, my, x1, y1, color, width=1.8, dash=dash, a=a1)
        else:
            self.line(x0, y0, x1, y1, color, width=1.8, dash=dash, a=a0)
        self.head(x0, y0, x1, y1, color, a=a1, hollow=hollow)

    def _label_lines(self, label: str, narrow: bool = False) -> list[str]:
        """The RFC text in lines that fit along an arrow: one line when it fits, else as few
        lines as fit (narrow: lines of at most a third of the gap, for arrows that cross)."""
        room = self.g.gap * (0.4 if narrow else 0.78)
        if text_width(label, LABEL if not self.g.compact else SMALL) <= room:
            return [label]
        head, _, rest = label.partition(" ")
        parts = [p + ">" for p in rest.split(">") if p] if rest.startswith("<") else [label]
        lines, cur = [], head if rest.startswith("<") else ""
        size = SMALL if self.g.compact else LABEL
        for part in parts:
            cand = f"{cur} {part}".strip() if cur and not cur.endswith(">") else cur + part
            if cur and text_width(cand, size) > room:
                lines.append(cur)
                cur = part
            else:
                cur = cand
        lines.append(cur)
        return lines

    def _label(self, x0, y0, x1, y1, label, color, a, e: Event, cap: Captions) -> None:
        """RFC text along the arrow, reading left to right, at the first place along it that is free.
        A lost segment's arrow stops at its ✕, halfway: its label stands just past the ✕ first (in as
        many lines as it takes), where nothing else is drawn."""
        rightward = x1 > x0
        ang = math.degrees(math.atan2(y1 - y0, x1 - x0) if rightward else math.atan2(y0 - y1, x0 - x1))
        size = SMALL if self.g.compact else LABEL
        lead = size + 1
        one = self._label_lines(label)
        narrow = self._label_lines(label, narrow=True)
        variants = [one] if narrow == one else [one, narrow]
        places = [(lines, at) for lines in variants for at in (0.05, 0.2, 0.35, 0.5, 0.62, 0.74, 0.84)]
        if e.fate == "lost":
            places = [(lines, 0.56) for lines in variants] + places
        cands = []
        for lines, at in places:
            px, py = x0 + at * (x1 - x0), y0 + at * (y1 - y0)
            anchor = "start" if rightward else "end"
            for below in (False, True):
                dy0 = (size + 1) if below else -4 - (len(lines) - 1) * lead
                cands.append((px, py, anchor, dy0, lines))
        quads = [text_quad(px, py + dy0, lines, size, anchor, ang, (px, py), lead)
                 for px, py, anchor, dy0, lines in cands]  # fmt: skip
        # Between the two lifelines (a label past one runs into the states beside it) and clear of the
        # other segments' arrows (two FINs crossing: each label away from the X) where a place is.
        lo, hi = min(x0, x1) + 2, max(x0, x1) - 2
        between = [q if all(lo <= x <= hi for x, _ in q) else _NOWHERE for q in quads]
        k = self.place.first_free(between, clear_of_lines=True, along=(x0, y0, x1, y1))
        if k is None:
            k = self.place.first_free(between)
            self.place.crossed += k is not None
        if k is None:
            k = self.place.first_free(quads)
            self.place.past_lifelines += k is not None
        if k is None:
            k = 0
            self.place.dropped += 1000  # an overlap: the legibility tests report it
        px, py, anchor, dy0, lines = cands[k]
        self.place.add(quads[k])
        tip = escape(cap.sentence(e))
        spans = "".join(
            f'<tspan x="{_t(px)}" dy="{_t(dy0) if j == 0 else lead}">{escape(t)}</tspan>' for j, t in enumerate(lines)
        )
        self.out.append(
            f'<text x="{_t(px)}" y="{_t(py)}" font-size="{size}" text-anchor="{anchor}" fill="{color}" '
            f'transform="rotate({ang:.2f} {_t(px)} {_t(py)})" paint-order="stroke" stroke="#ffffff" '
            f'stroke-width="3" data-kind="segment"{self._anim(a)}><title>{tip}</title>{spans}</text>'
        )

    # ---- the comparison mark, and the document -------------------------------------------

    def _divergence_tag(self, i: int, name: str) -> str:
        """Which run is which, in words: the learner's and the reference's by those names; two runs the
        caller named otherwise (two profiles of the reference) are only where they part."""
        if self.n == 1:
            return "✗ first divergence"
        if i == 0:
            return "✗ yours differs" if name.startswith("Your") else "◆ they part here"  # ✗ only on a mistake
        return "◆ reference" if name.startswith("Reference") else "◆ they part here"

    def divergence(self) -> None:
        """The first divergence, drawn in every panel that has it marked: a red band across the
        panel, a ring on the lane, a thick dashed outline along the differing segment or around
        the differing state, and a tag that says which run is which (shape and words, not only red)."""
        g, ax = self.g, self.axis
        for i, p in enumerate(self.panels):
            if p.mark is None:
                continue
            e = next((x for x in p.events if x.index == p.mark), None)
            if e is None:
                continue
            self.appear = {}
            y = ax.y(i, e)
            x = g.xa(i) if e.endpoint == "A" else g.xb(i)
            ox = g.ox(i)
            self.back.append(
                f'<rect x="{_t(ox)}" y="{_t(y - LINE / 2 - 2)}" width="{g.panel_w}" height="{LINE + 4}" fill="{LOST}" '
                f'fill-opacity="0.12" data-kind="divergence"/>'
            )
            self.front.append(
                f'<circle cx="{_t(x)}" cy="{_t(y)}" r="11" fill="none" stroke="{LOST}" stroke-width="2.5" '
                f'data-kind="divergence"/>'
            )
            if e.event == EventKind.SEND:
                peer = g.xb(i) if e.endpoint == "A" else g.xa(i)
                recv = next((r for f in pair_flights(p.events) if f.send is e for r in f.recvs[:1]), None)
                y1 = ax.y(i, recv) if recv is not None else y + 30
                x1 = peer if recv is not None else (x + peer) / 2
                self.front.append(
                    f'<line x1="{_t(x)}" y1="{_t(y)}" x2="{_t(x1)}" y2="{_t(y1)}" stroke="{LOST}" stroke-width="5" '
                    f'stroke-dasharray="7 4" stroke-opacity="0.75" data-kind="divergence"/>'
                )
            else:
                left = e.endpoint == "A"
                x0 = ox + 2 if left else x + 4
                w = (x - 4) - x0 if left else ox + g.panel_w - 2 - x0
                self.front.append(
                    f'<rect x="{_t(x0)}" y="{_t(y - 11)}" width="{_t(w)}" height="22" rx="4" fill="none" '
                    f'stroke="{LOST}" stroke-width="2" stroke-dasharray="5 3" data-kind="divergence"/>'
                )
            tag = self._divergence_tag(i, p.name)
            tag = f"{tag}: {e.endpoint}, {e.time / 1e6:.3f} s"
            mid = (g.xa(i) + g.xb(i)) / 2
            cands = [(mid + dx, y + dy) for dy in (-LINE / 2 - 6, LINE / 2 + 14, -28, 32, -46, 50, -64, 68, -82, 86)
                     for dx in (0, -g.gap / 5, g.gap / 5)]  # fmt: skip
            if self.n > 1:  # the line kept free under the panel's name, when nothing nearer is
                cands.append((mid, ax.top - 66 - 10))
            quads = [text_quad(cx, cy, [tag], SMALL, "middle") for cx, cy in cands]
            k = self.place.first_free(quads)
            cx, cy = cands[0 if k is None else k]
            if k is None:
                self.place.dropped += 1000
            if abs(cy - y) > LINE:  # a leader from the tag to the ring
                self.front.append(
                    f'<line x1="{_t(cx)}" y1="{_t(cy + (4 if cy < y else -12))}" x2="{_t(x)}" '
                    f'y2="{_t(y)}" stroke="{LOST}" stroke-width="1.2" data-kind="divergence"/>'
                )
            self.text(cx, cy, tag, size=SMALL, anchor="middle", color=LOST, weight="bold", to=self.front,
                      extra=' paint-order="stroke" stroke="#ffffff" stroke-width="3" data-kind="divergence"')  # fmt: skip

    def finish(self, desc: str) -> str:
        h = math.ceil(self.axis.bottom)
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {h}" width="{self.width}" '
            f'height="{h}" role="img" font-family={quoteattr(FONT)} class="tcp-timeline">'
            f"<title>{escape(self.heading)}</title><desc>{escape(desc)}</desc>"
            f'<rect width="{self.width}" height="{h}" fill="#ffffff"/>'
        )
        lines = _wrap_title(self.heading, self.width - 20)
        title = "".join(
            f'<text x="{self.width / 2}" y="{24 + 19 * k}" font-size="15" text-anchor="middle" font-weight="bold" '
            f'fill="{INK}">{escape(ln)}</text>'
            for k, ln in enumerate(lines)
        )
        return "".join([head, *self.back, title, *self.out, *self.front, "</svg>"])

    _all_panels: list[Panel] = []


def _wrap_title(s: str, room: float) -> list[str]:
    return note_lines(s, room, room, 15)[:2] or [""]


def _chains(brackets: list) -> list[list]:
    """Brackets of one timer that restart each other, as one chain (drawn as one bar)."""
    chains: list[list] = []
    open_: dict[tuple[str, str], list] = {}
    for br in brackets:
        key = (br.endpoint, br.timer)
        prev = open_.get(key)
        if prev is not None and prev[-1].how == "restart" and prev[-1].end is br.start:
            prev.append(br)
        else:
            chain = [br]
            chains.append(chain)
            open_[key] = chain
    return chains


__all__ = ["CW", "Canvas", "Geometry", "Panel", "layout", "STATE_COLORS", "LOST", "MUTED", "INK", "FONT", "LINE"]
