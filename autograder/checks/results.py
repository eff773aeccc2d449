"""What a check finds: one Case per comparison, gathered in a CheckOutcome with partial credit.

A failure that stops a test cell is a CheckFailed, which nbgrader, the feedback and learners
know as AssertionError; in a notebook it shows its message alone, never the checks' frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


class CheckFailed(AssertionError):
    """A failed check. In a notebook, IPython shows just its message (`_render_traceback_`),
    not a wall of the checks' own frames: the message already names the state, the event,
    what the reference did and what the learner's code did."""

    def _render_traceback_(self) -> list[str]:
        head, *rest = str(self).splitlines() or [""]
        return [f"\x1b[0;31mAssertionError\x1b[0m: {head}", *rest]


# nbgrader's reports, the feedback and the course tests read the error's name; keep the one
# learners know.
CheckFailed.__name__ = CheckFailed.__qualname__ = "AssertionError"


@dataclass
class Case:
    """One comparison: a transition from a fixture, or a whole scenario run."""

    name: str
    passed: bool
    message: str = ""
    transition: tuple[str, str] | None = None  # the failing (state, event kind)
    exercised: frozenset[tuple[str, str]] = frozenset()  # learner transitions that matched
    replay: str = ""
    # drawn on demand; given (endpoint, time), that endpoint's moment is marked if it differs there too
    svg: Callable[..., str | None] | None = field(default=None, repr=False)
    scene: tuple[str, object] | None = None  # (scenario, profile) a failing transition is met in, to draw it
    where: tuple[str, int] | None = None  # (endpoint, time) of that transition in the scene, to mark it there


@dataclass
class CheckOutcome:
    """The outcome of one check: cases, partial credit, and which transitions failed.

    (Not to be confused with the pipeline's per-notebook result of `tcpclose check`.)
    """

    title: str
    cases: list[Case]

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.cases)

    @property
    def total(self) -> int:
        return len(self.cases)

    @property
    def score(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def failures(self) -> list[Case]:
        return [c for c in self.cases if not c.passed]

    def points(self, max_points: float) -> float:
        """Partial credit for an nbgrader test cell: end the cell with `result.points(3)`."""
        return round(max_points * self.score, 2)

    def transitions(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(state, event kind) → (cases where it behaved, cases where it first went wrong)."""
        return tally_transitions(self.cases)

    def message(self, more: int = 5) -> str:
        failures = self.failures
        if not failures:
            return f"{self.title}: passes" if self.total == 1 else f"{self.title}: all {self.total} cases pass"
        if self.total == 1:  # one case: its own message says it all
            msg = failures[0].message
            return msg if msg.startswith(self.title) else f"{self.title}: {msg}"
        # The failure is indented under its summary line, so readers that keep one block per
        # check (tcpclose check, the class report) keep the whole failure with it.
        head = f"{self.title}: {self.passed} of {self.total} cases pass. First failure:\n" + indent(failures[0].message)
        rest = [c.name for c in failures[1:]]
        if rest:
            listed = ", ".join(rest[:more]) + (f", and {len(rest) - more} more" if len(rest) > more else "")
            head += f"\n  Also failing: {listed}"
        return head

    def marked(self) -> str:
        """The whole message under ✓ or ✗, as a hidden check's result reads in the feedback (a reader
        found the visible checks marked and a failing hidden one not)."""
        return ("✓ " if not self.failures else "✗ ") + self.message()

    def line(self) -> str:
        """One line a learner can read: ✓ with what passed, or ✗ with how many cases pass."""
        if not self.failures:
            return "✓ " + self.message()
        return f"✗ {self.title}: {self.passed} of {self.total} cases pass"

    def raise_if_failed(self) -> CheckOutcome:
        if self.failures:
            raise CheckFailed(self.message())
        return self

    def __repr__(self) -> str:
        # What a test cell shows when it ends with a check: one line a learner can read.
        return self.line()


def tally_transitions(cases: list[Case]) -> dict[tuple[str, str], tuple[int, int]]:
    """(state, event kind) → (cases where it behaved, cases where it first went wrong)."""
    ok: dict[tuple[str, str], int] = {}
    bad: dict[tuple[str, str], int] = {}
    for c in cases:
        for t in c.exercised:
            ok[t] = ok.get(t, 0) + 1
        if c.transition:
            bad[c.transition] = bad.get(c.transition, 0) + 1
    return {t: (ok.get(t, 0), bad.get(t, 0)) for t in sorted(ok.keys() | bad.keys())}


def indent(text: str) -> str:
    return "\n".join("  " + line if line else line for line in text.splitlines())
