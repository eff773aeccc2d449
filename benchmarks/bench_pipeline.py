"""Autograde time per submission, serial (1 worker) vs parallel (2 workers), N copies of `correct`.

Run: .venv/bin/python benchmarks/bench_pipeline.py [N]   (default N=6). Prints seconds and the ratio,
measured side by side in one run on the fixture course.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.pipeline import Course, autograde, collect, generate  # noqa: E402
from tests.pipeline.make_corpus import ASSIGNMENT  # noqa: E402


def run(n: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "course"
        shutil.copytree(REPO / "tests/pipeline/fixtures", root)
        shutil.copy(REPO / "course/nbgrader_config.py", root)
        course = Course.at(root)
        generate(course, ASSIGNMENT)
        inbox = Path(tmp) / "inbox"
        for i in range(n):
            shutil.copytree(REPO / "tests/pipeline/submissions/correct", inbox / f"student{i:02d}")
        collect(course, inbox, ASSIGNMENT)
        start = time.perf_counter()
        outcomes = autograde(course, ASSIGNMENT, workers=workers, progress=lambda _line: None)
        seconds = time.perf_counter() - start
        assert all(o.score == o.max_score for o in outcomes), outcomes
        again = time.perf_counter()
        autograde(course, ASSIGNMENT, workers=workers, progress=lambda _line: None)
        print(f"  workers={workers}: {seconds:6.1f} s for {n} submissions, {seconds / n:5.2f} s each; "
              f"resumed (all skipped) in {time.perf_counter() - again:.2f} s")
        return seconds


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    serial, parallel = run(n, 1), run(n, 2)
    print(f"parallel speed-up with 2 workers: {serial / parallel:.2f}x")


if __name__ == "__main__":
    main()
