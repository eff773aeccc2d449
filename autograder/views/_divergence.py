"""The first divergence in a sequence diagram: where the learner's run and the reference's part.

Kept apart from the canvas: it is drawn once every panel is, across them all, with a tag
that says in words (not only in red) which run is which.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

from reference_impl.trace import EventKind

from ._axis import LINE, Panel
from ._geometry import GAP, NOWHERE, Quad, line_quad, overlap, text_quad, text_width, wrap_greedy
from ._style import LOST, SMALL, num
from .explain import Captions
from .model import Event
from .pairing import Flight, pair_flights
from .side_by_side import moment_key as _key

if TYPE_CHECKING:
    from ._draw import Canvas

# The ring's radius around the lane: inside the 12 px a state's pill and notes keep from it ("EOF → app" was cut).
RING = 9


def draw_divergence(c: Canvas) -> None:
    """The first divergence, drawn in every panel that has it marked: a red band across the
    panel, a ring on the lane, a thick dashed outline along the differing segment or around
    the differing state, and a tag that says which run is which (shape and words, not only red)."""
    for i, p in enumerate(c.panels):
        if p.mark is None:
            continue
        e = next((x for x in p.events if x.index == p.mark), None)
        if e is None:
            continue
        # it appears at the step that draws what differs (a reader saw "they part here" over an empty axis)
        c.appear = p.appear
        lacks = _lacks(e, p, [q for j, q in enumerate(c.panels) if j != i])
        _mark(c, i, p, e, outline=lacks is None)
        _tag(c, i, p, e, lacks)
        c.appear = {}


def _lacks(e: Event, p: Panel, others: list[Panel]) -> tuple[Event, list[Event]] | None:
    """The row the marked moment lacks, where it differs only by lacking rows another run has (a
    TIME_WAIT restart left out): then no row of it is wrong, and outlining its last one (an ACK the
    other run sends too) sent two readers looking at the wrong thing."""
    mine = Counter(_key(x) for x in p.events if (x.time, x.endpoint) == (e.time, e.endpoint))
    for q in others:
        theirs = [x for x in q.events if (x.time, x.endpoint) == (e.time, e.endpoint)]
        if mine < Counter(_key(x) for x in theirs):
            x = next(x for x in theirs if mine[_key(x)] < sum(_key(y) == _key(x) for y in theirs))
            return x, q.events
    return None


def _row_words(x: Event, run: list[Event]) -> str:
    """A lacking row in a few words, for the tag ("the TIME_WAIT restart")."""
    if x.event == EventKind.TIMER:
        verb, _, rest = x.detail.partition(" ")
        timer = rest.split(" ")[0]
        if verb == "start" and _running(timer, x, run):
            verb = "restart"
        return f"the {timer} {'timer' if verb == 'start' else verb}" if timer else "a timer"
    if x.event == EventKind.SEND:
        flags = x.flags_text.replace("|", ",")
        return f"{'an' if flags.startswith(('A', 'E', 'I', 'O', 'U', 'RST')) else 'a'} {flags} segment"  # an ACK, a FIN
    if x.after and x.after != x.before:
        return f"the step to {x.after}"
    return {"deliver": "a delivery", "error": "an error"}.get(x.event, "a row")


def _what_differs(e: Event, others: list[Panel]) -> str | None:
    """What this run's marked row does where the other run's differs, in a few words: the fields of a
    segment both send ("sends ACK=300"), the timer both set ("RETRANSMIT 1 s"), or the state both step
    to. A reader's wrong ACK number was ringed as "yours differs", and found only by comparing the two
    arrows' small labels."""
    for q in others:
        x = next((y for y in q.events if y.index == q.mark), None)
        if x is None or (x.event, x.endpoint) != (e.event, e.endpoint):
            continue
        if e.event == EventKind.SEND:
            fields = [(f"CTL={e.flags_text.replace('|', ',')}", e.flags_text != x.flags_text), (f"SEQ={e.seq}", e.seq != x.seq),
                      (f"ACK={e.ack}", e.ack != x.ack), (f"{e.length or 0} bytes", (e.length or 0) != (x.length or 0))]  # fmt: skip
            shown = [f for f, differs in fields if differs]
            return f"sends {' '.join(shown)}" if shown else None
        if e.event == EventKind.TIMER and e.detail != x.detail:  # two readers' undoubled backoff: "yours differs"
            verb, _, rest = e.detail.partition(" ")  # short, to fit between the lifelines
            return rest if verb == "start" else f"{verb}s {rest}"  # "✗ yours RETRANSMIT 1 s" beside "... 2 s"
        # "stays in FIN_WAIT_1" beside "goes to FIN_WAIT_2"
        if e.after != x.after and (e.changes_state or x.changes_state):
            return f"goes to {e.after}" if e.changes_state else f"stays in {e.after}"
    return None


def _running(timer: str, x: Event, run: list[Event]) -> bool:
    """Whether `timer` of x's endpoint was running when x started it again (a restart)."""
    on = False
    for y in run:
        if y is x:
            return on
        if y.endpoint == x.endpoint and y.event == EventKind.TIMER and y.detail.split(" ")[1:2] == [timer]:
            on = y.detail.startswith("start")
        elif y.endpoint == x.endpoint and y.event == EventKind.TIMEOUT and y.detail == timer:
            on = False
    return on


def _mark(c: Canvas, i: int, p: Panel, e: Event, outline: bool = True) -> None:
    """The band across the panel, the ring on the lane, and the outline of what differs."""
    g, ax = c.g, c.axis
    y = ax.y(i, e)
    x = g.xa(i) if e.endpoint == "A" else g.xb(i)
    ox = g.ox(i)
    at = c.anim(e.index)
    c.back.append(
        f'<rect x="{num(ox)}" y="{num(y - LINE / 2 - 2)}" width="{g.panel_w}" height="{LINE + 4}" fill="{LOST}" '
        f'fill-opacity="0.12" data-kind="divergence"{at}/>'
    )
    c.front.append(
        f'<circle cx="{num(x)}" cy="{num(y)}" r="{RING}" fill="none" stroke="{LOST}" stroke-width="2.5" '
        f'data-kind="divergence"{at}/>'
    )
    if not outline:
        return
    if e.event == EventKind.SEND:
        peer = g.xb(i) if e.endpoint == "A" else g.xa(i)
        recv = next((r for f in pair_flights(p.events) if f.send is e for r in f.recvs[:1]), None)
        # along the arrow as drawn: to its arrival, or to where a lost one stops
        x1, y1 = (peer, ax.y(i, recv)) if recv is not None else c.unarrived_ends.get(e.index, ((x + peer) / 2, y + 30))
        _outline_arrow(c, x, y, x1, y1, at)
    elif e.event == EventKind.RECV and not e.changes_state and not _noted(p, e) and (f := _flight_of(p, e)):
        # an arrival that changes no state and writes no note (RFC 1337's ignored RST): its arrow, as it
        # arrives; a box around the empty row beside the lane marked nothing a reader could find
        sender = g.xa(i) if f.sender == "A" else g.xb(i)
        _outline_arrow(c, sender, ax.y(i, f.send) if f.send is not None else y - 30, x, y, at)
    elif (i, e.index) in c.timer_marks:  # a timer: its name (its length) or its tick, drawn along the bar
        bx, by, bw, bh = c.timer_marks[i, e.index]
        c.front.append(
            f'<rect x="{num(bx - 3)}" y="{num(by - 3)}" width="{num(bw + 6)}" height="{num(bh + 6)}" rx="4" '
            f'fill="none" stroke="{LOST}" stroke-width="2" stroke-dasharray="5 3" data-kind="divergence"{at}/>'
        )
    else:
        left = e.endpoint == "A"
        x0 = ox + 2 if left else x + 4
        w = (x - 4) - x0 if left else ox + g.panel_w - 2 - x0
        h = 22 + (max(c.note_rows.get((i, e.index), 1), 1) - 1) * LINE  # around every line a long note wraps to
        c.front.append(
            f'<rect x="{num(x0)}" y="{num(y - 11)}" width="{num(w)}" height="{num(h)}" rx="4" fill="none" '
            f'stroke="{LOST}" stroke-width="2" stroke-dasharray="5 3" data-kind="divergence"{at}/>'
        )


def _outline_arrow(c: Canvas, x0: float, y0: float, x1: float, y1: float, at: str) -> None:
    """A thick dashed outline along a segment's arrow, as drawn: under the arrow and its label (drawn
    over them, it struck the label's numbers through, the very numbers that differ)."""
    c.back.append(
        f'<line x1="{num(x0)}" y1="{num(y0)}" x2="{num(x1)}" y2="{num(y1)}" stroke="{LOST}" stroke-width="5" '
        f'stroke-dasharray="7 4" stroke-opacity="0.75" data-kind="divergence"{at}/>'
    )


def _flight_of(p: Panel, e: Event) -> Flight | None:
    """The segment whose arrival e is."""
    return next((f for f in pair_flights(p.events) if any(r is e for r in f.recvs)), None)


def _noted(p: Panel, e: Event) -> bool:
    return bool((p.captions or Captions(p.events)).note(e))


def _tag(c: Canvas, i: int, p: Panel, e: Event, lacks: tuple[Event, list[Event]] | None = None) -> None:
    """The words, at the first free place near the mark (a leader line to the ring when far from it)."""
    g, ax = c.g, c.axis
    y = ax.y(i, e)
    x = g.xa(i) if e.endpoint == "A" else g.xb(i)
    which = _tag_words(c, i, p, e, lacks)
    tag = f"{which}: {e.endpoint}, {e.time / 1e6:.3f} s"
    lines = _tag_lines(c, i, p, e, which)
    depth = (len(lines) - 1) * (SMALL + 1)
    mid = (g.xa(i) + g.xb(i)) / 2
    cands = [(mid + dx, y + dy) for dy in (-LINE / 2 - 6, LINE / 2 + 14, -28, 32, -46, 50, -64, 68, -82, 86, -100, 104)
             for dx in (0, -g.gap / 5, g.gap / 5, -g.gap / 3, g.gap / 3)]  # fmt: skip
    top = lines
    if c.n > 1:  # the line kept free under the panel's name, when nothing nearer is: one line if it fits there
        cands.append((mid, ax.top - 66 - 10))
        top = [tag] if text_width(tag, SMALL) <= g.panel_w - 16 else lines
    quads = [text_quad(cx, cy, lines, SMALL, "middle") for cx, cy in cands[:-1]]
    quads.append(text_quad(*cands[-1], top, SMALL, "middle"))
    near = quads[:-1] if c.n > 1 else quads  # the line under the panel's name: a leader across the picture
    half = max(text_width(t, SMALL) for t in lines) / 2
    # a place whose leader crosses no label first (readers found "TIME_WAIT 240 s + restart" struck through)
    unstruck = [
        q if _leader_clear(c, cx, cy, x, y, depth, half) else NOWHERE for q, (cx, cy) in zip(near, cands, strict=False)
    ]
    k = _first_pass(c, (g.xa(i) + 1, g.xb(i) - 1), unstruck, near, quads)
    cx, cy = cands[0 if k is None else k]
    if c.n > 1 and k == len(cands) - 1:  # under the panel's name: a layout with the tag near its ring is better
        lines, depth = top, (len(top) - 1) * (SMALL + 1)
        c.place.far_tags += 1
    if k is None or k > 2:  # not near the mark with a gap to the other labels
        c.place.crowded.append((y - 40, y + 40))
    if k is None:
        c.place.dropped += 1000
    c.mark_tops.append(min(py for _, py in quads[0 if k is None else k]))
    if abs(cy - y) > LINE:  # a leader from the tag to the ring
        (x0, y0), (x1, y1) = _leader(cx, cy, x, y, depth, max(text_width(t, SMALL) for t in lines) / 2)
        c.front.append(
            f'<line x1="{num(x0)}" y1="{num(y0)}" x2="{num(x1)}" y2="{num(y1)}" stroke="{LOST}" stroke-width="1.2" '
            f'data-kind="divergence"{c.anim(e.index)}/>'
        )
    for k, line in enumerate(lines):
        c.text(cx, cy + k * (SMALL + 1), line, size=SMALL, anchor="middle", color=LOST, weight="bold", to=c.front,
               a=e.index, extra=' paint-order="stroke" stroke="#ffffff" stroke-width="3" data-kind="divergence"')  # fmt: skip


def _tag_lines(c: Canvas, i: int, p: Panel, e: Event, which: str) -> list[str]:
    """The tag in as few lines as keep it between the lifelines (a reader's ran into B's CLOSE_WAIT): what
    differs, then where and when; what differs wrapped too where it alone is wider than the lane (side by
    side, "✗ yours lacks the TIME_WAIT restart:" is)."""
    room = c.g.gap - 8
    subject = _which(c, i, p.name).replace(" differs", "")  # "✗ yours", "◆ reference": the predicate kept whole
    when, predicate = f"{e.endpoint}, {e.time / 1e6:.3f} s", which.removeprefix(subject).strip()
    chunks = [subject, f"{predicate}:", when] if predicate else [f"{which}:", when]
    if not which.startswith(subject) or text_width(chunks[-2], SMALL) > room:
        chunks = [*f"{which}:".split(" "), when]
    return wrap_greedy(chunks, lambda cur, w: f"{cur} {w}", lambda text, _k: text_width(text, SMALL) <= room)


def _first_pass(c: Canvas, lane: tuple[float, float], unstruck: list[Quad], near: list[Quad],
                quads: list[Quad]) -> int | None:  # fmt: skip
    """The tag's place from the first pass that finds one: between the lifelines (`lane`) and off the
    timers' bars first (a reader's "✗ yours sends ACK=300" ran across B's RETRANSMIT bar and lifeline),
    near the mark and clear of the arrows (readers found the tag struck through by the crossing FINs), a
    place whose leader crosses no label before one with a gap around it (readers found leaders striking
    through "<ACK=300>"), then near it, then on a break near it (a leader from under the panel's name
    to 63 s crossed every label of fin-retry-limit), then under the panel's name, then on a break
    anywhere (with a gap to the other labels first: a reader read the tag and "TIME_WAIT 240 s +
    restart" as one). A tag across a lifeline or a bar (or nowhere) is counted, so that a layout with
    room for it between them is drawn."""
    inner = [q if all(lane[0] <= px <= lane[1] for px, _ in q) else NOWHERE for q in unstruck]
    passes = ((inner, dict(clear_of_lines=True, gap=GAP, bars=True)), (inner, dict(gap=GAP, bars=True)),
              (unstruck, dict(clear_of_lines=True, gap=GAP)), (unstruck, dict(gap=GAP)),
              (unstruck, dict(clear_of_lines=True)), (unstruck, {}), (near, dict(clear_of_lines=True, gap=GAP)),
              (near, dict(clear_of_lines=True)), (near, {}), (near, dict(bands=False)), (quads, {}),
              (quads, dict(bands=False)))  # fmt: skip
    for rank, (places, how) in enumerate(passes):
        if (k := c.place.first_free(places, **how)) is not None:
            c.place.loose_tags += rank > 1
            return k
    c.place.loose_tags += 1
    return None


def _tag_words(c: Canvas, i: int, p: Panel, e: Event, lacks: tuple[Event, list[Event]] | None) -> str:
    """Which run this is, and what its marked row does that the other's does not."""
    which = _which(c, i, p.name)
    if lacks is not None:  # "✗ yours lacks the TIME_WAIT timer": nothing it does is wrong, it leaves something out
        what = _row_words(*lacks)
        return f"{which}, one lacks {what}" if "part here" in which else which.replace(" differs", f" lacks {what}")
    said = _what_differs(e, [q for j, q in enumerate(c.panels) if j != i])
    if said and not which.endswith("part here"):  # "✗ yours sends ACK=300", "◆ reference sends ACK=301"
        return which.replace(" differs", "") + f" {said}"
    return which


def _leader(
    cx: float, cy: float, x: float, y: float, depth: float = 0.0, half: float = 0.0
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The leader from the tag at (cx, cy) (its last line `depth` lower, `half` its half width) to the
    ring around (x, y), ending at the ring, not its centre. It leaves the tag's edge where that edge
    comes nearest the ring, not its middle: from the middle, leaders crossed the labels beside the tag."""
    x0 = min(max(x, cx - half + 6), cx + half - 6) if half > 6 else cx
    y0 = cy + depth + 4 if cy < y else cy - 12
    d = math.hypot(x - x0, y - y0) or 1.0
    return (x0, y0), (x - (x - x0) * RING / d, y - (y - y0) * RING / d)


def _leader_clear(c: Canvas, cx: float, cy: float, x: float, y: float, depth: float = 0.0, half: float = 0.0) -> bool:
    """Whether the leader a tag at (cx, cy) needs crosses no label."""
    if abs(cy - y) <= LINE:
        return True
    (x0, y0), (x1, y1) = _leader(cx, cy, x, y, depth, half)
    line = line_quad(x0, y0, x1, y1)
    return not any(overlap(line, b, margin=0.5) for b in c.place.boxes.near(line, 2))


def _which(c: Canvas, i: int, name: str) -> str:
    """Which run is which, in words: the learner's and the reference's by those names; two runs the
    caller named otherwise (two profiles of the reference) are only where they part."""
    if c.n == 1:
        return "✗ first divergence"
    if i == 0:
        return "✗ yours differs" if name.startswith("Your") else "◆ they part here"  # ✗ only on a mistake
    return "◆ reference" if name.startswith("Reference") else "◆ they part here"
