"""Where the reference's behaviour comes from: the one seam the checks, harness and feedback use.

In the full package the reference is `reference_impl.handlers`, run in this process. A learner
build replaces this module (no handler code there: recorded behaviour instead), so nothing else
in `autograder` may import `reference_impl.handlers` for the reference's answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reference_impl.profiles import RFC9293, Profile
from reference_impl.trace import Trace


def reference_machine() -> Mapping:
    """The reference's handler per state: Mapping[State, Handler]."""
    from reference_impl.handlers import HANDLERS

    return HANDLERS


def reference_trace(name: str, profile: Profile = RFC9293, lose: Iterable[str] = ()) -> Trace:
    """The reference's trace of a catalogue scenario under `profile`, with segments such as "A2" lost."""
    from reference_impl.scenarios import LOSE, parse_key, run

    fates = {parse_key(k): LOSE for k in lose}
    return run(name, profile, fates)

