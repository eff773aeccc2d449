"""The checks: no false fails on three independent correct implementations, clear failures on wrong ones."""

from __future__ import annotations

import pytest
from implementations import correct_implementations, load

from autograder.checks import (
    check_family,
    check_scenario,
    check_transition,
    check_transitions,
    fixtures,
    hidden_suite,
    reference_run,
    wrapped,
)
from autograder.learner import (
    ACK,
    FIN,
    LINUX,
    RFC9293,
    TCB,
    AppClose,
    Arrival,
    Segment,
    State,
    Step,
    Timeout,
    Timer,
)
from autograder.manifest import course_assignments, machine_assignments
from reference_impl.scenarios import CATALOGUE
from reference_impl.states import CLOSE_STATES

CORRECT = correct_implementations()
GOOD = load("impl_table").HANDLERS


@pytest.mark.parametrize("name", CORRECT)
def test_no_false_fails_on_the_whole_course(name):
    result = hidden_suite(CORRECT[name])  # every notebook whose exercises are the machine's handlers
    assert result.total > 3000
    assert not result.failures, result.message()


@pytest.mark.parametrize("name", CORRECT)
@pytest.mark.parametrize("profile", [RFC9293, LINUX], ids=["rfc9293", "linux"])
@pytest.mark.parametrize("wrap", [False, True], ids=["isn-100-300", "wrapping"])
def test_no_false_fails_on_every_scenario_and_transition(name, profile, wrap):
    impl = CORRECT[name]
    for scenario in CATALOGUE:
        check_scenario(impl, scenario, profile=profile, wrap=wrap)
    check_transitions(impl, list(CLOSE_STATES), profiles=[profile], wrap=wrap)  # the reference opens connections
    check_family(impl, ["active-close", "simultaneous-close", "lost-final-ack"], k=2, profiles=[profile], wrap=wrap)


def wrong_time_wait(tcb, ev, profile):
    """Forgets RFC 9293's restart of the 2 MSL timer on a retransmitted FIN."""
    step = GOOD[State.TIME_WAIT](tcb, ev, profile)
    if isinstance(ev, Arrival) and ev.segment.fin:
        return Step(step.state, tuple(o for o in step.outputs if type(o).__name__ != "StartTimer"), step.tcb)
    return step


def test_a_wrong_transition_fails_with_everything_a_learner_needs():
    learner = {**{s.value.lower(): f for s, f in GOOD.items()}, "time_wait": wrong_time_wait}
    with pytest.raises(AssertionError) as e:
        check_scenario(learner, "lost-final-ack", profile=LINUX)
    msg = str(e.value)
    assert msg.startswith("lost-final-ack (linux): A in TIME_WAIT at 0.28 s")
    assert "A in TIME_WAIT at 0.28 s, on arrival of <SEQ=300><ACK=101><CTL=FIN,ACK>, your handler" in msg
    assert "timers: reference TIME_WAIT fires at 60.28 s" in msg
    assert "your code TIME_WAIT fires at 60.06 s" in msg
    assert "before that (reference):" in msg
    assert "replay: tcpclose simulate lost-final-ack --profile linux" in msg


def test_partial_credit_and_the_transition_summary():
    learner = {**{s.value.lower(): f for s, f in GOOD.items()}, "time_wait": wrong_time_wait}
    result = check_family(learner, ["lost-final-ack"], k=1, profiles=[RFC9293], partial=True)
    assert 0 < result.passed < result.total
    assert result.points(4) == round(4 * result.passed / result.total, 2)
    summary = result.transitions()
    assert summary[("TIME_WAIT", "recv FIN,ACK")][1] > 0
    assert summary[("FIN_WAIT_1", "recv ACK")][0] > 0 and summary[("FIN_WAIT_1", "recv ACK")][1] == 0


def test_replay_names_the_lost_segments():
    learner = {**{s.value.lower(): f for s, f in GOOD.items()}, "time_wait": wrong_time_wait}
    result = check_scenario(learner, "active-close", fates=["A2", "A3"], partial=True)
    assert "replay: tcpclose simulate active-close --lose A2 --lose A3" in result.failures[0].message


def test_check_transition_compares_one_step():
    fin_ack = Arrival(Segment(seq=300, ack=101, flags=FIN | ACK))
    check_transition(GOOD, State.FIN_WAIT_2, fin_ack)
    with pytest.raises(AssertionError) as e:
        check_transition({"fin_wait_2": lambda tcb, ev, p: Step(State.CLOSED, (), tcb)}, State.FIN_WAIT_2, fin_ack)
    msg = str(e.value)
    assert "next state: reference TIME_WAIT" in msg and "your code CLOSED" in msg
    assert "sends: reference <SEQ=101><ACK=301><CTL=ACK>" in msg


def forgets_the_fins_number(tcb, ev, profile):
    """close() sends the FIN but hands on the TCB from before it (SND.NXT not advanced)."""
    step = GOOD[State.ESTABLISHED](tcb, ev, profile)
    return Step(step.state, step.outputs, tcb) if step.state is State.FIN_WAIT_1 else step


def test_the_tcb_a_handler_hands_on_is_checked_and_blamed_on_it():
    learner = {**{s.value.lower(): f for s, f in GOOD.items()}, "established": forgets_the_fins_number}
    with pytest.raises(AssertionError) as e:
        check_transition(learner, State.ESTABLISHED, AppClose())
    assert "TCB returned: SND.NXT=100 (reference 101), our FIN (fin_seq) none (reference at 100)" in str(e.value)
    # In a whole close, the FIN_WAIT_1 handler trips over it; the note names the culprit.
    msg = check_scenario(learner, "active-close", partial=True).failures[0].message
    assert "A in FIN_WAIT_1" in msg
    assert "note: the TCB it was given already differs: SND.NXT=100 (reference 101)" in msg
    assert "your established handed it on at 0 s, on application close()" in msg


def test_check_transition_with_a_given_tcb_and_timers():
    fx = fixtures(RFC9293)[State.CLOSING][0]
    timers = {t: d - fx.time for t, d in fx.armed}
    check_transition(GOOD, State.CLOSING, Timeout(Timer.RETRANSMIT), tcb=fx.tcb, timers=timers)


def test_every_state_has_fixtures_in_both_profiles():
    for profile in (RFC9293, LINUX):
        assert all(fixtures(profile)[s] for s in State), profile.name


def test_checks_are_deterministic():
    learner = {**{s.value.lower(): f for s, f in GOOD.items()}, "time_wait": wrong_time_wait}
    first = hidden_suite(learner, "04_lost_segments")
    second = hidden_suite(learner, "04_lost_segments")
    assert [(c.name, c.passed, c.message) for c in first.cases] == [(c.name, c.passed, c.message) for c in second.cases]


def test_a_suite_needs_the_notebooks_states():
    partial = {"fin_wait_1": GOOD[State.FIN_WAIT_1]}
    result = hidden_suite(partial, "03_simultaneous_close")
    assert (
        result.score == 0
        and "this check needs your closing(tcb, ev, profile), which is not defined" in result.failures[0].message
    )
    assert course_assignments() == [
        "01_active_close",
        "02_passive_close",
        "03_simultaneous_close",
        "04_lost_segments",
        "05_time_wait",
        "06_resets",
        "07_production",
    ]
    assert machine_assignments() == course_assignments()[:6]  # 07's exercises are socket functions


SCRIPT = """\
# A closes; its final ACK is lost once
0      A close
+50ms  B close
lose A2
"""


def test_a_scenario_script_is_checked_inline_and_from_a_file(tmp_path):
    learner = {**{s.value.lower(): f for s, f in GOOD.items()}, "time_wait": wrong_time_wait}
    check_scenario(GOOD, SCRIPT)
    result = check_scenario(learner, SCRIPT, partial=True)
    assert result.score == 0 and "in TIME_WAIT" in result.failures[0].message
    path = tmp_path / "lost.tcp"
    path.write_text(SCRIPT)
    result = check_scenario(learner, str(path), partial=True)
    assert f"replay: tcpclose run {path}" in result.failures[0].message


def test_a_failed_check_shows_its_message_not_the_checks_frames():
    learner = {**{s.value.lower(): f for s, f in GOOD.items()}, "time_wait": wrong_time_wait}
    with pytest.raises(AssertionError) as e:
        check_scenario(learner, "lost-final-ack")
    assert type(e.value).__name__ == "AssertionError"  # what nbgrader and learners read
    shown = e.value._render_traceback_()  # what IPython prints instead of a traceback
    assert shown[0].endswith(str(e.value).splitlines()[0]) and "File " not in "\n".join(shown)
    assert len(shown) == len(str(e.value).splitlines())


def resets_even_after_shutdown(tcb, ev, profile):
    """Linux's RST-on-unread-data rule applied to shutdown() too (it only concerns close())."""
    if isinstance(ev, AppClose) and ev.unread and ev.shutdown and profile.rst_on_unread_close:
        return GOOD[State.ESTABLISHED](tcb, AppClose(unread=ev.unread), profile)
    return GOOD[State.ESTABLISHED](tcb, ev, profile)


def test_the_battery_tries_shutdown_with_unread_data():
    learner = {**{s.value.lower(): f for s, f in GOOD.items()}, "established": resets_even_after_shutdown}
    result = check_transitions(learner, [State.ESTABLISHED], profiles=[LINUX], partial=True)
    assert result.failures and all("shutdown" in c.name for c in result.failures)


def stub(tcb, ev, profile):
    raise NotImplementedError()


def test_a_stub_in_a_graded_check_fails_where_it_is_reached_and_a_check_that_needs_it_says_so():
    # The reference never stands in for an unwritten handler in a check: a cell must not earn
    # points for a state the learner has not written.
    written = {**{s.value.lower(): f for s, f in GOOD.items()}, "last_ack": stub}
    msg = check_scenario(written, "active-close", partial=True).failures[0].message
    assert "B at 0.07 s: in LAST_ACK" in msg and "raised NotImplementedError" in msg
    with pytest.raises(AssertionError, match="this check needs your last_ack.*not written yet"):
        check_transition(written, State.LAST_ACK, Timeout(Timer.RETRANSMIT))


# ---- sequence numbers that wrap (RFC 9293 §3.4) ----------------------------------------------


def fin_acked_by_plain_comparison(tcb, ev, profile):
    """FIN_WAIT_1 deciding "our FIN is acknowledged" with `>` instead of the sequence arithmetic."""
    step = GOOD[State.FIN_WAIT_1](tcb, ev, profile)
    if isinstance(ev, Arrival) and step.state in (State.FIN_WAIT_1, State.FIN_WAIT_2) and ev.segment.has_ack:
        acked = tcb.fin_seq is not None and ev.segment.ack > tcb.fin_seq
        if step.state is State.FIN_WAIT_2 and not acked:
            return Step(State.FIN_WAIT_1, tuple(o for o in step.outputs if type(o).__name__ != "StartTimer"), step.tcb)
    return step


def test_wrapped_cases_put_both_fins_on_the_last_sequence_number():
    sc = wrapped(CATALOGUE["ack-of-data-not-fin"].scenario)
    fins = {(r.endpoint, r.seq) for r in reference_run(sc, RFC9293).trace.rows if r.event == "send" and FIN in r.flags}
    assert fins == {("A", 2**32 - 1), ("B", 2**32 - 1)}  # A's 100 bytes of data wrap before its FIN
    assert check_scenario(GOOD, "active-close", wrap=True).passed == 1
    with pytest.raises(AssertionError, match="replay: tcpclose simulate lost-final-ack --lose A2 --wrap"):
        learner = {**{s.value.lower(): f for s, f in GOOD.items()}, "time_wait": wrong_time_wait}
        check_scenario(learner, "lost-final-ack", fates=["A2"], wrap=True)


def test_a_comparison_without_modulo_passes_at_isn_100_and_fails_near_the_wrap():
    learner = {**{s.value.lower(): f for s, f in GOOD.items()}, "fin_wait_1": fin_acked_by_plain_comparison}
    assert not check_family(learner, ["active-close", "ack-of-data-not-fin"], k=1, partial=True).failures
    assert not check_transitions(learner, [State.FIN_WAIT_1], partial=True).failures
    assert check_family(learner, ["active-close"], k=1, wrap=True, partial=True).score < 0.5
    assert check_transitions(learner, [State.FIN_WAIT_1], wrap=True, partial=True).failures
    result = check_transition(learner, State.FIN_WAIT_1, Arrival(Segment(seq=300, ack=101)), wrap=True, partial=True)
    assert "<SEQ=4294967295><ACK=0><CTL=ACK>" in result.failures[0].message  # the ACK of a FIN on 2**32 - 1
    assert hidden_suite(learner, "01_active_close").score < 1


# ---- what the standards allow (autograder/alternatives.py) ----------------------------------


def answers_ok_to_a_second_close(state):
    def handler(tcb, ev, profile):
        step = GOOD[state](tcb, ev, profile)
        if isinstance(ev, AppClose):
            return Step(step.state, tuple(o for o in step.outputs if type(o).__name__ != "Error"), step.tcb)
        return step

    return handler


def keeps_the_running_timer(tcb, ev, profile):
    """ESTABLISHED sends the FIN behind unacknowledged data and leaves the running timer alone."""
    step = GOOD[State.ESTABLISHED](tcb, ev, profile)
    if isinstance(ev, AppClose) and step.state is State.FIN_WAIT_1 and tcb.snd_una != tcb.snd_nxt:
        return Step(step.state, tuple(o for o in step.outputs if type(o).__name__ != "StartTimer"), step.tcb)
    return step


def test_ok_to_a_second_close_is_allowed_in_fin_wait_only():
    learner = {
        **{s.value.lower(): f for s, f in GOOD.items()},
        **{s.value.lower(): answers_ok_to_a_second_close(s) for s in (State.FIN_WAIT_1, State.FIN_WAIT_2)},
    }
    check_transitions(learner, [State.FIN_WAIT_1, State.FIN_WAIT_2])
    closing = {**learner, "closing": answers_ok_to_a_second_close(State.CLOSING)}  # §3.10.4: an error there
    assert check_transitions(closing, [State.CLOSING], partial=True).failures


def test_a_running_retransmission_timer_may_be_left_running_for_the_fin():
    learner = {**{s.value.lower(): f for s, f in GOOD.items()}, "established": keeps_the_running_timer}
    data_out = TCB(snd_una=100, snd_nxt=200, rcv_nxt=300, unacked=b"x" * 100)
    check_transition(learner, State.ESTABLISHED, AppClose(), tcb=data_out, timers={Timer.RETRANSMIT: 900_000})
    # In a whole close the timer then fires when it was due: the reference follows that choice.
    check_family(learner, ["ack-of-data-not-fin", "simultaneous-close-with-data"], k=1)
    no_timer = {**learner, "established": no_timer_for_the_fin}  # nothing was running: a FIN without a timer
    assert check_transition(no_timer, State.ESTABLISHED, AppClose(), partial=True).failures


def no_timer_for_the_fin(tcb, ev, profile):
    step = GOOD[State.ESTABLISHED](tcb, ev, profile)
    if isinstance(ev, AppClose) and step.state is State.FIN_WAIT_1:
        return Step(step.state, tuple(o for o in step.outputs if type(o).__name__ != "StartTimer"), step.tcb)
    return step


def test_a_segment_the_check_made_up_offers_no_replay_and_says_no_timeline_shows_it():
    """A student was sent to `tcpclose simulate active-close` and show_mine for a RST at 301 in
    FIN_WAIT_2 that no scenario sends: both showed a correct run."""
    learner = {**{s.value.lower(): f for s, f in GOOD.items()}, "time_wait": wrong_time_wait}
    made_up = Arrival(Segment(seq=300, ack=101, flags=FIN | ACK, payload=b"late"))  # data with the FIN: no scenario
    with pytest.raises(AssertionError) as e:
        check_transition(learner, State.TIME_WAIT, made_up)
    assert "replay:" not in str(e.value)
    assert "no timeline can show this case, show_mine's neither: the check makes up this situation" in str(e.value)
    met = Arrival(Segment(seq=300, ack=101, flags=FIN | ACK))  # B's FIN again: lost-final-ack meets it
    with pytest.raises(AssertionError, match="replay: tcpclose simulate lost-final-ack"):
        check_transition(learner, State.TIME_WAIT, met)


def test_one_transition_checked_under_both_profiles_gives_two_lines_a_learner_can_tell_apart():
    """A reader saw "✗ TIME_WAIT on recv FIN,ACK (...)" over "✓ TIME_WAIT on recv FIN,ACK (...)"."""
    fin_again = Arrival(Segment(seq=300, ack=101, flags=FIN | ACK))
    lines = [check_transition(GOOD, State.TIME_WAIT, fin_again, profile=p, partial=True).line()
             for p in (RFC9293, LINUX)]  # fmt: skip
    assert lines[0] != lines[1] and lines[1].endswith("under linux: passes"), lines


def test_a_borrowed_situation_names_the_run_that_replays_it():
    """A learner read "A in TIME_WAIT at 240.06 s of active-close" above "replay: tcpclose simulate
    lost-final-ack": the TCB is active-close's, the FIN arriving in it is lost-final-ack's."""
    from autograder.checks.transition_cases import battery
    from autograder.harness import Guard

    case = next(
        c for c in battery(State.TIME_WAIT, RFC9293) if c.played is not None and c.played.scenario != c.fx.scenario
    )
    guard = Guard()
    with guard.session():
        got = case({State.TIME_WAIT: lambda tcb, ev, profile: Step(State.TIME_WAIT, (), tcb)}, guard)
    assert not got.passed
    assert f"a run that meets this case: {case.played.label}" in got.message
    assert f"replay: tcpclose simulate {case.played.scenario}" in got.message


def test_a_given_kind_answers_a_written_state_and_never_stands_in_for_a_stub():
    """given=(state, Arrival): the reference takes every arrival there, for a handler the learner wrote;
    a handler still as released keeps raising (a cell never earns points for an unwritten state)."""
    from autograder.checks.functions import run_spec
    from autograder.manifest import family

    good = {s.value.lower(): f for s, f in load("impl_plain").HANDLERS.items()}

    def fin_wait_2(tcb, ev, profile):
        raise NotImplementedError()

    def wrong_fin_wait_2(tcb, ev, profile):  # written, and wrong: stays in FIN_WAIT_2 on B's FIN
        if isinstance(ev, Arrival) and ev.segment.fin:
            return Step(State.FIN_WAIT_2, (), tcb)
        return good["fin_wait_2"](tcb, ev, profile)

    spec = family("active-close", k=0, given=((State.FIN_WAIT_2, Arrival),))
    plain = family("active-close", k=0)
    assert run_spec(spec, {**good, "fin_wait_2": wrong_fin_wait_2}).score == 1  # the reference took B's FIN
    assert run_spec(plain, {**good, "fin_wait_2": wrong_fin_wait_2}).score < 1
    stubbed = run_spec(spec, {**good, "fin_wait_2": fin_wait_2}).message()
    assert "1 of 2 cases pass" in stubbed and "raised NotImplementedError" in stubbed, stubbed  # linux: no FIN_WAIT_2
