"""The hidden tests kill every mutant of the reference that can change behaviour.

Slow by design (~1-2 min on 2 cores): it grades ~700 mutants with the whole course's hidden suite.
"""

from __future__ import annotations

import ast
import os
from collections import Counter

from autograder.checks import hidden_suite
from reference_impl.states import CLOSE_STATES
from tests.mutation import mutants


def test_the_operators_cover_what_the_issue_asks_for():
    ops = Counter(m.operator for m in mutants.generate())
    for op in ("state", "drop", "seq±1", "ack±1", "FIN", "ACK", "duration", "timer", "negate"):
        assert ops[op] > 0, op
    keys = {m.key for m in mutants.generate()}
    assert len(keys) == len(mutants.generate()), "every mutant has its own key"
    assert any(
        "restart = StartTimer(Timer.TIME_WAIT" in m.context and m.operator == "drop" for m in mutants.generate()
    ), "the TIME_WAIT restart can be removed"
    assert any("if profile.rfc1337:" in m.context and m.operator == "negate" for m in mutants.generate())


def test_a_mutant_differs_from_the_reference_in_one_place_only():
    first_drop = next(m for m in mutants.generate() if m.operator == "drop")
    assert hidden_suite(mutants.build(first_drop), fail_fast=True).failures
    rfc1337 = next(m for m in mutants.generate() if m.operator == "negate" and "rfc1337" in m.context)
    failures = hidden_suite(mutants.build(rfc1337), fail_fast=True).failures
    assert failures and "TIME_WAIT" in failures[0].message


def test_no_hidden_case_reaches_a_handlers_fall_through_return():
    """The fall-through returns are never mutated (mutants.FALL_THROUGH says why each is unreachable):
    a reference whose fall-throughs raise still passes every hidden case."""
    result = hidden_suite(mutants.build(fall_through_raises=True))
    assert not result.failures, result.failures[0].message
    assert set(mutants.FALL_THROUGH) == set(CLOSE_STATES)
    tree = ast.parse(mutants.SOURCES["handlers"].read_text())
    last = {fn.name: fn.body[-1].lineno for fn in tree.body if isinstance(fn, ast.FunctionDef)}
    inside = [m.key for m in mutants.generate() if m.module == "handlers" and m.line == last[m.function]]
    assert not inside, inside


def test_the_hidden_suite_kills_every_non_equivalent_mutant(capsys):
    outcomes = mutants.run_all(processes=min(2, os.cpu_count() or 1))
    with capsys.disabled():
        print("\n" + mutants.table(outcomes))
    alive = {o.mutant.key for o in outcomes if not o.killed}
    unexplained = sorted(alive - set(mutants.EQUIVALENT))
    assert not unexplained, "mutants the hidden tests miss:\n" + "\n".join(unexplained)
    stale = sorted(set(mutants.EQUIVALENT) - alive)
    assert not stale, "listed as equivalent but killed (or gone):\n" + "\n".join(stale)
