"""One attack per defence, run through the launcher and through the fork server (a fraction of a second each).

Each probe starts a tiny program in the sandbox that tries one thing and reports what it found
as one frame on fd 4; the test asserts the defence held. Every defence in DEFENCES has a probe
here (test_every_defence_has_a_probe), so a new defence cannot arrive untested. Every probe runs
twice: in a sandbox the launcher confines and then execs (`tcpclose check`), and in a child
forked from the fork server (autograder.sandbox.zygote: a batch's workers), which enters its
namespaces and drops its privileges itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from autograder.pipeline.view import grading_view
from autograder.sandbox import DEFENCES, HOME, UID_RANGE, VIEW, SandboxPolicy, Zygote, claim_uid, start

ROOT = os.geteuid() == 0
REPO = Path(__file__).resolve().parents[2]
PROBED: set[str] = set()


def probes(*names: str):
    PROBED.update(names)
    return pytest.mark.parametrize("defence", names)


@pytest.fixture(scope="module")
def view(tmp_path_factory) -> Path:
    v = grading_view(tmp_path_factory.mktemp("view") / "view")
    for p in [v, *v.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return v


@pytest.fixture(params=["launcher", "fork-server"])
def how(request) -> str:
    return request.param


@contextmanager
def sandbox(view: Path, tmp: Path, how: str = "launcher", **changes):
    """A sandbox running `code` (given later through .run); yields a function code -> dict."""
    scratch = tmp / f"scratch-{time.monotonic_ns()}"
    scratch.mkdir(mode=0o700)
    with claim_uid() if ROOT else _none() as uid:
        policy = SandboxPolicy(view=str(view), scratch=str(scratch), uid=uid, required=ROOT, **changes)
        if how == "launcher":
            yield lambda code: _run(policy, code)
            return
        (scratch / "server").mkdir()
        server = Zygote(replace(policy, scratch=str(scratch / "server")))
        try:
            yield lambda code: _run(policy, code, server)
        finally:
            server.close()


@contextmanager
def _none():
    yield None


PRELUDE = """
import json, os, struct, sys
def report(**found):
    data = json.dumps(found).encode()
    os.write(4, struct.pack(">I", len(data)) + data)
"""


def _run(policy: SandboxPolicy, code: str, server: Zygote | None = None) -> dict:
    program = PRELUDE + textwrap.dedent(code)
    if server is None:
        confined = start(policy, [sys.executable, "-P", "-s", "-B", "-c", program])
    else:
        confined = server.spawn(policy, code=program)
    try:
        found = confined.channel.recv(time.monotonic() + 20)
    finally:
        confined.wait(10) if confined.running() else None
        confined.kill()
    found["_achieved"] = confined.achieved
    return found


def test_every_defence_has_a_probe():
    # user-namespace is what test_without_root_a_user_namespace_gives_the_same_isolation probes
    unprobed = {d.name for d in DEFENCES} - PROBED - {"user-namespace"}
    assert not unprobed, f"add a probe, @probes(...), for: {sorted(unprobed)}"
    assert PROBED <= {d.name for d in DEFENCES}, f"probes of no defence: {sorted(PROBED - {d.name for d in DEFENCES})}"


@probes("no-network")
def test_no_connection_leaves_and_abstract_sockets_reach_nothing(view, tmp_path, how, defence):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(b"\0tcpclose-probe-listener")
    abstract.listen()
    with sandbox(view, tmp_path, how) as run:
        found = run(f"""
            import socket
            out = {{}}
            for name, family, address in (("tcp", socket.AF_INET, ("127.0.0.1", {port})),
                                          ("abstract", socket.AF_UNIX, b"\\0tcpclose-probe-listener")):
                s = socket.socket(family)
                s.settimeout(2)
                try:
                    s.connect(address)
                    out[name] = "connected"
                except OSError as e:
                    out[name] = type(e).__name__
            report(**out)
        """)
    server.close()
    abstract.close()
    assert found["tcp"] == "ConnectionRefusedError" and found["abstract"] == "ConnectionRefusedError", found
    assert defence in found["_achieved"]


@probes("private-ipc")
def test_no_shared_memory_of_another_process_and_a_hostname_of_its_own(view, tmp_path, how, defence):
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    shmid = libc.shmget(0, 4096, 0o1666)  # IPC_PRIVATE, IPC_CREAT | 0666
    assert shmid >= 0
    try:
        with sandbox(view, tmp_path, how) as run:
            found = run("""
                lines = open("/proc/sysvipc/shm").read().splitlines()[1:]
                report(segments=len(lines), host=os.uname().nodename)
            """)
    finally:
        libc.shmctl(shmid, 0, None)  # IPC_RMID
    assert found["segments"] == 0 and found["host"] == "sandbox"
    assert defence in found["_achieved"]


@probes("private-pids", "private-proc")
def test_no_other_process_is_visible_and_none_outlives_the_sandbox(view, tmp_path, how, defence):
    marker = f"student-{os.getpid()}-secret-id"
    other = subprocess.Popen(["sleep", "30", marker])  # another student's process, its id on the command line
    try:
        with sandbox(view, tmp_path, how) as run:
            found = run(f"""
                import subprocess
                subprocess.Popen(["sleep", "30", "left-behind-{marker}"])  # tries to outlive grading
                cmdlines = []
                for pid in filter(str.isdigit, os.listdir("/proc")):
                    try:
                        cmdlines.append(open(f"/proc/{{pid}}/cmdline", "rb").read().decode(errors="replace"))
                    except OSError:
                        pass
                report(me=os.getpid(), seen="{marker}" in " ".join(c for c in cmdlines if "left-behind" not in c),
                       count=len(cmdlines))
            """)
    finally:
        other.kill()
    time.sleep(0.3)
    left = subprocess.run(["pgrep", "-f", f"left-behind-{marker}"], capture_output=True, text=True).stdout.split()
    assert found["me"] == 1 and found["seen"] is False and found["count"] <= 3, found
    assert left == [], "a process outlived its sandbox"
    assert defence in found["_achieved"]


@probes("private-tmp")
def test_tmp_is_private_bounded_and_gone_and_a_unix_socket_there_reaches_nothing(view, tmp_path, how, defence):
    path = f"/tmp/tcpclose-probe-{os.getpid()}.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen()
    try:
        with sandbox(view, tmp_path, how) as run:
            found = run(f"""
                import socket
                s = socket.socket(socket.AF_UNIX)
                try:
                    s.connect("{path}")
                    reached = True
                except OSError:
                    reached = False
                for d in ("/tmp", "/dev/shm", "/var/tmp"):
                    open(f"{{d}}/left-{os.getpid()}", "w").write("x")
                try:
                    with open("/dev/shm/fill", "wb") as f:
                        for _ in range(200):
                            f.write(b"x" * (1 << 20))
                    full = False
                except OSError:
                    full = True
                report(reached=reached, full=full, tmp=os.listdir("/tmp"))
            """)
    finally:
        listener.close()
        os.unlink(path)
    assert found["reached"] is False and found["full"] is True, found
    assert found["tmp"] == [f"left-{os.getpid()}"]  # nothing of the host's /tmp
    assert not any(Path(d, f"left-{os.getpid()}").exists() for d in ("/tmp", "/dev/shm", "/var/tmp"))
    assert defence in found["_achieved"]


@probes("minimal-root")
def test_the_course_the_repository_and_the_answers_are_not_there(view, tmp_path, how, defence):
    secrets = [str(REPO / "course" / "source"), str(REPO / "reference_impl" / "handlers.py"),
               str(REPO / "tests" / "autograder" / "impl_table.py"), str(REPO / "course" / "gradebook.db"),
               str(Path(__file__))]  # fmt: skip
    with sandbox(view, tmp_path, how) as run:
        found = run(f"""
            import importlib
            found = [p for p in {secrets!r} if os.path.exists(p)]
            try:
                importlib.import_module("reference_impl.handlers")
                handlers = True
            except ImportError:
                handlers = False
            import autograder
            report(found=found, handlers=handlers, home=os.getcwd(), package=autograder.__file__,
                   writable_root=os.access("/", os.W_OK))
        """)
    assert found["found"] == [] and found["handlers"] is False, found
    assert found["home"] == HOME and found["package"].startswith(VIEW) and not found["writable_root"]
    assert defence in found["_achieved"]


@probes("masked-paths")
def test_a_named_path_inside_a_visible_directory_is_masked(view, tmp_path, how, defence):
    import nbgrader

    inside = str(Path(nbgrader.__file__).parent)  # in the interpreter's site-packages, which the sandbox shows
    with sandbox(view, tmp_path, how, hide=(inside,)) as run:
        found = run(f"report(listing=os.listdir({inside!r}), writable=os.access({inside!r}, os.W_OK))")
    assert found["listing"] == [] and not found["writable"]
    assert defence in found["_achieved"]


@pytest.mark.skipif(not ROOT, reason="the uid change is what root does; without root the user's own uid is kept")
@probes("unprivileged-uid", "no-new-privileges")
def test_an_unprivileged_uid_without_capabilities_or_new_privileges(view, tmp_path, how, defence):
    with sandbox(view, tmp_path, how) as run:
        found = run("""
            status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
            report(uid=os.getuid(), euid=os.geteuid(), groups=os.getgroups(), caps=status["CapEff"].strip(),
                   nnp=status["NoNewPrivs"].strip())
        """)
    assert found["uid"] == found["euid"] and found["uid"] in UID_RANGE and found["groups"] == []
    assert int(found["caps"], 16) == 0 and found["nnp"] == "1"
    assert defence in found["_achieved"]


@probes("limits")
def test_memory_and_processes_are_bounded(view, tmp_path, how, defence):
    with sandbox(view, tmp_path, how, memory=1 << 30, nproc=16) as run:
        found = run("""
            try:
                blob = bytearray(2 << 30)
                memory = "allocated"
            except MemoryError:
                memory = "MemoryError"
            children, refused = [], ""
            for _ in range(40):
                try:
                    pid = os.fork()
                except OSError as e:
                    refused = type(e).__name__
                    break
                if pid == 0:
                    import time
                    time.sleep(5)
                    os._exit(0)
                children.append(pid)
            report(memory=memory, forked=len(children), refused=refused)
        """)
    assert found["memory"] == "MemoryError" and found["refused"] == "BlockingIOError" and found["forked"] < 16
    assert defence in found["_achieved"]


@probes("clean-environment")
def test_none_of_the_graders_environment_gets_in(view, tmp_path, monkeypatch, how, defence):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-secret")
    monkeypatch.setenv("TCPCLOSE_COURSE", str(REPO / "course"))
    with sandbox(view, tmp_path, how) as run:
        found = run("report(env=dict(os.environ))")
    assert "hub-secret" not in str(found["env"]) and str(REPO / "course") not in str(found["env"])
    assert found["env"]["PYTHONHASHSEED"] == "0" and found["env"]["HOME"] == HOME
    assert defence in found["_achieved"]


@probes("pipes-only")
def test_only_the_two_pipes_are_open_and_a_planted_link_is_never_followed(view, tmp_path, how, defence):
    secret = tmp_path / "root-only.txt"
    secret.write_text("root's secret")
    secret.chmod(0o600)
    with sandbox(view, tmp_path, how) as run:
        first = run(f"""
            os.symlink({str(secret)!r}, "connection.json")  # what the old launcher read back as root
            os.symlink({str(secret)!r}, ".sandbox.json")
            report(fds=sorted(int(f) for f in os.listdir("/proc/self/fd")))
        """)
        second = run("report(home=sorted(os.listdir('.')))")
    assert set(first["fds"]) <= {0, 1, 2, 3, 4, 5}  # 5: the listing itself
    assert second["home"] == [] and secret.read_text() == "root's secret"
    assert defence in first["_achieved"]


def test_a_sandbox_that_cannot_hold_its_defences_refuses_to_start(view, tmp_path):
    if not ROOT:
        pytest.skip("required sandboxes are what root's batches use")
    from autograder.sandbox import SandboxError

    with claim_uid() as uid:
        policy = SandboxPolicy(view=str(tmp_path / "no-such-view"), scratch=str(tmp_path), uid=uid, required=True)
        with pytest.raises(SandboxError, match="could not apply minimal-root"):
            start(policy, [sys.executable, "-c", "pass"])
        with pytest.raises(SandboxError, match="fork server could not start: minimal-root"):
            Zygote(policy)


def test_without_root_a_user_namespace_gives_the_same_isolation(view, tmp_path):
    """What a learner's `tcpclose check` gets without root: run the probe as an unprivileged user."""
    if not ROOT:
        pytest.skip("this test switches to an unprivileged user, which needs root")
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="tcpclose-nobody-"))  # pytest's own tmp is closed to other users
    top.chmod(0o755)
    shared = shutil.copytree(view, top / "view")
    scratch = top / "scratch"
    scratch.mkdir()
    os.chown(scratch, 65534, 65534)
    view = shared
    code = f"""
import sys, time
sys.path.insert(0, {str(REPO)!r})
from autograder.sandbox import SandboxPolicy, start
c = start(SandboxPolicy(view={str(view)!r}, scratch={str(scratch)!r}, python=sys.executable), [sys.executable, "-P", "-s", "-c",
          "import os, json, struct; d = json.dumps(sorted(os.listdir('/'))).encode(); os.write(4, struct.pack('>I', len(d)) + d)"])
print(repr((sorted(c.achieved), sorted(c.missing), c.channel.recv(time.monotonic() + 20))))
"""
    # An interpreter the unprivileged user may run (a pyenv one under /root is not); the launcher needs
    # only the standard library and this repository.
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c", code],
                         capture_output=True, text=True, timeout=60, cwd="/")  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    shutil.rmtree(top, ignore_errors=True)
    achieved, missing, root = eval(out.stdout)  # noqa: S307 - our own program's printed lists
    if "user-namespace" in achieved:
        assert {"no-network", "private-pids", "minimal-root", "private-tmp", "private-proc"} <= set(achieved)
        assert "course" not in root and "root" not in achieved
    else:  # the host forbids user namespaces: the rest is reported missing, never silently skipped
        assert "minimal-root" in missing and "limits" in achieved


@pytest.mark.parametrize("gid", [65534, 100], ids=["gid-as-uid", "gid-not-uid"])
def test_without_root_a_forked_child_holds_no_capability_and_sees_nothing_of_the_server(view, tmp_path, gid):
    """In a user namespace the fork server is root there and a forked child never execs: it must drop
    every capability itself, or learner code could remount the shared root or uncover the server's /proc.
    A user whose group is not its uid (a hub's students) gets every defence too: its home's tmpfs was
    given gid=uid, which the namespace does not map (EINVAL), and private-tmp went missing."""
    if not ROOT:
        pytest.skip("this test switches to an unprivileged user, which needs root")
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="tcpclose-nobody-"))
    top.chmod(0o755)
    shared = shutil.copytree(view, top / "view")
    scratch = top / "scratch"
    scratch.mkdir()
    os.chown(scratch, 65534, 65534)
    probe = PRELUDE + textwrap.dedent("""
        import ctypes
        status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
        libc = ctypes.CDLL(None, use_errno=True)
        remount = libc.mount(b"none", b"/", None, 32, None)  # MS_REMOUNT, read-write
        unmount = libc.umount2(b"/proc", 2)
        report(caps=status["CapEff"].strip(), pid=os.getpid(), remount=remount, unmount=unmount,
               root_writable=os.access("/", os.W_OK), procs=len([p for p in os.listdir("/proc") if p.isdigit()]))
    """)
    code = f"""
import sys, time
sys.path.insert(0, {str(REPO)!r})
from autograder.sandbox import SandboxPolicy, Zygote
policy = SandboxPolicy(view={str(shared)!r}, scratch={str(scratch)!r}, python=sys.executable)
server = Zygote(policy)
c = server.spawn(policy, code={probe!r})
print(repr((sorted(c.achieved), c.channel.recv(time.monotonic() + 20))))
server.close()
"""
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    out = subprocess.run(["setpriv", "--reuid=65534", f"--regid={gid}", "--clear-groups", python, "-c", code],
                         capture_output=True, text=True, timeout=60, cwd="/")  # fmt: skip
    shutil.rmtree(top, ignore_errors=True)
    if "fork server could not start" in out.stderr:  # the host forbids user namespaces: the launcher takes over
        pytest.skip("no unprivileged user namespaces on this host (the launcher path is probed above)")
    assert out.returncode == 0, out.stderr[-2000:]
    achieved, found = eval(out.stdout)  # noqa: S307 - our own program's printed values
    assert {"user-namespace", "no-network", "private-pids", "minimal-root", "private-tmp", "private-proc"} <= set(
        achieved
    )
    assert int(found["caps"], 16) == 0 and found["remount"] != 0 and found["unmount"] != 0, found
    assert found["pid"] == 1 and found["procs"] <= 3 and not found["root_writable"], found
