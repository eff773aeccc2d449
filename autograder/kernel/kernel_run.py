"""One kernel scenario played on real sockets, in a fresh pair of network namespaces joined by the
relay: the application's calls done with the socket API, and KernelRun, what the kernel did."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reference_impl.sim import Inject, Read, Reopen, Scenario, place
from reference_impl.states import AppAbort, AppClose, AppSend

from . import kernel_states, procnet
from .netns import NamespacePair, entered, in_namespace
from .relay import Packet, Relay
from .scenarios import KernelScenario
from .tracer import StateEvent

if TYPE_CHECKING:
    pass

from .sampler import Sampler

SETTLE = 0.15  # after the handshake, before time 0: the last handshake ACK has landed


@dataclass
class KernelRun:
    """What the kernel did in one scenario."""

    scenario: KernelScenario
    t0: float
    t_end: float
    packets: list[Packet]
    tuples: dict[str, tuple[tuple[str, int], tuple[str, int]]]  # endpoint → (local, remote)
    samples: dict[str, list[kernel_states.Sample]]
    events: dict[str, list[StateEvent]] = field(default_factory=dict)
    counters: dict[str, dict[str, int]] = field(default_factory=dict)  # endpoint → TcpExt counters at the end
    counters_at_0: dict[str, dict[str, int]] = field(default_factory=dict)  # ... and at time 0
    errors: dict[str, int] = field(default_factory=dict)  # endpoint → SO_ERROR at the end (socket still open)
    wall: float = 0.0  # seconds this scenario took, setup to teardown
    # Set when the concurrent run failed to play (e.g. under load, the old connection still held
    # its address when the scenario connected again) and this run is the one played alone after it.
    first_error: str = ""

    def timeline(self, endpoint: str) -> list[tuple[float, str]]:
        """(seconds since time 0, state) changes of one endpoint."""
        tl = kernel_states.timeline(self.events[endpoint], self.samples[endpoint])
        return [(t - self.t0, s) for t, s in tl]

    def states(self, endpoint: str) -> list[str]:
        return kernel_states.sequence(self.events[endpoint], self.samples[endpoint])

    def proc_states(self, endpoint: str) -> list[str]:
        """The second channel alone: states seen in /proc/net/tcp, each change once."""
        out: list[str] = []
        for _, e in self.samples[endpoint]:
            s = e.state if e is not None else "CLOSED"
            if not out or out[-1] != s:
                out.append(s)
        return out

    def counted(self, endpoint: str, name: str) -> int:
        """How much a TcpExt counter of the endpoint's namespace grew while the scenario was watched."""
        return self.counters[endpoint].get(name, 0) - self.counters_at_0[endpoint].get(name, 0)

    def sent(self, endpoint: str) -> list[Packet]:
        return [p for p in self.packets if p.sender == endpoint and p.ordinal > 0 and p.time <= self.scenario.observe]


def _drain(sock: socket.socket) -> None:
    sock.setblocking(False)
    for _ in range(1000):
        try:
            if not sock.recv(65536):
                break
        except (BlockingIOError, OSError):
            break
    sock.setblocking(True)


def _perform(sock: socket.socket, call: object, reads: bool, relay: Relay, endpoint: str) -> None:
    """An application call of the simulator, done with the socket API (a crafted segment, by the relay)."""
    match call:
        case Inject(segment=seg, at=at):
            fields = dict(at)

            def make(lookup):
                seq = place(fields["seq"], lookup) if "seq" in fields else seg.seq
                ack = place(fields["ack"], lookup) if "ack" in fields else seg.ack
                tsval = place(fields["tsval"], lookup) if "tsval" in fields else seg.tsval
                return seg.flags, seq, ack, seg.payload, tsval

            relay.inject(endpoint, make)
        case Read():
            _drain(sock)
        case AppClose(shutdown=True, rdwr=rdwr):
            sock.shutdown(socket.SHUT_RDWR if rdwr else socket.SHUT_WR)
        case AppClose():
            if reads:
                _drain(sock)
            sock.close()
        case AppSend(data):
            sock.sendall(data)
        case AppAbort():
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()


FILL_RCVBUF = 1024  # the kernel doubles it and keeps a minimum: a window that closes after ~2 KB


def _fill(sock: socket.socket, relay: Relay, receiver: str, limit: float = 3.0) -> None:
    """Write until `receiver` advertises a zero window, never more than it has room for, so
    nothing is left unsent when its window closes."""
    sender = "A" if receiver == "B" else "B"
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        room = (relay.variable(receiver, "RCV.NXT") + relay.variable(receiver, "RCV.WND")
                - relay.variable(sender, "SND.NXT")) % 2**32  # fmt: skip
        if relay.variable(receiver, "RCV.WND") == 0 and relay.variable(sender, "SND.NXT") == relay.variable(
            receiver, "RCV.NXT"
        ):
            return
        if 0 < room < 2**31:
            sock.send(b"f" * min(room, 512))
        time.sleep(0.025)
    raise RuntimeError(f"{receiver}'s receive window did not close within {limit} s")


def _connect_again(pair: NamespacePair, a_addr: tuple[str, int], b_addr: tuple[str, int]) -> socket.socket:
    """A's new connection on the same 4-tuple: a new socket bound to A's old address, connecting
    without waiting (its SYN may take a while to be answered)."""
    with entered(pair.names["A"]):
        sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(a_addr)
    sock.setblocking(False)
    sock.connect_ex(b_addr)  # EINPROGRESS: the handshake goes on while the scenario is watched
    return sock


def run_kernel(ks: KernelScenario, net: int, port: int, sampler: Sampler, parent: str | None = None) -> KernelRun:
    """Play one scenario in a fresh namespace pair (removed afterwards, also on failure)."""
    started = time.monotonic()
    sc = ks.scenario
    reopen = next((a.call for a in sc.actions if isinstance(a.call, Reopen)), None)
    align = {ep: iss for ep, iss in (("A", reopen.iss_a), ("B", reopen.iss_b)) if ep in ks.align} if reopen else {}
    with NamespacePair(net, ks.sysctls, parent) as pair:
        relay = Relay(pair, sc.delay / 1e6, dict(sc.fates), align)
        relay.start()
        a_addr, b_addr = (pair.addr["A"], port + 1), (pair.addr["B"], port)
        socks: dict[str, socket.socket] = {}
        keys = {"A": (sc.name, "A"), "B": (sc.name, "B")}
        try:
            _connect(pair, ks, a_addr, b_addr, socks, keep_listener=reopen is not None)
            sampler.register(keys["A"], pair.names["A"], a_addr, b_addr)
            sampler.register(keys["B"], pair.names["B"], b_addr, a_addr)
            time.sleep(SETTLE)
            if ks.fill:
                _fill(socks["A" if ks.fill == "B" else "B"], relay, ks.fill)
            counters_at_0 = {ep: in_namespace(pair.names[ep], procnet.tcp_counters) for ep in "AB"}
            t0 = time.monotonic()
            relay.arm(t0)
            _play(sc, t0, socks, relay, pair, a_addr, b_addr)
            time.sleep(max(0.0, t0 + ks.observe - time.monotonic()))
            t_end = time.monotonic()
            counters = {ep: in_namespace(pair.names[ep], procnet.tcp_counters) for ep in "AB"}
            errors = {ep: s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) for ep, s in socks.items()
                      if s.fileno() != -1 and ep in ("A", "B")}  # fmt: skip
        finally:
            _tear_down(sampler, keys.values(), relay, socks)
    samples = {ep: [(t, e) for t, e in sampler.samples.pop(keys[ep]) if t0 <= t <= t_end] for ep in "AB"}
    return KernelRun(ks, t0, t_end, relay.log, {"A": (a_addr, b_addr), "B": (b_addr, a_addr)},
                     samples, counters=counters, counters_at_0=counters_at_0, errors=errors,
                     wall=time.monotonic() - started)  # fmt: skip


def _connect(pair: NamespacePair, ks: KernelScenario, a_addr: tuple[str, int], b_addr: tuple[str, int],
             socks: dict[str, socket.socket], keep_listener: bool) -> None:  # fmt: skip
    """A connects to B's listener across the relay; `socks` gets both ends, and the listener when a
    new connection on the same 4-tuple will need it (else it is closed)."""
    with entered(pair.names["B"]):
        listener = socket.socket()
        if ks.fill == "B":
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, FILL_RCVBUF)
        listener.bind(b_addr)
        listener.listen(1)
    with entered(pair.names["A"]):
        socks["A"] = socket.socket()
        socks["A"].bind(a_addr)
    for s in (socks["A"], listener):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle: one write, one segment
    socks["A"].settimeout(5)
    socks["A"].connect(b_addr)
    listener.settimeout(5)
    socks["B"], _ = listener.accept()
    if not keep_listener:
        listener.close()  # B's port has no socket once B's connection is gone
    else:
        socks["listener"] = listener  # it takes the new connection's SYN


def _play(sc: Scenario, t0: float, socks: dict[str, socket.socket], relay: Relay, pair: NamespacePair,
          a_addr: tuple[str, int], b_addr: tuple[str, int]) -> None:  # fmt: skip
    """The scenario's application calls, each at its time after t0."""
    for action in sorted(sc.actions, key=lambda a: a.time):
        time.sleep(max(0.0, t0 + action.time / 1e6 - time.monotonic()))
        if isinstance(action.call, Reopen):
            socks["A"].close()  # the old connection's socket, if the application still held it
            socks["A"] = _connect_again(pair, a_addr, b_addr)
            continue
        _perform(socks[action.endpoint], action.call, sc.reads.get(action.endpoint, True), relay,
                 action.endpoint)  # fmt: skip


def _tear_down(
    sampler: Sampler, keys: Iterable[tuple[str, str]], relay: Relay, socks: dict[str, socket.socket]
) -> None:
    for key in keys:
        if key in sampler._files:
            sampler.unregister(key)
    relay.stop()
    for s in socks.values():
        s.close()
