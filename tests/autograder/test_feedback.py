"""First divergence as text, and as an SVG timeline when the views are there."""

from __future__ import annotations

import builtins

from implementations import load

from autograder.checks import check_scenario
from autograder.feedback import divergence_svg, first_divergence
from autograder.harness import run_machine
from autograder.learner import RFC9293, State, Step
from reference_impl import handlers
from reference_impl.scenarios import get

GOOD = {s.value.lower(): f for s, f in load("impl_table").HANDLERS.items()}


def fin_wait_2_never_leaves(tcb, ev, profile):
    return Step(State.FIN_WAIT_2, (), tcb)


def failing_case():
    result = check_scenario({**GOOD, "fin_wait_2": fin_wait_2_never_leaves}, "active-close", partial=True)
    return result.failures[0]


def test_identical_runs_have_no_divergence():
    sc = get("active-close").scenario
    ref = run_machine(sc, RFC9293, handlers.HANDLERS)
    again = run_machine(sc, RFC9293, handlers.HANDLERS)
    assert first_divergence(ref.observed, again.observed) is None


def test_text_names_endpoint_state_event_and_both_behaviours():
    msg = failing_case().message
    assert "A in FIN_WAIT_2 at 0.06 s, on arrival of <SEQ=300><ACK=101><CTL=FIN,ACK>" in msg
    assert "next state: reference TIME_WAIT" in msg and "your code FIN_WAIT_2" in msg
    assert "sends: reference <SEQ=101><ACK=301><CTL=ACK>" in msg and "your code nothing" in msg
    assert "tells the application: reference EOF" in msg
    assert "Traceback" not in msg and "def " not in msg  # no test source, no traceback


def test_text_only_when_the_views_cannot_be_imported(monkeypatch):
    real_import = builtins.__import__

    def no_views(name, *args, **kwargs):
        if name.startswith("autograder.views"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_views)
    case = failing_case()
    assert case.svg() is None and "FIN_WAIT_2" in case.message


def test_svg_marks_the_divergence_beside_the_reference():
    svg = failing_case().svg()
    assert svg is not None and svg.lstrip().startswith(("<?xml", "<svg"))
    assert "FIN_WAIT_2" in svg and "Reference" in svg


def test_svg_hook_survives_a_broken_renderer():
    assert divergence_svg(object(), object(), None) is None


def test_a_fin_sent_as_if_close_on_shutdown_fails_its_own_cell():
    # shutdown() keeps the application reading: the connection is not orphaned. A handler that
    # sends the FIN as for close() returns the same segment and state; only the TCB tells.
    import pytest

    from autograder.checks import check_transition
    from autograder.learner import AppClose, send_fin

    def established(tcb, ev, profile):
        if isinstance(ev, AppClose):
            tcb, outputs = send_fin(tcb, profile, orphan=True)
            return Step(State.FIN_WAIT_1, outputs, tcb)
        return GOOD["established"](tcb, ev, profile)

    with pytest.raises(AssertionError, match=r"orphaned=True \(reference False\)"):
        check_transition({**GOOD, "established": established}, State.ESTABLISHED, AppClose(shutdown=True))
    check_transition({**GOOD, "established": established}, State.ESTABLISHED, AppClose())  # close(): right


PLAIN = {s.value.lower(): f for s, f in load("impl_plain").HANDLERS.items()}  # no building blocks at all


def _acks_before_taking(machine):
    """FIN_WAIT_1 builds its ACK before RCV.NXT moves past the FIN: ACK=300 where 301 is due."""
    from dataclasses import replace

    from autograder.learner import Send

    good = machine["fin_wait_1"]

    def fin_wait_1(tcb, ev, profile):
        step = good(tcb, ev, profile)
        late = [Send(replace(o.segment, ack=tcb.rcv_nxt)) if isinstance(o, Send) and o.segment.ack == tcb.rcv_nxt + 1
                else o for o in step.outputs]  # fmt: skip
        return Step(step.state, late, step.tcb)

    return {**machine, "fin_wait_1": fin_wait_1}


def test_a_visible_transition_failure_is_drawn_with_what_differs_at_the_checked_endpoint():
    """An independent learner's feedback page had no picture for a failing visible check that the notebook
    drew, and the picture ringed "✗ yours differs" on an arrival both runs took alike."""
    import re

    from autograder.checks import grade_cell
    from autograder.manifest import load_manifest

    cell = load_manifest("03_simultaneous_close").cell("test_fin_wait_1_fin")
    verdict = grade_cell(cell, _acks_before_taking(PLAIN))
    assert verdict.points == 0 and not verdict.visible_passed
    assert "your code <SEQ=101><ACK=300><CTL=ACK>" in verdict.text
    tags = [t for t in re.findall(r'data-kind="divergence"[^>]*>([^<]*)<', verdict.svg or "") if t]
    assert tags[:2] == ["✗ yours sends ACK=300:", "A, 0.010 s"], tags
    assert "◆ reference sends ACK=301:" in tags
