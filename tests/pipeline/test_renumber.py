"""Grading renumbers each call (autograder.pipeline.renumber): a handler that computes its answer
answers the renumbered call as it answers the original, and no recorded call survives it."""

from __future__ import annotations

import pytest

from autograder.learner_build import RECORDED_NAME, recorded_data
from autograder.pipeline import renumber
from autograder.recorded import parse
from reference_impl.handlers import HANDLERS
from reference_impl.segment import Flags, Segment
from reference_impl.states import AppSend, Arrival, DeliverData, Send, State, Step
from reference_impl.tcb import TCB
from tests.autograder.implementations import load


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
            assert renumber.back(tcb, ev, handlers[state](*renumber.forward(tcb, ev), profile)) == direct, (
                state,
                tcb,
                ev,
            )
            asked += 1
    assert asked > 1000


def test_no_recorded_call_is_asked_as_it_was_recorded(recorded):
    moved = {(state, *renumber.forward(tcb, ev), profile) for state, tcb, ev, profile in recorded}
    assert not moved & set(recorded) and len(moved) == len(recorded)
    data = [k for k in recorded if k[1].unacked]
    assert data and all(renumber.forward(t, e)[0].unacked != t.unacked for _, t, e, _ in data)


def test_a_wrapped_call_is_asked_as_it_is():
    """Near 2**32 the place of the wrap is what is graded: no renumbering moves it."""
    tcb = TCB(snd_una=2**32 - 1, snd_nxt=0, rcv_nxt=2**32 - 3, fin_seq=2**32 - 1)
    ev = Arrival(Segment(seq=2**32 - 3, ack=0, flags=Flags.ACK))
    assert renumber.forward(tcb, ev) == (tcb, ev)


def test_the_rfcs_constant_zero_and_the_data_come_back_as_sent():
    """<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> answers an ACK-less segment in CLOSED (RFC 9293 §3.10.7.1)."""
    tcb = TCB(snd_una=0, snd_nxt=0, rcv_nxt=0)
    ev = Arrival(Segment(seq=300, flags=Flags.FIN, payload=b"abc"))
    t, e = renumber.forward(tcb, ev)
    assert e.segment.seq == 300 + renumber.PEER and e.segment.payload != b"abc"
    rst = Segment(seq=0, ack=e.segment.seq + 4, flags=Flags.RST | Flags.ACK)
    step = renumber.back(tcb, ev, Step(State.CLOSED, (Send(rst), DeliverData(e.segment.payload)), t))
    assert step.outputs == (Send(Segment(seq=0, ack=304, flags=Flags.RST | Flags.ACK)), DeliverData(b"abc"))
    assert step.tcb == tcb
    assert renumber.forward(tcb, AppSend(b"xy"))[1] != AppSend(b"xy")
