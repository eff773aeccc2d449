"""The recorded reference: exact inputs get the reference's own answer, anything else one sentence."""

from __future__ import annotations

import pytest

from autograder import reference_source
from autograder.recorded import RecordedMiss, RecordedReference, dump, parse
from autograder.recording import Recorder
from reference_impl.handlers import HANDLERS
from reference_impl.profiles import LINUX, RFC9293, ms
from reference_impl.scenarios import run
from reference_impl.segment import ACK, FIN, Segment
from reference_impl.states import Arrival, State, Timeout, Timer
from reference_impl.tcb import TCB

FIN_WAIT_1 = TCB(snd_una=100, snd_nxt=101, rcv_nxt=300, fin_seq=100, orphaned=True)
ACK_OF_FIN = Arrival(Segment(seq=300, ack=101, flags=ACK))


@pytest.fixture(scope="module")
def recorded() -> RecordedReference:
    """What the reference answered in active-close under rfc9293, written out and read back."""
    recorder = Recorder(HANDLERS)
    run("active-close", RFC9293, machine=recorder.machine())
    return parse(dump(recorder.answers, [RFC9293], 0))


def test_a_recorded_input_gets_the_reference_s_own_step(recorded):
    machine = recorded.machine()
    calls = [r for r in run("active-close").rows if r.event in ("close", "write", "abort", "recv", "timeout")]
    assert len(recorded.answers) == len(calls) == 7  # A: close, ACK, FIN, 2 MSL; B: FIN, close, ACK
    for state, tcb, ev, profile in recorded.answers:
        assert machine[state](tcb, ev, profile) == HANDLERS[state](tcb, ev, profile)
    assert machine[State.FIN_WAIT_1](FIN_WAIT_1, ACK_OF_FIN, RFC9293).state is State.FIN_WAIT_2


def test_the_same_run_on_the_recorded_machine_is_the_reference_s_row_for_row(recorded):
    assert run("active-close", RFC9293, machine=recorded.machine()).rows == run("active-close", RFC9293).rows


def test_a_tcb_off_the_recorded_path_stops_the_run_naming_the_difference(recorded):
    with pytest.raises(RecordedMiss) as caught:
        recorded.machine()[State.FIN_WAIT_1](FIN_WAIT_1.replace(retries=1), ACK_OF_FIN, RFC9293)
    sentence = caught.value.sentence
    assert sentence.startswith(
        "the recorded reference, playing FIN_WAIT_1 for you, stops at the arrival of "
        "<SEQ=300><ACK=101><CTL=ACK>: this build holds the reference's answers"
    )
    assert "another TCB (yours has retries=1, the reference's 0)" in sentence
    assert "your run had already left the reference's path before this point" in sentence
    assert caught.value.kind == "recorded" and caught.value._render_traceback_() == [sentence]


def test_an_input_no_recorded_run_meets_names_the_tcb(recorded):
    with pytest.raises(RecordedMiss, match=r"they never get here \(TCB: SND.UNA=100 SND.NXT=101 RCV.NXT=300"):
        recorded.machine()[State.FIN_WAIT_1](FIN_WAIT_1, Arrival(Segment(seq=300, ack=101, flags=FIN | ACK)), RFC9293)


def test_a_profile_never_recorded_is_named(recorded):
    with pytest.raises(RecordedMiss, match="recorded the reference under rfc9293 only, not linux"):
        recorded.machine()[State.TIME_WAIT](FIN_WAIT_1, Timeout(Timer.TIME_WAIT), LINUX)


def test_a_whole_run_the_build_never_recorded_is_unavailable_not_the_learner_s_fault(recorded):
    with reference_source.using(recorded):
        assert reference_source.source_kind() == "recorded"
        assert reference_source.reference_trace("active-close").rows == run("active-close").rows
        with pytest.raises(
            reference_source.ReferenceUnavailable,
            match="lost-final-ack under rfc9293 \\+ time_wait=5ms is not among them",
        ):
            reference_source.reference_trace("lost-final-ack", RFC9293.replace(time_wait=ms(5)))


def test_the_data_is_the_same_bytes_for_the_same_answers(recorded):
    assert dump(recorded.answers, recorded.profiles, 0) == dump(
        dict(reversed(recorded.answers.items())), recorded.profiles, 0
    )
