"""An IPython shell that runs one cell at a time and hands back its outputs as plain data.

The same InteractiveShell a kernel runs (magics, display, the `_` history), without a kernel:
each cell's stream text, displays, execute result and error are collected as nbformat output
dicts, bounded in size, so the grader can write them into the autograded notebook.
"""

from __future__ import annotations

import signal
import sys

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

KEPT_MIMES = ("text/plain", "text/html", "text/markdown", "image/png", "image/svg+xml")
TRUNCATED = "\n[output truncated by the grader]\n"


class CellTimeoutError(BaseException):
    """Raised into a cell that ran past its time limit (BaseException: `except Exception` cannot keep it)."""


class Outputs:
    """The outputs of the cell running now, as nbformat dicts, at most `limit` characters in all."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size, self.items, self.truncated = limit, 0, [], False

    def _room(self, n: int) -> bool:
        if self.truncated:
            return False
        if self.size + n > self.limit:
            self.truncated = True
            self.items.append({"output_type": "stream", "name": "stdout", "text": TRUNCATED})
            return False
        self.size += n
        return True

    def stream(self, name: str, text: str) -> None:
        if not text or not self._room(len(text)):
            return
        last = self.items[-1] if self.items else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.items.append({"output_type": "stream", "name": name, "text": text})

    def bundle(self, output_type: str, data: dict, **extra) -> None:
        kept = {}
        for mime in KEPT_MIMES:
            value = data.get(mime)
            if isinstance(value, str):
                kept[mime] = value
        if kept and self._room(sum(map(len, kept.values()))):
            self.items.append({"output_type": output_type, "data": kept, "metadata": {}, **extra})

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        text = [str(line)[:2000] for line in traceback[-20:]]
        if self._room(len(ename) + len(evalue) + sum(map(len, text))):
            self.items.append({"output_type": "error", "ename": ename, "evalue": evalue[:4000], "traceback": text})

    def clear(self) -> None:
        self.items.clear()


class Stream:
    """sys.stdout / sys.stderr while a cell runs."""

    def __init__(self, shell: CellShell, name: str) -> None:
        self.shell, self.name = shell, name

    def write(self, text: str) -> int:
        text = str(text)
        self.shell.outputs.stream(self.name, text)
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


class CollectingDisplayHook(DisplayHook):
    """A cell's value becomes its execute_result."""

    def write_output_prompt(self) -> None:
        pass

    def write_format_data(self, format_dict, md_dict=None) -> None:
        self.shell.outputs.bundle("execute_result", format_dict, execution_count=self.shell.execution_count)

    def finish_displayhook(self) -> None:
        pass


class CollectingPublisher(DisplayPublisher):
    """display(...) becomes display_data."""

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs) -> None:
        self.shell.outputs.bundle("display_data", data)

    def clear_output(self, wait=False) -> None:
        self.shell.outputs.clear()


class CellShell(InteractiveShell):
    displayhook_class = CollectingDisplayHook
    display_pub_class = CollectingPublisher

    def __init__(self, **kwargs) -> None:
        self.outputs = Outputs(100_000)
        super().__init__(**kwargs)

    def _showtraceback(self, etype, evalue, stb) -> None:
        self.outputs.error(getattr(etype, "__name__", str(etype)), _text(evalue), [_text(s) for s in stb])

    def enable_gui(self, gui=None) -> None:  # %matplotlib inline and the like: nothing to show a GUI on
        pass


def _text(value: object) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a learner's exception whose __str__ fails
        return f"<{type(value).__name__}>"


def make_shell(output_limit: int) -> CellShell:
    cfg = Config()
    cfg.HistoryManager.enabled = False
    cfg.InteractiveShell.colors = "NoColor"
    cfg.InteractiveShell.separate_in = cfg.InteractiveShell.separate_out = cfg.InteractiveShell.separate_out2 = ""
    cfg.InteractiveShell.autocall = 0
    shell = CellShell.instance(config=cfg)
    shell.outputs = Outputs(output_limit)
    return shell


def run_cell(shell: CellShell, source: str, timeout: float, output_limit: int) -> tuple[list[dict], bool]:
    """Run one cell as a kernel would: (outputs, whether it raised). A cell over its time limit is
    interrupted with CellTimeoutError, shown as its error."""
    shell.outputs = Outputs(output_limit)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Stream(shell, "stdout"), Stream(shell, "stderr")

    def expired(signum, frame):
        raise CellTimeoutError(f"the cell ran past its time limit ({timeout:g} s) and was interrupted")

    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        result = shell.run_cell(source, store_history=True, silent=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = saved
    failed = not result.success
    return shell.outputs.items, failed
