"""A real Jupyter server (JupyterLab 4 or Notebook 7) and Debian's chromium, for the browser tests.

Each server runs in a temporary root with its own config, data, runtime and
settings directories, so a developer's own Jupyter setup can neither break nor
be changed by the tests. Teardown asks the server to shut down (which stops its
kernels) and then kills the whole process group.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"
JUPYTER = Path(sys.executable).with_name("jupyter")
START_TIMEOUT = 60  # seconds for /api/status to answer


@dataclass
class Server:
    app: str  # "lab" or "notebook"
    url: str
    token: str
    root: Path
    log: Path

    def page_url(self, notebook: str) -> str:
        path = "lab/tree" if self.app == "lab" else "notebooks"
        return f"{self.url}/{path}/{notebook}?token={self.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _isolated_env(base: Path, app: str) -> dict[str, str]:
    env = dict(os.environ)
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"), ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("IPYTHONDIR", "ipython"),
    ):  # fmt: skip
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(base / sub)
    # No news toast over the widget in JupyterLab (the machine has no network anyway).
    # Not for Notebook 7: its settings loader throws on a disabled plugin's missing schema.
    if app == "lab":
        labconfig = base / "config" / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        (labconfig / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
        )
        # Render every cell (no windowing), so what a test reads is in the page, not virtualised away.
        tracker = base / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
        tracker.parent.mkdir(parents=True, exist_ok=True)
        tracker.write_text(json.dumps({"windowingMode": "none"}))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _wait_ready(proc: subprocess.Popen, url: str, token: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the Jupyter server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"the Jupyter server did not answer /api/status within {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen, url: str, token: str) -> None:
    try:  # a clean shutdown stops the kernels, which live in sessions of their own
        req = urllib.request.Request(f"{url}/api/shutdown?token={token}", method="POST")
        urllib.request.urlopen(req, timeout=5).close()
        proc.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        pass
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def start_server(app: str, base: Path, notebooks: dict[str, dict]) -> tuple[Server, subprocess.Popen]:
    root = base / "root"
    root.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        (root / name).write_text(json.dumps(nb, indent=1))
    token, port = secrets.token_hex(16), _free_port()
    log = base / f"{app}.log"
    cmd = [
        str(JUPYTER), app, "--no-browser", f"--ServerApp.token={token}", "--port", str(port),
        "--ip", "127.0.0.1", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
    ]  # fmt: skip
    if os.geteuid() == 0:  # CI containers run as root; Jupyter refuses without this
        cmd.append("--allow-root")
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=_isolated_env(base, app), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, url, token, log)
    except BaseException:
        _stop(proc, url, token)
        raise
    return Server(app, url, token, root, log), proc


@pytest.fixture(scope="session")
def browser(request):
    """One chromium for the whole run, however many test modules import this fixture.

    A module that imports the fixture gets its own copy of it, and a second sync_playwright in
    one thread fails ("Sync API inside the asyncio loop"); so the browser lives on pytest's
    config, which every copy shares, and closes when the run ends.
    """
    shared = getattr(request.config, "_tcpclose_chromium", None)
    if shared is None:
        if not Path(CHROMIUM).exists():
            pytest.fail(
                f"Debian's chromium is missing ({CHROMIUM}): run `make system-deps` or `apt-get install chromium`"
            )
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            pytest.fail("the playwright package is missing: run `make setup` (it is in the [test] extra)")
        playwright = sync_playwright().start()
        try:
            shared = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        except BaseException:
            playwright.stop()
            raise
        request.config._tcpclose_chromium = shared

        def close() -> None:
            shared.close()
            playwright.stop()

        request.config.add_cleanup(close)
    return shared


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
