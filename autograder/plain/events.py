"""Stimuli and outputs as plain records: every field of each, typed by its annotation."""

from __future__ import annotations

import dataclasses

from reference_impl.segment import Segment
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
    Stimulus,
    Timeout,
    Timer,
)

from .records import decode_segment, encode_segment
from .wire import LIMITS, Limits, PlainError, from_hex, record, show, text, to_hex

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
            return text(v, f"{'an' if cls[0] in 'AEIOU' else 'a'} {cls} {name}", limits)
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
            return (to_hex if encoding else from_hex)(v, f"{cls} with {name}", limits)
    elif kind == "Segment":
        return (encode_segment if encoding else decode_segment)(v, limits)
    if not ok:
        says = _SAYS.get((cls, name))
        raise PlainError(says.format(v=show(v)) if says else f"{cls} with {name}={show(v)}, which is not a {kind}")
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
    d = record(d, f"a {kind}", frozenset(["kind", *(n for n, _ in fields)]))
    return cls(**{name: _value(k, d[name], kind, name, limits, False) for name, k in fields})


def encode_stimulus(ev: Stimulus, limits: Limits = LIMITS) -> dict:
    entry = _STIMULI.get(type(ev).__name__)
    if entry is None or type(ev) is not entry[0]:
        raise PlainError(f"returned {show(ev)}, which is not a stimulus")
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
        raise PlainError(f"{show(out)}, which is not {_OUTPUT_HINT}")
    return _encode_fields(out, entry[1], limits)


def decode_output(d: object, limits: Limits = LIMITS) -> object:
    return _decode_fields(d, _OUTPUTS, _OUTPUT_HINT, limits)
