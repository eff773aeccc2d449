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

from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

from reference_impl.trace import EventKind
from reference_impl.transitions import TRANSITIONS, event_of

from ._diagram_curves import BOX_H, BOX_W, tangent_at
from ._diagram_labels import LEAD, SIZE, label_size, label_texts, layout
from ._geometry import ASCENT
from ._style import FONT, INK, LOST, MUTED, STATE_COLORS
from .model import events_of

W, H = 860, 600
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
FULL_SCALE = (1.3, 1.25)  # the full diagram's many resets to CLOSED need room for their labels

Edge = tuple[str, str, str]  # (state, event, next_state)


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


def state_diagram_svg(
    trace_or_frame: object = None,
    *,
    wrong: Iterable[tuple[str, ...]] = (),
    full: bool = False,
    states: Iterable[str] = (),
    title: str = "Closing a TCP connection (RFC 9293)",
    found: Iterable[Edge] = (),
) -> str:
    """The close state diagram; transitions the trace took are lit, `wrong` ones red.

    wrong: (state, next_state) or (state, event, next_state) tuples to mark red.
    full: also draw RST, abort, retry-limit and Linux-only edges that nobody took.
    states: states to light (a notebook's own, e.g. ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]),
      with the table's transitions between them.
    found: more of the table's (state, event, next_state) edges to light (a course map's give-ups and resets).
    """
    taken = exercised_edges(trace_or_frame) if trace_or_frame is not None else set()
    lit_states = _lit_states(states)
    taken |= _map_edges(lit_states) | set(found)
    visited = {s for e in taken for s in (e[0], e[2])} | lit_states
    wrong = [tuple(_name(s) if i != 1 or len(w) == 2 else s for i, s in enumerate(w)) for w in wrong]
    groups, bad = _drawn(taken, wrong, full)
    (w, h), pos = _canvas(groups, full)
    pairs = [(src, dst) for src, dst in sorted(groups) if src in pos and dst in pos and src != dst]
    texts = label_texts({p: groups[p] for p in pairs})
    twins = tuple(p for p in pairs if p[::-1] in groups)
    where = layout(tuple(pairs), twins, tuple((p, tuple(texts[p])) for p in pairs), tuple(pos.items()), (w, h))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'font-family={quoteattr(FONT)} class="tcp-state-diagram">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(_describe(groups, taken, bad))}</desc>",
        f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
        f'<text x="{w / 2}" y="22" font-size="15" font-weight="bold" text-anchor="middle" fill="{INK}">{escape(title)}</text>',
    ]
    for src, dst in pairs:
        out.append(_edge_of(src, dst, groups[(src, dst)], taken, bad, where[(src, dst)]))
    out.extend(_state(s, x, y, s in visited) for s, (x, y) in pos.items())
    out.extend([_legend(h, bool(wrong)), "</svg>"])
    return "".join(out)


# ---- what the diagram shows ----------------------------------------------------------------------


def _lit_states(states: Iterable[object]) -> set[str]:
    lit_states = {_name(s) for s in states}
    unknown = lit_states - set(POSITIONS)
    if unknown:
        raise ValueError(f"not a state of the close diagram: {', '.join(sorted(unknown))} (use {', '.join(POSITIONS)})")
    return lit_states


def _map_edges(lit_states: set[str]) -> set[Edge]:
    """A notebook's map lights the ordinary close between its states (no resets: those are notebook 06's);
    which arrows it leaves out is the course map's to say (autograder.course_map)."""
    return {e for e, sends, main in table_edges() if main and e[0] in lit_states and e[2] in lit_states | {"CLOSED"}
            and e[0] != e[2] and "RST" not in sends}  # fmt: skip


def _drawn(taken: set[Edge], wrong: list[tuple[str, ...]], full: bool):
    """The edges to draw, grouped by (state, next_state) as [(event, sends)], and the pairs marked wrong."""
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
    return groups, bad


def _canvas(groups, full: bool):
    """The picture's (width, height), and where each state sits in it (states the layout lacks along the foot)."""
    sx, sy = FULL_SCALE if full else (1, 1)
    w, h = round(W * sx), round(H * sy)
    pos = {s: (x * sx, y * sy) for s, (x, y) in POSITIONS.items()}
    for s in sorted({s for pair in groups for s in pair} - pos.keys()):  # states the layout lacks
        pos[s] = (90 + 150 * (len(pos) - len(POSITIONS)), h - 30)
    return (w, h), pos


# ---- drawing -------------------------------------------------------------------------------------


def _edge_of(src, dst, evs, taken, bad, where) -> str:
    """One (state, next_state) edge: lit if the trace took one of its transitions, red if wrong."""
    lit = any((src, ev, dst) in taken for ev, _ in evs)
    color = LOST if (src, dst) in bad else LIT if lit else "#afb8c1"
    bold = [(src, ev, dst) in taken for ev, _ in evs]
    strong = lit or (src, dst) in bad
    return _edge(src, dst, *where, color, strong, bold)


def _state(s: str, x: float, y: float, on: bool) -> str:
    color = STATE_COLORS.get(s, MUTED)
    return (
        f'<g class="state{" visited" if on else ""}"><rect x="{x - BOX_W / 2}" y="{y - BOX_H / 2}" width="{BOX_W}" '
        f'height="{BOX_H}" rx="9" fill="{color if on else "#ffffff"}" stroke="{color}" stroke-width="2"/>'
        f'<text x="{x}" y="{y + 5}" font-size="13" font-weight="bold" text-anchor="middle" '
        f'fill="{"#ffffff" if on else color}">{escape(s)}</text></g>'
    )


def _legend(h: int, any_wrong: bool) -> str:
    wrongs = " · red: wrong" if any_wrong else ""  # a map with nothing marked wrong does not promise red
    return (
        f'<text x="14" y="{h - 12}" font-size="11" fill="{MUTED}">filled box, thick arrow, bold label: '
        f"lit · thin grey: not taken{wrongs}</text>"
    )


def _edge(src, dst, curve, texts, centre, color, strong, bold) -> str:
    (sx, sy), (cx, cy), (ex, ey) = curve
    w = 2.6 if strong else 1.4
    ux, uy = tangent_at(curve, 1.0)  # the arrowhead along the curve's last tangent
    bx, by = ex - 11 * ux, ey - 11 * uy
    head = f"{ex:.1f},{ey:.1f} {bx - 5 * uy:.1f},{by + 5 * ux:.1f} {bx + 5 * uy:.1f},{by - 5 * ux:.1f}"
    bw, bh = label_size(texts)
    lx, top = centre[0], centre[1] - bh / 2
    # opaque: a line seen through a label read as striking it out
    back = (f'<rect x="{lx - bw / 2:.1f}" y="{top:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
            f'rx="4" fill="#ffffff"/>')  # fmt: skip
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
