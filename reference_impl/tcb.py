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

from .profiles import RFC9293, Profile
from .segment import ACK, MOD, RST, Flags, Segment, seq_add, seq_diff, seq_gt, seq_le, seq_lt


@dataclass(frozen=True, slots=True)
class TCB:
    snd_una: int  # oldest unacknowledged sequence number
    snd_nxt: int  # next sequence number to send
    rcv_nxt: int  # next sequence number expected
    snd_wnd: int = 65535  # the peer's window (SND.WND): how far past SND.UNA we may send
    rcv_wnd: int = 65535  # our window (RCV.WND), advertised in every segment we send
    fin_seq: int | None = None  # the sequence number our FIN occupies, once close() queued it
    unacked: bytes = b""  # data sent but not yet acknowledged (from snd_una)
    unsent: bytes = b""  # data the application wrote that the peer's window has not let out yet
    mss: int = 1460  # the largest segment the peer takes (its MSS option; RFC 9293 §3.7.1)
    data_received: bool = False  # some data has arrived on this connection (Linux delays ACKs longer)
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
        if self.fin_seq is not None and not self.fin_sent:
            parts[-1] += " (not sent yet)"
        if self.unacked:
            parts.append(f"{len(self.unacked)} bytes unacknowledged")
        if self.unsent:
            parts.append(f"{len(self.unsent)} bytes not sent yet")
        if self.snd_wnd != 65535:
            parts.append(f"SND.WND={self.snd_wnd}")
        if self.rcv_wnd != 65535:
            parts.append(f"RCV.WND={self.rcv_wnd}")
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

    def replace(self, **changes: object) -> TCB:
        """A copy with some fields changed (a fast dataclasses.replace: it runs in every step)."""
        new = object.__new__(TCB)
        for name in TCB.__slots__:
            object.__setattr__(new, name, changes.pop(name) if name in changes else getattr(self, name))
        if changes:
            raise TypeError(f"TCB has no field(s) {', '.join(changes)}")
        return new

    # ---- building segments -----------------------------------------------------------

    def segment(self, flags: Flags = ACK, payload: bytes = b"") -> Segment:
        """<SEQ=SND.NXT><ACK=RCV.NXT><CTL=flags>: a new segment from where we stand, carrying RCV.WND."""
        return Segment(seq=self.snd_nxt, ack=self.rcv_nxt, flags=flags | ACK, payload=payload,
                       window=min(self.rcv_wnd, 0xFFFF))  # fmt: skip

    def ack(self) -> Segment:
        """<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>: the acknowledgment RFC 9293 sends everywhere."""
        return self.segment(ACK)

    def syn(self) -> Segment:
        """<SEQ=ISS><CTL=SYN> (RFC 9293 §3.10.1): until it is acknowledged, ISS is SND.UNA."""
        return Segment(seq=self.snd_una, ack=0, flags=Flags.SYN, window=min(self.rcv_wnd, 0xFFFF))

    def syn_ack(self) -> Segment:
        """<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> (RFC 9293 §3.10.7.2): the passive side's answer."""
        return Segment(seq=self.snd_una, ack=self.rcv_nxt, flags=Flags.SYN | ACK, window=min(self.rcv_wnd, 0xFFFF))

    def rst(self, with_ack: bool = False) -> Segment:
        """<SEQ=SND.NXT><CTL=RST> (RFC 9293 §3.10.5); Linux adds ACK=RCV.NXT."""
        if with_ack:
            return Segment(seq=self.snd_nxt, ack=self.rcv_nxt, flags=RST | ACK)
        return Segment(seq=self.snd_nxt, ack=0, flags=RST)

    def retransmission(self) -> Segment:
        """What is not yet acknowledged, from SND.UNA: up to MSS of the data, then the FIN if it
        was sent and fits in the same segment."""
        payload = self.unacked[: self.mss]
        flags = ACK
        if (
            self.fin_seq is not None
            and self.fin_sent
            and seq_le(self.snd_una, self.fin_seq)
            and len(payload) == len(self.unacked)
        ):
            flags |= Flags.FIN
        return Segment(seq=self.snd_una, ack=self.rcv_nxt, flags=flags, payload=payload,
                       window=min(self.rcv_wnd, 0xFFFF))  # fmt: skip

    # ---- sending what the peer's window lets out ------------------------------------------

    @property
    def fin_sent(self) -> bool:
        """Our FIN has left: SND.NXT is past it (a FIN queued behind unsent data has not)."""
        return self.fin_seq is not None and seq_lt(self.fin_seq, self.snd_nxt)

    @property
    def waiting(self) -> bool:
        """Something the application gave us has not left: data, or the FIN close() queued."""
        return bool(self.unsent) or (self.fin_seq is not None and not self.fin_sent)

    def transmit(self, fin_holds_tail: bool = False) -> tuple[TCB, tuple[Segment, ...]]:
        """Send what waits, as far as the peer's window allows (RFC 9293 §3.8.6: not beyond
        SND.UNA + SND.WND): data in segments of at most MSS, then the FIN (RFC 9293 §3.10.4: it
        follows all queued data), riding on the last data segment when both fit. When only the
        data fits, it goes and the FIN waits for room; with `fin_holds_tail` (Profile.fin_holds_tail,
        Linux) the last data segment waits with its FIN."""
        tcb, out = self, []
        while tcb.waiting:
            room = seq_diff(seq_add(tcb.snd_una, tcb.snd_wnd), tcb.snd_nxt)
            data = tcb.unsent[: max(0, min(tcb.mss, room))]
            fin = len(data) == len(tcb.unsent) and tcb.fin_seq is not None
            if fin and room < len(data) + 1:
                if fin_holds_tail or not data:
                    break  # the FIN has no room (and, holding the tail, neither has its segment)
                fin = False  # the data goes; the FIN follows once the window has room for it
            if not data and not fin:
                break
            seg = tcb.segment(ACK | Flags.FIN if fin else ACK, payload=data)
            tcb = tcb.replace(snd_nxt=seq_add(tcb.snd_nxt, len(data) + fin), unacked=tcb.unacked + data,
                              unsent=tcb.unsent[len(data):])  # fmt: skip
            out.append(seg)
        return tcb, tuple(out)

    def window_probe(self, old_seq: bool) -> tuple[TCB, Segment]:
        """A zero-window probe (RFC 9293 §3.8.6.1): one octet of what waits (a data octet, or
        the FIN), sent past the window; or, Linux's way (tcp_write_wakeup), <SEQ=SND.UNA-1> with
        no data, unless the window is open: then the data that fits goes (Profile.fin_holds_tail
        kept it back for the FIN)."""
        if old_seq:
            room = seq_diff(seq_add(self.snd_una, self.snd_wnd), self.snd_nxt)
            if room > 0 and self.unsent:
                data = self.unsent[: min(room, self.mss)]
                tcb = self.replace(snd_nxt=seq_add(self.snd_nxt, len(data)), unacked=self.unacked + data,
                                   unsent=self.unsent[len(data):])  # fmt: skip
                return tcb, self.segment(ACK, payload=data)
            seg = Segment(seq=seq_add(self.snd_una, MOD - 1), ack=self.rcv_nxt, flags=ACK,
                          window=min(self.rcv_wnd, 0xFFFF))  # fmt: skip
            return self, seg
        probe = self.replace(snd_wnd=seq_diff(self.snd_nxt, self.snd_una) + 1)
        tcb, segs = probe.transmit()
        return tcb.replace(snd_wnd=self.snd_wnd), segs[0]

    # ---- reading segments ------------------------------------------------------------

    def acceptable(self, seg: Segment, edges: bool = False) -> bool:
        """The four-case acceptability test of RFC 9293 §3.10.7.4, first check; with `edges`,
        Linux tcp_sequence() (profile.accept_window_edges)."""
        wnd = self.rcv_wnd
        if edges:
            # Linux: not wholly before RCV.WUP (taken as RCV.NXT), not past the right edge; with a
            # zero window only an empty segment or a bare FIN fits (tcp_data_queue takes the FIN).
            if seq_lt(seq_add(seg.seq, seg.len), self.rcv_nxt):
                return False
            if seq_gt(seg.seq, seq_add(self.rcv_nxt, wnd)):
                return False
            return wnd > 0 or not seg.payload

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
    """What `screen` made of an arriving segment; what follows is the state's decision."""

    DROP = "drop"  # discard; send `reply` if there is one
    RESET = "reset"  # a valid RST: the state decides what it means
    ACCEPT = "accept"  # go on with the state's own processing


@dataclass(frozen=True, slots=True)
class Screened:
    """What the shared checks of RFC 9293 §3.10.7.4 made of an arriving segment."""

    verdict: Verdict
    tcb: TCB  # with SND.UNA and SND.WND updated by the ACK field (and `sent` sent); RCV.NXT unchanged
    reply: Segment | None = None  # for DROP: the ACK (or, with `ends`, the RST) to send, if any
    ends: bool = False  # for DROP: the connection is over (data refused after close())
    data: bytes = b""  # new in-order data, duplicates trimmed off
    fin: bool = False  # the segment's FIN is next in sequence after `data`
    acked_new: bool = False  # SND.UNA moved forward
    out_of_order: bool = False  # data or FIN starting past RCV.NXT: not taken, but must be acknowledged
    sent: tuple[Segment, ...] = ()  # what the window this segment opened let out (already in `tcb`)
    ack_needed: bool = False  # (linux) an old retransmission whose ACK field counted: acknowledge it


def screen(tcb: TCB, seg: Segment, profile: Profile = RFC9293) -> Screened:
    """The checks every synchronized state shares, in the RFC's order (pass the profile:
    Linux's acceptability differs, see Profile.accept_window_edges).

    1. sequence number: unacceptable → ACK (unless RST) and drop.
    2. RST (with the RFC 5961 rules, optional in RFC 9293 and applied by Linux): outside the window → drop;
       exactly RCV.NXT → RESET; elsewhere in the window → challenge ACK.
    4. SYN in a synchronized state → challenge ACK (RFC 5961 §4).
    5. ACK: no ACK bit → drop; SEG.ACK > SND.NXT → ACK and drop;
       SND.UNA < SEG.ACK ≤ SND.NXT → SND.UNA ← SEG.ACK; SND.UNA ≤ SEG.ACK ≤ SND.NXT → SND.WND ←
       SEG.WND, and what waited for the window leaves (`sent`).
    7. text: only in-order data is taken (there is no reassembly queue here); data or a FIN
       starting past RCV.NXT is accepted for its ACK field only and flagged out_of_order, so the
       state acknowledges it. An empty segment is never acknowledged: it has no text (RFC 9293
       §3.10.7.4 seventh; Linux tcp_data_queue() frees it without an ACK).
    """
    edges = profile.accept_window_edges
    if not tcb.acceptable(seg, edges):
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
    return accept_segment(tcb, seg, profile.fin_holds_tail)


def accept_segment(tcb: TCB, seg: Segment, fin_holds_tail: bool = False) -> Screened:
    """What `screen` does with a segment its checks let through (in the window, no RST, no SYN, the
    ACK bit on, SEG.ACK not past SND.NXT): the rest of the fifth check (SND.UNA, SND.WND, what the
    window lets out) and the seventh (the text)."""
    # Linux takes the ACK field of a retransmission that ends at RCV.NXT; if it acknowledges
    # nothing new, that is all the RFC's "ACK and drop" does too, so only a new ACK goes on.
    skip = seq_diff(tcb.rcv_nxt, seg.seq)
    old = seg.len > 0 and skip >= len(seg.payload) + seg.fin
    acked_new = seq_lt(tcb.snd_una, seg.ack)
    if old and not acked_new:
        return Screened(Verdict.DROP, tcb, reply=tcb.ack())
    tcb = _ack_and_window(tcb, seg, acked_new)
    # Text after close() on a stack whose close() also ends reading (linux: refuses_data): the
    # data can never be read, so it is refused with <SEQ=SEG.ACK><CTL=RST> and the connection
    # is over (RFC 9293 §3.6.1 SHLD-3; Linux tcp_rcv_state_process → tcp_reset).
    if tcb.refuses_data and seg.payload and seq_lt(tcb.rcv_nxt, seq_add(seg.seq, len(seg.payload))):
        return Screened(Verdict.DROP, tcb, reply=Segment(seq=seg.ack, ack=0, flags=RST), ends=True)
    sent: tuple[Segment, ...] = ()
    if tcb.waiting:
        tcb, sent = tcb.transmit(fin_holds_tail)
    if old:
        return Screened(Verdict.ACCEPT, tcb, acked_new=True, sent=sent, ack_needed=True)

    # Text: skip what we already have; take it only if it starts at RCV.NXT.
    if skip < 0:
        return Screened(Verdict.ACCEPT, tcb, acked_new=acked_new, out_of_order=seg.len > 0, sent=sent)
    data = seg.payload[skip:]
    fin = seg.fin and skip <= len(seg.payload)
    return Screened(Verdict.ACCEPT, tcb, data=data, fin=fin, acked_new=acked_new, sent=sent)


def _ack_and_window(tcb: TCB, seg: Segment, acked_new: bool) -> TCB:
    """The fifth check's updates: SND.UNA on a new ACK (the data it covers leaves the queue), SND.WND."""
    changes: dict[str, object] = {}
    una, unacked = tcb.snd_una, tcb.unacked
    if acked_new:
        advanced = seq_diff(seg.ack, tcb.snd_una)
        fin_now_acked = tcb.fin_seq is not None and tcb.fin_sent and seg.ack == seq_add(tcb.fin_seq, 1)
        data_acked = advanced - (1 if fin_now_acked else 0)
        una, unacked = seg.ack, tcb.unacked[data_acked:]
        changes.update(snd_una=una, unacked=unacked, retries=0, probed=False)
    if seg.window != tcb.snd_wnd and seq_le(tcb.snd_una, seg.ack):
        # "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated"; a window that
        # opens ends the zero-window probing (its backoff with it, as Linux tcp_ack_probe does).
        changes["snd_wnd"] = seg.window
        if tcb.snd_wnd == 0:
            changes.update(retries=0, probed=False)
            if tcb.snd_nxt != una:
                # What is in flight past a zero window is the probe octet the peer refused: it goes
                # back to the queue and leaves again, in order, with what follows it.
                changes.update(snd_nxt=una, unsent=unacked + tcb.unsent, unacked=b"")
    return tcb.replace(**changes) if changes else tcb
