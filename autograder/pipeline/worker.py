"""A trusted grading worker: imports the grader once, then grades one submission after another.

`python -m autograder.pipeline.worker` reads jobs as frames on stdin and answers each with its
result on stdout (autograder.runner.channel framing). It never writes the real gradebook (the
parent merges every result, one writer) and it never runs learner code itself: each notebook's
cells run in their own sandbox (autograder.sandbox), started fresh for every submission, so
nothing of one student's reaches another's. What the worker keeps between submissions is only
its own: imported modules and the reference's runs, computed once.

`grade_submission(job)` is the whole of one submission, also called in-process by `tcpclose check`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder.manifest import ManifestError, load_manifest
from autograder.runner.channel import Channel, ChannelClosed
from autograder.sandbox import SandboxPolicy, kill_uid

from .grade import as_dicts, grade_notebook, read_notebook
from .remote import RunnerLimits, RunnerSession
from .view import real_package_dirs


@dataclass
class Job:
    """What the parent asks a worker to grade."""

    course_root: str
    assignment: str
    student: str
    gradebook: str  # a snapshot of the gradebook (read only here)
    out_dir: str  # where the autograded notebooks go
    view: str  # the grading view of the packages (autograder.pipeline.view)
    scratch: str  # a private directory for the sandboxes' roots
    cell_timeout: float = 60
    notebook_timeout: float = 600
    uid: int | None = None  # the worker slot's uid when root
    required: bool = False  # every sandbox defence must hold
    hide: list[str] = field(default_factory=list)
    debug: bool = False


def _source_cells(job: Job, notebook: str) -> dict[str, str]:
    """Test and locked cells as the gradebook holds them (hidden tests included, as nbgrader restores them)."""
    with Gradebook(f"sqlite:///{job.gradebook}") as gb:
        try:
            nb = gb.find_notebook(notebook, job.assignment)
        except MissingEntry:
            return {}
        return {c.name: c.source for c in nb.source_cells if c.locked}


def _policy(job: Job, release: Path, scratch: Path):
    files = tuple(str(p) for p in sorted(release.iterdir()) if p.is_file() and not p.is_symlink()
                  and p.suffix != ".ipynb")  # fmt: skip
    hide = tuple(dict.fromkeys([*real_package_dirs(), str(Path(job.course_root).resolve()), *job.hide]))

    def make() -> SandboxPolicy:
        root = Path(tempfile.mkdtemp(prefix="sandbox-", dir=scratch))
        return SandboxPolicy(view=job.view, scratch=str(root), files=files, hide=hide, uid=job.uid,
                             required=job.required, debug=job.debug)  # fmt: skip

    return make, hide


def grade_submission(job: Job) -> dict:
    """Grade every notebook of one submission; the result is plain JSON for the parent."""
    started, cpu = time.monotonic(), time.process_time()
    release = Path(job.course_root) / "release" / job.assignment
    submitted = Path(job.course_root) / "submitted" / job.student / job.assignment
    out = {"student": job.student, "status": "graded", "error": "", "cells": [], "flags": [], "notes": [],
           "sandbox": [], "missing": {}, "calls": 0}  # fmt: skip
    try:
        manifest = load_manifest(job.assignment, Path(job.course_root))
    except ManifestError as e:
        return out | {"status": "failed", "error": str(e)}
    Path(job.out_dir).mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="tcpclose-sandboxes-", dir=job.scratch))
    limits = RunnerLimits(cell=job.cell_timeout)
    try:
        for path in sorted(release.glob("*.ipynb")):
            name = path.stem
            make, hide = _policy(job, release, scratch)
            session = RunnerSession(make, hide, limits)
            deadline = time.monotonic() + job.notebook_timeout
            try:
                graded = grade_notebook(name, read_notebook(path), submitted / path.name, manifest, session,
                                        _source_cells(job, name), deadline)  # fmt: skip
            finally:
                session.close()
                if job.uid is not None and os.geteuid() == 0:
                    kill_uid(job.uid)
            out["cells"] += as_dicts(graded.cells)
            out["flags"] += graded.flags
            out["notes"] += graded.notes
            out["calls"] += graded.calls
            out["sandbox"] = session.sandbox["achieved"]
            out["missing"] |= session.sandbox["missing"]
            if session.start_error:
                out["status"], out["error"] = "failed", session.start_error
            if graded.notebook is not None:
                nbformat.write(graded.notebook, Path(job.out_dir) / path.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out["seconds"] = round(time.monotonic() - started, 2)
    out["trusted_cpu"] = round(time.process_time() - cpu, 3)  # the grader's own CPU: checks, codec, the pipe
    return out


def serve(channel: Channel) -> None:
    """Grade jobs until the parent closes the pipe."""
    while True:
        try:
            frame = channel.recv()
        except ChannelClosed:
            return
        job = Job(**frame["job"])
        try:
            result = grade_submission(job)
        except Exception as e:  # noqa: BLE001 - the parent records it; the next job goes on
            result = {"student": job.student, "status": "failed", "error": f"{type(e).__name__}: {e}"[:500]}
        channel.send({"op": "graded", "result": result})


def job_frame(job: Job) -> dict:
    return {"op": "grade", "job": asdict(job)}


if __name__ == "__main__":
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    # Anything printed by a library goes to stderr, never into the conversation on stdout.
    talk_out = os.dup(stdout)
    os.dup2(sys.stderr.fileno(), stdout)
    serve(Channel(stdin, talk_out))
