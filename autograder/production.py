"""Notebook 07's harness: real sockets on loopback, and the drivers that run a learner's socket code.

Everything here runs as an ordinary user, on 127.0.0.1, on ports the kernel picks (port 0), so
two runs never meet. Two kinds of thing live here:

- **Experiments** the notebook shows (ungraded): `who_pays_time_wait` counts, in /proc/net/tcp,
  the TIME_WAIT sockets left by a batch of connections when the client or the server closes
  first; `exhaust_ports` opens connections from a tiny local port range until connect() fails;
  `reset_problem` measures how much of a large response arrives when the server closes with
  request data still unread.
- **Drivers** (DRIVERS): what a socket exercise runs around the learner's function, given
  sockets someone else made. In the notebook the checks make them in the kernel's own process;
  under grading the trusted side makes them in its own network namespace and passes them into
  the sandbox over the runner's request socket (SCM_RIGHTS, autograder.runner.sockets). Either
  way the score comes from what the other ends of those connections see
  (autograder.production_checks), never from what a driver returns, because a driver runs beside
  the learner's code and could be rewritten by it.
"""

from __future__ import annotations

import errno
import hashlib
import select
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from .kernel import procnet

LOOPBACK = "127.0.0.1"
# This thread's network namespace (the checks may run a case in a namespace of its own: production_checks).
NET_TCP = "/proc/thread-self/net/tcp"
IP_LOCAL_PORT_RANGE = 51  # include/uapi/linux/in.h, Linux >= 6.3; Python's socket module does not name it yet


class Missing(LookupError):
    """The notebook does not define the function an exercise calls (or it is still a stub)."""


def learner_function(ns: dict, name: str) -> Callable:
    fn = ns.get(name) if isinstance(ns, dict) else getattr(ns, name, None)
    if not callable(fn):
        raise Missing(f"needs your function {name}(...); define it in its answer cell and run that cell")
    return fn


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
    how = "IP_LOCAL_PORT_RANGE"

    def one() -> socket.socket:
        nonlocal how
        s = socket.socket()
        if how == "IP_LOCAL_PORT_RANGE":
            try:
                s.setsockopt(socket.IPPROTO_IP, IP_LOCAL_PORT_RANGE, struct.pack("=I", (hi << 16) | lo))
            except OSError:
                how = "bind"
        if how == "bind":  # before Linux 6.3: choose the port ourselves, in order
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            for port in range(lo, hi + 1):
                try:
                    s.bind((LOOPBACK, port))
                    break
                except OSError as e:
                    last = e
            else:
                s.close()
                raise last
        s.settimeout(2)
        s.connect(lst.getsockname())
        return s

    opened, error = 0, ""
    try:
        for _ in range(size + 1):
            try:
                c = one()
            except OSError as e:
                error = errno.errorcode.get(e.errno, str(e))
                break
            conn, _ = lst.accept()
            c.close()  # the client closes first: its port goes to TIME_WAIT
            conn.recv(1)
            conn.close()
            opened += 1
        in_range = sum(1 for e in procnet.read(NET_TCP) if e.state == "TIME_WAIT" and lo <= e.local[1] <= hi)
        reused, started = None, time.monotonic()
        while error and time.monotonic() - started < wait:
            try:
                c = one()
            except OSError:
                time.sleep(0.05)
                continue
            reused = round(time.monotonic() - started, 2)
            c.close()
            break
        return Exhaustion((lo, hi), how, opened, error, in_range, reused)
    finally:
        lst.close()


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
    received, ended = 0, "EOF"
    import threading

    def serve() -> None:
        try:
            conn.sendall(b"y" * response)
        except OSError:
            pass
        try:
            (close or socket.socket.close)(conn)
        except BaseException as e:  # noqa: BLE001 - the learner's closing function: say what it raised
            failed.append(f"{type(e).__name__}: {e}".rstrip(": "))
            conn.close()

    failed: list[str] = []

    t = threading.Thread(target=serve, daemon=True)
    time.sleep(0.05)
    t.start()
    time.sleep(0.2)  # the server has written what fits and closed while the client read nothing
    try:
        while chunk := client.recv(1 << 16):
            received += len(chunk)
    except OSError as e:
        ended = errno.errorcode.get(e.errno or 0, type(e).__name__)
    client.close()  # the client, too, is done
    t.join(3)
    name = "close" if close is None else getattr(close, "__name__", "yours")
    return ResetResult(name + (f" (it raised {failed[0]})" if failed else ""), response, received, ended)


# ---- the drivers of the graded exercises ----------------------------------------------------------


def pattern(seed: int, n: int) -> bytes:
    """n bytes that depend on seed: a response the client can verify byte for byte."""
    block = hashlib.sha256(seed.to_bytes(8, "big")).digest() * 32  # 1 KiB
    return (block * (n // len(block) + 1))[:n]


def drive_listener(ns: dict, socks: list[socket.socket], args: dict) -> dict:
    """open_listener(sock, port): make `sock` (fresh, unbound) listen on 127.0.0.1:port."""
    learner_function(ns, "open_listener")(socks[0], int(args["port"]))
    return {}


class Server:
    """A long-lived select() server, as a real one is: the connections it holds stay open until
    the learner's on_readable(server, conn) closes them; a closed one is dropped from `conns`."""

    def __init__(self) -> None:
        self.conns: list[socket.socket] = []

    def add(self, conn: socket.socket) -> None:
        self.conns.append(conn)

    def run(self, on_readable: Callable, seconds: float) -> None:
        """Call on_readable(self, conn) for each readable connection until none is readable for
        50 ms, or `seconds` have passed (a leaked connection at EOF stays readable: it spins)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.conns = [c for c in self.conns if c.fileno() != -1]
            if not self.conns:
                return
            readable, _, _ = select.select(self.conns, [], [], 0.05)
            if not readable:
                return
            for conn in readable:
                if conn.fileno() != -1:
                    on_readable(self, conn)


SERVER = Server()  # the notebook's server: it lives as long as the kernel, and so does what it holds


def drive_server(ns: dict, socks: list[socket.socket], args: dict) -> dict:
    """Hand accepted connections to the notebook's SERVER and let it run on_readable for a while."""
    on_readable = learner_function(ns, "on_readable")
    for s in socks:
        s.setblocking(False)
        SERVER.add(s)
    SERVER.run(on_readable, float(args.get("seconds", 0.5)))
    return {}


def drive_linger(ns: dict, socks: list[socket.socket], args: dict) -> dict:
    """The server's side of one HTTP exchange: read the request's head (not what follows), write
    the whole response, then lingering_close(sock, deadline) ends the connection."""
    sock = socks[0]
    sock.settimeout(2)
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 8192:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    sock.settimeout(None)
    sock.sendall(pattern(int(args["seed"]), int(args["size"])))
    learner_function(ns, "lingering_close")(sock, time.monotonic() + float(args["deadline"]))
    return {}


def drive_request(ns: dict, socks: list[socket.socket], args: dict) -> dict:
    """request_all(sock, request) -> the whole response, on a server that answers only after the
    request's end (the client's FIN). Returns the response's digest (the checks compare it with what
    the server made up after that FIN, so it cannot be known before)."""
    sock = socks[0]
    sock.settimeout(float(args.get("timeout", 1.5)))
    got = learner_function(ns, "request_all")(sock, bytes.fromhex(str(args["request"])))
    if not isinstance(got, bytes | bytearray):
        return {"type": type(got).__name__}
    return {"sha256": hashlib.sha256(bytes(got)).hexdigest(), "length": len(got)}


DRIVERS: dict[str, Callable[[dict, list[socket.socket], dict], dict]] = {
    "listener": drive_listener,
    "server": drive_server,
    "linger": drive_linger,
    "request": drive_request,
}
