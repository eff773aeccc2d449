"""All frames of an animated timeline in one HTML fragment, switched by one CSS variable.

Why this shape: sending a new picture per frame from the kernel stutters on a
busy JupyterHub and dies with the kernel. Instead the whole animation is drawn
once; every element carries the step at which it appears (`--a`) and, if it is
transient, the step at which it goes (`--b`). One rule turns the current step
`--k` into opacity:

    opacity = clamp(0, min(k - a + 1, b - k), 1)

and `--k` is set in the browser itself: a `:has()` rule per step matches the
step slider's `aria-valuenow`, which noUiSlider (the slider inside ipywidgets 8)
updates on every move, including moves made by the jslinked Play widget. So
playing and scrubbing need no kernel round trip. The kernel also writes `--k`
into a tiny style element on every change, at lower specificity: a fallback if a
future slider stops exposing aria-valuenow, and what a test can assert on.

Steps are moments of virtual time shared by both runs (`model.schedule`): two runs
that part stay at the same moment. The same per-step rule sets `--yf`, where the
step's events sit in the picture (a fraction of its height); a long picture is shown
through a window that follows it, so the current step is always in view (the "whole picture"
toggle shows all of it, every step drawn, for a reader who wants to scroll).
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from ._axis import Panel
from ._geometry import Quad
from ._style import STATE_COLORS
from .svg import MAX_EVENTS, render
from .text import table_html

VIEW_H = 520  # the picture's window, px: what is left of a 900 px screen under the controls and heads
ANCHOR = 0.55  # where the current step sits in the window, from its top (what comes later is not drawn yet)
BELOW = 48  # px of a step's own drawing under its row (a state's tag, a note) that the window must show
TALL = 60  # px: a label this tall runs along a timer's bar, and the window may cut it if it must
LEEWAY = 0.25  # how much lower in the window a step may sit, to keep the divergence's words in view and
# so that the window's top edge cuts no label

CSS = """
.{uid} .tv {{ opacity: clamp(0, min(calc(var(--k, 0) - var(--a) + 1), calc(var(--b, 1000000) - var(--k, 0))), 1);
  transition: opacity .12s linear; }}
.{uid} .tl-wrap {{ font-family: var(--jp-ui-font-family, sans-serif); color: #1f2328; }}
.{uid} .tl-heads {{ display: grid; grid-template-columns: repeat({n}, minmax(0, 1fr)); gap: 12px;
  position: sticky; top: 0; z-index: 2; background: var(--jp-layout-color0, #fff); padding: 6px 0 8px; }}
.{uid} .tl-head {{ border: 1px solid #d0d7de; border-radius: 10px; padding: 8px 12px; background: #f6f8fa; min-width: 0; }}
.{uid} .tl-title {{ font-weight: 600; font-size: 14px; margin-bottom: 6px; }}
.{uid} .tl-states {{ display: flex; flex-wrap: wrap; justify-content: space-between; gap: 6px 12px; }}
.{uid} .tl-ep {{ display: flex; flex-wrap: wrap; align-items: center; gap: 2px 8px; }}
.{uid} .tl-eplabel {{ font-size: 13px; color: #424a53; font-weight: 600; white-space: nowrap; }}
.{uid} .tl-stack {{ display: grid; }}
.{uid} .tl-stack > * {{ grid-area: 1 / 1; }}
.{uid} .tl-state {{ font: bold {state_px}px/1.25 'DejaVu Sans Mono', ui-monospace, monospace; color: #fff;
  border-radius: 6px; padding: 2px 10px; white-space: nowrap; display: inline-block; }}
.{uid} .tl-state[data-shape="ESTABLISHED"] {{ border-radius: 999px; }}
.{uid} .tl-state[data-shape="CLOSED"] {{ border-radius: 0; outline: 2px dashed #1f2328; outline-offset: -4px; }}
.{uid} .tl-say {{ margin-top: 8px; font-size: 14px; line-height: 1.35; min-height: 4.1em; }}
.{uid} .tl-say .tv {{ transition: none; }}
.{uid} .tl-svg {{ overflow: hidden; height: {view_h}px; position: relative; }}
.{uid} .tl-svg svg {{ display: block; transform: translateY(clamp(min(0px, calc({view_h}px - 100%)),
  calc({view_h}px * {anchor} - var(--yf, 0) * 100%), 0px)); transition: transform .15s ease-out; }}
.{uid}.tl-whole .tl-svg {{ height: auto; }}
.{uid}.tl-whole .tl-svg svg {{ transform: none; }}
.{uid}.tl-whole .tl-svg .tv {{ opacity: 1; }}
.{uid}.tl-whole .tl-say > * {{ visibility: hidden; }}
.{uid}.tl-whole .tl-say::before {{ grid-area: 1 / 1; z-index: 1; content: "The whole run is drawn below, every step at once. Press 'whole picture' again to step through it one event at a time."; }}
.{uid} details.tl-text {{ margin-top: 6px; font-size: 13px; }}
.{uid} details.tl-text summary {{ cursor: pointer; color: #0550ae; }}
.{uid} .tl-text table {{ border-collapse: collapse; margin: 4px 0 8px; }}
.{uid} .tl-text th, .{uid} .tl-text td {{ border: 1px solid #d0d7de; padding: 2px 6px; text-align: left; font-size: 13px; }}
"""


def animated_html(
    learner: object,
    reference: object = None,
    *,
    uid: str,
    labels: tuple[str, str] = ("Your implementation", "Reference"),
    highlight: int | tuple[float, str] | None = None,
    reference_highlight: int | None = None,
    title: str | None = None,
    max_events: int = MAX_EVENTS,
    cut_runaway: bool = False,
) -> tuple[str, int]:
    """(HTML fragment, number of steps). Step k shows every event up to the k-th moment."""
    svg, canvas = render(learner, reference=reference, labels=labels, highlight=highlight, title=title,
                         reference_highlight=reference_highlight, animate=True, max_events=max_events,
                         cut_runaway=cut_runaway)  # fmt: skip
    panels = canvas.panels
    steps = max((max(p.appear.values(), default=0) for p in panels), default=0)
    height = max(canvas.axis.bottom, 1.0)
    view_h = min(VIEW_H, int(height) + 1)
    parts_at = _parts_at(panels)
    ys, y = [], 0.0
    for k in range(steps + 1):
        y = canvas.step_y.get(k, y)
        keep = min(canvas.mark_tops, default=None) if parts_at is not None and k >= parts_at else None
        ys.append(_uncut(y, height, view_h, canvas.place.boxes, keep) / height)
    # One rule per step: the slider's handle says which step it is on.
    rules = "".join(
        f'.{uid}:has(.tl-step [aria-valuenow="{k}.0"]) {{ --k: {k}; --yf: {ys[k]:.4f}; }}\n' for k in range(steps + 1)
    )
    names = [title or ""] if reference is None else [p.name for p in panels]
    heads = "".join(_head(name, p, steps) for name, p in zip(names, panels, strict=True))
    css = CSS.format(uid=uid, n=len(panels), view_h=view_h, anchor=ANCHOR, state_px=18 if len(panels) == 1 else 15)
    diverges = "" if parts_at is None else f' data-diverges-at="{parts_at}"'
    html = (
        f"<style>{css}{rules}</style>"
        # The heads and the stacked frames are for the eye (every frame is in the page, shown by opacity);
        # a screen reader gets the picture's title and description, and the tables below.
        f'<div class="tl-wrap"{diverges}><div class="tl-heads" aria-hidden="true">{heads}</div><div class="tl-svg">{svg}</div>'
        f"{table_html(panels)}</div>"
    )
    return html, steps


def _parts_at(panels: list[Panel]) -> int | None:
    """The step at which the marked first divergence is drawn in full (see `divergence_step`): the
    later of the panels' marks, since the other run's differing row (an error, a timer) can come a
    step after the learner's."""
    return max((p.appear[p.mark] for p in panels if p.mark is not None and p.mark in p.appear), default=None)


def divergence_step(html: str) -> int | None:
    """The step at which an animation's marked first divergence appears, if it marks one."""
    found = re.search(r'data-diverges-at="(\d+)"', html)
    return int(found.group(1)) if found else None


def _uncut(y: float, height: float, view_h: float, boxes: list[Quad], keep: float | None = None) -> float:
    """Where to centre the window for a step at `y`: ANCHOR of the way down, or up to LEEWAY lower,
    so that `keep` (the divergence's words, once it is drawn) is in view and the window's top edge
    falls between labels rather than through one (readers met a label sliced in half there, and a
    divergence's words above the window). Tall boxes (a timer's label along its bar) are kept whole
    only when the short ones allow it."""
    top = min(max(y - ANCHOR * view_h, 0.0), max(height - view_h, 0.0))
    lowest = max(top - LEEWAY * view_h, y + BELOW - view_h)  # the highest top that keeps the step in view
    if keep is not None and lowest <= keep - 4.0 < top:
        top = max(keep - 4.0, 0.0)
    spans = [(min(p[1] for p in q), max(p[1] for p in q)) for q in boxes]
    for kept in (spans, [s for s in spans if s[1] - s[0] <= TALL]):
        edge = _edge_between(top, kept, lowest)
        if edge is not None:
            return edge + ANCHOR * view_h
    return top + ANCHOR * view_h


def _edge_between(top: float, spans: list[tuple[float, float]], lowest: float) -> float | None:
    """The highest edge at or above `top` (not above `lowest`) that cuts none of the spans."""
    while top > 0:
        cut = [lo for lo, hi in spans if lo - 1.0 < top < hi]  # a px of room: --yf is rounded
        if not cut:
            return top
        top = min(cut) - 2.0
        if top < lowest:
            return None
    return 0.0 if lowest <= 0 else None


def step_fractions(html: str) -> dict[int, float]:
    """The --yf of each step in an animation's rules (for the kernel's fallback style)."""
    out = {}
    for part in html.split("{ --k: ")[1:]:
        k, rest = part.split(";", 1)
        out[int(k)] = float(rest.split("--yf: ", 1)[1].split(";", 1)[0])
    return out


def _tv(a: int, b: int | None = None) -> str:
    return f'class="tv" style="--a:{a}' + (f";--b:{b}" if b is not None else "") + '"'


def _head(name: str, p: Panel, steps: int) -> str:
    """The big state of each endpoint and the sentence for the current moment, for every step."""
    events = p.events
    eps = []
    for ep, role in (("A", "client"), ("B", "server")):
        start = next((e.before or e.after for e in events if e.endpoint == ep), "")
        spans, cur, since = [], start, 0
        for e in events:
            k = p.appear.get(e.index, 0)
            if e.endpoint == ep and e.after and e.after != cur:
                spans.append(_state_span(cur, since, k))
                cur, since = e.after, k
        spans.append(_state_span(cur, since, None))
        eps.append(
            f'<div class="tl-ep" data-endpoint="{ep}"><span class="tl-eplabel">{ep} · {role}</span>'
            f'<span class="tl-stack" aria-live="off">{"".join(spans)}</span></div>'
        )
    start = 'Press ▶ to play, or drag the slider: one step per moment. The picture follows the step; "whole picture" shows it all.'
    says = [f'<span class="tv" style="--a:0;--b:1">{escape(start)}</span>']
    by_step: dict[int, list[str]] = {}
    cap = p.captions
    for e in events:
        k = p.appear.get(e.index)
        if k is not None:
            by_step.setdefault(k, []).append(cap.sentence(e) if cap is not None else "")
    ks = sorted(by_step)
    for j, k in enumerate(ks):
        until = ks[j + 1] if j + 1 < len(ks) else steps + 1
        says.append(f"<span {_tv(k, until)}>{escape(' '.join(by_step[k]))}</span>")
    last = ks[-1] if ks else 0
    if last < steps:
        says.append(f"<span {_tv(last + 1)}>This run has no more events.</span>")
        says[-2] = says[-2].replace(f";--b:{steps + 1}", f";--b:{last + 1}")
    title = f'<div class="tl-title">{escape(name)}</div>' if name else ""
    return (
        f'<div class="tl-head">{title}<div class="tl-states">{"".join(eps)}</div>'
        f'<div class="tl-say tl-stack">{"".join(says)}</div></div>'
    )


def _state_span(state: str, a: int, b: int | None) -> str:
    color = STATE_COLORS.get(state, "#59636e")
    text = escape(state or "—")
    return (
        f'<span {_tv(a, b)} data-state="{text}"><span class="tl-state" data-shape="{text}" '
        f'style="background:{color}">{text}</span></span>'
    )
