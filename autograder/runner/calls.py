"""One handler call in the sandbox: find the learner's handler, call it under limits, answer in plain data.

The grader's question arrives as plain data (autograder.plain); real objects are built here,
the learner's handler is called with them, and what it returns goes back as plain data, or as
one sentence saying what went wrong, worded as the in-process checks word it (the end of
"in STATE, on EVENT, your handler ..."). The grader trusts none of it: it decodes strictly and
enforces its own deadline, so this side only has to be helpful, not safe.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path

import autograder
import reference_impl
from autograder import plain
from reference_impl.states import State

HANDLER_NAMES: dict[str, State] = {s.value.lower(): s for s in State} | {s.value: s for s in State}
_OWN_DIRS = (Path(reference_impl.__file__).parent, Path(autograder.__file__).parent)
_STDLIB = Path(dataclasses.__file__).parent


def is_stub(fn: object) -> bool:
    """A handler still as released: its body does nothing but raise NotImplementedError."""
    code = getattr(fn, "__code__", None)
    return code is not None and tuple(getattr(code, "co_names", ())) == ("NotImplementedError",)


def handlers_in(ns: Mapping[str, object]) -> dict[State, tuple[str, bool]]:
    """The handlers a notebook namespace defines: state -> (the name it is bound to, still a stub?).

    As the in-process checks read globals(): a callable named after a state (fin_wait_1 or
    FIN_WAIT_1); the last binding wins; anything not callable is an alias, not an answer."""
    found: dict[State, tuple[str, bool]] = {}
    for key, value in list(ns.items()):
        state = HANDLER_NAMES.get(key) if type(key) is str else None
        if state is not None and callable(value):
            found[state] = (key, is_stub(value))
    return found


class _Stop(BaseException):
    """Raised into learner code to stop it; BaseException so `except Exception` cannot keep it."""


class _CallTimeout(_Stop):
    pass


class _OutputFlood(_Stop):
    pass


class _Capped:
    """stdout/stderr during a call: a little is fine, a flood stops the call."""

    def __init__(self, limit: int) -> None:
        self.limit, self.count = limit, 0

    def write(self, text: str) -> int:
        self.count += len(str(text))
        if self.count > self.limit:
            raise _OutputFlood
        return len(str(text))

    def flush(self) -> None:
        pass


def call(ns: Mapping[str, object], names: Mapping[State, tuple[str, bool]], question: object,
         per_call: float, output: int) -> dict:  # fmt: skip
    """Answer one call: {"step": plain step} or {"refused": kind, "sentence": "..."}."""
    try:
        state, tcb, ev, profile = plain.decode_call(question)
    except plain.PlainError as e:
        return {"refused": "protocol", "sentence": f"could not be asked ({e.sentence})"}
    name = names.get(state, (None, False))[0]
    fn = ns.get(name) if name else None
    if not callable(fn):
        return {"refused": "missing", "sentence": "is not defined any more at this point of the notebook"}
    snapshot = tcb.replace()
    try:
        step = _guarded(fn, tcb, ev, profile, per_call, output)
    except _CallTimeout:
        return {"refused": "timeout", "sentence": f"ran longer than {per_call:g} s and was stopped (an endless loop?)"}
    except _OutputFlood:
        return {"refused": "output", "sentence": f"printed more than {output} characters and was stopped; "
                                                  "remove the print calls in a loop"}  # fmt: skip
    except dataclasses.FrozenInstanceError as e:
        return {"refused": "frozen", "sentence": f"tried to change a frozen value ({_short(e)}); the TCB it is given "
                "cannot change: return a new TCB in Step(tcb=...), e.g. tcb.replace(snd_nxt=...)"}  # fmt: skip
    except BaseException as e:  # noqa: BLE001 - anything a learner raises is feedback
        return {"refused": "exception", "sentence": f"raised {exception_text(e)}{where_in_learner_code(e)}"}
    if tcb != snapshot:
        return {"refused": "frozen", "sentence": "changed the TCB it was given; the TCB is frozen: return a new TCB "
                                                 "in Step(tcb=...), e.g. tcb.replace(snd_nxt=...)"}  # fmt: skip
    try:
        return {"step": plain.encode_step(step)}
    except plain.PlainError as e:
        return {"refused": "return", "sentence": e.sentence, "seen": lookalikes(step)}
    except BaseException as e:  # noqa: BLE001 - a returned object whose attributes raise
        return {"refused": "return", "sentence": f"returned a value that could not be read ({exception_text(e)})",
                "seen": lookalikes(step)}  # fmt: skip


_PLAIN = (int, str, bytes, bool, float, type(None), tuple, list, dict)


def lookalikes(value: object, depth: int = 0, found: set[str] | None = None) -> list[str]:
    """Classes of the learner's own among what a handler returned where plain values belong
    (a str or int subclass, an object whose __eq__ says yes): worth telling the instructor."""
    found = set() if found is None else found
    kind = type(value)
    module = getattr(kind, "__module__", "") or ""
    ours = module.startswith(("reference_impl", "autograder"))
    if kind not in _PLAIN and not ours and not isinstance(value, State):
        found.add(f"{getattr(kind, '__qualname__', '?')} (a subclass of {kind.__mro__[1].__name__})"
                  if len(kind.__mro__) > 2 else getattr(kind, "__qualname__", "?"))  # fmt: skip
    if depth < 3:
        items = list(value) if kind in (tuple, list) else []
        if ours and hasattr(kind, "__slots__"):
            items = [getattr(value, n, None) for n in kind.__slots__]
        for item in items[:70]:
            lookalikes(item, depth + 1, found)
    return sorted(found)[:5]


def _guarded(fn: Callable, tcb, ev, profile, per_call: float, output: int):
    return _guarded_any(lambda: fn(tcb, ev, profile), per_call, output)


def _guarded_any(thunk: Callable[[], object], per_call: float, output: int):
    """thunk() with stdout and stderr capped and a wall-clock limit (SIGALRM)."""
    saved = sys.stdout, sys.stderr
    capped = _Capped(output)

    def expired(signum, frame):
        raise _CallTimeout

    sys.stdout = sys.stderr = capped
    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, per_call)
    try:
        return thunk()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = saved


def _short(e: BaseException) -> str:
    try:
        text = str(e)
    except Exception:  # noqa: BLE001
        text = ""
    return text if len(text) <= 160 else text[:157] + "..."


def exception_text(e: BaseException) -> str:
    text = _short(e)
    if isinstance(e, KeyError) and e.args:
        text = _short(KeyError(repr(e.args[0])))
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def where_in_learner_code(e: BaseException) -> str:
    """ " (line 7 of fin_wait_1)": the last frame of the learner's own code, if any."""
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        path = Path(frame.filename)
        if any(d in path.parents for d in _OWN_DIRS) or _STDLIB in path.parents or "site-packages" in path.parts:
            continue
        return f" (line {frame.lineno} of {frame.name})"
    return ""
