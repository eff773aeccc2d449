"""Runs side by side: the steps they share on virtual time, and where they first part."""

from __future__ import annotations

from collections import Counter, defaultdict

from reference_impl.trace import EventKind

from .model import Event


def schedule(panels: list[list[Event]]) -> tuple[list[dict[int, int]], list[int]]:
    """Steps shared by all panels, on virtual time: (per panel, event index -> the step at which
    it appears; the time of each step, from step 1).

    Two runs that part stay at the same moment while stepping: the k-th event of each run at
    one instant appears at the same step, whatever happened before it in either run. Two
    identical runs step one event at a time, exactly as one run does.
    """
    keys: set[tuple[int, int]] = set()
    ordinal: list[dict[int, tuple[int, int]]] = []
    for evs in panels:
        count: dict[int, int] = defaultdict(int)
        mine: dict[int, tuple[int, int]] = {}
        for e in evs:
            mine[e.index] = (e.time, count[e.time])
            count[e.time] += 1
        keys.update(mine.values())
        ordinal.append(mine)
    order = sorted(keys)
    step_of = {k: i + 1 for i, k in enumerate(order)}
    return [{i: step_of[k] for i, k in mine.items()} for mine in ordinal], [t for t, _ in order]


def first_difference(mine: list[Event], reference: list[Event], *, timers: bool = True) -> tuple[int, int] | None:
    """Row indices (in each run) of the first rows that differ, or None when the runs are the same.

    Without `timers`, an endpoint's timer that fires in neither run is left out: two profiles' runs
    differ in their timers' lengths by design (B's RETRANSMIT 1 s beside 220 ms, cancelled by the
    ACK), and a timer that never fires changes nothing a reader compares; one that fires somewhere
    (A's TIME_WAIT, 0 s beside 240 s) is compared, and is where they part.

    The rows of one moment (an endpoint at one instant: one handler call) are compared as a set,
    but for the segments sent, which keep their order: the checks take a Step's other outputs in
    any order (the ACK before or after the EOF) and compare what goes on the wire in order, so the
    picture marks exactly the differences they make. A run that stops early differs at its
    end: the other's next row is marked, and its own last.
    """
    if not timers:
        fires = {(e.endpoint, e.detail) for run in (mine, reference) for e in run if e.event == EventKind.TIMEOUT}
        mine, reference = ([e for e in run if e.event != EventKind.TIMER or (e.endpoint, e.detail.split()[1]) in fires]
                           for run in (mine, reference))  # fmt: skip
    done_mine = done_ref = 0
    for a, b in zip(_moments(mine), _moments(reference), strict=False):
        if not _same(a, b):
            if (a[0].time, a[0].endpoint) != (b[0].time, b[0].endpoint):
                return _same_moment(a[0], b[0], mine[:done_mine], reference[:done_ref])
            return _unmatched(a, b).index, _unmatched(b, a).index
        done_mine, done_ref = done_mine + len(a), done_ref + len(b)
    if len(mine) == len(reference) == done_mine == done_ref:
        return None
    if len(mine) > done_mine:
        return mine[done_mine].index, (reference[done_ref].index if len(reference) > done_ref else
                                       reference[-1].index if reference else -1)  # fmt: skip
    return (mine[-1].index if mine else -1), reference[done_ref].index


def difference_at(mine: list[Event], reference: list[Event], time: int, endpoint: str) -> tuple[int, int] | None:
    """The rows that differ in one endpoint's moment at `time`, or None when that moment is alike in
    both runs (or missing from one). A check about A draws A's mistake where B made the same one at
    the same instant (both run the learner's handlers): readers met "B, 0.010 s" on the picture over
    words about A."""
    a = [e for e in mine if (e.time, e.endpoint) == (time, endpoint)]
    b = [e for e in reference if (e.time, e.endpoint) == (time, endpoint)]
    if not a or not b or _same(a, b):
        return None
    return _unmatched(a, b).index, _unmatched(b, a).index


def _same(a: list[Event], b: list[Event]) -> bool:
    """Two moments alike: the same rows, and the same segments sent in the same order."""
    return Counter(map(moment_key, a)) == Counter(map(moment_key, b)) and _sends(a) == _sends(b)


def _sends(events: list[Event]) -> list[tuple]:
    return [moment_key(e) for e in events if e.event == EventKind.SEND]


def moment_key(e: Event) -> tuple:
    """What a row is, for comparing two runs' moments (everything but its index)."""
    return (e.time, e.endpoint, e.event, e.before, e.after, e.flags, e.seq, e.ack, e.length, e.fate, e.detail)


def _moments(events: list[Event]) -> list[list[Event]]:
    """The events in runs of one (time, endpoint)."""
    out: list[list[Event]] = []
    for e in events:
        if out and (out[-1][0].time, out[-1][0].endpoint) == (e.time, e.endpoint):
            out[-1].append(e)
        else:
            out.append([e])
    return out


def _unmatched(these: list[Event], those: list[Event]) -> Event:
    """The first of `these` that `those` do not hold (as many times); when all are held, the first
    segment sent out of order; the last row when nothing differs."""
    left = Counter(map(moment_key, those))
    for e in these:
        if left[moment_key(e)] == 0:
            return e
        left[moment_key(e)] -= 1
    sent = [e for e in these if e.event == EventKind.SEND]
    return next((e for e, k in zip(sent, _sends(those), strict=False) if moment_key(e) != k), these[-1])


def _same_moment(a: Event, b: Event, mine: list[Event], reference: list[Event]) -> tuple[int, int]:
    """Where two runs first part, marked at one moment in both. When one run did something more at
    an earlier moment (the reference restarts a timer the learner's code does not), the other run's
    next row is already a later moment; its last row of the earlier moment is marked instead."""
    if (a.time, a.endpoint) == (b.time, b.endpoint):
        return a.index, b.index
    if b.time <= a.time:
        same = [e for e in mine if (e.time, e.endpoint) == (b.time, b.endpoint)]
        return (same[-1].index if same else a.index), b.index
    same = [e for e in reference if (e.time, e.endpoint) == (a.time, a.endpoint)]
    return a.index, (same[-1].index if same else b.index)
