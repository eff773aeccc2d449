"""How long each notebook's solution takes, run top to bottom in a fresh kernel, one at a time.

Target (2 cores): each notebook under 30 s, so that a learner's Run All, and the course's own
test that every solution runs without an error, stay short.
Run: .venv/bin/python benchmarks/bench_notebooks.py [NOTEBOOK ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the course's runner lives with its tests

from tests.course.conftest import NOTEBOOKS, execute_solution  # noqa: E402

TARGET = 30.0


def main(chosen: list[str]) -> int:
    over = 0
    for assignment in chosen or NOTEBOOKS:
        seconds, nb = execute_solution(assignment)
        errors = sum(o.output_type == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        over += seconds >= TARGET
        print(f"{assignment:<24} {seconds:6.1f} s  {'errors: ' + str(errors) if errors else ''}"
              f"{'  over the 30 s target' if seconds >= TARGET else ''}")  # fmt: skip
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
