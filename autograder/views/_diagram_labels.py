"""The state diagram's labels: what each transition's label says, and where it sits.

A label's text comes from the transition table (event, sends, condition), and its place is
searched for among candidates clear of boxes, other labels and other edges, so a new row in
the table needs no drawing code. The curves themselves are _diagram_curves'.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import cache, lru_cache

from reference_impl.transitions import TRANSITIONS

from ._diagram_curves import crosses, curve_points, meets, point_at, rect_around, routes, span, state_box, tangent_at
from ._geometry import CW

# Labels: 11 px DejaVu Sans Mono, every glyph CW em wide, so a label's box is known before a browser
# draws it; a transition's text wraps after WRAP characters.
SIZE, LEAD, WRAP, PAD = 11, 13, 36, 3
HARD = 1000.0  # the cost of one collision: any free place beats every occupied one
# Where along its edge a label may sit, from the middle outward.
ALONG = (0.5, 0.44, 0.56, 0.38, 0.62, 0.32, 0.68, 0.26, 0.74, 0.2, 0.8)


# ---- what each label says ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _conditions() -> dict[tuple[str, str, str], str]:
    return {(t.state, t.event, t.next_state): t.condition for t in TRANSITIONS}


def label_texts(groups: dict[tuple[str, str], list[tuple[str, str]]]) -> dict[tuple[str, str], list[str]]:
    """Each edge's label, one entry per transition.

    Where two drawn edges leave one state on the same event (FIN in FIN_WAIT_1 goes to CLOSING, or to
    TIME_WAIT if it also acknowledges our FIN: RFC 9293 §3.10.7.4), each says its condition from the
    table, in short; in full if the short forms still read alike.
    """
    ways = Counter((src, ev) for (src, _), evs in groups.items() for ev, _ in evs)
    said: dict[tuple[str, str, str], str] = {}
    for short in (True, False):
        for (src, dst), evs in groups.items():
            for ev, sends in evs:
                cond = _conditions().get((src, ev, dst), "")
                # said where two edges share the event, and always for "ACK of our FIN": any ACK is not it
                cond = cond if ways[(src, ev)] > 1 or cond.startswith("acknowledges our") else ""
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


def label_size(lines: list[list[str]]) -> tuple[float, float]:
    n = sum(len(t) for t in lines)
    return max(len(s) for t in lines for s in t) * SIZE * CW + 2 * PAD, (n - 1) * LEAD + SIZE + 4


# ---- where edges run and labels sit --------------------------------------------------------------


@lru_cache(maxsize=8)
def layout(pairs, twins, texts, pos, size):
    """Each edge's curve, and its label's lines and centre.

    A label's candidates are its text wrapped to one of a few widths, on its edge or just beside it
    (_candidates). One costs HARD for each box, label, other edge, frame text or arrowhead it would
    cover, plus how far it sits from the middle of its edge and how many lines it takes. Labels with
    the fewest free candidates choose first, each the cheapest left. Where some label still covers
    something, another curve for one edge at a time is tried, while that lowers the total cost. The
    search is deterministic: a picture is the same on every run.
    """
    placement = _Placement(pairs, twins, texts, pos, size)
    choice = {p: 0 for p in pairs}
    best, chosen, culprits = placement.place(choice)
    while best >= HARD:  # move one edge at a time, the culprits' first, while that lowers the cost
        for movable in (sorted(culprits), pairs):
            trials = [{**choice, q: i} for q in movable for i in range(len(placement.alts[q])) if i != choice[q]]
            better = [(r, t) for t in trials if (r := placement.place(t))[0] < best]
            if better:
                break
        else:
            break
        (best, chosen, culprits), choice = min(better, key=lambda x: x[0][0])
    return {p: (placement.alts[p][choice[p]], *chosen[p]) for p in pairs}


class _Placement:
    """One diagram's search space: each edge's curves (alts), each label's candidates on a curve and
    what they cost. `choice` maps each edge to the index of its curve in alts."""

    def __init__(self, pairs, twins, texts, pos, size):
        w, h = size
        self.pairs, self.texts, self.size = pairs, dict(texts), size
        self.alts = {p: routes(dict(pos), *p, 26 if p in twins else 0, size) for p in pairs}
        self.frame = [state_box(p, 4) for _, p in pos] + [(w / 2 - 220, 0, w / 2 + 220, 30), (0, h - 26, 470, h)]
        self.line = cache(self._line)
        self.cands = cache(self._cands)
        self.crossed = cache(self._crossed)

    def _line(self, p, i):
        pts = curve_points(self.alts[p][i])
        return pts, span(pts)

    def _cands(self, p, i):
        """(lines, centre, rect, preference + what it covers of the frame and its own arrowhead)."""
        w, h = self.size
        pts = self.line(p, i)[0]
        head = [pt for pt in pts if math.dist(pt, pts[-1]) < 16]
        out = []
        for shape, c, r, pref in _candidates(self.alts[p][i], self.texts[p]):
            hits = (
                sum(meets(r, b) for b in self.frame)
                + crosses(head, r)
                + (not (0 <= r[0] < r[2] <= w and 0 <= r[1] < r[3] <= h))
            )
            out.append((shape, c, r, pref + HARD * hits))
        return out

    def _crossed(self, p, i, q, j):
        """Which of p's candidates q's line crosses."""
        pts, box = self.line(q, j)
        return [meets(r, box) and crosses(pts, r) for _, _, r, _ in self.cands(p, i)]

    def fixed(self, p, choice) -> list[float]:
        """Each of p's candidates' cost, apart from other labels."""
        crossings = [self.crossed(p, choice[p], q, choice[q]) for q in self.pairs if q != p]
        return [c[3] + HARD * sum(x[k] for x in crossings) for k, c in enumerate(self.cands(p, choice[p]))]

    def place(self, choice):
        """(total cost, each edge's label lines and centre, the edges whose moving might lower the cost)."""
        costs = {p: self.fixed(p, choice) for p in self.pairs}
        total, chosen, culprits = sum(0.1 * i for i in choice.values()), {}, set()
        for p in sorted(self.pairs, key=lambda p: (sum(c < HARD for c in costs[p]), p)):
            mine = self.cands(p, choice[p])
            k = min(
                range(len(mine)),
                key=lambda k: costs[p][k] + HARD * sum(meets(mine[k][2], c[2]) for c in chosen.values()),
            )
            on = {q for q, c in chosen.items() if meets(mine[k][2], c[2])}
            chosen[p] = mine[k]
            total += costs[p][k] + HARD * len(on)
            if costs[p][k] + HARD * len(on) >= HARD:  # it covers something: its edge, or what it covers, may move
                crossed = {q for q in self.pairs if q != p and self.crossed(p, choice[p], q, choice[q])[k]}
                culprits |= {p} | on | crossed
        return total, {p: c[:2] for p, c in chosen.items()}, culprits


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
        bw, bh = label_size(shape)
        for i, t in enumerate(ALONG):
            (x, y), (tx, ty) = point_at(curve, t), tangent_at(curve, t)
            nx, ny = -ty, tx
            reach = bw / 2 * abs(nx) + bh / 2 * abs(ny) + 2  # from the centre to the line, clear of it
            pref = 0.02 * i + 0.06 * (n - fewest)
            for side, extra in ((0, 0.0), (1, 0.05), (-1, 0.05)):
                c = (x + side * nx * reach, y + side * ny * reach)
                out.append((shape, c, rect_around(c, (bw, bh)), pref + extra))
    return out
