"""How long the checks take: a visible check cell, a notebook's hidden tests, the mutation run.

Targets: a visible check ≤ 0.2 s (a learner presses it often), one notebook's hidden tests
≤ 0.5 s of CPU (an instructor grades hundreds), the mutation run a few minutes (CI).
A notebook's hidden tests are every hidden check of its grading manifest, each case once.
"Cold" is a fresh process that computes the reference's runs and fixtures as cases need them;
"prepared" is a grading worker, which computes them (checks.prepare) while the batch is being
set up, before its first submission: what each submission of a batch then costs.
Run: .venv/bin/python benchmarks/bench_checks.py [--no-mutants]
"""

from __future__ import annotations

import inspect
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the mutation tool lives with the tests

from autograder.checks import CellTests, clear_caches, hidden_suite, prepare
from autograder.manifest import load_manifest, machine_assignments
from reference_impl import handlers
from reference_impl.states import CLOSE_STATES
from tests.mutation import mutants


def learner_copy() -> dict:
    """A learner who wrote exactly the reference: recompiled, so integrity sees their own code."""
    ns: dict = {}
    source = inspect.getsource(handlers).replace("from .", "from reference_impl.")
    exec(compile(source, "<notebook>", "exec"), ns)
    return {s.value.lower(): ns[s.value.lower()] for s in CLOSE_STATES}  # the opening states stay the reference's


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def visible_cells(learner: dict, assignment: str) -> None:
    """Every visible part of a notebook's test cells, as the learner presses them."""
    tests = CellTests(assignment)
    for cell in load_manifest(assignment).cells:
        tests.check(learner, cell.grade_id)


def main() -> None:
    learner = learner_copy()
    quiet = open(os.devnull, "w")  # noqa: SIM115 - the visible cells print their ✓ lines
    for assignment in machine_assignments():
        clear_caches()
        saved, sys.stdout = sys.stdout, quiet
        try:
            cells = len(load_manifest(assignment).cells)
            wall, cpu = timed(lambda a=assignment: visible_cells(learner, a))
            warm_wall, warm_cpu = timed(lambda a=assignment: visible_cells(learner, a))
        finally:
            sys.stdout = saved
        print(
            f"visible checks {assignment:<22} {cells:>2} cells: {cpu / cells:.3f} s CPU per cell cold, "
            f"{warm_cpu / cells:.3f} s warm  (target ≤ 0.2 s)"
        )
    for assignment in machine_assignments():
        clear_caches()  # a fresh grading process computes the reference runs and fixtures it needs
        n = 0

        def run(a=assignment):
            nonlocal n
            n = hidden_suite(learner, a).total

        _, cold = timed(run)
        clear_caches()
        _, ahead = timed(lambda a=assignment: prepare(a))
        _, prepared = timed(run)
        print(f"hidden tests {assignment:<22} {n:>5} cases: {prepared:.3f} s CPU prepared (target ≤ 0.5 s), "
              f"{cold:.3f} s cold; preparing once per worker {ahead:.3f} s")  # fmt: skip
    wall, cpu = timed(lambda: hidden_suite(learner))
    print(f"hidden tests of the whole course: {wall:.3f} s wall")
    if "--no-mutants" not in sys.argv:
        processes = min(2, os.cpu_count() or 1)
        start = time.perf_counter()
        outcomes = mutants.run_all(processes=processes)
        elapsed = time.perf_counter() - start
        killed = sum(o.killed for o in outcomes)
        print(
            f"mutation run: {len(outcomes)} mutants, {killed} killed, "
            f"{sum(not o.killed for o in outcomes)} alive ({len(mutants.EQUIVALENT)} listed equivalent), "
            f"{elapsed:.1f} s on {processes} processes"
        )


if __name__ == "__main__":
    main()
