"""What a stack does around each state's handler: an endpoint's record, the decisions taken before
a handler sees an arriving segment, and the rate limit on the ACKs it answers with.

Before: a SYN that may reopen TIME_WAIT goes to a listener instead (reference_impl.reuse, Linux
TCP_TW_SYN), a segment without ACK, RST or SYN is dropped unseen (Profile.drops_segments_without_ack),
an old duplicate is refused by PAWS (reference_impl.timestamps, Linux tcp_validate_incoming), an
orphan's FIN_WAIT_2 takes RST and SYN as a timewait socket (Profile.orphan_fin_wait_2_timewait),
an RST on the peer's FIN counts after it (Profile.rst_on_peers_fin),
text after the peer's FIN is ignored even once close() ended reading (RFC 9293 §3.10.7.4 seventh;
Linux), and, with Profile.syn_resets_connection, an in-window SYN resets a synchronized connection
as RFC 793 had it. A close() after shutdown() detaches the application
with Profile.close_detaches (Linux tcp_close), where RFC 9293 answers the second CLOSE with an
error. After: an ACK answering a refused segment leaves at most once per
Profile.invalid_ratelimit (Linux tcp_oow_rate_limited). The simulator (reference_impl.sim) calls
these; none of them is a state's decision, so no learner writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from .actions import RESET_ERROR, reset_for, send_rst
from .profiles import Profile
from .reuse import reopens_time_wait, time_wait_iss
from .segment import ACK, FIN, RST, Segment, seq_add, seq_le
from .states import (
    CLOSE_STATES,
    AppAbort,
    AppClose,
    AppSend,
    Arrival,
    CancelTimer,
    Error,
    Handler,
    Output,
    Send,
    StartTimer,
    State,
    Step,
    Timer,
)
from .tcb import TCB
from .timestamps import CHECKED, paws_rejects, refuse

SYNCHRONIZED = frozenset(CLOSE_STATES) - {State.CLOSED}


@dataclass
class Endpoint:
    """One end of the 4-tuple as the simulator keeps it."""

    name: str
    state: State
    tcb: TCB
    reads: bool
    timers: dict[Timer, tuple[int, int]] = field(default_factory=dict)  # timer → (when it fires, generation)
    sent: int = 0
    unread: int = 0
    incarnation: int = 1
    last_oow_ack: int | None = None  # when the last rate-limited ACK left (Profile.invalid_ratelimit)
    ts_recent: int | None = None  # this connection's TS.Recent (RFC 7323), None until a timestamp arrives
    opens: str = ""  # "connect" or "listen": a new connection waits for this endpoint to be CLOSED
    then: list[tuple[int, AppClose | AppSend | AppAbort]] = field(
        default_factory=list
    )  # its calls once that connection is synchronized

    def new_connection(self) -> None:
        """Connection n + 1 of the 4-tuple begins here: the old one's timers and counters go."""
        self.incarnation += 1
        self.timers, self.unread, self.last_oow_ack, self.ts_recent, self.opens = {}, 0, None, None, ""


def before_handler(ep: Endpoint, seg: Segment, profile: Profile, machine: Mapping[State, Handler],
                   fresh: Callable[[int], TCB]) -> tuple[Step | None, tuple[Output, ...], str]:  # fmt: skip
    """What the stack decides before the state's handler sees `seg`: (the step, outputs to come before
    the step's, a note for the trace), or (None, (), "") to let the handler decide. `machine` holds
    the handlers (LISTEN's takes a reopening SYN); `fresh(iss)` makes a listener's TCB."""
    if ep.state is State.TIME_WAIT and ep.opens == "listen" and reopens_time_wait(ep.tcb, seg, ep.ts_recent, profile):
        step = machine[State.LISTEN](fresh(time_wait_iss(ep.tcb)), Arrival(seg), profile)
        return (
            step,
            (CancelTimer(Timer.TIME_WAIT),),
            "a new SYN reopens the 4-tuple from TIME_WAIT (RFC 9293 §3.6.1, RFC 6191)",
        )
    timewait = ep.state is State.TIME_WAIT or _orphan_timewait(ep, profile)
    if profile.drops_segments_without_ack and ep.state in SYNCHRONIZED and not timewait:
        if not (seg.has_ack or seg.rst or seg.syn):
            return Step(ep.state, (), ep.tcb), (), "no ACK, RST or SYN: dropped before any check (Linux)"
    if profile.timestamps and ep.state in CHECKED and paws_rejects(seg, ep.ts_recent):
        why = f"PAWS: TSval {seg.tsval} is older than TS.Recent {ep.ts_recent}, an old duplicate (RFC 7323 §5)"
        return refuse(ep.state, ep.tcb, profile), (), why
    return _in_state(ep, seg, profile, machine, timewait)


def _in_state(ep: Endpoint, seg: Segment, profile: Profile, machine: Mapping[State, Handler],
              timewait: bool) -> tuple[Step | None, tuple[Output, ...], str]:  # fmt: skip
    """The stack's answers past PAWS that depend on the state: Linux's orphan FIN_WAIT_2 and the states
    after the peer's FIN, and RFC 793's in-window SYN (Profile.syn_resets_connection)."""
    if ep.state is State.FIN_WAIT_2 and timewait and ep.tcb.acceptable(seg, profile.accept_window_edges):
        if seg.rst:
            return Step(State.CLOSED, (), ep.tcb), (), "an RST in the window ends an orphan's FIN_WAIT_2 (Linux)"
        if seg.syn and seq_le(ep.tcb.rcv_nxt, seg.seq):
            return Step(State.CLOSED, reset_for(seg, profile), ep.tcb), (), "a SYN ends an orphan's FIN_WAIT_2 (Linux)"
    if profile.rst_on_peers_fin and ep.state in AFTER_PEERS_FIN and seg.rst and seq_add(seg.seq, 1) == ep.tcb.rcv_nxt:
        step = machine[ep.state](ep.tcb, Arrival(replace(seg, seq=ep.tcb.rcv_nxt)), profile)
        return step, (), "an RST on the peer's FIN (RCV.NXT-1) resets the connection (Linux tcp_reset_check)"
    if ep.state in AFTER_PEERS_FIN and ep.tcb.refuses_data and seg.payload and seq_le(ep.tcb.rcv_nxt, seg.seq):
        # RFC 9293 §3.10.7.4 seventh, CLOSE-WAIT, CLOSING, LAST-ACK: "This should not occur, since a
        # FIN has been received from the remote side. Ignore the segment text." Linux likewise
        # (tcp_rcv_state_process step 7); only text starting before RCV.NXT meets close()'s RST.
        bare = replace(seg, flags=seg.flags & ~FIN, payload=b"")
        step = machine[ep.state](ep.tcb, Arrival(bare), profile)
        return step, (), "text after the peer's FIN is ignored (RFC 9293 §3.10.7.4 seventh)"
    if profile.syn_resets_connection and ep.state in SYNCHRONIZED and seg.syn and not seg.rst:
        if ep.tcb.acceptable(seg, profile.accept_window_edges):
            # RFC 793 §3.9: "If the SYN is in the window it is an error, send a reset, any outstanding
            # RECEIVEs and SEND should receive "reset" responses ... enter the CLOSED state."
            rst = Segment(seq=0, ack=seq_add(seg.seq, seg.len), flags=RST | ACK)
            step = Step(State.CLOSED, (Send(rst), Error(RESET_ERROR)), ep.tcb)
            return step, (), "an in-window SYN resets the connection (RFC 793 §3.9, before RFC 5961)"
    return None, (), ""


CLOSING_STATES = frozenset({State.FIN_WAIT_1, State.FIN_WAIT_2, State.CLOSING, State.LAST_ACK, State.TIME_WAIT})
AFTER_PEERS_FIN = frozenset({State.CLOSE_WAIT, State.CLOSING, State.LAST_ACK})


def _orphan_timewait(ep: Endpoint, profile: Profile) -> bool:
    """An orphan in FIN_WAIT_2 that Linux keeps as a timewait socket (Profile.orphan_fin_wait_2_timewait):
    tcp_fin_timeout no longer than TIME_WAIT's length, else the full socket waits on a keepalive timer."""
    limit = profile.fin_wait_2_timeout
    return (profile.orphan_fin_wait_2_timewait and ep.state is State.FIN_WAIT_2 and ep.tcb.orphaned
            and limit is not None and limit <= profile.time_wait)  # fmt: skip


def detached_close(ep: Endpoint, call: AppClose, profile: Profile) -> tuple[Step, str] | None:
    """close() once the FIN is out (after shutdown()), with Profile.close_detaches: the stack's answer, or None.

    The socket API's close() never fails here: Linux tcp_close() orphans the socket (sock_orphan),
    resets the connection if received data was never read (it resets in any of these states but
    TIME_WAIT, whose socket is already closed), and in FIN_WAIT_2 hands it to the tcp_fin_timeout
    timer (tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)), where new data is answered with RST. RFC 9293's
    CLOSE there is "error: connection closing", which the state's handler gives without this option.
    """
    if not profile.close_detaches or call.shutdown or ep.state not in CLOSING_STATES or ep.tcb.orphaned:
        return None
    tcb = ep.tcb
    if call.unread and profile.rst_on_unread_close and ep.state is not State.TIME_WAIT:
        why = f"close() with {call.unread} bytes unread resets the connection (Linux tcp_close)"
        return Step(State.CLOSED, tuple(send_rst(tcb, profile)), tcb), why
    tcb = tcb.replace(orphaned=True, refuses_data=profile.rst_on_data_after_close)
    outputs: tuple[Output, ...] = ()
    if ep.state is State.FIN_WAIT_2 and profile.fin_wait_2_timeout is not None:
        outputs = (StartTimer(Timer.FIN_WAIT_2, profile.fin_wait_2_timeout),)
    return Step(ep.state, outputs, tcb), "close() after shutdown(): the application detaches (Linux tcp_close)"


def rate_limited(ep: Endpoint, time: int, seg: Segment, before: State, step: Step, profile: Profile) -> bool:
    """Whether the stack holds back the ACK this step answers `seg` with (Profile.invalid_ratelimit).

    Linux tcp_oow_rate_limited(): an ACK answering a segment without data (or with SYN) that was
    refused or challenged leaves at most once per interval. Only such a segment is ever
    answered by nothing but a bare ACK with the state unchanged, so that is what is limited.
    """
    limit = profile.invalid_ratelimit
    if limit is None or (seg.len and not seg.syn) or step.state is not before:
        return False
    sends = [o.segment for o in step.outputs if isinstance(o, Send)]
    if len(sends) != 1 or sends[0].flags != ACK or sends[0].payload:
        return False
    if ep.last_oow_ack is not None and time - ep.last_oow_ack < limit:
        return True
    ep.last_oow_ack = time
    return False
