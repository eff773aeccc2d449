"""The RFC close state diagram as SVG, drawn from the transition table, lit by a trace.

The edges come from data: `reference_impl.transitions.TRANSITIONS`, the table the
notebooks print (tests keep it equal to what the handlers do). Nothing is hand-drawn per
trace: a trace only decides which edges light up; `wrong=` marks edges red (a
learner's transition that the reference never takes is drawn even if it is not
in the table). Edges are routed around the state boxes and labels are placed clear of
boxes, of each other and of other edges automatically, and a label's text comes from the
table's event, sends and condition, so a new row in the table needs no drawing code.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import cache, lru_cache
from itertools import pairwise
from xml.sax.saxutils import escape, quoteattr

from reference_impl.trace import EventKind
from reference_impl.transitions import TRANSITIONS, event_of

from ._geometry import ASCENT, CW
from ._style import FONT, INK, LOST, MUTED, STATE_COLORS
from .model import events_of

W, H = 860, 600
BOX_W, BOX_H = 136, 36
# Where each state sits: the RFC 793 figure 6 arrangement, active closer left, passive right.
POSITIONS = {
    "ESTABLISHED": (430, 60), "FIN_WAIT_1": (170, 170), "CLOSE_WAIT": (690, 170),
    "CLOSING": (430, 290), "FIN_WAIT_2": (170, 350), "LAST_ACK": (690, 350),
    "TIME_WAIT": (300, 470), "CLOSED": (610, 540),
}  # fmt: skip
# The figure's own edges; RST, abort, retry limits, Linux-only ones and the socket API's close()
# resets (RFC 9293 §3.6.1 SHLD-3, not in RFC 793's figure) appear when used.
MAIN_EVENTS = frozenset({"close", "FIN", "ACK", "timeout TIME_WAIT"})
# Conditions whose edges are not in RFC 793 figure 6, drawn only in the full diagram: Linux's and the
# socket API's, and a FIN that acknowledges ours while data before it is missing (RFC 9293 §3.10.7.4:
# the FIN waits for the data, the ACK counts), which read on the map as "a FIN leads to FIN_WAIT_2".
OFF_FIGURE = ("linux", "socket close()", "acknowledges our FIN, but data before the FIN is missing")
LIT = "#0969da"
# Labels: 11 px DejaVu Sans Mono, every glyph CW em wide, so a label's box is known before a browser
# draws it; a transition's text wraps after WRAP characters.
SIZE, LEAD, WRAP, PAD = 11, 13, 36, 3
FULL_SCALE = (1.3, 1.25)  # the full diagram's many resets to CLOSED need room for their labels
HARD = 1000.0  # the cost of one collision: any free place beats every occupied one

Edge = tuple[str, str, str]  # (state, event, next_state)
Rect = tuple[float, float, float, float]  # left, top, right, bottom
Points = list[tuple[float, float]]


def _name(state: object) -> str:
    """A state as the table spells it, whether a trace gives it as text or as a State."""
    return str(getattr(state, "value", state))


def exercised_edges(trace_or_frame: object) -> set[Edge]:
    """The (state, event, next_state) transitions a trace took (state changes only)."""
    return {
        (_name(e.before), event_of(e), _name(e.after))
        for e in events_of(trace_or_frame)
        if e.changes_state and e.before and e.event != EventKind.REOPEN
    }


@lru_cache(maxsize=1)
def table_edges() -> tuple[tuple[Edge, str, bool], ...]:
    """Every transition the diagram knows: ((state, event, next), sends, in RFC 793 figure 6)."""
    return tuple(
        ((t.state, t.event, t.next_state), t.sends, t.event in MAIN_EVENTS and not t.condition.startswith(OFF_FIGURE))
        for t in TRANSITIONS
        if t.state in POSITIONS and t.next_state in POSITIONS  # the close's states: not LISTEN, SYN_SENT, ...
    )


@lru_cache(maxsize=1)
def _conditions() -> dict[Edge, str]:
    return {(t.state, t.event, t.next_state): t.condition for t in TRANSITIONS}


def state_diagram_svg(
    trace_or_frame: object = None,
    *,
    wrong: Iterable[tuple[str, ...]] = (),
    full: bool = False,
    states: Iterable[str] = (),
    title: str = "Closing a TCP connection (RFC 9293)",
) -> str:
    """The close state diagram; transitions the trace took are lit, `wrong` ones red.

    wrong: (state, next_state) or (state, event, next_state) tuples to mark red.
    full: also draw RST, abort, retry-limit and Linux-only edges that nobody took.
    states: states to light (a notebook's own, e.g. ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]),
      with the table's transitions between them.
    """
    taken = exercised_edges(trace_or_frame) if trace_or_frame is not None else set()
    lit_states = {_name(s) for s in states}
    unknown = lit_states - set(POSITIONS)
    if unknown:
        raise ValueError(f"not a state of the close diagram: {', '.join(sorted(unknown))} (use {', '.join(POSITIONS)})")
    # A notebook's map lights the ordinary close between its states (no resets: those are notebook 06's);
    # which arrows it leaves out is the course map's to say (autograder.course_map).
    taken |= {e for e, sends, main in table_edges() if main and e[0] in lit_states and e[2] in lit_states | {"CLOSED"}
              and e[0] != e[2] and "RST" not in sends}  # fmt: skip
    visited = {s for e in taken for s in (e[0], e[2])} | lit_states
    wrong = [tuple(_name(s) if i != 1 or len(w) == 2 else s for i, s in enumerate(w)) for w in wrong]
    bad = {(w[0], w[-1]) for w in wrong}
    bad_events = {w for w in wrong if len(w) == 3}
    whole_pairs = {(w[0], w[-1]) for w in wrong if len(w) == 2}
    groups: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for (src, ev, dst), sends, main in table_edges():
        if full or main or (src, ev, dst) in taken or (src, dst) in whole_pairs or (src, ev, dst) in bad_events:
            groups[(src, dst)].append((ev, sends))
    for src, ev, dst in sorted(taken | bad_events):
        if not any(x[0] == ev for x in groups[(src, dst)]):
            groups[(src, dst)].append((ev, ""))  # not in the table: the learner invented it
    for src, dst in bad:
        groups.setdefault((src, dst), [("?", "")])

    sx, sy = FULL_SCALE if full else (1, 1)
    w, h = round(W * sx), round(H * sy)
    pos = {s: (x * sx, y * sy) for s, (x, y) in POSITIONS.items()}
    for s in sorted({s for pair in groups for s in pair} - pos.keys()):  # states the layout lacks
        pos[s] = (90 + 150 * (len(pos) - len(POSITIONS)), h - 30)
    pairs = [(src, dst) for src, dst in sorted(groups) if src in pos and dst in pos and src != dst]
    texts = _label_texts({p: groups[p] for p in pairs})
    twins = tuple(p for p in pairs if p[::-1] in groups)
    layout = _layout(tuple(pairs), twins, tuple((p, tuple(texts[p])) for p in pairs), tuple(pos.items()), (w, h))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'font-family={quoteattr(FONT)} class="tcp-state-diagram">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(_describe(groups, taken, bad))}</desc>",
        f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
        f'<text x="{w / 2}" y="22" font-size="15" font-weight="bold" text-anchor="middle" fill="{INK}">{escape(title)}</text>',
    ]
    for src, dst in pairs:
        lit = any((src, ev, dst) in taken for ev, _ in groups[(src, dst)])
        color = LOST if (src, dst) in bad else LIT if lit else "#afb8c1"
        bold = [(src, ev, dst) in taken for ev, _ in groups[(src, dst)]]
        strong = lit or (src, dst) in bad
        out.append(_edge(src, dst, *layout[(src, dst)], color, strong, bold))
    for s, (x, y) in pos.items():
        on = s in visited
        color = STATE_COLORS.get(s, MUTED)
        out.append(
            f'<g class="state{" visited" if on else ""}"><rect x="{x - BOX_W / 2}" y="{y - BOX_H / 2}" width="{BOX_W}" '
            f'height="{BOX_H}" rx="9" fill="{color if on else "#ffffff"}" stroke="{color}" stroke-width="2"/>'
            f'<text x="{x}" y="{y + 5}" font-size="13" font-weight="bold" text-anchor="middle" '
            f'fill="{"#ffffff" if on else color}">{escape(s)}</text></g>'
        )
    wrongs = " · red: wrong" if wrong else ""  # a map with nothing marked wrong does not promise red
    legend = (
        f'<text x="14" y="{h - 12}" font-size="11" fill="{MUTED}">filled box, thick arrow, bold label: '
        f"lit · thin grey: not taken{wrongs}</text>"
    )
    out.extend([legend, "</svg>"])
    return "".join(out)


# ---- what each label says ------------------------------------------------------------------------


def _label_texts(groups: dict[tuple[str, str], list[tuple[str, str]]]) -> dict[tuple[str, str], list[list[str]]]:
    """Each edge's label, one entry per transition, each a list of lines.

    Where two drawn edges leave one state on the same event (FIN in FIN_WAIT_1 goes to CLOSING, or to
    TIME_WAIT if it also acknowledges our FIN: RFC 9293 §3.10.7.4), each says its condition from the
    table, in short; in full if the short forms still read alike.
    """
    ways = Counter((src, ev) for (src, _), evs in groups.items() for ev, _ in evs)
    said: dict[tuple[str, str, str], str] = {}
    for short in (True, False):
        for (src, dst), evs in groups.items():
            for ev, sends in evs:
                cond = _conditions().get((src, ev, dst), "") if ways[(src, ev)] > 1 else ""
                if short or Counter(t for (s, _, _), t in said.items() if s == src)[said[(src, ev, dst)]] > 1:
                    said[(src, ev, dst)] = _say(ev, sends, cond, short)
    return {(src, dst): [said[(src, ev, dst)] for ev, _ in evs] for (src, dst), evs in groups.items()}


def _say(event: str, sends: str, condition: str, short: bool) -> str:
    """'rcv FIN + ACK of our FIN / snd ACK' from FIN, ACK and 'also acknowledges our FIN'."""
    said = event if event in ("close", "abort", "?") or event.startswith("timeout") else f"rcv {event}"
    if condition:
        cond = condition.split(":")[0] if short else condition  # 'socket close(): unread data'
        cond = re.sub(r"\backnowledg(es|ing)\b", "ACK of", re.sub(r"\bdoes not acknowledge\b", "no ACK of", cond))
        if event == "ACK" and cond.startswith("ACK of "):
            said = f"rcv {cond}"  # the ACK is the condition: 'rcv ACK of our FIN'
        elif cond.startswith(("also ", "ACK of ")):
            said += " + " + cond.removeprefix("also ")  # the segment carries more than its event
        elif cond.startswith("no "):
            said += ", " + cond
        else:
            said += f" ({cond})"
    return said + (f" / snd {sends}" if sends else "")


def _wrap(text: str, width: int) -> list[str]:
    """The text in lines of at most `width` characters where it can; what is sent stays on one line."""
    said, sep, sends = text.partition(" / snd ")
    lines = [""]
    for word in said.split(" ") + ([f"/ snd {sends}"] if sep else []):
        if lines[-1] and len(lines[-1]) + 1 + len(word) > width:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}".strip()
    return lines


# ---- where edges run and labels sit --------------------------------------------------------------


def _routes(pos, src: str, dst: str, bend: float, size) -> list[tuple[tuple[float, float], ...]]:
    """The edge's possible curves (start, control, end), least bent first: each clears every other box,
    its name included, by 10 px, and stays in the picture (the most bent one if none does)."""
    (x0, y0), (x1, y1) = pos[src], pos[dst]
    n = math.hypot(x1 - x0, y1 - y0) or 1.0
    nx, ny = -(y1 - y0) / n, (x1 - x0) / n
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    others = [_box(p, 10) for s, p in pos.items() if s not in (src, dst)]
    out = []
    for k in (0, 30, -30, 60, -60, 90, -90, 120, -120, 150, -150, 180, -180, 240, -240, 300, -300, 360, -360):
        c = (mx + nx * (bend + k), my + ny * (bend + k))
        curve = (_clip(pos[src], c), c, _clip(pos[dst], c))
        pts = _points(curve)
        if all(0 <= x <= size[0] and 30 <= y <= size[1] for x, y in pts) and not any(_crosses(pts, b) for b in others):
            out.append(curve)
    return out[:6] or [curve]


@lru_cache(maxsize=8)
def _layout(pairs, twins, texts, pos, size):
    """Each edge's curve, and its label's lines and centre.

    A label's candidates are its text wrapped to one of a few widths, on its edge or just beside it
    (_candidates). One costs HARD for each box, label, other edge, frame text or arrowhead it would
    cover, plus how far it sits from the middle of its edge and how many lines it takes. Labels with
    the fewest free candidates choose first, each the cheapest left. Where some label still covers
    something, another curve for one edge at a time is tried, while that lowers the total cost. The
    search is deterministic: a picture is the same on every run.
    """
    w, h = size
    texts = dict(texts)
    alts = {p: _routes(dict(pos), *p, 26 if p in twins else 0, size) for p in pairs}
    frame = [_box(p, 4) for _, p in pos] + [(w / 2 - 220, 0, w / 2 + 220, 30), (0, h - 26, 470, h)]

    @cache
    def line(p, i):
        pts = _points(alts[p][i])
        return pts, _span(pts)

    @cache
    def cands(p, i):  # (lines, centre, rect, preference + what it covers of the frame and its own arrowhead)
        pts = line(p, i)[0]
        head = [pt for pt in pts if math.dist(pt, pts[-1]) < 16]
        out = []
        for shape, c, r, pref in _candidates(alts[p][i], texts[p]):
            hits = (
                sum(_meets(r, b) for b in frame)
                + _crosses(head, r)
                + (not (0 <= r[0] < r[2] <= w and 0 <= r[1] < r[3] <= h))
            )
            out.append((shape, c, r, pref + HARD * hits))
        return out

    @cache
    def crossed(p, i, q, j):  # which of p's candidates q's line crosses
        pts, span = line(q, j)
        return [_meets(r, span) and _crosses(pts, r) for _, _, r, _ in cands(p, i)]

    def fixed(p, choice) -> list[float]:  # each of p's candidates' cost, apart from other labels
        crossings = [crossed(p, choice[p], q, choice[q]) for q in pairs if q != p]
        return [c[3] + HARD * sum(x[k] for x in crossings) for k, c in enumerate(cands(p, choice[p]))]

    def place(choice):
        costs = {p: fixed(p, choice) for p in pairs}
        total, chosen, culprits = sum(0.1 * i for i in choice.values()), {}, set()
        for p in sorted(pairs, key=lambda p: (sum(c < HARD for c in costs[p]), p)):
            mine = cands(p, choice[p])
            k = min(
                range(len(mine)),
                key=lambda k: costs[p][k] + HARD * sum(_meets(mine[k][2], c[2]) for c in chosen.values()),
            )
            on = {q for q, c in chosen.items() if _meets(mine[k][2], c[2])}
            chosen[p] = mine[k]
            total += costs[p][k] + HARD * len(on)
            if costs[p][k] + HARD * len(on) >= HARD:  # it covers something: its edge, or what it covers, may move
                culprits |= {p} | on | {q for q in pairs if q != p and crossed(p, choice[p], q, choice[q])[k]}
        return total, {p: c[:2] for p, c in chosen.items()}, culprits

    choice = {p: 0 for p in pairs}
    best, chosen, culprits = place(choice)
    while best >= HARD:  # move one edge at a time, the culprits' first, while that lowers the cost
        for movable in (sorted(culprits), pairs):
            trials = [{**choice, q: i} for q in movable for i in range(len(alts[q])) if i != choice[q]]
            better = [(r, t) for t in trials if (r := place(t))[0] < best]
            if better:
                break
        else:
            break
        (best, chosen, culprits), choice = min(better, key=lambda x: x[0][0])
    return {p: (alts[p][choice[p]], *chosen[p]) for p in pairs}


def _candidates(curve, texts: list[str]):
    """(lines, centre, box, preference) for a label: its text wrapped to one of a few widths, on its
    edge (its white ground hides the line beneath) or just beside it on either side, at points from
    the middle of the edge outward."""
    out = []
    shapes = {}
    for width in (WRAP, 26, 18):
        shape = [_wrap(t, width) for t in texts]
        shapes.setdefault(sum(map(len, shape)), shape)  # narrower only if it takes more lines
    fewest = min(shapes)
    for n, shape in shapes.items():
        bw, bh = _size(shape)
        for i, t in enumerate((0.5, 0.44, 0.56, 0.38, 0.62, 0.32, 0.68, 0.26, 0.74, 0.2, 0.8)):
            (x, y), (tx, ty) = _at(curve, t), _tangent(curve, t)
            nx, ny = -ty, tx
            reach = bw / 2 * abs(nx) + bh / 2 * abs(ny) + 2  # from the centre to the line, clear of it
            pref = 0.02 * i + 0.06 * (n - fewest)
            for side, extra in ((0, 0.0), (1, 0.05), (-1, 0.05)):
                c = (x + side * nx * reach, y + side * ny * reach)
                out.append((shape, c, _rect(c, (bw, bh)), pref + extra))
    return out


def _size(lines: list[list[str]]) -> tuple[float, float]:
    n = sum(len(t) for t in lines)
    return max(len(s) for t in lines for s in t) * SIZE * CW + 2 * PAD, (n - 1) * LEAD + SIZE + 4


def _span(pts: Points) -> Rect:
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    return (min(xs) - 1, min(ys) - 1, max(xs) + 1, max(ys) + 1)


def _rect(c, size) -> Rect:
    return (c[0] - size[0] / 2, c[1] - size[1] / 2, c[0] + size[0] / 2, c[1] + size[1] / 2)


def _box(p, pad: float) -> Rect:
    return (p[0] - BOX_W / 2 - pad, p[1] - BOX_H / 2 - pad, p[0] + BOX_W / 2 + pad, p[1] + BOX_H / 2 + pad)


def _meets(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _crosses(pts: Points, r: Rect) -> bool:
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


def _at(curve, t) -> tuple[float, float]:
    (x0, y0), (cx, cy), (x1, y1) = curve
    u = 1 - t
    return (u * u * x0 + 2 * u * t * cx + t * t * x1, u * u * y0 + 2 * u * t * cy + t * t * y1)


def _tangent(curve, t) -> tuple[float, float]:
    (x0, y0), (cx, cy), (x1, y1) = curve
    dx, dy = (1 - t) * (cx - x0) + t * (x1 - cx), (1 - t) * (cy - y0) + t * (y1 - cy)
    n = math.hypot(dx, dy) or 1.0
    return dx / n, dy / n


def _points(curve, steps: int = 32) -> Points:
    return [_at(curve, i / steps) for i in range(steps + 1)]


def _clip(box_centre, toward) -> tuple[float, float]:
    """Where the line from a box's centre toward a point leaves the box."""
    (x, y), (tx, ty) = box_centre, toward
    dx, dy = tx - x, ty - y
    k = min((BOX_W / 2 + 3) / abs(dx) if dx else math.inf, (BOX_H / 2 + 3) / abs(dy) if dy else math.inf)
    return x + dx * k, y + dy * k


# ---- drawing -------------------------------------------------------------------------------------


def _edge(src, dst, curve, texts, centre, color, strong, bold) -> str:
    (sx, sy), (cx, cy), (ex, ey) = curve
    w = 2.6 if strong else 1.4
    ux, uy = _tangent(curve, 1.0)  # the arrowhead along the curve's last tangent
    bx, by = ex - 11 * ux, ey - 11 * uy
    head = f"{ex:.1f},{ey:.1f} {bx - 5 * uy:.1f},{by + 5 * ux:.1f} {bx + 5 * uy:.1f},{by - 5 * ux:.1f}"
    bw, bh = _size(texts)
    lx, top = centre[0], centre[1] - bh / 2
    back = (f'<rect x="{lx - bw / 2:.1f}" y="{top:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
            f'rx="4" fill="#ffffff" fill-opacity="0.9"/>')  # fmt: skip
    labels, y = [], top + 2 + ASCENT * SIZE - LEAD  # each line's dy is LEAD: the first lands on this baseline
    for lines, b in zip(texts, bold, strict=True):
        weight = ' font-weight="bold"' if b else ""
        spans = "".join(f'<tspan x="{lx:.1f}" dy="{LEAD}">{escape(s)}</tspan>' for s in lines)
        labels.append(
            f'<text x="{lx:.1f}" y="{y:.1f}" font-size="{SIZE}" text-anchor="middle"{weight} '
            f'fill="{color if strong else MUTED}" paint-order="stroke" stroke="#ffffff" stroke-width="4">{spans}</text>'
        )
        y += LEAD * len(lines)
    return (
        f'<g class="edge{" lit" if strong else ""}" data-from="{src}" data-to="{dst}">'
        f'<path d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}" fill="none" stroke="{color}" stroke-width="{w}"/>'
        f'<polygon points="{head}" fill="{color}"/>{back}{"".join(labels)}</g>'
    )


def _describe(groups, taken, bad) -> str:
    lit = sorted(f"{s} → {d} on {e}" for s, e, d in taken)
    out = ["State diagram of the TCP close."]
    out.append("Transitions taken: " + "; ".join(lit) + "." if lit else "No transition taken.")
    if bad:
        out.append("Wrong: " + "; ".join(f"{s} → {d}" for s, d in sorted(bad)) + ".")
    return " ".join(out)
