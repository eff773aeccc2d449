"""Buggy submissions for the course notebooks, written as a learner would get it wrong.

`bugs/NN_name.py` defines `BUGS: dict[str, Bug]`. A Bug replaces whole answer cells (by grade_id)
and names the test cells that must lose their points (`fails`); every other test cell must keep
them. `edit()` writes a bug as a change to the notebook's own solution, so a bug stays a bug when
the surrounding skeleton is reworded, and fails loudly when its target line is gone.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[3]
SOURCE = REPO / "course" / "source"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


@dataclass(frozen=True)
class Bug:
    replace: dict  # grade_id of an answer cell -> the learner's whole cell source
    fails: frozenset  # grade_ids of the test cells this bug must lose, and only those

    def __post_init__(self) -> None:
        object.__setattr__(self, "fails", frozenset(self.fails))


def answer(assignment: str, grade_id: str) -> str:
    """The solution of an answer cell as a learner would have typed it (no solution markers)."""
    nb = nbformat.read(SOURCE / assignment / f"{assignment}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return "\n".join(ln for ln in cell.source.splitlines() if ln.strip() not in MARKERS)
    raise KeyError(f"{assignment} has no cell {grade_id!r}")


def edit(assignment: str, grade_id: str, *changes: tuple[str, str]) -> dict:
    """{grade_id: the solution with each (old, new) applied}; each old must occur exactly once."""
    source = answer(assignment, grade_id)
    for old, new in changes:
        if source.count(old) != 1:
            raise ValueError(f"{assignment}/{grade_id}: {old!r} occurs {source.count(old)} times, not once")
        source = source.replace(old, new)
    return {grade_id: source}


def load(assignment: str) -> dict[str, Bug]:
    """BUGS of bugs/<assignment>.py ({} when the notebook has no bug file yet)."""
    path = Path(__file__).parent / f"{assignment}.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location(f"tests.course.bugs.nb_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BUGS
