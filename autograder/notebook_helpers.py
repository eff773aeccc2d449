"""Three calls the course notebooks make in their ungraded cells: predict, then watch, then compare.

    from autograder.notebook_helpers import from_trace, learner_run, predict, show_mine

    # 1. A prediction question, answered from the reference's own trace (never hard-coded):
    predict("A calls close() in ESTABLISHED. Which state is A in right after?",
            ["ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT"],
            answer_from=from_trace("active-close", "A", "close"))
    predict("B acknowledges A's FIN <SEQ=100>. Which ACK number does B send?",
            ["100", "101", "300", "301"],
            answer_from=from_trace("active-close", "B", "send", field="ack"))
    # in a course notebook, tests.predict(key, ...) adds the manifest's EXPLANATIONS[key]

    # 2. The learner's own handlers (functions named after states) beside the reference:
    show_mine(globals(), "active-close")                       # one call, never raises
    show_mine(globals(), "lost-final-ack", profile="linux")
    show_mine(globals(), "lost-final-ack", profile=RFC9293.replace(time_wait=0), label="TIME_WAIT = 0")

    # 3. The runner behind it, for views.timeline(run=...):
    timeline("active-close", run=learner_run(globals()))

Nothing here knows TCP: runs go through `autograder.harness` (the learner's handlers,
guarded, composed with the reference for the other states) and answers come from the
reference's trace. Widgets are built only when called, so importing this module in a
headless autograde is harmless; test cells never call these (they use autograder.checks).
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reference_impl import scenarios
from reference_impl.profiles import RFC9293, Profile, get_profile, profile_text
from reference_impl.segment import Flags, Segment
from reference_impl.states import State
from reference_impl.tcb import TCB, screen
from reference_impl.trace import COLUMNS, Trace

from .course_map import notebook_of
from .harness import Guard, LearnerError, compose, learner_handlers, run_machine, unwritten
from .reference_source import ReferenceUnavailable, reference_trace

__all__ = [
    "learner_run",
    "show_mine",
    "predict",
    "from_trace",
    "reference_close",
    "LearnerRun",
    "Prediction",
    "PREDICTION_MIME",
    "first_tries",
    "state_map",
    "rfc_links",
]


def reference_close(name: str, profile: str | Profile = RFC9293, lose: Sequence[str] = ()) -> Trace:
    """The reference's trace of a catalogue scenario, for an ungraded cell to show or tabulate.

    Where this environment has no reference (the grading sandbox), an empty Trace whose note
    says so: a timeline of it shows that sentence, and the cell does not fail.
    """
    try:
        return reference_trace(name, profile, lose)
    except ReferenceUnavailable as e:
        return Trace(
            scenario=name, profile=profile_text(get_profile(profile)), notes=[f"No timeline here: {e.sentence}."]
        )


# ---- the learner's machine as a timeline runner ------------------------------------------


class LearnerRun:
    """`run(name, profile) -> Trace` for `autograder.views.timeline(run=...)`.

    Simulates a catalogue scenario with the learner's handlers (found in `namespace`, e.g.
    `globals()`, by their names: `fin_wait_1`, ...) for their states and the reference for
    the rest. Never raises for the learner's mistakes: the run stops where their code
    failed, the trace so far is returned, and `error` holds the one-sentence reason
    (None after a clean run). `states` limits which of the learner's handlers are used.
    """

    def __init__(self, namespace: object, states: Sequence[State] | None = None) -> None:
        self.namespace = namespace
        self.states = tuple(states) if states is not None else None
        self.error: str | None = None
        # In a learner build: the recorded reference stopped the run at an input it never saw,
        # which happens only after the run departed from the reference's (see autograder.recorded).
        self.stopped_by_recording = False
        self.unwritten: list[State] = []  # stubs: the reference plays them

    def handlers(self) -> dict:
        found = learner_handlers(self.namespace, skip_stubs=True)  # LearnerError when nothing is named after a state
        if self.states is not None:
            found = {s: fn for s, fn in found.items() if s in self.states}
        return found

    def __call__(self, name: str, profile: str | Profile = "rfc9293", lose: Sequence[str] = ()) -> Trace:
        """Run `name` under `profile` (a name or a Profile), losing the segments in `lose` ("A2")."""
        entry = scenarios.get(name)
        eff = entry.profile(get_profile(profile))
        sc = entry.losing(scenarios.losses(lose))
        self.error, self.stopped_by_recording = None, False
        self.unwritten = [st for st in unwritten(self.namespace) if self.states is None or st in self.states]
        try:
            found = self.handlers()
        except LearnerError as e:
            self.error = e.sentence
            found = {}
        guard = Guard()
        try:
            with guard.session():
                result = run_machine(sc, eff, compose(found, guard), frozenset(found))
        except ReferenceUnavailable as e:  # the grading sandbox: no reference to run beside
            self.error = e.sentence
            return Trace(scenario=sc.name, profile=profile_text(eff))
        if result.error is not None:
            self.error = _error_text(result.error)
            self.stopped_by_recording = result.error.kind == "recorded"
        return result.trace


def learner_run(namespace: object, states: Sequence[State] | None = None) -> LearnerRun:
    """The learner's machine as a timeline runner: `timeline(name, run=learner_run(globals()))`."""
    return LearnerRun(namespace, states)


def _error_text(e: LearnerError) -> str:
    where = f"{e.endpoint} at {e.time / 1_000_000:g} s: " if e.endpoint and e.time is not None else ""
    if "NotImplementedError" in e.sentence and e.state is not None:
        return (
            f"{where}your {e.state.value.lower()} is not written yet (it raises NotImplementedError), "
            "so your run stops there."
        )
    return where + e.sentence


# ---- "your code beside the reference", in one call ------------------------------------------


def show_mine(
    namespace: object,
    scenario: str = "active-close",
    profile: str | Profile = "rfc9293",
    *,
    label: str | None = None,
    states: Sequence[State] | None = None,
):
    """Your handlers' run of `scenario` beside the reference's, as an animated timeline.

    `profile` is a name or a Profile variant, shown under `label`, e.g.
    show_mine(globals(), "lost-final-ack", profile=RFC9293.replace(time_wait=0), label="TIME_WAIT = 0").
    Pick another scenario or profile in the widget to rerun. A note above the timeline
    says where your run stopped (an unwritten or crashing handler) or where it first
    differs from the reference. Returns the widget (a notebook displays it).
    """
    import ipywidgets as widgets

    from .views import timeline

    note = widgets.HTML()
    if isinstance(namespace, str | Profile):  # show_mine("active-close"): the handlers were left out
        note.value = _note_html(
            f"show_mine needs your handlers first: show_mine(globals(), {namespace!r}) "
            "(globals() hands it the functions this notebook defined).",
            ok=False,
        )
        return widgets.VBox([note])
    run = learner_run(namespace, states)
    # The notebook's own picker (its CellTests names the notebook): no later notebook's scenario in it.
    assignment = getattr(namespace.get("tests") if isinstance(namespace, dict) else None, "assignment", "")
    try:
        upto = notebook_of(assignment) if isinstance(assignment, str) else None
    except ValueError:  # a notebook of the learner's own, or 07: the whole catalogue
        upto = None
    try:
        view = timeline(scenario, profile, run=run, label=label, upto=upto)
    except Exception as e:  # noqa: BLE001 - a picture must never break the notebook
        note.value = _note_html(f"The timeline could not be drawn ({type(e).__name__}: {e}).", ok=False)
        return widgets.VBox([note])

    def refresh(_change=None) -> None:
        if not view.steps:  # no reference run to compare with: the timeline itself says why
            note.value = ""
            return
        chosen = view.selected_profile()
        shown = view.profile.value if not isinstance(chosen, str) else None  # a variant's own label
        note.value = _note_html(*_verdict(run, view.scenario.value, chosen, tuple(view.lose.value), shown))

    for picker in (view.scenario, view.profile, view.lose):
        picker.observe(refresh, "value")
    refresh()
    return widgets.VBox([note, view])


def _verdict(
    run: LearnerRun, name: str, profile: str | Profile, lose: Sequence[str] = (), label: str | None = None
) -> tuple[str, bool, str]:
    """The note above show_mine's timeline, for exactly what the timeline shows (losses included)."""
    if run.error and not run.stopped_by_recording:
        return f"Your run stopped: {run.error}", False, ""
    from .checks import check_scenario

    shown = label or (profile if isinstance(profile, str) else profile_text(profile))
    losses = f", {' and '.join(lose)} lost" if lose else ""
    unwritten_note = ""
    if run.unwritten:
        names = " and ".join(s.value.lower() for s in run.unwritten)
        unwritten_note = f"The reference played {names}: not written yet (still only NotImplementedError). "
    found = run.handlers()
    if not found:
        return unwritten_note + f"Nothing of yours ran in this close ({name}, {shown}{losses}).", False, ""
    result = check_scenario(found, name, profile=get_profile(profile), fates=list(lose), partial=True)
    if result.failures:
        lines = result.failures[0].message.splitlines()
        detail = "\n".join(lines[1 : next((i for i, ln in enumerate(lines) if "before that" in ln), len(lines))])
        if run.stopped_by_recording and "recorded reference" not in result.failures[0].message:
            detail += f"\nThe timeline ends where the recorded reference stopped your run: {run.error}"
        return (f"Your run differs from the reference first here (✗ in your picture, ◆ in the reference's; "
                f"step to it, or press 'whole picture' to see it all at once): "
                f"{lines[0]}", False, detail)  # fmt: skip
    if run.error:  # the recorded reference stopped a run that matched it: say so, never "exactly"
        return f"Your run stopped: {run.error}", False, ""
    if unwritten_note:
        return (
            unwritten_note
            + f"The rest closes this connection exactly as the reference does ({name}, {shown}{losses}).",
            False,
            "",
        )
    return (
        (
            f"Your handlers close this connection exactly as the reference does ({name}, {shown}{losses}). "
            "A check may still fail on a situation this run never meets (a made-up segment, another TCB): "
            "its message says which."
        ),
        True,
        "",
    )


def _note_html(text: str, ok: bool, detail: str = "") -> str:
    color, mark = ("#1a7f37", "✓") if ok else ("#9a6700", "•")
    pre = f'<pre style="margin:2px 0 0 1.2em;font-size:12px">{html.escape(detail)}</pre>' if detail else ""
    return f'<div style="color:{color};font-size:14px;margin:4px 0">{mark} {html.escape(text)}{pre}</div>'


# ---- prediction questions -------------------------------------------------------------------


def from_trace(
    scenario: str,
    endpoint: str,
    event: str,
    *,
    nth: int = 1,
    flags: str | None = None,
    field: str = "state_after",
    profile: str = "rfc9293",
) -> Callable[[], str]:
    """An answer read from the reference's trace: `field` of `endpoint`'s nth `event` row.

    from_trace("active-close", "A", "recv", nth=2)            -> "TIME_WAIT"
    from_trace("active-close", "B", "send", field="ack")      -> "101"
    event is a trace event (close, send, recv, deliver, timeout, ...); flags, if given,
    must equal the row's flags ("ACK", "FIN|ACK"). The answer is computed when asked.
    """

    want = None if flags is None else Flags.parse(flags)

    def answer() -> str:
        trace = reference_trace(scenario, profile)
        rows = [
            r for r in trace.rows if r.endpoint == endpoint and r.event == event and (want is None or r.flags == want)
        ]
        if len(rows) < nth:
            raise ValueError(
                f"{scenario} ({profile}): {endpoint} has only {len(rows)} {event!r} rows"
                + (f" with flags {flags}" if flags else "")
                + f", not {nth}"
            )
        row = rows[nth - 1]
        return str(row.record()[field] if field in COLUMNS else getattr(row, field))  # as the CSV spells it

    answer.__doc__ = f"{field} of {endpoint}'s {event} #{nth} in {scenario} ({profile})"
    return answer


def reply_of(tcb: TCB, segment: Segment, profile: Profile | str = "rfc9293") -> Callable[[], str]:
    """An answer computed by the checks every state shares (`screen`): the flags of the segment they
    answer `segment` with ("ACK"), or "nothing". For a prediction cell, whose source should name no
    choice: reply_of(a_in_fin_wait_2, Segment(seq=301, ack=0, flags=RST))."""

    def answer() -> str:
        reply = screen(tcb, segment, get_profile(profile)).reply
        return str(reply.flags) if reply is not None else "nothing"

    answer.__doc__ = f"what screen answers {segment} with"
    return answer


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
        data = {"version": 1, "key": self.key, "question": self.question, "choices": list(self.choices),
                "answer": right, "first_try": first, "first_try_right": None if first is None else first == right,
                "tries": len(self.picks)}  # fmt: skip
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
            return widgets.HTML(_note_html(f"{self.question} (No prediction here: {e.sentence}.)", ok=False))
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
            feedback.value = _note_html(*self.verdict(last, self.revealed()))
            buttons.value = last

        def on_pick(change) -> None:
            if change["new"] is None:
                return
            first = not self.picks
            text, ok = self.choose(change["new"])
            feedback.value = _note_html(text, ok)
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


# ---- the map at the top of a notebook, and citations as links -----------------------------------


def state_map(notebook: str, *, title: str | None = None, unrevealed: bool = False):
    """The close state diagram for a notebook's first or last cell, state_map("01"), with only the
    arrows found so far (autograder.course_map). Its text alternative (which states and transitions
    are drawn) follows it, for screen readers and for anyone.

    The map at the end (unrevealed=False) lights this notebook's states and draws its arrows. The map
    at the top (unrevealed=True) lights only what earlier notebooks found: this notebook's states
    and arrows are what its predictions ask for, and a lit FIN_WAIT_1 under ESTABLISHED already
    answers "which state follows close()?". Arrows later notebooks find are never drawn.
    """
    from IPython.display import HTML

    from .course_map import FOUND_IN, NOTEBOOK_STATES, not_found_yet
    from .views import state_diagram_svg

    notebook = notebook_of(notebook)
    hide = not_found_yet(notebook, own=unrevealed)
    if unrevealed:
        names = sorted({s for arrow, n in FOUND_IN.items() if n < notebook for s in arrow}, key=_DIAGRAM_ORDER.index)
        caption = (
            f"Lit: what earlier notebooks found ({', '.join(names)}). What this notebook adds is yours to "
            "find: a state no notebook has reached yet is not drawn."
        )
        default = "Closing a TCP connection (RFC 9293): found so far"
    else:
        names = list(NOTEBOOK_STATES[notebook])
        caption = (
            f"Lit: {', '.join(names)}. The arrows drawn are the ones found up to this notebook; "
            "later notebooks find the rest."
        )
        default = "Closing a TCP connection (RFC 9293): this notebook's states"
    if not names:  # notebook 01's top: nothing found, so no picture of two lone boxes
        return HTML(
            '<p style="font-size:13px;color:#424a53">The state map starts empty: this notebook finds its first '
            "states and arrows, and the map at its end shows them.</p>"
        )
    svg = _without_edges(state_diagram_svg(states=names, title=title or default), hide)
    # No box for a state no notebook up to here reaches: 03's top map showed CLOSING as the one box
    # without arrows (its crossing-FIN answer), 01's end map CLOSING and 02's states.
    found = {s for arrow, n in FOUND_IN.items() if n < notebook or (n == notebook and not unrevealed) for s in arrow}
    svg = _without_states(svg, {"ESTABLISHED", "CLOSED", *names, *found})
    desc = svg.split("<desc>", 1)[1].split("</desc>", 1)[0]
    return HTML(
        f'<figure style="margin:0">{svg}<figcaption style="font-size:13px;color:#424a53">'
        f"{html.escape(caption)} {desc}</figcaption></figure>"
    )


_DIAGRAM_ORDER = ("ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSING", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK", "CLOSED")


def _without_states(svg: str, keep: set[str]) -> str:
    """The diagram without the boxes of the states not in `keep`."""
    import re

    return re.sub(
        r'<g class="state[^"]*"><rect[^>]*/><text[^>]*>(\w+)</text></g>',
        lambda m: m.group(0) if m.group(1) in keep else "",
        svg,
    )


def _without_edges(svg: str, hide: set[tuple[str, str]]) -> str:
    """The diagram without the edges (from, to) in `hide`, in the picture and in its text alternative."""
    import re

    def gone(src: str, dst: str) -> bool:
        return (src, dst) in hide

    svg = re.sub(
        r'<g class="edge[^"]*" data-from="([^"]+)" data-to="([^"]+)"[^>]*>.*?</g>',
        lambda m: "" if gone(m.group(1), m.group(2)) else m.group(0),
        svg,
        flags=re.S,
    )
    head, rest = svg.split("<desc>", 1)
    desc, tail = rest.split("</desc>", 1)
    intro, _, taken = desc.partition(" Transitions taken: ")
    kept = [
        t for t in taken.rstrip(".").split("; ") if t and not gone(*re.match(r"(\S+) → (\S+)", t).groups())
    ]  # "A → B on event"
    desc = intro + (f" Transitions taken: {'; '.join(kept)}." if kept else "")
    return head + "<desc>" + desc + "</desc>" + tail


def rfc_links(text: str, *, html: bool = False) -> str:
    """RFC citations in `text` ("RFC 9293 §3.10.7.4") as links to rfc-editor.org: markdown by default."""
    from .views.rfc import rfc_links as links

    return links(text, html=html)
