"""Rows of a trace that belong together: a segment's send and its arrivals (Flight), a timer's
start and its end (Bracket), and what each sent segment is ("A's ACK of B's FIN").

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

import re
from collections import defaultdict, deque
from dataclasses import dataclass, field

from reference_impl.segment import Flags
from reference_impl.trace import EventKind

from .model import Event


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


def segment_roles(events: list[Event]) -> dict[str, str]:
    """What each sent segment is, by sender and ordinal ("A2" -> "A's ACK of B's FIN"): the
    names the loss picker offers, since "A2" alone means nothing to a learner. No two read the
    same: a repeat says which ("resent", "a 3rd time"), a reopened 4-tuple's segments say their
    connection, and two different segments of one kind (two RSTs) their sequence numbers."""
    out: dict[str, str] = {}
    count = {"A": 0, "B": 0}
    fin_end: dict[str, int] = {}  # sender -> the sequence number just past its FIN
    seen: dict[tuple, int] = {}  # a segment's identity -> how many times it was sent before
    named: dict[str, tuple] = {}  # a role -> the segment identity that has it
    connection = {"A": 1, "B": 1}
    for e in events:
        _follow_connection(e, connection)
        if e.event != EventKind.SEND or e.endpoint not in count:
            continue
        count[e.endpoint] += 1
        me, flags = e.endpoint, e.flags or Flags.NONE
        role = _kind(e, fin_end)
        # A SYN, FIN or data sent again (whatever it now acknowledges) is a retransmission.
        resent = bool(flags & (Flags.FIN | Flags.SYN)) or bool(e.length)
        key = (me, e.seq, Flags.FIN in flags, Flags.SYN in flags) if resent else (me, e.flags, e.seq, e.ack, e.length)
        if connection[me] > 1:
            role += f" in connection {connection[me]}"
        if named.setdefault(role, key) != key:  # a different segment of the same kind (two RSTs)
            role += f" SEQ={e.seq}"
        before = seen.get(key, 0)
        if before:  # two options in the picker must never read the same: say which repeat it is
            role += (
                (", resent" if resent else ", again")
                if before == 1
                else (f", resent a {_ordinal(before)} time" if resent else f", a {_ordinal(before + 1)} time")
            )
        seen[key] = before + 1
        out[f"{me}{count[me]}"] = role
    return out


def _follow_connection(e: Event, connection: dict[str, int]) -> None:
    """Which incarnation of the 4-tuple each endpoint is in: a reopen names it; a SYN that reopens
    TIME_WAIT (linux) puts the receiver in its sender's."""
    if e.endpoint not in connection:
        return
    if e.event == EventKind.REOPEN:
        found = re.search(r"connection (\d+)", e.detail)
        connection[e.endpoint] = int(found.group(1)) if found else connection[e.endpoint]
    elif e.event == EventKind.RECV and e.after == "SYN_RECEIVED":
        connection[e.endpoint] = connection["B" if e.endpoint == "A" else "A"]


def _kind(e: Event, fin_end: dict[str, int]) -> str:
    """A sent segment's role before any "again": RST, SYN, FIN, data, an ACK of the peer's FIN, an ACK."""
    me, peer = e.endpoint, "B" if e.endpoint == "A" else "A"
    flags = e.flags or Flags.NONE
    if Flags.RST in flags:
        return f"{me}'s RST"
    if Flags.SYN in flags:  # a reopened 4-tuple's handshake
        return f"{me}'s SYN" + ("-ACK" if Flags.ACK in flags else "")
    if Flags.FIN in flags:
        fin_end[me] = (e.seq or 0) + (e.length or 0) + 1
        return f"{me}'s FIN" + (" with its last data" if e.length else "")
    if e.length:  # a run may send several: its number, as the picture labels it, tells them apart
        return f"{me}'s data SEQ={e.seq}"
    if peer in fin_end and e.ack == fin_end[peer]:
        return f"{me}'s ACK of {peer}'s FIN"
    return f"{me}'s ACK={e.ack}"


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"
