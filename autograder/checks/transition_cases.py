"""Cases that try one handler on one stimulus, from a situation the reference really reaches.

A Fixture is an endpoint as the reference leaves it in some state of a catalogue run (its TCB,
its running timers): smoltcp's fixtures per state, taken from the simulator instead of written
by hand. A battery tries every kind of stimulus in several fixtures of a state. Fixtures of
wrapped runs (scenario_cases.wrapped) put the same situations just below 2**32.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache

from reference_impl.profiles import RFC9293, Profile, profile_text
from reference_impl.scenarios import CATALOGUE
from reference_impl.segment import ACK, FIN, MOD, RST, SYN, Flags, Segment
from reference_impl.states import (
    AppAbort,
    AppClose,
    AppSend,
    Arrival,
    State,
    Step,
    Stimulus,
    Timeout,
    Timer,
    stimulus_text,
)
from reference_impl.tcb import TCB
from reference_impl.trace import format_time

from ..feedback import compare_text, event_kind, replay_line, tcb_difference
from ..harness import Guard, Handler, LearnerError, Observed, observe
from ..reference_source import reference_machine
from .alternatives import allowed
from .results import Case
from .scenario_cases import WRAP_NOTE, reference_run, replay_command, wrap_shifts, wrapped


@dataclass(frozen=True)
class Fixture:
    """An endpoint as the reference leaves it in some state: the starting point of a transition check."""

    state: State
    tcb: TCB
    armed: tuple[tuple[Timer, int], ...]  # timers running, with their deadlines
    time: int
    endpoint: str
    scenario: str
    profile: Profile
    seen_on: Stimulus | None = field(default=None, compare=False)  # what happened next in the scenario
    wrap: bool = False  # taken from the wrapped run (numbers near 2**32)

    @property
    def label(self) -> str:
        near = f", {WRAP_NOTE}" if self.wrap else ""
        if self.scenario not in CATALOGUE:
            return f"{self.endpoint} in {self.state} with the TCB given to the check{near}"
        return f"{self.endpoint} in {self.state} at {format_time(self.time)} s of {self.scenario}{near}"


FIXTURES_PER_STATE = 6


@lru_cache(maxsize=64)
def fixtures(base: Profile = RFC9293, wrap: bool = False) -> dict[State, tuple[Fixture, ...]]:
    """Up to FIXTURES_PER_STATE distinct situations per state, taken from the catalogue's reference runs.

    Situations of a new *shape* come first (data still unacknowledged or not, FIN sent or not,
    retransmitting or not, orphaned or not, which timers run), so a state's battery sees e.g.
    FIN_WAIT_1 with data before the FIN, not six copies of the plain case. With wrap, from the
    wrapped runs.
    """
    out: dict[State, tuple[Fixture, ...]] = {}
    for state, found in situations(base, wrap).items():
        shapes: set = set()
        first = [f for f in found if _shape(f) not in shapes and not shapes.add(_shape(f))]
        rest = [f for f in found if f not in first]
        out[state] = tuple((first + rest)[:FIXTURES_PER_STATE])
    return out


@lru_cache(maxsize=64)
def situations(base: Profile, wrap: bool = False) -> dict[State, list[Fixture]]:
    """Every distinct situation of every state in the catalogue's reference runs, in catalogue order."""
    found: dict[State, list[Fixture]] = {s: [] for s in State}
    seen = set()
    for name, entry in CATALOGUE.items():
        profile = entry.profile(base)
        sc = wrapped(entry.scenario) if wrap else entry.scenario
        for o in reference_run(sc, profile).observed:
            rel = tuple((t, d - o.time) for t, d in o.armed_before)
            key = (o.state, o.tcb, rel, profile)
            if key not in seen:
                seen.add(key)
                found[o.state].append(Fixture(o.state, o.tcb, o.armed_before, o.time, o.endpoint, name, profile,
                                              seen_on=o.stimulus, wrap=wrap))  # fmt: skip
    return found


def _event_key(stimulus: Stimulus | None) -> object:
    """What makes two stimuli the same event for a learner: a segment's numbers, flags and data
    (not its window or the simulator's bookkeeping), or the stimulus itself."""
    if isinstance(stimulus, Arrival):
        seg = stimulus.segment
        return ("arrival", seg.seq, seg.ack, seg.flags, seg.payload)
    return stimulus


@lru_cache(maxsize=64)
def _meetings(base: Profile) -> dict[tuple[State, object], Fixture]:
    """The first moment in the catalogue where an endpoint in each state meets each event.

    situations() keeps one fixture per distinct TCB, so the scenario it names is the first to reach
    that TCB (A in ESTABLISHED: active-close, at 0 s) even when the event under test happens only in
    another (B's FIN reaching A: server-initiated-close, at 0.01 s). A message must name the moment
    where the event really happens."""
    found: dict[tuple[State, object], Fixture] = {}
    for name, entry in CATALOGUE.items():
        profile = entry.profile(base)
        for o in reference_run(entry.scenario, profile).observed:
            found.setdefault(
                (o.state, _event_key(o.stimulus)),
                Fixture(o.state, o.tcb, o.armed_before, o.time, o.endpoint, name, profile, seen_on=o.stimulus),
            )
    return found


def meeting(profile: Profile, state: State, stimulus: Stimulus) -> Fixture | None:
    """Where the catalogue itself meets `stimulus` in `state`, if it does (see _meetings)."""
    return _meetings(profile).get((state, _event_key(stimulus)))


def _shape(fx: Fixture) -> tuple:
    t = fx.tcb
    return (
        bool(t.unacked),
        t.fin_seq is not None,
        t.retries > 0,
        t.probed,
        t.orphaned,
        tuple(timer for timer, _ in fx.armed),
        fx.profile,
    )


def stimuli_for(fx: Fixture) -> list[Stimulus]:
    """Every kind of thing that can happen to an endpoint in this situation (inputs only, no answers).

    Segments are placed relative to the TCB (the peer's view: SEG.SEQ = RCV.NXT, SEG.ACK = SND.NXT),
    so each falls on an edge of the RFC 9293 §3.10.7.4 checks; timeouts only for running timers.
    """
    tcb = fx.tcb
    p, a, u = tcb.rcv_nxt, tcb.snd_nxt, tcb.snd_una

    def seg(seq: int, ack: int | None = None, flags: Flags = ACK, data: bytes = b"") -> Arrival:
        ack = a if ack is None else ack
        return Arrival(Segment(seq=seq % MOD, ack=ack % MOD if ACK in flags else 0, flags=flags, payload=data))

    out: list[Stimulus] = [AppClose(), AppClose(shutdown=True), AppClose(unread=5), AppClose(shutdown=True, unread=5),
                           AppSend(b"data"), AppAbort()]  # fmt: skip
    out += [Timeout(t) for t, _ in fx.armed]
    out += [
        seg(p),
        seg(p, u),
        seg(p, a - 1),
        seg(p, a + 1),  # ACK of all, of nothing new, of all but one, of too much
        seg(p, flags=FIN | ACK),
        seg(p, u, FIN | ACK),
        seg(p, a - 1, FIN | ACK),
        seg(p - 1, flags=FIN | ACK),  # the peer's FIN again (ends at RCV.NXT)
        seg(p, data=b"abc"),
        seg(p, flags=FIN | ACK, data=b"abc"),
        seg(p - 3, data=b"abc"),
        seg(p + 10, data=b"xyz"),
        seg(p, flags=RST),
        seg(p, flags=RST | ACK),
        seg(p + 1, flags=RST),
        seg(p + 100_000, flags=RST),
        seg(p, flags=SYN),
        seg(p, flags=Flags.NONE),
        seg(p + 100_000),
        seg(p - 100_000, flags=FIN | ACK),
    ]
    unique, seen = [], set()
    for s in out:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


# ---- one transition case -----------------------------------------------------------------


def _observed(fx: Fixture, stimulus: Stimulus, step: Step, learner: bool) -> Observed:
    sends, armed, app = observe(step, stimulus, dict(fx.armed), fx.time)
    timers = tuple(sorted(armed.items(), key=lambda kv: kv[0].value))
    return Observed(fx.time, fx.endpoint, fx.state, stimulus, step.state, sends, timers, app, learner, step, fx.tcb,
                    fx.armed)  # fmt: skip


@dataclass(frozen=True)
class TransitionCase:
    """The learner's handler for fx.state on one stimulus, against the reference's, from one fixture."""

    fx: Fixture
    stimulus: Stimulus
    name: str = field(default="", compare=False)  # a visible check's title; else a label is made up

    # Worked out once per case (a battery's cases are cached and met by every submission).
    @cached_property
    def transition(self) -> tuple[str, str]:
        return (str(self.fx.state), event_kind(self.stimulus))

    @cached_property
    def label(self) -> str:
        return (
            self.name or f"{self.fx.state} on {self.transition[1]} ({self.fx.label}, {profile_text(self.fx.profile)})"
        )

    @cached_property
    def replay(self) -> str:
        # A situation from a catalogue run can be replayed, when the run itself meets this stimulus
        # there; a TCB built by the test, or a segment the check crafted, cannot: no timeline shows it.
        fx = self.fx
        if fx.scenario not in CATALOGUE or (fx.seen_on is not None and fx.seen_on != self.stimulus):
            return ""
        return replay_command(fx.scenario, fx.profile, wrap=fx.wrap)

    @cached_property
    def crafted(self) -> str:
        """A sentence for a case no scenario plays: the lines above it are the whole story."""
        if self.replay:
            return ""
        return (
            "\n  (this check makes up the situation or the segment itself: no scenario sends it, so no "
            "timeline, show_mine's included, shows this case)"
        )

    @cached_property
    def expected(self) -> Observed:
        fx = self.fx
        return _observed(fx, self.stimulus, reference_machine()[fx.state](fx.tcb, self.stimulus, fx.profile), False)

    @property
    def key(self) -> tuple:
        return (self.fx, self.stimulus)

    def prepare(self) -> None:
        """Compute the reference's answer now (it is kept with the case), not while a submission waits."""
        self.expected  # noqa: B018 - a cached property

    def __call__(self, found: Mapping[State, Handler], guard: Guard) -> Case:
        fx, stimulus, label, replay, transition = self.fx, self.stimulus, self.label, self.replay, self.transition
        tail = replay_line(replay) or self.crafted
        if fx.state not in found:
            return Case(
                label, False, f"{label}: this check needs your {fx.state.value.lower()}(tcb, ev, profile)", transition
            )
        expected = self.expected
        try:
            got = _observed(fx, stimulus, guard.call(fx.state, found[fx.state], fx.tcb, stimulus, fx.profile), True)
        except LearnerError as e:
            return Case(label, False, f"{label}: {e.sentence}{tail}", transition, replay=replay)
        # The TCB handed on is checked too (unless the connection is gone): a wrong SND.NXT here
        # would otherwise be blamed on whichever handler trips over it later.
        handed = "" if expected.next_state is State.CLOSED else tcb_difference(expected.step.tcb, got.step.tcb)
        if (got == expected or allowed(expected, got) is not None) and not handed:
            return Case(label, True, exercised=frozenset([transition]), replay=replay)
        # A visible check is named after the event only: say where its situation comes from.
        where = f"{fx.label} ({profile_text(fx.profile)})" if self.name else f"in {fx.state}"
        head = (
            f"{label}: {where}, on {stimulus_text(stimulus)}, your handler does not do what the "
            f"reference does (TCB: {fx.tcb})"
        )
        returned = f"\n  TCB returned: {handed}" if handed else ""
        return Case(label, False, f"{head}\n{compare_text(expected, got)}{returned}{tail}", transition, replay=replay)


def clear_fixture_caches() -> None:
    for cached in (fixtures, situations, battery):
        cached.cache_clear()


@lru_cache(maxsize=512)
def battery(state: State, base: Profile, wrap: bool = False) -> tuple[TransitionCase, ...]:
    """Every stimulus in every fixture of `state` under `base`."""
    return tuple(TransitionCase(fx, stim) for fx in fixtures(base, wrap)[state] for stim in stimuli_for(fx))


# ---- the fixture of a single-transition check --------------------------------------------


def fixture_for(
    state: State,
    profile: Profile,
    tcb: TCB | None,
    timers: Mapping[Timer, int] | None,
    stimulus: Stimulus,
    wrap: bool = False,
) -> tuple[Fixture, Stimulus]:
    """The situation a single-transition check starts from, and its stimulus: where the catalogue
    itself meets this very event in this state (B's FIN <SEQ=300><ACK=101> again in TIME_WAIT:
    lost-final-ack at 1.06 s), so the times in the feedback and the replay command tell the same
    story; else the state's first situation. (Only the same event will do: a segment's numbers fit
    one side.) With wrap, the same situation in the wrapped run, the stimulus moved with it."""
    if tcb is None:
        options = fixtures(profile).get(state) or ()
        if not options:
            raise ValueError(f"no catalogue scenario reaches {state}; pass tcb=... to check_transition")
        fx = meeting(profile, state, stimulus) or options[0]
        if not wrap:
            return fx, stimulus
        own = wrap_shifts(CATALOGUE[fx.scenario].scenario)
        shifted = shift_stimulus(stimulus, own[fx.endpoint], own["B" if fx.endpoint == "A" else "A"])
        # The wrapped runs meet the same situations in the same order (only the numbers move).
        same = [f for f in situations(profile, True)[state] if f.scenario == fx.scenario and f.time == fx.time
                and f.endpoint == fx.endpoint and f.armed == fx.armed]  # fmt: skip
        return (
            same[0] if same else shift_fixture(fx, own[fx.endpoint], own["B" if fx.endpoint == "A" else "A"])
        ), shifted
    armed = tuple(sorted((timers or {}).items(), key=lambda kv: kv[0].value))
    fx = Fixture(state, tcb, armed, 0, "A", "a given TCB", profile)
    if not wrap:
        return fx, stimulus
    own, peer = given_tcb_shifts(state, tcb)
    return shift_fixture(fx, own, peer), shift_stimulus(stimulus, own, peer)


# States in which the peer's FIN has been received: RCV.NXT is just past it.
_PEER_FIN_IN = {State.CLOSE_WAIT, State.LAST_ACK, State.CLOSING, State.TIME_WAIT}


def given_tcb_shifts(state: State, tcb: TCB) -> tuple[int, int]:
    """(own, peer) shifts for a TCB written by a check: our FIN (or the next one) on 2**32 - 1, and
    the peer's FIN on 2**32 - 1 too (RCV.NXT = 0 once received, 2**32 - 1 while expected)."""
    own = (MOD - 1 - (tcb.fin_seq if tcb.fin_seq is not None else tcb.snd_nxt)) % MOD
    peer = (-tcb.rcv_nxt if state in _PEER_FIN_IN else MOD - 1 - tcb.rcv_nxt) % MOD
    return own, peer


def shift_tcb(tcb: TCB, own: int, peer: int) -> TCB:
    """The TCB with our sequence numbers moved by `own` and the peer's by `peer`, modulo 2**32."""
    return tcb.replace(snd_una=(tcb.snd_una + own) % MOD, snd_nxt=(tcb.snd_nxt + own) % MOD,
                       rcv_nxt=(tcb.rcv_nxt + peer) % MOD,
                       fin_seq=None if tcb.fin_seq is None else (tcb.fin_seq + own) % MOD)  # fmt: skip


def shift_fixture(fx: Fixture, own: int, peer: int) -> Fixture:
    return Fixture(fx.state, shift_tcb(fx.tcb, own, peer), fx.armed, fx.time, fx.endpoint, fx.scenario, fx.profile,
                   seen_on=None, wrap=True)  # fmt: skip


def shift_stimulus(stimulus: Stimulus, own: int, peer: int) -> Stimulus:
    """A segment arriving at us: SEG.SEQ is the peer's number, SEG.ACK ours (when the ACK bit is on)."""
    if not isinstance(stimulus, Arrival):
        return stimulus
    seg = stimulus.segment
    ack = (seg.ack + own) % MOD if seg.has_ack else seg.ack
    return Arrival(replace(seg, seq=(seg.seq + peer) % MOD, ack=ack))
