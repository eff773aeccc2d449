"""The relay: the wire between the two namespaces, with the simulator's channel fates.

Every IPv4 packet one namespace sends leaves through its TUN device; the relay reads
it, decides its fate and writes it into the other TUN after a fixed one-way delay.
Fates are named the simulator's way, by sender and ordinal among that sender's
segments after the handshake (`("A", 2)`: A's second segment), so a
`reference_impl.sim.Scenario` and a kernel run lose the same segments. With the same
fixed delay both ways the kernel measures the same RTT as the simulator (20 ms), which
fixes its RTO (SRTT + 200 ms, rttvar floored at tcp_rto_min) and the tail-loss probe.

The packet log records each segment as the relay saw it: time since the scenario
started, sender, flags, seq/ack relative to the sender's and receiver's ISN (learned
from the SYNs, so the numbers read like the simulator's with iss = 1), length, action.
"""

from __future__ import annotations

import heapq
import os
import select
import struct
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reference_impl.segment import Flags
from reference_impl.sim import Fate

if TYPE_CHECKING:
    from .netns import NamespacePair

FATE_NAMES = {"forward": "delivered", "lose": "lost", "delay": "delayed", "duplicate": "duplicated"}


@dataclass(frozen=True, slots=True)
class Packet:
    """One TCP segment as the relay saw it. ordinal 0: part of the handshake, not counted."""

    time: float  # seconds since the scenario started (negative: before)
    sender: str  # "A" or "B"
    flags: str  # "FIN|ACK", the trace's spelling; PSH and the like are dropped
    seq: int  # relative to the sender's ISN
    ack: int | None  # relative to the receiver's ISN; None without the ACK bit
    len: int
    ordinal: int
    action: str  # forward, lose, delay, duplicate

    @property
    def fate(self) -> str:
        """The action in the trace's words (delivered, lost, delayed, duplicated)."""
        return FATE_NAMES[self.action]

    def __str__(self) -> str:
        ack = "" if self.ack is None else f"<ACK={self.ack}>"
        return f"{self.time * 1000:9.1f} ms {self.sender}#{self.ordinal} <SEQ={self.seq}>{ack}<CTL={self.flags.replace('|', ',')}> len={self.len} {self.action}"


def parse_tcp(pkt: bytes) -> tuple[int, int, int, int, int, int] | None:
    """(sport, dport, seq, ack, flags, payload length) of an IPv4 TCP packet, else None."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4 or pkt[9] != 6:
        return None
    ihl = (pkt[0] & 0x0F) * 4
    total = struct.unpack_from("!H", pkt, 2)[0]
    sport, dport, seq, ack, off, flags = struct.unpack_from("!HHIIBB", pkt, ihl)
    return sport, dport, seq, ack, flags, total - ihl - (off >> 4) * 4


class Relay:
    """Forward between the pair's TUNs in a thread; start(), arm() at the scenario's time 0, stop()."""

    def __init__(self, pair: NamespacePair, delay: float, fates: dict[tuple[str, int], Fate]) -> None:
        self.pair, self.delay, self.fates = pair, delay, dict(fates)
        self.log: list[Packet] = []
        self.t0 = time.monotonic()
        self._armed = False
        self._count = {"A": 0, "B": 0}
        self._isn: dict[str, int] = {}
        self._queue: list[tuple[float, int, str, bytes]] = []
        self._order = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def arm(self, t0: float) -> None:
        """From now on, count segments and apply fates; times are relative to t0."""
        self.t0, self._armed = t0, True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _push(self, due: float, to: str, pkt: bytes) -> None:
        self._order += 1
        heapq.heappush(self._queue, (due, self._order, to, pkt))

    def _take(self, sender: str, pkt: bytes, now: float) -> None:
        tcp = parse_tcp(pkt)
        if tcp is None:
            return  # not IPv4 TCP: nothing of ours
        _, _, seq, ack, bits, length = tcp
        flags = Flags(bits & int(Flags.FIN | Flags.SYN | Flags.RST | Flags.ACK))
        peer = "B" if sender == "A" else "A"
        if Flags.SYN in flags:
            self._isn[sender] = seq
        ordinal, fate = 0, None
        if self._armed and Flags.SYN not in flags:
            self._count[sender] += 1
            ordinal = self._count[sender]
            fate = self.fates.get((sender, ordinal))
        action = fate.kind if fate else "forward"
        rel_ack = (ack - self._isn.get(peer, 0)) % 2**32 if Flags.ACK in flags else None
        self.log.append(
            Packet(now - self.t0, sender, str(flags), (seq - self._isn.get(sender, 0)) % 2**32,
                   rel_ack, length, ordinal, action)
        )  # fmt: skip
        if action == "lose":
            return
        extra = fate.delay / 1e6 if fate and action == "delay" else 0.0
        self._push(now + self.delay + extra, peer, pkt)
        if action == "duplicate":
            self._push(now + self.delay + fate.delay / 1e6, peer, pkt)

    def _run(self) -> None:
        fds = {self.pair.tun["A"]: "A", self.pair.tun["B"]: "B"}
        while not self._stop.is_set():
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _, _, to, pkt = heapq.heappop(self._queue)
                try:
                    os.write(self.pair.tun[to], pkt)
                except OSError:
                    pass  # the namespace is being torn down
            wait = 0.05 if not self._queue else max(0.0, self._queue[0][0] - time.monotonic())
            try:
                ready, _, _ = select.select(list(fds), [], [], min(wait, 0.05))
            except (OSError, ValueError):
                return
            now = time.monotonic()
            for fd in ready:
                for _ in range(64):  # bounded drain
                    try:
                        pkt = os.read(fd, 65536)
                    except (BlockingIOError, OSError):
                        break
                    self._take(fds[fd], pkt, now)
