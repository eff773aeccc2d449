"""How a step's outputs take effect in a run: through the event queue (a segment's arrivals, as its
fate has them; a timer's expiry, unless restarted or cancelled first) and as rows of the trace.

A mixin of Simulation (reference_impl.sim), which holds the endpoints, the channel and the trace.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from .channel import Channel
from .inputs import AppCall
from .profiles import Profile
from .segment import Segment
from .stack import Endpoint
from .states import (
    CancelTimer,
    DeliverData,
    DeliverEOF,
    Error,
    Send,
    StartTimer,
    State,
    Timer,
    format_duration,
)
from .timestamps import stamp
from .trace import EventKind, Row, Trace


@dataclass(frozen=True, slots=True)
class SegmentArrival:
    """A copy of a segment reaches its receiver; `note` says which copy (a duplicate, a delayed one),
    `id` which segment it is (Row.segment: "A3")."""

    seg: Segment
    note: str
    id: str


@dataclass(frozen=True, slots=True)
class TimerExpiry:
    """A timer's deadline; it fires only if `generation` is still the one armed (not restarted or cancelled)."""

    timer: Timer
    generation: int


Event = AppCall | SegmentArrival | TimerExpiry  # what the event queue holds: an application's call, a segment, a timer


class Outputs:
    """The event queue, the effect of each output, and the trace's rows."""

    profile: Profile
    channel: Channel
    trace: Trace

    def __init__(self) -> None:
        self._queue: list[tuple[int, int, str, Event]] = []  # (time, order scheduled, endpoint, event)
        self._order = 0
        self._generation = 0

    def _schedule(self, time: int, endpoint: str, event: Event) -> None:
        self._order += 1
        heapq.heappush(self._queue, (time, self._order, endpoint, event))

    def _output(self, time: int, ep: Endpoint, out: object) -> None:
        st = ep.state
        match out:
            case Send(seg):
                ep.sent += 1
                if self.profile.timestamps:
                    seg = stamp(seg, time, ep.ts_recent, ep.incarnation)
                else:
                    seg = seg.stamped(ep.incarnation)
                peer = "B" if ep.name == "A" else "A"
                label, copies = self.channel.arrivals(self.channel.fate(ep.name, ep.sent, seg))
                sid = f"{ep.name}{ep.sent}"  # the id a fate names it by (("A", 3): "A3")
                for after, note in copies:
                    self._schedule(time + after, peer, SegmentArrival(seg, note, sid))
                self._row(time, ep, EventKind.SEND, st, st, seg, fate=label, detail=str(seg), segment_id=sid)
            case StartTimer(timer, duration):
                self._generation += 1
                ep.timers[timer] = (time + duration, self._generation)
                self._schedule(time + duration, ep.name, TimerExpiry(timer, self._generation))
                self._row(time, ep, EventKind.TIMER, st, st, detail=f"start {timer} {format_duration(duration)}")
            case CancelTimer(timer):
                # Cancelling a timer that is not running changes nothing anyone can see, nor does cancelling
                # one on the way to CLOSED, whose TCB and timers go anyway: no row, so two machines that
                # differ only in such a cancel draw the same run (as the checks judge them).
                if ep.timers.pop(timer, None) is not None and st is not State.CLOSED:
                    self._row(time, ep, EventKind.TIMER, st, st, detail=f"cancel {timer}")
            case DeliverData(data):
                if not ep.reads:
                    ep.unread += len(data)
                self._row(time, ep, EventKind.DELIVER, st, st, detail=f"{len(data)} bytes")
            case DeliverEOF():
                self._row(time, ep, EventKind.DELIVER, st, st, detail="EOF")
            case Error(message):
                if ep.tcb.orphaned and self.profile.close_detaches:
                    message += " (no one hears it: close() detached the application)"
                self._row(time, ep, EventKind.ERROR, st, st, detail=message)

    def _row(
        self,
        time: int,
        ep: Endpoint,
        event: EventKind,
        before: State,
        after: State,
        seg: Segment | None = None,
        fate: str = "",
        detail: str = "",
        segment_id: str | None = None,
    ) -> None:
        self.trace.rows.append(
            Row(
                time=time, endpoint=ep.name, event=event, state_before=before, state_after=after,
                flags=seg.flags if seg is not None else None,
                seq=seg.seq if seg is not None else None,
                ack=seg.ack if seg is not None and seg.has_ack else None,
                len=len(seg.payload) if seg is not None else None,
                fate=fate, detail=detail, segment=segment_id,
            )
        )  # fmt: skip
