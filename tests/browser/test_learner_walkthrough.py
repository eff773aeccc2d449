"""A learner's sessions, in a real JupyterLab driven by Debian's chromium.

Notebook 01 as the learner gets it (notebooks/, solutions stripped): the Nbgrader
menu is there, a prediction answers a click, the reference timeline plays, and the
first check fails with one readable paragraph (no traceback). Every notebook as the
instructor wrote it (course/source, solutions in): every cell runs, nothing is
written to stderr, and the learner's own close matches the reference. Screenshots
go to test-output/screenshots/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import REPO, _stop, start_server
from .test_timeline_browser import DIALOGS, ours, page_error, run_all_until

pytestmark = pytest.mark.browser

LEARNER_COPY = REPO / "notebooks" / "01_active_close.ipynb"
SOLUTIONS = sorted((REPO / "course" / "source").glob("*/*.ipynb"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("jupyter-walkthrough")
    notebooks = {"learner.ipynb": json.loads(LEARNER_COPY.read_text())}
    notebooks |= {f"solution-{p.stem}.ipynb": json.loads(p.read_text()) for p in SOLUTIONS}
    srv, proc = start_server("lab", base, notebooks)
    yield srv
    _stop(proc, srv.url, srv.token)


def open_notebook(browser, lab, name: str):
    # A context and a JupyterLab workspace of its own: otherwise the second page restores
    # the first one's layout and Run All lands in the wrong notebook.
    page = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(page_error(e)))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    workspace = name.removesuffix(".ipynb")
    url = f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={lab.token}"
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    return page, errors


def real_errors(errors: list[str]) -> list[str]:
    # The server answers 404 for a few optional lab resources (e.g. a workspace); not ours.
    return [e for e in ours("lab", errors) if "404" not in e]


def test_a_learner_predicts_watches_and_reads_the_first_failed_check(lab, browser, screenshots):
    page, errors = open_notebook(browser, lab, "learner.ipynb")
    try:
        # The verified JupyterLab / nbgrader pair: the Nbgrader menu is in the menu bar.
        assert page.get_by_role("menuitem", name=re.compile("Nbgrader")).count() == 1

        failed_check = page.locator(".jp-OutputArea-output:has-text('AssertionError')").first
        run_all_until(page, failed_check)

        # A prediction: three choices rendered; the right one answers at once.
        question = page.locator(".widget-vbox:has(.widget-toggle-buttons)").first
        question.scroll_into_view_if_needed()
        question.get_by_role("button", name="FIN_WAIT_1", exact=True).click()
        question.locator("text=Right: FIN_WAIT_1").wait_for(timeout=10_000)
        question.screenshot(path=str(screenshots / "learner-prediction.png"))
        # The first try is kept in the cell's own output (saved with the notebook), and the predict
        # cells' source, whose why= explains the answer, is collapsed.
        page.locator("text=Prediction, first try: FIN_WAIT_1 (right).").first.wait_for(timeout=10_000)
        assert page.locator(".jp-InputPlaceholder").count() >= 1

        # The reference timeline is on the page.
        assert page.locator(".tcp-timeline-widget svg.tcp-timeline").count() >= 1
        # Its picker offers what the notebook has named up to its cell (JupyterLab sent the cell's
        # id): not lost-final-ack, whose caption answers a prediction further down.
        picker = page.get_by_role("combobox", name="scenario").first
        assert picker.locator("option").all_text_contents() == ["active-close"]

        # Run All stops at the first check: one paragraph, in the learner's terms, no traceback.
        stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert stderr.count() == 1, [t[:200] for t in stderr.all_text_contents()]  # nothing else complained
        # JupyterLab renders only the cells in view (windowing): read the text, not the pixels.
        text = failed_check.text_content().strip()
        assert text.startswith(
            "AssertionError: ESTABLISHED on close: in ESTABLISHED, on application close(), "
            "your handler raised NotImplementedError"
        ), text
        assert "Traceback" not in text and "File " not in text and "autograder/" not in text, text
        failed_check.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "learner-first-check.png"))
        assert real_errors(errors) == [], errors
    finally:
        page.context.close()


@pytest.mark.parametrize("notebook", [p.stem for p in SOLUTIONS])
def test_with_the_solutions_every_cell_runs_and_matches_the_reference(lab, browser, screenshots, notebook):
    page, errors = open_notebook(browser, lab, f"solution-{notebook}.ipynb")
    try:
        # Counted from the file: the page may still be adding cells when the test starts.
        source = next(p for p in SOLUTIONS if p.stem == notebook)
        # A prediction cell's source is collapsed, and with it its [n] prompt: count the others.
        code_cells = sum(c["cell_type"] == "code" and not c["metadata"].get("jupyter", {}).get("source_hidden")
                         for c in json.loads(source.read_text())["cells"])  # fmt: skip
        run_all_until(page, page.locator(".jp-OutputArea-output").first)
        # Done when every code cell shows an execution count: [1], [2], ... and none is [*].
        try:
            page.wait_for_function(
                r"""(n) => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
                         .filter(p => /\[\d+\]/.test(p.textContent)).length === n""",
                arg=code_cells,
                timeout=120_000,
            )
        except Exception:
            prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_text_contents()
            raise AssertionError(f"not every cell ran: {prompts}; dialogs answered: {DIALOGS}") from None
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        if "show_mine(" in source.read_text():  # notebook 07's exercises are sockets, not a machine
            notes = page.locator("text=Your handlers close this connection exactly as the reference does")
            assert notes.count() >= 1, "no show_mine cell reported a match with the reference"
            notes.first.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / f"solution-{notebook}.png"))
        assert real_errors(errors) == [], errors
    finally:
        page.context.close()


def test_the_learner_copy_is_the_one_make_lab_opens():
    makefile = (REPO / "Makefile").read_text()
    assert "notebooks/01_active_close.ipynb" in makefile and Path(LEARNER_COPY).exists()
