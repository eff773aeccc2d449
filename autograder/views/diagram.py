"""The RFC close state diagram as SVG, drawn from the transition table, lit by a trace.

The edges come from data: `reference_impl.transitions.TRANSITIONS`, the table the
notebooks print (tests keep it equal to what the handlers do). Nothing is hand-drawn per
trace: a trace only decides which edges light up; `wrong=` marks edges red (a
learner's transition that the reference never takes is drawn even if it is not
in the table). Edges are routed around the state boxes automatically, so a new
row in the table needs no drawing code.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

from reference_impl.trace import EventKind
from reference_impl.transitions import TRANSITIONS, event_of

from ._draw import FONT, INK, LOST, MUTED, STATE_COLORS
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

Edge = tuple[str, str, str]  # (state, event, next_state)


def exercised_edges(trace_or_frame: object) -> set[Edge]:
    """The (state, event, next_state) transitions a trace took (state changes only)."""
    return {
        (e.before, event_of(e), e.after)
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
    lit_states = {str(getattr(s, "value", s)) for s in states}
    unknown = lit_states - set(POSITIONS)
    if unknown:
        raise ValueError(f"not a state of the close diagram: {', '.join(sorted(unknown))} (use {', '.join(POSITIONS)})")
    # A notebook's map lights the ordinary close between its states (no resets: those are notebook 06's);
    # which arrows it leaves out is the course map's to say (autograder.course_map).
    taken |= {e for e, sends, main in table_edges() if main and e[0] in lit_states and e[2] in lit_states | {"CLOSED"}
              and e[0] != e[2] and "RST" not in sends}  # fmt: skip
    visited = {s for e in taken for s in (e[0], e[2])} | lit_states
    wrong = [tuple(w) for w in wrong]
    bad = {(w[0], w[-1]) for w in wrong}
    bad_events = {w for w in wrong if len(w) == 3}
    whole_pairs = {(w[0], w[-1]) for w in wrong if len(w) == 2}
    groups: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for (src, ev, dst), sends, main in table_edges():
        if full or main or (src, ev, dst) in taken or (src, dst) in whole_pairs or (src, ev, dst) in bad_events:
            groups[(src, dst)].append((ev, sends))
    for src, ev, dst in taken | bad_events:
        if (ev, "") not in groups[(src, dst)] and not any(x[0] == ev for x in groups[(src, dst)]):
            groups[(src, dst)].append((ev, ""))  # not in the table: the learner invented it
    for src, dst in bad:
        groups.setdefault((src, dst), [("?", "")])

    pos = dict(POSITIONS)
    for s in sorted({s for pair in groups for s in pair} - pos.keys()):  # states the layout lacks
        pos[s] = (90 + 150 * (len(pos) - len(POSITIONS)), H - 30)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        f'font-family={quoteattr(FONT)} class="tcp-state-diagram">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(_describe(groups, taken, bad))}</desc>",
        f'<rect width="{W}" height="{H}" fill="#ffffff"/>',
        f'<text x="{W / 2}" y="22" font-size="15" font-weight="bold" text-anchor="middle" fill="{INK}">{escape(title)}</text>',
    ]
    for (src, dst), evs in sorted(groups.items()):
        if src not in pos or dst not in pos or src == dst:
            continue
        lit = any((src, ev, dst) in taken for ev, _ in evs)
        color = LOST if (src, dst) in bad else LIT if lit else "#afb8c1"
        bend = 26 if (dst, src) in groups else 0
        out.append(_edge(pos, src, dst, evs, color, lit or (src, dst) in bad, bend, taken))
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
        f'<text x="14" y="{H - 12}" font-size="11" fill="{MUTED}">filled box, thick arrow, bold label: '
        f"lit · thin grey: not taken{wrongs}</text>"
    )
    out.extend([legend, "</svg>"])
    return "".join(out)


def _edge(pos, src, dst, evs, color, strong, bend, taken) -> str:
    (x0, y0), (x1, y1) = pos[src], pos[dst]
    dx, dy = x1 - x0, y1 - y0
    n = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / n, dx / n
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    others = [p for s, p in pos.items() if s not in (src, dst)]
    # Bend the edge just enough to clear every other box (and its twin in the other direction).
    off = bend
    for cand in (bend, bend + 60, bend - 60, bend + 110, bend - 110, bend + 170, bend - 170):
        cx, cy = mx + nx * cand, my + ny * cand
        if not any(_hits(_quad(x0, y0, cx, cy, x1, y1, t / 24), p) for p in others for t in range(25)):
            off = cand
            break
    cx, cy = mx + nx * off, my + ny * off
    sx, sy = _clip(x0, y0, cx, cy)
    ex, ey = _clip(x1, y1, cx, cy)
    w = 2.6 if strong else 1.4
    # arrowhead along the curve's last tangent
    tx, ty = ex - cx, ey - cy
    tn = math.hypot(tx, ty) or 1.0
    ux, uy = tx / tn, ty / tn
    bx, by = ex - 11 * ux, ey - 11 * uy
    head = f"{ex:.1f},{ey:.1f} {bx - 5 * uy:.1f},{by + 5 * ux:.1f} {bx + 5 * uy:.1f},{by - 5 * ux:.1f}"
    lines = []
    for ev, sends in evs[:4]:
        label = ("rcv " + ev if ev in ("FIN", "ACK", "RST") else ev) + (f" / snd {sends}" if sends else "")
        bold = ' font-weight="bold"' if (src, ev, dst) in taken else ""
        lines.append(f'<tspan x="X" dy="13"{bold}>{escape(label)}</tspan>')
    widest = max((len(ev) + (len(sends) + 7 if sends else 0) + 4) for ev, sends in evs[:4]) * 11 * 0.602 + 8
    tall = 13 * len(evs[:4]) + 4
    # the label sits on the curve, at the first point where it covers no state box
    for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.5):
        lx, ly = _quad(x0, y0, cx, cy, x1, y1, t)
        if not any(
            abs(lx - px) < (BOX_W + widest) / 2 and abs(ly - py) < (BOX_H + tall) / 2 for px, py in pos.values()
        ):
            break
    lines = [ln.replace('x="X"', f'x="{lx:.1f}"') for ln in lines]
    top = ly - 13 * len(lines) / 2 - 3
    back = (f'<rect x="{lx - widest / 2:.1f}" y="{top + 2:.1f}" width="{widest:.1f}" height="{13 * len(lines) + 4}" '
            f'rx="4" fill="#ffffff" fill-opacity="0.9"/>')  # fmt: skip
    return (
        f'<g class="edge{" lit" if strong else ""}" data-from="{src}" data-to="{dst}">'
        f'<path d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}" fill="none" stroke="{color}" stroke-width="{w}"/>'
        f'<polygon points="{head}" fill="{color}"/>{back}'
        f'<text x="{lx:.1f}" y="{top:.1f}" font-size="11" text-anchor="middle" fill="{color if strong else MUTED}" '
        f'paint-order="stroke" stroke="#ffffff" stroke-width="4">{"".join(lines)}</text></g>'
    )


def _quad(x0, y0, cx, cy, x1, y1, t) -> tuple[float, float]:
    u = 1 - t
    return (u * u * x0 + 2 * u * t * cx + t * t * x1, u * u * y0 + 2 * u * t * cy + t * t * y1)


def _hits(pt, box, pad=10) -> bool:
    return abs(pt[0] - box[0]) < BOX_W / 2 + pad and abs(pt[1] - box[1]) < BOX_H / 2 + pad


def _clip(x, y, tx, ty) -> tuple[float, float]:
    """Where the line from a box's centre toward (tx, ty) leaves the box."""
    dx, dy = tx - x, ty - y
    k = min((BOX_W / 2 + 3) / abs(dx) if dx else math.inf, (BOX_H / 2 + 3) / abs(dy) if dy else math.inf)
    return x + dx * k, y + dy * k


def _describe(groups, taken, bad) -> str:
    lit = sorted(f"{s} → {d} on {e}" for s, e, d in taken)
    out = ["State diagram of the TCP close."]
    out.append("Transitions taken: " + "; ".join(lit) + "." if lit else "No transition taken.")
    if bad:
        out.append("Wrong: " + "; ".join(f"{s} → {d}" for s, d in sorted(bad)) + ".")
    return " ".join(out)
