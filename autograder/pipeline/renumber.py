"""Grading asks the learner's handlers at numbers and bytes no learner build ever recorded.

A lab's learner build carries the reference's answers as data (autograder.recorded): every call
of the course's runs and visible checks, at the numbers those runs use (all below 2**30). Pasted
into a notebook and played back, that table would answer the same calls under grading. So the
trusted side renumbers each call before it crosses into the sandbox: our sequence space moves by
OWN and the peer's by PEER, both past 2**30 and short of any wrap, and the learner's Step is moved
back before it is compared. A handler that computes its numbers answers the renumbered call as it
answers the original one (the numbers are relative to the TCB and the segment; nothing wraps), so
its score is unchanged; a table looked up by the exact call finds nothing. The data moves too:
every byte the call carries (the TCB's unacknowledged and unsent data, an arriving segment's, an
application's write) is XORed with DATA_MASK and the Step's bytes XORed back. The close machine
only slices and joins data, which commutes with a bytewise XOR, so a handler that computes its
answer is not affected, while a table matched up to a shift of the numbers meets bytes it never
saw wherever data is in flight. That is a hurdle, not a wall: a table can infer the mask from any
call that carries data (README, Known limit).

Two things stay as they are:
- a call whose numbers already lie at or above 2**30 (the wrapped cases, near 2**32, where the
  exact place of the wrap is what is graded); no build records such a call;
- the number 0 in a Step: RFC 9293 §3.10.7.1 answers an ACK-less segment in CLOSED with
  <SEQ=0>, a constant no renumbering should move.
"""

from __future__ import annotations

from dataclasses import replace

from autograder.checks.fixtures import shift_stimulus, shift_tcb
from reference_impl.segment import MOD, Flags
from reference_impl.states import AppSend, Arrival, DeliverData, Send, Step, Stimulus
from reference_impl.tcb import TCB

RECORDED_BELOW = 2**30  # every number a learner build records lies below this
OWN = 0x6A3C_9E00  # 1,782,357,504: our numbers move here ...
PEER = 0x4B1D_2700  # 1,260,201,728: ... and the peer's here; both + 2**30 stay under 2**32
DATA_MASK = 0xA5  # every byte of data is XORed with this, there and back


def renumbered(tcb: TCB, ev: Stimulus) -> bool:
    """Whether this call is asked renumbered (all its numbers in the range builds record)."""
    numbers = [tcb.snd_una, tcb.snd_nxt, tcb.rcv_nxt]
    if tcb.fin_seq is not None:
        numbers.append(tcb.fin_seq)
    if isinstance(ev, Arrival):
        numbers.append(ev.segment.seq)
        if ev.segment.flags & Flags.ACK:
            numbers.append(ev.segment.ack)
    return all(0 <= n < RECORDED_BELOW for n in numbers)


def forward(tcb: TCB, ev: Stimulus) -> tuple[TCB, Stimulus]:
    """The call as the sandbox is asked it."""
    if not renumbered(tcb, ev):
        return tcb, ev
    return _data(shift_tcb(tcb, OWN, PEER)), _stimulus_data(shift_stimulus(ev, OWN, PEER))


def back(tcb: TCB, ev: Stimulus, step: Step) -> Step:
    """The learner's answer to forward(tcb, ev), in the original call's numbers."""
    if not renumbered(tcb, ev):
        return step
    outputs = tuple(_output(o) for o in step.outputs)
    moved = None if step.tcb is None else _tcb_back(step.tcb)
    return Step(step.state, outputs, moved)


def _move(n: int, by: int) -> int:
    return n if n == 0 else (n + by) % MOD


def _masked(data: bytes) -> bytes:
    return bytes(b ^ DATA_MASK for b in data)


def _data(tcb: TCB) -> TCB:
    return tcb.replace(unacked=_masked(tcb.unacked), unsent=_masked(tcb.unsent))


def _stimulus_data(ev: Stimulus) -> Stimulus:
    if isinstance(ev, Arrival):
        return Arrival(replace(ev.segment, payload=_masked(ev.segment.payload)))
    if isinstance(ev, AppSend):
        return AppSend(_masked(ev.data))
    return ev


def _tcb_back(tcb: TCB) -> TCB:
    tcb = _data(tcb)
    return tcb.replace(
        snd_una=_move(tcb.snd_una, -OWN),
        snd_nxt=_move(tcb.snd_nxt, -OWN),
        rcv_nxt=_move(tcb.rcv_nxt, -PEER),
        fin_seq=None if tcb.fin_seq is None else _move(tcb.fin_seq, -OWN),
    )


def _output(out: object) -> object:
    """A segment we send: SEG.SEQ is ours, SEG.ACK the peer's (with the ACK bit); 0 stays 0."""
    if isinstance(out, DeliverData):
        return DeliverData(_masked(out.data))
    if not isinstance(out, Send):
        return out
    seg = out.segment
    ack = _move(seg.ack, -PEER) if seg.flags & Flags.ACK else seg.ack
    return replace(out, segment=replace(seg, seq=_move(seg.seq, -OWN), ack=ack, payload=_masked(seg.payload)))
