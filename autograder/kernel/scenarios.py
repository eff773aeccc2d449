"""The kernel cross-check's scenarios: simulator scenarios, and what only the kernel needs to play them.

Each `KernelScenario` is one `reference_impl.sim.Scenario` (application calls at virtual times,
channel fates by segment ordinal, 10 ms one-way delay, iss 1 so its numbers read as relative to
where each side stands at time 0) plus per-namespace sysctls, how long to watch and whether a
receive window is filled before time 0. A crafted segment (`Inject`) is written by the relay,
placed against the receiver's numbers as the relay last saw them (`seq=RCV.NXT+RCV.WND`).

Known Linux 6.x facts these scenarios pin down (and the linux profile encodes): TIME_WAIT lasts
60 s (TCP_TIMEWAIT_LEN) and follows tcp_timewait_state_process (an ACK-bearing segment re-arms
it, a segment other than an empty one at RCV.NXT is re-ACKed, a FIN without ACK is ACKed but
re-arms nothing, an RST off RCV.NXT is dropped silently); the first FIN retransmission is a
tail-loss probe (2·SRTT + 200 ms, capped by the RTO), then RTO SRTT + 200 ms doubling; only an
orphaned FIN_WAIT_2 has a timer (tcp_fin_timeout), and a close() after shutdown() orphans it
too; an RST ends TIME_WAIT unless tcp_rfc1337=1;
close() with unread data or SO_LINGER 0 sends RST and skips TIME_WAIT; a FIN to a socket that no
longer exists is answered by RST; the ACK of a FIN in ESTABLISHED is delayed (one tick, 40 ms
after data); tcp_sequence() accepts the right edge, a retransmission ending at RCV.NXT and a bare
FIN into a zero window; ACKs to refused empty segments are rate-limited (tcp_invalid_ratelimit);
an RST in CLOSE_WAIT reaches the application as EPIPE; a zero window holds the FIN back behind
the data, probed with <SEQ=SND.UNA-1>, and the FIN rides on the last data segment; a segment with none of
ACK, RST, SYN is dropped unseen, even outside the window; an ACK of unsent data in ESTABLISHED is
answered with an ACK (6.18; older kernels dropped it); text after the peer's FIN is ignored even
after close(); an orphan's FIN_WAIT_2 dies silently on any in-window RST and answers a SYN with
RST; an RST at RCV.NXT-1 resets CLOSE_WAIT. The namespaces negotiate SACK, Linux's default, which
the tail-loss probe needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from reference_impl.profiles import LINUX, Profile, ms, sec
from reference_impl.segment import ACK, FIN, RST, SYN, Flags, Segment
from reference_impl.sim import Action, Fate, Inject, Read, Reopen, Scenario
from reference_impl.states import AppAbort, AppClose, AppSend

DELAY = ms(10)  # one-way, both directions: the simulator's default
LOSE = Fate("lose")


@dataclass(frozen=True)
class KernelScenario:
    """A simulator scenario, and how to play it on the kernel."""

    scenario: Scenario
    observe: float  # seconds after time 0 to watch; both sides are cut here
    sysctls: dict[str, dict[str, str]] = field(default_factory=dict)  # per namespace "A"/"B"
    profile_changes: dict = field(default_factory=dict)  # the same settings, the profile's way
    # "B": before time 0, A writes until B's receive window is zero (B never reads, its buffer is
    # small) with nothing of A's left unsent, so the scenario starts with RCV.WND = 0 at B (the
    # simulator's Scenario.windows says the same).
    fill: str = ""
    # Endpoints whose new connection (Reopen) starts where the simulator's does: the kernel picks a
    # connect()ing or listening socket's ISN from a hash and a clock (RFC 6528), so only the numbers
    # from there on can be compared. An endpoint not named keeps the old connection's numbering: a
    # SYN that reopens Linux's TIME_WAIT is answered with ISS = SND.NXT + 65537, and that is checked.
    align: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.scenario.name

    def profile(self, base: Profile = LINUX) -> Profile:
        return base.replace(**self.profile_changes) if self.profile_changes else base


def _ks(name: str, description: str, actions: Iterable[tuple[float, str, object]], observe: float,
        fates: dict | None = None, reads: dict | None = None, fill: str = "", **kw) -> KernelScenario:  # fmt: skip
    windows = {fill: 0} if fill else {}
    sc = Scenario(name, description, tuple(Action(ms(t), e, c) for t, e, c in actions),
                  fates=fates or {}, iss_a=1, iss_b=1, delay=DELAY,
                  reads=reads or {"A": True, "B": fill != "B"}, windows=windows)  # fmt: skip
    return KernelScenario(sc, observe, fill=fill, **kw)


def crafted(flags: Flags, seq: str = "RCV.NXT", ack: str = "SND.NXT", data: bytes = b"", tsval: str = "") -> Inject:
    """A segment the relay writes as if the peer sent it, placed against the receiver's numbers
    (tsval: with a timestamps option, e.g. "TS.RECENT-1000")."""
    at = (("seq", seq),) + ((("ack", ack),) if ACK in flags else ()) + ((("tsval", tsval),) if tsval else ())
    return Inject(Segment(seq=0, ack=0, flags=flags, payload=data), at)


_close_150 = ((0, "A", AppClose()), (150, "B", AppClose()))
# A is in TIME_WAIT from about 170 ms; A's third segment answers what is crafted at 300 ms and is
# lost, so the closed B never answers it with RST (which would end TIME_WAIT).
_in_time_wait = {("A", 3): LOSE}

SCENARIOS: dict[str, KernelScenario] = {k.name: k for k in (
    _ks("normal-close", "A closes; B closes 150 ms later (after its delayed ACK of A's FIN).",
        _close_150, 0.4),
    _ks("simultaneous-close", "Both close at once; the FINs cross: FIN_WAIT_1 → CLOSING → TIME_WAIT.",
        ((0, "A", AppClose()), (0, "B", AppClose())), 0.3),
    _ks("simultaneous-close-slow-acks", "Both close at once; each ACK of a FIN is held 100 ms, so CLOSING lasts.",
        ((0, "A", AppClose()), (0, "B", AppClose())), 0.4,
        fates={("A", 2): Fate("delay", ms(100)), ("B", 2): Fate("delay", ms(100))}),
    _ks("simultaneous-close-lost-acks", "Both close at once and both ACKs are lost: each tail-loss probe resends a "
        "FIN that acknowledges the other's, and Linux takes it (it ends at RCV.NXT): CLOSING → TIME_WAIT, no reply.",
        ((0, "A", AppClose()), (0, "B", AppClose())), 0.5, fates={("A", 2): LOSE, ("B", 2): LOSE}),
    _ks("late-acks-in-time-wait", "Both close at once; the ACKs are held 300 ms, past the FINs' probes: both ends "
        "reach TIME_WAIT on the resent FINs; the late ACKs carry older timestamps, so PAWS refuses them (RFC 7323 "
        "§5): each end answers with an ACK and re-arms its timer.",
        ((0, "A", AppClose()), (0, "B", AppClose())), 0.6,
        fates={("A", 2): Fate("delay", ms(300)), ("B", 2): Fate("delay", ms(300))}),
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
    _ks("shutdown-then-close", "A shuts down its sending side, then close()s in FIN_WAIT_2: the application detaches, "
        "so the orphan's tcp_fin_timeout (1 s) ends FIN_WAIT_2; B's FIN at 1.5 s finds no socket and gets RST.",
        ((0, "A", AppClose(shutdown=True)), (100, "A", AppClose()), (1500, "B", AppClose())), 1.8,
        sysctls={"A": {"net.ipv4.tcp_fin_timeout": "1"}}, profile_changes={"fin_wait_2_timeout": sec(1)}),
    _ks("shutdown-then-close-then-data", "A shuts down, then close()s; B's data after that is answered with RST "
        "(Linux: new data after a half-duplex close resets).",
        ((0, "A", AppClose(shutdown=True)), (100, "A", AppClose()), (200, "B", AppSend(b"late"))), 0.4),
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
    _ks("data-in-time-wait", "Data at RCV.NXT reaches A in TIME_WAIT: A answers <ACK=RCV.NXT> and re-arms 60 s.",
        _close_150 + ((300, "A", crafted(ACK, data=b"xyz")),), 0.5, fates=_in_time_wait),
    _ks("new-fin-in-time-wait", "A FIN at RCV.NXT (after the peer's FIN) reaches A in TIME_WAIT: ACK of RCV.NXT, re-arm.",
        _close_150 + ((300, "A", crafted(ACK | FIN)),), 0.5, fates=_in_time_wait),
    _ks("fin-without-ack-in-time-wait", "The peer's FIN again, without the ACK bit, in TIME_WAIT: Linux ACKs it "
        "but re-arms nothing (only an ACK-bearing segment re-arms).",
        _close_150 + ((300, "A", crafted(FIN, seq="RCV.NXT-1")),), 0.5, fates=_in_time_wait),
    _ks("rst-off-rcv-nxt-in-time-wait", "An RST inside the window but not at RCV.NXT reaches A in TIME_WAIT: dropped "
        "silently (no challenge ACK), TIME_WAIT goes on.",
        _close_150 + ((300, "A", crafted(RST, seq="RCV.NXT+1")),), 0.5),
    _ks("rst-in-close-wait", "A half-closes, then aborts: its RST takes B from CLOSE_WAIT to CLOSED, and B's "
        "application hears EPIPE (not ECONNRESET).",
        ((0, "A", AppClose(shutdown=True)), (100, "A", AppAbort())), 0.3),
    _ks("right-edge-in-close-wait", "An empty segment at RCV.NXT+RCV.WND reaches B in CLOSE_WAIT: Linux takes it "
        "silently; one octet further it is answered with an ACK.",
        ((0, "A", AppClose(shutdown=True)), (100, "B", crafted(ACK, seq="RCV.NXT+RCV.WND")),
         (200, "B", crafted(ACK, seq="RCV.NXT+RCV.WND+1"))), 0.35),
    _ks("empty-segment-past-rcv-nxt", "An empty ACK 10 past RCV.NXT reaches A in FIN_WAIT_2: accepted, not "
        "acknowledged (only data or a FIN out of order is).",
        ((0, "A", AppClose(shutdown=True)), (100, "A", crafted(ACK, seq="RCV.NXT+10"))), 0.3),
    _ks("rate-limited-dupacks", "Three old empty segments reach B at 100, 200 and 700 ms: the first and third are "
        "answered, the second falls within tcp_invalid_ratelimit (500 ms).",
        ((100, "B", crafted(ACK, seq="RCV.NXT-10")), (200, "B", crafted(ACK, seq="RCV.NXT-10")),
         (700, "B", crafted(ACK, seq="RCV.NXT-10"))), 0.8),
    _ks("zero-window-fin", "B's window is zero (its buffer full, unread) when a bare FIN at RCV.NXT arrives: Linux "
        "takes it into CLOSE_WAIT and ACKs it 40 ms later (B's ACK, beyond A's SND.NXT, is lost).",
        ((100, "B", crafted(ACK | FIN)),), 0.3, fates={("B", 1): LOSE}, fill="B"),
    # A new connection on the same 4-tuple (A's new socket binds A's address and connects).
    # (A shuts down rather than closes: an orphan's FIN_WAIT_2 is a timewait socket too, which
    # tcp_max_tw_buckets=0 would refuse; its old socket is closed when it connects again.)
    _ks("syn-in-last-ack", "A's last ACK is lost and A keeps no TIME_WAIT (tcp_max_tw_buckets=0); A connects again "
        "at 250 ms: B, still in LAST_ACK, answers the SYN with a challenge ACK, A resets it and sends the SYN again "
        "8 ms later (TCP_TIMEOUT_MIN), which B's listener takes.",
        ((0, "A", AppClose(shutdown=True)), (150, "B", AppClose()), (250, "A", Reopen(iss_a=5001, iss_b=7001))),
        0.45, fates={("A", 2): LOSE},
        sysctls={"A": {"net.ipv4.tcp_max_tw_buckets": "0"}}, profile_changes={"time_wait": 0}, align=("A", "B")),
    _ks("syn-in-time-wait", "B closes first and waits in TIME_WAIT; A connects again at 250 ms: its SYN is past "
        "RCV.NXT (and its timestamp newer), so it reopens B's TIME_WAIT (TCP_TW_SYN) and B answers with "
        "ISS = SND.NXT + 65537.",
        ((0, "B", AppClose()), (150, "A", AppClose()), (250, "A", Reopen(iss_a=5001, iss_b=7001))), 0.4,
        align=("A",)),
    # Timestamps (RFC 7323): PAWS refuses a segment whose timestamp is older than TS.Recent.
    _ks("paws-old-duplicate", "A sends 10 bytes; at 100 ms a copy with an old timestamp (TS.Recent - 1000) "
        "reaches B exactly at RCV.NXT: PAWS refuses it with an ACK, its sequence numbers notwithstanding.",
        ((0, "A", AppSend(b"d" * 10)), (100, "B", crafted(ACK, data=b"old", tsval="TS.RECENT-1000"))), 0.25),
    _ks("old-duplicate-without-timestamps", "As paws-old-duplicate with timestamps off: B takes the copy's 3 bytes "
        "as data, since its sequence numbers fit.",
        ((0, "A", AppSend(b"d" * 10)), (100, "B", crafted(ACK, data=b"old"))), 0.25,
        sysctls={ep: {"net.ipv4.tcp_timestamps": "0"} for ep in "AB"}, profile_changes={"timestamps": False}),
    _ks("fin-behind-zero-window", "B's window is zero; A writes 300 bytes and closes: the data and the FIN wait, A "
        "probes with <SEQ=SND.UNA-1>; B reads at 400 ms and announces its window, and A sends the data with the "
        "FIN on it. B shuts down at 800 ms.",
        ((0, "A", AppSend(b"w" * 300)), (50, "A", AppClose()), (400, "B", Read()),
         (800, "B", AppClose(shutdown=True))), 1.0, fill="B"),
    # What a full socket and an orphan's FIN_WAIT_2 (a timewait socket) do with odd segments.
    _ks("fin-without-ack-past-the-window", "A FIN without the ACK bit, past B's window, reaches B in ESTABLISHED: "
        "Linux drops a segment with none of ACK, RST, SYN unseen (RFC 9293 would ACK it). A closes at 200 ms.",
        ((100, "B", crafted(FIN, seq="RCV.NXT+RCV.WND+1")), (200, "A", AppClose()), (350, "B", AppClose())), 0.6),
    _ks("unsent-ack-in-established", "Data acknowledging 10 octets B never sent reaches B in ESTABLISHED: B answers "
        "with an ACK and drops it, as RFC 9293 says. A closes at 200 ms.",
        ((100, "B", crafted(ACK, ack="SND.NXT+10", data=b"xyz")), (200, "A", AppClose()), (350, "B", AppClose())),
        0.6),
    _ks("data-in-orphan-last-ack", "B close()s in CLOSE_WAIT and A's last ACK is lost; data at RCV.NXT (not "
        "acknowledging B's FIN) reaches B in LAST_ACK: text after the peer's FIN is ignored, no RST.",
        ((0, "A", AppClose(shutdown=True)), (100, "B", AppClose()),
         (150, "B", crafted(ACK, ack="SND.NXT-1", data=b"xyz"))), 0.5, fates={("A", 2): LOSE}),
    _ks("data-in-orphan-closing", "Both close(), their ACKs held 100 ms; data at RCV.NXT reaches A in CLOSING: "
        "ignored, no RST.",
        ((0, "A", AppClose()), (0, "B", AppClose()), (50, "A", crafted(ACK, ack="SND.NXT-1", data=b"xyz"))), 0.4,
        fates={("A", 2): Fate("delay", ms(100)), ("B", 2): Fate("delay", ms(100))}),
    _ks("rst-in-window-orphan-fin-wait-2", "A close()s; an RST at RCV.NXT+1 reaches A in FIN_WAIT_2, a timewait "
        "socket: it ends silently (no challenge ACK); B's data at 200 ms meets no socket and gets RST.",
        ((0, "A", AppClose()), (100, "A", crafted(RST, seq="RCV.NXT+1")), (200, "B", AppSend(b"more"))), 0.35),
    _ks("rst-on-the-fin-in-close-wait", "A shuts down; an RST at B's RCV.NXT-1, the number of A's FIN, reaches B in "
        "CLOSE_WAIT: Linux resets the connection (tcp_reset_check); RFC 9293 would drop it unseen.",
        ((0, "A", AppClose(shutdown=True)), (100, "B", crafted(RST, seq="RCV.NXT-1"))), 0.3),
    _ks("syn-in-orphan-fin-wait-2", "A close()s; a SYN at RCV.NXT reaches A in FIN_WAIT_2, a timewait socket: "
        "answered with <SEQ=0><CTL=RST,ACK>, A is gone; B's data at 200 ms gets RST.",
        ((0, "A", AppClose()), (100, "A", crafted(SYN)), (200, "B", AppSend(b"more"))), 0.35),
)}  # fmt: skip
