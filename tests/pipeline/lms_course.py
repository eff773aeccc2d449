"""A small graded course for the LMS export and class report tests: real nbgrader, no autograde run.

Two assignments of its own (so the hostile corpus can change without touching these tests):
00_fixture, three test cells worth 2, 1 and 1 points, and 01_written, one test cell and a written
answer graded by hand. nbgrader generates both; scores are written through nbgrader's own
Gradebook API, as the pipeline's merge step writes them, so each test knows every score exactly
and a written answer can be left waiting for hand grading.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT, WRITTEN = "00_fixture", "01_written"
FIXTURE_CELLS = {"test_fin_wait_1_ack_of_fin": 2, "test_fin_wait_2_fin": 1, "test_simultaneous_close": 1}

# student -> email in the gradebook, and what each submitted: {assignment: {cell: points or None}}
# (None: a written answer nobody has graded yet).
STUDENTS = {
    "alice": "alice@example.edu",  # Canvas: SIS Login ID alice; Moodle: her email
    "bob": "Bob.Smith@Example.edu",  # roster login is his email, in another case
    "s1003": "",  # found by SIS User ID
    "erin": "",  # in the gradebook, submitted nothing
    "mallory": "",  # graded, but not on the roster
}
SUBMISSIONS = {
    "alice": {ASSIGNMENT: {"test_fin_wait_1_ack_of_fin": 2, "test_fin_wait_2_fin": 1, "test_simultaneous_close": 1},
              WRITTEN: {"test_written_code": 1, "written_why_time_wait": 1.5}},
    "bob": {ASSIGNMENT: {"test_fin_wait_1_ack_of_fin": 2, "test_fin_wait_2_fin": 0, "test_simultaneous_close": 0},
            WRITTEN: {"test_written_code": 1, "written_why_time_wait": None}},
    "s1003": {ASSIGNMENT: {"test_fin_wait_1_ack_of_fin": 2, "test_fin_wait_2_fin": 0.5, "test_simultaneous_close": 0.25}},
    "mallory": {ASSIGNMENT: {"test_fin_wait_1_ack_of_fin": 0, "test_fin_wait_2_fin": 1, "test_simultaneous_close": 0}},
}  # fmt: skip


def _meta(grade_id: str, *, grade: bool, solution: bool, points: float | None = None, locked: bool = False) -> dict:
    m = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
         "task": False}  # fmt: skip
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def _fixture_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("def next_state(state, event):\n    ### BEGIN SOLUTION\n    return state\n"
                                  "    ### END SOLUTION", metadata=_meta("answer_next_state", grade=False, solution=True)),
        *(nbformat.v4.new_code_cell(f"assert next_state('X', {cell!r})",
                                    metadata=_meta(cell, grade=True, solution=False, points=points, locked=True))
          for cell, points in FIXTURE_CELLS.items()),
    ]  # fmt: skip
    return nb


def _written_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 written\nOne code answer and one written answer.",
                                      metadata=_meta("intro", grade=False, solution=False, locked=True)),
        nbformat.v4.new_code_cell("def last_state():\n    ### BEGIN SOLUTION\n    return 'CLOSED'\n    ### END SOLUTION",
                                  metadata=_meta("answer_last_state", grade=False, solution=True)),
        nbformat.v4.new_code_cell("assert last_state() == 'CLOSED'",
                                  metadata=_meta("test_written_code", grade=True, solution=False, points=1, locked=True)),
        nbformat.v4.new_markdown_cell("Why does TIME_WAIT last 2 MSL? YOUR ANSWER HERE",
                                      metadata=_meta("written_why_time_wait", grade=True, solution=True, points=2)),
    ]  # fmt: skip
    return nb


def make_graded_course(tmp: Path, submissions: dict = SUBMISSIONS, students: dict = STUDENTS,
                       template: Path | None = None):  # fmt: skip
    """A course whose gradebook holds exactly `submissions`; returns the Course. `template`: the
    root of a course made here without submissions, copied instead of generating again (seconds)."""
    from autograder.pipeline import Course, generate

    if template is not None:
        root = tmp / "course"
        shutil.copytree(template, root)
        course = Course.at(root)
    else:
        root = tmp / "course"
        for name, nb in ((ASSIGNMENT, _fixture_notebook()), (WRITTEN, _written_notebook())):
            (root / "source" / name).mkdir(parents=True)
            nbformat.write(nb, root / "source" / name / f"{name}.ipynb")
        shutil.copy(REPO / "course" / "nbgrader_config.py", root)  # the course's own settings
        course = Course.at(root)
        generate(course, ASSIGNMENT)
        generate(course, WRITTEN)
    with Gradebook(course.db_url, course.coursedir().course_id) as gb, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's own, harmless
        for sid, email in students.items():
            gb.update_or_create_student(sid, email=email or None)
        for sid, work in submissions.items():
            for assignment, cells in work.items():
                gb.add_submission(assignment, sid)
                for cell, points in cells.items():
                    grade = gb.find_grade(cell, assignment, assignment, sid)
                    if grade.cell.cell_type == "markdown":  # written: graded by a person, or not yet
                        grade.manual_score, grade.needs_manual_grade = points, points is None
                    else:
                        grade.auto_score, grade.needs_manual_grade = points, False
        gb.db.commit()
    return course


# ---- a cohort for the class report ------------------------------------------------------------------

REPORT_STUDENTS = {s: "" for s in ("alice", "bob", "carol", "dave", "mallory", "trent")}
REPORT_SUBMISSIONS = {
    "alice": {ASSIGNMENT: {"test_fin_wait_1_ack_of_fin": 2, "test_fin_wait_2_fin": 1, "test_simultaneous_close": 1},
              WRITTEN: {"test_written_code": 1, "written_why_time_wait": 1.5}},
    "bob": {ASSIGNMENT: {"test_fin_wait_1_ack_of_fin": 2, "test_fin_wait_2_fin": 0, "test_simultaneous_close": 0},
            WRITTEN: {"test_written_code": 1, "written_why_time_wait": None}},
    "carol": {ASSIGNMENT: {"test_fin_wait_1_ack_of_fin": 2, "test_fin_wait_2_fin": 0.5, "test_simultaneous_close": 0.25}},
    "dave": {ASSIGNMENT: {"test_fin_wait_1_ack_of_fin": 2, "test_fin_wait_2_fin": 0, "test_simultaneous_close": 1}},
    "mallory": {ASSIGNMENT: {"test_fin_wait_1_ack_of_fin": 0, "test_fin_wait_2_fin": 1, "test_simultaneous_close": 0}},
    "trent": {ASSIGNMENT: {"test_fin_wait_1_ack_of_fin": 0, "test_fin_wait_2_fin": 0, "test_simultaneous_close": 0}},
}  # fmt: skip
STUB = "NotImplementedError: fin_wait_1 is still a stub: write it before the cells that check it"


def real_failures() -> dict[str, object]:
    """Failure messages and a picture from the real checks, run on three small handwritten bugs:
    FIN_WAIT_2 closes at once (a scenario), CLOSING closes at once (a loss family, partial
    credit), FIN_WAIT_1 takes any ACK for the ACK of its FIN (one transition)."""
    from autograder.checks import check_family, check_scenario, check_transition
    from reference_impl.segment import ACK, Segment
    from reference_impl.states import Arrival, State, Step

    def fin_wait_2(tcb, ev, profile):
        return Step(State.CLOSED, [], tcb)

    def closing(tcb, ev, profile):
        return Step(State.CLOSED, [], tcb)

    def fin_wait_1(tcb, ev, profile):
        return Step(State.FIN_WAIT_2, [], tcb)

    def unwritten(tcb, ev, profile):
        raise NotImplementedError()

    scenario = check_scenario({"fin_wait_2": fin_wait_2}, "active-close", partial=True)
    family = check_family({"closing": closing}, ["simultaneous-close"], k=1, partial=True)
    try:
        check_transition({"fin_wait_1": fin_wait_1}, State.FIN_WAIT_1, Arrival(Segment(seq=300, ack=100, flags=ACK)))
        transition = ""
    except AssertionError as e:
        transition = str(e)
    stub = check_scenario({"fin_wait_1": unwritten}, "active-close", partial=True)
    return {"scenario": scenario.message(), "family": family.message(), "transition": transition,
            "stub": stub.message(), "svg": scenario.cases[0].svg()}  # fmt: skip


def _cell(notebook, cell, points, max_points, detail="", *, reason="", tampered="", **extra):
    if detail and not reason:  # as the worker writes it: the error's name and its first line(s)
        lines = detail.splitlines()
        reason = "AssertionError: " + (" ".join(s.strip() for s in lines[:2]) if lines[0].endswith(":") else lines[0])
    return {"notebook": notebook, "cell": cell, "max_score": max_points, "score": points, "reason": reason,
            "tampered": tampered, "detail": detail, **extra}  # fmt: skip


def write_report_records(course, failures: dict[str, object]) -> None:
    """Per-submission records as the pipeline keeps them (alice has none: graded elsewhere)."""
    import json

    from autograder.pipeline.records import state_path

    a, fw1, fw2, sim = ASSIGNMENT, "test_fin_wait_1_ack_of_fin", "test_fin_wait_2_fin", "test_simultaneous_close"
    scenario, family, transition = failures["scenario"], failures["family"], failures["transition"]
    records = {
        "bob": [_cell(a, fw1, 2, 2), _cell(a, fw2, 0, 1, scenario, svg=failures["svg"],
                                            transitions=[{"state": "FIN_WAIT_2", "event": "recv FIN,ACK",
                                                          "behaved": 0, "went_wrong": 1}]),
                _cell(a, sim, 0, 1, family)],
        "carol": [_cell(a, fw1, 2, 2), _cell(a, fw2, 0.5, 1, scenario), _cell(a, sim, 0.25, 1, family)],
        "dave": [_cell(a, fw1, 2, 2), _cell(a, fw2, 0, 1, scenario,
                                            svg="<svg><script>alert(1)</script></svg>",  # never shown
                                            transitions={"FIN_WAIT_2 recv FIN,ACK": [1, 1]}),  # as grading writes it
                 _cell(a, sim, 1, 1)],
        # mallory's record says where, as data: no time or endpoint, only the state and the event
        "mallory": [_cell(a, fw1, 0, 2, transition, divergence={
                        "headline": "FIN_WAIT_1 on recv ACK: your handler moved on", "state": "FIN_WAIT_1",
                        "event": "arrival of <SEQ=300><ACK=101><CTL=ACK>", "replay": "tcpclose simulate active-close"}),
                    _cell(a, fw2, 1, 1),
                    _cell(a, sim, 0, 1, reason="tampered: the source of this test cell was edited", tampered="edited")],
        # trent wrote nothing: a stub stops each check (the first where the run needs it)
        "trent": [_cell(a, fw1, 0, 2, failures["stub"]),
                  *(_cell(a, c, 0, m, reason=STUB, detail=STUB) for c, m in ((fw2, 1), (sim, 1)))],
    }  # fmt: skip
    flags = {
        "bob": [{"kind": "displayed", "cell": fw2, "text": "the submission displayed ✓ at this test cell"},
                {"kind": "seen", "cell": "cell 3", "text": "the reference's behaviour asked for"},
                {"kind": "broken"}],  # not a flag grading writes: skipped
        "mallory": [{"kind": "tampered", "cell": sim, "text": "the source of this test cell was edited"}],
    }  # fmt: skip
    for student, cells in records.items():
        path = state_path(course, a, student)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"status": "graded", "cells": cells, "flags": flags.get(student, [])}))
    # bob's 01_written record predates the record format: no cells at all
    path = state_path(course, WRITTEN, "bob")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"status": "graded", "cells": "not a list"}))
