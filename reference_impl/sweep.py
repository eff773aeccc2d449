"""How long must TIME_WAIT last? Run a reuse scenario over TIME_WAIT durations and see when an old
duplicate harms the new connection, beside what the model predicts.

The scenario (old-duplicate-after-reuse by default) duplicates one of A's data segments; the copy
lives `lifetime` in the network (the one-way delay plus its wandering; never more than the MSL,
RFC 9293 §3.4.2). A's new connection on the same 4-tuple starts when A's TIME_WAIT ends (not
before the scenario's Reopen). The copy harms it when it reaches B after B's new connection is
synchronized, where its numbers fall on the new connection's: B takes its bytes as new data.

The model's prediction: A enters TIME_WAIT at T_tw and connects at R = max(T_reopen, T_tw +
TIME_WAIT); its SYN, B's SYN,ACK and A's ACK take three one-way delays d, so B is ESTABLISHED at
R + 3d. The copy, sent at t_send, arrives at t_send + lifetime. So the new connection is harmed
exactly when t_send + lifetime > R + 3d, and the shortest safe TIME_WAIT is

    t_send + lifetime - 3d - T_tw      (0 if the copy arrives before R + 3d even at TIME_WAIT = 0)

which is below the lifetime, so below the MSL: 2 MSL is always enough, and the second MSL is for
the other direction (a FIN B retransmits just before the last ACK arrives).

    sweep_time_wait(durations, lifetime)     each duration: harmed or not, and the threshold found
    predicted_threshold(lifetime)            what the model says the threshold is
    bisect_threshold(lifetime)               the threshold to the microsecond, by simulation
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .inputs import Fate, FateKey, Reopen, Scenario
from .profiles import RFC9293, Profile
from .roles import key_text, where
from .sim import Machine, Simulation
from .states import State, format_duration
from .trace import EventKind

SCENARIO = "old-duplicate-after-reuse"


@dataclass(frozen=True, slots=True)
class SweepPoint:
    time_wait: int  # µs
    harmed: bool
    why: str  # one sentence: what became of the copy


@dataclass(frozen=True, slots=True)
class Sweep:
    scenario: str
    lifetime: int  # µs the copy lives in the network
    points: tuple[SweepPoint, ...]
    predicted: int  # the model's shortest safe TIME_WAIT (µs)

    @property
    def threshold(self) -> int | None:
        """The shortest swept duration from which no longer one was harmed (None: the longest still was)."""
        safe = None
        for p in sorted(self.points, key=lambda p: p.time_wait, reverse=True):
            if p.harmed:
                break
            safe = p.time_wait
        return safe

    def table(self) -> list[dict[str, object]]:
        """One record per duration, shortest first (for pandas.DataFrame in a notebook, or a grader):
        the duration as a number (µs) and as text, whether the new connection was harmed, and why."""
        return [{"time_wait_us": p.time_wait, "TIME_WAIT": format_duration(p.time_wait), "harmed": p.harmed,
                 "what happened": p.why} for p in sorted(self.points, key=lambda p: p.time_wait)]  # fmt: skip


def _scenario(name: str, lifetime: int, profile: Profile) -> tuple[Scenario, FateKey]:
    """The catalogue scenario with its duplicated segment's copy living `lifetime`; and that segment's key."""
    from .scenarios import get

    sc = get(name).scenario
    dup = [k for k, f in sc.fates.items() if f.kind == "duplicate"]
    if len(dup) != 1 or not any(isinstance(a.call, Reopen) for a in sc.actions):
        raise ValueError(f"scenario {name!r} does not reuse its 4-tuple with one duplicated segment; use {SCENARIO!r}")
    if not sc.delay <= lifetime <= profile.msl:
        raise ValueError(f"a copy lives at least the channel's delay ({format_duration(sc.delay)}) and at most the "
                         f"MSL ({format_duration(profile.msl)}), not {format_duration(lifetime)}")  # fmt: skip
    # The new connection stays open (no calls of its own) so a late copy still finds it: only TIME_WAIT decides.
    actions = tuple(replace(a, call=replace(a.call, then=())) if isinstance(a.call, Reopen) else a for a in sc.actions)
    return replace(sc, actions=actions, fates={**sc.fates, dup[0]: Fate("duplicate", lifetime - sc.delay)}), dup[0]


def _profile(name: str, base: Profile, time_wait: int) -> Profile:
    from .scenarios import get

    return get(name).profile(base).replace(time_wait=time_wait)


def _machine(machine: Machine | None) -> Machine:
    from .scenarios import reference_machine

    return machine if machine is not None else reference_machine()


@dataclass(frozen=True, slots=True)
class Timeline:
    """When things happen in the old connection, none of which depends on TIME_WAIT's length."""

    sent: int  # the duplicated segment left A
    time_wait: int  # A entered TIME_WAIT
    reopen: int  # the application asked for the new connection
    delay: int  # one way
    paws: bool  # timestamps on: PAWS refuses any copy of the old connection (RFC 7323 §5)

    def predicted(self, lifetime: int) -> int:
        """The shortest TIME_WAIT at which the copy, arriving at sent + lifetime, comes no later than
        B's new connection is synchronized: max(reopen, time_wait + TIME_WAIT) + 3 delays. With
        timestamps the copy's TSval is older than anything of the new connection: 0."""
        arrives, handshake = self.sent + lifetime, 3 * self.delay
        if self.paws or arrives <= max(self.reopen, self.time_wait) + handshake:
            return 0
        return arrives - handshake - self.time_wait


def timeline(sc: Scenario, key: FateKey, profile: Profile, machine: Machine) -> Timeline:
    """The old connection's times, from one run (with a TIME_WAIT long enough to change nothing before it)."""
    trace = Simulation(sc, profile.replace(time_wait=4 * profile.msl), machine).run()
    ordinal = where(key, trace.rows) if not isinstance(key, tuple) else f"{key[0]}{key[1]}"
    sent = next((r.time for r in trace.rows if r.event == EventKind.SEND and r.segment == ordinal), None)
    if sent is None:
        raise ValueError(f"the run never sends the segment the scenario duplicates ({key_text(key)})")
    entered = next(r.time for r in trace.rows
                   if r.endpoint == "A" and r.state_after is State.TIME_WAIT and r.state_before is not State.TIME_WAIT)  # fmt: skip
    reopen = next(a.time for a in sc.actions if isinstance(a.call, Reopen))
    return Timeline(sent, entered, reopen, sc.delay, profile.timestamps)


def predicted_threshold(lifetime: int, *, name: str = SCENARIO, base: Profile = RFC9293,
                        machine: Machine | None = None) -> int:  # fmt: skip
    """The model's shortest safe TIME_WAIT (µs) for a copy living `lifetime` (µs): Timeline.predicted."""
    sc, key = _scenario(name, lifetime, base)
    return timeline(sc, key, _profile(name, base, 0), _machine(machine)).predicted(lifetime)


def _point(sc: Scenario, profile: Profile, machine: Machine, arrives: int) -> SweepPoint:
    sim = Simulation(sc, profile, machine, horizon=arrives + 2 * sc.delay)  # the copy's fate is known by then
    trace = sim.run()
    if sim.old_data_taken:
        at, ep, size, conn = sim.old_data_taken[0]
        return SweepPoint(profile.time_wait, True, f"{ep} took {size} bytes of connection {conn} as the new "
                          f"connection's data at {format_duration(at)}")  # fmt: skip
    copy = next((r for r in trace.rows if r.event == EventKind.RECV and "second copy" in r.detail), None)
    if copy is None:
        return SweepPoint(profile.time_wait, False, "the copy had not arrived when the run ended")
    return SweepPoint(profile.time_wait, False, f"the copy reached {copy.endpoint} in {copy.state_before} at "
                      f"{format_duration(copy.time)}, and nothing of it was taken")  # fmt: skip


def sweep_time_wait(durations: Iterable[int], lifetime: int, *, name: str = SCENARIO, base: Profile = RFC9293,
                    machine: Machine | None = None) -> Sweep:  # fmt: skip
    """Run the scenario once per TIME_WAIT duration (µs) with the copy living `lifetime` (µs), under
    `base` (with the scenario's own profile changes) and `machine` (the reference's when not given).
    Each point says whether the new connection was harmed; `Sweep.threshold` is what the sweep
    finds, `Sweep.predicted` what the model predicts."""
    sc, key = _scenario(name, lifetime, base)
    machine = _machine(machine)
    times = timeline(sc, key, _profile(name, base, 0), machine)
    arrives = times.sent + lifetime
    points = tuple(_point(sc, _profile(name, base, d), machine, arrives) for d in sorted(set(durations)))
    return Sweep(name, lifetime, points, times.predicted(lifetime))


def bisect_threshold(lifetime: int, *, name: str = SCENARIO, base: Profile = RFC9293, machine: Machine | None = None,
                     resolution: int = 1) -> int:  # fmt: skip
    """The shortest TIME_WAIT (µs, to `resolution`) at which the new connection is not harmed, found by
    simulation alone (between 0 and 2 MSL: a longer TIME_WAIT is never less safe)."""
    sc, key = _scenario(name, lifetime, base)
    machine = _machine(machine)
    arrives = timeline(sc, key, _profile(name, base, 0), machine).sent + lifetime

    def harmed(tw: int) -> bool:
        return _point(sc, _profile(name, base, tw), machine, arrives).harmed

    lo, hi = 0, 2 * base.msl
    if not harmed(lo):
        return 0
    while hi - lo > resolution:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if harmed(mid) else (lo, mid)
    return hi
