"""Real nbgrader over the hostile corpus: scores, reasons, feedback, CSVs, determinism, resumption."""

from __future__ import annotations

import csv
import json
import re

import pytest

from autograder.pipeline.autograde import load_state
from autograder.sandbox import UID_RANGE
from tests.pipeline.conftest import CORPUS, tree_digest
from tests.pipeline.make_corpus import ASSIGNMENT

pytestmark = pytest.mark.nbgrader

# case -> (score out of 4, text that must appear in the instructor's notes or cell reasons)
EXPECTED = {
    "correct": (4, None),
    "blank": (0, "NotImplementedError"),
    "syntax-error": (0, "SyntaxError"),
    "infinite-loop": (0, "CellTimeoutError"),
    "kernel-crash": (2, "KernelDied"),
    "deleted-test-cells": (3, "tampered: this test cell was deleted"),
    "edited-test-cells": (2, "tampered: the source of this test cell was edited"),
    "tampered-metadata-points": (3, "tampered: the cell's grading metadata"),
    "reads-gradebook": (0, "no gradebook readable"),
    "network-access": (0, "ConnectionRefusedError"),
    "huge-output": (4, None),
    "fork-bomb-limited": (0, "BlockingIOError"),
}


def test_the_corpus_is_complete():
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(EXPECTED)


def test_the_batch_completes_with_every_submission_graded(graded):
    assert sorted(graded["first"]) == sorted(EXPECTED)
    assert {o.status for o in graded["first"].values()} == {"graded"}
    assert len(graded["progress"]) == 2 * len(EXPECTED) and graded["progress"][len(EXPECTED) - 1].startswith("[####")


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_submission_gets_its_score_and_a_clear_reason(graded, case):
    score, reason = EXPECTED[case]
    outcome = graded["first"][case]
    assert (outcome.score, outcome.max_score) == (score, 4)
    state = load_state(graded["course"], ASSIGNMENT, case)
    said = " | ".join(outcome.notes + [c["reason"] for c in state["cells"]])
    if reason:
        assert reason in said
    for text in said.split(" | "):
        assert "Traceback" not in text and "File \"" not in text


def test_a_dead_kernel_costs_only_the_cells_from_the_crash_on(graded):
    cells = {c["cell"]: c for c in load_state(graded["course"], ASSIGNMENT, "kernel-crash")["cells"]}
    assert cells["test_fin_wait_1_ack_of_fin"]["score"] == 2
    assert cells["test_fin_wait_2_fin"]["reason"].startswith("KernelDied")
    assert cells["test_simultaneous_close"]["reason"].startswith("NotRun")


def test_the_network_was_never_reached_and_the_gradebook_never_read(graded):
    if not graded["is_root"]:
        pytest.skip("network namespaces and a separate uid need root here")
    assert graded["network_connections"] == 0
    notes = " ".join(load_state(graded["course"], ASSIGNMENT, "correct")["sandbox"])
    uids = [int(m) for m in re.findall(r"uid (\d+)", notes)]
    assert uids and all(u in UID_RANGE for u in uids), notes


def test_huge_output_is_capped_in_the_autograded_notebook(graded):
    nb = graded["course"].path("autograded", "huge-output", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb"
    assert nb.stat().st_size < 200_000
    assert "[output truncated by the grader]" in nb.read_text()


def test_feedback_shows_no_hidden_tests_and_no_traceback(graded):
    pages = graded["feedback"]
    assert len(pages) == len(EXPECTED)
    for page in pages:
        text = page.read_text()
        assert "hidden_probe" not in text and "BEGIN HIDDEN TESTS" not in text, page
        assert "Traceback (most recent call last)" not in text and "\x1b[" not in text, page
        assert not re.search(r"File &quot;|File \"", text), page
    blank = graded["course"].path("feedback", "blank", ASSIGNMENT) / f"{ASSIGNMENT}.html"
    assert "NotImplementedError" in blank.read_text()
    edited = graded["course"].path("feedback", "edited-test-cells", ASSIGNMENT) / f"{ASSIGNMENT}.html"
    assert "Grader&#39;s note" in edited.read_text() or "Grader's note" in edited.read_text()


def test_grades_csv_has_one_row_per_student_and_a_total(graded):
    rows = list(csv.DictReader(graded["grades"].open()))
    assert list(rows[0]) == ["student", ASSIGNMENT, "total", "awaiting_hand_grading"]
    assert {r["student"]: float(r["total"]) for r in rows} == {k: float(v[0]) for k, v in EXPECTED.items()}


def test_class_report_gives_a_pass_rate_per_transition(graded):
    rows = {r["cell"]: r for r in csv.DictReader(graded["report"].open())}
    assert set(rows) == {"test_fin_wait_1_ack_of_fin", "test_fin_wait_2_fin", "test_simultaneous_close"}
    fw1 = rows["test_fin_wait_1_ack_of_fin"]
    # full marks on this cell: correct, kernel-crash, deleted-, tampered-metadata-, huge-output
    assert (fw1["transition"], fw1["submissions"], fw1["passed"]) == ("fin_wait_1_ack_of_fin", "12", "5")
    assert float(fw1["pass_rate"]) == pytest.approx(5 / 12, abs=1e-3) and fw1["tampered"] == "1"
    assert rows["test_fin_wait_2_fin"]["tampered"] == "2"  # deleted and points changed


def test_autograde_again_is_skipped_and_identical(graded):
    for case, second in graded["second"].items():
        assert second.status == "skipped"
        assert (second.score, second.max_score) == (graded["first"][case].score, graded["first"][case].max_score)


def test_submissions_are_byte_identical_after_grading(graded):
    assert tree_digest(CORPUS) == graded["corpus_before"]
    assert tree_digest(graded["course"].root / "submitted") == graded["submitted_before"]


def test_state_records_are_json_with_a_fingerprint(graded):
    state = json.loads((graded["course"].state_dir / ASSIGNMENT / "correct.json").read_text())
    assert len(state["fingerprint"]) == 64 and state["status"] == "graded"
