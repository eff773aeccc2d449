"""Grading manifest of 07_production: what each test cell checks and what it is worth.

Never released (nbgrader's CourseDirectory.ignore): the hidden checks live here only.
Every check here is a socket check (autograder.production_checks): the grader opens real
loopback connections, hands the learner's function one end (passed into the grading sandbox as
a descriptor), and scores what its own end sees. See autograder/manifest.py.
"""

from autograder.manifest import cell, every_hidden_check, sockets

LISTENER = "open_listener(sock, port): a restart on a port that still has a TIME_WAIT"
SERVER = "on_readable(server, conn): no CLOSE_WAIT left behind"
LINGER = "lingering_close(sock, deadline): the whole response arrives"
REQUEST = "request_all(sock, request): the request ends with a FIN, the whole response is read"

LOOPBACK = True  # the exercises bind, listen and connect on loopback: not flagged when grading

CELLS = [
    cell("test_restartable_listener", 2,
         visible=[sockets("a restart while the port has a TIME_WAIT of the old server", title=LISTENER)],
         hidden=[sockets("a restart on a port with three TIME_WAITs", title=LISTENER, weight=2),
                 sockets("the restarted port is not shared with another socket", title=LISTENER, weight=1)]),
    cell("test_close_wait_fixed", 3,
         visible=[sockets("ten clients: four ask and half-close, four leave at once, two reset", title=SERVER)],
         hidden=[sockets("a hundred clients: a third ask, a half leave at once, the rest reset", title=SERVER)]),
    cell("test_lingering_close", 3,
         visible=[sockets("a client that reads the response and then closes", title=LINGER)],
         hidden=[sockets("a client that reads the response and then closes", title=LINGER),
                 sockets("a client that reads the response but never closes", title=LINGER),
                 sockets("a client that keeps sending while it reads", title=LINGER)]),
    cell("test_half_close", 2,
         visible=[sockets("a short request, a short response", title=REQUEST)],
         hidden=[sockets("a short request, a short response", title=REQUEST),
                 sockets("a 300 KiB request, a 1 MiB response", title=REQUEST),
                 sockets("a 300 KiB request through a 32 KiB send buffer to a server that reads 100 ms late",
                         title=REQUEST)]),
]

BEFORE_SUBMIT = every_hidden_check(CELLS)
