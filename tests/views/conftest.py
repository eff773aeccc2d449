"""Traces the view tests draw: catalogue runs, a one-sided trace, a runaway one."""

from __future__ import annotations

import pytest

from reference_impl import scenarios
from reference_impl.trace import Row, Trace


@pytest.fixture
def active_close() -> Trace:
    return scenarios.run("active-close")


@pytest.fixture
def lost_final_ack() -> Trace:
    return scenarios.run("lost-final-ack")


@pytest.fixture
def duplicate_fin() -> Trace:
    return scenarios.run("duplicate-fin-in-time-wait")


def runaway(n: int = 5_000) -> Trace:
    """n events of data ping-pong: what a learner's handler stuck in a loop produces."""
    rows, t, seq = [], 0, 100
    while len(rows) < n:
        for ep, ev, flags, s, a, ln in (("A", "send", "ACK", seq, 300, 10), ("B", "recv", "ACK", seq, 300, 10),
                                        ("B", "send", "ACK", 300, seq + 10, 0), ("A", "recv", "ACK", 300, seq + 10, 0)):  # fmt: skip
            rows.append(Row(t, ep, ev, "ESTABLISHED", "ESTABLISHED", flags, s, a, ln,
                            "delivered" if ev == "send" else "", f"<SEQ={s}><ACK={a}><CTL=ACK>"))  # fmt: skip
            t += 5_000
        seq += 10
    return Trace(rows[:n], scenario="runaway", profile="rfc9293")
