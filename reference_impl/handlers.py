"""One handler per state: the close of a TCP connection as RFC 9293 §3.10 writes it.

Every handler has the same shape, the protocol learners implement:

    handle(tcb, stimulus, profile) -> Step(next_state, outputs, tcb)

Shared mechanics (the acceptability test, ACK bookkeeping, trimming) live in
`tcb.screen`, shared building blocks (send a FIN, retransmit, abort) in `actions`;
what each state *decides* lives here, one function per state, each
arm under the RFC sentence it implements. Entering CLOSED deletes the TCB and,
with it, every timer (RFC 9293 §3.10.7.4), so no handler cancels timers on the
way to CLOSED.
"""

from __future__ import annotations

from .actions import (
    CLOSING_ERROR,
    NO_CONNECTION,
    RESET_ERROR,
    USER_TIMEOUT,
    delay_fin_ack,
    drop,
    gives_up,
    is_retransmitted_fin,
    reset_for,
    retransmit,
    retransmit_timer,
    send_data,
    send_fin,
    send_rst,
    take_text,
    timewait_state_process,
)
from .opening import listen, syn_received, syn_sent
from .profiles import Profile
from .states import (
    AppAbort,
    AppClose,
    AppSend,
    Arrival,
    CancelTimer,
    Error,
    Handler,
    Send,
    StartTimer,
    State,
    Step,
    Stimulus,
    Timeout,
    Timer,
)
from .tcb import TCB, Verdict, screen

# ---- the states ---------------------------------------------------------------------------


def established(tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
    match ev:
        case AppClose(shutdown=shutdown, unread=unread, rdwr=rdwr):
            # §3.6.1 (SHLD-3): the socket API's close() also ends reading, so with unread data it
            # resets instead of closing (every major stack does; Profile.rst_on_unread_close).
            if unread and not shutdown and profile.rst_on_unread_close:
                return Step(State.CLOSED, send_rst(tcb, profile), tcb)
            # §3.10.4: "Queue this until all preceding SENDs have been segmentized, then form a
            # FIN segment and send it. In any case, enter FIN-WAIT-1 state."
            tcb, outputs = send_fin(tcb, profile, orphan=not shutdown, reading=not rdwr)
            return Step(State.FIN_WAIT_1, outputs, tcb)
        case AppSend(data):
            tcb, outputs = send_data(tcb, data, profile)
            return Step(State.ESTABLISHED, outputs, tcb)
        case AppAbort():
            return Step(State.CLOSED, send_rst(tcb, profile), tcb)
        case Timeout(Timer.RETRANSMIT):
            if gives_up(tcb, profile):  # §3.8.3: the retry limit
                return Step(State.CLOSED, (Error(USER_TIMEOUT),), tcb)
            tcb, outputs = retransmit(tcb, profile)
            return Step(State.ESTABLISHED, outputs, tcb)
        case Arrival(seg):
            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.DROP:
                return Step(State.ESTABLISHED, drop(s), s.tcb)
            if s.verdict is Verdict.RESET:
                # "users should also receive an unsolicited general 'connection reset' signal."
                return Step(State.CLOSED, (Error(RESET_ERROR),), tcb)
            outputs = retransmit_timer(tcb, s, profile)
            tcb, text, fin = take_text(s, profile)
            if fin:
                # §3.8.6.3: the ACK of the FIN may wait (linux: always); a prompt close() carries it.
                text = delay_fin_ack(tcb, text, profile)
            # Eighth: a FIN in ESTABLISHED: "Enter the CLOSE-WAIT state."
            return Step(State.CLOSE_WAIT if fin else State.ESTABLISHED, outputs + text, tcb)
    return Step(State.ESTABLISHED, (), tcb)


def fin_wait_1(tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
    match ev:
        case AppClose() | AppSend():
            # §3.10.2/§3.10.4: "error: connection closing"; a second FIN is never sent.
            return Step(State.FIN_WAIT_1, (Error(CLOSING_ERROR),), tcb)
        case AppAbort():
            return Step(State.CLOSED, send_rst(tcb, profile), tcb)
        case Timeout(Timer.RETRANSMIT):
            if gives_up(tcb, profile):  # §3.8.3: the retry limit
                return Step(State.CLOSED, (Error(USER_TIMEOUT),), tcb)
            tcb, outputs = retransmit(tcb, profile)
            return Step(State.FIN_WAIT_1, outputs, tcb)
        case Arrival(seg):
            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.DROP:
                return Step(State.CLOSED if s.ends else State.FIN_WAIT_1, drop(s), s.tcb)
            if s.verdict is Verdict.RESET:
                return Step(State.CLOSED, (Error(RESET_ERROR),), tcb)
            outputs = retransmit_timer(tcb, s, profile)
            our_fin_acked = s.tcb.fin_acked  # SEG.ACK == SND.NXT: an ACK of data alone is not it
            tcb, text, fin = take_text(s, profile)
            outputs += text
            if fin and our_fin_acked:
                # "If our FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT,
                # start the time-wait timer, turn off the other timers."
                outputs.append(StartTimer(Timer.TIME_WAIT, profile.time_wait))
                return Step(State.TIME_WAIT, outputs, tcb)
            if fin:
                # "...otherwise, enter the CLOSING state." (simultaneous close)
                return Step(State.CLOSING, outputs, tcb)
            if our_fin_acked:
                # "if the FIN segment is now acknowledged, then enter FIN-WAIT-2"
                if tcb.orphaned and profile.fin_wait_2_timeout is not None:
                    outputs.append(StartTimer(Timer.FIN_WAIT_2, profile.fin_wait_2_timeout))
                return Step(State.FIN_WAIT_2, outputs, tcb)
            return Step(State.FIN_WAIT_1, outputs, tcb)
    return Step(State.FIN_WAIT_1, (), tcb)


def fin_wait_2(tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
    match ev:
        case AppClose() | AppSend():
            return Step(State.FIN_WAIT_2, (Error(CLOSING_ERROR),), tcb)
        case AppAbort():
            return Step(State.CLOSED, send_rst(tcb, profile), tcb)
        case Timeout(Timer.FIN_WAIT_2):
            # Linux: an orphan that waited tcp_fin_timeout for the peer's FIN gives up, silently.
            return Step(State.CLOSED, (), tcb)
        case Arrival(seg):
            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.DROP:
                return Step(State.CLOSED if s.ends else State.FIN_WAIT_2, drop(s), s.tcb)
            if s.verdict is Verdict.RESET:
                return Step(State.CLOSED, (Error(RESET_ERROR),), tcb)
            tcb, outputs, fin = take_text(s, profile)
            if fin:
                # "Enter the TIME-WAIT state. Start the time-wait timer, turn off the other timers."
                if tcb.orphaned and profile.fin_wait_2_timeout is not None:
                    outputs.append(CancelTimer(Timer.FIN_WAIT_2))
                outputs.append(StartTimer(Timer.TIME_WAIT, profile.time_wait))
                return Step(State.TIME_WAIT, outputs, tcb)
            return Step(State.FIN_WAIT_2, outputs, tcb)
    return Step(State.FIN_WAIT_2, (), tcb)


def closing(tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
    match ev:
        case AppClose() | AppSend():
            return Step(State.CLOSING, (Error(CLOSING_ERROR),), tcb)
        case AppAbort():
            # §3.10.5: in CLOSING, LAST-ACK and TIME-WAIT: "respond with ok", delete the TCB.
            return Step(State.CLOSED, (), tcb)
        case Timeout(Timer.RETRANSMIT):
            if gives_up(tcb, profile):  # §3.8.3: the retry limit
                return Step(State.CLOSED, (Error(USER_TIMEOUT),), tcb)
            tcb, outputs = retransmit(tcb, profile)
            return Step(State.CLOSING, outputs, tcb)
        case Arrival(seg):
            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.DROP:
                return Step(State.CLOSED if s.ends else State.CLOSING, drop(s), s.tcb)
            if s.verdict is Verdict.RESET:
                return Step(State.CLOSED, (), tcb)
            if s.tcb.fin_acked:
                # "if the ACK acknowledges our FIN, then enter the TIME-WAIT state"
                timers = (CancelTimer(Timer.RETRANSMIT), StartTimer(Timer.TIME_WAIT, profile.time_wait))
                return Step(State.TIME_WAIT, timers, s.tcb)
            # "In addition to the processing for the ESTABLISHED state ...; otherwise, ignore the
            # segment": an ACK of data sent before our FIN still restarts the timer (RFC 6298 5.3).
            return Step(State.CLOSING, retransmit_timer(tcb, s, profile), s.tcb)
    return Step(State.CLOSING, (), tcb)


def time_wait(tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
    match ev:
        case AppClose() | AppSend():
            return Step(State.TIME_WAIT, (Error(CLOSING_ERROR),), tcb)
        case AppAbort():
            return Step(State.CLOSED, (), tcb)
        case Timeout(Timer.TIME_WAIT):
            # §3.10.8: "If the time-wait timeout expires on a connection, delete the TCB."
            return Step(State.CLOSED, (), tcb)
        case Arrival(seg):
            if profile.timewait_state_process:
                return timewait_state_process(tcb, seg, profile)  # linux: its own TIME_WAIT rules
            restart = StartTimer(Timer.TIME_WAIT, profile.time_wait)
            if is_retransmitted_fin(tcb, seg):
                # Fifth, "if the ACK bit is off drop the segment and return"; TIME-WAIT: "The only
                # thing that can arrive in this state is a retransmission of the remote FIN.
                # Acknowledge it, and restart the 2 MSL timeout."
                if not seg.has_ack:
                    return Step(State.TIME_WAIT, (), tcb)
                return Step(State.TIME_WAIT, (Send(tcb.ack()), restart), tcb)
            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.RESET:
                if profile.rfc1337:
                    return Step(State.TIME_WAIT, (), tcb)  # RFC 1337: ignore it, stay
                return Step(State.CLOSED, (), tcb)
            if s.verdict is Verdict.DROP:
                return Step(State.TIME_WAIT, drop(s), s.tcb)
            # Any other acceptable segment with ACK reaches the same sentence: acknowledge it (data
            # or a FIN; the text is ignored, seventh, so the ACK says RCV.NXT) and restart 2 MSL.
            # An ACK-only segment has nothing to acknowledge: answering it would start an exchange
            # of ACKs with a peer that is in TIME_WAIT too.
            return Step(State.TIME_WAIT, ((Send(tcb.ack()),) if seg.len else ()) + (restart,), tcb)
    return Step(State.TIME_WAIT, (), tcb)


def close_wait(tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
    match ev:
        case AppClose(shutdown=shutdown, unread=unread, rdwr=rdwr):
            if unread and not shutdown and profile.rst_on_unread_close:
                return Step(State.CLOSED, send_rst(tcb, profile), tcb)
            # §3.10.4: "Queue this request until all preceding SENDs have been segmentized; then
            # send a FIN segment, enter LAST-ACK state."
            tcb, outputs = send_fin(tcb, profile, orphan=not shutdown, reading=not rdwr)
            if profile.delays_acks:
                outputs.insert(0, CancelTimer(Timer.DELAYED_ACK))  # the FIN carries the ACK
            return Step(State.LAST_ACK, outputs, tcb)
        case AppSend(data):
            # The peer closed its direction only: we may still send (half-close).
            tcb, outputs = send_data(tcb, data, profile)
            if profile.delays_acks:
                outputs.insert(0, CancelTimer(Timer.DELAYED_ACK))  # the data carries the ACK
            return Step(State.CLOSE_WAIT, outputs, tcb)
        case AppAbort():
            return Step(State.CLOSED, send_rst(tcb, profile), tcb)
        case Timeout(Timer.RETRANSMIT):
            if gives_up(tcb, profile):  # §3.8.3: the retry limit
                return Step(State.CLOSED, (Error(USER_TIMEOUT),), tcb)
            tcb, outputs = retransmit(tcb, profile)
            return Step(State.CLOSE_WAIT, outputs, tcb)
        case Timeout(Timer.DELAYED_ACK):
            return Step(State.CLOSE_WAIT, (Send(tcb.ack()),), tcb)
        case Arrival(seg):
            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.DROP:
                return Step(State.CLOSE_WAIT, drop(s), s.tcb)
            if s.verdict is Verdict.RESET:
                # "Users should also receive an unsolicited general 'connection reset' signal"
                # (linux: EPIPE, Profile.close_wait_reset_error).
                return Step(State.CLOSED, (Error(profile.close_wait_reset_error),), tcb)
            # ACK processing as in ESTABLISHED; text and FIN "should not occur": ignore them.
            return Step(State.CLOSE_WAIT, retransmit_timer(tcb, s, profile), s.tcb)
    return Step(State.CLOSE_WAIT, (), tcb)


def last_ack(tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
    match ev:
        case AppClose() | AppSend():
            return Step(State.LAST_ACK, (Error(CLOSING_ERROR),), tcb)
        case AppAbort():
            return Step(State.CLOSED, (), tcb)
        case Timeout(Timer.RETRANSMIT):
            if gives_up(tcb, profile):  # §3.8.3: the retry limit
                return Step(State.CLOSED, (Error(USER_TIMEOUT),), tcb)
            tcb, outputs = retransmit(tcb, profile)
            return Step(State.LAST_ACK, outputs, tcb)
        case Arrival(seg):
            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.DROP:
                return Step(State.CLOSED if s.ends else State.LAST_ACK, drop(s), s.tcb)
            if s.verdict is Verdict.RESET:
                return Step(State.CLOSED, (), tcb)
            if s.tcb.fin_acked:
                # "If our FIN is now acknowledged, delete the TCB, enter the CLOSED state."
                return Step(State.CLOSED, (), s.tcb)
            return Step(State.LAST_ACK, retransmit_timer(tcb, s, profile), s.tcb)
    return Step(State.LAST_ACK, (), tcb)


def closed(tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
    match ev:
        case AppClose() | AppSend() | AppAbort():
            return Step(State.CLOSED, (Error(NO_CONNECTION),), tcb)
        case Arrival(seg):
            # §3.10.7.1: "An incoming segment containing a RST is discarded. An incoming
            # segment not containing a RST causes a RST to be sent in response."
            return Step(State.CLOSED, reset_for(seg, profile), tcb)
    return Step(State.CLOSED, (), tcb)


HANDLERS: dict[State, Handler] = {
    State.ESTABLISHED: established,
    State.FIN_WAIT_1: fin_wait_1,
    State.FIN_WAIT_2: fin_wait_2,
    State.CLOSING: closing,
    State.TIME_WAIT: time_wait,
    State.CLOSE_WAIT: close_wait,
    State.LAST_ACK: last_ack,
    State.CLOSED: closed,
    # Opening a new connection on the 4-tuple (reference_impl.opening): always the reference's.
    State.LISTEN: listen,
    State.SYN_SENT: syn_sent,
    State.SYN_RECEIVED: syn_received,
}


def handle(state: State, tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
    """Dispatch to the handler of `state`."""
    return HANDLERS[state](tcb, ev, profile)
