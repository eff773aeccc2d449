"""Two nbgrader-style steps the pipeline adds: `DetectTampering` and `RedactFeedback`.

nbgrader quietly repairs a submission whose test cells were edited (it restores the source and
the points from the gradebook) and leaves a deleted test cell ungraded. That hides cheating from
the instructor, so `DetectTampering` runs *before* OverwriteCells and records every graded or
locked cell that was deleted, edited, or had its nbgrader metadata changed, compared with the
release version the learner received. The pipeline then scores those cells zero with a note.

nbgrader's feedback shows test cells as autograde ran them: hidden tests restored, tracebacks in
full. `RedactFeedback` removes hidden-test regions, reduces every error to one line (the
AssertionError's message, written for learners), drops all other output of hidden-test cells,
and scrubs any line of hidden-test source a submission managed to print.
"""

from __future__ import annotations

import json
import os

import nbformat
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets import Dict, List, Unicode

GRADED_KEYS = ("grade", "solution", "locked", "points", "grade_id", "task")


def _key_metadata(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return {k: meta.get(k) for k in GRADED_KEYS if k in meta}


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


class DetectTampering(NbGraderPreprocessor):
    """Compare graded/locked cells with the release notebook; write findings as JSON lines."""

    release_directory = Unicode("release", help="Release directory, relative to the course root").tag(config=True)
    record_to = Unicode("", help="File to append findings to (JSON lines)").tag(config=True)

    def preprocess(self, nb, resources):
        gd = resources["nbgrader"]
        path = os.path.join(self.release_directory, gd["assignment"], gd["notebook"] + ".ipynb")
        release = nbformat.read(path, as_version=4)
        protected = {
            c.metadata.nbgrader["grade_id"]: c
            for c in release.cells
            if "nbgrader" in c.metadata and (utils.is_grade(c) or utils.is_locked(c)) and not utils.is_solution(c)
        }
        seen = {}
        for cell in nb.cells:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid in protected:
                seen.setdefault(gid, cell)
        findings = []
        for gid, ref in protected.items():
            cell = seen.get(gid)
            if cell is None:
                findings.append((gid, "deleted", "this test cell was deleted from the submission"))
            elif _key_metadata(cell) != _key_metadata(ref):
                findings.append((gid, "metadata", "the cell's grading metadata (points, flags) was changed"))
            elif _norm(cell.source) != _norm(ref.source) or cell.cell_type != ref.cell_type:
                findings.append((gid, "edited", "the source of this test cell was edited"))
        if self.record_to:
            with open(self.record_to, "a", encoding="utf-8") as f:
                for gid, kind, note in findings:
                    f.write(json.dumps({"notebook": gd["notebook"], "cell": gid, "kind": kind, "note": note}) + "\n")
        return nb, resources


class RedactFeedback(NbGraderPreprocessor):
    """Strip hidden tests and tracebacks from feedback; add the pipeline's notes to cells."""

    notes = Dict({}, help="grade_id -> note shown under that cell (tampering, timeouts)").tag(config=True)
    hidden_lines = List([], help="Hidden-test source lines that must never appear in feedback").tag(config=True)

    def preprocess(self, nb, resources):
        clear = ClearHiddenTests(enforce_metadata=False)
        lines = {line.strip() for line in self.hidden_lines if len(line.strip()) >= 8}
        for cell in nb.cells:
            had_hidden = cell.cell_type == "code" and clear._remove_hidden_test_region(cell)
            if had_hidden:
                cell.source = cell.source.rstrip() + "\n# (hidden tests run here when grading)"
            if cell.cell_type != "code":
                continue
            outputs = []
            for out in cell.outputs:
                if out.output_type == "error":
                    message = _scrub(f"{out.ename}: {out.evalue}".strip(": "), lines)
                    outputs.append(nbformat.v4.new_output("error", ename=out.ename, evalue=message, traceback=[message]))
                elif not had_hidden:
                    outputs.append(_scrub_output(out, lines))
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in self.notes:
                outputs.append(nbformat.v4.new_output("stream", name="stdout", text=f"Grader's note: {self.notes[gid]}\n"))
            cell.outputs = outputs
        return nb, resources


def _scrub(text: str, lines: set[str]) -> str:
    for line in lines:
        if line in text:
            text = text.replace(line, "[hidden test]")
    return text


def _scrub_output(out, lines: set[str]):
    if out.output_type == "stream":
        out.text = _scrub(out.text, lines)
    for mime, value in out.get("data", {}).items():
        if isinstance(value, str):
            out.data[mime] = _scrub(value, lines)
    return out
