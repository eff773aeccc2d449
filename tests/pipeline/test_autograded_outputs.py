"""What of a cell's outputs reaches the autograded notebook, and so the feedback page."""

from __future__ import annotations

from autograder.pipeline.autograded import RICH_NOTE, clean_outputs


def _display(data: dict) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": {}}


def test_a_picture_or_widget_is_named_not_shown_as_its_repr():
    """A learner's feedback page showed "<IPython.core.display.HTML object>" under the course's state map."""
    html = _display({"text/html": "<b>map</b>", "text/plain": "<IPython.core.display.HTML object>"})
    widget = _display({"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "VBox(...)"})
    assert [o["data"] for o in clean_outputs([html, widget])] == [{"text/plain": RICH_NOTE}] * 2


def test_text_and_png_are_kept_and_markup_never_is():
    plain = _display({"text/plain": "42"})
    png = _display({"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    hostile = _display({"text/html": "<script>alert(1)</script>", "text/plain": "x"})
    kept = [o["data"] for o in clean_outputs([plain, png, hostile])]
    assert kept[0] == {"text/plain": "42"} and kept[1] == {"text/plain": "<Figure>", "image/png": "iVBORw0KGgo="}
    assert "script" not in str(kept)
