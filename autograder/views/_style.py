"""The look every picture shares: fonts, text sizes, colours, and how a coordinate is written.

Kept in one place so the sequence diagram, the animation's heads and the state diagram
agree, and so the contrast test (tests/views/test_accessibility.py) reads one palette.
"""

from __future__ import annotations

from reference_impl.segment import Flags

FONT = "'DejaVu Sans Mono', ui-monospace, Menlo, Consolas, monospace"
SMALL = 11  # the smallest text anywhere
LABEL = 12

# Colours: every one keeps at least 4.5:1 contrast with white text on it (pills) or with the
# white ground under it (text), WCAG 2.1 AA (tests/views/test_accessibility.py).
STATE_COLORS = {
    "ESTABLISHED": "#1a7f37", "FIN_WAIT_1": "#0860ca", "FIN_WAIT_2": "#0550ae",
    "CLOSING": "#7443c9", "TIME_WAIT": "#875b00", "CLOSE_WAIT": "#176f75",
    "LAST_ACK": "#0e5a5f", "CLOSED": "#57606a",
}  # fmt: skip
# Shapes tell the kinds of state apart without colour: a round pill for the synchronized
# state, a square-cornered tag for those closing, a dashed outline for CLOSED.
STATE_RADIUS = {"ESTABLISHED": 8, "CLOSED": 0}
LOST = "#cf222e"
MUTED = "#59636e"
INK = "#1f2328"
# A state's timer in its state's colour (Linux's FIN_WAIT_2 timer was lifeline grey, hard to see).
TIMER_COLORS = {"TIME_WAIT": "#875b00", "RETRANSMIT": "#6639ba", "FIN_WAIT_2": "#0550ae"}


def seg_color(flags: Flags | None, length: int | None) -> str:
    flags = flags or Flags.NONE
    if Flags.RST in flags:
        return "#a84400"
    if Flags.FIN in flags:
        return "#0860ca"
    if length:
        return "#7443c9"
    return "#1a7f37"


def num(v: float) -> str:
    """A coordinate as the SVG writes it: one decimal at most, no trailing zeros."""
    return f"{v:.1f}".rstrip("0").rstrip(".")
