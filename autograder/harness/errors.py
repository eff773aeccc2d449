"""What a learner's code did wrong, as one sentence (LearnerError), and the handler signature."""

from __future__ import annotations

from collections.abc import Callable

from reference_impl.profiles import Profile
from reference_impl.states import State, Step, Stimulus
from reference_impl.tcb import TCB

Handler = Callable[[TCB, Stimulus, Profile], Step]

# fin_wait_1 → State.FIN_WAIT_1; FIN_WAIT_1 is accepted too, as a dict key or method name.
HANDLER_NAMES: dict[str, State] = {s.value.lower(): s for s in State} | {s.value: s for s in State}


class LearnerError(Exception):
    """A learner handler misbehaved. `sentence` says what, where, and how to fix it."""

    def __init__(self, sentence: str, kind: str = "error") -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.kind = kind  # missing, exception, return, frozen, timeout, output, slow, integrity
        self.state: State | None = None
        self.stimulus: Stimulus | None = None
        self.endpoint = ""
        self.time: int | None = None
