"""Running a submission's cells: nbgrader's Execute, hardened for hostile notebooks.

nbgrader's `Execute` gives up on the whole notebook when the kernel dies (nothing is scored and
the batch logs an error), keeps every byte a runaway `print` sends, and starts the kernel in the
grader's own directory. `SafeExecute` keeps nbgrader's scoring but:

- a dead kernel marks the cell it died in, and every later code cell, with an error output that
  says so (those cells score zero; earlier cells keep their scores);
- output per cell is capped while it arrives (`max_output_bytes`), before LimitOutput trims lines;
- the kernel starts in a scratch directory (`scratch_dir`) holding only copies of the
  assignment's data files, through `SandboxedKernelManager`.
"""

from __future__ import annotations

import os
import shutil
import sys

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer, Unicode

KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel starts inside an `autograder.sandbox.SandboxPolicy`."""

    sandbox_policy = Unicode("", config=True, help="SandboxPolicy as JSON; empty runs unconfined")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if not self.sandbox_policy:
            return cmd
        return [sys.executable, "-m", "autograder.sandbox", self.sandbox_policy, "--", *cmd]


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class SafeExecute(Execute):
    """Execute that survives dead kernels and floods, and runs in a scratch directory."""

    max_output_bytes = Integer(100_000, help="Bytes of output kept per cell; the rest is dropped").tag(config=True)
    scratch_dir = Unicode("", help="Where the kernel runs (empty: next to the notebook)").tag(config=True)

    def preprocess(self, nb, resources, km=None):
        self._died_in: int | None = None
        self._bytes: dict[int, int] = {}
        if self.scratch_dir:
            here = resources.get("metadata", {}).get("path") or "."
            for name in os.listdir(here):
                src = os.path.join(here, name)
                if os.path.isfile(src) and not name.endswith(".ipynb"):
                    shutil.copy(src, os.path.join(self.scratch_dir, name))
            resources.setdefault("metadata", {})["path"] = self.scratch_dir
        try:
            return super().preprocess(nb, resources, km=km)
        except DeadKernelError:  # died between cells or during shutdown: already recorded
            if self._died_in is None:
                raise
            return nb, resources

    def preprocess_cell(self, cell, resources, index):
        if self._died_in is not None:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [error_output(NOT_RUN, f"not run: the kernel died in cell {self._died_in + 1}")]
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._died_in = index
            code = self.km.provisioner.process.returncode if self.km and self.km.provisioner else None
            why = f" (exit status {code})" if code is not None else ""
            cell.outputs.append(error_output(KERNEL_DIED, f"the kernel died while running this cell{why}"))
            return cell, resources

    def output(self, outs, msg, display_id, cell_index):
        size = len(str(msg.get("content", "")))
        seen = self._bytes.get(cell_index, 0)
        self._bytes[cell_index] = seen + size
        if seen + size <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if seen <= self.max_output_bytes:  # first message over the cap: say so once
            note = NotebookNode(output_type="stream", name="stdout", text="\n[output truncated by the grader]\n")
            outs.append(note)
        return None
