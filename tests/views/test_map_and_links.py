"""A notebook's map (the state diagram with its states lit) and RFC citations as links."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from autograder.notebook_helpers import state_map
from autograder.views import rfc_links, rfc_url, state_diagram_svg

NS = "{http://www.w3.org/2000/svg}"


def lit_boxes(svg: str) -> set[str]:
    root = ET.fromstring(svg)
    return {"".join(g.itertext()) for g in root.iter(f"{NS}g") if "visited" in (g.get("class") or "")}


def test_a_notebooks_states_are_lit_with_the_transitions_between_them():
    svg = state_diagram_svg(states=["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"])
    assert lit_boxes(svg) >= {"FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"}
    assert "CLOSE_WAIT" not in lit_boxes(svg)
    desc = ET.fromstring(svg).find(f"{NS}desc").text
    assert "FIN_WAIT_1 → FIN_WAIT_2 on ACK" in desc and "FIN_WAIT_2 → TIME_WAIT on FIN" in desc


def test_an_unknown_state_is_one_sentence():
    with pytest.raises(ValueError, match="not a state of the close diagram: FIN_WAIT_3"):
        state_diagram_svg(states=["FIN_WAIT_3"])


def test_state_map_carries_its_text_alternative():
    out = state_map("02").data
    assert "<svg" in out and "<figcaption" in out and "Lit: ESTABLISHED, CLOSE_WAIT, LAST_ACK." in out


def test_rfc_citations_become_links_to_their_sections():
    assert rfc_url("RFC 9293 §3.10.7.4") == "https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.4"
    assert rfc_url("RFC 1337") == "https://www.rfc-editor.org/rfc/rfc1337"
    assert rfc_url("RFC 793 section 3.5") == "https://www.rfc-editor.org/rfc/rfc793#section-3.5"
    md = rfc_links("TIME-WAIT (RFC 9293 §3.6.1) and RFC 1337.")
    assert md == (
        "TIME-WAIT ([RFC 9293 §3.6.1](https://www.rfc-editor.org/rfc/rfc9293#section-3.6.1)) and "
        "[RFC 1337](https://www.rfc-editor.org/rfc/rfc1337)."
    )
    html = rfc_links("a <b> RFC 5961 §4", html=True)
    assert (
        html
        == 'a &lt;b&gt; <a href="https://www.rfc-editor.org/rfc/rfc5961#section-4" target="_blank" rel="noopener">RFC 5961 §4</a>'
    )
    with pytest.raises(ValueError):
        rfc_url("section 3")
