"""A handler call and its answer as plain data: the step, the profile, the question."""

from __future__ import annotations

import dataclasses

from reference_impl.profiles import Profile
from reference_impl.states import State, Step, Stimulus
from reference_impl.tcb import TCB

from .events import decode_output, decode_stimulus, encode_output, encode_stimulus
from .records import decode_tcb, encode_tcb
from .wire import LIMITS, Limits, PlainError, boolean, member, record, show, text, whole

_STEP_KEYS = frozenset(("state", "outputs", "tcb"))


def encode_step(step: object, limits: Limits = LIMITS) -> dict:
    """What a handler returned, as primitives; PlainError says what is wrong with it."""
    if step is None:
        raise PlainError("returned None: did you forget `return Step(next_state, outputs, tcb)`?")
    if type(step) is tuple:
        raise PlainError("returned a tuple; wrap it: return Step(next_state, outputs, tcb)")
    if type(step) is not Step:
        raise PlainError(f"returned a {type(step).__name__}, not a Step: return Step(next_state, outputs, tcb)")
    state = step.state
    if type(state) is not State:
        if type(state) is str:
            raise PlainError(f"returned the next state as the string {state!r}; use State.{state.upper()[:40]}")
        raise PlainError(f"returned {show(state)} as the next state, which is not a State (e.g. State.FIN_WAIT_2)")
    outputs = step.outputs
    if type(outputs) not in (tuple, list):
        raise PlainError(f"returned outputs of type {type(outputs).__name__}; use a list or tuple of outputs")
    encoded = _each_output(outputs, limits, encode_output)
    tcb = None if step.tcb is None else encode_tcb(step.tcb, limits)
    return {"state": state.name, "outputs": encoded, "tcb": tcb}


def _each_output(outputs, limits: Limits, convert) -> list:
    """Each output converted, within the limit on their number; an error names the output by position."""
    if len(outputs) > limits.outputs:
        raise PlainError(f"returned {len(outputs)} outputs (limit {limits.outputs})")
    converted = []
    for i, out in enumerate(outputs, 1):
        try:
            converted.append(convert(out, limits))
        except PlainError as e:
            raise PlainError(f"returned output #{i} {e.sentence.removeprefix('returned ')}") from None
    return converted


def decode_step(d: object, limits: Limits = LIMITS) -> Step:
    """A Step built from checked primitives; PlainError says what the handler returned wrong."""
    d = record(d, "a step", _STEP_KEYS)
    state = member(d["state"], State, "the next state", "a State (e.g. State.FIN_WAIT_2)")
    outputs = d["outputs"]
    if type(outputs) is not list:
        raise PlainError("returned outputs that are not a list or tuple of outputs")
    decoded = _each_output(outputs, limits, decode_output)
    tcb = None if d["tcb"] is None else decode_tcb(d["tcb"], limits)
    return Step(state, tuple(decoded), tcb)


# ---- profiles (grader to learner) ------------------------------------------------------------

_PROFILE_KINDS: dict[str, str] = {f.name: str(f.type).replace(" ", "") for f in dataclasses.fields(Profile)}
if not set(_PROFILE_KINDS.values()) <= {"str", "int", "bool", "int|None"}:
    raise ImportError(f"autograder.plain: a Profile field of a new type: {_PROFILE_KINDS}")


def encode_profile(profile: Profile, limits: Limits = LIMITS) -> dict:
    if type(profile) is not Profile:
        raise PlainError(f"returned a profile of type {type(profile).__name__}, not a Profile")
    key = (profile, limits)
    known = _ENCODED.get(key)
    if known is None:  # a handful of profiles, asked for thousands of times
        known = _ENCODED[key] = _profile_values({name: getattr(profile, name) for name in _PROFILE_KINDS}, limits)
    return dict(known)


def decode_profile(d: object, limits: Limits = LIMITS) -> Profile:
    try:
        key = (tuple((k, type(v), v) for k, v in d.items()), limits) if type(d) is dict else None  # 0 is not False
        known = _DECODED.get(key) if key is not None else None
    except TypeError:  # an unhashable value: not a profile, as decoding will say
        key = known = None
    if known is None:
        known = Profile(**_profile_values(record(d, "a profile", frozenset(_PROFILE_KINDS)), limits))
        if key is not None and len(_DECODED) < 64:
            _DECODED[key] = known
    return known


_ENCODED: dict[tuple, dict] = {}
_DECODED: dict[tuple, Profile] = {}


def _profile_values(d: dict, limits: Limits) -> dict:
    out: dict[str, object] = {}
    for name, kind in _PROFILE_KINDS.items():
        v, what = d[name], f"a profile whose {name}"
        if kind == "str":
            out[name] = text(v, what, limits)
        elif kind == "bool":
            out[name] = boolean(v, what)
        elif kind == "int|None" and v is None:
            out[name] = None
        else:
            out[name] = whole(v, what, 0, limits.duration)
    return out


# ---- one handler call ------------------------------------------------------------------------

_CALL_KEYS = frozenset(("state", "tcb", "stimulus", "profile"))


def encode_call(state: State, tcb: TCB, stimulus: Stimulus, profile: Profile, limits: Limits = LIMITS) -> dict:
    """The question the grader asks: handler for `state`, called with (tcb, stimulus, profile)."""
    if type(state) is not State:
        raise PlainError(f"returned {show(state)} as a state, which is not a State")
    return {"state": state.name, "tcb": encode_tcb(tcb, limits), "stimulus": encode_stimulus(stimulus, limits),
            "profile": encode_profile(profile, limits)}  # fmt: skip


def decode_call(d: object, limits: Limits = LIMITS) -> tuple[State, TCB, Stimulus, Profile]:
    d = record(d, "a handler call", _CALL_KEYS)
    state = member(d["state"], State, "the state", "a State")
    return (
        state,
        decode_tcb(d["tcb"], limits),
        decode_stimulus(d["stimulus"], limits),
        decode_profile(d["profile"], limits),
    )
