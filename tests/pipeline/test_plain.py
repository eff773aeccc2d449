"""The plain-data codec: every handler call of the reference round-trips exactly, and decoding
refuses anything but exact primitives within bounds, with one sentence saying what is wrong."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder import plain
from autograder.plain import PlainError
from reference_impl import handlers as reference
from reference_impl.profiles import LINUX, RFC9293
from reference_impl.scenarios import CATALOGUE
from reference_impl.segment import ACK, FIN, RST, Flags, Segment
from reference_impl.sim import Simulation
from reference_impl.states import (
    AppAbort,
    AppClose,
    AppSend,
    Arrival,
    CancelTimer,
    DeliverData,
    DeliverEOF,
    Error,
    Send,
    StartTimer,
    State,
    Step,
    Timeout,
    Timer,
)
from reference_impl.tcb import TCB

seqs = st.integers(0, 2**32 - 1)
blobs = st.binary(max_size=64)
tcbs = st.builds(TCB, snd_una=seqs, snd_nxt=seqs, rcv_nxt=seqs, snd_wnd=st.integers(0, 65535),
                 fin_seq=st.none() | seqs, unacked=blobs, retries=st.integers(0, 20), probed=st.booleans(),
                 orphaned=st.booleans(), refuses_data=st.booleans(), srtt=st.integers(0, 10**7))  # fmt: skip
segments = st.builds(Segment, seq=seqs, ack=seqs, flags=st.sampled_from([ACK, FIN | ACK, RST, RST | ACK, Flags.NONE]),
                     payload=blobs, window=st.integers(0, 65535))  # fmt: skip
stimuli = st.one_of(
    st.builds(AppClose, shutdown=st.booleans(), unread=st.integers(0, 100)),
    st.builds(AppSend, blobs),
    st.just(AppAbort()),
    st.builds(Arrival, segments),
    st.builds(Timeout, st.sampled_from(Timer)),
)
outputs = st.one_of(
    st.builds(Send, segments),
    st.builds(StartTimer, st.sampled_from(Timer), st.integers(0, 10**9)),
    st.builds(CancelTimer, st.sampled_from(Timer)),
    st.builds(DeliverData, blobs),
    st.just(DeliverEOF()),
    st.builds(Error, st.text(max_size=40)),
)
steps = st.builds(Step, st.sampled_from(State), st.lists(outputs, max_size=5).map(tuple), st.none() | tcbs)


def wire(obj):
    """Through the bytes a pipe carries, as the runner and the grader exchange them."""
    return plain.loads(plain.dumps(obj))


@given(steps)
def test_any_valid_step_round_trips_exactly(step):
    assert plain.decode_step(wire(plain.encode_step(step))) == step


@given(st.sampled_from(State), tcbs, stimuli, st.sampled_from([RFC9293, LINUX, RFC9293.replace(time_wait=0)]))
def test_any_call_round_trips_exactly(state, tcb, stimulus, profile):
    assert plain.decode_call(wire(plain.encode_call(state, tcb, stimulus, profile))) == (state, tcb, stimulus, profile)


def test_every_reference_call_in_the_catalogue_round_trips():
    calls = []

    def recording(fn):
        def handler(tcb, ev, profile):
            step = fn(tcb, ev, profile)
            calls.append((tcb, ev, profile, step))
            return step

        return handler

    machine = {s: recording(fn) for s, fn in reference.HANDLERS.items()}
    for entry in CATALOGUE.values():
        for base in (RFC9293, LINUX):
            Simulation(entry.scenario, entry.profile(base), {"A": machine, "B": machine}).run()
    assert len(calls) > 200
    for tcb, ev, profile, step in calls:
        assert plain.decode_call(wire(plain.encode_call(State.ESTABLISHED, tcb, ev, profile)))[1:] == (tcb, ev, profile)
        assert plain.decode_step(wire(plain.encode_step(step))) == step


GOOD = plain.encode_step(Step(State.FIN_WAIT_2, (Send(Segment(seq=101, ack=301)), CancelTimer(Timer.RETRANSMIT)),
                              TCB(snd_una=101, snd_nxt=101, rcv_nxt=301, fin_seq=100)))  # fmt: skip


def patched(path: str, value):
    d = json.loads(json.dumps(GOOD))
    *parents, last = path.split(".")
    node = d
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return d


@pytest.mark.parametrize("path, value, says", [
    ("state", "SYN_ACKED", "returned the next state 'SYN_ACKED', which is not a State"),
    ("state", "fin_wait_2", "which is not a State"),
    ("state", 3, "which is not a State"),
    ("tcb.snd_nxt", True, "snd_nxt=True is not a 32-bit sequence number"),
    ("tcb.snd_nxt", 2**32, "snd_nxt=4294967296 is not a 32-bit sequence number (use seq_add)"),
    ("tcb.snd_nxt", -1, "is not a 32-bit sequence number"),
    ("tcb.snd_nxt", 101.0, "snd_nxt=101.0 is not a 32-bit sequence number"),
    ("tcb.orphaned", 1, "orphaned=1, which is not True or False"),
    ("tcb.unacked", "ZZ", "unacked data that is not bytes"),
    ("tcb.unacked", "AB", "unacked data that is not bytes"),
    ("tcb.unacked", "00" * 70_000, "is not bytes of at most 65536"),
    ("tcb.fin_seq", "100", "fin_seq='100' is not a 32-bit sequence number"),
    ("tcb.extra", 1, "a TCB with unknown field 'extra'"),
    ("tcb.srtt", KeyError, "a TCB with no field 'srtt'"),
    ("outputs", {"kind": "Send"}, "outputs that are not a list"),
    ("outputs", [{"kind": "DeliverEOF"}] * 65, "returned 65 outputs (limit 64)"),
    ("outputs.0", {"kind": "Teleport"}, "returned output #1 something which is not an output (Send, StartTimer"),
    ("outputs.0.segment.flags", ["FIN", "URG"], "returned output #1 a segment with impossible flag 'URG'"),
    ("outputs.0.segment.flags", ["FIN", "FIN"], "impossible flags"),
    ("outputs.0.segment.window", 70_000, "window 70000, outside 0..65535"),
    ("outputs.0.segment.seq", None, "seq=None is not a 32-bit sequence number"),
    ("outputs.1.timer", "RETRANSMIT ", "CancelTimer('RETRANSMIT '): the timer must be a Timer"),
    ("outputs.1", {"kind": "StartTimer", "timer": "TIME_WAIT", "duration": -5}, "StartTimer with duration -5: use whole microseconds"),
    ("outputs.1", {"kind": "StartTimer", "timer": "TIME_WAIT", "duration": False}, "StartTimer with duration False"),
    ("outputs.1", {"kind": "Error", "message": "x" * 501}, "an Error message of 501 characters (limit 500)"),
    ("outputs.1", {"kind": "Error", "message": "\ud800"}, "an Error message that is not valid text"),
    ("outputs.1", {"kind": "Error", "message": ["connection reset"]}, "Error with a message that is not a string"),
])  # fmt: skip
def test_decoding_refuses_with_a_sentence(path, value, says):
    with pytest.raises(PlainError) as err:
        plain.decode_step(patched(path, value))
    assert says in err.value.sentence
    assert err.value.sentence.startswith("returned ") and "\n" not in err.value.sentence


@pytest.mark.parametrize("data, says", [
    (b'{"state": NaN}', "not a number the grader accepts"),
    (b'{"state": Infinity}', "not a number the grader accepts"),
    (b"[" * 100_000 + b"]" * 100_000, "larger than the grader accepts"),
    (b"[" * 50_000 + b"]" * 50_000, "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"{'state': 1}", "not valid JSON"),
])  # fmt: skip
def test_the_wire_refuses_what_json_alone_would_take_or_choke_on(data, says):
    with pytest.raises(PlainError, match=says):
        plain.loads(data, plain.Limits(message=150_000))


class Permissive(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class Anything:
    def __eq__(self, other):
        return True


def _bare_step(state, outputs=(), tcb=None):
    """A Step built the way a determined learner could (object.__setattr__ past the dataclass)."""
    step = Step(State.CLOSED)
    for name, value in (("state", state), ("outputs", outputs), ("tcb", tcb)):
        object.__setattr__(step, name, value)
    return step


TCB0 = TCB(snd_una=100, snd_nxt=101, rcv_nxt=300)


@pytest.mark.parametrize("returned, says", [
    (None, "returned None: did you forget `return Step(next_state, outputs, tcb)`?"),
    ((State.CLOSED, []), "returned a tuple; wrap it"),
    ("CLOSED", "returned a str, not a Step"),
    (_bare_step("FIN_WAIT_2"), "returned the next state as the string 'FIN_WAIT_2'; use State.FIN_WAIT_2"),
    (_bare_step(Anything()), "returned Anything as the next state, which is not a State"),
    (_bare_step(State.CLOSED, {"a": 1}), "returned outputs of type dict"),
    (_bare_step(State.CLOSED, [Segment(seq=1)]), "returned output #1 <SEQ=1><ACK=0><CTL=ACK>, a bare Segment"),
    (_bare_step(State.CLOSED, [Anything()]), "returned output #1 Anything, which is not an output"),
    (_bare_step(State.CLOSED, [StartTimer(Timer.TIME_WAIT, Permissive(5))]), "StartTimer with duration Permissive"),
    (_bare_step(State.CLOSED, [StartTimer("TIME_WAIT", 5)]), "the timer must be a Timer"),
    (_bare_step(State.CLOSED, [], TCB0.replace(snd_nxt=Permissive(101))), "snd_nxt=Permissive is not a 32-bit"),
    (_bare_step(State.CLOSED, [], TCB0.replace(orphaned=1)), "orphaned=1, which is not True or False"),
    (_bare_step(State.CLOSED, [], {"snd_nxt": 1}), "returned tcb=dict, not a TCB"),
    (_bare_step(State.CLOSED, [DeliverData("text")]), "DeliverData with data that is not bytes"),
    (_bare_step(State.CLOSED, [Send(Segment(seq=1, payload=b"x" * 70_000))]), "payload of 70000 bytes (limit 65536)"),
])  # fmt: skip
def test_encoding_names_what_the_handler_returned_wrong(returned, says):
    with pytest.raises(PlainError) as err:
        plain.encode_step(returned)
    assert says in err.value.sentence and err.value.sentence.startswith("returned ")


def test_a_subclass_of_step_is_not_a_step():
    class Sneaky(Step):
        pass

    with pytest.raises(PlainError, match="returned a Sneaky, not a Step"):
        plain.encode_step(Sneaky(State.CLOSED))


def test_the_profile_schema_covers_every_profile_field():
    d = plain.encode_profile(LINUX)
    assert plain.decode_profile(d) == LINUX
    assert set(d) == {f for f in LINUX.__slots__}
    with pytest.raises(PlainError, match="rfc1337=0, which is not True or False"):
        plain.decode_profile(d | {"rfc1337": 0})
    with pytest.raises(PlainError, match="delayed_ack='1ms'"):
        plain.decode_profile(d | {"delayed_ack": "1ms"})


def test_a_message_over_the_limit_is_refused_on_both_sides():
    big = {"kind": "Error", "message": "x" * 400}
    with pytest.raises(PlainError, match="too large to send"):
        plain.dumps([big] * 10, plain.Limits(message=1000))
    with pytest.raises(PlainError, match="larger than the grader accepts"):
        plain.loads(b" " * 1001, plain.Limits(message=1000))
