"""The first place a learner's close differs from the reference, told as text and drawn as SVG.

A learner fixes one thing at a time, so feedback names one step: which endpoint, in
which state, on which event, at what virtual time, what the reference did and what
their code did (only the parts that differ), with a few trace rows of context and the
command that replays the scenario. It never shows test source or tracebacks: the
learner's own errors arrive here already turned into one sentence by the harness.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference_impl.segment import Flags
from reference_impl.states import (
    AppAbort,
    AppClose,
    AppSend,
    Arrival,
    Stimulus,
    Timeout,
    stimulus_text,
)
from reference_impl.tcb import TCB
from reference_impl.trace import EventKind, Trace, format_time

from .harness import LearnerError, Observed, SegmentView


def event_kind(stimulus: Stimulus) -> str:
    """The event as a transition label: "recv FIN,ACK", "timeout RETRANSMIT", "close", ..."""
    match stimulus:
        case Arrival(seg):
            return "recv " + (",".join(seg.flags.names()) or "no flags") + (" +data" if seg.payload else "")
        case Timeout(timer):
            return f"timeout {timer}"
        case AppClose(shutdown=shutdown, unread=unread):
            return "shutdown" if shutdown else "close with unread data" if unread else "close"
        case AppSend():
            return "send"
        case AppAbort():
            return "abort"
    return type(stimulus).__name__


def arrival_numbers(tcb: TCB, stimulus: Stimulus) -> str:
    """An arriving segment's numbers against the TCB, "SEQ = RCV.NXT + 1, ACK = SND.NXT": what tells
    apart two checks of the same event (an RST at RCV.NXT, one past it, one outside the window)."""
    if not isinstance(stimulus, Arrival):
        return ""

    def relative(value: int, name: str, base: int) -> str:
        d = (value - base + 2**31) % 2**32 - 2**31
        return name if d == 0 else f"{name} {'+' if d > 0 else '-'} {abs(d):,}"

    seg = stimulus.segment
    parts = [f"SEQ = {relative(seg.seq, 'RCV.NXT', tcb.rcv_nxt)}"]
    if seg.flags & Flags.ACK:
        parts.append(f"ACK = {relative(seg.ack, 'SND.NXT', tcb.snd_nxt)}")
    return ", ".join(parts)


# The connection variables RFC 9293 defines, which every correct implementation keeps equal.
# (Other TCB fields, such as the retry count, belong to the building blocks.)
TCB_VARIABLES = (
    ("SND.UNA", "snd_una"),
    ("SND.NXT", "snd_nxt"),
    ("RCV.NXT", "rcv_nxt"),
    ("our FIN (fin_seq)", "fin_seq"),
    ("orphaned", "orphaned"),
)  # orphaned: close() gave the connection up, shutdown() did not


def tcb_difference(expected: TCB | None, got: TCB | None) -> str:
    """'SND.NXT=100 (reference 101)' for each connection variable that differs; '' when none does."""
    if expected is None or got is None:
        return ""

    def value(name: str, v: object) -> str:
        """fin_seq None says only that no FIN is recorded in the TCB, not that none was sent."""
        if name.startswith("our FIN"):
            return "none" if v is None else f"at {v}"
        return str(v)

    return ", ".join(
        f"{name}{' ' if name.startswith('our FIN') else '='}{value(name, getattr(got, attr))} "
        f"(reference {value(name, getattr(expected, attr))})"
        for name, attr in TCB_VARIABLES if getattr(got, attr) != getattr(expected, attr)
    )  # fmt: skip


@dataclass
class Divergence:
    """Where the learner's run first differs: step `index` of the observed handler calls."""

    index: int
    expected: Observed | None
    got: Observed | None
    error: LearnerError | None = None
    handed_on: str = ""  # when the TCB given at the divergence already differs: who handed it on

    @property
    def where(self) -> Observed | None:
        return self.got or self.expected

    @property
    def transition(self) -> tuple[str, str]:
        """(state, event kind) of the diverging step, for the per-transition class summary."""
        if self.error is not None and self.error.state is not None and self.error.stimulus is not None:
            return str(self.error.state), event_kind(self.error.stimulus)
        w = self.where
        return (str(w.state), event_kind(w.stimulus)) if w else ("", "")


def first_divergence(
    expected: list[Observed], got: list[Observed], error: LearnerError | None = None
) -> Divergence | None:
    """The first observed step that differs, or where the learner's run stopped with an error."""
    for i, (e, g) in enumerate(zip(expected, got, strict=False)):
        if e != g:
            return Divergence(i, e, g, handed_on=_handed_on(got[:i], g, tcb_difference(e.tcb, g.tcb)))
    if error is not None:
        n = len(got)
        return Divergence(n, expected[n] if n < len(expected) else None, None, error)
    if len(expected) != len(got):  # one run goes on where the other has ended
        n = min(len(expected), len(got))
        return Divergence(n, expected[n] if n < len(expected) else None, got[n] if n < len(got) else None)
    return None


def _handed_on(before: list[Observed], at: Observed, difference: str) -> str:
    """A wrong TCB is the fault of the step that returned it, often not the one that trips on it."""
    if not difference:
        return ""
    prev = next((o for o in reversed(before) if o.endpoint == at.endpoint), None)
    if prev is None:
        return f"the TCB it was given already differs: {difference}"
    whose = "your" if prev.learner else "the reference's"
    return (
        f"the TCB it was given already differs: {difference}; {whose} {prev.state.value.lower()} handed it on "
        f"at {format_time(prev.time)} s, on {stimulus_text(prev.stimulus)}"
    )


# ---- text --------------------------------------------------------------------------------


def segment_view_text(v: SegmentView) -> str:
    flags, seq, ack, length = v
    names = Flags.parse(flags).names() if flags else []
    text = f"<SEQ={seq}>" + (f"<ACK={ack}>" if ack is not None else "") + f"<CTL={','.join(names)}>"
    return text + (f"<DATA={length} bytes>" if length else "")


def _timers_text(o: Observed) -> str:
    if not o.timers:
        return "no timer running"

    def when(deadline: int) -> str:
        left = deadline - o.time
        return "now" if left == 0 else f"in {format_time(left)} s" if left > 0 else "overdue"

    return ", ".join(f"{t} fires at {format_time(deadline)} s ({when(deadline)})" for t, deadline in o.timers)


def _fields(o: Observed) -> dict[str, str]:
    sends = "; ".join(segment_view_text(s) for s in o.sends) or "nothing"
    return {
        "next state": str(o.next_state),
        "sends": sends,
        "timers": _timers_text(o),
        "tells the application": ", ".join(o.app) or "nothing",
    }


def compare_text(expected: Observed | None, got: Observed | None, theirs: str = "your code") -> str:
    """Two aligned lines per differing field: reference, then the learner's code (`theirs`: "your run"
    where the row is the reference's handler answering the TCB the learner's code handed on)."""
    theirs = theirs.ljust(len("reference"))
    if expected is None:
        return "  the reference does nothing more here, but your code goes on: " + _summary(got)
    if got is None:
        return "  the reference then does: " + _summary(expected) + "\n  your run stopped before that"
    e, g = _fields(expected), _fields(got)
    lines = []
    for name in e:
        if e[name] != g[name] or name == "next state":
            lines.append(f"  {name}: reference {e[name]}\n  {' ' * len(name)}  {theirs} {g[name]}")
    return "\n".join(lines)


def _summary(o: Observed | None) -> str:
    if o is None:
        return "nothing"
    f = _fields(o)
    return (
        f"{o.endpoint} in {o.state} at {format_time(o.time)} s on {stimulus_text(o.stimulus)} → "
        f"{f['next state']}, sends {f['sends']}"
    )


def context_rows(trace: Trace, time: int | None, n: int = 4) -> str:
    """The last `n` trace rows before the divergence, as a learner reads a timeline."""
    rows = [r for r in trace.rows if time is None or r.time < time][-n:]
    lines = []
    for r in rows:
        arrow = str(r.state_before) if r.state_before is r.state_after else f"{r.state_before}→{r.state_after}"
        what = (
            r.detail
            if r.event in (EventKind.SEND, EventKind.RECV, EventKind.TIMER, EventKind.DELIVER, EventKind.ERROR)
            else ""
        )
        fate = f" ({r.fate})" if r.fate and r.fate != "delivered" else ""
        lines.append(f"    {format_time(r.time):>10} s  {r.endpoint}  {r.event:<7} {arrow:<24} {what}{fate}")
    return "\n".join(lines)


def describe(div: Divergence, case: str, reference: Trace | None = None, replay: str = "") -> str:
    """The whole failure message for one case: headline, expected vs got, context, replay."""
    w = div.where
    if div.error is not None:
        err = div.error
        at = f"{err.endpoint} at {format_time(err.time)} s: " if err.time is not None and err.endpoint else ""
        head = f"{case}: {at}{err.sentence}"
        body = ""
    else:
        mine = "your handler" if div.got is not None and div.got.learner else "the reference handler, given your TCB,"
        head = (
            f"{case}: {w.endpoint} in {w.state} at {format_time(w.time)} s, on {stimulus_text(w.stimulus)}, "
            f"{mine} does not do what the reference does"
        )
        theirs = "your code" if div.got is not None and div.got.learner else "your run"
        body = (
            "\n" + compare_text(div.expected, div.got, theirs) + (f"\n  note: {div.handed_on}" if div.handed_on else "")
        )
    time = div.error.time if div.error is not None else (w.time if w else None)
    ctx = ""
    if reference is not None and reference.rows:
        rows = context_rows(reference, time)
        ctx = f"\n  before that (reference):\n{rows}" if rows else ""
    return head + body + ctx + replay_line(replay)


def replay_line(replay: str) -> str:
    """The command that shows a failing case, saying plainly whose run it draws: the reference's
    (a learner's own run beside it is show_mine's job, in the notebook)."""
    if not replay:
        return ""
    yours = " (the reference's run; show_mine draws yours beside it)" if replay.startswith("tcpclose simulate") else ""
    return f"\n  replay: {replay}{yours}"


# ---- pictures ----------------------------------------------------------------------------


def divergence_svg(got: Trace, reference: Trace, div: Divergence | None,
                   where: tuple[str, int] | None = None) -> str | None:  # fmt: skip
    """Both timelines side by side with the divergence marked, or None when views are unavailable.
    `where` (endpoint, time): the checked endpoint's own moment, marked instead when it differs too
    (both ends run the learner's handlers: readers met "B, 0.010 s" over words about A)."""
    try:
        from autograder.views import render_svg
    except Exception:  # views not installed or broken: text feedback is complete on its own
        return None
    w = div.where if div else None
    time = div.error.time if div and div.error is not None else (w.time if w else None)
    endpoint = div.error.endpoint if div and div.error is not None else (w.endpoint if w else "")
    highlight: tuple[float, str] | int | None = (time / 1_000_000, endpoint) if time is not None and endpoint else None
    try:
        from autograder.views.model import events_of
        from autograder.views.side_by_side import difference_at

        # the rows of that moment that differ (the ACK sent, not the arrival before it): a learner's
        # picture ringed "✗ yours differs" on an arrival both runs took alike, the wrong ACK unmarked
        ours, theirs = events_of(got), events_of(reference)
        marks = difference_at(ours, theirs, where[1], where[0]) if where is not None and where[1] == time else None
        marks = marks or (difference_at(ours, theirs, time, endpoint) if highlight else None)
        if marks is not None:
            return render_svg(got, highlight=marks[0], reference=reference, reference_highlight=marks[1])
        return render_svg(got, highlight=highlight, reference=reference)
    except Exception:
        return None
