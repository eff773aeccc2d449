"""Notebook 07's harness: real sockets on loopback, and the drivers that run a learner's socket code.

Everything here runs as an ordinary user, on 127.0.0.1, on ports the kernel picks (port 0), so
two runs never meet. Two kinds of thing live here:

- **Experiments** the notebook shows (ungraded): `who_pays_time_wait` counts, in /proc/net/tcp,
  the TIME_WAIT sockets left by a batch of connections when the client or the server closes
  first; `exhaust_ports` opens connections from a tiny local port range until connect() fails;
  `reset_problem` measures how much of a large response arrives when the server closes with
  request data still unread.
- **Drivers** (DRIVERS, in autograder.production_drivers): what a socket exercise runs around
  the learner's function, given sockets someone else made. In the notebook the checks make them
  in the kernel's own process; under grading the trusted side makes them in its own network
  namespace and passes them into the sandbox over the runner's request socket (SCM_RIGHTS,
  autograder.runner.sockets). Either way the score comes from what the other ends of those
  connections see (autograder.production_checks), never from what a driver returns, because a
  driver runs beside the learner's code and could be rewritten by it.
"""

from __future__ import annotations

import errno
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .kernel import procnet
from .production_drivers import DRIVERS, SERVER, Missing  # noqa: F401 - the notebook, the runner and its tests name them here

LOOPBACK = "127.0.0.1"
# This thread's network namespace (the checks may run a case in a namespace of its own: production_checks).
NET_TCP = "/proc/thread-self/net/tcp"
IP_LOCAL_PORT_RANGE = 51  # include/uapi/linux/in.h, Linux >= 6.3; Python's socket module does not name it yet


def listener(backlog: int = 128) -> socket.socket:
    """A listening socket on a fresh loopback port."""
    s = socket.socket()
    s.bind((LOOPBACK, 0))
    s.listen(backlog)
    return s


def connected_pair(server: socket.socket | None = None) -> tuple[socket.socket, socket.socket]:
    """(client, server end) of a new loopback connection (through `server`, or a listener of its own)."""
    own = server is None
    lst = listener() if own else server
    try:
        client = socket.create_connection(lst.getsockname(), timeout=2)
        conn, _ = lst.accept()
        return client, conn
    finally:
        if own:
            lst.close()


def port_states(port: int, *, peers: set[int] | None = None) -> dict[str, int]:
    """How many IPv4 TCP sockets of this network namespace have `port` as their local port (and,
    given `peers`, one of those as their remote port), by state, from /proc/net/tcp."""
    counts: dict[str, int] = {}
    for e in procnet.read(NET_TCP):
        if e.local[1] == port and (peers is None or e.remote[1] in peers):
            counts[e.state] = counts.get(e.state, 0) + 1
    return counts


def leave_time_wait(port: int | None = None) -> int:
    """A server on `port` (fresh if None) that accepts one connection and closes it first, then stops
    listening: the port is left with a TIME_WAIT socket, as a restarted server finds it. Returns the port."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((LOOPBACK, port or 0))
    s.listen()
    port = s.getsockname()[1]
    client, conn = connected_pair(s)
    conn.close()  # the server closes first: the TIME_WAIT is the server's, on its well-known port
    client.settimeout(2)
    client.recv(1)
    client.close()
    s.close()
    return port


# ---- experiments (ungraded) --------------------------------------------------------------------


@dataclass(frozen=True)
class WhoPays:
    closes_first: str  # "client" or "server"
    connections: int
    time_wait_at_server: int  # TIME_WAIT sockets whose local port is the server's
    time_wait_at_clients: int  # TIME_WAIT sockets whose local port is one of the clients'


def who_pays_time_wait(closes_first: str, connections: int = 50) -> WhoPays:
    """Open `connections` loopback connections to one server, close each from `closes_first`'s side
    first (the other side closes when it reads the EOF), and count TIME_WAIT in /proc/net/tcp."""
    if closes_first not in ("client", "server"):
        raise ValueError("closes_first is 'client' or 'server'")
    lst = listener()
    port = lst.getsockname()[1]
    clients = []
    for _ in range(connections):
        client, conn = connected_pair(lst)
        first, second = (client, conn) if closes_first == "client" else (conn, client)
        first.close()
        second.settimeout(2)
        second.recv(1)  # the EOF
        second.close()
        clients.append(client.getsockname()[1] if client.fileno() != -1 else None)
    lst.close()
    entries = procnet.read(NET_TCP)
    at_server = sum(1 for e in entries if e.state == "TIME_WAIT" and e.local[1] == port)
    at_clients = sum(1 for e in entries if e.state == "TIME_WAIT" and e.remote[1] == port)
    return WhoPays(closes_first, connections, at_server, at_clients)


@dataclass(frozen=True)
class Exhaustion:
    ports: tuple[int, int]  # the local port range used
    how: str  # "IP_LOCAL_PORT_RANGE" (Linux >= 6.3) or "bind" (each socket bound to a port of the range)
    opened: int  # connections that got a port
    error: str  # how the next connect() (or bind()) failed: EADDRNOTAVAIL / EADDRINUSE
    time_wait: int  # TIME_WAIT sockets the range holds when it ran out
    reused_after: float | None  # seconds until a port of the range worked again (None: not within `wait`)


def _free_range(size: int) -> tuple[int, int]:
    """`size` consecutive ports that nothing here uses, found by binding (then released)."""
    taken = {e.local[1] for e in procnet.read(NET_TCP)}
    for start in range(40000, 60000 - size, size + 7):
        if not any(p in taken for p in range(start, start + size)):
            return start, start + size - 1
    raise RuntimeError("no free port range found")


def exhaust_ports(size: int = 4, wait: float = 1.6) -> Exhaustion:
    """Connect to one server from a local port range of `size` ports, closing each connection from
    the client side first (so each port is left in TIME_WAIT), until the range runs out; then try
    again for up to `wait` seconds to see when Linux lets a TIME_WAIT port be reused
    (net.ipv4.tcp_tw_reuse: 2 = loopback only, the default, after tcp_tw_reuse_delay, 1 s)."""
    lst = listener()
    lo, hi = _free_range(size)
    clients = _RangeClients(lst.getsockname(), lo, hi)
    try:
        opened, error = _use_up(lst, clients, size)
        in_range = sum(1 for e in procnet.read(NET_TCP) if e.state == "TIME_WAIT" and lo <= e.local[1] <= hi)
        reused = _first_reuse(clients, wait) if error else None
        return Exhaustion((lo, hi), clients.how, opened, error, in_range, reused)
    finally:
        lst.close()


class _RangeClients:
    """Clients of one server from the local ports lo..hi: by IP_LOCAL_PORT_RANGE, or, where the
    kernel refuses it (before Linux 6.3), by binding the range's ports in order (`how` says which)."""

    def __init__(self, server: tuple, lo: int, hi: int) -> None:
        self.server, self.lo, self.hi = server, lo, hi
        self.how = "IP_LOCAL_PORT_RANGE"

    def connect(self) -> socket.socket:
        s = socket.socket()
        if self.how == "IP_LOCAL_PORT_RANGE":
            try:
                s.setsockopt(socket.IPPROTO_IP, IP_LOCAL_PORT_RANGE, struct.pack("=I", (self.hi << 16) | self.lo))
            except OSError:
                self.how = "bind"
        if self.how == "bind":  # before Linux 6.3: choose the port ourselves, in order
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            for port in range(self.lo, self.hi + 1):
                try:
                    s.bind((LOOPBACK, port))
                    break
                except OSError as e:
                    last = e
            else:
                s.close()
                raise last
        s.settimeout(2)
        s.connect(self.server)
        return s


def _use_up(lst: socket.socket, clients: _RangeClients, size: int) -> tuple[int, str]:
    """Connect and close (the client first: its port goes to TIME_WAIT) until a connect fails:
    how many connections were made, and the error that ended it ("" if none did)."""
    opened, error = 0, ""
    for _ in range(size + 1):
        try:
            c = clients.connect()
        except OSError as e:
            error = errno.errorcode.get(e.errno, str(e))
            break
        conn, _ = lst.accept()
        c.close()  # the client closes first: its port goes to TIME_WAIT
        conn.recv(1)
        conn.close()
        opened += 1
    return opened, error


def _first_reuse(clients: _RangeClients, wait: float) -> float | None:
    """Seconds until a port of the range connects again, or None if not within `wait`."""
    started = time.monotonic()
    while time.monotonic() - started < wait:
        try:
            c = clients.connect()
        except OSError:
            time.sleep(0.05)
            continue
        reused = round(time.monotonic() - started, 2)
        c.close()
        return reused
    return None


@dataclass(frozen=True)
class ResetResult:
    closing: str  # how the server closed: "close" or "lingering_close"
    sent: int  # bytes of the response the server wrote
    received: int  # bytes the client read before the end
    ended_by: str  # "EOF" (a clean close) or the error the client's read raised (ECONNRESET)


def reset_problem(close: Callable[[socket.socket], None] | None = None, response: int = 2 << 20,
                  unread: int = 1000) -> ResetResult:  # fmt: skip
    """A client sends a request and `unread` more bytes the server never reads (a pipelined request,
    or a body the server rejected); the server writes a `response`-byte answer and closes with
    `close(sock)` (default: plain close()). How much of the answer does the client get?
    RFC 9293 §3.6.1 (SHLD-3): a close() that ends reading with data unread sends RST, and what
    the server had not yet sent is lost; RFC 9112 §9.6 warns the RST "might erase" what the client
    had received but not read (Linux keeps that readable, then the next read fails ECONNRESET)."""
    client, conn = connected_pair()
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * unread)
    time.sleep(0.05)  # both segments are in the server's receive queue
    conn.recv(27)
    client.settimeout(3)
    failed: list[str] = []
    t = threading.Thread(target=_answer_and_close, args=(conn, response, close, failed), daemon=True)
    time.sleep(0.05)
    t.start()
    time.sleep(0.2)  # the server has written what fits and closed while the client read nothing
    received, ended = _read_to_end(client)
    client.close()  # the client, too, is done
    t.join(3)
    name = "close" if close is None else getattr(close, "__name__", "yours")
    return ResetResult(name + (f" (it raised {failed[0]})" if failed else ""), response, received, ended)


def _answer_and_close(conn: socket.socket, response: int, close: Callable | None, failed: list[str]) -> None:
    """The server: write the response, then close with `close` (what it raised goes in `failed`)."""
    try:
        conn.sendall(b"y" * response)
    except OSError:
        pass
    try:
        (close or socket.socket.close)(conn)
    except BaseException as e:  # noqa: BLE001 - the learner's closing function: say what it raised
        failed.append(f"{type(e).__name__}: {e}".rstrip(": "))
        conn.close()


def _read_to_end(client: socket.socket) -> tuple[int, str]:
    """Bytes read until the end, and how it ended: "EOF" or the error (ECONNRESET)."""
    received, ended = 0, "EOF"
    try:
        while chunk := client.recv(1 << 16):
            received += len(chunk)
    except OSError as e:
        ended = errno.errorcode.get(e.errno or 0, type(e).__name__)
    return received, ended
