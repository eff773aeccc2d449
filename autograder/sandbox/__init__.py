"""How learner code runs while grading: confined by an ordered list of named defences.

The grader never lets learner code run in its own process. `start(policy, cmd)` runs `cmd`
(the runner, autograder.runner) through the launcher (`python -m autograder.sandbox`), which
applies DEFENCES one by one and then execs it: no network, private IPC, PIDs, /tmp, /dev/shm
and /proc, a fresh read-only root holding only the system, the interpreter and the learner
view of the packages (no answers), an unprivileged uid when root, no new privileges, resource
limits, a clean environment, and two inherited one-way channels (a Unix socket in, a pipe out)
as the only way in or out.

Without root the launcher uses an unprivileged user namespace for the same isolation; where
the host forbids one it keeps the process defences and reports the rest as missing (the
grader records that with the submission). `required=True` (instructors' batches as root)
refuses to run learner code unless every defence holds.
"""

from __future__ import annotations

from .defences import DEFENCES, NAMES, Defence
from .policy import HOME, VIEW, SandboxPolicy
from .uids import UID_LOCKS, UID_RANGE, claim_uid, kill_uid

__all__ = ["DEFENCES", "HOME", "NAMES", "UID_LOCKS", "UID_RANGE", "VIEW", "Confined", "Defence", "SandboxPolicy",
           "SandboxError", "Zygote", "claim_uid", "kill_uid", "start"]  # fmt: skip


def __getattr__(name: str):
    # The grader's side loads on first use: the launcher imports this package too, and must stay light.
    if name in ("Confined", "SandboxError", "Zygote", "start"):
        from . import confined

        return getattr(confined, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
