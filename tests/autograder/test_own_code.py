"""'Write it yourself': a cell whose exercise is a building block's job scores 0 when the handler uses it."""

from __future__ import annotations

import pytest

from autograder.checks import CellTests, grade_cell
from autograder.checks.own_code import code_of, own_code_problem
from autograder.checks.results import CheckFailed
from autograder.harness import LearnerMachine, machine_from_namespace
from autograder.manifest import ManifestError, load_manifest, yourself
from reference_impl.states import State

CELL = load_manifest("01_active_close").cell("test_established_close")

OWN = """
def established(tcb, ev, profile):
    match ev:
        case AppClose(shutdown=shutdown):
            tcb, held = note_close(tcb, profile, orphan=not shutdown)
            if held is not None:
                return Step(State.FIN_WAIT_1, held, tcb)
            fin = tcb.segment(FIN)
            tcb = tcb.replace(fin_seq=tcb.snd_nxt, snd_nxt=seq_add(tcb.snd_nxt, 1))
            return Step(State.FIN_WAIT_1, [Send(fin), StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt))], tcb)
    return Step(State.ESTABLISHED, [], tcb)
"""
LIBRARY = OWN.replace("fin = tcb.segment(FIN)", "tcb, out = send_fin(tcb, profile, True)")


def test_the_rule_is_declared_in_the_manifest():
    (rule,) = CELL.yourself
    assert rule.state is State.ESTABLISHED and set(rule.blocks) == {"send_fin", "transmit"}
    with pytest.raises(ManifestError, match="name the building blocks"):
        yourself(State.ESTABLISHED, what="nothing")


def test_own_code_passes_and_the_library_call_is_named():
    assert own_code_problem(CELL, [OWN]) is None
    problem = own_code_problem(CELL, [LIBRARY])
    assert problem.startswith("your established uses `send_fin`: in this exercise you build the FIN")
    assert "this cell scores 0" in problem


@pytest.mark.parametrize("trick", [
    "from reference_impl.actions import send_fin as make_fin\n",                      # an alias
    "import reference_impl.actions as A\nmake_fin = A.send_fin\n",                   # through a module
    "def make_fin(tcb, profile, orphan):\n    return tcb.replace(fin_seq=tcb.snd_nxt).transmit()\n",  # TCB.transmit
])  # fmt: skip
def test_a_helper_of_the_learners_is_followed(trick):
    code = [trick, OWN.replace("fin = tcb.segment(FIN)", "tcb, out = make_fin(tcb, profile, True)")]
    problem = own_code_problem(CELL, code)
    assert problem and "(through your `make_fin`)" in problem


def test_a_name_built_at_run_time_is_refused():
    code = [OWN.replace("fin = tcb.segment(FIN)", "tcb, out = globals()['send_' + 'fin'](tcb, profile, True)")]
    assert "looks a name up at run time with `globals(...)`" in own_code_problem(CELL, code)
    code = [OWN.replace("fin = tcb.segment(FIN)", "f = getattr(actions, name)")]
    assert "`getattr(...)`" in own_code_problem(CELL, code)
    code = [OWN.replace("fin = tcb.segment(FIN)", "f = operator.attrgetter(name)(actions)")]
    assert "`attrgetter(...)`" in own_code_problem(CELL, code)
    assert own_code_problem(CELL, [OWN.replace("fin = tcb.segment(FIN)", "fin = attrgetter('snd_nxt')(tcb)")]) is None


def test_a_long_block_copied_in_under_another_name_is_that_block():
    """A learner build holds the blocks' source: notebook 05's timewait_state_process, pasted in as the
    learner's linux_time_wait with every local renamed, is still the block, found by its shape."""
    import inspect
    import re

    from reference_impl.actions import timewait_state_process

    cell = load_manifest("05_time_wait").cell("test_time_wait_linux")
    source = inspect.getsource(timewait_state_process).replace("timewait_state_process", "linux_time_wait")
    for old, new in (("tcb", "t"), ("seg", "s"), ("profile", "p"), ("outputs", "out")):
        source = re.sub(rf"\b{old}\b", new, source)
    handler = "def time_wait(t, ev, p):\n    return linux_time_wait(t, ev.segment, p)\n"
    problem = own_code_problem(cell, [source, handler])
    assert problem.startswith("your `linux_time_wait` is the library's `timewait_state_process` copied in")
    assert "this cell scores 0" in problem


def test_the_last_definition_wins_and_other_handlers_may_use_the_block():
    other = "def close_wait(tcb, ev, profile):\n    return send_fin(tcb, profile, True)\n"
    assert own_code_problem(CELL, [LIBRARY, OWN, other]) is None  # redefined, as in the kernel
    assert own_code_problem(CELL, [OWN, LIBRARY]) is not None


def test_the_trusted_side_reads_what_it_ran_and_the_notebook_its_history():
    assert code_of(LearnerMachine({}, code=("x = 1",))) == ("x = 1",)
    assert code_of(LearnerMachine({}, source={"In": ["", "y = 2"]})) == ("", "y = 2")


def test_grading_the_cell_scores_zero_with_the_sentence():
    ns: dict = {}
    exec("from autograder.learner import *\n" + LIBRARY, ns)  # noqa: S102
    ns["In"] = ["", LIBRARY]
    verdict = grade_cell(CELL, machine_from_namespace(ns))
    assert verdict.points == 0 and not verdict.visible_passed and "uses `send_fin`" in verdict.text
    with pytest.raises(CheckFailed, match="uses `send_fin`"):
        CellTests("01_active_close").check(ns, "test_established_close")
    exec(OWN, ns)  # noqa: S102
    ns["In"].append(OWN)
    mine = grade_cell(CELL, machine_from_namespace(ns))  # its own FIN: graded (this sketch ignores a FIN arriving)
    assert mine.visible_passed and mine.points > 0 and "send_fin" not in mine.text


def test_a_learner_build_carries_the_rule_with_the_visible_checks():
    from autograder import visible

    carried = visible.parse(visible.dump(load_manifest("01_active_close"))).cell("test_established_close")
    assert carried.yourself == CELL.yourself and not carried.hidden


def test_writing_about_a_block_is_not_using_it():
    documented = OWN.replace("def established(tcb, ev, profile):\n",
                             'def established(tcb, ev, profile):\n    """Like send_fin, but mine: no transmit."""\n'
                             "    # send_fin would do this; I do not call it\n")  # fmt: skip
    assert own_code_problem(CELL, [documented]) is None
    looked_up = OWN.replace("fin = tcb.segment(FIN)", 'fin = getattr(actions, "send_fin")(tcb, profile, True)')
    assert "uses `send_fin`" in own_code_problem(CELL, [looked_up])


def test_a_function_of_the_learners_own_named_like_a_block_is_read_not_refused():
    mine = "def send_fin(tcb):\n    return tcb.segment(FIN), tcb.replace(fin_seq=tcb.snd_nxt)\n"
    uses_mine = OWN.replace("fin = tcb.segment(FIN)", "fin, _ = send_fin(tcb)")
    assert own_code_problem(CELL, [mine, uses_mine]) is None
    wraps_library = "def send_fin(tcb):\n    return actions.send_fin(tcb, None, True)\n"
    assert "uses `send_fin`" in own_code_problem(CELL, [wraps_library, uses_mine])
    rebound = "from autograder.learner import send_fin\n"  # the library's again, after the learner's def
    assert "uses `send_fin`" in own_code_problem(CELL, [mine, rebound, uses_mine])


TW_LINUX = load_manifest("05_time_wait").cell("test_time_wait_linux")
TW_OWN = """
def linux_time_wait(tcb, seg, profile):
    return Step(State.TIME_WAIT, [Send(tcb.ack())], tcb)

def time_wait(tcb, ev, profile):
    if profile.timewait_state_process:
        return linux_time_wait(tcb, ev.segment, profile)
    return Step(State.TIME_WAIT, [], tcb)
"""


@pytest.mark.parametrize("use", [
    "timewait_state_process(tcb, ev.segment, profile)",                     # the block itself
    "profile.timewait_state_process(tcb, ev.segment, profile)",             # an option's name, called
    "A.timewait_state_process(tcb, ev.segment, profile)",                   # through a module
])  # fmt: skip
def test_a_profile_option_named_like_a_block_is_read_not_used(use):
    # profile.timewait_state_process says whether Linux's TIME_WAIT rules apply; reading it is no use of
    # the block timewait_state_process, which notebook 05's Linux cell refuses.
    assert own_code_problem(TW_LINUX, [TW_OWN]) is None
    code = ["import reference_impl.actions as A\n", TW_OWN.replace("linux_time_wait(tcb, ev.segment, profile)", use)]
    assert "your time_wait uses `timewait_state_process`" in own_code_problem(TW_LINUX, code)


def test_a_local_variable_named_like_a_block_is_the_learners_own():
    """A reader's base_rto said `rto = profile.rto_factor * srtt + profile.rto_add`: notebook 04's cells
    that refuse the profile's `rto` scored 0 for a variable. The block itself still counts."""
    cell = load_manifest("04_lost_segments").cell("test_fin_wait_1_retransmit")
    own = """
def base_rto(srtt, profile):
    rto = profile.rto_factor * srtt + profile.rto_add
    return min(max(profile.rto_min, rto), profile.rto_max)

def fin_wait_1(tcb, ev, profile):
    for retransmit in (): pass
    return Step(State.FIN_WAIT_1, [StartTimer(Timer.RETRANSMIT, base_rto(tcb.srtt, profile))], tcb)
"""
    assert own_code_problem(cell, [own]) is None
    library = own.replace("base_rto(tcb.srtt, profile)", "profile.rto(0, tcb.srtt)")
    assert "uses `rto`" in own_code_problem(cell, [library])
    by_default = own.replace(
        "def fin_wait_1(tcb, ev, profile):", "def fin_wait_1(tcb, ev, profile, retransmit=retransmit):"
    )
    assert "uses `retransmit`" in own_code_problem(cell, [by_default])


TW_CELL = load_manifest("05_time_wait").cell("test_time_wait_retransmitted_fin")
DISPATCH = """
def fin_again(tcb, seg):
    return seg.fin and seq_add(seg.seq, seg.len) == tcb.rcv_nxt

class _TimeWait:
    def __call__(self, tcb, ev, profile):
        return {LOOKUP}(tcb, ev, profile)

    def on_Arrival(self, tcb, ev, profile):
        if fin_again(tcb, ev.segment):
            return Step(State.TIME_WAIT, [Send(tcb.ack()), StartTimer(Timer.TIME_WAIT, profile.time_wait)], tcb)
        return Step(State.TIME_WAIT, [], tcb)

    def ignore(self, tcb, ev, profile):
        return Step(State.TIME_WAIT, [], tcb)

time_wait = _TimeWait()
"""


@pytest.mark.parametrize("lookup", [
    'getattr(self, "on_" + type(ev).__name__, self.ignore)',
    'getattr(self, f"on_{type(ev).__name__}", self.ignore)',
    'getattr(self, "on_%s" % type(ev).__name__)',
    'methodcaller("on_" + type(ev).__name__, tcb, ev, profile)(self) or self.ignore',
])  # fmt: skip
def test_a_dispatch_on_a_name_no_block_can_have_is_the_learners_own(lookup):
    """An independent learner's class dispatched by event name scored 0: the name starts with "on_"."""
    assert own_code_problem(TW_CELL, [DISPATCH.replace("{LOOKUP}", lookup)]) is None


@pytest.mark.parametrize("lookup,seen", [
    ("getattr(self, name)", "getattr"),  # any name at all
    ('getattr(self, "is_" + kind)', "getattr"),  # is_retransmitted_fin starts so
    ('getattr(self, kind + "_fin")', "getattr"),  # ... and ends so
    ('functools.reduce(getattr, ["on_" + kind], self)', "getattr"),  # getattr passed on, not called
    ('(lambda look=getattr: look(self, "on_x"))()', "getattr"),
    ('fin_again.__globals__["is_" + "retransmitted_fin"]', "__globals__"),
    ('__builtins__["ev" + "al"]("1")', "__builtins__"),
    ('builtins.__import__("reference_impl.act" + "ions")', "__import__"),
    ('type(self).__dict__["on_x"]', "__dict__"),
])  # fmt: skip
def test_a_name_that_could_be_a_block_is_still_refused(lookup, seen):
    problem = own_code_problem(TW_CELL, [DISPATCH.replace("{LOOKUP}", lookup)])
    assert problem is not None and f"`{seen}" in problem
