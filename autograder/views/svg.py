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

from collections.abc import Sequence

from ._draw import Canvas, Geometry, Panel, layout
from .model import Event, TraceShapeError, events_of

__all__ = ["render_svg", "TraceShapeError", "MAX_EVENTS"]

# Beyond this many events a panel shows a window of them (and says so): a 5,000-event
# runaway retransmission loop must still render in milliseconds, not hang a notebook.
MAX_EVENTS = 400

Highlight = int | tuple[float, str] | None


def render_svg(
    trace_or_frame: object,
    *,
    title: str | None = None,
    highlight: Highlight = None,
    reference: object = None,
    labels: tuple[str, str] = ("Your implementation", "Reference"),
    compact: bool = False,
    animate: bool = False,
    max_events: int = MAX_EVENTS,
) -> str:
    """The trace as an SVG sequence diagram (a complete, standalone XML document).

    trace_or_frame: a `Trace`, a DataFrame with the trace contract's columns, or rows.
    highlight: the first divergence to mark — a row index, or (time in seconds, endpoint).
    reference: another trace; the two are drawn side by side on one time axis
      (``labels`` names the panels), so the divergence sits at the same height in both.
    compact: narrower panels with two-line segment labels (the widget uses it).
    animate: tag elements with the step (row index) at which they appear.
    """
    first = events_of(trace_or_frame)
    sources = [first] if reference is None else [first, events_of(reference)]
    names = [""] if reference is None else list(labels)
    mark = _resolve_highlight(first, highlight)
    panels = [_window(evs, mark, max_events) for evs in sources]
    geom = Geometry(compact=compact)
    meta = [getattr(src, "scenario", "") or "" for src in (trace_or_frame, reference)]
    heading = title or _default_title(meta[0], getattr(trace_or_frame, "profile", "") or "")
    return draw(
        [Panel(name, evs, total, start) for name, (evs, total, start) in zip(names, panels, strict=True)],
        geom,
        heading,
        mark,
        animate,
    )


def draw(panels: list[Panel], geom: Geometry, heading: str, mark: tuple[int, str] | None, animate: bool) -> str:
    axis = layout([p.events for p in panels], geom)
    canvas = Canvas(geom, axis, len(panels), heading, animate)
    for i, p in enumerate(panels):
        canvas.panel(i, p)
    if mark is not None:
        canvas.divergence(mark)
    return canvas.finish(_describe(panels, heading, mark))


def _default_title(scenario: str, profile: str) -> str:
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


def _describe(panels: list[Panel], heading: str, mark: tuple[int, str] | None) -> str:
    """The screen-reader text: each endpoint's state path and every segment's fate."""
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
        sends = [e for e in p.events if e.event == "send"]
        segs = [f"{e.endpoint} sends {e.segment_text} at {e.time / 1e6:.3f} s ({e.fate or 'sent'})" for e in sends[:40]]
        if len(sends) > 40:
            segs.append(f"and {len(sends) - 40} more segments")
        if segs:
            out.append(prefix + "; ".join(segs) + ".")
        if p.total > len(p.events):
            out.append(f"{prefix}showing {len(p.events)} of {p.total} events.")
    if mark is not None:
        out.append(f"First divergence: {mark[1]} at {mark[0] / 1e6:.3f} s.")
    return " ".join(out)
