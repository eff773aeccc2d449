"""The animated timeline widget: play, pause, step and scrub a close, the learner's run
beside the reference's, with scenario and profile pickers.

How it animates (see `animation.py`): every frame is drawn once into one HTML
widget; `widgets.Play` is jslinked to the step `IntSlider`, and CSS keyed on the
slider's position shows each frame, so playing and scrubbing run entirely in
the browser, smooth even when the kernel is busy. Python only rebuilds the
picture when a picker changes, and mirrors the step into a fallback style.

Widgets belong in ungraded cells only (nbgrader autograding is headless).
"""

from __future__ import annotations

import functools
import html
import uuid
from collections.abc import Callable

import ipywidgets as widgets

from .animation import animated_html, step_fractions
from .model import events_of, first_difference, segment_roles
from .svg import MAX_EVENTS

# run(scenario name, profile name) -> Trace; called as run(name, profile, lose) when the
# learner picks a loss pattern (lose: segment names such as ("A2", "B1")).
Runner = Callable[..., object]
SPEEDS = (("½×", 1600), ("1×", 800), ("2×", 400), ("4×", 200))
PICKER_LOSSES = 2  # the network picker offers every pattern of up to this many lost segments...
PAIRS_UP_TO = 20  # ...in a run of at most this many segments; a longer one offers single losses only

# Accessible names for the two controls ipywidgets 8.1 leaves unnamed: the Play widget's icon
# buttons (play/pause, stop, repeat) and the slider's handle (role slider; the "step" label is
# not tied to it). ipywidgets offers no attribute for either, so a hidden image that fails to
# decode runs this once per widget: it names them, and names them again whenever the front end
# redraws them or swaps the play icon for pause. No request leaves the page ("data:," is local).
_CONTROL_NAMES = """(function (img) {
  var tries = 0;
  var names = [["fa-play", "play"], ["fa-pause", "pause"], ["fa-stop", "stop and go back to the start"],
               ["fa-retweet", "repeat"]];
  function name(el, text) { if (el.getAttribute("aria-label") !== text) el.setAttribute("aria-label", text); }
  function label(root) {
    root.querySelectorAll(".widget-play button").forEach(function (b) {
      var icon = b.querySelector("i");
      names.forEach(function (n) { if (icon && icon.classList.contains(n[0])) name(b, n[1]); });
    });
    root.querySelectorAll(".tl-step .noUi-handle").forEach(function (h) { name(h, "step"); });
    root.querySelectorAll(".tl-step .widget-readout").forEach(function (r) { name(r, "step number"); });
  }
  (function start() {
    var root = img.closest(".tcp-timeline-widget");
    if (!root) { if (tries++ < 200) setTimeout(start, 50); return; }
    if (root.dataset.tlNamed) return;
    root.dataset.tlNamed = "1";
    label(root);
    new MutationObserver(function () { label(root); })
      .observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ["class"]});
  })();
})(this)"""


def reference_trace_losing(name: str, profile: object, lose: tuple[str, ...] = ()) -> object:
    """The reference close machine on a catalogue scenario (profile: a name or a Profile),
    with extra segments lost. In a learner build, the recorded reference plays it."""
    from ..reference_source import reference_trace

    return reference_trace(name, profile, lose)


def picker_patterns(name: str, profile: object, k: int = PICKER_LOSSES) -> list[tuple[str, ...]]:
    """The loss patterns the network picker offers: up to k lost segments, or single losses when the
    run is long (an ACK war with TIME_WAIT = 0 sends over a hundred segments; their pairs would be
    thousands of options nobody scrolls through, and seconds of simulation before the picture)."""
    from ..reference_source import loss_patterns

    singles = loss_patterns(name, 1, profile)
    return singles if k <= 1 or len(singles) - 1 > PAIRS_UP_TO else loss_patterns(name, k, profile)


def loss_choices(name: str, profile: object, k: int = PICKER_LOSSES) -> list[tuple[str, tuple[str, ...]]]:
    """The loss patterns of picker_patterns as picker options named by role: "lose A's FIN (A1)",
    "lose B's ACK of A's FIN (B1) + A's FIN, again (A2)". A segment's name counts its sender's
    segments in the run where the losses before it already happened."""
    roles: dict[tuple[str, ...], dict[str, str]] = {}

    def role(before: tuple[str, ...], key: str) -> str:
        if before not in roles:
            roles[before] = segment_roles(events_of(reference_trace_losing(name, profile, before)))
        return f"{roles[before].get(key, 'segment')} ({key})"

    out = [("no extra loss", ())]
    for keys in picker_patterns(name, profile, k):
        if keys:
            out.append(("lose " + " + ".join(role(keys[:i], key) for i, key in enumerate(keys)), tuple(keys)))
    return out


def own_losses(name: str, profile: object, lose: tuple[str, ...] = ()) -> str:
    """A sentence naming the scenario's own lost segments by role in the run shown, and saying so
    when an extra loss has moved one of them onto another segment."""
    from reference_impl import scenarios
    from reference_impl.roles import Role, where

    own = [k if isinstance(k, Role) else f"{k[0]}{k[1]}"
           for k, fate in scenarios.get(name).scenario.fates.items() if fate.kind == "lose"]  # fmt: skip
    if not own:
        return ""
    base = segment_roles(events_of(reference_trace_losing(name, profile)))
    shown = segment_roles(events_of(reference_trace_losing(name, profile, lose))) if lose else base
    lost, moved = [], []  # "A's FIN (A1)"; "its own loss A2 falls on ... (it was ...)"
    for key in own[:3]:
        if isinstance(key, Role):  # named by what it is: it stays on its segment whatever else is lost
            at = where(key, reference_trace_losing(name, profile, lose).rows)
            if at is not None:
                lost.append(f"{key} ({at})")
            continue
        was, now = base.get(key), shown.get(key)
        if now is None:
            continue
        if was != now:
            moved.append(f"with this extra loss, the scenario's own loss {key} falls on {now} (it was {was})")
        else:
            lost.append(f"{now} ({key})")
    more = f" and {len(own) - 3} more" if len(own) > 3 else ""
    parts = ([f"the scenario itself loses {', '.join(lost)}"] if lost else []) + moved
    text = "; ".join(parts) + more + "."
    return text[0].upper() + text[1:] if parts else ""


class Timeline(widgets.VBox):
    """A timeline widget. Build it with `timeline(...)`; it displays itself in a notebook.

    Two modes: fixed traces (`learner`, optional `reference`), or catalogue mode
    (`scenario` + `profile` pickers; `run(name, profile)` produces the learner's
    trace, the reference always runs beside it when `run` is given).
    """

    def __init__(
        self,
        learner: object = None,
        reference: object = None,
        *,
        scenario: str | None = None,
        profile: object = "rfc9293",
        profile_label: str | None = None,
        run: Runner | None = None,
        highlight: int | tuple[float, str] | None = None,
        labels: tuple[str, str] = ("Your implementation", "Reference"),
        max_events: int = MAX_EVENTS,
        upto: str | None = None,
    ) -> None:
        self.uid = f"tl-{uuid.uuid4().hex[:10]}"
        self._loading = False
        self.divergence: tuple[int, int | None] | None = None
        self._run, self._labels, self._max, self._highlight = run, labels, max_events, highlight
        self.play = widgets.Play(value=0, min=0, max=1, step=1, interval=800, description="play", show_repeat=False,
                                 layout=widgets.Layout(width="auto"))  # fmt: skip
        self.slider = widgets.IntSlider(value=0, min=0, max=1, description="step", continuous_update=True,
                                        layout=widgets.Layout(width="420px"))  # fmt: skip
        self.slider.add_class("tl-step")
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.back = widgets.Button(description="◀ step", layout=widgets.Layout(width="76px"), tooltip="previous event")
        self.fwd = widgets.Button(description="step ▶", layout=widgets.Layout(width="76px"), tooltip="next event")
        self.speed = widgets.ToggleButtons(options=SPEEDS, value=800, description="speed",
                                           style={"button_width": "44px", "description_width": "initial"})  # fmt: skip
        # A long picture is shown through a window that follows the step; this shows all of it instead.
        self.whole = widgets.ToggleButton(value=False, description="whole picture", layout=widgets.Layout(width="auto"),
                                          tooltip="show the whole picture, not a window that follows the step")  # fmt: skip
        self.whole.observe(lambda ch: (self.add_class if ch["new"] else self.remove_class)("tl-whole"), "value")
        self.back.on_click(lambda _: self.go(self.slider.value - 1))
        self.fwd.on_click(lambda _: self.go(self.slider.value + 1))
        self.speed.observe(lambda ch: setattr(self.play, "interval", ch["new"]), "value")
        self.frames = widgets.HTML()
        self.frames.add_class("tl-frames")
        self.kernel_step = widgets.HTML(layout=widgets.Layout(height="0px", overflow="hidden"))
        self.names = widgets.HTML(f'<img alt="" src="data:," onerror="{html.escape(_CONTROL_NAMES)}">',
                                  layout=widgets.Layout(height="0px", overflow="hidden"))  # fmt: skip
        self.slider.observe(self._on_step, "value")
        controls = widgets.HBox([self.play, self.slider, self.back, self.fwd, self.speed, self.whole],
                                layout=widgets.Layout(flex_flow="row wrap", align_items="center"))  # fmt: skip
        self.download = widgets.HTML()
        rows: list[widgets.Widget] = [controls, self.frames, self.download, self.kernel_step, self.names]
        self.pickers: widgets.HBox | None = None
        if learner is None:
            from reference_impl import scenarios
            from reference_impl.profiles import PROFILES

            from ..course_map import picker_scenarios

            # The named profiles, plus a variant (e.g. TIME_WAIT = 0) under its own label.
            self.profiles: dict[str, object] = dict(PROFILES)
            if not isinstance(profile, str):
                key = profile_label or f"{profile.name} (changed)"
                self.profiles[key] = profile
                profile = key
            start = scenario or "active-close"
            offered = picker_scenarios(upto, list(scenarios.CATALOGUE))
            offered += [] if start in offered else [start]  # a scenario asked for by name is always there
            self.scenario = widgets.Dropdown(options=offered, value=start,
                                             description="scenario")  # fmt: skip
            # Buttons share one width; size it to the longest label so none is cut short.
            width = max(80, 9 * max(map(len, self.profiles)) + 24)
            self.profile = widgets.ToggleButtons(options=list(self.profiles), value=profile, description="profile",
                                                 style={"button_width": f"{width}px", "description_width": "initial"})  # fmt: skip
            self.about = widgets.HTML()
            self.lose = widgets.Dropdown(options=[("no extra loss", ())], value=(), description="network loses",
                                         style={"description_width": "initial"},
                                         layout=widgets.Layout(width="520px"))  # fmt: skip
            self.scenario.observe(lambda _: self.load_catalogue(new_scenario=True), "value")
            self.profile.observe(lambda _: self.load_catalogue(new_profile=True), "value")
            self.lose.observe(lambda _: None if self._loading else self.load_catalogue(), "value")
            self.pickers = widgets.HBox([self.scenario, self.profile, self.lose, self.about],
                                        layout=widgets.Layout(flex_flow="row wrap", align_items="center"))  # fmt: skip
            rows.insert(0, self.pickers)
        super().__init__(rows)
        self.add_class(self.uid)
        self.add_class("tcp-timeline-widget")
        if learner is None:
            self.load_catalogue()
        else:
            self.load(learner, reference)

    # ---- what is shown ---------------------------------------------------------------------

    def load(self, learner: object, reference: object = None, *, title: str | None = None) -> None:
        """Show these traces from step 0 (empty traces: their note, e.g. that there is no reference here)."""
        given = [t for t in (learner, reference) if t is not None]
        notes = [n for t in given if not len(t) for n in getattr(t, "notes", ())]
        if notes and all(not len(t) for t in given):
            self.note(notes[0])
            return
        highlight, ref_highlight = self._highlight, None
        if highlight is None and reference is not None and len(learner) and len(reference):
            # Mark where the two runs first part, in both panels.
            diff = first_difference(events_of(learner), events_of(reference))
            if diff is not None and diff[0] >= 0 and diff[1] >= 0:
                highlight, ref_highlight = diff
        self.divergence = (highlight, ref_highlight) if highlight is not None else None
        html, steps = animated_html(learner, reference, uid=self.uid, labels=self._labels, highlight=highlight,
                                    reference_highlight=ref_highlight, title=title, max_events=self._max,
                                    cut_runaway=self._run is not None)  # fmt: skip
        self.play.playing = False
        self._fractions = step_fractions(html)
        with self.slider.hold_sync(), self.play.hold_sync():  # a new maximum before the new value: End goes there
            self.slider.max = self.play.max = max(steps, 1)
            self.slider.value = self.play.value = 0
        self._on_step({"new": 0})
        self.frames.value = html
        self.steps = steps
        self.traces = (learner, reference)
        self.download.value = _download_links(learner, reference, self._labels)

    def to_frame(self):
        """What the timeline shows, as a pandas DataFrame: one row per event (run, step, time,
        endpoint, state change, segment, what happens), the first divergence said in words."""
        import pandas as pd

        from .svg import render
        from .text import frame

        learner, reference = getattr(self, "traces", (None, None))
        if learner is None:
            return pd.DataFrame(columns=["run", *frame_columns()])
        hl = self.divergence or (None, None)
        _, canvas = render(learner, reference=reference, labels=self._labels, highlight=hl[0],
                           reference_highlight=hl[1], animate=True, max_events=self._max,
                           cut_runaway=self._run is not None)  # fmt: skip
        parts = []
        for p in canvas.panels:
            df = frame(p)
            df.insert(0, "run", p.name or "reference")
            parts.append(df)
        return pd.concat(parts, ignore_index=True)

    def selected_profile(self) -> object:
        """The picked profile: a named one by its name, a variant as the Profile itself
        (what a runner is given)."""
        key = self.profile.value
        return key if key in _named() else self.profiles[key]

    def load_catalogue(self, new_scenario: bool = False, new_profile: bool = False) -> None:
        from ..reference_source import ReferenceUnavailable

        try:
            self._load_catalogue(new_scenario, new_profile)
        except ReferenceUnavailable as e:  # the grading sandbox, or a run a learner build did not record
            self.note(f"No timeline here: {e.sentence}.")

    def note(self, text: str) -> None:
        """Show one sentence where the picture would be."""
        self.play.playing = False
        self.go(0)
        self.slider.max = self.play.max = 1
        self.steps = 0
        self.frames.value = f'<div style="color:#9a6700;font-size:14px;margin:6px 0">• {html.escape(text)}</div>'

    def _load_catalogue(self, new_scenario: bool, new_profile: bool = False) -> None:
        from reference_impl import scenarios

        name, key = self.scenario.value, self.profile.value
        profile = self.selected_profile()
        if new_scenario or new_profile or len(self.lose.options) == 1:
            # Another profile keeps the picked loss when the same segments (by role) can be lost there.
            kept = dict(self.lose.options).get if new_profile else None
            wanted = next((label for label, v in self.lose.options if v == self.lose.value), None) if kept else None
            options = loss_choices(name, profile)
            self._loading = True  # one redraw, below, not one per picker change
            try:
                self.lose.options = options  # (setting options resets the value: set it after)
                self.lose.value = next((v for label, v in options if label == wanted), ())
            finally:
                self._loading = False
        lose = tuple(self.lose.value)
        own = own_losses(name, profile, lose)
        self.about.value = (f'<span style="color:#424a53">{html.escape(scenarios.get(name).scenario.description)}'
                            f'{" " + html.escape(own) if own else ""}</span>')  # fmt: skip
        ref = reference_trace_losing(name, profile, lose)
        suffix = f" + lose {', '.join(lose)}" if lose else ""
        if self._run is None:
            self.load(ref, title=f"{name}{suffix} ({key}) — reference")
        else:
            self.load(self._run(name, profile, lose) if lose else self._run(name, profile), ref)

    def go(self, step: int) -> None:
        """Move to a step (clamped), as the step buttons do."""
        self.slider.value = max(self.slider.min, min(step, self.slider.max))
        self._on_step({"new": self.slider.value})

    def _on_step(self, change: dict) -> None:
        k = change["new"]
        yf = getattr(self, "_fractions", {}).get(k, 0.0)
        self.kernel_step.value = f'<style data-step="{k}">.{self.uid} {{ --k: {k}; --yf: {yf:.4f}; }}</style>'


def frame_columns() -> list[str]:
    from .text import COLUMNS

    return list(COLUMNS)


def _download_links(learner: object, reference: object, labels: tuple[str, str]) -> str:
    """A link per run that saves it as a pcap, for Wireshark's Statistics > Flow Graph."""
    import base64

    from ..pcap import trace_pcap

    links = []
    runs = [(learner, labels[0] if reference is not None else "this run")]
    if reference is not None:
        runs.append((reference, labels[1]))
    for trace, label in runs:
        if not hasattr(trace, "rows") or not len(trace):
            continue
        data = base64.b64encode(trace_pcap(trace)).decode()
        name = (getattr(trace, "scenario", "") or "close").replace("+", "_").replace(":", "-").replace(",", "-")
        links.append(f'<a download="{html.escape(name)}.pcap" href="data:application/vnd.tcpdump.pcap;base64,{data}" '
                     f'style="color:#0550ae">{html.escape(label)} as a pcap</a>')  # fmt: skip
    if not links:
        return ""
    return (
        '<div style="font-size:13px;margin:4px 0">Open in Wireshark (Statistics › Flow Graph): '
        + " · ".join(links)
        + "</div>"
    )


def _named() -> dict:
    from reference_impl.profiles import PROFILES

    return PROFILES


def timeline(
    source: object = "active-close",
    profile: object = "rfc9293",
    *,
    reference: object = None,
    run: Runner | None = None,
    highlight: int | tuple[float, str] | None = None,
    label: str | None = None,
    upto: str | None = None,
) -> Timeline:
    """An animated timeline.

    timeline("lost-final-ack")                       catalogue mode, reference only
    timeline("lost-final-ack", run=my_run)           the learner's machine beside the reference
    timeline("lost-final-ack", RFC9293.replace(time_wait=0), label="TIME_WAIT = 0")
                                                     a profile variant, as its own picker button
    timeline(trace, reference=ref, highlight=12)     two given traces (Trace or DataFrame)

    upto="04": the scenario picker offers the scenarios the course has shown up to notebook 04
    (autograder.course_map), as `notebook_timeline` sets it for a notebook's cells.
    """
    if isinstance(source, str):
        return Timeline(scenario=source, profile=profile, profile_label=label, run=run, highlight=highlight,
                        upto=upto)  # fmt: skip
    return Timeline(source, reference, highlight=highlight)


def notebook_timeline(notebook: str):
    """`timeline` for one notebook of the course ("04_lost_segments"): its picker offers only the
    scenarios shown up to that notebook, so it never plays a later notebook's answer."""
    from ..course_map import notebook_of

    return functools.wraps(timeline)(functools.partial(timeline, upto=notebook_of(notebook)))
