"""TCP segments and sequence-number arithmetic (RFC 9293 §3.1, §3.4).

Sequence numbers live on a circle of 2**32 values, so "less than" is only
meaningful for numbers less than 2**31 apart (RFC 9293 §3.4, RFC 1982).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntFlag

MOD = 2**32
HALF = 2**31


def seq_add(a: int, n: int) -> int:
    """a + n on the sequence circle."""
    return (a + n) % MOD


def seq_diff(a: int, b: int) -> int:
    """The signed distance a - b, in (-2**31, 2**31]."""
    d = (a - b) % MOD
    return d - MOD if d > HALF else d


def seq_lt(a: int, b: int) -> bool:
    """a < b for sequence numbers, which wrap modulo 2**32 (RFC 9293 §3.4)."""
    return seq_diff(a, b) < 0


def seq_le(a: int, b: int) -> bool:
    """a ≤ b for sequence numbers, which wrap modulo 2**32 (RFC 9293 §3.4)."""
    return seq_diff(a, b) <= 0


def seq_gt(a: int, b: int) -> bool:
    """a > b for sequence numbers, which wrap modulo 2**32 (RFC 9293 §3.4)."""
    return seq_diff(a, b) > 0


def seq_ge(a: int, b: int) -> bool:
    """a ≥ b for sequence numbers, which wrap modulo 2**32 (RFC 9293 §3.4)."""
    return seq_diff(a, b) >= 0


class Flags(IntFlag):
    """Control bits, printed the way RFC 9293 writes CTL= (SYN,ACK · FIN,ACK · RST,ACK)."""

    NONE = 0
    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    ACK = 0x10

    def names(self) -> list[str]:
        return list(_NAMES[int(self)])

    def __str__(self) -> str:  # "FIN|ACK", the trace CSV spelling
        return _JOINED[int(self)]

    @classmethod
    def parse(cls, text: str) -> Flags:
        """Parse "FIN|ACK", "FIN,ACK", "NONE", or tcpdump's and packetdrill's letters: "F." is FIN,ACK,
        "." ACK alone, "R" RST (F FIN, S SYN, R RST, P PSH, which this model ignores, "." ACK).
        Raises ValueError on unknown names."""
        text = text.strip()
        if text in ("", "NONE"):
            return cls.NONE
        if all(c in "FSRP." for c in text):
            letters = {"F": cls.FIN, "S": cls.SYN, "R": cls.RST, ".": cls.ACK, "P": cls.NONE}
            out = cls.NONE
            for c in text:
                out |= letters[c]
            return out
        out = cls.NONE
        for part in text.replace(",", "|").split("|"):
            name = part.strip().upper()
            if name not in ("FIN", "SYN", "RST", "ACK"):
                raise ValueError(f"unknown flag {part.strip()!r} (use FIN, SYN, RST, ACK)")
            out |= cls[name]
        return out


FIN, SYN, RST, ACK = Flags.FIN, Flags.SYN, Flags.RST, Flags.ACK

# The simulator prints flags for every row: precompute the 32 spellings once.
_ORDER = ((0x02, "SYN"), (0x04, "RST"), (0x01, "FIN"), (0x10, "ACK"))
_NAMES = {i: tuple(n for bit, n in _ORDER if i & bit) for i in range(32)}
_JOINED = {i: "|".join(names) for i, names in _NAMES.items()}


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP segment as the close machine sees it: the header fields that matter, and data."""

    seq: int
    ack: int = 0
    flags: Flags = Flags.ACK
    payload: bytes = b""
    window: int = 65535
    # Which incarnation of the 4-tuple sent it; only the simulator reads this,
    # to show an old duplicate arriving in a new connection.
    incarnation: int = field(default=0, compare=False)
    # The timestamps option (RFC 7323 §3): TSval, the sender's timestamp clock when it sent the
    # segment, and TSecr, the TS.Recent it echoes; None: no option. The stack adds and checks it
    # (reference_impl.timestamps, PAWS): no state's handler reads it, so it does not make two
    # segments different to a handler.
    tsval: int | None = field(default=None, compare=False)
    tsecr: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.flags, Flags):
            object.__setattr__(self, "flags", Flags(self.flags))
        for name in ("seq", "ack"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < MOD:
                raise ValueError(f"segment {name}={v!r} is not a 32-bit sequence number")
        if not isinstance(self.payload, bytes):
            raise ValueError(f"segment payload must be bytes, not {type(self.payload).__name__}")

    def stamped(self, incarnation: int, tsval: int | None = None, tsecr: int = 0) -> Segment:
        """This segment as the stack sends it: which connection it belongs to, its timestamps option
        (a fast copy: the simulator makes one for every segment sent)."""
        new = object.__new__(Segment)
        for name in ("seq", "ack", "flags", "payload", "window"):
            object.__setattr__(new, name, getattr(self, name))
        object.__setattr__(new, "incarnation", incarnation)
        object.__setattr__(new, "tsval", tsval)
        object.__setattr__(new, "tsecr", tsecr)
        return new

    @property
    def fin(self) -> bool:
        return bool(int.__and__(self.flags, 0x01))  # int ops: enum ops are slow in a hot loop

    @property
    def syn(self) -> bool:
        return bool(int.__and__(self.flags, 0x02))  # int ops: enum ops are slow in a hot loop

    @property
    def rst(self) -> bool:
        return bool(int.__and__(self.flags, 0x04))  # int ops: enum ops are slow in a hot loop

    @property
    def has_ack(self) -> bool:
        return bool(int.__and__(self.flags, 0x10))  # int ops: enum ops are slow in a hot loop

    @property
    def len(self) -> int:
        """SEG.LEN: data octets plus one for SYN and one for FIN (RFC 9293 §3.4)."""
        return len(self.payload) + self.syn + self.fin

    @property
    def end(self) -> int:
        """The sequence number just past this segment (SEG.SEQ + SEG.LEN)."""
        return seq_add(self.seq, self.len)

    def __str__(self) -> str:
        return segment_text(self)


def segment_text(seg: Segment) -> str:
    """The segment as RFC 9293 draws it: <SEQ=100><ACK=300><CTL=FIN,ACK>.

    ACK= is shown only when the ACK bit is set; data appear as <DATA=n bytes>.
    """
    parts = [f"<SEQ={seg.seq}>"]
    if seg.has_ack:
        parts.append(f"<ACK={seg.ack}>")
    parts.append(f"<CTL={','.join(_NAMES[int(seg.flags)])}>")
    if seg.payload:
        parts.append(f"<DATA={len(seg.payload)} bytes>")
    return "".join(parts)
