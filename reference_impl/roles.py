"""Naming a segment by what it is: "A's FIN", "B's ACK of A's FIN", "A's FIN, copy 2".

A fate keyed by ordinal ("A2": A's second segment) names a different segment as soon as an
earlier one is lost: add "lose A1" to lost-ack-of-fin and B's first segment is its FIN, not its
ACK of A's FIN, so the scenario's own loss moves. A `Role` names the segment by what it carries
and which copy of that it is, so it stays on its segment whatever else the network does. Both
kinds of key live side by side in `Scenario.fates`: the catalogue and scripts use roles, the
loss enumeration (`scenarios.loss_patterns`) keeps ordinals, which count every segment once.

Kinds of segment (a segment may be several at once: B's <CTL=FIN,ACK> acknowledging A's FIN is
both "B's FIN" and "B's ACK of A's FIN"):

    SYN          a SYN without ACK (an active open)
    SYN-ACK      a SYN with ACK (the passive side's answer)
    FIN          any segment carrying the sender's FIN (a retransmission is the next copy)
    ACK of FIN   a segment whose ACK field acknowledges the peer's FIN (its FIN's number + 1)
    data         any segment carrying data
    ACK          a segment with nothing but the ACK bit: no data, SYN, FIN or RST
    RST          a reset

Copies count the sender's segments of that kind through the whole run, or within one connection
of the 4-tuple when the role names one: "A's FIN, copy 2 (connection 2)".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .segment import MOD
from .trace import EventKind, Row, starts_connection

KINDS = ("SYN", "SYN-ACK", "FIN", "ACK of FIN", "data", "ACK", "RST")
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


@dataclass(frozen=True, slots=True)
class Role:
    """A segment named by what it is: its sender, its kind (one of KINDS), which copy of that kind
    (1: the first the sender sends), and optionally which connection of the 4-tuple (1: the first;
    None: count through the whole run)."""

    sender: str
    kind: str
    copy: int = 1
    connection: int | None = None

    def __post_init__(self) -> None:
        if self.sender not in ("A", "B"):
            raise ValueError(f"a segment's sender is A or B, not {self.sender!r}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind of segment {self.kind!r}; use one of: {', '.join(KINDS)}")
        if self.copy < 1 or (self.connection is not None and self.connection < 1):
            raise ValueError("copies and connections count from 1")

    def __str__(self) -> str:
        peer = "B" if self.sender == "A" else "A"
        what = f"ACK of {peer}'s FIN" if self.kind == "ACK of FIN" else self.kind
        text = f"{self.sender}'s {what}"
        if self.copy != 1:
            text += f", copy {self.copy}"
        if self.connection is not None:
            text += f" (connection {self.connection})"
        return text


# ---- text -----------------------------------------------------------------------------------

_ROLE = re.compile(
    r"(?P<sender>[AB])'s\s+(?P<kind>SYN-ACK|SYN,ACK|SYN|FIN|ACK\s+of\s+(?P<peer>[AB])'s\s+FIN|last\s+ACK|data|ACK|RST)"
    r"(?:\s*,?\s*(?:copy\s+(?P<copy>\d+)|(?P<nth>" + "|".join(_ORDINALS) + r")\s+copy))?"
    r"(?:\s*\(\s*connection\s+(?P<connection>\d+)\s*\))?",
    re.IGNORECASE,
)
_ORDINAL_KEY = re.compile(r"([AB])#?(\d+)")


def parse_role(text: str) -> Role:
    """ "B's ACK of A's FIN", "A's last ACK" (the ACK of the peer's FIN), "A's FIN, copy 2",
    "A's FIN, second copy", "A's SYN (connection 2)" → a Role; ValueError with a sentence."""
    m = _ROLE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"{text.strip()!r} is not a segment name like A2, \"A's FIN\", \"B's ACK of A's FIN, copy 2\" "
                         "or \"A's SYN (connection 2)\"")  # fmt: skip
    sender, kind = m["sender"].upper(), " ".join(m["kind"].split())
    if m["peer"]:
        if m["peer"].upper() == sender:
            raise ValueError(f"{text.strip()!r}: an endpoint acknowledges its peer's FIN, not its own")
        kind = "ACK of FIN"
    elif kind.lower() == "last ack":
        kind = "ACK of FIN"  # the last segment of a close: the ACK of the peer's FIN
    else:
        kind = {"syn,ack": "SYN-ACK"}.get(kind.lower(), kind.upper() if kind.lower() != "data" else "data")
    copy = int(m["copy"]) if m["copy"] else _ORDINALS.index(m["nth"].lower()) + 1 if m["nth"] else 1
    connection = int(m["connection"]) if m["connection"] else None
    return Role(sender, kind, copy, connection)


def parse_segment_key(text: str) -> tuple[str, int] | Role:
    """A segment named by ordinal ("A2", A's second segment) or by role ("A's FIN")."""
    m = _ORDINAL_KEY.fullmatch(text.strip())
    if m:
        if int(m.group(2)) < 1:
            raise ValueError(f"{text.strip()!r} is not a segment name like A2 (A's second segment): they count from 1")
        return m.group(1), int(m.group(2))
    return parse_role(text)


def key_text(key: tuple[str, int] | Role) -> str:
    """ "A2" for an ordinal key, the role's own words for a Role."""
    return str(key) if isinstance(key, Role) else f"{key[0]}{key[1]}"


# ---- naming the segments of a run --------------------------------------------------------------

_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10


def kinds_of(flags: int, length: int, acks_peer_fin: bool) -> tuple[str, ...]:
    """The kinds (KINDS) of a segment with these flags and this much data."""
    if flags & _RST:
        return ("RST",)
    if flags & _SYN:
        return ("SYN-ACK",) if flags & _ACK else ("SYN",)
    out = []
    if flags & _FIN:
        out.append("FIN")
    if length:
        out.append("data")
    if flags & _ACK and acks_peer_fin:
        out.append("ACK of FIN")
    if not flags & _FIN and not length and flags & _ACK:
        out.append("ACK")
    return tuple(out)


class RoleCounter:
    """Names each segment of a run as it is sent: feed it every send in order (`send`), and say
    when an endpoint starts a new connection of the 4-tuple (`reopen`). The simulator uses it to
    find a fate keyed by role; `roles_of` reads the same names back from a finished trace."""

    def __init__(self) -> None:
        self.connection = {"A": 1, "B": 1}
        self._counts: dict[tuple[str, str, int | None], int] = {}
        self._fin_end: dict[str, int] = {}  # sender -> the number just past its FIN, this connection

    def reopen(self, endpoint: str) -> None:
        self.connection[endpoint] += 1
        self._fin_end.pop(endpoint, None)

    def send(self, sender: str, flags: int, seq: int, ack: int, length: int) -> tuple[Role, ...]:
        """Every role this segment has: for each of its kinds, its copy through the run and within
        its connection."""
        peer = "B" if sender == "A" else "A"
        kinds = kinds_of(flags, length, self._fin_end.get(peer) == ack)
        if flags & _FIN and not flags & _RST:
            self._fin_end[sender] = (seq + length + 1) % MOD
        connection, out = self.connection[sender], []
        for kind in kinds:
            for scope in (None, connection):
                n = self._counts[(sender, kind, scope)] = self._counts.get((sender, kind, scope), 0) + 1
                out.append(Role(sender, kind, n, scope))
        return tuple(out)


def roles_of(rows: Iterable[Row]) -> dict[str, tuple[Role, ...]]:
    """Each sent segment of a trace by ordinal name ("A2") → its roles, named as the simulator
    named them when it sent it."""
    counter, sent, out = RoleCounter(), {"A": 0, "B": 0}, {}
    for r in rows:
        if r.endpoint not in sent:
            continue
        if starts_connection(r):
            counter.reopen(r.endpoint)
        if r.event == EventKind.SEND:
            sent[r.endpoint] += 1
            bits = int(r.flags or 0)
            out[f"{r.endpoint}{sent[r.endpoint]}"] = counter.send(r.endpoint, bits, r.seq or 0, r.ack or 0, r.len or 0)
    return out


def where(role: Role, rows: Iterable[Row]) -> str | None:
    """The ordinal name ("B3") of the segment a role names in a trace, or None if no segment is it."""
    return next((name for name, roles in roles_of(rows).items() if role in roles), None)
