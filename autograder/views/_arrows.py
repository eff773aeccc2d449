"""Segments in a sequence diagram: each one's arrow (lost, duplicated, cut short) and its RFC text.

Kept apart from the canvas because a segment's label is found by a search of its own: the
first free place along its arrow, between the lifelines and clear of the other arrows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from ._axis import Panel
from ._geometry import NOWHERE, Quad, rect_quad, text_quad, text_width, wrap_greedy
from ._style import LABEL, LOST, SMALL, num, seg_color
from .explain import Captions
from .model import Event
from .pairing import Flight, pair_flights

if TYPE_CHECKING:
    from ._draw import Canvas

# An arrow's label, to place once every arrow is drawn: (x0, y0, x1, y1, text, color, step event, event, captions)
Label = tuple[float, float, float, float, str, str, int, Event, Captions]
# A place for a label: (x, y, anchor, dy of its first line, its lines)
Candidate = tuple[float, float, str, float, list[str]]
# Where a label may stand along its arrow, as fractions of the arrow's length, in order of preference.
ALONG = (0.05, 0.2, 0.35, 0.5, 0.62, 0.74, 0.84)
# Where a lost segment stops, along the way it would have gone: its label, past the ✕, ends short of the far
# lifeline and its timer bar (at halfway, 04's lost final ACKs ran their labels into B's RETRANSMIT bar).
LOST_AT = 0.45


def draw_flights(c: Canvas, i: int, p: Panel) -> list[Label]:
    """Draw every segment's arrow; return their labels, to place once the timers' are."""
    lane = {"A": c.g.xa(i), "B": c.g.xb(i)}
    cap = p.captions or Captions(p.events)
    flights = pair_flights(p.events)
    delays = sorted(r.time - f.send.time for f in flights if f.send is not None for r in f.recvs[:1])
    delay = delays[len(delays) // 2] if delays else 10_000
    labels: list[Label] = []
    number = {"A": 0, "B": 0}
    folds = sorted(p.folds.values(), key=lambda fold: fold.first)
    for f in sorted(flights, key=lambda f: (f.send or f.recvs[0]).index):
        if f.sender not in lane:
            continue
        out_of_fold = False
        while folds and (f.send or f.recvs[0]).time > folds[0].last:  # what a fold hides keeps its numbers
            fold = folds.pop(0)
            number = {ep: n + fold.sends[ep] for ep, n in number.items()}
            out_of_fold = True
        if f.send is not None:
            number[f.sender] += 1
        # an arrival whose send the fold hid is that sender's last segment in it
        name = f"{f.sender}{number[f.sender]}" if f.send is not None or out_of_fold else ""
        text = f"{name} {f.text}".strip()
        labels += _flight(c, i, f, text, lane, delay, cap)
    return labels


def _flight(c: Canvas, i: int, f: Flight, text: str, lane: dict[str, int], delay: int, cap: Captions) -> list[Label]:
    """One segment's arrows (one per arrival; a second copy dashed), and their labels."""
    ax = c.axis
    peer = "B" if f.sender == "A" else "A"
    s = f.send
    color = seg_color((s or f.recvs[0]).flags, (s or f.recvs[0]).length)
    if s is None:  # an arrival whose send is not in this trace
        r = f.recvs[0]
        y1 = ax.y(i, r)
        y0 = max(ax.y_at(r.time - delay), y1 - 30)
        _arrow(c, lane[f.sender], y0, lane[peer], y1, color, "5 4", r.index, r.index)
        return [(lane[f.sender], y0, lane[peer], y1, text, color, r.index, r, cap)]
    y0 = ax.y(i, s)
    if not f.recvs:
        return [_unarrived(c, i, s, text, color, (lane[f.sender], y0, lane[peer]), delay, cap)]
    labels: list[Label] = []
    for k, r in enumerate(f.recvs):
        y1 = ax.y(i, r)
        if k == 0:
            _arrow(c, lane[f.sender], y0, lane[peer], y1, color, "", s.index, r.index)
            labels.append((lane[f.sender], y0, lane[peer], y1, text, color, s.index, s, cap))
            continue
        # The network's copy, dashed, and said along it. One that arrives after a break comes out of the
        # last break before it: drawn from its send, it crossed every label between (05's old duplicate).
        said, top = "second copy", y0
        passed = [b1 for b0, b1, _ in ax.breaks if y0 < b0 and b1 < y1]
        if passed:
            said = f"copy of {text.split(' ', 1)[0]}, sent {s.time / 1e6:.3f} s"  # short: it ran past the lifeline
            top = max(passed[-1] - 4, y1 - 40)
        _arrow(c, lane[f.sender], top, lane[peer], y1, color, "6 4", r.index if passed else s.index, r.index)
        labels.append((lane[f.sender], top, lane[peer], y1, said, color, r.index, r, cap))
    return labels


def _unarrived(c: Canvas, i: int, s: Event, text: str, color: str, start: tuple[float, float, float], delay: int,
               cap: Captions) -> Label:  # fmt: skip
    """A segment with no arrival: lost (stopped near halfway at a red cross), or cut short (a hollow head)."""
    ax = c.axis
    x0, y0, x1 = start
    y1 = max(ax.y_at(s.time + delay), y0 + 30)
    band = ax.break_after(y0)
    if band is not None and y1 > band[0] + 2:
        y1 = max(band[0] + 2, y0 + 20)  # stop short of the break and its label
    if s.fate == "lost":
        mx, my = x0 + LOST_AT * (x1 - x0), y0 + LOST_AT * (y1 - y0)
        c.unarrived_ends[s.index] = (mx, my)
        c.line(x0, y0, mx, my, color, width=1.8, a=s.index)
        c.place.add_line(x0, y0, mx, my)
        c.out.append(
            f'<path d="M{num(mx - 6)},{num(my - 6)} L{num(mx + 6)},{num(my + 6)} M{num(mx - 6)},{num(my + 6)} '
            f'L{num(mx + 6)},{num(my - 6)}" stroke="{LOST}" stroke-width="3.2" data-kind="lost"'
            f"{c.anim(s.index)}/>"
        )
        c.place.add(rect_quad(mx - 7, my - 7, 14, 14))
        _lost_label(c, mx, my, s.index)
    else:  # sent, but its arrival is not in the trace (cut short, or one endpoint only)
        c.unarrived_ends[s.index] = (x1, y1)
        _arrow(c, x0, y0, x1, y1, color, "5 4", s.index, s.index, hollow=True)
    return (x0, y0, x1, y1, text, color, s.index, s, cap)


def _lost_label(c: Canvas, mx: float, my: float, a: int) -> None:
    cands = [(mx, my + 20, "middle"), (mx + 11, my + 4, "start"), (mx - 11, my + 4, "end"), (mx, my - 12, "middle")]
    quads = [text_quad(x, y, ["lost"], SMALL, anc) for x, y, anc in cands]
    # clear of the arrows first: a reader found another arrow striking "lost" through
    k = next((k for k in (c.place.first_free(quads, clear_of_lines=True), c.place.first_free(quads),
                          c.place.first_free(quads, bands=False)) if k is not None), 0)  # fmt: skip
    x, y, anc = cands[k]
    c.text(x, y, "lost", size=SMALL, anchor=anc, color=LOST, weight="bold", a=a)
    c.place.add(quads[k])


def _arrow(c: Canvas, x0, y0, x1, y1, color, dash, a0, a1, hollow=False) -> None:
    c.place.add_line(x0, y0, x1, y1)
    if c.animate and a1 != a0:  # in flight from the send step, arrives at the recv step
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        c.line(x0, y0, mx, my, color, width=1.8, dash=dash, a=a0)
        c.line(mx, my, x1, y1, color, width=1.8, dash=dash, a=a1)
    else:
        c.line(x0, y0, x1, y1, color, width=1.8, dash=dash, a=a0)
    c.head(x0, y0, x1, y1, color, a=a1, hollow=hollow)


def _label_lines(c: Canvas, label: str, narrow: bool = False) -> list[str]:
    """The RFC text in lines that fit along an arrow: one line when it fits, else as few
    lines as fit (narrow: lines of at most a third of the gap, for arrows that cross)."""
    room = c.g.gap * (0.4 if narrow else 0.78)
    if text_width(label, LABEL if not c.g.compact else SMALL) <= room:
        return [label]
    head, _, rest = label.partition(" ")
    parts = [p + ">" for p in rest.split(">") if p] if rest.startswith("<") else [label]
    size = SMALL if c.g.compact else LABEL
    tokens = [head, *parts] if rest.startswith("<") else parts
    return wrap_greedy(tokens, lambda cur, part: f"{cur} {part}" if not cur.endswith(">") else cur + part,
                       lambda text, _k: text_width(text, size) <= room)  # fmt: skip


def place_label(c: Canvas, x0, y0, x1, y1, label, color, a, e: Event, cap: Captions) -> None:
    """RFC text along the arrow, reading left to right, at the first place along it that is free.
    A lost segment's arrow stops at its ✕, a little short of halfway: its label stands just past the ✕ first (in as
    many lines as it takes), where nothing else is drawn."""
    rightward = x1 > x0
    ang = math.degrees(math.atan2(y1 - y0, x1 - x0) if rightward else math.atan2(y0 - y1, x0 - x1))
    size = SMALL if c.g.compact else LABEL
    lead = size + 1
    cands = _label_candidates(c, x0, y0, x1, y1, label, e)
    quads = [text_quad(px, py + dy0, lines, size, anchor, ang, (px, py), lead)
             for px, py, anchor, dy0, lines in cands]  # fmt: skip
    k, crossed = _free_place(c, quads, (x0, y0, x1, y1))
    px, py, anchor, dy0, lines = cands[k]
    # A label that other arrows cross gets a wider white halo: a line through a digit's hollow made
    # "<SEQ=2100>" read "<SEQ=·100>" under 05's dense fan of data segments.
    halo = 7 if crossed else 3
    c.place.add(quads[k])
    tip = escape(cap.sentence(e))
    spans = "".join(
        f'<tspan x="{num(px)}" dy="{num(dy0) if j == 0 else lead}">{escape(t)}</tspan>' for j, t in enumerate(lines)
    )
    c.out.append(
        f'<text x="{num(px)}" y="{num(py)}" font-size="{size}" text-anchor="{anchor}" fill="{color}" '
        f'transform="rotate({ang:.2f} {num(px)} {num(py)})" paint-order="stroke" stroke="#ffffff" '
        f'stroke-width="{halo}" stroke-linejoin="round" data-kind="segment"{c.anim(a)}><title>{tip}</title>{spans}</text>'
    )


def _label_candidates(c: Canvas, x0, y0, x1, y1, label: str, e: Event) -> list[Candidate]:
    """Each place a label may take, best first:
    along the arrow, above then below it, in one line and then in narrow lines."""
    size = SMALL if c.g.compact else LABEL
    lead = size + 1
    one = _label_lines(c, label)
    narrow = _label_lines(c, label, narrow=True)
    variants = [one] if narrow == one else [one, narrow]
    places = [(lines, at) for lines in variants for at in ALONG]
    if e.fate == "lost":
        places = [(lines, LOST_AT + 0.05) for lines in variants] + places
    anchor = "start" if x1 > x0 else "end"
    cands = []
    for lines, at in places:
        px, py = x0 + at * (x1 - x0), y0 + at * (y1 - y0)
        for below in (False, True):
            dy0 = (size + 1) if below else -4 - (len(lines) - 1) * lead
            cands.append((px, py, anchor, dy0, lines))
    return cands


def _free_place(c: Canvas, quads: list[Quad], arrow: tuple[float, float, float, float]) -> tuple[int, bool]:
    """The first of the label's places that is free, preferring (in this order) one between the lifelines
    and clear of other arrows, one between the lifelines, any; the counts say which fallback was taken.
    Also whether other lines may cross the place taken."""
    x0, _, x1, _ = arrow
    # Between the two lifelines (a label past one runs into the states beside it) and clear of the
    # other segments' arrows (two FINs crossing: each label away from the X) where a place is.
    lo, hi = min(x0, x1) + 2, max(x0, x1) - 2
    between = [q if all(lo <= x <= hi for x, _ in q) else NOWHERE for q in quads]
    # Clear of the timers' bars too where one is free (05's lost ACK once ran its label up to B's
    # RETRANSMIT bar side by side).
    k = c.place.first_free(between, clear_of_lines=True, along=arrow, bars=True)
    if k is None:
        k = c.place.first_free(between, clear_of_lines=True, along=arrow)
    if k is not None:
        return k, False
    c.place.crowded.append((min(arrow[1], arrow[3]), max(arrow[1], arrow[3])))
    c.place.crossings.append(c.place.crowded[-1])
    k = c.place.first_free(between)
    c.place.crossed += k is not None
    if k is None:
        k = c.place.first_free(quads)
        c.place.past_lifelines += k is not None
    if k is None:  # on a break's zigzag rather than on another label
        k = c.place.first_free(quads, bands=False)
        c.place.on_bands += k is not None
    if k is None:
        k = 0
        c.place.dropped += 1000  # an overlap: the legibility tests report it
    return k, True
