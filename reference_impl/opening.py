"""The handlers of the opening states, as far as a new connection on a used 4-tuple needs them.

Same protocol as the close machine (`handle(tcb, stimulus, profile) -> Step`), each arm under
the RFC 9293 §3.10 sentence it implements. Not modelled: a simultaneous open (B only listens),
the SYN's options (MSS, window scale: the scenario gives them), data on a SYN. The OPEN call
itself is the simulator's (reference_impl.reuse). These states are always the reference's: a
learner writes the close machine (CLOSE_STATES), and the course's mutants measure only that.
"""

from __future__ import annotations

from .actions import RESET_ERROR, USER_TIMEOUT, send_rst, take_text
from .profiles import Profile
from .segment import RST, Segment, seq_add, seq_gt, seq_le, seq_lt
from .states import (
    AppAbort,
    AppClose,
    AppSend,
    Arrival,
    CancelTimer,
    Error,
    Output,
    Send,
    StartTimer,
    State,
    Step,
    Stimulus,
    Timeout,
    Timer,
)
from .tcb import TCB, Verdict, screen

FOREIGN_UNSPECIFIED = "foreign socket unspecified"


def resend_syn(tcb: TCB, state: State, profile: Profile) -> Step:
    """RFC 9293 §3.8.3 and RFC 6298 §5.5: the SYN (or SYN,ACK) again, its timer doubled from
    syn_timeout; after syn_retries the attempt is abandoned."""
    if tcb.retries >= profile.syn_retries:
        return Step(State.CLOSED, (Error(USER_TIMEOUT),) if state is State.SYN_SENT else (), tcb)
    tcb = tcb.replace(retries=tcb.retries + 1)
    again = tcb.syn() if state is State.SYN_SENT else tcb.syn_ack()
    timer = StartTimer(Timer.RETRANSMIT, min(profile.syn_timeout << tcb.retries, profile.rto_max))
    return Step(state, (Send(again), timer), tcb)


def listen(tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
    match ev:
        case AppClose() | AppAbort():
            # §3.10.4, §3.10.5 LISTEN: "Any outstanding RECEIVEs are returned ...; delete TCB, enter CLOSED."
            return Step(State.CLOSED, (), tcb)
        case AppSend():
            # §3.10.2 LISTEN: "If the foreign socket is unspecified, then return 'error: foreign socket
            # unspecified'" (a listen()ing socket takes whoever connects).
            return Step(State.LISTEN, (Error(FOREIGN_UNSPECIFIED),), tcb)
        case Arrival(seg):
            # §3.10.7.2, first: "An incoming RST should be ignored."
            if seg.rst:
                return Step(State.LISTEN, (), tcb)
            # Second: "Any acknowledgment is bad if it arrives on a connection still in the LISTEN
            # state. An acceptable reset segment should be formed for any arriving ACK-bearing
            # segment. The RST should be formatted as follows: <SEQ=SEG.ACK><CTL=RST>"
            if seg.has_ack:
                return Step(State.LISTEN, (Send(Segment(seq=seg.ack, ack=0, flags=RST)),), tcb)
            # Third: "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ ... ISS should be selected and a
            # SYN segment sent of the form: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. SND.NXT is set to
            # ISS+1 and SND.UNA to ISS. The connection state should be changed to SYN-RECEIVED."
            if seg.syn:
                tcb = tcb.replace(rcv_nxt=seq_add(seg.seq, 1), snd_nxt=seq_add(tcb.snd_una, 1), snd_wnd=seg.window)
                return Step(State.SYN_RECEIVED, (Send(tcb.syn_ack()), StartTimer(Timer.RETRANSMIT, profile.syn_timeout)),
                            tcb)  # fmt: skip
            # Fourth: "Any other control or text-bearing segment (not containing SYN) must have an ACK
            # and thus would have been discarded by the ACK processing."
    return Step(State.LISTEN, (), tcb)


def syn_sent(tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
    match ev:
        case AppClose() | AppAbort():
            # §3.10.4 SYN-SENT: "Delete the TCB and return 'error: closing' responses to any queued
            # SENDs, or RECEIVEs"; §3.10.5: "... delete the TCB, enter CLOSED state".
            return Step(State.CLOSED, (), tcb)
        case AppSend(data):
            # §3.10.2: "Queue the data for transmission after entering ESTABLISHED state."
            return Step(State.SYN_SENT, (), tcb.replace(unsent=tcb.unsent + data))
        case Timeout(Timer.RETRANSMIT):
            return resend_syn(tcb, State.SYN_SENT, profile)
        case Arrival(seg):
            # §3.10.7.3, first: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST
            # bit is set, if so drop the segment and return) <SEQ=SEG.ACK><CTL=RST> and discard the
            # segment." A challenge ACK from the peer's old connection (RFC 5961 §4) is such an ACK:
            # this reset ends that connection, and the SYN, sent again, finds the 4-tuple free.
            if seg.has_ack and (seq_le(seg.ack, tcb.snd_una) or seq_gt(seg.ack, tcb.snd_nxt)):
                if seg.rst:
                    return Step(State.SYN_SENT, (), tcb)
                outputs: list[Output] = [Send(Segment(seq=seg.ack, ack=0, flags=RST))]
                if profile.syn_resend_after_bad_ack is not None and tcb.retries == 0:  # linux: send the SYN soon
                    outputs.append(StartTimer(Timer.RETRANSMIT, profile.syn_resend_after_bad_ack))
                return Step(State.SYN_SENT, outputs, tcb)
            # Second: "If the ACK was acceptable, then signal to the user 'error: connection reset',
            # drop the segment, enter CLOSED state ... Otherwise (no ACK), drop the segment and return."
            if seg.rst:
                if seg.has_ack:
                    return Step(State.CLOSED, (Error(RESET_ERROR),), tcb)
                return Step(State.SYN_SENT, (), tcb)
            # Fourth: "If the SYN bit is on ... RCV.NXT is set to SEG.SEQ+1, IRS is set to SEG.SEQ.
            # SND.UNA should be advanced to equal SEG.ACK ... If SND.UNA > ISS (our SYN has been
            # ACKed), change the connection state to ESTABLISHED, form an ACK segment
            # <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it." (A SYN without ACK would be a
            # simultaneous open, not modelled.)
            if seg.syn and seg.has_ack:
                return _synchronized(tcb, seg, profile)
            # Fifth: "If neither of the SYN or RST bits is set, then drop the segment and return."
    return Step(State.SYN_SENT, (), tcb)


def syn_received(tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
    match ev:
        case AppClose() | AppSend():
            # §3.10.2, §3.10.4: queued "for processing after entering ESTABLISHED state" (a CLOSE as the
            # FIN that waits behind any data: SND.NXT + queued data).
            data = ev.data if isinstance(ev, AppSend) else b""
            fin = seq_add(tcb.snd_nxt, len(tcb.unsent)) if isinstance(ev, AppClose) else tcb.fin_seq
            return Step(State.SYN_RECEIVED, (), tcb.replace(unsent=tcb.unsent + data, fin_seq=fin))
        case AppAbort():
            # §3.10.5 SYN-RECEIVED: "a reset segment should be sent <SEQ=SND.NXT><CTL=RST>".
            return Step(State.CLOSED, send_rst(tcb, profile), tcb)
        case Timeout(Timer.RETRANSMIT):
            return resend_syn(tcb, State.SYN_RECEIVED, profile)
        case Arrival(seg):
            # §3.10.7.4, first: an unacceptable segment is acknowledged (unless RST) and dropped.
            if not tcb.acceptable(seg, profile.accept_window_edges):
                return Step(State.SYN_RECEIVED, () if seg.rst else (Send(tcb.ack()),), tcb)
            if seg.rst:
                # Second: "If this connection was initiated with a passive OPEN (i.e., came from the
                # LISTEN state), then return this connection to LISTEN state" (RFC 5961: only at RCV.NXT).
                if seg.seq == tcb.rcv_nxt:
                    return Step(State.LISTEN, (), tcb.replace(snd_nxt=tcb.snd_una, rcv_nxt=0, retries=0))
                return Step(State.SYN_RECEIVED, (Send(tcb.ack()),), tcb)
            # Fourth: a SYN "irrespective of the sequence number" gets a challenge ACK (RFC 5961 §4).
            if seg.syn:
                return Step(State.SYN_RECEIVED, (Send(tcb.ack()),), tcb)
            if not seg.has_ack:
                return Step(State.SYN_RECEIVED, (), tcb)
            # Fifth: "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue
            # processing"; "If the segment acknowledgment is not acceptable, form a reset segment
            # <SEQ=SEG.ACK><CTL=RST> and send it."
            if not (seq_lt(tcb.snd_una, seg.ack) and seq_le(seg.ack, tcb.snd_nxt)):
                return Step(State.SYN_RECEIVED, (Send(Segment(seq=seg.ack, ack=0, flags=RST)),), tcb)
            return _established(tcb, seg, profile)
    return Step(State.SYN_RECEIVED, (), tcb)


def _synchronized(tcb: TCB, seg: Segment, profile: Profile) -> Step:
    """SYN-SENT meets the peer's SYN,ACK: ESTABLISHED, our ACK, and any data queued meanwhile."""
    tcb = tcb.replace(rcv_nxt=seq_add(seg.seq, 1), snd_una=seg.ack, snd_wnd=seg.window, retries=0)
    outputs: list[Output] = [CancelTimer(Timer.RETRANSMIT), Send(tcb.ack())]
    if tcb.waiting:  # data queued in SYN-SENT leaves now
        tcb, segs = tcb.transmit(profile.fin_holds_tail)
        outputs += [Send(s) for s in segs] + [StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt))]
    return Step(State.ESTABLISHED, outputs, tcb)


def _established(tcb: TCB, seg: Segment, profile: Profile) -> Step:
    """SYN-RECEIVED's SYN is acknowledged: "enter ESTABLISHED state and continue processing"."""
    tcb = tcb.replace(snd_una=seg.ack, snd_wnd=seg.window, retries=0)
    outputs: list[Output] = [CancelTimer(Timer.RETRANSMIT)]
    # The rest as in ESTABLISHED (data and a FIN on this segment); what the application queued
    # meanwhile leaves now, data, then its FIN.
    s, fin, sent = screen(tcb, seg, profile), False, []
    if s.verdict is Verdict.ACCEPT:
        sent = list(s.sent)
        tcb, text, fin = take_text(s, profile)
        outputs += text
    if tcb.waiting:
        tcb, more = tcb.transmit(profile.fin_holds_tail)
        sent += more
    if sent:
        outputs += [Send(x) for x in sent] + [StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt))]
    if tcb.fin_seq is not None:
        return Step(State.CLOSING if fin else State.FIN_WAIT_1, outputs, tcb)
    return Step(State.CLOSE_WAIT if fin else State.ESTABLISHED, outputs, tcb)
