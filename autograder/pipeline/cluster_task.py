"""What a Dask task carries and does on its worker: the parcel of one submission, the worker's grading
place (kept from task to task), and the grading itself, exactly as a local worker grades."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sys
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .course import Course

FILE_LIMIT = 20 << 20  # per file carried in a parcel, as collect copies along


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
                  hide=[str(place["root"])], fork_server=True, key=settings["key"])  # fmt: skip
        with place["lock"]:
            data, why = place["worker"].grade(job, settings["limit"])
        notebooks = {f.name: f.read_text() for f in sorted(out.glob("*.ipynb"))} if out.is_dir() else {}
        if data is not None:
            data["worker"] = f"{os.uname().nodename}:{os.getpid()}"
        return {"result": data, "why": why, "notebooks": notebooks}
    finally:
        shutil.rmtree(course, ignore_errors=True)
