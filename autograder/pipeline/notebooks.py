"""Learner copies in notebooks/, generated from course/source by nbgrader itself.

A learner copy *is* the release version (nbgrader's GenerateAssignment: solutions and hidden
tests stripped, outputs cleared, checksums computed), so a self-paced learner's saved copy can be
autograded exactly like a cohort's submission (`tcpclose check`). We add: widget state removed,
and stable JSON (nbformat's sorted, indented writer) so `notebooks --check` can compare bytes.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import nbformat

from .course import REPO_COURSE, Course
from .steps import generate

REPO_NOTEBOOKS = REPO_COURSE.parent / "notebooks"


def _stable(nb: nbformat.NotebookNode) -> str:
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("widgets", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nbformat.writes(nb) + "\n"


def learner_copies(course: Course) -> dict[str, str]:
    """{file name: text} of every learner copy the course's source would produce."""
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="tcpclose-learner-") as tmp:
        scratch = Course(Path(tmp) / "course")
        shutil.copytree(course.root / "source", scratch.root / "source")
        if (course.root / "nbgrader_config.py").exists():
            shutil.copy(course.root / "nbgrader_config.py", scratch.root)
        for assignment in scratch.assignments():
            for path in sorted(generate(scratch, assignment).glob("*.ipynb")):
                out[path.name] = _stable(nbformat.read(path, as_version=4))
    return out


def regenerate(course: Course | None = None, dest: Path = REPO_NOTEBOOKS) -> list[Path]:
    """Rewrite dest/ (notebooks/) from the course source; returns the files written."""
    course = course or Course.at()
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in learner_copies(course).items():
        (dest / name).write_text(text, encoding="utf-8")
        written.append(dest / name)
    return written


def drift(course: Course | None = None, dest: Path = REPO_NOTEBOOKS) -> list[str]:
    """Learner copies that differ from (or are missing next to) what regenerate() would write."""
    expected = learner_copies(course or Course.at())
    have = {p.name for p in dest.glob("*.ipynb")} if dest.is_dir() else set()
    drifted = [n for n, text in expected.items() if n not in have or (dest / n).read_text(encoding="utf-8") != text]
    return sorted(drifted + [n for n in have if n not in expected])


def unclean_sources(course: Course | None = None) -> list[str]:
    """Source notebooks stored with outputs, execution counts or widget state (they must not be)."""
    course = course or Course.at()
    problems = []
    for path in sorted((course.root / "source").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        rel = str(path.relative_to(course.root))
        if "widgets" in nb.metadata:
            problems.append(f"{rel}: widget state in the notebook metadata")
        for i, cell in enumerate(nb.cells, 1):
            if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
                problems.append(f"{rel}: cell {i} has stored outputs")
    return problems
