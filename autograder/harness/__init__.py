"""Run a learner's handlers in the simulator, safely, and record what every handler did.

A notebook hands us its answers in whatever shape a learner writes them (functions named after
states, a dict, a class, the notebook's namespace); `learner_handlers` finds them (discovery),
`compose` fills the other states with the reference so the simulator has a whole machine, and
`Guard` (guard) stands between the simulator and every learner call: a crash, a wrong return
value (returns), a frozen TCB poked at, an endless loop, a flood of prints, or a call into the
reference's own handlers (stopped by limits) each become one sentence a learner can act on
(`LearnerError`, errors), never a traceback.

`run_machine` and `observe` (record) turn each handler call into an `Observed` step: only what
the outside world can see (next state, segments on the wire, which timers are armed and until
when, what the application is told), so two correct implementations that differ in bookkeeping
or output order record the same steps.
"""

from .discovery import (
    LearnerMachine,
    compose,
    is_stub,
    learner_handlers,
    machine_from_namespace,
    misnamed,
    require,
    unwritten,
)
from .errors import HANDLER_NAMES, Handler, LearnerError
from .guard import Guard
from .limits import Limits
from .record import AFTER_DIVERGENCE, Observed, Run, SegmentView, observe, run_machine, segment_view
from .returns import output_problem, step_problem

__all__ = [
    "AFTER_DIVERGENCE", "HANDLER_NAMES", "Guard", "Handler", "LearnerError", "LearnerMachine", "Limits", "Observed",
    "Run", "SegmentView", "compose", "is_stub", "learner_handlers", "machine_from_namespace", "misnamed", "observe",
    "output_problem", "require", "run_machine", "segment_view", "step_problem", "unwritten",
]  # fmt: skip
