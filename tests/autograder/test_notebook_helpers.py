"""The notebook helpers: the learner's machine as a timeline runner, show_mine, predict."""

from __future__ import annotations

import inspect

import pytest

from autograder import predictions
from autograder.notebook_helpers import LearnerRun, from_trace, learner_run, predict, show_mine
from reference_impl import handlers, scenarios
from reference_impl.profiles import LINUX, RFC9293
from reference_impl.states import Arrival, CancelTimer, StartTimer, State, Step, Timeout, Timer


def copied_reference() -> dict:
    """A learner who wrote exactly the reference (a recompiled copy, not the reference's objects)."""
    ns: dict = {}
    source = inspect.getsource(handlers).replace("from .", "from reference_impl.")
    exec(compile(source, "<notebook>", "exec"), ns)
    return {name: ns[name] for name in ("established", "fin_wait_1", "fin_wait_2", "time_wait")}


def unwritten(tcb, ev, profile):
    raise NotImplementedError()


def fin_wait_2_closes_at_once(tcb, ev, profile):
    return Step(State.CLOSED, (), tcb)


def test_a_correct_learner_run_is_the_reference_trace():
    run = learner_run(copied_reference())
    for profile in (RFC9293, LINUX):
        assert run("active-close", profile.name).rows == scenarios.run("active-close", profile).rows
        assert run.error is None


def test_a_handler_that_raises_not_implemented_on_the_way_stops_the_run_with_a_sentence():
    written = copied_reference()["fin_wait_1"]

    def half_written(tcb, ev, profile):  # the branch this exercise asks for is still missing
        if isinstance(ev, Arrival):
            raise NotImplementedError()
        return written(tcb, ev, profile)

    run = learner_run({"fin_wait_1": half_written})
    trace = run("active-close")
    assert 0 < len(trace) < len(scenarios.run("active-close"))
    assert run.error == (
        "A at 0.02 s: your fin_wait_1 is not written yet (it raises NotImplementedError), so your run stops there."
    )


def test_a_stub_is_played_by_the_reference_and_the_note_says_so():
    run = learner_run({"fin_wait_1": unwritten, "fin_wait_2": copied_reference()["fin_wait_2"]})
    assert run("active-close").rows == scenarios.run("active-close").rows and run.error is None
    assert run.unwritten == [State.FIN_WAIT_1]
    note = show_mine({"fin_wait_1": unwritten, "time_wait": unwritten}, "active-close").children[0].value
    assert "The reference played fin_wait_1 and time_wait: not written yet" in note and "✓" not in note


def test_no_handlers_at_all_runs_the_reference_and_says_why():
    run = learner_run({"x": 1})
    assert len(run("active-close")) == len(scenarios.run("active-close"))
    assert "define a function named after the state it handles" in run.error


def test_states_limits_which_handlers_are_the_learners():
    run = learner_run({"fin_wait_1": unwritten, "fin_wait_2": fin_wait_2_closes_at_once}, states=[State.FIN_WAIT_2])
    run("active-close")
    assert State.FIN_WAIT_2 in run("active-close").states("A")  # fin_wait_1 was the reference's
    assert run.error is None


def test_show_mine_says_where_the_run_first_differs_and_follows_the_pickers():
    box = show_mine({"fin_wait_2": fin_wait_2_closes_at_once}, "active-close")
    note, view = box.children
    assert "differs from the reference first here" in note.value and "FIN_WAIT_2" in note.value
    assert "reference TIME_WAIT" in note.value
    # ... and the picture below it opens at that moment, as the note says
    assert "opens at that moment" in note.value and view.slider.value == view.parts_at > 0
    view.scenario.value = "half-close"
    assert "half-close" in note.value


def test_show_mine_for_a_correct_learner_and_for_a_blank_one():
    ok = show_mine(copied_reference(), "active-close").children[0].value
    assert "exactly as the reference does" in ok
    blank = show_mine({"fin_wait_1": unwritten}, "active-close").children[0].value
    assert "not written yet" in blank and "Traceback" not in blank


def test_a_timer_cancelled_on_the_way_to_closed_is_the_same_run_in_the_note_and_the_picture():
    """A reader's last_ack cancelled RETRANSMIT as it entered CLOSED: the note said "exactly as the
    reference does" (deleting the TCB deletes its timers), while the picture marked a difference."""
    mine = copied_reference()
    ns: dict = {}
    exec(compile(inspect.getsource(handlers).replace("from .", "from reference_impl."), "<notebook>", "exec"), ns)

    def last_ack(tcb, ev, profile):
        step = ns["last_ack"](tcb, ev, profile)
        if step.state is State.CLOSED:
            return Step(step.state, (*step.outputs, CancelTimer(Timer.RETRANSMIT)), step.tcb)
        return step

    for name in ("active-close", "lost-second-fin"):
        note, view = show_mine({**mine, "last_ack": last_ack}, name).children
        assert "exactly as the reference does" in note.value and view.divergence is None, (name, view.divergence)


def test_show_mine_without_the_handlers_says_how_to_call_it_and_draws_nothing():
    box = show_mine("active-close")  # globals() left out: the scenario's name came first
    assert len(box.children) == 1
    assert (
        "show_mine needs your handlers first: show_mine(globals(), &#x27;active-close&#x27;)" in box.children[0].value
    )


def test_from_trace_reads_the_reference():
    assert from_trace("active-close", "A", "close")() == "FIN_WAIT_1"
    assert from_trace("active-close", "A", "recv", nth=2)() == "TIME_WAIT"
    assert from_trace("active-close", "B", "send", field="ack")() == "101"
    assert from_trace("three-way-close", "A", "recv", flags="FIN|ACK")() == "TIME_WAIT"
    with pytest.raises(ValueError, match="only 2 'recv' rows"):
        from_trace("active-close", "A", "recv", nth=3)()


def test_predict_gives_immediate_feedback_and_the_answer_after_two_misses():
    predictions._PICKS.clear()
    box = predict(
        "Which state?",
        ["FIN_WAIT_1", "FIN_WAIT_2", "CLOSED"],
        from_trace("active-close", "A", "close"),
        why="The FIN is out.",
    )
    prompt, buttons, feedback = box.children
    assert "Which state?" in prompt.value
    buttons.value = "FIN_WAIT_2"
    assert "Think again" in feedback.value and "FIN_WAIT_1" not in feedback.value
    buttons.value = "FIN_WAIT_1"
    assert "Right: FIN_WAIT_1." in feedback.value and "The FIN is out." in feedback.value
    assert "The answer is FIN_WAIT_1" in box.prediction.choose("CLOSED")[0]


def test_predict_refuses_choices_that_do_not_hold_the_answer():
    with pytest.raises(ValueError, match="not among the choices"):
        predict("Which state?", ["CLOSED", "LAST_ACK"], from_trace("active-close", "A", "close"))


def test_learner_run_is_a_timeline_runner():
    from autograder.views import timeline

    view = timeline("active-close", run=learner_run(copied_reference()))
    assert view.steps > 0
    assert isinstance(learner_run({}), LearnerRun)


def test_show_mine_takes_a_profile_variant_under_its_own_label():
    no_time_wait = RFC9293.replace(time_wait=0)
    box = show_mine(copied_reference(), "lost-final-ack", profile=no_time_wait, label="TIME_WAIT = 0")
    note, view = box.children
    assert view.profile.options == ("rfc9293", "linux", "TIME_WAIT = 0") and view.profile.value == "TIME_WAIT = 0"
    assert view.selected_profile() == no_time_wait
    assert "exactly as the reference does (lost-final-ack, TIME_WAIT = 0)" in note.value
    expected = scenarios.run("lost-final-ack", no_time_wait)
    assert view.steps == len(expected)  # the variant ran, not plain rfc9293
    view.profile.value = "linux"
    assert view.selected_profile() == "linux"


def test_learner_run_loses_extra_segments_like_the_reference():
    run = learner_run(copied_reference())
    trace = run("active-close", "rfc9293", ("A2",))
    assert trace.rows == scenarios.run("active-close", RFC9293, {("A", 2): scenarios.LOSE}).rows
    assert trace.scenario == "active-close+lose:A2"


def test_cancelling_a_timer_that_is_not_running_draws_no_difference():
    """The checks accept it (nothing anyone can see changes), so the picture must not mark it: a
    student was told "exactly as the reference does" above a picture marked "yours differs"."""
    from autograder.views.model import events_of
    from autograder.views.side_by_side import first_difference
    from reference_impl.states import CancelTimer, Timer

    mine = copied_reference()
    written = mine["fin_wait_2"]

    def fin_wait_2(tcb, ev, profile):  # cancels its FIN_WAIT_2 timer on every call, running or not
        step = written(tcb, ev, profile)
        return Step(step.state, (*step.outputs, CancelTimer(Timer.FIN_WAIT_2)), step.tcb)

    mine["fin_wait_2"] = fin_wait_2
    run = learner_run(mine)
    assert first_difference(events_of(run("active-close")), events_of(scenarios.run("active-close"))) is None
    assert "exactly as the reference does" in show_mine(mine, "active-close").children[0].value


def test_show_mine_names_a_scenario_where_a_mistake_shows_when_the_one_on_screen_matches():
    """A reader's handler never gave up after the retry limit: the default scenario matched the
    reference, and nothing said that fin-retry-limit, one pick away, shows the mistake."""
    reference = copied_reference()
    original = reference["fin_wait_1"]

    def never_gives_up(tcb, ev, profile):
        step = original(tcb, ev, profile)
        return (
            Step(State.FIN_WAIT_1, (), tcb) if step.state is State.CLOSED and ev == Timeout(Timer.RETRANSMIT) else step
        )

    note = show_mine({**reference, "fin_wait_1": never_gives_up}, "active-close").children[0].value
    assert "exactly as the reference does" in note and "part from it in fin-retry-limit under rfc9293" in note
    assert "✓" not in note  # not a green tick: there is a mistake to find
    assert "part from it" not in show_mine(reference, "active-close").children[0].value


def test_show_mine_names_the_same_scenario_under_the_other_profile_when_that_is_where_it_parts():
    """A TIME_WAIT hard-coded to Linux's 60 s matches on the linux timeline; the note must not
    call it exact while the same close under rfc9293 (one pick away) shows the mistake."""
    reference = copied_reference()
    original = reference["fin_wait_2"]

    def linux_time_wait(tcb, ev, profile):
        step = original(tcb, ev, profile)
        outputs = tuple(
            StartTimer(Timer.TIME_WAIT, 60_000_000) if getattr(o, "timer", None) is Timer.TIME_WAIT else o
            for o in step.outputs
        )
        return Step(step.state, outputs, step.tcb)

    mine = {**reference, "fin_wait_2": linux_time_wait}
    note = show_mine(mine, "active-close", profile=LINUX).children[0].value
    assert "exactly as the reference does" in note and "part from it in active-close under rfc9293" in note
    assert "part from it" not in show_mine(reference, "active-close", profile=LINUX).children[0].value


def test_show_mine_above_the_cells_of_later_handlers_says_the_reference_played_them():
    """A reader's show_mine after exercise 1 of notebook 01 said "✓ exactly as the reference does"
    while fin_wait_1, fin_wait_2 and time_wait, whose cells come further down, were the reference's."""
    from autograder.checks import CellTests

    mine = {"tests": CellTests("01_active_close"), "established": copied_reference()["established"]}
    note = show_mine(mine, "active-close").children[0].value
    assert "fin_wait_1 and fin_wait_2 and time_wait: not in your notebook yet" in note
    assert "✓" not in note
    everything = {"tests": CellTests("01_active_close"), **copied_reference()}
    assert "✓" in show_mine(everything, "active-close").children[0].value
