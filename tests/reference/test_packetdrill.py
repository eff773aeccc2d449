"""packetdrill's Linux close tests (github.com/google/packetdrill, gtests/net), replayed as scripts
under the linux profile: an independent corpus of what the kernel sends, read from each .pkt.

packetdrill scripts one real socket against a scripted remote; here A is that socket and B the
remote, both ISNs 1 so the numbers read as packetdrill's relative ones. The .pkt lines each test
rests on are quoted beside it. What the model leaves out is listed in the README (Faithfulness).
"""

from __future__ import annotations

from reference_impl.handlers import HANDLERS
from reference_impl.script import parse_script
from reference_impl.segment import ACK, FIN, RST
from reference_impl.sim import simulate
from reference_impl.states import State

HEAD = "profile linux\niss A 1\niss B 1\nchannel delay 0ms\n"


def run(body: str):
    script = parse_script(HEAD + body, "pkt.script")
    trace = simulate(script.scenario, script.profile, HANDLERS)
    assert script.check(trace) == [] and script.warnings(trace) == []
    return trace


def sent(trace, ep: str = "A") -> list[tuple[int, object, int, int | None, int]]:
    """(ms, flags, seq, ack (None without the ACK bit), len) of each segment `ep` sends."""
    return [(r.time // 1000, r.flags, r.seq, r.ack, r.len or 0) for r in trace.rows
            if r.endpoint == ep and r.event == "send"]  # fmt: skip


def test_close_local_close_then_remote_fin():
    # tcp/close/close-local-close-then-remote-fin.pkt:
    #   > F. 1001:1001(0) ack 1 ; < . 1:1(0) ack 1002 ; < F. 1:1(0) ack 1002 ; > . 1002:1002(0) ack 2
    trace = run("0 A write 1000\n+10ms A close\n+0 A receives ACK seq=1 ack=1002\n+10ms B close\n"
                "expect 0.015 A FIN_WAIT_2\nexpect 0.025 A TIME_WAIT\n")  # fmt: skip
    assert (10, FIN | ACK, 1001, 1, 0) in sent(trace)
    assert sent(trace)[-1] == (20, ACK, 1002, 2, 0)


def test_close_remote_fin_then_close():
    # tcp/close/close-remote-fin-then-close.pkt: < F. 1:1(0) ack 1 ; > . 1:1(0) ack 2 (a tick later);
    # close() > F. 1:1(0) ack 2 ; < . 2:2(0) ack 2 ; then a stray ACK to the closed socket: > R 2:2(0)
    trace = run("10ms B close\n+10ms A close\n+20ms A receives ACK seq=2 ack=2\n"
                "expect 0.015 A CLOSE_WAIT\nexpect 0.021 A CLOSED\n")  # fmt: skip
    assert sent(trace) == [(14, ACK, 1, 2, 0), (20, FIN | ACK, 1, 2, 0), (40, RST, 2, None, 0)]


def test_fin_retransmissions_then_data_to_an_orphan_is_reset():
    # tcp/user_timeout/user_timeout.pkt (RTT 100 ms): > F. 1:1(0) ack 1 at 2 s, again at +.3, +.3,
    # +.6 (a tail-loss probe, then the RTO doubling); < . 1:2(1) ack 1 ; > R 1:1(0)
    trace = run("channel delay 50ms\n2s A close\nlose A's FIN\nlose A's FIN, copy 2\nlose A's FIN, copy 3\n"
                "lose A's FIN, copy 4\n3.201s A receives ACK seq=1 ack=1 len=1\nexpect end A CLOSED\n")  # fmt: skip
    assert [t for t, flags, *_ in sent(trace) if flags == FIN | ACK] == [2000, 2300, 2600, 3200]
    assert sent(trace)[-1] == (3201, RST, 1, None, 0)


def test_close_with_unread_data_resets():
    # tcp/fastopen/server/unread-data-closed-trigger-rst.pkt: close() with 10 bytes unread: > R. 1:1(0) ack 11
    trace = run("noread A\n0 B write 10\n+100ms A close\nexpect end A CLOSED\n")
    assert sent(trace)[-1] == (100, RST | ACK, 1, 11, 0)


def test_retransmitted_fin_in_time_wait_is_acked_again():
    # psp/psp-tw-rtx-ack.pkt: the remote's FIN,ACK twice; each gets > . 502:502(0) ack 502, and the
    # TIME_WAIT timer is re-armed (tcp_timewait_state_process)
    trace = run("0 A write 500\n+100ms B write 500\n+100ms A close\nlose B's ACK of A's FIN\n+100ms B close\n"
                "duplicate B's FIN 100ms\nexpect 0.25 A FIN_WAIT_1\nexpect 0.35 A TIME_WAIT\n")  # fmt: skip
    assert [s for s in sent(trace) if s[0] >= 300][:2] == [(300, ACK, 502, 502, 0), (400, ACK, 502, 502, 0)]
    restarts = [r.time for r in trace.rows if r.endpoint == "A" and r.detail == "start TIME_WAIT 60 s"]
    assert restarts == [300_000, 400_000]


def test_a_forged_ack_does_not_poison_ts_recent():
    # tcp/ts_recent/invalid_ack.pkt: < F. 1:1(0) ack 9999 <TS val 200000> (SEG.ACK past SND.NXT), then
    # < . 1:1001(1000) ack 1 <TS val 201>, which is accepted: > . 1:1(0) ack 1001 <TS ... ecr 201>
    trace = run("100ms A receives FIN,ACK seq=1 ack=9999 tsval=200000\n"
                "+1ms A receives ACK seq=1 ack=1 len=1000 tsval=201\nexpect end A ESTABLISHED\n")  # fmt: skip
    assert sent(trace)[-1] == (101, ACK, 1, 1001, 0)


def test_close_after_shutdown_orphans_the_socket():
    # tcp/shutdown/shutdown-wr-close.pkt: shutdown(SHUT_WR) then close() = 0 (no error). The orphan then
    # follows tcp_close: tcp_fin_timeout in FIN_WAIT_2, and new data after a half-duplex close is reset
    trace = run("0 A shutdown\n+0 A receives ACK seq=1 ack=2\n+10ms A close\n"
                "+10ms A receives ACK seq=1 ack=2 len=100\nexpect end A CLOSED\n")  # fmt: skip
    assert not [r for r in trace.rows if r.endpoint == "A" and r.event == "error"]
    assert sent(trace)[-1] == (20, RST, 2, None, 0)
    quiet = run("0 A shutdown\n+0 A receives ACK seq=1 ack=2\n+10ms A close\nexpect 60.005s A FIN_WAIT_2\n"
                "expect 60.015s A CLOSED\n")  # fmt: skip
    assert quiet.final_state("A") is State.CLOSED
