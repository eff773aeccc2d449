"""The map at the top of a notebook leaves out the arrows its predictions ask for; the one at the end shows them."""

from __future__ import annotations

import re

from autograder.notebook_helpers import state_map

OURS = ["ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]


def edges(html: str) -> set[tuple[str, str]]:
    return set(re.findall(r'data-from="(\w+)" data-to="(\w+)"', html))


def test_the_top_map_hides_the_arrows_out_of_the_notebooks_states_in_picture_and_text():
    top = state_map(OURS, unrevealed=True).data
    end = state_map(OURS).data
    assert ("FIN_WAIT_2", "TIME_WAIT") in edges(end) and ("ESTABLISHED", "FIN_WAIT_1") in edges(end)
    assert not {e for e in edges(top) if e[0] in OURS}
    assert ("CLOSE_WAIT", "LAST_ACK") in edges(top)  # the rest of the diagram stays
    assert "FIN_WAIT_2 → TIME_WAIT" in end and "FIN_WAIT_2 → TIME_WAIT" not in top
    assert "Lit: ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT. The arrows out of the lit states are left out" in top


def test_later_arrows_are_left_out_of_picture_and_text():
    later = [("FIN_WAIT_1", "TIME_WAIT")]
    end = state_map(OURS).data
    kept = state_map(OURS, later=later).data
    assert set(later) <= edges(end) and not set(later) & edges(kept)
    assert ("FIN_WAIT_1", "FIN_WAIT_2") in edges(kept) and ("FIN_WAIT_2", "TIME_WAIT") in edges(kept)
    assert "FIN_WAIT_1 → TIME_WAIT" in end and "FIN_WAIT_1 → TIME_WAIT" not in kept
    assert "FIN_WAIT_1 → FIN_WAIT_2" in kept and "Arrows a later notebook asks about are left out too." in kept
