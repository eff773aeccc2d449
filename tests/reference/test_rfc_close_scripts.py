"""Five close scenarios written from RFC 9293 §3.10.7.4 (and §3.10.4, §3.8.6.1) alone, as scripts.

Each expectation below was derived from the RFC's text, not from the reference: the segments each
end must send (numbers included), the states and the timers. They cover corners the catalogue
touches only in passing: the FIN riding on the last window-limited segment, an RST in CLOSING,
data+FIN carrying the ACK of our FIN into FIN_WAIT_1, a simultaneous close across 2**32, and a
FIN held by a zero window then released.
"""

from __future__ import annotations

from reference_impl.handlers import HANDLERS
from reference_impl.script import parse_script
from reference_impl.segment import ACK, FIN, RST
from reference_impl.sim import simulate
from reference_impl.states import State


def run(text: str):
    script = parse_script(text, "rfc.script")
    trace = simulate(script.scenario, script.profile, HANDLERS)
    assert script.check(trace) == []
    return trace


def sent(trace, ep):
    return [(r.flags, r.seq, r.ack, r.len or 0) for r in trace.rows if r.endpoint == ep and r.event == "send"]


def rows(trace, ep, event):
    return [r for r in trace.rows if r.endpoint == ep and r.event == event]


def test_fin_rides_on_the_last_segment_of_a_window_limited_queue():
    # §3.10.4 CLOSE: "Queue this until all preceding SENDs have been segmentized, then form a FIN
    # segment and send it"; §3.8.6: nothing beyond SND.UNA + SND.WND. Seventh and eighth steps at
    # B: the text, then RCV.NXT over the FIN, one ACK of both, CLOSE-WAIT.
    trace = run("profile rfc9293\nwindow B 1000\n0 A write 2200\n+5ms A close\n"
                "expect end A FIN_WAIT_2\nexpect end B CLOSE_WAIT\n")  # fmt: skip
    assert sent(trace, "A") == [(ACK, 100, 300, 1000), (ACK, 1100, 300, 1000), (FIN | ACK, 2100, 300, 200)]
    assert sent(trace, "B")[-1] == (ACK, 300, 2301, 0)
    assert rows(trace, "A", "timer")[-1].detail == "cancel RETRANSMIT"  # RFC 6298 5.2: all acknowledged


def test_rst_in_closing_off_rcv_nxt_is_challenged_at_rcv_nxt_closes_silently():
    # Second step (RFC 5961): in the window but not RCV.NXT → <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>;
    # exactly RCV.NXT, CLOSING: "enter the CLOSED state, delete the TCB, and return" (no user signal).
    trace = run("profile rfc9293\n0 A close\n0 B close\ndelay B's ACK of A's FIN 500ms\n"
                "100ms A receives RST seq=RCV.NXT+5\n200ms A receives RST seq=RCV.NXT\n"
                "expect 0.15 A CLOSING\nexpect 0.25 A CLOSED\n")  # fmt: skip
    challenge = [r for r in rows(trace, "A", "send") if r.time == 100_000]
    assert [(r.flags, r.seq, r.ack) for r in challenge] == [(ACK, 101, 301)]
    assert not rows(trace, "A", "error")
    closed = [r for r in rows(trace, "A", "recv") if r.state_after == State.CLOSED]
    assert closed[0].flags == RST and closed[0].seq == 301
    # CLOSED answers the late ACK by <SEQ=SEG.ACK><CTL=RST> (§3.10.7.1).
    assert sent(trace, "A")[-1] == (RST, 101, None, 0)


def test_data_and_fin_acking_our_fin_take_fin_wait_1_straight_to_time_wait():
    # Fifth step, FIN-WAIT-1: our FIN acknowledged → FIN-WAIT-2, "continue processing"; seventh:
    # the text; eighth, FIN-WAIT-2: "Enter the TIME-WAIT state. Start the time-wait timer, turn off
    # the other timers." One ACK covers text and FIN. B's data and FIN wait behind A's zero window.
    trace = run("profile rfc9293\nwindow A 0\n0 A close\nlose B's ACK of A's FIN\n+20ms B write \"bye\"\n"
                "+1ms B close\n100ms A read\nexpect 0.05 A FIN_WAIT_1\nexpect 0.125 B LAST_ACK\n"
                "expect 0.2 A TIME_WAIT\nexpect end B CLOSED\n")  # fmt: skip
    assert sent(trace, "B")[-1] == (FIN | ACK, 300, 101, 3)
    arrival = [r for r in rows(trace, "A", "recv") if r.flags == FIN | ACK][0]
    assert (arrival.state_before, arrival.state_after) == (State.FIN_WAIT_1, State.TIME_WAIT)
    at = [r for r in trace.rows if r.endpoint == "A" and r.time == arrival.time and r.event in ("send", "timer")]
    assert [(r.event, r.detail if r.event == "timer" else (r.flags, r.seq, r.ack)) for r in at] == [
        ("timer", "cancel RETRANSMIT"), ("send", (ACK, 101, 304)), ("timer", "start TIME_WAIT 240 s")]  # fmt: skip


def test_simultaneous_close_across_the_wrap():
    # Both FINs and both ACKs wrap: A's byte sits on 2**32 - 1, its FIN on 0; B's three bytes end at
    # 0, its FIN on 1. CLOSING leaves for TIME-WAIT only on SEG.ACK = the number after our FIN.
    trace = run("profile rfc9293\niss A 4294967295\niss B 4294967294\n0 A write 1\n0 B write 3\n"
                "+1ms A close\n+0ms B close\nexpect 0.05 A TIME_WAIT\nexpect 0.05 B TIME_WAIT\n")  # fmt: skip
    assert [s for s in sent(trace, "A") if FIN in s[0]] == [(FIN | ACK, 0, 4294967294, 0)]
    assert [s for s in sent(trace, "B") if FIN in s[0]] == [(FIN | ACK, 1, 4294967295, 0)]
    assert sent(trace, "A")[-1] == (ACK, 1, 2, 0) and sent(trace, "B")[-1] == (ACK, 2, 1, 0)
    for ep, ack_of_fin in (("A", 1), ("B", 2)):
        to_tw = [r for r in rows(trace, ep, "recv") if r.state_after == State.TIME_WAIT]
        assert [(r.state_before, r.ack) for r in to_tw] == [(State.CLOSING, ack_of_fin)]
        # the ACK of data alone in CLOSING restarted the timer, it did not end CLOSING (RFC 6298 5.3)
        assert any(r.state_before == r.state_after == State.CLOSING for r in rows(trace, ep, "recv"))


def test_fin_held_by_a_zero_window_is_refused_then_taken_when_the_window_opens():
    # §3.8.6.1: the FIN waits; the first probe after an RTO, backing off. First step at B: SEG.LEN 1
    # with RCV.WND 0 is not acceptable: <SEQ=SND.NXT><ACK=RCV.NXT> and drop, RCV.NXT unchanged.
    # Once B's window opens, the FIN is taken: CLOSE-WAIT, ACK = FIN + 1.
    trace = run("profile rfc9293\nwindow B 0\n0 A close\n+2.5s B read\nexpect 0.5 A FIN_WAIT_1\n"
                "expect 2.4 B ESTABLISHED\nexpect 2.7 B CLOSE_WAIT\nexpect 2.7 A FIN_WAIT_2\n")  # fmt: skip
    first_fin = [r for r in rows(trace, "A", "send") if FIN in r.flags][0]
    assert first_fin.time == 1_000_000  # after the RTO, not at close()
    refused = [r for r in rows(trace, "B", "send") if r.time < 2_000_000]
    assert [(r.seq, r.ack) for r in refused] == [(300, 100)]
    assert sent(trace, "B")[-1] == (ACK, 300, 101, 0)
