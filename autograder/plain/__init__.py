"""Handler calls as plain data: the one boundary between a learner's code and the grader.

Trusted grading asks the sandbox one question, `handler(tcb, stimulus, profile)`, and gets a
Step back. Both cross a pipe as JSON built from primitives only (dict, list, str, int, bool,
None), so nothing the learner defines (a subclass of int or str, an object whose `__eq__`
says yes to everything, a patched Step) can reach the trusted side: real objects are built
there, from data this module has checked.

Decoding is the security boundary and it is strict: exact types (a bool is not an int; JSON
gives no subclasses), 32-bit sequence numbers, known enum names only, bounded sizes (payload
bytes, outputs per step, string lengths, the whole message) and no NaN. Every rejection is a
`PlainError` whose `sentence` ends "your handler ..." the way `autograder.harness.step_problem`
words it, so it reads as what the learner's handler returned wrong.

Encoding on the learner's side (`encode_step`) applies the same rules to the objects a handler
returned, so a mistake is named with the learner's own values before anything is sent.

Shapes (bytes travel as lowercase hex, flags as names in the order FIN, SYN, RST, ACK, timers
and states by name; a TCB, a stimulus, an output and a profile carry every field their
dataclass has, typed by its annotation, so a field added to reference_impl crosses checked):

    tcb       {"snd_una": int, "snd_nxt": int, "rcv_nxt": int, "fin_seq": int | None,
               "unacked": hex, "orphaned": bool, ...}
    segment   {"seq": int, "ack": int, "flags": [name, ...], "payload": hex, "window": int}
    stimulus  {"kind": "AppClose", "shutdown": bool, "unread": int, ...} | {"kind": "AppSend", "data": hex}
              | {"kind": "AppAbort"} | {"kind": "Arrival", "segment": segment}
              | {"kind": "Timeout", "timer": name}
    output    {"kind": "Send", "segment": segment} | {"kind": "StartTimer", "timer": name, "duration": int}
              | {"kind": "CancelTimer", "timer": name} | {"kind": "DeliverData", "data": hex}
              | {"kind": "DeliverEOF"} | {"kind": "Error", "message": str}
    step      {"state": name, "outputs": [output, ...], "tcb": tcb | None}
    profile   {"name": str, <every Profile field>: int | bool | None}
    call      {"state": name, "tcb": tcb, "stimulus": stimulus, "profile": profile}

A segment's `incarnation` is the simulator's bookkeeping (it stamps every segment it sends), not
part of the protocol, so it does not cross.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from reference_impl.profiles import Profile
from reference_impl.segment import MOD, Flags, Segment
from reference_impl.states import (
    AppAbort,
    AppClose,
    AppSend,
    Arrival,
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
)
from reference_impl.tcb import TCB


@dataclass(frozen=True)
class Limits:
    """How big anything crossing the boundary may be. Generous for any correct handler."""

    payload: int = 65_536  # bytes of one segment's data, of DeliverData, of the TCB's unacked data
    outputs: int = 64  # outputs in one Step
    string: int = 500  # characters of an Error message or a profile name
    message: int = 1 << 20  # bytes of one encoded message
    count: int = 1 << 31  # retries, unread bytes and the like
    duration: int = 1 << 53  # virtual microseconds


LIMITS = Limits()


class PlainError(ValueError):
    """Data that may not cross; `sentence` continues "your handler ..." (e.g. "returned None: ...")."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


# ---- wire format -------------------------------------------------------------------------


def dumps(obj: object, limits: Limits = LIMITS) -> bytes:
    """Compact JSON; refuses NaN and anything over the message limit."""
    data = json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode("utf-8")
    if len(data) > limits.message:
        raise PlainError(f"returned a value too large to send ({len(data)} bytes, limit {limits.message})")
    return data


def _no_constant(name: str) -> object:
    raise PlainError(f"sent {name}, which is not a number the grader accepts")


def loads(data: bytes, limits: Limits = LIMITS) -> object:
    """Parse one message: valid UTF-8 JSON, within the size limit, no NaN or Infinity."""
    if not isinstance(data, bytes | bytearray) or len(data) > limits.message:
        raise PlainError("sent a message larger than the grader accepts")
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except PlainError:
        raise
    except (ValueError, RecursionError):
        raise PlainError("sent a message that is not valid JSON") from None


# ---- checking primitives (decode side: exact types only) ---------------------------------


def _dict(d: object, what: str, keys: frozenset[str]) -> dict:
    if type(d) is not dict:
        raise PlainError(f"returned {what} that is not a record")
    if d.keys() != keys:
        extra, missing = sorted(d.keys() - keys), sorted(keys - d.keys())
        detail = f"unknown field {extra[0]!r}" if extra else f"no field {missing[0]!r}"
        raise PlainError(f"returned {what} with {detail}")
    return d


def _int(v: object, what: str, lo: int, hi: int, tail: str = "") -> int:
    """An exact int in lo..hi-1; else "returned <what>=<v> <tail>"."""
    if type(v) is not int or not lo <= v < hi:
        raise PlainError(f"returned {what}={_show(v)} {tail or f'is not a whole number from {lo} to {hi - 1}'}")
    return v


def _seq(v: object, what: str) -> int:
    return _int(v, what, 0, MOD, "is not a 32-bit sequence number (use seq_add)")


def _bool(v: object, what: str) -> bool:
    if type(v) is not bool:
        raise PlainError(f"returned {what}={_show(v)}, which is not True or False")
    return v


def _str(v: object, what: str, limits: Limits) -> str:
    if type(v) is not str:
        raise PlainError(f"returned {what} that is not a string")
    if len(v) > limits.string:
        raise PlainError(f"returned {what} of {len(v)} characters (limit {limits.string})")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise PlainError(f"returned {what} that is not valid text") from None
    return v


def _bytes(v: object, what: str, limits: Limits) -> bytes:
    if type(v) is not str or len(v) > 2 * limits.payload:
        raise PlainError(f"returned {what} that is not bytes of at most {limits.payload}")
    try:
        if v != v.lower():
            raise ValueError
        return bytes.fromhex(v)
    except ValueError:
        raise PlainError(f"returned {what} that is not bytes") from None


def _enum(v: object, enum: type, what: str, hint: str) -> Any:
    if type(v) is not str or v not in enum.__members__:
        raise PlainError(f"returned {what} {_show(v)}, which is not {hint}")
    return enum.__members__[v]


def _show(v: object) -> str:
    text = repr(v) if type(v) in (int, bool, str, type(None), float) else type(v).__name__
    return text if len(text) <= 40 else text[:37] + "..."


# ---- TCB --------------------------------------------------------------------------------

# Every field of the TCB crosses, typed by its annotation: sequence numbers are 32-bit, other
# whole numbers bounded, flags exact bools, data bytes; a field of any other type stops the import.
_TCB_SEQ = frozenset(("snd_una", "snd_nxt", "rcv_nxt", "fin_seq"))
_TCB_KINDS: dict[str, str] = {f.name: str(f.type).replace(" ", "") for f in dataclasses.fields(TCB)}
if not set(_TCB_KINDS.values()) <= {"int", "bool", "bytes", "int|None"}:
    raise ImportError(f"autograder.plain: a TCB field of a new type: {_TCB_KINDS}")
_TCB_KEYS = frozenset(_TCB_KINDS)


_TCB_FIELDS = tuple((name, kind, name in _TCB_SEQ) for name, kind in _TCB_KINDS.items())


def _tcb_values(get, limits: Limits, data) -> dict[str, object]:
    """Every field checked (this runs for every handler call: no work unless a field is wrong)."""
    values: dict[str, object] = {}
    for name, kind, seq in _TCB_FIELDS:
        v = get(name)
        if kind == "bool":
            if type(v) is not bool:
                _bool(v, f"a TCB whose {name}")
        elif kind == "bytes":
            v = data(v, f"a TCB whose {name} data", limits)
        elif v is None and kind == "int|None":
            pass
        elif type(v) is not int or not 0 <= v < (MOD if seq else limits.duration):
            _seq(v, f"a TCB whose {name}") if seq else _int(v, f"a TCB whose {name}", 0, limits.duration)
        values[name] = v
    return values


def encode_tcb(tcb: TCB, limits: Limits = LIMITS) -> dict:
    """A TCB as primitives; raises PlainError naming the field a handler got wrong."""
    if type(tcb) is not TCB:
        raise PlainError(f"returned tcb={type(tcb).__name__}, not a TCB (use tcb.replace(...), or leave it out)")
    return _tcb_values(tcb.__getattribute__, limits, _hex)


def decode_tcb(d: object, limits: Limits = LIMITS) -> TCB:
    d = _dict(d, "a TCB", _TCB_KEYS)
    return TCB(**_tcb_values(d.__getitem__, limits, _bytes))


def _hex(v: object, what: str, limits: Limits) -> str:
    if type(v) is not bytes:
        raise PlainError(f"returned {what} that is not bytes")
    if len(v) > limits.payload:
        raise PlainError(f"returned {what} of {len(v)} bytes (limit {limits.payload})")
    return v.hex()


# ---- segments -------------------------------------------------------------------------------

_FLAG_ORDER = (("FIN", Flags.FIN), ("SYN", Flags.SYN), ("RST", Flags.RST), ("ACK", Flags.ACK))
_FLAG_BITS = dict(_FLAG_ORDER)
_SEG_KEYS = frozenset(("seq", "ack", "flags", "payload", "window"))


def encode_segment(seg: Segment, limits: Limits = LIMITS, what: str = "a segment") -> dict:
    if type(seg) is not Segment:
        raise PlainError(f"returned Send({_show(seg)}): Send takes a Segment")
    flags = seg.flags
    if type(flags) is not Flags or int(flags) & ~0x17:
        raise PlainError(f"returned {what} with impossible flags {flags!r} (use FIN, SYN, RST, ACK)")
    return {
        "seq": _seq(seg.seq, f"{what} whose seq"),
        "ack": _seq(seg.ack, f"{what} whose ack"),
        "flags": [name for name, bit in _FLAG_ORDER if int(flags) & bit],
        "payload": _hex(seg.payload, f"{what} whose payload", limits),
        "window": _window(seg.window, what),
    }


def _window(v: object, what: str) -> int:
    if type(v) is not int or not 0 <= v <= 0xFFFF:
        raise PlainError(f"returned {what} with window {_show(v)}, outside 0..65535")
    return v


def decode_segment(d: object, limits: Limits = LIMITS, what: str = "a segment") -> Segment:
    d = _dict(d, what, _SEG_KEYS)
    names = d["flags"]
    if type(names) is not list or len(names) > 4 or len(set(map(str, names))) != len(names):
        raise PlainError(f"returned {what} with impossible flags (use FIN, SYN, RST, ACK)")
    flags = Flags.NONE
    for name in names:
        if type(name) is not str or name not in _FLAG_BITS:
            raise PlainError(f"returned {what} with impossible flag {_show(name)} (use FIN, SYN, RST, ACK)")
        flags |= _FLAG_BITS[name]
    return Segment(
        seq=_seq(d["seq"], f"{what} whose seq"),
        ack=_seq(d["ack"], f"{what} whose ack"),
        flags=flags,
        payload=_bytes(d["payload"], f"{what} whose payload", limits),
        window=_window(d["window"], what),
    )


# ---- stimuli and outputs: every field of each, typed by its annotation -----------------------

_FIELD_KINDS = {"bool", "int", "bytes", "str", "Segment", "Timer"}


def _fields(cls: type) -> tuple[tuple[str, str], ...]:
    out = tuple((f.name, str(f.type).replace(" ", "")) for f in dataclasses.fields(cls))
    if not {kind for _, kind in out} <= _FIELD_KINDS:
        raise ImportError(f"autograder.plain: a field of {cls.__name__} of a new type: {out}")
    return out


_STIMULI = {c.__name__: (c, _fields(c)) for c in (AppClose, AppSend, AppAbort, Arrival, Timeout)}
_OUTPUTS = {c.__name__: (c, _fields(c)) for c in (Send, StartTimer, CancelTimer, DeliverData, DeliverEOF, Error)}
_OUTPUT_HINT = "an output (Send, StartTimer, CancelTimer, DeliverData, DeliverEOF, Error)"
# What the in-process checks say about a wrong field (harness.output_problem); {v} is the value.
_SAYS = {
    ("Send", "segment"): "Send({v}): Send takes a Segment",
    ("StartTimer", "timer"): "StartTimer({v}, ...): the timer must be a Timer, e.g. Timer.TIME_WAIT",
    ("StartTimer", "duration"): "StartTimer with duration {v}: use whole microseconds, e.g. profile.time_wait",
    ("CancelTimer", "timer"): "CancelTimer({v}): the timer must be a Timer, e.g. Timer.RETRANSMIT",
    ("DeliverData", "data"): "DeliverData with data that is not bytes",
    ("Error", "message"): "Error with a message that is not a string",
}


def _value(kind: str, v: object, cls: str, name: str, limits: Limits, encoding: bool) -> object:
    """One field's value checked (and turned to or from its plain form); PlainError names it."""
    ok = True
    if kind == "bool":
        ok = type(v) is bool
    elif kind == "int":
        ok = type(v) is int and 0 <= v < limits.duration
    elif kind == "str":
        ok = type(v) is str
        if ok:
            return _str(v, f"{'an' if cls[0] in 'AEIOU' else 'a'} {cls} {name}", limits)
    elif kind == "Timer":
        if encoding:
            ok = type(v) is Timer
            v = v.name if ok else v
        else:
            ok = type(v) is str and v in Timer.__members__
            v = Timer.__members__[v] if ok else v
    elif kind == "bytes":
        ok = type(v) is (bytes if encoding else str)
        if ok:
            return (_hex if encoding else _bytes)(v, f"{cls} with {name}", limits)
    elif kind == "Segment":
        return (encode_segment if encoding else decode_segment)(v, limits)
    if not ok:
        says = _SAYS.get((cls, name))
        raise PlainError(says.format(v=_show(v)) if says else f"{cls} with {name}={_show(v)}, which is not a {kind}")
    return v


def _encode_fields(obj: object, fields: tuple, limits: Limits) -> dict:
    cls = type(obj).__name__
    out = {"kind": cls}
    for name, kind in fields:
        out[name] = _value(kind, getattr(obj, name), cls, name, limits, True)
    return out


def _decode_fields(d: dict, table: dict, hint: str, limits: Limits) -> object:
    kind = d.get("kind") if type(d) is dict else None
    if type(kind) is not str or kind not in table:
        raise PlainError(f"something which is not {hint}")
    cls, fields = table[kind]
    d = _dict(d, f"a {kind}", frozenset(["kind", *(n for n, _ in fields)]))
    return cls(**{name: _value(k, d[name], kind, name, limits, False) for name, k in fields})


def encode_stimulus(ev: Stimulus, limits: Limits = LIMITS) -> dict:
    entry = _STIMULI.get(type(ev).__name__)
    if entry is None or type(ev) is not entry[0]:
        raise PlainError(f"returned {_show(ev)}, which is not a stimulus")
    return _encode_fields(ev, entry[1], limits)


def decode_stimulus(d: object, limits: Limits = LIMITS) -> Stimulus:
    try:
        return _decode_fields(d, _STIMULI, "a stimulus", limits)
    except PlainError as e:
        raise PlainError("returned " + e.sentence) from None


def encode_output(out: object, limits: Limits = LIMITS) -> dict:
    """One output as primitives; the sentence matches harness.output_problem's."""
    if type(out) is Segment:
        raise PlainError(f"{out}, a bare Segment: wrap it as Send(segment)")
    entry = _OUTPUTS.get(type(out).__name__)
    if entry is None or type(out) is not entry[0]:
        raise PlainError(f"{_show(out)}, which is not {_OUTPUT_HINT}")
    return _encode_fields(out, entry[1], limits)


def decode_output(d: object, limits: Limits = LIMITS) -> object:
    return _decode_fields(d, _OUTPUTS, _OUTPUT_HINT, limits)


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
        raise PlainError(f"returned {_show(state)} as the next state, which is not a State (e.g. State.FIN_WAIT_2)")
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
    d = _dict(d, "a step", _STEP_KEYS)
    state = _enum(d["state"], State, "the next state", "a State (e.g. State.FIN_WAIT_2)")
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
        known = Profile(**_profile_values(_dict(d, "a profile", frozenset(_PROFILE_KINDS)), limits))
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
            out[name] = _str(v, what, limits)
        elif kind == "bool":
            out[name] = _bool(v, what)
        elif kind == "int|None" and v is None:
            out[name] = None
        else:
            out[name] = _int(v, what, 0, limits.duration)
    return out


# ---- one handler call ------------------------------------------------------------------------

_CALL_KEYS = frozenset(("state", "tcb", "stimulus", "profile"))


def encode_call(state: State, tcb: TCB, stimulus: Stimulus, profile: Profile, limits: Limits = LIMITS) -> dict:
    """The question the grader asks: handler for `state`, called with (tcb, stimulus, profile)."""
    if type(state) is not State:
        raise PlainError(f"returned {_show(state)} as a state, which is not a State")
    return {"state": state.name, "tcb": encode_tcb(tcb, limits), "stimulus": encode_stimulus(stimulus, limits),
            "profile": encode_profile(profile, limits)}  # fmt: skip


def decode_call(d: object, limits: Limits = LIMITS) -> tuple[State, TCB, Stimulus, Profile]:
    d = _dict(d, "a handler call", _CALL_KEYS)
    state = _enum(d["state"], State, "the state", "a State")
    return (
        state,
        decode_tcb(d["tcb"], limits),
        decode_stimulus(d["stimulus"], limits),
        decode_profile(d["profile"], limits),
    )
