"""How learner code runs during autograde: no network, bounded resources, nothing else to see.

The grading process (nbgrader) stays trusted; only the *kernel* that runs the learner's
cells is confined. `autograder.pipeline.execute.SandboxedKernelManager` prefixes the kernel
command with this module's launcher, which confines itself and then execs the real kernel (same pid, so nbclient's
interrupts and kills still reach it):

- **No network** — a new network namespace with only loopback up (`unshare(CLONE_NEWNET)`).
  OS-level, so no monkeypatch can be undone by the learner. The kernel talks to the grader over
  Unix-domain sockets (ZMQ `ipc` transport), which belong to the filesystem, not the network.
- **Nothing else to see** — a new mount namespace with an empty read-only tmpfs over every path
  in `hide` (the real course root: source, gradebook, other submissions); the kernel works in a
  scratch directory of its own; everything else of the grader's staging area is mode 0700 root.
- **Not the grader** — when started as root the kernel drops to an unprivileged uid, one per
  worker, claimed exclusively host-wide (`claim_uid`), so RLIMIT_NPROC counts only that
  submission's processes and leftovers can be swept by uid (`kill_uid`) without touching
  anything else, not even another grading run's kernel.
- **Bounded** — RLIMIT_AS, CPU, NPROC, FSIZE, NOFILE and no core files.

Without root the launcher tries an unprivileged user namespace for the same isolation and, if
the host forbids it, keeps the resource limits and reports what it could not do (`achieved`).
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import resource
import shutil
import signal
import socket
import struct
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18


@dataclass(frozen=True)
class SandboxPolicy:
    """What the kernel may use. Sizes in bytes, CPU in seconds."""

    workdir: str  # the kernel's home and cwd; the only place it may write
    hide: tuple[str, ...] = ()  # masked by an empty tmpfs (course root, staging of others)
    uid: int | None = None  # drop to this uid/gid when root (None: stay as we are)
    network: bool = False
    memory: int = 3 << 30  # address space; ipykernel + pandas need ~1 GiB of it
    cpu: int = 600
    nproc: int = 64  # tasks (threads count) for the kernel's uid; ipykernel uses ~10
    fsize: int = 64 << 20
    nofile: int = 256
    env_drop: tuple[str, ...] = field(default=("TOKEN", "SECRET", "PASSWORD", "KEY", "JUPYTERHUB"))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SandboxPolicy:
        d = json.loads(text)
        d["hide"], d["env_drop"] = tuple(d["hide"]), tuple(d["env_drop"])
        return cls(**d)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _loopback_up() -> None:
    """`ip link set lo up` without iproute2: SIOCSIFFLAGS with IFF_UP|IFF_RUNNING."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", 0x1 | 0x40))


def _isolate(policy: SandboxPolicy) -> list[str]:
    """Enter new network and mount namespaces; mask hidden paths. Returns what was achieved."""
    libc, achieved = _libc(), []
    flags = CLONE_NEWNS | (0 if policy.network else CLONE_NEWNET)
    if os.geteuid() != 0:  # an unprivileged user namespace gives us the same powers inside it
        uid, gid = os.getuid(), os.getgid()
        _check(libc.unshare(flags | CLONE_NEWUSER), "unshare(user)")
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        achieved.append("userns")
    else:
        _check(libc.unshare(flags), "unshare")
    if not policy.network:
        _loopback_up()
        achieved.append("no-network")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    for path in policy.hide:
        if os.path.isdir(path):
            opts = b"size=4k,mode=0555"
            _check(libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, opts), f"mask {path}")
    achieved.append("hidden-paths")
    return achieved


def _closed_ancestor(path: str) -> str | None:
    """The topmost directory above `path` that others may not traverse (e.g. /root for pyenv)."""
    parts = os.path.realpath(path).split(os.sep)[1:]
    for i in range(1, len(parts)):
        anc = os.sep + os.path.join(*parts[:i])
        if not os.stat(anc).st_mode & 0o001:
            return anc
    return None


def _expose(paths: list[str]) -> None:
    """Make `paths` reachable for the unprivileged uid without opening their private parents.

    The interpreter often lives under /root (pyenv). Inside our mount namespace we lay an empty
    tmpfs over the closed parent and bind only the needed tree back: the rest stays unseen.
    """
    libc = _libc()
    for path in map(os.path.realpath, paths):
        anc = _closed_ancestor(path)
        if anc is None:
            continue
        stash = tempfile.mkdtemp(prefix="tcpclose-expose-")
        _check(libc.mount(path.encode(), stash.encode(), None, MS_BIND | MS_REC, None), f"bind {path}")
        _check(libc.mount(b"tmpfs", anc.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=4k,mode=0755"), f"mask {anc}")
        os.makedirs(path, mode=0o755, exist_ok=True)
        _check(libc.mount(stash.encode(), path.encode(), None, MS_BIND | MS_REC, None), f"rebind {path}")
        libc.umount2(stash.encode(), 2)  # MNT_DETACH
        os.rmdir(stash)


def _limit(policy: SandboxPolicy) -> None:
    for res, value in (
        (resource.RLIMIT_AS, policy.memory),
        (resource.RLIMIT_CPU, policy.cpu),
        (resource.RLIMIT_NPROC, policy.nproc),
        (resource.RLIMIT_FSIZE, policy.fsize),
        (resource.RLIMIT_NOFILE, policy.nofile),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(res, (value, value))


def _drop_privileges(policy: SandboxPolicy, cmd: list[str]) -> list[str]:
    """Become policy.uid; hand the kernel a copy of its connection file it can read."""
    if policy.uid is None or os.geteuid() != 0:
        return cmd
    if "-f" in cmd:
        i = cmd.index("-f") + 1
        copy = os.path.join(policy.workdir, "connection.json")
        with open(cmd[i]) as src, open(copy, "w") as dst:
            dst.write(src.read())
        os.chown(copy, policy.uid, policy.uid)
        os.chmod(copy, 0o600)
        cmd = [*cmd[:i], copy, *cmd[i + 1 :]]
    os.setgroups([])
    os.setgid(policy.uid)
    os.setuid(policy.uid)
    return cmd


def launch(policy: SandboxPolicy, cmd: list[str]) -> None:
    """Confine this process, then exec `cmd` (the kernel). Never returns."""
    cmd = [os.path.abspath(shutil.which(cmd[0]) or cmd[0]), *cmd[1:]]  # resolve before leaving the caller's cwd
    try:
        achieved = _isolate(policy)
    except OSError as e:  # say so on stderr: the worker records it with the submission's result
        achieved = [f"isolation unavailable ({e.strerror})"]
    if policy.uid is not None and os.geteuid() == 0 and "hidden-paths" in achieved:
        _expose([sys.base_prefix, sys.prefix, cmd[0]])
    cmd = _drop_privileges(policy, cmd)
    if policy.uid is not None and os.geteuid() == policy.uid:
        achieved.append(f"uid {policy.uid}")
    _limit(policy)  # after the uid change: root is exempt from RLIMIT_NPROC
    env = {k: v for k, v in os.environ.items() if not any(w in k.upper() for w in policy.env_drop)}
    env.update(HOME=policy.workdir, IPYTHONDIR=os.path.join(policy.workdir, ".ipython"), MPLBACKEND="Agg")
    with open(os.path.join(policy.workdir, ".sandbox.json"), "w") as f:
        json.dump({"achieved": achieved}, f)
    os.chdir(policy.workdir)
    os.execvpe(cmd[0], cmd, env)


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
        fd = os.open(lock_dir / f"{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
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


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m autograder.sandbox POLICY_JSON -- KERNEL_CMD...")
    launch(SandboxPolicy.from_json(argv[0]), argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
