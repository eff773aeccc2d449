"""Reading a trace as a picture: normalising inputs, pairing sends with arrivals, timers."""

from __future__ import annotations

import io
from dataclasses import replace

import pandas as pd
import pytest

from autograder.views.model import events_of, initial_states, state_at
from autograder.views.pairing import pair_flights, timer_brackets
from reference_impl import scenarios
from reference_impl.profiles import LINUX, RFC9293
from reference_impl.segment import ACK
from reference_impl.sim import Fate, simulate
from reference_impl.trace import COLUMNS


def test_frame_and_trace_read_the_same(lost_final_ack):
    assert events_of(lost_final_ack.to_frame()) == events_of(lost_final_ack)


def test_csv_read_back_reads_the_same(lost_final_ack):
    frame = pd.read_csv(io.StringIO(lost_final_ack.to_csv()))
    assert events_of(frame) == events_of(lost_final_ack)


def test_frame_missing_columns_is_a_value_error_naming_them(active_close):
    frame = active_close.to_frame().drop(columns=["fate", "detail"])
    with pytest.raises(ValueError, match="fate, detail"):
        events_of(frame)


def test_each_delivered_send_pairs_with_one_arrival(active_close):
    flights = pair_flights(events_of(active_close))
    assert [len(f.recvs) for f in flights] == [1, 1, 1, 1]
    assert all(f.send.time < f.recvs[0].time for f in flights)


def test_lost_segment_has_no_arrival_and_the_retransmission_gets_it(lost_final_ack):
    flights = pair_flights(events_of(lost_final_ack))
    lost = [f for f in flights if f.fate == "lost"]
    assert len(lost) == 1 and lost[0].recvs == [] and lost[0].send.endpoint == "A"
    # both copies of A's final ACK have the same fields; only the second arrives, at 1.07 s
    acks = [f for f in flights if f.send.endpoint == "A" and f.send.flags == ACK]
    assert [r.time for f in acks for r in f.recvs] == [1_070_000]


def test_duplicated_segment_pairs_with_two_arrivals(duplicate_fin):
    dup = [f for f in pair_flights(events_of(duplicate_fin)) if f.fate == "duplicated"]
    assert len(dup) == 1 and [r.time for r in dup[0].recvs] == [60_000, 160_000]


def test_arrival_without_its_send_is_an_orphan_flight(active_close):
    only_b = [r for r in active_close.rows if r.endpoint == "B"]
    flights = pair_flights(events_of(only_b))
    orphans = [f for f in flights if f.send is None]
    assert len(orphans) == 2 and all(f.sender == "A" for f in orphans)


def _drawn(events):
    """Each flight as the views draw it: (its send's row, its arrivals' rows)."""
    return [(f.send and f.send.index, [r.index for r in f.recvs]) for f in pair_flights(events)]


@pytest.mark.parametrize("profile", [RFC9293, LINUX], ids=lambda p: p.name)
def test_pairing_by_id_draws_every_catalogue_run_as_pairing_by_fields_did(profile):
    """The simulator's segment ids pair sends with arrivals; in every catalogue run they pair them
    as the guess by (flags, seq, ack, len) did, which is what a trace without ids still gets."""
    for name in scenarios.CATALOGUE:
        events = events_of(scenarios.run(name, profile))
        assert all(e.segment for e in events if e.event in ("send", "recv")), name
        assert _drawn(events) == _drawn([replace(e, segment=None) for e in events]), name


def test_pairing_by_id_gets_right_an_arrival_the_fields_guessed_wrong():
    """A delayed ACK overtaken by a later copy of itself: the fields pair each send with the first
    arrival (the later copy's), the ids with its own (A2, delayed 300 ms, arrives after A4)."""
    entry = scenarios.get("late-acks-in-time-wait")
    fates = {**entry.scenario.fates, ("A", 1): Fate("lose")}
    trace = simulate(entry.scenario.with_fates(fates), entry.profile(LINUX), scenarios.reference_machine())
    events = events_of(trace)
    a2 = next(f for f in pair_flights(events) if f.send is not None and f.send.segment == "A2")
    assert [(r.time, r.segment) for r in a2.recvs] == [(320_000, "A2")] and "delayed 300 ms" in a2.recvs[0].detail
    guessed = {s: r for s, r in _drawn([replace(e, segment=None) for e in events])}
    assert [events[i].segment for i in guessed[a2.send.index]] == ["A4"]


def test_a_trace_written_before_segment_ids_reads_back_without_them(lost_final_ack):
    old = "\n".join(line.rsplit(",", 1)[0] for line in lost_final_ack.to_csv().splitlines()) + "\n"
    assert old.splitlines()[0].split(",") == list(COLUMNS[:-1])
    events = events_of(pd.read_csv(io.StringIO(old)))
    assert [e.segment for e in events] == [None] * len(lost_final_ack.rows)
    assert [replace(e, segment=None) for e in events_of(lost_final_ack)] == events
    assert _drawn(events) == _drawn(events_of(lost_final_ack))


def test_timer_brackets_end_by_cancel_expiry_restart_and_close(lost_final_ack):
    hows = {(b.endpoint, b.timer, b.how) for b in timer_brackets(events_of(lost_final_ack))}
    assert ("A", "RETRANSMIT", "cancel") in hows
    assert ("A", "TIME_WAIT", "restart") in hows and ("A", "TIME_WAIT", "expired") in hows
    assert ("B", "RETRANSMIT", "expired") in hows and ("B", "RETRANSMIT", "closed") in hows


def test_state_at_each_step_follows_the_trace():
    evs = events_of(scenarios.run("simultaneous-close"))
    assert initial_states(evs) == {"A": "ESTABLISHED", "B": "ESTABLISHED"}
    assert state_at(evs, len(evs) - 1) == {"A": "CLOSED", "B": "CLOSED"}
    assert state_at(evs, 6)["B"] == "CLOSING"


def test_a_missing_action_is_marked_at_its_moment_in_both_runs():
    """A TIME_WAIT that forgets to restart its timer on the FIN sent again: both runs are marked at A's
    1.06 s, where the reference restarts it, not at the learner's next row (B's, 10 ms later)."""
    import dataclasses

    from autograder.views.side_by_side import first_difference
    from reference_impl.states import Arrival, StartTimer, State, Timer

    table = dict(scenarios.reference_machine())

    def forgetful(tcb, ev, profile):
        step = table[State.TIME_WAIT](tcb, ev, profile)
        if isinstance(ev, Arrival):
            kept = tuple(o for o in step.outputs if not (isinstance(o, StartTimer) and o.timer is Timer.TIME_WAIT))
            step = dataclasses.replace(step, outputs=kept)
        return step

    mine = events_of(scenarios.run("lost-final-ack", machine={**table, State.TIME_WAIT: forgetful}))
    reference = events_of(scenarios.run("lost-final-ack"))
    i, j = first_difference(mine, reference)
    a = next(e for e in mine if e.index == i)
    b = next(e for e in reference if e.index == j)
    assert (a.endpoint, a.time) == (b.endpoint, b.time) == ("A", 1_060_000), (a, b)


def test_two_segments_sent_in_the_other_order_are_a_difference_other_outputs_are_not():
    """The checks compare the segments one call sends in order, and its other outputs as a set:
    the picture marks the same differences."""
    from autograder.views.side_by_side import first_difference
    from reference_impl.trace import EventKind

    reference = events_of(scenarios.run("simultaneous-close-with-data"))
    sends = [k for k, e in enumerate(reference) if (e.time, e.endpoint, e.event) == (0, "A", EventKind.SEND)]
    assert len(sends) == 2, sends
    swapped = list(reference)
    k, m = sends
    swapped[k], swapped[m] = (
        replace(reference[m], index=reference[k].index),
        replace(reference[k], index=reference[m].index),
    )
    assert first_difference(swapped, reference) == (reference[k].index, reference[k].index)
    others = [k for k, e in enumerate(reference) if e.event != EventKind.SEND]
    k, m = next((k, m) for k, m in zip(others, others[1:], strict=False)
                if (reference[k].time, reference[k].endpoint) == (reference[m].time, reference[m].endpoint)
                and reference[k] != reference[m])  # fmt: skip
    reordered = list(reference)
    reordered[k], reordered[m] = (
        replace(reference[m], index=reference[k].index),
        replace(reference[k], index=reference[m].index),
    )
    assert first_difference(reordered, reference) is None


def test_two_profiles_part_where_they_act_differently_not_where_a_timer_that_never_fires_differs():
    """linux beside rfc9293 in close-with-unread-data: B's RETRANSMIT (220 ms beside 1 s) never fires,
    so the runs part where A's close() resets (0.05 s), as the notebook says; A's TIME_WAIT (0 s
    beside 240 s) fires, so there the timer itself is where they part."""
    from autograder.views.side_by_side import first_difference
    from reference_impl.trace import EventKind

    def parted(name, one, other, timers):
        a, b = events_of(scenarios.run(name, one)), events_of(scenarios.run(name, other))
        i, j = first_difference(a, b, timers=timers)
        return next(e for e in a if e.index == i), next(e for e in b if e.index == j)

    linux, rfc = parted("close-with-unread-data", LINUX, RFC9293, timers=False)
    assert (linux.time, linux.endpoint, linux.event, linux.after) == (50_000, "A", EventKind.CLOSE, "CLOSED")
    assert (rfc.time, rfc.endpoint, rfc.after) == (50_000, "A", "FIN_WAIT_1")
    compared = parted("close-with-unread-data", LINUX, RFC9293, timers=True)
    assert [(e.time, e.event) for e in compared] == [(0, EventKind.TIMER)] * 2
    for name in ("old-duplicate-after-reuse", "lost-final-ack"):  # marked on the same row in both (readers saw
        zero, rfc = parted(name, RFC9293.replace(time_wait=0), RFC9293, timers=False)  # TIME_WAIT beside EOF)
        assert (zero.detail, rfc.detail) == ("start TIME_WAIT 0 s", "start TIME_WAIT 240 s"), name
