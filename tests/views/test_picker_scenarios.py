"""A notebook's scenario picker offers what the course has shown so far, never a later notebook's run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from autograder.course_map import FIRST_SHOWN, picker_scenarios
from autograder.views import notebook_timeline
from reference_impl.scenarios import CATALOGUE

LEARNER_DIR = Path(__file__).resolve().parents[2] / "notebooks"


def first_shown_in_the_notebooks() -> dict[str, str]:
    """Each catalogue scenario's first notebook: run in a code cell (a string) or named in the text (`name`)."""
    first: dict[str, str] = {}
    for path in sorted(LEARNER_DIR.glob("0[1-6]_*.ipynb")):
        text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        for name in re.findall(r"[\"'`]([a-z0-9-]+)[\"'`]", text):
            if name in CATALOGUE:
                first.setdefault(name, path.name[:2])
    return first


def test_the_table_says_where_the_notebooks_first_show_each_scenario():
    assert FIRST_SHOWN == first_shown_in_the_notebooks()


def test_notebook_01s_picker_offers_01s_scenarios_and_the_last_notebook_the_whole_catalogue():
    assert set(picker_scenarios("01", list(CATALOGUE))) == {s for s, n in FIRST_SHOWN.items() if n == "01"}
    assert "simultaneous-close" not in picker_scenarios("02", list(CATALOGUE))
    assert picker_scenarios("06", list(CATALOGUE)) == list(CATALOGUE) == picker_scenarios(None, list(CATALOGUE))
    with pytest.raises(ValueError, match="no notebook '09'"):
        picker_scenarios("09", list(CATALOGUE))


def test_a_notebooks_timeline_widget_offers_its_scenarios():
    widget = notebook_timeline("03_simultaneous_close")("simultaneous-close")
    assert "simultaneous-close" in widget.scenario.options and "lost-first-fin" not in widget.scenario.options


def test_show_mine_offers_its_notebooks_scenarios_too():
    """A reader found show_mine's picker in notebook 01 listing the whole catalogue (syn-in-time-wait,
    paws-rejects-old-duplicate) where the notebook's own timeline listed what was shown so far."""
    from autograder.checks import CellTests
    from autograder.notebook_helpers import show_mine
    from reference_impl.handlers import HANDLERS

    namespace = {"tests": CellTests("01_active_close"), **{s.value.lower(): h for s, h in HANDLERS.items()}}
    view = show_mine(namespace, "active-close").children[1]
    assert set(view.scenario.options) == {s for s, n in FIRST_SHOWN.items() if n == "01"}


def test_a_scenario_asked_for_by_name_is_in_the_picker_even_before_its_notebook():
    """A curious learner in notebook 01 who types timeline("rst-in-time-wait") gets that run, not a
    widget error; the picker still offers nothing else from later notebooks."""
    widget = notebook_timeline("01_active_close")("rst-in-time-wait")
    assert widget.scenario.value == "rst-in-time-wait" and "simultaneous-close" not in widget.scenario.options
    with pytest.raises(ValueError, match="no notebook '09_extra' in the course"):
        notebook_timeline("09_extra")
