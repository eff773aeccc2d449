"""`tcpclose check` on a real course notebook, as a learner working alone runs it.

A failed check prints its whole message (state, event, the reference's move and yours, the
replay command), not just a summary line. Written answers are the instructor's to grade: a
blank one is flagged as blank, a filled one as waiting, and neither counts in the autograded total.
"""

from __future__ import annotations

import nbformat
import pytest

from autograder.cli import main
from tests.course.bugs import load
from tests.course.conftest import REPO, grade_cells, is_test, solution_answers, source_notebook, submission

pytestmark = pytest.mark.nbgrader
ASSIGNMENT = "02_passive_close"
BUG = "closed-instead-of-last-ack"


def test_a_learners_check_shows_whole_failures_and_leaves_written_answers_alone(tmp_path, capsys):
    source = source_notebook(ASSIGNMENT)
    meta = grade_cells(source)
    written = sorted(g for g, m in meta.items() if m.get("solution"))  # graded answers a person reads
    assert len(written) >= 2, "the test needs two written answers: one filled, one blank"
    code = {g: s for g, s in solution_answers(source).items() if g not in written}
    answers = code | load(ASSIGNMENT)[BUG].replace | {written[0]: "The socket stays in CLOSE_WAIT for ever."}
    release = nbformat.read(REPO / "notebooks" / f"{ASSIGNMENT}.ipynb", as_version=4)
    path = tmp_path / f"{ASSIGNMENT}.ipynb"
    nbformat.write(submission(release, answers), path)

    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    failed = out.split("FAIL test_close_wait_close", 1)[1].split("\n", 1)[1]
    failure = failed.split("\nok ", 1)[0].split("\nFAIL ", 1)[0]
    assert "in CLOSE_WAIT" in failure and "your code" in failure and "replay: tcpclose" in failure
    line = {g: next(x for x in out.splitlines() if g in x) for g in written}
    assert "your instructor grades it" in line[written[0]]
    assert "still blank" in line[written[1]]
    auto = sum(m["points"] for m in meta.values() if is_test(m))
    manual = sum(meta[g]["points"] for g in written)
    assert f"/{auto:g} autograded (+ {manual:g} points of written answers)" in out
