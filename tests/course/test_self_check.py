"""`tcpclose check` on a real course notebook, as a learner working alone runs it.

Written answers are the instructor's to grade: a blank one is flagged as blank, a filled one
as waiting for the instructor, and neither counts towards the autograded total.
"""

from __future__ import annotations

import nbformat
import pytest

from autograder.cli import main
from tests.course.conftest import REPO, grade_cells, is_test, source_notebook

pytestmark = pytest.mark.nbgrader
ASSIGNMENT = "02_passive_close"


def test_written_answers_are_left_to_the_instructor_blank_or_not(tmp_path, capsys):
    meta = grade_cells(source_notebook(ASSIGNMENT))
    written = sorted(g for g, m in meta.items() if m.get("solution"))  # graded answers a person reads
    assert len(written) >= 2, "the test needs two written answers: one filled, one blank"
    nb = nbformat.read(REPO / "notebooks" / f"{ASSIGNMENT}.ipynb", as_version=4)
    filled = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == written[0])
    filled.source = "A server that never calls close() keeps the socket in CLOSE_WAIT."
    path = tmp_path / f"{ASSIGNMENT}.ipynb"
    nbformat.write(nb, path)

    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    line = {g: next(x for x in out.splitlines() if g in x) for g in written}
    assert "your instructor grades it" in line[written[0]]
    assert "still blank" in line[written[1]]
    auto = sum(m["points"] for m in meta.values() if is_test(m))
    manual = sum(meta[g]["points"] for g in written)
    assert f"total: 0/{auto:g} autograded (+ {manual:g} points of written answers)" in out
