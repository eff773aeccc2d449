"""What runs of a submission and where its test cells are graded, judged against the release notebook.

Fast: no sandbox, no nbgrader run; one small release notebook and the submissions a learner (or
a cheat) could make of it.
"""

from __future__ import annotations

import copy

import nbformat

from autograder.pipeline.plan import make_plan


def meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    m = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
         "task": False}  # fmt: skip
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def release() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from autograder.learner import *", metadata=meta("setup", locked=True)),
        nbformat.v4.new_code_cell("def fin_wait_1(tcb, ev, profile):\n    raise NotImplementedError",
                                  metadata=meta("answer_fin_wait_1", solution=True)),
        nbformat.v4.new_code_cell("tests.check(globals(), 'test_fw1')", metadata=meta("test_fw1", grade=True, locked=True, points=2)),
        nbformat.v4.new_code_cell("show_mine(globals(), 'active-close')"),
        nbformat.v4.new_markdown_cell("Why? YOUR ANSWER HERE", metadata=meta("written_why", grade=True, solution=True, points=1)),
        nbformat.v4.new_code_cell("tests.check(globals(), 'test_fw2')", metadata=meta("test_fw2", grade=True, locked=True, points=1)),
    ]  # fmt: skip
    return nb


def actions(plan) -> list[tuple[str, str]]:
    return [(s.action, s.grade_id or s.source.split("\n")[0][:30]) for s in plan.steps]


def kinds(plan) -> dict[str, str]:
    return {f.cell: f.kind for f in plan.findings}


def test_an_honest_submission_runs_its_cells_in_order_and_grades_tests_in_place():
    sub = release()
    sub.cells[1].source = "def fin_wait_1(tcb, ev, profile):\n    return Step(State.FIN_WAIT_2, [], tcb)"
    plan = make_plan(release(), sub)
    assert actions(plan) == [("trusted", "from autograder.learner import"), ("run", "def fin_wait_1(tcb, ev, profil"),
                             ("test", "test_fw1"), ("run", "show_mine(globals(), 'active-c"), ("skip", ""),
                             ("test", "test_fw2")]  # fmt: skip
    assert plan.findings == [] and plan.graded_at == {"test_fw1": 2, "test_fw2": 5}


def test_an_edited_test_cell_is_graded_anyway_and_its_source_never_runs():
    sub = release()
    sub.cells[2].source = "assert True  # the test, made to pass"
    plan = make_plan(release(), sub)
    assert ("test", "test_fw1") in actions(plan) and not any("assert True" in s.source for s in plan.steps)
    assert kinds(plan) == {"test_fw1": "edited"}


def test_changed_points_are_reported_and_a_deleted_test_cell_is_missing():
    sub = release()
    sub.cells[2].metadata.nbgrader["points"] = 100
    del sub.cells[5]
    plan = make_plan(release(), sub)
    assert kinds(plan) == {"test_fw1": "metadata", "test_fw2": "deleted"} and plan.deleted() == ["test_fw2"]


def test_an_edited_setup_cell_runs_as_released():
    sub = release()
    sub.cells[0].source = "import sys; sys.modules['autograder.checks'] = None"
    plan = make_plan(release(), sub)
    assert plan.steps[0].action == "trusted" and plan.steps[0].source == "from autograder.learner import *"
    assert kinds(plan) == {"setup": "edited"}


def test_an_answer_cell_remarked_as_a_test_cell_runs_as_the_answer_it_is():
    sub = release()
    sub.cells[1].metadata.nbgrader.update(grade=True, solution=False, locked=True, points=5)
    plan = make_plan(release(), sub)
    assert plan.steps[1].action == "run" and kinds(plan) == {"answer_fin_wait_1": "remarked"}
    assert plan.graded_at == {"test_fw1": 2, "test_fw2": 5}


def test_a_duplicated_test_cell_is_graded_once_at_its_last_copy_and_reported():
    sub = release()
    sub.cells.insert(1, copy.deepcopy(sub.cells[5]))
    plan = make_plan(release(), sub)
    assert plan.graded_at["test_fw2"] == 6 and plan.steps[1].action == "skip"
    assert kinds(plan) == {"test_fw2": "duplicate"}


def test_a_made_up_graded_cell_is_just_learner_code():
    sub = release()
    sub.cells.insert(3, nbformat.v4.new_code_cell("print('16/16')", metadata=meta("test_bonus", grade=True, points=10)))
    plan = make_plan(release(), sub)
    assert plan.steps[3].action == "run" and "test_bonus" not in plan.graded_at
    assert kinds(plan) == {"test_bonus": "extra"}


def test_a_written_answer_never_runs_even_as_code():
    sub = release()
    sub.cells[4] = nbformat.v4.new_code_cell("print('hello')", metadata=sub.cells[4].metadata)
    assert make_plan(release(), sub).steps[4].action == "skip"


def test_the_learners_own_code_is_read_for_what_only_cheating_needs():
    # Read on the trusted side, so a submission that silences the runner's watch is still flagged.
    sub = release()
    sub.cells[1].source = ("def fin_wait_1(tcb, ev, profile):\n    '''not sys.modules, nor ctypes'''\n"
                           "    return Step(State.FIN_WAIT_2, [], tcb)  # no f_back here either")  # fmt: skip
    sub.cells.insert(
        2, nbformat.v4.new_code_cell("import sys\nw = sys._current_frames()\nexec(open('/proc/1/cmdline').read())")
    )
    sub.cells.insert(3, nbformat.v4.new_code_cell("data = '" + "A" * 25_000 + "'"))
    plan = make_plan(release(), sub)
    found = {f.cell: f.note for f in plan.findings if f.kind == "source"}
    assert set(found) == {"cell 3", "cell 4"}  # the answer's docstring and comment are not its code
    assert all(w in found["cell 3"] for w in ("frames", "files outside", "decodes code"))
    assert "holds 25,009 characters in one cell" in found["cell 4"]


def test_data_pasted_over_many_cells_is_flagged_in_all():
    sub = release()
    for i in range(5):  # each cell under the one-cell limit, 75,000 characters in all
        sub.cells.insert(2, nbformat.v4.new_code_cell(f"part{i} = '" + "A" * 15_000 + "'"))
    sub.cells.insert(2, nbformat.v4.new_code_cell("table = bytes.fromhex(part0)"))
    found = {f.cell: f.note for f in make_plan(release(), sub).findings if f.kind == "source"}
    assert "holds 75,0" in found["notebook"] and "over several cells" in found["notebook"]
    assert "decodes code or data" in found["cell 3"]


def test_a_handler_that_reads_the_clock_is_flagged_as_not_repeatable():
    # The runner fixes the hash seed and `random`'s seed; the clock and os.urandom it cannot: such a
    # handler's score may change between two gradings of the same file (its own doing), and is flagged.
    sub = release()
    sub.cells[1].source = ("import time\ndef fin_wait_1(tcb, ev, profile):\n"
                           "    return Step(State.FIN_WAIT_2 if time.time() % 2 else State.CLOSED, [], tcb)")  # fmt: skip
    found = {f.cell: f.note for f in make_plan(release(), sub).findings if f.kind == "source"}
    assert "reads the clock or a random source" in " ".join(found.values())


def test_what_the_release_itself_does_is_not_suspicious():
    rel = release()
    rel.cells[1].source = "import socket\n" + rel.cells[1].source  # a sockets exercise (notebook 07)
    sub = copy.deepcopy(rel)
    sub.cells[1].source = "import socket\ndef fin_wait_1(tcb, ev, profile):\n    return socket.socket()"
    assert [f for f in make_plan(rel, sub).findings if f.kind == "source"] == []
