"""The grader's side of a sandbox: start the launcher, learn what it achieved, talk, kill.

Imported only by the grader (`autograder.sandbox.start`); the launcher itself never imports it,
so starting a sandbox costs an interpreter without site-packages and a few standard modules.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autograder.runner.channel import Channel, ChannelClosed, ChannelTimeout, ProtocolError

from .defences import NAMES
from .policy import SandboxPolicy
from .uids import kill_uid

# The launcher is the grader's own code run as a script, isolated (-I) and without site-packages
# (-S): it needs only the standard library and this package.
LAUNCHER = ["-I", "-S", str(Path(__file__).with_name("launch.py"))]
# The fork server runs with the runner's own interpreter flags (its children become runners).
ZYGOTE = ["-P", "-s", "-B", str(Path(__file__).with_name("zygote.py"))]


class SandboxError(Exception):
    """The sandbox could not be started; the message is one sentence."""


@dataclass
class Confined:
    """A running confined process and the conversation with it."""

    launcher: subprocess.Popen | None
    channel: Channel
    policy: SandboxPolicy
    pid: int  # the confined process as this side sees it: kill it and the whole sandbox dies
    achieved: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    early: list[object] = field(default_factory=list)  # frames that came before the report

    zygote: Zygote | None = None  # forked by this fork server (launcher is then None)
    middle: int = 0  # the fork server's child that waits for the sandbox's first process

    def kill(self) -> None:
        """End the sandbox now: its first process (with a PID namespace every other dies with it),
        the launcher's session (or the fork server's waiting child), and as root every process of its uid."""
        for pid in (self.pid, self.launcher.pid if self.launcher else self.middle):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.launcher is not None:
            try:
                os.killpg(self.launcher.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.policy.uid is not None and os.geteuid() == 0:
            kill_uid(self.policy.uid)
        self.wait()

    def wait(self, timeout: float = 5.0) -> int | None:
        """The sandbox's exit status once it has ended, None if it is still running after `timeout` s."""
        if self.launcher is None:
            code = self.zygote.exit_code(self.middle, timeout) if self.zygote else None
            if code is None:
                return None
        else:
            try:
                code = self.launcher.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        self.channel.close()
        return code

    def running(self) -> bool:
        if self.launcher is not None:
            return self.launcher.poll() is None
        return self.zygote is not None and self.zygote.exit_code(self.middle, 0) is None


def start(policy: SandboxPolicy, cmd: list[str], *, timeout: float = 30.0) -> Confined:
    """Launch `cmd` confined by `policy`; returns once the launcher has said what it achieved.

    Raises SandboxError when the launcher fails or (policy.required) a defence does not hold.
    """
    to_child_r, to_child_w = requests_pair()
    from_child_r, from_child_w = os.pipe()
    # The launcher moves the pipes to fds 3 and 4 (its and the runner's convention).
    errors = tempfile.TemporaryFile()  # what the launcher says if it fails before the exec
    launcher = subprocess.Popen(
        [sys.executable, *LAUNCHER, "--fds", f"{to_child_r},{from_child_w}", "--", *cmd],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=None if policy.debug else errors,
        pass_fds=(to_child_r, from_child_w), start_new_session=True, env=_launcher_env(), cwd="/",
    )  # fmt: skip
    os.close(to_child_r)
    os.close(from_child_w)
    channel = Channel(from_child_r, to_child_w)
    try:
        launcher.stdin.write(policy.to_json().encode())
        launcher.stdin.close()
    except BrokenPipeError:
        pass
    confined = Confined(launcher, channel, policy, launcher.pid)
    try:
        return _handshake(confined, timeout, lambda: _said(errors))
    finally:
        errors.close()


def requests_pair() -> tuple[int, int]:
    """The grader's requests to the sandbox: (its reading end, the grader's writing end). A Unix
    stream socket pair, one-way like the pipe it replaces, because a request may carry descriptors
    (SCM_RIGHTS: the sockets of a socket exercise, autograder.production); unnamed, so nothing
    else can reach it."""
    theirs, ours = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    theirs.shutdown(socket.SHUT_WR)
    ours.shutdown(socket.SHUT_RD)
    return theirs.detach(), ours.detach()


def _said(errors) -> str:
    errors.seek(0)
    said = [line for line in errors.read(20_000).decode(errors="replace").splitlines() if line.strip()]
    return said[-1] if said else ""


def _handshake(confined: Confined, timeout: float, said: Callable[[], str]) -> Confined:
    """Read what the launcher (or a forked child) says before the exec: its pid, what it achieved."""
    channel, policy = confined.channel, confined.policy
    deadline = time.monotonic() + timeout
    try:
        while True:
            frame = channel.recv(deadline)
            op = frame.get("op") if isinstance(frame, dict) else None
            if op == "pid" and isinstance(frame.get("pid"), int):
                confined.pid = frame["pid"]
            elif op == "sandbox":
                confined.achieved = [a for a in frame.get("achieved", []) if a in NAMES]
                confined.missing = {k: str(v)[:200] for k, v in dict(frame.get("missing", {})).items() if k in NAMES}
                break
            else:
                confined.early.append(frame)
    except (ChannelClosed, ChannelTimeout, ProtocolError) as e:
        confined.kill()
        why = said() or f"{type(e).__name__}: {e}"
        raise SandboxError(f"the sandbox launcher did not start ({why[:300]})") from None
    if policy.required and confined.missing:
        confined.kill()
        raise SandboxError(
            "the sandbox could not apply " + "; ".join(f"{k} ({v})" for k, v in confined.missing.items())
        )
    return confined


def _launcher_env() -> dict[str, str]:
    """Nothing of the grader's environment (tokens, the course's path) is passed on."""
    keep = ("PATH", "LANG", "LC_ALL")
    return {k: v for k, v in os.environ.items() if k in keep}


class Zygote:
    """The grader's handle on a fork server (autograder.sandbox.zygote): started once per grading
    worker, it forks each sandbox from a process that has imported the runner and the view once.

    `base` says what every sandbox of it shares (view, hidden paths, interpreter); each `spawn`
    gives that sandbox's own policy (uid, limits, data files). Raises SandboxError when the server
    cannot build its shared root; the caller then starts sandboxes with `start` instead."""

    def __init__(self, base: SandboxPolicy, preload: tuple[str, ...] = (), timeout: float = 60.0) -> None:
        self.base, self.preload = base, tuple(preload)
        self.exits: dict[int, int] = {}
        self._errors = tempfile.TemporaryFile()
        self.ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            [base.python, *ZYGOTE, "--control", str(theirs.fileno())],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=None if base.debug else self._errors,
            pass_fds=(theirs.fileno(),), start_new_session=True, cwd="/",
            env=_launcher_env() | {"PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        )  # fmt: skip
        theirs.close()
        try:
            self.proc.stdin.write(json.dumps({"policy": json.loads(base.to_json()), "preload": list(preload)}).encode())
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        reply = self._next(time.monotonic() + timeout, ("ready", "failed"))
        if reply is None or reply.get("op") != "ready":
            missing = (reply or {}).get("missing") or {}
            why = "; ".join(f"{k} ({v})" for k, v in missing.items()) or _said(self._errors) or "it did not start"
            self.close()
            raise SandboxError(f"the sandbox's fork server could not start: {why[:300]}")

    def key(self) -> tuple:
        return (self.base.to_json(), self.preload)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _next(self, deadline: float | None, ops: tuple[str, ...]) -> dict | None:
        """The next control message among `ops` (any, if none named; exits are recorded on the way);
        None at the deadline or when the server is gone."""
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            self.ctl.settimeout(wait)
            try:
                data = self.ctl.recv(1 << 16)
            except (TimeoutError, BlockingIOError):
                return None
            except OSError:
                return None
            if not data:
                return None
            try:
                msg = json.loads(data)
            except ValueError:
                continue
            if msg.get("op") == "exit" and isinstance(msg.get("pid"), int):
                self.exits[msg["pid"]] = int(msg.get("code", 0))
            if not ops or msg.get("op") in ops:
                return msg

    def exit_code(self, pid: int, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while pid not in self.exits:
            if not self.alive():
                return -9  # the server is gone, and every sandbox with it
            if self._next(deadline, ()) is None and time.monotonic() >= deadline:
                break
        return self.exits.pop(pid, None)

    def spawn(self, policy: SandboxPolicy, *, code: str | None = None, timeout: float = 30.0) -> Confined:
        """A new sandbox forked from the server (the runner, or `code` for the probes); as `start`."""
        to_child_r, to_child_w = requests_pair()
        from_child_r, from_child_w = os.pipe()
        files: list[int] = []
        names = []
        try:
            for src in policy.files:
                files.append(os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC))
                names.append(os.path.basename(src))
            request = {"op": "spawn", "policy": json.loads(policy.to_json()), "files": names, "code": code}
            socket.send_fds(self.ctl, [json.dumps(request).encode()], [to_child_r, from_child_w, *files])
        except OSError as e:
            for fd in (to_child_w, from_child_r):
                os.close(fd)
            raise SandboxError(f"the sandbox's fork server is gone ({e.strerror or e})") from None
        finally:
            for fd in (to_child_r, from_child_w, *files):
                os.close(fd)
        channel = Channel(from_child_r, to_child_w)
        reply = self._next(time.monotonic() + timeout, ("spawned",))
        if reply is None or not isinstance(reply.get("pid"), int):
            channel.close()
            raise SandboxError("the sandbox's fork server did not answer")
        middle = reply["pid"]
        confined = Confined(None, channel, policy, middle, zygote=self, middle=middle)
        return _handshake(confined, timeout, lambda: "")

    def close(self) -> None:
        try:
            self.ctl.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        self._errors.close()
