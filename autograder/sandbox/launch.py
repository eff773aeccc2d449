"""The launcher: confine this process by applying DEFENCES in order, then exec the command.

Run as `python -I -S .../autograder/sandbox/launch.py --fds R,W -- CMD...` (or `python -m
autograder.sandbox`) with the SandboxPolicy as JSON on stdin and the
conversation's two pipes as fds 3 (grader to sandbox) and 4 (sandbox to grader); the grader's
side is `autograder.sandbox.start`. Before the exec the launcher sends one frame on fd 4:
{"op": "sandbox", "achieved": [names], "missing": {name: why}, "home": path, "view": path}; with
a PID namespace the launcher stays outside as the waiting parent and first sends
{"op": "pid", "pid": N}, the confined process's pid as the grader sees it (kill it and every
process of the sandbox dies with it).

As root this code opens nothing the sandboxed process could have replaced: the root it builds
is fresh tmpfs, the files it copies in come from the grader's own staging (opened O_NOFOLLOW),
and after the exec it touches nothing of the sandbox's at all.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import shutil
import struct
import sys

if __name__ == "__main__":  # run as a script: find this package without site-packages
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from autograder import linux
from autograder.sandbox.defences import DEFENCES
from autograder.sandbox.policy import HOME, VIEW, SandboxPolicy
from autograder.sandbox.root_files import RootFiles

REQUESTS, REPLIES = 3, 4


def write_frame(fd: int, obj: object) -> None:
    """One frame as autograder.runner.channel reads it (a 4-byte big-endian length, then JSON)."""
    data = json.dumps(obj).encode()
    os.write(fd, struct.pack(">I", len(data)) + data)


def environment(policy: SandboxPolicy, home: str, view: str) -> dict[str, str]:
    """The sandboxed process's whole environment: nothing of the grader's."""
    return {
        "PATH": os.path.dirname(policy.python) + ":/usr/local/bin:/usr/bin:/bin",
        "HOME": home, "USER": "learner", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp",
        "PYTHONPATH": view, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
        "IPYTHONDIR": os.path.join(home, ".ipython"), "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1", "TCPCLOSE_SANDBOX": "1",
    }  # fmt: skip


class NotNeeded(Exception):
    """This defence does not apply here (e.g. a user namespace when already root)."""


class Launch(RootFiles):
    """One confinement: each method is the defence of the same name in DEFENCES."""

    def __init__(self, policy: SandboxPolicy, cmd: list[str]) -> None:
        self.policy, self.cmd = policy, cmd
        self.root_user = os.geteuid() == 0
        self.achieved: list[str] = []
        self.missing: dict[str, str] = {}
        self.new_root = os.path.join(policy.scratch, "root")
        self.built = False  # the new root is assembled (not yet entered)
        self.entered = False
        self.bound: list[str] = []  # host paths visible inside the new root, at the same path

    def run(self) -> None:
        phase = ""
        for defence in DEFENCES:
            if defence.phase != phase:
                if defence.phase == "files":
                    self._try(self._assemble, "files")
                elif phase == "files":
                    self._try(self._enter, "files")
                phase = defence.phase
            self._try(getattr(self, defence.name.replace("-", "_")), defence.name)
        self._report_and_exec()

    def _try(self, step, name: str) -> None:
        """Apply one defence (or the step a phase needs), recording whether it holds and why not."""
        names = [d.name for d in DEFENCES if d.phase == name] if name == "files" else [name]
        try:
            step()
        except NotNeeded:
            return
        except OSError as e:
            why = e.strerror or str(e)
            for n in names:  # a failed step of the files phase takes every file defence with it
                if n in self.achieved:
                    self.achieved.remove(n)
                self.missing.setdefault(n, why)
            return
        if name != "files":
            self.achieved.append(name)

    # ---- namespaces ------------------------------------------------------------------------

    def user_namespace(self) -> None:
        if self.root_user:
            raise NotNeeded
        uid, gid = os.getuid(), os.getgid()
        linux.unshare(linux.CLONE_NEWUSER)
        linux.write_proc_self("setgroups", "deny")
        linux.write_proc_self("uid_map", f"{uid} {uid} 1")
        linux.write_proc_self("gid_map", f"{gid} {gid} 1")

    def no_network(self) -> None:
        if self.policy.network:
            raise NotNeeded
        linux.unshare(linux.CLONE_NEWNET)
        linux.loopback_up()

    def private_ipc(self) -> None:
        linux.unshare(linux.CLONE_NEWIPC | linux.CLONE_NEWUTS)
        linux.sethostname("sandbox")

    def private_pids(self) -> None:
        self._fork_as_pid_1()

    def _fork_as_pid_1(self) -> None:
        """Fork into a new PID namespace; only the child returns, as its PID 1.

        Both processes write to the replies pipe: the child waits until the parent has said its
        pid, so the grader always reads {"op": "pid"} before {"op": "sandbox"}."""
        linux.unshare(linux.CLONE_NEWPID)
        said, go = os.pipe()
        child = os.fork()
        if child:
            os.close(said)
            self._wait_for(child, go)  # never returns
        os.close(go)
        os.read(said, 1)  # the parent has written the pid frame (or is gone: end of file)
        os.close(said)

    def _wait_for(self, child: int, go: int) -> None:
        """The launcher's part outside: say which pid to kill, then wait and pass on the exit status."""
        try:
            write_frame(REPLIES, {"op": "pid", "pid": child})
        except Exception:  # noqa: BLE001 - the grader is gone; the child finds out by itself
            pass
        os.close(go)  # the child may go on
        os.closerange(REQUESTS, REPLIES + 1)
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)

    # ---- the filesystem ------------------------------------------------------------------------

    def _assemble(self) -> None:
        """A mount namespace of our own, and an empty tmpfs where the new root is built."""
        linux.unshare(linux.CLONE_NEWNS)
        linux.make_private("/")
        os.makedirs(self.new_root, mode=0o755, exist_ok=True)
        linux.tmpfs(self.new_root, 8 << 20, 0o755)
        self.built = True

    def minimal_root(self) -> None:
        """The system's libraries, the interpreter and the learner view, read-only; a private home."""
        if not self.built:
            raise OSError(0, "no mount namespace")
        self._show_system()
        self._mkdir(HOME)
        linux.tmpfs(self._at(HOME), self.policy.tmp_size, 0o700, owner=self._owner())
        for src in self.policy.files:
            self._copy_in(src, os.path.join(self._at(HOME), os.path.basename(src)))

    def private_tmp(self) -> None:
        if not self.built:
            raise OSError(0, "no mount namespace")
        for path, size in (("/tmp", self.policy.tmp_size), ("/var/tmp", self.policy.shm_size), ("/run", 1 << 20)):
            self._mkdir(path)
            linux.tmpfs(self._at(path), size, 0o1777)
        self._devices()
        linux.tmpfs(self._at("/dev/shm"), self.policy.shm_size, 0o1777, noexec=True)

    def masked_paths(self) -> None:
        """The real packages, the course and the repository, wherever a bound directory would show them."""
        if not self.built:
            raise OSError(0, "no mount namespace")
        for path in map(os.path.realpath, self.policy.hide):
            if not any(path == b or path.startswith(b.rstrip("/") + "/") for b in self.bound):
                continue  # not inside anything bound: not there to see
            target = self._at(path)
            if os.path.isdir(target):
                linux.tmpfs(target, 4096, 0o555, readonly=True)
            elif os.path.lexists(target):
                linux.bind("/dev/null", target)

    def private_proc(self) -> None:
        if not self.built or "private-pids" not in self.achieved:
            raise OSError(0, "no PID namespace of its own" if self.built else "no mount namespace")
        self._mkdir("/proc")
        linux.mount("proc", self._at("/proc"), "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)

    def _enter(self) -> None:
        """pivot_root into the new root and let go of the old one: nothing outside is reachable after."""
        if not self.built:
            raise OSError(0, "no mount namespace")
        old = self._at("/.old")
        os.mkdir(old, 0o700)
        linux.pivot_root(self.new_root, old)
        os.chdir("/")
        linux.umount_detached("/.old")
        os.rmdir("/.old")
        linux.remount_readonly("/")
        self.entered = True

    # ---- the process ---------------------------------------------------------------------------

    def unprivileged_uid(self) -> None:
        if not self.root_user:
            raise NotNeeded
        self._become_uid()

    def _become_uid(self) -> None:
        """Root gives way to the worker slot's own uid, with no supplementary groups."""
        if self.policy.uid is None:
            raise OSError(0, "no uid given to run as")
        os.setgroups([])
        os.setresgid(self.policy.uid, self.policy.uid, self.policy.uid)
        os.setresuid(self.policy.uid, self.policy.uid, self.policy.uid)

    def no_new_privileges(self) -> None:
        linux.no_new_privileges()

    def limits(self) -> None:
        p = self.policy
        for res, value in ((resource.RLIMIT_AS, p.memory), (resource.RLIMIT_CPU, p.cpu),
                           (resource.RLIMIT_NPROC, p.nproc), (resource.RLIMIT_FSIZE, p.fsize),
                           (resource.RLIMIT_NOFILE, p.nofile), (resource.RLIMIT_CORE, 0)):  # fmt: skip
            resource.setrlimit(res, (value, value))

    def clean_environment(self) -> None:
        home = HOME if self.entered else self._fallback_home()
        view = VIEW if self.entered else self.policy.view
        self.env = environment(self.policy, home, view)
        self.home, self.view = home, view
        os.chdir(home)

    def pipes_only(self) -> None:
        """Only the two pipes stay open; stdin, stdout and stderr go nowhere."""
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1) if self.policy.debug else (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        os.closerange(REPLIES + 1, 65536)
        for fd in (REQUESTS, REPLIES):
            os.set_inheritable(fd, True)

    def _report_and_exec(self) -> None:
        report = {"op": "sandbox", "achieved": self.achieved, "missing": self.missing,
                  "home": getattr(self, "home", ""), "view": getattr(self, "view", "")}  # fmt: skip
        write_frame(REPLIES, report)
        if self.policy.required and self.missing:
            os._exit(3)
        os.execve(self.cmd[0], self.cmd, getattr(self, "env", {}))


def _pipes_at_3_and_4(read_fd: int, write_fd: int) -> None:
    """Move the grader's two pipes to fds 3 and 4, wherever they arrived."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (read_fd, write_fd)]
    for fd in {read_fd, write_fd}:
        os.close(fd)
    for fd, target in zip(high, (REQUESTS, REPLIES), strict=True):
        os.dup2(fd, target)
        os.close(fd)


def main(argv: list[str]) -> None:
    usage = "usage: python -m autograder.sandbox --fds R,W -- CMD...  (the policy as JSON on stdin)"
    if len(argv) < 4 or argv[0] != "--fds" or argv[2] != "--":
        sys.exit(usage)
    read_fd, write_fd = (int(x) for x in argv[1].split(","))
    _pipes_at_3_and_4(read_fd, write_fd)
    policy = SandboxPolicy.from_json(sys.stdin.read())
    cmd = [shutil.which(argv[3]) or argv[3], *argv[4:]]
    Launch(policy, cmd).run()


if __name__ == "__main__":
    main(sys.argv[1:])
