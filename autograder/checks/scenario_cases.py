"""Cases that run a whole scenario: both endpoints on the learner's handlers, beside the reference.

A scenario comes from the catalogue, a script, or a Scenario object; a family is every way of
losing up to k of its segments. Any of them can also be run *wrapped*: both ends' sequence
numbers shifted so that each one's first FIN takes 2**32 - 1 and the numbers wrap to 0 during
the close, where a comparison written with `>` or `==` instead of the sequence arithmetic
(RFC 9293 §3.4) gives itself away. Every expectation is the reference's run of the same input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from reference_impl.profiles import RFC9293, Profile, profile_changes, profile_text
from reference_impl.scenarios import CATALOGUE, LOSE, get, loss_patterns, losses
from reference_impl.segment import MOD
from reference_impl.sim import Fate, Reopen, Scenario, SegmentKey
from reference_impl.states import State, Step, Stimulus

from ..feedback import describe, divergence_svg, event_kind, first_divergence
from ..harness import Guard, Handler, LearnerError, Run, compose, is_stub, run_machine
from ..reference_source import reference_machine
from .alternatives import allowed
from .results import Case

WRAP_NOTE = "numbers wrap past 2**32"

_REFERENCE_RUNS: dict[tuple[str, Profile], Run] = {}


def reference_run(scenario: Scenario, profile: Profile) -> Run:
    """The reference's recorded run, computed once per (scenario, profile)."""
    key = (repr(scenario), profile)
    run = _REFERENCE_RUNS.get(key)
    if run is None:
        if len(_REFERENCE_RUNS) > 20_000:
            _REFERENCE_RUNS.clear()
        run = _REFERENCE_RUNS[key] = run_machine(scenario, profile, reference_machine())
    return run


def clear_scenario_caches() -> None:
    """Forget every reference run and derived scenario case."""
    _REFERENCE_RUNS.clear()
    _SHIFTS.clear()
    for cached in (_patterns, _family):
        cached.cache_clear()


# ---- wrap-around -------------------------------------------------------------------------


def wrap_shifts(scenario: Scenario) -> dict[str, int]:
    """How far each endpoint's numbers move so that its first FIN sits on 2**32 - 1 (its ISN
    when it sends none): A's FIN at 2**32 - 1 is acknowledged with ACK=0."""
    key = repr(scenario)
    shifts = _SHIFTS.get(key)
    if shifts is None:
        plain = reference_run(scenario, RFC9293)
        first = {"A": scenario.iss_a, "B": scenario.iss_b}
        fins: dict[str, int] = {}
        for o in plain.observed:
            for flags, seq, _ack, _len in o.sends:
                if "FIN" in flags and o.endpoint not in fins:
                    fins[o.endpoint] = seq
        shifts = _SHIFTS[key] = {ep: (MOD - 1 - fins.get(ep, first[ep])) % MOD for ep in ("A", "B")}
    return dict(shifts)


_SHIFTS: dict[str, dict[str, int]] = {}


def wrapped(scenario: Scenario) -> Scenario:
    """The same scenario with both ends' numbers shifted to wrap during the close (wrap_shifts);
    a reopened connection (Reopen) moves by the same amounts."""
    d = wrap_shifts(scenario)
    actions = tuple(
        replace(a, call=replace(a.call, iss_a=(a.call.iss_a + d["A"]) % MOD, iss_b=(a.call.iss_b + d["B"]) % MOD))
        if isinstance(a.call, Reopen) else a
        for a in scenario.actions
    )  # fmt: skip
    return replace(scenario, iss_a=(scenario.iss_a + d["A"]) % MOD, iss_b=(scenario.iss_b + d["B"]) % MOD,
                   actions=actions)  # fmt: skip


# ---- naming and replaying a scenario ------------------------------------------------------


def replay_command(name: str, base: Profile = RFC9293, fates: Mapping[SegmentKey, Fate] | None = None,
                   wrap: bool = False) -> str:  # fmt: skip
    """The one line that shows this case in the reference: tcpclose simulate NAME ..."""
    cmd = f"tcpclose simulate {name}"
    if base.name != RFC9293.name:
        cmd += f" --profile {base.name}"
    for change in profile_changes(base):
        cmd += f" --set {change}"
    for (ep, n), fate in sorted((fates or {}).items()):
        if fate.kind == "lose":
            cmd += f" --lose {ep}{n}"
    if wrap:
        cmd += " --wrap"
    return cmd


def as_fates(fates: Mapping[SegmentKey, Fate] | Iterable[str] | None) -> dict[SegmentKey, Fate]:
    """{("A", 2): LOSE} from a mapping, or from names such as ["A2"]."""
    if not fates:
        return {}
    if isinstance(fates, Mapping):
        return dict(fates)
    return losses(fates)


def _note(parts: list[str]) -> str:
    parts = [p for p in parts if p]
    return f" ({', '.join(parts)})" if parts else ""


def resolve(
    name_or_script: str | Path | Scenario, base: Profile, fates: dict, wrap: bool = False
) -> tuple[Scenario, Profile, str, str]:
    """(scenario, effective profile, case name, replay command)."""
    if isinstance(name_or_script, Scenario):
        sc = name_or_script
        if fates:
            sc = sc.with_fates({**sc.fates, **fates})
        label = f"{sc.name}{_note([WRAP_NOTE if wrap else '', profile_text(base)])}"
        return (wrapped(sc) if wrap else sc), base, label, f"(scenario {sc.name!r} given as an object)"
    if isinstance(name_or_script, Path) or (
        name_or_script not in CATALOGUE and ("\n" in name_or_script or Path(name_or_script).is_file())
    ):
        return _resolve_script(name_or_script, base, fates, wrap)
    entry = get(name_or_script)  # ValueError with a suggestion for a misspelt name: an author's error
    sc = entry.losing(fates)
    label = sc.name + _note([WRAP_NOTE if wrap else "", "" if base == RFC9293 else profile_text(base)])
    if wrap:
        sc = replace(wrapped(entry.scenario), fates=sc.fates, name=sc.name)
    return sc, entry.profile(base), label, replay_command(entry.scenario.name, base, fates, wrap)


def _resolve_script(source: str | Path, base: Profile, fates: dict, wrap: bool) -> tuple[Scenario, Profile, str, str]:
    """A scenario script (reference_impl.script): inline text, or a file replayed by `tcpclose run`."""
    from reference_impl.script import parse_script

    is_file = isinstance(source, Path) or "\n" not in source
    path = str(source) if is_file else "<script>"
    script = parse_script(Path(source).read_text() if is_file else source, path, base)
    sc = script.scenario.with_fates({**script.scenario.fates, **fates}) if fates else script.scenario
    replay = f"tcpclose run {path}" if is_file else "(an inline script: save it to a file and use tcpclose run)"
    label = f"{sc.name}{_note([WRAP_NOTE if wrap else '', profile_text(script.profile)])}"
    return (wrapped(sc) if wrap else sc), script.profile, label, replay


# ---- one scenario case -------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioCase:
    """Run `scenario` on the learner's machine (the reference plays the states it lacks) and
    compare every handler call with the reference's run."""

    scenario: Scenario = field(compare=False)
    profile: Profile
    label: str = field(compare=False)
    replay: str = field(compare=False)
    as_run: str = ""  # the scenario as run, written out (a Scenario holds dicts: it cannot be hashed)
    given: tuple[tuple[State, Stimulus], ...] = ()  # calls the reference answers (manifest.family's given)

    @classmethod
    def of(cls, scenario: Scenario, profile: Profile, label: str, replay: str,
           given: tuple[tuple[State, Stimulus], ...] = ()) -> ScenarioCase:  # fmt: skip
        return cls(scenario, profile, label, replay, repr(scenario), given)

    @property
    def key(self) -> tuple:
        """What makes two cases the same case: the scenario as run, the profile, and what the reference answers."""
        return (self.as_run, self.profile, self.given)

    def _mine(self, o) -> bool:
        return not any(s is o.state and _names(ev, o.stimulus) for s, ev in self.given)

    def __call__(self, found: Mapping[State, Handler], guard: Guard) -> Case:
        ref = reference_run(self.scenario, self.profile)
        if self._follows_the_reference(ref, found, guard):
            exercised = frozenset((str(o.state), event_kind(o.stimulus)) for o in ref.observed
                                  if o.state in found and self._mine(o))  # fmt: skip
            return Case(self.label, True, exercised=exercised, replay=self.replay)
        stubs = frozenset(s for s, fn in found.items() if is_stub(fn) or getattr(fn, "stub", False) is True)
        learner = given_by_reference(compose(found, guard), self.given, stubs)
        taken: dict[int, Step] = {}
        while True:
            got = run_machine(self.scenario, self.profile, learner, frozenset(found), expected=ref.observed)
            div = first_divergence(ref.observed, got.observed, got.error)
            if (div is None or div.expected is None or div.got is None or div.handed_on or len(taken) >= 8
                    or allowed(div.expected, div.got) is None):  # fmt: skip
                break
            # An RFC-allowed alternative (checks.alternatives): the reference takes the same answer at
            # that step and its run goes on from there; the learner's run is compared with that one.
            e, g = div.expected.step, div.got.step
            taken[div.index] = Step(e.state, g.outputs, e.tcb)
            ref = run_machine(self.scenario, self.profile, reference_machine(), substitute=taken)
        upto = got.observed if div is None else got.observed[: div.index]
        exercised = frozenset((str(o.state), event_kind(o.stimulus)) for o in upto if o.learner and self._mine(o))
        if div is None:
            return Case(self.label, True, exercised=exercised, replay=self.replay)
        return Case(self.label, False, describe(div, self.label, ref.trace, self.replay), div.transition, exercised,
                    self.replay, svg=lambda where=None: divergence_svg(got.trace, ref.trace, div, where))  # fmt: skip

    def prepare(self) -> None:
        """Compute the reference's run now (it is cached), not while a submission waits."""
        reference_run(self.scenario, self.profile)

    def _follows_the_reference(self, ref: Run, found: Mapping[State, Handler], guard: Guard) -> bool:
        """True when each of the learner's handlers, called as the reference's run calls it, returns
        exactly the reference's Step. The simulator is deterministic, so the learner's own run would
        then be that very run, call for call: no need to simulate it. Otherwise (another output order,
        other bookkeeping in the TCB, an error) the learner's run is simulated and compared."""
        if ref.error is not None:
            return False
        try:
            for o in ref.observed:
                fn = found.get(o.state)
                if (
                    fn is not None
                    and self._mine(o)
                    and guard.call(o.state, fn, o.tcb, o.stimulus, self.profile) != o.step
                ):
                    return False
        except LearnerError:
            return False
        return True


def scenario_case(name_or_script: str | Path | Scenario, profile: Profile, fates: dict,
                  wrap: bool = False, given: tuple[tuple[State, Stimulus], ...] = ()) -> ScenarioCase:  # fmt: skip
    sc, eff, label, replay = resolve(name_or_script, profile, fates, wrap)
    return ScenarioCase.of(sc, eff, label, replay, given)


def given_by_reference(
    table: Mapping[State, Handler], given: tuple[tuple[State, Stimulus], ...], stubs: frozenset[State] = frozenset()
) -> dict[State, Handler]:
    """The machine `table` with the calls `given` names, (state, stimulus or its kind), answered by the reference:
    a check about something else is not charged for a mistake another cell grades. Outside the
    guard: the reference's answer is the trusted side's, not a call the learner's code made."""
    table = dict(table)
    ref = reference_machine()
    # a state the learner has not written stays as it is: its stub raises where the run reaches it
    for state in {s for s, _ in given if s in table and s not in stubs}:
        stimuli = [ev for s, ev in given if s is state]
        table[state] = _answered(table[state], ref[state], stimuli)
    return table


def _answered(fn: Handler, reference: Handler, stimuli: list) -> Handler:
    def handler(tcb, ev, profile):  # type: ignore[no-untyped-def]
        return reference(tcb, ev, profile) if any(_names(s, ev) for s in stimuli) else fn(tcb, ev, profile)

    return handler


def _names(given: object, ev: Stimulus) -> bool:
    """Whether a `given` entry names this stimulus: the stimulus itself, or its kind (`Arrival`: every
    segment arriving in that state)."""
    return isinstance(ev, given) if isinstance(given, type) else ev == given


# ---- families: every loss pattern of up to k segments ------------------------------------


@lru_cache(maxsize=1024)
def _patterns(name: str, k: int, base: Profile) -> tuple[tuple[SegmentKey, ...], ...]:
    return tuple(tuple(sorted(p)) for p in loss_patterns(name, k, base, machine=reference_machine()))


@lru_cache(maxsize=2048)
def _family(name: str, k: int, base: Profile, wrap: bool, given: tuple = ()) -> tuple[ScenarioCase, ...]:
    return tuple(
        scenario_case(name, base, {key: LOSE for key in keys}, wrap, given) for keys in _patterns(name, k, base)
    )


def family_cases(names: Iterable[str], k: int, profiles: Iterable[Profile], wrap: bool = False,
                 given: tuple[tuple[State, Stimulus], ...] = ()) -> list[ScenarioCase]:  # fmt: skip
    """One case per loss pattern of at most k segments, per scenario, per profile (`given`: calls
    the reference answers, see given_by_reference)."""
    return [t for base in profiles for name in names for t in _family(name, k, base, wrap, tuple(given))]


def family_title(names: list[str], k: int, wrap: bool = False) -> str:
    title = (f"{', '.join(names)} as it is" if k == 0
             else f"{', '.join(names)} with up to {k} lost segment{'s' * (k != 1)}")  # fmt: skip
    return f"{title}, {WRAP_NOTE}" if wrap else title
