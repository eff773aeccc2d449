"""A correct close machine written as tables, as a learner who likes h11 might (no false fails, #1).

Independent of reference_impl.handlers by design: the decisions are data. It uses only the
vocabulary a notebook gets (autograder.learner), building blocks included.
"""

from autograder.learner import (
    CLOSING_ERROR,
    NO_CONNECTION,
    RESET_ERROR,
    USER_TIMEOUT,
    AppAbort,
    AppClose,
    AppSend,
    Arrival,
    CancelTimer,
    Error,
    Send,
    StartTimer,
    State,
    Step,
    Timeout,
    Timer,
    Verdict,
    delay_fin_ack,
    drop,
    gives_up,
    is_retransmitted_fin,
    reset_for,
    retransmit,
    retransmit_timer,
    screen,
    send_data,
    send_fin,
    send_rst,
    take_text,
    timewait_state_process,
)
from reference_impl.states import CLOSE_STATES

S = State
CLOSING_STATES = {S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSING, S.TIME_WAIT, S.LAST_ACK}
# After close() in a state where we may still send: where the FIN takes us.
AFTER_CLOSE = {S.ESTABLISHED: S.FIN_WAIT_1, S.CLOSE_WAIT: S.LAST_ACK}
# ABORT: a live peer gets a RST; these states just delete the TCB (RFC 9293 §3.10.5).
SILENT_ABORT = {S.CLOSING, S.LAST_ACK, S.TIME_WAIT}
# Timers each state reacts to, and how.
TIMEOUTS = {
    (S.ESTABLISHED, Timer.RETRANSMIT): "retransmit", (S.FIN_WAIT_1, Timer.RETRANSMIT): "retransmit",
    (S.CLOSING, Timer.RETRANSMIT): "retransmit", (S.CLOSE_WAIT, Timer.RETRANSMIT): "retransmit",
    (S.LAST_ACK, Timer.RETRANSMIT): "retransmit", (S.CLOSE_WAIT, Timer.DELAYED_ACK): "ack",
    (S.FIN_WAIT_2, Timer.FIN_WAIT_2): "close", (S.TIME_WAIT, Timer.TIME_WAIT): "close",
}  # fmt: skip
# Where an accepted segment takes us: (state, FIN taken, our FIN acknowledged) → next state.
NEXT = {
    (S.ESTABLISHED, True, False): S.CLOSE_WAIT, (S.ESTABLISHED, False, False): S.ESTABLISHED,
    (S.FIN_WAIT_1, True, True): S.TIME_WAIT, (S.FIN_WAIT_1, True, False): S.CLOSING,
    (S.FIN_WAIT_1, False, True): S.FIN_WAIT_2, (S.FIN_WAIT_1, False, False): S.FIN_WAIT_1,
    (S.FIN_WAIT_2, True, True): S.TIME_WAIT, (S.FIN_WAIT_2, False, True): S.FIN_WAIT_2,
    (S.CLOSING, False, True): S.TIME_WAIT, (S.CLOSING, False, False): S.CLOSING,
    (S.LAST_ACK, False, True): S.CLOSED, (S.LAST_ACK, False, False): S.LAST_ACK,
}  # fmt: skip
RESET_TELLS_APP = {S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT}
TAKES_TEXT = {S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2}


def machine(state):
    def handler(tcb, ev, profile):
        return _handle(state, tcb, ev, profile)

    handler.__name__ = state.value.lower()
    return handler


def _handle(state, tcb, ev, profile):
    if state is S.CLOSED:
        if isinstance(ev, Arrival):
            return Step(S.CLOSED, reset_for(ev.segment, profile), tcb)
        if isinstance(ev, AppClose | AppSend | AppAbort):
            return Step(S.CLOSED, [Error(NO_CONNECTION)], tcb)
        return Step(S.CLOSED, [], tcb)
    if isinstance(ev, AppAbort):
        return Step(S.CLOSED, [], tcb) if state in SILENT_ABORT else Step(State.CLOSED, send_rst(tcb, profile), tcb)
    if isinstance(ev, AppClose):
        if state in CLOSING_STATES:
            return Step(state, [Error(CLOSING_ERROR)], tcb)
        if ev.unread and not ev.shutdown and profile.rst_on_unread_close:
            return Step(State.CLOSED, send_rst(tcb, profile), tcb)
        tcb, out = send_fin(tcb, profile, orphan=not ev.shutdown, reading=not ev.rdwr)
        if state is S.CLOSE_WAIT and profile.delays_acks:
            out = [CancelTimer(Timer.DELAYED_ACK), *out]
        return Step(AFTER_CLOSE[state], out, tcb)
    if isinstance(ev, AppSend):
        if state in CLOSING_STATES:
            return Step(state, [Error(CLOSING_ERROR)], tcb)
        tcb, out = send_data(tcb, ev.data, profile)
        if state is S.CLOSE_WAIT and profile.delays_acks:  # the data carries the delayed ACK
            out = [CancelTimer(Timer.DELAYED_ACK), *out]
        return Step(state, out, tcb)
    if isinstance(ev, Timeout):
        action = TIMEOUTS.get((state, ev.timer))
        if action == "retransmit":
            if gives_up(tcb, profile):
                return Step(S.CLOSED, [Error(USER_TIMEOUT)], tcb)
            tcb, out = retransmit(tcb, profile)
            return Step(state, out, tcb)
        if action == "ack":
            return Step(state, [Send(tcb.ack())], tcb)
        if action == "close":
            return Step(S.CLOSED, [], tcb)
        return Step(state, [], tcb)
    return _arrival(state, tcb, ev.segment, profile)


def _arrival(state, tcb, seg, profile):
    restart = StartTimer(Timer.TIME_WAIT, profile.time_wait)
    if state is S.TIME_WAIT and profile.timewait_state_process:
        return timewait_state_process(tcb, seg, profile)
    if state is S.TIME_WAIT and is_retransmitted_fin(tcb, seg):
        return Step(S.TIME_WAIT, [Send(tcb.ack()), restart] if seg.has_ack else [], tcb)
    s = screen(tcb, seg, profile)
    if s.verdict is Verdict.DROP:
        return Step(State.CLOSED if s.ends else state, drop(s), s.tcb)
    if s.verdict is Verdict.RESET:
        if state is S.TIME_WAIT and profile.rfc1337:
            return Step(S.TIME_WAIT, [], tcb)
        told = profile.close_wait_reset_error if state is S.CLOSE_WAIT else RESET_ERROR
        return Step(S.CLOSED, [Error(told)] if state in RESET_TELLS_APP else [], tcb)
    if state is S.TIME_WAIT:  # the rest reaches "Acknowledge it, and restart": data or a FIN is ACKed
        return Step(S.TIME_WAIT, ([Send(tcb.ack())] if seg.len else []) + [restart], tcb)
    if state is S.CLOSE_WAIT:
        return Step(S.CLOSE_WAIT, retransmit_timer(tcb, s, profile), s.tcb)
    out = retransmit_timer(tcb, s, profile) if state is not S.FIN_WAIT_2 else []
    acked = s.tcb.fin_acked
    fin = False
    new = s.tcb
    if state in TAKES_TEXT:
        new, text, fin = take_text(s, profile)
        if state is S.ESTABLISHED and fin:
            text = delay_fin_ack(new, text, profile)
        out = out + text
    if state is S.CLOSING and acked:  # ESTABLISHED's ACK processing, then "if the ACK acknowledges our FIN"
        out = [CancelTimer(Timer.RETRANSMIT)]
    if state is S.LAST_ACK and acked:
        out = []
    nxt = NEXT[(state, fin, acked or state is S.FIN_WAIT_2)]
    if nxt is S.TIME_WAIT:
        if state is S.FIN_WAIT_2 and new.orphaned and profile.fin_wait_2_timeout is not None:
            out.append(CancelTimer(Timer.FIN_WAIT_2))
        out.append(StartTimer(Timer.TIME_WAIT, profile.time_wait))
    if nxt is S.FIN_WAIT_2 and state is S.FIN_WAIT_1 and new.orphaned and profile.fin_wait_2_timeout is not None:
        out.append(StartTimer(Timer.FIN_WAIT_2, profile.fin_wait_2_timeout))
    return Step(nxt, out, new)


HANDLERS = {state: machine(state) for state in CLOSE_STATES}  # the close machine: the reference opens connections
