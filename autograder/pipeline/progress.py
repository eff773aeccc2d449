"""Progress of a long command: count, rate, ETA and what it is on now.

On a terminal a tqdm bar (one line, redrawn: done/total, rate, elapsed and ETA, the current
item); anywhere else (CI logs, a pipe, a test's `out`) one plain line per finished item, with the
same figures, so a log says how far a batch got and how long the rest will take.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """`start(item)` when an item begins, `step(item, status)` when it ends, `close()` at the end.

    `out` receives the plain lines (and forces them); without it they go to `stream` (standard error),
    as a tqdm bar when that is a terminal."""

    def __init__(self, total: int, out: Callable[[str], None] | None = None, width: int = 20, *,
                 unit: str = "notebook", stream: TextIO | None = None, quiet: bool = False) -> None:  # fmt: skip
        self.total, self.done, self.width, self.unit = total, 0, width, unit
        self.started: float | None = None  # the first item's start: the rate is measured from there
        self.counted = 0  # items done here (not skipped): what the rate is measured on
        self.current: list[str] = []
        self.stream = stream or sys.stderr
        self.out = out or (lambda line: print(line, file=self.stream, flush=True))
        self.bar = None
        if out is None and not quiet and self._tty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, file=self.stream, dynamic_ncols=True, smoothing=0.1,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]{postfix}")  # fmt: skip
        self.quiet = quiet

    @property
    def total(self) -> int:
        return self._total

    @total.setter
    def total(self, value: int) -> None:
        """Known late (the cells of a notebook, the folders of an inbox): the bar follows."""
        self._total = value
        if getattr(self, "bar", None) is not None:
            self.bar.total = value
            self.bar.refresh()

    def _tty(self) -> bool:
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError):
            return False

    def say(self, line: str) -> None:
        """A line of its own (what a command is doing), above the bar when there is one."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            self.out(line)

    def start(self, item: str) -> None:
        if self.started is None:
            self.started = time.monotonic()
        self.current.append(item)
        self._postfix()

    def step(self, item: str, status: str, *, counted: bool = True) -> None:
        """One item finished; `counted=False` for one that cost nothing (skipped): not in the rate."""
        self.done += 1
        self.counted += counted
        if self.started is None and counted:
            self.started = time.monotonic()
        if item in self.current:
            self.current.remove(item)
        if self.bar is not None:
            self.bar.update(1)
            self._postfix()
            return
        if self.quiet:
            return
        filled = self.width * self.done // max(self.total, 1)
        self.out(f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {item}: {status}"
                 f"{self._figures()}")  # fmt: skip

    def _figures(self) -> str:
        elapsed = time.monotonic() - (self.started or time.monotonic())
        if not self.counted or elapsed <= 0:
            return ""
        rate = self.counted / elapsed
        left = self.total - self.done
        eta = f", ETA {_duration(left / rate)}" if left else f", {_duration(elapsed)} in all"
        now = f"; now: {', '.join(self.current[:3])}" if left and self.current else ""
        return (
            f" ({rate * 60:.1f} {self.unit}s/min{eta}{now})" if rate < 1 else f" ({rate:.2f} {self.unit}s/s{eta}{now})"
        )

    def _postfix(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(", ".join(self.current[:3]), refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
