"""Grading renumbers each call (autograder.pipeline.renumber) by amounts drawn from the course's key:
a handler that computes its answer answers every renumbered call as it answers the original, under
any key, and neither a recorded call nor a call tabulated under another key survives it."""

from __future__ import annotations

import os
import stat

import pytest

from autograder.learner_build import RECORDED_NAME, recorded_data
from autograder.pipeline.course import KEY_NAME, Course, PipelineError
from autograder.pipeline.renumber import RECORDED_BELOW, Renumbering
from autograder.recorded import parse
from reference_impl.handlers import HANDLERS
from reference_impl.segment import MOD, Flags, Segment
from reference_impl.states import AppSend, Arrival, DeliverData, Send, State, Step
from reference_impl.tcb import TCB
from tests.autograder.implementations import load

KEYS = [Renumbering.from_key(k) for k in (b"", b"course A", bytes(range(32)))]
NUMBERS = KEYS[1]


@pytest.fixture(scope="module")
def recorded():
    """Every call a learner build records: the course's runs, its losses and its visible checks."""
    return parse((recorded_data() / RECORDED_NAME).read_bytes()).answers


IMPLEMENTATIONS = {"reference": HANDLERS, **{m: load(m).HANDLERS for m in ("impl_table", "impl_match", "impl_plain")}}


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_a_handler_that_computes_its_answer_answers_the_renumbered_call_alike(recorded, name):
    handlers, asked = IMPLEMENTATIONS[name], 0
    for state, tcb, ev, profile in recorded:
        if state in handlers:
            direct = handlers[state](tcb, ev, profile)
            for numbers in KEYS:
                got = numbers.back(tcb, ev, handlers[state](*numbers.forward(tcb, ev), profile))
                assert got == direct, (numbers, state, tcb, ev)
            asked += 1
    assert asked > 1000


def test_no_recorded_call_is_asked_as_it_was_recorded(recorded):
    moved = {(state, *NUMBERS.forward(tcb, ev), profile) for state, tcb, ev, profile in recorded}
    assert not moved & set(recorded) and len(moved) == len(recorded)
    data = [k for k in recorded if k[1].unacked]
    assert data and all(NUMBERS.forward(t, e)[0].unacked != t.unacked for _, t, e, _ in data)


def test_a_call_tabulated_under_one_key_is_not_asked_under_another(recorded):
    """The course is open source: anyone can tabulate the reference's answers to the graded calls
    at any key they choose. Only the course's own key asks the calls it grades."""
    for mine in KEYS[1:]:
        guessed = {(s, *KEYS[0].forward(t, e), p) for s, t, e, p in recorded}
        asked = {(s, *mine.forward(t, e), p) for s, t, e, p in recorded}
        assert not guessed & asked


def test_every_key_moves_both_sides_past_the_recorded_range_and_short_of_a_wrap():
    for k in range(200):
        n = Renumbering.from_key(k.to_bytes(2, "big"))
        for by in (n.own, n.peer):
            assert RECORDED_BELOW <= by and RECORDED_BELOW - 1 + by < MOD
        assert 1 <= n.mask <= 255
    assert len({Renumbering.from_key(bytes([k])).own for k in range(50)}) == 50


def test_a_wrapped_side_is_asked_as_it_is_and_the_other_side_moves():
    """Near 2**32 the place of the wrap is what is graded: no renumbering moves it."""
    tcb = TCB(snd_una=2**32 - 1, snd_nxt=0, rcv_nxt=300, fin_seq=2**32 - 1)
    ev = Arrival(Segment(seq=300, ack=0, flags=Flags.ACK))
    t, e = NUMBERS.forward(tcb, ev)
    assert (t.snd_una, t.snd_nxt, t.fin_seq, e.segment.ack) == (2**32 - 1, 0, 2**32 - 1, 0)
    assert t.rcv_nxt == e.segment.seq == 300 + NUMBERS.peer
    both = TCB(snd_una=2**32 - 1, snd_nxt=0, rcv_nxt=2**32 - 3, fin_seq=2**32 - 1)
    wrapped = Arrival(Segment(seq=2**32 - 3, ack=0, flags=Flags.ACK))
    assert NUMBERS.forward(both, wrapped) == (both, wrapped)


def test_the_rfcs_constant_zero_and_the_data_come_back_as_sent():
    """<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> answers an ACK-less segment in CLOSED (RFC 9293 §3.10.7.1)."""
    tcb = TCB(snd_una=0, snd_nxt=0, rcv_nxt=0)
    ev = Arrival(Segment(seq=300, flags=Flags.FIN, payload=b"abc"))
    t, e = NUMBERS.forward(tcb, ev)
    assert (t.snd_una, t.rcv_nxt) == (NUMBERS.own, NUMBERS.peer)
    assert e.segment.seq == 300 + NUMBERS.peer and e.segment.payload != b"abc"
    rst = Segment(seq=0, ack=e.segment.seq + 4, flags=Flags.RST | Flags.ACK)
    step = NUMBERS.back(tcb, ev, Step(State.CLOSED, (Send(rst), DeliverData(e.segment.payload)), t))
    assert step.outputs == (Send(Segment(seq=0, ack=304, flags=Flags.RST | Flags.ACK)), DeliverData(b"abc"))
    assert step.tcb == tcb
    assert NUMBERS.forward(tcb, AppSend(b"xy"))[1] != AppSend(b"xy")


def test_a_course_makes_its_key_once_private_and_refuses_a_broken_one(tmp_path):
    course = Course(tmp_path)
    key = course.grading_key()
    assert len(key) == 32 and course.grading_key() == key
    assert stat.S_IMODE(os.stat(tmp_path / KEY_NAME).st_mode) == 0o600
    (tmp_path / KEY_NAME).write_text("not hex")
    with pytest.raises(PipelineError, match="is not a grading key"):
        course.grading_key()
    (tmp_path / KEY_NAME).unlink()
    os.symlink("/etc/hostname", tmp_path / KEY_NAME)  # never followed: a planted link is refused
    with pytest.raises(PipelineError, match="is not a grading key"):
        course.grading_key()
