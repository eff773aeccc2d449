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
    assert "The state map starts empty" in top and "Lit: ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT." in end
    assert "CLOSING" not in lit(state_map("03", unrevealed=True).data) and "CLOSING" in lit(state_map("03").data)


def test_no_map_draws_a_later_notebooks_arrow_in_picture_or_text():
    """Notebook 01's maps draw neither 02's CLOSE_WAIT → LAST_ACK nor 03's FIN_WAIT_1 → CLOSING."""
    assert drawn("02", unrevealed=True) == found("01") and drawn("02") == found("01", "02")
    assert ("FIN_WAIT_1", "CLOSING") not in drawn("03", unrevealed=True) | drawn("02")
    assert ("FIN_WAIT_1", "CLOSING") in drawn("03")
    assert "CLOSE_WAIT → LAST_ACK" not in state_map("01").data
    give_ups = {("FIN_WAIT_1", "CLOSED"), ("FIN_WAIT_2", "CLOSED"), ("CLOSING", "CLOSED")}  # 04's, into CLOSED
    assert drawn("06", unrevealed=True) == set(FOUND_IN) | give_ups
    assert not give_ups & (drawn("04", unrevealed=True) | drawn("03"))


def test_the_end_maps_of_04_to_06_draw_what_they_taught_into_closed():
    """Two readers found 04-06's end maps drawing nothing those notebooks taught: 04's give-ups after the
    retry limit (and Linux's orphan timer), 05's RST in TIME_WAIT, 06's resets."""
    end04, top05, end05, top06, end06 = (state_map(n, unrevealed=u).data for n, u in
                                         (("04", False), ("05", True), ("05", False), ("06", True), ("06", False)))  # fmt: skip
    for arrow in ("FIN_WAIT_1 → CLOSED on timeout RETRANSMIT", "LAST_ACK → CLOSED on timeout RETRANSMIT",
                  "FIN_WAIT_2 → CLOSED on timeout FIN_WAIT_2"):  # fmt: skip
        assert arrow in end04 and arrow not in state_map("04", unrevealed=True).data
    assert "TIME_WAIT → CLOSED on RST" in end05 and "TIME_WAIT → CLOSED on RST" not in top05
    assert "ESTABLISHED → CLOSED on RST" in end06 and "on RST" not in top06.replace("TIME_WAIT → CLOSED on RST", "")


def test_every_ordinary_arrow_of_the_diagram_is_found_in_some_notebook():
    assert {(src, dst) for (src, _, dst), _, main in table_edges() if main} == set(FOUND_IN)


def test_a_notebook_not_in_the_course_is_one_sentence():
    with pytest.raises(ValueError, match="no notebook '07' in the course"):
        state_map("07")


@pytest.mark.parametrize("notebook", ["01", "02", "03", "04", "05", "06"])
def test_no_map_says_a_fin_leads_from_fin_wait_1_to_fin_wait_2(notebook):
    """Three readers read 'rcv ACK / rcv FIN' on FIN_WAIT_1 -> FIN_WAIT_2 as "a FIN leads to FIN_WAIT_2"
    (it is the ACK of our FIN, in a segment whose FIN must wait for missing data): that edge, not in RFC
    793's figure, is drawn only in the full diagram, and lit in no map."""
    for unrevealed in (True, False):
        html = state_map(notebook, unrevealed=unrevealed).data
        assert "FIN_WAIT_1 → FIN_WAIT_2 on FIN" not in html and ">rcv FIN</tspan>" not in _edge(
            html, "FIN_WAIT_1", "FIN_WAIT_2"
        )


def _edge(html: str, src: str, dst: str) -> str:
    found = re.search(rf'<g class="edge[^"]*" data-from="{src}" data-to="{dst}"[^>]*>.*?</g>', html, re.S)
    return found.group(0) if found else ""


def boxes(html: str) -> set[str]:
    return set(re.findall(r'<g class="state[^"]*"><rect[^>]*/><text[^>]*>(\w+)</text>', html))


def test_the_top_map_draws_no_state_no_notebook_has_reached():
    """A reader answered 03's crossing-FIN question from its top map: CLOSING was the one box without arrows."""
    assert boxes(state_map("01", unrevealed=True).data) == set()  # no picture: nothing found yet
    assert boxes(state_map("01").data) == {"ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED"}
    assert "CLOSING" not in boxes(state_map("02").data) | boxes(state_map("03", unrevealed=True).data)
    assert "CLOSING" in boxes(state_map("03").data) and "CLOSING" in boxes(state_map("04", unrevealed=True).data)


def test_a_maps_legend_speaks_of_a_map_not_of_a_run():
    """The diagram's legend for a run ("thin grey: not taken") called earlier notebooks' arrows untaken,
    and a reader asked what the outlined boxes were. The legend names outlined boxes only where there
    are some (01's last map has none; a reader looked for them)."""
    for notebook, unrevealed, outlined in (("03", False, True), ("05", True, False), ("01", False, False)):
        text = state_map(notebook, unrevealed=unrevealed).data
        assert "not taken" not in text and ("outlined: another notebook's state" in text) is outlined
        assert "arrows: found so far" in text
