"""Grading one test cell: the rule, the verdict the trusted grader records, and the notebook's helper."""

from __future__ import annotations

import re

import pytest
from implementations import load

from autograder.checks import CellTests, cell_points, check_scenario, grade_cell, hidden_suite, run_spec
from autograder.harness import LearnerError, LearnerMachine, machine_from_namespace
from autograder.learner import State, Step
from autograder.manifest import cell, family, load_manifest, scenario, transition, transitions
from reference_impl.states import AppClose, Arrival, Timeout, Timer

GOOD = load("impl_table").HANDLERS
NAMESPACE = {s.value.lower(): f for s, f in GOOD.items()}
CELL = load_manifest("01_active_close").cell("test_active_close")


def keeps_the_old_time_wait_timer(tcb, ev, profile):
    """Re-ACKs a retransmitted FIN in TIME_WAIT but does not restart the 2 MSL timer."""
    step = GOOD[State.TIME_WAIT](tcb, ev, profile)
    if isinstance(ev, Arrival) and ev.segment.fin:
        return Step(step.state, tuple(o for o in step.outputs if type(o).__name__ != "StartTimer"), step.tcb)
    return step


def test_a_correct_machine_gets_the_cells_points_and_reads_one_line_per_check():
    verdict = grade_cell(CELL, NAMESPACE)
    assert (verdict.grade_id, verdict.points, verdict.max_points, verdict.visible_passed) == (
        "test_active_close",
        3,
        3,
        True,
    )
    lines = verdict.text.splitlines()
    assert lines[0].startswith("✓ active-close") and len(lines) == len(CELL.visible) + len(CELL.hidden)
    assert verdict.svg is None
    assert verdict.transitions[("FIN_WAIT_1", "recv ACK")][0] > 0


def test_a_failed_visible_check_scores_zero_and_shows_its_whole_message():
    learner = {**NAMESPACE, "fin_wait_2": lambda tcb, ev, profile: Step(State.CLOSED, (), tcb)}
    verdict = grade_cell(CELL, learner)
    assert verdict.points == 0 and not verdict.visible_passed
    assert verdict.text.startswith("✗ active-close: 0 of 1 cases pass\n")
    assert "your code CLOSED" in verdict.text and "replay: tcpclose simulate active-close" in verdict.text
    assert verdict.svg and verdict.svg.lstrip().startswith("<svg")
    assert verdict.transitions[("FIN_WAIT_2", "recv FIN,ACK")][1] == 1


def test_hidden_checks_give_points_times_their_weighted_mean_never_full_marks_with_a_failure():
    learner = {**NAMESPACE, "time_wait": keeps_the_old_time_wait_timer}
    verdict = grade_cell(CELL, learner)
    families, wrapped, battery, wrapped_battery = verdict.outcomes[len(CELL.visible) :]
    weights = [spec.weight for spec in CELL.hidden]
    mean = sum(w * o.score for w, o in zip(weights, (families, wrapped, battery, wrapped_battery), strict=True)) / sum(
        weights
    )
    assert 0 < verdict.points == round(3 * mean, 2) < 3
    almost = cell(
        "test_x", 1, [scenario("active-close")], [family("active-close", k=1), family("abort", k=0, weight=999)]
    )
    assert cell_points(almost, [run_spec(s, learner) for s in almost.hidden]) == 0.99  # not rounded up to 1


def test_grading_is_deterministic():
    learner = {**NAMESPACE, "time_wait": keeps_the_old_time_wait_timer}
    first, second = grade_cell(CELL, learner), grade_cell(CELL, learner)
    assert (first.points, first.text, first.transitions, first.svg) == (
        second.points,
        second.text,
        second.transitions,
        second.svg,
    )


def remote(handlers: dict) -> LearnerMachine:
    """Handlers as the trusted side sees a sandboxed kernel's: opaque callables, no source to inspect."""

    def proxy(fn):
        return lambda tcb, ev, profile: fn(tcb, ev, profile)

    return LearnerMachine({s: proxy(f) for s, f in handlers.items()}, frozenset(), source=None)


def test_handlers_that_run_elsewhere_are_graded_the_same():
    in_process = grade_cell(CELL, machine_from_namespace(NAMESPACE))
    elsewhere = grade_cell(CELL, remote(GOOD))
    assert (elsewhere.points, elsewhere.text) == (in_process.points, in_process.text)


def test_a_remote_handlers_error_is_its_sentence_in_the_feedback():
    def refuses(tcb, ev, profile):
        raise LearnerError("raised NotImplementedError")

    machine = remote({**GOOD, State.TIME_WAIT: refuses})
    result = check_scenario(machine, "active-close", partial=True)
    assert result.score == 0
    assert "in TIME_WAIT, on expiry of the TIME_WAIT timer, your handler raised NotImplementedError" in (
        result.failures[0].message
    )


def test_a_stub_state_of_a_remote_machine_is_not_written_yet():
    machine = LearnerMachine(dict(GOOD), frozenset({State.CLOSING}))
    with pytest.raises(AssertionError, match="needs your closing.*not written yet"):
        run_spec(transition(State.CLOSING, Timeout(Timer.RETRANSMIT)), machine).raise_if_failed()


def test_the_notebook_helper_prints_lines_raises_the_failure_and_returns_the_points(capsys):
    tests = CellTests("01_active_close")
    tests.check(NAMESPACE, "test_established_close")
    assert capsys.readouterr().out == "✓ ESTABLISHED on close: passes\n✓ ESTABLISHED on shutdown: passes\n"
    assert tests.hidden_points(NAMESPACE, "test_established_close") == 2
    hidden = capsys.readouterr().out.splitlines()
    assert len(hidden) == len(load_manifest("01_active_close").cell("test_established_close").hidden)
    assert all(line.endswith("passes") for line in hidden) and any("wrap past 2**32" in line for line in hidden)
    broken = {**NAMESPACE, "established": lambda tcb, ev, profile: Step(State.ESTABLISHED, (), tcb)}
    with pytest.raises(AssertionError) as e:
        tests.check(broken, "test_established_close")
    assert type(e.value).__name__ == "AssertionError" and "next state: reference FIN_WAIT_1" in str(e.value)
    assert capsys.readouterr().out.startswith("✗ ESTABLISHED on close: 0 of 1 cases pass\n")
    assert tests.grade(broken, "test_established_close").points == 0


def test_before_you_submit_counts_the_hidden_cases(capsys):
    CellTests("03_simultaneous_close").before_submit(NAMESPACE)
    out = capsys.readouterr().out
    assert out.endswith(" hidden cases behave as the reference does.\n") and "First difference" not in out


def test_every_check_function_takes_a_machine_as_well_as_a_namespace():
    machine = machine_from_namespace(NAMESPACE)
    for spec in (transition(State.ESTABLISHED, AppClose()), scenario("active-close"),
                 family("active-close", k=0), transitions(State.CLOSING)):  # fmt: skip
        assert run_spec(spec, machine).score == run_spec(spec, NAMESPACE).score == 1
    assert check_scenario(machine, "active-close").passed == 1
    assert machine_from_namespace(machine) is machine


def test_no_handler_found_is_the_machines_problem_not_an_exception():
    machine = machine_from_namespace({"x": 1})
    assert machine.handlers == {} and "no handler found" in machine.problem
    assert grade_cell(CELL, machine).points == 0


def test_a_grading_process_can_do_the_references_part_ahead():
    from autograder.checks import clear_caches, prepare

    clear_caches()
    n = prepare("03_simultaneous_close")
    assert n >= hidden_suite(NAMESPACE, "03_simultaneous_close").total  # every hidden case, each once
    assert grade_cell(load_manifest("03_simultaneous_close").cell("test_simultaneous_close"), NAMESPACE).points == 3


def test_checks_of_one_event_are_told_apart_by_the_segments_numbers(capsys):
    """Notebook 06 checks an RST at RCV.NXT, one past it and one outside the window: three lines
    that all read "FIN_WAIT_2 on recv RST: passes" left a learner unsure what had been checked."""
    CellTests("06_resets").check(NAMESPACE, "test_fin_wait_2_rst")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(set(lines)) == 5
    assert "✓ FIN_WAIT_2 on recv RST (SEQ = RCV.NXT + 70,000): passes" in lines


def test_a_given_tcb_that_a_catalogue_run_meets_is_replayed_there():
    """A reader's failing ACK-of-data check said "no timeline shows this case", right beside
    ack-of-data-not-fin, whose run meets that very TCB and segment."""

    def moves_on(tcb, ev, profile):
        step = GOOD[State.FIN_WAIT_1](tcb, ev, profile)
        return Step(State.FIN_WAIT_2, step.outputs, step.tcb) if step.state is State.FIN_WAIT_1 else step

    with pytest.raises(Exception) as failed:
        CellTests("01_active_close").check({**NAMESPACE, "fin_wait_1": moves_on}, "test_fin_wait_1_ack_of_data")
    assert "replay: tcpclose simulate ack-of-data-not-fin" in str(failed.value)
    assert "no timeline can show" not in str(failed.value)


def test_a_failed_check_in_the_notebook_draws_the_learners_run_above_its_words(monkeypatch):
    """Three readers ran an exercise's check before its show_mine cell and always read the failure's
    words first: the check cell now shows the learner's run beside the reference, the first place they
    part marked, above the message. A handler not written yet (the reference plays it) draws nothing,
    and neither does a graded kernel (the feedback draws it there)."""
    import IPython.display

    shown: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.extend(a))
    monkeypatch.delenv("TCPCLOSE_SANDBOX", raising=False)
    tests = CellTests("01_active_close")
    learner = {**NAMESPACE, "time_wait": keeps_the_old_time_wait_timer}
    with pytest.raises(AssertionError, match="TIME_WAIT"):
        tests.check(learner, "test_time_wait_retransmitted_fin")
    (picture,) = shown
    assert "Your run of <code>" in picture.data and "beside the reference" in picture.data
    tag = " ".join(re.findall(r'data-kind="divergence"[^>]*>([^<]+)<', picture.data))  # its lines, joined
    assert "✗ yours lacks the TIME_WAIT restart" in tag

    shown.clear()

    def unwritten(tcb, ev, profile):
        raise NotImplementedError

    with pytest.raises(AssertionError):
        tests.check({**NAMESPACE, "time_wait": unwritten}, "test_time_wait_retransmitted_fin")
    assert not shown

    def crashes(tcb, ev, profile):  # a crash: the words say where; a mark would fall on the other endpoint
        raise AttributeError("'Segment' object has no attribute 'has_fin'")

    with pytest.raises(AssertionError, match="has_fin"):
        tests.check({**NAMESPACE, "time_wait": crashes}, "test_time_wait_retransmitted_fin")
    assert not shown
    monkeypatch.setenv("TCPCLOSE_SANDBOX", "1")
    with pytest.raises(AssertionError):
        tests.check(learner, "test_time_wait_retransmitted_fin")
    assert not shown


def test_a_checks_picture_marks_the_checked_endpoint_where_both_made_the_mistake(monkeypatch):
    """In a simultaneous close both ends run the learner's fin_wait_1 and go wrong at 0.010 s: the
    picture marked B (its row comes first) over words about A in FIN_WAIT_1; two readers stumbled."""
    import IPython.display

    shown: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.extend(a))
    monkeypatch.delenv("TCPCLOSE_SANDBOX", raising=False)

    def skips_closing(tcb, ev, profile):
        step = GOOD[State.FIN_WAIT_1](tcb, ev, profile)
        return Step(State.TIME_WAIT, step.outputs, step.tcb) if step.state is State.CLOSING else step

    with pytest.raises(AssertionError, match="A in FIN_WAIT_1"):
        CellTests("03_simultaneous_close").check({**NAMESPACE, "fin_wait_1": skips_closing}, "test_fin_wait_1_fin")
    (picture,) = shown
    tags = re.findall(r'data-kind="divergence"[^>]*>([^<]+)<', picture.data)
    assert tags and all(not t.startswith("B,") for t in tags) and "A, 0.010 s" in tags, tags


def test_a_check_says_why_it_draws_no_picture_when_another_handler_stops_the_run(monkeypatch):
    """A reader's time_wait failed its check with no picture and no reason: their fin_wait_2 (pasted
    in later) crashed first, so the run never reached TIME_WAIT."""
    import IPython.display

    shown: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.extend(a))
    monkeypatch.delenv("TCPCLOSE_SANDBOX", raising=False)

    def crashes(tcb, ev, profile):
        raise AttributeError("'Segment' object has no attribute 'has_fin'")

    learner = {**NAMESPACE, "time_wait": keeps_the_old_time_wait_timer, "fin_wait_2": crashes}
    with pytest.raises(AssertionError, match="TIME_WAIT"):
        CellTests("01_active_close").check(learner, "test_time_wait_retransmitted_fin")
    (note,) = shown
    assert "No picture: your run of <code>lost-final-ack</code> stopped before it reached this case" in note.data
    assert "FIN_WAIT_2" in note.data and "has_fin" in note.data


def test_a_handler_the_notebook_defines_above_is_yours_in_the_notebook_as_when_graded():
    """A reader's misspelled fin_wiat_2 passed test_active_close in the notebook (the reference played
    FIN_WAIT_2) and lost it when graded: the cell now says what grading does."""
    tests = CellTests("01_active_close")
    assert {State.ESTABLISHED, State.FIN_WAIT_2} <= tests.manifest.cell("test_active_close").defined
    assert tests.manifest.cell("test_established_close").defined == {State.ESTABLISHED}
    mine = {k: v for k, v in NAMESPACE.items() if k != "fin_wait_2"}
    with pytest.raises(AssertionError, match="you defined `fin_wiat_2`: rename it to `fin_wait_2`"):
        tests.check({**mine, "fin_wiat_2": NAMESPACE["fin_wait_2"]}, "test_active_close")
    with pytest.raises(AssertionError, match="the notebook defines it above: run that cell"):
        tests.check(mine, "test_active_close")
    tests.check(mine, "test_established_close")  # above fin_wait_2's cell: the reference may play it there
