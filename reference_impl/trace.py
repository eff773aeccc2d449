"""A Trace: one row per thing that happens at an endpoint, in virtual time.

The CSV columns are a data contract shared with the checks, the views and the
kernel cross-check: time,endpoint,event,state_before,state_after,flags,seq,ack,len,fate,detail,segment
(`segment`, the segment's id, came last and later: a reader takes a file without it).

A row holds types (EventKind, State, Flags); they become text only where a trace is written
out (CSV, JSON, a pandas frame), and text read back becomes types again (Row.__post_init__).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from numbers import Integral
from typing import TYPE_CHECKING

from .segment import Flags
from .states import State
from .states import format_time as format_time  # re-exported: traces' time column, as every writer spells it

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = (
    "time", "endpoint", "event", "state_before", "state_after",
    "flags", "seq", "ack", "len", "fate", "detail", "segment",
)  # fmt: skip
# Columns a trace written before they existed lacks; readers take such a trace (its rows' ids are None).
LATER_COLUMNS = ("segment",)


class EventKind(StrEnum):
    """What a trace row records: the one vocabulary the simulator writes and the checks, views and
    exports read. A member is its own string ("recv"), so CSV, JSON and frames carry the names."""

    CLOSE = "close"  # the application's close() (or shutdown())
    WRITE = "write"  # the application's send(): data handed to TCP
    ABORT = "abort"  # the application's abort
    SEND = "send"  # a segment left this endpoint (its fate: delivered, lost, ...)
    RECV = "recv"  # a segment arrived and the state's handler took it
    TIMEOUT = "timeout"  # a timer fired
    TIMER = "timer"  # a timer started or was cancelled
    DELIVER = "deliver"  # data or EOF handed to the application
    ERROR = "error"  # an error reported to the application
    REOPEN = "reopen"  # a new incarnation of the 4-tuple
    READ = "read"  # the application read its buffer and the receive window opened (detail RCV.WND=n)


# The application's calls, as rows name them.
APP_CALLS = frozenset({EventKind.CLOSE, EventKind.WRITE, EventKind.ABORT})


@dataclass(frozen=True, slots=True)
class Row:
    """One thing that happened at an endpoint.

    flags: the segment's control bits on a segment's row (send, recv), None on any other row.
    None rather than Flags.NONE, because a segment may carry no control bit at all (a crafted one)
    and its row is still a segment's row; seq and len are None exactly when flags is. The text
    forms write both as "", so "" read back is Flags.NONE on a row with a seq, None without.

    segment: the segment's id on each of its rows (its send, each arrival, a lost one's send
    too): the sender and its ordinal among that endpoint's segments, counting from 1 over the
    whole run, reopened connections included ("A3", the key a fate names it by: `--lose A3`); a
    segment injected from outside the two endpoints (reference_impl.inputs.Inject) is "X" and its
    ordinal among the run's injected ones ("X1"). None on other rows, and in a trace that never
    had ids (a file written before the column existed).
    """

    time: int  # virtual microseconds
    endpoint: str  # "A" (client) or "B" (server)
    event: EventKind
    state_before: State
    state_after: State
    flags: Flags | None = None
    seq: int | None = None
    ack: int | None = None
    len: int | None = None
    fate: str = ""
    detail: str = ""
    segment: str | None = None

    def __post_init__(self) -> None:
        # A row read back from CSV, JSON or a frame holds text: make it the types again.
        if not isinstance(self.event, EventKind):
            try:
                object.__setattr__(self, "event", EventKind(self.event))
            except ValueError:
                raise ValueError(f"unknown trace event {self.event!r} (one of {', '.join(EventKind)})") from None
        for name in ("state_before", "state_after"):
            v = getattr(self, name)
            if not isinstance(v, State):
                try:
                    object.__setattr__(self, name, State(v))
                except ValueError:
                    names = ", ".join(map(str, State))
                    raise ValueError(f"unknown trace state {v!r} in {name} (one of {names})") from None
        if self.flags is not None and not isinstance(self.flags, Flags):
            object.__setattr__(self, "flags", read_flags(self.flags, self.seq))
        if self.segment is not None and (not isinstance(self.segment, str) or not self.segment):
            object.__setattr__(self, "segment", read_segment_id(self.segment))

    @property
    def seconds(self) -> float:
        return self.time / 1_000_000

    @property
    def flags_text(self) -> str:
        """The flags as the trace writes them: "FIN|ACK", "" on a row without a segment."""
        return "" if self.flags is None else str(self.flags)

    def record(self) -> dict[str, object]:
        """The row as the contract's columns hold it: text for states and flags, None for no number."""
        return {
            "time": self.time, "endpoint": self.endpoint, "event": self.event,
            "state_before": str(self.state_before), "state_after": str(self.state_after),
            "flags": self.flags_text, "seq": self.seq, "ack": self.ack, "len": self.len,
            "fate": self.fate, "detail": self.detail, "segment": self.segment,
        }  # fmt: skip


def read_flags(v: object, seq: object) -> Flags | None:
    """A flags column read back: from text ("FIN|ACK"; "" is Flags.NONE on a segment's row, one with
    a `seq`, and None on another), a number, or a frame's missing value (None)."""
    if v is None or isinstance(v, Flags):
        return v
    if isinstance(v, Integral) and not isinstance(v, bool):
        return Flags(int(v))
    if not isinstance(v, str):  # a frame's missing value (NaN, pd.NA)
        return None
    if not v.strip():
        return Flags.NONE if isinstance(seq, Integral) else None
    try:
        return Flags.parse(v)
    except ValueError:
        raise ValueError(f"unknown trace flags {v!r} (FIN, SYN, RST and ACK, joined by |)") from None


def read_segment_id(v: object) -> str | None:
    """A segment id read back: "" or a frame's missing value is no id."""
    return None if v == "" or not isinstance(v, str) else v


def starts_connection(row: Row) -> bool:
    """Whether the endpoint begins a new connection of the 4-tuple at this row: its OPEN (a reopen
    row leaving CLOSED), or a SYN that reopened its TIME_WAIT."""
    if row.event == EventKind.REOPEN:
        return row.state_before is State.CLOSED and row.state_after is not State.CLOSED
    return row.event == EventKind.RECV and row.state_before is State.TIME_WAIT and row.state_after is State.SYN_RECEIVED


@dataclass
class Trace:
    rows: list[Row] = field(default_factory=list)
    scenario: str = ""
    profile: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. "stopped at the event limit"
    unapplied: list[tuple[str, str, str]] = field(default_factory=list)  # fates no segment met: (kind, segment, why)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def at(self, endpoint: str) -> list[Row]:
        return [r for r in self.rows if r.endpoint == endpoint]

    def states(self, endpoint: str) -> list[State]:
        """The endpoint's state sequence, each change once: [ESTABLISHED, FIN_WAIT_1, ...]."""
        out: list[State] = []
        for r in self.at(endpoint):
            for s in (r.state_before, r.state_after):
                if not out or out[-1] is not s:
                    out.append(s)
        return out

    def final_state(self, endpoint: str) -> State | None:
        """The endpoint's last state; None when it has no row."""
        seq = self.states(endpoint)
        return seq[-1] if seq else None

    def records(self) -> list[dict[str, object]]:
        """The rows as the contract's columns hold them (Row.record)."""
        return [r.record() for r in self.rows]

    def to_frame(self) -> pd.DataFrame:
        """A pandas DataFrame with the contract's columns; time in float seconds."""
        import pandas as pd

        df = pd.DataFrame(self.records(), columns=list(COLUMNS))
        df["time"] = df["time"] / 1_000_000
        for col in ("seq", "ack", "len"):
            df[col] = df[col].astype("Int64")
        return df

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in self.rows:
            rec = r.record()
            w.writerow([format_time(r.time)] + ["" if rec[c] is None else rec[c] for c in COLUMNS[1:]])
        return buf.getvalue()

    def to_json(self) -> str:
        rows = [{**r.record(), "time": format_time(r.time)} for r in self.rows]
        doc = {"scenario": self.scenario, "profile": self.profile, "notes": self.notes, "rows": rows}
        return json.dumps(doc, indent=1)
