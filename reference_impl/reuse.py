"""A new connection on a used 4-tuple: the application's OPEN, and a SYN that meets TIME_WAIT.

OPEN is the application's call, not a state's decision: in CLOSED there is no TCB to decide with
(RFC 9293 §3.10.1), so the simulator makes one with the initial sequence number the scenario
chose (RFC 6528: a clock moves it a little ahead of the last connection's) and, for an active
OPEN, sends the SYN. The states that follow (SYN_SENT, LISTEN, SYN_RECEIVED) have handlers like
every other state (reference_impl.opening).

Whether a SYN arriving in TIME_WAIT may reopen the 4-tuple at once (Profile.time_wait_accepts_syn)
is decided before TIME_WAIT's own processing, the way Linux decides it: tcp_timewait_state_process()
returns TCP_TW_SYN, and tcp_v4_rcv() retires the timewait socket and hands the SYN to the listener.
So the close machine a learner writes never meets it; a SYN that may not reopen reaches TIME_WAIT's
handler as any other segment does.
"""

from __future__ import annotations

from .profiles import Profile
from .segment import Segment, seq_add, seq_gt, seq_lt
from .states import Send, StartTimer, State, Step, Timer
from .tcb import TCB

# Linux: the new connection's ISS is past every number the old one may have used (tcp_minisocks.c:
# isn = tw_snd_nxt + 65535 + 2), RFC 9293 §3.6.1 MAY-2's first condition.
TIME_WAIT_ISS_GAP = 65535 + 2


def open_active(tcb: TCB, profile: Profile) -> Step:
    """OPEN, active (RFC 9293 §3.10.1): "A SYN segment of the form <SEQ=ISS><CTL=SYN> is sent. Set
    SND.UNA to ISS, SND.NXT to ISS+1, enter SYN-SENT state"; the SYN's timer starts at syn_timeout."""
    tcb = tcb.replace(snd_nxt=seq_add(tcb.snd_una, 1))
    return Step(State.SYN_SENT, (Send(tcb.syn()), StartTimer(Timer.RETRANSMIT, profile.syn_timeout)), tcb)


def open_passive(tcb: TCB) -> Step:
    """OPEN, passive: LISTEN, holding the ISS its SYN,ACK will carry (SND.UNA = SND.NXT = ISS)."""
    return Step(State.LISTEN, (), tcb.replace(snd_nxt=tcb.snd_una))


def reopens_time_wait(tcb: TCB, seg: Segment, ts_recent: int | None, profile: Profile) -> bool:
    """Whether `seg`, arriving in TIME_WAIT, opens a new connection on the 4-tuple at once.

    RFC 9293 §3.6.1 (MAY-2): only "if it assigns its initial sequence number for the new connection
    to be larger than the largest sequence number it used on the previous connection incarnation"
    (TIME_WAIT_ISS_GAP). RFC 6191 / Linux TCP_TW_SYN: a SYN without ACK or RST that PAWS does not
    reject, whose SEG.SEQ is after RCV.NXT, or whose TSval is newer than TS.Recent.
    """
    if not profile.time_wait_accepts_syn or not seg.syn or seg.has_ack or seg.rst:
        return False
    if ts_recent is not None and seg.tsval is not None:
        if seq_lt(seg.tsval, ts_recent):
            return False  # PAWS: an old duplicate SYN
        if seq_gt(seg.tsval, ts_recent):
            return True
    return seq_gt(seg.seq, tcb.rcv_nxt)


def time_wait_iss(tcb: TCB) -> int:
    """The ISS of a connection that reopens TIME_WAIT: past every number the old one used."""
    return seq_add(tcb.snd_nxt, TIME_WAIT_ISS_GAP) or 1  # Linux: never 0
