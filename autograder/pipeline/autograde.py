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
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.sandbox import claim_uid

from .course import Course
from .progress import Progress
from .steps import PipelineError
from .view import ViewError, grading_view
from .worker import Job, WorkerProcess, grade_submission

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


def source_cells(course: Course, assignment: str) -> dict[str, dict[str, str]]:
    """Per notebook, its test and locked cells as the gradebook holds them (hidden tests included, as
    nbgrader restores them): read once here, carried to the workers with every job."""
    with Gradebook(course.db_url, course.coursedir().course_id) as gb:
        try:
            notebooks = gb.find_assignment(assignment).notebooks
        except MissingEntry:
            return {}
        return {nb.name: {c.name: c.source for c in nb.source_cells if c.locked} for nb in notebooks}


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
    scheduler: str | None = None,
    cells: Progress | None = None,
) -> list[Outcome]:
    """Autograde every (or the named) submission of `assignment`; returns one Outcome each.

    `workers` long-lived local workers (0: in this process), or with `scheduler` (a Dask scheduler's
    address) one task per submission on that cluster. Raises ClusterError when the cluster cannot
    be used: every submission merged before that stays graded, and a re-run grades only the rest.
    `cells` hears of each test cell as it is graded (in this process only: `tcpclose check`)."""
    students = students if students is not None else course.students(assignment)
    if not course.path("release", ".", assignment).is_dir():
        raise PipelineError(f"{assignment} has no release version yet: run `tcpclose grade generate {assignment}`")
    cell_timeout = cell_timeout or int(course.config().Execute.get("timeout", 60))
    settings = {"cell_timeout": cell_timeout, "notebook_timeout": notebook_timeout, "sandbox": sandbox}
    bar = Progress(len(students), progress, unit="submission")
    outcomes: list[Outcome] = []
    todo = []
    for s in students:
        fp = fingerprint(course, assignment, s, settings)
        state = load_state(course, assignment, s)
        if not force and state and state["fingerprint"] == fp and course.path("autograded", s, assignment).exists():
            outcomes.append(Outcome(s, "skipped", state["score"], state["max_score"], notes=state["notes"],
                                    flags=state.get("flags", [])))  # fmt: skip
            bar.step(s, "skipped (unchanged since last autograde)", counted=False)
        else:
            todo.append((s, fp))
    course.make_private()
    if not todo:
        bar.close()
        return sorted(outcomes, key=lambda o: o.student)
    n_notebooks = max(1, len(list(course.path("release", ".", assignment).glob("*.ipynb"))))
    limit = notebook_timeout * n_notebooks + 60
    required = sandbox and os.geteuid() == 0
    with tempfile.TemporaryDirectory(prefix="tcpclose-batch-") as tmp, ExitStack() as stack:
        stack.callback(bar.close)
        os.chmod(tmp, 0o700)
        batch = Path(tmp)
        pool = None
        if scheduler is None and workers > 0:  # their interpreters start while the batch is prepared
            pool = stack.enter_context(LocalPool(min(workers, len(todo)), batch, limit))
        sources = source_cells(course, assignment)
        gb = stack.enter_context(Gradebook(course.db_url, course.coursedir().course_id))  # the only writer
        if scheduler is not None:
            from .cluster import grade_on_cluster

            items = grade_on_cluster(scheduler, course, assignment, todo, sources, batch, cell_timeout,
                                     notebook_timeout, required, limit, bar.start)  # fmt: skip
            for item in items:
                _collect(course, assignment, item, outcomes, bar, gb)
            return sorted(outcomes, key=lambda o: o.student)
        try:
            view = grading_view(batch / "view")
        except ViewError as e:
            raise PipelineError(str(e)) from None
        os.chmod(batch, 0o711)  # the sandboxes' roots are assembled below; nothing here is theirs to read
        for d in view.rglob("*"):
            d.chmod(0o755 if d.is_dir() else 0o644)
        view.chmod(0o755)

        def job_for(student: str, uid: int | None) -> Job:
            return Job(str(course.root), assignment, student, sources, str(batch / "out" / student), str(view),
                       str(batch), cell_timeout, notebook_timeout, uid, required=required,
                       hide=[str(batch)], fork_server=workers > 0)  # fmt: skip

        def claimed() -> int | None:
            if os.geteuid() != 0:
                return None
            try:
                return stack.enter_context(claim_uid())
            except RuntimeError as e:  # every sandbox uid is taken by other grading runs on this host
                raise PipelineError(f"{e}; wait for them or grade with fewer --workers") from None

        if pool is None:  # in this process: one submission after another
            uid = claimed()
            for s, fp in todo:
                bar.start(s)
                job, started = job_for(s, uid), time.monotonic()
                try:
                    data, why = grade_submission(job, cells), ""
                except Exception as e:  # noqa: BLE001 - recorded for that submission only
                    data, why = None, f"{type(e).__name__}: {e}"
                _collect(course, assignment, (s, fp, job, data, why, time.monotonic() - started), outcomes, bar, gb)
            return sorted(outcomes, key=lambda o: o.student)
        for item in pool.run(todo, job_for, [claimed() for _ in pool.slots], bar.start):
            _collect(course, assignment, item, outcomes, bar, gb)
    return sorted(outcomes, key=lambda o: o.student)


class LocalPool:
    """Long-lived worker processes on this machine, one thread each handing it jobs; results come
    back to the caller's thread (the only one that writes the gradebook)."""

    def __init__(self, n: int, batch: Path, limit: float) -> None:
        self.slots = [WorkerProcess(None, batch / f"worker-{k}.log") for k in range(n)]
        self.limit = limit

    def __enter__(self) -> LocalPool:
        for worker in self.slots:
            worker.channel = worker._start()  # importing the grader while the batch is prepared
        return self

    def __exit__(self, *exc) -> None:
        for worker in self.slots:
            worker.close()

    def run(self, todo: list[tuple[str, str]], job_for: Callable, uids: list[int | None],
            started: Callable[[str], None]) -> Iterator[tuple]:  # fmt: skip
        events: queue.Queue = queue.Queue()
        jobs: queue.Queue = queue.Queue()
        for item in todo:
            jobs.put(item)

        def slot(worker: WorkerProcess, uid: int | None) -> None:
            worker.uid = uid
            while True:
                try:
                    s, fp = jobs.get_nowait()
                except queue.Empty:
                    return
                events.put(("start", s))
                job = job_for(s, uid)
                began = time.monotonic()
                data, why = worker.grade(job, self.limit)
                events.put(("done", (s, fp, job, data, why, time.monotonic() - began)))

        threads = [
            threading.Thread(target=slot, args=(w, u), daemon=True) for w, u in zip(self.slots, uids, strict=True)
        ]
        for t in threads:
            t.start()
        done = 0
        while done < len(todo):
            kind, item = events.get()
            if kind == "start":
                started(item)
                continue
            done += 1
            yield item
        for t in threads:
            t.join()


def _collect(course: Course, assignment: str, item: tuple, outcomes: list[Outcome], bar: Progress,
             gb: Gradebook) -> None:  # fmt: skip
    s, fp, job, data, why, seconds = item
    outcomes.append(_finish(course, assignment, s, fp, job, data, why, seconds, gb))
    o = outcomes[-1]
    bar.step(s, f"{o.status} {o.score:g}/{o.max_score:g}" + (f" — {o.notes[0]}" if o.notes else ""))


def sandbox_gap(data: dict) -> list[str]:
    """The defences that did not hold for this submission, as "name (why)"."""
    return [f"{k} ({v})" for k, v in sorted((data.get("missing") or {}).items())]


def _finish(course, assignment, student, fp, job, data, why, seconds, gb: Gradebook) -> Outcome:
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
        if data.get("error"):
            notes.append(data["error"])
        notes += data.get("notes", [])
        notes += [f"{c['cell']}: tampered: {c['reason']}" if c["score"] == 0 and c["tampered"] == "deleted"
                  else f"{c['cell']}: tampered ({c['tampered']})" for c in cells if c.get("tampered")]  # fmt: skip
        gap = sandbox_gap(data)
        if gap:
            notes.append("sandbox: missing " + ", ".join(gap))
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
