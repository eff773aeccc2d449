"""A correct close machine in a style the checks once refused: module-level aliases, imports inside.

Written as a learner might fill a notebook: handlers named after their states (`time_wait`, ...),
with module-level shorthands whose names are also state names (`TIME_WAIT = Timer.TIME_WAIT`,
`ESTABLISHED, CLOSED = State.ESTABLISHED, State.CLOSED`), the sequence arithmetic imported
inside a handler (`from reference_impl.segment import seq_lt`), and profile fields such as
`profile.time_wait` read. None of it is a handler or a delegation: discovery takes only
callables, and integrity only reaching the reference's handlers. The whole module (aliases and
all) is what a check receives, as a notebook's globals() would be.
"""

from autograder.learner import (
    CLOSING_ERROR,
    NO_CONNECTION,
    RESET_ERROR,
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
    on_retransmit_timeout,
    reset_for,
    retransmit_timer,
    screen,
    send_data,
    send_fin,
    send_rst,
    take_text,
    timewait_state_process,
)

# Shorthands a learner writes once at the top of a notebook: names of states, values of other kinds.
TIME_WAIT = Timer.TIME_WAIT
RETRANSMIT, FIN_WAIT_2 = Timer.RETRANSMIT, Timer.FIN_WAIT_2
ESTABLISHED, CLOSED = State.ESTABLISHED, State.CLOSED
CLOSE_WAIT = "CLOSE_WAIT"  # even a string
LAST_ACK = 7


def _fin_acked(tcb):
    from reference_impl.segment import seq_add  # the course's sequence arithmetic, imported where used

    return tcb.fin_seq is not None and tcb.snd_una == seq_add(tcb.fin_seq, 1)


def _enter_time_wait(profile):
    return StartTimer(TIME_WAIT, profile.time_wait)


def established(tcb, ev, profile):
    match ev:
        case AppClose(shutdown=shutdown, unread=unread, rdwr=rdwr):
            if unread and not shutdown and profile.rst_on_unread_close:
                return Step(State.CLOSED, send_rst(tcb, profile), tcb)
            tcb, outputs = send_fin(tcb, profile, orphan=not shutdown, reading=not rdwr)
            return Step(State.FIN_WAIT_1, outputs, tcb)
        case AppSend(data):
            tcb, outputs = send_data(tcb, data, profile)
            return Step(ESTABLISHED, outputs, tcb)
        case AppAbort():
            return Step(State.CLOSED, send_rst(tcb, profile), tcb)
        case Timeout(Timer.RETRANSMIT):
            return on_retransmit_timeout(tcb, ESTABLISHED, profile)
        case Arrival(seg):
            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.DROP:
                return Step(State.CLOSED if s.ends else ESTABLISHED, drop(s), s.tcb)
            if s.verdict is Verdict.RESET:
                return Step(CLOSED, [Error(RESET_ERROR)], tcb)
            outputs = retransmit_timer(tcb, s, profile)
            tcb, text, fin = take_text(s, profile)
            if fin:
                text = delay_fin_ack(tcb, text, profile)
            return Step(State.CLOSE_WAIT if fin else ESTABLISHED, outputs + text, tcb)
    return Step(ESTABLISHED, [], tcb)


def fin_wait_1(tcb, ev, profile):
    match ev:
        case AppClose() | AppSend():
            return Step(State.FIN_WAIT_1, [Error(CLOSING_ERROR)], tcb)
        case AppAbort():
            return Step(State.CLOSED, send_rst(tcb, profile), tcb)
        case Timeout(Timer.RETRANSMIT):
            return on_retransmit_timeout(tcb, State.FIN_WAIT_1, profile)
        case Arrival(seg):
            from reference_impl.segment import seq_lt  # "has SEG.ACK moved past our FIN?"

            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.DROP:
                return Step(State.CLOSED if s.ends else State.FIN_WAIT_1, drop(s), s.tcb)
            if s.verdict is Verdict.RESET:
                return Step(CLOSED, [Error(RESET_ERROR)], tcb)
            acked = tcb.fin_seq is not None and seq_lt(tcb.fin_seq, s.tcb.snd_una)
            outputs = retransmit_timer(tcb, s, profile)
            tcb, text, fin = take_text(s, profile)
            outputs += text
            if fin:
                if acked:
                    return Step(State.TIME_WAIT, outputs + [_enter_time_wait(profile)], tcb)
                return Step(State.CLOSING, outputs, tcb)
            if acked:
                if tcb.orphaned and profile.fin_wait_2_timeout is not None:
                    outputs.append(StartTimer(FIN_WAIT_2, profile.fin_wait_2_timeout))
                return Step(State.FIN_WAIT_2, outputs, tcb)
            return Step(State.FIN_WAIT_1, outputs, tcb)
    return Step(State.FIN_WAIT_1, [], tcb)


def fin_wait_2(tcb, ev, profile):
    match ev:
        case AppClose() | AppSend():
            return Step(State.FIN_WAIT_2, [Error(CLOSING_ERROR)], tcb)
        case AppAbort():
            return Step(State.CLOSED, send_rst(tcb, profile), tcb)
        case Timeout(timer) if timer is FIN_WAIT_2:
            return Step(CLOSED, [], tcb)
        case Arrival(seg):
            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.DROP:
                return Step(State.CLOSED if s.ends else State.FIN_WAIT_2, drop(s), s.tcb)
            if s.verdict is Verdict.RESET:
                return Step(CLOSED, [Error(RESET_ERROR)], tcb)
            tcb, outputs, fin = take_text(s, profile)
            if fin:
                if tcb.orphaned and profile.fin_wait_2_timeout is not None:
                    outputs.append(CancelTimer(FIN_WAIT_2))
                return Step(State.TIME_WAIT, outputs + [_enter_time_wait(profile)], tcb)
            return Step(State.FIN_WAIT_2, outputs, tcb)
    return Step(State.FIN_WAIT_2, [], tcb)


def closing(tcb, ev, profile):
    match ev:
        case AppClose() | AppSend():
            return Step(State.CLOSING, [Error(CLOSING_ERROR)], tcb)
        case AppAbort():
            return Step(CLOSED, [], tcb)
        case Timeout(timer) if timer is RETRANSMIT:
            return on_retransmit_timeout(tcb, State.CLOSING, profile)
        case Arrival(seg):
            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.DROP:
                return Step(State.CLOSED if s.ends else State.CLOSING, drop(s), s.tcb)
            if s.verdict is Verdict.RESET:
                return Step(CLOSED, [], tcb)
            if _fin_acked(s.tcb):
                return Step(State.TIME_WAIT, [CancelTimer(RETRANSMIT), _enter_time_wait(profile)], s.tcb)
            return Step(State.CLOSING, retransmit_timer(tcb, s, profile), s.tcb)
    return Step(State.CLOSING, [], tcb)


def time_wait(tcb, ev, profile):
    match ev:
        case AppClose() | AppSend():
            return Step(State.TIME_WAIT, [Error(CLOSING_ERROR)], tcb)
        case AppAbort():
            return Step(CLOSED, [], tcb)
        case Timeout(timer) if timer is TIME_WAIT:
            return Step(CLOSED, [], tcb)
        case Arrival(seg) if profile.timewait_state_process:
            return timewait_state_process(tcb, seg, profile)
        case Arrival(seg):
            from reference_impl.segment import seq_add

            if (
                seg.fin and not seg.rst and seq_add(seg.seq, seg.len) == tcb.rcv_nxt
            ):  # the peer's FIN again (a RST is no FIN)
                if not seg.has_ack:
                    return Step(State.TIME_WAIT, [], tcb)
                return Step(State.TIME_WAIT, [Send(tcb.ack()), _enter_time_wait(profile)], tcb)
            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.RESET:
                return Step(State.TIME_WAIT if profile.rfc1337 else CLOSED, [], tcb)
            if s.verdict is Verdict.DROP:
                return Step(State.CLOSED if s.ends else State.TIME_WAIT, drop(s), s.tcb)
            return Step(State.TIME_WAIT, [Send(tcb.ack())] * (seg.len > 0) + [_enter_time_wait(profile)], tcb)
    return Step(State.TIME_WAIT, [], tcb)


def close_wait(tcb, ev, profile):
    match ev:
        case AppClose(shutdown=shutdown, unread=unread, rdwr=rdwr):
            if unread and not shutdown and profile.rst_on_unread_close:
                return Step(State.CLOSED, send_rst(tcb, profile), tcb)
            tcb, outputs = send_fin(tcb, profile, orphan=not shutdown, reading=not rdwr)
            return Step(State.LAST_ACK, [CancelTimer(Timer.DELAYED_ACK), *outputs], tcb)
        case AppSend(data):
            tcb, outputs = send_data(tcb, data, profile)
            return Step(State.CLOSE_WAIT, [CancelTimer(Timer.DELAYED_ACK), *outputs], tcb)
        case AppAbort():
            return Step(State.CLOSED, send_rst(tcb, profile), tcb)
        case Timeout(timer) if timer is RETRANSMIT:
            return on_retransmit_timeout(tcb, State.CLOSE_WAIT, profile)
        case Timeout(Timer.DELAYED_ACK):
            return Step(State.CLOSE_WAIT, [Send(tcb.ack())], tcb)
        case Arrival(seg):
            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.DROP:
                return Step(State.CLOSED if s.ends else State.CLOSE_WAIT, drop(s), s.tcb)
            if s.verdict is Verdict.RESET:
                return Step(CLOSED, [Error(profile.close_wait_reset_error)], tcb)
            return Step(State.CLOSE_WAIT, retransmit_timer(tcb, s, profile), s.tcb)
    return Step(State.CLOSE_WAIT, [], tcb)


def last_ack(tcb, ev, profile):
    match ev:
        case AppClose() | AppSend():
            return Step(State.LAST_ACK, [Error(CLOSING_ERROR)], tcb)
        case AppAbort():
            return Step(CLOSED, [], tcb)
        case Timeout(timer) if timer is RETRANSMIT:
            return on_retransmit_timeout(tcb, State.LAST_ACK, profile)
        case Arrival(seg):
            s = screen(tcb, seg, profile)
            if s.verdict is Verdict.DROP:
                return Step(State.CLOSED if s.ends else State.LAST_ACK, drop(s), s.tcb)
            if s.verdict is Verdict.RESET:
                return Step(CLOSED, [], tcb)
            if _fin_acked(s.tcb):
                return Step(CLOSED, [], s.tcb)
            return Step(State.LAST_ACK, retransmit_timer(tcb, s, profile), s.tcb)
    return Step(State.LAST_ACK, [], tcb)


def closed(tcb, ev, profile):
    match ev:
        case AppClose() | AppSend() | AppAbort():
            return Step(CLOSED, [Error(NO_CONNECTION)], tcb)
        case Arrival(seg):
            return Step(CLOSED, reset_for(seg, profile), tcb)
    return Step(CLOSED, [], tcb)
