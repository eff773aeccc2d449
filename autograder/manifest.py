"""The grading manifest: what each test cell of a notebook checks, and what it is worth.

One per notebook, `course/source/<NN_name>/manifest.py`, kept with the course source and never
released (nbgrader's CourseDirectory.ignore). The notebook's test cells, its "before you submit"
cell and the trusted grader all read it, so a cell's checks are written down once:

    from autograder.manifest import cell, family, scenario, transition, transitions, yourself
    CELLS = [
        cell("test_fin_wait_2_fin", 2,
             visible=[transition(State.FIN_WAIT_2, Arrival(Segment(seq=300, ack=101, flags=FIN | ACK)))],
             hidden=[scenario("active-close", profile=LINUX),
                     scenario("active-close", wrap=True),
                     family("active-close", k=1, weight=2)]),
        cell("test_established_close", 2, visible=[...], hidden=[...],   # the exercise *is* building the FIN:
             yourself=[yourself(State.ESTABLISHED, "send_fin", "transmit",
                                what="build the FIN segment and advance SND.NXT")]),
    ]
    BEFORE_SUBMIT = every_hidden_check(CELLS)   # what the notebook's last cell runs
    EXPLANATIONS = {"fin-wait-2-fin": "A acknowledges B's FIN and waits 2 MSL..."}  # tests.predict(key, ...)
    ANSWERS = {"fin-wait-2-fin": from_trace("active-close", "A", "recv", nth=2)}  # not in the cell's source

A cell scores 0 when its handler uses a building block its `yourself` rules say the learner
writes (autograder.checks.own_code), or when any visible check fails, else points × the weighted
mean of its hidden checks' scores (autograder.checks.cells.grade_cell). A check is plain data (CheckSpec): its
kind, its subject and its options, all values of reference_impl (states, stimuli, TCBs,
profiles), so a learner build can precompute what the visible ones expect.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from reference_impl.profiles import LINUX, RFC9293, Profile
from reference_impl.states import State, Stimulus, Timer
from reference_impl.tcb import TCB

from .predictions import Answer

DEFAULT_PROFILES: tuple[Profile, ...] = (RFC9293, LINUX)
KINDS = ("transition", "scenario", "family", "transitions", "sockets")
COURSE = Path(__file__).resolve().parents[1] / "course"  # the full package's own course


class ManifestError(LookupError):
    """A manifest is missing or wrong; the message is one sentence for whoever can fix it."""


@dataclass(frozen=True)
class CheckSpec:
    """One check of a test cell: which check function, on what, with which options, and its weight.

    kind "transition": args (state, stimulus); options tcb, timers, profile, wrap.
    kind "scenario": args (name,); options profile, fates, states, wrap.
    kind "family": args (names...); options k, profiles, wrap, given.
    kind "transitions" (a state's whole battery): args (states...); options profiles, wrap.
    kind "sockets" (notebook 07): args (case names of autograder.production_checks...); option title.
    """

    kind: str
    args: tuple = ()
    options: tuple[tuple[str, object], ...] = ()  # keyword arguments, in a fixed order
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ManifestError(f"unknown check kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if not self.weight > 0:
            raise ManifestError(f"a check's weight must be positive, not {self.weight!r}")

    @property
    def kwargs(self) -> dict:
        return dict(self.options)

    @property
    def wrap(self) -> bool:
        return bool(self.kwargs.get("wrap"))


def _spec(kind: str, args: tuple, weight: float, **options) -> CheckSpec:
    kept = tuple((k, v) for k, v in options.items() if not (v is None or v is False or v == ()))
    return CheckSpec(kind, args, kept, float(weight))


def transition(state: State, stimulus: Stimulus, *, tcb: TCB | None = None, timers: Mapping[Timer, int] | None = None,
               profile: Profile = RFC9293, wrap: bool = False, weight: float = 1.0) -> CheckSpec:  # fmt: skip
    """check_transition: the handler for `state` on one stimulus (timers: µs left on each)."""
    armed = tuple(sorted(timers.items(), key=lambda kv: kv[0].value)) if timers else None
    return _spec("transition", (state, stimulus), weight, tcb=tcb, timers=armed,
                 profile=None if profile == RFC9293 else profile, wrap=wrap)  # fmt: skip


def scenario(name: str, *, profile: Profile = RFC9293, fates: Iterable[str] = (), states: Iterable[State] = (),
             wrap: bool = False, given: Iterable[tuple] = (), weight: float = 1.0) -> CheckSpec:  # fmt: skip
    """check_scenario: one catalogue scenario, with extra lost segments such as "A2" (given: as family's)."""
    extra = {"given": tuple(given)} if given else {}
    return _spec("scenario", (name,), weight, profile=None if profile == RFC9293 else profile,
                 fates=tuple(fates), states=tuple(states), wrap=wrap, **extra)  # fmt: skip


def family(*names: str, k: int = 1, profiles: Iterable[Profile] = DEFAULT_PROFILES, wrap: bool = False,
           given: Iterable[tuple[State, Stimulus]] = (), weight: float = 1.0) -> CheckSpec:  # fmt: skip
    """check_family: every way of losing up to k segments in each scenario, under each profile.

    given: (state, stimulus) pairs the reference answers in these runs although the learner wrote
    the state, because another cell grades them (notebook 04: the RETRANSMIT timeout of FIN_WAIT_1,
    the learner's backoff), so that one mistake is charged once; a stimulus's kind names all of them,
    (State.FIN_WAIT_2, Arrival): every segment arriving there. The rest of the state stays the learner's."""
    return _spec("family", tuple(names), weight, k=k, profiles=tuple(profiles), wrap=wrap, given=tuple(given))


def transitions(*states: State, profiles: Iterable[Profile] = DEFAULT_PROFILES, wrap: bool = False,
                weight: float = 1.0) -> CheckSpec:  # fmt: skip
    """check_transitions: every stimulus in several situations of each state, under each profile."""
    return _spec("transitions", tuple(states), weight, profiles=tuple(profiles), wrap=wrap)


def sockets(*cases: str, title: str, weight: float = 1.0) -> CheckSpec:
    """Socket cases on real loopback connections (autograder.production_checks): the grader makes
    the connections, the learner's function gets one end, the grader judges what the other end saw."""
    return _spec("sockets", tuple(cases), weight, title=title)


@dataclass(frozen=True)
class WriteYourself:
    """In `state`'s handler the learner writes what these building blocks do (see autograder.checks.own_code).

    blocks: names of functions or methods (`send_fin`, `transmit`) the handler may not use there.
    what: what the learner does instead, to end "in this exercise you ... yourself".
    """

    state: State
    blocks: tuple[str, ...]
    what: str


def yourself(state: State, *blocks: str, what: str) -> WriteYourself:
    """A test cell's rule: `state`'s handler may not use `blocks`; the learner must `what` themselves."""
    if not blocks or not all(isinstance(b, str) and b.isidentifier() for b in blocks):
        raise ManifestError(f"yourself({state}): name the building blocks the learner must not use, e.g. 'send_fin'")
    return WriteYourself(state, tuple(blocks), what)


@dataclass(frozen=True)
class TestCell:
    """One graded test cell: its points, the checks the learner sees run, the hidden ones, and what
    the learner must write without the building blocks (the cell scores 0 otherwise)."""

    __test__ = False  # not a pytest test class

    grade_id: str
    points: float
    visible: tuple[CheckSpec, ...]
    hidden: tuple[CheckSpec, ...]
    yourself: tuple[WriteYourself, ...] = ()
    # the handlers the notebook defines above this cell (from its source): the learner's there, so a
    # missing one is named, never played by the reference (autograder.pipeline.plan.released_handlers)
    defined: frozenset[State] = frozenset()


def cell(grade_id: str, points: float, visible: Iterable[CheckSpec], hidden: Iterable[CheckSpec],
         yourself: Iterable[WriteYourself] = ()) -> TestCell:  # fmt: skip
    visible, hidden, own = tuple(visible), tuple(hidden), tuple(yourself)
    if not grade_id.startswith("test_") or not points > 0:
        raise ManifestError(f"cell {grade_id!r}: a test cell's grade_id starts with test_ and its points are positive")
    if not visible or not hidden:
        raise ManifestError(f"cell {grade_id!r} needs at least one visible and one hidden check")
    if not all(isinstance(w, WriteYourself) for w in own):
        raise ManifestError(f"cell {grade_id!r}: yourself= takes yourself(State..., 'block', what=...) entries")
    return TestCell(grade_id, float(points), visible, hidden, own)


def every_hidden_check(cells: Iterable[TestCell]) -> tuple[CheckSpec, ...]:
    """Every hidden check of these cells, each once (weights aside), in cell order."""
    seen: dict[tuple, CheckSpec] = {}
    for c in cells:
        for spec in c.hidden:
            seen.setdefault((spec.kind, spec.args, spec.options), spec)
    return tuple(seen.values())


@dataclass(frozen=True)
class Manifest:
    assignment: str
    cells: tuple[TestCell, ...]
    before_submit: tuple[CheckSpec, ...] = ()  # what the notebook's "before you submit" cell runs
    explanations: tuple[tuple[str, str], ...] = ()  # prediction key -> what the learner reads once they answered
    answers: tuple[tuple[str, Answer], ...] = ()  # prediction key -> where the reference answers it
    # The notebook's own cells or exercise open loopback sockets (notebook 05's lab, 07's listeners): the
    # runner's socket notes are the course's doing there, not something to flag (the sandbox's network
    # namespace has only loopback, so no socket reaches anything outside it).
    loopback: bool = False

    def explanation(self, key: str) -> str:
        """EXPLANATIONS[key]: kept here, out of the prediction cell's source, which would give it away."""
        for k, text in self.explanations:
            if k == key:
                return text
        raise ManifestError(
            f"the grading manifest of {self.assignment} explains no prediction {key!r}; "
            f"it explains {', '.join(k for k, _ in self.explanations) or 'none'}"
        )

    def answer(self, key: str) -> Answer | None:
        """ANSWERS[key], or None when the prediction's cell gives its own (a TCB it builds)."""
        return dict(self.answers).get(key)

    def cell(self, grade_id: str) -> TestCell:
        for c in self.cells:
            if c.grade_id == grade_id:
                return c
        raise ManifestError(f"the grading manifest of {self.assignment} has no test cell {grade_id!r}; "
                            f"it has {', '.join(c.grade_id for c in self.cells)}")  # fmt: skip

    @property
    def points(self) -> float:
        return sum(c.points for c in self.cells)


_LOADED: dict[tuple[Path, int], Manifest] = {}


def manifest_path(assignment: str, course_root: Path | None = None) -> Path:
    return Path(course_root or COURSE) / "source" / assignment / "manifest.py"


def load_manifest(assignment: str, course_root: Path | None = None) -> Manifest:
    """The manifest of `assignment` in the course at `course_root` (default: the package's own course)."""
    path = manifest_path(assignment, course_root)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        carried = _visible_manifest(assignment) if course_root is None else None
        if carried is not None:  # a learner build: the visible checks only, written out when it was built
            return carried
        raise ManifestError(f"no grading manifest for {assignment} at {path}: its checks are kept with the "
                            "course source, which is not installed here") from None  # fmt: skip
    known = _LOADED.get((path, stamp))
    if known is not None:
        return known
    spec = importlib.util.spec_from_file_location(f"tcpclose_manifest_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cells = tuple(getattr(module, "CELLS", ()))
    if not cells or not all(isinstance(c, TestCell) for c in cells):
        raise ManifestError(f"{path}: CELLS must be a list of cell(...) entries")
    ids = [c.grade_id for c in cells]
    if len(ids) != len(set(ids)):
        raise ManifestError(f"{path}: a grade_id appears twice in CELLS")
    before = tuple(getattr(module, "BEFORE_SUBMIT", None) or every_hidden_check(cells))
    explained = getattr(module, "EXPLANATIONS", {})
    if not isinstance(explained, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in explained.items()
    ):
        raise ManifestError(f"{path}: EXPLANATIONS must map each prediction's key to its explanation (text)")
    answers = getattr(module, "ANSWERS", {})
    if not isinstance(answers, dict) or not all(isinstance(v, Answer) for v in answers.values()):
        raise ManifestError(f"{path}: ANSWERS must map a prediction's key to from_trace(...) or from_reply(...)")
    unexplained = set(answers) - set(explained)
    if unexplained:
        raise ManifestError(
            f"{path}: ANSWERS names predictions EXPLANATIONS does not: {', '.join(sorted(unexplained))}"
        )
    loopback = getattr(module, "LOOPBACK", False)
    if not isinstance(loopback, bool):
        raise ManifestError(f"{path}: LOOPBACK must be True or False")
    cells = _with_defined(cells, path.with_name(f"{assignment}.ipynb"))
    manifest = Manifest(assignment, cells, before, tuple(explained.items()), tuple(answers.items()), loopback)
    _LOADED[(path, stamp)] = manifest
    return manifest


def _with_defined(cells: tuple[TestCell, ...], notebook: Path) -> tuple[TestCell, ...]:
    if not notebook.is_file():
        return cells
    import nbformat

    from .pipeline.plan import released_handlers

    defined = released_handlers(nbformat.read(notebook, as_version=4))
    return tuple(replace(c, defined=defined.get(c.grade_id, frozenset())) for c in cells)


def _visible_manifest(assignment: str) -> Manifest | None:
    try:
        from .visible import visible_manifest
    except ImportError:
        return None
    return visible_manifest(assignment)


def course_assignments(course_root: Path | None = None) -> list[str]:
    """The assignments of the course that have a manifest, in order."""
    source = Path(course_root or COURSE) / "source"
    return sorted(p.parent.name for p in source.glob("*/manifest.py")) if source.is_dir() else []


def machine_assignments(course_root: Path | None = None) -> list[str]:
    """The assignments whose exercises are the close machine's handlers: every one with a check
    other than notebook 07's socket cases, which a machine cannot answer."""
    return [a for a in course_assignments(course_root)
            if any(s.kind != "sockets" for c in load_manifest(a, course_root).cells for s in c.hidden)]  # fmt: skip
