"""What notebook test cells and the grader call: compare a learner's handlers with the reference.

results           Case, CheckOutcome (partial credit, per-transition tally), CheckFailed
scenario_cases    whole scenarios and loss families, reference runs, wrap-around variants
fixtures          situations per state the reference reaches (where a transition check starts), wrap shifts
transition_cases  the stimulus battery, single-transition cases
functions         check_transition / check_scenario / check_family / check_transitions,
                  manifest checks (run_spec) and a notebook's hidden suite
cells             grade_cell (CellVerdict) and CellTests, the notebooks' test-cell helper
alternatives      the differences from the reference a correct answer may show (RFC-allowed)
"""

from .cells import CellTests, CellVerdict, cell_points, grade_cell
from .fixtures import FIXTURES_PER_STATE, Fixture, fixtures
from .functions import (
    check_family,
    check_scenario,
    check_transition,
    check_transitions,
    hidden_suite,
    prepare,
    run_spec,
    run_specs,
)
from .results import Case, CheckFailed, CheckOutcome
from .scenario_cases import clear_scenario_caches, reference_run, replay_command, wrap_shifts, wrapped
from .transition_cases import battery, clear_fixture_caches, stimuli_for


def clear_caches() -> None:
    """Forget every reference run, fixture and derived case: a cold start, as in a fresh grading process."""
    clear_scenario_caches()
    clear_fixture_caches()


__all__ = [
    "FIXTURES_PER_STATE",
    "Case",
    "CellTests",
    "CellVerdict",
    "CheckFailed",
    "CheckOutcome",
    "Fixture",
    "battery",
    "cell_points",
    "check_family",
    "check_scenario",
    "check_transition",
    "check_transitions",
    "clear_caches",
    "fixtures",
    "grade_cell",
    "hidden_suite",
    "prepare",
    "reference_run",
    "replay_command",
    "run_spec",
    "run_specs",
    "stimuli_for",
    "wrap_shifts",
    "wrapped",
]
