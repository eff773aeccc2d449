"""The grader's side of a sandbox: start the launcher, learn what it achieved, talk, kill.

Imported only by the grader (`autograder.sandbox.start`); the launcher itself never imports it,
so starting a sandbox costs an interpreter without site-packages and a few standard modules.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.runner.channel import Channel, ChannelClosed, ChannelTimeout, ProtocolError

from .defences import NAMES
from .policy import SandboxPolicy
from .uids import kill_uid

# The launcher is the grader's own code run as a script, isolated (-I) and without site-packages
# (-S): it needs only the standard library and this package.
LAUNCHER = ["-I", "-S", str(Path(__file__).with_name("launch.py"))]


class SandboxError(Exception):
    """The sandbox could not be started; the message is one sentence."""


@dataclass
class Confined:
    """A running confined process and the conversation with it."""

    launcher: subprocess.Popen
    channel: Channel
    policy: SandboxPolicy
    pid: int  # the confined process as this side sees it: kill it and the whole sandbox dies
    achieved: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    early: list[object] = field(default_factory=list)  # frames that came before the report

    def kill(self) -> None:
        """End the sandbox now: its first process (with a PID namespace every other dies with it),
        the launcher's session, and as root every process of its uid."""
        for pid in (self.pid, self.launcher.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.killpg(self.launcher.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.policy.uid is not None and os.geteuid() == 0:
            kill_uid(self.policy.uid)
        self.wait()

    def wait(self, timeout: float = 5.0) -> int | None:
        try:
            code = self.launcher.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.channel.close()
        return code


def start(policy: SandboxPolicy, cmd: list[str], *, timeout: float = 30.0) -> Confined:
    """Launch `cmd` confined by `policy`; returns once the launcher has said what it achieved.

    Raises SandboxError when the launcher fails or (policy.required) a defence does not hold.
    """
    to_child_r, to_child_w = os.pipe()
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
        errors.seek(0)
        said = [line for line in errors.read(20_000).decode(errors="replace").splitlines() if line.strip()]
        why = said[-1] if said else f"{type(e).__name__}: {e}"
        raise SandboxError(f"the sandbox launcher did not start ({why[:300]})") from None
    finally:
        errors.close()
    if policy.required and confined.missing:
        confined.kill()
        raise SandboxError("the sandbox could not apply " + "; ".join(f"{k} ({v})" for k, v in confined.missing.items()))
    return confined


def _launcher_env() -> dict[str, str]:
    """Nothing of the grader's environment (tokens, the course's path) is passed on."""
    keep = ("PATH", "LANG", "LC_ALL")
    return {k: v for k, v in os.environ.items() if k in keep}
