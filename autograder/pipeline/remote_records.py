"""What a runner session keeps and hands back: its limits, flags for the instructor, cell outcomes, grading points."""

from __future__ import annotations

from dataclasses import dataclass, field

from autograder.harness import LearnerError
from reference_impl.states import State, Step


@dataclass(frozen=True)
class RunnerLimits:
    """Time and size limits on the learner's side of grading (seconds, characters)."""

    cell: float = 60.0  # one non-test cell
    grace: float = 2.0  # past a limit before the runner is killed rather than trusted to stop
    per_call: float = 1.0  # one handler call
    call_output: int = 20_000  # what one handler call may print
    output: int = 100_000  # what one cell may show
    start: float = 30.0  # the runner up and ready
    restarts: int = 10  # per notebook; then the remaining cells are not run
    batch: float = 5.0  # seconds a prefetched battery may take in the runner; the rest is asked one by one


@dataclass
class Flag:
    """Something seen that the instructor should know; it never changes a score."""

    kind: str  # seen | displayed | protocol | replay | tampered | saved-output | gone
    cell: str  # grade_id or "cell N"
    text: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "cell": self.cell, "text": self.text}


@dataclass
class Ran:
    """One non-test cell: its outputs, and how it ended: ok, error, timeout (killed), died, not-run."""

    outputs: list[dict]
    status: str
    note: str = ""


@dataclass
class GradingPoint:
    """One grading point (a test cell's place): the handlers there and the answers so far."""

    cell: int
    grade_id: str
    handlers: dict[State, tuple[str, bool]] = field(default_factory=dict)
    answers: dict[tuple, Step | LearnerError] = field(default_factory=dict)
    broken: dict[State, LearnerError] = field(default_factory=dict)
    gone: set[State] = field(default_factory=set)  # defined above by the notebook, removed by the learner


class RunnerGone(Exception):
    """The runner cannot be (re)started any more; the message says why."""
