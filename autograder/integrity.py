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

import dis
import functools
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from types import CodeType, FunctionType, MethodType, ModuleType

import reference_impl
from reference_impl.states import State

HANDLERS_MODULE = "reference_impl.handlers"
ZERO = "it scores zero: write each state's logic yourself (everything in autograder.learner is allowed)"


@functools.cache
def _forbidden() -> dict[int, str]:
    """id → what it is, for every object that *is* the answer key: the handlers module, its table,
    handle() and each state's handler. Empty where the handlers are not installed (a learner build,
    the grading sandbox): there is nothing to delegate to, so nothing to detect."""
    try:
        from reference_impl import handlers as reference
    except ImportError:
        return {}
    return {
        id(reference): f"the module {HANDLERS_MODULE}",
        id(reference.HANDLERS): "the reference's HANDLERS table",
        id(reference.handle): "the reference's handle()",
        **{id(fn): f"the reference's {state.value.lower()} handler" for state, fn in reference.HANDLERS.items()},
    }


@functools.cache
def _answer_key() -> tuple[tuple, dict[int, str]]:
    """The reference's handlers and handle() (which the harness traps during learner calls), and
    the id of each one's code object → what it is (a copy of a function keeps its code). Taken
    once, before any trap swaps the code. Empty where the handlers are not installed."""
    try:
        from reference_impl import handlers as reference
    except ImportError:
        return (), {}
    functions = (*reference.HANDLERS.values(), reference.handle)
    codes = {id(reference.handle.__code__): "the reference's handle()"}
    codes |= {
        id(fn.__code__): f"the reference's {state.value.lower()} handler" for state, fn in reference.HANDLERS.items()
    }
    return functions, codes


def reference_functions() -> tuple:
    return _answer_key()[0]


# Names that, read from the top-level package reference_impl, lead to the answer key.
_KEY_ATTRIBUTES = {"handlers", "HANDLERS", "handle"}


def inspect_submission(source: object, found: Mapping[State, Callable]) -> str | None:
    """Why the submission delegates to the reference (one sentence), or None when it does not
    (always None where the reference's handlers are not installed: nothing to delegate to)."""
    if not reference_functions():
        return None
    if isinstance(source, Mapping):
        for name, value in source.items():
            what = _forbidden().get(id(value))
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
    what = _forbidden().get(id(fn))
    if what:
        return f"is {what}"
    fn = _unwrap(fn)
    what = _forbidden().get(id(fn))
    if what:
        return f"is {what}"
    if isinstance(fn, FunctionType) and (what := _answer_key()[1].get(id(fn.__code__))):
        return f"is a copy of {what}"
    if not isinstance(fn, FunctionType) or _ours(fn):
        return None
    for code in _codes(fn.__code__):
        problem = _code_problem(code, fn, seen)
        if problem:
            return problem
    for value in [
        *(c.cell_contents for c in fn.__closure__ or () if _has_content(c)),
        *(fn.__defaults__ or ()),
        *(fn.__kwdefaults__ or {}).values(),
    ]:
        what = _forbidden().get(id(value))
        if what:
            return f"keeps {what} (in a closure or default argument)"
        if callable(value) and (problem := function_problem(value, seen)):
            return problem
    return None


def _code_problem(code: CodeType, fn: FunctionType, seen: set[int]) -> str | None:
    """Only reaching the handlers counts: importing the vocabulary (`from reference_impl.segment
    import seq_lt`) or reading a profile field named like a state (`profile.time_wait`) does not."""
    names = set(code.co_names)
    for module in _imported_modules(code):
        if module == HANDLERS_MODULE or module.startswith(HANDLERS_MODULE + "."):
            return f"imports {HANDLERS_MODULE}"
    for text in (c for c in code.co_consts if isinstance(c, str)):
        if HANDLERS_MODULE in text:
            return f"imports {HANDLERS_MODULE}"
    if "reference_impl" in _imported_modules(code) and names & _KEY_ATTRIBUTES:
        return f"reaches the reference's handlers through reference_impl.{sorted(names & _KEY_ATTRIBUTES)[0]}"
    builtins = fn.__globals__.get("__builtins__", {})
    for name in names:
        if name not in fn.__globals__:
            continue
        value = fn.__globals__[name]
        what = _forbidden().get(id(value))
        if what:
            return f"uses {what} (as `{name}`)"
        if isinstance(value, ModuleType) and value.__name__.split(".")[0] == "reference_impl":
            for attr in sorted(names & {*_KEY_ATTRIBUTES, *(s.value.lower() for s in State)}):
                if attr == "handlers" or _forbidden().get(id(getattr(value, attr, None))):
                    return f"reaches the reference's handlers through `{name}.{attr}`"
        if callable(value) and value is not builtins and (problem := function_problem(value, seen)):
            return f"calls `{name}`, which {problem}"
    return None


@functools.lru_cache(maxsize=4096)
def _imported_modules(code: CodeType) -> frozenset[str]:
    """Every module an import statement in `code` names: `import a.b` → a.b; `from a import b` →
    a and a.b (b may be a module)."""
    found: set[str] = set()
    last = ""
    for ins in dis.get_instructions(code):
        if ins.opname == "IMPORT_NAME":
            last = ins.argval
            found.add(last)
        elif ins.opname == "IMPORT_FROM" and last:
            found.add(f"{last}.{ins.argval}")
    return frozenset(found)


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
