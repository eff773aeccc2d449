"""The instructor workflow on top of nbgrader: generate, collect, autograde, feedback, export.

Small named steps over nbgrader's own directory layout and converters, adding what a cohort of
hostile or broken notebooks needs: parallel and resumable autograde, a sandboxed kernel,
tamper detection, feedback without hidden tests or tracebacks, grades and class-report CSVs.
"""

from .autograde import Outcome, autograde
from .course import Course
from .steps import Collected, PipelineError, collect, generate

__all__ = ["Collected", "Course", "Outcome", "PipelineError", "autograde", "collect", "generate"]
