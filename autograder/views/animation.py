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
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from ._draw import STATE_COLORS
from .explain import explain
from .model import Event, events_of, initial_states
from .svg import MAX_EVENTS, render_svg

CSS = """
.{uid} .tv {{ opacity: clamp(0, min(calc(var(--k, 0) - var(--a) + 1), calc(var(--b, 1000000) - var(--k, 0))), 1);
  transition: opacity .12s linear; }}
.{uid} .tl-wrap {{ font-family: var(--jp-ui-font-family, sans-serif); color: #1f2328; }}
.{uid} .tl-heads {{ display: grid; grid-template-columns: repeat({n}, minmax(0, 1fr)); gap: 12px;
  position: sticky; top: 0; z-index: 2; background: var(--jp-layout-color0, #fff); padding: 6px 0 8px; }}
.{uid} .tl-head {{ border: 1px solid #d0d7de; border-radius: 10px; padding: 8px 12px; background: #f6f8fa; }}
.{uid} .tl-title {{ font-weight: 600; font-size: 14px; margin-bottom: 6px; }}
.{uid} .tl-states {{ display: flex; justify-content: space-between; gap: 8px; }}
.{uid} .tl-ep {{ display: flex; align-items: center; gap: 8px; }}
.{uid} .tl-eplabel {{ font-size: 13px; color: #57606a; font-weight: 600; }}
.{uid} .tl-stack {{ display: grid; }}
.{uid} .tl-stack > * {{ grid-area: 1 / 1; }}
.{uid} .tl-state {{ font: bold 22px/1.2 'DejaVu Sans Mono', ui-monospace, monospace; color: #fff;
  border-radius: 10px; padding: 3px 12px; white-space: nowrap; }}
.{uid} .tl-say {{ margin-top: 8px; font-size: 14px; line-height: 1.35; min-height: 2.7em; }}
.{uid} .tl-svg {{ overflow-x: auto; }}
.{uid} .tl-svg svg {{ max-width: 100%; height: auto; }}
"""


def animated_html(
    learner: object,
    reference: object = None,
    *,
    uid: str,
    labels: tuple[str, str] = ("Your implementation", "Reference"),
    highlight: int | tuple[float, str] | None = None,
    title: str | None = None,
    max_events: int = MAX_EVENTS,
) -> tuple[str, int]:
    """(HTML fragment, number of steps). Step k shows the first k events of each run."""
    runs = [events_of(learner)] if reference is None else [events_of(learner), events_of(reference)]
    names = [title or ""] if reference is None else list(labels)
    steps = min(max(len(r) for r in runs), max_events)
    svg = render_svg(learner, reference=reference, labels=labels, highlight=highlight, title=title,
                     compact=reference is not None, animate=True, max_events=max_events)  # fmt: skip
    # One rule per step: the slider's handle says which step it is on.
    rules = "".join(
        f'.{uid}:has(.tl-step [aria-valuenow="{k}.0"]) {{ --k: {k}; }}\n' for k in range(steps + 1)
    )
    heads = "".join(_head(name, evs[:max_events], steps) for name, evs in zip(names, runs, strict=True))
    html = (
        f"<style>{CSS.format(uid=uid, n=len(runs))}{rules}</style>"
        f'<div class="tl-wrap"><div class="tl-heads">{heads}</div><div class="tl-svg">{svg}</div></div>'
    )
    return html, steps


def _tv(a: int, b: int | None = None) -> str:
    return f'class="tv" style="--a:{a}' + (f";--b:{b}" if b is not None else "") + '"'


def _head(name: str, events: list[Event], steps: int) -> str:
    """The big state of each endpoint and the sentence for the current event, for every step."""
    eps = []
    for ep, role in (("A", "client"), ("B", "server")):
        spans, cur, since = [], initial_states(events)[ep], 0
        for k, e in enumerate(events, start=1):
            if e.endpoint == ep and e.after and e.after != cur:
                spans.append(_state_span(cur, since, k))
                cur, since = e.after, k
        spans.append(_state_span(cur, since, None))
        eps.append(
            f'<div class="tl-ep" data-endpoint="{ep}"><span class="tl-eplabel">{ep} · {role}</span>'
            f'<span class="tl-stack">{"".join(spans)}</span></div>'
        )
    says = ['<span class="tv" style="--a:0;--b:1">Press ▶ to play, or drag the slider: one step per event.</span>']
    for k, e in enumerate(events, start=1):
        says.append(f"<span {_tv(k, k + 1)}>{escape(explain(e))}</span>")
    if len(events) < steps:
        says.append(f"<span {_tv(len(events) + 1)}>This run has no more events.</span>")
    title = f'<div class="tl-title">{escape(name)}</div>' if name else ""
    return (
        f'<div class="tl-head">{title}<div class="tl-states">{"".join(eps)}</div>'
        f'<div class="tl-say tl-stack">{"".join(says)}</div></div>'
    )


def _state_span(state: str, a: int, b: int | None) -> str:
    color = STATE_COLORS.get(state, "#57606a")
    text = escape(state or "—")
    return f'<span {_tv(a, b)} data-state="{text}"><span class="tl-state" style="background:{color}">{text}</span></span>'
