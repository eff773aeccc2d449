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

    talk = _Conversation(watch, make_shell(output), calls, run_cell, per_call, call_output, output)
    random.seed(0)
    channel.send({"op": "ready"})
    while True:
        try:
            msg = channel.recv()
        except ChannelClosed:
            os._exit(0)
        op = msg.get("op") if isinstance(msg, dict) else None
        if op == "run":
            reply = talk.run(msg)
        elif op == "test":
            reply = talk.test(msg)
        elif op == "call":
            reply = talk.call(msg)
        elif op == "calls":  # a battery of independent calls, answered in one go within a time budget
            reply = talk.battery(msg)
        elif op == "sockets":  # a socket exercise: the grader's sockets came with the request
            reply = talk.sockets(msg, channel.take_fds(msg.get("fds") if type(msg.get("fds")) is int else 0))
        elif op == "bye":
            os._exit(0)
        else:
            reply = {"op": "error", "sentence": f"unknown request {op!r}"}
        _send(channel, watch, reply)


class _Conversation:
    """The runner's side of each request: the learner's shell, the watch armed while their code runs,
    and the handlers found at the current test cell. `calls` and `run_cell` come imported before any
    learner code runs."""

    def __init__(self, watch: Watch, shell, calls, run_cell, per_call: float, call_output: int, output: int) -> None:
        self.watch, self.shell, self.calls, self.run_cell = watch, shell, calls, run_cell
        self.per_call, self.call_output, self.output = per_call, call_output, output
        self.names: dict = {}

    def run(self, msg: dict) -> dict:
        trusted = bool(msg.get("trusted"))
        self.watch.armed = not trusted
        outputs, failed = self.run_cell(self.shell, str(msg.get("source", "")), float(msg.get("timeout", 60)),
                                        self.output)  # fmt: skip
        self.watch.armed = False
        if trusted:
            self.watch.baseline(self.shell)
        return {"op": "ran", "cell": msg.get("cell"), "outputs": outputs, "failed": failed}

    def test(self, msg: dict) -> dict:
        self.watch.armed = True
        outputs, _ = self.run_cell(self.shell, f"# {msg.get('grade_id', '')}: graded outside this process", 10.0,
                                   self.output)  # fmt: skip
        self.watch.armed = False
        self.watch.scan(self.shell)
        self.names = self.calls.handlers_in(self.shell.user_ns)
        return {"op": "test", "cell": msg.get("cell"), "outputs": outputs,
                "handlers": {s.name: {"name": n, "stub": stub} for s, (n, stub) in self.names.items()}}  # fmt: skip

    def call(self, msg: dict) -> dict:
        self.watch.armed = True
        answer = self.calls.call(self.shell.user_ns, self.names, msg.get("call"), self.per_call, self.call_output)
        self.watch.armed = False
        self._look_alikes(answer.get("seen"))
        if "step" in answer:
            return {"op": "step", "id": msg.get("id"), "step": answer["step"]}
        return {"op": "refused", "id": msg.get("id"), "kind": answer["refused"], "sentence": answer["sentence"]}

    def battery(self, msg: dict) -> dict:
        """Calls answered in order until the budget of seconds is spent; a handler that timed out
        is not called again in this battery."""
        answers, budget = [], time.monotonic() + float(msg.get("budget", 10))
        broken: dict[str, dict] = {}
        self.watch.armed = True
        for question in msg.get("calls") or []:
            if time.monotonic() > budget:
                break
            state = question.get("state") if isinstance(question, dict) else None
            answer = broken.get(state) or self.calls.call(self.shell.user_ns, self.names, question, self.per_call,
                                                          self.call_output)  # fmt: skip
            if answer.get("refused") == "timeout":
                broken[state] = answer
            self._look_alikes(answer.pop("seen", None))
            answers.append(answer)
        self.watch.armed = False
        return {"op": "steps", "id": msg.get("id"), "answers": answers}

    def sockets(self, msg: dict, fds: list) -> dict:
        from autograder.runner import sockets

        self.watch.armed = True
        answer = sockets.answer(self.shell.user_ns, msg, fds, self.call_output)
        self.watch.armed = False
        return {"op": "answer", "id": msg.get("id"), **answer}

    def _look_alikes(self, names) -> None:
        for name in names or ():
            self.watch.note(f"a handler returned a look-alike {name} where the grader expects plain values")


def _send(channel: Channel, watch: Watch, reply: dict) -> None:
    """The reply, with what the watch saw since the last one."""
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
