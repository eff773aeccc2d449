"""Cross-check the reference's linux profile against the real Linux TCP stack.

Each `KernelScenario` is one `reference_impl.sim.Scenario` (application calls at
virtual times, channel fates by segment ordinal, 10 ms one-way delay, iss 1 so its
numbers read as relative to the ISN) plus what only the kernel needs (per-namespace
sysctls, how long to watch). `run_scenarios` plays every scenario on real sockets in
its own namespace pair, concurrently, and `compare` checks, per endpoint, the state
sequence and the segments sent (flags, relative seq/ack, length, fate) against the
simulator's trace under the same profile, cut at the same observation time.

Known Linux 6.x facts these scenarios pin down (and the linux profile encodes):
TIME_WAIT lasts 60 s (TCP_TIMEWAIT_LEN) and a retransmitted FIN restarts it; the first
FIN retransmission is a tail-loss probe (2·SRTT + 200 ms, capped by the RTO), then RTO
SRTT + 200 ms doubling; only an orphaned FIN_WAIT_2 has a timer (tcp_fin_timeout); an
RST ends TIME_WAIT unless tcp_rfc1337=1; close() with unread data or SO_LINGER 0 sends
RST and skips TIME_WAIT; a FIN to a socket that no longer exists is answered by RST.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from reference_impl.profiles import LINUX, Profile, ms, sec
from reference_impl.sim import Action, Fate, Scenario, simulate
from reference_impl.states import AppAbort, AppClose, AppSend
from reference_impl.trace import Trace

from ..reference_source import reference_machine
from . import kernel_states, procnet
from .netns import NamespacePair, entered, parent_namespace
from .relay import Packet, Relay
from .tracer import StateEvent, Tracer

DELAY = ms(10)  # one-way, both directions: the simulator's default
SETTLE = 0.15  # after the handshake, before time 0: the last handshake ACK has landed
SAMPLE_EVERY = 0.004  # /proc/net/tcp sampling period (one jiffy at HZ=250)
LOSE = Fate("lose")


@dataclass(frozen=True)
class KernelScenario:
    """A simulator scenario, and how to play it on the kernel."""

    scenario: Scenario
    observe: float  # seconds after time 0 to watch; both sides are cut here
    sysctls: dict[str, dict[str, str]] = field(default_factory=dict)  # per namespace "A"/"B"
    profile_changes: dict = field(default_factory=dict)  # the same settings, the profile's way

    @property
    def name(self) -> str:
        return self.scenario.name

    def profile(self, base: Profile = LINUX) -> Profile:
        return base.replace(**self.profile_changes) if self.profile_changes else base


def _ks(name: str, description: str, actions: Iterable[tuple[float, str, object]], observe: float,
        fates: dict | None = None, reads: dict | None = None, **kw) -> KernelScenario:  # fmt: skip
    sc = Scenario(name, description, tuple(Action(ms(t), e, c) for t, e, c in actions),
                  fates=fates or {}, iss_a=1, iss_b=1, delay=DELAY,
                  reads=reads or {"A": True, "B": True})  # fmt: skip
    return KernelScenario(sc, observe, **kw)


_close_150 = ((0, "A", AppClose()), (150, "B", AppClose()))

SCENARIOS: dict[str, KernelScenario] = {k.name: k for k in (
    _ks("normal-close", "A closes; B closes 150 ms later (after its prompt ACK of A's FIN).",
        _close_150, 0.4),
    _ks("simultaneous-close", "Both close at once; the FINs cross: FIN_WAIT_1 → CLOSING → TIME_WAIT.",
        ((0, "A", AppClose()), (0, "B", AppClose())), 0.3),
    _ks("simultaneous-close-slow-acks", "Both close at once; each ACK of a FIN is held 100 ms, so CLOSING lasts.",
        ((0, "A", AppClose()), (0, "B", AppClose())), 0.4,
        fates={("A", 2): Fate("delay", ms(100)), ("B", 2): Fate("delay", ms(100))}),
    _ks("lost-final-ack", "A's last ACK is lost: B's tail-loss probe resends its FIN; A re-ACKs from TIME_WAIT.",
        _close_150, 0.7, fates={("A", 2): LOSE}),
    _ks("lost-final-ack-3x", "A's last ACK is lost three times: probe, then RTO doubling; TIME_WAIT restarts each time.",
        _close_150, 1.4, fates={("A", 2): LOSE, ("A", 3): LOSE, ("A", 4): LOSE}),
    _ks("lost-fin", "A's FIN is lost once: the tail-loss probe delivers it; B closes at 600 ms.",
        ((0, "A", AppClose()), (600, "B", AppClose())), 0.9, fates={("A", 1): LOSE}),
    _ks("lost-fin-5x", "A's FIN is lost five times (probe + 4 RTOs); B closes at 4.5 s.",
        ((0, "A", AppClose()), (4500, "B", AppClose())), 4.8,
        fates={("A", n): LOSE for n in range(1, 6)}),
    _ks("orphan-fin-wait-2-timeout", "A close()s and B never answers with a FIN: with tcp_fin_timeout=1 the orphan "
        "leaves FIN_WAIT_2 after 1 s; B's FIN at 1.5 s then finds no socket and gets RST.",
        ((0, "A", AppClose()), (1500, "B", AppClose())), 1.8,
        sysctls={"A": {"net.ipv4.tcp_fin_timeout": "1"}}, profile_changes={"fin_wait_2_timeout": sec(1)}),
    _ks("half-close-with-data", "A shuts down its sending side and keeps reading; B sends two writes, then closes.",
        ((0, "A", AppClose(shutdown=True)), (40, "B", AppSend(b"more data")),
         (80, "B", AppSend(b"last words")), (150, "B", AppClose())), 0.4),
    _ks("so-linger-0", "A closes with SO_LINGER {on, 0}: RST, no FIN, no TIME_WAIT; B is reset.",
        ((0, "A", AppAbort()),), 0.2),
    _ks("close-with-unread-data", "B sends 100 bytes A never reads; A's close() sends RST instead of FIN (RFC 2525 §2.17).",
        ((0, "B", AppSend(b"u" * 100)), (50, "A", AppClose())), 0.25, reads={"A": False, "B": True}),
    _ks("data-after-close", "A closes (an orphan); B, in CLOSE_WAIT, still sends data: A's kernel answers "
        "with RST and drops the socket.",
        ((0, "A", AppClose()), (40, "B", AppSend(b"late data"))), 0.3),
    _ks("rst-in-time-wait", "A copy of A's last ACK reaches B 100 ms late, after B closed: B's RST ends A's TIME_WAIT.",
        _close_150, 0.5, fates={("A", 2): Fate("duplicate", ms(100))}),
    _ks("rst-in-time-wait-rfc1337", "As rst-in-time-wait, with tcp_rfc1337=1: A ignores the RST and stays in TIME_WAIT.",
        _close_150, 0.5, fates={("A", 2): Fate("duplicate", ms(100))},
        sysctls={"A": {"net.ipv4.tcp_rfc1337": "1"}}, profile_changes={"rfc1337": True}),
)}  # fmt: skip


# ---- observing /proc/net/tcp in many namespaces from one thread --------------------------


class Sampler:
    """Samples registered /proc/.../net/tcp files every SAMPLE_EVERY seconds."""

    def __init__(self) -> None:
        self._files: dict[tuple[str, str], tuple[int, tuple[str, int], tuple[str, int]]] = {}
        self.samples: dict[tuple[str, str], list[kernel_states.Sample]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proc-sampler", daemon=True)

    def register(
        self, key: tuple[str, str], ns: str, local: tuple[str, int], remote: tuple[str, int]
    ) -> None:
        with entered(ns):
            fd = os.open("/proc/thread-self/net/tcp", os.O_RDONLY)
        with self._lock:
            self._files[key] = (fd, local, remote)
            self.samples[key] = []

    def unregister(self, key: tuple[str, str]) -> None:
        with self._lock:
            fd, _, _ = self._files.pop(key)
        os.close(fd)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            with self._lock:
                for key, (fd, local, remote) in self._files.items():
                    now = time.monotonic()
                    match = [e for e in procnet.read_fd(fd) if e.local == local and e.remote == remote]
                    self.samples[key].append((now, match[0] if match else None))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


# ---- one scenario on real sockets ------------------------------------------------------------


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
    wall: float = 0.0  # seconds this scenario took, setup to teardown

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

    def sent(self, endpoint: str) -> list[Packet]:
        return [
            p
            for p in self.packets
            if p.sender == endpoint and p.ordinal > 0 and p.time <= self.scenario.observe
        ]


def _drain(sock: socket.socket) -> None:
    sock.setblocking(False)
    for _ in range(1000):
        try:
            if not sock.recv(65536):
                break
        except (BlockingIOError, OSError):
            break


def _perform(sock: socket.socket, call: object, reads: bool) -> None:
    """An application call of the simulator, done with the socket API."""
    match call:
        case AppClose(shutdown=True):
            sock.shutdown(socket.SHUT_WR)
        case AppClose():
            if reads:
                _drain(sock)
            sock.close()
        case AppSend(data):
            sock.sendall(data)
        case AppAbort():
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()


def run_kernel(
    ks: KernelScenario, net: int, port: int, sampler: Sampler, parent: str | None = None
) -> KernelRun:
    """Play one scenario in a fresh namespace pair (removed afterwards, also on failure)."""
    started = time.monotonic()
    sc = ks.scenario
    with NamespacePair(net, ks.sysctls, parent) as pair:
        relay = Relay(pair, sc.delay / 1e6, dict(sc.fates))
        relay.start()
        a_addr, b_addr = (pair.addr["A"], port + 1), (pair.addr["B"], port)
        socks: dict[str, socket.socket] = {}
        keys = {"A": (sc.name, "A"), "B": (sc.name, "B")}
        try:
            with entered(pair.names["B"]):
                listener = socket.socket()
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
            listener.close()  # B's port has no socket once B's connection is gone
            sampler.register(keys["A"], pair.names["A"], a_addr, b_addr)
            sampler.register(keys["B"], pair.names["B"], b_addr, a_addr)
            time.sleep(SETTLE)
            t0 = time.monotonic()
            relay.arm(t0)
            for action in sorted(sc.actions, key=lambda a: a.time):
                time.sleep(max(0.0, t0 + action.time / 1e6 - time.monotonic()))
                _perform(socks[action.endpoint], action.call, sc.reads.get(action.endpoint, True))
            time.sleep(max(0.0, t0 + ks.observe - time.monotonic()))
            t_end = time.monotonic()
        finally:
            for key in keys.values():
                if key in sampler._files:
                    sampler.unregister(key)
            relay.stop()
            for s in socks.values():
                s.close()
    samples = {ep: [(t, e) for t, e in sampler.samples.pop(keys[ep]) if t0 <= t <= t_end] for ep in "AB"}
    return KernelRun(ks, t0, t_end, relay.log, {"A": (a_addr, b_addr), "B": (b_addr, a_addr)},
                     samples, wall=time.monotonic() - started)  # fmt: skip


def _port_base() -> int:
    """Ports below the ephemeral range, different for concurrent runs (the tracepoint is global)."""
    return 20000 + (os.getpid() % 300) * 32


def run_scenarios(names: Sequence[str] | None = None, workers: int | None = None) -> dict[str, KernelRun]:
    """Play the scenarios on the kernel, concurrently, each in its own namespace pair."""
    chosen = [SCENARIOS[n] for n in (names or SCENARIOS)]
    base = _port_base()
    with parent_namespace() as parent, Tracer(base, base + 32) as tracer, Sampler() as sampler:
        with ThreadPoolExecutor(max_workers=workers or len(chosen)) as pool:
            futures = {ks.name: pool.submit(run_kernel, ks, i + 1, base + 2 * i, sampler, parent)
                       for i, ks in enumerate(chosen)}  # fmt: skip
            runs = {name: f.result() for name, f in futures.items()}
        events = tracer.stop()
    for run in runs.values():
        for ep, (local, remote) in run.tuples.items():
            run.events[ep] = [e for e in events if (e.saddr, e.sport) == local and (e.daddr, e.dport) == remote
                              and run.t0 <= e.time <= run.t_end]  # fmt: skip
    return runs


# ---- the comparison ------------------------------------------------------------------------------


def _sim_states(trace: Trace, endpoint: str, until_us: int) -> list[str]:
    cut = Trace([r for r in trace.rows if r.time <= until_us])
    return cut.states(endpoint)


SegKey = tuple[str, int | None, int | None, int, str]  # flags, seq, ack, len, fate


def _sim_sent(trace: Trace, endpoint: str, until_us: int) -> list[tuple[float, SegKey]]:
    return [(r.time / 1e6, (r.flags, r.seq, r.ack, r.len or 0, r.fate)) for r in trace.rows
            if r.endpoint == endpoint and r.event == "send" and r.time <= until_us]  # fmt: skip


@dataclass
class Comparison:
    """The reference and the kernel side by side for one scenario."""

    name: str
    states: dict[str, tuple[list[str], list[str]]]  # endpoint → (reference, kernel)
    segments: dict[str, tuple[list[tuple[float, SegKey]], list[tuple[float, SegKey]]]]
    proc_consistent: dict[str, bool]  # the /proc states appear, in order, in the merged sequence
    trace: Trace
    run: KernelRun
    # Set when the concurrent run disagreed and the scenario was played again alone: the
    # report of that first, disturbed run (kept, never hidden).
    first_attempt: str = ""

    @property
    def agrees(self) -> bool:
        return (all(r == k for r, k in self.states.values())
                and all([s for _, s in r] == [s for _, s in k] for r, k in self.segments.values())
                and all(self.proc_consistent.values()))  # fmt: skip

    def report(self) -> str:
        """Both runs side by side; a row marked ✗ differs."""
        lines = [f"scenario {self.name}: {self.run.scenario.scenario.description}",
                 f"  {'':3}{'reference (linux profile)':44}kernel"]  # fmt: skip
        for ep in "AB":
            ref, ker = self.states[ep]
            mark = "  " if ref == ker else "✗ "
            lines.append(f"{mark}{ep} states: {' → '.join(ref)}")
            lines.append(f"  {'':9} {' → '.join(ker)}   (kernel)")
            timed = ", ".join(f"{s} {t * 1000:.1f} ms" for t, s in self.run.timeline(ep))
            mark = "  " if self.proc_consistent[ep] else "✗ "
            lines.append(
                f"{mark}{'':10}kernel timeline: {timed}; /proc alone: {' → '.join(self.run.proc_states(ep))}"
            )
        for ep in "AB":
            ref, ker = self.segments[ep]
            lines.append(f"  {ep} sent:")
            for i in range(max(len(ref), len(ker))):
                r = _seg_text(ref[i]) if i < len(ref) else "—"
                k = _seg_text(ker[i]) if i < len(ker) else "—"
                same = i < len(ref) and i < len(ker) and ref[i][1] == ker[i][1]
                lines.append(f"  {'  ' if same else '✗ '}{r:44}{k}")
        if self.first_attempt:
            lines.append("  (played again alone after this first, concurrent run disagreed:)")
            lines += ["  | " + line for line in self.first_attempt.splitlines()]
        return "\n".join(lines)


def _seg_text(item: tuple[float, SegKey]) -> str:
    t, (flags, seq, ack, length, fate) = item
    a = "" if ack is None else f"<ACK={ack}>"
    return f"{t * 1000:7.1f} ms <SEQ={seq}>{a}<CTL={flags.replace('|', ',')}> {length} {fate}"


def _subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(any(s == b for b in it) for s in small)


def compare(run: KernelRun, base: Profile = LINUX) -> Comparison:
    """Simulate the scenario under the profile and put it beside the kernel run."""
    ks = run.scenario
    trace = simulate(ks.scenario, ks.profile(base), reference_machine())
    until = int(ks.observe * 1e6)
    states = {ep: (_sim_states(trace, ep, until), run.states(ep)) for ep in "AB"}
    segments = {
        ep: (_sim_sent(trace, ep, until),
             [(p.time, (p.flags, p.seq, p.ack, p.len, p.fate)) for p in run.sent(ep)])
        for ep in "AB"
    }  # fmt: skip
    proc_ok = {ep: _subsequence(run.proc_states(ep), run.states(ep)) for ep in "AB"}
    return Comparison(ks.name, states, segments, proc_ok, trace, run)


def crosscheck(names: Sequence[str] | None = None, base: Profile = LINUX) -> dict[str, Comparison]:
    """Run the scenarios on the kernel, concurrently, and compare each with the reference.

    The relay holds and releases segments from user space, so a heavily loaded machine can
    release a held ACK late enough for a retransmission timer to fire first. A scenario that
    disagrees is therefore played once more, alone; it fails only if it disagrees again, and
    its report keeps the first run.
    """
    results = {name: compare(run, base) for name, run in run_scenarios(names).items()}
    for name, first in list(results.items()):
        if not first.agrees:
            again = compare(run_scenarios([name], workers=1)[name], base)
            again.first_attempt = first.report()
            results[name] = again
    return results
