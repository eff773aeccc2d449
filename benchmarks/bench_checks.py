"""How long the checks take: a visible check cell, a notebook's hidden tests, the mutation run.

Targets: a visible check ≤ 0.2 s (a learner presses it often), one notebook's hidden tests
≤ 0.5 s of CPU (an instructor grades hundreds), the mutation run a few minutes (CI).
Run: .venv/bin/python benchmarks/bench_checks.py [--no-mutants]
"""

from __future__ import annotations

import inspect
import os
import sys
import time

from autograder import mutants
from autograder.checks import SUITES, check_scenario, check_transition, hidden_suite
from autograder.learner import ACK, Arrival, Segment, State
from reference_impl import handlers


def learner_copy() -> dict:
    """A learner who wrote exactly the reference: recompiled, so integrity sees their own code."""
    ns: dict = {}
    source = inspect.getsource(handlers).replace("from .", "from reference_impl.")
    exec(compile(source, "<notebook>", "exec"), ns)
    return {s.value.lower(): ns[s.value.lower()] for s in State}


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    learner = learner_copy()
    visible = lambda: (  # noqa: E731 - what a notebook's visible test cell runs
        check_transition(learner, State.FIN_WAIT_1, Arrival(Segment(seq=300, ack=101, flags=ACK))),
        check_scenario(learner, "active-close"),
        check_scenario(learner, "lost-final-ack"),
    )
    wall, cpu = timed(visible)
    print(f"visible check cell (cold, first in the kernel): {wall:.3f} s wall, {cpu:.3f} s CPU  (target ≤ 0.2 s)")
    wall, cpu = timed(visible)
    print(f"visible check cell (warm):                      {wall:.3f} s wall, {cpu:.3f} s CPU  (target ≤ 0.2 s)")
    for notebook in SUITES:
        # Cold: a fresh autograde kernel computes the reference runs and fixtures it needs.
        from autograder import checks

        checks._REFERENCE_RUNS.clear()
        for cached in (checks.fixtures, checks._patterns, checks._family, checks._battery):
            cached.cache_clear()
        n = 0

        def run(notebook=notebook):
            nonlocal n
            n = hidden_suite(learner, notebook).total

        wall, cpu = timed(run)
        print(f"hidden tests {notebook:<22} {n:>5} cases: {cpu:.3f} s CPU cold  (target ≤ 0.5 s)")
    wall, cpu = timed(lambda: hidden_suite(learner))
    print(f"hidden tests of the whole course: {wall:.3f} s wall")
    if "--no-mutants" not in sys.argv:
        processes = min(2, os.cpu_count() or 1)
        start = time.perf_counter()
        outcomes = mutants.run_all(processes=processes)
        elapsed = time.perf_counter() - start
        killed = sum(o.killed for o in outcomes)
        print(f"mutation run: {len(outcomes)} mutants, {killed} killed, "
              f"{sum(not o.killed for o in outcomes)} alive ({len(mutants.EQUIVALENT)} listed equivalent), "
              f"{elapsed:.1f} s on {processes} processes")


if __name__ == "__main__":
    main()
