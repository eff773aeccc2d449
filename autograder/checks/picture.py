"""A failing check, drawn: the learner's run beside the reference's, the first place they part marked.

Three readers in a row worked an exercise in order, ran its check first, and read the failure's
words before they ever saw a picture (the show_mine cell comes after the checks). So the first
failing case is drawn above its message, where the check ran. Best effort and never in the way: the
words are the whole story, and a picture that cannot be drawn (no reference in a grading sandbox,
views not installed) is simply left out.
"""

from __future__ import annotations

import os
from html import escape

from .results import Case

CAPTION = (
    "<p style='margin:4px 0'><b>Your run of <code>{scenario}</code> ({profile}) beside the reference.</b> "
    "Find where they part (ringed in red) before you read what went wrong below the picture.</p>"
)


def failure_svg(namespace: object, case: Case) -> tuple[str, str] | None:
    """(caption html, svg) of a failing case, or None when it cannot be drawn."""
    try:
        if case.svg is not None:  # a scenario case keeps its own runs
            svg = case.svg()
            return (_caption(case.name, None), svg) if svg else None
        if case.scene is None:
            return None
        return _scene(namespace, *case.scene, where=case.where, said=case.message)
    except Exception:  # noqa: BLE001 - a picture must never hide the failure's words
        return None


def _scene(namespace: object, scenario: str, profile: object, where: tuple[str, int] | None = None,
           said: str = "") -> tuple[str, str] | None:  # fmt: skip
    from ..notebook_helpers import learner_run, reference_close
    from ..views.model import events_of
    from ..views.side_by_side import difference_at, first_difference
    from ..views.svg import render

    run = learner_run(namespace)
    mine, ref = run(scenario, profile), reference_close(scenario, profile)
    # No picture of a run that stopped (the mark would fall on the other endpoint's next row: a reader's
    # was drawn on B for A's AttributeError), nor where there is no reference. A crash in the checked
    # handler is told by the case's own words; a run stopped by another handler gets a line that says so
    # (a reader looked for a picture). run.error reads "A at 1.06 s: <the sentence>".
    # A learner build's recorded peer stops a run only after it left the reference's path: the run so far
    # holds the first difference, and is drawn.
    if run.error is not None and not run.stopped_by_recording:
        if not ref.rows or run.error.split(": ", 1)[-1] in said:
            return None
        return f"<p style='margin:4px 0'>No picture: your run of <code>{escape(scenario)}</code> stopped " \
               f"before it reached this case ({escape(run.error)}).</p>", ""  # fmt: skip
    ours, theirs = events_of(mine), events_of(ref)
    marks = first_difference(ours, theirs) if ref.rows else None
    if run.stopped_by_recording and (marks is None or marks[0] >= len(ours)):
        return f"<p style='margin:4px 0'>No picture: your run of <code>{escape(scenario)}</code> left the " \
               "reference's path before this case, where this lab's recorded reference has no answer.</p>", ""  # fmt: skip
    if marks is None:
        return None
    first = ours[marks[0]] if 0 <= marks[0] < len(ours) else None
    if where is not None and first is not None and first.time == where[1] and first.endpoint != where[0]:
        marks = difference_at(ours, theirs, where[1], where[0]) or marks  # the checked endpoint's own mistake
    # a run far longer than the reference's is drawn to a little past where it parts (a reader's
    # user timeout made a 2,700 px picture, its words waiting under it)
    svg, _ = render(mine, reference=ref, highlight=marks[0], reference_highlight=marks[1], cut_runaway=True)
    return _caption(scenario, profile), svg


def _caption(scenario: str, profile: object) -> str:
    from reference_impl.profiles import profile_text

    return CAPTION.format(scenario=scenario, profile=profile_text(profile) if profile is not None else "as checked")


def show_failure(namespace: object, case: Case) -> None:
    """Display the picture of a failing case in the notebook, if it can be drawn."""
    if os.environ.get("TCPCLOSE_SANDBOX"):  # being graded: the feedback draws the divergence itself
        return
    drawn = failure_svg(namespace, case)
    if drawn is None:
        return
    from IPython.display import HTML, display

    caption, svg = drawn
    display(HTML(caption + svg))
