"""tcpclose check / grade autograde / notebooks on a copy of the real course: exit codes, messages, copies."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from tests.pipeline.conftest import real_course, solution
from tests.pipeline.make_corpus import COURSE_ASSIGNMENT

pytestmark = pytest.mark.nbgrader
A = COURSE_ASSIGNMENT
BUG = '''def fin_wait_2(tcb, ev, profile):
    """FIN_WAIT_2, wrong on purpose: the peer's FIN closes at once (no TIME_WAIT)."""
    match ev:
        case Arrival(seg) if seg.fin:
            return Step(State.CLOSED, [Send(tcb.ack())], tcb)
    return Step(State.FIN_WAIT_2, [], tcb)
'''


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return real_course(tmp_path_factory.mktemp("commands"))


@pytest.fixture(scope="module")
def learner_copy(course, tmp_path_factory) -> Path:
    """The learner's copy of notebook 01 (what `tcpclose notebooks` writes), unanswered."""
    dest = tmp_path_factory.mktemp("learner")
    assert main(["notebooks", "--course", str(course), "--dest", str(dest)]) == 0
    return dest / f"{A}.ipynb"


def answered(copy: Path, dest: Path, replace: dict[str, str]) -> Path:
    nb = nbformat.read(copy, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in replace:
            cell.source = replace[gid]
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


def test_check_passes_a_solved_notebook_and_leaves_it_alone(course, learner_copy, tmp_path, capsys):
    path = answered(learner_copy, tmp_path / f"{A}.ipynb", solution())
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    assert main(["check", str(path), "--course", str(course)]) == 0
    out, err = capsys.readouterr()
    assert "ok   test_established_close" in out and "autograded" in out and "FAIL" not in out
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    # Its progress (stderr, not a terminal here): each step, then a plain line per test cell.
    assert "making a private copy of the course" in err and "running your cells in the grading sandbox" in err
    cells = [m.groups() for m in re.finditer(r"^\[[#.]{20}\] (\d+)/(\d+) (test_\w+): ([\d.]+)/([\d.]+)", err, re.M)]
    assert len(cells) >= 5 and [int(c[0]) for c in cells] == list(range(1, len(cells) + 1))
    assert {int(c[1]) for c in cells} == {len(cells)} and all(c[3] == c[4] for c in cells)  # solved: full marks
    assert "test_established_close" in {c[2] for c in cells}


def test_check_fails_with_the_checks_whole_message_and_no_hidden_source(course, learner_copy, tmp_path, capsys):
    path = answered(learner_copy, tmp_path / f"{A}.ipynb", solution() | {"answer_fin_wait_2": BUG})
    assert main(["check", str(path), "--course", str(course)]) == 1
    out = capsys.readouterr().out
    assert "FAIL test_fin_wait_2_fin" in out
    failure = out.split("FAIL test_fin_wait_2_fin", 1)[1].split("\nok ", 1)[0]
    assert "FIN_WAIT_2" in failure and "your" in failure
    assert "BEGIN HIDDEN TESTS" not in out and "Traceback" not in out


@pytest.mark.parametrize("make, why", [
    (lambda d: d / "missing.ipynb", "no such file"),
    (lambda d: (d / f"{A}.ipynb").write_text("not json") and d / f"{A}.ipynb", "not a Jupyter notebook"),
    (lambda d: nbformat.write(nbformat.v4.new_notebook(), d / "99_nope.ipynb") or d / "99_nope.ipynb",
     "cannot tell which assignment"),
])  # fmt: skip
def test_check_bad_input_exits_2(course, tmp_path, capsys, make, why):
    assert main(["check", str(make(tmp_path)), "--course", str(course)]) == 2
    assert why in capsys.readouterr().err


def test_check_grades_a_renamed_copy_by_its_cells_and_says_so(course, learner_copy, tmp_path, capsys):
    copy = answered(learner_copy, tmp_path / f"{A}-Copy1.ipynb", solution())
    assert main(["check", str(copy), "--course", str(course)]) == 0
    assert f"note: graded as {A}" in capsys.readouterr().out
    assert main(["check", str(copy), "--assignment", "99_nope", "--course", str(course)]) == 2
    assert "unknown assignment '99_nope'" in capsys.readouterr().err


def test_autograde_names_the_submissions_it_could_not_grade_and_exits_1(tmp_path, capsys):
    # A submission whose notebook cannot be graded because the sandbox cannot start (no view to show):
    # simulated by a release whose manifest is gone, which fails that assignment's grading with a sentence.
    root = real_course(tmp_path)
    assert main(["grade", "generate", A, "--course", str(root)]) == 0
    inbox = tmp_path / "inbox" / "mallory" / A
    inbox.mkdir(parents=True)
    nbformat.write(nbformat.read(root / "release" / A / f"{A}.ipynb", as_version=4), inbox / f"{A}.ipynb")
    assert main(["grade", "collect", str(tmp_path / "inbox"), A, "--course", str(root)]) == 0
    assert "[####################] 1/1 mallory: new (" in capsys.readouterr().err  # collect's progress line
    (root / "source" / A / "manifest.py").unlink()
    assert main(["grade", "autograde", A, "--course", str(root), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert re.search(r"^\[#{20}\] 1/1 mallory: failed 0/\d+ .* in all\)$", err, re.M), err  # and autograde's
    assert "grading failed for mallory" in err and "no grading manifest" in err
    assert "Traceback" not in err


def test_learner_copies_have_no_solutions_hidden_tests_or_outputs(course, learner_copy):
    text = learner_copy.read_text()
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text and "NotImplementedError" in text
    assert main(["notebooks", "--check", "--course", str(course), "--dest", str(learner_copy.parent)]) == 0


def test_drift_is_reported(course, learner_copy, tmp_path, capsys):
    dest = tmp_path / "copies"
    dest.mkdir()
    copy = dest / learner_copy.name
    copy.write_text(learner_copy.read_text().replace("Active close", "Passive close", 1))
    assert main(["notebooks", "--check", "--course", str(course), "--dest", str(dest)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_source_with_outputs_or_widget_state_is_reported(tmp_path):
    from autograder.pipeline.course import Course
    from autograder.pipeline.notebooks import unclean_sources

    dirty = real_course(tmp_path)
    path = dirty / "source" / A / f"{A}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.metadata["widgets"] = {"state": {}}
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi")]
    nbformat.write(nb, path)
    assert len(unclean_sources(Course.at(dirty))) == 2


def test_repository_learner_copies_match_the_course_source():
    from autograder.pipeline.notebooks import drift, unclean_sources

    assert unclean_sources() == [], "strip outputs and widget state from course/source"
    assert drift() == [], "notebooks/ is out of date: run `tcpclose notebooks`"


def test_grading_from_inside_a_course_directory_works_on_that_course(tmp_path, monkeypatch, capsys):
    # An instructor's `cd my-course && tcpclose grade ...` must not touch the repository's course/.
    root = real_course(tmp_path)
    monkeypatch.delenv("TCPCLOSE_COURSE", raising=False)
    monkeypatch.chdir(root)
    assert main(["grade", "generate", A]) == 0
    assert (root / "release" / A / f"{A}.ipynb").is_file()
    assert str(root / "release") in capsys.readouterr().out


def test_generate_on_two_threads_leaves_the_working_directory_alone(tmp_path):
    # nbgrader's converters chdir the whole process; two at once used to strand it in a course.
    from concurrent.futures import ThreadPoolExecutor

    from autograder.pipeline.course import Course
    from autograder.pipeline.steps import generate

    courses = [Course.at(real_course(tmp_path / str(i))) for i in range(2)]
    here = Path.cwd()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda c: generate(c, A), courses))
    assert Path.cwd() == here


def test_check_says_what_it_is_doing_before_it_imports_the_grader(monkeypatch, capsys):
    # The first line comes before nbgrader and the pipeline are imported (seconds on a busy machine).
    import sys
    import types

    said = []
    fake = types.ModuleType("autograder.pipeline.check")

    def first_use(name):
        said.append(capsys.readouterr().err)
        raise ImportError("stopped here by the test")

    fake.__getattr__ = first_use
    monkeypatch.setitem(sys.modules, "autograder.pipeline.check", fake)
    with pytest.raises(ImportError):
        main(["check", "mine.ipynb"])
    assert said[0] == "tcpclose check: grading mine.ipynb with the hidden tests (usually 10-40 s)\n"


@pytest.mark.parametrize("command", [["report"], ["export"], ["feedback", "01_active_close"]])
def test_a_folder_that_is_not_a_graded_course_is_one_sentence_and_nothing_is_made_there(command, tmp_path, capsys):
    """nbgrader would create an empty gradebook in whatever folder --course named, and the report or
    feedback would say nothing was graded (exit 0), or a folder that is not there gave a traceback."""
    for wrong in (tmp_path / "not-the-course", tmp_path / "not-there"):
        if wrong.name == "not-the-course":
            wrong.mkdir()
        assert main(["grade", *command, "--course", str(wrong)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: no gradebook at") and "is not a graded course" in err and "Traceback" not in err
        assert not (wrong / "gradebook.db").exists()
