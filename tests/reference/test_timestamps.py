"""Timestamps and PAWS (RFC 7323): stamped by the stack, checked before a state's handler."""

from __future__ import annotations

from conftest import make_established, make_time_wait

from reference_impl import scenarios
from reference_impl.profiles import LINUX, RFC9293
from reference_impl.segment import ACK, RST, Segment
from reference_impl.states import Send, StartTimer, State, Timer
from reference_impl.timestamps import clock, paws_rejects, recent, refuse, stamp


def test_the_clock_ticks_in_milliseconds_from_one():
    assert [clock(t) for t in (0, 999, 1000, 30_010_000)] == [1, 1, 2, 30_011]


def test_every_segment_but_an_rst_carries_tsval_and_echoes_ts_recent():
    seg = stamp(Segment(seq=1, ack=2), 5000, 77)
    assert (seg.tsval, seg.tsecr) == (6, 77)
    assert stamp(Segment(seq=1, ack=0, flags=RST), 5000, 77).tsval is None
    assert seg == Segment(seq=1, ack=2)  # a handler sees the same segment: the option is the stack's


def test_paws_refuses_an_older_timestamp_but_never_an_rst():
    assert paws_rejects(Segment(seq=1, ack=2, tsval=9), 10)
    assert not paws_rejects(Segment(seq=1, ack=2, tsval=10), 10)
    assert not paws_rejects(Segment(seq=1, ack=2, flags=RST | ACK, tsval=9), 10)  # "RST ... accepted"
    assert not paws_rejects(Segment(seq=1, ack=2, tsval=9), None)  # no TS.Recent yet
    assert not paws_rejects(Segment(seq=1, ack=2), 10)  # no option
    assert paws_rejects(Segment(seq=1, ack=2, tsval=2**32 - 5), 3)  # timestamps wrap like sequence numbers


def test_ts_recent_follows_an_acceptable_segment_at_or_before_rcv_nxt():
    tcb = make_established().tcb  # RCV.NXT = 300
    assert recent(Segment(seq=300, ack=100, tsval=50), tcb, 40, RFC9293) == 50
    assert recent(Segment(seq=310, ack=100, tsval=50), tcb, 40, RFC9293) == 40  # past Last.ACK.sent
    assert recent(Segment(seq=300, ack=100, tsval=30), tcb, 40, RFC9293) == 40  # older
    assert recent(Segment(seq=300 + 70000, ack=100, tsval=50), tcb, 40, RFC9293) == 40  # not acceptable


def test_linux_takes_ts_recent_only_from_a_segment_whose_ack_is_valid():
    # tcp_ack() updates TS.Recent after checking the ACK: a crafted FIN with SEG.ACK past SND.NXT and a
    # far-future TSval would otherwise make PAWS refuse every real segment after it (packetdrill
    # gtests/net/tcp/ts_recent/invalid_ack.pkt). RFC 7323 R3 takes it from any acceptable segment.
    tcb = make_established().tcb  # SND.UNA = SND.NXT = 100, RCV.NXT = 300
    bogus = Segment(seq=300, ack=100 + 9998, tsval=200_000)
    assert recent(bogus, tcb, 40, RFC9293) == 200_000
    assert recent(bogus, tcb, 40, LINUX) == 40
    assert recent(Segment(seq=300, ack=100, tsval=50), tcb, 40, LINUX) == 50  # a valid ACK
    assert recent(Segment(seq=300, ack=0, flags=RST, tsval=50), tcb, 40, LINUX) == 40


def test_refusing_acknowledges_and_linux_re_arms_time_wait():
    tw = make_time_wait(LINUX)
    assert refuse(State.TIME_WAIT, tw.tcb, LINUX).outputs == (
        Send(tw.tcb.ack()),
        StartTimer(Timer.TIME_WAIT, LINUX.time_wait),
    )
    assert refuse(State.TIME_WAIT, tw.tcb, RFC9293).outputs == (Send(tw.tcb.ack()),)


def test_timestamps_are_the_profiles():
    assert (RFC9293.timestamps, LINUX.timestamps) == (False, True)
    rows = scenarios.run("active-close", LINUX).rows
    assert not [r for r in rows if "PAWS" in r.detail]  # in order, nothing is refused
    assert (
        scenarios.run("active-close", LINUX).to_csv()
        == scenarios.run("active-close", LINUX.replace(timestamps=False)).to_csv()
    )
