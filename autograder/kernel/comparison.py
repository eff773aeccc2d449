"""The reference and a kernel run side by side: what has to agree, and the report when it does not.

Per endpoint: the state sequence, and when each state began (the reference's changes paired in
order with the kernel's, each within TIME_SLACK: a timer that ends a state silently, such as an
orphan's FIN_WAIT_2, shows only there); the segments sent (flags, relative seq/ack, length, fate),
in order, each within TIME_SLACK of the reference's time (so a delayed ACK, a probe or a
retransmission that leaves at the wrong moment shows); how many ACKs the delayed-ACK timer sent
(the kernel's DelayedACKs counter); how many times the TIME_WAIT timer was re-armed (the
kernel's, read from /proc/net/tcp as a jump of the timewait socket's expiry); and the error an
application still holding its socket would read (SO_ERROR against the reference's last error).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reference_impl.profiles import LINUX, Profile
from reference_impl.script import parse_duration
from reference_impl.sim import simulate
from reference_impl.states import State
from reference_impl.trace import EventKind, Trace

from ..reference_source import reference_machine

if TYPE_CHECKING:
    from .kernel_run import KernelRun

# A kernel segment may leave this much earlier, or this much (plus a share of the time) later,
# than the reference's: timers fire on 4 ms jiffies, the relay wakes from user space, and the
# kernel's RTO (~224 ms, its own RTT estimate) is a little above the model's 220 ms.
# The same slack holds when each state begins: a change follows a segment's arrival or a timer,
# and the segments' timing already bounds both. Nine concurrent runs of every scenario used at most
# 0.93 of the later allowance (lost-fin: its probe FIN was as late), else 0.71, and came at most
# 3.5 ms early; B's SYN_RECEIVED shows a round trip late (the tracepoint sees no request sock, only
# the child made on the handshake's last ACK), within the 30 ms.
TIME_SLACK = (0.008, 0.03, 0.12)  # (earlier, later, later share of the time)
# A TIME_WAIT expiry that moves later by more than this between two /proc samples was re-armed
# (/proc shows the time left in 10 ms ticks).
REARM_JUMP = 0.03
ERRNO_WORDS = {errno.ECONNRESET: "connection reset", errno.EPIPE: "broken pipe",
               errno.ETIMEDOUT: "connection aborted due to user timeout"}  # fmt: skip
APP_CALL_ERRORS = ("connection closing", "connection does not exist")  # answers to a call, not SO_ERROR


def _sim_state_changes(trace: Trace, endpoint: str, until_us: int) -> list[tuple[float, str]]:
    """The reference's states as the kernel can show them for the 4-tuple, each with the time (s) it
    began (the first: the state the trace starts in): not LISTEN (the listener is a socket of its
    own, with no peer), and not a TIME_WAIT of 0 s (with tcp_max_tw_buckets=0 Linux makes no
    timewait socket at all: the connection goes straight to CLOSED)."""
    changes: list[tuple[int, str]] = []
    for r in trace.rows:
        if r.endpoint == endpoint and r.time <= until_us:
            for state in (str(r.state_before), str(r.state_after)):  # the kernel's states are names
                if not changes or changes[-1][1] != state:
                    changes.append((r.time, state))
    kept = [(t, s) for i, (t, s) in enumerate(changes) if s != "LISTEN"
            and not (s == "TIME_WAIT" and i + 1 < len(changes) and changes[i + 1][0] == t)]  # fmt: skip
    return [(t / 1e6, s) for i, (t, s) in enumerate(kept) if i == 0 or s != kept[i - 1][1]] or [(0.0, "ESTABLISHED")]


SegKey = tuple[str, int | None, int | None, int, str]  # flags, seq, ack, len, fate


def _sim_sent(trace: Trace, endpoint: str, until_us: int) -> list[tuple[float, SegKey]]:
    return [(r.time / 1e6, (r.flags_text, r.seq, r.ack, r.len or 0, r.fate)) for r in trace.rows
            if r.endpoint == endpoint and r.event == EventKind.SEND and r.time <= until_us]  # fmt: skip


def _sim_delayed_acks(trace: Trace, endpoint: str, until_us: int) -> int:
    """ACKs the delayed-ACK timer sent: a DELAYED_ACK timeout followed, at once, by a send."""
    rows = [r for r in trace.rows if r.endpoint == endpoint and r.time <= until_us]
    return sum(1 for r, nxt in zip(rows, rows[1:], strict=False)
               if r.event == EventKind.TIMEOUT and r.detail == "DELAYED_ACK" and nxt.event == EventKind.SEND and nxt.time == r.time)  # fmt: skip


def _sim_rearms(trace: Trace, endpoint: str, until_us: int) -> int:
    """TIME_WAIT timer starts beyond the one each entry into TIME_WAIT makes, counted as /proc can
    see them: a restart that moves the expiry later by more than REARM_JUMP (two restarts 10 ms
    apart read as one jump in /proc's 10 ms ticks)."""
    rows = [r for r in trace.rows if r.endpoint == endpoint and r.time <= until_us]
    count, expiry = 0, None
    for r in rows:
        if r.state_after is State.TIME_WAIT and r.state_before is not State.TIME_WAIT:
            expiry = None  # entering TIME_WAIT: its first start is not a re-arm
        if r.event == EventKind.TIMER and r.detail.startswith("start TIME_WAIT"):
            ends = r.time + parse_duration(r.detail.split()[-2] + r.detail.split()[-1].replace("µs", "us"))
            if expiry is not None and ends - expiry > REARM_JUMP * 1e6:
                count += 1
            expiry = ends
    return count


def _sim_error(trace: Trace, endpoint: str, until_us: int) -> str:
    """The last error the application could still read ("" when none)."""
    heard = [r.detail for r in trace.rows if r.endpoint == endpoint and r.event == EventKind.ERROR and r.time <= until_us
             and r.detail not in APP_CALL_ERRORS and "no one hears it" not in r.detail]  # fmt: skip
    return heard[-1] if heard else ""


def kernel_rearms(run: KernelRun, endpoint: str) -> int:
    """Times the kernel's TIME_WAIT expiry (sample time + time left) jumped later in TIME_WAIT."""
    ends = [
        t + e.remaining for t, e in run.samples[endpoint] if e is not None and e.timewait and e.state == "TIME_WAIT"
    ]
    return sum(1 for a, b in zip(ends, ends[1:], strict=False) if b - a > REARM_JUMP)


def _on_time(ref: float, ker: float) -> bool:
    early, late, share = TIME_SLACK
    return ref - early <= ker <= ref * (1 + share) + late


@dataclass
class Comparison:
    """The reference and the kernel side by side for one scenario."""

    name: str
    states: dict[str, tuple[list[str], list[str]]]  # endpoint → (reference, kernel)
    # endpoint → (reference, kernel) state changes after the first state: (seconds since time 0, state)
    state_times: dict[str, tuple[list[tuple[float, str]], list[tuple[float, str]]]]
    segments: dict[str, tuple[list[tuple[float, SegKey]], list[tuple[float, SegKey]]]]
    proc_consistent: dict[str, bool]  # the /proc states appear, in order, in the merged sequence
    delayed_acks: dict[str, tuple[int, int]]  # endpoint → (reference, kernel DelayedACKs)
    rearms: dict[str, tuple[int, int]]  # endpoint → (reference, kernel) TIME_WAIT re-arms
    errors: dict[str, tuple[str, str]]  # endpoint (socket still open) → (reference, kernel SO_ERROR)
    trace: Trace
    run: KernelRun
    # Set when the concurrent run disagreed and the scenario was played again alone: the
    # report of that first, disturbed run (kept, never hidden).
    first_attempt: str = ""

    def _timely(self, ep: str) -> list[bool]:
        ref, ker = self.segments[ep]
        return [_on_time(r[0], k[0]) for r, k in zip(ref, ker, strict=False)]

    def untimely_states(self, ep: str) -> list[tuple[str, float, float]]:
        """(state, reference s, kernel s) of each state change, paired in order, that the kernel made
        further from the reference's time than TIME_SLACK allows; none when the sequences differ
        (that shows on its own)."""
        ref, ker = self.state_times[ep]
        if [s for _, s in ref] != [s for _, s in ker]:
            return []
        return [(s, r, k) for (r, s), (k, _) in zip(ref, ker, strict=True) if not _on_time(r, k)]

    @property
    def agrees(self) -> bool:
        return (all(r == k for r, k in self.states.values())
                and not any(self.untimely_states(ep) for ep in self.state_times)
                and all([s for _, s in r] == [s for _, s in k] for r, k in self.segments.values())
                and all(all(self._timely(ep)) for ep in self.segments)
                and all(self.proc_consistent.values())
                and all(r == k for r, k in self.delayed_acks.values())
                and all(r == k for r, k in self.rearms.values())
                and all(r == k for r, k in self.errors.values()))  # fmt: skip

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
            lines.append(f"{mark}{'':10}kernel timeline: {timed}; /proc alone: {' → '.join(self.run.proc_states(ep))}")
            lines += [f"✗ {ep} {s} began at {r * 1000:.1f} ms (reference), {k * 1000:.1f} ms (kernel): "
                      f"{(k - r) * 1000:+.1f} ms" for s, r, k in self.untimely_states(ep)]  # fmt: skip
            for what, (r, k) in (("delayed ACKs", self.delayed_acks[ep]), ("TIME_WAIT re-arms", self.rearms[ep])):
                lines.append(f"{'  ' if r == k else '✗ '}{ep} {what}: {r} (reference), {k} (kernel)")
            if ep in self.errors:
                r, k = self.errors[ep]
                lines.append(f"{'  ' if r == k else '✗ '}{ep} error the application reads: {r or 'none'!r} "
                             f"(reference), {k or 'none'!r} (kernel SO_ERROR)")  # fmt: skip
        for ep in "AB":
            ref, ker = self.segments[ep]
            timely = self._timely(ep)
            lines.append(f"  {ep} sent:")
            for i in range(max(len(ref), len(ker))):
                r = _seg_text(ref[i]) if i < len(ref) else "—"
                k = _seg_text(ker[i]) if i < len(ker) else "—"
                same = i < len(ref) and i < len(ker) and ref[i][1] == ker[i][1] and timely[i]
                late = "" if i >= len(timely) or timely[i] else "   (too early or too late)"
                lines.append(f"  {'  ' if same else '✗ '}{r:44}{k}{late}")
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
    sim_changes = {ep: _sim_state_changes(trace, ep, until) for ep in "AB"}
    states = {ep: ([s for _, s in sim_changes[ep]], run.states(ep)) for ep in "AB"}
    state_times = {ep: (sim_changes[ep][1:], run.timeline(ep)) for ep in "AB"}
    segments = {
        ep: (_sim_sent(trace, ep, until),
             [(p.time, (p.flags, p.seq, p.ack, p.len, p.fate)) for p in run.sent(ep)])
        for ep in "AB"
    }  # fmt: skip
    proc_ok = {ep: _subsequence(run.proc_states(ep), run.states(ep)) for ep in "AB"}
    delayed = {ep: (_sim_delayed_acks(trace, ep, until), run.counted(ep, "DelayedACKs")) for ep in "AB"}
    rearms = {ep: (_sim_rearms(trace, ep, until), kernel_rearms(run, ep)) for ep in "AB"}
    errors = {ep: (_sim_error(trace, ep, until), ERRNO_WORDS.get(code, errno.errorcode.get(code, "")) if code else "")
              for ep, code in run.errors.items()}  # fmt: skip
    return Comparison(ks.name, states, state_times, segments, proc_ok, delayed, rearms, errors, trace, run,
                      first_attempt=run.first_error)  # fmt: skip
