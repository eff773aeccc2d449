"""The cheat an open-source course invites: tabulate the graded calls with the full package.

Anyone can install the full package and run `tcpclose check` on a correct notebook while logging
every call the grader asks (its hidden checks included, at the numbers the check renumbers them
to), then answer each with the reference. Pasted into a blank notebook, that table answers every
call the self-check asks, and would answer every graded one if a course asked at the same
numbers. A course asks at numbers drawn from its own secret key (autograder.pipeline.renumber),
so the table must score what the blank scores there.
"""

from __future__ import annotations

import base64
import json
import tempfile
import zlib
from functools import cache
from pathlib import Path

from autograder import plain
from reference_impl.handlers import HANDLERS

LOOKUP = (
    "import base64, json, zlib\nfrom autograder import plain\n"
    "_table = json.loads(zlib.decompress(base64.b64decode('{tabulated}')))\n"
    "def _look(state):\n"
    "    def handler(tcb, ev, profile):\n"
    "        return plain.decode_step(_table[json.dumps(plain.encode_call(state, tcb, ev, profile), sort_keys=True)])\n"
    "    return handler\n"
)


@cache
def tabulated_base64(correct: str) -> str:
    """The table, made from `correct` (a correct notebook's JSON) by `tcpclose check` as anyone can run it."""
    from autograder.pipeline.check import check_notebook
    from autograder.pipeline.remote_calls import HandlerCalls

    asked: list[tuple] = []
    encode = HandlerCalls._encode

    def logged(self, state, tcb, ev, profile):
        asked.append((state, *self.numbers.forward(tcb, ev), profile))
        return encode(self, state, tcb, ev, profile)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "01_active_close.ipynb"
        path.write_text(correct)
        HandlerCalls._encode = logged  # type: ignore[method-assign]
        try:
            result = check_notebook(path)
        finally:
            HandlerCalls._encode = encode  # type: ignore[method-assign]
    assert full_marks(result) and len(asked) > 100, (result.cells, len(asked))
    table = {json.dumps(plain.encode_call(s, t, e, p), sort_keys=True): plain.encode_step(HANDLERS[s](t, e, p))
             for s, t, e, p in asked}  # fmt: skip
    return base64.b64encode(zlib.compress(json.dumps(table).encode(), 9)).decode()


def full_marks(result) -> bool:
    """Every test cell of a `tcpclose check` result at its full points."""
    tests = [c for c in result.cells if c["cell"].startswith("test_")]
    return bool(tests) and all(c["score"] == c["max_score"] for c in tests)
