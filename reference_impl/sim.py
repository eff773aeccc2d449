"""A deterministic discrete-event simulator: two endpoints, two channels, one virtual clock.

A is the client, B the server. Each direction delivers after a fixed delay unless
the scenario gives a segment another fate (lose, duplicate, delay). Same scenario,
same profile, same machine → the same Trace, row for row: ties in time are broken
by the order things were scheduled, never by anything outside the inputs.

The machine is always given: the reference's is `reference_impl.handlers.HANDLERS`, and a
learner build of the course has no handler code at all, so this module never imports it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from typing import TYPE_CHECKING

from .channel import Channel, check_lifetimes
from .inputs import (  # noqa: F401 - re-exported: callers build their scenarios from reference_impl.sim
    VARIABLES,
    Action,
    AppCall,
    Fate,
    FateKey,
    Inject,
    Read,
    Reopen,
    Scenario,
    SegmentKey,
    place,
    placed,
    tcb_variable,
)
from .profiles import Profile, profile_text, sec
from .segment import ACK, Segment
from .states import (
    AppAbort,
    AppClose,
    AppSend,
    Arrival,
    CancelTimer,
    DeliverData,
    DeliverEOF,
    Error,
    Send,
    StartTimer,
    State,
    Step,
    Stimulus,
    Timeout,
    Timer,
    format_duration,
)
from .tcb import TCB
from .trace import Row, Trace

if TYPE_CHECKING:
    Handler = Callable[[TCB, Stimulus, Profile], Step]

ENDPOINTS = ("A", "B")


Machine = Mapping[State, "Handler"]


def _per_endpoint(machines: Mapping[str, Machine] | Machine) -> dict[str, Machine]:
    """{"A": machine, "B": machine}: one table given for both ends, or one per endpoint."""
    if machines and all(isinstance(k, State) for k in machines):
        return {"A": machines, "B": machines}  # type: ignore[dict-item]
    if set(machines) != set(ENDPOINTS):
        raise ValueError("give the machine as a table {State: handler} for both ends, or {'A': ..., 'B': ...}")
    return dict(machines)  # type: ignore[arg-type]


@dataclass
class _Endpoint:
    name: str
    state: State
    tcb: TCB
    reads: bool
    timers: dict[Timer, int] = field(default_factory=dict)  # timer → generation
    sent: int = 0
    unread: int = 0
    incarnation: int = 1
    last_oow_ack: int | None = None  # when the last rate-limited ACK left (Profile.invalid_ratelimit)


class Simulation:
    """One run. Use `simulate()`; the class exists so the harness can inspect a run."""

    def __init__(
        self,
        scenario: Scenario,
        profile: Profile,
        machines: Mapping[str, Machine] | Machine,
        *,
        max_events: int = 5_000,
        horizon: int = sec(3600),
    ) -> None:
        self.sc, self.profile = scenario, profile
        check_lifetimes(scenario.fates, scenario.delay, profile)
        self.channel = Channel(scenario.fates, scenario.delay)
        self.machines = _per_endpoint(machines)
        self.max_events, self.horizon = max_events, horizon
        self.ep = {name: _Endpoint(name, State.ESTABLISHED, self._tcb(name, scenario.iss_a, scenario.iss_b),
                                   scenario.reads.get(name, True)) for name in ENDPOINTS}  # fmt: skip
        self.trace = Trace(scenario=scenario.name, profile=profile_text(profile))
        self._queue: list[tuple[int, int, str, str, object]] = []
        self._order = 0
        self._generation = 0
        self._pending_reopen: Reopen | None = None
        # The virtual time and endpoint of the step under way, for code that wraps handlers
        # (the learner harness reports "A at 0.02 s: in FIN_WAIT_1 ...").
        self.now, self.endpoint = 0, ""
        for a in scenario.actions:
            self._schedule(a.time, "app", a.endpoint, a.call)

    def _tcb(self, name: str, iss_a: int, iss_b: int) -> TCB:
        """An endpoint's TCB at the start: ESTABLISHED, with the scenario's windows and MSS."""
        sc, peer = self.sc, "B" if name == "A" else "A"
        iss, irs = (iss_a, iss_b) if name == "A" else (iss_b, iss_a)
        tcb = TCB.established(iss, irs, 2 * sc.delay)
        window, peer_window = sc.windows.get(name, tcb.rcv_wnd), sc.windows.get(peer, tcb.snd_wnd)
        return tcb.replace(rcv_wnd=window, snd_wnd=peer_window, mss=sc.mss.get(name, tcb.mss),
                           data_received=window == 0)  # fmt: skip

    # ---- the event queue ----------------------------------------------------------------

    def _schedule(self, time: int, kind: str, endpoint: str, payload: object) -> None:
        self._order += 1
        heapq.heappush(self._queue, (time, self._order, kind, endpoint, payload))

    def run(self) -> Trace:
        events = 0
        while self._queue:
            time, _, kind, name, payload = heapq.heappop(self._queue)
            if time > self.horizon:
                self.trace.notes.append(f"stopped at the horizon ({format_duration(self.horizon)})")
                break
            if events >= self.max_events:
                self.trace.notes.append(f"stopped after {self.max_events} events")
                break
            events += 1
            ep = self.ep[name]
            if kind == "app":
                self._app(time, ep, payload)
            elif kind == "arrive":
                seg, copy = payload
                note = copy
                if seg.incarnation < ep.incarnation:
                    note = (note + "; " if note else "") + f"old duplicate from connection {seg.incarnation}"
                self._step(time, ep, Arrival(seg), "recv", seg, note)
            elif kind == "timer":
                timer, gen = payload
                if ep.timers.get(timer) == gen:  # still armed, not restarted or cancelled
                    del ep.timers[timer]
                    self._step(time, ep, Timeout(timer), "timeout", None, str(timer))
            self._maybe_reopen(time)
        return self.trace

    # ---- stimuli ------------------------------------------------------------------------

    def _app(self, time: int, ep: _Endpoint, call: AppCall) -> None:
        match call:
            case Reopen():
                self._pending_reopen = call
                if not self._both_closed():
                    waiting = ", ".join(
                        f"{e.name} in {e.state}" for e in self.ep.values() if e.state is not State.CLOSED
                    )
                    self._row(
                        time,
                        ep,
                        "reopen",
                        ep.state,
                        ep.state,
                        detail=f"waits: the 4-tuple is still in use ({waiting})",
                    )
            case AppClose():
                self._step(time, ep, dc_replace(call, unread=ep.unread), "close", None, "")
            case AppSend(data):
                self._step(time, ep, call, "write", None, f"{len(data)} bytes")
            case AppAbort():
                self._step(time, ep, call, "abort", None, "")
            case Inject():
                seg = placed(call, ep.tcb)
                self._step(time, ep, Arrival(seg), "recv", seg, "injected")
            case Read(window):
                grew = window > ep.tcb.rcv_wnd
                ep.tcb = ep.tcb.replace(rcv_wnd=window)
                ep.unread = 0
                self._row(time, ep, "read", ep.state, ep.state, detail=f"RCV.WND={window}")
                if grew and ep.state is not State.CLOSED:
                    self._output(time, ep, Send(ep.tcb.ack()))

    def _step(
        self, time: int, ep: _Endpoint, stim: Stimulus, event: str, seg: Segment | None, note: str
    ) -> None:
        before = ep.state
        self.now, self.endpoint = time, ep.name
        step = self.machines[ep.name][before](ep.tcb, stim, self.profile)
        ep.state = step.state
        if step.tcb is not None:
            ep.tcb = step.tcb
        outputs = step.outputs
        if seg is not None and self._rate_limited(time, ep, seg, before, step):
            outputs = tuple(o for o in outputs if not isinstance(o, Send))
            note = (note + "; " if note else "") + "the ACK it asks for is rate-limited"
        detail = str(seg) if seg is not None else note
        if seg is not None and note:
            detail += f" ({note})"
        self._row(time, ep, event, before, ep.state, seg, detail=detail)
        for out in outputs:
            self._output(time, ep, out)
        if ep.state is State.CLOSED:
            ep.timers.clear()  # deleting the TCB deletes its timers

    def _rate_limited(self, time: int, ep: _Endpoint, seg: Segment, before: State, step: Step) -> bool:
        """Whether the stack holds back the ACK this step answers `seg` with (Profile.invalid_ratelimit).

        Linux tcp_oow_rate_limited(): an ACK answering a segment without data (or with SYN) that was
        refused or challenged leaves at most once per interval. Only such a segment is ever
        answered by nothing but a bare ACK with the state unchanged, so that is what is limited.
        """
        limit = self.profile.invalid_ratelimit
        if limit is None or (seg.len and not seg.syn) or step.state is not before:
            return False
        sends = [o.segment for o in step.outputs if isinstance(o, Send)]
        if len(sends) != 1 or sends[0].flags != ACK or sends[0].payload:
            return False
        if ep.last_oow_ack is not None and time - ep.last_oow_ack < limit:
            return True
        ep.last_oow_ack = time
        return False

    def _output(self, time: int, ep: _Endpoint, out: object) -> None:
        st = ep.state
        match out:
            case Send(seg):
                ep.sent += 1
                seg = dc_replace(seg, incarnation=ep.incarnation)
                peer = "B" if ep.name == "A" else "A"
                label, copies = self.channel.arrivals(self.channel.fate(ep.name, ep.sent, seg))
                for after, note in copies:
                    self._schedule(time + after, "arrive", peer, (seg, note))
                self._row(time, ep, "send", st, st, seg, fate=label, detail=str(seg))
            case StartTimer(timer, duration):
                self._generation += 1
                ep.timers[timer] = self._generation
                self._schedule(time + duration, "timer", ep.name, (timer, self._generation))
                self._row(time, ep, "timer", st, st, detail=f"start {timer} {format_duration(duration)}")
            case CancelTimer(timer):
                ep.timers.pop(timer, None)
                self._row(time, ep, "timer", st, st, detail=f"cancel {timer}")
            case DeliverData(data):
                if not ep.reads:
                    ep.unread += len(data)
                self._row(time, ep, "deliver", st, st, detail=f"{len(data)} bytes")
            case DeliverEOF():
                self._row(time, ep, "deliver", st, st, detail="EOF")
            case Error(message):
                if ep.tcb.orphaned and self.profile.close_detaches:
                    message += " (no one hears it: close() detached the application)"
                self._row(time, ep, "error", st, st, detail=message)

    # ---- a new incarnation of the 4-tuple ----------------------------------------------------

    def _both_closed(self) -> bool:
        return all(e.state is State.CLOSED for e in self.ep.values())

    def _maybe_reopen(self, time: int) -> None:
        r = self._pending_reopen
        if r is None or not self._both_closed():
            return
        self._pending_reopen = None
        for name in ENDPOINTS:
            e = self.ep[name]
            e.incarnation += 1
            self.channel.reopen(name)
            e.state, e.tcb, e.timers, e.unread = State.ESTABLISHED, self._tcb(name, r.iss_a, r.iss_b), {}, 0
            e.last_oow_ack = None
            self._row(
                time,
                e,
                "reopen",
                State.CLOSED,
                State.ESTABLISHED,
                detail=f"connection {e.incarnation} on the same 4-tuple",
            )
        for delay, endpoint, call in r.then:
            self._schedule(time + delay, "app", endpoint, call)

    def _row(self, time, ep, event, before, after, seg=None, fate="", detail="") -> None:
        self.trace.rows.append(
            Row(
                time=time, endpoint=ep.name, event=event,
                state_before=str(before), state_after=str(after),
                flags=str(seg.flags) if seg is not None else "",
                seq=seg.seq if seg is not None else None,
                ack=seg.ack if seg is not None and seg.has_ack else None,
                len=len(seg.payload) if seg is not None else None,
                fate=fate, detail=detail,
            )
        )  # fmt: skip


def simulate(
    scenario: Scenario,
    profile: Profile,
    machines: Mapping[str, Machine] | Machine,
    **limits: int,
) -> Trace:
    """Run a scenario to quiescence (or to the limits) and return its Trace.

    `machines`: one handler table {State: handler} for both ends, or {"A": table, "B": table}."""
    return Simulation(scenario, profile, machines, **limits).run()
