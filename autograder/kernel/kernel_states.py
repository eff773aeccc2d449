"""The one place where the kernel's view of a socket becomes the reference's state names.

Two channels see a connection's states, and neither alone is complete:

* the tracepoint sock:inet_sock_set_state sees every change of a *full* socket,
  exactly, with CLOCK_MONOTONIC time;
* /proc/net/tcp (sampled every few ms) also lists *timewait* sockets.

Linux does not keep a full socket in TIME_WAIT: tcp_time_wait() hands the connection
to a small inet_timewait_sock and calls tcp_done(), so the tracepoint reports
"→ CLOSE" where the RFC says "→ TIME_WAIT". The same happens to an orphan (plain
close()) entering FIN_WAIT_2 when tcp_fin_timeout ≤ 60 s: it becomes a timewait sock
with substate FIN_WAIT_2 at once, the peer's FIN later moves that substate to TIME_WAIT,
and its expiry (or an RST, unless tcp_rfc1337=1) removes it, all without a tracepoint
event. So:

  tracepoint X → CLOSE, and a timewait sock of the same 4-tuple appears afterwards
      → not a close: the connection lives on; its states come from /proc;
  timewait sock in /proc with substate S (TIME_WAIT or FIN_WAIT_2) → S;
  timewait sock gone from /proc → CLOSED;
  any other tracepoint change → its new state, renamed (FIN_WAIT1 → FIN_WAIT_1,
      CLOSE → CLOSED, SYN_RECV → SYN_RECEIVED).
"""

from __future__ import annotations

from collections.abc import Sequence

from .procnet import Entry
from .tracer import StateEvent

# Kernel tracepoint names (TCP_ prefix dropped) → the reference's State names.
TRACEPOINT_NAMES = {
    "ESTABLISHED": "ESTABLISHED", "SYN_SENT": "SYN_SENT", "SYN_RECV": "SYN_RECEIVED",
    "FIN_WAIT1": "FIN_WAIT_1", "FIN_WAIT2": "FIN_WAIT_2", "TIME_WAIT": "TIME_WAIT",
    "CLOSE": "CLOSED", "CLOSE_WAIT": "CLOSE_WAIT", "LAST_ACK": "LAST_ACK",
    "LISTEN": "LISTEN", "CLOSING": "CLOSING", "NEW_SYN_RECV": "SYN_RECEIVED",
}  # fmt: skip

# (time, the entry for this 4-tuple or None when it is absent from /proc/net/tcp)
Sample = tuple[float, Entry | None]


def timeline(
    events: Sequence[StateEvent], samples: Sequence[Sample], start: str = "ESTABLISHED"
) -> list[tuple[float, str]]:
    """(time, state) changes of one endpoint, merged from both channels, in time order.

    `events` and `samples` must already be restricted to this endpoint's 4-tuple and to
    the observation window.
    """
    tw = [(t, e) for t, e in samples if e is not None and e.timewait]
    changes: list[tuple[float, str]] = []
    for ev in events:
        if ev.new == "CLOSE" and any(t >= ev.time - 0.001 for t, _ in tw):
            continue  # handed to a timewait sock (tcp_time_wait), not closed
        changes.append((ev.time, TRACEPOINT_NAMES.get(ev.new, ev.new)))
    seen_tw = False
    for t, e in samples:
        if e is not None and e.timewait:
            seen_tw = True
            changes.append((t, e.state))
        elif seen_tw and e is None:
            changes.append((t, "CLOSED"))
            break
    changes.sort(key=lambda c: c[0])
    out: list[tuple[float, str]] = []
    last = start
    for t, s in changes:
        if s != last:
            out.append((t, s))
            last = s
    return out


def sequence(events: Sequence[StateEvent], samples: Sequence[Sample], start: str = "ESTABLISHED") -> list[str]:
    """The state sequence, each change once, starting from `start` (as Trace.states gives it)."""
    return [start] + [s for _, s in timeline(events, samples, start)]
