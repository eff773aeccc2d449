"""TCP timestamps and PAWS (RFC 7323): what the stack does to a segment before a state sees it.

With `Profile.timestamps` every segment but an RST carries the option (RFC 7323 §3): TSval, the
sender's timestamp clock, and TSecr, the TS.Recent it echoes. The receiver keeps TS.Recent per
connection and applies PAWS (§5.3) before the usual processing: a segment whose TSval is older
than TS.Recent is an old duplicate, answered with an ACK and dropped, whatever its sequence
numbers say. Linux does the same in tcp_validate_incoming() (tcp_paws_discard), before the
state's own checks, so here too no state's handler sees a refused segment.

The clock ticks in milliseconds (Linux's since 4.13) and starts at 1 at time 0 for both ends: one
clock per host pair (Linux: a random offset per address pair, secure_tcp_ts_off), so a new
connection on the same 4-tuple carries newer timestamps than anything the old one sent. That is
what lets PAWS tell an old duplicate from a fast new connection whose numbers overtook it, and
what RFC 6191 uses to let a SYN reopen TIME_WAIT (reference_impl.reuse).
"""

from __future__ import annotations

from .profiles import Profile
from .segment import MOD, Segment, seq_le, seq_lt
from .states import Output, Send, StartTimer, State, Step, Timer
from .tcb import TCB

# States with a connection whose segments PAWS checks (LISTEN and SYN_SENT have no TS.Recent yet).
CHECKED = frozenset({State.SYN_RECEIVED, State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2, State.CLOSING,
                     State.TIME_WAIT, State.CLOSE_WAIT, State.LAST_ACK})  # fmt: skip


def clock(now: int) -> int:
    """TSval at virtual time `now` (µs): milliseconds since time 0, plus 1."""
    return (now // 1000 + 1) % MOD


def stamp(seg: Segment, now: int, ts_recent: int | None, incarnation: int = 0) -> Segment:
    """The segment with its timestamps option: TSval = the clock, TSecr = TS.Recent (0 until
    one has arrived; RFC 7323 §3.2: TSecr counts only with the ACK bit). An RST carries none."""
    if seg.rst:
        return seg.stamped(incarnation)
    return seg.stamped(incarnation, clock(now), ts_recent or 0 if seg.has_ack else 0)


def paws_rejects(seg: Segment, ts_recent: int | None) -> bool:
    """RFC 7323 §5.3, R1: "If there is a Timestamps option in the arriving segment, SEG.TSval <
    TS.Recent, TS.Recent is valid ..., and if the RST bit is not set, then treat the arriving
    segment as not acceptable" (Linux: "Reset is accepted even if it did not pass PAWS")."""
    return ts_recent is not None and seg.tsval is not None and not seg.rst and seq_lt(seg.tsval, ts_recent)


def refuse(state: State, tcb: TCB, profile: Profile) -> Step:
    """What PAWS does with an old duplicate: "Send an acknowledgment in reply ... and drop the
    segment." In TIME_WAIT Linux also re-arms the timer (tcp_timewait_state_process: paws_reject)."""
    outputs: tuple[Output, ...] = (Send(tcb.ack()),)
    if state is State.TIME_WAIT and profile.timewait_state_process:
        outputs += (StartTimer(Timer.TIME_WAIT, profile.time_wait),)
    return Step(state, outputs, tcb)


def recent(seg: Segment, before: TCB, ts_recent: int | None, profile: Profile) -> int | None:
    """TS.Recent after an acceptable segment (RFC 7323 §4.3, R3): "If SEG.TSval >= TS.Recent and
    SEG.SEQ <= Last.ACK.sent, then SEG.TSval is copied to TS.Recent" (Last.ACK.sent taken as
    RCV.NXT, as Linux's RCV.WUP is), and, with Profile.ts_recent_needs_valid_ack, a valid ACK."""
    if seg.tsval is None or (ts_recent is not None and seq_lt(seg.tsval, ts_recent)):
        return ts_recent
    if profile.ts_recent_needs_valid_ack and (seg.rst or not seg.has_ack or seq_lt(seg.ack, before.snd_una)
                                              or seq_lt(before.snd_nxt, seg.ack)):  # fmt: skip
        return ts_recent  # Linux: tcp_ack() updates it, after the ACK is found valid
    if seq_le(seg.seq, before.rcv_nxt) and before.acceptable(seg, profile.accept_window_edges):
        return seg.tsval
    return ts_recent
