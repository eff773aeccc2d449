"""One test per (state, stimulus) pair RFC 9293 §3.10 defines for the closing states.

Sections follow the RFC's order of states; names say the state and what arrives.
Each test asserts the whole Step: next state and every output, in order.
"""

from __future__ import annotations

from conftest import (
    LOCAL,
    REMOTE,
    Endpoint,
    make_close_wait,
    make_closing,
    make_established,
    make_fin_wait_1,
    make_fin_wait_2,
    make_last_ack,
    make_time_wait,
    seg,
)

from reference_impl.profiles import LINUX, RFC9293, ms, sec
from reference_impl.segment import ACK, FIN, RST, Flags
from reference_impl.states import (
    AppAbort,
    AppClose,
    AppSend,
    CancelTimer,
    DeliverData,
    DeliverEOF,
    Error,
    Send,
    StartTimer,
    State,
    Timeout,
    Timer,
)
from reference_impl.tcb import TCB

RTO = RFC9293.rto(0, 20_000)  # 1 s: RFC 6298's minimum for a 20 ms path
TW = StartTimer(Timer.TIME_WAIT, RFC9293.time_wait)

# ---- ESTABLISHED ----------------------------------------------------------------------------


def test_established_close_sends_fin(established):
    step = established.feed(AppClose())
    assert step.state is State.FIN_WAIT_1
    assert step.outputs == (Send(seg(LOCAL, REMOTE, FIN | ACK)), StartTimer(Timer.RETRANSMIT, RTO))
    assert step.tcb.snd_nxt == LOCAL + 1  # the FIN consumes one sequence number
    assert step.tcb.fin_seq == LOCAL


def test_established_fin(established):
    step = established.recv(REMOTE, LOCAL, FIN | ACK)
    assert step.state is State.CLOSE_WAIT
    assert step.outputs == (Send(seg(LOCAL, REMOTE + 1)), DeliverEOF())


def test_established_data_then_fin_in_one_segment(established):
    step = established.recv(REMOTE, LOCAL, FIN | ACK, b"bye")
    assert step.state is State.CLOSE_WAIT
    assert step.outputs == (Send(seg(LOCAL, REMOTE + 4)), DeliverData(b"bye"), DeliverEOF())


def test_established_rst(established):
    step = established.recv(REMOTE, LOCAL, RST)
    assert step.state is State.CLOSED
    assert step.outputs == (Error("connection reset"),)


def test_established_rst_in_window_but_not_rcv_nxt_gets_challenge_ack(established):
    step = established.recv(REMOTE + 10, LOCAL, RST)
    assert step.state is State.ESTABLISHED
    assert step.outputs == (Send(seg(LOCAL, REMOTE)),)


def test_established_rst_outside_window_is_ignored(established):
    step = established.recv(REMOTE - 1, LOCAL, RST)
    assert (step.state, step.outputs) == (State.ESTABLISHED, ())


def test_established_unacceptable_segment_gets_ack(established):
    step = established.recv(REMOTE - 5, LOCAL, ACK, b"old")
    assert (step.state, step.outputs) == (State.ESTABLISHED, (Send(seg(LOCAL, REMOTE)),))


def test_established_ack_of_unsent_data_gets_ack(established):
    step = established.recv(REMOTE, LOCAL + 50)
    assert (step.state, step.outputs) == (State.ESTABLISHED, (Send(seg(LOCAL, REMOTE)),))


def test_established_abort_sends_rst(established):
    step = established.feed(AppAbort())
    assert (step.state, step.outputs) == (State.CLOSED, (Send(seg(LOCAL, 0, RST)),))


def test_established_send_then_close_fin_follows_data(established):
    established.feed(AppSend(b"hello"))
    step = established.feed(AppClose())
    assert step.outputs[0] == Send(seg(LOCAL + 5, REMOTE, FIN | ACK))


def test_established_fin_linux_delays_the_ack_one_tick():
    # Linux tcp_fin(): pingpong mode, the delayed-ACK timer with ato 0 (measured: 0.5-4 ms, DelayedACKs 1).
    ep = make_established(LINUX)
    step = ep.recv(REMOTE, LOCAL, FIN | ACK)
    assert step.state is State.CLOSE_WAIT
    assert step.outputs == (DeliverEOF(), StartTimer(Timer.DELAYED_ACK, ms(4)))
    assert ep.feed(Timeout(Timer.DELAYED_ACK)).outputs == (Send(seg(LOCAL, REMOTE + 1)),)


def test_established_fin_after_data_linux_delays_the_ack_40_ms():
    ep = make_established(LINUX)
    assert ep.recv(REMOTE, LOCAL, ACK, b"hi").outputs == (Send(seg(LOCAL, REMOTE + 2)), DeliverData(b"hi"))
    step = ep.recv(REMOTE + 2, LOCAL, FIN | ACK)
    assert step.outputs == (DeliverEOF(), StartTimer(Timer.DELAYED_ACK, ms(40)))


def test_established_empty_segment_past_rcv_nxt_is_not_acked(established):
    # Only text (or a FIN) out of order is acknowledged: an empty segment has none (seventh step).
    for profile in (RFC9293, LINUX):
        step = make_established(profile).recv(REMOTE + 10, LOCAL)
        assert (step.state, step.outputs) == (State.ESTABLISHED, ())


def test_established_data_past_rcv_nxt_is_acked(established):
    step = established.recv(REMOTE + 10, LOCAL, ACK, b"later")
    assert (step.state, step.outputs) == (State.ESTABLISHED, (Send(seg(LOCAL, REMOTE)),))


def test_established_segment_on_the_right_edge():
    edge = REMOTE + 65535  # RCV.NXT + RCV.WND
    # RFC 9293: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND, so the right edge is outside: ACK and drop.
    assert make_established(RFC9293).recv(edge, LOCAL).outputs == (Send(seg(LOCAL, REMOTE)),)
    # Linux tcp_sequence(): !after(SEG.SEQ, RCV.NXT+RCV.WND): taken, silently.
    assert make_established(LINUX).recv(edge, LOCAL).outputs == ()
    assert make_established(LINUX).recv(edge + 1, LOCAL).outputs == (Send(seg(LOCAL, REMOTE)),)


def test_established_bare_fin_into_a_zero_window():
    def zero(profile):
        ep = make_established(profile)
        ep.tcb = ep.tcb.replace(rcv_wnd=0)
        return ep

    ep = zero(RFC9293)  # SEG.LEN > 0, RCV.WND = 0: not acceptable
    refused = (Send(seg(LOCAL, REMOTE, window=0)),)  # the ACK says RCV.WND = 0 again
    assert (ep.recv(REMOTE, LOCAL, FIN | ACK).outputs, ep.state) == (refused, State.ESTABLISHED)
    ep = zero(LINUX)  # tcp_data_queue() takes a bare FIN even into a zero window
    assert ep.recv(REMOTE, LOCAL, FIN | ACK).state is State.CLOSE_WAIT
    ep = zero(LINUX)  # but not data
    assert (ep.recv(REMOTE, LOCAL, ACK, b"x").outputs, ep.state) == (refused, State.ESTABLISHED)


def test_established_send_is_cut_into_mss_segments():
    ep = make_established()
    ep.tcb = ep.tcb.replace(mss=4)
    step = ep.feed(AppSend(b"0123456789"))
    assert step.outputs == (Send(seg(LOCAL, REMOTE, ACK, b"0123")), Send(seg(LOCAL + 4, REMOTE, ACK, b"4567")),
                            Send(seg(LOCAL + 8, REMOTE, ACK, b"89")), StartTimer(Timer.RETRANSMIT, RTO))  # fmt: skip


def test_established_send_into_a_zero_window_waits_for_it():
    ep = make_established()
    ep.tcb = ep.tcb.replace(snd_wnd=0)
    step = ep.feed(AppSend(b"held"))
    assert step.outputs == (StartTimer(Timer.RETRANSMIT, RTO),)  # the probe timer
    assert (ep.tcb.snd_nxt, ep.tcb.unsent) == (LOCAL, b"held")
    step = ep.recv(REMOTE, LOCAL, ACK)  # a window update: 65535 again
    assert step.outputs == (Send(seg(LOCAL, REMOTE, ACK, b"held")), StartTimer(Timer.RETRANSMIT, RTO))


def test_established_close_queues_the_fin_behind_waiting_data():
    ep = make_established()
    ep.tcb = ep.tcb.replace(snd_wnd=0)
    ep.feed(AppSend(b"held"))
    step = ep.feed(AppClose())
    assert (step.state, step.outputs) == (State.FIN_WAIT_1, ())  # the probe timer already runs
    assert ep.tcb.fin_seq == LOCAL + 4 and not ep.tcb.fin_sent
    step = ep.recv(REMOTE, LOCAL, ACK)  # the window opens: the data leaves with the FIN on it
    assert step.outputs[0] == Send(seg(LOCAL, REMOTE, FIN | ACK, b"held"))
    assert ep.tcb.snd_nxt == LOCAL + 5


# ---- FIN_WAIT_1 ---------------------------------------------------------------------------


def test_fin_wait_1_ack_of_fin(fin_wait_1):
    step = fin_wait_1.recv(REMOTE, LOCAL + 1)
    assert step.state is State.FIN_WAIT_2
    assert step.outputs == (CancelTimer(Timer.RETRANSMIT),)


def test_fin_wait_1_ack_of_data_is_not_ack_of_fin():
    ep = make_established()
    ep.feed(AppSend(b"x" * 10))
    ep.feed(AppClose())  # FIN at LOCAL + 10
    step = ep.recv(REMOTE, LOCAL + 10)  # acknowledges the data only
    assert step.state is State.FIN_WAIT_1
    assert step.outputs == (StartTimer(Timer.RETRANSMIT, RTO),)
    step = ep.recv(REMOTE, LOCAL + 11)
    assert step.state is State.FIN_WAIT_2


def test_fin_wait_1_fin_without_ack_of_ours_goes_closing(fin_wait_1):
    step = fin_wait_1.recv(REMOTE, LOCAL, FIN | ACK)
    assert step.state is State.CLOSING
    assert step.outputs == (Send(seg(LOCAL + 1, REMOTE + 1)), DeliverEOF())


def test_fin_wait_1_fin_ack(fin_wait_1):
    step = fin_wait_1.recv(REMOTE, LOCAL + 1, FIN | ACK)
    assert step.state is State.TIME_WAIT
    assert step.outputs == (CancelTimer(Timer.RETRANSMIT), Send(seg(LOCAL + 1, REMOTE + 1)), DeliverEOF(), TW)


def test_fin_wait_1_data_still_accepted(fin_wait_1):
    step = fin_wait_1.recv(REMOTE, LOCAL, ACK, b"more")
    assert step.state is State.FIN_WAIT_1
    assert step.outputs == (Send(seg(LOCAL + 1, REMOTE + 4)), DeliverData(b"more"))


def test_fin_wait_1_rst(fin_wait_1):
    step = fin_wait_1.recv(REMOTE, 0, RST)
    assert (step.state, step.outputs) == (State.CLOSED, (Error("connection reset"),))


def test_fin_wait_1_retransmit_backs_off(fin_wait_1):
    step = fin_wait_1.feed(Timeout(Timer.RETRANSMIT))
    assert step.state is State.FIN_WAIT_1
    assert step.outputs == (Send(seg(LOCAL, REMOTE, FIN | ACK)), StartTimer(Timer.RETRANSMIT, 2 * RTO))
    step = fin_wait_1.feed(Timeout(Timer.RETRANSMIT))
    assert step.outputs[1] == StartTimer(Timer.RETRANSMIT, 4 * RTO)


def test_fin_wait_1_retry_limit_aborts(fin_wait_1):
    for _ in range(RFC9293.max_retries):
        assert fin_wait_1.feed(Timeout(Timer.RETRANSMIT)).state is State.FIN_WAIT_1
    step = fin_wait_1.feed(Timeout(Timer.RETRANSMIT))
    assert (step.state, step.outputs) == (State.CLOSED, (Error("connection aborted due to user timeout"),))


def test_fin_wait_1_linux_tail_loss_probe_first():
    ep = make_fin_wait_1(LINUX)
    rto = LINUX.rto(0, 20_000)
    assert rto == ms(220)
    step = ep.feed(Timeout(Timer.RETRANSMIT))  # the probe: no backoff, no retry counted
    assert step.outputs == (Send(seg(LOCAL, REMOTE, FIN | ACK)), StartTimer(Timer.RETRANSMIT, rto))
    assert ep.tcb.retries == 0
    step = ep.feed(Timeout(Timer.RETRANSMIT))
    assert step.outputs[1] == StartTimer(Timer.RETRANSMIT, 2 * rto)


def test_fin_wait_1_ack_while_our_fin_waits_behind_the_window_is_not_its_ack():
    ep = make_established()
    ep.tcb = ep.tcb.replace(snd_wnd=0)
    ep.feed(AppClose())  # nothing waits but the FIN, and a zero window holds it
    assert ep.state is State.FIN_WAIT_1 and not ep.tcb.fin_sent
    step = ep.recv(REMOTE, LOCAL, ACK, window=0)
    assert (step.state, step.outputs) == (State.FIN_WAIT_1, ())


def test_fin_wait_1_probe_timeout_probes_the_zero_window():
    for profile, probe in ((LINUX, seg(LOCAL - 1, REMOTE)), (RFC9293, seg(LOCAL, REMOTE, FIN | ACK))):
        ep = make_established(profile)
        ep.tcb = ep.tcb.replace(snd_wnd=0)
        ep.feed(AppClose())
        step = ep.feed(Timeout(Timer.RETRANSMIT))
        # Linux tcp_xmit_probe_skb(): <SEQ=SND.UNA-1>, no data; RFC 9293 §3.8.6.1: one octet (here the FIN).
        assert step.outputs == (Send(probe), StartTimer(Timer.RETRANSMIT, 2 * profile.rto(0, 20_000))), profile.name
        for _ in range(profile.max_retries + 2):  # probing never gives up while the window stays shut
            assert ep.feed(Timeout(Timer.RETRANSMIT)).state is State.FIN_WAIT_1


def test_fin_wait_1_close_again_is_an_error_and_sends_no_second_fin(fin_wait_1):
    step = fin_wait_1.feed(AppClose())
    assert (step.state, step.outputs) == (State.FIN_WAIT_1, (Error("connection closing"),))


def test_fin_wait_1_send_is_an_error(fin_wait_1):
    assert fin_wait_1.feed(AppSend(b"late")).outputs == (Error("connection closing"),)


def test_fin_wait_1_abort_sends_rst(fin_wait_1):
    step = fin_wait_1.feed(AppAbort())
    assert (step.state, step.outputs) == (State.CLOSED, (Send(seg(LOCAL + 1, 0, RST)),))


# ---- FIN_WAIT_2 ---------------------------------------------------------------------------


def test_fin_wait_2_fin(fin_wait_2):
    step = fin_wait_2.recv(REMOTE, LOCAL + 1, FIN | ACK)
    assert step.state is State.TIME_WAIT
    assert step.outputs == (Send(seg(LOCAL + 1, REMOTE + 1)), DeliverEOF(), TW)


def test_fin_wait_2_data_half_close(fin_wait_2):
    step = fin_wait_2.recv(REMOTE, LOCAL + 1, ACK, b"still talking")
    assert step.state is State.FIN_WAIT_2
    assert step.outputs == (Send(seg(LOCAL + 1, REMOTE + 13)), DeliverData(b"still talking"))


def test_fin_wait_2_rst(fin_wait_2):
    assert fin_wait_2.recv(REMOTE, 0, RST).state is State.CLOSED


def test_fin_wait_2_has_no_timer_in_the_rfc(fin_wait_2):
    assert fin_wait_2.feed(Timeout(Timer.FIN_WAIT_2)).state is State.CLOSED  # only if started
    ep = make_fin_wait_1()
    assert ep.recv(REMOTE, LOCAL + 1).outputs == (CancelTimer(Timer.RETRANSMIT),)


def test_fin_wait_2_linux_orphan_timeout():
    ep = make_fin_wait_1(LINUX)
    step = ep.recv(REMOTE, LOCAL + 1)
    assert step.outputs == (CancelTimer(Timer.RETRANSMIT), StartTimer(Timer.FIN_WAIT_2, sec(60)))
    assert (ep.feed(Timeout(Timer.FIN_WAIT_2)).state, ep.state) == (State.CLOSED, State.CLOSED)


def test_fin_wait_2_linux_shutdown_has_no_orphan_timer():
    ep = make_established(LINUX)
    ep.feed(AppClose(shutdown=True))
    assert ep.recv(REMOTE, LOCAL + 1).outputs == (CancelTimer(Timer.RETRANSMIT),)


def test_fin_wait_2_linux_orphan_refuses_data_with_rst_and_is_gone():
    # Measured on Linux 6.x (autograder.kernel, scenario data-after-close): <SEQ=SEG.ACK><CTL=RST>, CLOSED.
    ep = make_fin_wait_2(LINUX)
    step = ep.recv(REMOTE, LOCAL + 1, ACK, b"too late")
    assert (step.state, step.outputs) == (State.CLOSED, (Send(seg(LOCAL + 1, 0, RST)),))


def test_fin_wait_2_rfc9293_still_takes_data_after_close():
    # RFC 9293's CLOSE only ends sending: the user may still receive.
    step = make_fin_wait_2(RFC9293).recv(REMOTE, LOCAL + 1, ACK, b"still read")
    assert step.state is State.FIN_WAIT_2 and DeliverData(b"still read") in step.outputs


def test_fin_wait_2_close_is_an_error(fin_wait_2):
    assert fin_wait_2.feed(AppClose()).outputs == (Error("connection closing"),)


def test_fin_wait_2_abort_sends_rst(fin_wait_2):
    assert fin_wait_2.feed(AppAbort()).outputs == (Send(seg(LOCAL + 1, 0, RST)),)


# ---- CLOSING ------------------------------------------------------------------------------


def test_closing_ack_of_fin(closing):
    step = closing.recv(REMOTE + 1, LOCAL + 1)
    assert step.state is State.TIME_WAIT
    assert step.outputs == (CancelTimer(Timer.RETRANSMIT), TW)


def test_closing_ack_not_of_fin_is_ignored(closing):
    step = closing.recv(REMOTE + 1, LOCAL)
    assert (step.state, step.outputs) == (State.CLOSING, ())


def test_closing_ack_of_data_only_restarts_the_retransmission_timer():
    # "In addition to the processing for the ESTABLISHED state": SND.UNA advances and, with
    # data still unacknowledged (our FIN), the timer restarts (RFC 6298 5.3), as in FIN_WAIT_1.
    ep = make_established()
    ep.feed(AppSend(b"x" * 10))
    ep.feed(AppClose())  # FIN at LOCAL + 10
    assert ep.recv(REMOTE, LOCAL, FIN | ACK).state is State.CLOSING  # the peer's FIN crosses ours
    step = ep.recv(REMOTE + 1, LOCAL + 10)  # acknowledges the data only
    assert (step.state, step.outputs) == (State.CLOSING, (StartTimer(Timer.RETRANSMIT, RTO),))
    assert ep.recv(REMOTE + 1, LOCAL + 11).state is State.TIME_WAIT


def test_closing_retransmitted_fin_is_acked(closing):
    step = closing.recv(REMOTE, LOCAL, FIN | ACK)
    assert (step.state, step.outputs) == (State.CLOSING, (Send(seg(LOCAL + 1, REMOTE + 1)),))


def test_closing_retransmitted_fin_that_acks_ours():
    # RFC 9293: it lies before RCV.NXT, unacceptable: ACK and drop, its ACK field unread.
    ep = make_closing(RFC9293)
    step = ep.recv(REMOTE, LOCAL + 1, FIN | ACK)
    assert (step.state, step.outputs) == (State.CLOSING, (Send(seg(LOCAL + 1, REMOTE + 1)),))
    # Linux tcp_sequence(): it ends at RCV.NXT, acceptable; its ACK covers our FIN: TIME_WAIT, no reply
    # (measured: scenario simultaneous-close-lost-acks).
    ep = make_closing(LINUX)
    step = ep.recv(REMOTE, LOCAL + 1, FIN | ACK)
    assert (step.state, step.outputs) == (
        State.TIME_WAIT,
        (CancelTimer(Timer.RETRANSMIT), StartTimer(Timer.TIME_WAIT, sec(60))),
    )


def test_closing_retransmit_timeout_resends_fin(closing):
    step = closing.feed(Timeout(Timer.RETRANSMIT))
    assert step.outputs[0] == Send(seg(LOCAL, REMOTE + 1, FIN | ACK))


def test_closing_rst(closing):
    assert (closing.recv(REMOTE + 1, 0, RST).state) is State.CLOSED


def test_closing_abort_is_ok_without_rst(closing):
    step = closing.feed(AppAbort())
    assert (step.state, step.outputs) == (State.CLOSED, ())


def test_closing_close_is_an_error(closing):
    assert closing.feed(AppClose()).outputs == (Error("connection closing"),)


# ---- TIME_WAIT ----------------------------------------------------------------------------


def test_time_wait_retransmitted_fin_is_reacked_and_restarts_timer(time_wait):
    step = time_wait.recv(REMOTE, LOCAL + 1, FIN | ACK)
    assert step.state is State.TIME_WAIT
    assert step.outputs == (Send(seg(LOCAL + 1, REMOTE + 1)), TW)


def test_time_wait_retransmitted_fin_without_ack_is_dropped(time_wait):
    # Fifth step: "if the ACK bit is off drop the segment and return": no ACK, no restart.
    step = time_wait.recv(REMOTE, None, FIN)
    assert (step.state, step.outputs) == (State.TIME_WAIT, ())


def test_time_wait_rst_shaped_like_the_fin_again_is_dropped_silently(time_wait):
    # It ends at RCV.NXT as B's FIN again would, but carries RST: an unacceptable segment with RST is
    # dropped (first check, "unless the RST bit is set"), so no ACK and no restarted 2 MSL.
    step = time_wait.recv(REMOTE, LOCAL + 1, RST | FIN | ACK)
    assert (step.state, step.outputs) == (State.TIME_WAIT, ())


def test_time_wait_data_is_acked_and_restarts_timer(time_wait):
    # "Acknowledge it, and restart the 2 MSL timeout"; the text itself is ignored (seventh step).
    step = time_wait.recv(REMOTE + 1, LOCAL + 1, ACK, b"xyz")
    assert (step.state, step.outputs) == (State.TIME_WAIT, (Send(seg(LOCAL + 1, REMOTE + 1)), TW))
    assert time_wait.tcb.rcv_nxt == REMOTE + 1


def test_time_wait_new_fin_is_acked_at_rcv_nxt(time_wait):
    step = time_wait.recv(REMOTE + 1, LOCAL + 1, FIN | ACK)
    assert (step.state, step.outputs) == (State.TIME_WAIT, (Send(seg(LOCAL + 1, REMOTE + 1)), TW))


def test_time_wait_ack_restarts_timer_silently(time_wait):
    # Nothing to acknowledge in an ACK-only segment (answering it would start an exchange of ACKs).
    step = time_wait.recv(REMOTE + 1, LOCAL + 1)
    assert (step.state, step.outputs) == (State.TIME_WAIT, (TW,))


def test_time_wait_rst_in_window_gets_challenge_ack(time_wait):
    step = time_wait.recv(REMOTE + 2, 0, RST)
    assert (step.state, step.outputs) == (State.TIME_WAIT, (Send(seg(LOCAL + 1, REMOTE + 1)),))


def test_time_wait_linux_follows_tcp_timewait_state_process():
    # Measured on Linux 6.18 (tests/kernel: data-, new-fin-, fin-without-ack-, rst-off-rcv-nxt-in-time-wait,
    # late-acks-in-time-wait).
    ack, tw = Send(seg(LOCAL + 1, REMOTE + 1)), StartTimer(Timer.TIME_WAIT, sec(60))
    cases = [
        ((REMOTE + 1, LOCAL + 1, ACK, b"xyz"), (ack, tw)),  # data: ACK of RCV.NXT, re-armed
        ((REMOTE + 1, LOCAL + 1, FIN | ACK, b""), (ack, tw)),  # a new FIN: the same
        ((REMOTE, LOCAL + 1, FIN | ACK, b""), (ack, tw)),  # the FIN again
        ((REMOTE, None, FIN, b""), (ack,)),  # the FIN again without ACK: ACKed, not re-armed
        ((REMOTE + 1, LOCAL + 1, ACK, b""), (tw,)),  # an ACK at RCV.NXT: re-armed, silently
        ((REMOTE + 1, None, Flags.NONE, b""), (tw,)),  # anything empty at RCV.NXT: the same
        ((REMOTE - 10, LOCAL + 1, ACK, b""), (ack, tw)),  # an old ACK: answered and re-armed
        ((REMOTE + 10, LOCAL + 1, ACK, b""), (ack, tw)),  # an ACK past RCV.NXT: the same
        ((REMOTE + 2, None, RST, b""), ()),  # an RST off RCV.NXT: dropped, no challenge ACK
    ]
    for (seq_, ack_, flags, data), outputs in cases:
        ep = make_time_wait(LINUX)
        step = ep.recv(seq_, ack_, flags, data)
        assert (step.state, step.outputs) == (State.TIME_WAIT, outputs), (seq_, flags)
    assert make_time_wait(LINUX).recv(REMOTE + 1, None, RST).state is State.CLOSED
    assert make_time_wait(LINUX.replace(rfc1337=True)).recv(REMOTE + 1, None, RST).state is State.TIME_WAIT


def test_time_wait_timeout(time_wait):
    step = time_wait.feed(Timeout(Timer.TIME_WAIT))
    assert (step.state, step.outputs) == (State.CLOSED, ())


def test_time_wait_rst_closes_by_default(time_wait):
    assert time_wait.recv(REMOTE + 1, 0, RST).state is State.CLOSED


def test_time_wait_rst_ignored_with_rfc1337():
    ep = make_time_wait(RFC9293.replace(rfc1337=True))
    step = ep.recv(REMOTE + 1, 0, RST)
    assert (step.state, step.outputs) == (State.TIME_WAIT, ())


def test_time_wait_old_segment_gets_ack(time_wait):
    step = time_wait.recv(REMOTE - 10, LOCAL, ACK, b"old")
    assert (step.state, step.outputs) == (State.TIME_WAIT, (Send(seg(LOCAL + 1, REMOTE + 1)),))


def test_time_wait_close_is_an_error(time_wait):
    assert time_wait.feed(AppClose()).outputs == (Error("connection closing"),)


def test_time_wait_abort_is_ok(time_wait):
    assert (time_wait.feed(AppAbort()).outputs, time_wait.state) == ((), State.CLOSED)


def test_time_wait_linux_lasts_60_seconds():
    ep = make_fin_wait_2(LINUX)
    step = ep.recv(REMOTE, LOCAL + 1, FIN | ACK)
    assert StartTimer(Timer.TIME_WAIT, sec(60)) in step.outputs


# ---- CLOSE_WAIT ---------------------------------------------------------------------------


def test_close_wait_close_sends_fin(close_wait):
    step = close_wait.feed(AppClose())
    assert step.state is State.LAST_ACK
    assert step.outputs == (Send(seg(LOCAL, REMOTE + 1, FIN | ACK)), StartTimer(Timer.RETRANSMIT, RTO))


def test_close_wait_send_still_allowed(close_wait):
    step = close_wait.feed(AppSend(b"reply"))
    assert step.state is State.CLOSE_WAIT
    assert step.outputs[0] == Send(seg(LOCAL, REMOTE + 1, ACK, b"reply"))


def test_close_wait_retransmitted_fin_is_acked(close_wait):
    step = close_wait.recv(REMOTE, LOCAL, FIN | ACK)
    assert (step.state, step.outputs) == (State.CLOSE_WAIT, (Send(seg(LOCAL, REMOTE + 1)),))


def test_close_wait_rst(close_wait):
    step = close_wait.recv(REMOTE + 1, 0, RST)
    assert (step.state, step.outputs) == (State.CLOSED, (Error("connection reset"),))


def test_close_wait_linux_rst_is_broken_pipe():
    # Linux tcp_reset(): EPIPE in CLOSE_WAIT (measured: SO_ERROR 32, scenario rst-in-close-wait).
    step = make_close_wait(LINUX).recv(REMOTE + 1, 0, RST)
    assert (step.state, step.outputs) == (State.CLOSED, (Error("broken pipe"),))


def test_close_wait_linux_retransmitted_fin_is_acked():
    ep = make_close_wait(LINUX)
    ep.feed(Timeout(Timer.DELAYED_ACK))
    step = ep.recv(REMOTE, LOCAL, FIN | ACK)
    assert (step.state, step.outputs) == (State.CLOSE_WAIT, (Send(seg(LOCAL, REMOTE + 1)),))


def test_close_wait_send_carries_the_delayed_ack():
    ep = make_close_wait(LINUX)
    step = ep.feed(AppSend(b"reply"))
    assert step.outputs[:2] == (CancelTimer(Timer.DELAYED_ACK), Send(seg(LOCAL, REMOTE + 1, ACK, b"reply")))


def test_close_wait_abort_sends_rst(close_wait):
    assert close_wait.feed(AppAbort()).outputs == (Send(seg(LOCAL, 0, RST)),)


def test_close_wait_linux_close_with_unread_data_resets():
    ep = make_close_wait(LINUX)
    step = ep.feed(AppClose(unread=5))
    assert (step.state, step.outputs) == (State.CLOSED, (Send(seg(LOCAL, REMOTE + 1, RST | ACK)),))


# ---- LAST_ACK -----------------------------------------------------------------------------


def test_last_ack_ack_of_fin(last_ack):
    step = last_ack.recv(REMOTE + 1, LOCAL + 1)
    assert (step.state, step.outputs) == (State.CLOSED, ())


def test_last_ack_ack_not_of_fin_waits(last_ack):
    step = last_ack.recv(REMOTE + 1, LOCAL)
    assert step.state is State.LAST_ACK


def test_last_ack_retransmitted_fin_is_acked(last_ack):
    step = last_ack.recv(REMOTE, LOCAL, FIN | ACK)
    assert (step.state, step.outputs) == (State.LAST_ACK, (Send(seg(LOCAL + 1, REMOTE + 1)),))


def test_last_ack_linux_retransmitted_fin_that_acks_ours_closes():
    ep = make_last_ack(LINUX)
    step = ep.recv(REMOTE, LOCAL + 1, FIN | ACK)
    assert (step.state, step.outputs) == (State.CLOSED, ())
    ep = make_last_ack(RFC9293)
    assert ep.recv(REMOTE, LOCAL + 1, FIN | ACK).state is State.LAST_ACK


def test_last_ack_retransmit_timeout_resends_fin(last_ack):
    step = last_ack.feed(Timeout(Timer.RETRANSMIT))
    assert step.outputs == (Send(seg(LOCAL, REMOTE + 1, FIN | ACK)), StartTimer(Timer.RETRANSMIT, 2 * RTO))


def test_last_ack_rst(last_ack):
    step = last_ack.recv(REMOTE + 1, 0, RST)
    assert (step.state, step.outputs) == (State.CLOSED, ())


def test_last_ack_close_is_an_error(last_ack):
    assert last_ack.feed(AppClose()).outputs == (Error("connection closing"),)


# ---- CLOSED -------------------------------------------------------------------------------


def test_closed_segment_with_ack_gets_rst():
    ep = Endpoint(State.CLOSED, TCB.established(LOCAL, REMOTE))
    step = ep.recv(REMOTE + 1, LOCAL + 1)
    assert step.outputs == (Send(seg(LOCAL + 1, 0, RST)),)


def test_closed_segment_without_ack_gets_rst_ack():
    ep = Endpoint(State.CLOSED, TCB.established(LOCAL, REMOTE))
    step = ep.recv(REMOTE, None, FIN)
    assert step.outputs == (Send(seg(0, REMOTE + 1, RST | ACK)),)


def test_closed_rst_is_ignored():
    ep = Endpoint(State.CLOSED, TCB.established(LOCAL, REMOTE))
    assert ep.recv(REMOTE, 0, RST).outputs == ()


def test_closed_calls_are_errors():
    ep = Endpoint(State.CLOSED, TCB.established(LOCAL, REMOTE))
    for call in (AppClose(), AppSend(b"x"), AppAbort()):
        assert ep.feed(call).outputs == (Error("connection does not exist"),)
