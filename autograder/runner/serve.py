"""The runner's conversation with the grader: read requests on fd 3, answer on fd 4, until bye.

`python -m autograder.runner` (a sandbox started by exec) and a child of the sandbox's fork
server (autograder.sandbox.zygote: the same modules imported once, never a learner's code) both
end up in `serve()`, confined already."""

from __future__ import annotations

import os
import random
import sys
import time

from autograder.plain import PlainError
from autograder.runner.channel import Channel, ChannelClosed
from autograder.runner.watch import Watch

REQUESTS, REPLIES = 3, 4


def _forget_the_real_packages() -> None:
    """Only the learner view may provide `autograder` and `reference_impl`: drop an editable
    install's finder (it maps them to a source tree the sandbox does not show anyway)."""
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "").lower()
                        and "editable" not in type(f).__name__.lower() and "editable" not in repr(f).lower()]  # fmt: skip
    sys.path_hooks[:] = [h for h in sys.path_hooks if "editable" not in repr(h).lower()]


def serve() -> None:
    for fd in (REQUESTS, REPLIES):
        os.set_inheritable(fd, False)  # a learner's subprocess does not get the conversation
    channel = Channel(REQUESTS, REPLIES)
    hello = channel.recv()
    view = os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or os.getcwd()
    watch = Watch(view, tuple(hello.get("watch", ())))
    _forget_the_real_packages()
    per_call, call_output = float(hello.get("per_call", 1.0)), int(hello.get("call_output", 20_000))
    output = int(hello.get("output", 100_000))

    from autograder.runner import calls
    from autograder.runner.shell import make_shell, run_cell

    shell = make_shell(output)
    random.seed(0)
    names: dict = {}
    channel.send({"op": "ready"})
    while True:
        try:
            msg = channel.recv()
        except ChannelClosed:
            os._exit(0)
        op = msg.get("op") if isinstance(msg, dict) else None
        if op == "run":
            trusted = bool(msg.get("trusted"))
            watch.armed = not trusted
            outputs, failed = run_cell(shell, str(msg.get("source", "")), float(msg.get("timeout", 60)), output)
            watch.armed = False
            if trusted:
                watch.baseline(shell)
            reply = {"op": "ran", "cell": msg.get("cell"), "outputs": outputs, "failed": failed}
        elif op == "test":
            watch.armed = True
            outputs, _ = run_cell(shell, f"# {msg.get('grade_id', '')}: graded outside this process", 10.0, output)
            watch.armed = False
            watch.scan(shell)
            names = calls.handlers_in(shell.user_ns)
            reply = {"op": "test", "cell": msg.get("cell"), "outputs": outputs,
                     "handlers": {s.name: {"name": n, "stub": stub} for s, (n, stub) in names.items()}}  # fmt: skip
        elif op == "call":
            watch.armed = True
            answer = calls.call(shell.user_ns, names, msg.get("call"), per_call, call_output)
            watch.armed = False
            for name in answer.get("seen") or ():
                watch.note(f"a handler returned a look-alike {name} where the grader expects plain values")
            if "step" in answer:
                reply = {"op": "step", "id": msg.get("id"), "step": answer["step"]}
            else:
                reply = {
                    "op": "refused",
                    "id": msg.get("id"),
                    "kind": answer["refused"],
                    "sentence": answer["sentence"],
                }
        elif op == "calls":  # a battery of independent calls, answered in one go within a time budget
            answers, budget = [], time.monotonic() + float(msg.get("budget", 10))
            broken: dict[str, dict] = {}
            watch.armed = True
            for question in msg.get("calls") or []:
                if time.monotonic() > budget:
                    break
                state = question.get("state") if isinstance(question, dict) else None
                answer = broken.get(state) or calls.call(shell.user_ns, names, question, per_call, call_output)
                if answer.get("refused") == "timeout":
                    broken[state] = answer
                for name in answer.pop("seen", None) or ():
                    watch.note(f"a handler returned a look-alike {name} where the grader expects plain values")
                answers.append(answer)
            watch.armed = False
            reply = {"op": "steps", "id": msg.get("id"), "answers": answers}
        elif op == "sockets":  # a socket exercise: the grader's sockets came with the request
            from autograder.runner import sockets

            fds = channel.take_fds(msg.get("fds") if type(msg.get("fds")) is int else 0)
            watch.armed = True
            answer = sockets.answer(shell.user_ns, msg, fds, call_output)
            watch.armed = False
            reply = {"op": "answer", "id": msg.get("id"), **answer}
        elif op == "bye":
            os._exit(0)
        else:
            reply = {"op": "error", "sentence": f"unknown request {op!r}"}
        seen = watch.take()
        if seen:
            reply["seen"] = seen
        try:
            channel.send(reply)
        except ChannelClosed:
            os._exit(0)
        except PlainError:  # outputs that do not fit a message: say so rather than nothing
            reply = {k: v for k, v in reply.items() if k not in ("outputs", "seen")} | {"outputs": []}
            channel.send(reply)
