"""What to run of a submission, and where its test cells are, judged against the release notebook.

The release notebook (what the learner was given) decides every cell's role, by grade_id; the
submission's own metadata only says which cell is which. So:

- a test cell is never run: the grader grades it at its place (the last copy of it, as nbgrader's
  DeduplicateIds keeps); an edited one is graded anyway, changed points are ignored (the manifest's
  count), a deleted one scores 0; each is reported;
- a locked cell (the setup cell) runs as released, whatever the submission holds there;
- an answer cell runs as the learner wrote it, even when its metadata was changed to claim it is
  a test cell, and a cell claiming a grade_id the assignment does not have is just learner code;
- every other code cell runs, in order, as a kernel would run it.

Nothing here fails a submission: every oddity becomes a finding (kind, cell, one sentence).

The learner's own code is also read here, on the trusted side, for what a handler exercise never
needs and cheating does (walking the interpreter's frames, hooking IPython, decoding code or data
at run time, reaching for the reference): a "source" finding. What the runner's watch sees happens
inside the learner's process, where a submission can silence it; what is read here cannot be.
Like every flag, it never changes a score.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections import Counter
from dataclasses import dataclass, field

from nbformat import NotebookNode

from autograder.harness.errors import HANDLER_NAMES
from reference_impl.states import State

GRADED_KEYS = ("grade", "solution", "locked", "points", "grade_id", "task")


@dataclass(frozen=True)
class Finding:
    kind: str  # deleted | edited | metadata | duplicate | remarked | extra | source
    cell: str
    note: str


@dataclass(frozen=True)
class Step:
    """One submission cell: run it (source), grade a test cell here (grade_id), or leave it be."""

    index: int  # in the submission
    action: str  # run | trusted (a locked cell, run as released) | test | skip
    source: str = ""
    grade_id: str = ""


@dataclass
class Plan:
    steps: list[Step]
    tests: list[str]  # the release's test cells, in release order
    graded_at: dict[str, int] = field(default_factory=dict)  # test grade_id -> submission index
    findings: list[Finding] = field(default_factory=list)
    defined: dict[str, frozenset[State]] = field(default_factory=dict)  # released_handlers(release)

    def deleted(self) -> list[str]:
        return [g for g in self.tests if g not in self.graded_at]


def meta(cell: NotebookNode) -> dict:
    m = cell.get("metadata", {}).get("nbgrader", {})
    return m if isinstance(m, dict) else {}


def role(cell: NotebookNode) -> str:
    """test | answer | written | locked | free: what a release cell is."""
    m = meta(cell)
    if not isinstance(m.get("grade_id"), str):
        return "free"
    if m.get("grade") and not m.get("solution"):
        return "test" if cell.get("cell_type") == "code" else "locked"
    if m.get("solution"):
        return "answer" if cell.get("cell_type") == "code" else "written"
    return "locked" if m.get("locked") else "free"


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _source(cell: NotebookNode) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else str(s)


def make_plan(release: NotebookNode, submission: NotebookNode) -> Plan:
    roles = {meta(c)["grade_id"]: (role(c), c) for c in release.cells if role(c) != "free"}
    tests = [g for g, (r, _) in roles.items() if r == "test"]
    plan = Plan([], tests, defined=released_handlers(release))
    ids = [meta(c).get("grade_id") for c in submission.cells]
    counts = Counter(g for g in ids if isinstance(g, str))
    last = {g: i for i, g in enumerate(ids) if isinstance(g, str)}
    for gid, n in sorted(counts.items()):
        if n > 1 and gid in roles:
            plan.findings.append(Finding("duplicate", gid, f"the cell {gid} appears {n} times in the submission; "
                                         "the last copy is the one graded"))  # fmt: skip
    for index, cell in enumerate(submission.cells):
        gid = ids[index] if isinstance(ids[index], str) else None
        kind, released = roles.get(gid, ("free", None)) if gid else ("free", None)
        if kind == "test":
            if last[gid] != index:
                plan.steps.append(Step(index, "skip", grade_id=gid))
                continue
            plan.graded_at[gid] = index
            plan.steps.append(Step(index, "test", grade_id=gid))
            _compare(plan, gid, cell, released)
        else:
            plan.steps.append(_step(plan, index, cell, gid, kind, released))
    for gid in plan.deleted():
        plan.findings.append(Finding("deleted", gid, "this test cell was deleted from the submission"))
    _find_own_code(plan, release, ids)
    return plan


def released_handlers(release: NotebookNode) -> dict[str, frozenset[State]]:
    """Per test cell: the states whose handlers the release's code cells above it define (a def or an
    assignment at top level). At that cell they are the learner's, stub or not: one that is gone is
    graded as not written, never played by the reference."""
    defined: set[State] = set()
    out: dict[str, frozenset[State]] = {}
    for cell in release.cells:
        if role(cell) == "test":
            out[meta(cell)["grade_id"]] = frozenset(defined)
            continue
        try:
            tree = ast.parse(_as_released(_source(cell))) if cell.get("cell_type") == "code" else None
        except SyntaxError:
            continue
        for node in tree.body if tree is not None else ():
            names = [node.name] if isinstance(node, ast.FunctionDef) else []
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
            defined.update(HANDLER_NAMES[n] for n in names if n in HANDLER_NAMES)
    return out


def _as_released(source: str) -> str:
    """A source notebook's cell as nbgrader releases it: each solution region a NotImplementedError."""
    out, inside = [], False
    for line in source.splitlines():
        if line.strip() == "### BEGIN SOLUTION":
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + "raise NotImplementedError()")
        elif line.strip() == "### END SOLUTION":
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def _step(plan: Plan, index: int, cell: NotebookNode, gid: str | None, kind: str,
          released: NotebookNode | None) -> Step:  # fmt: skip
    """What to do with a cell that is not a test cell: run it (a locked one as released) or skip it."""
    code = cell.get("cell_type") == "code"
    if kind == "locked":
        if _norm(_source(cell)) != _norm(_source(released)) or cell.get("cell_type") != released.cell_type:
            plan.findings.append(Finding("edited", gid, f"the locked cell {gid} was edited; it ran as released"))
        return Step(index, "trusted", _source(released)) if released.cell_type == "code" else Step(index, "skip")
    if kind == "answer":
        m = meta(cell)
        if m.get("grade") and not m.get("solution"):
            plan.findings.append(Finding("remarked", gid, f"the answer cell {gid} was marked as a test cell; "
                                         "it ran as your answer and the real test cells were graded"))  # fmt: skip
        return Step(index, "run", _source(cell)) if code else Step(index, "skip")
    if kind == "written":
        return Step(index, "skip")
    m = meta(cell)
    if gid and (m.get("grade") or m.get("locked")):
        plan.findings.append(Finding("extra", gid, f"a cell claims the grade id {gid}, which this "
                                     "assignment does not have; it ran as ordinary code"))  # fmt: skip
    return Step(index, "run", _source(cell)) if code and _source(cell).strip() else Step(index, "skip")


def _find_own_code(plan: Plan, release: NotebookNode, ids: list) -> None:
    """The submission's own code doing what the release's never does (opening files, sockets, ...)."""
    code = [_source(c) for c in release.cells if c.get("cell_type") == "code"]
    released = {_norm(c) for c in code}
    text = _without_comments("\n".join(code))  # the release's own matches (notebook 07 opens sockets)
    usual = frozenset(m.group(0) for pattern, _ in SUSPICIOUS for m in pattern.finditer(text))
    own = 0
    for step in plan.steps:
        if step.action == "run" and _norm(step.source) not in released:
            own += len(step.source)
            seen = suspicious(step.source, usual)
            if seen:
                gid = ids[step.index] if isinstance(ids[step.index], str) else f"cell {step.index + 1}"
                plan.findings.append(Finding("source", gid, f"the submission's own code {'; '.join(seen)}"))
    if own > LARGE_IN_ALL:  # the same data split over many cells, each under LARGE
        plan.findings.append(Finding("source", "notebook", f"the submission's own code holds {own:,} characters in "
                                     "all (data pasted in, over several cells?)"))  # fmt: skip


# What a learner's handlers never need, read from the code (comments and docstrings left out, other strings kept:
# a path or a module's name hides there): (pattern, what the code does).
SUSPICIOUS: tuple[tuple[re.Pattern, str], ...] = tuple(
    (re.compile(p), what)
    for p, what in (
        (
            r"\b(_current_frames|_getframe|currentframe|f_back|f_locals|f_globals|tb_frame|gi_frame|cr_frame)\b",
            "walks the interpreter's frames",
        ),
        (r"\b(get_objects|get_referrers|get_referents)\b", "searches the process's objects"),
        (r"\b(__closure__|__code__|__globals__|__builtins__|__subclasses__)\b", "reaches into functions' internals"),
        (r"\b(addaudithook|settrace|setprofile)\b", "hooks the interpreter"),
        (r"\bsys\.modules\b|\bimportlib\b|__import__", "imports or replaces modules by name"),
        (
            r"\b(events\.register|input_transformers\w*|ast_transformers|display_formatter|displayhook|display_pub)\b",
            "hooks IPython",
        ),
        (r"\bbuiltins\b", "changes builtins"),
        (r"\bctypes\b", "uses ctypes"),
        (
            r"\b(os\.fork|forkpty|setsid|subprocess|os\.system|posix_spawn|threading|multiprocessing|_thread)\b",
            "starts processes or threads",
        ),
        (r"\bsocket\b", "opens sockets"),
        (
            r"\b(time\.time|time_ns|perf_counter|monotonic|process_time|datetime\.now|urandom|getrandom|SystemRandom"
            r"|uuid[14])\b|\brandom\.",
            "reads the clock or a random source (its answers, and so its score, may differ from run to run)",
        ),
        (
            r"\bsymlink\b|/proc\b|/dev/shm|gradebook|nbgrader|course/source|\.\./\.\.",
            "reaches for files outside the notebook",
        ),
        (
            r"reference_impl\.handlers|\bautograder\.(recorded|reference_source|runner|plain|checks|harness|integrity)\b"
            r"|_recorded\b|\bRecordedReference\b|\breference_machine\b|\bgetsource\b",
            "reaches for the reference or the grading modules",
        ),
        (
            r"\b(exec|eval|compile)\s*\(|\b(b64decode|b85decode|a85decode|unhexlify|fromhex|codecs|marshal|pickle|zlib"
            r"|gzip|lzma|bz2|frombuffer|struct)\b",
            "runs or decodes code or data it builds at run time",
        ),
    )
)
LARGE = 20_000  # characters: a cell this long holds pasted data, not handler code
LARGE_IN_ALL = 60_000  # characters of the submission's own code in all (notebook 01's solutions: about 8,000)


def suspicious(source: str, usual: frozenset[str] = frozenset()) -> list[str]:
    """What the code does that a handler exercise never needs, one phrase each (empty: nothing).
    usual: what the release itself writes (`autograder.checks` in its setup cell), not counted."""
    code = _without_comments(source)
    seen = [what for pattern, what in SUSPICIOUS if any(m.group(0) not in usual for m in pattern.finditer(code))]
    if len(source) > LARGE:
        seen.append(f"holds {len(source):,} characters in one cell (data pasted in?)")
    return seen


def _without_comments(source: str) -> str:
    """The code without its comments and docstrings (a string standing alone as a statement)."""
    try:
        kept, before = [], tokenize.NEWLINE
        for t in tokenize.generate_tokens(io.StringIO(source).readline):
            if t.type in (tokenize.COMMENT, tokenize.NL):
                continue
            if not (t.type == tokenize.STRING and before in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)):
                kept.append(t.string)
            before = t.type
        return re.sub(r"\s*\.\s*", ".", " ".join(kept))  # "sys . modules" read back as sys.modules
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return "\n".join(line.split("#", 1)[0] for line in source.splitlines())


def _compare(plan: Plan, gid: str, cell: NotebookNode, released: NotebookNode) -> None:
    ours, theirs = meta(released), meta(cell)
    if any(ours.get(k) != theirs.get(k) for k in GRADED_KEYS):
        plan.findings.append(Finding("metadata", gid, "the cell's grading metadata (points, flags) was changed; "
                                     "the assignment's own were used"))  # fmt: skip
    elif _norm(_source(cell)) != _norm(_source(released)) or cell.get("cell_type") != released.get("cell_type"):
        copied = "END HIDDEN TESTS" in _source(cell) and "END HIDDEN TESTS" not in _source(released)
        why = " and holds a hidden-tests region, as the course's source notebook does (a copy of it?)" if copied else ""
        plan.findings.append(Finding("edited", gid, f"the source of this test cell was edited{why}; it was graded "
                                     "as released (its source never runs)"))  # fmt: skip
