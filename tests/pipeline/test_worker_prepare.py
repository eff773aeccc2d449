"""A grading worker computes the reference's part of an assignment before its first submission."""

from __future__ import annotations

from autograder.checks import clear_caches, scenario_cases
from autograder.pipeline.worker import WorkerProcess, prepare_ahead

from .conftest import REPO


def test_preparing_ahead_computes_the_reference_runs_a_submission_would_wait_for():
    clear_caches()
    assert not scenario_cases._REFERENCE_RUNS
    prepare_ahead("04_lost_segments", REPO / "course")
    assert len(scenario_cases._REFERENCE_RUNS) > 50  # every scenario case's run, under every profile


def test_a_worker_that_cannot_prepare_says_so_and_keeps_serving(tmp_path):
    """Preparing is only a head start: an assignment it cannot read is named in the worker's log,
    and the worker goes on to read its next frame (here: the pipe closing, on which it exits 0)."""
    log = tmp_path / "worker.log"
    worker = WorkerProcess(None, log, ahead=(str(REPO / "course"), "09_no_such_notebook"))
    worker._start()
    worker.proc.stdin.close()
    assert worker.proc.wait(60) == 0
    assert "could not prepare 09_no_such_notebook ahead" in log.read_text()
    worker.stop()


def test_after_preparing_a_submission_computes_no_reference_run_or_situation():
    """What the first submission of a batch used to pay for every transition case (the catalogue
    situation that plays it, its words), prepared with the reference's answer: a prepared worker's
    hidden tests then cost only the comparisons."""
    import sys

    from autograder.checks import hidden_suite, transition_cases

    sys.path.insert(0, str(REPO / "tests" / "autograder"))
    from implementations import load

    clear_caches()
    prepare_ahead("05_time_wait", REPO / "course")
    situations, runs = transition_cases.situations.cache_info().misses, len(scenario_cases._REFERENCE_RUNS)
    learner = {s.value.lower(): f for s, f in load("impl_plain").HANDLERS.items()}
    assert hidden_suite(learner, "05_time_wait").score == 1
    assert transition_cases.situations.cache_info().misses == situations
    assert len(scenario_cases._REFERENCE_RUNS) == runs
