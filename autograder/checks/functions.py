"""The check functions: what test cells, the manifests and the grader call.

    check_transition(globals(), State.FIN_WAIT_1, Arrival(Segment(seq=300, ack=101)))
    check_scenario(globals(), "lost-final-ack", profile=LINUX)
    check_family(globals(), ["active-close"], k=2, partial=True).points(3)

Each accepts the learner's handlers as a notebook namespace, a dict, a class, or a
LearnerMachine (handlers that may run in another process). Every expectation comes from the
reference on the same input: nothing about TCP is written here. Cases compare observable
behaviour only (harness.Observed), so any correct implementation passes. A check raises
AssertionError naming the first failing case unless `partial=True`, in which case the
CheckOutcome carries passed/total for partial credit and the per-transition summary for the
class report. Deterministic throughout: no randomness, no wall clock in any verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from reference_impl.profiles import RFC9293, Profile, profile_text
from reference_impl.sim import Fate, Scenario, SegmentKey
from reference_impl.states import State, Stimulus, Timer
from reference_impl.tcb import TCB

from ..feedback import arrival_numbers, event_kind
from ..harness import Guard, LearnerError, Limits, machine_from_namespace, require
from ..integrity import inspect_submission
from ..manifest import DEFAULT_PROFILES, CheckSpec, load_manifest, machine_assignments
from .fixtures import fixture_for
from .results import Case, CheckOutcome
from .scenario_cases import WRAP_NOTE, ScenarioCase, as_fates, family_cases, family_title, scenario_case
from .transition_cases import TransitionCase, battery, transition_case

CaseToRun = ScenarioCase | TransitionCase  # called with (learner handlers, guard), returns a Case


def run_cases(
    title: str,
    handlers: object,
    states: Iterable[State],
    cases: Iterable[CaseToRun],
    *,
    partial: bool,
    fail_fast: bool = False,
    limits: Limits | None = None,
    guard: Guard | None = None,
) -> CheckOutcome:
    """Run each case once (a case two checks share counts once) on the learner's machine."""
    unique: dict[object, CaseToRun] = {}
    for case in cases:
        unique.setdefault(case.key, case)
    to_run = list(unique.values())
    machine = machine_from_namespace(handlers)
    reason = machine.problem
    try:
        require(machine, tuple(states))  # names the handler this check needs, rather than any
        if not reason and machine.source is not None:  # only code in this process can be inspected
            reason = inspect_submission(machine.source, machine.handlers)
    except LearnerError as e:
        reason = e.sentence
    if reason:  # every case scores zero, for the one reason
        result = CheckOutcome(title, [Case(title, False, f"{title}: {reason}")] * max(1, len(to_run)))
        return result if partial else result.raise_if_failed()
    guard = guard or Guard(limits or machine.limits, watch_reference=machine.source is not None)
    outcome: list[Case] = []
    with guard.session():
        for case in to_run:
            outcome.append(case(machine.handlers, guard))
            if fail_fast and not outcome[-1].passed:
                break
    result = CheckOutcome(title, outcome)
    return result if partial else result.raise_if_failed()


# ---- the four kinds of check: (title, states needed, cases) -----------------------------


def _transition(state: State, stimulus: Stimulus, *, tcb: TCB | None = None,
                timers: Mapping[Timer, int] | Iterable[tuple[Timer, int]] | None = None,
                profile: Profile = RFC9293, wrap: bool = False):  # fmt: skip
    fx, stim = fixture_for(state, profile, tcb, dict(timers or {}), stimulus, wrap)
    numbers = arrival_numbers(fx.tcb, stim)
    # the profile, when not the RFC's: a cell checks one transition under both, and the two lines must differ
    under = "" if profile == RFC9293 else f", under {profile_text(profile)}"
    title = (
        f"{state} on {event_kind(stimulus)}"
        + (f" ({numbers})" if numbers else "")
        + under
        + (f", {WRAP_NOTE}" if wrap else "")
    )
    return title, (state,), [transition_case(fx, stim, title)]


def _scenario(name_or_script: str | Path | Scenario, *, profile: Profile = RFC9293,
              fates: Mapping[SegmentKey, Fate] | Iterable[str] | None = None, states: Iterable[State] = (),
              wrap: bool = False, given: tuple = ()):  # fmt: skip
    case = scenario_case(name_or_script, profile, as_fates(fates), wrap, tuple(given))
    return case.label, tuple(states), [case]


def _family(names: str | Iterable[str], *, k: int = 2, profiles: Iterable[Profile] = DEFAULT_PROFILES,
            states: Iterable[State] = (), wrap: bool = False, given: tuple[tuple[State, Stimulus], ...] = ()):  # fmt: skip
    names = [names] if isinstance(names, str) else list(names)
    return family_title(names, k, wrap), tuple(states), family_cases(names, k, tuple(profiles), wrap, tuple(given))


def _transitions(states: Iterable[State], *, profiles: Iterable[Profile] = DEFAULT_PROFILES, wrap: bool = False):
    states = tuple(states)
    title = f"transitions of {', '.join(map(str, states))}" + (f", {WRAP_NOTE}" if wrap else "")
    return title, states, [t for base in profiles for state in states for t in battery(state, base, wrap)]


def check_transition(
    handlers: object,
    state: State,
    stimulus: Stimulus,
    *,
    tcb: TCB | None = None,
    timers: Mapping[Timer, int] | None = None,
    profile: Profile = RFC9293,
    wrap: bool = False,
    partial: bool = False,
) -> CheckOutcome:
    """Your handler for `state` against the reference's, on one stimulus.

    Without `tcb`, the endpoint is taken as the reference has it where the catalogue first
    meets this very event in `state` (else on first reaching `state`); with it, `timers`
    gives the running timers (µs left). With wrap, the same situation near 2**32.
    """
    title, states, cases = _transition(state, stimulus, tcb=tcb, timers=timers, profile=profile, wrap=wrap)
    return run_cases(title, handlers, states, cases, partial=partial)


def check_scenario(
    handlers: object,
    name_or_script: str | Path | Scenario,
    *,
    profile: Profile = RFC9293,
    fates: Mapping[SegmentKey, Fate] | Iterable[str] | None = None,
    states: Iterable[State] = (),
    wrap: bool = False,
    partial: bool = False,
) -> CheckOutcome:
    """One scenario (a catalogue name, a script, or a Scenario), both endpoints running your handlers.

    fates: extra segment fates, e.g. ["A2"] to lose A's second segment. states: the
    handlers this check needs you to have defined. wrap: numbers wrapping past 2**32.
    """
    title, states, cases = _scenario(name_or_script, profile=profile, fates=fates, states=states, wrap=wrap)
    return run_cases(title, handlers, states, cases, partial=partial)


def check_family(
    handlers: object,
    names: str | Iterable[str],
    *,
    k: int = 2,
    profiles: Iterable[Profile] = DEFAULT_PROFILES,
    states: Iterable[State] = (),
    wrap: bool = False,
    partial: bool = False,
) -> CheckOutcome:
    """Every way of losing up to k segments in each named scenario, under each profile."""
    title, states, cases = _family(names, k=k, profiles=profiles, states=states, wrap=wrap)
    return run_cases(title, handlers, states, cases, partial=partial)


def check_transitions(
    handlers: object,
    states: Iterable[State],
    *,
    profiles: Iterable[Profile] = DEFAULT_PROFILES,
    wrap: bool = False,
    partial: bool = False,
) -> CheckOutcome:
    """The whole battery of stimuli, in several situations per state: what hidden cells run."""
    title, states, cases = _transitions(states, profiles=profiles, wrap=wrap)
    return run_cases(title, handlers, states, cases, partial=partial)


# ---- checks written as data (the manifests) ---------------------------------------------


def spec_cases(spec: CheckSpec) -> tuple[str, tuple[State, ...], list[CaseToRun]]:
    """What a manifest's check runs: its title, the states it needs, its cases."""
    kw = spec.kwargs
    match spec.kind:
        case "transition":
            return _transition(*spec.args, **kw)
        case "scenario":
            return _scenario(*spec.args, **kw)
        case "family":
            return _family(list(spec.args), **kw)
        case "sockets":  # no simulated cases: autograder.production_checks runs them (run_spec)
            return kw["title"], (), []
        case _:
            return _transitions(spec.args, **kw)


def run_spec(spec: CheckSpec, handlers: object, *, guard: Guard | None = None) -> CheckOutcome:
    """A manifest's check on the learner's handlers, with partial credit (never raises)."""
    if spec.kind == "sockets":
        from ..production_checks import run_sockets

        return run_sockets(spec.args, handlers, spec.kwargs["title"])
    title, states, cases = spec_cases(spec)
    return run_cases(title, handlers, states, cases, partial=True, guard=guard)


_CHEAP_FIRST = {"transition": 0, "transitions": 1, "scenario": 2, "family": 3, "sockets": 4}


def run_specs(title: str, specs: Iterable[CheckSpec], handlers: object, *, partial: bool = True,
              fail_fast: bool = False) -> CheckOutcome:  # fmt: skip
    """Several manifest checks as one result, each case once; cheap, broad cases first, so a
    broken implementation (or a mutant) fails fast."""
    states: set[State] = set()
    cases: list[CaseToRun] = []
    if specs := list(specs):
        real = [s for s in specs if s.kind == "sockets"]
        if real:  # socket cases are real connections, not simulated cases: their outcomes, then the rest's
            found = [c for s in real for c in run_spec(s, handlers).cases]
            rest = [s for s in specs if s.kind != "sockets"]
            more = run_specs(title, rest, handlers, partial=True).cases if rest else []
            result = CheckOutcome(title, found + more)
            return result if partial else result.raise_if_failed()
    for spec in sorted(specs, key=lambda s: _CHEAP_FIRST[s.kind]):
        _, needed, found = spec_cases(spec)
        states.update(needed)
        cases += found
    ordered = sorted(states, key=list(State).index)
    return run_cases(title, handlers, ordered, cases, partial=partial, fail_fast=fail_fast)


def prepare(assignment: str, course_root: Path | None = None) -> int:
    """Do the reference's part of grading `assignment` ahead (every case's reference run or answer,
    every fixture), so that a long-lived grading process starts warm. Returns the number of cases."""
    manifest = load_manifest(assignment, course_root)
    seen: set = set()
    objects: set[int] = set()  # two specs may hold equal cases as two objects: each keeps its own answers
    for spec in (*(s for c in manifest.cells for s in (*c.visible, *c.hidden)), *manifest.before_submit):
        for case in spec_cases(spec)[2]:
            seen.add(case.key)
            if id(case) not in objects:
                objects.add(id(case))
                case.prepare()
    return len(seen)


def hidden_suite(
    handlers: object,
    notebook: str | None = None,
    *,
    partial: bool = True,
    fail_fast: bool = False,
    course_root: Path | None = None,
) -> CheckOutcome:
    """Every hidden check of a notebook's manifest (or, without `notebook`, of every notebook whose
    exercises are the machine's handlers: notebook 07's socket cases need socket functions)."""
    assignments = [notebook] if notebook else machine_assignments(course_root)
    specs = [s for a in assignments for c in load_manifest(a, course_root).cells for s in c.hidden]
    return run_specs(f"hidden tests of {notebook or 'the course'}", specs, handlers, partial=partial,
                     fail_fast=fail_fast)  # fmt: skip
