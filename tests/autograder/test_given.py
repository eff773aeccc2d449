"""A family's `given`: calls another cell grades are answered by the reference, the rest stays the learner's.

Notebook 04's cells about an ACK of data, a lost ACK, a lost second FIN and TIME_WAIT take FIN_WAIT_1's
RETRANSMIT timeout from the reference, so a wrong backoff in the learner's own retransmission costs
its own two cells only (tests/course/bugs/04_lost_segments.py holds the notebook's side of it).
"""

from __future__ import annotations

from implementations import load

from autograder.checks import run_spec
from autograder.harness import LearnerError, LearnerMachine
from autograder.learner import StartTimer, State, Step
from autograder.manifest import family
from reference_impl.states import Arrival, Timeout, Timer

GOOD = load("impl_table").HANDLERS
RESEND = (State.FIN_WAIT_1, Timeout(Timer.RETRANSMIT))


def no_backoff(tcb, ev, profile):
    """FIN_WAIT_1 that retransmits with the first timeout every time."""
    step = GOOD[State.FIN_WAIT_1](tcb, ev, profile)
    if ev == Timeout(Timer.RETRANSMIT):
        kept = tuple(
            StartTimer(o.timer, profile.rto(0, tcb.srtt)) if isinstance(o, StartTimer) else o for o in step.outputs
        )
        return Step(step.state, kept, step.tcb)
    return step


def data_ack_ends_fin_wait_1(tcb, ev, profile):
    """FIN_WAIT_1 that takes any ACK for the ACK of its FIN."""
    step = GOOD[State.FIN_WAIT_1](tcb, ev, profile)
    if isinstance(ev, Arrival) and step.state is State.FIN_WAIT_1 and ev.segment.has_ack and not ev.segment.fin:
        return Step(State.FIN_WAIT_2, step.outputs, step.tcb)
    return step


def stub(tcb, ev, profile):
    raise LearnerError("raised NotImplementedError")


def machine(fin_wait_1) -> LearnerMachine:
    return LearnerMachine({**GOOD, State.FIN_WAIT_1: fin_wait_1}, frozenset(), source=None)


def test_a_given_call_is_the_references_so_its_mistake_costs_nothing_there():
    plain, given = family("lost-first-fin", k=1), family("lost-first-fin", k=1, given=[RESEND])
    assert run_spec(plain, machine(no_backoff)).score < 1
    outcome = run_spec(given, machine(no_backoff))
    assert outcome.score == 1
    # the class report does not credit the learner with the calls the reference answered
    assert all(("FIN_WAIT_1", "timeout RETRANSMIT") not in c.exercised for c in outcome.cases)
    assert any(("FIN_WAIT_1", "recv ACK") in c.exercised for c in outcome.cases)


def test_the_rest_of_the_state_stays_the_learners():
    given = family("ack-of-data-not-fin", k=1, given=[RESEND])
    assert run_spec(given, machine(data_ack_ends_fin_wait_1)).score < 1


def test_a_state_the_learner_never_wrote_still_scores_nothing():
    given = family("lost-first-fin", k=1, given=[RESEND])
    assert run_spec(given, machine(stub)).score == 0
