"""The catalogue: every scenario shows what its name promises."""

from __future__ import annotations

import pytest

from reference_impl import scenarios
from reference_impl.handlers import HANDLERS
from reference_impl.profiles import LINUX, RFC9293
from reference_impl.script import parse_script
from reference_impl.segment import ACK, FIN, RST, SYN
from reference_impl.sim import Simulation, simulate
from reference_impl.states import State


def events(trace, endpoint, event):
    return [r for r in trace.rows if r.endpoint == endpoint and r.event == event]


def test_catalogue_has_the_required_names():
    required = """active-close server-initiated-close simultaneous-close three-way-close half-close
        lost-first-fin lost-ack-of-fin lost-second-fin lost-final-ack lost-final-ack-twice
        duplicate-fin-in-time-wait ack-of-data-not-fin rst-in-time-wait rst-in-close-wait
        old-duplicate-after-reuse fin-retry-limit late-acks-in-time-wait fin-behind-zero-window
        shutdown-rdwr-with-unsent-data simultaneous-close-fin-behind-window fin-on-last-segment
        paws-rejects-old-duplicate reuse-after-lost-final-ack reuse-after-lost-final-ack-rfc793 syn-in-time-wait""".split()
    assert set(required) <= set(scenarios.CATALOGUE)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match="did you mean 'simultaneous-close'"):
        scenarios.get("simultanous-close")


def test_three_way_close_fin_ack_takes_fin_wait_1_to_time_wait():
    t = scenarios.run("three-way-close")
    assert t.states("A") == [State.ESTABLISHED, State.FIN_WAIT_1, State.TIME_WAIT, State.CLOSED]
    assert [r.flags for r in events(t, "B", "send")] == [FIN | ACK]


def test_server_initiated_close_mirrors_active_close():
    a, b = scenarios.run("active-close"), scenarios.run("server-initiated-close")
    assert a.states("A") == b.states("B") and a.states("B") == b.states("A")


def test_half_close_data_flows_toward_the_side_that_closed():
    t = scenarios.run("half-close")
    delivered = [r.detail for r in events(t, "A", "deliver")]
    assert delivered == ["9 bytes", "10 bytes", "EOF"]
    assert all(r.state_after == State.FIN_WAIT_2 for r in events(t, "A", "deliver")[:2])


def test_lost_first_fin_is_retransmitted_after_the_rto():
    t = scenarios.run("lost-first-fin")
    fins = [r for r in events(t, "A", "send") if FIN in r.flags]
    assert [(r.time, r.seq, r.fate) for r in fins] == [(0, 100, "lost"), (1_000_000, 100, "delivered")]


def test_lost_final_ack_is_reacked_from_time_wait_and_restarts_it():
    t = scenarios.run("lost-final-ack")
    acks = [r for r in events(t, "A", "send") if r.flags == ACK]
    assert [(r.seq, r.ack, r.state_after) for r in acks] == [(101, 301, State.TIME_WAIT)] * 2
    restarts = [r for r in events(t, "A", "timer") if r.detail.startswith("start TIME_WAIT")]
    assert len(restarts) == 2
    closed = events(t, "A", "timeout")[-1]
    assert closed.time == restarts[-1].time + RFC9293.time_wait


def test_lost_final_ack_twice_restarts_twice():
    t = scenarios.run("lost-final-ack-twice")
    assert sum(r.detail.startswith("start TIME_WAIT") for r in events(t, "A", "timer")) == 3
    assert t.final_state("B") == State.CLOSED


def test_ack_of_data_is_not_ack_of_fin():
    t = scenarios.run("ack-of-data-not-fin")
    first_ack = next(r for r in events(t, "A", "recv"))
    assert (first_ack.ack, first_ack.state_after) == (200, State.FIN_WAIT_1)  # data only: FIN is 200
    assert State.FIN_WAIT_2 in t.states("A")


def test_rst_in_time_wait_ends_it_unless_rfc1337():
    t = scenarios.run("rst-in-time-wait")
    rst = [r for r in events(t, "A", "recv") if RST in r.flags]
    assert rst and rst[0].state_before == State.TIME_WAIT and rst[0].state_after == State.CLOSED
    t = scenarios.run("rst-in-time-wait", RFC9293.replace(rfc1337=True))
    rst = [r for r in events(t, "A", "recv") if RST in r.flags]
    assert rst[0].state_after == State.TIME_WAIT


def test_rst_in_close_wait():
    t = scenarios.run("rst-in-close-wait")
    assert t.states("B") == [State.ESTABLISHED, State.CLOSE_WAIT, State.CLOSED]
    # B's application learns of the reset, and its later close() finds no connection.
    assert [r.detail for r in events(t, "B", "error")] == ["connection reset", "connection does not exist"]


def test_old_duplicate_is_harmless_with_time_wait():
    t = scenarios.run("old-duplicate-after-reuse")
    opened = [r for r in t.rows if r.event == "reopen" and r.state_after == State.SYN_SENT]
    assert opened and opened[0].time >= RFC9293.time_wait  # A's connect() waited for its TIME_WAIT
    assert [r.detail for r in events(t, "B", "deliver")] == ["1000 bytes"] * 3 + ["EOF"]  # only the original
    copy = next(r for r in events(t, "B", "recv") if "second copy" in r.detail)
    assert copy.state_before == State.LISTEN and "from connection 1" in copy.detail  # B only listens: RST, harmless


def test_old_duplicate_corrupts_a_new_connection_without_time_wait():
    # The new ISN is only a little ahead (RFC 6528), less than the old connection sent: the copy of
    # A's second segment (SEQ=1100) lands exactly on the new connection's RCV.NXT.
    entry = scenarios.get("old-duplicate-after-reuse")
    sim = Simulation(entry.scenario, RFC9293.replace(time_wait=0), HANDLERS)
    t = sim.run()
    late = [r for r in events(t, "B", "recv") if "from connection 1" in r.detail]
    assert late and (late[0].state_before, late[0].seq) == (State.ESTABLISHED, 1100)
    assert [r.detail for r in events(t, "B", "deliver")][-1] == "1000 bytes"  # taken as connection 2's data
    assert sim.old_data_taken == [(late[0].time, "B", 1000, 1)]


def test_paws_rejects_the_old_duplicate_that_sequence_numbers_accept():
    for base in (RFC9293, LINUX):
        t = scenarios.run("paws-rejects-old-duplicate", base)
        copy = next(r for r in events(t, "B", "recv") if "from connection 1" in r.detail)
        assert copy.state_before == State.ESTABLISHED and "PAWS" in copy.detail
        reply = next(r for r in events(t, "B", "send") if r.time == copy.time)
        assert (reply.flags, reply.ack) == (ACK, 1100)  # refused: acknowledged, not taken
        assert [r.detail for r in events(t, "B", "deliver")] == ["1000 bytes"] * 3 + ["EOF", "EOF"]
        assert (t.final_state("A"), t.final_state("B")) == (State.CLOSED, State.CLOSED)
    # Linux with no TIME_WAIT is rescued the same way: its timestamps are on.
    t = scenarios.run("old-duplicate-after-reuse", LINUX.replace(time_wait=0))
    assert "PAWS" in next(r for r in events(t, "B", "recv") if "from connection 1" in r.detail).detail


def test_a_syn_meeting_last_ack_is_challenged_and_the_new_connection_waits():
    t = scenarios.run("reuse-after-lost-final-ack", RFC9293.replace(time_wait=0))
    syn = next(r for r in events(t, "B", "recv") if r.flags == SYN)
    assert syn.state_before == syn.state_after == State.LAST_ACK
    challenge = next(r for r in events(t, "B", "send") if r.time == syn.time)
    assert (challenge.flags, challenge.seq, challenge.ack) == (ACK, 301, 101)  # <SEQ=SND.NXT><ACK=RCV.NXT>
    rst = next(r for r in events(t, "A", "send") if r.flags == RST)
    assert (rst.state_before, rst.seq) == (State.SYN_SENT, 101)  # <SEQ=SEG.ACK><CTL=RST>
    assert [(r.state_before, r.state_after) for r in events(t, "B", "recv") if r.flags == RST] == [
        (State.LAST_ACK, State.CLOSED)
    ]
    opened = {ep: next(r.time for r in t.rows if r.endpoint == ep and r.state_after == State.ESTABLISHED
                       and r.state_before != State.ESTABLISHED) for ep in "AB"}  # fmt: skip
    assert opened == {"A": 1_120_000, "B": 1_130_000}  # the SYN again after its 1 s timer
    linux = scenarios.run("reuse-after-lost-final-ack", LINUX.replace(time_wait=0))
    resent = [r.time for r in events(linux, "A", "send") if r.flags == SYN]
    assert resent == [100_000, 128_000]  # Linux sends it again 8 ms after its RST
    # With TIME_WAIT, A re-ACKs B's FIN and its SYN waits: B is CLOSED, then LISTENs, when it comes.
    t = scenarios.run("reuse-after-lost-final-ack")
    assert not [r for r in events(t, "B", "recv") if r.flags == SYN and r.state_before == State.LAST_ACK]
    assert (t.final_state("A"), t.final_state("B")) == (State.CLOSED, State.CLOSED)


def test_a_syn_meeting_last_ack_under_rfc793_resets_both_and_the_new_connection_fails():
    for base in (RFC9293, LINUX):
        t = scenarios.run("reuse-after-lost-final-ack-rfc793", base)
        syn = next(r for r in events(t, "B", "recv") if r.flags == SYN)
        assert (syn.state_before, syn.state_after) == (State.LAST_ACK, State.CLOSED)
        answer = next(r for r in events(t, "B", "send") if r.time == syn.time)
        assert (answer.flags, answer.seq, answer.ack) == (RST | ACK, 0, 1101)  # <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
        assert [r.detail.split(" (")[0] for r in events(t, "B", "error")] == ["connection reset"]
        assert [r.detail for r in events(t, "A", "error")] == ["connection reset"]  # connect() fails
        assert State.ESTABLISHED not in t.states("A")[1:] and t.final_state("A") == State.CLOSED
    # The same SYN under RFC 5961 (the default) is challenged instead, and the connection opens.
    t = scenarios.run("reuse-after-lost-final-ack", RFC9293.replace(time_wait=0))
    assert not events(t, "A", "error") and State.ESTABLISHED in t.states("A")[1:]
    # And TIME_WAIT prevents it under RFC 793's rule too: the SYN waits, B's FIN comes again.
    t = scenarios.run("reuse-after-lost-final-ack", RFC9293.replace(syn_resets_connection=True))
    assert not events(t, "A", "error") and not events(t, "B", "error")


def test_a_syn_reopens_time_wait_under_linux_and_waits_under_rfc9293():
    t = scenarios.run("syn-in-time-wait", LINUX)
    syn = next(r for r in events(t, "B", "recv") if r.flags == SYN)
    assert (syn.state_before, syn.state_after) == (State.TIME_WAIT, State.SYN_RECEIVED)
    answer = [r for r in events(t, "B", "send") if r.time == syn.time]
    assert [(r.flags, r.seq, r.ack) for r in answer] == [(SYN | ACK, 301 + 65537, 1101)]
    t = scenarios.run("syn-in-time-wait", RFC9293)
    assert [(r.state_before, r.state_after) for r in events(t, "B", "recv") if r.flags in (SYN, RST)] == [
        (State.TIME_WAIT, State.TIME_WAIT), (State.TIME_WAIT, State.CLOSED), (State.LISTEN, State.SYN_RECEIVED)]  # fmt: skip
    # RFC 1337 protects TIME_WAIT from that RST: the new connection cannot open before TIME_WAIT ends.
    t = scenarios.run("syn-in-time-wait", RFC9293.replace(rfc1337=True))
    assert [r.detail for r in events(t, "A", "error")] == ["connection aborted due to user timeout"]
    assert State.ESTABLISHED not in t.states("A")[1:]


def test_lost_final_ack_without_time_wait_resets_the_peer():
    t = scenarios.run("lost-final-ack", RFC9293.replace(time_wait=0))
    last = [r for r in events(t, "B", "recv")][-1]
    assert RST in last.flags and (last.state_before, last.state_after) == (State.LAST_ACK, State.CLOSED)


@pytest.mark.parametrize("profile", [RFC9293, LINUX], ids=lambda p: p.name)
def test_fin_retry_limit_gives_up(profile):
    t = scenarios.run("fin-retry-limit", profile)
    assert t.final_state("A") == State.CLOSED
    # Under linux, A's close() made the socket an orphan: the error is reported, and heard by no one.
    orphan = " (no one hears it: close() detached the application)" if profile.close_detaches else ""
    assert [r.detail for r in events(t, "A", "error")] == ["connection aborted due to user timeout" + orphan]
    fins = [r for r in events(t, "A", "send") if FIN in r.flags]
    assert len(fins) == 1 + profile.max_retries + (1 if profile.tail_loss_probe else 0)


def test_linux_close_with_unread_data_sends_rst_not_fin():
    t = scenarios.run("close-with-unread-data", LINUX)
    assert [r.flags for r in events(t, "A", "send")] == [ACK, RST | ACK]
    t = scenarios.run("close-with-unread-data", RFC9293)
    assert FIN | ACK in [r.flags for r in events(t, "A", "send")]


def test_linux_orphan_fin_wait_2_times_out_rfc_waits_forever():
    assert scenarios.run("orphan-fin-wait-2", LINUX).final_state("A") == State.CLOSED
    assert scenarios.run("orphan-fin-wait-2", RFC9293).final_state("A") == State.FIN_WAIT_2


def test_abort_sends_rst_and_skips_time_wait():
    t = scenarios.run("abort")
    assert t.states("A") == [State.ESTABLISHED, State.CLOSED] and State.TIME_WAIT not in t.states("B")


def test_late_acks_in_time_wait_rearm_the_timer_under_linux():
    t = scenarios.run("late-acks-in-time-wait", LINUX)
    for ep in "AB":
        starts = [r.time for r in events(t, ep, "timer") if r.detail.startswith("start TIME_WAIT")]
        # entering; the late ACK, refused by PAWS and answered (RFC 7323 §5.3); the peer's answer to that
        assert starts == [230_000, 320_000, 330_000]
        paws = next(r for r in events(t, ep, "recv") if "delayed" in r.detail)
        assert "PAWS" in paws.detail and [r.flags for r in events(t, ep, "send") if r.time == paws.time] == [ACK]
    # RFC 9293's 1 s RTO sends no FIN before the ACKs arrive: one start each.
    t = scenarios.run("late-acks-in-time-wait", RFC9293)
    assert sum(r.detail.startswith("start TIME_WAIT") for r in events(t, "A", "timer")) == 1


def test_fin_behind_zero_window_leaves_with_the_data():
    for profile in (RFC9293, LINUX):
        t = scenarios.run("fin-behind-zero-window", profile)
        data = [r for r in events(t, "A", "send") if r.len]
        assert [(r.flags, r.seq, r.len) for r in data] == [(FIN | ACK, 100, 300)]
        assert data[0].time > 400_000  # after B's read opened the window
    probes = [r for r in events(scenarios.run("fin-behind-zero-window", LINUX), "A", "send") if r.seq == 99]
    assert probes and probes[0].time == LINUX.rto(0, 20_000)


def test_shutdown_rdwr_keeps_the_fin_behind_the_data_and_stops_reading():
    t = scenarios.run("shutdown-rdwr-with-unsent-data", LINUX)
    assert [(r.flags, r.len) for r in events(t, "A", "send")][-2:] == [(FIN | ACK, 300), (RST, 0)]
    assert not [r for r in events(t, "A", "error")]  # still held by its application: no orphan
    assert State.TIME_WAIT in scenarios.run("shutdown-rdwr-with-unsent-data", RFC9293).states("A")


def test_simultaneous_close_fin_behind_window_carries_ack_of_the_peers_fin():
    t = scenarios.run("simultaneous-close-fin-behind-window")
    fin = next(r for r in events(t, "A", "send") if FIN in r.flags)
    assert (fin.state_before, fin.ack, fin.len) == (State.CLOSING, 301, 300)


def test_fin_on_last_segment_mss_and_window():
    # RFC 9293: the last 1000 bytes go once the window has room for them, the FIN when it has room
    # for one more number (§3.10.4: formed once all data is segmentized). Linux holds the last
    # segment until it fits with its FIN (tcp_snd_wnd_test counts the FIN): Profile.fin_holds_tail.
    rfc = [(r.flags, r.seq, r.len) for r in events(scenarios.run("fin-on-last-segment"), "A", "send")]
    assert rfc[:4] == [(ACK, 100, 1000), (ACK, 1100, 1000), (ACK, 2100, 1000), (FIN | ACK, 3100, 0)]
    linux = scenarios.run("fin-on-last-segment", LINUX)
    assert [(r.flags, r.seq, r.len) for r in events(linux, "A", "send") if r.len] == [
        (ACK, 100, 1000), (ACK, 1100, 1000), (FIN | ACK, 2100, 1000)]  # fmt: skip


def test_data_that_fills_an_open_window_is_not_held_for_its_fin():
    """The last data fills the peer's window exactly and nothing is in flight, so no ACK will open
    the window: RFC 9293 sends the data at once; Linux's probe timer (tcp_write_wakeup, the window
    being open) sends it, where a <SEQ=SND.UNA-1> probe would be answered with the same window for ever."""
    text = "profile {p}\nwindow B 6\n0 A write 12\n+1ms A close\n"
    for profile, data_at in (("rfc9293", 20_000), ("linux", 240_000)):
        script = parse_script(text.format(p=profile))
        trace = simulate(script.scenario, script.profile, HANDLERS)
        sent = [(r.time, r.flags, r.seq, r.len) for r in events(trace, "A", "send")]
        assert sent[1] == (data_at, ACK, 106, 6), (profile, sent)
        assert sent[2][1:] == (FIN | ACK, 112, 0), (profile, sent)
        assert trace.final_state("A") in (State.FIN_WAIT_2, State.CLOSED), profile
