"""The device under test of the other stacks' black-box tests: one endpoint whose arriving segments
meet the stack first (reference_impl.stack: what a real stack decides before the state's handler),
then the state's handler, as in the simulator. test_gvisor.py and test_zephyr*.py drive it."""

from __future__ import annotations

from reference_impl.handlers import HANDLERS, handle
from reference_impl.profiles import Profile
from reference_impl.stack import Endpoint, before_handler
from reference_impl.states import Arrival, State, Step, Stimulus
from reference_impl.tcb import TCB


class StackDUT:
    def __init__(self, state: State, tcb: TCB, profile: Profile) -> None:
        self.state, self.tcb, self.profile = state, tcb, profile

    def feed(self, ev: Stimulus) -> Step:
        step = None
        if isinstance(ev, Arrival):
            stack = Endpoint("A", self.state, self.tcb, reads=True)
            step, first, _ = before_handler(stack, ev.segment, self.profile, HANDLERS, self._no_listener)
            if step is not None and first:
                step = Step(step.state, first + step.outputs, step.tcb)
        if step is None:
            step = handle(self.state, self.tcb, ev, self.profile)
        self.state = step.state
        if step.tcb is not None:
            self.tcb = step.tcb
        return step

    @staticmethod
    def _no_listener(iss: int) -> TCB:
        raise AssertionError("no listener here: nothing reopens TIME_WAIT")
