"""The course notebooks, graded once through the real pipeline and shared by every course test.

Every notebook in course/source takes part (a notebook added there is tested without touching
this file): its release version is generated once, and four kinds of submission are built from
it — the solution (the source's answer cells), the blank release, one per bug in
tests/course/bugs/<assignment>.py and one per answer the standards allow (ALLOWED there) — then
all of them are autograded by nbgrader in one batch:
each assignment in its own scratch course (its own gradebook, so no two writers share SQLite),
the assignments spread over two threads, each running the pipeline's sandboxed workers
(two kernels at a time in all, one per core).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from tests.course.bugs import Allowed, Bug, load, load_allowed

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "course" / "source"
NOTEBOOKS = sorted(p.name for p in SOURCE.iterdir() if (p / f"{p.name}.ipynb").is_file()) if SOURCE.is_dir() else []
# Tests that compare a notebook with the ones before it read them all, narrowed or not.
ALL_NOTEBOOKS = list(NOTEBOOKS)
# An author working on one notebook may narrow the run: TCPCLOSE_NOTEBOOKS=01_active_close,02_passive_close
if os.environ.get("TCPCLOSE_NOTEBOOKS"):
    NOTEBOOKS = [n for n in NOTEBOOKS if n in os.environ["TCPCLOSE_NOTEBOOKS"].split(",")]
PARALLEL = 2  # the CI machine has two cores


def grade_cells(nb) -> dict[str, dict]:
    """grade_id -> nbgrader metadata of every graded cell."""
    return {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


def is_test(meta: dict) -> bool:
    return meta.get("grade") and not meta.get("solution")


def source_notebook(assignment: str):
    return nbformat.read(SOURCE / assignment / f"{assignment}.ipynb", as_version=4)


def submission(release, replace: dict[str, str]):
    """The release notebook with answer cells rewritten, as a learner would save it."""
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in replace:
            cell.source = replace[gid]
    return nb


def solution_answers(source) -> dict[str, str]:
    """Every answer cell (code and written) as the source holds it, solution markers included."""
    return {c.metadata.nbgrader["grade_id"]: c.source for c in source.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


@dataclass
class Graded:
    """One assignment after the batch: the release notebook and each submission's cell results."""

    assignment: str
    release: nbformat.NotebookNode
    bugs: dict[str, Bug]
    allowed: dict[str, Allowed] = field(default_factory=dict)
    results: dict[str, dict[str, dict]] = field(default_factory=dict)  # student -> grade_id -> cell result
    flags: dict[str, list[dict]] = field(default_factory=dict)  # student -> what grading flagged for a look
    outcomes: dict = field(default_factory=dict)  # student -> pipeline Outcome
    autograded: dict[str, Path] = field(default_factory=dict)  # student -> autograded notebook
    course: Path | None = None  # the scratch course root it was graded in

    def scores(self, student: str) -> dict[str, float | None]:
        return {gid: r["score"] for gid, r in self.results[student].items()}


def bug_student(name: str) -> str:
    return f"bug-{name}"


def allowed_student(name: str) -> str:
    return f"allowed-{name}"


def _grade_one(tmp: Path, assignment: str, log: list[str], workers: int) -> Graded:
    from autograder.pipeline.autograde import autograde
    from autograder.pipeline.course import Course
    from autograder.pipeline.steps import collect, generate

    root = tmp / assignment / "course"
    (root / "source").mkdir(parents=True)
    shutil.copytree(SOURCE / assignment, root / "source" / assignment)
    shutil.copy(REPO / "course" / "nbgrader_config.py", root)
    course = Course.at(root)
    release_dir = generate(course, assignment)
    release = nbformat.read(release_dir / f"{assignment}.ipynb", as_version=4)
    graded = Graded(assignment, release, load(assignment), load_allowed(assignment), course=root)
    inbox = tmp / assignment / "inbox"
    solution = solution_answers(source_notebook(assignment))
    variants = {"solution": solution, "blank": {}}
    variants |= {bug_student(name): solution | bug.replace for name, bug in graded.bugs.items()}
    variants |= {allowed_student(name): solution | alt.replace for name, alt in graded.allowed.items()}
    for student, replace in variants.items():
        (inbox / student / assignment).mkdir(parents=True)
        nbformat.write(submission(release, replace), inbox / student / assignment / f"{assignment}.ipynb")
    collect(course, inbox, assignment)
    outcomes = autograde(course, assignment, workers=workers, notebook_timeout=300, progress=log.append)
    for o in outcomes:
        graded.outcomes[o.student] = o
        state = (course.state_dir / assignment / f"{o.student}.json").read_text()
        graded.results[o.student] = {c["cell"]: c for c in json.loads(state)["cells"]}
        graded.flags[o.student] = json.loads(state).get("flags", [])
        graded.autograded[o.student] = course.path("autograded", o.student, assignment) / f"{assignment}.ipynb"
    return graded


@pytest.fixture(scope="session")
def course_graded(tmp_path_factory) -> dict[str, Graded]:
    """assignment -> Graded, for every notebook in course/source (solution, blank, every bug)."""
    if not NOTEBOOKS:
        pytest.skip("course/source holds no notebooks yet")
    import autograder.pipeline.autograde  # noqa: F401 - imported once, before the threads

    tmp = tmp_path_factory.mktemp("course")
    log: list[str] = []
    started = time.monotonic()
    threads = min(PARALLEL, len(NOTEBOOKS))  # assignments side by side, PARALLEL kernels in all
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = {a: pool.submit(_grade_one, tmp, a, log, max(1, PARALLEL // threads)) for a in NOTEBOOKS}
        graded = {a: f.result() for a, f in futures.items()}
    n = sum(len(g.outcomes) for g in graded.values())
    print(f"\n[course] autograded {n} submissions of {len(graded)} notebooks in {time.monotonic() - started:.1f} s")
    for a, g in graded.items():
        print(f"[course] {a}: " + ", ".join(f"{s} {o.seconds:.1f} s" for s, o in sorted(g.outcomes.items())))
    return graded


@pytest.fixture(scope="session")
def solution_runs() -> dict[str, tuple[float, nbformat.NotebookNode]]:
    """Each source notebook (the solution) executed top to bottom in a fresh kernel: (seconds, notebook)."""
    out = {}
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for a, result in zip(NOTEBOOKS, pool.map(execute_solution, NOTEBOOKS), strict=True):
            out[a] = result
    return out


def execute_solution(assignment: str) -> tuple[float, nbformat.NotebookNode]:
    """The source notebook (the solution) executed top to bottom in a fresh kernel: (seconds, notebook).
    benchmarks/bench_notebooks.py times it alone."""
    from nbclient import NotebookClient

    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = source_notebook(assignment)
    started = time.perf_counter()
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(SOURCE / assignment)}}).execute()  # fmt: skip
    return time.perf_counter() - started, nb
