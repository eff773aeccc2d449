"""The trace's data contract: CSV columns, DataFrame types, JSON."""

from __future__ import annotations

import csv
import io
import json

import pytest

from reference_impl import scenarios
from reference_impl.trace import COLUMNS, EventKind, format_time


def test_csv_columns_are_the_contract():
    text = scenarios.run("lost-final-ack").to_csv()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    assert COLUMNS == tuple("time,endpoint,event,state_before,state_after,flags,seq,ack,len,fate,detail".split(","))
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
