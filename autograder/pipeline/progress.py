"""A plain-text progress bar: one line per finished submission, readable in CI logs too."""

from __future__ import annotations

import sys
from collections.abc import Callable


class Progress:
    def __init__(self, total: int, out: Callable[[str], None] | None = None, width: int = 20) -> None:
        self.total, self.done, self.width = total, 0, width
        self.out = out or (lambda line: print(line, file=sys.stderr, flush=True))

    def step(self, what: str, status: str) -> None:
        self.done += 1
        filled = self.width * self.done // max(self.total, 1)
        self.out(f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {what}: {status}")
