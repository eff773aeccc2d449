"""What every value crossing the grading boundary must be: the size limits, the one error, the
JSON wire format, and the exact-type checks each primitive passes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from reference_impl.segment import MOD


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


def record(d: object, what: str, keys: frozenset[str]) -> dict:
    if type(d) is not dict:
        raise PlainError(f"returned {what} that is not a record")
    if d.keys() != keys:
        extra, missing = sorted(d.keys() - keys), sorted(keys - d.keys())
        detail = f"unknown field {extra[0]!r}" if extra else f"no field {missing[0]!r}"
        raise PlainError(f"returned {what} with {detail}")
    return d


def whole(v: object, what: str, lo: int, hi: int, tail: str = "") -> int:
    """An exact int in lo..hi-1; else "returned <what>=<v> <tail>"."""
    if type(v) is not int or not lo <= v < hi:
        raise PlainError(f"returned {what}={show(v)} {tail or f'is not a whole number from {lo} to {hi - 1}'}")
    return v


def seq32(v: object, what: str) -> int:
    return whole(v, what, 0, MOD, "is not a 32-bit sequence number (use seq_add)")


def boolean(v: object, what: str) -> bool:
    if type(v) is not bool:
        raise PlainError(f"returned {what}={show(v)}, which is not True or False")
    return v


def text(v: object, what: str, limits: Limits) -> str:
    if type(v) is not str:
        raise PlainError(f"returned {what} that is not a string")
    if len(v) > limits.string:
        raise PlainError(f"returned {what} of {len(v)} characters (limit {limits.string})")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise PlainError(f"returned {what} that is not valid text") from None
    return v


def from_hex(v: object, what: str, limits: Limits) -> bytes:
    if type(v) is not str or len(v) > 2 * limits.payload:
        raise PlainError(f"returned {what} that is not bytes of at most {limits.payload}")
    try:
        if v != v.lower():
            raise ValueError
        return bytes.fromhex(v)
    except ValueError:
        raise PlainError(f"returned {what} that is not bytes") from None


def member(v: object, enum: type, what: str, hint: str) -> Any:
    if type(v) is not str or v not in enum.__members__:
        raise PlainError(f"returned {what} {show(v)}, which is not {hint}")
    return enum.__members__[v]


def show(v: object) -> str:
    text = repr(v) if type(v) in (int, bool, str, type(None), float) else type(v).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def to_hex(v: object, what: str, limits: Limits) -> str:
    if type(v) is not bytes:
        raise PlainError(f"returned {what} that is not bytes")
    if len(v) > limits.payload:
        raise PlainError(f"returned {what} of {len(v)} bytes (limit {limits.payload})")
    return v.hex()
