"""RFC 793 figures 13 (normal close) and 14 (simultaneous close), number for number.

Each figure line is (endpoint, state when sending, segment text); the trace must
send exactly these segments in this order and walk exactly these states.
"""

from __future__ import annotations

from reference_impl import scenarios
from reference_impl.states import State


def sent(trace, endpoint):
    return [(r.state_before, r.detail) for r in trace.rows if r.endpoint == endpoint and r.event == "send"]


def test_figure_13_normal_close():
    trace = scenarios.run("active-close")
    assert sent(trace, "A") == [
        (State.FIN_WAIT_1, "<SEQ=100><ACK=300><CTL=FIN,ACK>"),
        (State.TIME_WAIT, "<SEQ=101><ACK=301><CTL=ACK>"),
    ]
    assert sent(trace, "B") == [
        (State.CLOSE_WAIT, "<SEQ=300><ACK=101><CTL=ACK>"),
        (State.LAST_ACK, "<SEQ=300><ACK=101><CTL=FIN,ACK>"),
    ]
    assert trace.states("A") == [State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2, State.TIME_WAIT, State.CLOSED]
    assert trace.states("B") == [State.ESTABLISHED, State.CLOSE_WAIT, State.LAST_ACK, State.CLOSED]


def test_figure_13_time_wait_lasts_2_msl():
    trace = scenarios.run("active-close")
    entered = next(r.time for r in trace.rows if r.endpoint == "A" and r.state_after == State.TIME_WAIT)
    left = next(r.time for r in trace.rows if r.endpoint == "A" and r.state_after == State.CLOSED)
    assert left - entered == 240_000_000  # 2 × MSL of 2 minutes


def test_figure_14_simultaneous_close():
    trace = scenarios.run("simultaneous-close")
    assert sent(trace, "A") == [
        (State.FIN_WAIT_1, "<SEQ=100><ACK=300><CTL=FIN,ACK>"),
        (State.CLOSING, "<SEQ=101><ACK=301><CTL=ACK>"),
    ]
    assert sent(trace, "B") == [
        (State.FIN_WAIT_1, "<SEQ=300><ACK=100><CTL=FIN,ACK>"),
        (State.CLOSING, "<SEQ=301><ACK=101><CTL=ACK>"),
    ]
    for ep in "AB":
        assert trace.states(ep) == [State.ESTABLISHED, State.FIN_WAIT_1, State.CLOSING, State.TIME_WAIT, State.CLOSED]
