"""Delegating to the reference's handlers scores zero with a reason; the vocabulary stays allowed."""

from __future__ import annotations

import functools
import sys
import types

import pytest
from implementations import load

import reference_impl
import reference_impl.handlers
from autograder.checks import check_scenario, hidden_suite
from autograder.harness import learner_handlers
from autograder.integrity import inspect_submission
from autograder.learner import State, Step, screen, send_rst
from reference_impl import handlers as ref_handlers
from reference_impl.handlers import HANDLERS
from reference_impl.handlers import fin_wait_1 as ref_fin_wait_1

GOOD = {s.value.lower(): f for s, f in load("impl_table").HANDLERS.items()}


def fin_wait_1_by_attribute(tcb, ev, profile):
    return reference_impl.handlers.fin_wait_1(tcb, ev, profile)


def fin_wait_1_by_table(tcb, ev, profile):
    return HANDLERS[State.FIN_WAIT_1](tcb, ev, profile)


def fin_wait_1_by_import(tcb, ev, profile):
    from reference_impl.handlers import fin_wait_1

    return fin_wait_1(tcb, ev, profile)


def fin_wait_1_by_module(tcb, ev, profile):
    return ref_handlers.handle(State.FIN_WAIT_1, tcb, ev, profile)


def fin_wait_1_by_importlib(tcb, ev, profile):
    import importlib

    return importlib.import_module("reference_impl.handlers").fin_wait_1(tcb, ev, profile)


def _helper(tcb, ev, profile):
    return ref_fin_wait_1(tcb, ev, profile)


def fin_wait_1_through_a_helper(tcb, ev, profile):
    return _helper(tcb, ev, profile)


def closure():
    keep = ref_fin_wait_1

    def fin_wait_1(tcb, ev, profile):
        return keep(tcb, ev, profile)

    return fin_wait_1


def fin_wait_1_by_default(tcb, ev, profile, impl=ref_fin_wait_1):
    return impl(tcb, ev, profile)


def fin_wait_1_obfuscated(tcb, ev, profile):
    module = getattr(reference_impl, "hand" + "lers")
    return getattr(module, "fin_" + "wait_1")(tcb, ev, profile)


STATIC = {
    "the reference function itself": ref_fin_wait_1,
    "a partial of it": functools.partial(ref_fin_wait_1),
    "attribute access": fin_wait_1_by_attribute,
    "the HANDLERS table": fin_wait_1_by_table,
    "an import inside": fin_wait_1_by_import,
    "the module's handle()": fin_wait_1_by_module,
    "importlib with the module's name": fin_wait_1_by_importlib,
    "a helper that delegates": fin_wait_1_through_a_helper,
    "a closure": closure(),
    "a default argument": fin_wait_1_by_default,
}


@pytest.mark.parametrize("how", STATIC)
def test_delegation_is_found_before_running(how):
    handlers = {**GOOD, "fin_wait_1": STATIC[how]}
    reason = inspect_submission(handlers, {State.FIN_WAIT_1: STATIC[how]})
    assert reason and "scores zero" in reason
    result = check_scenario(handlers, "active-close", partial=True)
    assert result.score == 0 and "scores zero" in result.failures[0].message


def test_a_class_method_that_delegates_is_found():
    class Machine:
        def fin_wait_1(self, tcb, ev, profile):
            return reference_impl.handlers.fin_wait_1(tcb, ev, profile)

    assert hidden_suite(Machine, "03_simultaneous_close").score == 0


def test_a_namespace_holding_a_reference_handler_is_found():
    ns = {**GOOD, "solution": ref_fin_wait_1}
    assert "holds the reference's fin_wait_1 handler as `solution`" in inspect_submission(ns, {})


def test_obfuscated_delegation_is_caught_at_run_time():
    handlers = {**GOOD, "fin_wait_1": fin_wait_1_obfuscated}
    assert inspect_submission(handlers, {State.FIN_WAIT_1: fin_wait_1_obfuscated}) is None
    result = check_scenario(handlers, "active-close", partial=True)
    assert result.score == 0
    assert "called the reference solution's handler" in result.failures[0].message


def test_the_vocabulary_is_allowed():
    def fin_wait_1(tcb, ev, profile):
        screen(tcb, ev.segment) if hasattr(ev, "segment") else None
        return GOOD["fin_wait_1"](tcb, ev, profile)

    def closing(tcb, ev, profile, _reset=send_rst):
        return GOOD["closing"](tcb, ev, profile)

    handlers = {**GOOD, "fin_wait_1": fin_wait_1, "closing": closing, "Step": Step}
    assert inspect_submission(handlers, {State.FIN_WAIT_1: fin_wait_1, State.CLOSING: closing}) is None
    assert hidden_suite(handlers, "03_simultaneous_close").score == 1


# ---- what is not delegation --------------------------------------------------------------


def test_harmless_styles_are_not_delegation():
    """Importing the course's sequence arithmetic, or reading a profile field named like a state."""

    def time_wait(tcb, ev, profile):
        from reference_impl.segment import seq_add, seq_lt  # noqa: F401 - the vocabulary, imported where used

        if profile.time_wait == 0:
            return GOOD["time_wait"](tcb, ev, profile)
        return GOOD["time_wait"](tcb, ev, profile)

    aliases = load("impl_aliases")
    assert inspect_submission({**GOOD, "time_wait": time_wait}, {State.TIME_WAIT: time_wait}) is None
    namespace = vars(aliases)
    assert inspect_submission(namespace, learner_handlers(namespace)) is None
    assert hidden_suite(namespace, "05_time_wait").score == 1


def test_a_copy_of_a_reference_handler_is_delegation():
    copy = types.FunctionType(ref_fin_wait_1.__code__, ref_fin_wait_1.__globals__, "fin_wait_1")
    reason = inspect_submission({**GOOD, "fin_wait_1": copy}, {State.FIN_WAIT_1: copy})
    assert reason == (
        "your fin_wait_1 is a copy of the reference's fin_wait_1 handler; it scores zero: write each "
        "state's logic yourself (everything in autograder.learner is allowed)"
    )


def test_the_run_time_trap_leaves_the_reference_as_it_was():
    codes = {state: fn.__code__ for state, fn in HANDLERS.items()}
    handlers = {**GOOD, "fin_wait_1": fin_wait_1_obfuscated}
    assert check_scenario(handlers, "active-close", partial=True).score == 0
    assert {state: fn.__code__ for state, fn in HANDLERS.items()} == codes
    assert check_scenario(GOOD, "active-close").passed == 1  # the reference answers again, outside learner calls


def test_without_the_reference_handlers_there_is_nothing_to_detect(monkeypatch):
    """A learner build or the grading sandbox has no reference_impl.handlers: integrity stands down."""
    from autograder import integrity

    monkeypatch.setitem(sys.modules, "reference_impl.handlers", None)  # import now raises ImportError
    monkeypatch.delattr(reference_impl, "handlers")
    for cached in (integrity._forbidden, integrity._answer_key):
        monkeypatch.setattr(integrity, cached.__name__, functools.cache(cached.__wrapped__))
    assert integrity.reference_functions() == ()
    assert (
        inspect_submission({**GOOD, "fin_wait_1": fin_wait_1_by_attribute}, {State.FIN_WAIT_1: fin_wait_1_by_attribute})
        is None
    )
