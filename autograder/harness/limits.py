"""What stops a learner call: the per-call CPU and wall limits (a SIGALRM tick, or a line tracer off
the main thread), a flood of prints, and a call into the reference's handlers (their code swapped
for a trap while learner code runs). Each raises a Stop, which Guard turns into a sentence."""

from __future__ import annotations

import gc
import io
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..integrity import reference_functions as _reference_functions


@dataclass(frozen=True)
class Limits:
    """How much a learner's code may take. Generous for correct code, firm for runaway code."""

    # CPU seconds for one handler call: an endless loop spends CPU, a busy machine does not make a
    # correct handler look like one, nor does a collection of the heap (charged_cpu). A call that
    # waits (sleeps, blocks) is stopped after per_call_wall.
    per_call: float = 1.0
    per_check: float = 20.0  # wall seconds for all learner calls of one check
    output: int = 20_000  # characters one handler call may print
    per_call_wall: float = 10.0  # wall seconds for one handler call (at least per_call)

    def wall(self) -> float:
        return max(self.per_call_wall, self.per_call)


class Stop(BaseException):
    """Raised into learner code to stop it; BaseException so `except Exception` cannot swallow it."""


class CallTimeout(Stop):
    pass


class OutputFlood(Stop):
    pass


class ReferenceCalled(Stop):
    pass


class CappedOutput(io.TextIOBase):
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
            raise OutputFlood
        if self.kept.tell() < self.kept_limit:
            self.kept.write(text[: self.kept_limit - self.kept.tell()])
        return len(text)


TICK = 0.05  # seconds between the session's timer ticks


def _trap(*args, **kwargs):
    """Stands in for the body of every reference handler while a learner call runs: entering one is
    delegation. (Looked up by name: this code runs with the reference module's globals.)"""
    raise __import__("autograder.harness.limits", fromlist=["ReferenceCalled"]).ReferenceCalled


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
reference_trapped = _Trapped


_COLLECTOR = threading.local()  # per thread: seconds of garbage collection so far, and the running one's start


def _count_collection(phase: str, info: dict) -> None:
    now = time.thread_time()
    if phase == "start":
        _COLLECTOR.started = now
    else:  # counted before `started` is cleared: a tick in between undercharges, never overcharges
        _COLLECTOR.spent = getattr(_COLLECTOR, "spent", 0.0) + now - (getattr(_COLLECTOR, "started", None) or now)
        _COLLECTOR.started = None


gc.callbacks.append(_count_collection)
_COLLECTOR_CODE = _count_collection.__code__


def _collecting() -> float | None:
    return getattr(_COLLECTOR, "started", None)  # the running collection's start, or None


def charged_cpu() -> float:
    """This thread's CPU seconds less its garbage collections: a collection of the whole heap runs in
    whichever call happens to allocate when it falls due, and in a kernel or a test process holding
    much it can take a second, which is not the call's own work."""
    now, started = time.thread_time(), _collecting()
    return now - getattr(_COLLECTOR, "spent", 0.0) - (now - started if started is not None else 0.0)


def over_limit(cpu_started: float, wall_started: float, limits: Limits) -> bool:
    """Has the running call (in this thread) used up its CPU time (from charged_cpu()), or waited
    past its wall time?"""
    return (charged_cpu() - cpu_started > limits.per_call
            or time.monotonic() - wall_started > limits.wall())  # fmt: skip


def in_collector(frame) -> bool:
    """Is this frame the collector's callback? A stop raised there is lost (the collector reports and
    drops it), as it is in a finalizer the collection runs."""
    return frame is not None and frame.f_code is _COLLECTOR_CODE


def collecting() -> bool:
    """Is a collection running in this thread? A tick that falls in one runs in its callback or in a
    finalizer it calls, where a stop would be lost."""
    return _collecting() is not None


def stop_after_collection(frame) -> list:
    """Make the code a collection interrupted stop at its next instruction once the collection is over:
    a tracer on each frame of the stack, which raises CallTimeout there (`while True: gc.collect()`
    spends its time in collections, where every tick lands). Returns the frames armed, for disarm()."""

    def tracer(f, event, arg):
        if event == "call":  # a new frame (a finalizer, a callee): not traced
            return None
        if collecting() or in_collector(f):
            return tracer
        raise CallTimeout

    armed = []
    while frame is not None:
        if not in_collector(frame):
            frame.f_trace, frame.f_trace_opcodes = tracer, True
            armed.append(frame)
        frame = frame.f_back
    sys.settrace(tracer)  # a frame's f_trace runs only while a global trace function is set
    return armed


def disarm(armed: list) -> None:
    for f in armed:
        f.f_trace = None


def line_limit(cpu_started: float, wall_started: float, limits: Limits):
    """A sys.settrace tracer that stops the traced thread's learner code once it is over its limits."""

    def tracer(frame, event, arg):
        if in_collector(frame):
            return None
        frame.f_trace_opcodes = True  # `while True: pass` on one line emits no line events
        # not during a collection: raised in a finalizer it runs, the stop would be lost
        if not collecting() and over_limit(cpu_started, wall_started, limits):
            raise CallTimeout
        return tracer

    return tracer
