"""A submission's Markdown reaches the formgrader and the feedback cleaned, and renders as cleaned."""

from __future__ import annotations

import re

import pytest
from nbconvert.filters.markdown import markdown2html

from autograder.pipeline.student_markdown import safe_markdown

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<iframe src='javascript:alert(1)'></iframe>",
    "[x](javascript:alert(1))",
    "<javascript:alert(1)>",
    '<a href="jav&#x09;ascript:alert(1)">y</a>',
    "<div\nonmouseover=alert(1)>z</div>",
    "<svg onload=alert(1)>",
    "<style>body{display:none}</style>",
    "[x]: javascript:alert(1)\n\n[y][x]",
    "<!-- -->\n\n<script>alert(1)</script>",
    "```\na\n\n<script>alert(1)</script>\n```\n\n<script>alert(1)</script>",
]


def _live(rendered: str) -> list[str]:
    """What could run or load in a browser: script and event handlers, other documents, javascript: links."""
    return re.findall(r"<(?:script|style|iframe|svg|img|object|embed)\b|\son\w+\s*=|href=[\"']?\s*javascript", rendered,
                      re.I)  # fmt: skip


@pytest.mark.parametrize("attack", ATTACKS)
def test_nothing_that_runs_survives_and_the_templates_show_what_was_cleaned(attack):
    cleaned = safe_markdown(f"An answer.\n\n{attack}\n\nThe end.")
    shown = markdown2html(cleaned)  # what nbgrader's formgrade and feedback templates do with the cell
    assert _live(shown) == [], shown
    assert shown.strip() == cleaned.strip()  # one HTML block: Markdown passes it through as it is
    assert "An answer." in shown and "The end." in shown


def test_what_a_learner_writes_about_tcp_reads_as_written():
    shown = markdown2html(safe_markdown("A sends `<SEQ=100><ACK=300><CTL=FIN,ACK>`, then <SEQ=101> **waits**.\n\n"
                                        "| state | next |\n|---|---|\n| FIN_WAIT_1 | FIN_WAIT_2 |\n\n"
                                        "```\nline 1\n\nline 3\n```\n[RFC](https://www.rfc-editor.org/rfc/rfc9293)"))  # fmt: skip
    assert "<code>&lt;SEQ=100&gt;&lt;ACK=300&gt;&lt;CTL=FIN,ACK&gt;</code>" in shown
    assert "&lt;SEQ=101&gt; <strong>waits</strong>" in shown
    assert "<td>FIN_WAIT_1</td>" in shown and "line 1&#10;&#10;line 3" in shown
    assert '<a href="https://www.rfc-editor.org/rfc/rfc9293">RFC</a>' in shown


def test_a_flood_of_cells_past_the_budget_is_shown_as_plain_text():
    assert markdown2html(safe_markdown("<b>x</b>", render=False)).count("&lt;b&gt;x&lt;/b&gt;") == 1


def test_an_image_pasted_into_an_answer_does_not_fail_the_submission():
    """JupyterLab pastes an image as `attachment:`, which nbconvert cannot resolve outside the cell: the
    answer is shown as its text instead (a whole submission failed to autograde on it)."""
    shown = markdown2html(safe_markdown("TIME_WAIT waits 2 MSL. ![image.png](attachment:image.png)"))
    assert "TIME_WAIT waits 2 MSL." in shown and "<img" not in shown
