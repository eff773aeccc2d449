"""A deterministic discrete-event simulator: two endpoints, two channels, one virtual clock.

A is the client, B the server. Each direction delivers after a fixed delay unless
the scenario gives a segment another fate (lose, duplicate, delay: reference_impl.channel).
Same scenario, same profile, same machine → the same Trace, row for row: ties in time are
broken by the order things were scheduled, never by anything outside the inputs.

Besides calling each state's handler, the simulator does what a stack does around the state
machine: it stamps and checks timestamps (PAWS, reference_impl.timestamps), limits the rate of
ACKs to refused segments (Profile.invalid_ratelimit), and opens a new connection on the 4-tuple
(Reopen: A connects once its old connection is CLOSED, B listens once its own is; a SYN may reopen
B's TIME_WAIT, reference_impl.reuse).

The machine is always given: the reference's is `reference_impl.handlers.HANDLERS`, and a
learner build of the course has no handler code at all, so this module never imports it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from typing import Unpack

from .channel import Channel, check_lifetimes
from .inputs import (  # noqa: F401 - re-exported: callers build their scenarios from reference_impl.sim
    VARIABLES,
    Action,
    AppCall,
    Fate,
    FateKey,
    Inject,
    Limits,
    Read,
    Reopen,
    Scenario,
    SegmentKey,
    place,
    placed,
    tcb_variable,
)
from .profiles import Profile, profile_text, sec
from .reuse import open_active, open_passive
from .roles import Role, key_text
from .segment import Segment
from .sim_outputs import Outputs, SegmentArrival, TimerExpiry
from .stack import Endpoint, before_handler, detached_close, rate_limited
from .states import (
    AppAbort,
    AppClose,
    AppSend,
    Arrival,
    DeliverData,
    Handler,
    Output,
    Send,
    State,
    Step,
    Stimulus,
    Timeout,
    Timer,
    format_duration,
)
from .tcb import TCB
from .timestamps import recent
from .trace import EventKind, Trace

ENDPOINTS = ("A", "B")
OPENING = (State.CLOSED, State.LISTEN, State.SYN_SENT, State.SYN_RECEIVED)


Machine = Mapping[State, Handler]
Armed = tuple[tuple[Timer, int], ...]  # (timer, when it fires), in Timer order


@dataclass(frozen=True)
class StepReport:
    """What an observer hears after each step of an endpoint: the timers armed just before its
    stimulus (an expiring one included) and after everything the step set off, as the simulator
    keeps them (a stack's own cancel of TIME_WAIT for a reopening SYN, a new connection's timers)."""

    time: int
    endpoint: str
    armed_before: Armed
    armed_after: Armed


def armed(timers: Mapping[Timer, tuple[int, int]]) -> Armed:
    return tuple(sorted(((t, when) for t, (when, _) in timers.items()), key=lambda kv: kv[0].value))


def _per_endpoint(machines: Mapping[str, Machine] | Machine) -> dict[str, Machine]:
    """{"A": machine, "B": machine}: one table given for both ends, or one per endpoint."""
    if machines and all(isinstance(k, State) for k in machines):
        return {"A": machines, "B": machines}  # type: ignore[dict-item]
    if set(machines) != set(ENDPOINTS):
        raise ValueError("give the machine as a table {State: handler} for both ends, or {'A': ..., 'B': ...}")
    return dict(machines)  # type: ignore[arg-type]


class Simulation(Outputs):
    """One run. Use `simulate()`; the class exists so the harness can inspect a run."""

    def __init__(
        self,
        scenario: Scenario,
        profile: Profile,
        machines: Mapping[str, Machine] | Machine,
        *,
        max_events: int = 5_000,
        horizon: int = sec(3600),
        observer: Callable[[StepReport], None] | None = None,
    ) -> None:
        self.sc, self.profile = scenario, profile
        check_lifetimes(scenario.fates, scenario.delay, profile)
        self.channel = Channel(scenario.fates, scenario.delay)
        self.machines = _per_endpoint(machines)
        self.max_events, self.horizon, self.observer = max_events, horizon, observer
        self.ep = {name: Endpoint(name, State.ESTABLISHED, self._tcb(name, scenario.iss_a, scenario.iss_b),
                                   scenario.reads.get(name, True)) for name in ENDPOINTS}  # fmt: skip
        self.trace = Trace(scenario=scenario.name, profile=profile_text(profile))
        super().__init__()
        self._reopen: Reopen | None = None
        self._injected = 0  # segments injected so far: their ids are X1, X2, ... (Row.segment)
        # Data of an old connection a new one took as its own: (time, endpoint, bytes, connection).
        self.old_data_taken: list[tuple[int, str, int, int]] = []
        # The virtual time and endpoint of the step under way, for code that wraps handlers
        # (the learner harness reports "A at 0.02 s: in FIN_WAIT_1 ...").
        self.now, self.endpoint = 0, ""
        for a in scenario.actions:
            self._schedule(a.time, a.endpoint, a.call)

    def _tcb(self, name: str, iss_a: int, iss_b: int) -> TCB:
        """An endpoint's TCB at the start: ESTABLISHED, with the scenario's windows and MSS."""
        sc, peer = self.sc, "B" if name == "A" else "A"
        iss, irs = (iss_a, iss_b) if name == "A" else (iss_b, iss_a)
        tcb = TCB.established(iss, irs, 2 * sc.delay)
        window, peer_window = sc.windows.get(name, tcb.rcv_wnd), sc.windows.get(peer, tcb.snd_wnd)
        return tcb.replace(rcv_wnd=window, snd_wnd=peer_window, mss=sc.mss.get(name, tcb.mss),
                           data_received=window == 0)  # fmt: skip

    def _fresh(self, name: str, iss: int) -> TCB:
        """A new connection's TCB before its handshake: SND.UNA = SND.NXT = ISS, the scenario's MSS."""
        tcb = TCB(snd_una=iss, snd_nxt=iss, rcv_nxt=0, srtt=2 * self.sc.delay)
        return tcb.replace(mss=self.sc.mss.get(name, tcb.mss))

    def run(self) -> Trace:
        events = 0
        while self._queue:
            time, _, name, event = heapq.heappop(self._queue)
            if time > self.horizon:
                self.trace.notes.append(f"stopped at the horizon ({format_duration(self.horizon)})")
                break
            if events >= self.max_events:
                self.trace.notes.append(f"stopped after {self.max_events} events")
                break
            events += 1
            ep = self.ep[name]
            if isinstance(event, SegmentArrival):
                seg, note = event.seg, event.note
                if seg.incarnation < ep.incarnation:
                    note = (note + "; " if note else "") + f"from connection {seg.incarnation}"
                self._step(time, ep, Arrival(seg), EventKind.RECV, seg, note, event.id)
            elif isinstance(event, TimerExpiry):
                timer = event.timer
                if ep.timers.get(timer, (0, 0))[1] == event.generation:  # still armed, not restarted or cancelled
                    del ep.timers[timer]
                    self._step(time, ep, Timeout(timer), EventKind.TIMEOUT, None, str(timer))
            else:
                self._app(time, ep, event)
            self._open_waiting(time)
        self._note_unapplied()
        return self.trace

    def _note_unapplied(self) -> None:
        """Each fate no segment met, with why: the run is then the plain one, which its author did not mean."""
        for key in self.channel.unapplied():
            if isinstance(key, Role):
                why = f"no segment of this run is {key_text(key)}"
            else:
                sent = self.ep[key[0]].sent
                why = f"{key[0]} sent {sent} segment{'s' if sent != 1 else ''} in this run"
            self.trace.unapplied.append((self.sc.fates[key].kind, key_text(key), why))

    # ---- stimuli ------------------------------------------------------------------------

    def _app(self, time: int, ep: Endpoint, call: AppCall) -> None:
        match call:
            case Reopen(then=then):
                self._reopen = call
                for name, how in (("A", "connect"), ("B", "listen")):
                    e = self.ep[name]
                    e.opens, e.then = how, [(delay, c) for delay, who, c in then if who == name]
                    if e.state is not State.CLOSED:
                        self._row(time, e, EventKind.REOPEN, e.state, e.state,
                                  detail=f"{how}() waits: the 4-tuple is still in use ({name} in {e.state})")  # fmt: skip
            case AppClose():
                self._step(time, ep, dc_replace(call, unread=ep.unread), EventKind.CLOSE, None, "")
            case AppSend(data):
                self._step(time, ep, call, EventKind.WRITE, None, f"{len(data)} bytes")
            case AppAbort():
                self._step(time, ep, call, EventKind.ABORT, None, "")
            case Inject():
                seg = placed(call, ep.tcb, ep.ts_recent)
                self._injected += 1
                self._step(time, ep, Arrival(seg), EventKind.RECV, seg, "injected", f"X{self._injected}")
            case Read(window):
                grew = window > ep.tcb.rcv_wnd
                ep.tcb = ep.tcb.replace(rcv_wnd=window)
                ep.unread = 0
                self._row(time, ep, EventKind.READ, ep.state, ep.state, detail=f"RCV.WND={window}")
                if grew and ep.state is not State.CLOSED:
                    self._output(time, ep, Send(ep.tcb.ack()))

    def _step(
        self,
        time: int,
        ep: Endpoint,
        stim: Stimulus,
        event: EventKind,
        seg: Segment | None,
        note: str,
        segment_id: str | None = None,
    ) -> None:
        before, tcb_before = ep.state, ep.tcb
        self.now, self.endpoint = time, ep.name
        # The timers as the observer hears them: an expiring one is still armed just before its timeout.
        expiring = {stim.timer: (time, 0)} if isinstance(stim, Timeout) else {}
        armed_before = () if self.observer is None else armed(ep.timers | expiring)
        step, first, why, opening = self._answer(ep, stim, seg, before)
        ep.state = step.state
        if step.tcb is not None:
            ep.tcb = step.tcb
        outputs = first + step.outputs
        note = "; ".join(x for x in (note, why) if x)
        if seg is not None:
            if self.profile.timestamps and not why.startswith("PAWS"):
                # RFC 7323 §3.2: a SYN's (or SYN,ACK's) TSval starts TS.Recent; then R3 keeps it.
                ep.ts_recent = seg.tsval if opening else recent(seg, tcb_before, ep.ts_recent, self.profile)
            if rate_limited(ep, time, seg, before, step, self.profile):
                outputs = tuple(o for o in outputs if not isinstance(o, Send))
                note = (note + "; " if note else "") + "the ACK it asks for is rate-limited"
            if seg.incarnation < ep.incarnation and any(isinstance(o, DeliverData) for o in outputs):
                taken = sum(len(o.data) for o in outputs if isinstance(o, DeliverData))
                self.old_data_taken.append((time, ep.name, taken, seg.incarnation))
        detail = str(seg) if seg is not None else note
        if seg is not None and note:
            detail += f" ({note})"
        self._row(time, ep, event, before, ep.state, seg, detail=detail, segment_id=segment_id)
        for out in outputs:
            self._output(time, ep, out)
        self._after_step(time, ep, before, armed_before)

    def _answer(
        self, ep: Endpoint, stim: Stimulus, seg: Segment | None, before: State
    ) -> tuple[Step, tuple[Output, ...], str, bool]:
        """(step, outputs the stack sends first, why, opening): the stack's own answer to an arriving
        segment where it has one (reference_impl.stack), else the state's handler's."""
        step: Step | None = None
        first: tuple[Output, ...] = ()
        why = ""
        if seg is not None:
            step, first, why = before_handler(ep, seg, self.profile, self.machines[ep.name],
                                              lambda iss: self._fresh(ep.name, iss))  # fmt: skip
        elif isinstance(stim, AppClose) and (detached := detached_close(ep, stim, self.profile)) is not None:
            step, why = detached
        opening = before in (State.LISTEN, State.SYN_SENT)
        if step is None:
            step = self.machines[ep.name][before](ep.tcb, stim, self.profile)
        elif before is State.TIME_WAIT and step.state is not State.TIME_WAIT:
            self._new_connection(ep)  # a SYN reopened TIME_WAIT: the listener took it
            opening = True
        return step, first, why, opening

    def _after_step(self, time: int, ep: Endpoint, before: State, armed_before: Armed) -> None:
        """A closed TCB's timers go; a synchronized new connection gets its application's calls; the observer hears."""
        if ep.state is State.CLOSED:
            ep.timers.clear()  # deleting the TCB deletes its timers
        if before in (State.SYN_SENT, State.SYN_RECEIVED) and ep.state not in OPENING:
            for delay, call in ep.then:  # the application's calls, once the new connection is synchronized
                self._schedule(time + delay, ep.name, call)
            ep.then = []
        if self.observer is not None:
            self.observer(StepReport(time, ep.name, armed_before, armed(ep.timers)))

    # ---- a new incarnation of the 4-tuple ----------------------------------------------------

    def _new_connection(self, ep: Endpoint) -> None:
        """`ep` starts connection n + 1 of the 4-tuple: the old TCB, its timers and counters go."""
        ep.new_connection()
        self.channel.reopen(ep.name)

    def _open_waiting(self, time: int) -> None:
        """Open the new connection at each end whose old one is now CLOSED: A connects, B listens."""
        r = self._reopen
        if r is None:
            return
        for name in ENDPOINTS:
            e = self.ep[name]
            if not e.opens or e.state is not State.CLOSED:
                continue
            how = e.opens
            self._new_connection(e)
            tcb = self._fresh(name, r.iss_a if name == "A" else r.iss_b)
            step = open_active(tcb, self.profile) if how == "connect" else open_passive(tcb)
            e.state, e.tcb = step.state, step.tcb if step.tcb is not None else tcb
            self._row(time, e, EventKind.REOPEN, State.CLOSED, e.state,
                      detail=f"{how}(): connection {e.incarnation} on the same 4-tuple")  # fmt: skip
            for out in step.outputs:
                self._output(time, e, out)


def simulate(
    scenario: Scenario,
    profile: Profile,
    machines: Mapping[str, Machine] | Machine,
    **limits: Unpack[Limits],
) -> Trace:
    """Run a scenario to quiescence (or to the limits) and return its Trace.

    `machines`: one handler table {State: handler} for both ends, or {"A": table, "B": table}."""
    return Simulation(scenario, profile, machines, **limits).run()
