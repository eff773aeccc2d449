"""What notebook test cells call: compare a learner's handlers with the reference, case by case.

    from autograder.checks import check_transition, check_scenario, check_family
    check_transition(globals(), State.FIN_WAIT_1, Arrival(Segment(seq=300, ack=101)))
    check_scenario(globals(), "lost-final-ack", profile=LINUX)
    check_family(globals(), ["active-close"], k=2).points(3)   # partial credit for nbgrader

Every expectation comes from running the reference on the same input: nothing about
TCP is written here. Cases compare observable behaviour only (harness.Observed), so any
correct implementation passes. A check raises AssertionError naming the first failing
case (endpoint, state, event, reference vs learner, virtual time, replay command)
unless `partial=True`, in which case the CheckResult carries passed/total for partial
credit and the per-transition summary for the class report. Deterministic throughout:
no randomness, no wall clock in any verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from reference_impl import handlers as reference
from reference_impl.profiles import LINUX, RFC9293, Profile, profile_changes, profile_text
from reference_impl.scenarios import CATALOGUE, LOSE, get, loss_patterns
from reference_impl.segment import ACK, FIN, MOD, RST, SYN, Flags, Segment
from reference_impl.sim import Fate, Scenario, SegmentKey
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

from .feedback import compare_text, describe, divergence_svg, event_kind, first_divergence, tcb_difference
from .harness import Guard, Handler, LearnerError, Limits, Observed, Run, collect, compose, observe, require
from .harness import run_machine as _run_machine
from .integrity import inspect_submission

DEFAULT_PROFILES = (RFC9293, LINUX)


# ---- results ----------------------------------------------------------------------------


class CheckFailed(AssertionError):
    """A failed check. In a notebook, IPython shows just its message (`_render_traceback_`),
    not a wall of the checks' own frames: the message already names the state, the event,
    what the reference did and what the learner's code did."""

    def _render_traceback_(self) -> list[str]:
        head, *rest = str(self).splitlines() or [""]
        return [f"\x1b[0;31mAssertionError\x1b[0m: {head}", *rest]


# nbgrader's reports, the feedback and the course tests read the error's name; keep the one
# learners know.
CheckFailed.__name__ = CheckFailed.__qualname__ = "AssertionError"


@dataclass
class Case:
    """One comparison: a transition from a fixture, or a whole scenario run."""

    name: str
    passed: bool
    message: str = ""
    transition: tuple[str, str] | None = None  # the failing (state, event kind)
    exercised: frozenset[tuple[str, str]] = frozenset()  # learner transitions that matched
    replay: str = ""
    svg: Callable[[], str | None] | None = field(default=None, repr=False)  # drawn on demand


@dataclass
class CheckResult:
    """The outcome of one check: cases, partial credit, and which transitions failed."""

    title: str
    cases: list[Case]

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.cases)

    @property
    def total(self) -> int:
        return len(self.cases)

    @property
    def score(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def failures(self) -> list[Case]:
        return [c for c in self.cases if not c.passed]

    def points(self, max_points: float) -> float:
        """Partial credit for an nbgrader test cell: end the cell with `result.points(3)`."""
        return round(max_points * self.score, 2)

    def transitions(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(state, event kind) → (cases where it behaved, cases where it first went wrong)."""
        ok: dict[tuple[str, str], int] = {}
        bad: dict[tuple[str, str], int] = {}
        for c in self.cases:
            for t in c.exercised:
                ok[t] = ok.get(t, 0) + 1
            if c.transition:
                bad[c.transition] = bad.get(c.transition, 0) + 1
        return {t: (ok.get(t, 0), bad.get(t, 0)) for t in sorted(ok.keys() | bad.keys())}

    def message(self, more: int = 5) -> str:
        failures = self.failures
        if not failures:
            return f"{self.title}: passes" if self.total == 1 else f"{self.title}: all {self.total} cases pass"
        if self.total == 1:  # one case: its own message says it all
            msg = failures[0].message
            return msg if msg.startswith(self.title) else f"{self.title}: {msg}"
        # The failure is indented under its summary line, so readers that keep one block per
        # check (tcpclose check, the class report) keep the whole failure with it.
        head = f"{self.title}: {self.passed} of {self.total} cases pass. First failure:\n" + _indent(failures[0].message)
        rest = [c.name for c in failures[1:]]
        if rest:
            listed = ", ".join(rest[:more]) + (f", and {len(rest) - more} more" if len(rest) > more else "")
            head += f"\n  Also failing: {listed}"
        return head

    def raise_if_failed(self) -> CheckResult:
        if self.failures:
            raise CheckFailed(self.message())
        return self

    def __repr__(self) -> str:
        # What a test cell shows when it ends with a check: one line a learner can read.
        if not self.failures:
            return "✓ " + self.message()
        return f"✗ {self.title}: {self.passed} of {self.total} cases pass"


def _indent(text: str) -> str:
    return "\n".join("  " + line if line else line for line in text.splitlines())


# A case to run: given the learner's handlers and the guard, compare and return a Case.
CaseThunk = Callable[[Mapping[State, Handler], Guard], Case]


def _run_cases(
    title: str,
    handlers: object,
    states: Iterable[State],
    thunks: Iterable[CaseThunk],
    *,
    partial: bool,
    fail_fast: bool = False,
    limits: Limits | None = None,
) -> CheckResult:
    thunks = list(thunks)
    try:
        found = collect(handlers)
        require(found, tuple(states), handlers)
        reason = inspect_submission(handlers, found)
    except LearnerError as e:
        found, reason = {}, e.sentence
    if reason:  # every case scores zero, for the one reason
        result = CheckResult(title, [Case(title, False, f"{title}: {reason}")] * max(1, len(thunks)))
        return result if partial else result.raise_if_failed()
    guard = Guard(limits)
    cases: list[Case] = []
    with guard.session():
        for thunk in thunks:
            case = thunk(found, guard)
            cases.append(case)
            if fail_fast and not case.passed:
                break
    result = CheckResult(title, cases)
    return result if partial else result.raise_if_failed()


# ---- scenarios --------------------------------------------------------------------------


_REFERENCE_RUNS: dict[tuple[str, Profile], Run] = {}


def reference_run(scenario: Scenario, profile: Profile) -> Run:
    """The reference's recorded run, computed once per (scenario, profile)."""
    key = (repr(scenario), profile)
    run = _REFERENCE_RUNS.get(key)
    if run is None:
        if len(_REFERENCE_RUNS) > 20_000:
            _REFERENCE_RUNS.clear()
        run = _REFERENCE_RUNS[key] = _run_machine(scenario, profile, reference.HANDLERS)
    return run


def _fates(fates: Mapping[SegmentKey, Fate] | Iterable[str] | None) -> dict[SegmentKey, Fate]:
    from reference_impl.scenarios import parse_key

    if not fates:
        return {}
    if isinstance(fates, Mapping):
        return dict(fates)
    return {parse_key(k): LOSE for k in fates}


def replay_command(name: str, base: Profile = RFC9293, fates: Mapping[SegmentKey, Fate] | None = None) -> str:
    """The one line that shows this case in the reference: tcpclose simulate NAME ..."""
    cmd = f"tcpclose simulate {name}"
    if base.name != RFC9293.name:
        cmd += f" --profile {base.name}"
    for change in profile_changes(base):
        cmd += f" --set {change}"
    for (ep, n), fate in sorted((fates or {}).items()):
        if fate.kind == "lose":
            cmd += f" --lose {ep}{n}"
    return cmd


def _resolve(name_or_script: str | Path | Scenario, base: Profile, fates: dict) -> tuple[Scenario, Profile, str, str]:
    """(scenario, effective profile, case name, replay command)."""
    if isinstance(name_or_script, Scenario):
        sc = name_or_script
        if fates:
            sc = sc.with_fates({**sc.fates, **fates})
        return sc, base, f"{sc.name} ({profile_text(base)})", f"(scenario {sc.name!r} given as an object)"
    if isinstance(name_or_script, Path) or (name_or_script not in CATALOGUE and (
            "\n" in name_or_script or Path(name_or_script).is_file())):
        return _resolve_script(name_or_script, base, fates)
    entry = get(name_or_script)  # ValueError with a suggestion for a misspelt name: an author's error
    sc = entry.scenario
    label = sc.name
    if fates:
        from reference_impl.scenarios import pattern_name

        sc = sc.with_fates({**sc.fates, **fates}, name=f"{sc.name}+{pattern_name(fates)}")
        label = sc.name
    note = "" if base == RFC9293 else f" ({profile_text(base)})"
    return sc, entry.profile(base), label + note, replay_command(entry.scenario.name, base, fates)


def _resolve_script(source: str | Path, base: Profile, fates: dict) -> tuple[Scenario, Profile, str, str]:
    """A scenario script (reference_impl.script): inline text, or a file replayed by `tcpclose run`."""
    from reference_impl.script import parse_script

    is_file = isinstance(source, Path) or "\n" not in source
    path = str(source) if is_file else "<script>"
    script = parse_script(Path(source).read_text() if is_file else source, path, base)
    sc = script.scenario.with_fates({**script.scenario.fates, **fates}) if fates else script.scenario
    replay = f"tcpclose run {path}" if is_file else "(an inline script: save it to a file and use tcpclose run)"
    return sc, script.profile, f"{sc.name} ({profile_text(script.profile)})", replay


def _scenario_case(scenario: Scenario, profile: Profile, label: str, replay: str) -> CaseThunk:
    def thunk(found: Mapping[State, Handler], guard: Guard) -> Case:
        ref = reference_run(scenario, profile)
        got = _run_machine(scenario, profile, compose(found, guard), frozenset(found))
        div = first_divergence(ref.observed, got.observed, got.error)
        upto = got.observed if div is None else got.observed[: div.index]
        exercised = frozenset((str(o.state), event_kind(o.stimulus)) for o in upto if o.learner)
        if div is None:
            return Case(label, True, exercised=exercised, replay=replay)
        return Case(label, False, describe(div, label, ref.trace, replay), div.transition, exercised, replay,
                    svg=lambda: divergence_svg(got.trace, ref.trace, div))

    return thunk


def check_scenario(
    handlers: object,
    name_or_script: str | Path | Scenario,
    *,
    profile: Profile = RFC9293,
    fates: Mapping[SegmentKey, Fate] | Iterable[str] | None = None,
    states: Iterable[State] = (),
    partial: bool = False,
) -> CheckResult:
    """One scenario (a catalogue name, a script, or a Scenario), both endpoints running your handlers.

    fates: extra segment fates, e.g. ["A2"] to lose A's second segment. states: the
    handlers this check needs you to have defined.
    """
    sc, eff, label, replay = _resolve(name_or_script, profile, _fates(fates))
    return _run_cases(label, handlers, states, [_scenario_case(sc, eff, label, replay)], partial=partial)


@lru_cache(maxsize=1024)
def _patterns(name: str, k: int, base: Profile) -> tuple[tuple[SegmentKey, ...], ...]:
    return tuple(tuple(sorted(p)) for p in loss_patterns(name, k, base))


def family_cases(names: Iterable[str], k: int, profiles: Iterable[Profile]) -> list[CaseThunk]:
    """One case per loss pattern of at most k segments, per scenario, per profile."""
    return [t for base in profiles for name in names for t in _family(name, k, base)]


@lru_cache(maxsize=1024)
def _family(name: str, k: int, base: Profile) -> tuple[CaseThunk, ...]:
    thunks = []
    for keys in _patterns(name, k, base):
        sc, eff, label, replay = _resolve(name, base, {key: LOSE for key in keys})
        thunks.append(_scenario_case(sc, eff, label, replay))
    return tuple(thunks)


def check_family(
    handlers: object,
    names: str | Iterable[str],
    *,
    k: int = 2,
    profiles: Iterable[Profile] = DEFAULT_PROFILES,
    states: Iterable[State] = (),
    partial: bool = False,
) -> CheckResult:
    """Every way of losing up to k segments in each named scenario, under each profile."""
    names = [names] if isinstance(names, str) else list(names)
    title = (f"{', '.join(names)} as it is" if k == 0
             else f"{', '.join(names)} with up to {k} lost segment{'s' * (k != 1)}")
    return _run_cases(title, handlers, states, family_cases(names, k, tuple(profiles)), partial=partial)


# ---- single transitions -----------------------------------------------------------------


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

    @property
    def label(self) -> str:
        if self.scenario not in CATALOGUE:
            return f"{self.endpoint} in {self.state} with the TCB given to the check"
        return f"{self.endpoint} in {self.state} at {format_time(self.time)} s of {self.scenario}"


FIXTURES_PER_STATE = 6


@lru_cache(maxsize=32)
def fixtures(base: Profile = RFC9293) -> dict[State, tuple[Fixture, ...]]:
    """Up to FIXTURES_PER_STATE distinct situations per state, taken from the catalogue's reference runs.

    Situations of a new *shape* come first (data still unacknowledged or not, FIN sent or not,
    retransmitting or not, orphaned or not, which timers run), so a state's battery sees e.g.
    FIN_WAIT_1 with data before the FIN, not six copies of the plain case.
    """
    out: dict[State, tuple[Fixture, ...]] = {}
    for state, found in _situations(base).items():
        shapes: set = set()
        first = [f for f in found if _shape(f) not in shapes and not shapes.add(_shape(f))]
        rest = [f for f in found if f not in first]
        out[state] = tuple((first + rest)[:FIXTURES_PER_STATE])
    return out


@lru_cache(maxsize=32)
def _situations(base: Profile) -> dict[State, list[Fixture]]:
    """Every distinct situation of every state in the catalogue's reference runs, in catalogue order."""
    found: dict[State, list[Fixture]] = {s: [] for s in State}
    seen = set()
    for name, entry in CATALOGUE.items():
        profile = entry.profile(base)
        for o in reference_run(entry.scenario, profile).observed:
            rel = tuple((t, d - o.time) for t, d in o.armed_before)
            key = (o.state, o.tcb, rel, profile)
            if key not in seen:
                seen.add(key)
                found[o.state].append(Fixture(o.state, o.tcb, o.armed_before, o.time, o.endpoint, name, profile,
                                              seen_on=o.stimulus))  # fmt: skip
    return found


def _shape(fx: Fixture) -> tuple:
    t = fx.tcb
    return (bool(t.unacked), t.fin_seq is not None, t.retries > 0, t.probed, t.orphaned,
            tuple(timer for timer, _ in fx.armed), fx.profile)


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
        seg(p), seg(p, u), seg(p, a - 1), seg(p, a + 1),  # ACK of all, of nothing new, of all but one, of too much
        seg(p, flags=FIN | ACK), seg(p, u, FIN | ACK), seg(p, a - 1, FIN | ACK),
        seg(p - 1, flags=FIN | ACK),  # the peer's FIN again (ends at RCV.NXT)
        seg(p, data=b"abc"), seg(p, flags=FIN | ACK, data=b"abc"), seg(p - 3, data=b"abc"), seg(p + 10, data=b"xyz"),
        seg(p, flags=RST), seg(p, flags=RST | ACK), seg(p + 1, flags=RST), seg(p + 100_000, flags=RST),
        seg(p, flags=SYN), seg(p, flags=Flags.NONE), seg(p + 100_000), seg(p - 100_000, flags=FIN | ACK),
    ]
    unique, seen = [], set()
    for s in out:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


def _observed(fx: Fixture, stimulus: Stimulus, step: Step, learner: bool) -> Observed:
    sends, armed, app = observe(step, stimulus, dict(fx.armed), fx.time)
    timers = tuple(sorted(armed.items(), key=lambda kv: kv[0].value))
    return Observed(fx.time, fx.endpoint, fx.state, stimulus, step.state, sends, timers, app, learner, step)


def _transition_case(fx: Fixture, stimulus: Stimulus, name: str = "") -> CaseThunk:
    kind = event_kind(stimulus)
    label = name or f"{fx.state} on {kind} ({fx.label}, {profile_text(fx.profile)})"
    # A situation from a catalogue run can be replayed; a TCB built by the test cannot.
    replay = replay_command(fx.scenario, fx.profile) if fx.scenario in CATALOGUE else ""
    tail = f"\n  replay: {replay}" if replay else ""

    def thunk(found: Mapping[State, Handler], guard: Guard) -> Case:
        transition = (str(fx.state), kind)
        if fx.state not in found:
            return Case(label, False, f"{label}: this check needs your {fx.state.value.lower()}(tcb, ev, profile)",
                        transition)
        expected = _observed(fx, stimulus, reference.HANDLERS[fx.state](fx.tcb, stimulus, fx.profile), False)
        try:
            got = _observed(fx, stimulus, guard.call(fx.state, found[fx.state], fx.tcb, stimulus, fx.profile), True)
        except LearnerError as e:
            return Case(label, False, f"{label}: {e.sentence}{tail}", transition, replay=replay)
        # The TCB handed on is checked too (unless the connection is gone): a wrong SND.NXT here
        # would otherwise be blamed on whichever handler trips over it later.
        handed = "" if expected.next_state is State.CLOSED else tcb_difference(expected.step.tcb, got.step.tcb)
        if got == expected and not handed:
            return Case(label, True, exercised=frozenset([transition]), replay=replay)
        # A visible check is named after the event only: say where its situation comes from.
        where = f"{fx.label} ({profile_text(fx.profile)})" if name else f"in {fx.state}"
        head = (f"{label}: {where}, on {stimulus_text(stimulus)}, your handler does not do what the "
                f"reference does (TCB: {fx.tcb})")
        returned = f"\n  TCB returned: {handed}" if handed else ""
        return Case(label, False, f"{head}\n{compare_text(expected, got)}{returned}{tail}", transition, replay=replay)

    return thunk


def _fixture_for(
    state: State, profile: Profile, tcb: TCB | None, timers: Mapping[Timer, int] | None, stimulus: Stimulus
) -> Fixture:
    """The situation a single-transition check starts from: where the catalogue itself meets this
    very event in this state (B's FIN <SEQ=300><ACK=101> again in TIME_WAIT: lost-final-ack at
    1.06 s), so the times in the feedback and the replay command tell the same story; else the
    state's first situation. (Only the same event will do: a segment's numbers fit one side.)"""
    if tcb is None:
        options = fixtures(profile).get(state) or ()
        if not options:
            raise ValueError(f"no catalogue scenario reaches {state}; pass tcb=... to check_transition")
        return next((f for f in _situations(profile)[state] if f.seen_on == stimulus), options[0])
    armed = tuple(sorted((timers or {}).items(), key=lambda kv: kv[0].value))
    return Fixture(state, tcb, armed, 0, "A", "a given TCB", profile)


def check_transition(
    handlers: object,
    state: State,
    stimulus: Stimulus,
    *,
    tcb: TCB | None = None,
    timers: Mapping[Timer, int] | None = None,
    profile: Profile = RFC9293,
    partial: bool = False,
) -> CheckResult:
    """Your handler for `state` against the reference's, on one stimulus.

    Without `tcb`, the endpoint is taken as the reference has it where the catalogue first
    meets this very event in `state` (else on first reaching `state`); with it, `timers`
    gives the running timers (µs left).
    """
    fx = _fixture_for(state, profile, tcb, timers, stimulus)
    title = f"{state} on {event_kind(stimulus)}"
    return _run_cases(title, handlers, (state,), [_transition_case(fx, stimulus, title)], partial=partial)


def transition_cases(states: Iterable[State], profiles: Iterable[Profile]) -> list[CaseThunk]:
    """Every stimulus in every fixture of each state, per profile."""
    return [t for base in profiles for state in states for t in _battery(state, base)]


@lru_cache(maxsize=256)
def _battery(state: State, base: Profile) -> tuple[CaseThunk, ...]:
    return tuple(_transition_case(fx, stim) for fx in fixtures(base)[state] for stim in stimuli_for(fx))


def check_transitions(
    handlers: object,
    states: Iterable[State],
    *,
    profiles: Iterable[Profile] = DEFAULT_PROFILES,
    partial: bool = False,
) -> CheckResult:
    """The whole battery of stimuli, in several situations per state: what hidden cells run."""
    states = tuple(states)
    title = f"transitions of {', '.join(map(str, states))}"
    return _run_cases(title, handlers, states, transition_cases(states, tuple(profiles)), partial=partial)


# ---- the hidden suites ------------------------------------------------------------------


@dataclass(frozen=True)
class Suite:
    """What a notebook's hidden tests grade: the learner's states, their transitions, scenario families."""

    states: tuple[State, ...]
    scenarios: tuple[str, ...]
    k: int = 1
    profiles: tuple[Profile, ...] = DEFAULT_PROFILES
    as_is: tuple[str, ...] = ()  # long scenarios run without added losses, to keep the suite fast

    def families(self) -> list[tuple[str, int]]:
        return [(name, self.k) for name in self.scenarios] + [(name, 0) for name in self.as_is]

    def cases(self) -> list[CaseThunk]:
        return transition_cases(self.states, self.profiles) + [
            t for p in self.profiles for name, k in self.families() for t in _family(name, k, p)]


S = State
NO_TIME_WAIT = RFC9293.replace(time_wait=0)  # notebook 5: what goes wrong without TIME_WAIT
RFC1337 = RFC9293.replace(rfc1337=True)  # notebook 6: TIME_WAIT assassination, prevented

SUITES: dict[str, Suite] = {
    "01_active_close": Suite((S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.TIME_WAIT),
                             ("active-close", "ack-of-data-not-fin"), k=1),
    "02_passive_close": Suite((S.ESTABLISHED, S.CLOSE_WAIT, S.LAST_ACK),
                              ("server-initiated-close", "half-close", "three-way-close", "active-close"), k=1),
    "03_simultaneous_close": Suite((S.FIN_WAIT_1, S.CLOSING), ("simultaneous-close", "three-way-close"), k=2),
    "04_lost_segments": Suite((S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSING, S.TIME_WAIT, S.LAST_ACK),
                              ("lost-first-fin", "lost-ack-of-fin", "lost-second-fin", "lost-final-ack",
                               "lost-final-ack-twice", "duplicate-fin-in-time-wait", "fin-retry-limit",
                               "ack-of-data-not-fin"), k=2),
    "05_time_wait": Suite((S.TIME_WAIT,), ("lost-final-ack", "rst-in-time-wait", "duplicate-fin-in-time-wait"),
                          k=1, profiles=(RFC9293, NO_TIME_WAIT, LINUX), as_is=("old-duplicate-after-reuse",)),
    "06_resets": Suite(tuple(State), ("rst-in-time-wait", "rst-in-close-wait", "abort", "close-with-unread-data",
                                      "orphan-fin-wait-2", "old-duplicate-after-reuse", "half-close"), k=1,
                       profiles=(RFC9293, LINUX, RFC1337)),
}  # fmt: skip


def hidden_suite(
    handlers: object, notebook: str | None = None, *, partial: bool = True, fail_fast: bool = False
) -> CheckResult:
    """A notebook's hidden tests (or, without `notebook`, the whole course's), as one result."""
    if notebook is not None and notebook not in SUITES:
        raise ValueError(f"unknown notebook {notebook!r}; one of: {', '.join(SUITES)}")
    chosen = [SUITES[notebook]] if notebook else list(SUITES.values())
    states = sorted({s for suite in chosen for s in suite.states}, key=list(State).index)
    if notebook is None:
        # Each (state, profile) battery and (scenario, profile) family once, at the largest k asked
        # for; cheap, broad cases first, so a broken implementation (or a mutant) fails fast.
        batteries = dict.fromkeys((s, p) for suite in chosen for p in suite.profiles for s in suite.states)
        families: dict[tuple[str, Profile], int] = {}
        for suite in chosen:
            for p in suite.profiles:
                for name, k in suite.families():
                    families[name, p] = max(families.get((name, p), 0), k)
        thunks = [t for s, p in batteries for t in transition_cases((s,), (p,))]
        thunks += [t for (name, p), k in families.items() for t in family_cases((name,), k, (p,))]
    else:
        thunks = chosen[0].cases()
    return _run_cases(f"hidden tests of {notebook or 'the course'}", handlers, states, thunks,
                      partial=partial, fail_fast=fail_fast)
