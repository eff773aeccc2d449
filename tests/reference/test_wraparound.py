"""Sequence numbers wrap at 2**32: every scenario behaves the same with ISNs at the edge."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reference_impl import scenarios
from reference_impl.handlers import HANDLERS
from reference_impl.segment import MOD, RST, seq_diff, seq_lt
from reference_impl.sim import Reopen, simulate

# Shift A's numbers so its FIN sits on 2**32 - 1 (snd_nxt wraps to 0 after it), and B's too.
DA, DB = MOD - 1 - 100, MOD - 1 - 300


def shifted(sc):
    actions = tuple(
        replace(a, call=replace(a.call, iss_a=(a.call.iss_a + DA) % MOD, iss_b=(a.call.iss_b + DB) % MOD))
        if isinstance(a.call, Reopen)
        else a
        for a in sc.actions
    )
    return replace(sc, iss_a=(sc.iss_a + DA) % MOD, iss_b=(sc.iss_b + DB) % MOD, actions=actions)


def test_seq_comparison_across_the_wrap():
    assert seq_lt(MOD - 1, 0) and seq_lt(MOD - 10, 5) and not seq_lt(5, MOD - 10)
    assert seq_diff(3, MOD - 2) == 5


@pytest.mark.parametrize("name", list(scenarios.CATALOGUE))
def test_scenario_is_the_same_across_the_wrap(name):
    entry = scenarios.get(name)
    plain = simulate(entry.scenario, entry.profile(), HANDLERS)
    wrapped = simulate(shifted(entry.scenario), entry.profile(), HANDLERS)
    assert len(plain.rows) == len(wrapped.rows)
    for p, w in zip(plain.rows, wrapped.rows, strict=True):
        assert (p.time, p.endpoint, p.event, p.state_before, p.state_after, p.flags) == (
            w.time, w.endpoint, w.event, w.state_before, w.state_after, w.flags,
        )  # fmt: skip
        if p.seq is None:
            continue
        sender = p.endpoint if p.event == "send" else ("B" if p.endpoint == "A" else "A")
        own, peer = (DA, DB) if sender == "A" else (DB, DA)
        if not (p.seq == 0 and RST in p.flags):
            assert w.seq == (p.seq + own) % MOD, (name, p, w)
        if p.ack is not None and RST not in p.flags:
            assert w.ack == (p.ack + peer) % MOD, (name, p, w)
    assert any(r.seq is not None and r.seq > MOD - 400 for r in wrapped.rows)
