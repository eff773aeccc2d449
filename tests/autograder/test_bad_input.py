"""Hostile and broken learner cells: each gets one clear sentence and zero, and nothing else breaks."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from implementations import load

from autograder.checks import check_family, check_scenario, check_transition, hidden_suite
from autograder.harness import Guard, LearnerError, Limits, learner_handlers
from autograder.learner import ACK, RFC9293, Arrival, Segment, Send, State, Step
from reference_impl.states import CLOSE_STATES

GOOD = load("impl_table").HANDLERS
FIN_ACKED = Arrival(Segment(seq=300, ack=101, flags=ACK))  # B's ACK of A's FIN in active-close


def namespace(**handlers) -> dict:
    """A notebook namespace: the correct handlers, with some replaced by the cell under test."""
    ns = {s.value.lower(): f for s, f in GOOD.items()}
    ns.update(handlers)
    return ns


def one_sentence(message: str) -> str:
    assert "Traceback" not in message and 'File "' not in message
    return message


def test_a_cell_that_defines_nothing():
    with pytest.raises(AssertionError) as e:
        check_scenario({"x": 1}, "active-close")
    assert "no handler found" in one_sentence(str(e.value))
    assert check_scenario({}, "active-close", partial=True).score == 0


def test_a_cell_with_the_wrong_name_is_told_the_right_one():
    def finwait1(tcb, ev, profile):
        return Step(State.FIN_WAIT_1, (), tcb)

    with pytest.raises(AssertionError) as e:
        check_transition({"finwait1": finwait1}, State.FIN_WAIT_1, FIN_ACKED)
    assert "you defined `finwait1`: rename it to `fin_wait_1`" in one_sentence(str(e.value))


def test_a_misspelled_handler_is_named_beside_a_correct_one_and_in_show_mine():
    """A reader renamed fin_wait_2 to fin_wiat_2 and was told to rename fin_wait_1, which was right."""
    from autograder.notebook_helpers import LearnerRun, _verdict

    handlers = load("impl_plain").HANDLERS  # an independent correct implementation
    ns = {"fin_wait_1": handlers[State.FIN_WAIT_1], "fin_wiat_2": handlers[State.FIN_WAIT_2]}
    with pytest.raises(AssertionError) as e:
        check_transition(ns, State.FIN_WAIT_2, FIN_ACKED)
    assert "you defined `fin_wiat_2`: rename it to `fin_wait_2`" in one_sentence(str(e.value))

    run = LearnerRun(ns)
    run.missing = [State.FIN_WAIT_2]  # what a notebook whose checks call fin_wait_2 finds
    run.error, run.unwritten = None, []
    head, ok, _ = _verdict(run, "active-close", "rfc9293")
    assert "fin_wait_2: no function of that name, though you defined `fin_wiat_2` (rename it)" in head and not ok


def test_returning_none():
    def fin_wait_1(tcb, ev, profile):
        Step(State.FIN_WAIT_2, (), tcb)

    with pytest.raises(AssertionError) as e:
        check_transition({"fin_wait_1": fin_wait_1}, State.FIN_WAIT_1, FIN_ACKED)
    msg = one_sentence(str(e.value))
    assert "in FIN_WAIT_1, on arrival of <SEQ=300><ACK=101><CTL=ACK>, your handler returned None" in msg


@pytest.mark.parametrize("returned, words", [
    (lambda tcb: (State.FIN_WAIT_2, [], tcb), "returned a tuple"),
    (lambda tcb: Step("FIN_WAIT_2", (), tcb), "use State.FIN_WAIT_2"),
    (lambda tcb: Step(State.FIN_WAIT_2, [tcb.ack()], tcb), "a bare Segment: wrap it as Send(segment)"),
    (lambda tcb: Step(State.FIN_WAIT_2, ["ack"], tcb), "which is not an output"),
    (lambda tcb: Step(State.FIN_WAIT_2, (), "tcb"), "not a TCB"),
    (lambda tcb: Step(State.FIN_WAIT_2, (), tcb.replace(snd_nxt=2**32)), "not a 32-bit sequence number"),
])  # fmt: skip
def test_wrong_return_values_are_named(returned, words):
    def fin_wait_1(tcb, ev, profile):
        return returned(tcb)

    result = check_transition({"fin_wait_1": fin_wait_1}, State.FIN_WAIT_1, FIN_ACKED, partial=True)
    assert result.score == 0 and words in one_sentence(result.failures[0].message)


def test_an_impossible_segment_is_named():
    def fin_wait_1(tcb, ev, profile):
        seg = Segment(seq=1, ack=2)
        object.__setattr__(seg, "seq", -5)  # what Segment's own checks would have refused
        return Step(State.FIN_WAIT_2, [Send(seg)], tcb)

    result = check_transition({"fin_wait_1": fin_wait_1}, State.FIN_WAIT_1, FIN_ACKED, partial=True)
    assert "seq=-5 is not a 32-bit sequence number" in result.failures[0].message


def test_mutating_the_tcb_is_explained():
    def fin_wait_1(tcb, ev, profile):
        tcb.snd_una = ev.segment.ack
        return Step(State.FIN_WAIT_2, (), tcb)

    result = check_scenario(namespace(fin_wait_1=fin_wait_1), "active-close", partial=True)
    msg = one_sentence(result.failures[0].message)
    assert "A at 0.02 s: in FIN_WAIT_1, on arrival of <SEQ=300><ACK=101><CTL=ACK>" in msg
    assert "return a new TCB in Step(tcb=...)" in msg


def test_an_exception_is_one_sentence_with_the_line():
    def fin_wait_1(tcb, ev, profile):
        table = {}
        return table["x"]

    result = check_scenario(namespace(fin_wait_1=fin_wait_1), "active-close", partial=True)
    msg = one_sentence(result.failures[0].message)
    assert "your handler raised KeyError: 'x' (line" in msg and "of fin_wait_1)" in msg
    assert "replay: tcpclose simulate active-close" in msg


def test_an_endless_loop_is_stopped_and_the_other_cases_still_run():
    calls = []

    def fin_wait_2(tcb, ev, profile):
        calls.append(ev)
        while True:
            pass

    result = check_family(
        namespace(fin_wait_2=fin_wait_2), ["active-close", "abort"], k=1, profiles=[RFC9293], partial=True
    )
    assert len(calls) == 1, "a hung handler is waited for once per check, not once per case"
    stopped = [c for c in result.failures if "ran longer than 1 s and was stopped" in c.message]
    assert stopped and result.passed > 0  # the abort scenario never reaches FIN_WAIT_2: it still passes


def test_an_endless_loop_in_a_worker_thread_is_stopped_too():
    def fin_wait_1(tcb, ev, profile):
        while True:
            pass

    out = {}
    worker = threading.Thread(
        target=lambda: out.update(
            r=check_transition({"fin_wait_1": fin_wait_1}, State.FIN_WAIT_1, FIN_ACKED, partial=True)
        )
    )
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert "ran longer than 1 s" in out["r"].failures[0].message


def test_printing_megabytes_is_stopped():
    def time_wait(tcb, ev, profile):
        for _ in range(100_000):
            print("x" * 100)

    result = check_scenario(namespace(time_wait=time_wait), "active-close", partial=True)
    assert "printed more than 20000 characters" in one_sentence(result.failures[0].message)


def test_a_little_printing_is_fine_and_kept():
    def fin_wait_1(tcb, ev, profile):
        print("debug", ev)
        return GOOD[State.FIN_WAIT_1](tcb, ev, profile)

    guard = Guard(Limits(output=300))
    with guard.session():
        found = learner_handlers(namespace(fin_wait_1=fin_wait_1))
        for _ in range(20):  # far more than 300 characters in all, but under the limit per call
            guard.call(State.FIN_WAIT_1, found[State.FIN_WAIT_1], *_fw1_fixture(), RFC9293)
    assert guard.printed.startswith("debug Arrival(")


def _fw1_fixture():
    from autograder.checks import fixtures

    fx = fixtures(RFC9293)[State.FIN_WAIT_1][0]
    return fx.tcb, FIN_ACKED


def test_a_broken_cell_costs_only_its_own_cases():
    def closing(tcb, ev, profile):
        return None

    for notebook in ("01_active_close", "03_simultaneous_close"):
        result = hidden_suite(namespace(closing=closing), notebook)
        assert 0.3 < result.score < 1  # notebook 3 is half about CLOSING; the other half still passes
        assert all("in CLOSING, on" in c.message and "returned None" in c.message for c in result.failures)


def test_a_class_that_cannot_be_built_is_a_sentence():
    class Machine:
        def __init__(self, needed):
            pass

    with pytest.raises(LearnerError, match="give it no required constructor arguments"):
        learner_handlers(Machine)


def test_a_module_level_alias_named_like_a_state_is_not_a_handler():
    """`TIME_WAIT = Timer.TIME_WAIT` or `ESTABLISHED, CLOSED = State.ESTABLISHED, State.CLOSED` at the
    top of a notebook: only callables are handlers; an alias is named only when nothing else is found."""
    from autograder.learner import Timer

    ns = namespace(TIME_WAIT=Timer.TIME_WAIT, ESTABLISHED=State.ESTABLISHED, CLOSED=State.CLOSED, LAST_ACK=7)
    assert set(learner_handlers(ns)) == set(CLOSE_STATES)
    assert check_scenario(ns, "active-close").passed == 1
    with pytest.raises(AssertionError) as e:
        check_scenario({"TIME_WAIT": Timer.TIME_WAIT}, "active-close")
    assert (
        "no handler found: `TIME_WAIT` is a Timer, not a function; define it as def time_wait(tcb, ev, profile):"
        in one_sentence(str(e.value))
    )


def test_a_handler_that_waits_is_stopped_by_the_wall_clock_and_a_loop_by_its_cpu_time():
    """The per-call limit counts CPU time (a busy machine does not stop a correct handler); a call that
    sleeps or blocks spends none, so a wall-clock limit stops it."""
    from autograder.harness import LearnerMachine

    def fin_wait_1(tcb, ev, profile):
        time.sleep(30)

    machine = LearnerMachine({**GOOD, State.FIN_WAIT_1: fin_wait_1}, limits=Limits(per_call_wall=1.5))
    started = time.perf_counter()
    result = check_transition(machine, State.FIN_WAIT_1, FIN_ACKED, partial=True)
    assert time.perf_counter() - started < 10
    assert "ran longer than 1.5 s and was stopped (is it waiting for something?)" in result.failures[0].message


def test_a_garbage_collection_in_a_call_is_not_charged_to_it_but_a_loop_as_long_is():
    """A collection of the whole heap runs in whichever call allocates when it falls due; in a kernel
    holding much it can outlast the per-call limit though the handler did nothing wrong."""
    import gc

    from autograder.harness import LearnerMachine

    heap = [[i] for i in range(1_500_000)]  # noqa: F841 - what a full kernel holds: a collection takes a while
    started = time.thread_time()
    gc.collect()
    took = time.thread_time() - started
    limits = Limits(per_call=took / 4)
    right = GOOD[State.FIN_WAIT_1]

    def collects(tcb, ev, profile):
        gc.collect()  # what an automatic collection falling due in this call costs
        return right(tcb, ev, profile)

    def spins(tcb, ev, profile):
        end = time.thread_time() + took
        while time.thread_time() < end:
            pass
        return right(tcb, ev, profile)

    assert took > 0.02
    kept = check_transition(LearnerMachine({**GOOD, State.FIN_WAIT_1: collects}, limits=limits), State.FIN_WAIT_1,
                            FIN_ACKED, partial=True)  # fmt: skip
    assert kept.score == 1, kept.failures[0].message
    stopped = check_transition(LearnerMachine({**GOOD, State.FIN_WAIT_1: spins}, limits=limits), State.FIN_WAIT_1,
                               FIN_ACKED, partial=True)  # fmt: skip
    assert "was stopped (an endless loop?)" in stopped.failures[0].message


class _Finalized:
    def __del__(self):
        self.gone = True


def _collects(tcb, ev, profile):
    import gc

    while True:
        gc.collect()


def _collects_with_finalizers(tcb, ev, profile):
    import gc

    while True:
        for _ in range(50):
            cycle = _Finalized()
            cycle.me = cycle
        gc.collect()


@pytest.mark.parametrize("handler", [_collects, _collects_with_finalizers])
def test_a_handler_that_only_collects_garbage_is_still_stopped(handler):
    """Collections are not charged to a call, and a tick that falls in one runs in the collector's
    callback or a finalizer, where a stop would be lost: such a loop must still be stopped."""
    from autograder.harness import LearnerMachine

    heap = [[i] for i in range(300_000)]  # noqa: F841 - every collection then takes a while
    machine = LearnerMachine({**GOOD, State.FIN_WAIT_1: handler}, limits=Limits(per_call_wall=1.5))
    started = time.perf_counter()
    result = check_transition(machine, State.FIN_WAIT_1, FIN_ACKED, partial=True)
    assert time.perf_counter() - started < 10
    assert "ran longer than 1.5 s and was stopped" in result.failures[0].message
    assert sys.gettrace() is None  # the tracer that stopped it is gone
