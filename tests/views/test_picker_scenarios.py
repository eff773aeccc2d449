"""A notebook's scenario picker offers what the course has shown so far, never a later notebook's run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder.course_map import FIRST_SHOWN, picker_scenarios, scenarios_named
from autograder.views import notebook_timeline
from reference_impl.scenarios import CATALOGUE

LEARNER_DIR = Path(__file__).resolve().parents[2] / "notebooks"


def first_shown_in_the_notebooks() -> dict[str, str]:
    """Each catalogue scenario's first notebook: run in a code cell (a string) or named in the text (`name`)."""
    first: dict[str, str] = {}
    for path in sorted(LEARNER_DIR.glob("0[1-6]_*.ipynb")):
        for name in scenarios_named(("".join(c["source"]) for c in json.loads(path.read_text())["cells"]), CATALOGUE):
            first.setdefault(name, path.name[:2])
    return first


def test_the_table_says_where_the_notebooks_first_show_each_scenario():
    assert FIRST_SHOWN == first_shown_in_the_notebooks()


def test_notebook_01s_picker_offers_01s_scenarios_and_the_last_notebook_the_whole_catalogue():
    assert set(picker_scenarios("01", list(CATALOGUE))) == {s for s, n in FIRST_SHOWN.items() if n == "01"}
    assert "simultaneous-close" not in picker_scenarios("02", list(CATALOGUE))
    # 06 offers what 01-06 showed: a reader's show_mine there named shutdown-rdwr-with-unsent-data, which
    # no notebook teaches; the whole catalogue is 07's (and a learner's own notebook's).
    assert set(picker_scenarios("06", list(CATALOGUE))) == set(FIRST_SHOWN) != set(CATALOGUE)
    assert picker_scenarios(None, list(CATALOGUE)) == list(CATALOGUE)
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


class _Kernel:
    def __init__(self, cell_id: str) -> None:
        self.cell_id = cell_id

    def get_parent(self) -> dict:
        return {"metadata": {"cellId": self.cell_id}}


def _in_a_kernel(monkeypatch, notebook: Path, cell_id: str) -> None:
    """What JupyterLab's kernel knows while it runs a cell: the notebook's path and the cell's id."""
    import IPython

    shell = type("Shell", (), {"user_ns": {"__session__": str(notebook)}, "kernel": _Kernel(cell_id)})()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)


def test_a_picker_offers_its_own_notebooks_scenarios_only_from_where_the_notebook_names_them(monkeypatch):
    """A reader picked lost-final-ack in notebook 01's first show_mine: its caption, "A re-ACKs it
    from TIME_WAIT", answered a prediction further down. The cell's place in the notebook decides."""
    from autograder.checks import CellTests
    from autograder.notebook_helpers import show_mine
    from reference_impl.handlers import HANDLERS

    path = LEARNER_DIR / "01_active_close.ipynb"
    cells = json.loads(path.read_text())["cells"]
    at = next(i for i, c in enumerate(cells) if "show_mine(globals()" in "".join(c["source"]))
    later = scenarios_named(("".join(c["source"]) for c in cells[at + 1 :]), CATALOGUE)
    assert "lost-final-ack" in later  # the case the reader met
    _in_a_kernel(monkeypatch, path, cells[at]["id"])
    namespace = {"tests": CellTests("01_active_close"), **{s.value.lower(): h for s, h in HANDLERS.items()}}
    offered = set(show_mine(namespace, "active-close").children[1].scenario.options)
    assert offered == set(scenarios_named(("".join(c["source"]) for c in cells[: at + 1]), CATALOGUE))
    assert "lost-final-ack" not in offered
    # At the notebook's last cell, everything it shows; a cell the saved file does not hold: the same.
    _in_a_kernel(monkeypatch, path, cells[-1]["id"])
    assert set(notebook_timeline("01_active_close")("active-close").scenario.options) == {
        s for s, n in FIRST_SHOWN.items() if n == "01"}  # fmt: skip
    _in_a_kernel(monkeypatch, path, "a-cell-not-saved-yet")
    assert set(notebook_timeline("01_active_close")("active-close").scenario.options) == {
        s for s, n in FIRST_SHOWN.items() if n == "01"}  # fmt: skip
