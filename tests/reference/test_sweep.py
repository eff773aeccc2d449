"""The TIME_WAIT sweep finds the threshold the model predicts (a copy's lifetime against TIME_WAIT)."""

from __future__ import annotations

import pytest

from reference_impl.handlers import HANDLERS
from reference_impl.profiles import LINUX, RFC9293, ms, sec
from reference_impl.states import AppSend, StartTimer, State, Step, Timer
from reference_impl.sweep import bisect_threshold, predicted_threshold, sweep_time_wait


@pytest.mark.parametrize("lifetime", [ms(500), sec(2), sec(10) + 7, sec(30) + ms(10), sec(120)])
def test_the_threshold_found_by_simulation_is_the_predicted_one_to_the_microsecond(lifetime):
    assert bisect_threshold(lifetime) == predicted_threshold(lifetime)


def test_a_sweep_reports_each_duration_and_finds_the_threshold_on_its_grid():
    lifetime = sec(30) + ms(10)  # the catalogue's copy: 10 ms of delay, 30 s of wandering
    s = sweep_time_wait([sec(n) for n in range(0, 61, 5)], lifetime)
    assert s.predicted == lifetime - ms(100)  # sent at 0, A in TIME_WAIT at 70 ms, 3 delays of handshake
    assert [p.harmed for p in s.points] == [True] * 6 + [False] * 7
    assert s.threshold == sec(30)  # the first grid point at or above the prediction
    assert "took 1000 bytes of connection 1" in s.points[0].why and "in LISTEN" in s.points[-1].why
    assert s.table()[0] == {"time_wait_us": 0, "TIME_WAIT": "0 s", "harmed": True, "what happened": s.points[0].why}
    assert [r["time_wait_us"] for r in s.table()] == sorted(sec(n) for n in range(0, 61, 5))


def test_two_msl_is_always_enough_and_paws_makes_any_duration_safe():
    for lifetime in (sec(1), sec(60), RFC9293.msl):
        assert predicted_threshold(lifetime) < 2 * RFC9293.msl
    s = sweep_time_wait([0, sec(10)], sec(30), base=LINUX)
    assert s.predicted == 0 and not any(p.harmed for p in s.points)  # timestamps: every copy refused
    assert predicted_threshold(sec(30), base=LINUX.replace(timestamps=False)) == sec(30) - ms(100)


def test_a_wrong_time_wait_moves_the_threshold_the_sweep_finds():
    # TIME_WAIT is entered by the handlers before it (fin_wait_2): wrap their timer the same way.
    machine = dict(HANDLERS)
    for state in (State.FIN_WAIT_2, State.TIME_WAIT, State.FIN_WAIT_1, State.CLOSING):
        machine[state] = _halving(HANDLERS[state])
    lifetime = sec(20)
    assert bisect_threshold(lifetime, machine=machine) == 2 * predicted_threshold(lifetime)


def _halving(handler):
    def wrapped(tcb, ev, profile):
        step = handler(tcb, ev, profile)
        outs = tuple(StartTimer(o.timer, o.duration // 2) if isinstance(o, StartTimer) and o.timer is Timer.TIME_WAIT
                     else o for o in step.outputs)  # fmt: skip
        return Step(step.state, outs, step.tcb)

    return wrapped


def test_bad_sweeps_say_what_to_use():
    with pytest.raises(ValueError, match="at most the MSL"):
        sweep_time_wait([0], RFC9293.msl + 1)
    with pytest.raises(ValueError, match="use 'old-duplicate-after-reuse'"):
        sweep_time_wait([0], sec(1), name="active-close")


def test_a_machine_that_never_sends_the_duplicated_segment_is_told_so():
    def silent(tcb, ev, profile):  # ESTABLISHED that drops the application's data: no data segment leaves
        return Step(State.ESTABLISHED, (), tcb) if isinstance(ev, AppSend) else established(tcb, ev, profile)

    established = HANDLERS[State.ESTABLISHED]
    with pytest.raises(ValueError, match=r"never sends the segment the scenario duplicates \(A's data, copy 2\)"):
        predicted_threshold(sec(30), machine={**HANDLERS, State.ESTABLISHED: silent})
