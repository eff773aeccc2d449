"""Notebook 07's loopback harness and socket checks: the experiments measure what the notebook says,
the checks judge from the grader's own ends of the connections, and sockets reach the grading
sandbox as descriptors (SCM_RIGHTS over the runner's request socket), where nothing the learner's
code reports about itself can score.

The course test (tests/course/test_course.py) grades the solution, the blank release and the bugs
of tests/course/bugs/07_production.py through `tcpclose grade`; this file holds the parts below it.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from autograder import production
from autograder.production_checks import CASES, local_caller, lookup, run_sockets
from autograder.runner.channel import Channel
from autograder.sandbox.confined import requests_pair

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="loopback experiments need Linux")

SOLUTION = textwrap.dedent("""
    import socket, time

    def open_listener(sock, port):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()

    def on_readable(server, conn):
        try:
            data = conn.recv(4096)
        except ConnectionResetError:
            data = b""
        if data:
            conn.sendall(data.upper())
        else:
            conn.close()

    def lingering_close(sock, deadline):
        sock.shutdown(socket.SHUT_WR)
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                if not sock.recv(65536):
                    break
            except OSError:
                break
        sock.close()

    def request_all(sock, request):
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        sock.close()
        return b"".join(chunks)
""")
VISIBLE = ("a restart while the port has a TIME_WAIT of the old server",
           "ten clients: four ask and half-close, four leave at once, two reset",
           "a client that reads the response and then closes", "a short request, a short response")  # fmt: skip


def namespace(source: str) -> dict:
    ns: dict = {}
    exec(compile(source, "<answers>", "exec"), ns)  # noqa: S102 - the test's own answers
    return ns


# ---- the experiments measure what the notebook says ------------------------------------------------


def test_the_side_that_closes_first_pays_the_time_wait():
    client = production.who_pays_time_wait("client", connections=20)
    server = production.who_pays_time_wait("server", connections=20)
    assert (client.time_wait_at_clients, client.time_wait_at_server) == (20, 0)
    assert (server.time_wait_at_clients, server.time_wait_at_server) == (0, 20)


def test_a_four_port_range_runs_out_after_four_client_closes():
    r = production.exhaust_ports(size=4, wait=0.0)
    assert r.opened == 4 and r.error == "EADDRNOTAVAIL" and r.time_wait == 4, r
    assert r.how in ("IP_LOCAL_PORT_RANGE", "bind")


def test_close_with_unread_data_resets_and_the_lingering_close_does_not():
    plain = production.reset_problem()
    assert plain.ended_by == "ECONNRESET" and plain.received < plain.sent, plain
    ns = namespace(SOLUTION)
    import time

    lingered = production.reset_problem(lambda s: ns["lingering_close"](s, time.monotonic() + 1.0))
    assert (lingered.received, lingered.ended_by) == (lingered.sent, "EOF"), lingered


def test_a_port_left_by_a_server_that_closed_first_holds_a_time_wait():
    port = production.leave_time_wait()
    assert production.port_states(port).get("TIME_WAIT", 0) >= 1
    s = socket.socket()
    with pytest.raises(OSError, match="in use"):
        s.bind(("127.0.0.1", port))
    s.close()


# ---- the checks, in this process ---------------------------------------------------------------------


def test_the_solution_passes_every_case_in_process():
    ns = namespace(SOLUTION)
    lookup("a client that keeps sending while it reads")  # the hidden cases register themselves
    assert len(CASES) == 11
    outcome = run_sockets(tuple(CASES), ns, "all")
    assert outcome.passed == outcome.total, outcome.message()


def test_a_stub_fails_with_not_implemented_and_a_missing_function_is_named():
    stub = namespace("def request_all(sock, request):\n    raise NotImplementedError()\n")
    outcome = run_sockets(("a short request, a short response",), stub, "t")
    assert "raised NotImplementedError" in outcome.message()
    outcome = run_sockets(("a short request, a short response",), {}, "t")
    assert "needs your function request_all" in outcome.message()


def test_a_hang_costs_the_call_its_timeout_only():
    hang = namespace("import time\ndef open_listener(sock, port):\n    time.sleep(5)\n")
    outcome = local_caller(hang)("listener", [socket.socket()], {"port": 1}, 0.3)
    assert outcome["refused"] == "timeout"


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace per case needs root (grading servers, CI)")
def test_a_socket_handed_to_the_learner_reaches_nothing_outside_its_case():
    """As root each case runs in a network namespace of its own: the fresh socket open_listener gets
    cannot be connected to a service on the grading host's loopback instead."""
    host = production.listener()
    port = host.getsockname()[1]
    sneaky = namespace(f"def open_listener(sock, port):\n    sock.connect(('127.0.0.1', {port}))\n")
    try:
        outcome = run_sockets(("a restart while the port has a TIME_WAIT of the old server",), sneaky, "t")
        assert "ConnectionRefusedError" in outcome.message(), outcome.message()
        host.settimeout(0.2)
        with pytest.raises(TimeoutError):
            host.accept()
    finally:
        host.close()


# ---- descriptors into the sandbox ----------------------------------------------------------------------


def test_a_request_carries_descriptors_that_share_the_connection():
    theirs, ours = requests_pair()
    back_r, back_w = os.pipe()
    grader, runner = Channel(back_r, ours), Channel(theirs, back_w)
    client, conn = production.connected_pair()
    try:
        grader.send_with_fds({"op": "sockets", "fds": 1}, [conn.fileno()])
        conn.close()  # handed over: the runner's copy is now the only one
        assert runner.recv(deadline=None) == {"op": "sockets", "fds": 1}
        (fd,) = runner.take_fds(1)
        passed = socket.socket(fileno=fd)
        passed.sendall(b"through the sandbox")
        passed.close()
        client.settimeout(2)
        assert client.recv(100) == b"through the sandbox" and client.recv(1) == b""  # its close is the close
        with pytest.raises(OSError):
            os.write(theirs, b"x")  # one-way, like the pipe it replaces
    finally:
        client.close()
        grader.close()
        runner.close()


@pytest.fixture(scope="module")
def session():
    """A runner in the real grading sandbox (the launcher), with the solution's cells run."""
    from autograder.pipeline.remote import RunnerSession
    from autograder.pipeline.remote_records import RunnerLimits
    from autograder.pipeline.renumber import Renumbering
    from autograder.pipeline.view import grading_view
    from autograder.sandbox import SandboxPolicy, claim_uid

    tmp = Path(tempfile.mkdtemp(prefix="tcpclose-production-"))
    view = grading_view(tmp / "view")
    for p in [view, *view.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    root = os.geteuid() == 0
    with claim_uid() if root else _nothing() as uid:

        def policy():
            scratch = Path(tempfile.mkdtemp(dir=tmp))
            scratch.chmod(0o755)
            return SandboxPolicy(view=str(view), scratch=str(scratch), uid=uid, required=root)

        s = RunnerSession(policy, (), RunnerLimits(), Renumbering.from_key(b"test"))
        yield s
        s.close()


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_in_the_grading_sandbox_the_solution_passes_and_a_forged_driver_scores_nothing(session):
    ran = session.run(0, "from autograder import production\n" + SOLUTION)
    assert ran.status == "ok", ran
    machine, _ = session.test(1, "test_sockets")
    outcome = run_sockets(VISIBLE, machine, "visible")
    assert outcome.passed == outcome.total, outcome.message()
    # The drivers run beside the learner's code, so it can replace them: a forged driver that
    # reports success while doing nothing reaches no byte of the response to the grader's client.
    forged = textwrap.dedent("""
        import hashlib
        production.DRIVERS["linger"] = lambda ns, socks, args: {"ok": True}
        production.DRIVERS["request"] = lambda ns, socks, args: {"sha256": hashlib.sha256(b"").hexdigest(), "length": 0}
    """)
    assert session.run(2, forged).status == "ok"
    machine, _ = session.test(3, "test_sockets")
    outcome = run_sockets(("a client that reads the response and then closes", "a short request, a short response"),
                          machine, "forged")  # fmt: skip
    assert outcome.passed == 0, outcome.message()
    assert ("socket-network" in session.sandbox["missing"]) == (os.geteuid() != 0)


def test_without_root_the_shared_network_of_the_socket_cases_is_a_missing_defence(session, monkeypatch):
    """Only root gives each case a network of its own (production_calls.isolated); elsewhere a socket
    handed to the submission could be connected to the grader's network, and the result says so."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    session.run(0, "from autograder import production\n" + SOLUTION)
    machine, _ = session.test(1, "test_sockets")
    run_sockets(VISIBLE[:1], machine, "visible")
    assert "connected elsewhere" in session.sandbox["missing"]["socket-network"]


def test_a_request_cut_short_by_one_send_is_named():
    """An independent learner's single send() passed: the server answered whatever arrived before the FIN."""
    one_send = SOLUTION.replace("sock.sendall(request)", "sock.send(request)")
    assert one_send != SOLUTION
    lookup("a client that keeps sending while it reads")
    outcome = run_sockets(("a 300 KiB request through a 32 KiB send buffer to a server that reads 100 ms late",),
                          namespace(one_send), "t")  # fmt: skip
    assert outcome.passed == 0 and re.search(r"received [\d,]+ of 307,200 bytes", outcome.message()), outcome.message()
    assert "sendall()" in outcome.message()
