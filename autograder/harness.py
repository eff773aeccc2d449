"""Run a learner's handlers in the simulator, safely, and record what every handler did.

A notebook hands us its answers in whatever shape a learner writes them (functions
named after states, a dict, a class, the notebook's namespace); `collect` finds them,
`compose` fills the other states with the reference so the simulator has a whole
machine, and `Guard` stands between the simulator and every learner call: a crash,
a wrong return value, a frozen TCB poked at, an endless loop, a flood of prints, or
a call into the reference's own handlers each become one sentence a learner can act
on (`LearnerError`), never a traceback.

`Recorder` turns each handler call into an `Observed` step: only what the outside
world can see (next state, segments on the wire, which timers are armed and until
when, what the application is told), so two correct implementations that differ in
bookkeeping or output order record the same steps.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import io
import operator
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import reference_impl
from reference_impl.profiles import Profile
from reference_impl.segment import MOD, Flags, Segment
from reference_impl.sim import Scenario, Simulation, StepReport
from reference_impl.states import (
    OUTPUT_TYPES,
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
    stimulus_text,
)
from reference_impl.tcb import TCB
from reference_impl.trace import Trace

from .integrity import reference_functions as _reference_functions
from .reference_source import reference_machine

Handler = Callable[[TCB, Stimulus, Profile], Step]

# fin_wait_1 → State.FIN_WAIT_1; FIN_WAIT_1 is accepted too, as a dict key or method name.
HANDLER_NAMES: dict[str, State] = {s.value.lower(): s for s in State} | {s.value: s for s in State}
_OWN_DIRS = (Path(reference_impl.__file__).parent, Path(__file__).parent)
_STDLIB = Path(dataclasses.__file__).parent


class LearnerError(Exception):
    """A learner handler misbehaved. `sentence` says what, where, and how to fix it."""

    def __init__(self, sentence: str, kind: str = "error") -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.kind = kind  # missing, exception, return, frozen, timeout, output, slow, integrity
        self.state: State | None = None
        self.stimulus: Stimulus | None = None
        self.endpoint = ""
        self.time: int | None = None


# ---- finding the learner's handlers -----------------------------------------------------


def is_stub(fn: object) -> bool:
    """A handler still as released: its body does nothing but raise NotImplementedError.

    A check that needs such a handler says it is not written yet; a timeline (show_mine)
    lets the reference play its state. Graded scenario checks keep it: it raises where the
    run reaches it, so a cell never earns points for a state the learner has not written.
    """
    code = getattr(fn, "__code__", None)
    return code is not None and tuple(code.co_names) == ("NotImplementedError",)


def _items(source: object) -> list[tuple[object, object]]:
    if isinstance(source, Mapping):
        return list(source.items())
    return [(n, getattr(source, n, None)) for n in dir(source) if not n.startswith("_")]


def _state_of(key: object) -> State | None:
    """The state a handler is named after (a State, or its name such as "fin_wait_1")."""
    return key if isinstance(key, State) else HANDLER_NAMES.get(key) if isinstance(key, str) else None


def unwritten(source: object) -> list[State]:
    """The states whose handler in `source` is still a stub (see is_stub)."""
    if inspect.isclass(source):
        return []
    stubs = {_state_of(k) for k, v in _items(source) if is_stub(v)} - {None}
    return sorted(stubs, key=list(State).index)


def learner_handlers(source: object, *, skip_stubs: bool = False) -> dict[State, Handler]:
    """The learner's handlers by state, from a dict, a class or instance, a module or a namespace.

    Only callables are handlers: `TIME_WAIT = Timer.TIME_WAIT` or `CLOSED = State.CLOSED` at the
    top of a notebook is an alias, not an answer, and is passed over (named only when no handler
    is found at all). With skip_stubs, stubs (is_stub) are left out, so the reference plays their
    states."""
    if inspect.isclass(source):
        try:
            source = source()
        except Exception as e:
            raise LearnerError(
                f"your class {source.__name__} could not be created with {source.__name__}() "
                f"({type(e).__name__}: {e}); give it no required constructor arguments",
                "missing",
            ) from None
    items = _items(source)
    found: dict[State, Handler] = {}
    aliases: list[tuple[object, object, State]] = []
    for key, value in items:
        state = _state_of(key)
        if state is None:
            continue
        if not callable(value):
            aliases.append((key, value, state))
        elif not (skip_stubs and is_stub(value)):
            found[state] = value
    if not found and not unwritten(source):
        hint = _naming_hint(items, None)
        if aliases and "you defined" not in hint:  # no near-miss name to suggest: name the alias
            key, value, state = aliases[0]
            hint = (f"`{key}` is a {type(value).__name__}, not a function; "
                    f"define it as def {state.value.lower()}(tcb, ev, profile):")
        raise LearnerError("no handler found: " + hint, "missing")
    return found


@dataclass
class LearnerMachine:
    """The learner's handlers, wherever they run: what every check and `grade_cell` judge.

    handlers: one per state the learner wrote (a stub too: it raises where a run reaches it).
    A handler that runs elsewhere (the grading sandbox) raises LearnerError on misuse, its
    sentence the end of "in STATE, on EVENT, your handler ..." (e.g. "raised NotImplementedError").
    stubs: the states whose handler is still a released stub (a check that needs one says so).
    source: the in-process namespace the handlers came from, or None when they run elsewhere;
    only then can integrity inspect their code. problem: why no handler could be taken from
    the source, one sentence (every check then scores zero for it). limits: per-call limits
    for these handlers (None: the default Limits). code: the learner's cells in the order the
    grading sandbox ran them, read on the trusted side (autograder.checks.own_code). sockets: how
    a socket exercise reaches learner functions that run elsewhere (the grading sandbox:
    RunnerSession.sockets); None: in this process (autograder.production_checks).
    """

    handlers: dict[State, Handler]
    stubs: frozenset[State] = frozenset()
    source: object = field(default=None, repr=False)
    problem: str = ""
    limits: Limits | None = None
    code: tuple[str, ...] = field(default=(), repr=False)  # the learner's cells as the trusted side ran them
    sockets: object = field(default=None, repr=False)


def machine_from_namespace(ns: object) -> LearnerMachine:
    """The machine a notebook namespace (globals(), a dict, a class, a module) defines, in-process."""
    if isinstance(ns, LearnerMachine):
        return ns
    try:
        found = learner_handlers(ns)
    except LearnerError as e:
        return LearnerMachine({}, frozenset(), ns, e.sentence)
    return LearnerMachine(found, frozenset(unwritten(ns)), ns)


def require(machine: LearnerMachine, states: tuple[State, ...]) -> None:
    """Raise the naming sentence for the first state the check needs that the learner did not define."""
    for state in states:
        if state in machine.stubs:
            raise LearnerError(f"this check needs your {state.value.lower()}(tcb, ev, profile), which is not "
                               "written yet (it still only raises NotImplementedError)", "missing")  # fmt: skip
        if state not in machine.handlers:
            items = list(machine.source.items()) if isinstance(machine.source, Mapping) else []
            raise LearnerError(f"this check needs your {_naming_hint(items, state)}", "missing")


def _naming_hint(items: list[tuple[object, object]], state: State | None) -> str:
    wanted = [state] if state else list(State)
    names = [k for k, v in items if isinstance(k, str) and callable(v) and not k.startswith("_")]
    squash = {n.lower().replace("_", ""): n for n in names}
    for s in wanted:
        target = s.value.lower()
        near = squash.get(target.replace("_", "")) or next(iter(difflib.get_close_matches(target, names, 1, 0.8)), None)
        if near:
            return f"handler {target}(tcb, ev, profile) was not found; you defined `{near}`: rename it to `{target}`"
    if state is not None:
        return f"handler {state.value.lower()}(tcb, ev, profile); define a function with that name that returns a Step"
    return "define a function named after its state, e.g. def fin_wait_1(tcb, ev, profile): ... return Step(...)"


def compose(learner: Mapping[State, Handler], guard: Guard) -> dict[State, Handler]:
    """One machine table: the learner's guarded handlers where given, the reference's elsewhere."""
    table: dict[State, Handler] = dict(reference_machine())
    for state, fn in learner.items():
        table[state] = guard.wrap(state, fn)
    return table


# ---- guarding every learner call ------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """How much a learner's code may take. Generous for correct code, firm for runaway code."""

    # CPU seconds for one handler call: an endless loop spends CPU, a busy machine does not make a
    # correct handler look like one. A call that waits (sleeps, blocks) is stopped after per_call_wall.
    per_call: float = 1.0
    per_check: float = 20.0  # wall seconds for all learner calls of one check
    output: int = 20_000  # characters one handler call may print
    per_call_wall: float = 10.0  # wall seconds for one handler call (at least per_call)

    def wall(self) -> float:
        return max(self.per_call_wall, self.per_call)


class _Stop(BaseException):
    """Raised into learner code to stop it; BaseException so `except Exception` cannot swallow it."""


class _CallTimeout(_Stop):
    pass


class _OutputFlood(_Stop):
    pass


class _ReferenceCalled(_Stop):
    pass


class _CappedOutput(io.TextIOBase):
    """Stands in for stdout/stderr during learner calls: keeps a little, stops a flood."""

    def __init__(self, limit: int) -> None:
        self.limit, self.count, self.kept = limit, 0, io.StringIO()
        self.kept_limit = 2_000  # what feedback may show of it

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        self.count += len(text)
        if self.count > self.limit:
            raise _OutputFlood
        if self.kept.tell() < self.kept_limit:
            self.kept.write(text[: self.kept_limit - self.kept.tell()])
        return len(text)


class Guard:
    """Stands between the simulator and the learner: limits, captures and validates each call.

    Use `with guard.session():` around a check; in the main thread the per-call limit is a
    SIGALRM timer (it also stops `time.sleep`), elsewhere a `sys.settrace` line counter.
    """

    def __init__(self, limits: Limits | None = None, *, watch_reference: bool = True) -> None:
        self.limits = limits or Limits()
        # In-process learner code could reach the reference's handlers; code in another process cannot.
        self.watch_reference = watch_reference
        self._call_started = self._call_cpu = 0.0
        self.output = _CappedOutput(self.limits.output)
        self.spent = 0.0
        self.calls = 0
        self._in_call = False
        self._use_signal = False
        self._broken: dict[int, LearnerError] = {}
        # Handlers are functions of (tcb, stimulus, profile): within one session each distinct call
        # is made once and its answer (or its error) reused, so the loss patterns of a family, which
        # share most of their steps, cost one call per distinct step, and so does a handler that
        # runs in another process. A handler that answers one input two ways is judged by its first.
        self._answers: dict[tuple, Step | LearnerError] = {}
        self._profiles: dict[int, Profile] = {}

    @property
    def printed(self) -> str:
        """What the learner's handlers printed (at most the output limit)."""
        return self.output.kept.getvalue()

    @contextmanager
    def session(self) -> Iterator[Guard]:
        use = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
        previous = None
        if use:
            try:
                previous = signal.signal(signal.SIGALRM, self._alarm)
            except ValueError:  # not the main interpreter's main thread after all
                use = False
        self._use_signal = use
        if use:
            signal.setitimer(signal.ITIMER_REAL, _TICK, _TICK)
        try:
            yield self
        finally:
            if use:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            self._use_signal = False

    def _alarm(self, signum, frame) -> None:
        # A tick every TICK seconds through the session (two system calls per handler call would
        # cost more than many handlers do); it stops a call that has run past the limit.
        if self._in_call and _over(self._call_cpu, self._call_started, self.limits):
            raise _CallTimeout

    def wrap(self, state: State, fn: Handler) -> Handler:
        def guarded(tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
            return self.call(state, fn, tcb, ev, profile)

        guarded.learner_handler = fn  # type: ignore[attr-defined]
        return guarded

    def call(self, state: State, fn: Handler, tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
        """Call one learner handler under the limits; return its Step or raise LearnerError."""
        # A profile is keyed by identity (hashing its many fields for every call costs), and kept
        # alive for the session so that no other profile can take its id.
        key = (state, id(fn), tcb, ev, id(self._profiles.setdefault(id(profile), profile)))
        known = self._answers.get(key)
        if known is None:
            try:
                known = self._call(state, fn, tcb, ev, profile)
            except LearnerError as e:
                if e.kind == "slow":  # the session's budget, not an answer to this input
                    raise
                known = e
            self._answers[key] = known
        if isinstance(known, LearnerError):
            raise self._error(known.sentence, known.kind, state, ev)
        return known

    def _call(self, state: State, fn: Handler, tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
        def where() -> str:  # written out only for a failure: formatting a segment costs
            return f"in {state}, on {stimulus_text(ev)}, your handler"

        if self.spent > self.limits.per_check:
            raise self._error(f"{where()} was not called: your handlers already took {self.spent:.1f} s "
                              f"in this check (limit {self.limits.per_check:g} s); make them faster", "slow", state, ev)
        broken = self._broken.get(id(fn))
        if broken is not None:  # it already hung once in this check: do not wait for it again
            raise self._error(broken.sentence, broken.kind, state, ev)
        snapshot = _tcb_fields(tcb)
        self.output.count = 0  # the output limit is per call: a chatty but correct handler passes
        started = time.perf_counter()
        self.calls += 1
        try:
            step = self._run(fn, tcb, ev, profile)
        except _CallTimeout:
            waited = time.monotonic() - self._call_started >= self.limits.wall()
            err = self._error(f"{where()} ran longer than {self.limits.wall() if waited else self.limits.per_call:g} s "
                              f"and was stopped ({'is it waiting for something?' if waited else 'an endless loop?'})",
                              "timeout", state, ev)  # fmt: skip
            self._broken[id(fn)] = err
            raise err from None
        except _OutputFlood:
            raise self._error(f"{where()} printed more than {self.limits.output} characters and was stopped; "
                              "remove the print calls in a loop", "output", state, ev) from None
        except _ReferenceCalled:
            raise self._error(f"{where()} called the reference solution's handler; write the state's "
                              "logic yourself (the building blocks in autograder.learner are allowed)",
                              "integrity", state, ev) from None
        except LearnerError as e:  # a handler run elsewhere, telling what went wrong there
            raise self._error(f"{where()} {e.sentence}", e.kind, state, ev) from None
        except dataclasses.FrozenInstanceError as e:
            raise self._error(f"{where()} tried to change a frozen value ({e}); the TCB it is given "
                              "cannot change: return a new TCB in Step(tcb=...), e.g. tcb.replace(snd_nxt=...)",
                              "frozen", state, ev) from None
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # noqa: BLE001 - anything a learner raises is feedback
            raise self._error(f"{where()} raised {_exception_text(e)}{_where_in_learner_code(e)}",
                              "exception", state, ev) from None
        finally:
            self.spent += time.perf_counter() - started
        if _tcb_fields(tcb) != snapshot:
            raise self._error(f"{where()} changed the TCB it was given; the TCB is frozen: return a new TCB "
                              "in Step(tcb=...), e.g. tcb.replace(snd_nxt=...)", "frozen", state, ev)
        problem = step_problem(step)
        if problem:
            raise self._error(f"{where()} {problem}", "return", state, ev)
        return step

    def _run(self, fn: Handler, tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
        saved = sys.stdout, sys.stderr, sys.gettrace()
        sys.stdout = sys.stderr = self.output
        self._call_started, self._call_cpu = time.monotonic(), time.thread_time()
        self._in_call = True
        try:
            if not self._use_signal:
                sys.settrace(_line_limit(self._call_cpu, self._call_started, self.limits))
            with _reference_trapped(self.watch_reference):
                return fn(tcb, ev, profile)
        finally:
            if not self._use_signal:
                sys.settrace(saved[2])
            self._in_call = False
            sys.stdout, sys.stderr = saved[0], saved[1]

    @staticmethod
    def _error(sentence: str, kind: str, state: State, ev: Stimulus) -> LearnerError:
        err = LearnerError(sentence, kind)
        err.state, err.stimulus = state, ev
        return err


_TICK = 0.05  # seconds between the session's timer ticks
_tcb_fields = operator.attrgetter(*TCB.__slots__)  # a snapshot of a TCB, to see whether a handler changed it


def _trap(*args, **kwargs):
    """Stands in for the body of every reference handler while a learner call runs: entering one is
    delegation. (Looked up by name: this code runs with the reference module's globals.)"""
    raise __import__("autograder.harness", fromlist=["_ReferenceCalled"])._ReferenceCalled


class _Trapped:
    """Swaps the reference handlers' code for _trap while learner calls run (nested, thread-counted):
    a call into them, however obtained (getattr with a computed name, importlib, a table), stops
    there. Cheaper than a profile hook on every call the learner's code makes."""

    lock = threading.Lock()
    depth = 0
    originals: list[tuple[Callable, object]] = []

    def __init__(self, active: bool) -> None:
        self.active = active and bool(_reference_functions())

    def __enter__(self) -> None:
        if self.active:
            with _Trapped.lock:
                if _Trapped.depth == 0:
                    if not _Trapped.originals:  # taken once: the handlers and their code do not change
                        _Trapped.originals = [(fn, fn.__code__) for fn in _reference_functions()]
                    for fn, _ in _Trapped.originals:
                        fn.__code__ = _TRAP
                _Trapped.depth += 1

    def __exit__(self, *exc) -> None:
        if self.active:
            with _Trapped.lock:
                _Trapped.depth -= 1
                if _Trapped.depth == 0:
                    for fn, code in _Trapped.originals:
                        fn.__code__ = code


_TRAP = _trap.__code__
_reference_trapped = _Trapped


def _over(cpu_started: float, wall_started: float, limits: Limits) -> bool:
    """Has the running call (in this thread) used up its CPU time, or waited past its wall time?"""
    return (time.thread_time() - cpu_started > limits.per_call
            or time.monotonic() - wall_started > limits.wall())  # fmt: skip


def _line_limit(cpu_started: float, wall_started: float, limits: Limits):
    """A sys.settrace tracer that stops the traced thread's learner code once it is _over its limits."""

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True  # `while True: pass` on one line emits no line events
        if _over(cpu_started, wall_started, limits):
            raise _CallTimeout
        return tracer

    return tracer


def _exception_text(e: BaseException) -> str:
    text = str(e)
    if isinstance(e, KeyError) and e.args:
        text = repr(e.args[0])
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _where_in_learner_code(e: BaseException) -> str:
    """" (line 7 of fin_wait_1)": the last frame of the learner's own code, if any."""
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        path = Path(frame.filename)
        if any(d in path.parents for d in _OWN_DIRS) or _STDLIB in path.parents:
            continue
        return f" (line {frame.lineno} of {frame.name})"
    return ""


# ---- what a learner may return ------------------------------------------------------------


def step_problem(step: object) -> str:
    """Why `step` is not a valid Step, as the end of a sentence; "" when it is fine."""
    if step is None:
        return "returned None: did you forget `return Step(next_state, outputs, tcb)`?"
    if isinstance(step, tuple):
        return "returned a tuple; wrap it: return Step(next_state, outputs, tcb)"
    if not isinstance(step, Step):
        return f"returned a {type(step).__name__}, not a Step: return Step(next_state, outputs, tcb)"
    if not isinstance(step.state, State):
        if isinstance(step.state, str):
            return f"returned the next state as the string {step.state!r}; use State.{step.state.upper()}"
        return f"returned {step.state!r} as the next state, which is not a State (e.g. State.FIN_WAIT_2)"
    if not isinstance(step.outputs, tuple):
        return f"returned outputs of type {type(step.outputs).__name__}; use a list or tuple of outputs"
    for i, out in enumerate(step.outputs, 1):
        problem = "" if _plainly_fine(out) else output_problem(out)
        if problem:
            return f"returned output #{i} {problem}"
    if step.tcb is not None:
        if not isinstance(step.tcb, TCB):
            return f"returned tcb={type(step.tcb).__name__}, not a TCB (use tcb.replace(...), or leave it out)"
        for name in ("snd_una", "snd_nxt", "rcv_nxt"):
            if not _is_seq(getattr(step.tcb, name)):
                return f"returned a TCB whose {name}={getattr(step.tcb, name)!r} is not a 32-bit sequence number (use seq_add)"
        if step.tcb.fin_seq is not None and not _is_seq(step.tcb.fin_seq):
            return f"returned a TCB whose fin_seq={step.tcb.fin_seq!r} is not a sequence number"
    return ""


def _plainly_fine(out: object) -> bool:
    """The common outputs, checked quickly (exact types); anything else gets output_problem's full look."""
    kind = type(out)
    if kind is Send:
        seg = out.segment
        return (type(seg) is Segment and type(seg.seq) is int and 0 <= seg.seq < MOD and type(seg.ack) is int
                and 0 <= seg.ack < MOD and type(seg.flags) is Flags and not int(seg.flags) & ~0x17
                and type(seg.payload) is bytes and type(seg.window) is int and 0 <= seg.window <= 0xFFFF)  # fmt: skip
    if kind is StartTimer:
        return type(out.timer) is Timer and type(out.duration) is int and out.duration >= 0
    return kind is CancelTimer and type(out.timer) is Timer


def output_problem(out: object) -> str:
    """Why `out` is not a valid output, as the end of a sentence; "" when it is fine."""
    if _plainly_fine(out):
        return ""
    if isinstance(out, Segment):
        return f"{out}, a bare Segment: wrap it as Send(segment)"
    if not isinstance(out, OUTPUT_TYPES):
        return f"{out!r}, which is not an output (Send, StartTimer, CancelTimer, DeliverData, DeliverEOF, Error)"
    match out:
        case Send(seg):
            if not isinstance(seg, Segment):
                return f"Send({seg!r}): Send takes a Segment"
            for name in ("seq", "ack"):
                if not _is_seq(getattr(seg, name)):
                    return f"a segment whose {name}={getattr(seg, name)!r} is not a 32-bit sequence number"
            if not isinstance(seg.flags, Flags) or int(seg.flags) & ~0x17:
                return f"a segment with impossible flags {seg.flags!r} (use FIN, SYN, RST, ACK)"
            if not isinstance(seg.payload, bytes):
                return "a segment whose payload is not bytes"
            if not (isinstance(seg.window, int) and 0 <= seg.window <= 0xFFFF):
                return f"a segment with window {seg.window!r}, outside 0..65535"
        case StartTimer(timer, duration):
            if not isinstance(timer, Timer):
                return f"StartTimer({timer!r}, ...): the timer must be a Timer, e.g. Timer.TIME_WAIT"
            if not isinstance(duration, int) or isinstance(duration, bool) or duration < 0:
                return f"StartTimer with duration {duration!r}: use whole microseconds, e.g. profile.time_wait"
        case CancelTimer(timer):
            if not isinstance(timer, Timer):
                return f"CancelTimer({timer!r}): the timer must be a Timer, e.g. Timer.RETRANSMIT"
        case DeliverData(data):
            if not isinstance(data, bytes):
                return "DeliverData with data that is not bytes"
        case Error(message):
            if not isinstance(message, str):
                return "Error with a message that is not a string"
    return ""


def _is_seq(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < MOD


# ---- recording what happened, as the outside world sees it --------------------------------

SegmentView = tuple[str, int, int | None, int]  # flags, seq, ack (None without ACK), data length


@dataclass(frozen=True)
class Observed:
    """One handler call, reduced to what is observable. Equal for equally-behaving code."""

    time: int
    endpoint: str
    state: State
    stimulus: Stimulus
    next_state: State
    sends: tuple[SegmentView, ...]
    timers: tuple[tuple[Timer, int], ...]  # armed after the step: (timer, deadline), sorted
    app: tuple[str, ...]  # what the application is told, in order
    learner: bool = field(default=False, compare=False)  # this state's handler was the learner's
    step: Step | None = field(default=None, compare=False)
    tcb: TCB | None = field(default=None, compare=False)  # the TCB the handler was given
    armed_before: tuple[tuple[Timer, int], ...] = field(default=(), compare=False)


def segment_view(seg: Segment) -> SegmentView:
    return (str(seg.flags), seg.seq, seg.ack if seg.has_ack else None, len(seg.payload))


def observe(
    step: Step, stimulus: Stimulus, armed: dict[Timer, int], now: int = 0
) -> tuple[tuple[SegmentView, ...], dict[Timer, int], tuple[str, ...]]:
    """The sends, the armed timers (deadline by timer) after the step, and the app notifications.

    Mirrors the simulator: an expired timer is disarmed before its handler runs, a start
    (re)arms, a cancel disarms, and entering CLOSED deletes every timer with the TCB.
    """
    armed = dict(armed)
    if isinstance(stimulus, Timeout):
        armed.pop(stimulus.timer, None)
    sends, app = [], []
    for out in step.outputs:
        match out:
            case Send(seg):
                sends.append(segment_view(seg))
            case StartTimer(timer, duration):
                armed[timer] = now + duration
            case CancelTimer(timer):
                armed.pop(timer, None)
            case DeliverData(data):
                app.append(f"data {len(data)}")
            case DeliverEOF():
                app.append("EOF")
            case Error(message):
                app.append(f"error {message}")
    if step.state is State.CLOSED:
        armed.clear()
    return tuple(sends), armed, tuple(app)


def _sorted_timers(armed: Mapping[Timer, int]) -> tuple[tuple[Timer, int], ...]:
    return tuple(sorted(armed.items(), key=lambda kv: kv[0].value))


@dataclass
class Run:
    """One simulated scenario: the trace, every handler call observed, and the learner's error."""

    trace: Trace
    observed: list[Observed]
    error: LearnerError | None = None


AFTER_DIVERGENCE = 20  # handler calls recorded past the first difference from `expected` (the picture's tail)


class _Enough(Exception):
    """Stops a learner's run that has gone its own way for AFTER_DIVERGENCE calls."""


def run_machine(
    scenario: Scenario, profile: Profile, table: Mapping[State, Handler], learner_states=(),
    substitute: Mapping[int, Step] | None = None, expected: list[Observed] | None = None,
) -> Run:
    """Simulate `scenario` with `table` for both endpoints, recording every call. `substitute`
    gives the Step to take instead of calling the handler, by the call's index in the run
    (an allowed alternative taken as the reference's own answer). With `expected` (the
    reference's calls), the run stops AFTER_DIVERGENCE calls after it first differs from them:
    a machine that has gone wrong may otherwise run to the simulator's event limit."""
    substitute = substitute or {}
    observed: list[Observed] = []
    diverged: list[int] = []
    reported = [0]  # observed[:reported[0]] carry the simulator's timers
    armed: dict[str, dict[Timer, int]] = {"A": {}, "B": {}}
    sim: Simulation

    def recording(state: State, fn: Handler) -> Handler:
        mine = state in learner_states

        def handler(tcb: TCB, ev: Stimulus, prof: Profile) -> Step:
            step = substitute.get(len(observed)) or fn(tcb, ev, prof)
            ep = sim.endpoint
            sends, armed[ep], app = observe(step, ev, armed[ep], sim.now)  # the timers until the step's report
            observed.append(Observed(sim.now, ep, state, ev, step.state, sends, _sorted_timers(armed[ep]),
                                     app, mine, step, tcb))  # fmt: skip
            return step

        return handler

    def report(r: StepReport) -> None:
        """The simulator's timers after the step replace what the call's own outputs implied."""
        armed[r.endpoint] = dict(r.armed_after)
        for n in range(reported[0], len(observed)):
            observed[n] = dataclasses.replace(observed[n], timers=r.armed_after, armed_before=r.armed_before)
            if expected is not None:
                if not diverged and (n >= len(expected) or observed[n] != expected[n]):
                    diverged.append(n)
                if diverged and n >= diverged[0] + AFTER_DIVERGENCE:
                    raise _Enough
        reported[0] = len(observed)

    machine = {state: recording(state, fn) for state, fn in table.items()}
    sim = Simulation(scenario, profile, {"A": machine, "B": machine}, observer=report)
    try:
        sim.run()
    except LearnerError as e:
        e.endpoint, e.time = sim.endpoint, sim.now
        return Run(sim.trace, observed, e)
    except _Enough:
        pass
    return Run(sim.trace, observed)
