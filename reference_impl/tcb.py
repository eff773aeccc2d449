"""The transmission control block, and the mechanics every state shares (RFC 9293 §3.3.1, §3.10.7.4).

Mechanics, not decisions: building a segment with the right numbers, the
acceptability test, advancing SND.UNA on an ACK, trimming data already seen.
*Where the connection goes next* is decided by the per-state handlers.

The TCB is immutable: a handler returns a new one in its Step, so a handler
can never half-change a connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .segment import ACK, RST, Flags, Segment, seq_add, seq_diff, seq_le, seq_lt


@dataclass(frozen=True, slots=True)
class TCB:
    snd_una: int  # oldest unacknowledged sequence number
    snd_nxt: int  # next sequence number to send
    rcv_nxt: int  # next sequence number expected
    snd_wnd: int = 65535
    rcv_wnd: int = 65535
    fin_seq: int | None = None  # the sequence number our FIN occupies, once sent
    unacked: bytes = b""  # data sent but not yet acknowledged (from snd_una)
    retries: int = 0  # retransmissions since the last new ACK
    probed: bool = False  # a tail-loss probe was sent for the outstanding data/FIN
    orphaned: bool = False  # the application closed with close(), not shutdown()
    refuses_data: bool = False  # close() ended reading too (linux): new data is answered with RST
    srtt: int = 20_000  # smoothed round-trip time (µs) measured during the handshake

    def __str__(self) -> str:
        """The TCB as RFC 9293 names its variables, short enough for a feedback line."""
        parts = [f"SND.UNA={self.snd_una}", f"SND.NXT={self.snd_nxt}", f"RCV.NXT={self.rcv_nxt}"]
        if self.fin_seq is not None:
            parts.append(f"our FIN at {self.fin_seq}")
        if self.unacked:
            parts.append(f"{len(self.unacked)} bytes unacknowledged")
        if self.retries:
            parts.append(f"{self.retries} retransmissions")
        if self.orphaned:
            parts.append("orphaned (closed with close(), not shutdown())")
        if self.refuses_data:
            parts.append("refuses data")
        return " ".join(parts)

    @classmethod
    def established(cls, iss: int, irs: int, srtt: int = 20_000) -> TCB:
        """A synchronized connection: our next byte is iss, the peer's next byte is irs."""
        return cls(snd_una=iss, snd_nxt=iss, rcv_nxt=irs, srtt=srtt)

    def replace(self, **changes) -> TCB:
        """A copy with some fields changed (a fast dataclasses.replace: it runs in every step)."""
        new = object.__new__(TCB)
        for name in TCB.__slots__:
            object.__setattr__(new, name, changes.pop(name) if name in changes else getattr(self, name))
        if changes:
            raise TypeError(f"TCB has no field(s) {', '.join(changes)}")
        return new

    # ---- building segments -----------------------------------------------------------

    def segment(self, flags: Flags = ACK, payload: bytes = b"") -> Segment:
        """<SEQ=SND.NXT><ACK=RCV.NXT><CTL=flags>: a new segment from where we stand."""
        return Segment(seq=self.snd_nxt, ack=self.rcv_nxt, flags=flags | ACK, payload=payload)

    def ack(self) -> Segment:
        """<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>: the acknowledgment RFC 9293 sends everywhere."""
        return self.segment(ACK)

    def rst(self, with_ack: bool = False) -> Segment:
        """<SEQ=SND.NXT><CTL=RST> (RFC 9293 §3.10.5); Linux adds ACK=RCV.NXT."""
        if with_ack:
            return Segment(seq=self.snd_nxt, ack=self.rcv_nxt, flags=RST | ACK)
        return Segment(seq=self.snd_nxt, ack=0, flags=RST)

    def retransmission(self) -> Segment:
        """Everything not yet acknowledged, from SND.UNA: the data, then the FIN if sent."""
        flags = ACK
        if self.fin_seq is not None and seq_le(self.snd_una, self.fin_seq):
            flags |= Flags.FIN
        return Segment(seq=self.snd_una, ack=self.rcv_nxt, flags=flags, payload=self.unacked)

    # ---- reading segments ------------------------------------------------------------

    def acceptable(self, seg: Segment) -> bool:
        """The four-case acceptability test of RFC 9293 §3.10.7.4, first check."""
        wnd = self.rcv_wnd

        def in_window(n: int) -> bool:
            return seq_le(self.rcv_nxt, n) and seq_lt(n, seq_add(self.rcv_nxt, wnd))

        if seg.len == 0:
            return seg.seq == self.rcv_nxt if wnd == 0 else in_window(seg.seq)
        if wnd == 0:
            return False
        return in_window(seg.seq) or in_window(seq_add(seg.seq, seg.len - 1))

    @property
    def fin_acked(self) -> bool:
        """Our FIN has been acknowledged: it was sent and SND.UNA has passed it."""
        return self.fin_seq is not None and self.snd_una == seq_add(self.fin_seq, 1)


class Verdict(Enum):
    DROP = "drop"  # discard; send `reply` if there is one
    RESET = "reset"  # a valid RST: the state decides what it means
    ACCEPT = "accept"  # go on with the state's own processing


@dataclass(frozen=True, slots=True)
class Screened:
    """What the shared checks of RFC 9293 §3.10.7.4 made of an arriving segment."""

    verdict: Verdict
    tcb: TCB  # with SND.UNA advanced by the ACK field; RCV.NXT unchanged
    reply: Segment | None = None  # for DROP: the ACK (or, with `ends`, the RST) to send, if any
    ends: bool = False  # for DROP: the connection is over (data refused after close())
    data: bytes = b""  # new in-order data, duplicates trimmed off
    fin: bool = False  # the segment's FIN is next in sequence after `data`
    acked_new: bool = False  # SND.UNA moved forward
    out_of_order: bool = False  # starts past RCV.NXT: not taken, but must be acknowledged


def screen(tcb: TCB, seg: Segment) -> Screened:
    """The checks every synchronized state shares, in the RFC's order.

    1. sequence number: unacceptable → ACK (unless RST) and drop.
    2. RST (with the RFC 5961 rules, optional in RFC 9293 and applied by Linux): outside the window → drop;
       exactly RCV.NXT → RESET; elsewhere in the window → challenge ACK.
    4. SYN in a synchronized state → challenge ACK (RFC 5961 §4).
    5. ACK: no ACK bit → drop; SEG.ACK > SND.NXT → ACK and drop;
       SND.UNA < SEG.ACK ≤ SND.NXT → SND.UNA ← SEG.ACK.
    7. text: only in-order data is taken (there is no reassembly queue here);
       a segment starting past RCV.NXT is accepted for its ACK field only and
       flagged out_of_order, so the state acknowledges it.
    """
    if not tcb.acceptable(seg):
        return Screened(Verdict.DROP, tcb, reply=None if seg.rst else tcb.ack())
    if seg.rst:
        if seg.seq == tcb.rcv_nxt:
            return Screened(Verdict.RESET, tcb)
        return Screened(Verdict.DROP, tcb, reply=tcb.ack())
    if seg.syn:
        return Screened(Verdict.DROP, tcb, reply=tcb.ack())
    if not seg.has_ack:
        return Screened(Verdict.DROP, tcb)
    if seq_lt(tcb.snd_nxt, seg.ack):
        return Screened(Verdict.DROP, tcb, reply=tcb.ack())

    acked_new = seq_lt(tcb.snd_una, seg.ack)
    if acked_new:
        advanced = seq_diff(seg.ack, tcb.snd_una)
        fin_now_acked = tcb.fin_seq is not None and seg.ack == seq_add(tcb.fin_seq, 1)
        data_acked = advanced - (1 if fin_now_acked else 0)
        tcb = tcb.replace(snd_una=seg.ack, unacked=tcb.unacked[data_acked:], retries=0, probed=False)

    # Text after close() on a stack whose close() also ends reading (linux: refuses_data): the
    # data can never be read, so it is refused with <SEQ=SEG.ACK><CTL=RST> and the connection
    # is over (RFC 9293 §3.6.1 SHLD-3; Linux tcp_rcv_state_process → tcp_reset).
    if tcb.refuses_data and seg.payload and seq_lt(tcb.rcv_nxt, seq_add(seg.seq, len(seg.payload))):
        return Screened(Verdict.DROP, tcb, reply=Segment(seq=seg.ack, ack=0, flags=RST), ends=True)

    # Text: skip what we already have; take it only if it starts at RCV.NXT.
    skip = seq_diff(tcb.rcv_nxt, seg.seq)
    if skip < 0:
        return Screened(Verdict.ACCEPT, tcb, acked_new=acked_new, out_of_order=True)
    data = seg.payload[skip:]
    fin = seg.fin and skip <= len(seg.payload)
    return Screened(Verdict.ACCEPT, tcb, data=data, fin=fin, acked_new=acked_new)
