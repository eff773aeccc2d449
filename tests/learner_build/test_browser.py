"""Notebook 01 on the learner build, in a real JupyterLab driven by Debian's chromium: the kernel
is the student image's interpreter (the learner wheel in a fresh virtualenv), and every cell runs,
the timelines draw and show_mine matches the reference, all from the recorded reference."""

from __future__ import annotations

import json

import nbformat
import pytest

from tests.browser.conftest import REPO, _stop, browser, screenshots, start_server  # noqa: F401 - fixtures
from tests.browser.test_timeline_browser import run_all_until
from tests.learner_build.conftest import solution

pytestmark = pytest.mark.browser

WHICH = """\
from autograder.reference_source import source_kind
try:
    import reference_impl.handlers
    handlers = "handlers importable"
except ImportError:
    handlers = "no handlers"
print(source_kind(), handlers)"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory, learner_venv):
    """JupyterLab whose only notebook runs on a kernel from the learner build's virtualenv."""
    base = tmp_path_factory.mktemp("jupyter-learner-build")
    spec = base / "data" / "kernels" / "learner"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(learner_venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Learner build", "language": "python",
        "env": {"PYTHONPATH": "", "PYTHONNOUSERSITE": "1"},  # nothing of the server's package path
    }))  # fmt: skip
    nb = solution(REPO / "course" / "source" / "01_active_close" / "01_active_close.ipynb")
    nb.cells.append(nbformat.v4.new_code_cell(WHICH))
    nb.metadata["kernelspec"] = {"name": "learner", "display_name": "Learner build", "language": "python"}
    srv, proc = start_server("lab", base, {"learner-build.ipynb": nb})
    yield srv
    _stop(proc, srv.url, srv.token)


def test_notebook_01_runs_in_jupyterlab_on_the_learner_build(lab, browser, screenshots):  # noqa: F811
    page = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
    try:
        url = f"{lab.url}/lab/workspaces/learner-build/tree/learner-build.ipynb?reset&token={lab.token}"
        page.goto(url, wait_until="domcontentloaded", timeout=60_000)
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        last = page.locator(".jp-OutputArea-output:has-text('no handlers')")
        run_all_until(page, page.locator(".jp-OutputArea-output").first)
        last.wait_for(timeout=180_000)
        assert last.text_content().strip() == "recorded no handlers"
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        assert page.locator(".tcp-timeline-widget svg.tcp-timeline").count() >= 1
        notes = page.locator("text=Your handlers close this connection exactly as the reference does")
        assert notes.count() >= 1, "show_mine did not match the recorded reference"
        notes.first.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "learner-build-01.png"))
    finally:
        page.context.close()
