"""Each submission's record: the fingerprint that makes a regrade unnecessary, and one result written
into the gradebook, the autograded folder and the record (score, notes, flags) the reports read."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .course import Course

SCORING_VERSION = "2"  # bump when a change to the pipeline changes scores: forces a regrade


@dataclass
class Outcome:
    student: str
    status: str  # graded | skipped | failed | timeout
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    flags: list[dict] = field(default_factory=list)


def fingerprint(course: Course, assignment: str, student: str, settings: dict) -> str:
    h = hashlib.sha256(json.dumps([SCORING_VERSION, settings], sort_keys=True).encode())
    manifest = course.path("source", ".", assignment) / "manifest.py"
    files = [(manifest.parent, manifest)] if manifest.is_file() else []
    for base in (course.path("release", ".", assignment), course.path("submitted", student, assignment)):
        files += [(base, f) for f in sorted(base.rglob("*")) if f.is_file() and not f.is_symlink()]
    for base, f in files:
        h.update(str(f.relative_to(base)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def state_path(course: Course, assignment: str, student: str) -> Path:
    return course.state_dir / assignment / f"{student}.json"


def load_state(course: Course, assignment: str, student: str) -> dict | None:
    p = state_path(course, assignment, student)
    return json.loads(p.read_text()) if p.exists() else None


def merge(course: Course, assignment: str, student: str, cells: list[dict], gb: Gradebook | None = None) -> None:
    """Write one submission's scores into the real gradebook (called from one thread only). A batch
    passes its one open Gradebook: SQLAlchemy then compiles each query once, not once per submission."""
    if gb is None:
        with Gradebook(course.db_url, course.coursedir().course_id) as own:
            return merge(course, assignment, student, cells, own)
    ts = course.coursedir().get_existing_timestamp(str(course.path("submitted", student, assignment)))
    with warnings.catch_warnings():
        # nbgrader's own submission update trips SQLAlchemy's "not in session" autoflush warning;
        # it is harmless and would bury the pipeline's progress lines.
        warnings.filterwarnings("ignore", message=".*not in session.*")
        gb.update_or_create_student(student)
        gb.update_or_create_submission(assignment, student, **({"timestamp": ts} if ts else {}))
        for c in cells:
            try:
                grade = gb.find_grade(c["cell"], c["notebook"], assignment, student)
            except MissingEntry:
                continue
            grade.auto_score = c["score"]
            grade.needs_manual_grade = c["score"] is None or grade.manual_score is not None
            try:
                comment = gb.find_comment(c["cell"], c["notebook"], assignment, student)
                comment.auto_comment = "No response." if c.get("reason") == "still blank" else None
            except MissingEntry:
                pass
        gb.db.commit()


def _zero_cells(gb: Gradebook, assignment: str, reason: str) -> list[dict]:
    return [
        {"notebook": nb.name, "cell": gc.name, "max_score": gc.max_score, "score": 0.0, "reason": reason,
         "tampered": "", "detail": "", "transitions": {}}
        for nb in gb.find_assignment(assignment).notebooks
        for gc in nb.grade_cells
    ]  # fmt: skip


def sandbox_gap(data: dict) -> list[str]:
    """The defences that did not hold for this submission, as "name (why)"."""
    return [f"{k} ({v})" for k, v in sorted((data.get("missing") or {}).items())]


def _result_notes(data: dict, cells: list[dict]) -> list[str]:
    """What the instructor reads beside a graded result: errors, grading's notes, tampering, sandbox gaps."""
    notes = [data["error"]] if data.get("error") else []
    notes += data.get("notes", [])
    notes += [f"{c['cell']}: tampered: {c['reason']}" if c["score"] == 0 and c["tampered"] == "deleted"
              else f"{c['cell']}: tampered ({c['tampered']})" for c in cells if c.get("tampered")]  # fmt: skip
    gap = sandbox_gap(data)
    if gap:
        notes.append("sandbox: missing " + ", ".join(gap))
    return notes


def finish(course, assignment, student, fp, job, data, why, seconds, gb: Gradebook) -> Outcome:
    """Merge one result (or a zero with the reason) and record the fingerprint and the flags."""
    notes: list[str] = []
    flags: list[dict] = []
    if data is None or not data.get("cells"):
        reason = (f"stopped after {job.notebook_timeout:g} s (notebook time limit)" if why == "timeout"
                  else f"could not be autograded: {why or (data or {}).get('error') or 'no result'}")  # fmt: skip
        cells, notes, kind = (
            _zero_cells(gb, assignment, reason),
            [reason],
            ("timeout" if why == "timeout" else "failed"),
        )
    else:
        cells, kind = data["cells"], ("failed" if data.get("status") == "failed" else "graded")
        flags = data.get("flags", [])
        notes = _result_notes(data, cells)
    merge(course, assignment, student, cells, gb)
    dest = course.path("autograded", student, assignment)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    _copy_submission_files(course.path("submitted", student, assignment), dest)
    built = Path(job.out_dir)
    for nb in sorted(built.glob("*.ipynb")) if built.is_dir() else []:
        shutil.copyfile(nb, dest / nb.name)
    score = sum(c["score"] or 0 for c in cells)
    max_score = sum(c["max_score"] for c in cells)
    state = {"fingerprint": fp, "status": kind, "score": score, "max_score": max_score, "notes": notes,
             "cells": cells, "flags": flags, "seconds": round(seconds, 2),
             "sandbox": (data or {}).get("sandbox", []), "missing": (data or {}).get("missing", {}),
             "calls": (data or {}).get("calls", 0), "trusted_cpu": (data or {}).get("trusted_cpu")}  # fmt: skip
    p = state_path(course, assignment, student)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(state, indent=1, sort_keys=True))
    return Outcome(student, kind, score, max_score, seconds, notes, flags)


def _copy_submission_files(src: Path, dest: Path, limit: int = 20 << 20) -> None:
    """What nbgrader copies along (timestamp.txt, data files): regular files only, never a link."""
    for f in sorted(src.iterdir()) if src.is_dir() else []:
        if f.suffix == ".ipynb" or f.is_symlink() or not f.is_file() or f.stat().st_size > limit:
            continue
        shutil.copyfile(f, dest / f.name, follow_symlinks=False)
