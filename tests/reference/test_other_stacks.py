"""Close-state tests of other stacks, ported: smoltcp (src/socket/tcp.rs @5393f88) and lwIP
(test/unit/tcp), driven handler by handler against the reference close machine.

An independent corpus: each test keeps the other stack's expectation where RFC 9293 agrees with
it, and where it does not (smoltcp resets on a user timeout, lwIP's FIN has no ACK bit, ...) the
test quotes RFC 9293 and asserts the RFC's answer. Numbers are smoltcp's: LOCAL_SEQ = 10000 and
REMOTE_SEQ = -10001 (mod 2**32) are the ISSs, so our next byte L = LOCAL_SEQ + 1 and the peer's
next byte R = 2**32 - 10000: every comparison runs near the top of the sequence space.
"""

from __future__ import annotations

import pytest

from reference_impl.actions import CLOSING_ERROR, NO_CONNECTION, RESET_ERROR, USER_TIMEOUT
from reference_impl.handlers import handle
from reference_impl.profiles import LINUX, RFC9293, Profile
from reference_impl.segment import ACK, FIN, MOD, RST, SYN, Flags, Segment, seq_add
from reference_impl.states import (
    AppAbort,
    AppClose,
    AppSend,
    Arrival,
    CancelTimer,
    DeliverData,
    DeliverEOF,
    Error,
    Send,
    StartTimer,
    State,
    Step,
    Stimulus,
    Timeout,
    Timer,
)
from reference_impl.tcb import TCB

LOCAL_SEQ, REMOTE_SEQ = 10000, (-10001) % MOD
L, R = LOCAL_SEQ + 1, (REMOTE_SEQ + 1) % MOD


def r(n: int) -> int:
    return seq_add(R, n)


def l(n: int) -> int:  # noqa: E743
    return seq_add(L, n)


class EP:
    def __init__(self, state: State, tcb: TCB, profile: Profile = RFC9293) -> None:
        self.state, self.tcb, self.profile = state, tcb, profile

    def feed(self, ev: Stimulus) -> Step:
        step = handle(self.state, self.tcb, ev, self.profile)
        self.state = step.state
        if step.tcb is not None:
            self.tcb = step.tcb
        return step

    def recv(
        self, seq: int, ack: int | None = None, flags: Flags = ACK, payload: bytes = b"", window: int = 65535
    ) -> Step:
        return self.feed(Arrival(Segment(seq=seq, ack=ack or 0, flags=flags, payload=payload, window=window)))


def sends(step: Step) -> list[tuple[Flags, int, int, bytes]]:
    return [
        (o.segment.flags, o.segment.seq, o.segment.ack, o.segment.payload) for o in step.outputs if isinstance(o, Send)
    ]


def of(step: Step, kind: type) -> list:
    return [o for o in step.outputs if isinstance(o, kind)]


# ---- fixtures: each state reached by driving the handlers, as tests/reference/conftest.py does ----


def established(p: Profile = RFC9293, **tcb: object) -> EP:
    t = TCB.established(L, R)
    return EP(State.ESTABLISHED, t.replace(**tcb) if tcb else t, p)


def fin_wait_1(p: Profile = RFC9293) -> EP:
    ep = established(p)
    step = ep.feed(AppClose(shutdown=True))
    assert sends(step) == [(FIN | ACK, L, R, b"")]
    return ep


def fin_wait_2(p: Profile = RFC9293) -> EP:
    ep = fin_wait_1(p)
    ep.recv(R, l(1))
    assert ep.state is State.FIN_WAIT_2
    return ep


def closing(p: Profile = RFC9293) -> EP:
    ep = fin_wait_1(p)
    ep.recv(R, L, FIN | ACK)
    assert ep.state is State.CLOSING
    return ep


def time_wait(p: Profile = RFC9293, from_closing: bool = False) -> EP:
    if from_closing:
        ep = closing(p)
        ep.recv(r(1), l(1))
    else:
        ep = fin_wait_2(p)
        ep.recv(R, l(1), FIN | ACK)
    assert ep.state is State.TIME_WAIT
    return ep


def close_wait(p: Profile = RFC9293) -> EP:
    ep = established(p)
    ep.recv(R, L, FIN | ACK)
    assert ep.state is State.CLOSE_WAIT
    return ep


def last_ack(p: Profile = RFC9293) -> EP:
    ep = close_wait(p)
    step = ep.feed(AppClose(shutdown=True))
    assert sends(step) == [(FIN | ACK, L, r(1), b"")]
    assert ep.state is State.LAST_ACK
    return ep


# =============================== smoltcp: ESTABLISHED ===============================


def test_smol_established_fin():
    ep = established()
    step = ep.recv(R, L, FIN | ACK)
    assert ep.state is State.CLOSE_WAIT
    assert sends(step) == [(ACK, L, r(1), b"")]
    assert DeliverEOF() in step.outputs


def test_smol_established_fin_after_missing_rfc_minimum():
    # RFC 9293 §3.10.7.4 first check: "Segments with higher beginning sequence numbers may be held
    # for later processing" - a MAY; the reference keeps no reassembly queue, so the hole-filling
    # segment is acknowledged alone (R+6) and the peer retransmits the rest. Permitted.
    ep = established()
    ep.recv(r(6), L, FIN | ACK, b"123456")
    step = ep.recv(R, L, ACK, b"abcdef")
    assert sends(step) == [(ACK, L, r(6), b"")] and ep.state is State.ESTABLISHED


def test_smol_established_send_fin():
    # smoltcp: data queued before the peer's FIN arrives leaves afterwards carrying ACK=R+1.
    # The reference sends on AppSend at once (no lazy dispatch), so the data carries ACK=R; what is
    # checked is the state and that the FIN is acknowledged.
    ep = established()
    step = ep.feed(AppSend(b"abcdef"))
    assert sends(step) == [(ACK, L, R, b"abcdef")]
    step = ep.recv(R, L, FIN | ACK)
    assert ep.state is State.CLOSE_WAIT
    assert sends(step) == [(ACK, l(6), r(1), b"")]


def test_smol_established_rst():
    ep = established()
    step = ep.recv(R, L, RST | ACK)
    assert ep.state is State.CLOSED and of(step, Error) == [Error(RESET_ERROR)] and not sends(step)


def test_smol_established_rst_no_ack():
    ep = established()
    step = ep.recv(R, 0, RST)
    assert ep.state is State.CLOSED and of(step, Error) == [Error(RESET_ERROR)]


def test_smol_established_close():
    ep = established()
    step = ep.feed(AppClose(shutdown=True))
    assert ep.state is State.FIN_WAIT_1 and sends(step) == [(FIN | ACK, L, R, b"")]


@pytest.mark.parametrize("profile", [RFC9293, LINUX], ids=lambda p: p.name)
def test_smol_established_abort(profile):
    # smoltcp sends <SEQ=L><ACK=R><CTL=RST,ACK>. RFC 9293 §3.10.5 ABORT, ESTABLISHED: "Send a reset
    # segment: <SEQ=SND.NXT><CTL=RST>" - no ACK; Linux (profile linux) adds the ACK as smoltcp does.
    ep = established(profile)
    step = ep.feed(AppAbort())
    assert ep.state is State.CLOSED
    if profile is LINUX:
        assert sends(step) == [(RST | ACK, L, R, b"")]
    else:
        assert sends(step) == [(RST, L, 0, b"")]


def test_smol_established_rst_bad_seq():
    ep = established()
    step = ep.recv(seq_add(R, -1), 0, RST)  # REMOTE_SEQ: one before the window
    assert ep.state is State.ESTABLISHED and step.outputs == ()
    step = ep.recv(R, 0, RST)
    assert ep.state is State.CLOSED


def test_smol_bad_seq_rst_dropped_silently():
    # smoltcp's receive window is 64 bytes, so R+256 is outside it; give the reference the same window.
    ep = established(rcv_wnd=64)
    step = ep.recv(r(256), L, RST | ACK)
    assert ep.state is State.ESTABLISHED and step.outputs == ()
    step = ep.recv(r(256), L, RST | ACK, b"abcdef")
    assert ep.state is State.ESTABLISHED and step.outputs == ()


def test_smol_established_receive_partially_outside_window_fin():
    ep = established()
    ep.recv(R, L, ACK, b"abc")
    step = ep.recv(R, L, FIN | ACK, b"abcdef")
    assert DeliverData(b"def") in step.outputs
    assert ep.state is State.CLOSE_WAIT
    assert sends(step) == [(ACK, L, r(7), b"")]


@pytest.mark.parametrize("profile", [RFC9293, LINUX], ids=lambda p: p.name)
def test_smol_zero_window_fin(profile):
    # smoltcp: "Even though the sequence space for the FIN itself is outside the window, it is not
    # data, so FIN must be accepted when window full" -> CLOSE_WAIT, ACK R+7.
    # RFC 9293 §3.10.7.4 first check: SEG.LEN > 0 and RCV.WND = 0 is "not acceptable"; "If the
    # RCV.WND is zero, no segments will be acceptable, but special allowance should be made to accept
    # valid ACKs, URGs, and RSTs" (no FIN) -> ACK <SEQ=SND.NXT><ACK=RCV.NXT>, drop, stay ESTABLISHED.
    # Linux tcp_data_queue takes the bare FIN into a zero window (profile linux: accept_window_edges).
    ep = established(profile, rcv_wnd=6)
    ep.recv(R, L, ACK, b"abcdef")
    ep.tcb = ep.tcb.replace(rcv_wnd=0)  # the application has not read: the buffer is full
    step = ep.recv(r(6), L, FIN | ACK)
    if profile is LINUX:
        assert ep.state is State.CLOSE_WAIT
        assert DeliverEOF() in step.outputs
    else:
        assert ep.state is State.ESTABLISHED
        assert sends(step) == [(ACK, L, r(6), b"")]


# =============================== smoltcp: FIN-WAIT-1 ===============================


def test_smol_fin_wait_1_fin_ack():
    ep = fin_wait_1()
    step = ep.recv(R, l(1))
    assert ep.state is State.FIN_WAIT_2 and not sends(step)
    assert CancelTimer(Timer.RETRANSMIT) in step.outputs


def test_smol_fin_wait_1_fin_fin():
    ep = fin_wait_1()
    step = ep.recv(R, L, FIN | ACK)
    assert ep.state is State.CLOSING and sends(step) == [(ACK, l(1), r(1), b"")]


def test_smol_fin_wait_1_fin_with_data_queued():
    ep = established(snd_wnd=6)
    assert sends(ep.feed(AppSend(b"abcdef123456"))) == [(ACK, L, R, b"abcdef")]
    step = ep.feed(AppClose(shutdown=True))
    assert not sends(step)  # the FIN waits behind "123456"
    step = ep.recv(R, l(6), window=6)
    assert ep.state is State.FIN_WAIT_1  # smoltcp's whole expectation: passes


def test_smol_fin_wait_1_fin_with_data_queued_rfc_send():
    # The same input, checking what leaves. After <ACK=L+6><WND=6> the usable window is 6 and exactly
    # "123456" waits (the FIN, one more sequence number, does not fit). RFC 9293 §3.8.6.2.1 (sender
    # SWS avoidance, MUST-38): send "(2) or if the data is pushed and all queued data can be sent
    # now, i.e., if: [SND.NXT = SND.UNA and] PUSHed and D <= U", "(3) or if at least a fraction Fs
    # of the maximum window can be sent". Both hold (D = U = 6, SND.NXT = SND.UNA; CLOSE pushes), so
    # the six octets go now; only the FIN waits for window (§3.8.6: nothing past SND.UNA+SND.WND).
    ep = established(snd_wnd=6)
    ep.feed(AppSend(b"abcdef123456"))
    ep.feed(AppClose(shutdown=True))
    step = ep.recv(R, l(6), window=6)
    assert sends(step) == [(ACK, l(6), R, b"123456")]


def test_smol_fin_wait_1_recv():
    ep = fin_wait_1()
    step = ep.recv(R, L, ACK, b"abc")
    assert ep.state is State.FIN_WAIT_1 and DeliverData(b"abc") in step.outputs
    assert sends(step) == [(ACK, l(1), r(3), b"")]


def test_smol_fin_wait_1_close():
    ep = fin_wait_1()
    step = ep.feed(AppClose(shutdown=True))
    assert ep.state is State.FIN_WAIT_1 and not sends(step)  # no second FIN
    assert of(step, Error) == [Error(CLOSING_ERROR)]


def test_smol_rx_close_fin_in_fin_wait_1():
    ep = fin_wait_1()
    step = ep.recv(R, L, FIN | ACK, b"abc")
    assert ep.state is State.CLOSING
    assert [o for o in step.outputs if isinstance(o, (DeliverData, DeliverEOF))] == [DeliverData(b"abc"), DeliverEOF()]


def test_smol_fin_wait_1_retransmit_reset_after_ack():
    ep = established(snd_wnd=6)
    ep.feed(AppSend(b"abcdef"))
    ep.feed(AppSend(b"123456"))
    ep.feed(AppSend(b"ABCDEF"))
    ep.feed(AppClose(shutdown=True))
    step = ep.recv(R, l(6), window=6)
    assert sends(step) == [(ACK, l(6), R, b"123456")]
    step = ep.recv(R, l(12), window=6)
    # smoltcp: <SEQ=L+12><CTL=FIN> with "ABCDEF". Only 6 octets of window: data and FIN need 7. The
    # FIN occupies sequence space (RFC 9293 §3.4), and §3.8.6 forbids sending beyond SND.UNA+SND.WND,
    # so under RFC 9293 the FIN must wait. smoltcp sends it anyway.
    assert sends(step) == [(ACK, l(12), R, b"ABCDEF")]
    step = ep.recv(R, l(18), window=6)
    assert sends(step) == [(FIN | ACK, l(18), R, b"")]
    assert ep.state is State.FIN_WAIT_1


def test_smol_retransmit_fin():
    ep = established()
    step = ep.feed(AppClose(shutdown=True))
    assert StartTimer(Timer.RETRANSMIT, 1_000_000) in step.outputs  # smoltcp: resent at t = 1000 ms
    step = ep.feed(Timeout(Timer.RETRANSMIT))
    assert sends(step) == [(FIN | ACK, L, R, b"")]


@pytest.mark.parametrize("profile", [RFC9293], ids=lambda p: p.name)
def test_smol_fin_wait_1_timeout(profile):
    # smoltcp: when the user timeout expires it sends <SEQ=L+1><ACK=R><CTL=RST> and closes.
    # RFC 9293 §3.10.8 USER TIMEOUT: "For any state if the user timeout expires, flush all queues,
    # signal the user "error: connection aborted due to user timeout" in general and for any
    # outstanding calls, delete the TCB, enter the CLOSED state, and return." No RST is sent.
    # The reference has no user-timeout clock: the R2 retry limit (§3.8.3) plays it.
    ep = fin_wait_1(profile)
    ep.tcb = ep.tcb.replace(retries=profile.max_retries)
    step = ep.feed(Timeout(Timer.RETRANSMIT))
    assert ep.state is State.CLOSED and of(step, Error) == [Error(USER_TIMEOUT)] and not sends(step)


# =============================== smoltcp: FIN-WAIT-2 ===============================


def test_smol_fin_wait_2_fin():
    ep = fin_wait_2()
    step = ep.recv(R, l(1), FIN | ACK)
    assert ep.state is State.TIME_WAIT
    assert sends(step) == [(ACK, l(1), r(1), b"")]  # smoltcp test_time_wait_from_fin_wait_2_ack
    assert StartTimer(Timer.TIME_WAIT, RFC9293.time_wait) in step.outputs


def test_smol_fin_wait_2_recv():
    ep = fin_wait_2()
    step = ep.recv(R, l(1), ACK, b"abc")
    assert ep.state is State.FIN_WAIT_2 and DeliverData(b"abc") in step.outputs
    assert sends(step) == [(ACK, l(1), r(3), b"")]


def test_smol_fin_wait_2_close():
    ep = fin_wait_2()
    step = ep.feed(AppClose(shutdown=True))
    assert ep.state is State.FIN_WAIT_2 and not sends(step) and of(step, Error) == [Error(CLOSING_ERROR)]


def test_smol_rx_close_fin_in_fin_wait_2():
    ep = fin_wait_2()
    step = ep.recv(R, l(1), FIN | ACK, b"abc")
    assert ep.state is State.TIME_WAIT
    assert [o for o in step.outputs if isinstance(o, (DeliverData, DeliverEOF))] == [DeliverData(b"abc"), DeliverEOF()]
    assert sends(step) == [(ACK, l(1), r(4), b"")]


# =============================== smoltcp: CLOSING ===============================


def test_smol_closing_ack_fin():
    ep = closing()
    step = ep.recv(r(1), l(1))
    assert ep.state is State.TIME_WAIT
    assert not sends(step)  # smoltcp test_time_wait_from_closing_no_ack
    assert StartTimer(Timer.TIME_WAIT, RFC9293.time_wait) in step.outputs


def test_smol_closing_close():
    ep = closing()
    step = ep.feed(AppClose(shutdown=True))
    assert ep.state is State.CLOSING and not sends(step) and of(step, Error) == [Error(CLOSING_ERROR)]


def test_smol_retransmit_fin_wait():
    # CLOSING: our FIN not acknowledged; it is retransmitted at 1 s and 3 s with ACK=R+1.
    ep = closing()
    step = ep.feed(Timeout(Timer.RETRANSMIT))
    assert sends(step) == [(FIN | ACK, L, r(1), b"")]
    assert StartTimer(Timer.RETRANSMIT, 2_000_000) in step.outputs
    step = ep.feed(Timeout(Timer.RETRANSMIT))
    assert sends(step) == [(FIN | ACK, L, r(1), b"")]
    assert ep.state is State.CLOSING


# =============================== smoltcp: TIME-WAIT ===============================


def test_smol_time_wait_close():
    ep = time_wait()
    step = ep.feed(AppClose(shutdown=True))
    assert ep.state is State.TIME_WAIT and not sends(step) and of(step, Error) == [Error(CLOSING_ERROR)]


def test_smol_time_wait_retransmit():
    ep = time_wait()
    step = ep.recv(R, l(1), FIN | ACK)
    assert ep.state is State.TIME_WAIT
    assert sends(step) == [(ACK, l(1), r(1), b"")]
    assert StartTimer(Timer.TIME_WAIT, RFC9293.time_wait) in step.outputs  # the 2 MSL timer restarts


def test_smol_time_wait_timeout():
    ep = time_wait()
    step = ep.feed(Timeout(Timer.TIME_WAIT))
    assert ep.state is State.CLOSED and step.outputs == ()


# =============================== smoltcp: CLOSE-WAIT ===============================


def test_smol_close_wait_ack():
    ep = close_wait()
    step = ep.feed(AppSend(b"abcdef"))
    assert sends(step) == [(ACK, L, r(1), b"abcdef")]
    step = ep.recv(r(1), l(6))
    assert ep.state is State.CLOSE_WAIT and not sends(step)
    assert CancelTimer(Timer.RETRANSMIT) in step.outputs


def test_smol_close_wait_close():
    ep = close_wait()
    step = ep.feed(AppClose(shutdown=True))
    assert ep.state is State.LAST_ACK and sends(step) == [(FIN | ACK, L, r(1), b"")]


def test_smol_close_wait_retransmit_reset_after_ack():
    ep = close_wait()
    ep.tcb = ep.tcb.replace(snd_wnd=6)
    assert sends(ep.feed(AppSend(b"abcdef123456ABCDEF"))) == [(ACK, L, r(1), b"abcdef")]
    assert sends(ep.recv(r(1), l(6), window=6)) == [(ACK, l(6), r(1), b"123456")]
    assert sends(ep.recv(r(1), l(12), window=6)) == [(ACK, l(12), r(1), b"ABCDEF")]
    assert ep.state is State.CLOSE_WAIT


# =============================== smoltcp: LAST-ACK ===============================


def test_smol_last_ack_fin_ack():
    ep = last_ack()
    step = ep.recv(r(1), l(1))
    assert ep.state is State.CLOSED and step.outputs == ()


def test_smol_last_ack_ack_not_of_fin():
    # smoltcp (since its "challenge ACK" change) answers a duplicate ACK (SEG.ACK = SND.UNA) in
    # LAST-ACK with <SEQ=SND.NXT><ACK=RCV.NXT>, citing RFC 9293 §3.10.7.4. RFC 9293 says no such
    # thing: fifth check, ESTABLISHED processing: "If the ACK is a duplicate (SEG.ACK =< SND.UNA), it
    # can be ignored."; LAST-ACK: "The only thing that can arrive in this state is an acknowledgment
    # of our FIN. If our FIN is now acknowledged, delete the TCB, enter the CLOSED state, and
    # return." The challenge ACK of RFC 5961 §5.2 is for SEG.ACK outside
    # [SND.UNA - MAX.SND.WND, SND.NXT] only. RFC answer: nothing sent, stay LAST-ACK.
    ep = last_ack()
    step = ep.recv(r(1), L)
    assert ep.state is State.LAST_ACK and not sends(step)
    step = ep.recv(r(1), l(1))
    assert ep.state is State.CLOSED


def test_smol_last_ack_partial_ack_no_challenge_ack():
    ep = close_wait()
    ep.feed(AppSend(b"x"))
    ep.feed(AppClose(shutdown=True))
    assert ep.state is State.LAST_ACK and ep.tcb.snd_nxt == l(2)
    step = ep.recv(r(1), l(1))  # acknowledges the data byte, not the FIN
    assert ep.state is State.LAST_ACK and not sends(step)
    assert ep.tcb.snd_una == l(1)


def test_smol_last_ack_close():
    ep = last_ack()
    step = ep.feed(AppClose(shutdown=True))
    assert ep.state is State.LAST_ACK and not sends(step) and of(step, Error) == [Error(CLOSING_ERROR)]


def test_smol_last_ack_timeout():
    # smoltcp sends RST when the user timeout expires; RFC 9293 §3.10.8 (quoted in
    # test_smol_fin_wait_1_timeout) only signals the user and deletes the TCB.
    ep = last_ack()
    ep.tcb = ep.tcb.replace(retries=RFC9293.max_retries)
    step = ep.feed(Timeout(Timer.RETRANSMIT))
    assert ep.state is State.CLOSED and of(step, Error) == [Error(USER_TIMEOUT)] and not sends(step)


# =============================== smoltcp: multi-state ===============================


def test_smol_remote_close():
    ep = established()
    assert sends(ep.recv(R, L, FIN | ACK)) == [(ACK, L, r(1), b"")]
    assert ep.state is State.CLOSE_WAIT
    assert sends(ep.feed(AppClose(shutdown=True))) == [(FIN | ACK, L, r(1), b"")]
    ep.recv(r(1), l(1))
    assert ep.state is State.CLOSED


def test_smol_local_close():
    ep = fin_wait_1()
    ep.recv(R, l(1))
    assert ep.state is State.FIN_WAIT_2
    step = ep.recv(R, l(1), FIN | ACK)
    assert ep.state is State.TIME_WAIT and sends(step) == [(ACK, l(1), r(1), b"")]


def test_smol_simultaneous_close():
    ep = fin_wait_1()
    step = ep.recv(R, L, FIN | ACK)
    assert ep.state is State.CLOSING and sends(step) == [(ACK, l(1), r(1), b"")]
    step = ep.recv(r(1), l(1))
    assert ep.state is State.TIME_WAIT and not sends(step)


def test_smol_simultaneous_close_combined_fin_ack():
    ep = fin_wait_1()
    step = ep.recv(R, l(1), FIN | ACK)
    assert ep.state is State.TIME_WAIT and sends(step) == [(ACK, l(1), r(1), b"")]


def test_smol_simultaneous_close_raced_with_data():
    # smoltcp has not sent data+FIN yet when the peer's FIN arrives; in the reference they left on
    # close(). The peer's FIN (acknowledging nothing of ours) takes FIN-WAIT-1 to CLOSING.
    ep = established()
    ep.feed(AppSend(b"abcdef"))
    step = ep.feed(AppClose(shutdown=True))
    assert sends(step) == [(FIN | ACK, l(6), R, b"")]
    ep.recv(R, L, FIN | ACK)
    assert ep.state is State.CLOSING
    step = ep.recv(r(1), l(7))
    assert ep.state is State.TIME_WAIT and not sends(step)


def test_smol_mutual_close_with_data_1():
    ep = established()
    ep.feed(AppSend(b"abcdef"))
    ep.feed(AppClose(shutdown=True))
    step = ep.recv(R, l(7), FIN | ACK)
    assert ep.state is State.TIME_WAIT and sends(step) == [(ACK, l(7), r(1), b"")]


def test_smol_mutual_close_with_data_2():
    ep = established()
    ep.feed(AppSend(b"abcdef"))
    ep.feed(AppClose(shutdown=True))
    ep.recv(R, l(7))
    assert ep.state is State.FIN_WAIT_2
    step = ep.recv(R, l(7), FIN | ACK)
    assert ep.state is State.TIME_WAIT and sends(step) == [(ACK, l(7), r(1), b"")]


def test_smol_rx_close_rst():
    ep = established()
    ep.recv(R, L, ACK, b"abc")
    step = ep.recv(r(3), L, RST | ACK)
    assert ep.state is State.CLOSED and of(step, Error) == [Error(RESET_ERROR)]


def test_smol_rx_close_fin_with_hole_rst():
    # smoltcp: after "abc" and an out-of-order "ghi"+FIN at R+6, an RST at R+9 resets the socket.
    # RCV.NXT is R+3, so R+9 is in the window but not RCV.NXT. RFC 9293 §3.10.7.4 second check
    # (RFC 5961 §3.2): "If the RST bit is set and the sequence number does not exactly match the
    # next expected sequence value, yet is within the current receive window, TCP endpoints MUST
    # send an acknowledgment (challenge ACK): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. After sending the
    # challenge ACK, TCP endpoints MUST drop the unacceptable segment and stop processing the
    # incoming packet further." (smoltcp's rx buffer is 64 bytes; with a window covering R+9 the
    # RFC's answer is the challenge ACK.)
    ep = established()
    ep.recv(R, L, ACK, b"abc")
    assert sends(ep.recv(r(6), L, FIN | ACK, b"ghi")) == [(ACK, L, r(3), b"")]
    step = ep.recv(r(9), L, RST | ACK)
    assert ep.state is State.ESTABLISHED and sends(step) == [(ACK, L, r(3), b"")]


# =============================== lwIP: test_tcp_state.c / test_tcp.c ===============================


def test_lwip_active_close():
    ep = established()
    step = ep.feed(AppClose(shutdown=True))
    assert ep.state is State.FIN_WAIT_1 and len(sends(step)) == 1
    ep.recv(R, l(1))
    assert ep.state is State.FIN_WAIT_2
    ep.recv(R, l(1), FIN)  # lwIP's FIN carries no ACK bit (tcp_create_rx_segment(..., TCP_FIN))
    # RFC 9293 fifth check: "if the ACK bit is off, drop the segment and return" -> lwIP moves to
    # TIME_WAIT on a FIN without ACK; RFC 9293 does not. Then with the ACK bit:
    assert ep.state is State.FIN_WAIT_2
    ep.recv(R, l(1), FIN | ACK)
    assert ep.state is State.TIME_WAIT
    ep.feed(Timeout(Timer.TIME_WAIT))
    assert ep.state is State.CLOSED


def test_lwip_simultaneous_close():
    # lwIP test_tcp_imultaneous_close: FIN (no ACK bit in lwIP's test) -> CLOSING; ACK -> TIME_WAIT.
    ep = fin_wait_1()
    ep.recv(R, L, FIN)
    assert ep.state is State.FIN_WAIT_1  # RFC 9293: no ACK bit -> dropped (lwIP: CLOSING)
    ep.recv(R, L, FIN | ACK)
    assert ep.state is State.CLOSING
    ep.recv(r(1), l(1))
    assert ep.state is State.TIME_WAIT


def test_lwip_gen_rst_in_time_wait():
    # lwIP: a SYN at RCV.NXT in TIME_WAIT is answered with RST and the pcb stays in TIME_WAIT.
    # RFC 9293 §3.10.7.4 fourth check, TIME-WAIT included: "RFC 5961 recommends that in these
    # synchronized states, if the SYN bit is set, irrespective of the exact sequence number, TCP
    # endpoints MUST send a "challenge ACK" to the remote peer: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>".
    # (The older RFC 793 path it also keeps sends a reset but then enters CLOSED: lwIP matches neither.)
    ep = time_wait()
    step = ep.recv(r(1), 0, SYN)
    assert ep.state is State.TIME_WAIT
    assert sends(step) == [(ACK, l(1), r(1), b"")]


def test_lwip_gen_rst_in_closed():
    ep = EP(State.CLOSED, TCB.established(L, R))
    step = ep.recv(12345, 54321, ACK)
    assert sends(step) == [(RST, 54321, 0, b"")]


def test_lwip_process_rst_seqno_established():
    ep = established()
    step = ep.recv(seq_add(R, -10), 54321, RST)
    assert ep.state is State.ESTABLISHED and step.outputs == ()
    step = ep.recv(R, 54321, RST)
    assert ep.state is State.CLOSED and of(step, Error) == [Error(RESET_ERROR)]


def test_lwip_passive_close():
    # lwIP's segment is <CTL=FIN> with one data octet and no ACK bit, and lwIP delivers it and enters
    # CLOSE_WAIT. RFC 9293 fifth check: "if the ACK bit is off, drop the segment and return".
    ep = established()
    step = ep.recv(R, L, FIN, b"\x0f")
    assert ep.state is State.ESTABLISHED and step.outputs == ()
    step = ep.recv(R, L, FIN | ACK, b"\x0f")
    assert ep.state is State.CLOSE_WAIT and DeliverData(b"\x0f") in step.outputs
    assert sends(step) == [(ACK, L, r(2), b"")]


def test_lwip_active_abort():
    ep = established()
    step = ep.feed(AppAbort())
    assert ep.state is State.CLOSED and len(sends(step)) == 1


def test_closed_close_smol():
    ep = EP(State.CLOSED, TCB.established(L, R))
    step = ep.feed(AppClose())
    assert ep.state is State.CLOSED and of(step, Error) == [Error(NO_CONNECTION)]


# =============================== extra RFC probes found while porting ===============================


def test_time_wait_retransmitted_fin_without_ack_bit():
    # The peer's FIN again, without the ACK bit. Read strictly, it fails the first check (SEG.SEQ =
    # RCV.NXT-1) and is ACKed there, and the TIME-WAIT sentence of the eighth step ("Acknowledge it,
    # and restart the 2 MSL timeout") is never reached by any retransmitted FIN. The course applies
    # that sentence to the retransmitted FIN, and so the fifth step before it: "if the ACK bit is off
    # drop the segment and return" (README, Faithfulness; notebooks 01, 04, 05). Linux ACKs it and
    # re-arms nothing (tcp_timewait_state_process), as the linux profile does.
    assert sends(time_wait().recv(R, 0, FIN)) == []
    linux = time_wait(LINUX)
    step = linux.recv(R, 0, FIN)
    assert sends(step) == [(ACK, l(1), r(1), b"")] and not of(step, StartTimer)


@pytest.mark.parametrize("make", [close_wait, closing, last_ack], ids=["close_wait", "closing", "last_ack"])
def test_rfc_other_states_retransmitted_fin_without_ack_bit(make):
    ep = make()
    before = ep.tcb
    step = ep.recv(R, 0, FIN)
    assert sends(step) == [(ACK, before.snd_nxt, r(1), b"")]


@pytest.mark.parametrize("profile", [RFC9293, LINUX], ids=lambda p: p.name)
def test_window_exactly_fits_last_data_not_fin_eventually_sends(profile):
    # The FIN-WAIT-1 case above, followed through the probe timer: the window stays 6 (the peer's
    # application keeps reading). RFC 9293 §3.8.6.1 probes a *zero* window; Linux's probe timer with
    # a non-zero window (tcp_write_wakeup) splits the queued skb to the window and sends the data.
    ep = established(profile, snd_wnd=6)
    ep.feed(AppSend(b"abcdef123456"))
    ep.feed(AppClose(shutdown=True))
    ep.recv(R, l(6), window=6)
    out = []
    for _ in range(3):
        step = ep.feed(Timeout(Timer.RETRANSMIT))
        out += sends(step)
        for _flags, seq, _ack, data in sends(step):
            ep.recv(R, seq_add(seq, len(data)) if data else ep.tcb.snd_una, window=6)
    sent_data = b"".join(d for f, seq, ack, d in out)
    assert sent_data.startswith(b"123456")  # all six octets leave within three timer expiries
