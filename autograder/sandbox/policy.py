"""What a sandboxed process may see and use: one value, passed to the launcher on its stdin."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field

HOME = "/home/learner"  # the sandbox's home and working directory: a private tmpfs
VIEW = "/opt/tcpclose/view"  # where the learner view of the packages appears, read-only


@dataclass(frozen=True)
class SandboxPolicy:
    """Sizes in bytes, CPU in seconds.

    view: a directory holding the learner view of `reference_impl` and `autograder` (no answers);
    it is all of the course's code the sandbox sees. files: copied into the home before anything
    runs (the assignment's data files). hide: paths masked wherever they would show inside the
    sandbox (the real packages, the course, the gradebook, the repository). scratch: an empty
    directory of the grader's where the sandbox's root is assembled. uid: when root, run as this
    uid (claim it with claim_uid). required: refuse to start unless every defence holds.
    """

    view: str
    scratch: str
    files: tuple[str, ...] = ()
    hide: tuple[str, ...] = ()
    uid: int | None = None
    required: bool = False
    python: str = sys.executable
    # The interpreter's trees (a venv and the Python it was made from), shown read-only: named by
    # the grader, whose interpreter this is (the launcher runs without site-packages and cannot tell).
    python_dirs: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            dict.fromkeys((sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix))
        )
    )
    network: bool = False
    memory: int = 3 << 30  # address space; IPython + pandas need ~1 GiB of it
    cpu: int = 600
    nproc: int = 64  # tasks (threads count) of the sandbox's uid
    fsize: int = 64 << 20
    nofile: int = 256
    tmp_size: int = 64 << 20  # each of /tmp and the home
    shm_size: int = 16 << 20  # /dev/shm, /var/tmp: RAM that RLIMIT_AS does not count
    debug: bool = False  # keep the sandboxed process's stderr (for developing the runner)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SandboxPolicy:
        d = json.loads(text)
        d["files"], d["hide"], d["python_dirs"] = tuple(d["files"]), tuple(d["hide"]), tuple(d["python_dirs"])
        return cls(**d)
