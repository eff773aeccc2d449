"""Fold a stretch of a run that repeats itself into one band ("… 45 more rounds of the same …").

05's old duplicate without TIME_WAIT ends in an ACK war: the same two ACKs bounce between A and
B every 10 ms for a second, about 200 rows. Drawn in full, the picture was 19,000 px tall and
every reader mentioned it. A run that repeats the same moments over and over (same endpoint,
event, states, flags and numbers; only the time and the segment's id change) is drawn for its
first two rounds and its last; the rounds between become a band that says how many there were.

Only whole moments are hidden, and only where no other panel has anything at those moments, so
the two panels stay on one time axis. A segment in flight across the fold is drawn as every
segment whose other end is not in the picture is: cut short into the band, or coming out of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from reference_impl.trace import EventKind

from .model import Event

MIN_ROUNDS = 6  # a pattern seen this many times in a row is a loop worth folding
MAX_PERIOD = 4  # moments per round (an ACK war: 2, one per endpoint)


@dataclass(frozen=True)
class Fold:
    """Moments hidden from `first` to `last` (µs): `rounds` repeats of `period` moments, `events` rows."""

    first: int
    last: int
    rounds: int
    period: int
    events: int
    sends: dict[str, int]  # segments each endpoint sent in the fold (the arrows after it keep their numbers)

    @property
    def text(self) -> str:
        return f"{self.rounds} more rounds of the same exchange, not drawn"

    @property
    def short(self) -> str:
        """For a narrow panel (side by side), where the long text ran across both lifelines."""
        return f"{self.rounds} rounds not drawn"  # no "…": in a picture it means text cut short

    @property
    def sentence(self) -> str:
        return (f"{self.events} events not drawn, {self.first / 1e6:.3f}–{self.last / 1e6:.3f} s: {self.rounds} "
                "more rounds of the same exchange.")  # fmt: skip


def _signature(e: Event) -> tuple:
    return (e.endpoint, e.event, e.before, e.after, e.flags, e.seq, e.ack, e.length, e.fate, e.detail)


def fold_repeats(events: list[Event], busy: set[int], keep: set[int]) -> tuple[list[Event], dict[int, Fold]]:
    """The events to draw, and each fold keyed by the time of the last moment drawn before it.

    busy: times at which another panel draws something (never hidden); keep: event indices that
    must stay (the marked divergence)."""
    moments = [(t, list(group)) for t, group in groupby(events, key=lambda e: e.time)]
    sigs = [tuple(_signature(e) for e in group) for _, group in moments]
    hidden: set[int] = set()  # positions in `moments`
    folds: dict[int, Fold] = {}
    j = 0
    while j < len(moments):
        found = _repeat_at(sigs, j)
        if found is None:
            j += 1
            continue
        period, end = found
        lo, hi = j + 2 * period, end - period  # keep two rounds before, one after
        span = range(lo, hi)
        if any(moments[k][0] in busy or any(e.index in keep for e in moments[k][1]) for k in span):
            j += 1
            continue
        hidden.update(span)
        rows = [e for k in span for e in moments[k][1]]
        sends = {ep: sum(e.event == EventKind.SEND and e.endpoint == ep for e in rows) for ep in ("A", "B")}
        folds[moments[lo - 1][0]] = Fold(moments[lo][0], moments[hi - 1][0], (hi - lo) // period, period, len(rows),
                                         sends)  # fmt: skip
        j = end
    shown = [e for k, (_, group) in enumerate(moments) if k not in hidden for e in group]
    return shown, folds


def _repeat_at(sigs: list[tuple], j: int) -> tuple[int, int] | None:
    """(period, end) of the longest run of at least MIN_ROUNDS rounds starting at moment j."""
    best = None
    for period in range(1, MAX_PERIOD + 1):
        end = j + period
        while end < len(sigs) and sigs[end] == sigs[end - period]:
            end += 1
        rounds = (end - j) // period
        if rounds >= MIN_ROUNDS and (best is None or end - j > best[1] - j):
            best = (period, j + rounds * period)
    return best
