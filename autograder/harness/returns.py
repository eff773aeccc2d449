"""What a learner's handler may return: a Step of known outputs, checked before anything uses it."""

from __future__ import annotations

from reference_impl.segment import MOD, Flags, Segment
from reference_impl.states import (
    OUTPUT_TYPES,
    CancelTimer,
    DeliverData,
    Error,
    Send,
    StartTimer,
    State,
    Step,
    Timer,
)
from reference_impl.tcb import TCB

# ---- what a learner may return ------------------------------------------------------------


def step_problem(step: object) -> str:
    """Why `step` is not a valid Step, as the end of a sentence; "" when it is fine."""
    if step is None:
        return "returned None: did you forget `return Step(next_state, outputs, tcb)`?"
    if isinstance(step, tuple):
        return "returned a tuple; wrap it: return Step(next_state, outputs, tcb)"
    if not isinstance(step, Step):
        return f"returned a {type(step).__name__}, not a Step: return Step(next_state, outputs, tcb)"
    if not isinstance(step.state, State):
        if isinstance(step.state, str):
            return f"returned the next state as the string {step.state!r}; use State.{step.state.upper()}"
        return f"returned {step.state!r} as the next state, which is not a State (e.g. State.FIN_WAIT_2)"
    if not isinstance(step.outputs, tuple):
        return f"returned outputs of type {type(step.outputs).__name__}; use a list or tuple of outputs"
    for i, out in enumerate(step.outputs, 1):
        problem = "" if _plainly_fine(out) else output_problem(out)
        if problem:
            return f"returned output #{i} {problem}"
    if step.tcb is not None:
        if not isinstance(step.tcb, TCB):
            return f"returned tcb={type(step.tcb).__name__}, not a TCB (use tcb.replace(...), or leave it out)"
        for name in ("snd_una", "snd_nxt", "rcv_nxt"):
            if not _is_seq(getattr(step.tcb, name)):
                return f"returned a TCB whose {name}={getattr(step.tcb, name)!r} is not a 32-bit sequence number (use seq_add)"
        if step.tcb.fin_seq is not None and not _is_seq(step.tcb.fin_seq):
            return f"returned a TCB whose fin_seq={step.tcb.fin_seq!r} is not a sequence number"
    return ""


def _plainly_fine(out: object) -> bool:
    """The common outputs, checked quickly (exact types); anything else gets output_problem's full look."""
    kind = type(out)
    if kind is Send:
        seg = out.segment
        return (type(seg) is Segment and type(seg.seq) is int and 0 <= seg.seq < MOD and type(seg.ack) is int
                and 0 <= seg.ack < MOD and type(seg.flags) is Flags and not int(seg.flags) & ~0x17
                and type(seg.payload) is bytes and type(seg.window) is int and 0 <= seg.window <= 0xFFFF)  # fmt: skip
    if kind is StartTimer:
        return type(out.timer) is Timer and type(out.duration) is int and out.duration >= 0
    return kind is CancelTimer and type(out.timer) is Timer


def output_problem(out: object) -> str:
    """Why `out` is not a valid output, as the end of a sentence; "" when it is fine."""
    if _plainly_fine(out):
        return ""
    if isinstance(out, Segment):
        return f"{out}, a bare Segment: wrap it as Send(segment)"
    if not isinstance(out, OUTPUT_TYPES):
        return f"{out!r}, which is not an output (Send, StartTimer, CancelTimer, DeliverData, DeliverEOF, Error)"
    match out:
        case Send(seg):
            if not isinstance(seg, Segment):
                return f"Send({seg!r}): Send takes a Segment"
            for name in ("seq", "ack"):
                if not _is_seq(getattr(seg, name)):
                    return f"a segment whose {name}={getattr(seg, name)!r} is not a 32-bit sequence number"
            if not isinstance(seg.flags, Flags) or int(seg.flags) & ~0x17:
                return f"a segment with impossible flags {seg.flags!r} (use FIN, SYN, RST, ACK)"
            if not isinstance(seg.payload, bytes):
                return "a segment whose payload is not bytes"
            if not (isinstance(seg.window, int) and 0 <= seg.window <= 0xFFFF):
                return f"a segment with window {seg.window!r}, outside 0..65535"
        case StartTimer(timer, duration):
            if not isinstance(timer, Timer):
                return f"StartTimer({timer!r}, ...): the timer must be a Timer, e.g. Timer.TIME_WAIT"
            if not isinstance(duration, int) or isinstance(duration, bool) or duration < 0:
                return f"StartTimer with duration {duration!r}: use whole microseconds, e.g. profile.time_wait"
        case CancelTimer(timer):
            if not isinstance(timer, Timer):
                return f"CancelTimer({timer!r}): the timer must be a Timer, e.g. Timer.RETRANSMIT"
        case DeliverData(data):
            if not isinstance(data, bytes):
                return "DeliverData with data that is not bytes"
        case Error(message):
            if not isinstance(message, str):
                return "Error with a message that is not a string"
    return ""


def _is_seq(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < MOD
