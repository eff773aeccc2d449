"""The learner's Jupyter configuration (deploy/learner, what `make lab` and a student's hub server
read) in Debian's chromium: JupyterLab and Notebook 7 pages from one server, as a learner who
switches between them opens them, log no page error."""

from __future__ import annotations

import json

import pytest

from .conftest import REPO, _stop, start_server
from .test_timeline_browser import demo_notebook, ours, page_error

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def learner_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("jupyter-learner-config")
    with pytest.MonkeyPatch.context() as mp:  # _isolated_env starts from os.environ
        mp.setenv("JUPYTER_CONFIG_PATH", str(REPO / "deploy" / "learner"))
        srv, proc = start_server("lab", base, {})
    (srv.root / "course").mkdir()
    (srv.root / "course" / "demo.ipynb").write_text(json.dumps(demo_notebook()))
    yield srv
    _stop(proc, srv.url, srv.token)


def open_page(context, url: str, ready: str):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(page_error(e)))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.locator(ready).first.wait_for(timeout=60_000)
    page.wait_for_timeout(3000)  # the file browser restores its path after the page is routed
    return page, errors


def test_notebook_7_after_jupyterlab_on_one_server(learner_server, browser):
    """A JupyterLab page left its file path in the server's shared page config, and the next
    Notebook 7 page ran `filebrowser:open-path` with it ("not registered"); the learner config
    drops the stale path, and Notebook's own tree page still opens the folder it is given."""
    srv = learner_server
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        lab, lab_errors = open_page(context, f"{srv.url}/lab/tree/course/demo.ipynb?token={srv.token}",
                                    ".jp-Notebook .jp-Cell")  # fmt: skip
        lab.close()
        nb, nb_errors = open_page(context, f"{srv.url}/notebooks/course/demo.ipynb", ".jp-Notebook .jp-Cell")
        assert not ours("notebook", nb_errors), "Notebook 7 page errors:\n" + "\n".join(nb_errors)
        nb.close()
        tree, _ = open_page(context, f"{srv.url}/tree/course", ".jp-DirListing-item")
        assert "demo.ipynb" in tree.locator(".jp-DirListing-content").inner_text(), "the tree page lost its folder"
        assert not ours("lab", lab_errors), "JupyterLab page errors:\n" + "\n".join(lab_errors)
    finally:
        context.close()
