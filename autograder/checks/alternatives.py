"""Where a correct implementation may differ from the reference: the RFC-allowed alternatives.

The checks compare a learner's handler call with the reference's (harness.Observed). A few
differences are not mistakes, because the standards allow either answer; each is named here
with the sentence that allows it, and the comparison accepts it (`allowed`). In a whole
scenario an accepted alternative becomes the reference's own answer at that step and the
reference's run continues from it (checks.scenario_cases), so a timer left running is judged
by what happens when it fires, not by the restart it skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reference_impl.states import AppClose, State, Timer

from ..harness import Observed


@dataclass(frozen=True)
class Alternative:
    name: str
    source: str  # the standard's sentence that allows it
    applies: Callable[[Observed, Observed], bool]  # (reference, learner) -> this alternative explains the difference


def _same_but(expected: Observed, got: Observed, *fields: str) -> bool:
    keep = ("next_state", "sends", "timers", "app")
    return all(getattr(expected, f) == getattr(got, f) for f in keep if f not in fields)


def _ok_to_a_second_close(expected: Observed, got: Observed) -> bool:
    return (expected.state in (State.FIN_WAIT_1, State.FIN_WAIT_2) and isinstance(expected.stimulus, AppClose)
            and bool(expected.app) and all(a.startswith("error ") for a in expected.app) and got.app == ()
            and _same_but(expected, got, "app"))  # fmt: skip


def _running_timer_kept(expected: Observed, got: Observed) -> bool:
    """The FIN goes out behind unacknowledged data: the reference restarts the retransmission
    timer; leaving the running one alone is what RFC 6298 §5.1 says for any new segment."""
    if not isinstance(expected.stimulus, AppClose) or not _same_but(expected, got, "timers"):
        return False
    running = dict(expected.armed_before).get(Timer.RETRANSMIT)
    if running is None or not (expected.tcb is not None and expected.tcb.snd_una != expected.tcb.snd_nxt):
        return False
    want, have = dict(expected.timers), dict(got.timers)
    return (Timer.RETRANSMIT in want and have.get(Timer.RETRANSMIT) == running
            and {t: d for t, d in want.items() if t is not Timer.RETRANSMIT}
            == {t: d for t, d in have.items() if t is not Timer.RETRANSMIT})  # fmt: skip


ALTERNATIVES = (
    Alternative(
        'close() again in FIN_WAIT_1 or FIN_WAIT_2 answered with "ok" instead of "error: connection closing"',
        'RFC 9293 §3.10.4 CLOSE, FIN-WAIT-1 and FIN-WAIT-2 STATES: "Strictly speaking, this is an error and '
        "should receive an 'error: connection closing' response. An 'ok' response would be acceptable, too, "
        'as long as a second FIN is not emitted"',
        _ok_to_a_second_close,
    ),
    Alternative(
        "the running retransmission timer left alone when the FIN goes out behind unacknowledged data",
        'RFC 6298 §5.1: "Every time a packet containing data is sent (including a retransmission), if the '
        'timer is not running, start it running"',
        _running_timer_kept,
    ),
)


def allowed(expected: Observed, got: Observed) -> Alternative | None:
    """The alternative that makes `got` a correct answer where the reference did `expected`, if any."""
    for alt in ALTERNATIVES:
        if alt.applies(expected, got):
            return alt
    return None
