"""Guarding every learner call: a crash, a wrong return, a frozen TCB poked at, an endless loop, a
flood of prints or a call into the reference each become one LearnerError sentence, never a traceback."""

from __future__ import annotations

import dataclasses
import operator
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import reference_impl
from reference_impl.profiles import Profile
from reference_impl.states import State, Step, Stimulus, stimulus_text
from reference_impl.tcb import TCB

from .errors import Handler, LearnerError
from .limits import (
    TICK,
    CallTimeout,
    CappedOutput,
    Limits,
    OutputFlood,
    ReferenceCalled,
    charged_cpu,
    collecting,
    disarm,
    line_limit,
    over_limit,
    reference_trapped,
    stop_after_collection,
)
from .returns import step_problem

_OWN_DIRS = (Path(reference_impl.__file__).parent, Path(__file__).parent.parent)  # the checks' own frames
_STDLIB = Path(dataclasses.__file__).parent


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
        self.output = CappedOutput(self.limits.output)
        self.spent = 0.0
        self.calls = 0
        self._in_call = False
        self._use_signal = False
        self._armed: list = []  # frames set to stop after a collection (limits.stop_after_collection)
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
            signal.setitimer(signal.ITIMER_REAL, TICK, TICK)
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
        if self._in_call and over_limit(self._call_cpu, self._call_started, self.limits):
            if collecting():  # raised in its callback or a finalizer it would be lost: stop right after it
                self._armed = stop_after_collection(frame)
                return
            raise CallTimeout

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

        self._may_call(fn, where, state, ev)
        snapshot = _tcb_fields(tcb)
        self.output.count = 0  # the output limit is per call: a chatty but correct handler passes
        started = time.perf_counter()
        self.calls += 1
        try:
            step = self._run(fn, tcb, ev, profile)
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # noqa: BLE001 - anything a learner raises is feedback
            raise self._failure(e, fn, where(), state, ev) from None
        finally:
            self.spent += time.perf_counter() - started
        if _tcb_fields(tcb) != snapshot:
            raise self._error(
                f"{where()} changed the TCB it was given; the TCB is frozen: return a new TCB "
                "in Step(tcb=...), e.g. tcb.replace(snd_nxt=...)",
                "frozen",
                state,
                ev,
            )
        problem = step_problem(step)
        if problem:
            raise self._error(f"{where()} {problem}", "return", state, ev)
        return step

    def _may_call(self, fn: Handler, where: Callable[[], str], state: State, ev: Stimulus) -> None:
        """Refuse a call once the check's budget is spent, or to a handler that already hung in it."""
        if self.spent > self.limits.per_check:
            raise self._error(
                f"{where()} was not called: your handlers already took {self.spent:.1f} s "
                f"in this check (limit {self.limits.per_check:g} s); make them faster",
                "slow",
                state,
                ev,
            )
        broken = self._broken.get(id(fn))
        if broken is not None:  # it already hung once in this check: do not wait for it again
            raise self._error(broken.sentence, broken.kind, state, ev)

    def _failure(self, e: BaseException, fn: Handler, where: str, state: State, ev: Stimulus) -> LearnerError:
        """The sentence for a call that was stopped or raised; a handler that hung is remembered as broken."""
        if isinstance(e, CallTimeout):
            waited = time.monotonic() - self._call_started >= self.limits.wall()
            err = self._error(f"{where} ran longer than {self.limits.wall() if waited else self.limits.per_call:g} s "
                              f"and was stopped ({'is it waiting for something?' if waited else 'an endless loop?'})",
                              "timeout", state, ev)  # fmt: skip
            self._broken[id(fn)] = err
            return err
        if isinstance(e, OutputFlood):
            sentence = (f"{where} printed more than {self.limits.output} characters and was stopped; "
                        "remove the print calls in a loop")  # fmt: skip
            return self._error(sentence, "output", state, ev)
        if isinstance(e, ReferenceCalled):
            sentence = (f"{where} called the reference solution's handler; write the state's "
                        "logic yourself (the building blocks in autograder.learner are allowed)")  # fmt: skip
            return self._error(sentence, "integrity", state, ev)
        if isinstance(e, LearnerError):  # a handler run elsewhere, telling what went wrong there
            return self._error(f"{where} {e.sentence}", e.kind, state, ev)
        if isinstance(e, dataclasses.FrozenInstanceError):
            sentence = (f"{where} tried to change a frozen value ({e}); the TCB it is given "
                        "cannot change: return a new TCB in Step(tcb=...), e.g. tcb.replace(snd_nxt=...)")  # fmt: skip
            return self._error(sentence, "frozen", state, ev)
        return self._error(f"{where} raised {_exception_text(e)}{_where_in_learner_code(e)}", "exception", state, ev)

    def _run(self, fn: Handler, tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
        saved = sys.stdout, sys.stderr, sys.gettrace()
        sys.stdout = sys.stderr = self.output
        self._call_started, self._call_cpu = time.monotonic(), charged_cpu()
        self._in_call = True
        try:
            if not self._use_signal:
                sys.settrace(line_limit(self._call_cpu, self._call_started, self.limits))
            with reference_trapped(self.watch_reference):
                return fn(tcb, ev, profile)
        finally:
            if not self._use_signal or self._armed:
                sys.settrace(saved[2])
            disarm(self._armed)
            self._armed = []
            self._in_call = False
            sys.stdout, sys.stderr = saved[0], saved[1]

    @staticmethod
    def _error(sentence: str, kind: str, state: State, ev: Stimulus) -> LearnerError:
        err = LearnerError(sentence, kind)
        err.state, err.stimulus = state, ev
        return err


_tcb_fields = operator.attrgetter(*TCB.__slots__)  # a snapshot of a TCB, to see whether a handler changed it


def _exception_text(e: BaseException) -> str:
    text = str(e)
    if isinstance(e, KeyError) and e.args:
        text = repr(e.args[0])
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _where_in_learner_code(e: BaseException) -> str:
    """ " (line 7 of fin_wait_1)": the last frame of the learner's own code, if any."""
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        path = Path(frame.filename)
        if any(d in path.parents for d in _OWN_DIRS) or _STDLIB in path.parents:
            continue
        return f" (line {frame.lineno} of {frame.name})"
    return ""
