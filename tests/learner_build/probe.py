"""Run in either build (`python probe.py CASES.json`): what a learner sees from the visible checks and
from show_mine, for each submission in CASES. Prints one JSON line.

A case is {"name", "cells": [[grade_id, code], ...], "show_mine": [[scenario, profile, lose], ...]}:
its cells (setup, answers, the visible part of each test cell) run in order in one namespace, as a
kernel would run them; a test cell's outcome is "pass" or its failure's message.
"""

import contextlib
import io
import json
import sys

import autograder.checks.cells
from autograder.checks.picture import failure_svg
from autograder.notebook_helpers import LearnerRun, _verdict
from autograder.views.losses import reference_trace_losing
from autograder.views.model import events_of
from autograder.views.side_by_side import first_difference


def run(case: dict) -> dict:
    ns: dict = {"__name__": "__main__"}
    cells: dict[str, str] = {}
    pictures: dict[str, str] = {}  # a failing test cell: "drawn", "a sentence" or "none" (checks.picture)
    for grade_id, code in case["cells"]:

        def picture(namespace, failure, grade_id=grade_id):
            drawn = failure_svg(namespace, failure)
            pictures[grade_id] = "none" if drawn is None else "drawn" if drawn[1] else "a sentence"

        autograder.checks.cells.show_failure = picture
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, grade_id, "exec"), ns)
            cells[grade_id] = "pass"
        except AssertionError as e:
            cells[grade_id] = f"fail: {e}"
        except Exception as e:  # noqa: BLE001 - any other error is a difference worth seeing
            cells[grade_id] = f"error: {type(e).__name__}: {e}"
    shown = []
    for scenario, profile, lose in case["show_mine"]:
        learner = LearnerRun(ns)
        trace = learner(scenario, profile, tuple(lose))
        head, ok, detail = _verdict(learner, scenario, profile, tuple(lose))
        rows = [[*map(r.record().get, ("time", "endpoint", "event", "state_before", "state_after", "flags", "seq", "ack"))]
                for r in trace.rows]  # fmt: skip
        shown.append(
            {
                "run": f"{scenario} {profile} {lose}",
                "head": head,
                "ok": ok,
                "detail": detail,
                "rows": rows,
                "stopped": learner.stopped_by_recording,
                # whether the picture marks a difference (the note and the picture must agree)
                "marked": first_difference(
                    events_of(trace), events_of(reference_trace_losing(scenario, profile, tuple(lose)))
                )
                is not None,
            }
        )
    before = ""  # the learner build's "before you submit" (every visible check again); the full one runs hidden tests
    if "tests" in ns and not ns["tests"].manifest.before_submit:
        with contextlib.redirect_stdout(io.StringIO()) as said:
            ns["tests"].before_submit(ns)
        before = said.getvalue()
    return {"name": case["name"], "cells": cells, "show_mine": shown, "pictures": pictures, "before": before}


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    print(json.dumps([run(case) for case in cases]))
