"""The static two-lane sequence diagram of a trace, as a standalone SVG string.

Stdlib only, no browser: feedback files, the docs and the animated timeline all
draw with this one renderer (the timeline asks for `animate=True`, which tags each
element with the step at which it appears; see `timeline.py`).

Picture: A on the left, B on the right, time downward. Every segment is an arrow
from the sender's lane at its send time to the receiver's lane at its arrival,
labelled with its RFC 9293 text; a lost segment stops halfway at a red cross; a
duplicated one is drawn twice. Each state change is written beside its lane,
timers are brackets on the lane, and long idle gaps (TIME_WAIT's 240 s) are
folded into a visible "≈ 240 s" break so a whole close fits on one screen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from reference_impl.trace import EventKind

from ._axis import Axis, Geometry, Panel, layout, note_lines, pill_width
from ._divergence import draw_divergence
from ._draw import Canvas
from ._fold import Fold, fold_repeats
from .explain import Captions
from .model import Event, TraceShapeError, events_of
from .side_by_side import schedule

__all__ = ["render_svg", "TraceShapeError", "MAX_EVENTS"]

# Beyond this many events a panel shows a window of them (and says so): a 5,000-event
# runaway retransmission loop must still render in milliseconds, not hang a notebook.
MAX_EVENTS = 400

Highlight = int | tuple[float, str] | None
ROOM_TRIES = 3  # layouts tried after the first, each with more room where labels were crowded in the one before
ROOM = (1.8, 3.2)  # a crowded gap's height, in times its usual one, try after try
# the lines a segment sent with others at one moment takes where labels crowd: its label fits between their arrows
BURST_LINES = 4
EVERYWHERE = 2.2  # the last resort's room for every gap (the one that has the fewest crowded labels is drawn)


def render_svg(
    trace_or_frame: object,
    *,
    title: str | None = None,
    highlight: Highlight = None,
    reference: object = None,
    reference_highlight: int | None = None,
    labels: tuple[str, str] = ("Your implementation", "Reference"),
    compact: bool | None = None,
    animate: bool = False,
    max_events: int = MAX_EVENTS,
) -> str:
    """The trace as an SVG sequence diagram (a complete, standalone XML document).

    trace_or_frame: a `Trace`, a DataFrame with the trace contract's columns, or rows.
    highlight: the first divergence to mark — a row index, or (time in seconds, endpoint).
    reference: another trace; the two are drawn side by side on one time axis
      (``labels`` names the panels), so a moment sits at the same height in both.
    reference_highlight: the reference's row to mark beside it (by default the reference's
      first row at or after the highlighted moment, on the same endpoint).
    compact: narrower panels (default: when drawing two panels), sized so two fit a
      JupyterLab output at 1400x900 with no text under 11 px.
    animate: tag elements with the step at which they appear.
    """
    return render(trace_or_frame, title=title, highlight=highlight, reference=reference,
                  reference_highlight=reference_highlight, labels=labels, compact=compact, animate=animate,
                  max_events=max_events)[0]  # fmt: skip


def render(
    trace_or_frame: object,
    *,
    title: str | None = None,
    highlight: Highlight = None,
    reference: object = None,
    reference_highlight: int | None = None,
    labels: tuple[str, str] = ("Your implementation", "Reference"),
    compact: bool | None = None,
    animate: bool = False,
    max_events: int = MAX_EVENTS,
    cut_runaway: bool = False,
) -> tuple[str, Canvas]:
    """render_svg's picture, and the canvas that drew it (steps, their heights, placement).

    cut_runaway: the first run is a learner's beside the reference; if it is far longer (an ACK war
    after a mistake), draw it to a little past where it parts. Never for two reference runs, whose
    long run is the point (05's ACK war without TIME_WAIT)."""
    first = events_of(trace_or_frame)
    sources = [first] if reference is None else [first, events_of(reference)]
    srcs = [trace_or_frame] if reference is None else [trace_or_frame, reference]
    meta = [(getattr(src, "scenario", "") or "", getattr(src, "profile", "") or "") for src in srcs]
    mark = _resolve_highlight(first, highlight)
    # a row index marks that row (the differing segment of a moment), not its moment's first row
    marks = _marks(sources, mark, reference_highlight, first[highlight].index if isinstance(highlight, int) else None)
    limits = _limits(sources, mark, max_events, cut_runaway)
    windows = [_window(evs, mark, lim) for evs, lim in zip(sources, limits, strict=True)]
    names = [""] if reference is None else _names(list(labels), meta)
    heading = title or _default_title(meta)
    geom = Geometry(compact=len(sources) > 1 if compact is None else compact)
    folded = _fold_all([evs for evs, _, _ in windows], marks)
    appear, _ = schedule([evs for evs, _ in folded])
    panels = []
    for (evs, total, start), (shown, folds), name, (scen, prof), ap, mk in zip(windows, folded, names, meta, appear,
                                                                               marks, strict=True):  # fmt: skip
        cap = Captions.of(evs, scen, prof)  # captions read the whole run ("resent a 2nd time")
        panels.append(Panel(name, shown, total, start, cap, ap, mk if any(e.index == mk for e in shown) else None,
                            folds))  # fmt: skip
    return draw(panels, geom, heading, animate)


def _fold_all(sources: list[list[Event]], marks: list[int | None]) -> list[tuple[list[Event], dict[int, Fold]]]:
    """Each panel's events with its long repeats folded (see `_fold`), never where another panel
    draws something, nor over a marked divergence."""
    out = []
    for i, evs in enumerate(sources):
        busy = {e.time for j, other in enumerate(sources) if j != i for e in other}
        out.append(fold_repeats(evs, busy, {m for m in marks if m is not None}))
    return out


def draw(panels: list[Panel], geom: Geometry, heading: str, animate: bool) -> tuple[str, Canvas]:
    lines = [_lines(p, geom) for p in panels]
    folds = frozenset(t for p in panels for t in p.folds)
    room: dict[int, float] = {}
    best: tuple[tuple[bool, int, int, int, float], Axis, Canvas] | None = None
    for attempt in range(ROOM_TRIES + 1):
        axis = layout([p.events for p in panels], geom, lines, room=room, folds=folds)
        canvas = Canvas(geom, axis, len(panels), heading, animate)
        canvas._all_panels = panels
        for i, p in enumerate(panels):
            canvas.panel(i, p)
        draw_divergence(canvas)
        pl = canvas.place
        score = (pl.dropped >= 1000, pl.far_tags, pl.crossed + pl.past_lifelines + pl.on_lines + pl.on_bands + pl.dropped,
                 pl.loose_tags, axis.bottom)  # fmt: skip
        best = min(best, (score, axis, canvas), key=lambda b: b[0]) if best else (score, axis, canvas)
        if not pl.crowded or attempt == ROOM_TRIES:
            break
        grew = _spread_bursts(lines, panels, axis, pl.crossings)
        if not _more_room(room, axis, pl.crowded) and not grew:  # as much room as it may have: room everywhere
            room = dict.fromkeys(axis.times, EVERYWHERE)
    _, axis, canvas = best
    for i, p in enumerate(panels):
        for e in p.events:
            k = p.appear.get(e.index)
            if k is not None:
                y = axis.y(i, e)
                canvas.step_y[k] = min(canvas.step_y.get(k, y), y)
    return canvas.finish(_describe(panels, heading)), canvas


def _more_room(room: dict[int, float], axis: Axis, crowded: list[tuple[float, float]]) -> bool:
    """Labels that found no free place (a segment's over another arrow or past a lifeline, a timer's on
    an arrow): the gaps between rows where they stand get the next height in ROOM. Only there: growing
    every gap made 05's old duplicate 3,360 px tall for one dense start. Whether anything grew."""
    grew = False
    for i, t in enumerate(axis.times[:-1]):
        more = next((r for r in ROOM if r > room.get(t, 1.0)), None)
        if more is not None and any(axis.ys[i] < y1 and axis.ys[i + 1] > y0 for y0, y1 in crowded):
            room[t] = more
            grew = True
    return grew


def _spread_bursts(
    lines: list[dict[int, int]], panels: list[Panel], axis: Axis, crowded: list[tuple[float, float]]
) -> bool:
    """Segments an endpoint sends at one moment leave a line apart, their labels stacked on each
    other's arrows (05's three data segments at 0 s): where segment labels crossed arrows, each but
    the last gets BURST_LINES of its own (with three, readers still saw them pile up). More room between
    rows cannot part them."""
    grew = False
    for i, p in enumerate(panels):
        bursts: dict[tuple[int, str], list[Event]] = defaultdict(list)
        for e in p.events:
            if e.event == EventKind.SEND:
                bursts[(e.time, e.endpoint)].append(e)
        for sends in bursts.values():
            y0, y1 = axis.y(i, sends[0]), axis.y(i, sends[-1])
            if len(sends) < 2 or not any(a < y1 + 60 and b > y0 for a, b in crowded):
                continue
            for e in sends[:-1]:
                if lines[i].get(e.index, 1) < BURST_LINES:
                    lines[i][e.index] = BURST_LINES
                    grew = True
    return grew


def _marks(
    sources: list[list[Event]], mark: tuple[int, str] | None, reference_highlight: int | None, row: int | None = None
) -> list[int | None]:
    """The event each panel marks as the first divergence: the highlighted row in the first run (or
    the first of the highlighted moment); in the reference, the one given, or its first on the same
    endpoint at or after that moment."""
    marks: list[int | None] = [None] * len(sources)
    if mark is not None:
        marks[0] = row if row is not None else next((e.index for e in sources[0] if (e.time, e.endpoint) == mark), None)
        if len(sources) > 1:
            if reference_highlight is not None:
                marks[1] = reference_highlight
            else:
                marks[1] = next((e.index for e in sources[1] if e.time >= mark[0] and e.endpoint == mark[1]), None)
    return marks


def _limits(sources: list[list[Event]], mark: tuple[int, str] | None, max_events: int, cut_runaway: bool) -> list[int]:
    """How many events each panel may show."""
    first = sources[0]
    limits = [max_events] * len(sources)
    if cut_runaway and len(sources) > 1 and len(first) > 2 * len(sources[1]) + 40:
        # A run far longer than the reference's (an ACK war after a mistake) is drawn a little past where
        # it parts, not as a pile of 400 arrows: its note says how many events it goes on for.
        hit = next((i for i, e in enumerate(first) if mark is not None and (e.time, e.endpoint) == mark), 0)
        limits[0] = min(max_events, max(2 * len(sources[1]), hit + 40))
    return limits


def _names(names: list[str], meta: list[tuple[str, str]]) -> list[str]:
    """Two panels' names, each with its profile when the two runs' profiles differ."""
    if meta[0][1] and meta[1][1] and meta[0][1] != meta[1][1]:
        # two profiles: say which, by base name when that tells them apart (the heading has the rest)
        short = [prof.split(" + ")[0] for _, prof in meta]
        shown = short if short[0] != short[1] else [prof for _, prof in meta]
        names = [n if _says(n, prof) else f"{n} ({prof})" for n, prof in zip(names, shown, strict=True)]
    return names


def _lines(p: Panel, geom: Geometry) -> dict[int, int]:
    """How many lines each event's lane note needs (wrapped, never cut)."""
    out = {}
    cap = p.captions
    for e in p.events:
        note = cap.note(e) if cap is not None else ""
        if note:
            pw = pill_width(e.after) + 6 if e.changes_state else 0.0
            out[e.index] = max(1, len(note_lines(note, geom.note_room - pw, geom.note_room)))
    return out


def _says(name: str, profile: str) -> bool:
    """Whether a panel's name already names its profile ("rfc9293 + RFC 1337: ..." names rfc9293 + rfc1337=on)."""

    def squeeze(s: str) -> str:
        return "".join(s.lower().replace("=on", "").split())

    return squeeze(profile) in squeeze(name)


def _default_title(meta: list[tuple[str, str]]) -> str:
    (scenario, profile), *rest = meta
    if rest and rest[0][1] and profile and rest[0][1] != profile:
        return f"{scenario or 'TCP connection close'}: {profile} beside {rest[0][1]}"
    if scenario:
        return f"{scenario} ({profile})" if profile else scenario
    return "TCP connection close"


def _resolve_highlight(events: list[Event], highlight: Highlight) -> tuple[int, str] | None:
    """(time µs, endpoint) of the highlighted event, or None."""
    if highlight is None:
        return None
    if isinstance(highlight, bool):
        raise TypeError("highlight must be a row index or (time, endpoint), not a bool")
    if isinstance(highlight, int):
        if not 0 <= highlight < len(events):
            raise ValueError(f"highlight={highlight} is not a row of this trace (it has {len(events)} rows)")
        e = events[highlight]
        return (e.time, e.endpoint)
    if isinstance(highlight, Sequence) and len(highlight) == 2:
        t, ep = highlight
        return (int(round(float(t) * 1_000_000)), str(ep))
    raise TypeError(f"highlight must be a row index or (time, endpoint), not {highlight!r}")


def _window(events: list[Event], mark: tuple[int, str] | None, limit: int) -> tuple[list[Event], int, int]:
    """At most `limit` events: the start, or around the highlighted divergence."""
    if len(events) <= limit:
        return events, len(events), 0
    start = 0
    if mark is not None:
        hit = next((i for i, e in enumerate(events) if (e.time, e.endpoint) == mark), None)
        if hit is None:
            hit = next((i for i, e in enumerate(events) if e.time >= mark[0]), 0)
        if hit > limit - limit // 4:
            start = min(hit - limit // 2, len(events) - limit)
    return events[start : start + limit], len(events), start


def _describe(panels: list[Panel], heading: str) -> str:
    """The screen-reader text: each endpoint's state path, every segment's fate, the divergence."""
    out = [f"Sequence diagram: {heading}. A (client) on the left, B (server) on the right, time downward."]
    for p in panels:
        prefix = f"{p.name}: " if p.name else ""
        if not p.events:
            out.append(f"{prefix}nothing happened (the trace is empty).")
            continue
        for ep in ("A", "B"):
            path: list[str] = []
            for e in p.events:
                if e.endpoint != ep:
                    continue
                for s in (e.before, e.after):
                    if s and (not path or path[-1] != s):
                        path.append(s)
            if path:
                out.append(f"{prefix}{ep} goes {' → '.join(path)}.")
        sends = [e for e in p.events if e.event == EventKind.SEND]
        segs = [f"{e.endpoint} sends {e.segment_text} at {e.time / 1e6:.3f} s ({e.fate or 'sent'})" for e in sends[:40]]
        if len(sends) > 40:
            segs.append(f"and {len(sends) - 40} more segments")
        if segs:
            out.append(prefix + "; ".join(segs) + ".")
        out += [f"{prefix}{fold.sentence}" for fold in p.folds.values()]
        if p.total > p.drawn_or_folded:
            out.append(f"{prefix}showing {p.drawn_or_folded} of {p.total} events.")
        mark = next((e for e in p.events if e.index == p.mark), None)
        if mark is not None:
            what = p.captions.sentence(mark) if p.captions else ""
            out.append(f"{prefix}first divergence here: {what}")
    return " ".join(out)
