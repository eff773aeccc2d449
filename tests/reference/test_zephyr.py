"""Zephyr RTOS's TCP close tests (github.com/zephyrproject-rtos/zephyr tests/net/tcp/src/main.c at
commit 307f6f13de2d3ff4cef3a2820911c25b44bf1647), ported against the reference close machine. This
module holds the DUT and the active closes of a Zephyr client; test_zephyr_server.py the passive
closes, the RST tests and the SYN to a closed port.

main.c runs Zephyr's stack (the DUT: our endpoint) against a scripted peer on a dummy interface. The
peer checks every segment the DUT sends (test_verify_flags, then the seq/ack asserts) and fails on
any segment its state does not expect, so "nothing more is sent" is part of each test. Both initial
sequence numbers are 0 (with CONFIG_NET_TEST, net_tcp_connect() leaves conn->seq at 0; the peer's
`seq` starts at 0), so the numbers below are main.c's own. Each port starts with the handshake
(reference_impl.opening) and feeds the machine segment by segment through the stack
(reference_impl.stack), as test_gvisor.py does. Not modelled: PSH (main.c sets it on data), the IP
version (a Zephyr test run for IPv4 and IPv6 is one parametrised test), TCP options.

net_context_put() is the application's close(): it releases the context, an orphan (AppClose()).
Where Zephyr's answer differs from RFC 9293 (TIME_WAIT lasts CONFIG_NET_TCP_TIME_WAIT_DELAY, 100 ms
in this test's prj.conf; an orphan's FIN_WAIT_2 times out; Zephyr sends its FIN as soon as the
peer's arrives) the test says so, quotes RFC 9293 and asserts its answer, or a named profile's.
Skipped, as they close nothing: test_client_syn_resend and test_client_syn_rst_ack (handshake only),
test_server_rst_on_listening_port_no_active_connection (LISTEN), test_server_out_of_order_data and
test_server_ack_validation (data transfer; the RST that ends them is not asserted).
"""

from __future__ import annotations

import pytest
from stack_dut import StackDUT

from reference_impl.actions import USER_TIMEOUT
from reference_impl.profiles import LINUX, RFC9293, Profile
from reference_impl.reuse import open_active
from reference_impl.segment import ACK, FIN, RST, SYN, Flags, Segment
from reference_impl.states import (
    AppClose,
    AppSend,
    Arrival,
    Error,
    Send,
    StartTimer,
    State,
    Step,
    Timeout,
    Timer,
)
from reference_impl.tcb import TCB

PROFILES = pytest.mark.parametrize("p", [RFC9293, LINUX], ids=["rfc9293", "linux"])


class DUT(StackDUT):
    """Zephyr's end of the connection (tests/reference/stack_dut.py)."""

    def recv(self, seq: int, ack: int = 0, flags: Flags = ACK, payload: bytes = b"") -> Step:
        """A segment from main.c's peer (tester_prepare_tcp_pkt: the ACK field only with the ACK bit)."""
        return self.feed(Arrival(Segment(seq=seq, ack=ack if flags & ACK else 0, flags=flags, payload=payload)))


def sends(step: Step) -> list[tuple[Flags, int, int, int]]:
    """(flags, seq, ack, data length) of each segment the DUT sends: what main.c's checks read."""
    return [(o.segment.flags, o.segment.seq, o.segment.ack, len(o.segment.payload))
            for o in step.outputs if isinstance(o, Send)]  # fmt: skip


def connect(p: Profile, tcb: TCB | None = None) -> DUT:
    """net_context_connect(): > S 0 ; < S. 0 ack 1 ; > . 1 ack 1 (T_SYN, T_SYN_ACK in every client test)."""
    step = open_active(tcb or TCB(snd_una=0, snd_nxt=0, rcv_nxt=0), p)
    assert sends(step) == [(SYN, 0, 0, 0)]
    dut = DUT(step.state, step.tcb, p)
    assert sends(dut.recv(0, 1, SYN | ACK)) == [(ACK, 1, 1, 0)] and dut.state is State.ESTABLISHED
    return dut


def client_sent_a(p: Profile) -> DUT:
    """net_context_send("A"): > P. 1:2(1) ack 1 ; the peer's T_DATA: < . 1 ack 2."""
    dut = connect(p)
    assert sends(dut.feed(AppSend(b"A"))) == [(ACK, 1, 1, 1)]
    assert sends(dut.recv(1, 2)) == [] and dut.state is State.ESTABLISHED
    return dut


def put(dut: DUT, seq: int, ack: int) -> None:
    """net_context_put(): > F. seq ack (the peer's T_FIN checks FIN | ACK)."""
    assert sends(dut.feed(AppClose())) == [(FIN | ACK, seq, ack, 0)] and dut.state is State.FIN_WAIT_1


# =================================================================================================
# test_client_ipv4, test_client_ipv6 (handle_client_test): > F. 2 ack 1 ; < F. 1 ack 3 ; > . 3 ack 2
# =================================================================================================


@PROFILES
@pytest.mark.parametrize("zephyr", ["test_client_ipv4", "test_client_ipv6"])
def test_client(zephyr, p):
    """The peer's FIN acknowledges ours: FIN_WAIT_1 -> TIME_WAIT, whose end sends nothing (T_FIN_ACK is
    the peer's last state). Zephyr holds TIME_WAIT for CONFIG_NET_TCP_TIME_WAIT_DELAY: 100 ms here,
    1500 ms by default. RFC 9293 §3.6.1: "When a connection is closed actively, it MUST linger in the
    TIME-WAIT state for a time 2xMSL (Maximum Segment Lifetime) (MUST-13)." Asserted: the profile's
    TIME_WAIT, 2 MSL = 240 s (rfc9293), Linux's 60 s (linux)."""
    dut = client_sent_a(p)
    put(dut, 2, 1)
    step = dut.recv(1, 3, FIN | ACK)
    assert sends(step) == [(ACK, 3, 2, 0)] and dut.state is State.TIME_WAIT
    assert StartTimer(Timer.TIME_WAIT, p.time_wait) in step.outputs
    assert p is not RFC9293 or p.time_wait == 2 * p.msl
    step = dut.feed(Timeout(Timer.TIME_WAIT))
    assert dut.state is State.CLOSED and sends(step) == []


# =================================================================================================
# test_client_fin_wait_2_ipv4: > F. 2 ack 1 ; < . 1 ack 3 ; < F. 1 ack 3 ; > . 3 ack 2
# =================================================================================================


@PROFILES
def test_client_fin_wait_2_ipv4(p):
    dut = client_sent_a(p)
    put(dut, 2, 1)
    assert sends(dut.recv(1, 3)) == [] and dut.state is State.FIN_WAIT_2
    step = dut.recv(1, 3, FIN | ACK)
    assert sends(step) == [(ACK, 3, 2, 0)] and dut.state is State.TIME_WAIT


# =================================================================================================
# test_client_fin_wait_2_ipv4_failure: > F. ; < . (FIN_WAIT_2) ; no FIN ever; the connection must be
# closed within 10 s (tcp_install_close_cb)
# =================================================================================================


@PROFILES
def test_client_fin_wait_2_ipv4_failure(p):
    """Zephyr ends the orphan's FIN_WAIT_2 on its fin_timer (FIN_TIMEOUT, armed by net_tcp_put()) and the
    test allows 10 s. RFC 9293 has no FIN-WAIT-2 timer: its timeouts (§3.10.8) are the USER TIMEOUT, the
    RETRANSMISSION TIMEOUT and the TIME-WAIT TIMEOUT, and in FIN-WAIT-2 nothing is left to retransmit:
    "if the retransmission queue is empty, the user's CLOSE can be acknowledged ("ok") but do not
    delete the TCB" (§3.10.7.4 fifth). Asserted: rfc9293 waits in FIN_WAIT_2; linux ends an orphan's
    FIN_WAIT_2 after tcp_fin_timeout, 60 s, silently (Profile.fin_wait_2_timeout), not within 10 s."""
    dut = client_sent_a(p)
    put(dut, 2, 1)
    step = dut.recv(1, 3)
    assert sends(step) == [] and dut.state is State.FIN_WAIT_2
    timers = [o for o in step.outputs if isinstance(o, StartTimer) and o.timer is Timer.FIN_WAIT_2]
    if p is RFC9293:
        assert timers == []
        return
    assert timers == [StartTimer(Timer.FIN_WAIT_2, p.fin_wait_2_timeout)] and p.fin_wait_2_timeout > 10_000_000
    step = dut.feed(Timeout(Timer.FIN_WAIT_2))
    assert dut.state is State.CLOSED and sends(step) == []


# =================================================================================================
# test_client_fin_wait_1_retransmit_ipv4 (handle_data_fin1_test): < P. 1:2(1) ack 1 ; > . 1 ack 2 ;
# close > F. 1 ack 2 ; < P. 1:2(1) ack 1 (the data again) ; > . 2 ack 2 ; < . 2 ack 2 ; < F. 2 ack 2 ;
# > . 2 ack 3
# =================================================================================================


@PROFILES
def test_client_fin_wait_1_retransmit_ipv4(p):
    """ "The ACK to an old data packet should be with the SND.NXT seq, and the RCV.NXT ack": RFC 9293
    §3.10.7.4 first, "If an incoming segment is not acceptable, an acknowledgment should be sent in
    reply ... <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>" (linux takes it as a duplicate and answers the same).
    The test reads no data but the context passes it up at once, so nothing is unread at close()."""
    dut = connect(p)
    step = dut.recv(1, 1, ACK, b"A")
    assert sends(step) == [(ACK, 1, 2, 0)]
    put(dut, 1, 2)
    step = dut.recv(1, 1, ACK, b"A")
    assert sends(step) == [(ACK, 2, 2, 0)] and dut.state is State.FIN_WAIT_1
    assert sends(dut.recv(2, 2)) == [] and dut.state is State.FIN_WAIT_2
    step = dut.recv(2, 2, FIN | ACK)
    assert sends(step) == [(ACK, 2, 3, 0)] and dut.state is State.TIME_WAIT


# =================================================================================================
# test_client_data_during_fin_1_ipv4 (handle_data_during_fin1_test): close > F. 1 ack 1 ;
# < P. 1:2(1) ack 2 (data, and the ACK of our FIN) ; > R 2
# =================================================================================================

HALF_DUPLEX = RFC9293.replace(rst_on_data_after_close=True)


@pytest.mark.parametrize("p", [LINUX, HALF_DUPLEX, RFC9293], ids=["linux", "rfc9293+half-duplex", "rfc9293"])
def test_client_data_during_fin_1_ipv4(p):
    """Zephyr "do[es] not implement half closed sockets": data after its FIN is answered with RST
    <SEQ=SND.NXT=SEG.ACK>. RFC 9293 §3.6.1: "A host MAY implement a "half-duplex" TCP close sequence,
    so that an application that has called CLOSE cannot continue to read data from the connection
    (MAY-1). If such a host issues a CLOSE call while received data is still pending in the TCP
    connection, or if new data is received after CLOSE is called, its TCP implementation SHOULD send a
    RST to show that data was lost (SHLD-3)." Profile.rst_on_data_after_close is that half-duplex close
    (linux has it): RST <SEQ=SEG.ACK><CTL=RST>, as Zephyr. RFC 9293's own CLOSE only ends sending
    (§3.10.4), so plain rfc9293 takes the data, acknowledges it and, its FIN acknowledged, enters
    FIN_WAIT_2. (Zephyr then waits out TIME_WAIT; the reference's RST ends the connection.)"""
    dut = connect(p)
    put(dut, 1, 1)
    step = dut.recv(1, 2, ACK, b"A")
    if p.rst_on_data_after_close:
        assert sends(step) == [(RST, 2, 0, 0)] and dut.state is State.CLOSED
    else:
        assert sends(step) == [(ACK, 2, 2, 0)] and dut.state is State.FIN_WAIT_2


# =================================================================================================
# test_client_closing_ipv6 (handle_client_closing_test): > F. 2 ack 1 ; < F. 1 ack 3 ; > . 3 ack 2 ;
# < . 2 ack 3 ; then nothing
# =================================================================================================


@PROFILES
def test_client_closing_ipv6(p):
    """Despite its name the peer's FIN acknowledges ours (T_FIN: ack + 1), so no CLOSING: RFC 9293
    §3.10.7.4 eighth, FIN-WAIT-1: "If our FIN has been ACKed (perhaps in this segment), then enter
    TIME-WAIT" (Zephyr's table: "FIN & ACK -> TCP_TIME_WAIT"). The peer's final ACK is answered with
    nothing: main.c's default branch would fail on any segment."""
    dut = client_sent_a(p)
    put(dut, 2, 1)
    step = dut.recv(1, 3, FIN | ACK)
    assert sends(step) == [(ACK, 3, 2, 0)] and dut.state is State.TIME_WAIT
    step = dut.recv(2, 3)
    assert sends(step) == [] and dut.state is State.TIME_WAIT


# =================================================================================================
# test_client_closing_failure_ipv6: > F. 2 ack 1 ; < F. 1 ack 2 (not acking ours) ; > . 3 ack 2 ;
# < F. 1 ack 2 again ; > F. 2 ack 2 (timer expired) or > . 3 ack 2 ; the final ACK never comes
# =================================================================================================


@PROFILES
def test_client_closing_failure_ipv6(p):
    """A simultaneous close whose last ACK is lost: the stack must recover. The retransmitted FIN is a
    duplicate, below RCV.NXT: RFC 9293 §3.10.7.4 first, an acknowledgment <SEQ=SND.NXT><ACK=RCV.NXT>
    (main.c's ACK branch); the RETRANSMIT timer sends our FIN again (its FIN | ACK branch); after the
    retry limit (§3.8.3, R2) the connection ends with "connection aborted due to user timeout"."""
    dut = client_sent_a(p)
    put(dut, 2, 1)
    step = dut.recv(1, 2, FIN | ACK)
    assert sends(step) == [(ACK, 3, 2, 0)] and dut.state is State.CLOSING
    step = dut.recv(1, 2, FIN | ACK)
    assert sends(step) == [(ACK, 3, 2, 0)] and dut.state is State.CLOSING
    step = dut.feed(Timeout(Timer.RETRANSMIT))
    assert sends(step) == [(FIN | ACK, 2, 2, 0)] and dut.state is State.CLOSING
    for _ in range(p.max_retries + 1):
        step = dut.feed(Timeout(Timer.RETRANSMIT))
        if dut.state is State.CLOSED:
            break
        assert sends(step) == [(FIN | ACK, 2, 2, 0)]
    assert dut.state is State.CLOSED and Error(USER_TIMEOUT) in step.outputs and sends(step) == []


# =================================================================================================
# test_client_rst_on_unexpected_ack_on_syn (handle_syn_invalid_ack): > S 0 ; < . 0 ack 1000 ;
# > R 1000 ; > S 0 (again) ; < S. 0 ack 1 ; > . 1 ack 1 ; close > F. 1 ack 1 ; < F. 1 ack 2 ; > . 2 ack 2
# =================================================================================================


@PROFILES
def test_client_rst_on_unexpected_ack_on_syn(p):
    """RFC 9293 §3.10.7.3, SYN-SENT: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset ...
    <SEQ=SEG.ACK><CTL=RST>"; the SYN goes again on its timer (linux: 8 ms after the bad ACK)."""
    step = open_active(TCB(snd_una=0, snd_nxt=0, rcv_nxt=0), p)
    dut = DUT(step.state, step.tcb, p)
    assert sends(dut.recv(0, 1000)) == [(RST, 1000, 0, 0)] and dut.state is State.SYN_SENT
    assert sends(dut.feed(Timeout(Timer.RETRANSMIT))) == [(SYN, 0, 0, 0)]
    assert sends(dut.recv(0, 1, SYN | ACK)) == [(ACK, 1, 1, 0)] and dut.state is State.ESTABLISHED
    put(dut, 1, 1)
    step = dut.recv(1, 2, FIN | ACK)
    assert sends(step) == [(ACK, 2, 2, 0)] and dut.state is State.TIME_WAIT
