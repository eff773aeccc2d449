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
The questions live in autograder.predictions and the maps in autograder.notebook_maps; the
notebooks import every name from here.
"""

from __future__ import annotations

from collections.abc import Sequence

from reference_impl import scenarios
from reference_impl.profiles import RFC9293, Profile, get_profile, profile_text
from reference_impl.states import State
from reference_impl.trace import Trace

from .course_map import notebook_of
from .harness import Guard, LearnerError, compose, learner_handlers, misnamed, run_machine, unwritten
from .notebook_maps import rst_table, state_map
from .predictions import PREDICTION_MIME, Prediction, first_tries, from_trace, note_html, predict
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
    "rst_table",
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
        self.missing: list[State] = []  # this notebook's handlers whose cells have not run yet: the reference too

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
        self.missing = [st for st in _checked_states(self.namespace) if st.value.lower() not in self.namespace
                        and (self.states is None or st in self.states)]  # fmt: skip
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
        visited = {row.state_before for row in result.trace.rows}  # a state this close never enters is no matter
        self.missing = [st for st in self.missing if st in visited]
        return result.trace


def _checked_states(namespace: object) -> list[State]:
    """The states whose handlers this notebook's visible checks call (from its CellTests), in order."""
    tests = namespace.get("tests") if isinstance(namespace, dict) else None
    try:
        cells = tests.manifest.cells  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - no notebook's checks here: nothing is expected
        return []
    found = {state for cell in cells for spec in cell.visible if spec.kind in ("transition", "transitions")
             for state in (spec.args[:1] if spec.kind == "transition" else spec.args)}  # fmt: skip
    return [st for st in State if st in found]


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
        note.value = note_html(
            f"show_mine needs your handlers first: show_mine(globals(), {namespace!r}) "
            "(globals() hands it the functions this notebook defined).",
            ok=False,
        )
        return widgets.VBox([note])
    run = learner_run(namespace, states)
    try:
        view = timeline(scenario, profile, run=run, label=label, upto=_notebook_of(namespace))
    except Exception as e:  # noqa: BLE001 - a picture must never break the notebook
        note.value = note_html(f"The timeline could not be drawn ({type(e).__name__}: {e}).", ok=False)
        return widgets.VBox([note])

    def refresh(_change=None) -> None:
        if not view.steps:  # no reference run to compare with: the timeline itself says why
            note.value = ""
            return
        chosen = view.selected_profile()
        shown = view.profile.value if not isinstance(chosen, str) else None  # a variant's own label
        text, ok, detail = _verdict(run, view.scenario.value, chosen, tuple(view.lose.value), shown)
        elsewhere = _where_it_differs(run, (view.scenario.value, chosen), view.scenario.options) if ok else ""
        text, ok = text + elsewhere, ok and not elsewhere
        note.value = note_html(text, ok, detail)

    for picker in (view.scenario, view.profile, view.lose):
        picker.observe(refresh, "value")
    refresh()
    return widgets.VBox([note, view])


def _notebook_of(namespace: object) -> str | None:
    """The notebook a namespace runs in (its CellTests names it), for its own picker: no later
    notebook's scenario in it. None for a notebook of the learner's own, or 07: the whole catalogue."""
    assignment = getattr(namespace.get("tests") if isinstance(namespace, dict) else None, "assignment", "")
    try:
        return notebook_of(assignment) if isinstance(assignment, str) else None
    except ValueError:
        return None


def _verdict(
    run: LearnerRun, name: str, profile: str | Profile, lose: Sequence[str] = (), label: str | None = None
) -> tuple[str, bool, str]:
    """The note above show_mine's timeline, for exactly what the timeline shows (losses included)."""
    if run.error and not run.stopped_by_recording:
        return f"Your run stopped: {run.error}", False, ""
    from .checks import check_scenario

    shown = label or (profile if isinstance(profile, str) else profile_text(profile))
    losses = f", {' and '.join(lose)} lost" if lose else ""
    played = [f"{_names(run.unwritten)}: not written yet (still only NotImplementedError)"] if run.unwritten else []
    items = list(run.namespace.items()) if isinstance(run.namespace, dict) else []
    typos = {st: misnamed(items, st) for st in run.missing}
    for st, near in typos.items():
        if near:
            played.append(f"{st.value.lower()}: no function of that name, though you defined `{near}` (rename it)")
    further = [st for st in run.missing if not typos[st]]
    if further:  # a show_mine above the cells that define them: never "exactly as the reference does"
        played.append(f"{_names(further)}: not in your notebook yet (their cells come further down)")
    unwritten_note = f"The reference played {'; '.join(played)}. " if played else ""
    found = run.handlers()
    if not found:
        return unwritten_note + f"Nothing of yours ran in this close ({name}, {shown}{losses}).", False, ""
    result = check_scenario(found, name, profile=get_profile(profile), fates=list(lose), partial=True)
    if result.failures:
        return _differs(run, result.failures[0].message)
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


def _names(states: Sequence[State]) -> str:
    return " and ".join(s.value.lower() for s in states)


def _where_it_differs(run: LearnerRun, shown: tuple[str, object], offered: Sequence[str]) -> str:
    """When the run on screen matches the reference: the first other scenario in the picker (under
    either profile) where the learner's handlers part from it, so a mistake this close never meets
    is one pick away, not a guess among thirty. Empty when every offered scenario matches."""
    from .checks import check_scenario

    found = run.handlers()
    for name in offered:
        for profile in ("rfc9293", "linux"):
            if (name, profile) == shown:  # the run on screen, which matched
                continue
            if check_scenario(found, name, profile=get_profile(profile), partial=True).failures:
                return f" But they part from it in {name} under {profile}: pick it in the timeline below to see where."
    return ""


def _differs(run: LearnerRun, message: str) -> tuple[str, bool, str]:
    """The note for a run that parts from the reference: the check's first line, and what follows
    it up to "before that" as detail."""
    lines = message.splitlines()
    detail = "\n".join(lines[1 : next((i for i, ln in enumerate(lines) if "before that" in ln), len(lines))])
    if run.stopped_by_recording and "recorded reference" not in message:
        detail += f"\nThe timeline ends where the recorded reference stopped your run: {run.error}"
    return (f"Your run differs from the reference first here (✗ in your picture, ◆ in the reference's; "
            f"the timeline opens at that moment; ■ takes it back to the start): "
            f"{lines[0]}", False, detail)  # fmt: skip


def rfc_links(text: str, *, html: bool = False) -> str:
    """RFC citations in `text` ("RFC 9293 §3.10.7.4") as links to rfc-editor.org: markdown by default."""
    from .views.rfc import rfc_links as links

    return links(text, html=html)
