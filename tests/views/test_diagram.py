"""The state diagram: drawn from the transition table, lit by what a trace did."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from itertools import pairwise

import pytest

from autograder.course_map import NOTEBOOK_STATES
from autograder.notebook_helpers import state_map
from autograder.views import exercised_edges, state_diagram_svg
from autograder.views._geometry import ASCENT, CW, DESCENT
from autograder.views.diagram import POSITIONS
from reference_impl import scenarios
from reference_impl.states import State
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
        replace(r, state_after=State.CLOSED) if r.event == "recv" and r.state_before is State.FIN_WAIT_1 else r
        for r in rows
    ]
    assert ("FIN_WAIT_1", "CLOSED") in lit(state_diagram_svg(Trace(bad)))


def test_every_transition_a_catalogue_run_takes_has_an_edge():
    drawn = edges(state_diagram_svg(full=True))
    for name in scenarios.CATALOGUE:
        for src, _, dst in exercised_edges(scenarios.run(name)):
            if src in POSITIONS and dst in POSITIONS:  # a new connection's opening is not the close's diagram
                assert (src, dst) in drawn, f"{name}: {src} → {dst} is not in the diagram"


# ---- legibility: every picture of the diagram a notebook shows, measured from its SVG ----------------
# A reader met the FIN_WAIT_1 -> TIME_WAIT curve across CLOSING's box, two FIN_WAIT_1 arrows both
# reading "rcv FIN / snd ACK", and a longer label on FIN_WAIT_2's. Text is measured as the diagram
# draws it: DejaVu Sans Mono, every glyph 0.602 em wide (autograder.views._geometry).

Box = tuple[float, float, float, float]  # left, top, right, bottom


def variants() -> dict[str, str]:
    """Every picture of the diagram the notebooks show (each notebook's top and end map), and the full one."""
    out = {"full": state_diagram_svg(full=True), "plain": state_diagram_svg()}
    for nb in NOTEBOOK_STATES:
        for where, unrevealed in (("top", True), ("end", False)):
            html = state_map(nb, unrevealed=unrevealed).data
            if "<svg" in html:  # notebook 01's top map is one sentence: nothing found yet
                out[f"{nb} {where}"] = html[html.index("<svg") : html.index("</svg>") + 6]
    return out


VARIANTS = variants()


def _attr(el: ET.Element, name: str, default: float = 0.0) -> float:
    return float(el.get(name, default))


def state_boxes(root: ET.Element) -> dict[str, Box]:
    out = {}
    for g in root.iter(f"{NS}g"):
        if (g.get("class") or "").startswith("state"):
            r, name = g.find(f"{NS}rect"), g.find(f"{NS}text").text
            x, y = _attr(r, "x"), _attr(r, "y")
            out[name] = (x, y, x + _attr(r, "width"), y + _attr(r, "height"))
    return out


def label_lines(g: ET.Element) -> list[tuple[str, float, float, float]]:
    """Each line of an edge's label: (text, x of its middle, baseline, font size)."""
    out = []
    for t in g.iter(f"{NS}text"):
        size, y = _attr(t, "font-size"), _attr(t, "y")
        for span in t.iter(f"{NS}tspan"):
            y += _attr(span, "dy")
            out.append((span.text or "", _attr(span, "x", _attr(t, "x")), y, size))
    return out


def label_box(g: ET.Element) -> Box | None:
    lines = label_lines(g)
    if not lines:
        return None
    half = [len(s) * size * CW / 2 for s, _, _, size in lines]
    return (min(x - h for (_, x, _, _), h in zip(lines, half, strict=True)), min(y - ASCENT * s for _, _, y, s in lines),
            max(x + h for (_, x, _, _), h in zip(lines, half, strict=True)), max(y + DESCENT * s for _, _, y, s in lines))  # fmt: skip


def transition_texts(g: ET.Element) -> list[str]:
    """What the label says of each transition on the edge: one <text> each, its lines joined."""
    return [" ".join(s.text or "" for s in t.iter(f"{NS}tspan")) for t in g.iter(f"{NS}text")]


def polyline(g: ET.Element, steps: int = 40) -> list[tuple[float, float]]:
    """The edge's path (M, L, Q and C commands, absolute) as points."""
    tokens = re.findall(r"[MLQC]|-?\d+(?:\.\d+)?", g.find(f"{NS}path").get("d"))
    pts: list[tuple[float, float]] = []
    i = 0
    while i < len(tokens):
        cmd, i = tokens[i], i + 1
        n = {"M": 1, "L": 1, "Q": 2, "C": 3}[cmd]
        ctrl = [(float(tokens[i + 2 * k]), float(tokens[i + 2 * k + 1])) for k in range(n)]
        i += 2 * n
        if cmd in "ML":
            pts.append(ctrl[0])
            continue
        p = [pts[-1], *ctrl]
        for s in range(1, steps + 1):
            t, q = s / steps, p
            while len(q) > 1:  # de Casteljau
                q = [((1 - t) * a[0] + t * b[0], (1 - t) * a[1] + t * b[1]) for a, b in pairwise(q)]
            pts.append(q[0])
    return pts


def crosses(pts: list[tuple[float, float]], box: Box, inset: float = 0.5) -> bool:
    """Whether the polyline enters the box (shrunk by `inset`): Liang-Barsky on each segment."""
    left, top, right, bottom = box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset
    for (x0, y0), (x1, y1) in pairwise(pts):
        lo, hi, dx, dy = 0.0, 1.0, x1 - x0, y1 - y0
        for p, q in ((-dx, x0 - left), (dx, right - x0), (-dy, y0 - top), (dy, bottom - y0)):
            if p == 0:
                if q < 0:
                    break
            elif p < 0:
                lo = max(lo, q / p)
            else:
                hi = min(hi, q / p)
        else:
            if lo <= hi:
                return True
    return False


def meets(a: Box, b: Box, margin: float = 0.5) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > margin and min(a[3], b[3]) - max(a[1], b[1]) > margin


def problems(svg: str) -> dict[str, list[str]]:
    """Everything a reader could trip on, by kind (empty lists: the picture reads)."""
    root = ET.fromstring(svg)
    boxes = state_boxes(root)
    drawn = edges(svg)
    labels = {k: b for k, g in drawn.items() if (b := label_box(g))}
    lines = {k: polyline(g) for k, g in drawn.items()}
    out: dict[str, list[str]] = {k: [] for k in ("label on label", "label on box", "edge through box",
                                                 "edge across label", "same text")}  # fmt: skip
    keys = sorted(labels)
    for i, a in enumerate(keys):
        out["label on label"] += [f"{a} / {b}" for b in keys[i + 1 :] if meets(labels[a], labels[b])]
        out["label on box"] += [f"{a} on {s}" for s, box in boxes.items() if meets(labels[a], box)]
        out["edge across label"] += [f"{e} across {a}" for e in lines if e != a and crosses(lines[e], labels[a])]
    for e, pts in lines.items():
        out["edge through box"] += [f"{e} through {s}" for s, box in boxes.items() if s not in e and crosses(pts, box)]
    said: dict[tuple[str, str], tuple[str, str]] = {}
    for (src, dst), g in sorted(drawn.items()):
        for text in transition_texts(g):
            if (src, text) in said:
                out["same text"].append(f"{src}: {text!r} on the edges to {said[src, text][1]} and {dst}")
            said[src, text] = (src, dst)
    return out


KINDS = ("label on label", "label on box", "edge through box", "edge across label", "same text")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_nothing_in_the_diagram_sits_on_anything_else(variant, kind):
    assert problems(VARIANTS[variant])[kind] == [], f"{variant}: {kind}"


def _move(g: ET.Element, to: tuple[float, float]) -> None:
    """Move an edge's label so that the middle of its first line's baseline is at `to`."""
    first = g.find(f"{NS}text")
    dx, dy = to[0] - _attr(first, "x"), to[1] - _attr(first, "y") - _attr(first.find(f"{NS}tspan"), "dy")
    for t in g.iter(f"{NS}text"):
        t.set("y", str(_attr(t, "y") + dy))
        for el in (t, *t.iter(f"{NS}tspan")):
            el.set("x", str(_attr(el, "x") + dx))


def _centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


BREAKS = {  # kind -> how to commit it on the plain diagram
    "label on label": lambda root, e, boxes: _move(e["ESTABLISHED", "CLOSE_WAIT"], _centre(label_box(e["LAST_ACK", "CLOSED"]))),
    "label on box": lambda root, e, boxes: _move(e["LAST_ACK", "CLOSED"], _centre(boxes["CLOSING"])),
    "edge through box": lambda root, e, boxes: e["FIN_WAIT_1", "FIN_WAIT_2"].find(f"{NS}path").set(
        "d", "M170,190 L430,290 L170,330"),
    "edge across label": lambda root, e, boxes: e["ESTABLISHED", "CLOSE_WAIT"].find(f"{NS}path").set(
        "d", "M480,80 L{:.1f},{:.1f} L640,150".format(*_centre(label_box(e["CLOSE_WAIT", "LAST_ACK"])))),
}  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_each_check_sees_what_it_looks_for(kind):
    """The checks above can fail: the plain diagram, broken in one way, fails the check for it."""
    root = ET.fromstring(VARIANTS["plain"])
    e = {(g.get("data-from"), g.get("data-to")): g for g in root.iter(f"{NS}g") if g.get("data-from")}
    if kind == "same text":  # the two FIN_WAIT_1 arrows on a FIN, as they read before they said their conditions
        for pair in (("FIN_WAIT_1", "TIME_WAIT"), ("FIN_WAIT_1", "CLOSING")):
            texts = e[pair].findall(f"{NS}text")
            for t in texts[1:]:
                e[pair].remove(t)
            spans = texts[0].findall(f"{NS}tspan")
            spans[0].text = "rcv FIN / snd ACK"
            for s in spans[1:]:
                texts[0].remove(s)
    else:
        BREAKS[kind](root, e, state_boxes(root))
    found = problems(ET.tostring(root, encoding="unicode"))
    assert found[kind], f"{kind} not seen in a picture broken that way"
    assert not any(problems(VARIANTS["plain"]).values())
