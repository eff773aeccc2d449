"""A correct close machine that tracks its FIN's sequence number (no false fails, #3).

Independent of reference_impl.handlers by design, and shaped as a class with one method
per state (the harness must accept that shape). "Our FIN is acknowledged" is decided
from the FIN's own sequence number (SND.UNA has moved past it), never from SND.NXT or
TCB.fin_acked; the RETRANSMIT timer is cancelled whenever a FIN is acknowledged, even
when the same segment also carries the peer's FIN.
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
    is_retransmitted_fin,
    on_retransmit_timeout,
    reset_for,
    screen,
    send_data,
    send_fin,
    send_rst,
    seq_gt,
    take_text,
    timewait_state_process,
)


def fin_passed(tcb) -> bool:
    """SND.UNA is beyond the sequence number our FIN occupies."""
    return tcb.fin_seq is not None and seq_gt(tcb.snd_una, tcb.fin_seq)


def ack_timer(before, s, profile):
    """What the ACK field did to our sending: segments the window let out, an ACK still owed for an
    old segment whose ACK counted (linux), and the timer: cancelled, probing, restarted or started."""
    after = s.tcb
    out = [Send(seg) for seg in s.sent] + ([Send(after.ack())] if s.ack_needed else [])
    if not seq_gt(after.snd_una, before.snd_una):
        if s.sent and before.snd_una == before.snd_nxt:  # the window opened: the first data in flight
            out.append(StartTimer(Timer.RETRANSMIT, profile.first_timeout(after.srtt)))
        return out
    if fin_passed(after) or after.snd_una == after.snd_nxt:
        if after.waiting:  # what waits does not fit the window: probe it
            return out + [StartTimer(Timer.RETRANSMIT, profile.rto(0, after.srtt))]
        return out + [CancelTimer(Timer.RETRANSMIT)]
    return out + [StartTimer(Timer.RETRANSMIT, profile.rto(0, after.srtt))]


class CloseMachine:
    def _common(self, state, tcb, ev, profile):
        """App calls that every closing state answers the same way; None when not one of them."""
        if isinstance(ev, AppClose | AppSend):
            return Step(state, [Error(CLOSING_ERROR)], tcb)
        if isinstance(ev, AppAbort):
            return (
                Step(State.CLOSED, send_rst(tcb, profile), tcb)
                if state in (State.FIN_WAIT_1, State.FIN_WAIT_2)
                else Step(State.CLOSED, [], tcb)
            )
        return None

    def _screen(self, state, tcb, seg, profile):
        s = screen(tcb, seg, profile)
        if s.verdict is Verdict.DROP:
            after = State.CLOSED if s.ends else state  # a refusal after close() ends the connection
            return s, Step(after, [Send(s.reply)] if s.reply is not None else [], s.tcb)
        if s.verdict is Verdict.RESET:
            told = [Error(RESET_ERROR)] if state in (State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2) else []
            if state is State.CLOSE_WAIT:
                told = [Error(profile.close_wait_reset_error)]
            return s, Step(State.CLOSED, told, tcb)
        return s, None

    def established(self, tcb, ev, profile):
        if isinstance(ev, AppClose):
            if ev.unread and not ev.shutdown and profile.rst_on_unread_close:
                return Step(State.CLOSED, send_rst(tcb, profile), tcb)
            tcb, out = send_fin(tcb, profile, orphan=not ev.shutdown, reading=not ev.rdwr)
            return Step(State.FIN_WAIT_1, out, tcb)
        if isinstance(ev, AppSend):
            tcb, out = send_data(tcb, ev.data, profile)
            return Step(State.ESTABLISHED, out, tcb)
        if isinstance(ev, AppAbort):
            return Step(State.CLOSED, send_rst(tcb, profile), tcb)
        if isinstance(ev, Timeout):
            return (
                on_retransmit_timeout(tcb, State.ESTABLISHED, profile)
                if ev.timer is Timer.RETRANSMIT
                else Step(State.ESTABLISHED, [], tcb)
            )
        s, done = self._screen(State.ESTABLISHED, tcb, ev.segment, profile)
        if done:
            return done
        new, text, fin = take_text(s, profile)
        delay = profile.fin_ack_delay(new.data_received) if fin else None
        if delay is not None:  # the ACK of the FIN waits for the delayed-ACK timer
            text = [o for o in text if not isinstance(o, Send)] + [StartTimer(Timer.DELAYED_ACK, delay)]
        return Step(State.CLOSE_WAIT if fin else State.ESTABLISHED, ack_timer(tcb, s, profile) + text, new)

    def fin_wait_1(self, tcb, ev, profile):
        if (step := self._common(State.FIN_WAIT_1, tcb, ev, profile)) is not None:
            return step
        if isinstance(ev, Timeout):
            return (
                on_retransmit_timeout(tcb, State.FIN_WAIT_1, profile)
                if ev.timer is Timer.RETRANSMIT
                else Step(State.FIN_WAIT_1, [], tcb)
            )
        s, done = self._screen(State.FIN_WAIT_1, tcb, ev.segment, profile)
        if done:
            return done
        acked = fin_passed(s.tcb)
        new, text, fin = take_text(s, profile)
        out = ack_timer(tcb, s, profile) + text
        if fin:
            if acked:
                return Step(State.TIME_WAIT, out + [StartTimer(Timer.TIME_WAIT, profile.time_wait)], new)
            return Step(State.CLOSING, out, new)
        if acked:
            if new.orphaned and profile.fin_wait_2_timeout is not None:
                out.append(StartTimer(Timer.FIN_WAIT_2, profile.fin_wait_2_timeout))
            return Step(State.FIN_WAIT_2, out, new)
        return Step(State.FIN_WAIT_1, out, new)

    def fin_wait_2(self, tcb, ev, profile):
        if (step := self._common(State.FIN_WAIT_2, tcb, ev, profile)) is not None:
            return step
        if isinstance(ev, Timeout):
            return Step(State.CLOSED, [], tcb) if ev.timer is Timer.FIN_WAIT_2 else Step(State.FIN_WAIT_2, [], tcb)
        s, done = self._screen(State.FIN_WAIT_2, tcb, ev.segment, profile)
        if done:
            return done
        new, out, fin = take_text(s, profile)
        if not fin:
            return Step(State.FIN_WAIT_2, out, new)
        if new.orphaned and profile.fin_wait_2_timeout is not None:
            out.append(CancelTimer(Timer.FIN_WAIT_2))
        return Step(State.TIME_WAIT, out + [StartTimer(Timer.TIME_WAIT, profile.time_wait)], new)

    def closing(self, tcb, ev, profile):
        if (step := self._common(State.CLOSING, tcb, ev, profile)) is not None:
            return step
        if isinstance(ev, Timeout):
            return (
                on_retransmit_timeout(tcb, State.CLOSING, profile)
                if ev.timer is Timer.RETRANSMIT
                else Step(State.CLOSING, [], tcb)
            )
        s, done = self._screen(State.CLOSING, tcb, ev.segment, profile)
        if done:
            return done
        if fin_passed(s.tcb):
            return Step(
                State.TIME_WAIT, [CancelTimer(Timer.RETRANSMIT), StartTimer(Timer.TIME_WAIT, profile.time_wait)], s.tcb
            )
        return Step(State.CLOSING, ack_timer(tcb, s, profile), s.tcb)

    def time_wait(self, tcb, ev, profile):
        if (step := self._common(State.TIME_WAIT, tcb, ev, profile)) is not None:
            return step
        if isinstance(ev, Timeout):
            return Step(State.CLOSED if ev.timer is Timer.TIME_WAIT else State.TIME_WAIT, [], tcb)
        seg, restart = ev.segment, StartTimer(Timer.TIME_WAIT, profile.time_wait)
        if profile.timewait_state_process:
            return timewait_state_process(tcb, seg, profile)
        if is_retransmitted_fin(tcb, seg):
            return Step(State.TIME_WAIT, [Send(tcb.ack()), restart] if seg.has_ack else [], tcb)
        s, done = self._screen(State.TIME_WAIT, tcb, seg, profile)
        if s.verdict is Verdict.RESET and profile.rfc1337:
            return Step(State.TIME_WAIT, [], tcb)
        return done or Step(State.TIME_WAIT, [Send(tcb.ack()), restart] if seg.len else [restart], tcb)

    def close_wait(self, tcb, ev, profile):
        match ev:
            case AppClose(shutdown=sh, unread=unread, rdwr=rdwr):
                if unread and not sh and profile.rst_on_unread_close:
                    return Step(State.CLOSED, send_rst(tcb, profile), tcb)
                tcb, out = send_fin(tcb, profile, orphan=not sh, reading=not rdwr)
                return Step(State.LAST_ACK, [CancelTimer(Timer.DELAYED_ACK)] + out, tcb)
            case AppSend(data):
                tcb, out = send_data(tcb, data, profile)
                return Step(State.CLOSE_WAIT, [CancelTimer(Timer.DELAYED_ACK)] + out, tcb)
            case AppAbort():
                return Step(State.CLOSED, send_rst(tcb, profile), tcb)
            case Timeout(Timer.RETRANSMIT):
                return on_retransmit_timeout(tcb, State.CLOSE_WAIT, profile)
            case Timeout(Timer.DELAYED_ACK):
                return Step(State.CLOSE_WAIT, [Send(tcb.ack())], tcb)
            case Timeout():
                return Step(State.CLOSE_WAIT, [], tcb)
        s, done = self._screen(State.CLOSE_WAIT, tcb, ev.segment, profile)
        return done or Step(State.CLOSE_WAIT, ack_timer(tcb, s, profile), s.tcb)

    def last_ack(self, tcb, ev, profile):
        if (step := self._common(State.LAST_ACK, tcb, ev, profile)) is not None:
            return step
        if isinstance(ev, Timeout):
            return (
                on_retransmit_timeout(tcb, State.LAST_ACK, profile)
                if ev.timer is Timer.RETRANSMIT
                else Step(State.LAST_ACK, [], tcb)
            )
        s, done = self._screen(State.LAST_ACK, tcb, ev.segment, profile)
        if done:
            return done
        if fin_passed(s.tcb):
            return Step(State.CLOSED, [], s.tcb)
        return Step(State.LAST_ACK, ack_timer(tcb, s, profile), s.tcb)

    def closed(self, tcb, ev, profile):
        if isinstance(ev, Arrival):
            return Step(State.CLOSED, reset_for(ev.segment, profile), tcb)
        if isinstance(ev, Timeout):
            return Step(State.CLOSED, [], tcb)
        return Step(State.CLOSED, [Error(NO_CONNECTION)], tcb)
