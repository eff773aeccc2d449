"""Autograde on a Dask distributed cluster: one task per submission, the gradebook written here only.

`tcpclose grade autograde NAME --scheduler tcp://HOST:8786` (or $TCPCLOSE_SCHEDULER). Each task
carries a parcel: the submission's files, the release's files, the grading manifest and the test
and locked cells' source, so the workers need no shared filesystem, only this package installed
(the same version: checked before anything is sent). On a worker the task lays the parcel out as
a course of one submission in a private directory and grades it exactly as a local worker does:
the worker process keeps its grading view, its sandbox uid and its fork server from one task to
the next, and every submission still runs in a sandbox of its own. The task returns the result
and the autograded notebooks; the parent merges each into the gradebook as it arrives, once.

A task lost with its worker is run again elsewhere by the scheduler; its result arrives once, so
a submission lands in the gradebook once. A cluster that cannot be reached, loses its scheduler,
has no worker for too long, or whose workers lack the package raises ClusterError (one sentence,
an exit code): whatever was merged before stays graded, and the same command grades the rest.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .course import Course

SCHEDULER_ENV = "TCPCLOSE_SCHEDULER"
# Seconds to reach the scheduler (twice that to get it back once lost), and to wait for a worker.
CONNECT_SECONDS = float(os.environ.get("TCPCLOSE_DASK_CONNECT_TIMEOUT", 10))
NO_WORKERS_SECONDS = float(os.environ.get("TCPCLOSE_DASK_NO_WORKERS_TIMEOUT", 120))
FILE_LIMIT = 20 << 20  # per file carried in a parcel, as collect copies along


class ClusterError(Exception):
    """The Dask cluster cannot be used; the message is one sentence, `code` the exit code."""

    def __init__(self, sentence: str, code: int = 2) -> None:
        super().__init__(sentence)
        self.code = code


# ---- what a task carries and does (runs on the Dask worker) ------------------------------------


def _files(base: Path) -> dict[str, bytes]:
    """Regular files under `base` (never a link), by relative path."""
    out = {}
    for f in sorted(base.rglob("*")) if base.is_dir() else []:
        if f.is_file() and not f.is_symlink() and f.stat().st_size <= FILE_LIMIT:
            out[f.relative_to(base).as_posix()] = f.read_bytes()
    return out


def parcel(course: Course, assignment: str, student: str, sources: dict, settings: dict) -> dict:
    manifest = course.path("source", ".", assignment) / "manifest.py"
    return {
        "assignment": assignment, "student": student, "sources": sources, "settings": settings,
        "release": _files(course.path("release", ".", assignment)),
        "submitted": _files(course.path("submitted", student, assignment)),
        "manifest": manifest.read_bytes() if manifest.is_file() else None,
        "digest": package_digest(),
    }  # fmt: skip


def package_digest() -> str:
    """What decides scores on this machine: the installed autograder and reference_impl sources."""
    import autograder
    import reference_impl

    h = hashlib.sha256()
    for package in (reference_impl, autograder):
        top = Path(package.__file__).resolve().parent
        for f in sorted(top.rglob("*.py")):
            h.update(f.relative_to(top.parent).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


_PLACE: dict = {}


def _place() -> dict:
    """This worker process's grading place, made on its first task and kept: a private directory,
    the grading view built from the installed package, and (as root) a sandbox uid claimed host-wide."""
    if not _PLACE:
        from autograder.sandbox import claim_uid

        from .view import grading_view

        stack = ExitStack()
        root = Path(tempfile.mkdtemp(prefix="tcpclose-dask-"))
        view = grading_view(root / "view")
        for d in view.rglob("*"):
            d.chmod(0o755 if d.is_dir() else 0o644)
        view.chmod(0o755)
        os.chmod(root, 0o711)
        uid = stack.enter_context(claim_uid()) if os.geteuid() == 0 else None
        from .worker import WorkerProcess

        worker = WorkerProcess(uid, root / "worker.log")
        stack.callback(worker.close)
        _PLACE.update(root=root, view=view, uid=uid, stack=stack, worker=worker, lock=threading.Lock())
        atexit.register(_leave)
    return _PLACE


def _leave() -> None:
    if _PLACE:
        _PLACE["stack"].close()
        shutil.rmtree(_PLACE["root"], ignore_errors=True)
        _PLACE.clear()


def _write(base: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        dest = (base / rel).resolve()
        if not dest.is_relative_to(base.resolve()):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)


def ping() -> dict:
    """What the parent checks on every worker before sending a submission."""
    return {"digest": package_digest(), "python": sys.version.split()[0], "root": os.geteuid() == 0}


def grade_parcel(p: dict) -> dict:
    """A Dask task: grade one submission from its parcel; the result and its autograded notebooks.

    The grading itself runs in this worker process's own grading worker (autograder.pipeline.worker,
    started once and kept), as a local batch's does: in the main thread of a process of its own
    (the checks' per-call limits use a timer signal there; a Dask task runs in a thread), under the
    per-notebook time limit, and replaced if it dies or runs over."""
    if p.get("digest") != package_digest():
        return {"result": None, "why": "this Dask worker runs another version of the grader; install the same one",
                "notebooks": {}}  # fmt: skip
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment] - as worker.py: seconds saved
    from .worker import Job

    place = _place()
    a, s, settings = p["assignment"], p["student"], p["settings"]
    course = Path(tempfile.mkdtemp(prefix="course-", dir=place["root"]))
    try:
        _write(course / "release" / a, p["release"])
        _write(course / "submitted" / s / a, p["submitted"])
        if p.get("manifest") is not None:
            _write(course / "source" / a, {"manifest.py": p["manifest"]})
        out = course / "out"
        job = Job(str(course), a, s, p["sources"], str(out), str(place["view"]), str(place["root"]),
                  settings["cell_timeout"], settings["notebook_timeout"], place["uid"],
                  required=settings["required"] and os.geteuid() == 0,  # else the result names what is missing
                  hide=[str(place["root"])], fork_server=True)  # fmt: skip
        with place["lock"]:
            data, why = place["worker"].grade(job, settings["limit"])
        notebooks = {f.name: f.read_text() for f in sorted(out.glob("*.ipynb"))} if out.is_dir() else {}
        if data is not None:
            data["worker"] = f"{os.uname().nodename}:{os.getpid()}"
        return {"result": data, "why": why, "notebooks": notebooks}
    finally:
        shutil.rmtree(course, ignore_errors=True)


# ---- the parent's side ------------------------------------------------------------------------


def _client(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise ClusterError("grading on a Dask cluster needs the distributed package here: "
                           "pip install 'dask[distributed]'") from None  # fmt: skip
    import logging

    for name in ("distributed", "distributed.client", "distributed.comm", "distributed.core"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # its reconnect chatter is not the instructor's
    try:
        return Client(address, timeout=CONNECT_SECONDS)  # the default client, for wait(), until closed
    except (OSError, TimeoutError, ValueError, TypeError) as e:
        why = str(e).split("\n")[0][:200] or type(e).__name__
        raise ClusterError(f"no Dask scheduler answered at {address} within {CONNECT_SECONDS:g} s ({why}); "
                           "start one (dask scheduler) or check --scheduler / $TCPCLOSE_SCHEDULER") from None  # fmt: skip


def _check_workers(client, address: str) -> None:
    """Every worker must have this package, the same version: else nothing is sent."""
    mine = package_digest()
    deadline = time.monotonic() + NO_WORKERS_SECONDS
    while not client.scheduler_info().get("workers"):
        if time.monotonic() > deadline:
            raise ClusterError(f"the Dask cluster at {address} has no workers (waited {NO_WORKERS_SECONDS:g} s); "
                               "start some (dask worker ADDRESS), then run the same command again", 1)  # fmt: skip
        time.sleep(0.5)
    try:
        answers = client.run(ping, on_error="return")
    except Exception as e:  # noqa: BLE001 - the cluster's own failure, in one sentence
        raise ClusterError(f"the Dask workers at {address} could not be asked what they run ({type(e).__name__}); "
                           "check that this package is installed on them", 2) from None  # fmt: skip
    lacking = [w for w, a in answers.items() if not isinstance(a, dict)]
    if lacking:
        raise ClusterError(f"{len(lacking)} Dask worker(s) at {address} cannot import this grader ({lacking[0]}"
                           f"{' and others' if len(lacking) > 1 else ''}); install tcp-goodbye, the same version "
                           "as here, where they run (pip install), then run the same command again", 2)  # fmt: skip
    other = [w for w, a in answers.items() if a.get("digest") != mine]
    if other:
        raise ClusterError(f"{len(other)} Dask worker(s) at {address} run another version of the grader than this "
                           f"machine ({other[0]}); install the same version on both, then run the command again", 2)  # fmt: skip


def grade_on_cluster(address: str, course: Course, assignment: str, todo: list[tuple[str, str]], sources: dict,
                     batch: Path, cell_timeout: float, notebook_timeout: float, required: bool, limit: float,
                     started: Callable[[str], None]) -> Iterator[tuple]:  # fmt: skip
    """Yield (student, fingerprint, job, result, why, seconds) as each task finishes, in any order."""
    from distributed import wait

    from .worker import Job

    client = _client(address)
    try:
        _check_workers(client, address)
        settings = {
            "cell_timeout": cell_timeout,
            "notebook_timeout": notebook_timeout,
            "required": required,
            "limit": limit,
        }
        futures, began = {}, {}
        for s, fp in todo:
            f = client.submit(grade_parcel, parcel(course, assignment, s, sources, settings),
                              key=f"tcpclose-{assignment}-{s}-{fp[:16]}", retries=1)  # fmt: skip
            futures[f], began[s] = (s, fp), time.monotonic()
            started(s)
        pending, lonely, lost, graded = set(futures), None, None, 0
        while pending:
            try:
                done, pending = wait(pending, timeout=1.0, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            except Exception:  # noqa: BLE001 - the futures were cancelled: the scheduler is gone
                raise _went_away(address, graded, len(todo)) from None
            for f in done:
                s, fp = futures[f]
                try:
                    answer, why = _outcome(f, address)
                except _Lost:
                    if client.status == "running" and f.status in ("lost", "pending"):
                        pending.add(f)  # its result died with the worker that held it: the scheduler grades it again
                        continue
                    raise _went_away(address, graded, len(todo)) from None
                graded += 1
                job = Job(str(course.root), assignment, s, {}, str(batch / "out" / s), "", "", cell_timeout,
                          notebook_timeout)  # fmt: skip
                data = None
                if answer is not None:
                    out = Path(job.out_dir)
                    out.mkdir(parents=True, exist_ok=True)
                    for name, text in (answer.get("notebooks") or {}).items():
                        (out / Path(name).name).write_text(text)
                    data, why = answer.get("result"), answer.get("why") or ""
                yield s, fp, job, data, why, time.monotonic() - began[s]
            if not pending:
                break
            now = time.monotonic()
            if client.status != "running":
                lost = lost or now
                if now - lost > CONNECT_SECONDS * 2:
                    raise _went_away(address, graded, len(todo))
                continue
            lost = None
            workers = client.scheduler_info().get("workers") or {}
            lonely = None if workers else (lonely or now)
            if lonely and now - lonely > NO_WORKERS_SECONDS:
                raise ClusterError(f"the Dask cluster at {address} has had no workers for {NO_WORKERS_SECONDS:g} s "
                                   f"({graded} of {len(todo)} submissions graded and kept); start "
                                   "workers and run the same command again to grade the rest", 1)  # fmt: skip
    finally:
        try:
            client.close(timeout=5)
        except Exception:  # noqa: BLE001 - closing a client whose scheduler is gone
            pass


class _Lost(Exception):
    """A task's result is gone: with the worker that held it (the scheduler grades it again) or the scheduler."""


def _went_away(address: str, done: int, total: int) -> ClusterError:
    return ClusterError(f"the Dask scheduler at {address} went away ({done} of {total} submissions graded and kept); "
                        "run the same command again to grade the rest", 1)  # fmt: skip


def _outcome(future, address: str) -> tuple[dict | None, str]:
    """A finished task's value, or (None, why) for a failed one; a cluster failure raises ClusterError."""
    status = future.status
    if status == "finished":
        try:
            return future.result(timeout=CONNECT_SECONDS * 3), ""
        except Exception as e:  # noqa: BLE001 - the result is gone: with its worker, or with the scheduler
            raise _Lost from e
    if status in ("cancelled", "lost", "pending"):  # lost: the worker holding the result died after it finished
        raise _Lost
    try:
        error = future.exception(timeout=CONNECT_SECONDS)
    except Exception as e:  # noqa: BLE001
        error = e
    if isinstance(error, ModuleNotFoundError | ImportError):
        raise ClusterError(f"a Dask worker at {address} cannot import this grader ({error}); install tcp-goodbye "
                           "where the workers run, then run the same command again", 2)  # fmt: skip
    name = type(error).__name__
    if name == "KilledWorker":
        return None, "the grading worker died on every try (the submission may take its worker down)"
    return None, f"the Dask task failed ({name}: {str(error)[:200]})"
