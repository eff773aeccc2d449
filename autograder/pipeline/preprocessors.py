"""The nbgrader-style step the pipeline adds to feedback: `RedactFeedback`.

An autograded notebook's test cells show the trusted grader's verdict (its checks' lines, the
first failure, the points, the divergence drawn), written for learners; nbgrader restored their
hidden-test source. `RedactFeedback` removes that hidden source (from test cells only, and never
stopping: a learner's comment holding the markers is the learner's text), reduces every error in
a learner's own cell to one line, scrubs any line of hidden-test source from learner outputs,
and adds the grader's notes (tampering, time limits, what was flagged) under the cells they are
about and at the top of the page.
"""

from __future__ import annotations

import html
import re

import nbformat
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict, List

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def remove_hidden(source: str) -> tuple[str, bool]:
    """Drop every hidden-test region (an unclosed one runs to the end). Returns (source, removed any)."""
    kept, inside, removed = [], False, False
    for line in source.splitlines():
        if BEGIN in line:
            inside, removed = True, True
        elif END in line and inside:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept), removed


class RedactFeedback(NbGraderPreprocessor):
    """Strip hidden tests and tracebacks from feedback; add the grader's notes."""

    notes = Dict({}, help="grade_id or 'cell N' -> notes shown under that cell").tag(config=True)
    summary = List([], help="notes shown at the top of the page").tag(config=True)
    hidden_lines = List([], help="Hidden-test source lines that must never appear in feedback").tag(config=True)

    def preprocess(self, nb, resources):
        lines = {line.strip() for line in self.hidden_lines if len(line.strip()) >= 8}
        for index, cell in enumerate(nb.cells, 1):
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            is_test = utils.is_grade(cell) and not utils.is_solution(cell) and cell.cell_type == "code"
            if is_test:
                source, removed = remove_hidden(cell.source)
                cell.source = source.rstrip() + ("\n# (hidden tests run here when grading)" if removed else "")
            if cell.cell_type != "code":
                continue
            outputs = []
            for out in cell.outputs:
                if is_test:
                    outputs.append(out)  # the grader's own verdict
                elif out.output_type == "error":
                    message = _scrub(f"{out.ename}: {out.evalue}".strip(": ").splitlines()[0][:500], lines)
                    outputs.append(
                        nbformat.v4.new_output("error", ename=out.ename, evalue=message, traceback=[message])
                    )
                else:
                    outputs.append(_scrub_output(out, lines))
            for key in (gid, f"cell {index}"):
                for note in self.notes.get(key, []) if key else []:
                    outputs.append(nbformat.v4.new_output("stream", name="stdout", text=f"Grader's note: {note}\n"))
            cell.outputs = outputs
        if self.summary:
            text = "**Grader's notes**\n\n" + "\n".join(f"- {_literal(n)}" for n in self.summary)
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))
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


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def _literal(text: str) -> str:
    """A note as literal text in a markdown cell: a flag quotes what the submission chose (a class's
    name, a path, a module's name), which must not become markup, a link or a script on the page."""
    return _MARKDOWN.sub(r"\\\1", html.escape(" ".join(text.split()), quote=False))
