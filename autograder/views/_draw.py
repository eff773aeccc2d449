"""Geometry and drawing primitives behind `svg.render_svg` (kept apart so svg.py reads as the API).

The vertical axis is shared by all panels: each distinct event time gets a row,
each event at that time and endpoint a line ("slot") within the row, so labels
never overlap however many things happen in one instant. Gaps between rows grow
with the logarithm of the idle time; gaps over half a second become breaks.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from .explain import explain
from .model import SLOT_EVENTS, Event, pair_flights, timer_brackets

LINE = 18  # one slot
BREAK_US = 500_000  # idle gaps longer than this are folded
BREAK_H = 46
PANEL_GAP = 20
FONT = "'DejaVu Sans Mono', ui-monospace, Menlo, Consolas, monospace"
CW = 0.602  # advance of one monospace character, in em

STATE_COLORS = {
    "ESTABLISHED": "#1a7f37", "FIN_WAIT_1": "#0969da", "FIN_WAIT_2": "#0550ae",
    "CLOSING": "#8250df", "TIME_WAIT": "#9a6700", "CLOSE_WAIT": "#1b7c83",
    "LAST_ACK": "#0e5a5f", "CLOSED": "#57606a",
}  # fmt: skip
LOST = "#cf222e"
MUTED = "#6e7781"
INK = "#1f2328"


def seg_color(flags: str, length: int | None) -> str:
    names = set(flags.split("|"))
    if "RST" in names:
        return "#bc4c00"
    if "FIN" in names:
        return "#0969da"
    if length:
        return "#8250df"
    return "#1a7f37"


@dataclass(frozen=True)
class Geometry:
    compact: bool = False

    @property
    def time_col(self) -> int:
        return 46 if self.compact else 64

    @property
    def side(self) -> int:
        return 140 if self.compact else 236

    @property
    def gap(self) -> int:
        return 310 if self.compact else 560

    @property
    def xa(self) -> int:
        return self.time_col + self.side

    @property
    def xb(self) -> int:
        return self.xa + self.gap

    @property
    def width(self) -> int:
        return self.xb + self.side


@dataclass
class Panel:
    name: str
    events: list[Event]
    total: int = 0  # events in the whole trace (more than shown when windowed)
    start: int = 0


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


def spacing(dt: int) -> float:
    """Vertical room for an idle gap: logarithmic, so 10 ms and 300 ms both read as time."""
    return 0.0 if dt <= 0 else 16 + 24 * math.log2(1 + dt / 10_000)


def layout(panels: list[list[Event]], geom: Geometry, top: float = 0.0) -> Axis:
    named = len(panels) > 1
    axis = Axis(top=top or (104 + (24 if named else 0)))
    height: dict[int, int] = defaultdict(lambda: 1)
    for evs in panels:
        count: dict[tuple[int, str], int] = defaultdict(int)
        slots: dict[int, int] = {}
        for e in evs:
            k = (e.time, e.endpoint)
            if e.event in SLOT_EVENTS:
                slots[e.index] = count[k]
                count[k] += 1
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
                axis.breaks.append((y + h - 4, y + h - 4 + BREAK_H, dt))
                y += h + BREAK_H + 6
            else:
                y += max(h + 6, spacing(dt))
    last = height[axis.times[-1]] * LINE if axis.times else 0
    axis.bottom = y + last + (34 if axis.times else 150)
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
        self.width = n_panels * geom.width + (n_panels - 1) * PANEL_GAP
        self.back: list[str] = []  # bands, drawn under everything
        self.out: list[str] = []
        self.front: list[str] = []
        self.panels: list[tuple[float, list[Event]]] = []

    # ---- primitives -------------------------------------------------------------------

    def _anim(self, a: int | None, b: int | None = None) -> str:
        if not self.animate or a is None:
            return ""
        # Step k of an animation shows events 0..k-1 (step 0: nothing has happened yet).
        style = f"--a:{a + 1}" + (f";--b:{b + 1}" if b is not None else "")
        return f' class="tv" style="{style}"'

    def text(self, x, y, s, *, size=12, anchor="start", color=INK, weight="", extra="", a=None, b=None, to=None):
        w = f' font-weight="{weight}"' if weight else ""
        dest = self.out if to is None else to
        dest.append(
            f'<text x="{_t(x)}" y="{_t(y)}" font-size="{size}" text-anchor="{anchor}" fill="{color}"{w}{extra}'
            f"{self._anim(a, b)}>{escape(s)}</text>"
        )

    def line(self, x1, y1, x2, y2, color, *, width=1.6, dash="", a=None, b=None, to=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        (self.out if to is None else to).append(
            f'<line x1="{_t(x1)}" y1="{_t(y1)}" x2="{_t(x2)}" y2="{_t(y2)}" stroke="{color}" '
            f'stroke-width="{width}"{d}{self._anim(a, b)}/>'
        )

    def head(self, x1, y1, x2, y2, color, a=None, hollow=False) -> None:
        dx, dy = x2 - x1, y2 - y1
        n = math.hypot(dx, dy) or 1.0
        ux, uy = dx / n, dy / n
        bx, by = x2 - 10 * ux, y2 - 10 * uy
        pts = f"{_t(x2)},{_t(y2)} {_t(bx - 4.5 * uy)},{_t(by + 4.5 * ux)} {_t(bx + 4.5 * uy)},{_t(by - 4.5 * ux)}"
        fill = "#ffffff" if hollow else color
        self.out.append(f'<polygon points="{pts}" fill="{fill}" stroke="{color}"{self._anim(a)}/>')

    def pill(self, x, y, state, anchor, a=None, size=11) -> float:
        """A state name on a coloured pill; returns its width."""
        w = len(state) * size * CW + 12
        x0 = x - w if anchor == "end" else x
        color = STATE_COLORS.get(state, MUTED)
        self.out.append(
            f'<g{self._anim(a)}><rect x="{_t(x0)}" y="{_t(y - 8)}" width="{_t(w)}" height="16" rx="8" fill="{color}"/>'
            f'<text x="{_t(x0 + w / 2)}" y="{_t(y + 4)}" font-size="{size}" text-anchor="middle" fill="#ffffff" '
            f'font-weight="bold">{escape(state)}</text></g>'
        )
        return w

    # ---- one panel -------------------------------------------------------------------

    def panel(self, i: int, p: Panel) -> None:
        g, ax = self.g, self.axis
        ox = i * (g.width + PANEL_GAP)
        xa, xb = ox + g.xa, ox + g.xb
        self.panels.append((ox, p.events))
        top = ax.top - 64
        if p.name:
            self.text(ox + g.width / 2, top - 14, p.name, size=15, anchor="middle", weight="bold")
        starts = {"A": "", "B": ""}
        for e in p.events:
            if e.endpoint in starts and not starts[e.endpoint]:
                starts[e.endpoint] = e.before or e.after
        for ep, x, role in (("A", xa, "client"), ("B", xb, "server")):
            present = bool(starts[ep]) or not p.events
            self.out.append(
                f'<rect x="{_t(x - 58)}" y="{_t(top)}" width="116" height="26" rx="6" '
                f'fill="{"#24292f" if present else "#d0d7de"}"/>'
            )
            self.text(x, top + 18, f"{ep} · {role}", size=13, anchor="middle", color="#ffffff", weight="bold")
            self.line(x, top + 26, x, ax.bottom - 10, "#424a53" if present else "#d0d7de", width=2,
                      dash="" if present else "4 4")  # fmt: skip
            if starts[ep]:
                w = len(starts[ep]) * 11 * CW + 12
                self.pill(x - w / 2, top + 44, starts[ep], "start")
            elif p.events:
                self.text(x, top + 48, "not in this trace", size=11, anchor="middle", color=MUTED)
        if not p.events:
            self._empty(ox)
            return
        if p.total > len(p.events):
            self.text(ox + g.width / 2, ax.bottom - 14,
                      f"showing events {p.start + 1}–{p.start + len(p.events)} of {p.total:,}",
                      size=12, anchor="middle", color=LOST, weight="bold")  # fmt: skip
        self._times(ox, i, p.events)
        self._breaks(ox)
        self._brackets(ox, i, p.events)
        self._flights(ox, i, p.events)
        self._states(ox, i, p.events)

    def _empty(self, ox: float) -> None:
        g, y = self.g, self.axis.top + 40
        cx = ox + (g.xa + g.xb) / 2
        self.out.append(
            f'<rect x="{_t(cx - 150)}" y="{_t(y - 26)}" width="300" height="78" rx="10" fill="#f6f8fa" stroke="#d0d7de"/>'
        )
        self.text(cx, y, "Nothing happened", size=15, anchor="middle", weight="bold")
        self.text(cx, y + 22, "the trace is empty: no close(),", size=12, anchor="middle", color=MUTED)
        self.text(cx, y + 38, "no segment, no timer", size=12, anchor="middle", color=MUTED)

    def _times(self, ox: float, pi: int, events: list[Event]) -> None:
        seen: set[int] = set()
        last_at = {e.time: e.index for e in events}  # the last event of each instant
        for e in events:
            if e.time in seen:
                continue
            seen.add(e.time)
            y = self.axis.y(pi, e) - self.axis.slots[pi].get(e.index, 0) * LINE
            self.text(ox + self.g.time_col - 10, y + 4, f"{e.time / 1e6:.3f}", size=10, anchor="end", color=MUTED)
            if self.animate:
                self.back.append(
                    f'<rect x="{_t(ox)}" y="{_t(y - LINE / 2)}" width="{self.g.width}" height="{LINE}" '
                    f'fill="#fff8c5"{self._anim(e.index, last_at[e.time] + 1)}/>'
                )

    def _breaks(self, ox: float) -> None:
        g = self.g
        for y0, y1, dt in self.axis.breaks:
            self.out.append(
                f'<rect x="{_t(ox + g.time_col)}" y="{_t(y0 + 6)}" width="{g.width - g.time_col}" '
                f'height="{_t(y1 - y0 - 12)}" fill="#ffffff"/>'
            )
            for yy in (y0 + 6, y1 - 6):
                pts = " ".join(
                    f"{_t(ox + g.xa - 40 + k * 12)},{_t(yy + (3 if k % 2 else -3))}"
                    for k in range(int((g.gap + 80) / 12) + 1)
                )
                self.out.append(f'<polyline points="{pts}" fill="none" stroke="#8c959f" stroke-width="1.2"/>')
            mid = (y0 + y1) / 2 + 5
            label = fmt_gap(dt)
            self.text(ox + g.time_col - 10, mid, label, size=11, anchor="end", color=INK, weight="bold")
            self.text(ox + (g.xa + g.xb) / 2, mid, f"{label} later", size=12, anchor="middle", color=MUTED,
                      extra=' font-style="italic"')  # fmt: skip

    def _brackets(self, ox: float, pi: int, events: list[Event]) -> None:
        ax, g = self.axis, self.g
        lanes: dict[str, list[float]] = defaultdict(list)  # endpoint → end y of each column
        for br in timer_brackets(events):
            y0 = ax.y(pi, br.start)
            y1 = ax.y(pi, br.end) if br.end is not None else ax.bottom - 16
            cols = lanes[br.endpoint]
            col = next((k for k, end in enumerate(cols) if end <= y0), len(cols))
            if col == len(cols):
                cols.append(y1)
            cols[col] = y1
            sign = 1 if br.endpoint == "A" else -1
            x = ox + (g.xa if br.endpoint == "A" else g.xb) + sign * (9 + 9 * col)
            color = "#9a6700" if br.timer == "TIME_WAIT" else "#6639ba" if br.timer == "RETRANSMIT" else "#57606a"
            a = br.start.index
            dash = "3 3" if br.how == "open" else ""
            self.line(x, y0, x, y1, color, width=2.4, dash=dash, a=a)
            self.line(x, y0, x - sign * 6, y0, color, width=2.4, a=a)
            end_a = br.end.index if br.end is not None else None
            if br.how == "expired":
                self.out.append(f'<circle cx="{_t(x)}" cy="{_t(y1)}" r="4" fill="{color}"{self._anim(end_a)}/>')
            elif br.how != "open":
                self.line(x, y1, x - sign * 6, y1, color, width=2.4, a=end_a)
            label = f"{br.timer} {br.duration}".strip()
            halo = ' paint-order="stroke" stroke="#ffffff" stroke-width="3"'
            if y1 - y0 > len(label) * 10 * CW + 16:  # fits along the bracket: keep the arrows' room free
                tx = x + 12 if sign > 0 else x - 14  # rotated glyphs extend to the right of tx
                self.text(tx, y0 + 6, label, size=10, color=color, a=a,
                          extra=f' transform="rotate(90 {_t(tx)} {_t(y0 + 6)})"{halo}')  # fmt: skip
            else:
                self.text(x + sign * 5, y0 + 13, label, size=10, anchor="start" if sign > 0 else "end", color=color,
                          extra=halo, a=a)  # fmt: skip

    def _flights(self, ox: float, pi: int, events: list[Event]) -> None:
        ax, g = self.axis, self.g
        lane = {"A": ox + g.xa, "B": ox + g.xb}
        flights = pair_flights(events)
        delays = sorted(r.time - f.send.time for f in flights if f.send is not None for r in f.recvs[:1])
        delay = delays[len(delays) // 2] if delays else 10_000
        for f in flights:
            if f.sender not in lane:
                continue
            peer = "B" if f.sender == "A" else "A"
            s = f.send
            color = seg_color((s or f.recvs[0]).flags, (s or f.recvs[0]).length)
            if s is None:  # an arrival whose send is not in this trace
                r = f.recvs[0]
                y1 = ax.y(pi, r)
                y0 = max(ax.y_at(r.time - delay), y1 - 30)
                self._arrow(lane[f.sender], y0, lane[peer], y1, color, f.text, "5 4", r.index, r.index, r)
                continue
            y0 = ax.y(pi, s)
            if not f.recvs:
                y1 = max(ax.y_at(s.time + delay), y0 + 30)
                x1 = lane[peer]
                if s.fate == "lost":
                    mx, my = (lane[f.sender] + x1) / 2, (y0 + y1) / 2
                    self.line(lane[f.sender], y0, mx, my, color, width=1.8, a=s.index)
                    self.out.append(
                        f'<path d="M{_t(mx - 7)},{_t(my - 7)} L{_t(mx + 7)},{_t(my + 7)} M{_t(mx - 7)},{_t(my + 7)} '
                        f'L{_t(mx + 7)},{_t(my - 7)}" stroke="{LOST}" stroke-width="3.2"{self._anim(s.index)}/>'
                    )
                    self.text(mx, my + 22, "lost", size=11, anchor="middle", color=LOST, weight="bold", a=s.index)
                    self._label(lane[f.sender], y0, x1, y1, f.text, color, s.index, s)
                else:  # sent, but its arrival is not in the trace (cut short, or one endpoint only)
                    self._arrow(lane[f.sender], y0, x1, y1, color, f.text, "5 4", s.index, s.index, s, hollow=True)
                continue
            for k, r in enumerate(f.recvs):
                y1 = ax.y(pi, r)
                self._arrow(lane[f.sender], y0, lane[peer], y1, color, f.text if k == 0 else "",
                            "6 4" if k else "", s.index, r.index, s)  # fmt: skip
                if k:  # the network's copy: say so in the middle of its (dashed) arrow
                    self._label(lane[f.sender], y0, lane[peer], y1, "second copy", color, r.index, r, at=0.5)

    def _arrow(self, x0, y0, x1, y1, color, label, dash, a0, a1, e, hollow=False) -> None:
        if self.animate and a1 != a0:  # in flight from the send step, arrives at the recv step
            mx, my = (x0 + x1) / 2, (y0 + y1) / 2
            self.line(x0, y0, mx, my, color, width=1.8, dash=dash, a=a0)
            self.line(mx, my, x1, y1, color, width=1.8, dash=dash, a=a1)
        else:
            self.line(x0, y0, x1, y1, color, width=1.8, dash=dash, a=a0)
        self.head(x0, y0, x1, y1, color, a=a1, hollow=hollow)
        if label:
            self._label(x0, y0, x1, y1, label, color, a0, e)

    def _label(self, x0, y0, x1, y1, label, color, a, e: Event, at: float = 0.06) -> None:
        """RFC text along the arrow, near the sender, reading left to right."""
        px, py = x0 + at * (x1 - x0), y0 + at * (y1 - y0)
        rightward = x1 > x0
        ang = math.degrees(math.atan2(y1 - y0, x1 - x0) if rightward else math.atan2(y0 - y1, x0 - x1))
        anchor = "middle" if at == 0.5 else "start" if rightward else "end"
        lines = [label]
        if self.g.compact and "<CTL" in label:
            k = label.index("<CTL")
            lines = [label[:k], label[k:]] if k else lines
        size = 11 if self.g.compact else 12
        tip = escape(explain(e))
        spans = "".join(
            f'<tspan x="{_t(px)}" dy="{-4 - (len(lines) - 1) * (size + 1) if j == 0 else size + 1}">{escape(t)}</tspan>'
            for j, t in enumerate(lines)
        )
        self.out.append(
            f'<text x="{_t(px)}" y="{_t(py)}" font-size="{size}" text-anchor="{anchor}" fill="{color}" '
            f'transform="rotate({ang:.2f} {_t(px)} {_t(py)})" paint-order="stroke" stroke="#ffffff" '
            f'stroke-width="3"{self._anim(a)}><title>{tip}</title>{spans}</text>'
        )

    def _states(self, ox: float, pi: int, events: list[Event]) -> None:
        g, ax = self.g, self.axis
        for e in events:
            if e.endpoint not in ("A", "B"):
                continue
            note = _note(e)
            if not note and not e.changes_state:
                continue
            y = ax.y(pi, e)
            left = e.endpoint == "A"
            x = ox + (g.xa - 12 if left else g.xb + 12)
            a = e.index
            pw = self.pill(x, y, e.after, "end" if left else "start", a=a) if e.changes_state else 0.0
            if note:
                room = int((g.side - pw - 14) / (11 * CW))
                if len(note) > room:
                    note = note[: max(room - 1, 1)] + "…"
                nx = x - pw - 6 if left else x + pw + 6
                color = LOST if e.event == "error" else MUTED
                self.out.append(
                    f'<text x="{_t(nx)}" y="{_t(y + 4)}" font-size="11" text-anchor="{"end" if left else "start"}" '
                    f'fill="{color}"{self._anim(a)}><title>{escape(explain(e))}</title>{escape(note)}</text>'
                )

    # ---- the comparison mark, and the document -------------------------------------------

    def divergence(self, mark: tuple[int, str]) -> None:
        t, ep = mark
        ys = []
        for pi, (ox, events) in enumerate(self.panels):
            hit = next((e for e in events if (e.time, e.endpoint) == mark), None)
            y = self.axis.y(pi, hit) if hit is not None else self.axis.y_at(t)
            ys.append(y)
            x = ox + (self.g.xa if ep == "A" else self.g.xb)
            self.front.append(f'<circle cx="{_t(x)}" cy="{_t(y)}" r="11" fill="none" stroke="{LOST}" stroke-width="2.5"/>')
        y = ys[0]
        self.back.append(
            f'<rect x="0" y="{_t(y - LINE / 2 - 2)}" width="{self.width}" height="{LINE + 4}" fill="{LOST}" fill-opacity="0.13"/>'
        )
        self.back.append(f'<rect x="0" y="{_t(y - LINE / 2 - 2)}" width="5" height="{LINE + 4}" fill="{LOST}"/>')
        self.text(8, y - LINE / 2 - 6, f"first divergence ({ep}, {t / 1e6:.3f} s)", size=11, color=LOST,
                  weight="bold", to=self.front)  # fmt: skip

    def finish(self, desc: str) -> str:
        h = math.ceil(self.axis.bottom)
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {h}" width="{self.width}" '
            f'height="{h}" role="img" font-family={quoteattr(FONT)} class="tcp-timeline">'
            f"<title>{escape(self.heading)}</title><desc>{escape(desc)}</desc>"
            f'<rect width="{self.width}" height="{h}" fill="#ffffff"/>'
        )
        title = f'<text x="{self.width / 2}" y="26" font-size="16" text-anchor="middle" font-weight="bold" fill="{INK}">{escape(self.heading)}</text>'
        return "".join([head, *self.back, title, *self.out, *self.front, "</svg>"])


def _note(e: Event) -> str:
    match e.event:
        case "close":
            return "close()"
        case "abort":
            return "abort()"
        case "write":
            return f"write {e.detail}"
        case "deliver":
            return "EOF → app" if e.detail == "EOF" else f"{e.detail} → app"
        case "error":
            return f"error: {e.detail}"
        case "timeout":
            return f"{e.detail} fires"
        case "reopen":
            return "new connection" if e.changes_state else "reopen waits"
    return ""
