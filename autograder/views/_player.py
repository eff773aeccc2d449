"""The player half of the timeline widget: play, pause, step, speed, scrub, and the whole picture.

Kept apart from `timeline.py`, which decides what is shown: these controls only move the step,
and the step is all the picture (`animation.py`) needs to know.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

SPEEDS = (("½×", 1600), ("1×", 800), ("2×", 400), ("4×", 200))

# Accessible names for the two controls ipywidgets 8.1 leaves unnamed: the Play widget's icon
# buttons (play/pause, stop, repeat) and the slider's handle (role slider; the "step" label is
# not tied to it). ipywidgets offers no attribute for either, so a hidden image that fails to
# decode runs this once per widget: it names them, and names them again whenever the front end
# redraws them or swaps the play icon for pause. No request leaves the page ("data:," is local).
# The names are also titles, so a mouse user hovering an icon reads them. A click on the slider's
# track gives its handle the focus, so the arrow keys step the run rather than move JupyterLab
# between cells; the handle is marked for Lumino to leave its keys alone (Notebook 7 took the
# arrows for its own shortcuts), and the arrows are answered here. So are Home and End: noUiSlider
# (inside ipywidgets 8.1) sends End to the maximum the slider had when it was drawn, not to a new
# run's, so after another scenario or profile End stopped short of the last step.
_CONTROLS_JS = """(function (img) {
  var tries = 0;
  var names = [["fa-play", "play"], ["fa-pause", "pause"], ["fa-stop", "stop and go back to the start"],
               ["fa-retweet", "repeat"]];
  function name(el, text) {
    if (el.getAttribute("aria-label") !== text) el.setAttribute("aria-label", text);
    if (el.title !== text) el.title = text;
  }
  function label(root) {
    root.querySelectorAll(".widget-play button").forEach(function (b) {
      var icon = b.querySelector("i");
      names.forEach(function (n) { if (icon && icon.classList.contains(n[0])) name(b, n[1]); });
    });
    root.querySelectorAll(".tl-step .noUi-handle").forEach(function (h) {
      name(h, "step");
      if (!h.hasAttribute("data-lm-suppress-shortcuts")) h.setAttribute("data-lm-suppress-shortcuts", "true");
    });
    root.querySelectorAll(".tl-step .widget-readout").forEach(function (r) { name(r, "step number"); });
  }
  (function start() {
    var root = img.closest(".tcp-timeline-widget");
    if (!root) { if (tries++ < 200) setTimeout(start, 50); return; }
    if (root.dataset.tlNamed) return;
    root.dataset.tlNamed = "1";
    label(root);
    var moves = {ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1};
    root.addEventListener("keydown", function (e) {
      var handle = (e.key === "Home" || e.key === "End" || e.key in moves) && e.target.closest(".tl-step .noUi-handle");
      var slider = handle && handle.closest(".noUi-target");
      if (!slider || !slider.noUiSlider) return;
      e.preventDefault();
      e.stopPropagation();
      var range = slider.noUiSlider.options.range, now = Number(slider.noUiSlider.get());
      var to = e.key === "End" ? range.max : e.key === "Home" ? range.min : now + moves[e.key];
      slider.noUiSlider.set(Math.min(range.max, Math.max(range.min, to)));
    }, true);
    root.addEventListener("pointerup", function (e) {
      var track = e.target.closest(".tl-step .noUi-target");
      var handle = track && track.querySelector(".noUi-handle");
      if (handle) handle.focus();
    });
    new MutationObserver(function () { label(root); })
      .observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ["class"]});
  })();
})(this)"""


class Player:
    """Mixed into `Timeline` (a VBox): builds its controls and moves its step."""

    uid: str

    def _build_player(self) -> widgets.HBox:
        """The controls, in one row; also the hidden widgets the step and the control names need."""
        self.play = widgets.Play(value=0, min=0, max=1, step=1, interval=800, description="play", show_repeat=False,
                                 tooltip="▶ plays the run one event at a time; ■ stops it at the start",
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
                                          tooltip="show the whole run at once, every step drawn, not a window that follows the step")  # fmt: skip
        self.whole.observe(self._on_whole, "value")
        self.back.on_click(lambda _: self._by_hand(-1))
        self.fwd.on_click(lambda _: self._by_hand(+1))
        self.speed.observe(lambda ch: setattr(self.play, "interval", ch["new"]), "value")
        self.kernel_step = widgets.HTML(layout=widgets.Layout(height="0px", overflow="hidden"))
        self.names = widgets.HTML(f'<img alt="" src="data:," onerror="{html.escape(_CONTROLS_JS)}">',
                                  layout=widgets.Layout(height="0px", overflow="hidden"))  # fmt: skip
        self.slider.observe(self._on_step, "value")
        return widgets.HBox([self.play, self.slider, self.back, self.fwd, self.speed, self.whole],
                            layout=widgets.Layout(flex_flow="row wrap", align_items="center"))  # fmt: skip

    def _on_whole(self, change: dict) -> None:
        """Whole picture on: a ticked, coloured button (readers took the plain pressed state for a
        focus ring), and the card above says every step is drawn instead of the current step's words."""
        on = change["new"]
        (self.add_class if on else self.remove_class)("tl-whole")
        self.whole.icon, self.whole.button_style = ("check", "info") if on else ("", "")
        if on:  # the status boxes above then say how the run ends, as the picture drawn below does
            self.play.playing = False
            self.go(self.slider.max)

    def _by_hand(self, delta: int) -> None:
        """A step button: it stops the playing first (a reader's ◀ at 4× was overtaken by the player)."""
        self.play.playing = False
        self.go(self.slider.value + delta)

    def go(self, step: int) -> None:
        """Move to a step (clamped), as the step buttons do."""
        self.slider.value = max(self.slider.min, min(step, self.slider.max))
        self._on_step({"new": self.slider.value})

    def _on_step(self, change: dict) -> None:
        k = change["new"]
        yf = getattr(self, "_fractions", {}).get(k, 0.0)
        self.kernel_step.value = f'<style data-step="{k}">.{self.uid} {{ --k: {k}; --yf: {yf:.4f}; }}</style>'
