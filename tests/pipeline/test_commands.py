"""tcpclose check / notebooks on the fixture course: exit codes, messages, learner copies, drift."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from tests.pipeline.conftest import CORPUS, make_course
from tests.pipeline.make_corpus import ASSIGNMENT

pytestmark = pytest.mark.nbgrader


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return make_course(tmp_path_factory.mktemp("commands"))


def _corpus(case: str) -> Path:
    return CORPUS / case / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def test_check_passes_a_correct_notebook_and_leaves_it_alone(course, capsys):
    before = hashlib.sha256(_corpus("correct").read_bytes()).hexdigest()
    assert main(["check", str(_corpus("correct")), "--course", str(course)]) == 0
    out = capsys.readouterr().out
    assert "ok   test_fin_wait_1_ack_of_fin" in out and "total: 4/4" in out
    assert hashlib.sha256(_corpus("correct").read_bytes()).hexdigest() == before


def test_check_fails_with_the_checks_message_and_no_hidden_source(course, tmp_path, capsys):
    nb = nbformat.read(_corpus("correct"), as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    answer.source = answer.source.replace('("FIN_WAIT_1", "ack_of_fin"): "FIN_WAIT_2"', '("FIN_WAIT_1", "ack_of_fin"): "CLOSED"')
    path = tmp_path / f"{ASSIGNMENT}.ipynb"
    nbformat.write(nb, path)
    assert main(["check", str(path), "--course", str(course)]) == 1
    out = capsys.readouterr().out
    assert "FAIL test_fin_wait_1_ack_of_fin" in out
    assert "expected FIN_WAIT_2, your code went to CLOSED" in out
    assert "hidden_probe" not in out and "Traceback" not in out and "total: 2/4" in out


@pytest.mark.parametrize("make, why", [
    (lambda d: d / "missing.ipynb", "no such file"),
    (lambda d: (d / f"{ASSIGNMENT}.ipynb").write_text("not json") and d / f"{ASSIGNMENT}.ipynb", "not a Jupyter notebook"),
    (lambda d: nbformat.write(nbformat.v4.new_notebook(), d / "99_nope.ipynb") or d / "99_nope.ipynb",
     "cannot tell which assignment"),
])  # fmt: skip
def test_check_bad_input_exits_2(course, tmp_path, capsys, make, why):
    assert main(["check", str(make(tmp_path)), "--course", str(course)]) == 2
    assert why in capsys.readouterr().err


def test_check_grades_a_renamed_copy_by_its_cells_and_says_so(course, tmp_path, capsys):
    copy = tmp_path / f"{ASSIGNMENT}-Copy1.ipynb"
    copy.write_bytes(_corpus("correct").read_bytes())
    assert main(["check", str(copy), "--course", str(course)]) == 0
    out = capsys.readouterr().out
    assert f"note: graded as {ASSIGNMENT}" in out and "total: 4/4" in out


def test_check_assignment_option_names_it_and_rejects_unknown_names(course, tmp_path, capsys):
    copy = tmp_path / "mine.ipynb"
    copy.write_bytes(_corpus("correct").read_bytes())
    assert main(["check", str(copy), "--assignment", ASSIGNMENT, "--course", str(course)]) == 0
    assert "note: graded as" not in capsys.readouterr().out
    assert main(["check", str(copy), "--assignment", "99_nope", "--course", str(course)]) == 2
    assert "unknown assignment '99_nope'" in capsys.readouterr().err


def test_learner_copies_have_no_solutions_hidden_tests_or_outputs(course, tmp_path):
    assert main(["notebooks", "--course", str(course), "--dest", str(tmp_path)]) == 0
    text = (tmp_path / f"{ASSIGNMENT}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "hidden_probe" not in text and "NotImplementedError" in text
    assert main(["notebooks", "--check", "--course", str(course), "--dest", str(tmp_path)]) == 0


def test_drift_is_reported(course, tmp_path, capsys):
    main(["notebooks", "--course", str(course), "--dest", str(tmp_path)])
    copy = tmp_path / f"{ASSIGNMENT}.ipynb"
    copy.write_text(copy.read_text().replace("three close transitions", "two"))
    assert main(["notebooks", "--check", "--course", str(course), "--dest", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_source_with_outputs_or_widget_state_is_reported(course, tmp_path):
    from autograder.pipeline.course import Course
    from autograder.pipeline.notebooks import unclean_sources

    dirty = make_course(tmp_path)
    path = dirty / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.metadata["widgets"] = {"state": {}}
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi")]
    nbformat.write(nb, path)
    assert len(unclean_sources(Course.at(dirty))) == 2
    assert unclean_sources(Course.at(course)) == []


def test_repository_learner_copies_match_the_course_source():
    from autograder.pipeline.notebooks import drift, unclean_sources

    assert unclean_sources() == [], "strip outputs and widget state from course/source"
    assert drift() == [], "notebooks/ is out of date: run `tcpclose notebooks`"


def test_grading_from_inside_a_course_directory_works_on_that_course(tmp_path, monkeypatch, capsys):
    # An instructor's `cd my-course && tcpclose grade ...` must not touch the repository's course/.
    root = make_course(tmp_path)
    monkeypatch.delenv("TCPCLOSE_COURSE", raising=False)
    monkeypatch.chdir(root)
    assert main(["grade", "generate", ASSIGNMENT]) == 0
    assert (root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
    assert str(root / "release") in capsys.readouterr().out


def test_generate_on_two_threads_leaves_the_working_directory_alone(tmp_path):
    # nbgrader's converters chdir the whole process; two at once used to strand it in a course.
    from concurrent.futures import ThreadPoolExecutor

    from autograder.pipeline.course import Course
    from autograder.pipeline.steps import generate

    courses = [Course.at(make_course(tmp_path / str(i))) for i in range(4)]
    here = Path.cwd()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda c: generate(c, ASSIGNMENT), courses))
    assert Path.cwd() == here
