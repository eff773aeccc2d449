"""Where a transition check starts: situations the reference really reaches in each state.

A Fixture is an endpoint as the reference leaves it in some state of a catalogue run (its TCB,
its running timers): smoltcp's fixtures per state, taken from the simulator instead of written
by hand. Fixtures of wrapped runs (scenario_cases.wrapped) put the same situations just below
2**32; a TCB a check gives is moved there by the same shifts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache

from reference_impl.profiles import RFC9293, Profile
from reference_impl.scenarios import CATALOGUE
from reference_impl.segment import MOD
from reference_impl.states import (
    Arrival,
    State,
    Stimulus,
    Timer,
)
from reference_impl.tcb import TCB
from reference_impl.trace import format_time

from .scenario_cases import WRAP_NOTE, reference_run, wrap_shifts, wrapped


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
