"""The building blocks a state handler composes (RFC 9293 §3.10).

Sending a FIN, retransmitting with backoff, aborting, taking in data and a FIN:
each is the same wherever it happens, so it is written once, here. Whether and
when to use one is the state's decision, in `handlers`.
"""

from __future__ import annotations

from .profiles import Profile
from .segment import ACK, FIN, RST, Segment, seq_add
from .states import (
    CancelTimer,
    DeliverData,
    DeliverEOF,
    Error,
    Output,
    Send,
    StartTimer,
    State,
    Step,
    Timer,
)
from .tcb import TCB, Screened

CLOSING_ERROR = "connection closing"
RESET_ERROR = "connection reset"
NO_CONNECTION = "connection does not exist"
USER_TIMEOUT = "connection aborted due to user timeout"


def send_fin(tcb: TCB, profile: Profile, orphan: bool) -> tuple[TCB, list[Output]]:
    """Form a FIN <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK>; it consumes one sequence number."""
    fin = tcb.segment(ACK | FIN)
    tcb = tcb.replace(fin_seq=tcb.snd_nxt, snd_nxt=seq_add(tcb.snd_nxt, 1), orphaned=orphan,
                      refuses_data=orphan and profile.rst_on_data_after_close)  # fmt: skip
    return tcb, [Send(fin), StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt))]


def send_data(tcb: TCB, data: bytes, profile: Profile) -> tuple[TCB, list[Output]]:
    seg = tcb.segment(ACK, payload=data)
    outputs: list[Output] = [Send(seg)]
    if tcb.snd_una == tcb.snd_nxt:  # nothing outstanding: the timer is not running yet
        outputs.append(StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt)))
    tcb = tcb.replace(snd_nxt=seq_add(tcb.snd_nxt, len(data)), unacked=tcb.unacked + data)
    return tcb, outputs


def retransmit(tcb: TCB, state: State, profile: Profile) -> Step:
    """RFC 9293 §3.10.8: resend from SND.UNA, back the timer off; give up after max_retries."""
    if tcb.snd_una == tcb.snd_nxt:  # everything was acknowledged meanwhile
        return Step(state, (), tcb)
    if profile.tail_loss_probe and not tcb.probed and tcb.retries == 0:
        # RFC 8985 tail-loss probe: resend the last segment, then arm the plain RTO.
        tcb = tcb.replace(probed=True)
        timer = StartTimer(Timer.RETRANSMIT, profile.rto(0, tcb.srtt))
        return Step(state, (Send(tcb.retransmission()), timer), tcb)
    if tcb.retries >= profile.max_retries:
        return Step(State.CLOSED, (Error(USER_TIMEOUT),), tcb)
    tcb = tcb.replace(retries=tcb.retries + 1)
    timer = StartTimer(Timer.RETRANSMIT, profile.rto(tcb.retries, tcb.srtt))
    return Step(state, (Send(tcb.retransmission()), timer), tcb)


def abort(tcb: TCB, profile: Profile) -> Step:
    """RFC 9293 §3.10.5 ABORT in a state with a live peer: send a reset, enter CLOSED."""
    return Step(State.CLOSED, (Send(tcb.rst(with_ack=profile.rst_carries_ack)),), tcb)


def drop(state: State, s: Screened) -> Step:
    """Discard the segment, acknowledging it if the checks said so; data refused after close()
    (linux) is answered with RST and ends the connection."""
    if s.ends:
        return Step(State.CLOSED, (Send(s.reply),), s.tcb)
    return Step(state, (Send(s.reply),) if s.reply else (), s.tcb)


def retransmit_timer(before: TCB, s: Screened, profile: Profile) -> list[Output]:
    """After an ACK: stop the retransmission timer once all is acknowledged, else restart it."""
    if not s.acked_new:
        return []
    if s.tcb.snd_una == s.tcb.snd_nxt:
        return [CancelTimer(Timer.RETRANSMIT)]
    return [StartTimer(Timer.RETRANSMIT, profile.rto(0, s.tcb.srtt))]


def take_text(s: Screened, profile: Profile) -> tuple[TCB, list[Output], bool]:
    """RFC 9293 §3.10.7.4, seventh and eighth: deliver in-order data, advance RCV.NXT over
    it and over a FIN (the FIN consumes one number), and acknowledge. Returns the new TCB,
    the outputs, and whether a FIN was taken."""
    tcb, outputs = s.tcb, []
    if s.data:
        tcb = tcb.replace(rcv_nxt=seq_add(tcb.rcv_nxt, len(s.data)))
        outputs.append(DeliverData(s.data))
    if s.fin:
        tcb = tcb.replace(rcv_nxt=seq_add(tcb.rcv_nxt, 1))
        outputs.append(DeliverEOF())
    if s.data or s.fin or s.out_of_order:
        outputs.insert(0, Send(tcb.ack()))
    return tcb, outputs, s.fin


def is_retransmitted_fin(tcb: TCB, seg: Segment) -> bool:
    """The peer's FIN again: its sequence space ends exactly at RCV.NXT."""
    return seg.fin and seq_add(seg.seq, seg.len) == tcb.rcv_nxt


def reset_for(seg: Segment, profile: Profile) -> tuple[Output, ...]:
    """The RST answering a segment for no connection (RFC 9293 §3.10.7.1)."""
    if seg.rst:
        return ()
    if seg.has_ack:
        return (Send(Segment(seq=seg.ack, ack=0, flags=RST)),)
    return (Send(Segment(seq=0, ack=seq_add(seg.seq, seg.len), flags=RST | ACK)),)
