"""The course notebooks, tested from the instructor's and the learner's seat.

Parametrised over every notebook in course/source. The slow tests share one autograded batch
(conftest.course_graded): the solution scores full marks, the blank release zero, and each bug
in tests/course/bugs loses points (partial credit) in exactly the test cells it names (and exactly
the share it states where it states one), and each answer the standards allow keeps full marks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from reference_impl.states import State
from tests.course.conftest import (
    NOTEBOOKS,
    REPO,
    SOURCE,
    allowed_student,
    bug_student,
    grade_cells,
    is_test,
    source_notebook,
)

BIN = Path(sys.executable).parent
NBGRADER = str(BIN / "nbgrader")
# nbgrader runs `alembic` from PATH when it creates a gradebook: the venv's bin/ must be on it.
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def bug_params():
    from tests.course.bugs import load

    return [pytest.param(a, name, id=f"{a}:{name}") for a in NOTEBOOKS for name in load(a)]


def allowed_params():
    from tests.course.bugs import load_allowed

    return [pytest.param(a, name, id=f"{a}:{name}") for a in NOTEBOOKS for name in load_allowed(a)]


# ---- the source notebooks as stored ------------------------------------------------------


@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_source_is_stored_without_outputs_or_widget_state(assignment):
    nb = source_notebook(assignment)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
    nbformat.validate(nb)  # e.g. cell ids in a 4.4 notebook: tools warn on every open
    assert "widgets" not in nb.metadata
    for i, cell in enumerate(nb.cells, 1):
        assert "widgets" not in cell.metadata, f"cell {i} holds widget state"
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"cell {i} has stored outputs"


@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_first_cell_states_the_total_and_it_adds_up(assignment):
    nb = source_notebook(assignment)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    stated = re.search(r"worth \**(\d+) points", first.source)
    assert stated, "the first cell must say 'This assignment is worth N points'"
    graded = grade_cells(nb)
    total = sum(m["points"] for m in graded.values())
    assert int(stated.group(1)) == total, {gid: m["points"] for gid, m in graded.items()}


@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_cells_follow_the_course_conventions(assignment):
    nb = source_notebook(assignment)
    ids = [c.metadata.nbgrader["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    tests = answers = 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if not meta:
            assert "### BEGIN" not in cell.source, "solution or hidden-test markers outside an nbgrader cell"
            continue
        gid = meta["grade_id"]
        if is_test(meta):
            tests += 1
            assert gid.startswith("test_") and meta["locked"] and 1 <= meta["points"] <= 3, gid
            for widget_call in ("timeline(", "predict(", "show_mine(", "ipywidgets"):
                assert widget_call not in cell.source, f"{gid} builds a widget: test cells must stay headless"
        elif meta.get("solution") and cell.cell_type == "code":
            answers += 1
            name = gid.removeprefix("answer_")
            # a state's handler has the machine's signature; notebook 07's answers are socket functions
            signature = f"def {name}(tcb, ev, profile):" if name.upper() in State.__members__ else f"def {name}("
            assert gid.startswith("answer_") and signature in cell.source, gid
            assert "### BEGIN SOLUTION" in cell.source, gid
        elif meta.get("solution"):
            assert gid.startswith("written_") and meta["grade"] and "### BEGIN SOLUTION" in cell.source, gid
    assert tests and answers


# ---- nbgrader itself ---------------------------------------------------------------------------


def _scratch_course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(SOURCE, root / "source")
    shutil.copy(REPO / "course" / "nbgrader_config.py", root)
    return root


@pytest.mark.nbgrader
def test_nbgrader_validate_passes_on_every_source_notebook(tmp_path):
    root = _scratch_course(tmp_path)
    paths = [str(root / "source" / a / f"{a}.ipynb") for a in NOTEBOOKS]
    proc = subprocess.run([NBGRADER, "validate", *paths], cwd=root, env=ENV, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert out.count("Success! Your notebook passes all the tests.") == len(NOTEBOOKS), out


@pytest.mark.nbgrader
def test_nbgrader_generate_assignment_from_a_clean_state(tmp_path):
    root = _scratch_course(tmp_path)
    for a in NOTEBOOKS:
        proc = subprocess.run([NBGRADER, "generate_assignment", a], cwd=root, env=ENV, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert (root / "source" / a / "manifest.py").is_file()
        assert not (root / "release" / a / "manifest.py").exists(), "the grading manifest must never be released"
        release = nbformat.read(root / "release" / a / f"{a}.ipynb", as_version=4)
        text = "\n".join(c.source for c in release.cells)
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
        assert text.count("raise NotImplementedError()") >= 1


# ---- autograded: solution, blank, bugs ------------------------------------------------------------


@pytest.mark.nbgrader
@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_solution_gets_full_marks(course_graded, assignment):
    g = course_graded[assignment]
    cells = grade_cells(g.release)
    for gid, meta in cells.items():
        r = g.results["solution"][gid]
        if is_test(meta):
            assert r["score"] == meta["points"], f"{gid}: {r['score']}/{meta['points']} {r['reason']}"
        else:
            assert r["score"] is None, f"{gid} is graded by hand, autograde must leave it"
    assert g.outcomes["solution"].status == "graded" and not g.outcomes["solution"].notes


@pytest.mark.nbgrader
@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_blank_release_scores_zero_and_fails_only_by_not_implemented(course_graded, assignment):
    g = course_graded[assignment]
    tests = {gid for gid, meta in grade_cells(g.release).items() if is_test(meta)}
    for gid in tests:
        assert g.results["blank"][gid]["score"] == 0, f"{gid} gives points to a blank notebook"
    assert g.outcomes["blank"].status == "graded" and not g.outcomes["blank"].notes, g.outcomes["blank"].notes
    nb = nbformat.read(g.autograded["blank"], as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if gid in tests:
            assert errors and errors[0].ename == "AssertionError", f"{gid}: {errors}"
            assert "NotImplementedError" in errors[0].evalue, f"{gid} fails for another reason: {errors[0].evalue}"
        elif errors:
            pytest.fail(f"a non-test cell crashed in the blank release: {cell.source[:80]!r}: {errors[0].evalue}")


@pytest.mark.nbgrader
@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_the_solution_and_the_blank_release_raise_no_flag(course_graded, assignment):
    """The release's own cells (notebook 05's loopback lab opens sockets) are the course's doing: an
    honest class must not all be flagged for a look."""
    g = course_graded[assignment]
    assert g.flags["solution"] == [] and g.flags["blank"] == [], (g.flags["solution"], g.flags["blank"])


@pytest.mark.nbgrader
@pytest.mark.parametrize(("assignment", "bug"), bug_params())
def test_each_bug_loses_exactly_its_cells(course_graded, assignment, bug):
    """Partial credit: a bug scores below the maximum in exactly its `fails` cells, full marks elsewhere."""
    g = course_graded[assignment]
    spec = g.bugs[bug]
    tests = {gid: m for gid, m in grade_cells(g.release).items() if is_test(m)}
    assert spec.fails <= tests.keys(), f"{bug}: unknown test cells in fails: {sorted(spec.fails - tests.keys())}"
    results = g.results[bug_student(bug)]
    scores = {gid: results[gid]["score"] for gid in tests}
    problems = []
    for gid, meta in sorted(tests.items()):
        score, points = scores[gid], meta["points"]
        if gid in spec.fails and not (score is not None and score < points):
            problems.append(f"{gid}: expected to lose points, got {score}/{points:g} (a hole in its hidden tests?)")
        elif gid not in spec.fails and score != points:
            problems.append(f"{gid}: expected full marks {points:g}, got {score}/{points:g}: {results[gid]['reason']}")
        elif gid in spec.shares and abs(score - points * (1 - spec.shares[gid])) > 0.01 + 1e-9:
            problems.append(f"{gid}: expected to lose {spec.shares[gid]:.0%} of {points:g}, got {score}/{points:g}")
    assert not problems, f"bug {bug!r} in {assignment}:\n  " + "\n  ".join(problems)
    outcome = g.outcomes[bug_student(bug)]
    assert outcome.score == pytest.approx(sum(scores.values())), (
        f"bug {bug!r}: total {outcome.score} is not the sum of its cells {sum(scores.values())}")


@pytest.mark.nbgrader
@pytest.mark.parametrize(("assignment", "name"), allowed_params())
def test_each_allowed_alternative_keeps_full_marks(course_graded, assignment, name):
    """An answer the standards allow (autograder/alternatives.py) is not a mistake: full marks everywhere."""
    g = course_graded[assignment]
    results = g.results[allowed_student(name)]
    lost = {gid: f"{results[gid]['score']}/{m['points']:g}: {results[gid]['reason']}"
            for gid, m in grade_cells(g.release).items() if is_test(m) and results[gid]["score"] != m["points"]}
    assert not lost, f"{name} ({g.allowed[name].rule}) lost points: {lost}"


@pytest.mark.nbgrader
@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_written_answers_wait_for_a_person_in_the_exports(course_graded, assignment, tmp_path):
    import csv

    from autograder.pipeline.course import Course
    from autograder.pipeline.export import awaiting_hand_grading, class_report, export_grades

    g = course_graded[assignment]
    course = Course.at(g.course)
    written = {gid for gid, m in grade_cells(source_notebook(assignment)).items() if m.get("solution")}
    report = {r["cell"]: r for r in csv.DictReader(class_report(course, tmp_path / "report.csv").open())}
    answered = len(g.outcomes) - 1  # everyone but the blank release kept the written answers
    for gid in written:
        assert (report[gid]["awaiting_hand_grading"], report[gid]["passed"]) == (str(answered), "0"), gid
    for gid in set(report) - written:
        assert report[gid]["awaiting_hand_grading"] == "0", gid
    grades = {r["student"]: r for r in csv.DictReader(export_grades(course, tmp_path / "grades.csv").open())}
    assert grades["solution"]["awaiting_hand_grading"] == (assignment if written else "")
    assert grades["blank"]["awaiting_hand_grading"] == ""
    assert awaiting_hand_grading(course, assignment) == (sorted(set(g.outcomes) - {"blank"}) if written else [])


def test_every_notebook_has_at_least_three_bugs():
    from tests.course.bugs import load

    for a in NOTEBOOKS:
        assert len(load(a)) >= 3, f"tests/course/bugs/{a}.py needs at least three realistic bugs"


# ---- the learner's copies and the learner's seat -----------------------------------------------


@pytest.mark.nbgrader
def test_learner_copies_have_not_drifted():
    # `python -m` from this checkout: the package, course/ and notebooks/ checked are this checkout's,
    # even when the virtualenv was installed (editable) from another one.
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "notebooks", "--check", "--course",
                           str(REPO / "course")], cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.nbgrader
@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_solution_runs_top_to_bottom_without_an_error(solution_runs, assignment):
    # How long it takes (target: 30 s) is benchmarks/bench_notebooks.py's figure: here it runs beside other tests.
    seconds, nb = solution_runs[assignment]
    print(f"{assignment}: solution executed in {seconds:.1f} s")
    errors = [(i, o.ename, o.evalue[:200]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
