"""Zephyr RTOS's TCP close tests, part two (github.com/zephyrproject-rtos/zephyr tests/net/tcp/src/main.c
at commit 307f6f13de2d3ff4cef3a2820911c25b44bf1647): the passive closes, the RST tests and a SYN to a
closed port. The DUT, the numbers (both ISNs 0) and the conventions are test_zephyr.py's.

In each passive close Zephyr answers the peer's FIN with its own at once, before the application
closes (tcp_in(), ESTABLISHED: a FIN with the ACK bit gets tcp_out(conn, FIN | ACK) and LAST_ACK; it
has no CLOSE_WAIT for it). RFC 9293 §3.10.7.4 eighth, ESTABLISHED: "Enter the CLOSE-WAIT state";
§3.10.4 CLOSE, CLOSE-WAIT: "Queue this request until all preceding SENDs have been segmentized; then
send a FIN segment, enter LAST-ACK state." So under rfc9293 the peer's FIN is acknowledged at once and
our FIN leaves at the application's close (net_context_put(), which main.c calls at the end). The
linux profile delays the ACK of a FIN (Profile.delayed_ack), so a prompt close() carries both in the
one <CTL=FIN,ACK> Zephyr sends. The numbers are Zephyr's either way.
"""

from __future__ import annotations

import pytest
from test_zephyr import DUT, PROFILES, connect, sends

from reference_impl.actions import RESET_ERROR
from reference_impl.segment import ACK, FIN, RST, SYN
from reference_impl.states import AppClose, AppSend, DeliverData, DeliverEOF, Error, State, Step
from reference_impl.tcb import TCB

WND = 1280  # Zephyr's receive window here (recv_win: 30 RX buffers of 128 bytes / 3); any value would do


def accept(p, rcv_wnd: int = 65535) -> DUT:
    """net_context_listen() and accept(): < S 0 ; > S. 0 ack 1 ; < . 1 ack 1 (handle_server_test)."""
    dut = DUT(State.LISTEN, TCB(snd_una=0, snd_nxt=0, rcv_nxt=0, rcv_wnd=rcv_wnd), p)
    assert sends(dut.recv(0, 0, SYN)) == [(SYN | ACK, 0, 1, 0)] and dut.state is State.SYN_RECEIVED
    assert sends(dut.recv(1, 1)) == [] and dut.state is State.ESTABLISHED
    return dut


def fin_then_close(dut: DUT, fin: Step, seq: int, ack: int) -> None:
    """After the peer's FIN (its Step `fin`) and the application's close(), what Zephyr sends at once as
    one > F. seq ack: rfc9293 > . seq ack and CLOSE_WAIT, then > F. seq ack at close(); linux the same
    FIN,ACK at close(), its ACK having waited (delayed ACK)."""
    assert DeliverEOF() in fin.outputs and dut.state is State.CLOSE_WAIT
    assert sends(fin) == ([] if dut.profile.delays_acks else [(ACK, seq, ack, 0)])
    assert sends(dut.feed(AppClose())) == [(FIN | ACK, seq, ack, 0)] and dut.state is State.LAST_ACK


# =================================================================================================
# test_server_ipv4, test_server_with_options_ipv4, test_server_ipv6 (handle_server_test):
# < P. 1:2(1) ack 1 ; > . 1 ack 2 ; < F. 2 ack 1 ; > F. 1 ack 3 ; < . 3 ack 2
# =================================================================================================


@PROFILES
@pytest.mark.parametrize("zephyr", ["test_server_ipv4", "test_server_with_options_ipv4", "test_server_ipv6"])
def test_server(zephyr, p):
    """Zephyr's FIN answers the peer's at once (module docstring): asserted RFC 9293's CLOSE-WAIT, then
    our FIN at close(). The SYN's options (MSS, SACK, timestamps, window scale) are not modelled."""
    dut = accept(p)
    assert sends(dut.recv(1, 1, ACK, b"A")) == [(ACK, 1, 2, 0)]
    fin_then_close(dut, dut.recv(2, 1, FIN | ACK), 1, 3)
    assert sends(dut.recv(3, 2)) == [] and dut.state is State.CLOSED


# =================================================================================================
# test_server_fin_ack_after_data: < P. 1:8(7) ack 1 ; > . 1 ack 8 ; > P. 1:19(18) ack 8 ;
# < F. 8 ack 19 (acking the response) ; > F. 19 ack 9 ; < . 9 ack 20 ; then nothing
# =================================================================================================


@PROFILES
def test_server_fin_ack_after_data(p):
    """ "Verify that the TCP stack replies with a valid FIN,ACK after the peer acknowledges the latest
    data in the FIN packet": our FIN at SND.NXT = 19, past the 18 bytes the peer's FIN acknowledged."""
    dut = accept(p)
    assert sends(dut.recv(1, 1, ACK, b"request")) == [(ACK, 1, 8, 0)]
    assert sends(dut.feed(AppSend(b"test data response"))) == [(ACK, 1, 8, 18)]
    step = dut.recv(8, 19, FIN | ACK)
    assert dut.tcb.snd_una == 19
    fin_then_close(dut, step, 19, 9)
    assert sends(dut.recv(9, 20)) == [] and dut.state is State.CLOSED


# =================================================================================================
# test_client_fin_ack_with_data: < F. 1:10(9) ack 1 "test_data" (variants FIN,ACK and FIN,ACK,PSH) ;
# > F. 1 ack 11 ; < . 11 ack 2
# =================================================================================================


@PROFILES
@pytest.mark.parametrize("variant", ["FIN_DATA_FIN_ACK", "FIN_DATA_FIN_ACK_PSH"])
def test_client_fin_ack_with_data(variant, p):
    """The data is delivered, then end-of-file (main.c's recv callback: the data, then the close);
    Zephyr's FIN answers at once (module docstring). PSH is not modelled: both variants are one segment."""
    dut = connect(p)
    step = dut.recv(1, 1, FIN | ACK, b"test_data")
    assert DeliverData(b"test_data") in step.outputs
    fin_then_close(dut, step, 1, 11)
    assert sends(dut.recv(11, 2)) == [] and dut.state is State.CLOSED


# =================================================================================================
# test_client_invalid_rst (check_rst_fail, check_rst_succeed): < R at RCV.NXT + offset, in ESTABLISHED
# =================================================================================================

INVALID_RST = [  # (main.c's call, offset from RCV.NXT, Zephyr resets, the reference's answer)
    ("check_rst_fail(ack - 1)", -1, False, "drop"),
    ("check_rst_fail(ack + wnd)", WND, False, "drop"),
    ("check_rst_succeed(ctx, wnd - 1)", WND - 1, True, "challenge ACK"),
    ("check_rst_succeed(NULL, 0)", 0, True, "reset"),
    ("check_rst_succeed(NULL, 1)", 1, True, "challenge ACK"),
]


@PROFILES
@pytest.mark.parametrize("call,offset,zephyr_resets,answer", INVALID_RST, ids=[r[0] for r in INVALID_RST])
def test_client_invalid_rst(call, offset, zephyr_resets, answer, p):
    """Outside the window an RST is dropped (Zephyr counts it in rsterr): RFC 9293 agrees. Inside,
    Zephyr resets on any sequence number (tcp_validate_seq). RFC 9293 §3.10.7.4 second: "RFC 5961 ...
    describes a potential blind reset attack and optional mitigation approach ... For stacks
    implementing the protection described in RFC 5961, the three checks below apply": only an RST at
    exactly RCV.NXT resets; "3) If the RST bit is set and the sequence number does not exactly match
    the next expected sequence value, yet is within the current receive window, TCP endpoints MUST
    send an acknowledgment (challenge ACK): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>". Both answers are
    RFC 9293's; the reference (and Linux) implement RFC 5961, so asserted: the challenge ACK. At the
    right edge (ack + wnd) linux's wider window (Profile.accept_window_edges) challenges too."""
    assert zephyr_resets == (0 <= offset < WND)
    dut = accept(p, rcv_wnd=WND)
    step = dut.recv((1 + offset) % 2**32, 0, RST)
    if answer == "drop" and not (p.accept_window_edges and offset == WND):
        assert step.outputs == () and dut.state is State.ESTABLISHED
    elif answer == "reset":
        assert step.outputs == (Error(RESET_ERROR),) and dut.state is State.CLOSED
    else:
        assert sends(step) == [(ACK, 1, 1, 0)] and dut.state is State.ESTABLISHED


# =================================================================================================
# test_client_seq_validation (handle_client_seq_validation_test), RCV.NXT = 1, window 1280
# =================================================================================================


@PROFILES
def test_client_seq_validation(p):
    """Round 0, an empty ACK far past the window: main.c, "The ACK with an invalid seqnum would be
    silently dropped" (Zephyr acknowledges a segment past RCV.NXT only if it carries data or a FIN).
    RFC 9293 §3.10.7.4 first: "If an incoming segment is not acceptable, an acknowledgment should be
    sent in reply (unless the RST bit is set, if so drop the segment and return)". Asserted: the ACK.
    The rest agrees: data past the window or into a zero window is acknowledged, an RST|ACK at
    RCV.NXT-1 dropped, one at RCV.NXT resets ("special allowance should be made to accept valid ACKs,
    URGs, and RSTs" when RCV.WND is zero). main.c also reads the window each ACK advertises (1280
    less what arrived); the reference has no receive buffer, so the test shrinks RCV.WND itself."""
    dut = connect(p, TCB(snd_una=0, snd_nxt=0, rcv_nxt=0, rcv_wnd=WND))
    assert sends(dut.recv(66000, 1)) == [(ACK, 1, 1, 0)]  # round 0 (Zephyr: nothing)
    assert sends(dut.recv(66000, 1, ACK, b"x" * 10)) == [(ACK, 1, 1, 0)]  # round 1
    assert sends(dut.recv(WND + 10, 1, ACK, b"x")) == [(ACK, 1, 1, 0)]  # round 2
    seq = 1
    for n in (500, 500, 280):  # round 3: fill the window
        assert sends(dut.recv(seq, 1, ACK, b"x" * n)) == [(ACK, 1, seq + n, 0)]
        seq += n
        dut.tcb = dut.tcb.replace(rcv_wnd=WND - (seq - 1))  # nothing is read
    assert dut.tcb.rcv_wnd == 0
    assert sends(dut.recv(seq, 1, ACK, b"x")) == [(ACK, 1, seq, 0)]  # round 4: duplicate ACK
    step = dut.recv(seq - 1, 1, RST | ACK)  # round 5
    assert sends(step) == [] and dut.state is State.ESTABLISHED
    step = dut.recv(seq, 1, RST | ACK)  # round 6: -ECONNRESET in the recv callback
    assert Error(RESET_ERROR) in step.outputs and sends(step) == [] and dut.state is State.CLOSED
    assert sends(dut.feed(AppClose())) == []  # net_context_put() afterwards


# =================================================================================================
# test_server_rst_on_closed_port (handle_server_rst_on_closed_port): < S 0 to no socket ; > R. 0 ack 1
# =================================================================================================


@PROFILES
def test_server_rst_on_closed_port(p):
    """RFC 9293 §3.10.7.1, CLOSED: "If the ACK bit is off, sequence number zero is used,
    <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>" (the SYN's SEG.LEN is 1)."""
    dut = DUT(State.CLOSED, TCB(snd_una=0, snd_nxt=0, rcv_nxt=0), p)
    assert sends(dut.recv(0, 0, SYN)) == [(RST | ACK, 0, 1, 0)] and dut.state is State.CLOSED
