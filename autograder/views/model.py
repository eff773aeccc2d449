"""What a trace means as a picture: events, segment flights, timer brackets.

Every view (static SVG, animated timeline, state diagram) reads a trace the same
way, so this module turns a `Trace`, a contract DataFrame or a list of rows into
plain values once. It is stdlib-only: feedback and the docs render SVG without
pandas or a browser.

Pairing sends with receives: the trace records a segment twice (the sender's
`send` row, the receiver's `recv` row). A send is matched with the earliest
unclaimed arrivals of the same segment at or after the send time, as many as its
fate says (a `duplicated` send claims two, a `lost` one none). The same segment
is the same id (`segment`, "A3", which the simulator gives both rows); in a trace
without ids (one written before the column, a real kernel's) it is the peer's
arrival of the same (flags, seq, ack, len), a guess: retransmissions carry the
same fields, which is why "earliest unclaimed" matters there. (Runs laid end to
end repeat ids, so an id too is claimed in time order.)
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

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


@dataclass(slots=True)
class Flight:
    """One segment on the wire: a send and its arrivals (0 lost, 2 duplicated), or an
    arrival whose send is not in the trace (a one-endpoint trace)."""

    sender: str
    send: Event | None
    recvs: list[Event] = field(default_factory=list)

    @property
    def fate(self) -> str:
        return self.send.fate if self.send is not None else "unseen"

    @property
    def text(self) -> str:
        e = self.send or self.recvs[0]
        return e.segment_text or e.flags_text


@dataclass(frozen=True, slots=True)
class Bracket:
    """A timer's life on one lane: started at `start`, ended at `end` by `how`
    (cancel, expired, restart, closed, or open when the trace ends first)."""

    endpoint: str
    timer: str
    start: Event
    end: Event | None
    how: str
    duration: str = ""


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


def pair_flights(events: list[Event]) -> list[Flight]:
    """Match each send with its arrivals (by the segment's id, else by its fields); unmatched
    arrivals become flights without a send."""
    waiting: dict[tuple, deque[Event]] = defaultdict(deque)
    for e in events:
        if e.event == EventKind.RECV:
            waiting[_same_segment(e, e.endpoint)].append(e)
    claimed: set[int] = set()
    flights: list[Flight] = []
    for e in events:
        if e.event != EventKind.SEND:
            continue
        queue = waiting.get(_same_segment(e, "B" if e.endpoint == "A" else "A"))
        want = 0 if e.fate == "lost" else 2 if e.fate == "duplicated" else 1
        got: list[Event] = []
        while queue and len(got) < want:
            r = queue.popleft()
            if r.time >= e.time:  # an arrival before this send belongs to no send we saw
                got.append(r)
        claimed.update(r.index for r in got)
        flights.append(Flight(e.endpoint, e, got))
    for e in events:
        if e.event == EventKind.RECV and e.index not in claimed:
            flights.append(Flight("B" if e.endpoint == "A" else "A", None, [e]))
    return flights


def _same_segment(e: Event, receiver: str) -> tuple:
    """What a send and its arrivals at `receiver` share: the segment's id, else (in a trace without
    ids) the receiver and the segment's fields."""
    return ("id", e.segment) if e.segment is not None else (receiver, *e.key)


def timer_brackets(events: list[Event]) -> list[Bracket]:
    """Timer intervals per endpoint from `timer` rows ("start TIME_WAIT 240 s",
    "cancel RETRANSMIT"), `timeout` rows, and entering CLOSED (which deletes the TCB)."""
    running: dict[tuple[str, str], tuple[Event, str]] = {}
    out: list[Bracket] = []

    def end(ep: str, name: str, at: Event | None, how: str) -> None:
        start, dur = running.pop((ep, name))
        out.append(Bracket(ep, name, start, at, how, dur))

    for e in events:
        if e.event == EventKind.TIMER:
            words = e.detail.split()
            if len(words) >= 2 and words[0] in ("start", "cancel"):
                name = words[1]
                if (e.endpoint, name) in running:
                    end(e.endpoint, name, e, "restart" if words[0] == "start" else "cancel")
                if words[0] == "start":
                    running[(e.endpoint, name)] = (e, " ".join(words[2:]))
        elif e.event == EventKind.TIMEOUT and (e.endpoint, e.detail) in running:
            end(e.endpoint, e.detail, e, "expired")
        if e.after == "CLOSED" or e.event == EventKind.REOPEN:
            for ep, name in [k for k in running if k[0] == e.endpoint]:
                end(ep, name, e, "closed")
    for ep, name in list(running):
        end(ep, name, None, "open")
    out.sort(key=lambda b: b.start.index)
    return out


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


def schedule(panels: list[list[Event]]) -> tuple[list[dict[int, int]], list[int]]:
    """Steps shared by all panels, on virtual time: (per panel, event index -> the step at which
    it appears; the time of each step, from step 1).

    Two runs that part stay at the same moment while stepping: the k-th event of each run at
    one instant appears at the same step, whatever happened before it in either run. Two
    identical runs step one event at a time, exactly as one run does.
    """
    keys: set[tuple[int, int]] = set()
    ordinal: list[dict[int, tuple[int, int]]] = []
    for evs in panels:
        count: dict[int, int] = defaultdict(int)
        mine: dict[int, tuple[int, int]] = {}
        for e in evs:
            mine[e.index] = (e.time, count[e.time])
            count[e.time] += 1
        keys.update(mine.values())
        ordinal.append(mine)
    order = sorted(keys)
    step_of = {k: i + 1 for i, k in enumerate(order)}
    return [{i: step_of[k] for i, k in mine.items()} for mine in ordinal], [t for t, _ in order]


def first_difference(mine: list[Event], reference: list[Event]) -> tuple[int, int] | None:
    """Row indices (in each run) of the first rows that differ, or None when the runs are the same.

    A run that stops early differs at its end: the other's next row is marked, and its own last.
    """

    def key(e: Event) -> tuple:
        return (e.time, e.endpoint, e.event, e.before, e.after, e.flags, e.seq, e.ack, e.length, e.fate, e.detail)

    for k, (a, b) in enumerate(zip(mine, reference, strict=False)):
        if key(a) != key(b):
            return _same_moment(a, b, mine[:k], reference[:k])
    n = min(len(mine), len(reference))
    if len(mine) == len(reference):
        return None
    if len(mine) > n:
        return mine[n].index, reference[-1].index if reference else -1
    return (mine[-1].index if mine else -1), reference[n].index


def _same_moment(a: Event, b: Event, mine: list[Event], reference: list[Event]) -> tuple[int, int]:
    """Where two runs first part, marked at one moment in both. When one run did something more at
    an earlier moment (the reference restarts a timer the learner's code does not), the other run's
    next row is already a later moment; its last row of the earlier moment is marked instead."""
    if (a.time, a.endpoint) == (b.time, b.endpoint):
        return a.index, b.index
    if b.time <= a.time:
        same = [e for e in mine if (e.time, e.endpoint) == (b.time, b.endpoint)]
        return (same[-1].index if same else a.index), b.index
    same = [e for e in reference if (e.time, e.endpoint) == (a.time, a.endpoint)]
    return a.index, (same[-1].index if same else b.index)


def segment_roles(events: list[Event]) -> dict[str, str]:
    """What each sent segment is, by sender and ordinal ("A2" -> "A's ACK of B's FIN"): the
    names the loss picker offers, since "A2" alone means nothing to a learner."""
    out: dict[str, str] = {}
    count = {"A": 0, "B": 0}
    fin_end: dict[str, int] = {}  # sender -> the sequence number just past its FIN
    seen: set[tuple] = set()
    for e in events:
        if e.event != EventKind.SEND or e.endpoint not in count:
            continue
        count[e.endpoint] += 1
        me, peer = e.endpoint, "B" if e.endpoint == "A" else "A"
        flags = e.flags or Flags.NONE
        if Flags.RST in flags:
            role = f"{me}'s RST"
        elif Flags.FIN in flags:
            role = f"{me}'s FIN" + (" with its last data" if e.length else "")
            fin_end[me] = (e.seq or 0) + (e.length or 0) + 1
        elif e.length:
            role = f"{me}'s data"
        elif peer in fin_end and e.ack == fin_end[peer]:
            role = f"{me}'s ACK of {peer}'s FIN"
        else:
            role = f"{me}'s ACK"
        # A FIN or data sent again (whatever it now acknowledges) is a retransmission.
        key = (
            (me, e.flags, e.seq, e.ack, e.length)
            if Flags.FIN not in flags and not e.length
            else (me, e.seq, Flags.FIN in flags)
        )
        if key in seen:
            role += ", resent" if Flags.FIN in flags or e.length else ", again"
        seen.add(key)
        out[f"{me}{count[me]}"] = role
    return out
