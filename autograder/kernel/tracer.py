"""Exact state changes from the kernel tracepoint sock:inet_sock_set_state.

Why a tracepoint: sampling /proc/net/tcp misses states that last microseconds
(FIN_WAIT_1 on a fast path, CLOSING), while the kernel calls this tracepoint from
tcp_set_state() on every change of a full socket, with the 4-tuple. It cannot see
timewait sockets (after tcp_time_wait() the full socket goes to TCP_CLOSE and a
separate inet_timewait_sock lives on), so `kernel_states` adds those from /proc.

tracefs is mounted by a helper process in a private mount namespace (`unshare -m`),
so nothing is mounted on the host, and it records into its own tracing instance
(instances/<name>: own buffer, own event switches) with trace_clock=mono, whose
timestamps are CLOCK_MONOTONIC like Python's time.monotonic(). When the parent
closes the helper's stdin (or dies) the helper disables the event, prints the
buffer, removes the instance and exits; the mount vanishes with its namespace.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass

EVENT = "events/sock/inet_sock_set_state"
LINE = re.compile(
    r"\s(?P<ts>\d+\.\d+): inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP "
    r"sport=(?P<sport>\d+) dport=(?P<dport>\d+) saddr=(?P<saddr>[\d.]+) daddr=(?P<daddr>[\d.]+) "
    r".*oldstate=TCP_(?P<old>\w+) newstate=TCP_(?P<new>\w+)"
)


@dataclass(frozen=True, slots=True)
class StateEvent:
    """One inet_sock_set_state event: kernel state names without the TCP_ prefix."""

    time: float  # CLOCK_MONOTONIC seconds
    saddr: str
    sport: int
    daddr: str
    dport: int
    old: str  # e.g. ESTABLISHED, FIN_WAIT1, CLOSE
    new: str


def parse(text: str) -> list[StateEvent]:
    """The events in a tracefs `trace` dump (other lines ignored)."""
    out = []
    for line in text.splitlines():
        m = LINE.search(line)
        if m:
            out.append(StateEvent(float(m["ts"]), m["saddr"], int(m["sport"]), m["daddr"],
                                  int(m["dport"]), m["old"], m["new"]))  # fmt: skip
    return out


class Tracer:
    """Record inet_sock_set_state for ports in [lo, hi) while the `with` block runs."""

    def __init__(self, port_lo: int, port_hi: int) -> None:
        self.filter = f"(sport >= {port_lo} && sport < {port_hi}) || (dport >= {port_lo} && dport < {port_hi})"
        self.events: list[StateEvent] = []
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Tracer:
        cmd = ["unshare", "-m", "--propagation", "private", sys.executable, "-m", __name__,
               f"tgb{os.getpid()}", self.filter]  # fmt: skip
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)  # fmt: skip
        first = self._proc.stdout.readline() if self._proc.stdout else ""
        if not first.startswith("ready"):
            self._proc.kill()
            _, err = self._proc.communicate(timeout=10)
            raise RuntimeError(f"tracefs helper failed: {first.strip()} {err.strip()}")
        return self

    def stop(self) -> list[StateEvent]:
        """Stop recording and return the events (idempotent)."""
        if self._proc is not None:
            out, err = self._proc.communicate(input="stop\n", timeout=20)
            self._proc = None
            self.events = parse(out)
        return self.events

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            if self._proc:
                self._proc.kill()


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _helper(instance: str, event_filter: str) -> None:
    """Runs inside `unshare -m`: mount tracefs, record, dump, clean up."""
    from autograder import linux

    root = tempfile.mkdtemp(prefix="tgb-tracefs-")
    try:
        linux.mount("nodev", root, "tracefs", 0)
    except OSError as e:
        print(f"error: {e.strerror}", flush=True)
        sys.exit(1)
    inst = os.path.join(root, "instances", instance)
    try:
        os.mkdir(inst)
        _write(os.path.join(inst, "trace_clock"), "mono")
        _write(os.path.join(inst, "buffer_size_kb"), "512")
        _write(os.path.join(inst, EVENT, "filter"), event_filter)
        _write(os.path.join(inst, EVENT, "enable"), "1")
        print("ready", flush=True)
        sys.stdin.readline()  # "stop" or EOF when the parent goes away
        _write(os.path.join(inst, EVENT, "enable"), "0")
        with open(os.path.join(inst, "trace")) as f:
            sys.stdout.write(f.read())
        sys.stdout.flush()
    finally:
        if os.path.isdir(inst):
            os.rmdir(inst)
        linux.umount_detached_quietly(root)
        os.rmdir(root)


if __name__ == "__main__":
    _helper(sys.argv[1], sys.argv[2])
