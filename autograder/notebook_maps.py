"""The state map at the top and at the end of a course notebook: the close state diagram with only
the states and arrows found so far (autograder.course_map), so no map answers a prediction.

Notebooks import `state_map` from autograder.notebook_helpers.
"""

from __future__ import annotations

import html
import re

from .course_map import FOUND_IN, NOTEBOOK_STATES, not_found_yet, notebook_of, to_closed_found_in

__all__ = ["rst_table", "state_map"]


def state_map(notebook: str, *, title: str | None = None, unrevealed: bool = False):
    """The close state diagram for a notebook's first or last cell, state_map("01"), with only the
    arrows found so far (autograder.course_map). Its text alternative (which states and transitions
    are drawn) follows it, for screen readers and for anyone.

    The map at the end (unrevealed=False) lights this notebook's states and draws its arrows. The map
    at the top (unrevealed=True) lights only what earlier notebooks found: this notebook's states
    and arrows are what its predictions ask for, and a lit FIN_WAIT_1 under ESTABLISHED already
    answers "which state follows close()?". Arrows later notebooks find are never drawn.
    """
    from IPython.display import HTML

    from .views import state_diagram_svg

    notebook = notebook_of(notebook)
    hide = not_found_yet(notebook, own=unrevealed)
    names, caption, default = _lit(notebook, unrevealed)
    if not names:  # notebook 01's top: nothing found, so no picture of two lone boxes
        return HTML(
            '<p style="font-size:13px;color:#424a53">The state map starts empty: this notebook finds its first '
            "states and arrows, and the map at its end shows them.</p>"
        )
    svg = _without_edges(state_diagram_svg(states=names, title=title or default, found=_to_closed(notebook, unrevealed)),
                         hide)  # fmt: skip
    # No box for a state no notebook up to here reaches: 03's top map showed CLOSING as the one box
    # without arrows (its crossing-FIN answer), 01's end map CLOSING and 02's states.
    found = {s for arrow, n in FOUND_IN.items() if n < notebook or (n == notebook and not unrevealed) for s in arrow}
    shown = {"ESTABLISHED", "CLOSED", *names, *found}
    svg = _without_states(svg, shown)
    # "outlined" only where a box is (a reader looked for one in vain)
    svg = svg.replace(_DIAGRAM_LEGEND, _MAP_LEGEND if shown - {*names, "CLOSED"} else _MAP_LEGEND_ALL_LIT)
    desc = svg.split("<desc>", 1)[1].split("</desc>", 1)[0]
    return HTML(
        f'<figure style="margin:0">{svg}<figcaption style="font-size:13px;color:#424a53">'
        f"{html.escape(caption)} {desc}</figcaption></figure>"
    )


def _to_closed(notebook: str, unrevealed: bool) -> set[tuple[str, str, str]]:
    """The give-ups and resets into CLOSED found so far (with this notebook's own, at its end)."""
    from .views.diagram import table_edges

    def found(src: str, ev: str) -> bool:
        n = to_closed_found_in(src, ev)
        return n is not None and (n < notebook or (n == notebook and not unrevealed))

    return {
        (src, ev, dst) for (src, ev, dst), _, main in table_edges() if dst == "CLOSED" and not main and found(src, ev)
    }


def _lit(notebook: str, unrevealed: bool) -> tuple[list[str], str, str]:
    """The states a map lights, the caption that says why, and its default title."""
    if unrevealed:
        names = sorted({s for arrow, n in FOUND_IN.items() if n < notebook for s in arrow}, key=_DIAGRAM_ORDER.index)
        # Not "a state no notebook has reached yet is not drawn": readers took the one choice missing from the map.
        caption = f"Lit: what earlier notebooks found ({', '.join(names)}). What this notebook adds is yours to find."
        return names, caption, "Closing a TCP connection (RFC 9293): found so far"
    names = list(NOTEBOOK_STATES[notebook])
    caption = (
        f"Lit: {', '.join(names)}. The arrows drawn are the ones found up to this notebook; "
        "later notebooks find the rest."
    )
    return names, caption, "Closing a TCP connection (RFC 9293): this notebook's states"


# A map draws only what was found, so the diagram's legend for a run ("thin grey: not taken") would
# call an earlier notebook's arrow untaken; a reader also asked what the outlined boxes were.
_DIAGRAM_LEGEND = "filled box, thick arrow, bold label: lit · thin grey: not taken"
_MAP_LEGEND = (
    "filled: lit (CLOSED, where every close ends, always) · outlined: another notebook's state · arrows: found so far"
)
_MAP_LEGEND_ALL_LIT = "filled: lit (CLOSED, where every close ends, always) · arrows: found so far"

_DIAGRAM_ORDER = ("ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSING", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK", "CLOSED")


def _without_states(svg: str, keep: set[str]) -> str:
    """The diagram without the boxes of the states not in `keep`."""

    return re.sub(
        r'<g class="state[^"]*"><rect[^>]*/><text[^>]*>(\w+)</text></g>',
        lambda m: m.group(0) if m.group(1) in keep else "",
        svg,
    )


def _without_edges(svg: str, hide: set[tuple[str, str]]) -> str:
    """The diagram without the edges (from, to) in `hide`, in the picture and in its text alternative."""

    def gone(src: str, dst: str) -> bool:
        return (src, dst) in hide

    svg = re.sub(
        r'<g class="edge[^"]*" data-from="([^"]+)" data-to="([^"]+)"[^>]*>.*?</g>',
        lambda m: "" if gone(m.group(1), m.group(2)) else m.group(0),
        svg,
        flags=re.S,
    )
    head, rest = svg.split("<desc>", 1)
    desc, tail = rest.split("</desc>", 1)
    intro, _, taken = desc.partition(" Transitions taken: ")
    kept = [
        t for t in taken.rstrip(".").split("; ") if t and not gone(*re.match(r"(\S+) → (\S+)", t).groups())
    ]  # "A → B on event"
    desc = intro + (f" Transitions taken: {'; '.join(kept)}." if kept else "")
    return head + "<desc>" + desc + "</desc>" + tail


def rst_table(states: list[str]):
    """Notebook 06's reset table: the reference's transition-table rows for a RST with SEQ = RCV.NXT
    in `states`, and beside them RFC 5961's two other cases (in the window: a challenge ACK; outside
    it: dropped). Kept here, not in the notebook, so its answers are not on screen below the question
    they answer (a reader read "challenge ACK" in the cell's source just under it)."""
    import pandas as pd

    from reference_impl import transitions

    rows = pd.DataFrame(transitions.table())
    rows = rows[(rows.event == "RST") & rows.state.isin(states)]
    return pd.DataFrame([{
        "state": r["state"],
        "RST with SEQ = RCV.NXT": f"→ {r['next']}" + (f" ({r['when']})" if r["when"] else ""),
        "the application hears": r["tells the application"] or "nothing (closes silently)",
        "RST in the window, SEQ ≠ RCV.NXT": "challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, stays",
        "RST outside the window": "dropped silently, stays",
    } for r in rows.to_dict("records")]).set_index("state")  # fmt: skip
