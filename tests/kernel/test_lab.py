"""The learner lab: real loopback closes, watched through /proc/net/tcp, as an ordinary user."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.kernel.lab import LabUnavailable, observe_close

pytestmark = pytest.mark.kernel
REPO = Path(__file__).resolve().parents[2]
HOLD = 0.3


@pytest.mark.parametrize(
    "who, a_states, b_states",
    [
        ("client", ["ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"],
         ["ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]),
        ("server", ["ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"],
         ["ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]),
        ("both", ["ESTABLISHED", "FIN_WAIT_1", "CLOSING", "TIME_WAIT"],
         ["ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]),
    ],
)  # fmt: skip
def test_held_states_are_visible(who, a_states, b_states):
    obs = observe_close(who, hold=HOLD, gap=0.1, after=0.1)
    assert (obs.states("A"), obs.states("B")) == (a_states, b_states), str(obs)
    held = [r for r in obs.rows if r.state in ("FIN_WAIT_1", "LAST_ACK", "CLOSING")]
    assert held, str(obs)


def test_held_fin_wait_1_lasts_about_the_hold():
    obs = observe_close("client", hold=HOLD, gap=0.05, after=0.05)
    rows = [r for r in obs.rows if r.endpoint == "A"]
    start = next(r.time for r in rows if r.state == "FIN_WAIT_1")
    end = next(r.time for r in rows if r.state == "FIN_WAIT_2")
    assert HOLD * 0.8 <= end - start <= HOLD + 0.2, str(obs)


def test_without_hold_the_closer_still_ends_in_time_wait():
    obs = observe_close("client", hold=0, gap=0.05, after=0.05)
    assert obs.states("A")[-1] == "TIME_WAIT" and obs.states("B")[-1] == "CLOSED", str(obs)
    assert list(obs.to_frame().columns) == ["time", "endpoint", "state"]


def test_missing_proc_file_is_a_clear_error(tmp_path):
    with pytest.raises(LabUnavailable, match=r"does not exist.*needs\s+Linux with /proc"):
        observe_close("client", proc_path=str(tmp_path / "net" / "tcp"))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="who_closes must be one of client, server, both"):
        observe_close("nobody")
    with pytest.raises(ValueError, match="hold must be between 0 and 10"):
        observe_close("client", hold=99)


def _unprivileged_python() -> list[str] | None:
    """A command prefix running an interpreter as user nobody, or None if there is none."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    for py in dict.fromkeys([sys.executable, "/usr/bin/python3"]):
        cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "env", "-i",
               "PATH=/usr/bin:/bin", "HOME=/tmp", f"PYTHONPATH={REPO}", py]  # fmt: skip
        ok = subprocess.run([*cmd, "-c", "import sys; assert sys.version_info >= (3, 11)"],
                            capture_output=True, timeout=30)  # fmt: skip
        if ok.returncode == 0:
            return cmd
    return None


def test_works_as_an_unprivileged_user():
    if os.geteuid() != 0:
        obs = observe_close("client", hold=HOLD, gap=0.05, after=0.05)
        assert "FIN_WAIT_1" in obs.states("A")
        return
    cmd = _unprivileged_python()
    if cmd is None:
        pytest.skip("no Python 3.11 that user nobody may run (and no setpriv)")
    code = ("import os; from autograder.kernel.lab import observe_close; "
            "o = observe_close('client', hold=0.3, gap=0.05, after=0.05); "
            "print(os.geteuid(), ' '.join(o.states('A')))")  # fmt: skip
    r = subprocess.run([*cmd, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["65534", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"], r.stdout
