"""Buggy submissions for the course notebooks, written as a learner would get it wrong.

`bugs/NN_name.py` defines `BUGS: dict[str, Bug]`. A Bug replaces whole answer cells (by grade_id)
and names the test cells that must lose their points (`fails`); every other test cell must keep
them. Where a mistake must cost a stated share of a cell (not merely something), `shares` says
how much, exactly. `edit()` writes a bug as a change to the notebook's own solution, so a bug
stays a bug when the surrounding skeleton is reworded, and fails loudly when its target line is gone.

`ALLOWED: dict[str, Allowed]` (optional) holds answers that differ from the reference where the
standards allow it (autograder/checks/alternatives.py): each must keep full marks in every cell.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[3]
SOURCE = REPO / "course" / "source"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


@dataclass(frozen=True)
class Bug:
    replace: dict  # grade_id of an answer cell -> the learner's whole cell source
    fails: frozenset  # grade_ids of the test cells this bug must lose, and only those
    shares: dict = field(default_factory=dict)  # grade_id -> the share of its points lost, to two decimals

    def __post_init__(self) -> None:
        object.__setattr__(self, "fails", frozenset(self.fails))
        if not set(self.shares) <= self.fails:
            raise ValueError(f"shares name cells the bug does not fail: {sorted(set(self.shares) - self.fails)}")


@dataclass(frozen=True)
class Allowed:
    replace: dict  # grade_id of an answer cell -> the learner's whole cell source
    rule: str  # the sentence of the standard that allows it


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


def edit_line(assignment: str, grade_id: str, start: str, new: str) -> dict:
    """{grade_id: the solution with the one line that starts with `start` (after its indent) replaced
    by `new`, indented as it was}: for a bug whose target line may be worded differently over time."""
    lines = answer(assignment, grade_id).splitlines()
    found = [i for i, ln in enumerate(lines) if ln.strip().startswith(start)]
    if len(found) != 1:
        raise ValueError(f"{assignment}/{grade_id}: {len(found)} lines start with {start!r}, not one")
    line = lines[found[0]]
    lines[found[0]] = line[: len(line) - len(line.lstrip())] + new
    return {grade_id: "\n".join(lines)}


def _module(assignment: str):
    path = Path(__file__).parent / f"{assignment}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"tests.course.bugs.nb_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(assignment: str) -> dict[str, Bug]:
    """BUGS of bugs/<assignment>.py ({} when the notebook has no bug file yet)."""
    module = _module(assignment)
    return module.BUGS if module else {}


def load_allowed(assignment: str) -> dict[str, Allowed]:
    """ALLOWED of bugs/<assignment>.py: answers the standards allow, which must keep full marks."""
    module = _module(assignment)
    return getattr(module, "ALLOWED", {}) if module else {}
