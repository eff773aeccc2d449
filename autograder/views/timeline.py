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

from ._player import Player
from .animation import animated_html, divergence_step, step_fractions
from .losses import loss_choices, own_losses, reference_trace_losing
from .model import events_of
from .side_by_side import first_difference
from .svg import MAX_EVENTS

# run(scenario name, profile name) -> Trace; called as run(name, profile, lose) when the
# learner picks a loss pattern (lose: segment names such as ("A2", "B1")).
Runner = Callable[..., object]
# Said under a picture that has them: two readers took the grey brackets in the time column for
# something unexplained (their tooltip is found only by hovering).
SAME_MOMENT_NOTE = (
    '<div style="color:#424a53;font-size:13px;margin:4px 0">A grey bracket in the time column: '
    "everything beside it happens at one moment; the rows only make room for the labels.</div>"
)


class Timeline(Player, widgets.VBox):
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
        compare_from: float | None = None,
    ) -> None:
        """compare_from: in seconds, where two runs' comparison begins: the first difference marked is
        the first at or after it (two profiles part early for reasons that are not the picture's
        subject, such as Linux's delayed ACK before a SYN meets TIME_WAIT)."""
        self._since = 0 if compare_from is None else round(compare_from * 1e6)
        self.uid = f"tl-{uuid.uuid4().hex[:10]}"
        self._loading = False
        self.divergence: tuple[int, int | None] | None = None
        self.parts_at: int | None = None  # the step a learner's run first parts from the reference (it opens there)
        self._run, self._labels, self._max, self._highlight = run, labels, max_events, highlight
        controls = self._build_player()
        self.frames = widgets.HTML()
        self.frames.add_class("tl-frames")
        self.download = widgets.HTML()
        rows: list[widgets.Widget] = [controls, self.frames, self.download, self.kernel_step, self.names]
        self.pickers: widgets.HBox | None = None
        if learner is None:
            self.pickers = self._build_pickers(scenario, profile, profile_label, upto)
            rows.insert(0, self.pickers)
        super().__init__(rows)
        self.add_class(self.uid)
        self.add_class("tcp-timeline-widget")
        if learner is None:
            self.load_catalogue()
        else:
            self.load(learner, reference)

    def _build_pickers(self, scenario: str | None, profile: object, profile_label: str | None,
                       upto: str | None) -> widgets.HBox:  # fmt: skip
        """Catalogue mode's row: scenario, profile (a variant under its own label) and network loss."""
        from reference_impl import scenarios
        from reference_impl.profiles import PROFILES

        from ..cell_position import scenarios_named_so_far
        from ..course_map import offers_losses, picker_scenarios

        # The named profiles, plus a variant (e.g. TIME_WAIT = 0) under its own label.
        self.profiles: dict[str, object] = dict(PROFILES)
        if not isinstance(profile, str):
            key = profile_label or f"{profile.name} (changed)"
            self.profiles[key] = profile
            profile = key
        start = scenario or "active-close"
        offered = picker_scenarios(upto, list(scenarios.CATALOGUE), scenarios_named_so_far(scenarios.CATALOGUE))
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
        self.losses = offers_losses(upto)
        if not self.losses:
            self.lose.layout.display = "none"
        self.scenario.observe(lambda _: self.load_catalogue(new_scenario=True), "value")
        self.profile.observe(lambda _: self.load_catalogue(new_profile=True), "value")
        self.lose.observe(lambda _: None if self._loading else self.load_catalogue(), "value")
        return widgets.HBox([self.scenario, self.profile, self.lose, self.about],
                            layout=widgets.Layout(flex_flow="row wrap", align_items="center"))  # fmt: skip

    # ---- what is shown ---------------------------------------------------------------------

    def load(self, learner: object, reference: object = None, *, title: str | None = None) -> None:
        """Show these traces from step 0, or from their last with the whole picture on (empty traces: their
        note, e.g. that there is no reference here)."""
        given = [t for t in (learner, reference) if t is not None]
        notes = [n for t in given if not len(t) for n in getattr(t, "notes", ())]
        if notes and all(not len(t) for t in given):
            self.note(notes[0])
            return
        highlight, ref_highlight = self._highlight, None
        # Two profiles' runs (not a learner's beside the reference): their timers' lengths differ by design.
        same_profile = reference is not None and getattr(learner, "profile", None) == getattr(
            reference, "profile", None
        )
        if highlight is None and reference is not None and len(learner) and len(reference):
            # Mark where the two runs first part, in both panels.
            runs = ([e for e in events_of(t) if e.time >= self._since] for t in (learner, reference))
            diff = first_difference(*runs, timers=same_profile)
            if diff is not None and diff[0] >= 0 and diff[1] >= 0:
                highlight, ref_highlight = diff
        self.divergence = (highlight, ref_highlight) if highlight is not None else None
        html, steps = animated_html(learner, reference, uid=self.uid, labels=self._labels, highlight=highlight,
                                    reference_highlight=ref_highlight, title=title, max_events=self._max,
                                    cut_runaway=self._run is not None)  # fmt: skip
        self.play.playing = False
        self._fractions = step_fractions(html)
        # With the whole picture on, the new run's step is its last: turning the whole picture off then
        # leaves every event drawn, not an empty axis at step 0 (a reader took that for a broken view).
        # A learner's run beside the reference opens where it first parts from it: that picture is the
        # point of looking, where step 0 is an empty axis and the mark may be many steps away.
        self.parts_at = divergence_step(html) if same_profile else None
        first = max(steps, 1) if self.whole.value else self.parts_at or 0
        # The new maximum first, in a message of its own: a browser's slider clamps a value that comes
        # with it (or before it) to the old maximum, and its End key stops there.
        self.slider.max = self.play.max = max(steps, 1)
        self.slider.value = self.play.value = first
        self._on_step({"new": first})
        self.frames.value = html + (SAME_MOMENT_NOTE if 'data-kind="same-moment"' in html else "")
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
        if self.losses and (new_scenario or new_profile or len(self.lose.options) == 1):
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
        # the caption says the picked loss too, not only the title (a reader missed it there)
        picked = next((label for label, v in self.lose.options if v == self.lose.value), None) if lose else None
        story = scenarios.get(name).scenario.description
        if key not in _named():  # a changed profile (TIME_WAIT = 0): the story may no longer hold
            story = (f"The catalogue tells it under its own profiles: {story} Here it runs with "
                     f"{key}, and the picture shows what that changes.")  # fmt: skip
        said = [story, own, f"The network also loses what you picked: {picked}." if picked else ""]
        self.about.value = f'<span style="color:#424a53">{html.escape(" ".join(s for s in said if s))}</span>'
        ref = reference_trace_losing(name, profile, lose)
        suffix = f" + lose {', '.join(lose)}" if lose else ""
        if self._run is None:
            # the run's own profile where the scenario changes the picked one ("rfc9293 + delayed_ack=40ms")
            shown = ref.profile if key in _named() and getattr(ref, "profile", "") else key
            self.load(ref, title=f"{name}{suffix} ({shown}) — reference")
        else:
            self.load(self._run(name, profile, lose) if lose else self._run(name, profile), ref)


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
