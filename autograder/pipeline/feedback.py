"""Feedback HTML for learners: nbgrader's GenerateFeedback plus `RedactFeedback`.

The learner sees their score per cell, the one-line message of each failed check and the
grader's notes (tampering, time limits) — never hidden-test source, never a traceback.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.api import Gradebook
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import GetGrades

from .autograde import load_state
from .course import Course, converting
from .preprocessors import RedactFeedback


def hidden_lines(course: Course, assignment: str) -> list[str]:
    """Every line between the hidden-test markers of the assignment's test cells (from the gradebook)."""
    lines: list[str] = []
    with Gradebook(course.db_url, course.coursedir().course_id) as gb:
        for nb in gb.find_assignment(assignment).notebooks:
            for cell in nb.source_cells:
                inside = False
                for line in cell.source.splitlines():
                    if "BEGIN HIDDEN TESTS" in line:
                        inside = True
                    elif "END HIDDEN TESTS" in line:
                        inside = False
                    elif inside:
                        lines.append(line)
    return lines


def generate_feedback(course: Course, assignment: str, students: list[str] | None = None) -> list[Path]:
    """Write course/feedback/<student>/<assignment>/*.html for every autograded submission."""
    secret = hidden_lines(course, assignment)
    written = []
    for student in students if students is not None else course.students(assignment):
        state = load_state(course, assignment, student)
        if state is None:
            continue
        notes = {c["cell"]: c["reason"] for c in state["cells"] if c["tampered"]}
        dest = course.path("feedback", student, assignment)
        if not any(course.path("autograded", student, assignment).glob("*.ipynb")):
            written.append(_note_only(dest, assignment, state))
            continue
        cfg = course.config()
        cfg.CourseDirectory.assignment_id, cfg.CourseDirectory.student_id = assignment, student
        cfg.GenerateFeedback.preprocessors = [GetGrades, RedactFeedback, CSSHTMLHeaderPreprocessor]
        cfg.RedactFeedback.notes, cfg.RedactFeedback.hidden_lines = notes, secret
        converter = GenerateFeedback(coursedir=CourseDirectory(config=cfg), config=cfg)
        converter.force = True
        with converting():
            converter.start()
        written += sorted(dest.glob("*.html"))
    return written


def _note_only(dest: Path, assignment: str, state: dict) -> Path:
    """A submission that could not run at all still gets a page saying why."""
    dest.mkdir(parents=True, exist_ok=True)
    page = dest / f"{assignment}.html"
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in state["notes"])
    page.write_text(
        f"<html><body><h1>{html.escape(assignment)}</h1><p>Score: {state['score']:g} / {state['max_score']:g}</p>"
        f"<ul>{notes}</ul><script type='application/json'>{json.dumps(state['status'])}</script></body></html>"
    )
    return page
