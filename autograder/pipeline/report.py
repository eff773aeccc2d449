"""What the class report says, as pandas frames: one row per (submission, graded cell), and the
first divergences grouped across the class.

Scores come from nbgrader's gradebook; what went wrong comes from the pipeline's per-submission
records (`load_state(...)["cells"]`), read defensively: the records grow as grading does, so a
missing field drops the part of the page that needs it, with a note saying which field, never
the page. First divergences are grouped in report_divergences.py, first tries at the predictions
read in report_predictions.py; drawing lives in report_html.py.

Fields read from each record cell (all optional except notebook and cell):
  reason, detail    one line and the first failure's message (headline, ..., "replay: ...")
  tampered          a tampering kind: such a cell is counted, never analysed
  svg               the first divergence drawn, the learner's run beside the reference
  divergence        {case, endpoint, state, time, event, replay}: the first divergence as data
  transitions       {"STATE event": [behaved, went wrong]} (or [{state, event, behaved, went_wrong}, ...])
and from the record itself: flags, [{kind, cell, text}]: what grading saw (never a score).
"""

from __future__ import annotations

import re

import pandas as pd

from .course import Course
from .records import load_state

CELL_COLUMNS = ["assignment", "notebook", "cell", "transition", "student", "points", "max_points", "awaiting",
                "passed", "reason", "detail", "tampered", "svg", "divergence"]  # fmt: skip


def class_cells(course: Course) -> tuple[pd.DataFrame, list[str]]:
    """One row per (assignment, notebook, graded cell, student who submitted); and notes on what
    the records lacked (empty when nothing)."""
    rows, notes = [], set()
    with course.gradebook() as gb:
        for a in sorted(gb.assignments, key=lambda a: a.name):
            for sub in sorted(a.submissions, key=lambda s: s.student.id):
                sid = sub.student.id
                record = load_state(course, a.name, sid)
                if record is None:
                    notes.add("some submissions have no pipeline record (graded outside `tcpclose grade autograde`): "
                              "their scores count, their failures are not analysed")  # fmt: skip
                cells = record_cells(record)
                for nb in a.notebooks:
                    for gc in nb.grade_cells:
                        grade = gb.find_grade(gc.name, nb.name, a.name, sid)
                        c = cells.get((nb.name, gc.name), {})
                        points = float(grade.score or 0.0)
                        rows.append({
                            "assignment": a.name, "notebook": nb.name, "cell": gc.name,
                            "transition": gc.name.removeprefix("test_"), "student": sid,
                            "points": points, "max_points": float(gc.max_score),
                            "awaiting": bool(grade.needs_manual_grade),
                            "passed": not grade.needs_manual_grade and points >= gc.max_score,
                            "reason": _text(c.get("reason")), "detail": _text(c.get("detail")),
                            "tampered": _text(c.get("tampered")), "svg": _svg(c.get("svg")),
                            "divergence": c.get("divergence") if isinstance(c.get("divergence"), dict) else None,
                            "_transitions": c.get("transitions"),
                        })  # fmt: skip
    frame = pd.DataFrame(rows, columns=[*CELL_COLUMNS, "_transitions"])
    return frame, sorted(notes)


def record_flags(record: object) -> list[dict]:
    """The record's flags that have the shape grading writes: {kind, cell, text}, all text."""
    flags = record.get("flags") if isinstance(record, dict) else None
    return [f for f in flags if isinstance(f, dict) and all(isinstance(f.get(k), str) for k in ("kind", "cell", "text"))
            ] if isinstance(flags, list) else []  # fmt: skip


def class_flags(course: Course) -> pd.DataFrame:
    """One row per flag of each submission: assignment, student, kind, cell, text."""
    rows = []
    with course.gradebook() as gb:
        for a in sorted(gb.assignments, key=lambda a: a.name):
            for sub in sorted(a.submissions, key=lambda s: s.student.id):
                for f in record_flags(load_state(course, a.name, sub.student.id)):
                    rows.append({"assignment": a.name, "student": sub.student.id, "kind": f["kind"],
                                 "cell": f["cell"], "text": f["text"]})  # fmt: skip
    return pd.DataFrame(rows, columns=["assignment", "student", "kind", "cell", "text"])


def record_cells(record: object) -> dict[tuple[str, str], dict]:
    """(notebook, cell) -> the record's cell; whatever the record holds that is not such a cell is skipped."""
    cells = record.get("cells") if isinstance(record, dict) else None
    out = {}
    for c in cells if isinstance(cells, list) else []:
        if isinstance(c, dict) and isinstance(c.get("notebook"), str) and isinstance(c.get("cell"), str):
            out[c["notebook"], c["cell"]] = c
    return out


def _text(v: object) -> str:
    return v if isinstance(v, str) else ""


_UNSAFE_SVG = re.compile(r"<\s*script|<\s*foreignObject|\son\w+\s*=|javascript:", re.I)


def _svg(v: object) -> str:
    """A record's picture, only when it is an SVG the views drew: no scripts, no handlers."""
    if not isinstance(v, str) or not v.lstrip().startswith("<svg") or _UNSAFE_SVG.search(v):
        return ""
    return v


# ---- pass rates ---------------------------------------------------------------------------------


def pass_rates(cells: pd.DataFrame) -> pd.DataFrame:
    """Per (assignment, transition): submissions graded, passed, pass rate; hand-graded ones
    still waiting are left out of the rate (they have not failed)."""
    graded = cells[~cells["awaiting"]]
    order = list(dict.fromkeys(cells["transition"]))  # first seen: assignment, then notebook order
    out = (graded.groupby(["assignment", "transition"], sort=False)
           .agg(graded=("passed", "size"), passed=("passed", "sum"), mean_points=("points", "mean"),
                max_points=("max_points", "first"))
           .reset_index())  # fmt: skip
    out["pass_rate"] = out["passed"] / out["graded"]
    out["transition"] = pd.Categorical(out["transition"], categories=order, ordered=True)
    return out.sort_values(["assignment", "transition"]).reset_index(drop=True)


def state_event_rates(cells: pd.DataFrame) -> pd.DataFrame | None:
    """Per (assignment, state + event): of the submissions whose cases exercised it, the share that
    never first went wrong there. None when no record carries `transitions`."""
    rows = []
    for assignment, student, recorded in cells[["assignment", "student", "_transitions"]].itertuples(index=False):
        for state, event, ok, bad in _transitions(recorded):
            rows.append({"assignment": assignment, "student": student,
                         "transition": f"{state} on {event}", "ok": ok, "bad": bad})  # fmt: skip
    if not rows:
        return None
    per = pd.DataFrame(rows).groupby(["assignment", "transition", "student"], sort=False)[["ok", "bad"]].sum()
    per["clean"] = per["bad"] == 0
    out = per.groupby(["assignment", "transition"], sort=False).agg(graded=("clean", "size"), passed=("clean", "sum"))
    out = out.reset_index()
    out["pass_rate"] = out["passed"] / out["graded"]
    return out


def _transitions(v: object) -> list[tuple[str, str, int, int]]:
    """(state, event, behaved, went wrong) from a record cell's `transitions`; anything else skipped."""
    if isinstance(v, dict):  # "STATE event", as grading writes it (a state name has no space)
        items = [(*str(k).partition(" ")[::2], c[0], c[1]) for k, c in v.items() if isinstance(c, list) and len(c) == 2]
    elif isinstance(v, list):
        items = [(t["state"], t["event"], t.get("behaved", 0), t.get("went_wrong", 0))
                 for t in v if isinstance(t, dict) and {"state", "event"} <= t.keys()]  # fmt: skip
    else:
        return []
    return [(str(s), str(e), int(ok), int(bad)) for s, e, ok, bad in items
            if e and isinstance(ok, int) and isinstance(bad, int)]  # fmt: skip


def score_totals(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per submission: its points, the assignment's points and whether any cell still waits."""
    return (cells.groupby(["assignment", "student"], sort=True)
            .agg(points=("points", "sum"), max_points=("max_points", "sum"), awaiting=("awaiting", "any"))
            .reset_index())  # fmt: skip
