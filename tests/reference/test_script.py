"""Scenario scripts: what they mean, and exact errors for what they get wrong."""

from __future__ import annotations

import pytest

from reference_impl.handlers import HANDLERS
from reference_impl.profiles import LINUX
from reference_impl.script import ScriptError, parse_duration, parse_script
from reference_impl.sim import simulate

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
    rst = [r for r in trace.rows if r.event == "recv" and r.flags == "RST"]
    assert rst and (rst[0].state_before, rst[0].state_after) == ("TIME_WAIT", "CLOSED")
    assert script.check(trace) == []


def test_write_duplicate_delay_noread_iss_channel():
    text = (
        'iss A 7\nchannel delay 5ms\nnoread B\n0 A write "hi"\n0 A write 3\nduplicate A1 1ms\ndelay A2 20ms\n'
    )
    script, trace = run(text)
    sends = [r for r in trace.rows if r.event == "send" and r.endpoint == "A"]
    assert [(r.seq, r.len, r.fate) for r in sends] == [(7, 2, "duplicated"), (9, 3, "delayed")]
    assert script.scenario.delay == 5000 and script.scenario.reads == {"A": True, "B": False}


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
        ("option tw 30s", "1:8", "unknown profile option 'tw'"),
        ("option rfc1337 maybe", "1:16", "takes on or off"),
        ("profile bsd", "1:9", "unknown profile 'bsd'"),
        ("iss A 99999999999", "1:7", "below 4294967296"),
        ("lose", "1:5", "expected: lose A2"),
        ("0 A close now", "1:11", "expected: TIME A close"),
    ],
)
def test_bad_scripts_get_file_line_col(text, where, message):
    with pytest.raises(ScriptError) as e:
        parse_script(text, "bad.script")
    assert str(e.value).startswith(f"bad.script:{where}: ")
    assert message in str(e.value)


def test_durations():
    assert [parse_duration(t) for t in ("0", "10ms", "1.5s", "250us", "2")] == [
        0,
        10_000,
        1_500_000,
        250,
        2_000_000,
    ]
