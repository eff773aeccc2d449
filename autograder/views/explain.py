"""One plain sentence per trace event, for the timeline's caption and the SVG tooltips.

A learner watching an animation needs to be told what just happened and why it
matters in the words of the RFC (FIN: "no more data from sender"), not shown a row.

A row alone does not say everything a caption must get right, so `Captions` reads a
row in its trace: whether a timer start restarts a running timer, whether an expiry is
Linux's tail-loss probe, whether "close" was shutdown(SHUT_WR), whether the application
still reads (an orphan after Linux's close() does not; nor does a scenario's
application that never reads). Calls and reads come from the catalogue scenario the
trace names, since the trace rows do not record them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reference_impl.segment import Flags
from reference_impl.trace import EventKind

from .model import Event

WHO = {"A": "A (client)", "B": "B (server)"}
TIMER_WHY = {
    "RETRANSMIT": "if no ACK comes in time, the segment is sent again",
    "FIN_WAIT_2": "an orphaned socket will not wait forever for the peer's FIN",
    "DELAYED_ACK": "the ACK may wait for data or a FIN to ride along",
}


def seconds(us: int) -> str:
    """Virtual time as a learner reads it: 0.010 s, 240.060 s."""
    return f"{us / 1_000_000:.3f} s"


def segment_meaning(flags: Flags | None) -> str:
    flags = flags or Flags.NONE
    if Flags.RST in flags:
        return "a reset: the connection is aborted"
    if Flags.FIN in flags:
        return "a FIN: no more data from the sender"
    return "an acknowledgment" if Flags.ACK in flags else "a segment"


def time_wait_why(duration: str, profile: str) -> str:
    """Where TIME_WAIT's length comes from, true to the profile: RFC 9293's is 2 MSL; Linux's is
    the fixed TCP_TIMEWAIT_LEN (60 s), not derived from any MSL. It does not say what TIME_WAIT is
    for: timelines appear from notebook 01's first cells on, and notebooks 01 and 05 ask the
    learner to predict exactly that (a lost final ACK; old duplicates)."""
    if duration.strip() in ("0 s", "0 ms", "0"):
        return "TIME_WAIT switched off"
    if profile.startswith("linux"):
        return "Linux's fixed TCP_TIMEWAIT_LEN, not derived from the MSL"
    return "2 MSL"


@dataclass
class Captions:
    """Sentences and lane notes for the events of one trace, each read in its context."""

    events: list[Event]
    scenario: str = ""
    profile: str = ""
    restarts: set[int] = field(default_factory=set)  # timer starts that restart a running timer
    probes: set[int] = field(default_factory=set)  # RETRANSMIT expiries that are tail-loss probes
    shutdowns: dict[int, str] = field(default_factory=dict)  # "close" rows that were a shutdown: which
    unread: dict[int, str] = field(default_factory=dict)  # deliveries no application reads: why not

    @classmethod
    def of(cls, events: list[Event], scenario: str = "", profile: str = "") -> Captions:
        linux = profile.startswith("linux")
        shutdowns, unread = _application_calls(events, scenario, linux)
        return cls(events, scenario, profile, _restarts(events), _tail_loss_probes(events, linux), shutdowns, unread)

    def sentence(self, e: Event) -> str:
        return explain(e, self)

    def note(self, e: Event) -> str:
        """The few words written beside the lane, or ''."""
        match e.event:
            case "close":
                return self.shutdowns.get(e.index, "close()")
            case "abort":
                return "abort()"
            case "write":
                return f"write {e.detail}"
            case "deliver":
                if e.index in self.unread:
                    return "EOF, no reader" if e.detail == "EOF" else f"{e.detail} unread"
                return "EOF → app" if e.detail == "EOF" else f"{e.detail} → app"
            case "error":
                return f"error: {e.detail}"
            case "timeout":
                return "tail-loss probe" if e.index in self.probes else f"{e.detail} fires"
            case "reopen":
                return "new connection" if e.changes_state else "reopen waits"
        return ""


def _restarts(events: list[Event]) -> set[int]:
    """The timer starts that restart a timer already running (a TCB's end stops its timers)."""
    running: set[tuple[str, str]] = set()
    out: set[int] = set()
    for e in events:
        words = e.detail.split()
        if e.event == EventKind.TIMER and words[:1] == ["start"] and len(words) >= 2:
            if (e.endpoint, words[1]) in running:
                out.add(e.index)
            running.add((e.endpoint, words[1]))
        elif e.event == EventKind.TIMER and words[:1] == ["cancel"] and len(words) >= 2:
            running.discard((e.endpoint, words[1]))
        elif e.event == EventKind.TIMEOUT:
            running.discard((e.endpoint, e.detail))
        elif e.event == EventKind.REOPEN and e.changes_state:
            running = {k for k in running if k[0] != e.endpoint}
        if e.after == "CLOSED" and e.changes_state:
            running = {k for k in running if k[0] != e.endpoint}
    return out


def _tail_loss_probes(events: list[Event], linux: bool) -> set[int]:
    """Linux (RFC 8985): the first expiry with a FIN or data outstanding is the tail-loss probe; the
    RTO with its backoff comes after it, until the RETRANSMIT timer is cancelled or a new connection opens."""
    probed: set[str] = set()
    out: set[int] = set()
    for e in events if linux else ():
        if e.event == EventKind.TIMER and e.detail.split()[:2] == ["cancel", "RETRANSMIT"]:
            probed.discard(e.endpoint)
        elif e.event == EventKind.TIMEOUT and e.detail == "RETRANSMIT" and e.endpoint not in probed:
            out.add(e.index)
            probed.add(e.endpoint)
        elif e.event == EventKind.REOPEN and e.changes_state:
            probed.discard(e.endpoint)
    return out


def _application_calls(events: list[Event], scenario: str, linux: bool) -> tuple[dict[int, str], dict[int, str]]:
    """The "close" rows that were a shutdown (which one), and the deliveries no application reads, with why not."""
    calls, reads = _scenario_facts(scenario)
    shutdowns: dict[int, str] = {}
    unread: dict[int, str] = {}
    closed: set[str] = set()  # endpoints whose application called close() (not shutdown)
    for e in events:
        if e.event == EventKind.CLOSE:
            if (e.time, e.endpoint) in calls:
                shutdowns[e.index] = calls[(e.time, e.endpoint)]
            else:
                closed.add(e.endpoint)
        elif e.event == EventKind.DELIVER:
            if linux and e.endpoint in closed:  # close() detached the application (an orphan)
                unread[e.index] = "detached"
            elif not reads.get(e.endpoint, True) and e.detail != "EOF":
                unread[e.index] = "never reads"
        elif e.event == EventKind.REOPEN and e.changes_state:
            closed.discard(e.endpoint)
    return shutdowns, unread


def _scenario_facts(scenario: str) -> tuple[dict[tuple[int, str], str], dict[str, bool]]:
    """From the catalogue: which application calls were a shutdown() (SHUT_WR or SHUT_RDWR), and which
    endpoints never read."""
    if not scenario:
        return {}, {}
    try:
        from reference_impl import scenarios
    except ImportError:  # pragma: no cover - the views without the simulator
        return {}, {}
    entry = scenarios.CATALOGUE.get(scenario.split("+", 1)[0])
    if entry is None:
        return {}, {}
    sc = entry.scenario
    calls = {(a.time, a.endpoint): "shutdown(SHUT_RDWR)" if getattr(a.call, "rdwr", False) else "shutdown(SHUT_WR)"
             for a in sc.actions if getattr(a.call, "shutdown", False)}  # fmt: skip
    return calls, dict(getattr(sc, "reads", {}) or {})


def explain(e: Event, ctx: Captions | None = None) -> str:
    """One sentence: who did what, and the state change it caused."""
    ctx = ctx or Captions([])
    who = WHO.get(e.endpoint, e.endpoint or "?")
    move = (
        f" and moves from {e.before} to {e.after}"
        if e.changes_state
        else (f" and stays in {e.after}" if e.after else "")
    )
    match e.event:
        case "close":
            s = _close(e, who, move, ctx)
        case "write":
            s = f"{who}'s application writes {e.detail or 'data'}{move}"
        case "abort":
            s = f"{who}'s application aborts the connection{move}"
        case "send":
            s = _send(e, who)
        case "recv":
            s = f"{who} receives {e.detail}{move}"
        case "timer":
            s = _timer(e, who, ctx)
        case "timeout":
            s = _timeout(e, who, move, ctx)
        case "deliver":
            s = _deliver(e, who, ctx)
        case "error":
            s = f"{who}'s application gets an error: {e.detail}"
        case "read":
            s = f"{who}'s application reads what waits, and its window opens ({e.detail})"
        case "reopen":
            s = f"{who}: {e.detail or 'a new connection on the same 4-tuple'}{move}"
        case _:
            s = f"{who}: {e.event} {e.detail}".rstrip()
    return f"{seconds(e.time)} — {s}."


def _close(e: Event, who: str, move: str, ctx: Captions) -> str:
    call = ctx.shutdowns.get(e.index)
    if call == "shutdown(SHUT_RDWR)":
        return f"{who}'s application calls shutdown(SHUT_RDWR): no more data from it, and it reads no more{move}"
    if call:
        return f"{who}'s application calls shutdown(SHUT_WR): no more data from it, but it still reads{move}"
    return f"{who}'s application calls close(){move}"


def _send(e: Event, who: str) -> str:
    what = "data" if e.length else segment_meaning(e.flags)
    fate = {
        "lost": " — the network loses it",
        "duplicated": " — the network delivers it twice",
        "delayed": " — the network delays it",
    }.get(e.fate, "")
    return f"{who} sends {e.segment_text} ({what}){fate}"


def _timer(e: Event, who: str, ctx: Captions) -> str:
    words = e.detail.split()
    if words[:1] == ["start"] and len(words) >= 2:
        dur = " ".join(words[2:])
        why = time_wait_why(dur, ctx.profile) if words[1] == "TIME_WAIT" else TIMER_WHY.get(words[1], "")
        verb = "restarts" if e.index in ctx.restarts else "starts"
        return f"{who} {verb} its {words[1]} timer ({dur}{': ' + why if why else ''})"
    if words[:1] == ["cancel"] and len(words) >= 2:
        return f"{who} cancels its {words[1]} timer"
    return f"{who}: timer {e.detail}"


def _timeout(e: Event, who: str, move: str, ctx: Captions) -> str:
    if e.index in ctx.probes:
        return (
            f"{who}'s probe timer expires: Linux sends a tail-loss probe (RFC 8985), the last segment "
            f"again, before any retransmission timeout{move}"
        )
    return f"{who}'s {e.detail} timer expires{move}"


def _deliver(e: Event, who: str, ctx: Captions) -> str:
    why = ctx.unread.get(e.index)
    if why == "detached":
        what = "the end-of-file arrives" if e.detail == "EOF" else f"{e.detail} arrive"
        return f"{who}: {what} with no application to read it (close() detached the socket: an orphan)"
    if why:
        return f"{who} holds {e.detail} in its receive buffer: its application never reads them"
    if e.detail == "EOF":
        return f"{who}'s application reads end-of-file: the peer will send no more"
    return f"{who}'s application receives {e.detail}"
