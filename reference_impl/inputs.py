"""What a simulation is given: application calls at virtual times, segment fates, windows, MSS.

A `Scenario` is the whole input of one run of `reference_impl.sim`; the catalogue
(`reference_impl.scenarios`), scripts (`reference_impl.script`) and the kernel cross-check
(`autograder.kernel`) all build them. A crafted segment (`Inject`) may be placed against the
receiver's numbers when it arrives (`place`), so it sits on a window edge whatever the numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from typing import Any, TypedDict

from .profiles import ms
from .roles import Role
from .segment import MOD, Segment
from .states import AppAbort, AppClose, AppSend
from .tcb import TCB


@dataclass(frozen=True, slots=True)
class Reopen:
    """Open a new connection on the same 4-tuple: A connects (a SYN with ISS iss_a) as soon as its
    old connection is CLOSED, and B listens as soon as its own is (its SYN,ACK carries iss_b), or
    takes the SYN in TIME_WAIT when the profile lets it (Profile.time_wait_accepts_syn)."""

    iss_a: int
    iss_b: int
    # Application calls in the new connection, as (delay after that endpoint's new connection is
    # synchronized, endpoint, call).
    then: tuple[tuple[int, str, AppClose | AppSend | AppAbort], ...] = ()


@dataclass(frozen=True, slots=True)
class Inject:
    """A segment that arrives from outside the two endpoints (a script's crafted segment).

    `at` places fields relative to the receiving end's TCB at the moment of arrival, e.g.
    (("seq", "RCV.NXT+RCV.WND"), ("ack", "SND.NXT")): a segment on the right edge of the
    window stays there whatever the numbers (and the kernel cross-check places it alike);
    ("tsval", "TS.RECENT-1000") gives it a timestamps option older than the receiver's TS.Recent.
    """

    segment: Segment
    at: tuple[tuple[str, str], ...] = ()
    where: str = field(default="", compare=False)  # "file:line:col" of the script line, for its errors


VARIABLES = ("RCV.NXT", "RCV.WND", "SND.NXT", "SND.UNA", "TS.RECENT")
_TERM = re.compile(r"\s*([+-]?)\s*(RCV\.NXT|RCV\.WND|SND\.NXT|SND\.UNA|TS\.RECENT|\d+)\s*", re.IGNORECASE)


def place(expr: str, lookup: Callable[[str], int]) -> int:
    """The value of "RCV.NXT+RCV.WND-1" (names of VARIABLES, whole numbers, + and -), modulo 2**32."""
    total, pos = 0, 0
    while pos < len(expr):
        m = _TERM.match(expr, pos)
        if not m or m.end() == pos or (pos and not m.group(1)):
            raise ValueError(f"{expr!r} is not a sum like RCV.NXT+RCV.WND-1 (names: {', '.join(VARIABLES)})")
        word = m.group(2).upper()
        value = int(word) if word.isdigit() else lookup(word)
        total += -value if m.group(1) == "-" else value
        pos = m.end()
    if not expr.strip():
        raise ValueError("an empty expression; write e.g. RCV.NXT")
    return total % MOD


def tcb_variable(tcb: TCB, name: str, ts_recent: int | None = None) -> int:
    """RCV.NXT, RCV.WND, SND.NXT or SND.UNA of a TCB, or the connection's TS.Recent (RFC 7323)."""
    if name == "TS.RECENT":
        if ts_recent is None:
            raise ValueError(
                "TS.RECENT is not known yet: no segment with a timestamp has reached this end (a run "
                "starts in ESTABLISHED without one; let the peer send first, or write tsval=N)"
            )
        return ts_recent
    return {"RCV.NXT": tcb.rcv_nxt, "RCV.WND": tcb.rcv_wnd, "SND.NXT": tcb.snd_nxt, "SND.UNA": tcb.snd_una}[name]


def placed(call: Inject, tcb: TCB, ts_recent: int | None = None) -> Segment:
    """The injected segment with its `at` fields (seq, ack, tsval) computed against the receiver's TCB."""
    if not call.at:
        return call.segment
    # `at` names only int fields (seq, ack, tsval); replace checks the names
    try:
        values: dict[str, Any] = {f: place(e, lambda n: tcb_variable(tcb, n, ts_recent)) for f, e in call.at}
    except ValueError as e:
        raise ValueError(f"{call.where}: {e}" if call.where else str(e)) from None
    return dc_replace(call.segment, **values)


@dataclass(frozen=True, slots=True)
class Read:
    """The application reads everything waiting in its receive buffer: RCV.WND becomes `window`
    and, if it grew, the stack announces it with <SEQ=SND.NXT><ACK=RCV.NXT> (a window update,
    RFC 9293 §3.8.6.2.2; Linux tcp_cleanup_rbuf()). Not a handler's business: no state changes."""

    window: int = 65535


AppCall = AppClose | AppSend | AppAbort | Reopen | Inject | Read


@dataclass(frozen=True, slots=True)
class Action:
    time: int  # virtual microseconds
    endpoint: str
    call: AppCall


@dataclass(frozen=True, slots=True)
class Fate:
    """What the network does to one segment. kind: "lose", "duplicate" or "delay"."""

    kind: str
    delay: int = 0  # "delay": extra delay; "duplicate": how much later the second copy arrives

    def __post_init__(self) -> None:
        if self.kind not in ("lose", "duplicate", "delay"):
            raise ValueError(f"unknown fate {self.kind!r}; use lose, duplicate or delay")


# A segment is named by who sent it and its ordinal among that endpoint's segments: ("A", 2), or by
# what it is: Role("B", "ACK of FIN") (reference_impl.roles), which stays on its segment whatever
# else is lost.
SegmentKey = tuple[str, int]
FateKey = SegmentKey | Role


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    actions: tuple[Action, ...]
    fates: Mapping[FateKey, Fate] = field(default_factory=dict)
    iss_a: int = 100  # A's next sequence number when the scenario starts (RFC 793 fig. 13)
    iss_b: int = 300
    delay: int = ms(10)  # one-way delay of each channel
    reads: Mapping[str, bool] = field(default_factory=lambda: {"A": True, "B": True})
    # An endpoint's receive window at time 0 (its peer's SND.WND starts the same). 0: its buffer
    # is full of unread data (so data has arrived), and the peer's data and FIN queue behind it.
    windows: Mapping[str, int] = field(default_factory=dict)
    # The most data an endpoint's segments carry (the peer's MSS option, RFC 9293 §3.7.1).
    mss: Mapping[str, int] = field(default_factory=dict)

    def with_fates(self, fates: Mapping[FateKey, Fate], name: str | None = None) -> Scenario:
        return dc_replace(self, fates=dict(fates), name=name or self.name)


class Limits(TypedDict, total=False):
    """Where a run stops if it has not ended by itself: Simulation's keywords, passed on by simulate()."""

    max_events: int
    horizon: int
