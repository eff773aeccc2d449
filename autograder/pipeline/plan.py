"""What to run of a submission, and where its test cells are, judged against the release notebook.

The release notebook (what the learner was given) decides every cell's role, by grade_id; the
submission's own metadata only says which cell is which. So:

- a test cell is never run: the grader grades it at its place (the last copy of it, as nbgrader's
  DeduplicateIds keeps); an edited one is graded anyway, changed points are ignored (the manifest's
  count), a deleted one scores 0; each is reported;
- a locked cell (the setup cell) runs as released, whatever the submission holds there;
- an answer cell runs as the learner wrote it, even when its metadata was changed to claim it is
  a test cell, and a cell claiming a grade_id the assignment does not have is just learner code;
- every other code cell runs, in order, as a kernel would run it.

Nothing here fails a submission: every oddity becomes a finding (kind, cell, one sentence).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from nbformat import NotebookNode

GRADED_KEYS = ("grade", "solution", "locked", "points", "grade_id", "task")


@dataclass(frozen=True)
class Finding:
    kind: str  # deleted | edited | metadata | duplicate | remarked | extra
    cell: str
    note: str


@dataclass(frozen=True)
class Step:
    """One submission cell: run it (source), grade a test cell here (grade_id), or leave it be."""

    index: int  # in the submission
    action: str  # run | trusted (a locked cell, run as released) | test | skip
    source: str = ""
    grade_id: str = ""


@dataclass
class Plan:
    steps: list[Step]
    tests: list[str]  # the release's test cells, in release order
    graded_at: dict[str, int] = field(default_factory=dict)  # test grade_id -> submission index
    findings: list[Finding] = field(default_factory=list)

    def deleted(self) -> list[str]:
        return [g for g in self.tests if g not in self.graded_at]


def meta(cell: NotebookNode) -> dict:
    m = cell.get("metadata", {}).get("nbgrader", {})
    return m if isinstance(m, dict) else {}


def role(cell: NotebookNode) -> str:
    """test | answer | written | locked | free: what a release cell is."""
    m = meta(cell)
    if not isinstance(m.get("grade_id"), str):
        return "free"
    if m.get("grade") and not m.get("solution"):
        return "test" if cell.get("cell_type") == "code" else "locked"
    if m.get("solution"):
        return "answer" if cell.get("cell_type") == "code" else "written"
    return "locked" if m.get("locked") else "free"


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _source(cell: NotebookNode) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else str(s)


def make_plan(release: NotebookNode, submission: NotebookNode) -> Plan:
    roles = {meta(c)["grade_id"]: (role(c), c) for c in release.cells if role(c) != "free"}
    tests = [g for g, (r, _) in roles.items() if r == "test"]
    plan = Plan([], tests)
    ids = [meta(c).get("grade_id") for c in submission.cells]
    counts = Counter(g for g in ids if isinstance(g, str))
    last = {g: i for i, g in enumerate(ids) if isinstance(g, str)}
    for gid, n in sorted(counts.items()):
        if n > 1 and gid in roles:
            plan.findings.append(Finding("duplicate", gid, f"the cell {gid} appears {n} times in the submission; "
                                         "the last copy is the one graded"))  # fmt: skip
    for index, cell in enumerate(submission.cells):
        gid = ids[index] if isinstance(ids[index], str) else None
        kind, released = roles.get(gid, ("free", None)) if gid else ("free", None)
        code = cell.get("cell_type") == "code"
        if kind == "test":
            if last[gid] != index:
                plan.steps.append(Step(index, "skip", grade_id=gid))
                continue
            plan.graded_at[gid] = index
            plan.steps.append(Step(index, "test", grade_id=gid))
            _compare(plan, gid, cell, released)
        elif kind == "locked":
            if _norm(_source(cell)) != _norm(_source(released)) or cell.get("cell_type") != released.cell_type:
                plan.findings.append(Finding("edited", gid, f"the locked cell {gid} was edited; it ran as released"))
            plan.steps.append(Step(index, "trusted", _source(released)) if released.cell_type == "code"
                              else Step(index, "skip"))  # fmt: skip
        elif kind == "answer":
            m = meta(cell)
            if m.get("grade") and not m.get("solution"):
                plan.findings.append(Finding("remarked", gid, f"the answer cell {gid} was marked as a test cell; "
                                             "it ran as your answer and the real test cells were graded"))  # fmt: skip
            plan.steps.append(Step(index, "run", _source(cell)) if code else Step(index, "skip"))
        elif kind == "written":
            plan.steps.append(Step(index, "skip"))
        else:
            m = meta(cell)
            if gid and (m.get("grade") or m.get("locked")):
                plan.findings.append(Finding("extra", gid, f"a cell claims the grade id {gid}, which this "
                                             "assignment does not have; it ran as ordinary code"))  # fmt: skip
            plan.steps.append(Step(index, "run", _source(cell)) if code and _source(cell).strip() else Step(index, "skip"))
    for gid in plan.deleted():
        plan.findings.append(Finding("deleted", gid, "this test cell was deleted from the submission"))
    return plan


def _compare(plan: Plan, gid: str, cell: NotebookNode, released: NotebookNode) -> None:
    ours, theirs = meta(released), meta(cell)
    if any(ours.get(k) != theirs.get(k) for k in GRADED_KEYS):
        plan.findings.append(Finding("metadata", gid, "the cell's grading metadata (points, flags) was changed; "
                                     "the assignment's own were used"))  # fmt: skip
    elif _norm(_source(cell)) != _norm(_source(released)) or cell.get("cell_type") != released.get("cell_type"):
        plan.findings.append(Finding("edited", gid, "the source of this test cell was edited; it was graded as "
                                     "released (its source never runs)"))  # fmt: skip
