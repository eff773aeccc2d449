"""The course root and its nbgrader configuration, loaded the way nbgrader itself loads it.

Every step takes a `Course`: one place that knows where source/, release/, submitted/,
autograded/, feedback/ and the gradebook are, so the steps stay small and testable against a
temporary course.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config, PyFileConfigLoader

REPO_COURSE = Path(__file__).resolve().parents[2] / "course"
KEY_NAME = "grading.key"  # Course.grading_key


def ensure_nbgrader_tools() -> None:
    """nbgrader runs the `alembic` executable from PATH when it creates a gradebook; a venv's
    python started by full path (.venv/bin/python, CI) does not have its bin/ on PATH."""
    bindir = os.path.dirname(sys.executable)
    if shutil.which("alembic") is None and os.path.exists(os.path.join(bindir, "alembic")):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


ensure_nbgrader_tools()

_CONVERTING = threading.Lock()


@contextlib.contextmanager
def converting() -> Iterator[None]:
    """Run an nbgrader converter: one at a time, and the working directory put back after.

    A converter chdirs the whole process into the course root and back (nbgrader's
    converters/base.py); two at once on different threads can leave the process in the
    wrong directory for good."""
    with _CONVERTING:
        here = os.getcwd()
        try:
            yield
        finally:
            os.chdir(here)


class PipelineError(Exception):
    """A step could not run; the message says what to do."""


@dataclass(frozen=True)
class Course:
    """A course root directory holding nbgrader_config.py."""

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike | None = None) -> Course:
        """The course named, else $TCPCLOSE_COURSE, else the repository's course/."""
        return cls(Path(root or os.environ.get("TCPCLOSE_COURSE") or REPO_COURSE).resolve())

    @classmethod
    def for_command(cls, root: str | os.PathLike | None = None) -> Course:
        """What a command line means: as `at`, but a current directory holding nbgrader_config.py
        comes before the repository's course/, as it does for nbgrader itself."""
        here = Path.cwd()
        if root is None and not os.environ.get("TCPCLOSE_COURSE") and (here / "nbgrader_config.py").is_file():
            root = here
        return cls.at(root)

    def config(self) -> Config:
        """nbgrader_config.py of this course, with the root and gradebook pinned to this directory."""
        cfg = Config()
        if (self.root / "nbgrader_config.py").exists():
            cfg.merge(PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config())
        cfg.CourseDirectory.root = str(self.root)
        if "db_url" not in cfg.CourseDirectory:
            cfg.CourseDirectory.db_url = f"sqlite:///{self.root / 'gradebook.db'}"
        return cfg

    def coursedir(self, **traits: str) -> CourseDirectory:
        cd = CourseDirectory(config=self.config())
        for k, v in traits.items():
            setattr(cd, k, v)
        return cd

    @property
    def db_url(self) -> str:
        return self.config().CourseDirectory.db_url

    def gradebook(self):
        """nbgrader's gradebook, for a command that reads grades: one that is not there is one sentence
        (nbgrader would create an empty one in whatever folder --course named, and report nothing)."""
        from nbgrader.api import Gradebook

        db = self.db_url.removeprefix("sqlite:///")
        if self.db_url.startswith("sqlite:///") and not os.path.isfile(db):
            raise PipelineError(f"no gradebook at {db}: {self.root} is not a graded course; pass --course DIR, the "
                                "folder holding nbgrader_config.py and gradebook.db (or grade the course first)")  # fmt: skip
        return Gradebook(self.db_url, self.coursedir().course_id)

    def path(self, step: str, student: str, assignment: str) -> Path:
        """course/<step>/<student>/<assignment> (source and release have no student level)."""
        if step in ("source", "release"):
            return self.root / step / assignment
        return self.root / step / student / assignment

    def assignments(self) -> list[str]:
        src = self.root / "source"
        return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) if src.is_dir() else []

    def students(self, assignment: str) -> list[str]:
        sub = self.root / "submitted"
        if not sub.is_dir():
            return []
        return sorted(p.name for p in sub.iterdir() if not p.name.startswith(".") and (p / assignment).is_dir())

    def make_private(self) -> None:
        """Gradebook 0600 and submissions 0700: nbgrader leaves them world-readable (umask), and
        an unprivileged kernel grading *another* course on this host must not read them."""
        db = self.db_url.removeprefix("sqlite:///")
        if os.path.exists(db):
            os.chmod(db, 0o600)
        for step in ("submitted", "autograded"):
            if (self.root / step).is_dir():
                os.chmod(self.root / step, 0o700)

    def grading_key(self) -> bytes:
        """The course's secret (`grading.key`, 0600, made on first use): it picks the numbers grading
        asks at (autograder.pipeline.renumber), so no one who lacks it can tabulate the graded calls."""
        path = self.root / KEY_NAME
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd) as f:
                key = bytes.fromhex(f.read(200).strip())
        except PermissionError:
            raise PipelineError(f"cannot read the course's grading key {path}: grade as its owner") from None
        except (OSError, ValueError):
            key = b""
        if len(key) != 32:
            raise PipelineError(f"{path} is not a grading key (64 hex digits); delete it and a new one is made, "
                                "which regrades every submission at new numbers")  # fmt: skip
        return key

    @property
    def state_dir(self) -> Path:
        """Pipeline bookkeeping (fingerprints, per-cell reasons); inside autograded/, never committed."""
        return self.root / "autograded" / ".tcpclose"
