"""How a socket case calls the learner's function: in this process (a thread with a time limit) or
the grading sandbox's, and in a network namespace of its own where this process may make one."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from . import production_drivers
from .harness import LearnerMachine

Caller = Callable[[str, list, dict, float], dict]


def local_caller(ns: object) -> Caller:
    """The learner's function in this process (the notebook's own checks), in a thread so a hang
    costs `timeout` seconds and no more; the sockets are handed over (this side keeps no reference)."""

    def call(driver: str, socks: list, args: dict, timeout: float) -> dict:
        result: dict = {}
        handed = [list(socks)]
        socks.clear()  # the thread holds them now; once the learner's code lets go they close

        def run() -> None:
            mine = handed.pop()
            try:
                result["value"] = production_drivers.DRIVERS[driver](ns, mine, args) or {}
            except production_drivers.Missing as e:
                result.update(refused="missing", sentence=str(e))
            except BaseException as e:  # noqa: BLE001 - the learner's exception is the feedback
                result.update(refused="exception", sentence=f"raised {type(e).__name__}: {e}".rstrip(": "))

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            return {"refused": "timeout", "sentence": f"ran longer than {timeout:g} s (still running)"}
        return result

    return call


def caller_for(machine: LearnerMachine) -> Caller:
    if machine.sockets is not None:
        return machine.sockets
    if machine.source is None:  # the grading sandbox could not be reached: machine.problem says why
        return lambda *_: {"refused": "missing", "sentence": machine.problem or "could not be called"}
    return local_caller(machine.source)


def refused(answer: dict, fn: str) -> str | None:
    if "value" in answer:
        return None
    return f"your {fn} {answer.get('sentence') or 'failed'}"


def isolated(fn: Callable[[Caller], tuple[bool, str]], caller: Caller) -> tuple[bool, str]:
    """fn(caller) in a thread of its own, in a new network namespace with only loopback (up), where
    this process may make one (root: a grading server, CI). Why: the sockets a case hands to the
    sandbox belong to the namespace they were made in, and a TCP socket can be disconnected
    (connect AF_UNSPEC) and connected again elsewhere; made here, it reaches nothing but this
    case's own loopback. It also keeps cases (and submissions graded side by side) from meeting
    on a port. Without root (a learner's own `tcpclose check`) the case runs where it is."""
    if os.geteuid() != 0:
        return fn(caller)
    from . import linux  # ctypes, loaded only where it is used: never in a learner's process

    box: dict = {}

    def body() -> None:
        try:
            linux.unshare(linux.CLONE_NEWNET)
            linux.loopback_up()
        except OSError as e:  # e.g. a container without CAP_SYS_ADMIN
            box["error"] = e
            return
        try:
            box["value"] = fn(caller)
        except BaseException as e:  # noqa: BLE001 - raised again in the caller's thread
            box["raised"] = e

    worker = threading.Thread(target=body, name="socket-case", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        return fn(caller)
    if "raised" in box:
        raise box["raised"]
    return box["value"]
