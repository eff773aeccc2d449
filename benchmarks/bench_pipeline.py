"""Autograde time per notebook: stock serial `nbgrader autograde` beside `tcpclose grade autograde`.

The same class of notebook 01 submissions (half solved, half blank), graded side by side in one
run: stock nbgrader (its kernel runs the learner's cells and the tests together, serially, with
the full package) and the trusted pipeline with 1 and 2 workers (cells in a sandbox per
submission, points computed outside it). Prints seconds per notebook, the ratio, and whether the
scores agree. Run: .venv/bin/python benchmarks/bench_pipeline.py [N]   (default N=6)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.pipeline import Course, autograde, collect, generate  # noqa: E402
from autograder.pipeline.autograde import load_state  # noqa: E402
from tests.pipeline.conftest import real_course, solution  # noqa: E402
from tests.pipeline.make_corpus import CASES, COURSE_ASSIGNMENT, build  # noqa: E402

A = COURSE_ASSIGNMENT


def make_class(tmp: Path, n: int) -> Course:
    course = Course.at(real_course(tmp))
    release = nbformat.read(generate(course, A) / f"{A}.ipynb", as_version=4)
    inbox = tmp / "inbox"
    for i in range(n):
        case = CASES["correct" if i % 2 == 0 else "blank"]
        (inbox / f"s{i:02d}-{case.name}" / A).mkdir(parents=True)
        nbformat.write(build(case, release, solution(), course.root), inbox / f"s{i:02d}-{case.name}" / A / f"{A}.ipynb")
    collect(course, inbox, A)
    return course


def stock(course: Course) -> tuple[float, dict[str, float]]:
    """nbgrader's own `autograde`, serial, as an instructor without this package's pipeline runs it."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", A, "--force"], cwd=course.root, check=False,
                   capture_output=True)  # fmt: skip
    seconds = time.perf_counter() - start
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.coursedir().course_id) as gb:
        scores = {s.student.id: round(s.score, 2) for s in gb.find_assignment(A).submissions}
    return seconds, scores


def ours(course: Course, workers: int) -> tuple[float, dict[str, float], dict[str, list[float]]]:
    start = time.perf_counter()
    outcomes = autograde(course, A, workers=workers, force=True, progress=lambda _line: None)
    seconds = time.perf_counter() - start
    per = {"correct": [], "blank": [], "cpu": []}
    for o in outcomes:
        record = load_state(course, A, o.student)
        per[o.student.split("-", 1)[1]].append(record["seconds"])
        if o.student.endswith("correct"):
            per["cpu"].append(record["trusted_cpu"])
    return seconds, {o.student: round(o.score, 2) for o in outcomes}, per


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    with tempfile.TemporaryDirectory() as tmp:
        course = make_class(Path(tmp) / "a", n)
        stock_s, stock_scores = stock(course)
        print(f"stock nbgrader autograde (serial): {stock_s:6.1f} s for {n} notebooks, {stock_s / n:5.2f} s each")
        for workers in (1, 2):
            twin = Path(tmp) / f"w{workers}"
            shutil.copytree(course.root, twin / "course")
            s, scores, per = ours(Course.at(twin / "course"), workers)
            each = {k: sum(v) / len(v) for k, v in per.items() if v}
            print(f"tcpclose grade autograde --workers {workers}: {s:6.1f} s, {s / n:5.2f} s per notebook "
                  f"(a worker's time per notebook: solved {each.get('correct', 0):.2f} s, "
                  f"blank {each.get('blank', 0):.2f} s; the grader's own CPU per solved notebook "
                  f"{each.get('cpu', 0):.2f} s); {stock_s / s:.2f}x stock; "
                  f"scores {'agree' if scores == stock_scores else f'differ: {scores} vs stock {stock_scores}'}")


if __name__ == "__main__":
    main()
