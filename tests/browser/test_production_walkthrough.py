"""Notebook 07 in a real JupyterLab driven by chromium, as a learner meets it and as it is solved.

The learner's copy (notebooks/, functions still stubs): Run All shows the loopback experiments'
measurements (the closer pays TIME_WAIT, the four-port range runs out, the reset loses most of the
response) and stops at the first check with one paragraph naming the function, no traceback. The
instructor's copy (solutions in): every cell runs, nothing goes to stderr, every check passes, and
the lingering close delivers the whole response. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import json

import pytest

from .conftest import REPO, _stop, start_server
from .test_learner_walkthrough import open_notebook, real_errors
from .test_timeline_browser import run_all_until

pytestmark = pytest.mark.browser

LEARNER = REPO / "notebooks" / "07_production.ipynb"
SOLUTION = REPO / "course" / "source" / "07_production" / "07_production.ipynb"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("jupyter-production")
    notebooks = {"learner-07.ipynb": json.loads(LEARNER.read_text()),
                 "solution-07.ipynb": json.loads(SOLUTION.read_text())}  # fmt: skip
    srv, proc = start_server("lab", base, notebooks)
    yield srv
    _stop(proc, srv.url, srv.token)


def text_of(page) -> str:
    # JupyterLab renders only the cells in view (windowing): read the outputs' text, not the pixels.
    return "\n".join(page.locator(".jp-OutputArea-output").all_text_contents())


def test_a_learner_runs_the_experiments_and_reads_the_first_failed_check(lab, browser, screenshots):
    page, errors = open_notebook(browser, lab, "learner-07.ipynb")
    try:
        failed_check = page.locator(".jp-OutputArea-output:has-text('AssertionError')").first
        run_all_until(page, failed_check)
        shown = text_of(page)
        assert "client closes first: 50 TIME_WAIT at the clients, 0 at the server" in shown, shown[:2000]
        assert "server closes first: 0 TIME_WAIT at the clients, 50 at the server" in shown, shown[:2000]
        assert "4 connections, then EADDRNOTAVAIL" in shown, shown[:2000]
        assert "bind without SO_REUSEADDR: [Errno 98] Address already in use" in shown, shown[:2000]
        text = failed_check.text_content().strip()
        assert text.startswith("AssertionError: open_listener(sock, port): a restart on a port that still has a "
                               "TIME_WAIT: a restart while the port has a TIME_WAIT of the old server: your "
                               "open_listener raised NotImplementedError"), text  # fmt: skip
        assert "Traceback" not in text and "File " not in text and "autograder/" not in text, text
        failed_check.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "production-first-check.png"))
        assert real_errors(errors) == [], errors
    finally:
        page.context.close()


def test_with_the_solutions_every_cell_runs_and_every_check_passes(lab, browser, screenshots):
    page, errors = open_notebook(browser, lab, "solution-07.ipynb")
    try:
        code_cells = sum(c["cell_type"] == "code" for c in json.loads(SOLUTION.read_text())["cells"])
        last = page.locator(".jp-OutputArea-output:has-text('hidden cases behave')").first
        run_all_until(page, page.locator(".jp-OutputArea-output").first)
        page.wait_for_function(
            r"""(n) => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
                     .filter(p => /\[\d+\]/.test(p.textContent)).length === n""",
            arg=code_cells, timeout=120_000,
        )  # fmt: skip
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        shown = text_of(page)
        assert "AssertionError" not in shown, shown[-3000:]
        assert shown.count("✓ ") >= 4, shown[-3000:]  # each test cell's visible check passes
        assert "lingering_close: 2,097,152 of 2,097,152 bytes arrived, then EOF" in shown, shown[-3000:]
        last.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "production-solution.png"))
        assert real_errors(errors) == [], errors
    finally:
        page.context.close()
