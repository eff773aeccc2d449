"""How much each notebook asks the learner to write: new code lines in its solution regions.

A learner's *new* lines in a notebook are the code lines inside its `### BEGIN SOLUTION` regions
that appear in no earlier notebook, neither in its given code nor in its solutions (a line the
learner already wrote, or was shown, is not new work). Lines are compared without indentation
or a trailing comment; blank lines and comment lines do not count; a line written twice in one
notebook counts twice (the learner writes it twice). The figures are printed (`pytest -s`).

The floor: a notebook asks for at least FLOOR new lines. It is asserted for the notebooks that
meet it; the ones listed in BELOW_FLOOR are known to ask for less (a strict xfail each: once one
reaches the floor, the test fails until it is taken off the list).
"""

from __future__ import annotations

import io
import tokenize

import pytest

from tests.course.conftest import ALL_NOTEBOOKS, NOTEBOOKS, source_notebook

FLOOR = 10
BELOW_FLOOR: dict[str, str] = {}  # notebook -> why it asks for fewer lines (none does now)
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def code_line(line: str) -> str:
    """The line as compared: no indentation, no trailing comment; "" for a blank or comment line."""
    text = line.strip()
    if not text or text.startswith("#"):
        return ""
    return " ".join(_without_comment(text).split())


def _without_comment(text: str) -> str:
    """The line without its trailing comment, as Python's tokenizer finds it (a '#' inside a string
    is not one); a line the tokenizer cannot read alone (part of a bracket) is searched from the right."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                return text[: tok.start[1]].rstrip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        head, sep, tail = text.rpartition("  #")
        return head if sep and tail.count('"') % 2 == 0 and tail.count("'") % 2 == 0 else text
    return text


def given_and_solutions(nb) -> tuple[list[str], list[str]]:
    given, solution = [], []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        inside = False
        for raw in cell.source.splitlines():
            marker = raw.strip()
            if marker == BEGIN:
                inside = True
            elif marker == END:
                inside = False
            elif not marker.startswith("### "):
                line = code_line(raw)
                if line:
                    (solution if inside else given).append(line)
    return given, solution


def new_lines() -> dict[str, list[str]]:
    """Notebook -> the new lines its learner writes, in course order."""
    seen: set[str] = set()
    out = {}
    for assignment in ALL_NOTEBOOKS:  # a line is new only against every notebook before it
        given, solution = given_and_solutions(source_notebook(assignment))
        out[assignment] = [line for line in solution if line not in seen]
        seen |= set(given) | set(solution)
    return out


FIGURES = new_lines()


def test_print_the_figures():
    width = max(map(len, FIGURES), default=0)
    print("\nnew lines a learner writes, per notebook:")
    for assignment, lines in FIGURES.items():
        print(f"  {assignment:<{width}}  {len(lines):3d}")
    assert FIGURES and all(isinstance(v, list) for v in FIGURES.values())


@pytest.mark.parametrize("assignment", [
    pytest.param(a, marks=pytest.mark.xfail(strict=True, reason=BELOW_FLOOR[a])) if a in BELOW_FLOOR else a
    for a in NOTEBOOKS])  # fmt: skip
def test_no_notebook_asks_for_fewer_than_the_floor(assignment):
    lines = FIGURES[assignment]
    assert len(lines) >= FLOOR, f"{assignment} asks for {len(lines)} new lines (floor {FLOOR}): {lines}"


def test_the_count_sees_through_indentation_comments_and_earlier_notebooks():
    assert code_line("        return Step(State.CLOSING, outputs, tcb)  # notebook 3") == \
        "return Step(State.CLOSING, outputs, tcb)"
    assert code_line("    # a comment") == "" and code_line("   ") == ""
    assert code_line('x = "a # not a comment"') == 'x = "a # not a comment"'
    first = next(iter(FIGURES))
    _, solution = given_and_solutions(source_notebook(first))
    assert FIGURES[first] == solution  # nothing comes before the first notebook
