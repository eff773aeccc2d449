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
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.sandbox import claim_uid

from .course import Course
from .progress import Progress
from .records import Outcome, fingerprint, finish, load_state
from .steps import PipelineError
from .view import ViewError, grading_view
from .worker import Job, WorkerProcess, grade_submission


def source_cells(course: Course, assignment: str) -> dict[str, dict[str, str]]:
    """Per notebook, its test and locked cells as the gradebook holds them (hidden tests included, as
    nbgrader restores them): read once here, carried to the workers with every job."""
    with Gradebook(course.db_url, course.coursedir().course_id) as gb:
        try:
            notebooks = gb.find_assignment(assignment).notebooks
        except MissingEntry:
            return {}
        return {nb.name: {c.name: c.source for c in nb.source_cells if c.locked} for nb in notebooks}


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
    key = hashlib.sha256(course.grading_key()).hexdigest()  # a new key asks new numbers: a regrade
    settings = {"cell_timeout": cell_timeout, "notebook_timeout": notebook_timeout, "sandbox": sandbox, "key": key}
    bar = Progress(len(students), progress, unit="submission")
    outcomes, todo = _skip_unchanged(course, assignment, students, settings, force, bar)
    course.make_private()
    if not todo:
        bar.close()
        return sorted(outcomes, key=lambda o: o.student)
    n_notebooks = max(1, len(list(course.path("release", ".", assignment).glob("*.ipynb"))))
    _grade_todo(course, assignment, todo, bar, outcomes, workers=workers, scheduler=scheduler, cells=cells,
                cell_timeout=cell_timeout, notebook_timeout=notebook_timeout,
                required=sandbox and os.geteuid() == 0, limit=notebook_timeout * n_notebooks + 60)  # fmt: skip
    return sorted(outcomes, key=lambda o: o.student)


def _grade_todo(course: Course, assignment: str, todo: list[tuple[str, str]], bar: Progress, outcomes: list[Outcome],
                *, workers: int, scheduler: str | None, cells: Progress | None, cell_timeout: int,
                notebook_timeout: float, required: bool, limit: float) -> None:  # fmt: skip
    """Grade `todo` in a private batch directory and merge each result as it comes (this thread only)."""
    with tempfile.TemporaryDirectory(prefix="tcpclose-batch-") as tmp, ExitStack() as stack:
        stack.callback(bar.close)
        os.chmod(tmp, 0o700)
        batch = Path(tmp)
        pool = None
        if scheduler is None and workers > 0:  # their interpreters start while the batch is prepared
            ahead = (str(course.root), assignment)
            pool = stack.enter_context(LocalPool(min(workers, len(todo)), batch, limit, ahead))
        sources = source_cells(course, assignment)
        gb = stack.enter_context(Gradebook(course.db_url, course.coursedir().course_id))  # the only writer
        if scheduler is not None:
            from .cluster import grade_on_cluster

            items = grade_on_cluster(scheduler, course, assignment, todo, sources, batch, cell_timeout,
                                     notebook_timeout, required, limit, bar.start)  # fmt: skip
        else:
            jobs = _Jobs(course, assignment, sources, batch, _grading_view(batch), cell_timeout, notebook_timeout,
                         required, workers > 0, stack)  # fmt: skip
            if pool is None:  # in this process: one submission after another
                items = _grade_here(todo, jobs, bar, cells)
            else:
                items = pool.run(todo, jobs.job_for, [jobs.claimed() for _ in pool.slots], bar.start)
        for item in items:
            _collect(course, assignment, item, outcomes, bar, gb)


def _skip_unchanged(course: Course, assignment: str, students: list[str], settings: dict, force: bool,
                    bar: Progress) -> tuple[list[Outcome], list[tuple[str, str]]]:  # fmt: skip
    """The outcomes of submissions unchanged since their last autograde, and (student, fingerprint)
    of the ones to grade."""
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
    return outcomes, todo


def _grading_view(batch: Path) -> Path:
    """The package as the sandboxes see it, under `batch`, readable by their uids."""
    try:
        view = grading_view(batch / "view")
    except ViewError as e:
        raise PipelineError(str(e)) from None
    os.chmod(batch, 0o711)  # the sandboxes' roots are assembled below; nothing here is theirs to read
    for d in view.rglob("*"):
        d.chmod(0o755 if d.is_dir() else 0o644)
    view.chmod(0o755)
    return view


@dataclass
class _Jobs:
    """What every job of a local batch shares; a job per student, and a sandbox uid per worker."""

    course: Course
    assignment: str
    sources: dict[str, dict[str, str]]
    batch: Path
    view: Path
    cell_timeout: int
    notebook_timeout: float
    required: bool
    fork_server: bool
    stack: ExitStack  # holds the claimed uids until the batch ends

    def job_for(self, student: str, uid: int | None) -> Job:
        return Job(str(self.course.root), self.assignment, student, self.sources, str(self.batch / "out" / student),
                   str(self.view), str(self.batch), self.cell_timeout, self.notebook_timeout, uid,
                   required=self.required, hide=[str(self.batch)], fork_server=self.fork_server,
                   key=self.course.grading_key().hex())  # fmt: skip

    def claimed(self) -> int | None:
        if os.geteuid() != 0:
            return None
        try:
            return self.stack.enter_context(claim_uid())
        except RuntimeError as e:  # every sandbox uid is taken by other grading runs on this host
            raise PipelineError(f"{e}; wait for them or grade with fewer --workers") from None


def _grade_here(todo: list[tuple[str, str]], jobs: _Jobs, bar: Progress, cells: Progress | None) -> Iterator[tuple]:
    """Grade in this process, one submission after another; yield each result as the pool does."""
    uid = jobs.claimed()
    for s, fp in todo:
        bar.start(s)
        job, started = jobs.job_for(s, uid), time.monotonic()
        try:
            data, why = grade_submission(job, cells), ""
        except Exception as e:  # noqa: BLE001 - recorded for that submission only
            data, why = None, f"{type(e).__name__}: {e}"
        yield s, fp, job, data, why, time.monotonic() - started


class LocalPool:
    """Long-lived worker processes on this machine, one thread each handing it jobs; results come
    back to the caller's thread (the only one that writes the gradebook)."""

    def __init__(self, n: int, batch: Path, limit: float, ahead: tuple[str, str] | None = None) -> None:
        self.slots = [WorkerProcess(None, batch / f"worker-{k}.log", ahead) for k in range(n)]
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
    outcomes.append(finish(course, assignment, s, fp, job, data, why, seconds, gb))
    o = outcomes[-1]
    bar.step(s, f"{o.status} {o.score:g}/{o.max_score:g}" + (f" — {o.notes[0]}" if o.notes else ""))
