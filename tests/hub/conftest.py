"""A university lab on a real JupyterHub, started once per session from deploy/jupyterhub.

What it takes, as README.md's "Running a lab on JupyterHub" does on a server: a copy of this
repository (the clone), Unix groups and users for an instructor and two students (random names,
removed afterwards), the students' virtualenv (the learner wheel with its [lab] extra and
jupyterhub) and the instructors' (the full package, editable, from the clone), both from the
system's /usr/bin/python3 so that other users may run them, nbgrader's exchange (1777), the
instructor's copy of course/, and deploy/jupyterhub/jupyterhub_config.py as it is, with only
its paths and ports overridden. Everything lives in one temporary directory under /opt that
every user can traverse; the hub, the proxy and every server are stopped, and the users'
remaining processes ended by pid, before the users are removed.

uv builds the two virtualenvs from its cache (seconds once it holds the wheels); what it installs
is what the README's pip lines install.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.conftest import browser, screenshots  # noqa: F401 - one chromium for tests/hub

REPO = Path(__file__).resolve().parents[2]
PROXY = REPO / ".hub" / "node_modules" / ".bin" / "configurable-http-proxy"
SYSTEM_PYTHON = Path("/usr/bin/python3")  # other users cannot run a Python under /root (pyenv)
HUB_START_TIMEOUT = 90
# What the clone needs: the packages, the course (its sources and configuration), the recipe.
CLONE = ("pyproject.toml", "README.md", "reference_impl", "autograder", "course/nbgrader_config.py",
         "course/source", "deploy")  # fmt: skip


@dataclass
class User:
    name: str
    password: str
    role: str  # "instructor" or "student"

    @property
    def home(self) -> Path:
        return Path(pwd.getpwnam(self.name).pw_dir)

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.name).pw_uid


@dataclass
class Lab:
    url: str  # the hub's public URL
    base: Path  # the temporary directory holding everything
    clone: Path
    exchange: Path
    instructor: User
    students: list[User]
    log: Path  # the hub's log (the proxy's and the spawners' lines included)
    groups: tuple[str, str]  # the students' and the instructors' Unix groups

    def server(self, user: User) -> str:
        return f"{self.url}/user/{user.name}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no hub log)"


def _run(*cmd: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, **kw)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd[:4])} ... exited {done.returncode}:\n{(done.stderr or done.stdout)[-3000:]}")
    return done


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pin(name: str) -> str:
    """The requirement string pyproject.toml's test extra gives for `name` (e.g. jupyterhub==6.1.1)."""
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    return next(r for r in extra if r.split("=")[0].split(">")[0].strip() == name)


def _uv() -> str:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is missing: run `make setup` (it is in the [test] extra)")
    return uv


def _copy_clone(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")
    for rel in CLONE:
        src = REPO / rel
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=ignore)
        else:
            shutil.copy2(src, dest / rel)
    return dest


def _venv(uv: str, dest: Path, *requirements: str) -> Path:
    """A virtualenv of the system's Python at `dest` holding `requirements` (and their dependencies)."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    _run(uv, "venv", "--quiet", "--python", str(SYSTEM_PYTHON), str(dest), env=env)
    _run(
        uv,
        "pip",
        "install",
        "--quiet",
        "--python",
        str(dest / "bin" / "python"),
        *requirements,
        env=env,
        timeout=900,
    )
    return dest


def _users_processes(uids: set[int]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def _end_processes(uids: set[int]) -> None:
    """End what is still running as the lab's users (kernels, terminals), by pid: TERM, then KILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _users_processes(uids)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while pids and time.monotonic() < deadline:
            pids = _users_processes(uids)
            time.sleep(0.1)
        if not pids:
            return


def _settings(user: User) -> None:
    """The user's JupyterLab preferences: every cell rendered (so a test can read each one), no news toast."""
    settings = user.home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    for rel, value in (("notebook-extension/tracker.jupyterlab-settings", {"windowingMode": "none"}),
                       ("apputils-extension/notification.jupyterlab-settings",
                        {"fetchNews": "false", "checkForUpdates": False})):  # fmt: skip
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    _run("chown", "-R", f"{user.name}:{user.name}", str(user.home / ".jupyter"))


def _wait_hub(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + HUB_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterHub exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/hub/api", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"JupyterHub did not answer within {HUB_START_TIMEOUT} s:\n{log.read_text(errors='replace')[-4000:]}")


def _stop_hub(proc: subprocess.Popen) -> None:
    """SIGTERM lets the hub stop every server it spawned and its proxy; then its process group goes."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def lab():
    """The hub, its users, their environments and the exchange; see the module's docstring."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root: it creates Unix users and runs JupyterHub's PAM login (CI runs as root)")
    if not PROXY.exists():
        pytest.fail(f"configurable-http-proxy is missing ({PROXY}): run `make hub-deps`")
    if not SYSTEM_PYTHON.exists():
        pytest.fail(f"{SYSTEM_PYTHON} is missing: run `make system-deps` (Debian's python3)")
    from autograder.learner_build import build_wheel

    tag = secrets.token_hex(3)
    # Under /opt, as the README's /opt/tcp-goodbye, not /tmp: the grading sandbox gives a submission
    # a private /tmp, which would hide the instructor's interpreter from the runner.
    base = Path(tempfile.mkdtemp(prefix="tcpclose-hub-", dir="/opt"))
    base.chmod(0o755)  # every user traverses it to its environment, the clone and the exchange
    groups = (f"tg-students-{tag}", f"tg-instructors-{tag}")
    instructor = User(f"tgi-{tag}", secrets.token_urlsafe(12), "instructor")
    students = [User(f"tgs{n}-{tag}", secrets.token_urlsafe(12), "student") for n in (1, 2)]
    made_groups: list[str] = []
    made_users: list[User] = []
    proc = log = None
    try:
        # The clone and the two environments (the README's `make setup`, `make learner-build` and pip lines).
        clone = _copy_clone(base / "clone")
        uv, hub_pin = _uv(), _pin("jupyterhub")
        wheel = build_wheel(base / "dist")
        student_env = _venv(uv, base / "student-env", f"{wheel}[lab]", hub_pin)
        _venv(uv, clone / ".venv", "--editable", str(clone), hub_pin)
        exchange = base / "exchange"
        exchange.mkdir(mode=0o755)
        exchange.chmod(0o1777)  # nbgrader's exchange: world-writable, sticky
        # Unix groups and users (the README's groupadd / adduser lines), a password each for PAM.
        for g in groups:
            _run("groupadd", g)
            made_groups.append(g)
        (base / "home").mkdir(mode=0o755)
        for user, group in [(instructor, groups[1])] + [(s, groups[0]) for s in students]:
            _run("useradd", "--create-home", "--home-dir", str(base / "home" / user.name), "--shell", "/bin/bash",
                 "--user-group", "--groups", group, user.name)  # fmt: skip
            made_users.append(user)
            _run("chpasswd", input=f"{user.name}:{user.password}\n")
            _settings(user)
        # The instructor's copy of the course, in their home (README: cp -r course ~/tcp-goodbye).
        course = instructor.home / "tcp-goodbye"
        shutil.copytree(clone / "course", course)
        _run("chown", "-R", f"{instructor.name}:{instructor.name}", str(course))
        # The hub, from the project's environment, on deploy/jupyterhub/jupyterhub_config.py as it is.
        state = base / "hub"
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(state), "LANG": "C.UTF-8",
            "TCPCLOSE_HUB_EXCHANGE": str(exchange), "TCPCLOSE_HUB_STUDENTS": groups[0],
            "TCPCLOSE_HUB_INSTRUCTORS": groups[1], "TCPCLOSE_HUB_STUDENT_ENV": str(student_env),
            "TCPCLOSE_HUB_STATE": str(state),
        }  # fmt: skip
        hub = Path(sys.executable).with_name("jupyterhub")
        cmd = [str(hub), "-f", str(clone / "deploy" / "jupyterhub" / "jupyterhub_config.py"),
               f"--JupyterHub.bind_url={url}", f"--JupyterHub.hub_port={_free_port()}",
               f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{_free_port()}",
               f"--ConfigurableHTTPProxy.command={PROXY}"]  # fmt: skip
        log = base / "hub.log"
        state.mkdir(mode=0o700)
        with open(log, "w") as out:
            proc = subprocess.Popen(cmd, cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # fmt: skip
        _wait_hub(proc, url, log)
        yield Lab(url=url, base=base, clone=clone, exchange=exchange, instructor=instructor, students=students,
                  log=log, groups=groups)  # fmt: skip
    finally:
        if proc is not None:
            _stop_hub(proc)
        if log is not None and log.exists():  # the hub's and the servers' lines, to read after a failure
            (REPO / "test-output").mkdir(exist_ok=True)
            shutil.copy(log, REPO / "test-output" / "hub.log")
        uids = set()
        for user in made_users:
            try:
                uids.add(user.uid)
            except KeyError:
                pass
        _end_processes(uids)
        for user in made_users:
            subprocess.run(["userdel", "--remove", user.name], capture_output=True)
        for g in made_groups:
            subprocess.run(["groupdel", g], capture_output=True)
        if os.environ.get("TCPCLOSE_KEEP_HUB"):
            print(f"kept {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
