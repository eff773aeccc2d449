"""The sandbox's defences, in the order the launcher applies them.

Each is named, says in one sentence what it stops, and has a probe in tests/pipeline/
test_sandbox_defences.py that runs one attack through the launcher. `phase` groups them:
the namespaces come first (a PID namespace needs a fork), then the files of a fresh root
(entered with pivot_root once they are all in place), then the process itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Defence:
    name: str
    phase: str  # namespaces | files | process
    stops: str


DEFENCES: tuple[Defence, ...] = (
    Defence(
        "user-namespace",
        "namespaces",
        "without root, an unprivileged user namespace gives the launcher the powers the defences below need",
    ),
    Defence(
        "no-network",
        "namespaces",
        "a new network namespace with only loopback: no connection leaves the sandbox, and abstract Unix "
        "sockets (which live in the network namespace) reach no listener outside it",
    ),
    Defence(
        "private-ipc",
        "namespaces",
        "new IPC and UTS namespaces: no System V shared memory or message queue of another process",
    ),
    Defence(
        "private-pids",
        "namespaces",
        "a new PID namespace whose first process is the sandboxed one: it sees no other process, and every "
        "process it starts dies with it",
    ),
    Defence(
        "private-tmp",
        "files",
        "size-limited private tmpfs at /tmp, /var/tmp, /run, /dev/shm and the home: nothing written there "
        "reaches another submission, a Unix socket there reaches no listener outside, and it is all gone "
        "afterwards",
    ),
    Defence(
        "minimal-root",
        "files",
        "a fresh root holding only the system's libraries, the interpreter and the learner view, read-only: "
        "the course, the gradebook, other submissions and the repository (whose tests/ hold full "
        "implementations) are simply not there",
    ),
    Defence(
        "masked-paths",
        "files",
        "the real course packages (and anything else named), wherever a bound directory such as the "
        "interpreter's site-packages would show them, are covered by an empty read-only tmpfs",
    ),
    Defence(
        "private-proc",
        "files",
        "/proc mounted fresh for the new PID namespace: no other process's command line (other students' "
        "ids) or environment",
    ),
    Defence(
        "unprivileged-uid",
        "process",
        "as root: an unprivileged uid claimed host-wide (one per running sandbox), no groups, no capabilities",
    ),
    Defence("no-new-privileges", "process", "PR_SET_NO_NEW_PRIVS: no setuid program gives privileges back"),
    Defence(
        "limits",
        "process",
        "resource limits: address space, CPU seconds, processes, file size, open files, no core files",
    ),
    Defence(
        "clean-environment",
        "process",
        "an environment of its own: none of the grader's variables (tokens, paths) and a fixed hash seed",
    ),
    Defence(
        "pipes-only",
        "process",
        "the grader talks over two inherited one-way channels (requests on an unnamed Unix socket, which can "
        "carry a socket exercise's descriptors, replies on a pipe); stdin, stdout and stderr go nowhere and "
        "every other descriptor is closed, so nothing is exchanged through files the learner's code could "
        "replace",
    ),
)

NAMES = tuple(d.name for d in DEFENCES)
