"""One unprivileged uid per running sandbox, claimed host-wide, and swept afterwards."""

from __future__ import annotations

import fcntl
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

UID_RANGE = range(64200, 64200 + 1024)
UID_LOCKS = Path("/run/tcpclose-uids")


@contextmanager
def claim_uid(uids: range = UID_RANGE, lock_dir: Path = UID_LOCKS) -> Iterator[int]:
    """An unprivileged uid no other grading run on this host is using, held until exit.

    Learner code runs as this uid and is swept by `kill_uid` afterwards, so two runs must
    never share one: two learners' `tcpclose check` on one JupyterHub host, or two
    instructors' batches, each claim their own through an exclusive lock file per uid.
    """
    lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for uid in uids:
        fd = os.open(lock_dir / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield uid
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    raise RuntimeError(f"all {len(uids)} sandbox uids are in use by other grading runs")


def kill_uid(uid: int) -> int:
    """SIGKILL every process owned by `uid` (a worker slot's own uid). Returns how many."""
    killed = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                os.kill(int(pid), signal.SIGKILL)
                killed += 1
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return killed
