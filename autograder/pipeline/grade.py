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

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder.checks import grade_cell
from autograder.checks.functions import spec_cases
from autograder.checks.transition_cases import TransitionCase
from autograder.manifest import Manifest, ManifestError

from .autograded import autograded, clean_outputs, error_output, verdict_outputs
from .plan import make_plan, meta, role
from .progress import Progress
from .remote import RunnerSession
from .remote_records import Flag, Ran

DETAIL_LINES = 25
FATAL = ("timeout", "died", "not-run")
NOTEBOOK_BYTES = 20 << 20
_PASSES = re.compile(r"(: passes|: all \d+ cases pass)\s*$")


@dataclass
class CellResult:
    notebook: str
    cell: str
    max_score: float
    score: float | None
    reason: str = ""
    tampered: str = ""
    detail: str = ""  # the first failure's whole message, for a learner's `tcpclose check`
    transitions: dict = field(default_factory=dict)  # "STATE event" -> [behaved, went wrong], class report
    svg: str = ""  # the first divergence drawn (the learner's run beside the reference), if any
    divergence: dict | None = None  # the first failing case as data: {case, state, event, replay}


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
    flags = [Flag("source" if f.kind == "source" else "tampered", f.cell, f.note) for f in plan.findings]
    # The release's own ungraded cells (timelines, predictions) may have nothing to show in the
    # sandbox; only the learner's cells' errors are worth a note.
    released = {_norm(c.source) for c in release.cells if c.cell_type == "code"}
    outputs: dict[int, list[dict]] = {}
    verdicts: dict[str, CellResult] = {}
    notes: list[str] = []
    for step in plan.steps:
        label = meta(submission.cells[step.index]).get("grade_id") or f"cell {step.index + 1}"
        if step.action in ("run", "trusted"):
            if time.monotonic() > deadline:
                outputs[step.index] = [error_output("NotRun", "not run: the notebook ran past its time limit")]
                continue
            ran = session.run(step.index, step.source, trusted=step.action == "trusted")
            outputs[step.index] = _shown(ran)
            why = _why(ran)
            learners = step.action == "run" and (_norm(step.source) not in released or ran.status in FATAL)
            if why and learners:
                notes.append(f"{label}: {why}")
            if learners and why.startswith("ReferenceUnavailable"):
                flags.append(Flag("seen", label, "the reference's behaviour asked for (the grading sandbox has "
                                  "none: a handler that leans on it scores nothing)"))  # fmt: skip
        elif step.action == "test":
            gid = step.grade_id
            why = "" if time.monotonic() < deadline else "not graded: the notebook ran past its time limit"
            try:
                cell = manifest.cell(gid)
            except ManifestError:
                why = why or "not graded: the grading manifest has no entry for this cell (tell your instructor)"
                notes.append(f"{gid}: {why}")
            if why:
                verdicts[gid] = CellResult(name, gid, _points(manifest, release, gid), 0.0, why)
                outputs[step.index] = [error_output("NotGraded", why)]
                continue
            if progress is not None:
                progress.start(gid)
            result, shown, visible_passed = _grade_point(name, cell, step.index, session, flags)
            verdicts[gid] = result
            if progress is not None:
                progress.step(gid, f"{result.score or 0:g}/{result.max_score:g}")
            outputs[step.index] = shown
            _saved_claims(submission.cells[step.index], result, visible_passed, flags)
    cells = []
    tampered = {f.cell: f.kind for f in plan.findings if f.kind in ("deleted", "edited", "metadata")}
    for gid in plan.tests:
        points = _points(manifest, release, gid)
        result = verdicts.get(gid) or CellResult(
            name, gid, points, 0.0, "tampered: this test cell was deleted from the submission"
        )
        result.tampered = tampered.get(gid, "")
        cells.append(result)
    cells += [_written_result(name, c, submission) for c in written]
    nb = autograded(release, submission, plan, sources, outputs)
    return NotebookGrade(cells, [dict(f.as_dict(), notebook=name) for f in flags + session.flags], notes, nb,
                         session.calls)  # fmt: skip


def _points(manifest: Manifest, release: nbformat.NotebookNode, gid: str) -> float:
    """A test cell's worth: the manifest's, else the release's."""
    try:
        return manifest.cell(gid).points
    except ManifestError:
        return next((float(meta(c).get("points", 0)) for c in release.cells if meta(c).get("grade_id") == gid), 0.0)


def _grade_point(name: str, cell, index: int, session: RunnerSession,
                 flags: list[Flag]) -> tuple[CellResult, list[dict], bool]:  # fmt: skip
    machine, displayed = session.test(index, cell.grade_id)
    shown = clean_outputs(displayed)
    if shown:
        text = " ".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") or o.get("ename", "")
                        for o in shown)[:200]  # fmt: skip
        flags.append(Flag("displayed", cell.grade_id, f"the submission displayed something at this test cell "
                          f"(not the grader's result): {text.strip()!r}"))  # fmt: skip
    _prefetch(cell, session)
    try:
        verdict = grade_cell(cell, machine)
    except Exception as e:  # noqa: BLE001 - a grader bug costs this cell, with a sentence, never the batch
        session.end_point()
        sentence = f"could not be graded (an error in the grader: {type(e).__name__}: {str(e)[:200]})"
        result = CellResult(name, cell.grade_id, cell.points, 0.0, sentence)
        return result, [error_output("GraderError", sentence)], True
    session.end_point()
    reason, detail = "", ""
    if verdict.points < verdict.max_points:
        lines = [line.strip() for line in verdict.text.splitlines() if line.strip()]
        first = next((i for i, line in enumerate(lines) if not _PASSES.search(line)), 0)
        reason = " ".join(lines[first : first + 2])[:400] if lines else "a check failed"
        detail = _capped(verdict.text)
    transitions = {f"{s} {e}": list(v) for (s, e), v in verdict.transitions.items()}
    first = next((c for o in verdict.outcomes for c in o.cases if not c.passed), None)
    divergence = None
    if first is not None:
        state, event = first.transition or ("", "")
        divergence = {"case": first.name, "state": state, "event": event, "replay": first.replay}
    result = CellResult(name, cell.grade_id, verdict.max_points, verdict.points, reason, detail=detail,
                        transitions=transitions, svg=verdict.svg or "", divergence=divergence)  # fmt: skip
    failed = next((o for o in verdict.outcomes[: len(cell.visible)] if o.failures), None)
    shown = verdict_outputs(verdict.text, verdict.points, verdict.max_points, failed.message() if failed else "",
                            verdict.svg)  # fmt: skip
    return result, shown, verdict.visible_passed


def _prefetch(cell, session: RunnerSession) -> None:
    """The cell's single-transition cases are independent calls known in advance: ask them in one
    go (most of a cell's calls) instead of one round trip each. The visible ones now; the hidden
    ones when the first of them is asked (never, when a visible check fails and ends the cell).
    Scenarios stay call by call."""
    session.prefetch(_questions(cell.visible))
    session.pending = _questions(cell.hidden)


def _questions(specs) -> list[tuple]:
    out = []
    for spec in specs:
        try:
            _, _, cases = spec_cases(spec)
        except Exception:  # noqa: BLE001 - a wrong spec is grade_cell's to report
            continue
        out += [(c.fx.state, c.fx.tcb, c.stimulus, c.fx.profile) for c in cases if isinstance(c, TransitionCase)]
    return out


def _saved_claims(cell, result: CellResult, visible_passed: bool, flags: list[Flag]) -> None:
    """The learner's saved notebook showed this cell passing where the grader does not find it so."""
    outs = cell.get("outputs", []) if cell.get("cell_type") == "code" else []
    if not outs or result.score is None:
        return
    errored = any(o.get("output_type") == "error" or (o.get("output_type") == "stream" and o.get("name") == "stderr")
                  for o in outs)  # fmt: skip
    claimed = None
    for o in outs:
        if o.get("output_type") == "execute_result":
            try:
                claimed = float(str(o.get("data", {}).get("text/plain", "")).strip())
            except ValueError:
                pass
    if errored:
        return
    if (claimed is not None and claimed > result.score + 1e-9) or (claimed is None and not visible_passed):
        shows = f"{claimed:g} points" if claimed is not None else "a pass"
        flags.append(Flag("saved-output", result.cell, f"the saved notebook shows {shows} for this cell; the grader "
                          f"gives {result.score:g} of {result.max_score:g}"))  # fmt: skip


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


def _capped(text: str) -> str:
    lines = text.rstrip().splitlines()
    if len(lines) > DETAIL_LINES:
        lines = lines[:DETAIL_LINES] + [f"  ... ({len(lines) - DETAIL_LINES} more lines in the notebook)"]
    return "\n".join(lines)


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
