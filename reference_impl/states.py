"""The vocabulary of the close machine: states, stimuli in, outputs out (RFC 9293 §3.3.2).

Stimuli and outputs are small frozen values, as in h11: the machine takes a
stimulus and returns a Step; it never reads a clock or touches a socket.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from .segment import Segment

if TYPE_CHECKING:
    from .profiles import Profile
    from .tcb import TCB


class State(Enum):
    """The RFC's states, printed as it names them (FIN_WAIT_1). The close machine is the first
    eight (CLOSE_STATES, what a learner writes); LISTEN, SYN_SENT and SYN_RECEIVED open a new
    connection on a used 4-tuple, only as far as showing why TIME_WAIT matters needs them."""

    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    CLOSING = "CLOSING"
    TIME_WAIT = "TIME_WAIT"
    CLOSE_WAIT = "CLOSE_WAIT"
    LAST_ACK = "LAST_ACK"
    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN_SENT"
    SYN_RECEIVED = "SYN_RECEIVED"

    def __str__(self) -> str:
        return self._value_

    __repr__ = __str__


# The close machine: the states a learner's handlers implement (the opening ones are the reference's).
CLOSE_STATES: tuple[State, ...] = tuple(State)[:8]
OPENING_STATES: tuple[State, ...] = (State.LISTEN, State.SYN_SENT, State.SYN_RECEIVED)


class Timer(Enum):
    """The timers of the close. FIN_WAIT_2 and DELAYED_ACK run only in profiles that enable them."""

    RETRANSMIT = "RETRANSMIT"
    TIME_WAIT = "TIME_WAIT"
    FIN_WAIT_2 = "FIN_WAIT_2"
    DELAYED_ACK = "DELAYED_ACK"

    def __str__(self) -> str:
        return self.value

    __repr__ = __str__


# ---- stimuli: what can happen to an endpoint -------------------------------------------


@dataclass(frozen=True, slots=True)
class AppClose:
    """The application calls CLOSE (RFC 9293 §3.10.4): "I have no more to send".

    shutdown: the application used shutdown() and keeps the socket; with plain close() a
    Linux socket is orphaned. rdwr: that shutdown was SHUT_RDWR, which also ends reading (the
    socket then refuses later data with RST, as after close(): RFC 9293 §3.6.1 SHLD-3 for a close
    that ends reading). unread: bytes received but never read by the application when it closed
    (such a close answers them with RST, by the same rule; the linux profile's close() is one).
    """

    shutdown: bool = False
    unread: int = 0
    rdwr: bool = False


@dataclass(frozen=True, slots=True)
class AppSend:
    """The application calls SEND with some data (RFC 9293 §3.10.2)."""

    data: bytes = b"data"


@dataclass(frozen=True, slots=True)
class AppAbort:
    """The application calls ABORT, or close() with SO_LINGER 0 (RFC 9293 §3.10.5)."""


@dataclass(frozen=True, slots=True)
class Arrival:
    """A segment arrives from the network (RFC 9293 §3.10.7)."""

    segment: Segment


@dataclass(frozen=True, slots=True)
class Timeout:
    """A timer the endpoint started has expired (RFC 9293 §3.10.8)."""

    timer: Timer


Stimulus = AppClose | AppSend | AppAbort | Arrival | Timeout


def stimulus_text(s: Stimulus) -> str:
    """A stimulus as a learner reads it in feedback."""
    match s:
        case Arrival(seg):
            return f"arrival of {seg}"
        case Timeout(timer):
            return f"expiry of the {timer} timer"
        case AppClose(shutdown=sh, unread=n, rdwr=rdwr):
            call = ("shutdown(SHUT_RDWR)" if rdwr else "shutdown(SHUT_WR)") if sh else "close()"
            return f"application {call}" + (f" with {n} unread bytes" if n else "")
        case AppSend(data):
            return f"application send of {len(data)} bytes"
        case AppAbort():
            return "application abort"
    return repr(s)


# ---- outputs: what an endpoint does in response ------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    segment: Segment


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Start (or restart) a timer; duration in virtual microseconds."""

    timer: Timer
    duration: int


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer: Timer


@dataclass(frozen=True, slots=True)
class DeliverData:
    data: bytes


@dataclass(frozen=True, slots=True)
class DeliverEOF:
    """The peer has closed its direction: the application reads end-of-file."""


@dataclass(frozen=True, slots=True)
class Error:
    """An error reported to the application, worded as RFC 9293 §3.10 words it."""

    message: str


Output = Send | StartTimer | CancelTimer | DeliverData | DeliverEOF | Error
OUTPUT_TYPES = (Send, StartTimer, CancelTimer, DeliverData, DeliverEOF, Error)


def output_text(o: Output) -> str:
    match o:
        case Send(seg):
            return f"send {seg}"
        case StartTimer(timer, duration):
            return f"start {timer} timer ({format_duration(duration)})"
        case CancelTimer(timer):
            return f"cancel {timer} timer"
        case DeliverData(data):
            return f"deliver {len(data)} bytes to the application"
        case DeliverEOF():
            return "tell the application end-of-file"
        case Error(message):
            return f"error to the application: {message!r}"
    return repr(o)


def format_time(us: int) -> str:
    """Virtual seconds, exact: 0.01, 240.03, 0 (a trace's time column, and durations below)."""
    whole, frac = divmod(us, 1_000_000)
    return f"{whole}.{frac:06d}".rstrip("0").rstrip(".") if frac else str(whole)


def format_duration(us: int) -> str:
    """Exact and short: 240 s, 56.32 s, 220 ms, 250 µs."""
    if us == 0 or us >= 1_000_000:
        return f"{format_time(us)} s"
    return f"{us} µs" if us % 1000 else f"{us // 1000} ms"


@dataclass(frozen=True, slots=True, init=False)
class Step:
    """What a handler returns: the next state, the outputs in order, and the new TCB."""

    state: State
    outputs: tuple[Output, ...]
    tcb: TCB | None

    def __init__(self, state: State, outputs: Sequence[Output] = (), tcb: TCB | None = None) -> None:
        # Accept a list for convenience; store a tuple so a Step is a value. Anything else is kept
        # as given, for the harness to name in its message to the learner.
        object.__setattr__(self, "state", state)
        object.__setattr__(self, "outputs", tuple(outputs) if isinstance(outputs, list) else outputs)
        object.__setattr__(self, "tcb", tcb)


# A state's handler, the shape learners implement: handle(tcb, stimulus, profile) -> Step.
Handler = Callable[["TCB", Stimulus, "Profile"], Step]
