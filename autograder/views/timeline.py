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

import html
import uuid
from collections.abc import Callable

import ipywidgets as widgets

from .animation import animated_html, step_fractions
from .model import events_of, first_difference
from .svg import MAX_EVENTS

# run(scenario name, profile name) -> Trace; called as run(name, profile, lose) when the
# learner picks a loss pattern (lose: segment names such as ("A2", "B1")).
Runner = Callable[..., object]
SPEEDS = (("½×", 1600), ("1×", 800), ("2×", 400), ("4×", 200))
PICKER_LOSSES = 2  # the network picker offers every pattern of up to this many lost segments


def reference_run(name: str, profile: object, lose: tuple[str, ...] = ()) -> object:
    """The reference close machine on a catalogue scenario (profile: a name or a Profile),
    with extra segments lost. In a learner build, the recorded reference plays it."""
    from ..reference_source import reference_trace

    return reference_trace(name, profile, lose)


def loss_choices(name: str, profile: object, k: int = PICKER_LOSSES) -> list[tuple[str, tuple[str, ...]]]:
    """The loss patterns of up to k segments that can happen in a scenario, as picker options."""
    from ..reference_source import loss_patterns

    patterns = [keys for keys in loss_patterns(name, k, profile) if keys]
    return [("no extra loss", ())] + [("lose " + " + ".join(keys), keys) for keys in patterns]


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
    ) -> None:
        self.uid = f"tl-{uuid.uuid4().hex[:10]}"
        self._run, self._labels, self._max, self._highlight = run, labels, max_events, highlight
        self.play = widgets.Play(value=0, min=0, max=1, step=1, interval=800, description="play",
                                 layout=widgets.Layout(width="auto"))  # fmt: skip
        self.slider = widgets.IntSlider(value=0, min=0, max=1, description="step", continuous_update=True,
                                        layout=widgets.Layout(width="420px"))  # fmt: skip
        self.slider.add_class("tl-step")
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.back = widgets.Button(description="◀ step", layout=widgets.Layout(width="76px"), tooltip="previous event")
        self.fwd = widgets.Button(description="step ▶", layout=widgets.Layout(width="76px"), tooltip="next event")
        self.speed = widgets.ToggleButtons(options=SPEEDS, value=800, description="speed",
                                           style={"button_width": "44px", "description_width": "initial"})  # fmt: skip
        self.back.on_click(lambda _: self.go(self.slider.value - 1))
        self.fwd.on_click(lambda _: self.go(self.slider.value + 1))
        self.speed.observe(lambda ch: setattr(self.play, "interval", ch["new"]), "value")
        self.frames = widgets.HTML()
        self.frames.add_class("tl-frames")
        self.kernel_step = widgets.HTML(layout=widgets.Layout(height="0px", overflow="hidden"))
        self.slider.observe(self._on_step, "value")
        controls = widgets.HBox([self.play, self.slider, self.back, self.fwd, self.speed],
                                layout=widgets.Layout(flex_flow="row wrap", align_items="center"))  # fmt: skip
        rows: list[widgets.Widget] = [controls, self.frames, self.kernel_step]
        self.pickers: widgets.HBox | None = None
        if learner is None:
            from reference_impl import scenarios
            from reference_impl.profiles import PROFILES

            # The named profiles, plus a variant (e.g. TIME_WAIT = 0) under its own label.
            self.profiles: dict[str, object] = dict(PROFILES)
            if not isinstance(profile, str):
                key = profile_label or f"{profile.name} (changed)"
                self.profiles[key] = profile
                profile = key
            self.scenario = widgets.Dropdown(options=list(scenarios.CATALOGUE), value=scenario or "active-close",
                                             description="scenario")  # fmt: skip
            # Buttons share one width; size it to the longest label so none is cut short.
            width = max(80, 9 * max(map(len, self.profiles)) + 24)
            self.profile = widgets.ToggleButtons(options=list(self.profiles), value=profile, description="profile",
                                                 style={"button_width": f"{width}px", "description_width": "initial"})  # fmt: skip
            self.about = widgets.HTML()
            self.lose = widgets.Dropdown(options=[("no extra loss", ())], value=(), description="network",
                                         layout=widgets.Layout(width="230px"))  # fmt: skip
            self.scenario.observe(lambda _: self.load_catalogue(new_scenario=True), "value")
            self.profile.observe(lambda _: self.load_catalogue(new_scenario=True), "value")
            self.lose.observe(lambda _: self.load_catalogue(), "value")
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
                                    reference_highlight=ref_highlight, title=title, max_events=self._max)  # fmt: skip
        self.play.playing = False
        self._fractions = step_fractions(html)
        with self.slider.hold_sync(), self.play.hold_sync():  # a new maximum before the new value: End goes there
            self.slider.max = self.play.max = max(steps, 1)
            self.slider.value = self.play.value = 0
        self._on_step({"new": 0})
        self.frames.value = html
        self.steps = steps
        self.traces = (learner, reference)

    def selected_profile(self) -> object:
        """The picked profile: a named one by its name, a variant as the Profile itself
        (what a runner is given)."""
        key = self.profile.value
        return key if key in _named() else self.profiles[key]

    def load_catalogue(self, new_scenario: bool = False) -> None:
        from ..reference_source import ReferenceUnavailable

        try:
            self._load_catalogue(new_scenario)
        except ReferenceUnavailable as e:  # the grading sandbox, or a run a learner build did not record
            self.note(f"No timeline here: {e.sentence}.")

    def note(self, text: str) -> None:
        """Show one sentence where the picture would be."""
        self.play.playing = False
        self.go(0)
        self.slider.max = self.play.max = 1
        self.steps = 0
        self.frames.value = f'<div style="color:#9a6700;font-size:14px;margin:6px 0">• {html.escape(text)}</div>'

    def _load_catalogue(self, new_scenario: bool) -> None:
        from reference_impl import scenarios

        name, key = self.scenario.value, self.profile.value
        profile = self.selected_profile()
        if new_scenario or len(self.lose.options) == 1:
            with self.lose.hold_trait_notifications():
                self.lose.options = loss_choices(name, profile)
                self.lose.value = ()
        lose = tuple(self.lose.value)
        self.about.value = f'<span style="color:#57606a">{scenarios.get(name).scenario.description}</span>'
        ref = reference_run(name, profile, lose)
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
) -> Timeline:
    """An animated timeline.

    timeline("lost-final-ack")                       catalogue mode, reference only
    timeline("lost-final-ack", run=my_run)           the learner's machine beside the reference
    timeline("lost-final-ack", RFC9293.replace(time_wait=0), label="TIME_WAIT = 0")
                                                     a profile variant, as its own picker button
    timeline(trace, reference=ref, highlight=12)     two given traces (Trace or DataFrame)
    """
    if isinstance(source, str):
        return Timeline(scenario=source, profile=profile, profile_label=label, run=run, highlight=highlight)
    return Timeline(source, reference, highlight=highlight)
