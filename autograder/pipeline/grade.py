"""Grade one submission on the trusted side: cells run in the sandbox, points computed here.

For each notebook of the assignment: plan the submission against the release notebook
(autograder.pipeline.plan), run its non-test cells in order in the sandboxed runner, and at
each test cell's place grade that cell from the manifest (`grade_cell`) with the learner's
handlers answering across the pipe. The verdicts, the runner's outputs and everything seen on
the way (tampering, forbidden actions, displays at test cells, saved outputs that claim a pass
the grader does not find) become the cell results, the flags and the autograded notebook.
Nothing a submission does can fail another; nothing it does fails itself when it can be graded.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder.manifest import Manifest, ManifestError
from reference_impl.states import State

from .autograded import autograded, clean_outputs, error_output
from .grade_point import CellResult, grade_point, saved_claims
from .plan import make_plan, meta, role
from .progress import Progress
from .remote import RunnerSession
from .remote_records import Flag, Ran

FATAL = ("timeout", "died", "not-run")
NOTEBOOK_BYTES = 20 << 20


@dataclass
class NotebookGrade:
    cells: list[CellResult]
    flags: list[dict]
    notes: list[str]
    notebook: nbformat.NotebookNode | None
    calls: int = 0


def read_notebook(path: Path) -> nbformat.NotebookNode:
    if path.stat().st_size > NOTEBOOK_BYTES:
        raise ValueError(f"it is larger than {NOTEBOOK_BYTES >> 20} MiB")
    return nbformat.read(path, as_version=4)


def grade_notebook(name: str, release: nbformat.NotebookNode, submitted: Path, manifest: Manifest,
                   session: RunnerSession, sources: dict[str, str], deadline: float,
                   progress: Progress | None = None) -> NotebookGrade:  # fmt: skip
    """Grade one notebook of a submission; `deadline` (time.monotonic()) ends it, whatever is left scoring 0.
    `progress` hears of each test cell as it is graded (`tcpclose check`)."""
    written = _written_cells(name, release)
    try:
        submission = read_notebook(submitted)
    except FileNotFoundError:
        return _ungraded(name, release, manifest, written, f"{submitted.name} is missing from the submission")
    except Exception as e:  # noqa: BLE001 - any unreadable file is one sentence
        return _ungraded(name, release, manifest, written, f"{submitted.name} could not be read as a notebook ({e})")
    plan = make_plan(release, submission)
    if progress is not None:
        progress.total += len(plan.tests)
    # The release's own ungraded cells (timelines, predictions) may have nothing to show in the
    # sandbox; only the learner's cells' errors are worth a note.
    grading = _Grading(name, release, submission, manifest, session, deadline, progress,
                       released={_norm(c.source) for c in release.cells if c.cell_type == "code"}, defined=plan.defined,
                       flags=[Flag("source" if f.kind == "source" else "tampered", f.cell, f.note)
                              for f in plan.findings])  # fmt: skip
    for step in plan.steps:
        if step.action in ("run", "trusted"):
            grading.run(step)
        elif step.action == "test":
            grading.test(step)
    cells = grading.test_results(plan) + [_written_result(name, c, submission) for c in written]
    nb = autograded(release, submission, plan, sources, grading.outputs)
    flags = grading.flags + session.flags
    return NotebookGrade(cells, [dict(f.as_dict(), notebook=name) for f in flags], grading.notes, nb, session.calls)


@dataclass
class _Grading:
    """One notebook being graded, step by step: the outputs, verdicts, notes and flags so far."""

    name: str
    release: nbformat.NotebookNode
    submission: nbformat.NotebookNode
    manifest: Manifest
    session: RunnerSession
    deadline: float
    progress: Progress | None
    released: set[str]  # the release's code cells, normalised
    defined: dict[str, frozenset[State]]  # Plan.defined: per test cell, the handlers the release defines above it
    flags: list[Flag]
    outputs: dict[int, list[dict]] = field(default_factory=dict)
    verdicts: dict[str, CellResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def run(self, step) -> None:
        """A non-test cell, run in the sandbox; a learner's cell's error is a note."""
        label = meta(self.submission.cells[step.index]).get("grade_id") or f"cell {step.index + 1}"
        if time.monotonic() > self.deadline:
            self.outputs[step.index] = [error_output("NotRun", "not run: the notebook ran past its time limit")]
            return
        ran = self.session.run(step.index, step.source, trusted=step.action == "trusted")
        self.outputs[step.index] = _shown(ran)
        why = _why(ran)
        learners = step.action == "run" and (_norm(step.source) not in self.released or ran.status in FATAL)
        if why and learners:
            self.notes.append(f"{label}: {why}")
        if learners and why.startswith("ReferenceUnavailable"):
            self.flags.append(Flag("seen", label, "the reference's behaviour asked for (the grading sandbox has "
                                   "none: a handler that leans on it scores nothing)"))  # fmt: skip

    def test(self, step) -> None:
        """A test cell's place: graded from the manifest, unless time is up or the manifest lacks it."""
        gid = step.grade_id
        why = "" if time.monotonic() < self.deadline else "not graded: the notebook ran past its time limit"
        try:
            cell = self.manifest.cell(gid)
        except ManifestError:
            why = why or "not graded: the grading manifest has no entry for this cell (tell your instructor)"
            self.notes.append(f"{gid}: {why}")
        if why:
            self.verdicts[gid] = CellResult(self.name, gid, _points(self.manifest, self.release, gid), 0.0, why)
            self.outputs[step.index] = [error_output("NotGraded", why)]
            return
        if self.progress is not None:
            self.progress.start(gid)
        result, shown, visible_passed = grade_point(self.name, cell, step.index, self.session, self.flags,
                                                    self.defined.get(gid, frozenset()))  # fmt: skip
        self.verdicts[gid] = result
        if self.progress is not None:
            self.progress.step(gid, f"{result.score or 0:g}/{result.max_score:g}")
        self.outputs[step.index] = shown
        saved_claims(self.submission.cells[step.index], result, visible_passed, self.flags)

    def test_results(self, plan) -> list[CellResult]:
        """A result per test cell of the release: a deleted one scores 0; tampering is marked."""
        tampered = {f.cell: f.kind for f in plan.findings if f.kind in ("deleted", "edited", "metadata")}
        cells = []
        for gid in plan.tests:
            points = _points(self.manifest, self.release, gid)
            result = self.verdicts.get(gid) or CellResult(
                self.name, gid, points, 0.0, "tampered: this test cell was deleted from the submission"
            )
            result.tampered = tampered.get(gid, "")
            cells.append(result)
        return cells


def _points(manifest: Manifest, release: nbformat.NotebookNode, gid: str) -> float:
    """A test cell's worth: the manifest's, else the release's."""
    try:
        return manifest.cell(gid).points
    except ManifestError:
        return next((float(meta(c).get("points", 0)) for c in release.cells if meta(c).get("grade_id") == gid), 0.0)


def _shown(ran: Ran) -> list[dict]:
    outs = clean_outputs(ran.outputs)
    if ran.status in ("timeout", "died", "not-run"):
        name = {"timeout": "CellTimeoutError", "died": "RunnerDied", "not-run": "NotRun"}[ran.status]
        outs.append(error_output(name, f"this cell {ran.note}; it was skipped and grading went on"
                                 if ran.status != "not-run" else f"not run: {ran.note}"))  # fmt: skip
    return outs


def _why(ran: Ran) -> str:
    if ran.status == "timeout":
        return f"CellTimeoutError: the cell {ran.note}"
    if ran.status == "died":
        return f"RunnerDied: the cell {ran.note}"
    if ran.status == "not-run":
        return f"NotRun: {ran.note}"
    for out in clean_outputs(ran.outputs):
        if out["output_type"] == "error":
            first = next((line for line in out["evalue"].splitlines() if line.strip()), "")
            return f"{out['ename']}: {first}"[:400]
    return ""


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in str(source).strip().splitlines())


def _written_cells(name: str, release: nbformat.NotebookNode) -> list:
    return [c for c in release.cells if role(c) == "written" and meta(c).get("grade")]


def _written_result(name: str, released, submission: nbformat.NotebookNode) -> CellResult:
    """A written answer is the instructor's to grade: 0 when left as released, else waiting (None)."""
    compute_checksum = _nbgrader_utils().compute_checksum
    gid = meta(released)["grade_id"]
    mine = [c for c in submission.cells if meta(c).get("grade_id") == gid]
    points = float(meta(released).get("points", 0))
    if not mine:
        return CellResult(name, gid, points, 0.0, "this written answer was deleted from the submission", "deleted")
    cell = nbformat.from_dict(mine[-1])
    cell.metadata["nbgrader"] = dict(meta(released))
    blank = meta(released).get("checksum") == compute_checksum(cell)
    return CellResult(name, gid, points, 0.0 if blank else None, "still blank" if blank else "")


def _nbgrader_utils():
    """nbgrader's own utils module (its checksum of a cell), without importing the nbgrader package,
    whose __init__ loads Jupyter server extensions (seconds): a grading worker needs only this file."""
    import sys

    if "nbgrader.utils" in sys.modules:
        return sys.modules["nbgrader.utils"]
    if "_tcpclose_nbgrader_utils" not in sys.modules:
        import importlib.util

        origin = importlib.util.find_spec("nbgrader").origin  # finding a package does not run it
        spec = importlib.util.spec_from_file_location("_tcpclose_nbgrader_utils", Path(origin).with_name("utils.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[spec.name] = module
    return sys.modules["_tcpclose_nbgrader_utils"]


def _ungraded(name: str, release, manifest: Manifest, written: list, why: str) -> NotebookGrade:
    tests = [meta(c)["grade_id"] for c in release.cells if role(c) == "test"]
    cells = [CellResult(name, g, _points(manifest, release, g), 0.0, why) for g in tests]
    cells += [CellResult(name, meta(c)["grade_id"], float(meta(c).get("points", 0)), 0.0, why) for c in written]
    return NotebookGrade(cells, [], [why], None)


def as_dicts(cells: list[CellResult]) -> list[dict]:
    return [asdict(c) for c in cells]


__all__ = ["CellResult", "ManifestError", "NotebookGrade", "as_dicts", "grade_notebook", "read_notebook"]
