"""What the class report says, as pandas frames: one row per (submission, graded cell), and the
first divergences grouped across the class.

Scores come from nbgrader's gradebook; what went wrong comes from the pipeline's per-submission
records (`load_state(...)["cells"]`), read defensively: the records grow as grading does, so a
missing field drops the part of the page that needs it, with a note saying which field, never
the page. Drawing lives in report_html.py.

Fields read from each record cell (all optional except notebook and cell):
  reason, detail    one line and the first failure's message (headline, ..., "replay: ...")
  tampered          a tampering kind: such a cell is counted, never analysed
  svg               the first divergence drawn, the learner's run beside the reference
  divergence        {case, endpoint, state, time, event, replay}: the first divergence as data
  transitions       {"STATE event": [behaved, went wrong]} (or [{state, event, behaved, went_wrong}, ...])
and from the record itself: flags, [{kind, cell, text}]: what grading saw (never a score).
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass, field

import pandas as pd

from .autograde import load_state
from .course import Course

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


# ---- first divergences ----------------------------------------------------------------------------

# "lost-final-ack: A in FIN_WAIT_2 at 0.06 s, on arrival of <...>, your handler does not ..."
# "FIN_WAIT_2 on recv FIN,ACK: A in FIN_WAIT_2 at 0.06 s of active-close (rfc9293), on ..."
# "active-close: A at 0 s: in ESTABLISHED, on application close(), your handler raised ..."
_WHERE = re.compile(r"\b(?P<endpoint>[AB]) (?:in (?P<state>[A-Z][A-Z0-9_]+) )?at (?P<time>\d+(?:\.\d+)?) s\b")
_STATE = re.compile(r"\bin (?P<state>[A-Z][A-Z0-9_]+),")
_EVENT = re.compile(r", on (?P<event>.+?), (?:your |the reference|this check)")
_REPLAY = re.compile(
    r"^\s*replay: (?P<replay>tcpclose simulate [^(\n]+?)\s*(?:\(.*\))?\s*$", re.M
)  # "(the reference's run; ...)" after it
_SUMMARY = re.compile(r": \d+ of \d+ cases pass(\. First failure:)?\s*$")
_PASSED = re.compile(r"^✓|: (passes|all \d+ cases pass)\s*$")


@dataclass
class FirstDivergence:
    """Where one submission's cell first went wrong, as the report groups it."""

    headline: str  # the failure's first line: the case, the endpoint, the state, the time, the event
    case: str = ""
    endpoint: str = ""
    state: str = ""
    time: float | None = None
    event: str = ""
    replay: str = ""


def divergence_of(row: dict) -> FirstDivergence | None:
    """The first divergence of one failed cell: from the record's `divergence` when it has one,
    else read from its failure message; None for a cell that did not fail on a case."""
    d = row.get("divergence")
    if isinstance(d, dict) and d.get("headline"):
        t = d.get("time")
        return FirstDivergence(str(d["headline"]), str(d.get("case", "")), str(d.get("endpoint", "")),
                          str(d.get("state", "")), float(t) if isinstance(t, int | float) else None,
                          str(d.get("event", "")), str(d.get("replay", "")))  # fmt: skip
    text = row.get("detail") or row.get("reason") or ""
    # The message may list every check first (a line each, passing ones too) and a failing
    # check's summary before its first failure: the headline is the line that says where.
    lines = [line.strip().removeprefix("✗").strip() for line in text.splitlines() if line.strip()]
    head = next((line for line in lines if _WHERE.search(line)), None)
    head = head or next((line for line in lines if not _PASSED.search(line) and not _SUMMARY.search(line)), None)
    if head is None:
        return None
    head = re.sub(r"^[A-Za-z]*Error: ", "", head)
    div = FirstDivergence(head, case=head.split(": ", 1)[0] if ": " in head else "")
    if m := _WHERE.search(head):
        div.endpoint, div.time, div.state = m["endpoint"], float(m["time"]), m["state"] or ""
    if not div.state and (m := _STATE.search(head)):
        div.state = m["state"]
    if m := _EVENT.search(head):
        div.event = m["event"]
    if m := _REPLAY.search(text):
        div.replay = m["replay"]
    return div


@dataclass
class CommonDivergence:
    assignment: str
    divergence: FirstDivergence
    students: list[str]
    cells: list[str]
    svg: str = ""  # a submission's own picture, when its record carries one
    svg_from: str = ""
    notes: list[str] = field(default_factory=list)


# A handler not written yet stops the run where it is first needed: that says who has not started,
# not where anyone's logic departs from the reference.
UNWRITTEN = re.compile(r"NotImplementedError|is still a stub|this check needs your")


def common_divergences(cells: pd.DataFrame, top: int = 10) -> tuple[list[CommonDivergence], list[CommonDivergence]]:
    """The `top` first divergences shared by the most submissions; and every other first failure
    (a handler not written yet, a crash, a cell with no result: nothing that says where a run
    departed from the reference), most common first. Tampered cells are neither."""
    failed = cells[~cells["passed"] & ~cells["awaiting"] & (cells["tampered"] == "")]
    groups: dict[tuple[str, str], CommonDivergence] = {}
    for row in failed.to_dict("records"):
        div = divergence_of(row)
        if div is None:
            continue
        g = groups.setdefault((row["assignment"], div.headline), CommonDivergence(row["assignment"], div, [], []))
        if row["student"] not in g.students:
            g.students.append(row["student"])
        if row["cell"] not in g.cells:
            g.cells.append(row["cell"])
        if row["svg"] and not g.svg:
            g.svg, g.svg_from = row["svg"], row["student"]
    ranked = sorted(groups.values(), key=lambda g: (-len(g.students), g.assignment, g.divergence.headline))
    located = [g for g in ranked if (g.divergence.state or g.divergence.endpoint or g.divergence.replay or g.svg)
               and not UNWRITTEN.search(g.divergence.headline)]  # fmt: skip
    return located[:top], [g for g in ranked if g not in located]


_EVENT_KINDS = (("arrival", "recv"), ("expiry", "timeout"), ("timeout", "timeout"), ("abort", "abort"),
                ("send", "write"), ("close", "close"), ("shutdown", "close"))  # fmt: skip


def locate(trace, d: FirstDivergence) -> tuple[int | None, bool]:
    """(row of `trace` where the divergence happens, whether exactly) for a failure that names a
    state and an event but no time: the first row in that state on that very event (the same
    segment), else on the same kind of event (the same flags), else (None, False)."""
    kind = next((k for word, k in _EVENT_KINDS if word in d.event), None)
    seg = re.search(r"<SEQ=[^ ]*?>(?:<[A-Z]+=[^>]*>)*", d.event)
    rows = [(i, r) for i, r in enumerate(trace.rows) if d.state and str(r.state_before) == d.state
            and (kind is None or r.event == kind)]  # fmt: skip
    if kind == "timeout":  # the same timer: "expiry of the TIME_WAIT timer" fires as "TIME_WAIT"
        rows = [(i, r) for i, r in rows if r.detail and r.detail in d.event]
    if seg:
        exact = [i for i, r in rows if r.detail == seg.group()]
        if exact:
            return exact[0], True
        ctl = re.search(r"<CTL=[^>]*>", seg.group())
        rows = [(i, r) for i, r in rows if ctl and ctl.group() in r.detail]
    # without a segment there is nothing more to compare: the state and the event are the point
    return (rows[0][0], seg is None and kind is not None) if rows else (None, False)


def replay_trace(replay: str):
    """The reference's run of a replay command (`tcpclose simulate NAME [--profile P] [--set K=V]
    [--lose SEG]`); ValueError with a sentence when it cannot be re-run."""
    from reference_impl import scenarios
    from reference_impl.profiles import get_profile
    from reference_impl.script import option_value

    parser = argparse.ArgumentParser(prog="tcpclose simulate", add_help=False, exit_on_error=False)
    parser.add_argument("name")
    parser.add_argument("--profile", default="rfc9293")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--lose", action="append", default=[])
    words = shlex.split(replay)
    if words[:2] != ["tcpclose", "simulate"]:
        raise ValueError(f"not a simulate command: {replay}")
    try:
        args, extra = parser.parse_known_args(words[2:])
    except (argparse.ArgumentError, SystemExit) as e:
        raise ValueError(f"cannot read {replay!r}: {e}") from None
    if extra:
        raise ValueError(f"cannot read {replay!r}: unexpected {' '.join(extra)}")
    profile = get_profile(args.profile)
    changes = {}
    for item in args.set:
        key, _, value = item.partition("=")
        changes[key] = option_value(key, value)
    if changes:
        profile = profile.replace(**changes)
    fates = scenarios.losses(args.lose)
    return scenarios.run(args.name, profile, fates or None)


# ---- first tries at the predictions ---------------------------------------------------------------

PREDICTION_COLUMNS = ["assignment", "student", "key", "question", "answer", "first_try", "right"]
_LONGEST = 500  # characters kept of a question or a choice: the records are the learner's file


def class_predictions(course: Course) -> pd.DataFrame:
    """One row per prediction a student answered, read from the notebooks as they were submitted.

    A prediction cell saves the learner's first try in its output (autograder.notebook_helpers,
    PREDICTION_MIME); autograding re-runs a notebook in a fresh kernel, so only the submitted copy
    holds them. They are the learner's own file, so they are read defensively (anything malformed
    is skipped, strings cut short), count one per student and question, and never touch a score:
    they show the class's misconceptions, nothing more."""
    from autograder.notebook_helpers import PREDICTION_MIME

    rows = []
    for a in course.assignments():
        for sid in course.students(a):
            seen = set()
            for path in sorted(course.path("submitted", sid, a).glob("*.ipynb")):
                for data in _prediction_records(path, PREDICTION_MIME):
                    key = str(data.get("key"))[:40]
                    if key in seen:
                        continue
                    seen.add(key)
                    answer = data.get("answer")
                    rows.append({"assignment": a, "student": sid, "key": key,
                                 "question": data["question"][:_LONGEST], "first_try": data["first_try"][:_LONGEST],
                                 "answer": answer[:_LONGEST] if isinstance(answer, str) else "",
                                 "right": isinstance(answer, str) and data["first_try"] == answer})  # fmt: skip
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)


def _prediction_records(path, mime: str) -> list[dict]:
    import json

    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return []
    found = []
    for cell in nb.get("cells", []) if isinstance(nb, dict) and isinstance(nb.get("cells"), list) else []:
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        for out in outputs if isinstance(outputs, list) else []:
            data = out.get("data") if isinstance(out, dict) else None
            record = data.get(mime) if isinstance(data, dict) else None
            if (isinstance(record, dict) and isinstance(record.get("question"), str)
                    and isinstance(record.get("first_try"), str)):  # fmt: skip
                found.append(record)
    return found


def prediction_summary(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per assignment and question: how many answered, the share right at the first try, and the
    commonest wrong first try with its count (the misconception to discuss in class)."""
    columns = ["assignment", "question", "answer", "answered", "right_first", "common_wrong", "common_wrong_n"]
    out = []
    for (a, _key), g in predictions.groupby(["assignment", "key"], sort=False):
        wrong = g.loc[~g["right"], "first_try"].value_counts()
        out.append({"assignment": a, "question": g["question"].iloc[0], "answer": g["answer"].iloc[0],
                    "answered": len(g), "right_first": float(g["right"].mean()),
                    "common_wrong": wrong.index[0] if len(wrong) else "", "common_wrong_n": int(wrong.iloc[0]) if len(wrong) else 0})  # fmt: skip
    return pd.DataFrame(out, columns=columns)
