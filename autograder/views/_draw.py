"""The canvas a sequence diagram is drawn on: SVG primitives, one panel's lanes and states, the document.

`svg.render` lays out the axis (`_axis`), then asks the canvas for each panel: the lanes and
their states here, the segments' arrows in `_arrows`, the timers' bars in `_timers`, and the
first divergence across the panels in `_divergence`.

Legibility rules the browser test holds us to (tests/browser/test_legibility_browser.py):
no text under 11 px at 1:1 (the pictures are sized to fit a JupyterLab output at
1400x900 without scaling), no two labels overlapping (every label is placed through
`_geometry.Placer`), nothing outside the picture, no note cut short (long notes wrap).
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

from reference_impl.trace import EventKind

from ._arrows import draw_flights, place_label
from ._axis import LINE, PANEL_GAP, Axis, Geometry, Panel, fmt_gap, note_lines, pill_width
from ._geometry import Placer, Quad, rect_quad, text_quad, text_width
from ._style import FONT, INK, LABEL, LOST, MUTED, SMALL, STATE_COLORS, STATE_RADIUS, num
from ._timers import draw_timers, reserve_timer_bars
from .explain import Captions
from .model import Event


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
        self.unarrived_ends: dict[int, tuple[float, float]] = {}  # a lost segment's index -> where its arrow stops
        self.mark_tops: list[float] = []  # the tops of the divergence's words, to keep in a stepping window
        self.timer_marks: dict[tuple[int, int], tuple[float, float, float, float]] = {}  # (panel, timer row) -> its box
        self.timer_names: list[tuple[int, Quad]] = []  # (panel, the box of a timer's name)
        self.note_rows: dict[tuple[int, int], int] = {}  # (panel, event) -> lines its note wraps to

    # ---- primitives -------------------------------------------------------------------

    def anim(self, a: int | None, b: int | None = None) -> str:
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
            f'<text x="{num(x)}" y="{num(y)}" font-size="{size}" text-anchor="{anchor}" fill="{color}"{w}{extra}'
            f"{self.anim(a, b)}>{escape(s)}</text>"
        )
        if register:
            self.place.add(text_quad(x, y, [s], size, anchor))

    def line(self, x1, y1, x2, y2, color, *, width=1.6, dash="", a=None, b=None, to=None, cls=""):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        c = f' data-kind="{cls}"' if cls else ""
        (self.out if to is None else to).append(
            f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" stroke="{color}" '
            f'stroke-width="{width}"{d}{c}{self.anim(a, b)}/>'
        )

    def head(self, x1, y1, x2, y2, color, a=None, hollow=False) -> None:
        dx, dy = x2 - x1, y2 - y1
        n = math.hypot(dx, dy) or 1.0
        ux, uy = dx / n, dy / n
        bx, by = x2 - 10 * ux, y2 - 10 * uy
        pts = f"{num(x2)},{num(y2)} {num(bx - 4.5 * uy)},{num(by + 4.5 * ux)} {num(bx + 4.5 * uy)},{num(by - 4.5 * ux)}"
        fill = "#ffffff" if hollow else color
        self.out.append(f'<polygon points="{pts}" fill="{fill}" stroke="{color}"{self.anim(a)}/>')

    def pill(self, x, y, state, anchor, a=None, size=SMALL) -> float:
        """A state name on a coloured tag; returns its width. The shape says what kind of state
        it is (see STATE_RADIUS), the text which one."""
        w = pill_width(state, size)
        x0 = x - w if anchor == "end" else x
        color = STATE_COLORS.get(state, MUTED)
        rx = STATE_RADIUS.get(state, 3)
        outline = ' stroke="#1f2328" stroke-width="1.5" stroke-dasharray="3 2"' if state == "CLOSED" else ""
        self.out.append(
            f'<g data-state="{escape(state)}"{self.anim(a)}><rect x="{num(x0)}" y="{num(y - 8)}" width="{num(w)}" height="16" '
            f'rx="{rx}" fill="{color}"{outline}/>'
            f'<text x="{num(x0 + w / 2)}" y="{num(y + 4)}" font-size="{size}" text-anchor="middle" fill="#ffffff" '
            f'font-weight="bold">{escape(state)}</text></g>'
        )
        self.place.add(rect_quad(x0, y - 8, w, 16))
        return w

    # ---- one panel -------------------------------------------------------------------

    def panel(self, i: int, p: Panel) -> None:
        """Panel i: its name, its lanes, then (if anything happened) its states, arrows and timers."""
        g, ax = self.g, self.axis
        ox = g.ox(i)
        self.appear = p.appear
        self.panels.append(p)
        if p.name:
            self.text(ox + g.panel_w / 2, ax.top - 66 - 30, p.name, size=14, anchor="middle", weight="bold")
        if i > 0:  # a rule between the runs: a name just inside this panel read as the other panel's B's
            x = ox - PANEL_GAP / 2
            self.back.append(f'<line x1="{num(x)}" y1="{num(ax.top - 110)}" x2="{num(x)}" y2="{num(ax.bottom - 4)}" '
                             f'stroke="#d0d7de" stroke-width="1.5" data-kind="panel-rule"/>')  # fmt: skip
        self._lanes(i, p)
        if not p.events:
            self._empty(i)
            return
        if p.total > p.drawn_or_folded:
            shown = f"showing events {p.start + 1}–{p.start + p.drawn_or_folded} of {p.total:,}"
            self.text(ox + g.panel_w / 2, ax.bottom - 16, shown, size=LABEL, anchor="middle", color=LOST, weight="bold")
            self.place.add(
                text_quad(ox + g.panel_w / 2, ax.bottom - 16, [shown], LABEL, "middle")
            )  # labels keep off it
        if i == 0:
            self._times(p.events)
            self._break_labels()
        self._break_bands(i, p)
        self._states(i, p)
        reserve_timer_bars(self, i, p)
        for label in draw_flights(self, i, p):  # the arrows first, then their labels, then the timers' around them
            place_label(self, *label)
        draw_timers(self, i, p)

    def _lanes(self, i: int, p: Panel) -> None:
        """Each endpoint's head, lifeline and first state (greyed and dashed for one with no events)."""
        top = self.axis.top - 66
        starts = {"A": "", "B": ""}
        for e in p.events:
            if e.endpoint in starts and not starts[e.endpoint]:
                starts[e.endpoint] = e.before or e.after
        for ep, x, role in (("A", self.g.xa(i), "client"), ("B", self.g.xb(i), "server")):
            present = bool(starts[ep]) or not p.events
            self.out.append(
                f'<rect x="{num(x - 52)}" y="{num(top)}" width="104" height="24" rx="6" '
                f'fill="{"#24292f" if present else "#59636e"}"/>'
            )
            self.place.add(rect_quad(x - 52, top, 104, 24))  # a label beside the first row keeps off the head
            self.text(x, top + 16, f"{ep} · {role}", size=LABEL, anchor="middle", color="#ffffff", weight="bold")
            self.line(x, top + 24, x, self.axis.bottom - 12, "#424a53" if present else "#8c959f", width=2,
                      dash="" if present else "4 4")  # fmt: skip
            if starts[ep]:
                self.pill(x - pill_width(starts[ep]) / 2, top + 42, starts[ep], "start")
            elif p.events:  # on a white box: two readers found the dashed lifeline striking the words through
                w = text_width("no events", SMALL) + 12
                self.out.append(f'<rect x="{num(x - w / 2)}" y="{num(top + 34)}" width="{num(w)}" height="17" rx="4" '
                                f'fill="#ffffff" stroke="#8c959f" stroke-dasharray="3 2"/>')  # fmt: skip
                self.text(x, top + 46, "no events", size=SMALL, anchor="middle", color=MUTED)

    def _empty(self, i: int) -> None:
        g, y = self.g, self.axis.top + 40
        cx = (g.xa(i) + g.xb(i)) / 2
        self.out.append(
            f'<rect x="{num(cx - 100)}" y="{num(y - 26)}" width="200" height="78" rx="10" fill="#f6f8fa" stroke="#d0d7de"/>'
        )
        self.text(cx, y, "Nothing happened", size=14, anchor="middle", weight="bold")
        self.text(cx, y + 22, "no close(), no segment,", size=SMALL, anchor="middle", color=MUTED)
        self.text(cx, y + 38, "no timer", size=SMALL, anchor="middle", color=MUTED)

    def _times(self, events: list[Event]) -> None:
        """The time of every row, in the shared column (the first panel draws it for all)."""
        ax = self.axis
        for t, y in zip(ax.times, ax.ys, strict=True):
            self.text(self.g.time_x, y + 4, f"{t / 1e6:.3f}", size=SMALL, anchor="end", color=MUTED)
        self._same_moment()
        if self.animate:  # the current instant's band, in every panel at once
            for t, y in zip(ax.times, ax.ys, strict=True):
                steps = [s for p in self._all_panels for e in p.events if e.time == t
                         for s in [p.appear.get(e.index)] if s is not None]  # fmt: skip
                if steps:
                    self.back.append(
                        f'<rect x="0" y="{num(y - LINE / 2)}" width="{self.width}" height="{LINE}" fill="#fff8c5" '
                        f'class="tv" style="--a:{min(steps)};--b:{max(steps) + 1}"/>'
                    )

    def _same_moment(self) -> None:
        """A rule down the time column under a row whose events take many lines (05's three segments sent
        at 0 s stand 54 px apart): the last of them is at the row's time too, not at the time beside it."""
        ax, x = self.axis, self.g.time_x - 16
        for t, y in zip(ax.times, ax.ys, strict=True):
            last = max((ax.y(i, e) for i, p in enumerate(self._all_panels) for e in p.events if e.time == t), default=y)
            if last - y > 2 * LINE:  # a wide clear stroke under the thin one holds the tooltip
                d = f"M{num(x)} {num(y + 9)} V{num(last)} h5"
                self.out.append(
                    f'<g data-kind="same-moment"><title>{t / 1e6:.3f} s: everything down to the end of this line '
                    f'happens at that one moment</title><path d="{d}" fill="none" stroke="transparent" '
                    f'stroke-width="9" pointer-events="stroke"/><path d="{d}" fill="none" stroke="{MUTED}" '
                    f'stroke-width="1"/></g>'
                )

    def _when_passed(self, t: int) -> str:
        """A break after time t appears once the step after it does (a reader took a break's zigzag at
        the window's edge, drawn before anything had happened, for a row of cut glyphs)."""
        steps = [s for p in self._all_panels for e in p.events if e.time > t for s in [p.appear.get(e.index)]
                 if s is not None]  # fmt: skip
        return f' class="tv" style="--a:{min(steps)}"' if self.animate and steps else ""

    def _break_labels(self) -> None:
        for (y0, y1, dt), t in zip(self.axis.breaks, self.axis.break_from, strict=True):
            mid = (y0 + y1) / 2 + 4
            self.text(self.g.time_x, mid, fmt_gap(dt), size=SMALL, anchor="end", color=INK, weight="bold",
                      extra=self._when_passed(t))  # fmt: skip

    def _break_bands(self, i: int, p: Panel) -> None:
        g = self.g
        for (y0, y1, dt), t in zip(self.axis.breaks, self.axis.break_from, strict=True):
            ox, at = g.ox(i), self._when_passed(t)
            self.out.append(
                f'<rect x="{num(ox)}" y="{num(y0 + 9)}" width="{g.panel_w}" height="{num(y1 - y0 - 15)}" fill="#ffffff" '
                f'data-kind="break"{at}/>'
            )
            # the top zigzag 9 px into the band: a label on the row's line above it kept its underscores
            # (readers: "FIN_WAIT_2 60 s" resting on it)
            for yy in (y0 + 9, y1 - 6):
                pts = " ".join(
                    f"{num(g.xa(i) - 30 + k * 12)},{num(yy + (3 if k % 2 else -3))}"
                    for k in range(int((g.gap + 60) / 12) + 1)
                )
                self.out.append(f'<polyline points="{pts}" fill="none" stroke="#8c959f" stroke-width="1.2"{at}/>')
            # No label in the band: readers found "lost", "◆ they part here" and a timer's name struck
            # through by its zigzags.
            self.place.bands.append(rect_quad(ox, y0 + 5, g.panel_w, y1 - y0 - 7))
            mid = (y0 + y1) / 2 + 4
            fold = p.folds.get(t)
            if fold is not None:  # repeated moments not drawn: say so, and how much time they took
                words = fold.text if text_width(fold.text, LABEL) < g.gap - 12 else fold.short
                self.text((g.xa(i) + g.xb(i)) / 2, mid - 9, words, size=LABEL, anchor="middle", color=INK,
                          weight="bold", extra=at)  # fmt: skip
                mid += 9
            self.text((g.xa(i) + g.xb(i)) / 2, mid, f"{fmt_gap(dt)} later", size=LABEL, anchor="middle", color=MUTED,
                      extra=' font-style="italic"' + at)  # fmt: skip

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
            self.note_rows[i, a] = len(lines)
            for k, ln in enumerate(lines):
                if not ln:
                    continue
                nx = (x - pw - 6 if left else x + pw + 6) if k == 0 and pw else x
                anchor = "end" if left else "start"
                self.out.append(
                    f'<text x="{num(nx)}" y="{num(y + 4 + k * LINE)}" font-size="{SMALL}" text-anchor="{anchor}" '
                    f'fill="{color}"{self.anim(a)}><title>{tip}</title>{escape(ln)}</text>'
                )
                self.place.add(text_quad(nx, y + 4 + k * LINE, [ln], SMALL, anchor))

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
        for k, ln in enumerate(lines):  # a stepping window's top edge keeps off it, as off every label
            self.place.add(text_quad(self.width / 2, 24 + 19 * k, [ln], 15, "middle"))
        return "".join([head, *self.back, title, *self.out, *self.front, "</svg>"])

    _all_panels: list[Panel] = []


def _wrap_title(s: str, room: float) -> list[str]:
    return note_lines(s, room, room, 15)[:2] or [""]
