"""Feedback HTML for learners: nbgrader's GenerateFeedback plus `RedactFeedback`.

The learner sees their score per cell, the grader's verdict under each test cell (its checks,
the first failure, the divergence drawn) and the grader's notes (tampering, time limits, what
was flagged) — never hidden-test source, never a traceback. One page that cannot be made never
stops the others: it is replaced by a page that says why.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import GetGrades

from .course import Course, converting
from .preprocessors import RedactFeedback, remove_hidden
from .progress import Progress
from .records import load_state


def hidden_lines(course: Course, assignment: str) -> list[str]:
    """Every line of the hidden-test regions of the assignment's test cells (from the gradebook)."""
    lines: list[str] = []
    with course.gradebook() as gb:
        for nb in gb.find_assignment(assignment).notebooks:
            for cell in nb.source_cells:
                kept, removed = remove_hidden(cell.source)
                if removed:
                    lines += [line for line in cell.source.splitlines() if line not in kept.splitlines()]
    return lines


def notes_for(state: dict) -> tuple[dict[str, list[str]], list[str]]:
    """The grader's notes by cell (grade_id or "cell N"), and the page's summary."""
    by_cell: dict[str, list[str]] = {}
    for c in state.get("cells", []):
        if c.get("tampered"):
            by_cell.setdefault(c["cell"], []).append(f"tampered ({c['tampered']}): {c['reason']}" if c["reason"]
                                                     else f"tampered ({c['tampered']})")  # fmt: skip
    summary = []
    for f in state.get("flags", []):
        by_cell.setdefault(f.get("cell", ""), []).append(f.get("text", ""))
        summary.append(f"{f.get('cell', '')}: {f.get('text', '')}")
    return by_cell, summary[:30]


def generate_feedback(course: Course, assignment: str, students: list[str] | None = None,
                      progress: Progress | None = None) -> list[Path]:  # fmt: skip
    """Write course/feedback/<student>/<assignment>/*.html for every autograded submission."""
    secret = hidden_lines(course, assignment)
    written = []
    students = students if students is not None else course.students(assignment)
    if progress is not None:
        progress.total = len(students)
    for student in students:
        if progress is not None:
            progress.start(student)
        state = load_state(course, assignment, student)
        if state is None:
            if progress is not None:
                progress.step(student, "not autograded yet: no page", counted=False)
            continue
        dest = course.path("feedback", student, assignment)
        before = len(written)
        if not any(course.path("autograded", student, assignment).glob("*.ipynb")):
            written.append(_note_only(dest, assignment, state))
        else:
            try:
                written += _pages(course, assignment, student, state, secret)
            except Exception as e:  # noqa: BLE001 - one bad notebook never stops the batch
                written.append(_note_only(dest, assignment, state,
                                          f"the feedback page could not be made ({type(e).__name__})"))  # fmt: skip
        if progress is not None:
            progress.step(student, ", ".join(p.name for p in written[before:]) or "no page")
    return written


def _pages(course: Course, assignment: str, student: str, state: dict, secret: list[str]) -> list[Path]:
    notes, summary = notes_for(state)
    cfg = course.config()
    cfg.CourseDirectory.assignment_id, cfg.CourseDirectory.student_id = assignment, student
    cfg.GenerateFeedback.preprocessors = [GetGrades, RedactFeedback, CSSHTMLHeaderPreprocessor]
    cfg.RedactFeedback.notes, cfg.RedactFeedback.hidden_lines = notes, secret
    cfg.RedactFeedback.summary = summary
    converter = GenerateFeedback(coursedir=CourseDirectory(config=cfg), config=cfg)
    converter.force = True
    with converting():
        converter.start()
    return sorted(course.path("feedback", student, assignment).glob("*.html"))


def _note_only(dest: Path, assignment: str, state: dict, extra: str = "") -> Path:
    """A submission without an autograded notebook (or whose page failed) still gets a page saying why."""
    dest.mkdir(parents=True, exist_ok=True)
    page = dest / f"{assignment}.html"
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in ([extra] if extra else []) + state["notes"])
    page.write_text(
        f"<html><body><h1>{html.escape(assignment)}</h1><p>Score: {state['score']:g} / {state['max_score']:g}</p>"
        f"<ul>{notes}</ul><script type='application/json'>{json.dumps(state['status'])}</script></body></html>"
    )
    return page
