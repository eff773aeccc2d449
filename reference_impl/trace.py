"""A Trace: one row per thing that happens at an endpoint, in virtual time.

The CSV columns are a data contract shared with the checks, the views and the
kernel cross-check: time,endpoint,event,state_before,state_after,flags,seq,ack,len,fate,detail
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = (
    "time", "endpoint", "event", "state_before", "state_after",
    "flags", "seq", "ack", "len", "fate", "detail",
)  # fmt: skip


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
    time: int  # virtual microseconds
    endpoint: str  # "A" (client) or "B" (server)
    event: EventKind
    state_before: str
    state_after: str
    flags: str = ""
    seq: int | None = None
    ack: int | None = None
    len: int | None = None
    fate: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.event, EventKind):  # a row read back from CSV, JSON or a frame
            try:
                object.__setattr__(self, "event", EventKind(self.event))
            except ValueError:
                raise ValueError(f"unknown trace event {self.event!r} (one of {', '.join(EventKind)})") from None

    @property
    def seconds(self) -> float:
        return self.time / 1_000_000


def starts_connection(row: Row) -> bool:
    """Whether the endpoint begins a new connection of the 4-tuple at this row: its OPEN (a reopen
    row leaving CLOSED), or a SYN that reopened its TIME_WAIT."""
    if row.event == EventKind.REOPEN:
        return row.state_before == "CLOSED" and row.state_after != "CLOSED"
    return row.event == EventKind.RECV and row.state_before == "TIME_WAIT" and row.state_after == "SYN_RECEIVED"


def format_time(us: int) -> str:
    """Virtual seconds, exact: 0.01, 240.03, 0."""
    whole, frac = divmod(us, 1_000_000)
    return f"{whole}.{frac:06d}".rstrip("0").rstrip(".") if frac else str(whole)


@dataclass
class Trace:
    rows: list[Row] = field(default_factory=list)
    scenario: str = ""
    profile: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. "stopped at the event limit"

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def at(self, endpoint: str) -> list[Row]:
        return [r for r in self.rows if r.endpoint == endpoint]

    def states(self, endpoint: str) -> list[str]:
        """The endpoint's state sequence, each change once: ['ESTABLISHED', 'FIN_WAIT_1', ...]."""
        out: list[str] = []
        for r in self.at(endpoint):
            for s in (r.state_before, r.state_after):
                if s and (not out or out[-1] != s):
                    out.append(s)
        return out

    def final_state(self, endpoint: str) -> str:
        seq = self.states(endpoint)
        return seq[-1] if seq else ""

    def records(self) -> list[dict[str, object]]:
        return [asdict(r) for r in self.rows]

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
            w.writerow([format_time(r.time)] + ["" if v is None else v for v in (getattr(r, c) for c in COLUMNS[1:])])
        return buf.getvalue()

    def to_json(self) -> str:
        rows = [{**asdict(r), "time": format_time(r.time)} for r in self.rows]
        doc = {"scenario": self.scenario, "profile": self.profile, "notes": self.notes, "rows": rows}
        return json.dumps(doc, indent=1)
