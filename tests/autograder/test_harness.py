"""The harness records each handler call with the timers the simulator holds after its step.

The simulator reports every step (reference_impl.sim.StepReport); the harness takes the timers
from that report instead of re-deriving them from the handler's outputs, so what the stack does
around a handler is seen too.
"""

from __future__ import annotations

import pytest

from autograder.harness import run_machine
from reference_impl import scenarios
from reference_impl.profiles import LINUX, RFC9293
from reference_impl.states import Arrival, State, Timer


def test_a_syn_that_reopens_time_wait_retires_its_timer_in_what_the_harness_records():
    """Under linux a SYN reopens B's TIME_WAIT (RFC 6191): the stack cancels TIME_WAIT's timer before
    LISTEN's handler answers, which the handler's own outputs never say."""
    run = run_machine(scenarios.get("syn-in-time-wait").scenario, LINUX, scenarios.reference_machine())
    reopened = next(o for o in run.observed if o.endpoint == "B" and o.state is State.LISTEN)
    assert isinstance(reopened.stimulus, Arrival) and reopened.stimulus.segment.syn
    assert dict(reopened.armed_before).get(Timer.TIME_WAIT) == 60_060_000  # armed when the SYN came
    assert [t for t, _ in reopened.timers] == [Timer.RETRANSMIT]  # TIME_WAIT gone, the SYN,ACK's timer on


@pytest.mark.parametrize("profile", [RFC9293, LINUX], ids=lambda p: p.name)
def test_the_timer_that_fires_is_armed_before_its_call_and_gone_after(profile):
    for name in scenarios.CATALOGUE:
        for o in run_machine(scenarios.get(name).scenario, profile, scenarios.reference_machine()).observed:
            timer = getattr(o.stimulus, "timer", None)
            if timer is None:
                continue
            assert dict(o.armed_before).get(timer) == o.time, (name, o)
            restarted = any(getattr(out, "timer", None) is timer and type(out).__name__ == "StartTimer"
                            for out in o.step.outputs)  # fmt: skip
            assert (timer in dict(o.timers)) == (restarted and o.next_state is not State.CLOSED), (name, o)
