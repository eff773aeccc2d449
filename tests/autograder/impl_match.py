"""A correct close machine written from the RFC text with `match` (no false fails, #2).

Independent of reference_impl.handlers and of reference_impl.actions by design: it uses
the TCB, `screen` and the profile's numbers, and builds every output itself. It also
differs where behaviour allows: it tells the application before acknowledging, and it
"turns off the other timers" literally (cancelling timers that may not be running), so
the checks must judge what is observable, not how the list of outputs is written.
"""

from autograder.learner import (
    ACK,
    FIN,
    RST,
    AppAbort,
    AppClose,
    AppSend,
    Arrival,
    CancelTimer,
    DeliverData,
    DeliverEOF,
    Error,
    Segment,
    Send,
    StartTimer,
    State,
    Step,
    Timeout,
    Timer,
    Verdict,
    screen,
    seq_add,
)

ALL_TIMERS = (Timer.RETRANSMIT, Timer.FIN_WAIT_2, Timer.DELAYED_ACK)


def _rst(tcb, profile):
    if profile.rst_carries_ack:
        return Segment(seq=tcb.snd_nxt, ack=tcb.rcv_nxt, flags=RST | ACK)
    return Segment(seq=tcb.snd_nxt, ack=0, flags=RST)


def _fin(tcb, profile, orphan):
    """§3.10.4 CLOSE: queue a FIN; it takes one sequence number and arms the retransmission timer."""
    seg = Segment(seq=tcb.snd_nxt, ack=tcb.rcv_nxt, flags=FIN | ACK)
    tcb = tcb.replace(fin_seq=tcb.snd_nxt, snd_nxt=seq_add(tcb.snd_nxt, 1), orphaned=orphan,
                      refuses_data=orphan and profile.rst_on_data_after_close)  # screen() then refuses late data
    return tcb, [StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt)), Send(seg)]


def _on_timeout(tcb, state, profile):
    """§3.10.8 RETRANSMISSION TIMEOUT, with Linux's tail-loss probe first."""
    if tcb.snd_una == tcb.snd_nxt:
        return Step(state, [], tcb)
    if profile.tail_loss_probe and tcb.retries == 0 and not tcb.probed:
        tcb = tcb.replace(probed=True)
        return Step(state, [StartTimer(Timer.RETRANSMIT, profile.rto(0, tcb.srtt)), Send(tcb.retransmission())], tcb)
    if tcb.retries >= profile.max_retries:
        return Step(State.CLOSED, [Error("connection aborted due to user timeout")], tcb)
    tcb = tcb.replace(retries=tcb.retries + 1)
    return Step(state, [Send(tcb.retransmission()), StartTimer(Timer.RETRANSMIT, profile.rto(tcb.retries, tcb.srtt))], tcb)


def _ack_timer(s, profile):
    if not s.acked_new:
        return []
    if s.tcb.snd_una == s.tcb.snd_nxt:
        return [CancelTimer(Timer.RETRANSMIT)]
    return [StartTimer(Timer.RETRANSMIT, profile.rto(0, s.tcb.srtt))]


def _text(s, profile):
    """Seventh and eighth steps: take in-order data and the FIN; tell the app, then acknowledge."""
    tcb = s.tcb
    told = []
    if s.data:
        tcb = tcb.replace(rcv_nxt=seq_add(tcb.rcv_nxt, len(s.data)))
        told.append(DeliverData(s.data))
    if s.fin:
        tcb = tcb.replace(rcv_nxt=seq_add(tcb.rcv_nxt, 1))
        told.append(DeliverEOF())
    if s.data or s.fin or s.out_of_order:
        told.append(Send(Segment(seq=tcb.snd_nxt, ack=tcb.rcv_nxt, flags=ACK)))
    return tcb, told, s.fin


def _screened(state, tcb, seg):
    s = screen(tcb, seg)
    if s.verdict is Verdict.DROP:  # data refused after close() (s.ends) takes the connection with it
        return s, Step(State.CLOSED if s.ends else state, [Send(s.reply)] if s.reply else [], s.tcb)
    return s, None


def _enter_time_wait(profile):
    # "Enter the TIME-WAIT state. Start the time-wait timer, turn off the other timers."
    return [*(CancelTimer(t) for t in ALL_TIMERS), StartTimer(Timer.TIME_WAIT, profile.time_wait)]


def _handle(state, tcb, ev, profile):
    closed = Step(State.CLOSED, [CancelTimer(t) for t in ALL_TIMERS], tcb)  # delete the TCB and its timers
    match state, ev:
        case State.CLOSED, Arrival(seg):
            if seg.rst:
                return Step(State.CLOSED, [], tcb)
            if seg.has_ack:
                return Step(State.CLOSED, [Send(Segment(seq=seg.ack, ack=0, flags=RST))], tcb)
            return Step(State.CLOSED, [Send(Segment(seq=0, ack=seq_add(seg.seq, seg.len), flags=RST | ACK))], tcb)
        case State.CLOSED, AppClose() | AppSend() | AppAbort():
            return Step(State.CLOSED, [Error("connection does not exist")], tcb)
        case State.CLOSED, _:
            return Step(State.CLOSED, [], tcb)
        case (State.CLOSING | State.LAST_ACK | State.TIME_WAIT), AppAbort():
            return closed
        case _, AppAbort():
            return Step(State.CLOSED, [Send(_rst(tcb, profile))], tcb)
        case (State.ESTABLISHED | State.CLOSE_WAIT), AppClose(shutdown=sh, unread=unread):
            if unread and not sh and profile.rst_on_unread_close:
                return Step(State.CLOSED, [Send(_rst(tcb, profile))], tcb)
            tcb, out = _fin(tcb, profile, orphan=not sh)
            if state is State.CLOSE_WAIT:
                return Step(State.LAST_ACK, out + [CancelTimer(Timer.DELAYED_ACK)], tcb)
            return Step(State.FIN_WAIT_1, out, tcb)
        case (State.ESTABLISHED | State.CLOSE_WAIT), AppSend(data):
            seg = Segment(seq=tcb.snd_nxt, ack=tcb.rcv_nxt, flags=ACK, payload=data)
            out = [Send(seg)]
            if tcb.snd_una == tcb.snd_nxt:
                out.append(StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt)))
            return Step(state, out, tcb.replace(snd_nxt=seq_add(tcb.snd_nxt, len(data)), unacked=tcb.unacked + data))
        case _, AppClose() | AppSend():
            return Step(state, [Error("connection closing")], tcb)
        case _, Timeout(Timer.RETRANSMIT) if state is not State.FIN_WAIT_2 and state is not State.TIME_WAIT:
            return _on_timeout(tcb, state, profile)
        case State.CLOSE_WAIT, Timeout(Timer.DELAYED_ACK):
            return Step(state, [Send(Segment(seq=tcb.snd_nxt, ack=tcb.rcv_nxt, flags=ACK))], tcb)
        case (State.FIN_WAIT_2, Timeout(Timer.FIN_WAIT_2)) | (State.TIME_WAIT, Timeout(Timer.TIME_WAIT)):
            return closed
        case _, Timeout():
            return Step(state, [], tcb)
        case State.TIME_WAIT, Arrival(seg):
            # "The only thing that can arrive in this state is a retransmission of the remote FIN."
            if seg.fin and seq_add(seg.seq, seg.len) == tcb.rcv_nxt:
                return Step(state, [StartTimer(Timer.TIME_WAIT, profile.time_wait),
                                    Send(Segment(seq=tcb.snd_nxt, ack=tcb.rcv_nxt, flags=ACK))], tcb)
            s, dropped = _screened(state, tcb, seg)
            if s.verdict is Verdict.RESET:
                return Step(state, [], tcb) if profile.rfc1337 else closed
            return dropped or Step(state, [], s.tcb)
        case _, Arrival(seg):
            s, dropped = _screened(state, tcb, seg)
            if dropped:
                return dropped
            if s.verdict is Verdict.RESET:
                told = [Error("connection reset")] if state in (State.ESTABLISHED, State.FIN_WAIT_1,
                                                                 State.FIN_WAIT_2, State.CLOSE_WAIT) else []
                return Step(State.CLOSED, told, tcb)
            return _accepted(state, tcb, s, profile)
    raise AssertionError(f"unhandled {state} {ev}")


def _accepted(state, before, s, profile):
    fin_acked = s.tcb.fin_acked
    match state:
        case State.ESTABLISHED:
            tcb, out, fin = _text(s, profile)
            out = _ack_timer(s, profile) + out
            if fin and profile.delayed_ack is not None and not s.data:
                out = [o for o in out if not isinstance(o, Send)] + [StartTimer(Timer.DELAYED_ACK, profile.delayed_ack)]
            return Step(State.CLOSE_WAIT if fin else State.ESTABLISHED, out, tcb)
        case State.FIN_WAIT_1:
            tcb, out, fin = _text(s, profile)
            out = _ack_timer(s, profile) + out
            if fin:
                return Step(State.TIME_WAIT, out + _enter_time_wait(profile), tcb) if fin_acked else Step(State.CLOSING, out, tcb)
            if fin_acked:
                if tcb.orphaned and profile.fin_wait_2_timeout is not None:
                    out.append(StartTimer(Timer.FIN_WAIT_2, profile.fin_wait_2_timeout))
                return Step(State.FIN_WAIT_2, out, tcb)
            return Step(State.FIN_WAIT_1, out, tcb)
        case State.FIN_WAIT_2:
            tcb, out, fin = _text(s, profile)
            return Step(State.TIME_WAIT, out + _enter_time_wait(profile), tcb) if fin else Step(State.FIN_WAIT_2, out, tcb)
        case State.CLOSING:
            if fin_acked:
                return Step(State.TIME_WAIT, _enter_time_wait(profile), s.tcb)
            return Step(State.CLOSING, _ack_timer(s, profile), s.tcb)
        case State.CLOSE_WAIT:
            return Step(State.CLOSE_WAIT, _ack_timer(s, profile), s.tcb)
        case State.LAST_ACK:
            if fin_acked:
                return Step(State.CLOSED, [], s.tcb)
            return Step(State.LAST_ACK, _ack_timer(s, profile), s.tcb)
    raise AssertionError(state)


def _make(state):
    def handler(tcb, ev, profile):
        return _handle(state, tcb, ev, profile)

    return handler


HANDLERS = {state: _make(state) for state in State}
