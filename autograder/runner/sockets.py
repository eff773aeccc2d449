"""A socket exercise's call in the sandbox: the grader's sockets handed to a driver and the learner's function.

The grader sends {"op": "sockets", "id": n, "driver": name, "fds": k, "args": {...}, "timeout": s}
with k descriptors attached (SCM_RIGHTS, autograder.runner.channel). They are TCP sockets the
grader made in its own network namespace; here they become socket objects, and the named driver
of `autograder.production.DRIVERS` runs the learner's function on them (it looks the function up
in the notebook's namespace). The answer is {"value": small plain dict} or {"refused": kind,
"sentence": str}. Ownership passes to the learner's code: the runner drops its references and
never closes a socket itself, so a socket the learner's code keeps stays open exactly as it would
in a real server. The grader trusts none of the answer: it scores what its own ends of the
connections saw (autograder.production_checks).
"""

from __future__ import annotations

import functools
import os
import socket

from autograder.runner.calls import (
    _CallTimeout,
    _guarded_any,
    _OutputFlood,
    exception_text,
    where_in_learner_code,
)

KINDS = ("exception", "timeout", "output", "missing", "protocol")


def answer(ns: dict, request: dict, fds: list[int], output: int) -> dict:
    from autograder import production

    for fd in fds:
        os.set_inheritable(fd, False)
    driver = production.DRIVERS.get(str(request.get("driver")))
    if driver is None or len(fds) != request.get("fds"):
        for fd in fds:
            os.close(fd)
        return {"refused": "protocol", "sentence": "could not be asked (an unknown exercise or missing sockets)"}
    socks = [socket.socket(fileno=fd) for fd in fds]
    args = request.get("args") if isinstance(request.get("args"), dict) else {}
    timeout = float(request.get("timeout", 2.0))
    try:
        value = _guarded_any(functools.partial(driver, ns, socks, args), timeout, output)
    except _CallTimeout:
        return {"refused": "timeout", "sentence": f"ran longer than {timeout:g} s and was stopped"}
    except _OutputFlood:
        return {"refused": "output", "sentence": f"printed more than {output} characters and was stopped"}
    except production.Missing as e:
        return {"refused": "missing", "sentence": str(e)}
    except BaseException as e:  # noqa: BLE001 - anything a learner raises is feedback
        return {"refused": "exception", "sentence": f"raised {exception_text(e)}{where_in_learner_code(e)}"}
    finally:
        socks.clear()  # the learner's code owns them now: whatever it kept stays open
    value = value if isinstance(value, dict) else {}
    return {"value": {str(k)[:40]: v for k, v in list(value.items())[:8]
                      if v is None or type(v) in (bool, int, str) and len(str(v)) <= 200}}  # fmt: skip


__all__ = ["KINDS", "answer"]
