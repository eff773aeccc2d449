"""Where each notebook of the course stands on the close diagram: the states it works on, and the
notebook that finds each arrow.

A notebook's map (notebook_helpers.state_map) draws only what was found so far, so no map, and
no map cell's source, answers a prediction: notebook 01 starts with no map at all, ends with its
four states and arrows; notebook 03's adds CLOSING and the crossing FINs only at its end. FOUND_IN lists
the diagram's ordinary arrows (RFC 793 figure 6); FOUND_TO_CLOSED the give-ups and resets into
CLOSED that notebooks 04-06 teach. Aborts and the resets a close() sends are drawn only in the full
diagram: with them, 06's map had its labels on each other.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

NOTEBOOK_STATES: dict[str, tuple[str, ...]] = {
    "01": ("ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"),
    "02": ("ESTABLISHED", "CLOSE_WAIT", "LAST_ACK"),
    "03": ("FIN_WAIT_1", "CLOSING", "TIME_WAIT"),
    "04": ("FIN_WAIT_1", "FIN_WAIT_2", "CLOSING", "LAST_ACK", "TIME_WAIT"),
    "05": ("FIN_WAIT_2", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSED"),
    "06": ("ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSING", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK", "CLOSED"),
}

# (state, next state) -> the notebook whose exercises and predictions find that arrow.
FOUND_IN: dict[tuple[str, str], str] = {
    ("ESTABLISHED", "FIN_WAIT_1"): "01",
    ("FIN_WAIT_1", "FIN_WAIT_2"): "01",  # on the ACK of our FIN (or a FIN acknowledging it, data missing)
    ("FIN_WAIT_2", "TIME_WAIT"): "01",
    ("TIME_WAIT", "CLOSED"): "01",
    ("ESTABLISHED", "CLOSE_WAIT"): "02",
    ("CLOSE_WAIT", "LAST_ACK"): "02",
    ("LAST_ACK", "CLOSED"): "02",
    ("FIN_WAIT_1", "CLOSING"): "03",
    ("FIN_WAIT_1", "TIME_WAIT"): "03",
    ("CLOSING", "TIME_WAIT"): "03",
}

# Arrows into CLOSED beyond the ordinary ones, by (state, or "*" for any, event as the transition table
# names it): the notebook that finds them. A map draws them from that notebook's end on (readers found
# 04-06's end maps drawing nothing those notebooks taught).
FOUND_TO_CLOSED: dict[tuple[str, str], str] = {
    ("*", "timeout RETRANSMIT"): "04",  # the retry limit: the connection is given up
    ("FIN_WAIT_2", "timeout FIN_WAIT_2"): "04",  # Linux's orphan timer
    ("TIME_WAIT", "RST"): "05",  # RFC 1337's hazard
    ("*", "RST"): "06",
}


def to_closed_found_in(state: str, event: str) -> str | None:
    """The notebook that finds the arrow from `state` into CLOSED on `event`, or None (never drawn)."""
    return FOUND_TO_CLOSED.get((state, event), FOUND_TO_CLOSED.get(("*", event)))


def notebook_of(name: str) -> str:
    """The map's key of a notebook, "04", from "04" or its assignment name "04_lost_segments"."""
    if name[:2] not in NOTEBOOK_STATES:
        raise ValueError(f"no notebook {name!r} in the course (one of {', '.join(NOTEBOOK_STATES)})")
    return name[:2]


def not_found_yet(notebook: str, *, own: bool) -> set[tuple[str, str]]:
    """The arrows a map in `notebook` leaves out: later notebooks' (and, with own, its own too)."""
    notebook = notebook_of(notebook)
    return {arrow for arrow, found in FOUND_IN.items() if found > notebook or (own and found == notebook)}


# Catalogue scenario -> the first notebook that shows it (runs it in a cell or names it in the text).
# A notebook's timeline picker lists the scenarios shown up to that notebook, so notebook 01's
# picker does not play notebook 03's simultaneous close before 03 asks about it; notebook 07's
# picker lists the whole catalogue.
FIRST_SHOWN: dict[str, str] = {
    "ack-of-data-not-fin": "01",
    "active-close": "01",
    "lost-final-ack": "01",
    "half-close": "02",
    "server-initiated-close": "02",
    "orphan-fin-wait-2": "02",
    "simultaneous-close": "03",
    "three-way-close": "03",
    "duplicate-fin-in-time-wait": "04",
    "fin-retry-limit": "04",
    "lost-ack-of-fin": "04",
    "lost-final-ack-twice": "04",
    "lost-first-fin": "04",
    "lost-second-fin": "04",
    "old-duplicate-after-reuse": "05",
    "rst-in-time-wait": "05",
    "syn-in-time-wait": "05",
    "abort": "06",
    "close-with-unread-data": "06",
    "rst-in-close-wait": "06",
}


def picker_scenarios(upto: str | None, catalogue: list[str], named_here: Collection[str] | None = None) -> list[str]:
    """The scenarios a timeline's picker offers in notebook `upto` ("04"): those shown up to it, in
    catalogue order; the whole catalogue outside notebooks 01-06 (upto None: 07, a learner's own).

    named_here: the scenarios the notebook names up to the running cell (autograder.cell_position),
    when known. A scenario the notebook itself first shows is then offered only from there on: its
    caption would answer a prediction further down."""
    if upto is None:
        return list(catalogue)
    upto = notebook_of(upto)
    return [name for name in catalogue
            if FIRST_SHOWN.get(name, "99") < upto
            or (FIRST_SHOWN.get(name) == upto and (named_here is None or name in named_here))]  # fmt: skip


LOSSES_FROM = "04"  # the notebook that introduces the network picker's extra losses


def offers_losses(upto: str | None) -> bool:
    """Whether a timeline in notebook `upto` offers extra losses. Not before notebook 04, which
    teaches them: in 01, losing B's final ACK would play the TIME_WAIT re-ACK that 01 asks about
    further down, and losing A's FIN would show the copy's SEQ that 04 asks about."""
    return upto is None or notebook_of(upto) >= LOSSES_FROM


_NAMED = re.compile(r"[\"'`]([a-z0-9-]+)[\"'`]")  # "name" or 'name' in code, `name` in prose


def scenarios_named(texts: Iterable[str], catalogue: Collection[str]) -> list[str]:
    """The catalogue scenarios `texts` name, in the order first named."""
    seen: dict[str, None] = {}
    for text in texts:
        seen.update((name, None) for name in _NAMED.findall(text) if name in catalogue)
    return list(seen)
