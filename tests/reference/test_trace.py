"""The trace's data contract: CSV columns, DataFrame types, JSON."""

from __future__ import annotations

import csv
import io
import json

import pytest

from reference_impl import scenarios
from reference_impl.handlers import HANDLERS
from reference_impl.script import parse_script
from reference_impl.segment import ACK, FIN, Flags
from reference_impl.sim import simulate
from reference_impl.states import State
from reference_impl.trace import COLUMNS, EventKind, format_time


def test_csv_columns_are_the_contract():
    text = scenarios.run("lost-final-ack").to_csv()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    assert COLUMNS == tuple(
        "time,endpoint,event,state_before,state_after,flags,seq,ack,len,fate,detail,segment".split(",")
    )
    assert {r["endpoint"] for r in rows} == {"A", "B"}
    assert {r["event"] for r in rows} <= set(EventKind)
    assert {r["fate"] for r in rows if r["event"] == "send"} == {"delivered", "lost"}


def test_frame_has_float_seconds_and_nullable_ints():
    df = scenarios.run("active-close").to_frame()
    assert list(df.columns) == list(COLUMNS)
    assert df["time"].max() == 240.06
    assert str(df["seq"].dtype) == "Int64"
    assert df[df.event == "send"]["seq"].tolist() == [100, 300, 300, 101]


def test_json_round_trips_the_rows():
    t = scenarios.run("simultaneous-close")
    doc = json.loads(t.to_json())
    assert doc["scenario"] == "simultaneous-close" and len(doc["rows"]) == len(t.rows)


def test_time_format_is_exact():
    assert [format_time(us) for us in (0, 10_000, 240_060_000, 1)] == ["0", "0.01", "240.06", "0.000001"]


def test_a_row_read_back_takes_the_one_event_vocabulary():
    """A row built from CSV, JSON or a frame holds an EventKind; an event outside the vocabulary is one sentence."""
    from reference_impl.trace import Row

    assert Row(0, "A", "recv", "FIN_WAIT_1", "FIN_WAIT_2").event is EventKind.RECV
    with pytest.raises(ValueError, match="unknown trace event 'receive'"):
        Row(0, "A", "receive", "FIN_WAIT_1", "FIN_WAIT_2")


def test_a_row_holds_states_and_flags_and_reads_their_text_back():
    """States and flags are types inside a row and text only in CSV, JSON and frames; a row built
    from that text holds the same types again, and an unknown value is one sentence."""
    from reference_impl.trace import Row

    trace = scenarios.run("lost-final-ack")
    send = next(r for r in trace.rows if r.event == "send")
    assert (send.state_before, send.flags) == (State.FIN_WAIT_1, FIN | ACK)
    assert next(r for r in trace.rows if r.event == "close").flags is None  # no segment, not Flags.NONE
    ints = ("seq", "ack", "len")
    for text, row in zip(csv.DictReader(io.StringIO(trace.to_csv())), trace.rows, strict=True):
        back = {
            k: (int(v) if v else None) if k in ints else v or (None if k == "segment" else v) for k, v in text.items()
        }
        assert Row(**{**back, "time": row.time}) == row
    assert Row(0, "A", "recv", "TIME_WAIT", "TIME_WAIT", "", seq=5).flags is Flags.NONE  # a segment without bits
    assert Row(0, "A", "timer", "TIME_WAIT", "TIME_WAIT", "").flags is None
    with pytest.raises(ValueError, match="unknown trace state 'FIN_WAIT_3' in state_after"):
        Row(0, "A", "recv", "FIN_WAIT_1", "FIN_WAIT_3")
    with pytest.raises(ValueError, match="unknown trace flags 'FIN|PSH'"):
        Row(0, "A", "recv", "FIN_WAIT_1", "FIN_WAIT_2", "FIN|PSH", seq=1)


def test_each_segment_row_carries_its_id_from_send_to_arrival():
    """The id is the sender and its ordinal ("A3", the key `--lose A3` names); a duplicated
    segment's two arrivals carry it twice, a lost one's send alone; injected ones are X1, X2, ..."""
    for name in ("active-close", "lost-final-ack", "duplicate-fin-in-time-wait", "old-duplicate-after-reuse"):
        trace = scenarios.run(name)
        sent = {"A": 0, "B": 0}
        for r in trace.rows:
            assert (r.segment is not None) == (r.event in ("send", "recv")), (name, r)
            if r.event == "send":
                sent[r.endpoint] += 1
                assert r.segment == f"{r.endpoint}{sent[r.endpoint]}"
                arrivals = [x for x in trace.rows if x.event == "recv" and x.segment == r.segment]
                assert len(arrivals) == {"lost": 0, "duplicated": 2}.get(r.fate, 1), (name, r)
                assert all(x.endpoint != r.endpoint and (x.seq, x.flags) == (r.seq, r.flags) for x in arrivals)
    script = parse_script("0 A close\n1s A receives RST seq=301\n2s A receives RST seq=301\n")
    injected = [r for r in simulate(script.scenario, script.profile, HANDLERS).rows if "injected" in r.detail]
    assert [r.segment for r in injected] == ["X1", "X2"]
