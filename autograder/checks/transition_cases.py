"""Cases that try one handler on one stimulus, from a situation the reference really reaches.

A battery tries every kind of stimulus (stimuli_for) in several fixtures of a state (the
situations of autograder.checks.fixtures); each TransitionCase compares the learner's step with
the reference's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from reference_impl.profiles import Profile, profile_text
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
    stimulus_text,
)
from reference_impl.tcb import TCB

from ..feedback import compare_text, event_kind, replay_line, tcb_difference
from ..harness import Guard, Handler, LearnerError, Observed, observe
from ..reference_source import reference_machine
from .alternatives import allowed
from .fixtures import Fixture, fixtures, situations
from .results import Case
from .scenario_cases import replay_command

# What the application may do in any state.
_APP_CALLS: tuple[Stimulus, ...] = (AppClose(), AppClose(shutdown=True), AppClose(unread=5),
                                    AppClose(shutdown=True, unread=5), AppSend(b"data"), AppAbort())  # fmt: skip


def stimuli_for(fx: Fixture) -> list[Stimulus]:
    """Every kind of thing that can happen to an endpoint in this situation (inputs only, no answers):
    the application's calls, a timeout of each running timer, and segments (see _arrivals)."""
    out = [*_APP_CALLS, *(Timeout(t) for t, _ in fx.armed), *_arrivals(fx.tcb)]
    return list(dict.fromkeys(out))  # each once, in this order


def _arrivals(tcb: TCB) -> list[Stimulus]:
    """Segments placed relative to the TCB (the peer's view: SEG.SEQ = RCV.NXT, SEG.ACK = SND.NXT),
    so each falls on an edge of the RFC 9293 §3.10.7.4 checks."""
    p, a, u = tcb.rcv_nxt, tcb.snd_nxt, tcb.snd_una

    def seg(seq: int, ack: int | None = None, flags: Flags = ACK, data: bytes = b"") -> Arrival:
        ack = a if ack is None else ack
        return Arrival(Segment(seq=seq % MOD, ack=ack % MOD if ACK in flags else 0, flags=flags, payload=data))

    return [
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
    def played(self) -> Fixture | None:
        """The catalogue situation that plays this case, if one does. A situation from a catalogue run
        does, when the run itself meets this stimulus there; so does a TCB built by the test that some
        run reaches and meets this stimulus in (a reader was told "no timeline shows this case" beside
        ack-of-data-not-fin, which does)."""
        fx = self.fx
        if fx.scenario in CATALOGUE and (fx.seen_on is None or fx.seen_on == self.stimulus):
            return fx
        return next((f for f in situations(fx.profile, fx.wrap).get(fx.state, ())
                     if f.tcb == fx.tcb and f.seen_on == self.stimulus), None)  # fmt: skip

    @cached_property
    def replay(self) -> str:
        met = self.played
        return replay_command(met.scenario, met.profile, wrap=met.wrap) if met is not None else ""

    @cached_property
    def scene(self) -> tuple[str, Profile] | None:
        """The run a failure is drawn from (not one near 2**32: the timelines start at the usual numbers)."""
        met = self.played
        return (met.scenario, met.profile) if met is not None and not met.wrap else None

    @cached_property
    def where(self) -> tuple[str, int] | None:
        """The endpoint and instant of this transition in the scene's run."""
        met = self.played
        return (met.endpoint, met.time) if met is not None and not met.wrap else None

    @cached_property
    def crafted(self) -> str:
        """A sentence for a case no scenario plays: the lines above it are the whole story."""
        if self.replay:
            return ""
        return (
            "\n  (no timeline can show this case, show_mine's neither: the check makes up this situation or "
            "segment, and no scenario meets it; the lines above are the whole case)"
        )

    @cached_property
    def expected(self) -> Observed:
        fx = self.fx
        return _observed(fx, self.stimulus, reference_machine()[fx.state](fx.tcb, self.stimulus, fx.profile), False)

    @property
    def key(self) -> tuple:
        return (self.fx, self.stimulus)

    def prepare(self) -> None:
        """Compute the reference's answer now, and the words and the run that name it (all kept with the
        case), not while a submission waits."""
        self.expected, self.label, self.replay, self.scene, self.where, self.crafted  # noqa: B018 - cached properties

    def __call__(self, found: Mapping[State, Handler], guard: Guard) -> Case:
        fx, stimulus, label, replay, transition = self.fx, self.stimulus, self.label, self.replay, self.transition
        tail = replay_line(replay) or self.crafted
        met = self.played
        if replay and met is not None and met.scenario != fx.scenario:
            # the situation is borrowed from one run and this stimulus met in another: name the one replayed
            tail = f"\n  a run that meets this case: {met.label} ({profile_text(met.profile)})" + tail
        if fx.state not in found:
            return Case(
                label, False, f"{label}: this check needs your {fx.state.value.lower()}(tcb, ev, profile)", transition
            )
        expected = self.expected
        try:
            got = _observed(fx, stimulus, guard.call(fx.state, found[fx.state], fx.tcb, stimulus, fx.profile), True)
        except LearnerError as e:
            return Case(
                label,
                False,
                f"{label}: {e.sentence}{tail}",
                transition,
                replay=replay,
                scene=self.scene,
                where=self.where,
            )
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
        return Case(label, False, f"{head}\n{compare_text(expected, got)}{returned}{tail}", transition, replay=replay,
                    scene=self.scene, where=self.where)  # fmt: skip


def clear_fixture_caches() -> None:
    for cached in (fixtures, situations, battery, transition_case):
        cached.cache_clear()


@lru_cache(maxsize=2048)
def transition_case(fx: Fixture, stimulus: Stimulus, name: str = "") -> TransitionCase:
    """One manifest transition's case, the same object whenever it is asked for: what a grading
    worker prepares ahead (its answer, its words) stays with it for every submission."""
    return TransitionCase(fx, stimulus, name)


@lru_cache(maxsize=512)
def battery(state: State, base: Profile, wrap: bool = False) -> tuple[TransitionCase, ...]:
    """Every stimulus in every fixture of `state` under `base`."""
    return tuple(TransitionCase(fx, stim) for fx in fixtures(base, wrap)[state] for stim in stimuli_for(fx))
