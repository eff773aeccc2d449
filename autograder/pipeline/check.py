"""`tcpclose check`: a self-paced learner's notebook, graded with the hidden tests, read-only.

The notebook is copied into a throwaway course (the assignment's source, generated fresh) and
autograded by the same pipeline an instructor uses, so the learner sees what the grader would
give: points per test cell (named after transitions) and the message of each failed check.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .autograde import autograde
from .course import KEY_NAME, Course
from .progress import Progress
from .records import load_state
from .steps import collect, generate

LEARNER = "you"
SELF_CHECK_KEY = "0" * 64  # public: a self-check is no grade, and a key of its own would change nothing in it


class BadNotebook(Exception):
    """The path is not a notebook of this course; the message says why."""


@dataclass
class NotebookCheck:
    score: float
    max_score: float
    cells: list[dict]
    notes: list[str]
    written: frozenset[str] = frozenset()  # grade ids of written answers (manually graded)

    @property
    def manual_points(self) -> float:
        """Points of written answers: the instructor grades them, whatever nbgrader's autograde said."""
        return sum(c["max_score"] for c in self.cells if c["cell"] in self.written or c["score"] is None)

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score - self.manual_points


def _grade_ids(nb, written_only: bool = False) -> set[str]:
    """Ids of the nbgrader cells; with written_only, of the answers a person grades (solution + grade)."""
    ids = set()
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if "grade_id" in meta and (not written_only or (meta.get("solution") and meta.get("grade"))):
            ids.add(meta["grade_id"])
    return ids


def _source_ids(course: Course, assignment: str, written_only: bool = False) -> set[str]:
    """_grade_ids over the assignment's source notebooks."""
    sources = course.path("source", ".", assignment).glob("*.ipynb")
    return set().union(*(_grade_ids(nbformat.read(p, as_version=4), written_only) for p in sources))


def identify(path: Path, nb, course: Course, assignment: str | None = None) -> str:
    """The assignment a notebook belongs to: as given, else its file name, else its nbgrader cells.

    Learners save copies ("01_active_close-Copy1.ipynb", "mine.ipynb"); the cells' grade ids
    still say which assignment it is, so a renamed file is graded rather than refused.
    """
    known = course.assignments()
    listing = ", ".join(known) or "none"
    if assignment is not None:
        if assignment not in known:
            raise BadNotebook(f"unknown assignment {assignment!r} (the course has: {listing})")
        return assignment
    if path.stem in known:
        return path.stem
    ids = _grade_ids(nb)
    overlap = {}
    for name in known:
        theirs = _source_ids(course, name)
        overlap[name] = len(ids & theirs) / len(ids | theirs) if ids | theirs else 0.0
    ranked = sorted(overlap, key=overlap.get, reverse=True)
    if not ranked or overlap[ranked[0]] == 0 or (len(ranked) > 1 and overlap[ranked[1]] == overlap[ranked[0]]):
        raise BadNotebook(f"{path}: cannot tell which assignment this is (the course has: {listing}); "
                          "name the file after its assignment or pass --assignment NAME")  # fmt: skip
    return ranked[0]


def check_notebook(
    path: Path,
    course: Course | None = None,
    cell_timeout: int | None = None,
    assignment: str | None = None,
    progress: Progress | None = None,
) -> NotebookCheck:
    """Grade the notebook at `path` in a throwaway course; `progress` says each step and each test cell."""
    say = progress.say if progress is not None else (lambda _line: None)
    course = course or Course.at()
    path = Path(path)
    if not path.is_file():
        raise BadNotebook(f"{path}: no such file")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        raise BadNotebook(f"{path}: not a Jupyter notebook (could not read it as one)") from None
    given, assignment = assignment, identify(path, nb, course, assignment)
    renamed = (
        []
        if given or assignment == path.stem
        else [f"graded as {assignment} (recognised from its cells; the file name is not an assignment's)"]
    )
    say(f"{path}: graded as {assignment}; making a private copy of the course (nbgrader generate)")
    with tempfile.TemporaryDirectory(prefix="tcpclose-check-") as tmp:
        scratch = Course(Path(tmp) / "course")
        shutil.copytree(course.path("source", ".", assignment), scratch.path("source", ".", assignment))
        if (course.root / "nbgrader_config.py").exists():
            shutil.copy(course.root / "nbgrader_config.py", scratch.root)
        (scratch.root / KEY_NAME).write_text(SELF_CHECK_KEY)  # a self-check, not a grade: no secret, same numbers
        generate(scratch, assignment)
        inbox = Path(tmp) / "inbox" / LEARNER / assignment
        inbox.mkdir(parents=True)
        shutil.copy(path, inbox / f"{assignment}.ipynb")  # the learner's file is only ever read
        collect(scratch, inbox.parent.parent, assignment)
        say("running your cells in the grading sandbox; each test cell is graded outside it")
        autograde(scratch, assignment, workers=0, cell_timeout=cell_timeout, progress=lambda _line: None,
                  cells=progress)  # fmt: skip
        state = load_state(scratch, assignment, LEARNER)
    written = frozenset(_source_ids(course, assignment, written_only=True))
    return NotebookCheck(state["score"], state["max_score"], state["cells"], renamed + state["notes"], written)


def render(result: NotebookCheck) -> str:
    lines = []
    for c in result.cells:
        if c["cell"] in result.written or c["score"] is None:
            # nbgrader scores an untouched answer 0 and leaves a written one to the instructor.
            why = "still blank: write your answer" if c["score"] == 0 else "a written answer: your instructor grades it"
            lines.append(f"  -  {c['cell']:<40} ?/{c['max_score']:g}  ({why})")
            continue
        mark = "ok  " if c["score"] >= c["max_score"] else "FAIL"
        lines.append(f"{mark} {c['cell']:<40} {c['score']:g}/{c['max_score']:g}")
        if mark == "FAIL" and (c.get("detail") or c["reason"]):
            lines += [f"     {line}" for line in (c.get("detail") or c["reason"]).splitlines()]
    lines += [f"note: {n}" for n in result.notes]
    auto = result.max_score - result.manual_points
    manual = f" (+ {result.manual_points:g} points of written answers)" if result.manual_points else ""
    lines.append(f"total: {result.score:g}/{auto:g} autograded{manual}")
    return "\n".join(lines) + "\n"
