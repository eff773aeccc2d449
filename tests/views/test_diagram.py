"""The state diagram: drawn from the transition table, lit by what a trace did."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from autograder.views import exercised_edges, state_diagram_svg
from autograder.views.diagram import POSITIONS
from reference_impl import scenarios
from reference_impl.trace import Trace

NS = "{http://www.w3.org/2000/svg}"


def edges(svg: str) -> dict[tuple[str, str], ET.Element]:
    root = ET.fromstring(svg)
    assert root[0].tag == f"{NS}title" and root[1].tag == f"{NS}desc"
    return {(g.get("data-from"), g.get("data-to")): g for g in root.iter(f"{NS}g") if g.get("data-from")}


def lit(svg: str) -> set[tuple[str, str]]:
    return {k for k, g in edges(svg).items() if "lit" in g.get("class")}


def test_active_close_lights_exactly_its_path():
    svg = state_diagram_svg(scenarios.run("active-close"))
    assert lit(svg) == {
        ("ESTABLISHED", "FIN_WAIT_1"), ("FIN_WAIT_1", "FIN_WAIT_2"), ("FIN_WAIT_2", "TIME_WAIT"),
        ("TIME_WAIT", "CLOSED"), ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSED"),
    }  # fmt: skip


def test_simultaneous_close_goes_through_closing():
    assert exercised_edges(scenarios.run("simultaneous-close")) == {
        ("ESTABLISHED", "close", "FIN_WAIT_1"), ("FIN_WAIT_1", "FIN", "CLOSING"),
        ("CLOSING", "ACK", "TIME_WAIT"), ("TIME_WAIT", "timeout TIME_WAIT", "CLOSED"),
    }  # fmt: skip


def test_the_unlit_diagram_still_shows_the_rfc_figure():
    all_edges = edges(state_diagram_svg())
    assert ("FIN_WAIT_1", "CLOSING") in all_edges and ("CLOSING", "TIME_WAIT") in all_edges
    assert ("ESTABLISHED", "CLOSED") not in all_edges, "abort/RST edges appear only when used or asked for"
    assert ("ESTABLISHED", "CLOSED") in edges(state_diagram_svg(full=True))
    assert not lit(state_diagram_svg())


def test_wrong_transitions_are_red_even_when_the_table_lacks_them():
    learner = Trace(list(scenarios.run("active-close").rows))
    svg = state_diagram_svg(learner, wrong=[("TIME_WAIT", "ESTABLISHED"), ("FIN_WAIT_1", "ACK", "TIME_WAIT")])
    e = edges(svg)
    for pair in (("TIME_WAIT", "ESTABLISHED"), ("FIN_WAIT_1", "TIME_WAIT")):
        assert e[pair].find(f"{NS}path").get("stroke") == "#cf222e"
    assert "Wrong: FIN_WAIT_1 → TIME_WAIT; TIME_WAIT → ESTABLISHED." in ET.fromstring(svg)[1].text


def test_a_transition_the_learner_invented_is_drawn():
    rows = scenarios.run("active-close").rows
    bad = [
        replace(r, state_after="CLOSED") if r.event == "recv" and r.state_before == "FIN_WAIT_1" else r for r in rows
    ]
    assert ("FIN_WAIT_1", "CLOSED") in lit(state_diagram_svg(Trace(bad)))


def test_every_transition_a_catalogue_run_takes_has_an_edge():
    drawn = edges(state_diagram_svg(full=True))
    for name in scenarios.CATALOGUE:
        for src, _, dst in exercised_edges(scenarios.run(name)):
            if src in POSITIONS and dst in POSITIONS:  # a new connection's opening is not the close's diagram
                assert (src, dst) in drawn, f"{name}: {src} → {dst} is not in the diagram"
