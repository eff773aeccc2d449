"""Watch your own OS close a TCP connection: a loopback lab that needs no privileges.

`observe_close()` opens a real connection on 127.0.0.1 (ephemeral ports), closes it
the way the learner chooses, and samples the states the kernel reports for that
4-tuple in /proc/net/tcp, in the reference's vocabulary (FIN_WAIT_1, TIME_WAIT, ...),
so the rows can be shown beside a reference timeline.

On loopback most closing states last microseconds, too short for any sampler. `hold`
keeps them open on purpose, the way a real slow reader does: the peer stops reading,
the closer fills its window, and the FIN waits in the send queue behind that data
(RFC 9293 §3.10.4: the FIN follows all queued SENDs). FIN_WAIT_1, LAST_ACK and CLOSING
then last `hold` seconds each, until the peer reads again.

Every close here is shutdown(SHUT_WR) followed by reading to end-of-file, the
graceful close: a plain close() with data still arriving would make Linux answer
with RST (RFC 2525 §2.17), and the lab is about the FIN handshake. The sockets are
closed before returning; the TIME_WAIT a close leaves behind is the kernel's own
(60 s on Linux) and needs no cleanup.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field

from . import procnet

WHO = ("client", "server", "both")
MAX_SECONDS = 30.0  # no observation runs longer than this
CHUNK = b"x" * 16384


class LabUnavailable(procnet.ProcNetUnavailable):
    """The lab cannot watch the OS here; the message says what it needs."""


@dataclass(frozen=True, slots=True)
class LabRow:
    time: float  # seconds since the first close
    endpoint: str  # "A" (client) or "B" (server), as in the reference's traces
    state: str  # FIN_WAIT_1, TIME_WAIT, ... ; CLOSED when the socket is gone


@dataclass
class Observation:
    """What the OS reported: state changes per endpoint and the application calls made."""

    who_closes: str
    hold: float
    rows: list[LabRow] = field(default_factory=list)
    calls: list[tuple[float, str, str]] = field(default_factory=list)  # (time, endpoint, call)
    ports: tuple[int, int] = (0, 0)  # (client, server)

    def states(self, endpoint: str) -> list[str]:
        """The state sequence of "A" or "B", each change once (as Trace.states gives it)."""
        out: list[str] = []
        for r in self.rows:
            if r.endpoint == endpoint and (not out or out[-1] != r.state):
                out.append(r.state)
        return out

    def to_frame(self):
        """A pandas DataFrame with columns time, endpoint, state."""
        import pandas as pd

        return pd.DataFrame([(r.time, r.endpoint, r.state) for r in self.rows], columns=["time", "endpoint", "state"])

    def __str__(self) -> str:
        lines = [f"{'time':>8}  endpoint  state / call"]
        items = [(r.time, r.endpoint, r.state) for r in self.rows] + [(t, e, f"[{c}]") for t, e, c in self.calls]
        for t, e, s in sorted(items, key=lambda i: i[0]):
            lines.append(f"{t:8.3f}  {e:8}  {s}")
        return "\n".join(lines)


def _check_platform(proc_path: str) -> None:
    if not sys.platform.startswith("linux"):
        raise LabUnavailable(
            f"observe_close() reads Linux's {proc_path}; this is {sys.platform}. Run the course on "
            "Linux (a VM, WSL2 or the course's container) to watch the OS; the simulator works everywhere."
        )
    if not os.path.exists(proc_path):
        raise LabUnavailable(
            f"{proc_path} does not exist, so the OS's TCP states cannot be read here. The lab needs "
            "Linux with /proc mounted (containers: do not mask /proc/net; WSL1 lacks it, WSL2 has it)."
        )


class _Sampler(threading.Thread):
    """Reads /proc/net/tcp every `every` seconds and records state changes of two 4-tuples."""

    def __init__(self, proc_path: str, tuples: dict[str, tuple], t0: float, every: float) -> None:
        super().__init__(name="lab-sampler", daemon=True)
        self.proc_path, self.tuples, self.t0, self.every = proc_path, tuples, t0, every
        self.rows: list[LabRow] = []
        self.error: BaseException | None = None
        self._last: dict[str, str] = {}
        self._halt = threading.Event()

    def sample(self) -> None:
        entries = procnet.read(self.proc_path)
        now = time.monotonic() - self.t0
        for ep, (local, remote) in self.tuples.items():
            match = [e.state for e in entries if e.local == local and e.remote == remote]
            state = match[0] if match else "CLOSED"
            if self._last.get(ep) != state:
                self._last[ep] = state
                self.rows.append(LabRow(round(now, 4), ep, state))

    def run(self) -> None:
        try:
            while not self._halt.wait(self.every):
                self.sample()
        except BaseException as e:  # reported by observe_close
            self.error = e

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def _fill(sock: socket.socket, limit: int = 64 << 20) -> int:
    """Write until the peer's window and our send buffer are full (bounded)."""
    sock.setblocking(False)
    sent = 0
    while sent < limit:
        try:
            sent += sock.send(CHUNK)
        except BlockingIOError:
            break
    return sent


def _drain(sock: socket.socket, deadline: float) -> bool:
    """Read until end-of-file or the deadline; True if EOF was seen."""
    sock.setblocking(False)
    while time.monotonic() < deadline:
        try:
            if not sock.recv(1 << 20):
                return True
        except BlockingIOError:
            time.sleep(0.001)
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE):
                return True
            raise
    return False


def observe_close(
    who_closes: str = "client",
    hold: float = 0.0,
    gap: float = 0.2,
    after: float = 0.3,
    sample_every: float = 0.005,
    proc_path: str = "/proc/net/tcp",
) -> Observation:
    """Close a real loopback connection and return the states the OS reported.

    who_closes: "client" (A closes first), "server" (B first) or "both" at once.
    hold: seconds each short state is held open by a full window (0: close at full speed).
    gap: seconds between the first close and the peer's close (CLOSE_WAIT lasts this long).
    after: seconds to keep watching once both have closed (TIME_WAIT goes on for 60 s).
    """
    _check_arguments(who_closes, hold=hold, gap=gap, after=after)
    _check_platform(proc_path)
    procnet.read(proc_path)  # fails early and clearly if it cannot be read

    listener = socket.socket()
    socks: dict[str, socket.socket] = {}
    try:
        _connect_small_windows(listener, socks)
        a, b = socks["A"].getsockname(), socks["B"].getsockname()
        obs = Observation(who_closes, hold, ports=(a[1], b[1]))
        t0 = time.monotonic()
        sampler = _Sampler(proc_path, {"A": (a, b), "B": (b, a)}, t0, sample_every)
        sampler.sample()
        sampler.start()
        try:
            _script(obs, socks, who_closes, hold, gap, t0)
            time.sleep(after)
        finally:
            sampler.stop()
        if sampler.error is not None:
            raise sampler.error
        sampler.sample()
        obs.rows = sampler.rows
        return obs
    finally:
        listener.close()
        for s in socks.values():
            s.close()


def _check_arguments(who_closes: str, **seconds: float) -> None:
    if who_closes not in WHO:
        raise ValueError(f"who_closes must be one of {', '.join(WHO)}, not {who_closes!r}")
    for name, value in seconds.items():
        if not 0 <= value <= 10:
            raise ValueError(f"{name} must be between 0 and 10 seconds, not {value!r}")


def _connect_small_windows(listener: socket.socket, socks: dict[str, socket.socket]) -> None:
    """A (client) connects to B through `listener` (closed after), with 4 KB buffers: small windows fill fast."""
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(5)
    socks["A"] = socket.socket()
    socks["A"].setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    socks["A"].settimeout(5)
    socks["A"].connect(listener.getsockname())
    socks["B"], _ = listener.accept()
    listener.close()
    for s in socks.values():
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


def _script(obs: Observation, socks: dict[str, socket.socket], who: str, hold: float, gap: float, t0: float) -> None:
    """The application calls of each way to close, with the holds in between."""

    def call(ep: str, what: str) -> None:
        obs.calls.append((round(time.monotonic() - t0, 4), ep, what))
        if what == "shutdown(SHUT_WR)":
            socks[ep].shutdown(socket.SHUT_WR)
        elif what == "fill window":
            _fill(socks[ep])
        elif what == "read to EOF":
            if not _drain(socks[ep], time.monotonic() + 5 + hold):
                raise TimeoutError(f"{ep} saw no end-of-file within {5 + hold:.1f} s")

    if who == "both":
        if hold:
            call("A", "fill window")
            call("B", "fill window")
        call("A", "shutdown(SHUT_WR)")
        call("B", "shutdown(SHUT_WR)")
        time.sleep(hold)
        call("A", "read to EOF")  # A takes B's FIN while its own waits: CLOSING
        time.sleep(hold)
        call("B", "read to EOF")
        return
    first, second = ("A", "B") if who == "client" else ("B", "A")
    if hold:
        call(first, "fill window")
        call(second, "fill window")
    call(first, "shutdown(SHUT_WR)")  # FIN_WAIT_1, held while the FIN waits behind data
    time.sleep(hold)
    call(second, "read to EOF")  # the FIN arrives: CLOSE_WAIT
    time.sleep(gap)
    call(second, "shutdown(SHUT_WR)")  # LAST_ACK, held while the first does not read
    time.sleep(hold)
    call(first, "read to EOF")  # TIME_WAIT for the first, CLOSED for the second
