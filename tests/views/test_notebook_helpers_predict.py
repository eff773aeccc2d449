"""Predictions: the explanation after the answer, no free second try with two choices, a re-run that
keeps the answer, and the first try recorded in the cell's saved output."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import predictions
from autograder.notebook_helpers import PREDICTION_MIME, first_tries, from_trace, predict

CLOSE = from_trace("active-close", "A", "close")  # FIN_WAIT_1


@pytest.fixture(autouse=True)
def fresh_kernel_memory():
    predictions._PICKS.clear()
    yield
    predictions._PICKS.clear()


def test_two_choices_reveal_the_answer_after_one_miss():
    box = predict("Which state after close()?", ["FIN_WAIT_1", "CLOSED"], CLOSE, why="The FIN is out.")
    _, buttons, feedback = box.children
    buttons.value = "CLOSED"
    assert "Think again" not in feedback.value
    assert "The answer is FIN_WAIT_1" in feedback.value and "The FIN is out." in feedback.value


def test_the_explanation_waits_for_the_answer():
    box = predict("Which state after close()?", ["FIN_WAIT_1", "FIN_WAIT_2", "CLOSED"], CLOSE, why="The FIN is out.")
    _, buttons, feedback = box.children
    assert feedback.value == ""
    buttons.value = "CLOSED"
    assert "The FIN is out." not in feedback.value and "FIN_WAIT_1" not in feedback.value
    buttons.value = "FIN_WAIT_2"
    assert "The answer is FIN_WAIT_1" in feedback.value and "The FIN is out." in feedback.value


def test_a_right_first_try_says_so():
    box = predict("Which state after close()?", ["FIN_WAIT_1", "CLOSED"], CLOSE, why="The FIN is out.")
    box.children[1].value = "FIN_WAIT_1"
    assert "Right: FIN_WAIT_1 (your first try)" in box.children[2].value


def test_running_the_cell_again_keeps_the_answer_and_the_first_try():
    ask = ("Which state after close()?", ["FIN_WAIT_1", "FIN_WAIT_2", "CLOSED"], CLOSE)
    first = predict(*ask, why="The FIN is out.")
    first.children[1].value = "CLOSED"
    first.children[1].value = "FIN_WAIT_1"
    again = predict(*ask, why="The FIN is out.")  # Shift+Enter on the selected cell
    assert again.children[1].value == "FIN_WAIT_1"
    assert "Right: FIN_WAIT_1." in again.children[2].value
    record = again.prediction.record()[PREDICTION_MIME]
    assert record["first_try"] == "CLOSED" and record["first_try_right"] is False and record["tries"] == 2


def test_the_record_before_any_answer_says_so():
    box = predict("Which state after close()?", ["FIN_WAIT_1", "CLOSED"], CLOSE)
    record = box.prediction.record()
    assert record[PREDICTION_MIME]["first_try"] is None
    assert record[PREDICTION_MIME]["answer"] is None  # the saved notebook would give it away
    assert record["text/plain"] == "Prediction: not answered yet."
    box.children[1].value = "CLOSED"
    assert box.prediction.record()[PREDICTION_MIME]["answer"] == "FIN_WAIT_1"


def test_the_first_try_is_saved_in_the_cells_output_of_a_real_kernel():
    """The click (here: setting the value from a later cell, as the front end's comm message
    would) updates the record output in place, so a saved notebook holds it."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from autograder.notebook_helpers import predict, from_trace\n"
            "box = predict('Which state after close()?', ['FIN_WAIT_1', 'FIN_WAIT_2', 'CLOSED'],\n"
            "              from_trace('active-close', 'A', 'close'), why='The FIN is out.')\n"
            "box"
        ),
        nbformat.v4.new_code_cell("box.children[1].value = 'CLOSED'\nbox.children[1].value = 'FIN_WAIT_1'"),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    records = first_tries(nb)
    assert len(records) == 1, nb.cells[0].outputs
    assert records[0]["first_try"] == "CLOSED" and records[0]["answer"] == "FIN_WAIT_1"
    assert records[0]["first_try_right"] is False
    text = [o["data"]["text/plain"] for o in nb.cells[0].outputs if PREDICTION_MIME in o.get("data", {})]
    assert text == ["Prediction, first try: CLOSED (not the answer)."]
