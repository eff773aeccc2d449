"""Grading asks the learner's handlers at numbers and bytes no learner build recorded and no
learner can predict.

A lab's learner build carries the reference's answers as data (autograder.recorded): every call
of the course's runs and visible checks, at the numbers those runs use (all below 2**30). Pasted
into a notebook and played back, that table would answer the same calls under grading. And the
course is open source: anyone can run its hidden checks with the full package and tabulate the
reference's answer to every call they make. So the trusted side renumbers each call before it
crosses into the sandbox, by amounts drawn from the course's grading key (Course.grading_key:
made once per course, kept beside its gradebook, never released), and moves the learner's Step
back before it is compared. Our sequence space moves by `own` and the peer's by `peer`, both
past 2**30 and short of any wrap; each side moves when all its numbers lie below 2**30. A handler
that computes its numbers answers the renumbered call as it answers the original one (the
numbers are relative to the TCB and the segment; nothing wraps), so its score does not depend
on the key; a table looked up by the exact call finds nothing, whichever key it guessed. The
data moves too: every byte the call carries (the TCB's unacknowledged and unsent data, an
arriving segment's, an application's write) is XORed with `mask` and the Step's bytes XORed
back. The close machine only slices and joins data, which commutes with a bytewise XOR, so a
handler that computes its answer is not affected, while a table matched up to a shift of the
numbers meets bytes it never saw wherever data is in flight. That is a hurdle, not a wall: a
table can infer the mask from any call that carries data (README, Known limit).

Two things stay as they are:
- a side whose numbers already reach 2**30 (the wrapped cases, near 2**32, where the exact place
  of the wrap is what is graded; the other side of such a call still moves, and its data);
- the number 0 in a Step: RFC 9293 §3.10.7.1 answers an ACK-less segment in CLOSED with
  <SEQ=0>, a constant no renumbering should move.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from autograder.checks.fixtures import shift_stimulus, shift_tcb
from reference_impl.segment import MOD, Flags
from reference_impl.states import AppSend, Arrival, DeliverData, Send, Step, Stimulus
from reference_impl.tcb import TCB

RECORDED_BELOW = 2**30  # every number a learner build records lies below this
SPREAD = MOD - 2 * RECORDED_BELOW  # a move in [2**30, 2**30 + SPREAD) keeps x + move < 2**32 for x < 2**30


@dataclass(frozen=True)
class Renumbering:
    """How far each side's numbers move, and the byte every byte of data is XORed with."""

    own: int
    peer: int
    mask: int

    @classmethod
    def from_key(cls, key: bytes) -> Renumbering:
        """The course's renumbering: the same key, the same numbers, the same scores."""

        def draw(label: bytes) -> int:
            return int.from_bytes(hashlib.sha256(key + label).digest()[:8], "big")

        return cls(RECORDED_BELOW + draw(b"own") % SPREAD, RECORDED_BELOW + draw(b"peer") % SPREAD,
                   1 + draw(b"mask") % 255)  # fmt: skip

    def forward(self, tcb: TCB, ev: Stimulus) -> tuple[TCB, Stimulus]:
        """The call as the sandbox is asked it."""
        own, peer = self._moves(tcb, ev)
        tcb, ev = shift_tcb(tcb, own, peer), shift_stimulus(ev, own, peer)
        tcb = tcb.replace(unacked=self._masked(tcb.unacked), unsent=self._masked(tcb.unsent))
        if isinstance(ev, Arrival):
            return tcb, Arrival(replace(ev.segment, payload=self._masked(ev.segment.payload)))
        if isinstance(ev, AppSend):
            return tcb, AppSend(self._masked(ev.data))
        return tcb, ev

    def back(self, tcb: TCB, ev: Stimulus, step: Step) -> Step:
        """The learner's answer to forward(tcb, ev), in the original call's numbers."""
        own, peer = self._moves(tcb, ev)
        outputs = tuple(self._output(o, -own, -peer) for o in step.outputs)
        moved = step.tcb
        if moved is not None:
            moved = moved.replace(snd_una=_move(moved.snd_una, -own), snd_nxt=_move(moved.snd_nxt, -own),
                                  rcv_nxt=_move(moved.rcv_nxt, -peer), fin_seq=_move(moved.fin_seq, -own),
                                  unacked=self._masked(moved.unacked), unsent=self._masked(moved.unsent))  # fmt: skip
        return Step(step.state, outputs, moved)

    def _moves(self, tcb: TCB, ev: Stimulus) -> tuple[int, int]:
        """(own, peer): how far each side moves; 0 for a side with a number at or past 2**30."""
        ours = [tcb.snd_una, tcb.snd_nxt] + ([] if tcb.fin_seq is None else [tcb.fin_seq])
        theirs = [tcb.rcv_nxt]
        if isinstance(ev, Arrival):
            theirs.append(ev.segment.seq)
            if ev.segment.flags & Flags.ACK:
                ours.append(ev.segment.ack)
        below = all(0 <= n < RECORDED_BELOW for n in ours), all(0 <= n < RECORDED_BELOW for n in theirs)
        return self.own if below[0] else 0, self.peer if below[1] else 0

    def _masked(self, data: bytes) -> bytes:
        return bytes(b ^ self.mask for b in data)

    def _output(self, out: object, own: int, peer: int) -> object:
        """A segment we send: SEG.SEQ is ours, SEG.ACK the peer's (with the ACK bit); 0 stays 0."""
        if isinstance(out, DeliverData):
            return DeliverData(self._masked(out.data))
        if not isinstance(out, Send):
            return out
        seg = out.segment
        ack = _move(seg.ack, peer) if seg.flags & Flags.ACK else seg.ack
        return replace(out, segment=replace(seg, seq=_move(seg.seq, own), ack=ack, payload=self._masked(seg.payload)))


def _move(n, by: int):
    """A number of the answer, moved back; 0 (the RFC's constant) and None stay as they are."""
    return n if not n else (n + by) % MOD
