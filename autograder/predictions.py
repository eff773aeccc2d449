"""Prediction questions for a notebook's ungraded cells: asked before an animation, answered from the
reference's own trace (never typed into the notebook), the learner's first try kept in the saved notebook.

    predict("A calls close() in ESTABLISHED. Which state is A in right after?",
            ["ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT"],
            answer_from=from_trace("active-close", "A", "close"))

Notebooks import these names from autograder.notebook_helpers.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reference_impl.profiles import Profile, get_profile
from reference_impl.segment import Flags, Segment
from reference_impl.states import Arrival
from reference_impl.tcb import TCB, screen
from reference_impl.trace import COLUMNS

from .reference_source import ReferenceUnavailable, reference_trace

__all__ = [
    "predict",
    "from_trace",
    "TraceAnswer",
    "ReplyAnswer",
    "Answer",
    "from_reply",
    "Prediction",
    "PREDICTION_MIME",
    "first_tries",
    "note_html",
]


def note_html(text: str, ok: bool, detail: str = "") -> str:
    """One line of feedback in a cell's output: green with a tick when `ok`, amber otherwise."""
    color, mark = ("#1a7f37", "✓") if ok else ("#9a6700", "•")
    pre = f'<pre style="margin:2px 0 0 1.2em;font-size:12px">{html.escape(detail)}</pre>' if detail else ""
    return f'<div style="color:{color};font-size:14px;margin:4px 0">{mark} {html.escape(text)}{pre}</div>'


@dataclass(frozen=True)
class TraceAnswer:
    """An answer read from the reference's trace: `field` of `endpoint`'s nth `event` row, computed
    when called. Plain data, so a learner build's visible manifest can carry it (autograder.visible)."""

    scenario: str
    endpoint: str
    event: str
    nth: int = 1
    flags: str | None = None
    field: str = "state_after"
    profile: str | Profile = "rfc9293"

    def __call__(self) -> str:
        want = None if self.flags is None else Flags.parse(self.flags)
        trace = reference_trace(self.scenario, self.profile)
        rows = [r for r in trace.rows
                if r.endpoint == self.endpoint and r.event == self.event and (want is None or r.flags == want)]  # fmt: skip
        if len(rows) < self.nth:
            raise ValueError(
                f"{self.scenario} ({self.profile}): {self.endpoint} has only {len(rows)} {self.event!r} rows"
                + (f" with flags {self.flags}" if self.flags else "")
                + f", not {self.nth}"
            )
        row = rows[self.nth - 1]
        field = self.field
        return str(row.record()[field] if field in COLUMNS else getattr(row, field))  # as the CSV spells it


def from_trace(
    scenario: str,
    endpoint: str,
    event: str,
    *,
    nth: int = 1,
    flags: str | None = None,
    field: str = "state_after",
    profile: str | Profile = "rfc9293",
) -> TraceAnswer:
    """An answer read from the reference's trace: `field` of `endpoint`'s nth `event` row.

    from_trace("active-close", "A", "recv", nth=2)            -> "TIME_WAIT"
    from_trace("active-close", "B", "send", field="ack")      -> "101"
    event is a trace event (close, send, recv, deliver, timeout, ...); flags, if given,
    must equal the row's flags ("ACK", "FIN|ACK"). The answer is computed when asked.
    A course notebook's prediction takes it from its manifest's ANSWERS: the scenario's name
    ("lost-final-ack") in a cell's source would say too much.
    """
    if flags is not None:
        Flags.parse(flags)  # a misspelt flag fails here, not when the learner answers
    return TraceAnswer(scenario, endpoint, event, nth, flags, field, profile)


@dataclass(frozen=True)
class ReplyAnswer:
    """An answer computed by the checks every state shares (`screen`): the flags of the segment they
    answer `arrival` with in `tcb` ("ACK"), or "nothing". Plain data, like TraceAnswer, so that a
    manifest's ANSWERS holds it and the prediction's cell shows only its question (a reader found
    `answer_from=reply_of(...)` in 06's cell, one run away from the answer)."""

    tcb: TCB
    arrival: Arrival
    profile: str | Profile = "rfc9293"
    field: str = "flags"  # what the answer is, for the test that looks for it stated above the question

    def __call__(self) -> str:
        reply = screen(self.tcb, self.arrival.segment, get_profile(self.profile)).reply
        return str(reply.flags) if reply is not None else "nothing"


Answer = TraceAnswer | ReplyAnswer  # what a manifest's ANSWERS maps a prediction's key to


def from_reply(tcb: TCB, segment: Segment, profile: Profile | str = "rfc9293") -> ReplyAnswer:
    """For a manifest's ANSWERS: what the shared checks send when `segment` arrives in `tcb`,
    e.g. from_reply(TCB(rcv_nxt=300, ...), Segment(seq=301, ack=0, flags=RST)) -> "ACK"."""
    return ReplyAnswer(tcb, Arrival(segment), profile)


PREDICTION_MIME = "application/vnd.tcpclose.prediction+json"
# Every pick of every question asked in this kernel, first try first, keyed by Prediction.key:
# re-running a predict cell (Shift+Enter after a click selects it) shows the answer given, never a
# blank question, and the first try stays the first try.
_PICKS: dict[str, list[str]] = {}


@dataclass
class Prediction:
    """A multiple-choice prediction. `choose(choice)` returns the feedback sentence (the widget
    calls it on click); `widget()` is what the notebook shows; `record()` is the cell output that
    keeps the learner's first try, machine-readable, in the saved notebook.

    One more try is offered after a first miss only when there are three or more choices (with
    two, the second click would always be right). The explanation (`why`) is shown once the
    answer is known, with whether the learner got it.
    """

    question: str
    choices: tuple[str, ...]
    answer_from: Callable[[], object] | object
    why: str = ""

    @property
    def answer(self) -> str:
        value = self.answer_from() if callable(self.answer_from) else self.answer_from
        return str(value)

    @property
    def key(self) -> str:
        """Stable across kernels and notebook versions while the question reads the same."""
        import hashlib

        return hashlib.sha256(self.question.encode()).hexdigest()[:12]

    @property
    def picks(self) -> list[str]:
        return _PICKS.setdefault(self.key, [])

    @property
    def tries(self) -> int:
        return len(self.picks)

    @property
    def allowed_misses(self) -> int:
        return 2 if len(self.choices) > 2 else 1

    def revealed(self) -> bool:
        """The answer is known to the learner: they picked it, or missed as often as allowed."""
        right = self.answer
        misses = 0
        for pick in self.picks:
            if pick == right:
                return True
            misses += 1
        return misses >= self.allowed_misses

    def choose(self, choice: str) -> tuple[str, bool]:
        shown_before = self.revealed()
        self.picks.append(choice)
        return self.verdict(choice, shown_before)

    def verdict(self, choice: str, shown_before: bool = False) -> tuple[str, bool]:
        """The sentence under the buttons after `choice` was picked."""
        right = self.answer
        why = f" {self.why}" if self.why else ""
        first = self.picks[0] if self.picks else choice
        if choice == right:
            if shown_before or first != right:
                return f"Right: {right}.{why}", True
            return f"Right: {right} (your first try).{why}", True
        if shown_before or self.revealed():
            return f"Not {choice}. The answer is {right}.{why}", False
        return f"Not {choice}. Think again (one more try before the answer is shown).", False

    def record(self) -> dict:
        """The learner's first try as a display bundle: custom JSON for the class report, text for people."""
        first = self.picks[0] if self.picks else None
        try:
            right = self.answer
        except ReferenceUnavailable:
            right = None
        # The answer is saved only with a first try: before it, the notebook's file would hold the answer
        # to a question the learner has not answered yet.
        data = {"version": 1, "key": self.key, "question": self.question, "choices": list(self.choices),
                "answer": None if first is None else right, "first_try": first,
                "first_try_right": None if first is None else first == right, "tries": len(self.picks)}  # fmt: skip
        if first is None:
            text = "Prediction: not answered yet."
        else:
            text = f"Prediction, first try: {first} ({'right' if first == right else 'not the answer'})."
        return {PREDICTION_MIME: data, "text/plain": text}

    def widget(self):
        import ipywidgets as widgets

        try:
            answer = self.answer
        except ReferenceUnavailable as e:  # the grading sandbox: nothing to check a prediction against
            return widgets.HTML(note_html(f"{self.question} (No prediction here: {e.sentence}.)", ok=False))
        if answer not in self.choices:  # an author's mistake, caught before a learner sees it
            raise ValueError(f"the reference's answer {answer!r} is not among the choices {self.choices}")
        prompt = widgets.HTML(f"<b>Predict:</b> {html.escape(self.question)}")
        buttons = widgets.ToggleButtons(options=list(self.choices), value=None, description="",
                                        style={"button_width": "auto"})  # fmt: skip
        feedback = widgets.HTML()
        box = _box_class()([prompt, buttons, feedback])
        box.prediction = self  # type: ignore[attr-defined]  # for tests and for authors
        if self.picks:  # the cell ran again: show where the learner got to, count nothing
            last = self.picks[-1]
            feedback.value = note_html(*self.verdict(last, self.revealed()))
            buttons.value = last

        def on_pick(change) -> None:
            if change["new"] is None:
                return
            first = not self.picks
            text, ok = self.choose(change["new"])
            feedback.value = note_html(text, ok)
            if first:
                box.update_record()

        buttons.observe(on_pick, "value")
        return box


@functools.cache
def _box_class():
    """The question's box, made on first use (ipywidgets is imported only when a widget is drawn)."""
    import ipywidgets as widgets

    class PredictionBox(widgets.VBox):
        """The question's widget, followed (when a notebook displays it) by the record output that
        keeps the first try in the saved notebook: a display_data the first click updates in place
        (update_display_data), so it is saved with the cell's outputs, not in widget state."""

        _handle = None

        def _ipython_display_(self) -> None:
            from IPython.display import display

            display(self._repr_mimebundle_(), raw=True)
            self._handle = display(self.prediction.record(), raw=True, display_id=True)

        def update_record(self) -> None:
            if self._handle is not None:
                self._handle.update(self.prediction.record(), raw=True)

    return PredictionBox


def predict(
    question: str,
    choices: Sequence[object],
    answer_from: Callable[[], object] | object,
    *,
    why: str = "",
):
    """A multiple-choice question with immediate feedback; the right answer is `answer_from()`.

    Use `from_trace(...)` for `answer_from` so the answer is the reference's behaviour, not a
    string typed into the notebook. `why` is shown once the answer is known. A course notebook
    calls `tests.predict(key, ...)` (autograder.checks.CellTests), which takes `why` from its
    manifest's EXPLANATIONS, in a cell whose source is collapsed (cell metadata `"jupyter":
    {"source_hidden": true}`): the source, one click away, holds no explanation.
    tests/course/test_predictions.py holds every notebook to it.
    Returns the widget (ToggleButtons and a feedback line); `.prediction` holds the logic. Shown
    by a notebook, it is followed by the record of the first try (PREDICTION_MIME).
    """
    return Prediction(question, tuple(str(c) for c in choices), answer_from, why).widget()


def first_tries(nb: object) -> list[dict]:
    """Every prediction record saved in a notebook (an nbformat node or its dict): the class
    report sums these. Only a notebook as the learner saved it holds them (a re-executed one
    starts every kernel afresh, with no picks)."""
    found = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            data = (out.get("data") or {}).get(PREDICTION_MIME)
            if isinstance(data, dict):
                found.append(data)
    return found
