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

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .cluster_task import grade_parcel, package_digest, parcel, ping

if TYPE_CHECKING:
    from .course import Course
    from .worker import Job

SCHEDULER_ENV = "TCPCLOSE_SCHEDULER"
# Seconds to reach the scheduler (twice that to get it back once lost), and to wait for a worker.
CONNECT_SECONDS = float(os.environ.get("TCPCLOSE_DASK_CONNECT_TIMEOUT", 10))
NO_WORKERS_SECONDS = float(os.environ.get("TCPCLOSE_DASK_NO_WORKERS_TIMEOUT", 120))


class ClusterError(Exception):
    """The Dask cluster cannot be used; the message is one sentence, `code` the exit code."""

    def __init__(self, sentence: str, code: int = 2) -> None:
        super().__init__(sentence)
        self.code = code


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
        settings = {"cell_timeout": cell_timeout, "notebook_timeout": notebook_timeout, "required": required,
                    "limit": limit, "key": course.grading_key().hex()}  # fmt: skip
        futures, began = _submit(client, course, assignment, todo, sources, settings, started)
        pending, health, graded = set(futures), _Health(address, len(todo)), 0
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
                data, why = _unpack(answer, job, why)
                yield s, fp, job, data, why, time.monotonic() - began[s]
            if pending:
                health.check(client, graded)
    finally:
        try:
            client.close(timeout=5)
        except Exception:  # noqa: BLE001 - closing a client whose scheduler is gone
            pass


def _submit(client, course: Course, assignment: str, todo: list[tuple[str, str]], sources: dict, settings: dict,
            started: Callable[[str], None]) -> tuple[dict, dict[str, float]]:  # fmt: skip
    """One task per submission, keyed by its fingerprint: {future: (student, fingerprint)}, {student: when sent}."""
    futures, began = {}, {}
    for s, fp in todo:
        f = client.submit(grade_parcel, parcel(course, assignment, s, sources, settings),
                          key=f"tcpclose-{assignment}-{s}-{fp[:16]}", retries=1)  # fmt: skip
        futures[f], began[s] = (s, fp), time.monotonic()
        started(s)
    return futures, began


def _unpack(answer: dict | None, job: Job, why: str) -> tuple[dict | None, str]:
    """A task's answer: its autograded notebooks written where a local job writes them; (result, why)."""
    if answer is None:
        return None, why
    out = Path(job.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (answer.get("notebooks") or {}).items():
        (out / Path(name).name).write_text(text)
    return answer.get("result"), answer.get("why") or ""


class _Health:
    """How long the cluster has been without its scheduler, or without workers: past its limit, ClusterError."""

    def __init__(self, address: str, total: int) -> None:
        self.address, self.total = address, total
        self.lost: float | None = None  # since when the client has not been running
        self.lonely: float | None = None  # since when the scheduler has had no worker

    def check(self, client, graded: int) -> None:
        now = time.monotonic()
        if client.status != "running":
            self.lost = self.lost or now
            if now - self.lost > CONNECT_SECONDS * 2:
                raise _went_away(self.address, graded, self.total)
            return
        self.lost = None
        workers = client.scheduler_info().get("workers") or {}
        self.lonely = None if workers else (self.lonely or now)
        if self.lonely and now - self.lonely > NO_WORKERS_SECONDS:
            raise ClusterError(f"the Dask cluster at {self.address} has had no workers for {NO_WORKERS_SECONDS:g} s "
                               f"({graded} of {self.total} submissions graded and kept); start "
                               "workers and run the same command again to grade the rest", 1)  # fmt: skip


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
