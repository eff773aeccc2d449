"""A notebook's map draws the arrows found so far: the one at the top leaves out the arrows its own
predictions ask for, the one at the end shows them, and none draws a later notebook's."""

from __future__ import annotations

import re

import pytest

from autograder.course_map import FOUND_IN
from autograder.notebook_helpers import state_map
from autograder.views.diagram import table_edges


def drawn(notebook: str, unrevealed: bool = False) -> set[tuple[str, str]]:
    return set(re.findall(r'data-from="(\w+)" data-to="(\w+)"', state_map(notebook, unrevealed=unrevealed).data))


def found(*notebooks: str) -> set[tuple[str, str]]:
    return {arrow for arrow, n in FOUND_IN.items() if n in notebooks}


def lit(html: str) -> set[str]:
    return set(re.findall(r'<g class="state visited">.*?>(\w+)</text>', html))


def test_the_top_map_leaves_out_the_notebooks_own_states_and_arrows_in_picture_and_text():
    """A reader answered 01's first prediction from the top map: FIN_WAIT_1 lit under ESTABLISHED."""
    top, end = state_map("01", unrevealed=True).data, state_map("01").data
    assert drawn("01", unrevealed=True) == set() and drawn("01") == found("01")
    assert lit(top) == set() and lit(end) >= {"ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"}
    assert "FIN_WAIT_2 → TIME_WAIT" in end and "FIN_WAIT_2 → TIME_WAIT" not in top
    assert "Nothing is lit yet." in top and "Lit: ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT." in end
    assert "CLOSING" not in lit(state_map("03", unrevealed=True).data) and "CLOSING" in lit(state_map("03").data)


def test_no_map_draws_a_later_notebooks_arrow_in_picture_or_text():
    """Notebook 01's maps draw neither 02's CLOSE_WAIT → LAST_ACK nor 03's FIN_WAIT_1 → CLOSING."""
    assert drawn("02", unrevealed=True) == found("01") and drawn("02") == found("01", "02")
    assert ("FIN_WAIT_1", "CLOSING") not in drawn("03", unrevealed=True) | drawn("02")
    assert ("FIN_WAIT_1", "CLOSING") in drawn("03")
    assert "CLOSE_WAIT → LAST_ACK" not in state_map("01").data
    assert drawn("06", unrevealed=True) == set(FOUND_IN)


def test_every_ordinary_arrow_of_the_diagram_is_found_in_some_notebook():
    assert {(src, dst) for (src, _, dst), _, main in table_edges() if main} == set(FOUND_IN)


def test_a_notebook_not_in_the_course_is_one_sentence():
    with pytest.raises(ValueError, match="no notebook '07' in the course"):
        state_map("07")
