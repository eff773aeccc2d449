"""A learner sees the same in the learner build as in the full package: the visible checks' verdicts
and messages, and show_mine's verdict, for each notebook's solution and for realistic bugs
(tests/course/bugs). Where a bug takes a run off the reference's path, the recorded peer stops
it: the learner build's timeline is then the full package's cut short, and its note says where.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.learner_build import view_python
from autograder.reference_source import loss_patterns
from tests.course.bugs import load

SOURCE = Path(__file__).resolve().parents[2] / "course" / "source"
PROBE = Path(__file__).with_name("probe.py")
HIDDEN = "### BEGIN HIDDEN TESTS"
NOTEBOOKS = sorted(p.name for p in SOURCE.iterdir() if (p / f"{p.name}.ipynb").is_file())
BUGS_PER_NOTEBOOK = 3  # notebook 01 runs all of its bugs: its peer (B's CLOSE_WAIT, LAST_ACK) is the recorded one


def cases(assignment: str) -> list[dict]:
    """The solution and a few bugs, as a learner's kernel would run the notebook's graded cells."""
    nb = nbformat.read(SOURCE / assignment / f"{assignment}.ipynb", as_version=4)
    bugs = load(assignment)
    shows = []
    for call in re.findall(r'show_mine\(globals\(\), "([\w-]+)"(?:, (?:profile=)?"(\w+)")?', _code(nb)):
        name, profile = call[0], call[1] or "rfc9293"
        for lose in ((), *[p for p in loss_patterns(name, 1, profile) if p][:1]):
            if [name, profile, list(lose)] not in shows:
                shows.append([name, profile, list(lose)])
    out = []
    chosen = sorted(bugs) if assignment == "01_active_close" else sorted(bugs)[:BUGS_PER_NOTEBOOK]
    for bug in [None, *chosen]:
        replace = bugs[bug].replace if bug else {}
        cells = []
        for c in nb.cells:
            meta = c.metadata.get("nbgrader", {})
            gid = str(meta.get("grade_id", ""))
            if c.cell_type != "code" or not meta:
                continue
            if meta.get("grade") and not meta.get("solution"):
                cells.append([gid, c.source.split(HIDDEN)[0]])
            elif meta.get("solution") or gid.startswith("setup"):
                cells.append([gid, replace.get(gid, c.source)])
        out.append({"name": f"{assignment} {bug or 'solution'}", "cells": cells, "show_mine": shows})
    return out


def _code(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def probe(argv: list[str], env: dict, cases_file: Path) -> list[dict]:
    done = subprocess.run([*argv, str(PROBE), str(cases_file)], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_a_learner_sees_the_same_in_both_builds(assignment, learner_view, tmp_path):
    cases_file = tmp_path / "cases.json"
    cases_file.write_text(json.dumps(cases(assignment)))
    full = probe([sys.executable], {}, cases_file)
    learner = probe(*view_python(learner_view), cases_file)
    stops = 0
    for f, ln in zip(full, learner, strict=True):
        assert ln["cells"] == f["cells"], f["name"]
        # before you submit, the learner build runs every visible check again: the cells' own verdicts
        failing = [g for g, v in ln["cells"].items() if g.startswith("test_") and v != "pass"]
        assert f["before"] == "" and ln["before"].startswith("The hidden tests are not part of this lab"), f["name"]
        assert (f"{len(failing)} of " in ln["before"]) if failing else ("pass their visible checks" in ln["before"]), (
            f["name"],
            ln["before"],
        )
        # a failure drawn with the full package is drawn here too: the run so far holds the first difference
        drawn = {g for g, p in f["pictures"].items() if p == "drawn"}
        assert drawn <= {g for g, p in ln["pictures"].items() if p == "drawn"}, (
            f["name"],
            f["pictures"],
            ln["pictures"],
        )
        for fs, ls in zip(f["show_mine"], ln["show_mine"], strict=True):
            where = f"{f['name']}: show_mine {fs['run']}"
            assert (ls["head"], ls["ok"]) == (fs["head"], fs["ok"]), where
            # the note and the picture below it agree: "exactly as the reference" marks nothing, a difference is marked
            assert not (fs["ok"] and fs["marked"]), where
            assert fs["marked"] or not fs["head"].startswith("Your run differs"), where
            if not ls["stopped"]:
                assert (ls["rows"], ls["detail"]) == (fs["rows"], fs["detail"]), where
                continue
            stops += 1  # the recorded peer stopped the run after it had left the reference's path
            assert not fs["ok"] and fs["head"].startswith("Your run differs from the reference first here"), where
            assert 0 < len(ls["rows"]) < len(fs["rows"]) and ls["rows"] == fs["rows"][: len(ls["rows"])], where
            assert ls["detail"].startswith(fs["detail"]), where
            assert "the recorded reference, playing" in ls["detail"] and "left the reference's path" in ls["detail"], (
                where
            )
    solution = full[0]
    assert all(v == "pass" for v in solution["cells"].values()), solution["cells"]
    assert all(s["ok"] for s in solution["show_mine"]), [s["head"] for s in solution["show_mine"]]
    if assignment == "01_active_close":
        assert stops, "a bug of notebook 01 takes B's CLOSE_WAIT or LAST_ACK off the recorded path"
