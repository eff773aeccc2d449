"""A class of realistic submissions of notebook 01, of any size: what the Dask tests and the benchmark grade.

Students cycle through what a cohort hands in: the solution, the blank notebook, each realistic
bug of tests/course/bugs (a learner's mistake, losing points in the cells it names) and each
cheat of the adversarial corpus (tests/pipeline/make_corpus.py: scoring what the blank scores,
flagged). The corpus's hangs and crashes are left out: they cost their time limits by design,
and tests/pipeline/test_hostile.py grades them.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from tests.course.bugs import load
from tests.course.conftest import submission
from tests.pipeline.conftest import real_course, solution
from tests.pipeline.make_corpus import CHEATS, COURSE_ASSIGNMENT, build

A = COURSE_ASSIGNMENT


def kinds() -> list[str]:
    """The cycle of kinds: solutions and bugs most often, as in a real cohort."""
    bugs = [f"bug:{name}" for name in load(A)]
    cheats = [f"cheat:{c.name}" for c in CHEATS]
    out: list[str] = []
    for i in range(max(len(bugs), len(cheats))):  # every kind within the first five
        out += ["correct", bugs[i % len(bugs)], "blank" if i % 2 == 0 else "correct", bugs[(i + 1) % len(bugs)],
                cheats[i % len(cheats)]]  # fmt: skip
    return out


def notebook(kind: str, release, answers: dict[str, str], course_root: Path):
    if kind == "correct":
        return submission(release, answers)
    if kind == "blank":
        return submission(release, {})
    if kind.startswith("bug:"):
        return submission(release, answers | load(A)[kind[4:]].replace)
    case = next(c for c in CHEATS if c.name == kind[6:])
    return build(case, release, answers, course_root)


def student(i: int, kind: str) -> str:
    return f"s{i:04d}-{kind.split(':')[-1]}"


def make_class(tmp: Path, n: int):
    """A generated, collected course with `n` submissions of notebook 01; returns its Course."""
    from autograder.pipeline import Course, collect, generate

    course = Course.at(real_course(tmp))
    release = nbformat.read(generate(course, A) / f"{A}.ipynb", as_version=4)
    answers, cycle = solution(), kinds()
    inbox = tmp / "inbox"
    for i in range(n):
        kind = cycle[i % len(cycle)]
        folder = inbox / student(i, kind) / A
        folder.mkdir(parents=True)
        nbformat.write(notebook(kind, release, answers, course.root), folder / f"{A}.ipynb")
    collect(course, inbox, A)
    return course
