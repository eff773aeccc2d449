"""How much each notebook asks the learner to write: new code lines in its solution regions.

A learner's *new* lines in a notebook are the code lines inside its `### BEGIN SOLUTION` regions
that appear in no earlier notebook, neither in its given code nor in its solutions (a line the
learner already wrote, or was shown, is not new work). Lines are compared without indentation
or a trailing comment; blank lines and comment lines do not count; a line written twice in one
notebook counts twice (the learner writes it twice). The figures are printed (`pytest -s`).

The floor: a notebook asks for at least FLOOR new lines. It is asserted for the notebooks that
meet it; the ones listed in BELOW_FLOOR are known to ask for less (a strict xfail each: once one
reaches the floor, the test fails until it is taken off the list).

No notebook hands out another's exercise: a later notebook that builds on an earlier handler asks
the learner to paste their own, since code given there would be the earlier notebook's answer.
"""

from __future__ import annotations

import io
import tokenize

import nbformat
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


def given_and_regions(nb) -> tuple[list[str], list[list[str]]]:
    """The code lines a learner copy shows, and each solution region's code lines."""
    given, regions = [], []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        inside = False
        for raw in cell.source.splitlines():
            marker = raw.strip()
            if marker == BEGIN:
                inside = True
                regions.append([])
            elif marker == END:
                inside = False
            elif not marker.startswith("### "):
                line = code_line(raw)
                if line:
                    (regions[-1] if inside else given).append(line)
    return given, regions


def given_and_solutions(nb) -> tuple[list[str], list[str]]:
    given, regions = given_and_regions(nb)
    return given, [line for region in regions for line in region]


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


WHOLE = 5  # a region this long is a piece of logic of its own, not a line or two of a shared skeleton


def test_no_notebook_gives_away_another_notebooks_exercise():
    shown = {a: set(given_and_regions(source_notebook(a))[0]) for a in ALL_NOTEBOOKS}
    given_away = []
    for assignment in ALL_NOTEBOOKS:
        for region in given_and_regions(source_notebook(assignment))[1]:
            if len(region) < WHOLE:
                continue
            for other, lines in shown.items():
                found = sum(line in lines for line in region)
                if other != assignment and found >= 0.8 * len(region):
                    given_away.append(f"{other} shows {found} of the {len(region)} lines of an answer of "
                                      f"{assignment}, starting {region[0]!r}")
    assert not given_away, "\n".join(given_away)


def test_a_region_given_in_another_notebook_is_found():
    region = ["if s.tcb.fin_acked:", "return Step(State.CLOSED, [], s.tcb)"]
    cell = "def last_ack(tcb, ev, profile):\n    ### BEGIN SOLUTION\n" + "\n".join(region) + "\n    ### END SOLUTION"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    given, regions = given_and_regions(nb)
    assert given == ["def last_ack(tcb, ev, profile):"] and regions == [region]
