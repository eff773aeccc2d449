"""Finding the learner's handlers in whatever shape a notebook holds them (functions named after
states, a dict, a class, the namespace), and filling the other states with the reference."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field

from reference_impl.states import State

from ..reference_source import reference_machine
from .errors import HANDLER_NAMES, Handler, LearnerError
from .guard import Guard
from .limits import Limits

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
            hint = (
                f"`{key}` is a {type(value).__name__}, not a function; "
                f"define it as def {state.value.lower()}(tcb, ev, profile):"
            )
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


def misnamed(items: list[tuple[object, object]], state: State) -> str | None:
    """The learner's function whose name nearly is `state`'s handler's (fin_wiat_2), if any: a near
    miss is a name that is no handler's already (not the fin_wait_1 next to it)."""
    names = [k for k, v in items if isinstance(k, str) and callable(v) and not k.startswith("_")
             and k not in HANDLER_NAMES]  # fmt: skip
    target = state.value.lower()
    squash = {n.lower().replace("_", ""): n for n in names}
    return squash.get(target.replace("_", "")) or next(iter(difflib.get_close_matches(target, names, 1, 0.8)), None)


def _naming_hint(items: list[tuple[object, object]], state: State | None) -> str:
    wanted = [state] if state else list(State)
    for s in wanted:
        target = s.value.lower()
        near = misnamed(items, s)
        if near:
            return f"{target}(tcb, ev, profile), which is not defined; you defined `{near}`: rename it to `{target}`"
    if state is not None:
        return (
            f"{state.value.lower()}(tcb, ev, profile), which is not defined: define a function with that name "
            "that returns a Step"
        )
    return (
        "define a function named after the state it handles, e.g. def fin_wait_1(tcb, ev, profile): ... "
        "return Step(...)"
    )


def compose(learner: Mapping[State, Handler], guard: Guard) -> dict[State, Handler]:
    """One machine table: the learner's guarded handlers where given, the reference's elsewhere."""
    table: dict[State, Handler] = dict(reference_machine())
    for state, fn in learner.items():
        table[state] = guard.wrap(state, fn)
    return table
