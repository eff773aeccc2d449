"""The TCB and the segment as plain records: every field of each checked, both ways."""

from __future__ import annotations

import dataclasses

from reference_impl.segment import MOD, Flags, Segment
from reference_impl.tcb import TCB

from .wire import LIMITS, Limits, PlainError, boolean, from_hex, record, seq32, show, to_hex, whole

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
                boolean(v, f"a TCB whose {name}")
        elif kind == "bytes":
            v = data(v, f"a TCB whose {name} data", limits)
        elif v is None and kind == "int|None":
            pass
        elif type(v) is not int or not 0 <= v < (MOD if seq else limits.duration):
            seq32(v, f"a TCB whose {name}") if seq else whole(v, f"a TCB whose {name}", 0, limits.duration)
        values[name] = v
    return values


def encode_tcb(tcb: TCB, limits: Limits = LIMITS) -> dict:
    """A TCB as primitives; raises PlainError naming the field a handler got wrong."""
    if type(tcb) is not TCB:
        raise PlainError(f"returned tcb={type(tcb).__name__}, not a TCB (use tcb.replace(...), or leave it out)")
    return _tcb_values(tcb.__getattribute__, limits, to_hex)


def decode_tcb(d: object, limits: Limits = LIMITS) -> TCB:
    d = record(d, "a TCB", _TCB_KEYS)
    return TCB(**_tcb_values(d.__getitem__, limits, from_hex))


# ---- segments -------------------------------------------------------------------------------

_FLAG_ORDER = (("FIN", Flags.FIN), ("SYN", Flags.SYN), ("RST", Flags.RST), ("ACK", Flags.ACK))
_FLAG_BITS = dict(_FLAG_ORDER)
_SEG_KEYS = frozenset(("seq", "ack", "flags", "payload", "window"))


def encode_segment(seg: Segment, limits: Limits = LIMITS, what: str = "a segment") -> dict:
    if type(seg) is not Segment:
        raise PlainError(f"returned Send({show(seg)}): Send takes a Segment")
    flags = seg.flags
    if type(flags) is not Flags or int(flags) & ~0x17:
        raise PlainError(f"returned {what} with impossible flags {flags!r} (use FIN, SYN, RST, ACK)")
    return {
        "seq": seq32(seg.seq, f"{what} whose seq"),
        "ack": seq32(seg.ack, f"{what} whose ack"),
        "flags": [name for name, bit in _FLAG_ORDER if int(flags) & bit],
        "payload": to_hex(seg.payload, f"{what} whose payload", limits),
        "window": _window(seg.window, what),
    }


def _window(v: object, what: str) -> int:
    if type(v) is not int or not 0 <= v <= 0xFFFF:
        raise PlainError(f"returned {what} with window {show(v)}, outside 0..65535")
    return v


def decode_segment(d: object, limits: Limits = LIMITS, what: str = "a segment") -> Segment:
    d = record(d, what, _SEG_KEYS)
    names = d["flags"]
    if type(names) is not list or len(names) > 4 or len(set(map(str, names))) != len(names):
        raise PlainError(f"returned {what} with impossible flags (use FIN, SYN, RST, ACK)")
    flags = Flags.NONE
    for name in names:
        if type(name) is not str or name not in _FLAG_BITS:
            raise PlainError(f"returned {what} with impossible flag {show(name)} (use FIN, SYN, RST, ACK)")
        flags |= _FLAG_BITS[name]
    return Segment(
        seq=seq32(d["seq"], f"{what} whose seq"),
        ack=seq32(d["ack"], f"{what} whose ack"),
        flags=flags,
        payload=from_hex(d["payload"], f"{what} whose payload", limits),
        window=_window(d["window"], what),
    )
