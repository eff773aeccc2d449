"""Mutants of the reference, each wrong in exactly one place: the measure of the hidden tests.

A hidden test set is only as good as the wrong implementations it rejects. We take the
real source of `reference_impl/handlers.py` and `reference_impl/actions.py`, change one
AST node, compile the result into a fresh module, and grade it as if a learner had
handed it in. Operators, chosen after the mistakes learners make:

    state     a transition's next state (or the state handed to retransmit/drop) → each other state
    timer     a Timer kind (started, cancelled, or matched in a `case`) → each other kind
    drop      one output (a Send, a timer start or cancel, a delivery, an error) is never produced,
              or a building block's outputs (the retransmission timer's restart) are left out
    seq±1     a sent segment's SEQ off by one;   ack±1  its ACK off by one
    FIN, ACK  a sent segment with the FIN (or ACK) bit flipped
    duration  a started timer runs twice as long, or half as long
    negate    an `if` (or conditional expression, or comprehension filter) condition inverted
    not       a `not` removed
    boolop    `and` ↔ `or`
    compare   a boundary moved: < ↔ <=, > ↔ >=
    const     an integer constant + 1
    seq→int   sequence arithmetic done on plain integers, without modulo 2**32: seq_add(a, n) → a + n,
              seq_lt(a, b) → a < b (and seq_le, seq_gt, seq_ge, seq_diff): right until the numbers wrap

Some mutants cannot change what any endpoint observably does; each is listed in
EQUIVALENT with the reason, and the test insists the list is exactly the survivors.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from autograder.harness import LearnerMachine, Limits, machine_from_namespace
from reference_impl import actions, handlers
from reference_impl.segment import ACK, FIN, MOD, Segment
from reference_impl.states import CLOSE_STATES, State, Step, Timer

SOURCES = {"actions": Path(actions.__file__), "handlers": Path(handlers.__file__)}
OUTPUT_NAMES = {"Send", "StartTimer", "CancelTimer", "DeliverData", "DeliverEOF", "Error"}
OUTPUT_BLOCKS = {"retransmit_timer"}  # building blocks that return a list of outputs
SEND_VARIANTS = ("seq+1", "seq-1", "ack+1", "ack-1", "FIN", "ACK")


@dataclass(frozen=True)
class Mutant:
    module: str  # "handlers" or "actions"
    function: str  # the enclosing function: a state's handler or a building block
    line: int
    operator: str
    original: str  # the source text of the node changed
    variant: str  # what it becomes
    node_index: int  # position of the node in ast.walk order of the module
    context: str = ""  # the enclosing statement as its syntax tree prints it; "#2" when it repeats

    @property
    def key(self) -> str:
        """A name that survives unrelated edits: no line number, and the statement is printed from its
        syntax tree, so comments and formatting do not change it."""
        return f"{self.module}.{self.function}: {self.operator} `{self.original}` in {self.context} → {self.variant}"

    @property
    def where(self) -> str:
        """The row of the table: a state's handler, or actions.<block>."""
        return self.function if self.module == "handlers" else f"actions.{self.function}"


# ---- the helpers a mutated module calls ---------------------------------------------------


class _Dropped:
    """Stands where a dropped output was built; filtered out of every Step."""

    def __repr__(self) -> str:
        return "<dropped>"


DROPPED = _Dropped()


def _bump(seg: Segment, variant: str) -> Segment:
    match variant:
        case "seq+1" | "seq-1":
            return dataclasses.replace(seg, seq=(seg.seq + (1 if variant == "seq+1" else -1)) % MOD)
        case "ack+1" | "ack-1":
            return dataclasses.replace(seg, ack=(seg.ack + (1 if variant == "ack+1" else -1)) % MOD)
        case "FIN":
            return dataclasses.replace(seg, flags=seg.flags ^ FIN)
        case "ACK":
            return dataclasses.replace(seg, flags=seg.flags ^ ACK)
    raise ValueError(variant)


def _scale(duration: int, variant: str) -> int:
    return duration * 2 if variant == "x2" else duration // 2


HELPERS = {"_DROPPED": DROPPED, "_bump": _bump, "_scale": _scale}


# ---- finding the sites ------------------------------------------------------------------


def _tree(module: str) -> ast.Module:
    return ast.parse(SOURCES[module].read_text(), filename=str(SOURCES[module]))


def _functions(tree: ast.Module) -> dict[int, str]:
    """id(node) → name of the top-level function containing it."""
    owner: dict[int, str] = {}
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef):
            for node in ast.walk(fn):
                owner[id(node)] = fn.name
    return owner


@lru_cache(maxsize=1)
def _reached_blocks() -> frozenset[str]:
    """The building blocks the reference's handlers call, directly or through other blocks.

    Only those are mutated: a block no reference handler reaches (one given to learners for an
    exercise the reference does another way, such as note_close or fin_crossed) changes nothing the
    hidden tests can see through the reference, so its mutants would all "survive" and say nothing
    about the tests; its own unit tests hold it instead."""
    blocks = {fn.name: fn for fn in _tree("actions").body if isinstance(fn, ast.FunctionDef)}

    def names(node: ast.AST) -> set[str]:
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
            n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
        }

    todo, reached = list(names(_tree("handlers")) & set(blocks)), set()
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += list(names(blocks[name]) & set(blocks))
    return frozenset(reached)


def _excluded(tree: ast.Module, module: str) -> set[int]:
    """Nodes that are not behaviour: annotations, and each handler's fall-through return (FALL_THROUGH)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        for ann in [getattr(node, "annotation", None), getattr(node, "returns", None)]:
            if ann is not None:
                skip |= {id(n) for n in ast.walk(ann)}
    if module == "handlers":
        for fn in tree.body:
            last = fn.body[-1] if isinstance(fn, ast.FunctionDef) else None
            if isinstance(last, ast.Return) and State.__members__.get(fn.name.upper()) in FALL_THROUGH:
                skip |= {id(n) for n in ast.walk(last)}
    return skip


def _statements(tree: ast.Module) -> dict[int, str]:
    """id(node) → the statement it sits in, printed from the syntax tree (for a compound statement,
    its header: `if ...:`, `match ...:`, `case ... if ...:`)."""
    out: dict[int, str] = {}

    def mark(nodes, text: str) -> None:
        for part in nodes:
            for n in ast.walk(part):
                out.setdefault(id(n), " ".join(text.split()))

    for node in ast.walk(tree):
        if isinstance(node, ast.If | ast.While):
            header = f"{'if' if isinstance(node, ast.If) else 'while'} {ast.unparse(node.test)}:"
            out[id(node)] = header  # the negate operator turns the statement itself
            mark([node.test], header)
        elif isinstance(node, ast.For):
            mark([node.target, node.iter], f"for {ast.unparse(node.target)} in {ast.unparse(node.iter)}:")
        elif isinstance(node, ast.Match):
            mark([node.subject], f"match {ast.unparse(node.subject)}:")
        elif isinstance(node, ast.match_case):
            guard = f" if {ast.unparse(node.guard)}" if node.guard else ""
            mark([node.pattern, *([node.guard] if node.guard else [])], f"case {ast.unparse(node.pattern)}{guard}:")
        elif isinstance(node, ast.stmt) and not hasattr(node, "body"):
            mark([node], ast.unparse(node))
    return out


_COMPARE_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
# The sequence arithmetic of reference_impl.segment, and the plain integer operation a learner writes instead.
SEQ_PLAIN = {"seq_add": ast.Add, "seq_diff": ast.Sub, "seq_lt": ast.Lt, "seq_le": ast.LtE, "seq_gt": ast.Gt,
             "seq_ge": ast.GtE}  # fmt: skip
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def _sites(module: str) -> Iterator[tuple[int, ast.AST, str, str]]:
    """(node index, node, operator, variant) for every mutation of the module."""
    tree = _tree(module)
    owner = _functions(tree)
    skip = _excluded(tree, module)
    reached = _reached_blocks() if module == "actions" else None
    for index, node in enumerate(ast.walk(tree)):
        if id(node) not in owner or id(node) in skip or (reached is not None and owner[id(node)] not in reached):
            continue
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "State":
                # Into the close machine's states only: a learner writing the close never hands a
                # connection to LISTEN or SYN_SENT (the opening states are the reference's).
                for other in CLOSE_STATES:
                    if other.name != node.attr:
                        yield index, node, "state", f"State.{other.name}"
            elif node.value.id == "Timer":
                for other in Timer:
                    if other.name != node.attr:
                        yield index, node, "timer", f"Timer.{other.name}"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in OUTPUT_NAMES:
            yield index, node, "drop", "nothing"
            if node.func.id == "Send":
                for v in SEND_VARIANTS:
                    yield index, node, v if v in ("FIN", "ACK") else v[:3] + "±1", v
            if node.func.id == "StartTimer":
                for v in ("x2", "/2"):
                    yield index, node, "duration", v
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in OUTPUT_BLOCKS:
            yield index, node, "drop", "nothing"
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SEQ_PLAIN
              and len(node.args) == 2):  # fmt: skip
            a, b = (ast.unparse(x) for x in node.args)
            yield index, node, "seq→int", f"{a} {_SYMBOL[SEQ_PLAIN[node.func.id]]} {b}"
        elif isinstance(node, ast.If | ast.IfExp):
            yield index, node, "negate", "not (...)"
        elif isinstance(node, ast.comprehension):
            for _ in node.ifs:
                yield index, node, "negate", "not (...)"
                break
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield index, node, "not", "without not"
        elif isinstance(node, ast.BoolOp):
            yield index, node, "boolop", "or" if isinstance(node.op, ast.And) else "and"
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE_SWAP:
            yield index, node, "compare", ast.unparse(_COMPARE_SWAP[type(node.ops[0])]()) or "swap"
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            yield index, node, "const", str(node.value + 1)


@lru_cache(maxsize=1)
def generate() -> tuple[Mutant, ...]:
    """Every mutant of handlers.py and actions.py, in source order."""
    out = []
    for module in SOURCES:
        tree = _tree(module)
        owner = _functions(tree)
        statement = _statements(tree)
        by_index = list(ast.walk(tree))
        seen: dict[tuple, set[int]] = {}
        for index, _node, operator, variant in _sites(module):
            node = by_index[index]
            line = getattr(node, "lineno", None) or node.target.lineno
            text = f"`{statement[id(node)]}`"
            same = seen.setdefault((owner[id(node)], operator, _snippet(node), text, variant), set())
            same.add(index)
            context = text + (f" #{len(same)}" if len(same) > 1 else "")
            out.append(Mutant(module, owner[id(node)], line, operator, _snippet(node), variant, index, context))
    return tuple(out)


def _snippet(node: ast.AST) -> str:
    text = ast.unparse(node) if not isinstance(node, ast.comprehension) else "for ... if " + ast.unparse(node.ifs[0])
    text = " ".join(text.split())
    return text if len(text) <= 70 else text[:67] + "..."


# ---- building one -------------------------------------------------------------------------


def _apply(tree: ast.Module, m: Mutant) -> None:
    node = list(ast.walk(tree))[m.node_index]
    op, v = m.operator, m.variant
    if op in ("state", "timer"):
        node.attr = v.split(".")[1]
    elif op == "drop":
        _replace(tree, node, ast.Name("_DROPPED", ast.Load()))
    elif op in ("seq±1", "ack±1", "FIN", "ACK"):
        node.args[0] = ast.Call(ast.Name("_bump", ast.Load()), [node.args[0], ast.Constant(v)], [])
    elif op == "duration":
        node.args[1] = ast.Call(ast.Name("_scale", ast.Load()), [node.args[1], ast.Constant(v)], [])
    elif op == "negate" and isinstance(node, ast.comprehension):
        node.ifs[0] = ast.UnaryOp(ast.Not(), node.ifs[0])
    elif op == "negate":
        node.test = ast.UnaryOp(ast.Not(), node.test)
    elif op == "not":
        _replace(tree, node, node.operand)
    elif op == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif op == "compare":
        node.ops = [_COMPARE_SWAP[type(node.ops[0])]()]
    elif op == "const":
        node.value += 1
    elif op == "seq→int":
        plain, (a, b) = SEQ_PLAIN[node.func.id], node.args
        new = ast.BinOp(a, plain(), b) if plain in (ast.Add, ast.Sub) else ast.Compare(a, [plain()], [b])
        _replace(tree, node, new)
    ast.fix_missing_locations(tree)


def _replace(tree: ast.Module, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, ast.copy_location(new, old))
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = ast.copy_location(new, old)
                        return
    raise LookupError("node not found")


@lru_cache(maxsize=2)
def _pristine(module: str) -> ast.Module:
    return _tree(module)


def _exec(module: str, tree: ast.Module) -> dict:
    ns = {"__name__": f"reference_impl._mutant_{module}", "__package__": "reference_impl", **HELPERS}
    exec(compile(tree, str(SOURCES[module]), "exec"), ns)  # noqa: S102 - our own source, one node changed
    return ns


def build(m: Mutant | None = None, *, fall_through_raises: bool = False) -> dict[State, Callable]:
    """The mutant as a machine table: State → handler, with dropped outputs filtered out.

    Without a mutant, the reference itself; with fall_through_raises, each handler's fall-through
    return (FALL_THROUGH) raises instead, to show that no case of the hidden suite reaches it."""
    trees = {name: copy.deepcopy(_pristine(name)) for name in SOURCES}
    if m is not None:
        _apply(trees[m.module], m)
    if fall_through_raises:
        for fn in trees["handlers"].body:
            if isinstance(fn, ast.FunctionDef) and State.__members__.get(fn.name.upper()) in FALL_THROUGH:
                fn.body[-1] = ast.copy_location(ast.parse(f"raise AssertionError('{fn.name}: fall-through')").body[0],
                                                fn.body[-1])  # fmt: skip
        ast.fix_missing_locations(trees["handlers"])
    acts = _exec("actions", trees["actions"])
    hands = _exec("handlers", trees["handlers"])
    for node in trees["handlers"].body:  # the handlers use the (possibly mutated) building blocks
        if isinstance(node, ast.ImportFrom) and node.module == "actions":
            for alias in node.names:
                hands[alias.asname or alias.name] = acts[alias.name]
    # The close machine only: the opening states (reference_impl.opening) are not mutated, and are
    # played by the reference as for any learner.
    return {state: _filtered(fn) for state, fn in hands["HANDLERS"].items() if state in CLOSE_STATES}


def _filtered(fn: Callable) -> Callable:
    def handler(tcb, ev, profile):
        step = fn(tcb, ev, profile)
        if isinstance(step, Step) and any(o is DROPPED for o in step.outputs):
            step = dataclasses.replace(step, outputs=tuple(o for o in step.outputs if o is not DROPPED))
        return step

    return handler


# ---- equivalent mutants, each with its reason ------------------------------------------------

# Each handler ends with a fall-through `return Step(<same state>, (), tcb)` for a stimulus no
# `case` matched. It is never mutated: every app call and every arrival has a case in every state,
# so only a Timeout can fall through, and the simulator delivers a Timeout only for a timer that is
# running. Which timers can run in each state, and why none of them reaches the fall-through (the
# mutation test checks the hidden suite never takes it):
FALL_THROUGH = {
    State.ESTABLISHED: "only RETRANSMIT can run in ESTABLISHED (DELAYED_ACK starts only with the move "
    "to CLOSE_WAIT; TIME_WAIT and FIN_WAIT_2 belong to later states), and its case handles it",
    State.FIN_WAIT_1: "only RETRANSMIT can run in FIN_WAIT_1 (it is entered from ESTABLISHED, which arms "
    "nothing else), and its case handles it",
    State.FIN_WAIT_2: "RETRANSMIT is cancelled on entry (the ACK of our FIN acknowledges everything: the "
    "FIN is the last thing sent), and FIN_WAIT_2, the only timer left, has its case",
    State.CLOSING: "only RETRANSMIT can run in CLOSING (entered from FIN_WAIT_1), and its case handles it",
    State.TIME_WAIT: "only TIME_WAIT can run: every way in cancels RETRANSMIT (FIN_WAIT_1, CLOSING) or "
    "FIN_WAIT_2 (FIN_WAIT_2), and the TIME_WAIT timeout has its case",
    State.CLOSE_WAIT: "RETRANSMIT and DELAYED_ACK are the timers that can run in CLOSE_WAIT, and both have cases",
    State.LAST_ACK: "only RETRANSMIT can run in LAST_ACK (the close in CLOSE_WAIT cancels DELAYED_ACK), and "
    "its case handles it",
    State.CLOSED: "no timer runs in CLOSED: entering it deletes the TCB and every timer with it "
    "(RFC 9293 §3.10.7.4), as the simulator does",
}

EQUIVALENT: dict[str, str] = {
    "actions.take_text: const `0` in `outputs.insert(0, Send(tcb.ack()))` → 1":
        "the ACK moves after the first delivery in the same step; within a step only the order of "
        "segments is observable, and this list holds one segment",
    "handlers.close_wait: const `0` in `outputs.insert(0, CancelTimer(Timer.DELAYED_ACK))` → 1":
        "the cancel of DELAYED_ACK moves after the FIN in the same step; a timer cancel and a segment "
        "of the same instant commute",
    "handlers.fin_wait_2: boolop `tcb.orphaned and profile.fin_wait_2_timeout is not None` in "
    "`if tcb.orphaned and profile.fin_wait_2_timeout is not None:` → or":
        "with `or` the extra CancelTimer(FIN_WAIT_2) happens only where that timer was never started "
        "(an orphan under RFC 9293, or a shutdown() socket under Linux); cancelling a timer that is not "
        "running changes nothing",
    "handlers.close_wait: not `not rdwr` in `tcb, outputs = send_fin(tcb, profile, orphan=not shutdown, "
    "reading=not rdwr)` → without not":
        "`reading` only sets refuses_data, which screen reads for data beyond RCV.NXT; in LAST_ACK the peer's "
        "FIN has been taken, so no data can come after it",
    "handlers.close_wait: const `0` in `outputs.insert(0, CancelTimer(Timer.DELAYED_ACK))` #2 → 1":
        "the cancel of DELAYED_ACK moves after the data segment in the same step; a timer cancel and a segment "
        "of the same instant commute",
}  # fmt: skip


# ---- the measure ----------------------------------------------------------------------------


@dataclass
class Outcome:
    mutant: Mutant
    killed: bool
    by: str = ""  # the first case that failed


# A mutant dies of what it does, never of a loaded machine: the checks' wall-clock limits (one second
# a call, twenty a check) are for learners' runaway code, and the course-wide suite runs far longer.
PATIENT = Limits(per_call=60.0, per_check=3600.0)


def machine(m: Mutant) -> LearnerMachine:
    """The mutant as the checks take a learner's handlers, with PATIENT limits."""
    return dataclasses.replace(machine_from_namespace(build(m)), limits=PATIENT)


def grade(m: Mutant) -> Outcome:
    """Grade one mutant with the whole course's hidden tests, stopping at the first failure."""
    from autograder.checks import hidden_suite

    failures = hidden_suite(machine(m), partial=True, fail_fast=True).failures
    return Outcome(m, bool(failures), failures[0].name if failures else "")


def run_all(mutants: tuple[Mutant, ...] | None = None, processes: int = 1) -> list[Outcome]:
    """Grade every mutant; with processes > 1, in forked workers (the reference runs are shared)."""
    mutants = mutants or generate()
    if processes <= 1:
        return [grade(m) for m in mutants]
    import multiprocessing

    from autograder.checks import hidden_suite

    hidden_suite(machine(mutants[0]), partial=True)  # warm the reference caches before forking
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return pool.map(grade, mutants, chunksize=8)


def table(outcomes: list[Outcome]) -> str:
    """Mutants by state (and building block): generated, killed, equivalent, surviving."""
    rows: dict[str, list[int]] = {}
    for o in outcomes:
        r = rows.setdefault(o.mutant.where, [0, 0, 0, 0])
        r[0] += 1
        if o.killed:
            r[1] += 1
        elif o.mutant.key in EQUIVALENT:
            r[2] += 1
        else:
            r[3] += 1
    order = [s.value.lower() for s in State]
    names = sorted(rows, key=lambda n: (order.index(n) if n in order else len(order), n))
    lines = [f"{'where':<28}{'mutants':>8}{'killed':>8}{'equiv.':>8}{'alive':>8}"]
    for n in names:
        lines.append(f"{n:<28}" + "".join(f"{v:>8}" for v in rows[n]))
    totals = [sum(r[i] for r in rows.values()) for i in range(4)]
    lines.append(f"{'total':<28}" + "".join(f"{v:>8}" for v in totals))
    return "\n".join(lines)
