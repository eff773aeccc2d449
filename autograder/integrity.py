"""Is a submission the learner's own work, or a thin wrapper around the reference's handlers?

The per-state handlers of `reference_impl.handlers` are the answers; everything in
`autograder.learner` (segments, the TCB, `screen`, the building blocks of
`reference_impl.actions`) is vocabulary a learner is meant to use. This module looks
at the submission before it runs: the handler objects themselves, their code (names,
attribute chains, imports and strings, nested functions included), their closures and
default arguments, the helpers they call, and the notebook namespace. The harness
completes the picture at run time by noticing a reference handler being entered
during a learner call (`Guard`, kind "integrity").
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from types import CodeType, FunctionType, MethodType, ModuleType

import reference_impl
from reference_impl import handlers as reference
from reference_impl.states import State

_FORBIDDEN: dict[int, str] = {
    id(reference): "the module reference_impl.handlers",
    id(reference.HANDLERS): "the reference's HANDLERS table",
    id(reference.handle): "the reference's handle()",
    **{id(fn): f"the reference's {state.value.lower()} handler" for state, fn in reference.HANDLERS.items()},
}
_ANSWER_NAMES = {"HANDLERS", "handle", "handlers", *(s.value.lower() for s in State)}
ZERO = "it scores zero: write each state's logic yourself (everything in autograder.learner is allowed)"


def inspect_submission(source: object, found: Mapping[State, Callable]) -> str | None:
    """Why the submission delegates to the reference (one sentence), or None when it does not."""
    if isinstance(source, Mapping):
        for name, value in source.items():
            what = _FORBIDDEN.get(id(value))
            if what and not str(name).startswith("_"):
                return f"your notebook holds {what} as `{name}`; {ZERO}"
    for state, fn in found.items():
        problem = function_problem(fn, set())
        if problem:
            return f"your {state.value.lower()} {problem}; {ZERO}"
    return None


def function_problem(fn: object, seen: set[int]) -> str | None:
    """How `fn` reaches a reference handler, as the end of a sentence, or None."""
    if id(fn) in seen:
        return None
    seen.add(id(fn))
    what = _FORBIDDEN.get(id(fn))
    if what:
        return f"is {what}"
    fn = _unwrap(fn)
    what = _FORBIDDEN.get(id(fn))
    if what:
        return f"is {what}"
    if not isinstance(fn, FunctionType) or _ours(fn):
        return None
    for code in _codes(fn.__code__):
        problem = _code_problem(code, fn, seen)
        if problem:
            return problem
    for value in [*(c.cell_contents for c in fn.__closure__ or () if _has_content(c)),
                  *(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values()]:
        what = _FORBIDDEN.get(id(value))
        if what:
            return f"keeps {what} (in a closure or default argument)"
        if callable(value) and (problem := function_problem(value, seen)):
            return problem
    return None


def _code_problem(code: CodeType, fn: FunctionType, seen: set[int]) -> str | None:
    names = set(code.co_names)
    strings = {c for c in code.co_consts if isinstance(c, str)}
    for text in names | strings:
        if "reference_impl.handlers" in text:
            return "imports reference_impl.handlers"
    imports_reference = any(n == "reference_impl" or n.startswith("reference_impl.") for n in names)
    if imports_reference and names & _ANSWER_NAMES:
        return f"imports {', '.join(sorted(names & _ANSWER_NAMES))} from reference_impl"
    builtins = fn.__globals__.get("__builtins__", {})
    for name in names:
        if name not in fn.__globals__:
            continue
        value = fn.__globals__[name]
        what = _FORBIDDEN.get(id(value))
        if what:
            return f"uses {what} (as `{name}`)"
        if isinstance(value, ModuleType) and value.__name__.split(".")[0] == "reference_impl":
            for attr in names & _ANSWER_NAMES:
                if attr == "handlers" or _FORBIDDEN.get(id(getattr(value, attr, None))):
                    return f"reaches the reference's handlers through `{name}.{attr}`"
        if callable(value) and value is not builtins and (problem := function_problem(value, seen)):
            return f"calls `{name}`, which {problem}"
    return None


def _unwrap(fn: object) -> object:
    for _ in range(10):
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif isinstance(fn, MethodType):
            fn = fn.__func__
        elif isinstance(fn, staticmethod | classmethod):
            fn = fn.__func__
        elif hasattr(fn, "__wrapped__"):
            fn = fn.__wrapped__
        elif not inspect.isroutine(fn) and not inspect.isclass(fn) and callable(fn):
            fn = type(fn).__call__
        else:
            break
    return fn


def _ours(fn: FunctionType) -> bool:
    """Functions of the course's own packages (the vocabulary) are not the learner's code."""
    path = Path(fn.__code__.co_filename)
    return any(d in path.parents for d in _OWN_DIRS)


_OWN_DIRS = (Path(reference_impl.__file__).parent, Path(__file__).parent)


def _codes(code: CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _codes(const)


def _has_content(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True
