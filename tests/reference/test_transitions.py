"""The transition table and the handlers agree, both ways."""

from __future__ import annotations

from functools import cache

from reference_impl import scenarios
from reference_impl.profiles import LINUX, RFC9293
from reference_impl.states import State
from reference_impl.transitions import TRANSITIONS, edges

VARIANTS = [RFC9293, LINUX, RFC9293.replace(rfc1337=True), RFC9293.replace(time_wait=0)]


@cache
def observed() -> set[tuple[str, str, str]]:
    seen: set = set()
    for profile in VARIANTS:
        for name, fates in scenarios.all_patterns(2, profile):
            seen |= edges(scenarios.run(name, profile, fates).rows)
    return seen


def test_every_transition_taken_is_in_the_table():
    table = {(t.state, t.event, t.next_state) for t in TRANSITIONS}
    assert observed() - table == set()


def test_every_row_of_the_table_is_taken_by_some_run():
    table = {(t.state, t.event, t.next_state) for t in TRANSITIONS}
    # abort in CLOSING/LAST_ACK/TIME_WAIT and retry limits there need calls no catalogue
    # scenario makes; they are covered one by one in test_handlers.py.
    by_hand = {
        ("CLOSING", "abort", "CLOSED"), ("TIME_WAIT", "abort", "CLOSED"), ("LAST_ACK", "abort", "CLOSED"),
        ("FIN_WAIT_2", "abort", "CLOSED"), ("CLOSE_WAIT", "abort", "CLOSED"), ("FIN_WAIT_1", "abort", "CLOSED"),
        ("LAST_ACK", "timeout RETRANSMIT", "CLOSED"),
        ("CLOSING", "timeout RETRANSMIT", "CLOSED"), ("CLOSE_WAIT", "close", "CLOSED"),
        ("FIN_WAIT_1", "RST", "CLOSED"), ("FIN_WAIT_2", "RST", "CLOSED"), ("CLOSING", "RST", "CLOSED"),
        ("LAST_ACK", "RST", "CLOSED"), ("ESTABLISHED", "RST", "CLOSED"),
        # the opening states, each in test_opening.py
        ("LISTEN", "close", "CLOSED"), ("LISTEN", "abort", "CLOSED"), ("SYN_SENT", "close", "CLOSED"),
        ("SYN_SENT", "abort", "CLOSED"), ("SYN_SENT", "RST", "CLOSED"), ("SYN_RECEIVED", "RST", "LISTEN"),
        ("SYN_RECEIVED", "abort", "CLOSED"), ("SYN_RECEIVED", "timeout RETRANSMIT", "CLOSED"),
    }  # fmt: skip
    assert by_hand <= table
    assert table - observed() - by_hand == set()


def test_table_names_only_real_states():
    names = {s.name for s in State}
    assert all(t.state in names and t.next_state in names for t in TRANSITIONS)


def test_what_the_application_hears_on_a_reset_is_what_the_handlers_say():
    from conftest import (
        make_close_wait,
        make_closing,
        make_established,
        make_fin_wait_1,
        make_fin_wait_2,
        make_last_ack,
        make_syn_received,
        make_syn_sent,
        make_time_wait,
    )

    from reference_impl.segment import ACK, RST
    from reference_impl.states import Error

    makers = {"ESTABLISHED": make_established, "FIN_WAIT_1": make_fin_wait_1, "FIN_WAIT_2": make_fin_wait_2,
              "CLOSING": make_closing, "TIME_WAIT": make_time_wait, "CLOSE_WAIT": make_close_wait,
              "LAST_ACK": make_last_ack, "SYN_SENT": make_syn_sent, "SYN_RECEIVED": make_syn_received}  # fmt: skip
    for t in (t for t in TRANSITIONS if t.event == "RST"):
        ep = makers[t.state]()
        # In SYN_SENT an RST counts when it acknowledges the SYN (RFC 9293 §3.10.7.3); elsewhere at RCV.NXT.
        step = ep.recv(0, ep.tcb.snd_nxt, RST | ACK) if t.state == "SYN_SENT" else ep.recv(ep.tcb.rcv_nxt, 0, RST)
        assert step.state.name == t.next_state
        heard = [o.message for o in step.outputs if isinstance(o, Error)]
        assert heard == ([t.tells] if t.tells else []), t


def test_the_rst_of_a_close_that_ends_reading_is_the_rfcs_not_a_linux_difference():
    # RFC 9293 §3.6.1 SHLD-3 (from RFC 1122 §4.2.2.13): every major stack's close() does it; the
    # notebooks and the diagram read these rows, so none may call it a Linux departure.
    rows = [t for t in TRANSITIONS if t.sends == "RST" and ("unread" in t.condition or "after close()" in t.condition)]
    assert len(rows) == 6
    assert all(t.rfc == "RFC 9293 §3.6.1 (SHLD-3)" and not t.condition.startswith("linux") for t in rows)
