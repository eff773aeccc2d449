"""Recording what happened, as the outside world sees it: each handler call reduced to an Observed
step, and whole runs of a learner's machine in the simulator."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from reference_impl.profiles import Profile
from reference_impl.segment import Segment
from reference_impl.sim import Scenario, Simulation, StepReport
from reference_impl.states import (
    CancelTimer,
    DeliverData,
    DeliverEOF,
    Error,
    Send,
    StartTimer,
    State,
    Step,
    Stimulus,
    Timeout,
    Timer,
)
from reference_impl.tcb import TCB
from reference_impl.trace import Trace

from .errors import Handler, LearnerError

# ---- recording what happened, as the outside world sees it --------------------------------

SegmentView = tuple[str, int, int | None, int]  # flags, seq, ack (None without ACK), data length


@dataclass(frozen=True)
class Observed:
    """One handler call, reduced to what is observable. Equal for equally-behaving code."""

    time: int
    endpoint: str
    state: State
    stimulus: Stimulus
    next_state: State
    sends: tuple[SegmentView, ...]
    timers: tuple[tuple[Timer, int], ...]  # armed after the step: (timer, deadline), sorted
    app: tuple[str, ...]  # what the application is told, in order
    learner: bool = field(default=False, compare=False)  # this state's handler was the learner's
    step: Step | None = field(default=None, compare=False)
    tcb: TCB | None = field(default=None, compare=False)  # the TCB the handler was given
    armed_before: tuple[tuple[Timer, int], ...] = field(default=(), compare=False)


def segment_view(seg: Segment) -> SegmentView:
    return (str(seg.flags), seg.seq, seg.ack if seg.has_ack else None, len(seg.payload))


def observe(
    step: Step, stimulus: Stimulus, armed: dict[Timer, int], now: int = 0
) -> tuple[tuple[SegmentView, ...], dict[Timer, int], tuple[str, ...]]:
    """The sends, the armed timers (deadline by timer) after the step, and the app notifications.

    Mirrors the simulator: an expired timer is disarmed before its handler runs, a start
    (re)arms, a cancel disarms, and entering CLOSED deletes every timer with the TCB.
    """
    armed = dict(armed)
    if isinstance(stimulus, Timeout):
        armed.pop(stimulus.timer, None)
    sends, app = [], []
    for out in step.outputs:
        match out:
            case Send(seg):
                sends.append(segment_view(seg))
            case StartTimer(timer, duration):
                armed[timer] = now + duration
            case CancelTimer(timer):
                armed.pop(timer, None)
            case DeliverData(data):
                app.append(f"data {len(data)}")
            case DeliverEOF():
                app.append("EOF")
            case Error(message):
                app.append(f"error {message}")
    if step.state is State.CLOSED:
        armed.clear()
    return tuple(sends), armed, tuple(app)


def _sorted_timers(armed: Mapping[Timer, int]) -> tuple[tuple[Timer, int], ...]:
    return tuple(sorted(armed.items(), key=lambda kv: kv[0].value))


@dataclass
class Run:
    """One simulated scenario: the trace, every handler call observed, and the learner's error."""

    trace: Trace
    observed: list[Observed]
    error: LearnerError | None = None


AFTER_DIVERGENCE = 20  # handler calls recorded past the first difference from `expected` (the picture's tail)


class _Enough(Exception):
    """Stops a learner's run that has gone its own way for AFTER_DIVERGENCE calls."""


def run_machine(
    scenario: Scenario,
    profile: Profile,
    table: Mapping[State, Handler],
    learner_states=(),
    substitute: Mapping[int, Step] | None = None,
    expected: list[Observed] | None = None,
) -> Run:
    """Simulate `scenario` with `table` for both endpoints, recording every call. `substitute`
    gives the Step to take instead of calling the handler, by the call's index in the run
    (an allowed alternative taken as the reference's own answer). With `expected` (the
    reference's calls), the run stops AFTER_DIVERGENCE calls after it first differs from them:
    a machine that has gone wrong may otherwise run to the simulator's event limit."""
    recorder = _Recorder(learner_states, substitute or {}, expected)
    machine = {state: recorder.recording(state, fn) for state, fn in table.items()}
    sim = recorder.sim = Simulation(scenario, profile, {"A": machine, "B": machine}, observer=recorder.report)
    try:
        sim.run()
    except LearnerError as e:
        e.endpoint, e.time = sim.endpoint, sim.now
        return Run(sim.trace, recorder.observed, e)
    except _Enough:
        pass
    return Run(sim.trace, recorder.observed)


class _Recorder:
    """Wraps each handler to record its calls, and takes the simulator's report after each step."""

    sim: Simulation

    def __init__(self, learner_states, substitute: Mapping[int, Step], expected: list[Observed] | None) -> None:
        self.learner_states, self.substitute, self.expected = learner_states, substitute, expected
        self.observed: list[Observed] = []
        self.diverged: list[int] = []
        self.reported = 0  # observed[:reported] carry the simulator's timers
        self.armed: dict[str, dict[Timer, int]] = {"A": {}, "B": {}}

    def recording(self, state: State, fn: Handler) -> Handler:
        mine = state in self.learner_states
        observed, armed = self.observed, self.armed

        def handler(tcb: TCB, ev: Stimulus, prof: Profile) -> Step:
            step = self.substitute.get(len(observed)) or fn(tcb, ev, prof)
            sim = self.sim
            ep = sim.endpoint
            sends, armed[ep], app = observe(step, ev, armed[ep], sim.now)  # the timers until the step's report
            observed.append(Observed(sim.now, ep, state, ev, step.state, sends, _sorted_timers(armed[ep]),
                                     app, mine, step, tcb))  # fmt: skip
            return step

        return handler

    def report(self, r: StepReport) -> None:
        """The simulator's timers after the step replace what the call's own outputs implied."""
        observed, expected, diverged = self.observed, self.expected, self.diverged
        self.armed[r.endpoint] = dict(r.armed_after)
        for n in range(self.reported, len(observed)):
            observed[n] = dataclasses.replace(observed[n], timers=r.armed_after, armed_before=r.armed_before)
            if expected is not None:
                if not diverged and (n >= len(expected) or observed[n] != expected[n]):
                    diverged.append(n)
                if diverged and n >= diverged[0] + AFTER_DIVERGENCE:
                    raise _Enough
        self.reported = len(observed)
