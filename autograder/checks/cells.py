"""Grading one test cell from its manifest entry: what the trusted grader and the notebook both run.

The rule (the same in the notebook and on the trusted side): any visible check fails → 0 points;
otherwise points × the weighted mean of the hidden checks' scores, to two decimals, and never
full marks while a hidden case fails (a mistake always shows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reference_impl.states import State

from ..harness import Guard, LearnerMachine, machine_from_namespace, misnamed
from ..manifest import Manifest, ManifestError, TestCell, load_manifest
from ..reference_source import source_kind
from .functions import run_cases, run_spec, run_specs
from .own_code import code_of, own_code_problem
from .picture import show_failure
from .results import CheckFailed, CheckOutcome, tally_transitions
from .scenario_cases import scenario_case


@dataclass
class CellVerdict:
    """One test cell, graded."""

    grade_id: str
    points: float
    max_points: float
    visible_passed: bool
    text: str  # what the learner reads under the cell: one line per check, then the first failure's whole message
    transitions: dict  # (state, event kind) -> (cases where it behaved, cases where it first went wrong)
    svg: str | None = None  # the first divergence drawn (learner beside reference), if any
    outcomes: list[CheckOutcome] = field(default_factory=list, repr=False)  # visible, then hidden


def cell_points(cell: TestCell, hidden: list[CheckOutcome]) -> float:
    """points × the weighted mean of the hidden scores; below full marks whenever a case fails."""
    weights = [spec.weight for spec in cell.hidden]
    if not weights:  # a learner build carries no hidden checks: the visible ones decide
        return cell.points
    mean = sum(w * o.score for w, o in zip(weights, hidden, strict=True)) / sum(weights)
    points = round(cell.points * mean, 2)
    if mean < 1:
        points = max(0.0, min(points, round(cell.points - 0.01, 2)))
    return points


def run_visible(cell: TestCell, machine: LearnerMachine, guard: Guard | None = None) -> list[CheckOutcome]:
    return [run_spec(spec, machine, guard=guard) for spec in cell.visible]


def run_hidden(cell: TestCell, machine: LearnerMachine, guard: Guard | None = None) -> list[CheckOutcome]:
    return [run_spec(spec, machine, guard=guard) for spec in cell.hidden]


def grade_cell(cell: TestCell, machine: LearnerMachine | object) -> CellVerdict:
    """The cell's points, what the learner reads under it, the class report's tally and the first
    divergence drawn. Deterministic: the same machine gets the same verdict."""
    machine = machine_from_namespace(machine)
    problem = own_code_problem(cell, code_of(machine))
    if problem:  # the handler leaves the exercise to a building block: the cell's checks would only test the block
        return CellVerdict(cell.grade_id, 0.0, cell.points, False, f"{cell.grade_id}: {problem}", {})
    guard = Guard(machine.limits, watch_reference=machine.source is not None)  # code elsewhere cannot reach it
    visible = run_visible(cell, machine, guard)
    lines = [o.line() for o in visible]
    failed = next((o for o in visible if o.failures), None)
    if failed is not None:
        outcomes, points, text = visible, 0.0, "\n".join([*lines, failed.message()])
    else:
        hidden = run_hidden(cell, machine, guard)
        outcomes, points = visible + hidden, cell_points(cell, hidden)
        text = "\n".join([*lines, *(o.marked() for o in hidden)])
    cases = [c for o in outcomes for c in o.cases]
    return CellVerdict(cell.grade_id, points, cell.points, failed is None, text, tally_transitions(cases),
                       _first_picture(machine, cases), outcomes)  # fmt: skip


def _first_picture(machine: LearnerMachine, cases: list) -> str | None:
    """The first failing case drawn: a scenario case's own runs, else the scenario a transition case
    was taken from (an independent learner's feedback page had no picture for a visible check that
    the notebook drew)."""
    failing = [c for c in cases if not c.passed]
    first = next((c for c in failing if c.svg is not None), None)
    if first is not None:
        return first.svg()
    scene = next((c for c in failing if c.scene is not None), None)
    if scene is None:
        return None
    name, profile = scene.scene
    run = run_cases(name, machine, (), [scenario_case(name, profile, {})], partial=True)
    drawn = next((c for c in run.cases if not c.passed and c.svg is not None), None)
    return drawn.svg(scene.where) if drawn is not None else None


class CellTests:
    """A notebook's test cells, as its manifest defines them. The setup cell makes one:

        tests = CellTests("01_active_close")

    then a test cell's visible part is `tests.check(globals(), "test_established_close")` and its
    hidden part `tests.hidden_points(globals(), "test_established_close")`.
    """

    def __init__(self, assignment: str, course_root: Path | None = None) -> None:
        self.assignment = assignment
        self.course_root = course_root
        self._manifest: Manifest | None = None

    def __repr__(self) -> str:
        return f"CellTests({self.assignment!r})"

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            try:
                self._manifest = load_manifest(self.assignment, self.course_root)
            except ManifestError as e:
                raise CheckFailed(f"the checks of {self.assignment} cannot run here: {e}") from None
        return self._manifest

    def _cell(self, grade_id: str) -> TestCell:
        try:
            return self.manifest.cell(grade_id)
        except ManifestError as e:
            raise CheckFailed(str(e)) from None

    def check(self, ns: object, grade_id: str) -> None:
        """Run the cell's visible checks: one line each; the first failure stops the cell with its message."""
        cell = self._cell(grade_id)
        machine = machine_from_namespace(ns)
        problem = own_code_problem(cell, code_of(machine))
        if problem:
            raise CheckFailed(f"{grade_id}: {problem}")
        gone = next((s for s in State if s in cell.defined and s not in machine.handlers), None)
        if gone is not None and machine.handlers:  # as graded: defined above, it is yours, never the reference's
            name = gone.value.lower()
            near = misnamed(list(ns.items()) if isinstance(ns, Mapping) else [], gone)
            why = (
                f"you defined `{near}`: rename it to `{name}`"
                if near
                else "the notebook defines it above: run that cell"
            )
            raise CheckFailed(
                f"{grade_id}: this check needs your {name}(tcb, ev, profile), which is not defined; {why}"
            )
        outcomes = run_visible(cell, machine)
        for o in outcomes:
            print(o.line())
        failed = next((o for o in outcomes if o.failures), None)
        if failed is not None:
            show_failure(ns, failed.failures[0])  # the picture above the words (see checks.picture)
            raise CheckFailed(failed.message())

    def hidden_points(self, ns: object, grade_id: str) -> float:
        """Run the cell's hidden checks, print what each found, and return the cell's points."""
        cell = self._cell(grade_id)
        machine = machine_from_namespace(ns)
        problem = own_code_problem(cell, code_of(machine))
        if problem:
            print(f"{grade_id}: {problem}")
            return 0.0
        outcomes = run_hidden(cell, machine)
        for o in outcomes:
            print(o.marked())
        return cell_points(cell, outcomes)

    def grade(self, ns: object, grade_id: str) -> CellVerdict:
        """The whole cell, graded as the trusted grader grades it."""
        return grade_cell(self._cell(grade_id), ns)

    def predict(self, key: str, question: str, choices: Sequence[object], answer_from: object = None):
        """A prediction (autograder.notebook_helpers.predict) whose explanation is the manifest's
        EXPLANATIONS[key] and whose answer, unless the cell computes it from what it defined, is
        ANSWERS[key]: both kept out of the cell, whose source is one click away from the learner."""
        from ..notebook_helpers import predict

        try:
            why = self.manifest.explanation(key)
        except ManifestError as e:
            raise CheckFailed(str(e)) from None
        answer = answer_from if answer_from is not None else self.manifest.answer(key)
        if answer is None:
            raise CheckFailed(f"the grading manifest of {self.assignment} has no answer to the prediction {key!r}")
        return predict(question, choices, answer, why=why)

    def before_submit(self, ns: object) -> None:
        """The hidden checks the manifest selects for the notebook's last cell, on your handlers now."""
        if not self.manifest.before_submit:  # a lab's learner build: the hidden tests stay with the grader
            if source_kind() == "none":  # the grading sandbox: nothing to check here, the grader grades
                print("The hidden tests are not part of this environment: your instructor's grader runs them.")
                return
            self._visible_again(ns)
            return
        suite = run_specs(f"hidden tests of {self.assignment}", self.manifest.before_submit, ns)
        print(f"{suite.passed} of {suite.total} hidden cases behave as the reference does.")
        if suite.failures:
            print("First difference:", suite.failures[0].message)

    def _visible_again(self, ns: object) -> None:
        """Every test cell's visible checks in one go, on the handlers as they are now (a cell that
        passed before an edit further down may not any more)."""
        print("The hidden tests are not part of this lab: your instructor's grader runs them. Every visible "
              "check of this notebook, on your handlers now:")  # fmt: skip
        machine = machine_from_namespace(ns)
        failing = []
        for cell in self.manifest.cells:
            outcomes = run_visible(cell, machine)
            failed = next((o for o in outcomes if o.failures), None)
            print(f"  {'✗' if failed else '✓'} {cell.grade_id}")
            if failed is not None:
                failing.append((cell.grade_id, failed))
        if failing:
            grade_id, failed = failing[0]
            print(f"{len(failing)} of {len(self.manifest.cells)} cells fail a visible check. First, {grade_id}:")
            print(failed.message())
        else:
            print(f"All {len(self.manifest.cells)} cells pass their visible checks.")
