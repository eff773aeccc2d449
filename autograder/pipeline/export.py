"""Grades for the LMS and a class report per transition, both read from nbgrader's gradebook.

grades.csv: one row per student, a column per assignment, the total, and the assignments whose
written answers still wait for a person (their points are not in the total yet).
class_report.csv: one row per (assignment, graded cell); test cells are named after the transition
they check (`test_fin_wait_1_ack_of_fin`), so the row says which transition the class got wrong.
A written answer not yet graded by hand counts as awaiting, not as failed; `flagged` counts the
submissions grading flagged at that cell (a flag never changes a score). Reasons, tampering and flags come from the pipeline's per-submission records, read as report.py reads them.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from .course import Course
from .lms_roster import read_scores
from .records import load_state
from .report import record_cells, record_flags


def awaiting_hand_grading(course: Course, assignment: str) -> list[str]:
    """Students whose submission has written answers nobody has graded yet (nbgrader's formgrader does)."""
    with course.gradebook() as gb:
        return sorted(s.student.id for s in gb.find_assignment(assignment).submissions if s.needs_manual_grade)


def export_grades(course: Course, out: Path, assignments: Iterable[str] = (), students: Iterable[str] = ()) -> Path:
    """grades.csv: every (or the named) student and assignment; a missing submission counts 0."""
    scores = read_scores(course, assignments, students, submitted_only=False)
    rows = []
    for student in sorted(scores.in_scope):
        row = {"student": student}
        for a in scores.max_points:
            got = scores.scores.get((student, a))
            row[a] = got.points if got else 0.0
        row["total"] = round(sum(row[a] for a in scores.max_points), 2)
        row["awaiting_hand_grading"] = " ".join(
            a for a in scores.max_points if (got := scores.scores.get((student, a))) and got.awaiting
        )
        rows.append(row)
    return _write(out, ["student", *scores.max_points, "total", "awaiting_hand_grading"], rows)


CLASS_REPORT_FIELDS = ["assignment", "notebook", "cell", "transition", "points", "submissions",
                       "awaiting_hand_grading", "passed", "pass_rate", "mean_score", "tampered", "flagged",
                       "top_failure"]  # fmt: skip


def class_report(course: Course, out: Path) -> Path:
    with course.gradebook() as gb:
        rows = []
        for a in sorted(gb.assignments, key=lambda a: a.name):
            records = {s.student.id: load_state(course, a.name, s.student.id) for s in a.submissions}
            states = {sid: record_cells(r) for sid, r in records.items()}
            flagged_cells = Counter(c for r in records.values() for c in {f["cell"] for f in record_flags(r)})
            for nb in a.notebooks:
                for gc in nb.grade_cells:
                    rows.append(_cell_row(gb, a, nb, gc, states) | {"flagged": flagged_cells[gc.name]})
    return _write(out, CLASS_REPORT_FIELDS, rows)


def _cell_row(gb, a, nb, gc, states: dict[str, dict]) -> dict:
    """One graded cell across the class: how many passed, the mean score, tampering, the commonest failure."""
    scores, reasons, tampered, awaiting = [], Counter(), 0, 0
    for s in a.submissions:
        grade = gb.find_grade(gc.name, nb.name, a.name, s.student.id)
        if grade.needs_manual_grade:
            awaiting += 1
            continue
        scores.append(grade.score or 0.0)
        cell = states[s.student.id].get((nb.name, gc.name), {})
        if isinstance(cell.get("reason"), str) and cell["reason"] and (grade.score or 0) < gc.max_score:
            reasons[cell["reason"]] += 1
        tampered += bool(cell.get("tampered"))
    n, passed = len(scores), sum(sc >= gc.max_score for sc in scores)
    return {"assignment": a.name, "notebook": nb.name, "cell": gc.name, "transition": gc.name.removeprefix("test_"),
            "points": gc.max_score, "submissions": len(a.submissions), "awaiting_hand_grading": awaiting,
            "passed": passed, "pass_rate": round(passed / n, 3) if n else "",
            "mean_score": round(sum(scores) / n, 3) if n else "", "tampered": tampered,
            "top_failure": reasons.most_common(1)[0][0] if reasons else ""}  # fmt: skip


def _write(out: Path, fields: list[str], rows: list[dict]) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows({k: as_text_cell(v) for k, v in row.items()} for row in rows)
    return out


def as_text_cell(value: object) -> object:
    """A text a spreadsheet would run as a formula (= + - @ first; OWASP's CSV injection) kept as text by
    a leading apostrophe: a student id or a failure's text is the submission's choice, not the instructor's."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
