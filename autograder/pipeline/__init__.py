"""The instructor workflow on top of nbgrader: generate, collect, autograde, feedback, export.

Small named steps over nbgrader's own directory layout and converters, adding what a cohort of
hostile or broken notebooks needs: parallel and resumable autograde, a sandboxed kernel,
tamper detection, feedback without hidden tests or tracebacks, grades and class-report CSVs.

The names below load on first use: importing nbgrader takes seconds, and `tcpclose scenarios`
should not pay for it.
"""

from importlib import import_module

_WHERE = {
    "Outcome": ".autograde", "autograde": ".autograde", "Course": ".course",
    "Collected": ".steps", "PipelineError": ".steps", "collect": ".steps", "generate": ".steps",
}  # fmt: skip

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
