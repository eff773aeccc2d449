"""tcpclose, run as a user runs it: in a subprocess, reading stdout, stderr and the exit code."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest


def tcpclose(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder.cli", *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


def test_scenarios_lists_names_with_descriptions():
    out = tcpclose("scenarios")
    assert out.returncode == 0
    assert any(line.startswith("simultaneous-close ") and "CLOSING" in line for line in out.stdout.splitlines())


def test_simulate_simultaneous_close_csv():
    out = tcpclose("simulate", "simultaneous-close", "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    for ep in "AB":
        changes = [
            (r["state_before"], r["state_after"])
            for r in rows
            if r["endpoint"] == ep and r["state_before"] != r["state_after"]
        ]
        assert changes == [
            ("ESTABLISHED", "FIN_WAIT_1"),
            ("FIN_WAIT_1", "CLOSING"),
            ("CLOSING", "TIME_WAIT"),
            ("TIME_WAIT", "CLOSED"),
        ]


def test_simulate_linux_json_with_extra_loss():
    out = tcpclose("simulate", "active-close", "--profile", "linux", "--format", "json", "--lose", "A2")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["profile"] == "linux" and doc["scenario"] == "active-close+lose:A2"
    assert [r["fate"] for r in doc["rows"] if r["event"] == "send" and r["endpoint"] == "A"][1] == "lost"


def test_simulate_table_is_readable():
    out = tcpclose("simulate", "lost-final-ack")
    assert out.returncode == 0 and "FIN_WAIT_1 → FIN_WAIT_2" in out.stdout and "[lost]" in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("simulate", "simultanous-close"), "did you mean 'simultaneous-close'"),
        (("simulate", "active-close", "--profile", "bsd"), "invalid choice: 'bsd'"),
        (("simulate", "active-close", "--lose", "Q1"), "'Q1' is not a segment name"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
        ((), "required"),
        (("run", "/nonexistent.script"), "cannot read the script"),
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(args, message):
    out = tcpclose(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_run_script_ok_and_failed_expectation(tmp_path):
    good = tmp_path / "good.script"
    good.write_text("0 A close\n+50ms B close\nexpect end A CLOSED\n")
    out = tcpclose("run", str(good), "--format", "csv")
    assert out.returncode == 0 and "1 expectations met" in out.stderr
    bad = tmp_path / "bad.script"
    bad.write_text("0 A close\nexpect end A TIME_WAIT\n")
    out = tcpclose("run", str(bad))
    assert out.returncode == 1
    assert f"{bad}:2: expected A in TIME_WAIT at the end, but it was FIN_WAIT_2" in out.stderr


def test_run_and_simulate_warn_of_a_fate_no_segment_meets(tmp_path):
    script = tmp_path / "miscount.script"
    script.write_text("0 A close\n+50ms B close\nlose A7\nexpect end A CLOSED\n")
    out = tcpclose("run", str(script))
    assert out.returncode == 0
    assert f"warning: {script}:3: lose A7 never happened: A sent 2 segments in this run" in out.stderr
    out = tcpclose("simulate", "active-close", "--lose", "B4")
    assert out.returncode == 0 and "warning: --lose B4 never happened: B sent 2 segments in this run" in out.stderr


def test_a_crafted_segment_that_cannot_be_placed_names_its_line(tmp_path):
    script = tmp_path / "ts.script"
    script.write_text("profile linux\n0 A receives ACK seq=RCV.NXT ack=SND.NXT tsval=TS.RECENT+5\n")
    out = tcpclose("run", str(script))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"error: {script}:2:14: TS.RECENT is not known yet: no segment with a timestamp")


def test_run_bad_script_exit_2_with_location(tmp_path):
    bad = tmp_path / "typo.script"
    bad.write_text("0 A close\n+1s B shutdwn\n")
    out = tcpclose("run", str(bad))
    assert out.returncode == 2
    assert (
        out.stderr.strip()
        == f"error: {bad}:2:7: unknown call 'shutdwn'; use one of: close, shutdown, abort, write, read, reopen, receives"
    )


def test_run_binary_file_is_bad_input(tmp_path):
    blob = tmp_path / "blob.script"
    blob.write_bytes(b"\xff\xfe\x00garbage")
    out = tcpclose("run", str(blob))
    assert out.returncode == 2 and "cannot read the script" in out.stderr


def test_run_delay_longer_than_msl_is_bad_input(tmp_path):
    script = tmp_path / "ancient.script"
    script.write_text("0 A close\ndelay A1 200s\n")
    out = tcpclose("run", str(script))
    assert out.returncode == 2
    assert "segment A1 would spend 200.01 s in the network, longer than the MSL of 120 s" in out.stderr
    script.write_text("channel delay 121s\n0 A close\n")  # every segment, not one
    out = tcpclose("run", str(script))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{script}: a one-way delay of 121 s keeps every segment in the network longer than the MSL" in out.stderr


def test_simulate_with_a_profile_option_changed():
    out = tcpclose("simulate", "lost-final-ack", "--set", "time_wait=0", "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    last_b = [r for r in rows if r["endpoint"] == "B" and r["event"] == "recv"][-1]
    assert (last_b["flags"], last_b["state_after"]) == ("RST", "CLOSED")  # the peer is reset
    for bad, message in (
        ("tw=0", "unknown profile option 'tw'"),
        ("time_wait", "takes NAME=VALUE"),
        ("rfc1337=maybe", "takes on or off"),
    ):
        out = tcpclose("simulate", "active-close", "--set", bad)
        assert out.returncode == 2 and message in out.stderr
