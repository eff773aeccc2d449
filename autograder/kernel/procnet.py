"""Reading /proc/net/tcp: the states the kernel reports, in the reference's vocabulary.

/proc/net/tcp lists every IPv4 TCP socket of the reader's network namespace, one per
line: local and remote address:port in hex, the state number (include/net/tcp_states.h),
queues, and the active timer (tr: 1 retransmit/probe, 2 keepalive — also the orphaned
FIN_WAIT_2 timer —, 3 TIME_WAIT, 4 zero-window probe) with its remaining time in
clock ticks (USER_HZ = 100). A timewait socket shows its substate (TIME_WAIT, or
FIN_WAIT_2 for an orphan that gave up waiting) with tr=3. This is the second channel
of the cross-check and the only channel of the learner lab (it needs no privileges).
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

# include/net/tcp_states.h → the reference's State names (TCP_CLOSE is CLOSED).
KERNEL_STATE_NAMES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECEIVED", 4: "FIN_WAIT_1", 5: "FIN_WAIT_2",
    6: "TIME_WAIT", 7: "CLOSED", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
    11: "CLOSING", 12: "SYN_RECEIVED",
}  # fmt: skip
TIMER_TIMEWAIT = 3
USER_HZ = 100


class ProcNetUnavailable(RuntimeError):
    """This system has no /proc/net/tcp (macOS, Windows, some containers)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of /proc/net/tcp."""

    local: tuple[str, int]
    remote: tuple[str, int]
    state: str  # the reference's name, e.g. FIN_WAIT_1
    timer: int  # tr: 0 none, 1 retransmit, 2 keepalive/FIN_WAIT_2, 3 TIME_WAIT, 4 probe
    remaining: float  # seconds until that timer fires
    tx_queue: int
    rx_queue: int

    @property
    def timewait(self) -> bool:
        """A timewait socket (the kernel's inet_timewait_sock), not a full socket."""
        return self.timer == TIMER_TIMEWAIT


def _addr(text: str) -> tuple[str, int]:
    host, port = text.split(":")
    # The address is the in-memory u32 printed in hex: little-endian on x86 and arm.
    return socket.inet_ntoa(struct.pack("<I", int(host, 16))), int(port, 16)


def parse(text: str) -> list[Entry]:
    """Entries of a /proc/net/tcp dump (the header line is skipped)."""
    out = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 6:
            continue
        tx, rx = (int(x, 16) for x in f[4].split(":"))
        tr, when = f[5].split(":")
        out.append(Entry(_addr(f[1]), _addr(f[2]), KERNEL_STATE_NAMES.get(int(f[3], 16), f[3]),
                         int(tr, 16), int(when, 16) / USER_HZ, tx, rx))  # fmt: skip
    return out


def read(path: str = "/proc/net/tcp") -> list[Entry]:
    """Read and parse `path`; a clear error where the system has no such file."""
    try:
        with open(path) as f:
            return parse(f.read())
    except FileNotFoundError:
        raise ProcNetUnavailable(
            f"{path} does not exist: watching the OS close connections needs Linux with /proc "
            "(on macOS or Windows, run the course in a Linux VM or container that mounts /proc; "
            "in the course's Docker image it works as an ordinary user)"
        ) from None


def read_fd(fd: int) -> list[Entry]:
    """Re-read an open /proc/.../net/tcp file (bound to the namespace it was opened in)."""
    chunks, offset = [], 0
    while True:
        b = os.pread(fd, 65536, offset)
        if not b:
            break
        chunks.append(b)
        offset += len(b)
    return parse(b"".join(chunks).decode())


def tcp_counters(path: str = "/proc/thread-self/net/netstat") -> dict[str, int]:
    """The TcpExt counters of the reader's network namespace (DelayedACKs, TCPACKSkippedSeq, ...)."""
    with open(path) as f:
        lines = [line.split() for line in f if line.startswith("TcpExt:")]
    names, values = lines[0][1:], lines[1][1:]
    return dict(zip(names, map(int, values), strict=True))
