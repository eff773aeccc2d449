"""The learner view: what it holds, what it leaves out, and how it behaves without the reference."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import nbformat
import pytest

from autograder import visible
from autograder.learner_build import PACKAGES, BuildError, learner_files
from autograder.manifest import course_assignments, load_manifest
from autograder.recording import COURSE_PROFILES
from reference_impl.profiles import LINUX, RFC9293
from tests.learner_build.conftest import run_json_on, run_on

SOURCE = PACKAGES / "course" / "source"
INSTRUCTOR_ONLY = ("reference_impl/handlers.py", "autograder/production_hidden.py", "autograder/learner_build.py",
                   "autograder/recording.py", "autograder/grading_commands.py")  # fmt: skip


def test_the_view_leaves_out_the_answer_key_and_the_grading_pipeline():
    files = learner_files()
    assert not set(INSTRUCTOR_ONLY) & set(files)
    assert not [f for f in files if f.startswith(("autograder/pipeline/", "autograder/sandbox"))]
    assert {"reference_impl/sim.py", "autograder/recorded.py", "autograder/notebook_helpers.py"} <= set(files)


def test_a_module_nobody_classified_stops_the_build(tmp_path):
    for package in ("reference_impl", "autograder"):
        shutil.copytree(PACKAGES / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "autograder" / "answers_for_tas.py").write_text("ANSWER = 42\n")
    with pytest.raises(BuildError, match="answers_for_tas.py: not classified for the learner build"):
        learner_files(tmp_path)


def test_the_sandbox_view_holds_no_reference(sandbox_view):
    found = run_json_on(
        sandbox_view,
        """
        import json
        from autograder import reference_source as rs
        try:
            import reference_impl.handlers
            handlers = "importable"
        except ImportError:
            handlers = "absent"
        try:
            rs.reference_machine()
            sentence = ""
        except rs.ReferenceUnavailable as e:
            sentence = e.sentence
        print(json.dumps([handlers, rs.source_kind(), sentence]))
    """,
    )
    assert found[:2] == ["absent", "none"]
    assert "not part of this environment" in found[2]
    assert not (sandbox_view / "autograder" / "_recorded").exists()


def test_ungraded_cells_show_a_sentence_in_the_sandbox_instead_of_failing(sandbox_view):
    shown = run_json_on(
        sandbox_view,
        """
        import json
        from autograder.learner import *
        from autograder.notebook_helpers import from_trace, predict, show_mine
        from autograder.views import Timeline, timeline

        def time_wait(tcb, ev, profile):
            return Step(State.TIME_WAIT, [], tcb)

        view = timeline("active-close")
        mine = show_mine(globals(), "lost-final-ack", profile=RFC9293.replace(time_wait=0), label="TIME_WAIT = 0")
        question = predict("Which state?", ["FIN_WAIT_1", "CLOSED"], answer_from=from_trace("active-close", "A", "close"))
        pair = Timeline(reference_close("lost-final-ack"), reference_close("lost-final-ack", LINUX), labels=("a", "b"))
        print(json.dumps([view.frames.value, mine.children[-1].frames.value, question.value, pair.frames.value,
                          len(reference_close("abort"))]))
    """,
    )
    assert all("No timeline here" in html for html in (shown[0], shown[1], shown[3]))
    assert "No prediction here" in shown[2] and "Which state?" in shown[2]
    assert shown[4] == 0


RUN_CELLS = """
    import json, sys
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    failed = []
    for name, code in json.load(open(sys.argv[1])):
        result = shell.run_cell(code, store_history=False)
        if not result.success:
            failed.append(f"{name}: {result.error_in_exec or result.error_before_exec!r}")
    print(json.dumps(failed))
"""


def test_every_cell_the_grading_sandbox_runs_of_the_solutions_runs_there(sandbox_view, tmp_path):
    """The sandbox runs a submission's cells except its test cells: setup, answers, timelines,
    show_mine, predictions, the loopback lab and "before you submit" must all run without the
    reference, each showing a sentence where it would show the reference."""
    cells = []
    for path in sorted(SOURCE.glob("*/*.ipynb")):
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and not (meta.get("grade") and not meta.get("solution")):
                cells.append([f"{path.stem} cell {i}", cell.source])
    (tmp_path / "cells.json").write_text(json.dumps(cells))
    out = run_on(sandbox_view, RUN_CELLS, str(tmp_path / "cells.json"))
    assert json.loads(out.strip().splitlines()[-1]) == []
    assert out.count("The hidden tests are not part of this environment") == len(course_assignments())


RUNS = """
    import hashlib, json
    from reference_impl.profiles import LINUX, RFC9293
    from reference_impl.scenarios import CATALOGUE
    from autograder.reference_source import reference_trace
    from autograder.views.losses import picker_patterns

    out = {}
    for profile in (RFC9293, LINUX, RFC9293.replace(time_wait=0), RFC9293.replace(rfc1337=True)):
        for name in CATALOGUE:
            for lose in picker_patterns(name, profile):
                csv = reference_trace(name, profile, lose).to_csv()
                out[f"{profile} {name} {lose}"] = hashlib.sha256(csv.encode()).hexdigest()[:16]
    print(json.dumps(out))
"""


def test_the_recorded_reference_replays_every_course_run_row_for_row(learner_view):
    assert COURSE_PROFILES == (RFC9293, LINUX, RFC9293.replace(time_wait=0), RFC9293.replace(rfc1337=True))
    full = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RUNS)], capture_output=True, text=True, check=True
    ).stdout
    expected = json.loads(full)
    assert len(expected) > 2000
    assert run_json_on(learner_view, RUNS) == expected


def test_a_run_the_build_did_not_record_is_one_sentence(learner_view):
    said = run_json_on(
        learner_view,
        """
        import json
        from autograder.reference_source import ReferenceUnavailable, reference_trace
        from reference_impl.profiles import RFC9293, ms
        try:
            reference_trace("active-close", RFC9293.replace(time_wait=ms(5)))
        except ReferenceUnavailable as e:
            print(json.dumps(e.sentence))
    """,
    )
    assert said.startswith(
        "this learner build holds the reference's runs of the catalogue's scenarios under rfc9293, linux"
    )
    assert "active-close under rfc9293 + time_wait=5ms is not among them" in said


def test_the_recorded_data_is_small(learner_view):
    size = (learner_view / "autograder" / "_recorded" / "reference.json.gz").stat().st_size
    assert 1_000 < size < 500_000


def test_visible_manifests_hold_the_visible_checks_and_nothing_else(learner_view):
    assignments = course_assignments()
    assert assignments, "the course has grading manifests"
    for assignment in assignments:
        text = (learner_view / "autograder" / "_visible" / f"{assignment}.json").read_text()
        doc = json.loads(text)
        # explanations and answers: what a prediction says after, and where its answer comes from
        assert set(doc) == {"assignment", "cells", "explanations", "answers"}
        assert all(set(c) == {"grade_id", "points", "visible", "yourself", "defined"} for c in doc["cells"])
        full, carried = load_manifest(assignment), visible.parse(text.encode())
        assert [(c.grade_id, c.points, c.visible, c.yourself, c.defined) for c in carried.cells] == [
            (c.grade_id, c.points, c.visible, c.yourself, c.defined) for c in full.cells
        ]
        assert all(not c.hidden for c in carried.cells) and carried.before_submit == ()
        assert dict(carried.explanations) == dict(full.explanations)
        assert dict(carried.answers) == dict(full.answers)
