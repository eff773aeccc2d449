"""The runner: the process in the grading sandbox that runs a submission's cells and answers handler calls.

It runs from the learner view of the packages (no answers), started by the grader through
`autograder.sandbox` and spoken to over two inherited one-way channels (fd 3 in, a Unix socket;
fd 4 out, a pipe), one frame per message (autograder.runner.channel). The grader sends, in order:

    {"op": "hello", "watch": [paths], "per_call": s, "call_output": n, "output": n}
    {"op": "run", "cell": i, "source": str, "timeout": s, "trusted": bool}
        -> {"op": "ran", "cell": i, "outputs": [nbformat output], "failed": bool, "seen": [...]}
    {"op": "test", "cell": i, "grade_id": str}
        -> {"op": "test", "cell": i, "outputs": [...], "handlers": {STATE: {"name": str, "stub": bool}},
            "seen": [...]}
    {"op": "call", "id": n, "call": plain call}
        -> {"op": "step", "id": n, "step": plain step}
         | {"op": "refused", "id": n, "kind": str, "sentence": str, "seen": [...]}
    {"op": "calls", "id": n, "calls": [plain call, ...], "budget": s}
        -> {"op": "steps", "id": n, "answers": [{"step": ...} | {"refused": kind, "sentence": str}, ...]}
           (in order, stopping early when the budget of seconds is spent)
    {"op": "sockets", "id": n, "driver": str, "fds": k, "args": {...}, "timeout": s}  + k descriptors
        -> {"op": "answer", "id": n, "value": {...}} | {"op": "answer", "id": n, "refused": kind, "sentence": str}
           (autograder.runner.sockets: a socket exercise on TCP sockets the grader made and passed
           over fd 3, a Unix socket, with SCM_RIGHTS)
    {"op": "bye"}

The runner says {"op": "ready"} once its shell is up. "seen" lists what autograder.runner.watch
noticed ({"what": str, "detail": str}). A "test" runs a comment-only cell at the test cell's
place, so IPython's hooks fire as they would for the real cell, and anything they display there
is reported; the test cell's own source never runs.

Everything the runner sends is untrusted: the grader decodes it strictly and keeps its own clock.
This package's __init__ imports nothing heavy: the grader imports `autograder.runner.channel`.
"""

COMMAND = ["-P", "-s", "-B", "-m", "autograder.runner"]  # after the interpreter: how the sandbox starts it
