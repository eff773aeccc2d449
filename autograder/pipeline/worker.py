"""A trusted grading worker: imports the grader once, then grades one submission after another.

It never imports nbgrader (seconds of import): what grading needs of the gradebook (the test
and locked cells' source) comes with each job.

`python -m autograder.pipeline.worker` reads jobs as frames on stdin and answers each with its
result on stdout (autograder.runner.channel framing). It never writes the real gradebook (the
parent merges every result, one writer) and it never runs learner code itself: each notebook's
cells run in their own sandbox (autograder.sandbox), started fresh for every submission, so
nothing of one student's reaches another's. What the worker keeps between submissions is only
its own: imported modules and the reference's runs, computed once.

`grade_submission(job)` is the whole of one submission, also called in-process by `tcpclose check`.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

if __name__ == "__main__":
    # jsonschema (under nbformat) compiles an IRI grammar at import, seconds of a worker's start, for a
    # format no notebook schema uses: a worker goes without it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]

import nbformat

from autograder.manifest import ManifestError, load_manifest
from autograder.runner.channel import Channel, ChannelClosed, ChannelTimeout, ProtocolError
from autograder.sandbox import SandboxError, SandboxPolicy, Zygote, kill_uid

from .grade import NotebookGrade, as_dicts, grade_notebook, read_notebook
from .progress import Progress
from .remote import RunnerSession
from .remote_records import RunnerLimits
from .renumber import Renumbering
from .view import real_package_dirs


@dataclass
class Job:
    """What the parent asks a worker to grade."""

    course_root: str
    assignment: str
    student: str
    sources: dict[str, dict[str, str]]  # per notebook: its test and locked cells as the gradebook holds them
    out_dir: str  # where the autograded notebooks go
    view: str  # the grading view of the packages (autograder.pipeline.view)
    scratch: str  # a private directory for the sandboxes' roots
    cell_timeout: float = 60
    notebook_timeout: float = 600
    uid: int | None = None  # the worker slot's uid when root
    required: bool = False  # every sandbox defence must hold
    hide: list[str] = field(default_factory=list)
    debug: bool = False
    fork_server: bool = False  # a long-lived worker: fork each sandbox from a server that imported once
    key: str = ""  # the course's grading key, hex (Course.grading_key): the numbers every call is asked at


_ZYGOTES: dict[tuple, Zygote | None] = {}  # this worker's fork servers (None: it could not start one here)


def _starter(job: Job, release: Path, scratch: Path, hide: tuple[str, ...]):
    """Start each sandbox of this job by forking it from this worker's fork server (started on first
    use, kept for the next submissions with the same view); None means exec a fresh runner each time."""
    if not job.fork_server:
        return None
    base = SandboxPolicy(view=job.view, scratch="", hide=hide, debug=job.debug)
    preload = preloads(release)
    key = (base.to_json(), preload)
    if key not in _ZYGOTES:
        for other in [z for z in _ZYGOTES.values() if z is not None]:
            other.close()  # another batch's view: not needed any more
        _ZYGOTES.clear()
        root = Path(tempfile.mkdtemp(prefix="fork-server-", dir=job.scratch))
        try:
            _ZYGOTES[key] = Zygote(replace(base, scratch=str(root)), preload)
        except SandboxError as e:  # e.g. no user namespaces here: exec a runner per sandbox, as before
            print(f"grading without a fork server: {e}", file=sys.stderr, flush=True)
            _ZYGOTES[key] = None
    zygote = _ZYGOTES[key]
    if zygote is not None and not zygote.alive():
        del _ZYGOTES[key]
        return _starter(job, release, scratch, hide)
    if zygote is None:
        return None

    def start(policy: SandboxPolicy):
        return zygote.spawn(policy, timeout=RunnerLimits().start)

    return start


def close_fork_servers() -> None:
    for zygote in _ZYGOTES.values():
        if zygote is not None:
            zygote.close()
    _ZYGOTES.clear()


def preloads(release: Path) -> tuple[str, ...]:
    """The modules the release notebooks' own cells import (absolute imports, in order): what a fork
    server imports once so that no sandbox spends its first seconds importing them again."""
    names: dict[str, None] = {}
    for path in sorted(release.glob("*.ipynb")):
        try:
            nb = read_notebook(path)
        except Exception:  # noqa: BLE001 - the grader reads it again and says what is wrong
            continue
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue  # magics and the like
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(dict.fromkeys(a.name for a in node.names))
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names[node.module] = None
    return tuple(names)


def _policy(job: Job, release: Path, scratch: Path):
    files = tuple(str(p) for p in sorted(release.iterdir()) if p.is_file() and not p.is_symlink()
                  and p.suffix != ".ipynb")  # fmt: skip
    course = Path(job.course_root).resolve()
    inside = any(course.is_relative_to(Path(h).resolve()) for h in job.hide)  # hidden with what holds it
    hide = tuple(dict.fromkeys([*real_package_dirs(), *([] if inside else [str(course)]), *job.hide]))

    def make() -> SandboxPolicy:
        root = Path(tempfile.mkdtemp(prefix="sandbox-", dir=scratch))
        return SandboxPolicy(view=job.view, scratch=str(root), files=files, hide=hide, uid=job.uid,
                             required=job.required, debug=job.debug)  # fmt: skip

    return make, hide


def grade_submission(job: Job, progress: Progress | None = None) -> dict:
    """Grade every notebook of one submission; the result is plain JSON for the parent.
    `progress` (in this process only) hears of each test cell."""
    started, cpu = time.monotonic(), time.process_time()
    release = Path(job.course_root) / "release" / job.assignment
    submitted = Path(job.course_root) / "submitted" / job.student / job.assignment
    out = {"student": job.student, "status": "graded", "error": "", "cells": [], "flags": [], "notes": [],
           "sandbox": [], "missing": {}, "calls": 0}  # fmt: skip
    try:
        manifest = load_manifest(job.assignment, Path(job.course_root))
        numbers = Renumbering.from_key(bytes.fromhex(job.key)) if job.key else None
    except (ManifestError, ValueError) as e:
        return out | {"status": "failed", "error": str(e)}
    if numbers is None:
        return out | {"status": "failed", "error": "no grading key came with the job (Course.grading_key)"}
    Path(job.out_dir).mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="tcpclose-sandboxes-", dir=job.scratch))
    limits = RunnerLimits(cell=job.cell_timeout)
    try:
        for path in sorted(release.glob("*.ipynb")):
            make, hide = _policy(job, release, scratch)
            session = RunnerSession(make, hide, limits, numbers, _starter(job, release, scratch, hide))
            session.loopback = manifest.loopback
            deadline = time.monotonic() + job.notebook_timeout
            try:
                graded = grade_notebook(path.stem, read_notebook(path), submitted / path.name, manifest, session,
                                        job.sources.get(path.stem, {}), deadline, progress)  # fmt: skip
            finally:
                session.close()
                if job.uid is not None and os.geteuid() == 0:
                    kill_uid(job.uid)
            _add_notebook(out, graded, session)
            if graded.notebook is not None:
                nbformat.write(graded.notebook, Path(job.out_dir) / path.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out["seconds"] = round(time.monotonic() - started, 2)
    out["trusted_cpu"] = round(time.process_time() - cpu, 3)  # the grader's own CPU: checks, codec, the pipe
    return out


def _add_notebook(out: dict, graded: NotebookGrade, session: RunnerSession) -> None:
    """One graded notebook into the submission's result: its cells, flags, notes, calls and sandbox."""
    out["cells"] += as_dicts(graded.cells)
    out["flags"] += graded.flags
    out["notes"] += graded.notes
    out["calls"] += graded.calls
    out["sandbox"] = session.sandbox["achieved"]
    out["missing"] |= session.sandbox["missing"]
    if session.start_error:
        out["status"], out["error"] = "failed", session.start_error


def serve(channel: Channel) -> None:
    """Grade jobs until the parent closes the pipe."""
    while True:
        try:
            frame = channel.recv()
        except ChannelClosed:
            close_fork_servers()
            return
        if frame.get("op") == "prepare":
            prepare_ahead(frame["assignment"], Path(frame["course_root"]))
            continue
        job = Job(**frame["job"])
        try:
            result = grade_submission(job)
        except Exception as e:  # noqa: BLE001 - the parent records it; the next job goes on
            result = {"student": job.student, "status": "failed", "error": f"{type(e).__name__}: {e}"[:500]}
        channel.send({"op": "graded", "result": result})


def prepare_ahead(assignment: str, course_root: Path) -> None:
    """The reference's part of grading `assignment` (its runs, fixtures, expected answers), computed
    while the parent still prepares the batch: every submission then costs only its own checks."""
    from autograder.checks import prepare

    try:
        prepare(assignment, course_root)
    except Exception as e:  # noqa: BLE001 - grading computes each case when it first needs it
        print(f"could not prepare {assignment} ahead ({type(e).__name__}: {e})", file=sys.stderr, flush=True)


def job_frame(job: Job) -> dict:
    return {"op": "grade", "job": asdict(job)}


class WorkerProcess:
    """One long-lived trusted worker, replaced when it dies or runs over."""

    def __init__(self, uid: int | None, log: Path, ahead: tuple[str, str] | None = None) -> None:
        self.uid, self.log = uid, log
        self.ahead = ahead  # (course root, assignment) to prepare as soon as it starts
        self.proc: subprocess.Popen | None = None
        self.channel: Channel | None = None

    def _start(self) -> Channel:
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "autograder.pipeline.worker"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err, start_new_session=True)  # fmt: skip
        self.channel = Channel(self.proc.stdout.fileno(), self.proc.stdin.fileno())
        if self.ahead is not None:
            self.channel.send({"op": "prepare", "course_root": self.ahead[0], "assignment": self.ahead[1]})
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
            said = (
                [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
                if self.log.exists()
                else []
            )
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


def _orphaned(parent: int) -> None:
    """Exit when the process that started this worker is gone (its fork server, and every sandbox, follow)."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


if __name__ == "__main__":
    import threading

    threading.Thread(target=_orphaned, args=(os.getppid(),), daemon=True).start()
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    # Anything printed by a library goes to stderr, never into the conversation on stdout.
    talk_out = os.dup(stdout)
    os.dup2(sys.stderr.fileno(), stdout)
    serve(Channel(stdin, talk_out))
