"""Timers in a sequence diagram: a bar on the lane from start to end, restarts as ticks, and its name.

Kept apart from the canvas because placing a timer's name is its own small search (along the
bar, beside it, outside the lifeline) that must run after the arrows' labels are placed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from ._axis import LINE, Panel
from ._geometry import GAP, NOWHERE, rect_quad, text_quad, text_width
from ._style import SMALL, TIMER_COLORS, num
from .pairing import Bracket, timer_brackets

if TYPE_CHECKING:
    from ._draw import Canvas


def reserve_timer_bars(c: Canvas, i: int, p: Panel) -> None:
    """The bars' places, before the segments' labels are placed: a label keeps off a bar where it can
    (readers found "B2" read as "ß2", struck through by A's lifeline and RETRANSMIT bar)."""
    for _chain, x, y0, y1, _sign in _bars(c, i, p):
        for s0, s1 in c.axis.pieces(y0, y1):
            c.place.bars.append(rect_quad(x - 3, s0, 6, s1 - s0))


def draw_timers(c: Canvas, i: int, p: Panel) -> None:
    """Every timer of panel i as a bar beside its lane; bars that overlap in time take columns outward."""
    g = c.g
    for chain, x, y0, y1, sign in _bars(c, i, p):
        first = chain[0]
        color = TIMER_COLORS.get(first.timer, "#59636e")
        _bar(c, i, chain, x, y0, y1, sign, color)
        label = f"{first.timer} {first.duration}".strip()
        labels: tuple[str, ...] = (label,)
        if len(chain) > 1:
            # The label stands at the first start; the restarts come later, at the ticks across the bar:
            # a reader took "TIME_WAIT 240 s + restart" at 0.06 s for a restart there (it was at 1.06 s).
            n = len(chain) - 1
            when = f"at {chain[1].start.time / 1e6:.3f} s" if n == 1 else f"{n} times"
            later = "restarted later" if n == 1 else f"+ {n} restarts"
            # the last in two lines, where one would run across the other lifeline
            labels = (f"{label}, restarted {when}", f"{label}, {later}", f"{label},\n{later}")
        lane = g.xa(i) if first.endpoint == "A" else g.xb(i)
        # within its panel, and clear of the time column ("0.070 TIME_WAIT 240 s" read as one line)
        room = (g.label_left(i), g.ox(i) + g.panel_w)
        _timer_label(c, i, x, y0, y1, sign, labels, color, first.start.index, lane, room)


def _bars(c: Canvas, i: int, p: Panel) -> list[tuple[list[Bracket], float, float, float, int]]:
    """Each timer's bar: (its chain of restarts, x, top, bottom, the side of its lane: 1 for A's)."""
    ax, g = c.axis, c.g
    lanes: dict[str, list[float]] = defaultdict(list)  # endpoint → end y of each column
    out = []
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
        out.append((chain, x, y0, y1, sign))
    return out


def _bar(c: Canvas, i: int, chain: list[Bracket], x: float, y0: float, y1: float, sign: int, color: str) -> None:
    """The bar itself: broken across the breaks, a tick per restart, a dot where it expired."""
    first, last = chain[0], chain[-1]
    a = first.start.index
    dash = "3 3" if last.how == "open" else ""
    for s0, s1 in c.axis.pieces(y0, y1):
        c.line(x, s0, x, s1, color, width=2.4, dash=dash, a=a, cls="timer")
    c.line(x, y0, x - sign * 6, y0, color, width=2.4, a=a)
    c.timer_marks[i, a] = (x - 8, y0 - 6, 16, 12)  # the start, until its label is placed
    for br in chain[1:]:  # each restart: a tick across the bar
        yr = c.axis.y(i, br.start)
        c.line(x - 5, yr, x + 5, yr, color, width=2, a=br.start.index)
        c.timer_marks[i, br.start.index] = (x - 8, yr - 6, 16, 12)
    end_a = last.end.index if last.end is not None else None
    if end_a is not None:
        c.timer_marks[i, end_a] = (x - 8, y1 - 6, 16, 12)
    if last.how == "expired":
        c.out.append(f'<circle cx="{num(x)}" cy="{num(y1)}" r="4" fill="{color}"{c.anim(end_a)}/>')
    elif last.how != "open":
        c.line(x, y1, x - sign * 6, y1, color, width=2.4, a=end_a)


def _timer_label(c: Canvas, i: int, x, y0, y1, sign, labels: tuple[str, ...], color, a, lane: float,
                 panel: tuple[float, float]) -> None:  # fmt: skip
    """Along the bar where it is long enough, else beside its start; never over
    another label (arrows' labels are placed first), nor an arrow where a place clear of them
    is free. Where nothing is free the bar keeps its name as a tooltip, and the caption and the
    text table say it. `labels`, longest first: a longer one only where it has a clear place
    near the bar's start."""
    halo = ' paint-order="stroke" stroke="#ffffff" stroke-width="3"'
    far = c.g.xb(i) if sign > 0 else c.g.xa(i)  # the other endpoint's lifeline
    # A gap to the other labels first ("EOF → app" just above "TIME_WAIT 240 s" read as one line), clear
    # of the arrows ("TIME_WAIT 240 s" struck through) and of the other timers' bars; then giving up the
    # bars, the arrows (a haloed label over an arrow still reads; two labels that touch do not), the gap.
    tries = ({"clear_of_lines": True, "gap": GAP, "bars": True}, {"clear_of_lines": True, "gap": GAP},
             {"gap": GAP}, {"clear_of_lines": True}, {})  # fmt: skip
    for label in labels[:-1]:
        cands, quads = _places(c, x, y0, y1, sign, label, lane, panel)
        # not beside its end, nor across the other lifeline: only where it is clear of everything
        near = _this_side(quads[:-2], far, sign)
        k = c.place.first_free(_apart(c, i, near), **tries[0])
        if k is not None:
            return _put(c, i, cands[k], quads[k], label, color, a, halo)
    label = labels[-1]
    cands, quads = _places(c, x, y0, y1, sign, label, lane, panel)
    k, n = _first_place(c, i, quads, tries, far, sign)
    c.place.on_lines += n in (2, 4)
    c.place.tight += n in (3, 4)
    if n >= 2:  # most of its places are near the bar's start
        c.place.crowded.append((y0 - 20, y0 + 50))
    if k is None:  # on a break's zigzag rather than only in a tooltip
        k = c.place.first_free(quads, bands=False)
        c.place.on_bands += k is not None
    if k is None:
        c.place.dropped += 1
        return c.out.append(f"<!-- timer {escape(label)}: no free place for its label -->")
    return _put(c, i, cands[k], quads[k], label, color, a, halo)


def _first_place(c: Canvas, i: int, quads: list, tries: tuple[dict, ...], far: float, sign: int
                 ) -> tuple[int | None, int]:  # fmt: skip
    """(the first free place, the index of the try that found it): at each try, a place on this side
    of the other lifeline and apart from the other timers' names first (a reader found "TIME_WAIT
    240 s, restarted later" running across B's lifeline)."""
    inside = [q is not NOWHERE for q in _this_side(quads, far, sign)]
    apart = [q is not NOWHERE for q in _apart(c, i, quads)]
    every = range(len(quads))
    orders = ([k for k in every if inside[k] and apart[k]], [k for k in every if inside[k]],
              [k for k in every if apart[k]], [k for k in every if quads[k] is not NOWHERE])  # fmt: skip
    for n, kw in enumerate(tries):
        free: dict[int, bool] = {}  # each place is tested once per try, whichever order meets it first
        for order in orders:
            for k in order:
                if k not in free:
                    free[k] = c.place.free(quads[k], **kw)
                if free[k]:
                    return k, n
    return None, len(tries)


def _this_side(quads: list, far: float, sign: int) -> list:
    """The places that stay on this side of the other endpoint's lifeline at `far`."""
    return [q if all((px - far) * sign < -4 for px, _ in q) else NOWHERE for q in quads]


def _apart(c: Canvas, i: int, quads: list) -> list:
    """The places not just above or below another timer's name in the same columns: two names stacked
    between two bars read as one pair, not each beside its own bar (a reader could not tell A's
    "TIME_WAIT 240 s" from B's, a line apart after a break)."""
    names = [_box(q) for j, q in c.timer_names if j == i]

    def stacked(q) -> bool:
        x, y, w, h = _box(q)
        return any(x < nx + nw and nx < x + w and y < ny + nh + LINE / 2 and ny < y + h + LINE / 2
                   for nx, ny, nw, nh in names)  # fmt: skip

    return [NOWHERE if q is not NOWHERE and stacked(q) else q for q in quads]


def _places(c: Canvas, x, y0, y1, sign, label: str, lane: float, panel: tuple[float, float]) -> tuple[list, list]:
    """A timer name's candidate places, best first, and their boxes (NOWHERE outside its panel)."""
    cands: list[tuple[float, float, str, float]] = []
    anchor = "start" if sign > 0 else "end"
    # Near its start first, beside the bar or outside the lifeline (under the state's pill, where the
    # arrows between the lanes do not go); beside its end last: a name written there reads as the
    # timer of the state that begins there ("FIN_WAIT_2 60 s" beside TIME_WAIT's pill).
    outside = "end" if sign > 0 else "start"
    for yy in (y0 + 14, y0 - 5, y0 + 28):
        cands.append((x + sign * 6, yy, anchor, 0.0))
    for yy in (y0 + 14, y0 + 28, y0 + 42):
        cands.append((lane - sign * 8, yy, outside, 0.0))
    # Then along the bar where it is long enough, turned a quarter (readers turn their heads for it:
    # only where no level place near the start is free). Its glyphs stand right of the baseline's x.
    lines = label.split("\n")  # a long name may come in two lines
    for piece0, piece1 in c.axis.pieces(y0, y1):
        if len(lines) == 1 and piece1 - piece0 > text_width(label, SMALL) + 16:
            cands.append((x + 12 if sign > 0 else x - 14, piece0 + 6, "start", 90.0))
    # then beside the bar further down it, where a long bar has room between the arrows
    # (not at a break's zigzag: a name just above one reads as the break's)
    cands += [(x + sign * 6, float(yy), anchor, 0.0) for piece0, piece1 in c.axis.pieces(y0, y1)
              for yy in range(int(max(piece0 + 14, y0 + 42)), int(piece1 - 8), 14)][:24]  # fmt: skip
    cands += [(x + sign * 6, y1 + 14, anchor, 0.0), (lane - sign * 8, y1 + 14, outside, 0.0)]
    quads = [text_quad(tx, ty, lines, SMALL, anc, ang) for tx, ty, anc, ang in cands]
    # within its own panel: side by side, a label outside B's lifeline would run into the next panel
    return cands, [q if all(panel[0] <= px <= panel[1] for px, _ in q) else NOWHERE for q in quads]


def _put(c: Canvas, i: int, cand: tuple[float, float, str, float], quad, label: str, color, a, halo: str) -> None:
    tx, ty, anc, ang = cand
    rot = f' transform="rotate({ang:g} {num(tx)} {num(ty)})"' if ang else ""
    c.out.append(
        f'<text x="{num(tx)}" y="{num(ty)}" font-size="{SMALL}" text-anchor="{anc}" data-kind="timer" '
        f'fill="{color}"{rot}{halo}{c.anim(a)}>{_lines(label, tx)}</text>'
    )
    c.timer_marks[i, a] = _box(c.place.add(quad))  # where a divergence in this timer is marked: its name
    c.timer_names.append((i, quad))


def _lines(label: str, x: float) -> str:
    """A name's text: its second line, if it has one, a line below the first."""
    first, *rest = label.split("\n")
    return escape(first) + "".join(f'<tspan x="{num(x)}" dy="{SMALL + 1}">{escape(r)}</tspan>' for r in rest)


def _box(q: tuple) -> tuple[float, float, float, float]:
    xs, ys = [px for px, _ in q], [py for _, py in q]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def _chains(brackets: list[Bracket]) -> list[list[Bracket]]:
    """Brackets of one timer that restart each other, as one chain (drawn as one bar)."""
    chains: list[list[Bracket]] = []
    open_: dict[tuple[str, str], list[Bracket]] = {}
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
