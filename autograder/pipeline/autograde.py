"""Autograde a cohort: trusted workers, one sandbox per submission, one gradebook writer.

`workers` long-lived worker processes (autograder.pipeline.worker) each import the grader once
and grade one submission after another; every submission's cells run in a sandbox of its own,
started fresh for it (autograder.sandbox). A thread per worker hands it jobs and waits for each
with the per-notebook time limit; a worker that runs over, or dies, is killed (with every
process of its uid) and replaced, and that submission alone is marked failed. The main thread
merges each result into nbgrader's gradebook, serially, so SQLite sees a single writer.
`workers=0` grades in this process (what `tcpclose check` does for one notebook).

Resumable: a submission whose files, release version and grading settings are unchanged since
its last autograde (same fingerprint) is skipped. Submissions are only ever read.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.runner.channel import Channel, ChannelClosed, ChannelTimeout, ProtocolError
from autograder.sandbox import claim_uid, kill_uid

from .course import Course
from .progress import Progress
from .steps import PipelineError
from .view import ViewError, grading_view
from .worker import Job, grade_submission, job_frame

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


def _snapshot(course: Course, dest: Path) -> None:
    """A consistent copy of the gradebook for workers to read (SQLite online backup)."""
    src = course.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(src) as a, sqlite3.connect(dest) as b:
        a.backup(b)


class WorkerProcess:
    """One long-lived trusted worker, replaced when it dies or runs over."""

    def __init__(self, uid: int | None, log: Path) -> None:
        self.uid, self.log = uid, log
        self.proc: subprocess.Popen | None = None
        self.channel: Channel | None = None

    def _start(self) -> Channel:
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "autograder.pipeline.worker"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err, start_new_session=True)  # fmt: skip
        self.channel = Channel(self.proc.stdout.fileno(), self.proc.stdin.fileno())
        return self.channel

    def grade(self, job: Job, timeout: float) -> tuple[dict | None, str]:
        """(result, "") or (None, why it failed)."""
        channel = self.channel or self._start()
        try:
            channel.send(job_frame(job))
            frame = channel.recv(time.monotonic() + timeout)
        except ChannelTimeout:
            self.stop()
            return None, "timeout"
        except (ChannelClosed, ProtocolError) as e:
            self.stop()
            said = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()] if self.log.exists() else []
            return None, f"the grading worker stopped ({said[-1][:300] if said else e})"
        if not isinstance(frame, dict) or not isinstance(frame.get("result"), dict):
            self.stop()
            return None, "the grading worker answered with something that is not a result"
        return frame["result"], ""

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                f.close()
        if self.uid is not None and os.geteuid() == 0:
            kill_uid(self.uid)
        self.proc = self.channel = None

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            self.stop()


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
            try:
                comment = gb.find_comment(c["cell"], c["notebook"], assignment, student)
                comment.auto_comment = "No response." if c.get("reason") == "still blank" else None
            except MissingEntry:
                pass
        gb.db.commit()


def _zero_cells(course: Course, assignment: str, reason: str) -> list[dict]:
    with Gradebook(course.db_url, course.coursedir().course_id) as gb:
        return [
            {"notebook": nb.name, "cell": gc.name, "max_score": gc.max_score, "score": 0.0, "reason": reason,
             "tampered": "", "detail": "", "transitions": {}}
            for nb in gb.find_assignment(assignment).notebooks
            for gc in nb.grade_cells
        ]  # fmt: skip


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
            outcomes.append(Outcome(s, "skipped", state["score"], state["max_score"], notes=state["notes"],
                                    flags=state.get("flags", [])))  # fmt: skip
            bar.step(s, "skipped (unchanged since last autograde)")
        else:
            todo.append((s, fp))
    course.make_private()
    if not todo:
        return sorted(outcomes, key=lambda o: o.student)
    n_notebooks = max(1, len(list(course.path("release", ".", assignment).glob("*.ipynb"))))
    with tempfile.TemporaryDirectory(prefix="tcpclose-batch-") as tmp:
        os.chmod(tmp, 0o700)
        batch = Path(tmp)
        snap = batch / "gradebook.db"
        _snapshot(course, snap)
        try:
            view = grading_view(batch / "view")
        except ViewError as e:
            raise PipelineError(str(e)) from None
        os.chmod(batch, 0o711)  # the sandboxes' roots are assembled below; nothing here is theirs to read
        for d in view.rglob("*"):
            d.chmod(0o755 if d.is_dir() else 0o644)
        view.chmod(0o755)

        def job_for(student: str, uid: int | None) -> Job:
            return Job(str(course.root), assignment, student, str(snap), str(batch / "out" / student), str(view),
                       str(batch), cell_timeout, notebook_timeout, uid, required=sandbox and os.geteuid() == 0,
                       hide=[str(batch)], fork_server=workers > 0)  # fmt: skip

        results: queue.Queue = queue.Queue()
        jobs: queue.Queue = queue.Queue()
        for item in todo:
            jobs.put(item)
        limit = notebook_timeout * n_notebooks + 60

        def slot(k: int, uid: int | None) -> None:
            worker = WorkerProcess(uid, batch / f"worker-{k}.log")
            try:
                while True:
                    try:
                        s, fp = jobs.get_nowait()
                    except queue.Empty:
                        return
                    job = job_for(s, uid)
                    started = time.monotonic()
                    data, why = worker.grade(job, limit)
                    results.put((s, fp, job, data, why, time.monotonic() - started))
            finally:
                worker.close()

        def claimed(stack: ExitStack) -> int | None:
            if os.geteuid() != 0:
                return None
            try:
                return stack.enter_context(claim_uid())
            except RuntimeError as e:  # every sandbox uid is taken by other grading runs on this host
                raise PipelineError(f"{e}; wait for them or grade with fewer --workers") from None

        with ExitStack() as stack:
            if workers <= 0:  # in this process: one submission after another
                uid = claimed(stack)
                for s, fp in todo:
                    job, started = job_for(s, uid), time.monotonic()
                    try:
                        data, why = grade_submission(job), ""
                    except Exception as e:  # noqa: BLE001 - recorded for that submission only
                        data, why = None, f"{type(e).__name__}: {e}"
                    _collect(course, assignment, (s, fp, job, data, why, time.monotonic() - started), outcomes, bar)
                return sorted(outcomes, key=lambda o: o.student)
            threads = []
            for k in range(min(workers, len(todo))):
                uid = claimed(stack)
                t = threading.Thread(target=slot, args=(k, uid), daemon=True)
                t.start()
                threads.append(t)
            for _ in todo:
                _collect(course, assignment, results.get(), outcomes, bar)
            for t in threads:
                t.join()
    return sorted(outcomes, key=lambda o: o.student)


def _collect(course: Course, assignment: str, item: tuple, outcomes: list[Outcome], bar: Progress) -> None:
    s, fp, job, data, why, seconds = item
    outcomes.append(_finish(course, assignment, s, fp, job, data, why, seconds))
    o = outcomes[-1]
    bar.step(s, f"{o.status} {o.score:g}/{o.max_score:g}" + (f" — {o.notes[0]}" if o.notes else ""))


def sandbox_gap(data: dict) -> list[str]:
    """The defences that did not hold for this submission, as "name (why)"."""
    return [f"{k} ({v})" for k, v in sorted((data.get("missing") or {}).items())]


def _finish(course, assignment, student, fp, job, data, why, seconds) -> Outcome:
    """Merge one result (or a zero with the reason) and record the fingerprint and the flags."""
    notes: list[str] = []
    flags: list[dict] = []
    if data is None or not data.get("cells"):
        reason = (f"stopped after {job.notebook_timeout:g} s (notebook time limit)" if why == "timeout"
                  else f"could not be autograded: {why or (data or {}).get('error') or 'no result'}")  # fmt: skip
        cells, notes, kind = _zero_cells(course, assignment, reason), [reason], ("timeout" if why == "timeout" else "failed")
    else:
        cells, kind = data["cells"], ("failed" if data.get("status") == "failed" else "graded")
        flags = data.get("flags", [])
        if data.get("error"):
            notes.append(data["error"])
        notes += data.get("notes", [])
        notes += [f"{c['cell']}: tampered: {c['reason']}" if c["score"] == 0 and c["tampered"] == "deleted"
                  else f"{c['cell']}: tampered ({c['tampered']})" for c in cells if c.get("tampered")]  # fmt: skip
        gap = sandbox_gap(data)
        if gap:
            notes.append("sandbox: missing " + ", ".join(gap))
    merge(course, assignment, student, cells)
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
