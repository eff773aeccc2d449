"""What a trace means to a view: its rows read once, as Events.

Every view (static SVG, animated timeline, state diagram) reads a trace the same
way, so this module turns a `Trace`, a contract DataFrame or a list of rows into
plain values once. It is stdlib-only: feedback and the docs render SVG without
pandas or a browser. Which rows belong together (a segment's send and arrivals, a
timer's start and end) is pairing.py's; two runs stepped side by side, side_by_side.py's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from reference_impl.segment import Flags
from reference_impl.trace import COLUMNS, LATER_COLUMNS, EventKind, read_flags, read_segment_id

ENDPOINTS = ("A", "B")
# Events that occupy a line of their own on a lane; timer rows draw brackets instead.
SLOT_EVENTS = frozenset(EventKind) - {EventKind.TIMER, EventKind.READ}  # rows that take a time slot of their own


@dataclass(frozen=True, slots=True)
class Event:
    """One trace row, normalised: time in integer microseconds, text fields never None. States
    stay names (a view draws whatever state a trace names); flags are Flags, None without a
    segment, as a Row's (reference_impl.trace.Row)."""

    index: int  # position in the trace as given (what `highlight=` refers to)
    time: int
    endpoint: str
    event: str
    before: str
    after: str
    flags: Flags | None = None
    seq: int | None = None
    ack: int | None = None
    length: int | None = None
    fate: str = ""
    detail: str = ""
    segment: str | None = None  # the segment's id ("A3"); None without one (see the module's docstring)

    @property
    def key(self) -> tuple:
        return (self.flags, self.seq, self.ack, self.length)

    @property
    def flags_text(self) -> str:
        """The flags as the trace writes them ("FIN|ACK"); "" without a segment."""
        return "" if self.flags is None else str(self.flags)

    @property
    def changes_state(self) -> bool:
        return bool(self.after) and self.after != self.before

    @property
    def segment_text(self) -> str:
        """The RFC text of the segment without the simulator's notes ("(second copy)")."""
        d = self.detail
        return d[: d.index(" (")] if " (" in d and d.startswith("<") else d


class TraceShapeError(ValueError):
    """The input does not follow the trace data contract."""


def events_of(trace_or_frame: object) -> list[Event]:
    """Normalise a Trace, a DataFrame with the contract's columns, or rows, into Events.

    A DataFrame that lacks contract columns is a ValueError naming them, because
    that is the mistake a course author makes when building a frame by hand.
    """
    if trace_or_frame is None:
        return []
    if hasattr(trace_or_frame, "columns") and hasattr(trace_or_frame, "itertuples"):
        return _from_frame(trace_or_frame)
    rows = getattr(trace_or_frame, "rows", trace_or_frame)
    if not isinstance(rows, Iterable):
        raise TypeError(f"expected a Trace, a DataFrame or rows, not {type(trace_or_frame).__name__}")
    out = []
    for i, r in enumerate(rows):
        get = r.get if isinstance(r, dict) else (lambda k, _r=r: getattr(_r, k, None))
        t = get("time")
        # Row objects keep integer microseconds; dicts from a frame or CSV keep seconds.
        us = int(t) if isinstance(t, int) and not isinstance(r, dict) else _seconds_to_us(t)
        out.append(_event(i, us, get))
    return out


def _from_frame(df) -> list[Event]:
    missing = [c for c in COLUMNS if c not in df.columns and c not in LATER_COLUMNS]
    if missing:
        raise TraceShapeError(
            f"the trace DataFrame is missing column(s) {', '.join(missing)}; "
            f"a trace has the columns {','.join(COLUMNS)}"
        )
    out = []
    present = [c for c in COLUMNS if c in df.columns]
    for i, tup in enumerate(df[present].itertuples(index=False, name=None)):
        d = dict(zip(present, tup, strict=True))
        out.append(_event(i, _seconds_to_us(d["time"]), d.get))
    return out


def _event(i: int, us: int, get) -> Event:
    seq = _int(get("seq"))
    return Event(
        index=i, time=us, endpoint=_text(get("endpoint")), event=_text(get("event")),
        before=_text(get("state_before")), after=_text(get("state_after")),
        flags=read_flags(None if _missing(get("flags")) else get("flags"), seq), seq=seq, ack=_int(get("ack")),
        length=_int(get("len")), fate=_text(get("fate")), detail=_text(get("detail")),
        segment=read_segment_id(None if _missing(get("segment")) else get("segment")),
    )  # fmt: skip


def _missing(v: object) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return type(v).__name__ in ("NAType", "NaTType")


def _text(v: object) -> str:
    return "" if _missing(v) else str(v)


def _int(v: object) -> int | None:
    if _missing(v) or v == "":
        return None
    return int(v)


def _seconds_to_us(v: object) -> int:
    if _missing(v) or v == "":
        return 0
    return int(round(float(v) * 1_000_000))


def initial_states(events: list[Event]) -> dict[str, str]:
    """Each endpoint's state before its first event ("" for an endpoint not in the trace)."""
    out = dict.fromkeys(ENDPOINTS, "")
    for e in events:
        if e.endpoint in out and not out[e.endpoint]:
            out[e.endpoint] = e.before or e.after
    return out


def state_at(events: list[Event], step: int) -> dict[str, str]:
    """Each endpoint's state once events[0..step] have happened."""
    out = initial_states(events)
    for e in events[: step + 1]:
        if e.endpoint in out and e.after:
            out[e.endpoint] = e.after
    return out
