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
A new connection on the 4-tuple (a SYN after time 0) counts as a segment like any other;
its numbers read relative to the old connection's ISN, or, for an endpoint the scenario
aligns, relative to where the simulator's new connection starts (a kernel picks its new ISN
from a hash and a clock, RFC 6528, which there is nothing to compare with); each number is
read against whichever of the endpoint's connections it is nearest to.
"""

from __future__ import annotations

import heapq
import os
import queue
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autograder.pcap import internet_checksum
from reference_impl.segment import Flags
from reference_impl.sim import Fate

if TYPE_CHECKING:
    from .netns import NamespacePair

FATE_NAMES = {
    "forward": "delivered",
    "lose": "lost",
    "delay": "delayed",
    "duplicate": "duplicated",
    "inject": "injected",
}


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
    action: str  # forward, lose, delay, duplicate; inject: crafted by the relay as if `sender` sent it
    window: int = 0  # the advertised window in bytes (the field, scaled by the sender's window scale)

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


def window_field(pkt: bytes) -> int:
    """The raw 16-bit window field of an IPv4 TCP packet."""
    return struct.unpack_from("!H", pkt, (pkt[0] & 0x0F) * 4 + 14)[0]


def _option(pkt: bytes, kind: int, length: int) -> int | None:
    """Where the TCP option `kind` of `length` bytes starts in an IPv4 TCP packet (RFC 9293 §3.1), else None."""
    ihl = (pkt[0] & 0x0F) * 4
    end = ihl + (pkt[ihl + 12] >> 4) * 4
    i = ihl + 20
    while i < end:
        if pkt[i] == 0:  # end of option list
            break
        if pkt[i] == 1:  # no-operation
            i += 1
            continue
        if i + 1 >= end or pkt[i + 1] < 2:
            break
        if pkt[i] == kind and pkt[i + 1] == length:
            return i
        i += pkt[i + 1]
    return None


def window_scale(pkt: bytes) -> int:
    """The shift a SYN announces in its window-scale option (RFC 7323 §2.2), 0 without one."""
    at = _option(pkt, 3, 3)
    return 0 if at is None else pkt[at + 2]


def timestamps(pkt: bytes) -> tuple[int, int] | None:
    """(TSval, TSecr) of the timestamps option (RFC 7323 §3), None without one."""
    at = _option(pkt, 8, 10)
    return None if at is None else struct.unpack_from("!II", pkt, at + 2)


def build_tcp(src: tuple[str, int], dst: tuple[str, int], seq: int, ack: int, flags: int, window: int,
              payload: bytes = b"", ts: tuple[int, int] | None = None) -> bytes:  # fmt: skip
    """An IPv4 TCP packet with correct checksums, with no options or only timestamps (TSval, TSecr):
    what the relay injects."""
    saddr, daddr = socket.inet_aton(src[0]), socket.inet_aton(dst[0])
    options = b"" if ts is None else struct.pack("!BBBBII", 1, 1, 8, 10, ts[0] % 2**32, ts[1] % 2**32)
    tcp = struct.pack("!HHIIBBHHH", src[1], dst[1], seq % 2**32, ack % 2**32, (5 + len(options) // 4) << 4, flags,
                      window, 0, 0) + options  # fmt: skip
    pseudo = saddr + daddr + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    tcp = tcp[:16] + struct.pack("!H", internet_checksum(pseudo + tcp + payload)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6, 0, saddr, daddr)
    ip = ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:]
    return ip + tcp + payload


class Relay:
    """Forward between the pair's TUNs in a thread; start(), arm() at the scenario's time 0, stop()."""

    def __init__(self, pair: NamespacePair, delay: float, fates: dict[tuple[str, int], Fate],
                 align: dict[str, int] | None = None) -> None:  # fmt: skip
        self.pair, self.delay, self.fates = pair, delay, dict(fates)
        self.align = dict(align or {})  # endpoint -> the simulator's ISS of its new connection
        self.log: list[Packet] = []
        self.t0 = time.monotonic()
        self._armed = False
        self._count = {"A": 0, "B": 0}
        self._isn: dict[str, int] = {}  # the base of the endpoint's current connection
        self._bases: dict[str, list[int]] = {}  # every connection's base: a number reads against the nearest
        self._tsval: dict[str, int] = {}  # the last TSval each endpoint sent
        self._wscale: dict[str, int] = {}
        # What each endpoint last said, to place a crafted segment the way the simulator does:
        # its address, RCV.NXT (its last ACK), SND.NXT (the end of what it sent), RCV.WND.
        self._addr: dict[str, tuple[str, int]] = {}
        self._said: dict[str, dict[str, int]] = {"A": {}, "B": {}}
        self._queue: list[tuple[float, int, str, bytes]] = []
        self._order = 0
        # Crafted segments are asked for from the scenario's thread and sent from the relay's
        # own, which alone touches the queue and the bookkeeping; a byte on the pipe wakes it.
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def arm(self, t0: float) -> None:
        """From now on, count segments and apply fates; times are relative to t0, and numbers to
        where each side stands at t0: SND.NXT then reads as 1, as the simulator's iss = 1 does
        (right after the handshake that is the ISN + 1; after data sent before time 0, past it)."""
        for ep, said in self._said.items():
            if "snd_nxt" in said:
                self._isn[ep] = (said["snd_nxt"] - 1) % 2**32
                self._bases[ep] = [self._isn[ep]]
        self.t0, self._armed = t0, True

    def _rel(self, endpoint: str, value: int) -> int:
        """A sequence number of `endpoint`'s, relative to the nearest of its connections' bases."""
        bases = self._bases.get(endpoint) or [self._isn.get(endpoint, 0)]
        return min((value - b) % 2**32 for b in bases)

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)

    def _push(self, due: float, to: str, pkt: bytes) -> None:
        self._order += 1
        heapq.heappush(self._queue, (due, self._order, to, pkt))

    def _take(self, sender: str, pkt: bytes, now: float) -> None:
        tcp = parse_tcp(pkt)
        if tcp is None:
            return  # not IPv4 TCP: nothing of ours
        _, _, seq, ack, bits, length = tcp
        flags = Flags(bits & int(Flags.FIN | Flags.SYN | Flags.RST | Flags.ACK))
        self._learn(sender, pkt, flags, seq, length)
        window = window_field(pkt) << (0 if Flags.SYN in flags else self._wscale.get(sender, 0))
        if Flags.ACK in flags and Flags.RST not in flags:
            self._said[sender]["rcv_nxt"], self._said[sender]["rcv_wnd"] = ack, window
        self._log_and_pass_on(sender, pkt, flags, seq, ack, length, window, now)

    def _learn(self, sender: str, pkt: bytes, flags: Flags, seq: int, length: int) -> None:
        """What a segment tells of its sender: ISN and window scale (on a SYN), timestamp, address, SND.NXT."""
        if Flags.SYN in flags and not self._armed:  # the handshake before time 0
            self._isn[sender] = seq
            self._wscale[sender] = window_scale(pkt)
        elif Flags.SYN in flags and sender in self.align:
            # a new connection: its numbers read from where the simulator's new connection starts
            self._isn[sender] = (seq - self.align[sender]) % 2**32
            if self._isn[sender] not in self._bases.setdefault(sender, []):
                self._bases[sender].append(self._isn[sender])
            self._wscale[sender] = window_scale(pkt)
        ts = timestamps(pkt)
        if ts is not None:
            self._tsval[sender] = ts[0]
        ihl = (pkt[0] & 0x0F) * 4
        self._addr[sender] = (socket.inet_ntoa(pkt[12:16]), struct.unpack_from("!H", pkt, ihl)[0])
        said = self._said[sender]
        end = (seq + length + (Flags.SYN in flags) + (Flags.FIN in flags)) % 2**32
        if "snd_nxt" not in said or (end - said["snd_nxt"]) % 2**32 < 2**31:
            said["snd_nxt"] = end

    def _log_and_pass_on(self, sender: str, pkt: bytes, flags: Flags, seq: int, ack: int, length: int, window: int,
                         now: float) -> None:  # fmt: skip
        """Log the segment and apply its fate (after time 0): lose, delay, duplicate or forward it."""
        peer = "B" if sender == "A" else "A"
        ordinal, fate = 0, None
        if self._armed:  # after time 0 every segment counts, a new connection's SYN too
            self._count[sender] += 1
            ordinal = self._count[sender]
            fate = self.fates.get((sender, ordinal))
        action = fate.kind if fate else "forward"
        rel_ack = self._rel(peer, ack) if Flags.ACK in flags else None
        # A reset answering a segment without ACK carries <SEQ=0> (RFC 9293 §3.10.7.1, Linux
        # tcp_v4_send_reset): an absolute zero, which the simulator writes as 0 too.
        rel_seq = 0 if Flags.RST in flags and seq == 0 else self._rel(sender, seq)
        self.log.append(Packet(now - self.t0, sender, str(flags), rel_seq, rel_ack, length, ordinal, action, window))
        if action == "lose":
            return
        extra = fate.delay / 1e6 if fate and action == "delay" else 0.0
        self._push(now + self.delay + extra, peer, pkt)
        if action == "duplicate":
            self._push(now + self.delay + fate.delay / 1e6, peer, pkt)

    def variable(self, endpoint: str, name: str) -> int:
        """RCV.NXT, RCV.WND, SND.NXT or SND.UNA of `endpoint` as its own segments last told it
        (SND.UNA is the peer's last ACK), relative to the ISN of the side each belongs to."""
        peer = "B" if endpoint == "A" else "A"
        mine, theirs = self._said[endpoint], self._said[peer]
        value = {"RCV.NXT": lambda: mine["rcv_nxt"] - self._isn[peer], "RCV.WND": lambda: mine["rcv_wnd"],
                 "SND.NXT": lambda: mine["snd_nxt"] - self._isn[endpoint],
                 "SND.UNA": lambda: theirs["rcv_nxt"] - self._isn[endpoint],
                 "TS.RECENT": lambda: self._tsval[peer]}[name]()  # the peer's last TSval  # fmt: skip
        return value % 2**32

    def inject(
        self, to: str, make: Callable[[Callable[[str], int]], tuple[Flags, int, int, bytes, int | None]]
    ) -> None:
        """Have the relay craft a segment to `to` as if its peer sent it, now: `make` gets the
        lookup `variable(to, NAME)` as the relay knows it at that moment and returns (flags, seq,
        ack, payload, tsval), numbers relative to the ISNs (the simulator's iss = 1 numbers); with a
        tsval the segment carries the timestamps option, echoing `to`'s own last TSval."""
        self._requests.put((to, make))
        os.write(self._wake_w, b"x")

    def _inject(self, to: str, make) -> None:
        flags, seq, ack, payload, tsval = make(lambda name: self.variable(to, name))
        peer = "B" if to == "A" else "A"
        window = min(0xFFFF, self._said[peer].get("rcv_wnd", 65535) >> self._wscale.get(peer, 0))
        ts = None if tsval is None else (tsval, self._tsval.get(to, 0))
        pkt = build_tcp(self._addr[peer], self._addr[to], seq + self._isn[peer], ack + self._isn[to],
                        int(flags), window, payload, ts)  # fmt: skip
        now = time.monotonic()
        rel_ack = ack if Flags.ACK in flags else None
        self.log.append(Packet(now - self.t0, peer, str(flags), seq % 2**32, rel_ack, len(payload), 0, "inject",
                               window << self._wscale.get(peer, 0)))  # fmt: skip
        try:
            os.write(self.pair.tun[to], pkt)
        except OSError:
            pass  # the namespace is being torn down

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
                ready, _, _ = select.select([*fds, self._wake_r], [], [], min(wait, 0.05))
            except (OSError, ValueError):
                return
            if self._wake_r in ready:
                os.read(self._wake_r, 64)
                while not self._requests.empty():
                    self._inject(*self._requests.get())
            now = time.monotonic()
            for fd in (fd for fd in ready if fd in fds):
                for _ in range(64):  # bounded drain
                    try:
                        pkt = os.read(fd, 65536)
                    except (BlockingIOError, OSError):
                        break
                    self._take(fds[fd], pkt, now)
