"""Where the reference's behaviour comes from: the one seam the checks, harness, views and helpers use.

Nothing else in `autograder` imports `reference_impl.handlers`. What stands behind this seam
depends on which build of the course is installed, and is decided once per process:

- "live": the full package (instructors, self-paced learners). The reference's handlers run
  here, on any input.
- "recorded": the learner build (a lab's student image). It holds no handler code; the
  reference's answers to every handler call of the course's runs were recorded when the build
  was made (`autograder.recorded`), and a run that asks for anything else stops with a sentence.
- "none": the grading sandbox's view: neither. Every use raises `ReferenceUnavailable`, so a
  handler that leans on the reference has nothing to lean on there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from reference_impl.profiles import RFC9293, Profile
from reference_impl.trace import Trace


class ReferenceUnavailable(LookupError):
    """The reference's behaviour was asked for where this build has none of it. One sentence."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence

    def _render_traceback_(self) -> list[str]:  # IPython shows the sentence, not the frames
        return [self.sentence]


NO_REFERENCE = (
    "the reference's behaviour is not part of this environment (the grading sandbox's view of "
    "the course holds neither the reference nor its recorded runs); it runs on the grader's side"
)


class _Live:
    kind = "live"

    def __init__(self, handlers: Mapping) -> None:
        self.handlers = handlers

    def machine(self) -> Mapping:
        return self.handlers


_chosen: object | None = None


def _source():
    """The live reference if its handlers are importable, else the recorded one, else None."""
    global _chosen
    if _chosen is None:
        try:
            from reference_impl.handlers import HANDLERS
        except ImportError:
            from . import recorded

            _chosen = recorded.load() or False
        else:
            _chosen = _Live(HANDLERS)
    return _chosen or None


def source_kind() -> str:
    """ "live", "recorded" or "none": what stands behind this seam in this environment."""
    src = _source()
    return src.kind if src is not None else "none"


@contextmanager
def using(source: object) -> Iterator[None]:
    """Put another source behind the seam for a while (the build's recorder, and tests).
    `source` has .kind and .machine(); None stands for "none"."""
    global _chosen
    saved = _chosen
    _chosen = source if source is not None else False
    try:
        yield
    finally:
        _chosen = saved


def reference_machine() -> Mapping:
    """The reference's handler per state: Mapping[State, Handler]. ReferenceUnavailable when none."""
    src = _source()
    if src is None:
        raise ReferenceUnavailable(NO_REFERENCE)
    return src.machine()


def reference_trace(name: str, profile: Profile | str = RFC9293, lose: Iterable[str] = ()) -> Trace:
    """The reference's trace of a catalogue scenario under `profile` (a Profile or its name),
    with segments such as "A2" lost."""
    from reference_impl.profiles import get_profile
    from reference_impl.scenarios import losses, run

    lose = tuple(lose)
    fates = losses(lose)
    with _recorded_runs_only(name, get_profile(profile), lose):
        return run(name, get_profile(profile), fates or None, machine=reference_machine())


def loss_patterns(name: str, k: int, profile: Profile | str = RFC9293) -> list[tuple[str, ...]]:
    """Every set of at most k extra lost segments that can happen in the reference's run of a
    catalogue scenario, as segment names: [(), ("A1",), ("A1", "B2"), ...]."""
    from reference_impl.profiles import get_profile
    from reference_impl.scenarios import loss_patterns as patterns

    with _recorded_runs_only(name, get_profile(profile), ()):
        return [tuple(f"{e}{n}" for e, n in fates)
                for fates in patterns(name, k, get_profile(profile), machine=reference_machine())]  # fmt: skip


@contextmanager
def _recorded_runs_only(name: str, profile: Profile, lose: tuple[str, ...]) -> Iterator[None]:
    """A whole reference run the recordings do not cover is not the learner's doing: say which runs
    this build holds."""
    src = _source()
    try:
        yield
    except Exception as e:
        if getattr(src, "kind", "") == "recorded" and isinstance(e, src.Miss):
            raise ReferenceUnavailable(src.not_recorded(name, profile, lose)) from None
        raise
