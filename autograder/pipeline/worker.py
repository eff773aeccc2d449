"""Autograde one submission in a private staging course; run as `python -m autograder.pipeline.worker`.

Each submission gets its own process (so a wedged nbgrader or kernel can be killed without
touching the batch) and its own staging course: a snapshot of the gradebook, the release
version, the assignment's data files and a *copy* of this one submission. The kernel sees none
of it (see autograder.sandbox). The worker never writes the real gradebook: it reports scores,
reasons and tampering as JSON, and the parent merges them serially (one SQLite writer).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from autograder.sandbox import SandboxPolicy, kill_uid

from .course import Course
from .execute import SafeExecute, SandboxedKernelManager
from .preprocessors import DetectTampering


@dataclass
class Job:
    """What the parent asks a worker to grade."""

    course_root: str
    assignment: str
    student: str
    gradebook_snapshot: str
    result_path: str
    cell_timeout: int = 60
    uid: int | None = None  # the worker slot's uid when root
    sandbox: bool = True
    hide: list[str] = field(default_factory=list)


def _stage(job: Job, staging: Path) -> Course:
    """Build the private course: only what autograding this one submission needs."""
    main, course = Course.at(job.course_root), Course(staging / "course")
    course.root.mkdir(mode=0o700)
    shutil.copy(job.gradebook_snapshot, course.root / "gradebook.db")
    shutil.copytree(main.path("release", ".", job.assignment), course.path("release", ".", job.assignment))
    src = course.path("source", ".", job.assignment)
    src.mkdir(parents=True)
    for f in main.path("source", ".", job.assignment).iterdir():  # data files only: no solutions
        if f.is_file() and f.suffix != ".ipynb":
            shutil.copy(f, src / f.name)
    shutil.copytree(main.path("submitted", job.student, job.assignment), course.path("submitted", job.student, job.assignment))
    for d in ("home", "ipc"):
        (staging / "sandbox" / d).mkdir(parents=True, mode=0o700)
        if job.uid is not None and os.geteuid() == 0:
            os.chown(staging / "sandbox" / d, job.uid, job.uid)
    return course


def _config(job: Job, course: Course, staging: Path):
    cfg = Course.at(job.course_root).config()  # the course's own settings (course_id, limits)
    cfg.CourseDirectory.root = str(course.root)
    cfg.CourseDirectory.db_url = f"sqlite:///{course.root / 'gradebook.db'}"
    cfg.CourseDirectory.assignment_id = job.assignment
    cfg.CourseDirectory.student_id = job.student
    cfg.Autograde.sanitize_preprocessors = [
        ClearOutput, DeduplicateIds, OverwriteKernelspec, DetectTampering, OverwriteCells, CheckCellMetadata,
    ]  # DetectTampering must see the cells before OverwriteCells repairs them
    cfg.Autograde.autograde_preprocessors = [
        SafeExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, AssignLatePenalties,
        CheckCellMetadata,
    ]
    cfg.DetectTampering.record_to = str(staging / "tampering.jsonl")
    cfg.SafeExecute.timeout = job.cell_timeout
    home = staging / "sandbox" / "home"
    cfg.SafeExecute.scratch_dir = str(home)
    cfg.SafeExecute.kernel_manager_class = SandboxedKernelManager
    cfg.SandboxedKernelManager.transport = "ipc"
    cfg.SandboxedKernelManager.ip = str(staging / "sandbox" / "ipc" / "k")
    if job.sandbox:
        hide = [str(Path(job.course_root).resolve()), *job.hide]
        policy = SandboxPolicy(workdir=str(home), hide=tuple(hide), uid=job.uid)
        cfg.SandboxedKernelManager.sandbox_policy = policy.to_json()
    return cfg


@dataclass
class CellResult:
    notebook: str
    cell: str
    max_score: float
    score: float | None
    reason: str = ""
    tampered: str = ""
    detail: str = ""  # the first failed check's whole message, for a learner's `tcpclose check`


def _reason(cell) -> str:
    """One line a learner and an instructor can read: the error's type and message, no traceback."""
    if any(o.output_type == "error" and o.ename == "CellTimeoutError" for o in cell.get("outputs", [])):
        return "CellTimeoutError: the cell ran past its time limit and was interrupted"
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            lines = [line.strip() for line in (out.evalue or "").strip().splitlines() if line.strip()]
            if not lines:
                return out.ename
            # "...: 3 of 10 cases pass. First failure:" says nothing alone: add the failure's line.
            text = " ".join(lines[:2]) if lines[0].endswith(":") and len(lines) > 1 else lines[0]
            return f"{out.ename}: {text[:400]}"
        if out.output_type == "stream" and out.name == "stderr":
            return "wrote to stderr (nbgrader scores that as a failure)"
    return ""


_ALL_PASS = re.compile(r": (all \d+ cases pass|passes)\s*$")


def _partial_credit_reason(cell) -> str:
    """A partial-credit cell raises nothing: its reason is the first check it printed that did not pass."""
    text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.output_type == "stream" and o.name == "stdout")  # fmt: skip
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if not _ALL_PASS.search(line):
            return " ".join(lines[i : i + 2])[:400]
    return ""


DETAIL_LINES = 25


def _failure_detail(cell) -> str:
    """The first failure's whole message (state, event, expected vs yours, replay), capped.

    A raising cell's message is its error's text; a partial-credit cell prints one block per
    check, and the first block that does not pass runs until the next unindented line.
    """
    for out in cell.get("outputs", []):
        if out.output_type == "error" and out.ename != "CellTimeoutError":
            lines = (out.evalue or "").rstrip().splitlines()
            break
    else:
        text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                       if o.output_type == "stream" and o.name == "stdout")  # fmt: skip
        lines, block = text.rstrip().splitlines(), []
        for line in lines:
            if block and line[:1] not in (" ", "\t"):
                break
            if block or (line.strip() and not _ALL_PASS.search(line)):
                block.append(line)
        lines = block
    if len(lines) > DETAIL_LINES:
        lines = lines[:DETAIL_LINES] + [f"  ... ({len(lines) - DETAIL_LINES} more lines in the notebook)"]
    return "\n".join(lines)


def results(course: Course, job: Job, tampering: list[dict]) -> list[CellResult]:
    """Scores from the staging gradebook, reasons from the autograded notebook, tampering applied."""
    tampered = {(t["notebook"], t["cell"]): t for t in tampering}
    rows = []
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        for nb in gb.find_assignment(job.assignment).notebooks:
            path = course.path("autograded", job.student, job.assignment) / f"{nb.name}.ipynb"
            cells = {}
            if path.exists():
                for c in nbformat.read(path, as_version=4).cells:
                    if utils.is_grade(c):
                        cells[c.metadata.nbgrader["grade_id"]] = c
            for gc in nb.grade_cells:
                grade = gb.find_grade(gc.name, nb.name, job.assignment, job.student)
                cell = cells.get(gc.name, {})
                reason = _reason(cell)
                if not reason and grade.auto_score is not None and grade.auto_score < gc.max_score:
                    reason = _partial_credit_reason(cell)  # a test cell that lost points without raising
                detail = _failure_detail(cell) if reason else ""
                row = CellResult(nb.name, gc.name, gc.max_score, grade.auto_score, reason, detail=detail)
                t = tampered.get((nb.name, gc.name))
                if t:
                    row.score, row.reason, row.tampered, row.detail = 0.0, f"tampered: {t['note']}", t["kind"], ""
                elif gc.name not in cells and row.score is None:
                    row.score, row.reason = 0.0, "no result for this cell"
                rows.append(row)
    return rows


def answer_errors(course: Course, job: Job) -> list[str]:
    """Errors in answer (non-test) cells: why the tests after them failed (timeout, fork refused...)."""
    notes = []
    for path in sorted(course.path("autograded", job.student, job.assignment).glob("*.ipynb")):
        for c in nbformat.read(path, as_version=4).cells:
            reason = _reason(c) if c.cell_type == "code" and not utils.is_grade(c) else ""
            if reason:
                name = c.metadata.get("nbgrader", {}).get("grade_id", "a cell")
                notes.append(f"{name}: {reason}")
    return notes


def run(job: Job) -> dict:
    staging = Path(tempfile.mkdtemp(prefix="tcpclose-grade-"))
    os.chmod(staging, 0o711)  # the kernel may pass through to its sandbox/ dirs, nothing else
    try:
        course = _stage(job, staging)
        error = ""
        try:
            cfg = _config(job, course, staging)
            converter = Autograde(coursedir=CourseDirectory(config=cfg), config=cfg)
            converter.start()
        except Exception as e:  # nbgrader reports a failed notebook by raising after the batch
            error = f"autograde failed: {e}"
        finally:
            if job.uid is not None and os.geteuid() == 0:
                kill_uid(job.uid)  # fork-bomb leftovers and the like
        log = staging / "tampering.jsonl"
        tampering = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        achieved = staging / "sandbox" / "home" / ".sandbox.json"
        out = {
            "student": job.student,
            "error": error,
            "answer_errors": answer_errors(course, job),
            "cells": [asdict(r) for r in results(course, job, tampering)],
            "sandbox": json.loads(achieved.read_text())["achieved"] if achieved.exists() else [],
        }
        dest = Path(job.result_path).with_suffix(".autograded")
        if dest.exists():
            shutil.rmtree(dest)
        built = course.path("autograded", job.student, job.assignment)
        if built.exists():
            shutil.copytree(built, dest, ignore=shutil.ignore_patterns(".*"))
        Path(job.result_path).write_text(json.dumps(out))
        return out
    finally:
        shutil.rmtree(staging, ignore_errors=True)


if __name__ == "__main__":
    run(Job(**json.loads(Path(sys.argv[1]).read_text())))
