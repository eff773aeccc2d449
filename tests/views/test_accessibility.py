"""Text contrast at least 4.5:1 (WCAG 2.1 AA) for every colour text is drawn in or on."""

from __future__ import annotations

import re

import pytest

from autograder.views import _style, render_svg
from reference_impl import scenarios


def luminance(hex_color: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("state", list(_style.STATE_COLORS))
def test_white_state_names_on_their_colour(state):
    assert contrast(_style.STATE_COLORS[state], "#ffffff") >= 4.5


def test_every_text_colour_in_the_pictures_reads_on_white():
    svg = "".join(
        render_svg(scenarios.run(n)) for n in ("lost-final-ack", "abort", "half-close", "old-duplicate-after-reuse")
    )
    fills = set(re.findall(r'<text[^>]*fill="(#[0-9a-fA-F]{6})"', svg)) - {"#ffffff"}
    assert fills, "no text found"
    for color in fills:
        assert contrast(color, "#ffffff") >= 4.5, f"text in {color} on white: {contrast(color, '#ffffff'):.2f}:1"
