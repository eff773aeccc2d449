"""Notebook 07's hidden socket cases: the clients and servers a learner's code is not shown.

Instructor-only (autograder/learner_build.py): the visible cases are in
autograder.production_checks, which this module extends; each case is judged there, from the
grader's own ends of the connections.
"""

from __future__ import annotations

import errno
import socket

from . import production
from .production_calls import Caller, refused
from .production_checks import case, half_close, lingering, restart, serve_clients


@case("a client that reads the response but never closes", "linger")
def _linger_never_closes(caller: Caller) -> tuple[bool, str]:
    return lingering(caller, unread=1000, size=1 << 20, deadline=0.8, client="never-closes")


@case("a client that keeps sending while it reads", "linger")
def _linger_keeps_sending(caller: Caller) -> tuple[bool, str]:
    return lingering(caller, unread=64 << 10, size=1 << 20, deadline=0.8, client="keeps-sending")


@case("a hundred clients: a third ask, a half leave at once, the rest reset", "server")
def _server_hundred(caller: Caller) -> tuple[bool, str]:
    return serve_clients(caller, asking=34, leaving=50, resetting=16, seconds=0.6)


@case("a restart on a port with three TIME_WAITs", "listener")
def _restart_three(caller: Caller) -> tuple[bool, str]:
    return restart(caller, time_waits=3)


@case("the restarted port is not shared with another socket", "listener")
def _not_shared(caller: Caller) -> tuple[bool, str]:
    """SO_REUSEPORT (with or without SO_REUSEADDR) lets any later socket of the same user bind the
    port as well and take a share of the connections; SO_REUSEADDR alone does not."""
    port = production.leave_time_wait()
    sock = socket.socket()
    mine = sock.dup()
    try:
        hand = [sock]
        del sock
        problem = refused(caller("listener", hand, {"port": port}, 1.0), "open_listener")
        if problem:
            return False, problem
        thief = socket.socket()
        try:
            thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            thief.bind(("127.0.0.1", port))
            thief.listen()
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True, ""
            raise
        finally:
            thief.close()
        return False, (
            "while your listener runs, another socket could bind and listen on the same port "
            "(SO_REUSEPORT): it would receive a share of your clients; SO_REUSEADDR alone is enough"
        )
    finally:
        mine.close()


@case("a 300 KiB request, a 1 MiB response", "request")
def _request_big(caller: Caller) -> tuple[bool, str]:
    return half_close(caller, request_size=300 << 10, response_size=1 << 20)


@case("a 300 KiB request through a 32 KiB send buffer to a server that reads 100 ms late", "request")
def _request_through_a_small_buffer(caller: Caller) -> tuple[bool, str]:
    # one send() (the socket has a timeout) takes what the buffers hold, 64 KiB here, and returns: an
    # independent learner's single send() passed the case above, where loopback's buffers hold it all
    return half_close(caller, request_size=300 << 10, response_size=256 << 10, late=0.1, sndbuf=32 << 10)
