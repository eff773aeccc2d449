"""The sandbox's fork server: a confined root built once, the runner imported once, a fresh child per sandbox.

Started by the grader's side (autograder.sandbox.confined.Zygote) as `python -P -s -B .../zygote.py
--control N`, the interpreter flags the runner has, with {"policy": SandboxPolicy, "preload":
[module, ...]} as JSON on stdin and a control socket (AF_UNIX, SOCK_SEQPACKET) at fd N.

Once, it builds what every sandbox of a batch shares and nobody can write: without root a user
namespace; a mount namespace whose root is fresh and read-only, holding only the system, the
interpreter and the learner view at the path the runner sees it (minimal-root, masked-paths);
pivots into it; and imports IPython, the runner and the modules the release notebooks import,
from the view, exactly as a runner started by exec would. It never runs a learner's code.

Then for every request {"op": "spawn", "policy": SandboxPolicy, "files": [names], "code": str | None},
whose descriptors are the conversation's two pipe ends and each data file, it forks a child that
applies every other defence as the launcher does: new network, IPC, UTS, PID and mount
namespaces; fresh size-limited tmpfs at /tmp, /var/tmp, /run, /dev/shm and the home; its own
/proc; the unprivileged uid and no capability left (a child never execs, so it drops them
itself); no new privileges; limits; the clean environment; the two pipes only. It reports
{"op": "pid"} and {"op": "sandbox"} on fd 4 as the launcher does and enters the runner's serve()
(or, for the defences' probes, runs `code`). Everything writable a child sees is a tmpfs of its
own mount namespace, so nothing one submission writes reaches another, and a child's memory is a
copy of a server that never ran learner code.

Control replies: {"op": "ready"} or {"op": "failed", "missing": {name: why}} once, then
{"op": "spawned", "pid": N} per request and {"op": "exit", "pid": N, "code": C} as children end.
The server, and every sandbox it forked, dies with the grader (the control socket closing, or
the parent-death signal).
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import select
import signal
import socket
import sys

if __name__ == "__main__":  # run as a script: find this package (dropped again before the view is imported)
    _PACKAGES = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, _PACKAGES)
else:
    _PACKAGES = ""

from autograder import linux
from autograder.sandbox.defences import DEFENCES
from autograder.sandbox.launch import Launch, NotNeeded, environment, write_frame
from autograder.sandbox.policy import HOME, VIEW, SandboxPolicy

REQUESTS, REPLIES = 3, 4
ORDER = {d.name: i for i, d in enumerate(DEFENCES)}
RUNNER = ("autograder.runner.serve", "autograder.runner.shell", "autograder.runner.calls", "IPython")


class Base(Launch):
    """What every sandbox of this server shares, read-only, built once before anything is imported."""

    def build(self) -> None:
        self._try(self.user_namespace, "user-namespace")
        self._try(self._assemble, "files")
        if self.built:
            self._try(self.minimal_root, "minimal-root")
            self._try(self.masked_paths, "masked-paths")
            self._try(self._enter, "files")
        if not self.entered:
            self.missing.setdefault("minimal-root", "the shared root could not be entered")

    def minimal_root(self) -> None:
        """As the launcher's, with mount points where each child mounts its own tmpfs and /proc."""
        self._show_system()
        for path in (HOME, "/tmp", "/var/tmp", "/run", "/proc"):
            self._mkdir(path)
        self._devices()
        linux.mount("none", self._at("/dev"), None, linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID
                    | linux.MS_NODEV | linux.MS_NOEXEC)  # fmt: skip
        if not self.root_user:
            # In a user namespace a new /proc may be mounted only where one is already fully visible:
            # the host's, bound here, is what lets a child mount its own over it (it always does, or stops).
            linux.mount("/proc", self._at("/proc"), None, linux.MS_BIND | linux.MS_REC)


class Child(Launch):
    """One sandbox, forked from the server: the defences the shared root does not already hold."""

    def __init__(self, policy: SandboxPolicy, base: list[str], files: list[tuple[str, int]], code: str | None):
        super().__init__(policy, [])
        self.built = self.entered = True
        self.achieved = list(base)
        self.files, self.code = files, code
        self.own_mounts = False
        self.fatal = ""

    def _at(self, path: str) -> str:
        return path  # already inside the new root

    def run(self) -> None:
        for name in ("no-network", "private-ipc", "private-pids", "private-tmp", "private-proc", "unprivileged-uid",
                     "no-new-privileges", "limits", "clean-environment", "pipes-only"):  # fmt: skip
            self._try(getattr(self, name.replace("-", "_")), name)
        self._report_and_run()

    def private_pids(self) -> None:
        self._fork_as_pid_1()  # its parent dies with the server
        linux.die_with_parent()  # until the uid changes (which clears it): then set again

    def private_tmp(self) -> None:
        linux.unshare(linux.CLONE_NEWNS)
        linux.make_private("/")
        self.own_mounts = True
        for path, size in (("/tmp", self.policy.tmp_size), ("/var/tmp", self.policy.shm_size), ("/run", 1 << 20)):
            linux.tmpfs(path, size, 0o1777)
        linux.tmpfs("/dev/shm", self.policy.shm_size, 0o1777, noexec=True)
        linux.tmpfs(HOME, self.policy.tmp_size, 0o700, owner=self._owner())
        for name, fd in self.files:
            self._copy_fd(fd, os.path.join(HOME, os.path.basename(name)))

    def private_proc(self) -> None:
        if not self.own_mounts or "private-pids" not in self.achieved:
            why = "no PID namespace of its own" if self.own_mounts else "no mount namespace of its own"
            if not self.root_user:  # the host's /proc must not show: without our own, none at all
                try:
                    linux.umount_detached("/proc")
                except OSError:
                    self.fatal = "the server's /proc could not be hidden"
            raise OSError(0, why)
        linux.mount("proc", "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)

    def unprivileged_uid(self) -> None:
        try:
            if self.root_user:
                self._become_uid()
            linux.drop_capabilities()
            linux.die_with_parent()
        except OSError as e:
            self.fatal = f"unprivileged-uid: {e.strerror or e}"
            raise
        if not self.root_user:
            raise NotNeeded

    def _report_and_run(self) -> None:
        achieved = sorted(set(self.achieved), key=ORDER.__getitem__)
        report = {"op": "sandbox", "achieved": achieved, "missing": self.missing,
                  "home": getattr(self, "home", ""), "view": getattr(self, "view", "")}  # fmt: skip
        write_frame(REPLIES, report)
        if self.fatal or (self.policy.required and self.missing):
            os._exit(3)
        os.environ.clear()
        os.environ.update(getattr(self, "env", {}))
        sys.argv = [os.path.join(VIEW, "autograder", "runner", "__main__.py")]
        import tempfile

        tempfile.tempdir = None  # chosen afresh, in this sandbox's own /tmp
        if self.code is None:
            from autograder.runner.serve import serve

            serve()
        else:
            exec(compile(self.code, "<sandboxed>", "exec"), {"__name__": "__main__"})  # noqa: S102 - the probes
        os._exit(0)


def _high(fds: list[int]) -> list[int]:
    """Received descriptors moved out of the way of fds 3 and 4."""
    out = []
    for fd in fds:
        out.append(fcntl.fcntl(fd, fcntl.F_DUPFD, 100))
        os.close(fd)
    return out


def _child(request: dict, fds: list[int], base: list[str], own: list[int]) -> None:
    """In the forked child: never returns to the server's loop, whatever happens."""
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        linux.die_with_parent()
        high = _high(fds)
        for fd in own:
            os.close(fd)
        if len(high) < 2:
            os._exit(2)
        for fd, target in zip(high[:2], (REQUESTS, REPLIES), strict=True):
            os.dup2(fd, target)
            os.close(fd)
        policy = SandboxPolicy.from_json(json.dumps(request["policy"]))
        names = [str(n) for n in request.get("files", [])]
        Child(policy, base, list(zip(names, high[2:], strict=False)), request.get("code")).run()
    except BaseException:  # noqa: BLE001 - a child must never return into the server
        os._exit(70)
    os._exit(0)


def _preload(policy: SandboxPolicy, modules: list[str]) -> None:
    """Become what the runner's interpreter is before its first request, then import once."""
    os.environ.clear()
    os.environ.update(environment(policy, HOME, VIEW))
    os.chdir(HOME)
    sys.path[:] = [VIEW, *(p for p in sys.path if p not in ("", ".", _PACKAGES))]
    for name in list(sys.modules):  # the grader's own modules that started this server: not the view's
        if name in ("autograder", "reference_impl") or name.startswith(("autograder.", "reference_impl.")):
            del sys.modules[name]
    importlib.invalidate_caches()
    for name in (*RUNNER, *modules):
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - not there, or failing: the child imports it when asked, as ever
            pass


def main(argv: list[str]) -> None:
    control = int(argv[argv.index("--control") + 1])
    config = json.loads(sys.stdin.read())
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.close(null)
    linux.die_with_parent()
    ctl = socket.socket(fileno=control)
    policy = SandboxPolicy.from_json(json.dumps(config["policy"]))
    base = Base(policy, [])
    base.build()
    if base.missing:
        ctl.send(json.dumps({"op": "failed", "missing": base.missing}).encode())
        os._exit(3)
    _preload(policy, [str(m) for m in config.get("preload", [])])
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    ctl.send(json.dumps({"op": "ready", "achieved": base.achieved}).encode())
    _serve(ctl, base.achieved, wake_r, wake_w)


def _serve(ctl: socket.socket, base: list[str], wake_r: int, wake_w: int) -> None:
    """Answer spawn requests and report children's exits until the grader goes away."""
    while True:
        ready, _, _ = select.select([ctl, wake_r], [], [])
        if wake_r in ready:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        _report_exits(ctl)
        if ctl in ready:
            _spawn_on_request(ctl, base, [ctl.fileno(), wake_r, wake_w])


def _report_exits(ctl: socket.socket) -> None:
    """Reap every child that has ended, saying its exit code."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _say(ctl, {"op": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})


def _spawn_on_request(ctl: socket.socket, base: list[str], own: list[int]) -> None:
    """Read one request; a spawn forks a child sandbox with the descriptors that came with it."""
    try:
        data, fds, _, _ = socket.recv_fds(ctl, 1 << 20, 64)
    except OSError:
        os._exit(0)
    if not data:
        os._exit(0)  # the grader is gone: so are we, and (parent-death signal) every sandbox
    try:
        request = json.loads(data)
    except ValueError:
        request = {}
    if request.get("op") != "spawn":
        for fd in fds:
            os.close(fd)
        return
    pid = os.fork()
    if pid == 0:
        _child(request, fds, base, own)
    for fd in fds:
        os.close(fd)
    _say(ctl, {"op": "spawned", "pid": pid})


def _say(ctl: socket.socket, message: dict) -> None:
    try:
        ctl.send(json.dumps(message).encode())
    except OSError:
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
