"""The opening states, as far as a new connection on a used 4-tuple needs them (RFC 9293 §3.10.7.2-4)."""

from __future__ import annotations

from conftest import (
    NEW_A,
    NEW_B,
    Endpoint,
    make_listen,
    make_syn_received,
    make_syn_sent,
    make_time_wait,
)

from reference_impl.profiles import LINUX, RFC9293
from reference_impl.reuse import (
    TIME_WAIT_ISS_GAP,
    open_active,
    open_passive,
    reopens_time_wait,
    time_wait_iss,
)
from reference_impl.segment import ACK, FIN, RST, SYN, Segment
from reference_impl.states import (
    AppAbort,
    AppClose,
    AppSend,
    CancelTimer,
    DeliverEOF,
    Error,
    Send,
    StartTimer,
    State,
    Timeout,
    Timer,
)
from reference_impl.tcb import TCB

OLD_RCV_NXT = 301  # what B's old connection still expects from A (conftest: REMOTE + 1)


def sends(step) -> list[Segment]:
    return [o.segment for o in step.outputs if isinstance(o, Send)]


# ---- OPEN --------------------------------------------------------------------------------------


def test_open_active_sends_syn_and_starts_its_timer():
    step = open_active(TCB(snd_una=NEW_A, snd_nxt=NEW_A, rcv_nxt=0), RFC9293)
    assert step.state is State.SYN_SENT and (step.tcb.snd_una, step.tcb.snd_nxt) == (NEW_A, NEW_A + 1)
    assert step.outputs == (Send(Segment(seq=NEW_A, ack=0, flags=SYN)), StartTimer(Timer.RETRANSMIT, 1_000_000))


def test_open_passive_listens_with_its_iss():
    step = open_passive(TCB(snd_una=NEW_B, snd_nxt=NEW_B + 5, rcv_nxt=0))
    assert step.state is State.LISTEN and step.outputs == () and step.tcb.snd_nxt == NEW_B


# ---- LISTEN ----------------------------------------------------------------------------------------


def test_listen_syn_answers_syn_ack():
    ep = make_listen()
    step = ep.recv(NEW_A, 0, SYN, window=1000)
    assert step.state is State.SYN_RECEIVED
    assert sends(step) == [Segment(seq=NEW_B, ack=NEW_A + 1, flags=SYN | ACK)]
    assert StartTimer(Timer.RETRANSMIT, RFC9293.syn_timeout) in step.outputs
    assert (ep.tcb.rcv_nxt, ep.tcb.snd_nxt, ep.tcb.snd_una, ep.tcb.snd_wnd) == (NEW_A + 1, NEW_B + 1, NEW_B, 1000)


def test_listen_ack_is_answered_with_rst_and_rst_is_ignored():
    ep = make_listen()
    step = ep.recv(100, 300, ACK, payload=b"old")  # e.g. an old duplicate of the last connection
    assert step.state is State.LISTEN and sends(step) == [Segment(seq=300, ack=0, flags=RST)]
    step = ep.recv(100, 0, RST)
    assert step.state is State.LISTEN and step.outputs == ()


def test_listen_close_abort_and_send():
    assert make_listen().feed(AppClose()).state is State.CLOSED
    assert make_listen().feed(AppAbort()).state is State.CLOSED
    step = make_listen().feed(AppSend(b"x"))
    assert step.state is State.LISTEN and step.outputs == (Error("foreign socket unspecified"),)


# ---- SYN_SENT ----------------------------------------------------------------------------------


def test_syn_sent_syn_ack_establishes():
    ep = make_syn_sent()
    step = ep.recv(NEW_B, NEW_A + 1, SYN | ACK)
    assert step.state is State.ESTABLISHED
    assert step.outputs == (CancelTimer(Timer.RETRANSMIT), Send(Segment(seq=NEW_A + 1, ack=NEW_B + 1)))


def test_syn_sent_ack_of_the_old_connection_is_answered_with_rst():
    # B, still in LAST_ACK, challenges the SYN with <SEQ=SND.NXT><ACK=RCV.NXT> of the old connection.
    ep = make_syn_sent()
    step = ep.recv(NEW_B, OLD_RCV_NXT, ACK)
    assert step.state is State.SYN_SENT and step.outputs == (Send(Segment(seq=OLD_RCV_NXT, ack=0, flags=RST)),)
    # Linux sends the SYN again 8 ms later rather than after 1 s (TCP_TIMEOUT_MIN), once.
    ep = make_syn_sent(LINUX)
    step = ep.recv(NEW_B, OLD_RCV_NXT, ACK)
    assert step.outputs[-1] == StartTimer(Timer.RETRANSMIT, 8000)
    ep.feed(Timeout(Timer.RETRANSMIT))
    assert ep.recv(NEW_B, OLD_RCV_NXT, ACK).outputs == (Send(Segment(seq=OLD_RCV_NXT, ack=0, flags=RST)),)


def test_syn_sent_rst():
    ep = make_syn_sent()
    assert ep.recv(0, OLD_RCV_NXT, RST | ACK).outputs == ()  # its ACK is not acceptable: dropped
    assert ep.recv(5, 0, RST).state is State.SYN_SENT  # no ACK: dropped
    step = ep.recv(0, NEW_A + 1, RST | ACK)
    assert step.state is State.CLOSED and step.outputs == (Error("connection reset"),)


def test_syn_sent_gives_up_after_its_retries():
    ep, times = make_syn_sent(), []
    for _ in range(RFC9293.syn_retries):
        step = ep.feed(Timeout(Timer.RETRANSMIT))
        assert sends(step) == [Segment(seq=NEW_A, ack=0, flags=SYN)]
        times.append(step.outputs[-1].duration // 1_000_000)
    assert times == [2, 4, 8, 16, 32, 60, 60]  # RFC 9293 R2: at least 3 minutes in all
    step = ep.feed(Timeout(Timer.RETRANSMIT))
    assert step.state is State.CLOSED and step.outputs == (Error("connection aborted due to user timeout"),)


def test_syn_sent_close_abort_and_send():
    assert make_syn_sent().feed(AppClose()).state is State.CLOSED
    assert make_syn_sent().feed(AppAbort()).state is State.CLOSED
    ep = make_syn_sent()
    ep.feed(AppSend(b"early"))
    step = ep.recv(NEW_B, NEW_A + 1, SYN | ACK)  # the queued data leaves once ESTABLISHED
    assert [s.payload for s in sends(step)] == [b"", b"early"]


# ---- SYN_RECEIVED --------------------------------------------------------------------------------


def test_syn_received_ack_establishes():
    ep = make_syn_received()
    step = ep.recv(NEW_A + 1, NEW_B + 1, ACK)
    assert step.state is State.ESTABLISHED and step.outputs == (CancelTimer(Timer.RETRANSMIT),)


def test_syn_received_fin_on_the_handshake_ack():
    ep = make_syn_received()
    step = ep.recv(NEW_A + 1, NEW_B + 1, FIN | ACK)
    assert step.state is State.CLOSE_WAIT and DeliverEOF() in step.outputs


def test_syn_received_unacceptable_ack_is_answered_with_rst():
    step = make_syn_received().recv(NEW_A + 1, 300, ACK)
    assert step.state is State.SYN_RECEIVED and sends(step) == [Segment(seq=300, ack=0, flags=RST)]


def test_syn_received_rst_returns_to_listen_and_syn_is_challenged():
    ep = make_syn_received()
    step = ep.recv(NEW_A + 1, 0, RST)
    assert step.state is State.LISTEN and ep.tcb.snd_nxt == NEW_B
    ep = make_syn_received()
    step = ep.recv(NEW_A + 1, 0, SYN)
    assert step.state is State.SYN_RECEIVED and sends(step) == [Segment(seq=NEW_B + 1, ack=NEW_A + 1)]


def test_syn_received_abort_and_retry_limit():
    step = make_syn_received().feed(AppAbort())
    assert step.state is State.CLOSED and sends(step)[0].rst
    ep = make_syn_received()
    for _ in range(RFC9293.syn_retries):
        assert sends(ep.feed(Timeout(Timer.RETRANSMIT))) == [Segment(seq=NEW_B, ack=NEW_A + 1, flags=SYN | ACK)]
    assert ep.feed(Timeout(Timer.RETRANSMIT)).state is State.CLOSED


def test_syn_received_queues_a_close_until_the_syn_is_acknowledged():
    ep = make_syn_received()
    assert ep.feed(AppClose()).outputs == ()
    step = ep.recv(NEW_A + 1, NEW_B + 1, ACK)
    assert step.state is State.FIN_WAIT_1 and sends(step) == [Segment(seq=NEW_B + 1, ack=NEW_A + 1, flags=FIN | ACK)]


# ---- a SYN meeting TIME_WAIT (RFC 9293 §3.6.1 MAY-2, RFC 6191, Linux TCP_TW_SYN) -----------------


def test_a_syn_above_rcv_nxt_reopens_time_wait_under_linux_only():
    tw = make_time_wait(LINUX)
    syn = Segment(seq=tw.tcb.rcv_nxt + 1000, ack=0, flags=SYN)
    assert reopens_time_wait(tw.tcb, syn, None, LINUX)
    assert not reopens_time_wait(tw.tcb, syn, None, RFC9293)  # MAY-2 not taken: TIME_WAIT holds the 4-tuple
    assert reopens_time_wait(tw.tcb, syn, None, RFC9293.replace(time_wait_accepts_syn=True))
    below = Segment(seq=tw.tcb.rcv_nxt, ack=0, flags=SYN)
    assert not reopens_time_wait(tw.tcb, below, None, LINUX)
    assert not reopens_time_wait(tw.tcb, Segment(seq=syn.seq, ack=7, flags=SYN | ACK), None, LINUX)


def test_a_newer_timestamp_reopens_time_wait_and_an_older_one_never():
    tw = make_time_wait(LINUX)
    below = Segment(seq=tw.tcb.rcv_nxt - 50, ack=0, flags=SYN, tsval=500)
    assert reopens_time_wait(tw.tcb, below, 400, LINUX)  # RFC 6191: the timestamp says it is new
    above = Segment(seq=tw.tcb.rcv_nxt + 50, ack=0, flags=SYN, tsval=300)
    assert not reopens_time_wait(tw.tcb, above, 400, LINUX)  # PAWS: an old duplicate SYN


def test_the_reopened_connection_starts_past_the_old_numbers():
    tw = make_time_wait(LINUX)
    assert time_wait_iss(tw.tcb) == tw.tcb.snd_nxt + TIME_WAIT_ISS_GAP == tw.tcb.snd_nxt + 65537
    assert time_wait_iss(TCB(snd_una=2**32 - 65537, snd_nxt=2**32 - 65537, rcv_nxt=0)) == 1  # never 0


def test_time_wait_itself_answers_a_syn_with_an_ack():
    # Without MAY-2 the SYN is TIME_WAIT's (a challenge ACK, RFC 5961 §4), and the timer goes on.
    tw = make_time_wait()
    step = tw.recv(tw.tcb.rcv_nxt + 1000, 0, SYN)
    assert step.state is State.TIME_WAIT and step.outputs == (Send(tw.tcb.ack()),)
    assert isinstance(tw, Endpoint)
