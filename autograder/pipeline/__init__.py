"""The instructor workflow on top of nbgrader: generate, collect, autograde, feedback, export.

Small named steps over nbgrader's own directory layout and converters, adding what a cohort of
hostile or broken notebooks needs: parallel and resumable autograde, a sandboxed kernel,
tamper detection, feedback without hidden tests or tracebacks, grades and class-report CSVs.

Names load on first use: a grading worker (autograder.pipeline.worker) imports this package
without importing nbgrader, whose import alone costs seconds.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__all__ = ["Collected", "Course", "Outcome", "PipelineError", "autograde", "collect", "generate"]
_FROM = {"Outcome": "records", "Course": "course", "Collected": "steps", "PipelineError": "steps",
         "collect": "steps", "generate": "steps"}  # fmt: skip


def __getattr__(name: str):
    if name in _FROM:
        return getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Package(ModuleType):
    """`autograder.pipeline.autograde` names the function, as it always has, even once its module is loaded."""

    @property
    def autograde(self):
        return importlib.import_module(f"{__name__}.autograde").autograde

    @autograde.setter
    def autograde(self, value) -> None:
        pass  # the import system binding the submodule: the name stays the function's


sys.modules[__name__].__class__ = _Package
