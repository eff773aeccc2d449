"""The grader's ends of a socket case: clients that ask or leave, a server that answers once the
request has ended, and a reader of what arrived (and how it differs from what should have)."""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import struct
import threading
import time

from . import production


class Reader(threading.Thread):
    """Reads a socket until EOF, an error or `seconds`: what arrived, and how it ended."""

    def __init__(
        self, sock: socket.socket, seconds: float = 3.0, delay: float = 0.0, close_at_eof: bool = False
    ) -> None:
        super().__init__(daemon=True)
        self.sock, self.seconds, self.delay, self.close_at_eof = sock, seconds, delay, close_at_eof
        self.data = bytearray()
        self.ended = "still open"
        self.start()

    def run(self) -> None:
        time.sleep(self.delay)  # a client busy elsewhere: the response waits in the buffers
        end = time.monotonic() + self.seconds
        try:
            while time.monotonic() < end:
                self.sock.settimeout(max(0.01, end - time.monotonic()))
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    self.ended = "EOF"
                    if self.close_at_eof:  # a polite client: the response has ended, so has the connection
                        self.sock.close()
                    return
                self.data += chunk
        except TimeoutError:
            self.ended = "still open"
        except OSError as e:
            self.ended = errno.errorcode.get(e.errno or 0, type(e).__name__)


def describe_arrival(reader: Reader, expected: bytes) -> str | None:
    """None when exactly `expected` arrived and then a clean EOF; else what the client saw."""
    got = bytes(reader.data)
    if got == expected and reader.ended == "EOF":
        return None
    if got != expected[: len(got)]:
        return f"the client received {len(got):,} bytes that are not the response's"
    if reader.ended in ("ECONNRESET", "EPIPE"):
        return (f"the client received {len(got):,} of {len(expected):,} bytes of the response, then "
                f"{reader.ended}: the connection was reset and the rest was lost")  # fmt: skip
    if len(got) < len(expected):
        return f"the client received {len(got):,} of {len(expected):,} bytes, then {reader.ended}"
    return f"the client received the whole response but the connection was {reader.ended} (no EOF)"


def connect_clients(lst: socket.socket, asking: int, leaving: int, clients: list, hand: list, ports: set,
                    resetting: int = 0) -> None:  # fmt: skip
    """Connect the clients, filling `clients` (each with the answer it waits for, or None: it left at
    once, with a FIN or, the last `resetting` of them, with a RST), `hand` (the server's ends) and
    `ports` (the clients' ports)."""
    for i in range(asking + leaving):
        client, conn = production.connected_pair(lst)
        ports.add(client.getsockname()[1])
        if i % (1 + leaving // max(1, asking)) == 0 and sum(1 for c in clients if c[1]) < asking:
            line = f"hello {i}\n".encode()
            client.sendall(line)
            client.shutdown(socket.SHUT_WR)
            clients.append((client, line.upper()))
        else:
            client.close()
            clients.append((client, None))
        hand.append(conn)
        del conn
    for _ in range(resetting):  # SO_LINGER 0 s: close() sends a RST and no FIN (the server reads ECONNRESET)
        client, conn = production.connected_pair(lst)
        ports.add(client.getsockname()[1])
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        clients.append((client, None))
        hand.append(conn)
        del conn


def answer_after_fin(conn: socket.socket, response_size: int, seen: dict, late: float = 0.0) -> None:
    """The server: read the request to its FIN, answer with bytes made up now, and close its side;
    `seen` gets the request, the response, or the error that stopped it. `late`: seconds before it
    starts reading, so a request longer than the buffers meets a full window (one send() is not enough)."""
    conn.settimeout(2.0)
    got = bytearray()
    time.sleep(late)
    try:
        while chunk := conn.recv(1 << 16):
            got += chunk
        seen["request"] = bytes(got)
        response = hashlib.sha256(got).digest() + os.urandom(response_size - 32)
        seen["response"] = response
        conn.sendall(response)
        conn.shutdown(socket.SHUT_WR)
    except OSError as e:
        seen["error"] = errno.errorcode.get(e.errno or 0, type(e).__name__)
        seen["request"] = bytes(got)


def what_follows(conn: socket.socket) -> str:
    """What the server's end sees after the call (EOF, more data, still open, or a reset), then closed."""
    try:
        conn.settimeout(0.5)
        return "EOF" if conn.recv(1) == b"" else "more data"
    except TimeoutError:
        return "open"  # the client has not closed (yet): nothing was reset
    except OSError as e:
        return errno.errorcode.get(e.errno or 0, type(e).__name__)
    finally:
        conn.close()
