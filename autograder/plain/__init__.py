"""Handler calls as plain data: the one boundary between a learner's code and the grader.

Trusted grading asks the sandbox one question, `handler(tcb, stimulus, profile)`, and gets a
Step back. Both cross a pipe as JSON built from primitives only (dict, list, str, int, bool,
None), so nothing the learner defines (a subclass of int or str, an object whose `__eq__`
says yes to everything, a patched Step) can reach the trusted side: real objects are built
there, from data this module has checked.

Decoding is the security boundary and it is strict: exact types (a bool is not an int; JSON
gives no subclasses), 32-bit sequence numbers, known enum names only, bounded sizes (payload
bytes, outputs per step, string lengths, the whole message) and no NaN. Every rejection is a
`PlainError` whose `sentence` ends "your handler ..." the way `autograder.harness.step_problem`
words it, so it reads as what the learner's handler returned wrong.

Encoding on the learner's side (`encode_step`) applies the same rules to the objects a handler
returned, so a mistake is named with the learner's own values before anything is sent.

Shapes (bytes travel as lowercase hex, flags as names in the order FIN, SYN, RST, ACK, timers
and states by name; a TCB, a stimulus, an output and a profile carry every field their
dataclass has, typed by its annotation, so a field added to reference_impl crosses checked):

    tcb       {"snd_una": int, "snd_nxt": int, "rcv_nxt": int, "fin_seq": int | None,
               "unacked": hex, "orphaned": bool, ...}
    segment   {"seq": int, "ack": int, "flags": [name, ...], "payload": hex, "window": int}
    stimulus  {"kind": "AppClose", "shutdown": bool, "unread": int, ...} | {"kind": "AppSend", "data": hex}
              | {"kind": "AppAbort"} | {"kind": "Arrival", "segment": segment}
              | {"kind": "Timeout", "timer": name}
    output    {"kind": "Send", "segment": segment} | {"kind": "StartTimer", "timer": name, "duration": int}
              | {"kind": "CancelTimer", "timer": name} | {"kind": "DeliverData", "data": hex}
              | {"kind": "DeliverEOF"} | {"kind": "Error", "message": str}
    step      {"state": name, "outputs": [output, ...], "tcb": tcb | None}
    profile   {"name": str, <every Profile field>: int | bool | None}
    call      {"state": name, "tcb": tcb, "stimulus": stimulus, "profile": profile}

A segment's `incarnation` is the simulator's bookkeeping (it stamps every segment it sends), not
part of the protocol, so it does not cross.
"""

from __future__ import annotations

from .calls import decode_call, decode_profile, decode_step, encode_call, encode_profile, encode_step
from .events import decode_output, decode_stimulus, encode_output, encode_stimulus
from .records import decode_segment, decode_tcb, encode_segment, encode_tcb
from .wire import LIMITS, Limits, PlainError, dumps, loads

__all__ = [
    "LIMITS", "Limits", "PlainError", "dumps", "loads",
    "encode_tcb", "decode_tcb", "encode_segment", "decode_segment",
    "encode_stimulus", "decode_stimulus", "encode_output", "decode_output",
    "encode_step", "decode_step", "encode_profile", "decode_profile", "encode_call", "decode_call",
]  # fmt: skip
