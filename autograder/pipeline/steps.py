"""The first two instructor steps: generate the release version, collect submissions.

Both are nbgrader's own behaviour (GenerateAssignment converter; the submitted/<student>/
<assignment>/ layout); collect adds one rule: an existing submission is never overwritten
silently — a changed one is reported and kept unless the instructor asks to replace it.
"""

from __future__ import annotations

import filecmp
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.converters import GenerateAssignment

from .course import Course, PipelineError, converting
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


def collect(course: Course, inbox: Path, assignment: str, replace: bool = False,
            progress: Progress | None = None) -> Collected:  # fmt: skip
    """Copy inbox/<student>/<assignment>/ into course/submitted/<student>/<assignment>/."""
    result = Collected()
    folders = [p for p in sorted(Path(inbox).iterdir()) if p.is_dir() and (p / assignment).is_dir()]
    if progress is not None:
        progress.total = len(folders)
    for student_dir in folders:
        src = student_dir / assignment
        dest = course.path("submitted", student_dir.name, assignment)
        if progress is not None:
            progress.start(student_dir.name)
        if dest.exists():
            if _same_tree(src, dest):
                result.unchanged.append(student_dir.name)
                _step(progress, student_dir.name, "unchanged")
                continue
            if not replace:
                result.conflicts.append(student_dir.name)
                _step(progress, student_dir.name, "kept the earlier submission (it differs; --replace)")
                continue
            shutil.rmtree(dest)
            result.replaced.append(student_dir.name)
        else:
            result.new.append(student_dir.name)
        shutil.copytree(src, dest)
        _step(progress, student_dir.name, "replaced" if result.replaced[-1:] == [student_dir.name] else "new")
    course.make_private()
    return result


def _step(progress: Progress | None, student: str, status: str) -> None:
    if progress is not None:
        progress.step(student, status)


def _same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(_same_tree(a / d, b / d) for d in cmp.common_dirs)
