"""Autograde a cohort: parallel, resumable, bounded in time, one gradebook writer.

nbgrader autograde grades submissions one after another in one process, so one hostile notebook
can stall or crash the batch. Here every submission is graded by its own worker process
(autograder.pipeline.worker), `workers` at a time; a thread per slot waits for its worker with
the per-notebook time limit and kills it (and every process of the slot's uid) when it runs over.
Workers never touch the real gradebook: the main thread merges each result serially, so SQLite
sees a single writer and no "database is locked".

Resumable: a submission whose files, release version and grading settings are unchanged since
its last autograde (same fingerprint) is skipped. Submissions are only ever read.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.sandbox import claim_uid, kill_uid

from .course import Course
from .progress import Progress
from .steps import PipelineError
from .worker import Job

SCORING_VERSION = "1"  # bump when a change to the pipeline changes scores: forces a regrade


@dataclass
class Outcome:
    student: str
    status: str  # graded | skipped | failed | timeout
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def fingerprint(course: Course, assignment: str, student: str, settings: dict) -> str:
    h = hashlib.sha256(json.dumps([SCORING_VERSION, settings], sort_keys=True).encode())
    for base in (course.path("release", ".", assignment), course.path("submitted", student, assignment)):
        for f in sorted(p for p in base.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(base)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def state_path(course: Course, assignment: str, student: str) -> Path:
    return course.state_dir / assignment / f"{student}.json"


def load_state(course: Course, assignment: str, student: str) -> dict | None:
    p = state_path(course, assignment, student)
    return json.loads(p.read_text()) if p.exists() else None


def _snapshot(course: Course, dest: Path) -> None:
    """A consistent copy of the gradebook for workers to start from (SQLite online backup)."""
    src = course.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(src) as a, sqlite3.connect(dest) as b:
        a.backup(b)


def _run_worker(job: Job, timeout: float, slots: queue.Queue) -> tuple[dict | None, str, float]:
    slot = slots.get()
    try:
        if os.geteuid() == 0:
            with claim_uid() as uid:
                job.uid = uid
                return _run_as(job, timeout)
        job.uid = None
        return _run_as(job, timeout)
    finally:
        slots.put(slot)


def _run_as(job: Job, timeout: float) -> tuple[dict | None, str, float]:
    spec = Path(job.result_path).with_suffix(".job.json")
    spec.write_text(json.dumps(asdict(job)))
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder.pipeline.worker", str(spec)],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        _, err = proc.communicate(timeout=timeout)
        status = "" if proc.returncode == 0 else (err.strip().splitlines() or ["worker failed"])[-1]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        status = "timeout"
    finally:
        if job.uid is not None:
            kill_uid(job.uid)
    result = Path(job.result_path)
    data = json.loads(result.read_text()) if status == "" and result.exists() else None
    return data, status, time.monotonic() - start


def merge(course: Course, assignment: str, student: str, cells: list[dict]) -> None:
    """Write one submission's scores into the real gradebook (called from one thread only)."""
    cd = course.coursedir()
    ts = cd.get_existing_timestamp(str(course.path("submitted", student, assignment)))
    with Gradebook(course.db_url, cd.course_id) as gb, warnings.catch_warnings():
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
        gb.db.commit()


def _zero_cells(course: Course, assignment: str, reason: str) -> list[dict]:
    with Gradebook(course.db_url, course.coursedir().course_id) as gb:
        return [
            {"notebook": nb.name, "cell": gc.name, "max_score": gc.max_score, "score": 0.0, "reason": reason, "tampered": ""}
            for nb in gb.find_assignment(assignment).notebooks
            for gc in nb.grade_cells
        ]


def autograde(
    course: Course,
    assignment: str,
    students: list[str] | None = None,
    workers: int = 2,
    notebook_timeout: float = 600,
    cell_timeout: int | None = None,
    force: bool = False,
    sandbox: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Autograde every (or the named) submission of `assignment`; returns one Outcome each."""
    students = students if students is not None else course.students(assignment)
    if not course.path("release", ".", assignment).is_dir():
        raise PipelineError(f"{assignment} has no release version yet: run `tcpclose grade generate {assignment}`")
    cell_timeout = cell_timeout or int(course.config().Execute.get("timeout", 60))
    settings = {"cell_timeout": cell_timeout, "notebook_timeout": notebook_timeout, "sandbox": sandbox}
    bar = Progress(len(students), progress)
    outcomes: list[Outcome] = []
    todo = []
    for s in students:
        fp = fingerprint(course, assignment, s, settings)
        state = load_state(course, assignment, s)
        if not force and state and state["fingerprint"] == fp and course.path("autograded", s, assignment).exists():
            outcomes.append(Outcome(s, "skipped", state["score"], state["max_score"], notes=state["notes"]))
            bar.step(s, "skipped (unchanged since last autograde)")
        else:
            todo.append((s, fp))
    course.make_private()
    if not todo:
        return outcomes
    with tempfile.TemporaryDirectory(prefix="tcpclose-batch-") as tmp:
        snap = Path(tmp) / "gradebook.db"
        _snapshot(course, snap)
        slots: queue.Queue = queue.Queue()
        for k in range(workers):
            slots.put(k)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {}
            for s, fp in todo:
                job = Job(str(course.root), assignment, s, str(snap), str(Path(tmp) / f"{s}.result"), cell_timeout,
                          sandbox=sandbox, hide=[tmp])
                futures[pool.submit(_run_worker, job, notebook_timeout, slots)] = (s, fp, job)
            for fut in as_completed(futures):
                s, fp, job = futures[fut]
                outcomes.append(_finish(course, assignment, s, fp, job, *fut.result(), notebook_timeout))
                o = outcomes[-1]
                bar.step(s, f"{o.status} {o.score:g}/{o.max_score:g}" + (f" — {o.notes[0]}" if o.notes else ""))
    return sorted(outcomes, key=lambda o: o.student)


def sandbox_gap(achieved: list[str]) -> bool:
    """True when the kernel ran with less isolation than asked (no namespaces on this host)."""
    return not achieved or any(a.startswith("isolation unavailable") for a in achieved)


def _finish(course, assignment, student, fp, job, data, status, seconds, notebook_timeout) -> Outcome:
    """Merge one worker's result (or a zero with the reason) and record the fingerprint."""
    notes: list[str] = []
    if data is None:
        why = (f"stopped after {notebook_timeout:g} s (notebook time limit)" if status == "timeout"
               else f"could not be autograded: {status}")
        cells, notes, kind = _zero_cells(course, assignment, why), [why], ("timeout" if status == "timeout" else "failed")
    else:
        cells, kind = data["cells"], "graded"
        if data["error"]:
            notes.append(data["error"])
        notes += data["answer_errors"]
        notes += [f"{c['cell']}: {c['reason']}" for c in cells if c["tampered"]]
        if sandbox_gap(data["sandbox"]):
            notes.append(f"sandbox: {', '.join(data['sandbox']) or 'not used'}")
    merge(course, assignment, student, cells)
    dest = course.path("autograded", student, assignment)
    built = Path(job.result_path).with_suffix(".autograded")
    if dest.exists():
        shutil.rmtree(dest)
    if built.exists():
        shutil.copytree(built, dest)
    else:
        dest.mkdir(parents=True)
    score = sum(c["score"] or 0 for c in cells)
    max_score = sum(c["max_score"] for c in cells)
    state = {"fingerprint": fp, "status": kind, "score": score, "max_score": max_score, "notes": notes,
             "cells": cells, "seconds": round(seconds, 2), "sandbox": (data or {}).get("sandbox", [])}
    p = state_path(course, assignment, student)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(state, indent=1, sort_keys=True))
    return Outcome(student, kind, score, max_score, seconds, notes)
