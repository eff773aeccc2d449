"""Realistic mistakes in notebook 07 (goodbye in production), each with the test cells it must lose."""

from tests.course.bugs import Bug, edit

NB = "07_production"
REUSEADDR = "sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)"
REUSEPORT = "sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)"

BUGS = {
    # "SO_REUSEPORT is the newer SO_REUSEADDR": it does not bind over another socket's TIME_WAIT.
    "reuseport-instead-of-reuseaddr": Bug(
        edit(NB, "answer_open_listener", (REUSEADDR, REUSEPORT)),
        {"test_restartable_listener"},
    ),
    # Both options "to be safe": the restart works, and any process of the same user can now
    # listen on the port too and take a share of the clients.
    "reuseport-as-well": Bug(
        edit(NB, "answer_open_listener", (REUSEADDR, f"{REUSEADDR}\n    {REUSEPORT}")),
        {"test_restartable_listener"},
        shares={"test_restartable_listener": 0.33},
    ),
    # The EOF path returns without closing: every client that says goodbye is left in CLOSE_WAIT.
    "eof-returns-without-close": Bug(
        edit(NB, "answer_on_readable", ("    else:\n        conn.close()", "    else:\n        return")),
        {"test_close_wait_fixed"},
    ),
    # Only the clients that say goodbye with a FIN are expected: a client that aborts (a RST) makes
    # recv() raise ConnectionResetError, and the server stops serving everyone.
    "reset-not-caught": Bug(
        edit(NB, "answer_on_readable", ("    try:\n        data = conn.recv(4096)\n    except ConnectionResetError:\n        data = b\"\"\n",
                                        "    data = conn.recv(4096)\n")),
        {"test_close_wait_fixed"},
    ),
    # Drops a reset connection from the server's list instead of closing it: that descriptor is never
    # given back (a reset connection is not in /proc/net/tcp, so only the server's side can tell).
    "reset-dropped-not-closed": Bug(
        edit(NB, "answer_on_readable", ("    except ConnectionResetError:\n        data = b\"\"\n",
                                        "    except ConnectionResetError:\n        server.conns.remove(conn)\n        return\n")),
        {"test_close_wait_fixed"},
    ),
    # One request per connection: closes after answering, so a client that leaves without a
    # request is never closed (the notebook's leaky server).
    "closes-only-after-answering": Bug(
        edit(NB, "answer_on_readable", ("        conn.sendall(data.upper())\n    else:\n        conn.close()",
                                        "        conn.sendall(data.upper())\n        conn.close()")),
        {"test_close_wait_fixed"},
    ),
    # close() at once: the unread request bytes make it a RST, and the client loses the response's end.
    "plain-close": Bug(
        edit(NB, "answer_lingering_close", ("    sock.shutdown(socket.SHUT_WR)  # our FIN, after every byte of the response",
                                            "    sock.close()\n    return")),
        {"test_lingering_close"},
    ),
    # Lingers until the client closes, whatever the deadline: a client that never closes (or keeps
    # sending) holds the server for ever.
    "lingers-past-the-deadline": Bug(
        edit(NB, "answer_lingering_close", ("    while (left := deadline - time.monotonic()) > 0:\n        sock.settimeout(left)\n",
                                            "    while True:\n")),
        {"test_lingering_close"},
        shares={"test_lingering_close": 0.67},
    ),
    # Never says the request has ended: the server waits for the FIN, the client for the answer.
    "no-half-close": Bug(
        edit(NB, "answer_request_all", ("    sock.shutdown(socket.SHUT_WR)\n", "")),
        {"test_half_close"},
    ),
    # Returns the response and leaves the socket open: the wire cannot tell (the FIN went with the
    # shutdown), but the descriptor is never given back, as the exercise asks.
    "never-closes": Bug(
        edit(NB, "answer_request_all", ("    sock.close()\n", "")),
        {"test_half_close"},
    ),
    # One recv() is taken for the whole response: right for a short one, not for a megabyte.
    "one-recv": Bug(
        edit(NB, "answer_request_all", ("    while chunk := sock.recv(65536):\n        chunks.append(chunk)",
                                        "    chunks.append(sock.recv(65536))")),
        {"test_half_close"},
        shares={"test_half_close": 0.67},
    ),
    # One send() is taken for the whole request: with a timeout set it sends what the buffers hold and
    # returns the count, which this ignores; a long request through a small buffer arrives cut short.
    "one-send": Bug(
        edit(NB, "answer_request_all", ("    sock.sendall(request)\n", "    sock.send(request)\n")),
        {"test_half_close"},
        shares={"test_half_close": 0.33},
    ),
}
