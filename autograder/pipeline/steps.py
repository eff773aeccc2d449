"""The first two instructor steps: generate the release version, collect submissions.

Both are nbgrader's own behaviour (GenerateAssignment converter; the submitted/<student>/
<assignment>/ layout); collect adds one rule: an existing submission is never overwritten
silently — a changed one is reported and kept unless the instructor asks to replace it.
"""

from __future__ import annotations

import filecmp
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.converters import GenerateAssignment

from .course import Course, PipelineError, converting
from .inbox import Refused, id_problem, place, take, why_not
from .progress import Progress

log = logging.getLogger("tcpclose.pipeline")


def generate(course: Course, assignment: str) -> Path:
    """course/source/<assignment> -> course/release/<assignment>, and the gradebook's copy of it."""
    if not (course.root / "source" / assignment).is_dir():
        raise PipelineError(f"no assignment {assignment!r} in {course.root / 'source'}")
    converter = GenerateAssignment(coursedir=course.coursedir(assignment_id=assignment), config=course.config())
    converter.force = True
    try:
        with converting():
            converter.start()
    except Exception as e:  # nbgrader raises NbGraderException with the log holding the detail
        raise PipelineError(f"generate {assignment}: {e}") from None
    course.make_private()
    return course.path("release", ".", assignment)


@dataclass
class Collected:
    new: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # changed but kept: pass replace=True
    refused: dict[str, str] = field(default_factory=dict)  # folder name -> why it was not collected


def collect(course: Course, inbox: Path, assignment: str, replace: bool = False,
            progress: Progress | None = None) -> Collected:  # fmt: skip
    """Copy inbox/<student>/<assignment>/ into course/submitted/<student>/<assignment>/: regular files
    and folders only, under a folder name that is a student id (autograder.pipeline.inbox). A folder
    that breaks a rule is refused, with a sentence, and the others are collected."""
    result = Collected()
    if not Path(inbox).is_dir():
        raise PipelineError(f"{inbox}: no such folder (collect reads {inbox}/<student>/{assignment}/)")
    folders = [p for p in sorted(Path(inbox).iterdir()) if os.path.lexists(p / assignment)]
    if progress is not None:
        progress.total = len(folders)
    for student_dir in folders:
        name = student_dir.name
        shown = repr(name) if id_problem(name) else name  # a newline in a name forges no line
        if progress is not None:
            progress.start(shown)
        try:
            status = _collect_one(course, Path(inbox), name, assignment, replace, result)
        except (Refused, OSError) as e:
            result.refused[name], status = why_not(e), "refused"
        _step(progress, shown, status)
    course.make_private()
    return result


def _collect_one(course: Course, inbox: Path, name: str, assignment: str, replace: bool, result: Collected) -> str:
    problem = id_problem(name)
    if problem:
        raise Refused(f"the folder name {name!r} is not a student id: {problem}")
    dest = course.path("submitted", name, assignment)
    taken = take(inbox, (name, assignment), course.root / "submitted")  # the copy first: what is compared is ours
    if dest.exists():
        if _same_tree(taken, dest):
            shutil.rmtree(taken)
            result.unchanged.append(name)
            return "unchanged"
        if not replace:
            shutil.rmtree(taken)
            result.conflicts.append(name)
            return "kept the earlier submission (it differs; --replace)"
        place(taken, dest)
        result.replaced.append(name)
        return "replaced"
    place(taken, dest)
    result.new.append(name)
    return "new"


def _step(progress: Progress | None, student: str, status: str) -> None:
    if progress is not None:
        progress.step(student, status)


def _same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(_same_tree(a / d, b / d) for d in cmp.common_dirs)
