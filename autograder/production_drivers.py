"""Notebook 07's drivers: what a socket exercise runs around the learner's function, given sockets
someone else made (the checks, in the kernel's own process or on the grader's side, passed into
the sandbox). A driver runs beside the learner's code and could be rewritten by it, so what a
driver returns can only fail a case, never pass one (a descriptor left open, which no other end can
see): autograder.production_checks judges what the other ends see.
"""

from __future__ import annotations

import hashlib
import select
import socket
import time
from collections.abc import Callable


class Missing(LookupError):
    """The notebook does not define the function an exercise calls (or it is still a stub)."""


def learner_function(ns: dict, name: str) -> Callable:
    fn = ns.get(name) if isinstance(ns, dict) else getattr(ns, name, None)
    if not callable(fn):
        raise Missing(f"needs your function {name}(...); define it in its answer cell and run that cell")
    return fn


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
    # open: a reset connection leaves /proc/net/tcp at once, but its descriptor stays until closed
    return {"open": sum(s.fileno() != -1 for s in socks)}


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
    if int(args.get("sndbuf", 0)):  # a small send buffer: one send() cannot take a long request
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, int(args["sndbuf"]))
    got = learner_function(ns, "request_all")(sock, bytes.fromhex(str(args["request"])))
    if not isinstance(got, bytes | bytearray):
        return {"type": type(got).__name__}
    # closed: the wire cannot tell (the FIN went with the shutdown), the descriptor can
    return {"sha256": hashlib.sha256(bytes(got)).hexdigest(), "length": len(got), "closed": sock.fileno() == -1}


DRIVERS: dict[str, Callable[[dict, list[socket.socket], dict], dict]] = {
    "listener": drive_listener,
    "server": drive_server,
    "linger": drive_linger,
    "request": drive_request,
}
