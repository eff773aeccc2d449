"""A correct close machine written without any of the course's building blocks.

Nothing from reference_impl.actions, no screen(), no TCB helpers (ack(), segment(), rst(),
retransmission(), transmit(), window_probe(), acceptable(), fin_acked, waiting), no seq_*
functions: its own sequence arithmetic modulo 2**32, its own acceptability tests (RFC 9293
§3.10.7.4's four cases, and Linux's tcp_sequence()), RST and ACK processing, windows, MSS,
zero-window probes, Linux's TIME_WAIT, and every segment built field by field. Only the vocabulary's types (Segment,
Step, the outputs, State, Timer) and the profile's numbers. The checks must accept code that
shares nothing with the reference but the protocol.
"""

from autograder.learner import (
    ACK,
    FIN,
    RST,
    SYN,
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
)
from reference_impl.states import CLOSE_STATES

MOD = 1 << 32
OTHER_TIMERS = (Timer.RETRANSMIT, Timer.FIN_WAIT_2, Timer.DELAYED_ACK)
SYNCHRONIZED_ERROR = ("ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2")  # where a RST is reported (CLOSE_WAIT: profile)


# ---- sequence numbers, modulo 2**32 (RFC 9293 §3.4) ---------------------------------------------


def plus(a, n):
    return (a + n) % MOD


def before(a, b):
    """a < b in sequence space: b is less than half the space ahead of a."""
    return 0 < (b - a) % MOD < MOD // 2


def at_or_before(a, b):
    return a == b or before(a, b)


def distance(a, b):
    """b - a, signed, for numbers less than half the space apart."""
    d = (b - a) % MOD
    return d - MOD if d >= MOD // 2 else d


def length(seg):
    """SEG.LEN: the data, and one each for SYN and FIN."""
    return len(seg.payload) + (1 if SYN in seg.flags else 0) + (1 if FIN in seg.flags else 0)


def outgoing(tcb, flags=ACK, payload=b"", seq=None):
    """A segment from where we stand: SEQ=SND.NXT (or `seq`), ACK=RCV.NXT, our window."""
    return Segment(seq=tcb.snd_nxt if seq is None else seq, ack=tcb.rcv_nxt, flags=flags, payload=payload,
                   window=min(tcb.rcv_wnd, 0xFFFF))  # fmt: skip


def reset_segment(tcb, profile):
    if profile.rst_carries_ack:
        return Segment(seq=tcb.snd_nxt, ack=tcb.rcv_nxt, flags=RST | ACK)
    return Segment(seq=tcb.snd_nxt, ack=0, flags=RST)


def our_fin_acked(tcb):
    return tcb.fin_seq is not None and tcb.snd_una == plus(tcb.fin_seq, 1)


def fin_left(tcb):
    return tcb.fin_seq is not None and before(tcb.fin_seq, tcb.snd_nxt)


def something_waits(tcb):
    return bool(tcb.unsent) or (tcb.fin_seq is not None and not fin_left(tcb))


def push(tcb, profile):
    """Send what waits as the peer's window allows: MSS-sized data, the FIN on the last piece if it
    fits too, else after it (Linux keeps that last piece back for its FIN: fin_holds_tail)."""
    sent = []
    while something_waits(tcb):
        room = distance(tcb.snd_nxt, plus(tcb.snd_una, tcb.snd_wnd))
        piece = tcb.unsent[: max(0, min(tcb.mss, room))]
        last = len(piece) == len(tcb.unsent) and tcb.fin_seq is not None
        if last and room < len(piece) + 1:
            if profile.fin_holds_tail or not piece:
                break
            last = False
        if not piece and not last:
            break
        sent.append(outgoing(tcb, ACK | FIN if last else ACK, piece))
        tcb = tcb.replace(snd_nxt=plus(tcb.snd_nxt, len(piece) + last), unacked=tcb.unacked + piece,
                          unsent=tcb.unsent[len(piece):])  # fmt: skip
    return tcb, sent


# ---- the checks every synchronized state shares (§3.10.7.4) ---------------------------------------


class Arrived:
    """What the shared checks made of a segment: either a reply and stop, or what to go on with."""

    def __init__(self, tcb, stop=None, reset=False, data=b"", fin=False, acked_new=False, out_of_order=False,
                 sent=(), owed=False):  # fmt: skip
        self.tcb, self.stop, self.reset = tcb, stop, reset
        self.data, self.fin, self.acked_new, self.out_of_order = data, fin, acked_new, out_of_order
        self.sent, self.owed = list(sent), owed


def acceptable(tcb, seg, profile):
    n, wnd = length(seg), tcb.rcv_wnd
    if profile.accept_window_edges:  # Linux tcp_sequence(): [RCV.NXT - (ends there), RCV.NXT + RCV.WND]
        return (at_or_before(tcb.rcv_nxt, plus(seg.seq, n)) and at_or_before(seg.seq, plus(tcb.rcv_nxt, wnd))
                and (wnd > 0 or not seg.payload))  # fmt: skip

    def inside(x):
        return at_or_before(tcb.rcv_nxt, x) and before(x, plus(tcb.rcv_nxt, wnd))

    if n == 0:
        return seg.seq == tcb.rcv_nxt if wnd == 0 else inside(seg.seq)
    return wnd > 0 and (inside(seg.seq) or inside(plus(seg.seq, n - 1)))


def arrive(state, tcb, seg, profile):
    def stop(reply=None, state_after=state):
        return Arrived(tcb, stop=Step(state_after, [Send(reply)] if reply else [], tcb))

    if not acceptable(tcb, seg, profile):  # first: "send an acknowledgment (unless RST) and drop"
        return stop(None if RST in seg.flags else outgoing(tcb))
    if RST in seg.flags:  # second, with RFC 5961: only exactly RCV.NXT resets, else a challenge ACK
        return Arrived(tcb, reset=True) if seg.seq == tcb.rcv_nxt else stop(outgoing(tcb))
    if SYN in seg.flags:  # fourth: a SYN in a synchronized state gets a challenge ACK
        return stop(outgoing(tcb))
    if ACK not in seg.flags:  # fifth: "if the ACK bit is off drop the segment"
        return stop()
    if before(tcb.snd_nxt, seg.ack):  # it acknowledges something not yet sent
        return stop(outgoing(tcb))
    skip = distance(seg.seq, tcb.rcv_nxt)
    old = length(seg) > 0 and skip >= len(seg.payload) + (1 if FIN in seg.flags else 0)  # linux: ends at RCV.NXT
    acked_new = before(tcb.snd_una, seg.ack)
    if old and not acked_new:
        return stop(outgoing(tcb))
    una = tcb.snd_una
    if acked_new:
        covered = distance(tcb.snd_una, seg.ack)
        if fin_left(tcb) and seg.ack == plus(tcb.fin_seq, 1):
            covered -= 1  # the FIN's number carries no data
        tcb = tcb.replace(snd_una=seg.ack, unacked=tcb.unacked[covered:], retries=0, probed=False)
    if at_or_before(una, seg.ack):  # "the send window should be updated"
        opened = tcb.snd_wnd == 0 and seg.window > 0
        tcb = tcb.replace(snd_wnd=seg.window)
        if opened:  # probing is over; a probe octet the peer refused goes back in line
            tcb = tcb.replace(
                retries=0, probed=False, snd_nxt=tcb.snd_una, unsent=tcb.unacked + tcb.unsent, unacked=b""
            )
    if tcb.refuses_data and seg.payload and before(tcb.rcv_nxt, plus(seg.seq, len(seg.payload))):
        # linux: close() also ended reading, so data can never be read: refused with RST, and gone
        return Arrived(tcb, stop=Step(State.CLOSED, [Send(Segment(seq=seg.ack, ack=0, flags=RST))], tcb))
    tcb, sent = push(tcb, profile)
    if old:
        return Arrived(tcb, acked_new=True, sent=sent, owed=True)
    if skip < 0:  # it starts past RCV.NXT: only its ACK field is used; data or a FIN is acknowledged
        return Arrived(tcb, acked_new=acked_new, out_of_order=length(seg) > 0, sent=sent)
    data = seg.payload[skip:]
    return Arrived(tcb, data=data, fin=FIN in seg.flags and skip <= len(seg.payload), acked_new=acked_new, sent=sent)


def take_in(a):
    """Seventh and eighth steps: the data and the FIN advance RCV.NXT; tell the application; ACK."""
    tcb, told = a.tcb, []
    if a.data:
        tcb = tcb.replace(rcv_nxt=plus(tcb.rcv_nxt, len(a.data)), data_received=True)
        told.append(DeliverData(a.data))
    if a.fin:
        tcb = tcb.replace(rcv_nxt=plus(tcb.rcv_nxt, 1))
        told.append(DeliverEOF())
    if a.data or a.fin or a.out_of_order:
        told.append(Send(outgoing(tcb)))
    return tcb, told


def after_ack(before_tcb, a, profile):
    """What left with the window, an ACK an old segment is still owed, and the retransmission timer."""
    out = [Send(seg) for seg in a.sent] + ([Send(outgoing(a.tcb))] if a.owed else [])
    idle = a.tcb.snd_una == a.tcb.snd_nxt
    if idle and something_waits(a.tcb) and (a.acked_new or a.sent):
        out.append(StartTimer(Timer.RETRANSMIT, profile.rto(0, a.tcb.srtt)))  # the probe timer
    elif idle and a.acked_new:
        out.append(CancelTimer(Timer.RETRANSMIT))
    elif not idle and a.acked_new:
        out.append(StartTimer(Timer.RETRANSMIT, profile.rto(0, a.tcb.srtt)))
    elif a.sent and before_tcb.snd_una == before_tcb.snd_nxt:
        out.append(StartTimer(Timer.RETRANSMIT, profile.first_timeout(a.tcb.srtt)))
    return out


# ---- the application's calls and the timers -------------------------------------------------------


def write(state, tcb, profile, data):
    was_idle = tcb.snd_una == tcb.snd_nxt and not something_waits(tcb)
    tcb, sent = push(tcb.replace(unsent=tcb.unsent + data), profile)
    outputs = [Send(seg) for seg in sent]
    if was_idle:
        outputs.append(
            StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt) if sent else profile.rto(0, tcb.srtt))
        )
    if state is State.CLOSE_WAIT:
        outputs.append(CancelTimer(Timer.DELAYED_ACK))  # the data carries the ACK of the peer's FIN
    return Step(state, outputs, tcb)


def close(state, tcb, profile, shutdown, rdwr):
    """§3.10.4 CLOSE: the FIN takes the number after the queued data and leaves when the window lets it."""
    was_idle = tcb.snd_una == tcb.snd_nxt and not something_waits(tcb)
    orphan = not shutdown
    tcb = tcb.replace(fin_seq=plus(tcb.snd_nxt, len(tcb.unsent)), orphaned=orphan,
                      refuses_data=(orphan or rdwr) and profile.rst_on_data_after_close)  # fmt: skip
    tcb, sent = push(tcb, profile)
    outputs = [Send(seg) for seg in sent]
    if sent:
        outputs.append(StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt)))
    elif was_idle:
        outputs.append(StartTimer(Timer.RETRANSMIT, profile.rto(0, tcb.srtt)))
    if state is State.CLOSE_WAIT:
        return Step(State.LAST_ACK, [CancelTimer(Timer.DELAYED_ACK), *outputs], tcb)
    return Step(State.FIN_WAIT_1, outputs, tcb)


def retransmission_timeout(state, tcb, profile):
    """§3.10.8: resend from SND.UNA (an MSS of it); back off; give up at the limit. With nothing in
    flight but something waiting for the window, probe the window (§3.8.6.1)."""
    if tcb.snd_una == tcb.snd_nxt:
        if not something_waits(tcb):
            return Step(state, [], tcb)
        tries = tcb.retries + 1
        timer = StartTimer(Timer.RETRANSMIT, profile.rto(tries, tcb.srtt))
        room = distance(tcb.snd_nxt, plus(tcb.snd_una, tcb.snd_wnd))
        if profile.probe_with_old_seq and room > 0 and tcb.unsent:  # Linux, window open: what fits goes
            piece = tcb.unsent[: min(room, tcb.mss)]
            probe = outgoing(tcb, ACK, piece)
            tcb = tcb.replace(snd_nxt=plus(tcb.snd_nxt, len(piece)), unacked=tcb.unacked + piece,
                              unsent=tcb.unsent[len(piece):], retries=tries)  # fmt: skip
            return Step(state, [Send(probe), timer], tcb)
        if profile.probe_with_old_seq:  # Linux: <SEQ=SND.UNA-1>, no data
            return Step(state, [Send(outgoing(tcb, seq=plus(tcb.snd_una, MOD - 1))), timer], tcb.replace(retries=tries))
        octet = tcb.unsent[:1]  # RFC 9293: one octet of what waits (or the FIN)
        fin = not octet
        probe = outgoing(tcb, ACK | FIN if fin else ACK, octet)
        tcb = tcb.replace(snd_nxt=plus(tcb.snd_nxt, 1), unacked=tcb.unacked + octet, unsent=tcb.unsent[1:],
                          retries=tries)  # fmt: skip
        return Step(state, [Send(probe), timer], tcb)
    payload = tcb.unacked[: tcb.mss]
    with_fin = fin_left(tcb) and at_or_before(tcb.snd_una, tcb.fin_seq) and len(payload) == len(tcb.unacked)
    again = outgoing(tcb, ACK | FIN if with_fin else ACK, payload, seq=tcb.snd_una)
    if profile.tail_loss_probe and tcb.retries == 0 and not tcb.probed:  # RFC 8985's probe first
        return Step(
            state, [Send(again), StartTimer(Timer.RETRANSMIT, profile.rto(0, tcb.srtt))], tcb.replace(probed=True)
        )
    if tcb.retries >= profile.max_retries and tcb.snd_wnd > 0:
        return Step(State.CLOSED, [Error("connection aborted due to user timeout")], tcb)
    tries = tcb.retries + 1
    return Step(
        state, [Send(again), StartTimer(Timer.RETRANSMIT, profile.rto(tries, tcb.srtt))], tcb.replace(retries=tries)
    )


def time_wait_entered(profile):
    return [*(CancelTimer(t) for t in OTHER_TIMERS), StartTimer(Timer.TIME_WAIT, profile.time_wait)]


def time_wait_arrival(tcb, seg, profile):
    gone, again = Step(State.CLOSED, [], tcb), StartTimer(Timer.TIME_WAIT, profile.time_wait)
    stay = Step(State.TIME_WAIT, [], tcb)
    if profile.timewait_state_process:  # Linux: only an empty segment (or RST) at RCV.NXT is "in window"
        if seg.seq == tcb.rcv_nxt and (length(seg) == 0 or RST in seg.flags):
            if RST in seg.flags:
                return stay if profile.rfc1337 else gone
            return Step(State.TIME_WAIT, [again], tcb)
        if RST in seg.flags:
            return stay
        return Step(State.TIME_WAIT, [Send(outgoing(tcb))] + ([again] if ACK in seg.flags else []), tcb)
    if FIN in seg.flags and RST not in seg.flags and plus(seg.seq, length(seg)) == tcb.rcv_nxt:
        # "The only thing that can arrive in this state is a retransmission of the remote FIN.
        # Acknowledge it, and restart the 2 MSL timeout" (but "if the ACK bit is off drop the segment").
        return Step(State.TIME_WAIT, [Send(outgoing(tcb)), again], tcb) if ACK in seg.flags else stay
    a = arrive(State.TIME_WAIT, tcb, seg, profile)
    if a.stop is not None:
        return a.stop
    if a.reset:
        return stay if profile.rfc1337 else gone  # RFC 1337: TIME_WAIT ignores RST
    return Step(State.TIME_WAIT, ([Send(outgoing(tcb))] if length(seg) else []) + [again], tcb)


def step(state, tcb, ev, profile):
    gone = Step(State.CLOSED, [], tcb)
    if state is State.CLOSED:
        if isinstance(ev, Arrival):
            seg = ev.segment
            if RST in seg.flags:
                return gone
            if ACK in seg.flags:
                return Step(State.CLOSED, [Send(Segment(seq=seg.ack, ack=0, flags=RST))], tcb)
            return Step(State.CLOSED, [Send(Segment(seq=0, ack=plus(seg.seq, length(seg)), flags=RST | ACK))], tcb)
        if isinstance(ev, AppClose | AppSend | AppAbort):
            return Step(State.CLOSED, [Error("connection does not exist")], tcb)
        return gone
    if isinstance(ev, AppAbort):  # §3.10.5: RST where the peer still expects data, else just "ok"
        if state in (State.CLOSING, State.LAST_ACK, State.TIME_WAIT):
            return gone
        return Step(State.CLOSED, [Send(reset_segment(tcb, profile))], tcb)
    if isinstance(ev, AppClose) and state in (State.ESTABLISHED, State.CLOSE_WAIT):
        if ev.unread and not ev.shutdown and profile.rst_on_unread_close:
            return Step(State.CLOSED, [Send(reset_segment(tcb, profile))], tcb)
        return close(state, tcb, profile, ev.shutdown, ev.rdwr)
    if isinstance(ev, AppSend) and state in (State.ESTABLISHED, State.CLOSE_WAIT):
        return write(state, tcb, profile, ev.data)
    if isinstance(ev, AppClose | AppSend):
        return Step(state, [Error("connection closing")], tcb)
    if isinstance(ev, Timeout):
        if ev.timer is Timer.RETRANSMIT and state not in (State.FIN_WAIT_2, State.TIME_WAIT):
            return retransmission_timeout(state, tcb, profile)
        if ev.timer is Timer.DELAYED_ACK and state is State.CLOSE_WAIT:
            return Step(state, [Send(outgoing(tcb))], tcb)
        if (state, ev.timer) in ((State.FIN_WAIT_2, Timer.FIN_WAIT_2), (State.TIME_WAIT, Timer.TIME_WAIT)):
            return gone
        return Step(state, [], tcb)
    seg = ev.segment
    if state is State.TIME_WAIT:
        return time_wait_arrival(tcb, seg, profile)
    a = arrive(state, tcb, seg, profile)
    if a.stop is not None:
        return a.stop
    if a.reset:
        if state is State.CLOSE_WAIT:
            return Step(State.CLOSED, [Error(profile.close_wait_reset_error)], tcb)
        return Step(State.CLOSED, [Error("connection reset")] if state.value in SYNCHRONIZED_ERROR else [], tcb)
    acked = our_fin_acked(a.tcb)
    if state in (State.CLOSING, State.LAST_ACK, State.CLOSE_WAIT):
        if acked and state is State.CLOSING:
            return Step(State.TIME_WAIT, time_wait_entered(profile), a.tcb)
        if acked and state is State.LAST_ACK:
            return Step(State.CLOSED, [], a.tcb)
        return Step(state, after_ack(tcb, a, profile), a.tcb)
    timer = after_ack(tcb, a, profile) if state is not State.FIN_WAIT_2 else []
    new, told = take_in(a)
    outputs = timer + told
    if state is State.ESTABLISHED:
        delay = None
        if a.fin:  # the ACK of a FIN may wait for the delayed-ACK timer (Linux: one tick, 40 ms after data)
            delay = (
                profile.delayed_ack_after_data
                if new.data_received and profile.delayed_ack_after_data is not None
                else profile.delayed_ack
            )
        if delay is not None:
            outputs = [o for o in outputs if not (isinstance(o, Send) and o in told)] + [
                StartTimer(Timer.DELAYED_ACK, delay)
            ]
        return Step(State.CLOSE_WAIT if a.fin else State.ESTABLISHED, outputs, new)
    if a.fin and (acked or state is State.FIN_WAIT_2):
        return Step(State.TIME_WAIT, outputs + time_wait_entered(profile), new)
    if a.fin:
        return Step(State.CLOSING, outputs, new)
    if acked and state is State.FIN_WAIT_1:
        if new.orphaned and profile.fin_wait_2_timeout is not None:
            outputs.append(StartTimer(Timer.FIN_WAIT_2, profile.fin_wait_2_timeout))
        return Step(State.FIN_WAIT_2, outputs, new)
    return Step(state, outputs, new)


def _handler(state):
    def handler(tcb, ev, profile):
        return step(state, tcb, ev, profile)

    handler.__name__ = state.value.lower()
    return handler


HANDLERS = {state: _handler(state) for state in CLOSE_STATES}  # the close machine: the reference opens connections
