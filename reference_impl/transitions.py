"""The transitions as data: (state, event) → next state, with the RFC's condition.

This table is what the notebooks print and the state diagram draws. It does not
drive the machine (the handlers do); tests/reference/test_transitions.py keeps the
two honest: every transition any catalogue run takes is in the table, and every row
of the table is taken by some run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .actions import RESET_ERROR, USER_TIMEOUT
from .segment import Flags
from .trace import EventKind, Row


@dataclass(frozen=True, slots=True)
class Transition:
    state: str
    event: str  # close, abort, SYN, SYN-ACK, FIN, ACK, RST, timeout RETRANSMIT, timeout TIME_WAIT, ...
    next_state: str
    condition: str = ""  # when there is more than one way out on the same event
    sends: str = ""  # what goes out with it
    rfc: str = "RFC 9293 §3.10.7.4"
    tells: str = ""  # what the application hears, if anything


T = Transition
_REFUSED = "RFC 9293 §3.6.1 (SHLD-3)"  # close() that also ends reading refuses later data with RST
_EDGES = "Linux tcp_sequence()"  # a retransmission ending at RCV.NXT is acceptable: its ACK counts
_REOPEN = "RFC 9293 §3.6.1 (MAY-2), RFC 6191"  # Linux tcp_timewait_state_process(): TCP_TW_SYN
TRANSITIONS: tuple[Transition, ...] = (
    T("ESTABLISHED", "close", "FIN_WAIT_1", sends="FIN", rfc="RFC 9293 §3.10.4"),
    T("ESTABLISHED", "close", "CLOSED", "socket close(): unread data", "RST", _REFUSED),
    T("ESTABLISHED", "FIN", "CLOSE_WAIT", sends="ACK"),
    T("ESTABLISHED", "RST", "CLOSED", tells=RESET_ERROR),
    T("ESTABLISHED", "abort", "CLOSED", sends="RST", rfc="RFC 9293 §3.10.5"),
    T("FIN_WAIT_1", "ACK", "FIN_WAIT_2", "acknowledges our FIN"),
    T("FIN_WAIT_1", "FIN", "CLOSING", "does not acknowledge our FIN", "ACK"),
    T("FIN_WAIT_1", "FIN", "TIME_WAIT", "also acknowledges our FIN", "ACK"),
    T("FIN_WAIT_1", "FIN", "FIN_WAIT_2", "acknowledges our FIN, but data before the FIN is missing"),
    T("FIN_WAIT_1", "ACK", "CLOSED", "socket close(): it carries data after close()", "RST", _REFUSED),
    T("FIN_WAIT_1", "FIN", "CLOSED", "socket close(): it carries data after close()", "RST", _REFUSED),
    T("FIN_WAIT_1", "RST", "CLOSED", tells=RESET_ERROR),
    T("FIN_WAIT_1", "abort", "CLOSED", sends="RST", rfc="RFC 9293 §3.10.5"),
    T("FIN_WAIT_1", "timeout RETRANSMIT", "CLOSED", "retry limit reached", rfc="RFC 9293 §3.8.3", tells=USER_TIMEOUT),
    T("FIN_WAIT_2", "FIN", "TIME_WAIT", sends="ACK"),
    T("FIN_WAIT_2", "RST", "CLOSED", tells=RESET_ERROR),
    T("FIN_WAIT_2", "abort", "CLOSED", sends="RST", rfc="RFC 9293 §3.10.5"),
    T("FIN_WAIT_2", "timeout FIN_WAIT_2", "CLOSED", "linux: orphaned socket", rfc="Linux tcp_fin_timeout"),
    T("FIN_WAIT_2", "ACK", "CLOSED", "socket close(): it carries data after close()", "RST", _REFUSED),
    T("FIN_WAIT_2", "FIN", "CLOSED", "socket close(): it carries data after close()", "RST", _REFUSED),
    T("CLOSING", "ACK", "TIME_WAIT", "acknowledges our FIN"),
    T("CLOSING", "FIN", "TIME_WAIT", "linux: the peer's FIN again, acknowledging ours", rfc=_EDGES),
    T("CLOSING", "RST", "CLOSED"),
    T("CLOSING", "abort", "CLOSED", rfc="RFC 9293 §3.10.5"),
    T("CLOSING", "timeout RETRANSMIT", "CLOSED", "retry limit reached", rfc="RFC 9293 §3.8.3", tells=USER_TIMEOUT),
    T("TIME_WAIT", "timeout TIME_WAIT", "CLOSED", "after 2 MSL (linux: 60 s)", rfc="RFC 9293 §3.10.8"),
    T("TIME_WAIT", "RST", "CLOSED", "unless RFC 1337 is on"),
    T("TIME_WAIT", "abort", "CLOSED", rfc="RFC 9293 §3.10.5"),
    T("CLOSE_WAIT", "close", "LAST_ACK", sends="FIN", rfc="RFC 9293 §3.10.4"),
    T("CLOSE_WAIT", "close", "CLOSED", "socket close(): unread data", "RST", _REFUSED),
    T("CLOSE_WAIT", "RST", "CLOSED", tells=RESET_ERROR),
    T("CLOSE_WAIT", "abort", "CLOSED", sends="RST", rfc="RFC 9293 §3.10.5"),
    T("LAST_ACK", "ACK", "CLOSED", "acknowledges our FIN"),
    T("LAST_ACK", "RST", "CLOSED"),
    T("LAST_ACK", "abort", "CLOSED", rfc="RFC 9293 §3.10.5"),
    T("LAST_ACK", "timeout RETRANSMIT", "CLOSED", "retry limit reached", rfc="RFC 9293 §3.8.3", tells=USER_TIMEOUT),
    # A new connection on the 4-tuple (reference_impl.opening, reuse): the states only as far as needed.
    T("TIME_WAIT", "SYN", "SYN_RECEIVED", "a new SYN above RCV.NXT or with a newer timestamp (linux)", "SYN,ACK",
      _REOPEN),
    # syn_resets_connection (RFC 793, before RFC 5961): any synchronized state; these are the ones a run meets.
    *(T(st, "SYN", "CLOSED", "syn_resets_connection: in the window (RFC 793, before RFC 5961)", "RST,ACK",
        "RFC 793 §3.9", tells=RESET_ERROR) for st in ("LAST_ACK", "CLOSING")),
    T("LISTEN", "SYN", "SYN_RECEIVED", sends="SYN,ACK", rfc="RFC 9293 §3.10.7.2"),
    T("LISTEN", "close", "CLOSED", rfc="RFC 9293 §3.10.4"),
    T("LISTEN", "abort", "CLOSED", rfc="RFC 9293 §3.10.5"),
    T("SYN_SENT", "SYN-ACK", "ESTABLISHED", "acknowledges our SYN", "ACK", "RFC 9293 §3.10.7.3"),
    T("SYN_SENT", "RST", "CLOSED", "acknowledges our SYN", rfc="RFC 9293 §3.10.7.3", tells=RESET_ERROR),
    T("SYN_SENT", "close", "CLOSED", rfc="RFC 9293 §3.10.4"),
    T("SYN_SENT", "abort", "CLOSED", rfc="RFC 9293 §3.10.5"),
    T("SYN_SENT", "timeout RETRANSMIT", "CLOSED", "SYN retry limit reached", rfc="RFC 9293 §3.8.3", tells=USER_TIMEOUT),
    T("SYN_RECEIVED", "ACK", "ESTABLISHED", "acknowledges our SYN"),
    T("SYN_RECEIVED", "FIN", "CLOSE_WAIT", "acknowledges our SYN (the handshake's last ACK was lost)", "ACK"),
    T("SYN_RECEIVED", "RST", "LISTEN", "at RCV.NXT: the connection came from LISTEN"),
    T("SYN_RECEIVED", "abort", "CLOSED", sends="RST", rfc="RFC 9293 §3.10.5"),
    T("SYN_RECEIVED", "timeout RETRANSMIT", "CLOSED", "SYN,ACK retry limit reached", rfc="RFC 9293 §3.8.3"),
)  # fmt: skip


def event_of(row: Row) -> str:
    """The table's name for what a trace row did: close, abort, SYN, SYN-ACK, FIN, ACK, RST, timeout X."""
    # == rather than is: the views pass their own events (autograder.views.model.Event), whose event
    # is plain text when read back from a frame; their flags are Flags, as a row's are.
    if row.event in (EventKind.CLOSE, EventKind.ABORT):
        return str(row.event)
    if row.event == EventKind.TIMEOUT:
        return f"timeout {row.detail}"
    if row.event == EventKind.RECV:
        flags = row.flags or Flags.NONE
        if Flags.RST in flags:
            return "RST"
        if Flags.SYN in flags:
            return "SYN-ACK" if Flags.ACK in flags else "SYN"
        return "FIN" if Flags.FIN in flags else "ACK"
    return str(row.event)


def edges(rows: Iterable[Row]) -> set[tuple[str, str, str]]:
    """The (state, event, next_state) edges a trace took, state changes only, named as the table names them."""
    return {
        (str(r.state_before), event_of(r), str(r.state_after))
        for r in rows
        if r.state_before is not r.state_after and r.event != EventKind.REOPEN
    }


def table() -> list[dict[str, str]]:
    """The table as records (for pandas.DataFrame(table()) in a notebook)."""
    return [
        {"state": t.state, "event": t.event, "next": t.next_state, "when": t.condition,
         "sends": t.sends, "tells the application": t.tells, "rfc": t.rfc}
        for t in TRANSITIONS
    ]  # fmt: skip
