"""`make lab` is a learner's lab: nbgrader's Assignments tab, none of the instructor's panels, unless
an instructor asks for them (`make lab ROLE=instructor`). The real make target, in Debian's chromium."""

from __future__ import annotations

import secrets
import subprocess
import time
import urllib.request

import pytest

from tests.browser.conftest import REPO, _free_port, _isolated_env, _stop

from .test_lab_on_hub import nbgrader_menu

pytestmark = pytest.mark.browser


def make_lab(base, role: str | None) -> tuple[subprocess.Popen, str, str]:
    """`make lab` (setup already done: -o setup), on a free port, with its own Jupyter directories."""
    token, port = secrets.token_hex(16), _free_port()
    env = {**_isolated_env(base, "lab"), "JUPYTER_TOKEN": token, "BROWSER": "true"}  # no browser of its own
    env.pop("JUPYTER_CONFIG_PATH", None)
    cmd = ["make", "--no-print-directory", "-o", "setup", "lab", f"PORT={port}"] + ([f"ROLE={role}"] if role else [])
    with open(base / "make-lab.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"make lab exited {proc.returncode}:\n{(base / 'make-lab.log').read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                return proc, url, token
        except OSError:
            time.sleep(0.3)
    _stop(proc, url, token)
    raise AssertionError(f"make lab did not answer within 90 s:\n{(base / 'make-lab.log').read_text()[-3000:]}")


@pytest.mark.parametrize(
    ("role", "menu"),
    [
        (None, {"Assignment List"}),
        ("instructor", {"Assignment List", "Course List", "Formgrader", "Create assignment"}),
    ],
    ids=["learner", "instructor"],
)
def test_make_lab_shows_instructor_panels_only_when_asked(role, menu, tmp_path, browser):
    proc, url, token = make_lab(tmp_path, role)
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    try:
        page.goto(f"{url}/lab?token={token}", wait_until="domcontentloaded", timeout=60_000)
        page.locator(".lm-MenuBar-item", has_text="Nbgrader").wait_for(timeout=120_000)
        assert set(nbgrader_menu(page)) == menu  # notebook 01 is open: Create assignment applies to it
        create = page.locator(".lm-TabBar-tab", has_text="Create Assignment")
        assert create.count() == (1 if role == "instructor" else 0)
        formgrader = page.request.get(f"{url}/formgrader?token={token}")
        assert formgrader.status == (200 if role == "instructor" else 404)
    finally:
        page.context.close()
        _stop(proc, url, token)
