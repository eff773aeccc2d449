"""One plain sentence per trace event, for the timeline's caption and the SVG tooltips.

A learner watching an animation needs to be told what just happened and why it
matters in the words of the RFC (FIN: "no more data from sender"), not shown a row.
"""

from __future__ import annotations

from .model import Event

WHO = {"A": "A (client)", "B": "B (server)"}
TIMER_WHY = {
    "TIME_WAIT": "2 MSL, so old duplicates die and a lost final ACK can be repeated",
    "RETRANSMIT": "if no ACK comes in time, the segment is sent again",
    "FIN_WAIT_2": "an orphaned socket will not wait forever for the peer's FIN",
    "DELAYED_ACK": "the ACK may wait for data or a FIN to ride along",
}


def seconds(us: int) -> str:
    """Virtual time as a learner reads it: 0.010 s, 240.060 s."""
    return f"{us / 1_000_000:.3f} s"


def segment_meaning(flags: str) -> str:
    names = set(flags.split("|")) if flags else set()
    if "RST" in names:
        return "a reset: the connection is aborted"
    if "FIN" in names:
        return "a FIN: no more data from the sender"
    return "an acknowledgment" if "ACK" in names else "a segment"


def explain(e: Event) -> str:
    """One sentence: who did what, and the state change it caused."""
    who = WHO.get(e.endpoint, e.endpoint or "?")
    move = (
        f" and moves from {e.before} to {e.after}"
        if e.changes_state
        else (f" and stays in {e.after}" if e.after else "")
    )
    match e.event:
        case "close":
            s = f"{who}'s application calls close(){move}"
        case "write":
            s = f"{who}'s application writes {e.detail or 'data'}{move}"
        case "abort":
            s = f"{who}'s application aborts the connection{move}"
        case "send":
            what = "data" if e.length else segment_meaning(e.flags)
            fate = {
                "lost": " — the network loses it",
                "duplicated": " — the network delivers it twice",
                "delayed": " — the network delays it",
            }.get(e.fate, "")
            s = f"{who} sends {e.segment_text} ({what}){fate}"
        case "recv":
            s = f"{who} receives {e.detail}{move}"
        case "timer":
            words = e.detail.split()
            if words[:1] == ["start"] and len(words) >= 2:
                why = TIMER_WHY.get(words[1], "")
                dur = " ".join(words[2:])
                s = f"{who} starts its {words[1]} timer ({dur}{': ' + why if why else ''})"
            elif words[:1] == ["cancel"] and len(words) >= 2:
                s = f"{who} cancels its {words[1]} timer"
            else:
                s = f"{who}: timer {e.detail}"
        case "timeout":
            s = f"{who}'s {e.detail} timer expires{move}"
        case "deliver":
            if e.detail == "EOF":
                s = f"{who}'s application reads end-of-file: the peer will send no more"
            else:
                s = f"{who}'s application receives {e.detail}"
        case "error":
            s = f"{who}'s application gets an error: {e.detail}"
        case "reopen":
            s = f"{who}: {e.detail or 'a new connection on the same 4-tuple'}{move}"
        case _:
            s = f"{who}: {e.event} {e.detail}".rstrip()
    return f"{seconds(e.time)} — {s}."
