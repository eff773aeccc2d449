"""Fixtures that put an endpoint in each closing state, built on each other (smoltcp style).

LOCAL is our next sequence number when the close starts, REMOTE the peer's; every
expected number below reads as LOCAL + 1 (our FIN) or REMOTE + 1 (theirs).
"""

from __future__ import annotations

import pytest

from reference_impl.handlers import handle
from reference_impl.profiles import RFC9293, Profile
from reference_impl.segment import ACK, FIN, Flags, Segment
from reference_impl.states import AppClose, Arrival, State, Step, Stimulus
from reference_impl.tcb import TCB

LOCAL, REMOTE = 100, 300
P = RFC9293


class Endpoint:
    """One endpoint driven by hand: feed stimuli, read what comes out."""

    def __init__(self, state: State, tcb: TCB, profile: Profile = P) -> None:
        self.state, self.tcb, self.profile = state, tcb, profile

    def feed(self, ev: Stimulus) -> Step:
        step = handle(self.state, self.tcb, ev, self.profile)
        self.state = step.state
        self.tcb = step.tcb if step.tcb is not None else self.tcb
        return step

    def recv(
        self, seq: int, ack: int | None = None, flags: Flags = ACK, payload: bytes = b"", window: int = 65535
    ) -> Step:
        return self.feed(Arrival(Segment(seq=seq, ack=ack or 0, flags=flags, payload=payload, window=window)))


def seg(seq: int, ack: int, flags: Flags = ACK, payload: bytes = b"", window: int = 65535) -> Segment:
    return Segment(seq=seq, ack=ack, flags=flags, payload=payload, window=window)


def make_established(profile: Profile = P, local: int = LOCAL, remote: int = REMOTE) -> Endpoint:
    return Endpoint(State.ESTABLISHED, TCB.established(local, remote), profile)


def make_fin_wait_1(profile: Profile = P) -> Endpoint:
    ep = make_established(profile)
    ep.feed(AppClose())
    assert ep.state is State.FIN_WAIT_1
    return ep


def make_fin_wait_2(profile: Profile = P) -> Endpoint:
    ep = make_fin_wait_1(profile)
    ep.recv(REMOTE, LOCAL + 1)
    assert ep.state is State.FIN_WAIT_2
    return ep


def make_closing(profile: Profile = P) -> Endpoint:
    ep = make_fin_wait_1(profile)
    ep.recv(REMOTE, LOCAL, FIN | ACK)  # their FIN, not acknowledging ours
    assert ep.state is State.CLOSING
    return ep


def make_time_wait(profile: Profile = P) -> Endpoint:
    ep = make_fin_wait_2(profile)
    ep.recv(REMOTE, LOCAL + 1, FIN | ACK)
    assert ep.state is State.TIME_WAIT
    return ep


def make_close_wait(profile: Profile = P) -> Endpoint:
    ep = make_established(profile)
    ep.recv(REMOTE, LOCAL, FIN | ACK)
    assert ep.state is State.CLOSE_WAIT
    return ep


def make_last_ack(profile: Profile = P) -> Endpoint:
    ep = make_close_wait(profile)
    ep.feed(AppClose())
    assert ep.state is State.LAST_ACK
    return ep


# The opening states (reference_impl.opening): A's new connection starts at NEW_A, B's at NEW_B.
NEW_A, NEW_B = 1100, 1300


def make_syn_sent(profile: Profile = P) -> Endpoint:
    """A after connect(): its SYN <SEQ=NEW_A> is out."""
    from reference_impl.reuse import open_active

    step = open_active(TCB(snd_una=NEW_A, snd_nxt=NEW_A, rcv_nxt=0), profile)
    return Endpoint(step.state, step.tcb, profile)


def make_listen(profile: Profile = P) -> Endpoint:
    return Endpoint(State.LISTEN, TCB(snd_una=NEW_B, snd_nxt=NEW_B, rcv_nxt=0), profile)


def make_syn_received(profile: Profile = P) -> Endpoint:
    """B after A's SYN <SEQ=NEW_A>: its SYN,ACK <SEQ=NEW_B><ACK=NEW_A+1> is out."""
    ep = make_listen(profile)
    ep.recv(NEW_A, 0, Flags.SYN)
    assert ep.state is State.SYN_RECEIVED
    return ep


@pytest.fixture
def established() -> Endpoint:
    return make_established()


@pytest.fixture
def fin_wait_1() -> Endpoint:
    return make_fin_wait_1()


@pytest.fixture
def fin_wait_2() -> Endpoint:
    return make_fin_wait_2()


@pytest.fixture
def closing() -> Endpoint:
    return make_closing()


@pytest.fixture
def time_wait() -> Endpoint:
    return make_time_wait()


@pytest.fixture
def close_wait() -> Endpoint:
    return make_close_wait()


@pytest.fixture
def last_ack() -> Endpoint:
    return make_last_ack()
