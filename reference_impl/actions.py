"""The building blocks a state handler composes (RFC 9293 §3.10).

Sending a FIN, retransmitting with backoff, a reset, taking in data and a FIN:
each is the same wherever it happens, so it is written once, here. A block returns
what to send (and the TCB it changed), never the next state: whether and when to
use one, and where to go after it, is the state's decision, in `handlers`.
Five are stand-ins instead, returning a whole Step: `fin_crossed`,
`on_retransmit_timeout` and `timewait_state_process` are the decisions notebooks 03,
04 and 05 ask the learner to write, `on_reset` and `on_unread_close` notebook 06's;
each is given to the earlier notebooks' code so that it does not state those answers.
"""

from __future__ import annotations

from .profiles import Profile
from .segment import ACK, RST, Segment, seq_add, seq_diff
from .states import (
    AppClose,
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
from .tcb import TCB, Screened, accept_segment

CLOSING_ERROR = "connection closing"
RESET_ERROR = "connection reset"
BROKEN_PIPE = "broken pipe"  # Linux's word (EPIPE) for an RST in CLOSE_WAIT: Profile.close_wait_reset_error
NO_CONNECTION = "connection does not exist"
USER_TIMEOUT = "connection aborted due to user timeout"


def send_fin(tcb: TCB, profile: Profile, orphan: bool, reading: bool = True) -> tuple[TCB, list[Output]]:
    """Queue our FIN behind any data still waiting and send what the peer's window lets out:
    <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK>, alone or on the last data segment. It consumes one
    sequence number. `reading=False`: shutdown(SHUT_RDWR), which ends reading without orphaning."""
    idle = tcb.snd_una == tcb.snd_nxt and not tcb.waiting
    tcb = tcb.replace(fin_seq=seq_add(tcb.snd_nxt, len(tcb.unsent)), orphaned=orphan,
                      refuses_data=(orphan or not reading) and profile.rst_on_data_after_close)  # fmt: skip
    tcb, segs = tcb.transmit(profile.fin_holds_tail)
    outputs: list[Output] = [Send(seg) for seg in segs]
    if segs or idle:  # the FIN (re)starts the timer; held back by the peer's window, it probes (§3.8.6.1)
        outputs.append(StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt)))
    return tcb, outputs


def note_close(tcb: TCB, profile: Profile, orphan: bool, reading: bool = True) -> tuple[TCB, list[Output] | None]:
    """close() or shutdown(): note how the application closed, and hold the FIN back if it cannot leave.

    Returns the TCB with `orphaned` (plain close(): the application reads nothing more) and
    `refuses_data` (a profile that resets data arriving after close()) set, and either the
    outputs of a FIN queued behind data still unsent or a window with no room for it (it leaves
    later, with the data or as a window probe: send_fin), or None: the FIN can go now, and
    building it, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK> with SND.NXT advanced over it, is the
    caller's (notebook 01)."""
    tcb = tcb.replace(orphaned=orphan, refuses_data=(orphan or not reading) and profile.rst_on_data_after_close)
    room = seq_diff(seq_add(tcb.snd_una, tcb.snd_wnd), tcb.snd_nxt)
    if not tcb.unsent and room >= 1 and tcb.fin_seq is None:
        return tcb, None
    return send_fin(tcb, profile, orphan, reading)


def fin_crossed(tcb: TCB, outputs: list[Output], our_fin_acked: bool, profile: Profile) -> Step:
    """The peer's FIN taken in FIN_WAIT_1 (RFC 9293 §3.10.7.4, eighth step): TIME_WAIT with its timer
    when this or an earlier segment acknowledged our FIN, else CLOSING. `outputs` already hold the
    ACK of the peer's FIN. Notebook 03 asks the learner to write this decision."""
    if our_fin_acked:
        return Step(State.TIME_WAIT, [*outputs, StartTimer(Timer.TIME_WAIT, profile.time_wait)], tcb)
    return Step(State.CLOSING, outputs, tcb)


def on_retransmit_timeout(tcb: TCB, state: State, profile: Profile) -> Step:
    """A stand-in for notebook 04's exercise (`resend`), for the given code of the notebooks before
    it: the RETRANSMIT timer expired in `state`; give up (CLOSED, Error(USER_TIMEOUT): `gives_up`) or
    send what `retransmit` sends and stay."""
    if gives_up(tcb, profile):
        return Step(State.CLOSED, (Error(USER_TIMEOUT),), tcb)
    tcb, outputs = retransmit(tcb, profile)
    return Step(state, outputs, tcb)


def on_reset(tcb: TCB, state: State, profile: Profile) -> Step:
    """A stand-in for notebook 06's exercise, for the given code of the notebooks before it: a
    valid RST arrived in `state` (screen said Verdict.RESET). Returns the whole Step: which state
    follows, and whether the application hears of it (RFC 9293 §3.10.7.4, RFC 1337)."""
    if state is State.TIME_WAIT and profile.rfc1337:
        return Step(State.TIME_WAIT, (), tcb)
    if state in (State.CLOSING, State.LAST_ACK, State.TIME_WAIT):
        return Step(State.CLOSED, (), tcb)
    error = profile.close_wait_reset_error if state is State.CLOSE_WAIT else RESET_ERROR
    return Step(State.CLOSED, (Error(error),), tcb)


def on_unread_close(tcb: TCB, ev: AppClose, profile: Profile) -> Step | None:
    """A stand-in for notebook 06's exercise, for the given code of the notebooks before it: what
    close() does about received data the application never read (ev.unread bytes, RFC 9293
    §3.6.1): the whole Step, or None when the close goes on as usual."""
    if ev.unread and not ev.shutdown and profile.rst_on_unread_close:
        return Step(State.CLOSED, send_rst(tcb, profile), tcb)
    return None


def send_data(tcb: TCB, data: bytes, profile: Profile) -> tuple[TCB, list[Output]]:
    """Queue the application's data and send what the peer's window lets out, in segments of at
    most MSS; the first data in flight starts the retransmission timer (or, when the window is
    zero, the probe timer)."""
    idle = tcb.snd_una == tcb.snd_nxt and not tcb.waiting
    tcb, segs = tcb.replace(unsent=tcb.unsent + data).transmit(profile.fin_holds_tail)
    outputs: list[Output] = [Send(seg) for seg in segs]
    if idle:  # nothing outstanding: the timer is not running yet (with nothing sent, it probes)
        outputs.append(StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt)))
    return tcb, outputs


def gives_up(tcb: TCB, profile: Profile) -> bool:
    """RFC 9293 §3.8.3 (R2): whether this expiry of the RETRANSMIT timer ends the connection, the
    segment in flight having been retransmitted profile.max_retries times already. The caller then
    enters CLOSED and tells the application, Error(USER_TIMEOUT). A probe never gives up: nothing in
    flight, Linux's tail-loss probe, a shut window (`timer_probe`)."""
    return timer_probe(tcb, profile) is None and tcb.retries >= profile.max_retries


def retransmit(tcb: TCB, profile: Profile) -> tuple[TCB, list[Output]]:
    """RFC 9293 §3.10.8, when the RETRANSMIT timer expires and TCP does not give up (`gives_up`):
    resend from SND.UNA and back the timer off (RFC 6298 §5.5), or, in the cases that are not a plain
    retransmission, what `timer_probe` sends. The state stays what it was."""
    special = timer_probe(tcb, profile)
    if special is not None:
        return special
    tcb = tcb.replace(retries=tcb.retries + 1)
    return tcb, [Send(tcb.retransmission()), StartTimer(Timer.RETRANSMIT, profile.rto(tcb.retries, tcb.srtt))]


def timer_probe(tcb: TCB, profile: Profile) -> tuple[TCB, list[Output]] | None:
    """What an expired RETRANSMIT timer sends when it is *not* a plain retransmission; None when it is.

    - Everything was acknowledged meanwhile: nothing, or, when what waits does not fit the peer's
      window, a window probe (§3.8.6.1).
    - Linux's tail-loss probe (RFC 8985, profile.tail_loss_probe): before the first retransmission,
      resend the last segment and arm the plain RTO.
    - The peer's window is zero: the segment in flight probes it, backing off, and probing never
      gives up while the peer answers (RFC 1122 §4.2.2.17), so no retry limit applies.
    """
    if tcb.snd_una == tcb.snd_nxt:  # everything was acknowledged meanwhile
        if tcb.waiting:  # and what waits does not fit the peer's window: probe it
            tcb, probe = tcb.window_probe(profile.probe_with_old_seq)
            tcb = tcb.replace(retries=tcb.retries + 1)
            return tcb, [Send(probe), StartTimer(Timer.RETRANSMIT, profile.rto(tcb.retries, tcb.srtt))]
        return tcb, []
    if profile.tail_loss_probe and not tcb.probed and tcb.retries == 0:
        tcb = tcb.replace(probed=True)
        return tcb, [Send(tcb.retransmission()), StartTimer(Timer.RETRANSMIT, profile.rto(0, tcb.srtt))]
    if tcb.snd_wnd == 0:  # a shut window is probed for good
        tcb = tcb.replace(retries=tcb.retries + 1)
        return tcb, [Send(tcb.retransmission()), StartTimer(Timer.RETRANSMIT, profile.rto(tcb.retries, tcb.srtt))]
    return None


def send_rst(tcb: TCB, profile: Profile) -> list[Output]:
    """RFC 9293 §3.10.5 ABORT in a state with a live peer: "a reset segment should be sent"
    (<SEQ=SND.NXT><CTL=RST>, with an ACK where the profile's stack adds one). The caller enters CLOSED."""
    return [Send(tcb.rst(with_ack=profile.rst_carries_ack))]


def drop(s: Screened) -> list[Output]:
    """What discarding a segment `screen` did not accept (Verdict.DROP) sends: the ACK it prepared,
    if any, or, for data refused after close() (`s.ends`, linux), the RST. The caller stays in its
    state, or, after `s.ends`, enters CLOSED."""
    return [Send(s.reply)] if s.reply is not None else []


def retransmit_timer(before: TCB, s: Screened, profile: Profile) -> list[Output]:
    """After the ACK field: send what the window let out, stop the retransmission timer once all
    is acknowledged (or turn it into the probe timer if the window closed on waiting data), else
    restart it; and acknowledge an old retransmission whose ACK counted (linux, ack_needed)."""
    outputs: list[Output] = [Send(seg) for seg in s.sent]
    if s.ack_needed:
        outputs.append(Send(s.tcb.ack()))
    after = s.tcb
    if after.snd_una == after.snd_nxt and not after.waiting:
        if s.acked_new:
            outputs.append(CancelTimer(Timer.RETRANSMIT))
    elif s.acked_new:  # restart it; with nothing in flight, what waits does not fit: it probes
        outputs.append(StartTimer(Timer.RETRANSMIT, profile.rto(0, after.srtt)))
    elif s.sent and before.snd_una == before.snd_nxt:  # the window opened: the data now in flight
        outputs.append(StartTimer(Timer.RETRANSMIT, profile.first_timeout(after.srtt)))
    return outputs


def take_text(s: Screened, profile: Profile) -> tuple[TCB, list[Output], bool]:
    """RFC 9293 §3.10.7.4, seventh and eighth: deliver in-order data, advance RCV.NXT over
    it and over a FIN (the FIN consumes one number), and acknowledge. Returns the new TCB,
    the outputs, and whether a FIN was taken."""
    tcb = s.tcb
    outputs: list[Output] = []
    if s.data:
        tcb = tcb.replace(rcv_nxt=seq_add(tcb.rcv_nxt, len(s.data)), data_received=True)
        outputs.append(DeliverData(s.data))
    if s.fin:
        tcb = tcb.replace(rcv_nxt=seq_add(tcb.rcv_nxt, 1))
        outputs.append(DeliverEOF())
    if s.data or s.fin or s.out_of_order:
        outputs.insert(0, Send(tcb.ack()))
    return tcb, outputs, s.fin


def delay_fin_ack(tcb: TCB, text: list[Output], profile: Profile) -> list[Output]:
    """§3.8.6.3: the ACK of a FIN taken in ESTABLISHED may wait for the delayed-ACK timer (a
    close() meanwhile sends it with our FIN); how long is the profile's (Linux: one tick, or
    40 ms once data has arrived). Returns `text` with its ACK replaced by that timer."""
    delay = profile.fin_ack_delay(tcb.data_received)
    if delay is None:
        return text
    kept: list[Output] = [o for o in text if not isinstance(o, Send)]
    return kept + [StartTimer(Timer.DELAYED_ACK, delay)]


def check_segment(tcb: TCB, seg: Segment, profile: Profile) -> Screened:
    """The rest of `screen` for a segment that passed the learner's own first checks (notebook 6,
    where the learner writes RFC 9293 §3.10.7.4's sequence-number, RST, SYN and ACK checks with
    RFC 5961's rules): the ACK field (SND.UNA, SND.WND) and the text."""
    if seg.rst or seg.syn or not seg.has_ack:
        raise ValueError("check_segment takes a segment your checks let through: no RST, no SYN, the ACK bit on")
    return accept_segment(tcb, seg, profile.fin_holds_tail)


def is_retransmitted_fin(tcb: TCB, seg: Segment) -> bool:
    """The peer's FIN again: its sequence space ends exactly at RCV.NXT. A segment that also carries
    RST is not: it ends before RCV.NXT, so it is unacceptable, and RFC 9293 §3.10.7.4's first check
    drops an unacceptable RST without an answer (no ACK, no restarted 2 MSL)."""
    return seg.fin and not seg.rst and seq_add(seg.seq, seg.len) == tcb.rcv_nxt


def reset_for(seg: Segment, profile: Profile) -> tuple[Output, ...]:
    """The RST answering a segment for no connection (RFC 9293 §3.10.7.1)."""
    if seg.rst:
        return ()
    if seg.has_ack:
        return (Send(Segment(seq=seg.ack, ack=0, flags=RST)),)
    return (Send(Segment(seq=0, ack=seq_add(seg.seq, seg.len), flags=RST | ACK)),)


def timewait_state_process(tcb: TCB, seg: Segment, profile: Profile) -> Step:
    """A segment arriving in TIME_WAIT, as Linux's tcp_timewait_state_process() takes it
    (profile.timewait_state_process; net/ipv4/tcp_minisocks.c, measured on Linux 6.18).

    Only an empty segment (or an RST) exactly at RCV.NXT is "in window": the RST ends TIME_WAIT
    (unless RFC 1337), anything else restarts the timer and gets no answer. Every other segment
    but an RST is answered with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and restarts the timer if it
    carries the ACK bit; any other RST is dropped without a challenge ACK.
    """
    restart = StartTimer(Timer.TIME_WAIT, profile.time_wait)
    if seg.seq == tcb.rcv_nxt and (seg.len == 0 or seg.rst):
        if seg.rst:
            return Step(State.TIME_WAIT if profile.rfc1337 else State.CLOSED, (), tcb)
        return Step(State.TIME_WAIT, (restart,), tcb)
    if seg.rst:
        return Step(State.TIME_WAIT, (), tcb)
    if seg.has_ack:
        return Step(State.TIME_WAIT, (Send(tcb.ack()), restart), tcb)
    return Step(State.TIME_WAIT, (Send(tcb.ack()),), tcb)
