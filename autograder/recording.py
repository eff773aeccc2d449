"""Recording the reference for a learner build: the real reference, run through a recorder.

    python -m autograder.recording COURSE OUT    (learner_build runs it in a fresh process)

Writes OUT/_recorded/reference.json.gz (autograder.recorded). The recorder stands behind `autograder.reference_source` and keeps every
handler call the reference answers while this module makes the course's notebooks ask for
everything they can show:

- every catalogue scenario under each of the course's profiles (COURSE_PROFILES), with every
  pattern of extra lost segments the timeline's network picker offers (PICKER_LOSSES): the
  timelines, predictions, show_mine's peer and the visible scenario checks;
- every visible check of every notebook, run on the notebook's own solution (the test cells'
  code before `### BEGIN HIDDEN TESTS`, which calls the manifest's visible checks): the
  transition checks' answers on their own TCBs and stimuli.

Hidden checks are never run here, so none of their answers is recorded.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Mapping
from pathlib import Path

import nbformat

from reference_impl.profiles import LINUX, RFC9293, Profile
from reference_impl.scenarios import CATALOGUE
from reference_impl.states import State, Step

from . import reference_source
from .recorded import Key, dump
from .views.losses import PICKER_LOSSES, picker_patterns

RECORDED_NAME = "_recorded/reference.json.gz"
VISIBLE_DIR = "_visible"
HIDDEN_MARK = "### BEGIN HIDDEN TESTS"

# The profiles the notebooks run: the two named ones, and the variants notebooks 5 and 6 build.
COURSE_PROFILES: tuple[Profile, ...] = (RFC9293, LINUX, RFC9293.replace(time_wait=0), RFC9293.replace(rfc1337=True))


def course_root() -> Path:
    """The course the full package carries (its source notebooks and manifests)."""
    from .manifest import COURSE

    return COURSE


class Recorder:
    """Stands behind reference_source as the live reference, keeping each call's input and answer."""

    kind = "live"

    def __init__(self, handlers: Mapping[State, object]) -> None:
        self.answers: dict[Key, Step] = {}
        self._machine = {state: self._wrap(state, fn) for state, fn in handlers.items()}

    def machine(self) -> Mapping[State, object]:
        return self._machine

    def _wrap(self, state: State, fn):
        answers = self.answers

        def recording(tcb, ev, profile):
            step = fn(tcb, ev, profile)
            answers[(state, tcb, ev, profile)] = step
            return step

        return recording


def sweep_catalogue(profiles: tuple[Profile, ...] = COURSE_PROFILES, k: int = PICKER_LOSSES) -> int:
    """Run every catalogue scenario, with every picker loss pattern, under each profile; the runs made."""
    runs = 0
    for profile in profiles:
        for name in CATALOGUE:
            for lose in picker_patterns(name, profile, k):
                reference_source.reference_trace(name, profile, lose)
                runs += 1
    return runs


def notebooks(course: Path) -> list[Path]:
    return sorted((course / "source").glob("*/*.ipynb"))


def run_visible_checks(notebook: Path) -> int:
    """Run the notebook's solution through its setup, answer cells and the visible part of each
    test cell, as a learner's kernel would; the test cells run. A failing visible check stops the
    build: the solution must pass what a learner is shown."""
    from .checks import CheckFailed

    nb = nbformat.read(notebook, as_version=4)
    ns: dict = {"__name__": "__main__"}
    ran = 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta:
            continue
        if meta.get("grade") and not meta.get("solution"):
            source, ran = cell.source.split(HIDDEN_MARK)[0], ran + 1
        elif meta.get("solution") or str(meta.get("grade_id", "")).startswith("setup"):
            source = cell.source
        else:
            continue  # e.g. the "before you submit" cell: it runs hidden checks
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(source, f"{notebook.name}:{meta.get('grade_id')}", "exec"), ns)
        except CheckFailed as e:
            raise SystemExit(f"{notebook.name}: the solution fails the visible check of {meta.get('grade_id')}: "
                             f"{str(e).splitlines()[0]}") from None  # fmt: skip
    return ran


def record(course: Path, out: Path) -> dict[str, int]:
    """Record the reference for `course` into `out`; some figures about what was recorded."""
    from reference_impl.handlers import HANDLERS

    recorder = Recorder(HANDLERS)
    with reference_source.using(recorder):
        runs = sweep_catalogue()
        cells = sum(run_visible_checks(nb) for nb in notebooks(course))
    data = dump(recorder.answers, COURSE_PROFILES, PICKER_LOSSES)
    (out / RECORDED_NAME).parent.mkdir(parents=True, exist_ok=True)
    (out / RECORDED_NAME).write_bytes(data)
    return {"runs": runs, "test cells": cells, "calls": len(recorder.answers), "bytes": len(data)}


def write_visible_manifests(course: Path, dest: Path) -> list[str]:
    """dest/<assignment>.json: the visible checks of each manifest of `course` (autograder.visible)."""
    from . import visible
    from .manifest import course_assignments, load_manifest

    dest.mkdir(parents=True, exist_ok=True)
    assignments = course_assignments(course)
    for assignment in assignments:
        (dest / f"{assignment}.json").write_bytes(visible.dump(load_manifest(assignment, course)))
    return assignments


if __name__ == "__main__":
    figures = record(Path(sys.argv[1]), Path(sys.argv[2]))
    print(", ".join(f"{v} {k}" for k, v in figures.items()))
