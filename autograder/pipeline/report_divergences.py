"""Where the class's runs first departed from the reference: read from each failed cell's record
(or its failure message), grouped across the class, and located in the reference's replayed run."""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass, field

import pandas as pd

# "lost-final-ack: A in FIN_WAIT_2 at 0.06 s, on arrival of <...>, your handler does not ..."
# "FIN_WAIT_2 on recv FIN,ACK: A in FIN_WAIT_2 at 0.06 s of active-close (rfc9293), on ..."
# "active-close: A at 0 s: in ESTABLISHED, on application close(), your handler raised ..."
_WHERE = re.compile(r"\b(?P<endpoint>[AB]) (?:in (?P<state>[A-Z][A-Z0-9_]+) )?at (?P<time>\d+(?:\.\d+)?) s\b")
_STATE = re.compile(r"\bin (?P<state>[A-Z][A-Z0-9_]+),")
_EVENT = re.compile(r", on (?P<event>.+?), (?:your |the reference|this check)")
_REPLAY = re.compile(
    r"^\s*replay: (?P<replay>tcpclose simulate [^(\n]+?)\s*(?:\(.*\))?\s*$", re.M
)  # "(the reference's run; ...)" after it
_SUMMARY = re.compile(r": \d+ of \d+ cases pass(\. First failure:)?\s*$")
_PASSED = re.compile(r"^✓|: (passes|all \d+ cases pass)\s*$")


@dataclass
class FirstDivergence:
    """Where one submission's cell first went wrong, as the report groups it."""

    headline: str  # the failure's first line: the case, the endpoint, the state, the time, the event
    case: str = ""
    endpoint: str = ""
    state: str = ""
    time: float | None = None
    event: str = ""
    replay: str = ""


def divergence_of(row: dict) -> FirstDivergence | None:
    """The first divergence of one failed cell: from the record's `divergence` when it has one,
    else read from its failure message; None for a cell that did not fail on a case."""
    d = row.get("divergence")
    if isinstance(d, dict) and d.get("headline"):
        t = d.get("time")
        return FirstDivergence(str(d["headline"]), str(d.get("case", "")), str(d.get("endpoint", "")),
                          str(d.get("state", "")), float(t) if isinstance(t, int | float) else None,
                          str(d.get("event", "")), str(d.get("replay", "")))  # fmt: skip
    text = row.get("detail") or row.get("reason") or ""
    # The message may list every check first (a line each, passing ones too) and a failing
    # check's summary before its first failure: the headline is the line that says where.
    lines = [line.strip().removeprefix("✗").strip() for line in text.splitlines() if line.strip()]
    head = next((line for line in lines if _WHERE.search(line)), None)
    head = head or next((line for line in lines if not _PASSED.search(line) and not _SUMMARY.search(line)), None)
    if head is None:
        return None
    head = re.sub(r"^[A-Za-z]*Error: ", "", head)
    div = FirstDivergence(head, case=head.split(": ", 1)[0] if ": " in head else "")
    if m := _WHERE.search(head):
        div.endpoint, div.time, div.state = m["endpoint"], float(m["time"]), m["state"] or ""
    if not div.state and (m := _STATE.search(head)):
        div.state = m["state"]
    if m := _EVENT.search(head):
        div.event = m["event"]
    if m := _REPLAY.search(text):
        div.replay = m["replay"]
    return div


@dataclass
class CommonDivergence:
    assignment: str
    divergence: FirstDivergence
    students: list[str]
    cells: list[str]
    svg: str = ""  # a submission's own picture, when its record carries one
    svg_from: str = ""
    notes: list[str] = field(default_factory=list)


# A handler not written yet stops the run where it is first needed: that says who has not started,
# not where anyone's logic departs from the reference.
UNWRITTEN = re.compile(r"NotImplementedError|is still a stub|this check needs your")


def common_divergences(cells: pd.DataFrame, top: int = 10) -> tuple[list[CommonDivergence], list[CommonDivergence]]:
    """The `top` first divergences shared by the most submissions; and every other first failure
    (a handler not written yet, a crash, a cell with no result: nothing that says where a run
    departed from the reference), most common first. Tampered cells are neither."""
    failed = cells[~cells["passed"] & ~cells["awaiting"] & (cells["tampered"] == "")]
    groups: dict[tuple[str, str], CommonDivergence] = {}
    for row in failed.to_dict("records"):
        div = divergence_of(row)
        if div is None:
            continue
        g = groups.setdefault((row["assignment"], div.headline), CommonDivergence(row["assignment"], div, [], []))
        if row["student"] not in g.students:
            g.students.append(row["student"])
        if row["cell"] not in g.cells:
            g.cells.append(row["cell"])
        if row["svg"] and not g.svg:
            g.svg, g.svg_from = row["svg"], row["student"]
    ranked = sorted(groups.values(), key=lambda g: (-len(g.students), g.assignment, g.divergence.headline))
    located = [g for g in ranked if (g.divergence.state or g.divergence.endpoint or g.divergence.replay or g.svg)
               and not UNWRITTEN.search(g.divergence.headline)]  # fmt: skip
    return located[:top], [g for g in ranked if g not in located]


_EVENT_KINDS = (("arrival", "recv"), ("expiry", "timeout"), ("timeout", "timeout"), ("abort", "abort"),
                ("send", "write"), ("close", "close"), ("shutdown", "close"))  # fmt: skip


def locate(trace, d: FirstDivergence) -> tuple[int | None, bool]:
    """(row of `trace` where the divergence happens, whether exactly) for a failure that names a
    state and an event but no time: the first row in that state on that very event (the same
    segment), else on the same kind of event (the same flags), else (None, False)."""
    kind = next((k for word, k in _EVENT_KINDS if word in d.event), None)
    seg = re.search(r"<SEQ=[^ ]*?>(?:<[A-Z]+=[^>]*>)*", d.event)
    rows = [(i, r) for i, r in enumerate(trace.rows) if d.state and str(r.state_before) == d.state
            and (kind is None or r.event == kind)]  # fmt: skip
    if kind == "timeout":  # the same timer: "expiry of the TIME_WAIT timer" fires as "TIME_WAIT"
        rows = [(i, r) for i, r in rows if r.detail and r.detail in d.event]
    if seg:
        exact = [i for i, r in rows if r.detail == seg.group()]
        if exact:
            return exact[0], True
        ctl = re.search(r"<CTL=[^>]*>", seg.group())
        rows = [(i, r) for i, r in rows if ctl and ctl.group() in r.detail]
    # without a segment there is nothing more to compare: the state and the event are the point
    return (rows[0][0], seg is None and kind is not None) if rows else (None, False)


def replay_trace(replay: str):
    """The reference's run of a replay command (`tcpclose simulate NAME [--profile P] [--set K=V]
    [--lose SEG]`); ValueError with a sentence when it cannot be re-run."""
    from reference_impl import scenarios
    from reference_impl.profiles import get_profile
    from reference_impl.script import option_value

    parser = argparse.ArgumentParser(prog="tcpclose simulate", add_help=False, exit_on_error=False)
    parser.add_argument("name")
    parser.add_argument("--profile", default="rfc9293")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--lose", action="append", default=[])
    words = shlex.split(replay)
    if words[:2] != ["tcpclose", "simulate"]:
        raise ValueError(f"not a simulate command: {replay}")
    try:
        args, extra = parser.parse_known_args(words[2:])
    except (argparse.ArgumentError, SystemExit) as e:
        raise ValueError(f"cannot read {replay!r}: {e}") from None
    if extra:
        raise ValueError(f"cannot read {replay!r}: unexpected {' '.join(extra)}")
    profile = get_profile(args.profile)
    changes = {}
    for item in args.set:
        key, _, value = item.partition("=")
        changes[key] = option_value(key, value)
    if changes:
        profile = profile.replace(**changes)
    fates = scenarios.losses(args.lose)
    return scenarios.run(args.name, profile, fates or None)
