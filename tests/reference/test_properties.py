"""Properties over every loss pattern of up to 3 segments in every catalogue scenario.

The enumeration is exhaustive (no sampling), so a failure names the exact pattern
and `tcpclose simulate NAME --lose A2 --lose B1` replays it. Hypothesis adds random
duplicates and delays with a fixed seed, so these runs are the same every time.
"""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl import scenarios
from reference_impl.profiles import LINUX, RFC9293
from reference_impl.segment import FIN, RST, seq_le
from reference_impl.sim import Fate
from reference_impl.states import State
from reference_impl.trace import starts_connection

PROFILES = [RFC9293, LINUX]


@cache
def runs(profile_name: str) -> list[tuple[str, str, object]]:
    profile = {p.name: p for p in PROFILES}[profile_name]
    out = []
    for name, fates in scenarios.all_patterns(3, profile):
        trace = scenarios.run(name, profile, fates)
        out.append((name, scenarios.pattern_name(fates), trace))
    return out


def clean(name: str) -> bool:
    return scenarios.get(name).closes_cleanly


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_enumeration_is_large_and_distinct(profile):
    patterns = [(n, p) for n, p, _ in runs(profile.name)]
    assert len(patterns) == len(set(patterns)) > 1000


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_with_retries_left_both_ends_reach_closed(profile):
    for name, pattern, trace in runs(profile.name):
        if clean(name):
            assert (trace.final_state("A"), trace.final_state("B")) == (State.CLOSED, State.CLOSED), (name, pattern)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_nothing_but_rst_is_sent_from_closed(profile):
    for name, pattern, trace in runs(profile.name):
        for r in trace.rows:
            if r.event == "send" and r.state_after == State.CLOSED:
                assert RST in r.flags, (name, pattern, r)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_time_wait_lasts_at_least_2_msl_after_the_last_fin_was_acked(profile):
    checked = 0
    for name, pattern, trace in runs(profile.name):
        time_wait = scenarios.get(name).profile(profile).time_wait  # the scenario's own (paws-...: 0)
        for ep in "AB":
            last_ack, fin_arrival = None, None  # fin_arrival: (time, the number just past it)
            for r in trace.at(ep):
                if r.event == "recv" and FIN in r.flags:
                    fin_arrival = (r.time, (r.seq + r.len + 1) % 2**32)
                if r.event == "send" and RST not in r.flags and (r.time, r.ack) == fin_arrival:
                    last_ack = r.time  # this ACK answered a FIN
                if r.event == "timeout" and r.state_before == State.TIME_WAIT:
                    assert last_ack is not None and r.time - last_ack >= time_wait, (
                        name,
                        pattern,
                        ep,
                    )
                    checked += 1
    assert checked > 1000


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_sequence_numbers_never_go_backwards(profile):
    for name, pattern, trace in runs(profile.name):
        for ep in "AB":
            acks, fin_seq = [], None
            for r in trace.at(ep):
                if starts_connection(r):
                    acks, fin_seq = [], None
                if r.event != "send" or RST in r.flags or r.ack is None:  # a SYN acknowledges nothing
                    continue
                acks.append(r.ack)
                if FIN in r.flags:
                    end = r.seq + r.len  # the FIN's own number
                    assert fin_seq in (None, end), (name, pattern, ep, "FIN moved")
                    fin_seq = end
            assert all(seq_le(a, b) for a, b in zip(acks, acks[1:], strict=False)), (name, pattern, ep)


def test_same_inputs_same_trace():
    for name, fates in list(scenarios.all_patterns(2))[::7]:
        a, b = scenarios.run(name, RFC9293, fates), scenarios.run(name, RFC9293, fates)
        assert a.to_csv() == b.to_csv() and a.to_json() == b.to_json()


fates = st.dictionaries(
    st.tuples(st.sampled_from("AB"), st.integers(1, 6)),
    st.one_of(
        st.just(Fate("lose")),
        st.builds(Fate, st.just("duplicate"), st.integers(0, 3_000_000)),
        st.builds(Fate, st.just("delay"), st.integers(0, 3_000_000)),
    ),
    max_size=3,
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(name=st.sampled_from([n for n in scenarios.CATALOGUE if clean(n)]), fates=fates)
def test_duplicates_and_delays_never_wedge_a_clean_close(name, fates):
    trace = scenarios.run(name, RFC9293, fates)
    assert not trace.notes
    for ep in "AB":
        assert trace.final_state(ep) == State.CLOSED
        assert all(RST in r.flags for r in trace.at(ep) if r.event == "send" and r.state_after == State.CLOSED)
