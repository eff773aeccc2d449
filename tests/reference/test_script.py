"""Scenario scripts: what they mean, and exact errors for what they get wrong."""

from __future__ import annotations

import pytest

from reference_impl.handlers import HANDLERS
from reference_impl.profiles import LINUX
from reference_impl.script import ScriptError, parse_duration, parse_script
from reference_impl.segment import ACK, FIN, RST
from reference_impl.sim import simulate
from reference_impl.states import State

LOST_FINAL_ACK = """\
# A closes; its final ACK is lost once
0      A close
+50ms  B close
lose A2
expect 0.03 A FIN_WAIT_2
expect 0.07 B LAST_ACK
expect end A CLOSED
expect end B CLOSED
"""


def run(text: str):
    script = parse_script(text, "t.script")
    return script, simulate(script.scenario, script.profile, HANDLERS)


def test_script_runs_and_meets_its_expectations():
    script, trace = run(LOST_FINAL_ACK)
    assert script.check(trace) == []
    assert [r.fate for r in trace.rows if r.event == "send" and r.endpoint == "A"] == [
        "delivered",
        "lost",
        "delivered",
    ]


def test_failed_expectation_names_line_and_states():
    script, trace = run(LOST_FINAL_ACK + "expect end A TIME_WAIT\n")
    assert script.check(trace) == ["t.script:9: expected A in TIME_WAIT at the end, but it was CLOSED"]


def test_profile_and_options():
    script, trace = run("profile linux\noption time_wait 30s\noption rfc1337 on\n0 A close\n+50ms B close\n")
    assert script.profile == LINUX.replace(time_wait=30_000_000, rfc1337=True)
    assert any(r.detail == "start TIME_WAIT 30 s" for r in trace.rows)


def test_injected_rst_reaches_time_wait():
    script, trace = run("0 A close\n+50ms B close\n1s A receives RST seq=301\nexpect end A CLOSED\n")
    rst = [r for r in trace.rows if r.event == "recv" and r.flags == RST]
    assert rst and (rst[0].state_before, rst[0].state_after) == (State.TIME_WAIT, State.CLOSED)
    assert script.check(trace) == []


def test_write_duplicate_delay_noread_iss_channel():
    text = 'iss A 7\nchannel delay 5ms\nnoread B\n0 A write "hi"\n0 A write 3\nduplicate A1 1ms\ndelay A2 20ms\n'
    script, trace = run(text)
    sends = [r for r in trace.rows if r.event == "send" and r.endpoint == "A"]
    assert [(r.seq, r.len, r.fate) for r in sends] == [(7, 2, "duplicated"), (9, 3, "delayed")]
    assert script.scenario.delay == 5000 and script.scenario.reads == {"A": True, "B": False}


def sends(trace, endpoint):
    return [(r.flags, r.seq, r.ack, r.len) for r in trace.rows if r.event == "send" and r.endpoint == endpoint]


FIN_BEHIND_WINDOW = """\
# FIN queued behind window-limited data
window B 0                # B's buffer is full: nothing of A's fits
0      A write 300
+50ms  A close            # the FIN queues behind the 300 bytes
400ms  B read             # B reads: its window opens, and it says so
800ms  B close
expect 0.3 A FIN_WAIT_1
expect end A CLOSED
expect end B CLOSED
"""


def test_fin_queued_behind_window_limited_data():
    script, trace = run(FIN_BEHIND_WINDOW)
    assert script.check(trace) == []
    # A sends nothing until B's window update; then the data, with the FIN riding on it.
    assert sends(trace, "A")[0] == (FIN | ACK, 100, 300, 300)
    assert script.scenario.windows == {"B": 0}
    script, trace = run("profile linux\n" + FIN_BEHIND_WINDOW)
    assert sends(trace, "A")[:2] == [(ACK, 99, 300, 0), (FIN | ACK, 100, 300, 300)]  # a probe first


def test_shutdown_rdwr_with_unsent_data():
    text = ("profile linux\nwindow B 0\n0 A write 300\n+50ms A shutdown rdwr\n400ms B read\n"
            "600ms B write 8\nexpect 0.5 A FIN_WAIT_2\nexpect end A CLOSED\n")  # fmt: skip
    script, trace = run(text)
    assert script.check(trace) == []
    assert sends(trace, "A")[-1] == (RST, 401, None, 0)  # it stopped reading: Linux refuses the data
    close = next(r for r in trace.rows if r.event == "close")
    assert "shutdown(SHUT_RDWR)" not in close.detail and script.scenario.actions[1].call.rdwr


def test_simultaneous_close_whose_second_fin_carries_the_ack_of_the_first():
    text = ("window B 0\n0 A write 300\n0 A close\n0 B shutdown\n400ms B read\n"
            "expect 0.1 A CLOSING\nexpect end A CLOSED\nexpect end B CLOSED\n")  # fmt: skip
    script, trace = run(text)
    assert script.check(trace) == []
    fin = next(x for x in sends(trace, "A") if FIN in x[0])
    assert fin == (FIN | ACK, 100, 301, 300)  # ack = b + 1: B's FIN was taken first


def test_mss_cuts_a_write_and_the_fin_follows_the_last_piece_or_rides_on_it():
    text = "profile {}\nmss A 1000\nwindow B 2000\n0 A write 3000\n0 A close\n100ms B close\nexpect end A CLOSED\n"
    script, trace = run(text.format("rfc9293"))
    assert script.check(trace) == []
    assert sends(trace, "A")[:4] == [(ACK, 100, 300, 1000), (ACK, 1100, 300, 1000), (ACK, 2100, 300, 1000),
                                     (FIN | ACK, 3100, 300, 0)]  # fmt: skip
    script, trace = run(text.format("linux"))  # the last piece waits for room for its FIN too
    assert script.check(trace) == []
    assert [x for x in sends(trace, "A") if x[3]] == [(ACK, 100, 300, 1000), (ACK, 1100, 300, 1000),
                                                       (FIN | ACK, 2100, 300, 1000)]  # fmt: skip


IN_TIME_WAIT = "profile {profile}\n0 A close\n+50ms B close\nlose A3\n1s A receives {segment}\nexpect end A CLOSED\n"


@pytest.mark.parametrize(
    "profile, segment, answered, restarts",
    [
        ("rfc9293", "ACK seq=RCV.NXT ack=SND.NXT len=3", True, True),  # data: ACK and restart
        ("linux", "ACK seq=RCV.NXT ack=SND.NXT len=3", True, True),
        ("rfc9293", "FIN seq=RCV.NXT-1", False, False),  # the FIN again, without ACK: dropped
        ("linux", "FIN seq=RCV.NXT-1", True, False),  # Linux ACKs it, re-arms nothing
        ("rfc9293", "RST seq=RCV.NXT+1", True, False),  # challenge ACK
        ("linux", "RST seq=RCV.NXT+1", False, False),  # dropped silently
        ("rfc9293", "ACK seq=RCV.NXT ack=SND.NXT", False, True),
        ("linux", "ACK seq=RCV.NXT-10 ack=SND.NXT", True, True),
    ],
)
def test_segments_crafted_into_time_wait(profile, segment, answered, restarts):
    script, trace = run(IN_TIME_WAIT.format(profile=profile, segment=segment))
    assert script.check(trace) == []
    at_1s = [r for r in trace.rows if r.endpoint == "A" and r.time == 1_000_000]
    assert at_1s[0].state_before == State.TIME_WAIT and "injected" in at_1s[0].detail
    assert any(r.event == "send" for r in at_1s) == answered
    assert any(r.detail.startswith("start TIME_WAIT") for r in at_1s) == restarts


def test_right_edge_placed_against_the_receivers_window():
    text = "0 A shutdown\n100ms B receives ACK seq=RCV.NXT+RCV.WND ack=SND.NXT\n"
    for profile, answered in (("rfc9293", True), ("linux", False)):
        script, trace = run(f"profile {profile}\n" + text)
        recv = next(r for r in trace.rows if r.event == "recv" and "injected" in r.detail)
        assert recv.seq == 101 + 65535 and recv.state_before == State.CLOSE_WAIT  # RCV.NXT + RCV.WND
        assert any(r.event == "send" and r.time == recv.time for r in trace.rows) == answered


def test_linux_rate_limits_acks_to_refused_empty_segments():
    text = (
        "{p}\n100ms B receives ACK seq=RCV.NXT-10 ack=SND.NXT\n200ms B receives ACK seq=RCV.NXT-10 ack=SND.NXT\n"
        "700ms B receives ACK seq=RCV.NXT-10 ack=SND.NXT\n"
    )
    for profile, answered in (("profile rfc9293", 3), ("profile linux", 2)):
        _, trace = run(text.format(p=profile))
        assert len(sends(trace, "B")) == answered, profile
    _, trace = run(text.format(p="profile linux"))
    assert "rate-limited" in next(r for r in trace.rows if r.time == 200_000 and r.event == "recv").detail


@pytest.mark.parametrize(
    "text, where, message",
    [
        ("0 C close", "1:3", "unknown endpoint 'C'"),
        ("0 A clsoe", "1:5", "unknown call 'clsoe'"),
        ("frobnicate", "1:1", "unknown directive 'frobnicate'"),
        ("0 A close\nlose A0", "2:6", "is not a segment name"),
        ("expect 1s A FOO", "1:13", "unknown state 'FOO'"),
        ('0 A write "abc', "1:11", "unterminated string"),
        ("1s A close\n0 B close", "2:1", "time goes backwards"),
        ("1x A close", "1:1", "is not a time"),
        ("0 A receives FOO seq=1", "1:14", "unknown flag 'FOO'"),
        ("0 A receives RST ack=1", "1:14", "needs seq=N"),
        ("0 A receives RST seq=x", "1:22", "seq must be a whole number"),
        ("0 A receives . seq=1 win=70000", "1:26", "a window must be a whole number below 65536"),
        ("option tw 30s", "1:8", "unknown profile option 'tw'"),
        ("option rfc1337 maybe", "1:16", "takes on or off"),
        ("profile bsd", "1:9", "unknown profile 'bsd'"),
        ("iss A 99999999999", "1:7", "below 4294967296"),
        ("lose", "1:5", "expected: lose A2"),
        ("0 A close now", "1:11", "expected: TIME A close"),
        ("0 A shutdown sideways", "1:14", "shutdown takes wr or rdwr"),
        ("window B lots", "1:10", "a window must be a whole number below 65536"),
        ("mss A 0", "1:7", "an MSS must be at least 1 byte"),
        ("0 B read all", "1:10", "a window must be a whole number"),
        ("0 A receives ACK seq=RCV.NXT+FOO", "1:22", "or a sum like RCV.NXT+RCV.WND-1"),
        ("option close_wait_reset_error broken", "1:31", "takes a quoted text"),
        ("lose A2\ndelay A2 5ms", "2:7", "A2 already has a fate (line 1)"),
        ("profile linux\nprofile rfc9293", "2:1", "the profile is already chosen on line 1"),
        ("0 A receives ACK seq=1 tsval=TS.RECENT", "1:14", "TS.RECENT needs timestamps, which rfc9293 has off"),
    ],
)
def test_bad_scripts_get_file_line_col(text, where, message):
    with pytest.raises(ScriptError) as e:
        parse_script(text, "bad.script")
    assert str(e.value).startswith(f"bad.script:{where}: ")
    assert message in str(e.value)


def test_a_fate_no_segment_meets_is_named_with_its_line():
    """A miscounted segment (B sends one segment here: its ACK) would leave the plain run, unremarked."""
    script, trace = run("0 A close\nlose B3\nduplicate B's FIN 5ms\nlose A1\n")
    assert [r.fate for r in trace.rows if r.event == "send"][:1] == ["lost"]  # A1 met its fate
    assert script.warnings(trace) == [
        "t.script:2: lose B3 never happened: B sent 1 segment in this run",
        "t.script:3: duplicate B's FIN never happened: no segment of this run is B's FIN",
    ]
    assert script.check(trace) == []  # a warning, not a failure: "lose A's answer, if it answers" is meant


SHUTDOWN_THEN_CLOSE = "profile {p}\n0 A shutdown\n+50ms A close\n+50ms B write 4\n"


def test_close_after_shutdown_detaches_under_linux():
    # Linux tcp_close(): the socket is orphaned (no error), FIN_WAIT_2 gets tcp_fin_timeout, and new
    # data is answered with RST (autograder/kernel/scenarios.py: shutdown-then-close*, on the kernel).
    _, trace = run(SHUTDOWN_THEN_CLOSE.format(p="linux"))
    a = [r for r in trace.rows if r.endpoint == "A"]
    assert not [r for r in a if r.event == "error"]
    assert [(r.time, r.detail) for r in a if r.event == "timer" and "FIN_WAIT_2" in r.detail] == [
        (50_000, "start FIN_WAIT_2 60 s")
    ]
    assert (RST, 101) in [(r.flags, r.seq) for r in a if r.event == "send"]
    assert trace.final_state("A") == State.CLOSED


def test_close_after_shutdown_is_an_error_under_rfc9293():
    # §3.10.4, FIN-WAIT-2: "Strictly speaking, this is an error and should receive an 'error:
    # connection closing' response"; the half-open connection still takes data.
    _, trace = run(SHUTDOWN_THEN_CLOSE.format(p="rfc9293"))
    assert [r.detail for r in trace.rows if r.endpoint == "A" and r.event == "error"] == ["connection closing"]
    assert [r.detail for r in trace.rows if r.endpoint == "A" and r.event == "deliver"] == ["4 bytes"]
    assert trace.final_state("A") == State.FIN_WAIT_2


def test_a_crafted_segment_announces_its_window():
    _, trace = run("0 A write 10\n+5ms A receives . seq=RCV.NXT ack=SND.NXT win=0\n+1ms A write 10\n")
    sends = [(r.time, r.len) for r in trace.rows if r.endpoint == "A" and r.event == "send"]
    assert sends[:2] == [(0, 10), (20_000, 10)]  # the second write waits for B's own ACK to open the window


def test_flags_as_tcpdump_and_packetdrill_write_them():
    from reference_impl.segment import SYN, Flags

    assert [Flags.parse(t) for t in ("F.", ".", "R.", "R", "S.", "P.", "FIN|ACK", "NONE")] == [
        FIN | ACK, ACK, RST | ACK, RST, SYN | ACK, ACK, FIN | ACK, Flags.NONE]  # fmt: skip


def test_durations():
    assert [parse_duration(t) for t in ("0", "10ms", "1.5s", "250us", "2", ".01")] == [
        0,
        10_000,
        1_500_000,
        250,
        2_000_000,
        10_000,
    ]


# What Linux's stack decides before a state's handler (reference_impl/stack.py), each on the kernel
# in autograder/kernel/scenarios.py; under rfc9293 the RFC's answer.
def _sent(trace, ep):
    return [(r.flags, r.seq) for r in trace.rows if r.endpoint == ep and r.event == "send"]


@pytest.mark.parametrize("p,answered", [("linux", False), ("rfc9293", True)])
def test_a_segment_without_ack_rst_or_syn_past_the_window(p, answered):
    _, trace = run(f"profile {p}\n100ms B receives FIN seq=RCV.NXT+RCV.WND+1\n")
    assert ([f for f, _ in _sent(trace, "B")] == [ACK]) is answered  # §3.10.7.4: an unacceptable segment is ACKed
    assert trace.final_state("B") == State.ESTABLISHED


@pytest.mark.parametrize("p", ["linux", "rfc9293"])
def test_text_after_the_peers_fin_is_ignored_even_after_close(p):
    # §3.10.7.4 seventh, LAST-ACK: "Ignore the segment text"; linux's close() would reset in FIN_WAIT_*.
    _, trace = run(
        f"profile {p}\n0 A shutdown\n100ms B close\nlose A2\n150ms B receives . seq=RCV.NXT ack=SND.NXT-1 len=3\n"
    )
    assert not [f for f, _ in _sent(trace, "B") if f & RST]
    arrival = next(r for r in trace.rows if r.endpoint == "B" and r.event == "recv" and r.time == 150_000)
    assert arrival.state_after == State.LAST_ACK and ("ignored" in arrival.detail) is (p == "linux")


@pytest.mark.parametrize("p,end", [("linux", State.CLOSED), ("rfc9293", State.FIN_WAIT_2)])
def test_an_rst_in_the_window_of_an_orphans_fin_wait_2(p, end):
    _, trace = run(f"profile {p}\n0 A close\n100ms A receives R seq=RCV.NXT+1\n")
    assert trace.final_state("A") == end
    assert [f for f, _ in _sent(trace, "A")[1:]] == ([] if p == "linux" else [ACK])  # rfc9293: RFC 5961's challenge ACK


@pytest.mark.parametrize("p,end", [("linux", State.CLOSED), ("rfc9293", State.CLOSE_WAIT)])
def test_an_rst_on_the_peers_fin_in_close_wait(p, end):
    _, trace = run(f"profile {p}\n0 A shutdown\n100ms B receives R seq=RCV.NXT-1\n")
    assert trace.final_state("B") == end
