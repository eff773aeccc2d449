"""Notebook 07's socket checks: the grader makes the connections, the learner's code gets one end.

Why this shape: a socket exercise cannot be graded by asking the learner's code what happened,
because that code (and the driver beside it) runs where the learner controls everything. So each
case here makes real loopback connections in *this* process (the trusted grader, or the notebook's
kernel for the visible checks), hands the learner's function one end of each, and judges only
what the other end sees: every byte of a response and a clean EOF rather than a reset, the
bytes and the FIN that reached a server, a port another socket cannot bind, and the states
/proc/net/tcp reports for this network namespace (CLOSE_WAIT left behind). Under grading the
ends are passed into the sandbox as descriptors (autograder.runner.sockets) and this side closes
its copies, so the learner's code really owns the connection (a close there is a close).

A case is a function (caller) -> (passed, message). `caller(driver, socks, args, timeout)` runs
`autograder.production_drivers.DRIVERS[driver]` with the learner's function and answers {"value": dict}
or {"refused": kind, "sentence": str}. The visible cases are here; the hidden ones (a client that
never closes, a client that keeps sending, a hundred clients, a shared port) are in
autograder.production_hidden, which only the instructor's package holds.
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
import time
from collections.abc import Callable

from . import production, production_drivers
from .checks.results import Case, CheckOutcome
from .harness import machine_from_namespace
from .production_calls import (
    Caller,
    caller_for,
    isolated,
    local_caller,  # noqa: F401 - notebook 07 imports it from here
    refused,
)
from .production_peer import Reader, answer_after_fin, connect_clients, describe_arrival, what_follows

CASES: dict[str, tuple[str, Callable[[Caller], tuple[bool, str]]]] = {}  # name -> (function it tests, case)
FUNCTIONS = {"listener": "open_listener", "server": "on_readable", "linger": "lingering_close",
             "request": "request_all"}  # fmt: skip


def case(name: str, driver: str):
    def register(fn):
        CASES[name] = (driver, fn)
        return fn

    return register


def lookup(name: str) -> tuple[str, Callable[[Caller], tuple[bool, str]]]:
    if name not in CASES:
        try:
            from . import production_hidden  # noqa: F401 - registers the hidden cases
        except ImportError:
            pass
    if name not in CASES:
        raise LookupError(f"no socket case {name!r} in this environment (the hidden ones are the grader's)")
    return CASES[name]


def run_sockets(names: tuple[str, ...], handlers: object, title: str) -> CheckOutcome:
    """A manifest's socket check: each named case once, partial credit per case."""
    machine = machine_from_namespace(handlers)
    caller = caller_for(machine)
    cases = []
    for name in names:
        driver, fn = lookup(name)
        try:
            passed, message = isolated(fn, caller)
        except production_drivers.Missing as e:
            passed, message = False, f"your {FUNCTIONS[driver]} {e}"
        except OSError as e:  # the check's own sockets: the machine, not the learner
            passed, message = False, f"the check could not set up its connections ({e})"
        cases.append(Case(name, passed, "" if passed else f"{name}: {message}"))
    return CheckOutcome(title, cases)


# ---- the visible cases ------------------------------------------------------------------------


def lingering(caller: Caller, *, unread: int, size: int, deadline: float, client: str) -> tuple[bool, str]:
    """One HTTP exchange whose request carries `unread` bytes the server never reads; the client
    is "polite" (reads to EOF, then closes), "never-closes" or "keeps-sending"."""
    client_sock, conn = production.connected_pair()
    request = b"GET /big HTTP/1.1\r\nHost: loopback\r\n\r\n" + b"p" * unread
    client_sock.sendall(request)
    seed = int.from_bytes(os.urandom(4), "big")
    expected = production_drivers.pattern(seed, size)
    reader = Reader(client_sock, seconds=deadline + 2.0, delay=0.1, close_at_eof=client == "polite")
    stop = threading.Event()
    if client == "keeps-sending":

        def keep_sending() -> None:
            try:
                while not stop.is_set():
                    client_sock.sendall(b"k" * 1024)
                    time.sleep(0.005)
            except OSError:
                pass

        threading.Thread(target=keep_sending, daemon=True).start()
    hand = [conn]
    del conn
    started = time.monotonic()
    answer = caller("linger", hand, {"seed": seed, "size": size, "deadline": deadline}, deadline + 1.5)
    took = time.monotonic() - started
    reader.join(deadline + 2.5)
    stop.set()
    problem = refused(answer, "lingering_close")
    arrival = describe_arrival(reader, expected)
    client_sock.close()
    if problem:
        return False, problem + (f"; {arrival}" if arrival else "")
    if arrival:
        return False, arrival
    if took > deadline + 1.0:
        return False, f"your lingering_close returned {took - deadline:.1f} s after its deadline"
    return True, ""


@case("a client that reads the response and then closes", "linger")
def _linger_polite(caller: Caller) -> tuple[bool, str]:
    return lingering(caller, unread=1000, size=2 << 20, deadline=1.0, client="polite")


def restart(caller: Caller, *, time_waits: int) -> tuple[bool, str]:
    """The port has `time_waits` TIME_WAIT sockets of an earlier server (0: a fresh port); the
    learner's open_listener(sock, port) must make a fresh socket listen there."""
    port = production.leave_time_wait()
    for _ in range(time_waits - 1):
        production.leave_time_wait(port)
    found = production.port_states(port).get("TIME_WAIT", 0)
    if time_waits and not found:
        return False, f"the check could not leave a TIME_WAIT on port {port} (this kernel shows none)"
    sock = socket.socket()
    mine = sock.dup()  # this side's view of the same socket: where it listens, with which options
    try:
        hand = [sock]
        del sock
        answer = caller("listener", hand, {"port": port}, 1.0)
        problem = refused(answer, "open_listener")
        if problem:
            hint = (
                " (the port still has a TIME_WAIT: see SO_REUSEADDR)"
                if "EADDRINUSE" in problem or "in use" in problem
                else ""
            )
            return False, problem + hint
        return _listens_plainly(mine, port)
    finally:
        mine.close()


def _listens_plainly(mine: socket.socket, port: int) -> tuple[bool, str]:
    """The learner's socket listens on loopback's `port` without SO_LINGER, and accepts a connection."""
    if mine.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) != 1 or mine.getsockname()[1] != port:
        return False, f"after your open_listener the socket does not listen on 127.0.0.1:{port}"
    if mine.getsockname()[0] not in (production.LOOPBACK, "0.0.0.0"):
        return False, f"your open_listener bound {mine.getsockname()[0]}, not 127.0.0.1"
    onoff, linger = struct.unpack("ii", mine.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
    if onoff:
        return False, (
            f"your open_listener sets SO_LINGER ({linger} s): every connection it accepts would "
            "then close with RST (linger 0) or block in close(); a restart needs SO_REUSEADDR only"
        )
    client = socket.create_connection(("127.0.0.1", port), timeout=1)
    mine.settimeout(1)
    conn, _ = mine.accept()
    conn.close()
    client.close()
    return True, ""


@case("a restart while the port has a TIME_WAIT of the old server", "listener")
def _restart_time_wait(caller: Caller) -> tuple[bool, str]:
    return restart(caller, time_waits=1)


def serve_clients(caller: Caller, *, asking: int, leaving: int, resetting: int = 0,
                  seconds: float = 0.5) -> tuple[bool, str]:  # fmt: skip
    """`asking` clients send a line and half-close (they wait for the answer); `leaving` clients
    connect and close at once; `resetting` clients abort (a RST). After on_readable has served them:
    every asking client has its answer (the line in upper case) and an EOF, no server-side socket of
    the port is left in CLOSE_WAIT or ESTABLISHED, and every descriptor was given back (a reset
    connection shows in neither state: only the server's side knows it kept the descriptor)."""
    lst = production.listener(asking + leaving + 8)
    port = lst.getsockname()[1]
    clients: list = []
    hand: list = []
    ports: set = set()
    try:
        connect_clients(lst, asking, leaving, clients, hand, ports, resetting)
        answer = caller("server", hand, {"seconds": seconds}, seconds + 1.5)
        problem = refused(answer, "on_readable")
        readers = [(Reader(c, 1.0), want) for c, want in clients if want is not None]
        for r, _ in readers:
            r.join(1.5)
        time.sleep(0.02)
        # Only this case's connections: a port number is reused, and an earlier case's leaks may still be open.
        states = production.port_states(port, peers=ports)
        left = {s: n for s, n in states.items() if s in ("CLOSE_WAIT", "ESTABLISHED")}
        if problem:
            return False, problem
        kept = answer["value"].get("open", 0) if resetting else 0
        if not left and isinstance(kept, int) and kept > 0:
            return False, (
                f"on_readable left {kept} of its {asking + leaving + resetting} connections open after their "
                f"clients had gone ({resetting} of them reset the connection: recv raises ConnectionResetError, "
                "and the connection must still be closed, or its descriptor is never given back)"
            )
        return _all_served(readers, left, asking + leaving + resetting)
    finally:
        lst.close()
        for c, _ in clients:
            c.close()


def _all_served(readers: list, left: dict, total: int) -> tuple[bool, str]:
    """Every asking client got its answer and an EOF, and the server holds no socket it never closed."""
    wrong = [(r, want) for r, want in readers if bytes(r.data) != want or r.ended != "EOF"]
    if left:
        what = ", ".join(f"{n} in {s}" for s, n in sorted(left.items()))
        return False, (
            f"after {total} clients the server still holds {what} (sockets it never "
            "closed: the peer said goodbye, and on_readable did not close on that path)"
        )
    if wrong:
        r, want = wrong[0]
        return False, (
            f"{len(wrong)} of {len(readers)} clients that asked did not get their answer and an EOF "
            f"(one sent {want.lower()!r}, got {bytes(r.data)[:60]!r}, then {r.ended})"
        )
    return True, ""


@case("ten clients: four ask and half-close, four leave at once, two reset", "server")
def _server_ten(caller: Caller) -> tuple[bool, str]:
    return serve_clients(caller, asking=4, leaving=4, resetting=2)


def half_close(caller: Caller, *, request_size: int, response_size: int, late: float = 0.0,
               sndbuf: int = 0) -> tuple[bool, str]:  # fmt: skip
    """The learner's request_all(sock, request) talks to a server that answers only once the
    request has ended (the client's FIN) and then closes. The server here checks it got the whole
    request and the FIN, makes up a response nobody could know before, and after the call sees
    whether the client read it all (a client that closes with unread data resets: ECONNRESET)."""
    lst = production.listener()
    client, conn = production.connected_pair(lst)
    lst.close()
    request = os.urandom(request_size)
    seen: dict = {}
    server = threading.Thread(target=answer_after_fin, args=(conn, response_size, seen, late), daemon=True)
    server.start()
    hand = [client]
    del client
    answer = caller("request", hand, {"request": request.hex(), "timeout": 1.5, "sndbuf": sndbuf}, 2.0)
    server.join(2.5)
    after = what_follows(conn)
    return _whole_exchange(refused(answer, "request_all"), answer, request, seen, after)


def _whole_exchange(problem: str | None, answer: dict, request: bytes, seen: dict, after: str) -> tuple[bool, str]:
    """The request arrived whole with its FIN, request_all returned the whole response, and no reset."""
    if seen.get("request") is not None and seen["request"] != request[: len(seen["request"])]:
        return False, "the server received bytes that are not your request"
    if "response" not in seen:
        got = len(seen.get("request", b""))
        why = (f"the server received {got:,} of {len(request):,} bytes of the request and never its end (no FIN): "
               "it answers only once the request has ended") if got < len(request) or "error" in seen else \
              "the server never saw the request end"  # fmt: skip
        return False, (problem + "; " if problem else "") + why
    if problem:
        return False, problem
    if len(seen.get("request", b"")) != len(request):  # the FIN came early: the request was cut short
        return False, (f"the server received {len(seen.get('request', b'')):,} of {len(request):,} bytes of the "
                       "request, then its end (FIN): one send() may send less than it is given (it returns how "
                       "much); sendall() sends it all")  # fmt: skip
    value = answer["value"]
    if value.get("sha256") != hashlib.sha256(seen["response"]).hexdigest():
        n = value.get("length")
        what = f"{n:,} bytes" if isinstance(n, int) else f"a {value.get('type', 'non-bytes')} value"
        return False, f"your request_all returned {what}, not the whole {len(seen['response']):,}-byte response"
    if after in ("ECONNRESET", "EPIPE"):
        return False, "the client closed with part of the response unread: the server saw a reset"
    if value.get("closed") is False:
        return False, (
            "your request_all returned the whole response but left the socket open: close it once "
            "the response is read (a client that makes many requests would run out of descriptors)"
        )
    return True, ""


@case("a short request, a short response", "request")
def _request_short(caller: Caller) -> tuple[bool, str]:
    return half_close(caller, request_size=64, response_size=64)
