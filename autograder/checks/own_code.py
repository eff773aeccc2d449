""" "Write it yourself": a test cell whose exercise is a building block's job refuses that block.

A manifest says, for a test cell, which building blocks the learner must not use in the handler
under study, because writing that piece *is* the exercise (notebook 01: build the FIN and advance
SND.NXT, so not `send_fin`, nor `TCB.transmit`, which builds it):

    cell("test_established_close", 2, visible=[...], hidden=[...],
         yourself=[yourself(State.ESTABLISHED, "send_fin", "transmit",
                            what="build the FIN <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK> and advance SND.NXT")])

Such a cell scores 0, with one sentence saying why and what to write, when the handler's code
(or a helper of the learner's it calls) names one of the blocks; every other cell is unaffected,
so the shortcut costs its own cell once.

Why the source, read on the trusted side, and not a tripwire at run time. The grading sandbox runs
the learner's cells in a process their code may rewrite entirely (DESIGN.md, grading trust model):
a tripwire wrapped around `send_fin` there can be unwrapped, or its report forged, by the very
code it watches. The cells' source, by contrast, is what the trusted side sent to the sandbox
itself (RunnerSession.history): it is read here, outside the learner's reach, with `ast`. Its one
blind spot is a name built at run time (`getattr(actions, "send_" + "fin")`, `eval`, `globals()`),
so a handler under such a rule may not look names up dynamically at all: that too scores 0, with
its own sentence. A long block copied in under another name is found by its shape (checks.copied). Only the code the handler can reach by name is read (its def, and the learner's
own top-level functions and values it uses, transitively), so a block used legitimately elsewhere
in the notebook costs nothing. In the notebook itself (in-process), the same reading runs on the
kernel's input history (`In`), or on each function's source where there is no history.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from types import FunctionType

from reference_impl.profiles import Profile

from ..manifest import TestCell, WriteYourself
from .copied import copied_block

# Calls that reach a name the source does not spell: they hide what a handler uses.
DYNAMIC = {"eval", "exec", "compile", "globals", "vars", "locals", "__import__", "getattr", "import_module",
           "__getattribute__", "__dict__", "attrgetter", "methodcaller"}  # fmt: skip
CALLED = DYNAMIC - {"__dict__", "__getattribute__"}  # named as calls in the sentence: `getattr(...)`
_OWN = (Path(__file__).resolve().parents[1], Path(__file__).resolve().parents[2] / "reference_impl")
# Profile options that share a building block's name (profile.timewait_state_process says whether to
# take TIME_WAIT by Linux's rules; timewait_state_process is the block that does): reading one is no use.
PROFILE_OPTIONS = frozenset(f.name for f in fields(Profile))


def own_code_problem(cell: TestCell, code: Sequence[str]) -> str | None:
    """Why `cell` scores 0 under its "write it yourself" rules, one sentence, or None. `code`: the
    learner's cells in the order they ran (the last binding of a name wins, as in the kernel)."""
    if not cell.yourself:
        return None
    bindings = _bindings(code)
    for rule in cell.yourself:
        problem = _rule_problem(rule, bindings)
        if problem:
            return problem
    return None


def _rule_problem(rule: WriteYourself, bindings: Mapping[str, list[ast.AST]]) -> str | None:
    name = rule.state.value.lower()
    if name not in bindings:
        return None  # nothing of the learner's for this state: the checks say so in their own words
    blocks = " or ".join(f"`{b}`" for b in rule.blocks)
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for node in bindings.get(current, ()):
            copied = copied_block(node, rule.blocks)
            if copied:
                return (f"your `{current}` is the library's `{copied}` copied in: in this exercise you {rule.what} "
                        f"yourself; this cell scores 0 until your {name} does")  # fmt: skip
            options, local, spelled = _option_reads(node), _locals(node), _spelled_lookups(node, rule.blocks)
            for sub in _walk_code(node):
                if id(sub) in options or id(sub) in local:
                    continue
                if _own_definition(sub, rule.blocks, bindings):
                    todo.append(sub.id)  # the learner's own function of that name: read it instead
                    continue
                used = _block_used(sub, rule.blocks)
                if used:
                    via = "" if current == name else f" (through your `{current}`)"
                    return (f"your {name} uses `{used}`{via}: in this exercise you {rule.what} yourself, without "
                            f"{blocks}; this cell scores 0 until your {name} does")  # fmt: skip
                dynamic = _dynamic(sub, spelled)
                if dynamic:
                    via = "" if current == name else f" (in your `{current}`)"
                    return (f"your {name} looks a name up at run time with `{dynamic}`{via}, so the grader cannot "
                            f"see that you {rule.what} yourself (without {blocks}); name what you use directly: "
                            f"this cell scores 0 until then")  # fmt: skip
                if isinstance(sub, ast.Name) and sub.id in bindings and sub.id not in seen:
                    todo.append(sub.id)
    return None


def _walk_code(node: ast.AST):
    """ast.walk without docstrings: what a learner writes *about* a block is not a use of it."""
    docstrings = set()
    for sub in ast.walk(node):
        body = getattr(sub, "body", None)
        if (isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)):  # fmt: skip
            docstrings.add(id(body[0].value))
    return (sub for sub in ast.walk(node) if id(sub) not in docstrings)


def _locals(node: ast.AST) -> set[int]:
    """The nodes that read a function's own local names (its parameters, assignments, loop and `with`
    targets): a variable that happens to share a block's name (`rto = ...` beside `profile.rto`) is the
    learner's value, not the block. Defaults and decorators run outside the function, so a parameter
    defaulting to a block (`retransmit=retransmit`) still uses it; a module-level statement has no
    locals."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return set()
    outside = {id(n) for expr in [*node.args.defaults, *node.args.kw_defaults, *node.decorator_list]
               if expr is not None for n in ast.walk(expr)}  # fmt: skip
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names |= {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
    return {id(n) for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in names and id(n) not in outside}


def _option_reads(node: ast.AST) -> set[int]:
    """The nodes of `profile.<option>` in `node`, where `profile` is a parameter and the attribute is
    read, not called: a Profile option named like a block, not the block (a module's block taken by
    attribute, `A.send_fin`, still counts: A is no parameter)."""
    params = {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
    called = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    return {id(n) for n in ast.walk(node)
            if isinstance(n, ast.Attribute) and n.attr in PROFILE_OPTIONS and isinstance(n.value, ast.Name)
            and n.value.id in params and id(n) not in called}  # fmt: skip


def _own_definition(node: ast.AST, blocks: tuple[str, ...], bindings: Mapping[str, list[ast.AST]]) -> bool:
    """A name spelled like a block but bound, last, by the learner's own def or class."""
    if not (isinstance(node, ast.Name) and node.id in blocks):
        return False
    bound = bindings.get(node.id, ())
    return bool(bound) and isinstance(bound[0], ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)


def _block_used(node: ast.AST, blocks: tuple[str, ...]) -> str | None:
    if isinstance(node, ast.Name) and node.id in blocks:
        return node.id
    if isinstance(node, ast.Attribute) and node.attr in blocks:
        return node.attr
    if isinstance(node, ast.alias) and (node.name.split(".")[-1] in blocks or node.asname in blocks):
        return node.name.split(".")[-1]
    # a string that *is* a block's name (getattr(actions, "send_fin"), import_module(...).send_fin);
    # a comment-like string merely mentioning one is not a use
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.split(".")[-1] in blocks:
        return node.value.split(".")[-1]
    return None


def _dynamic(node: ast.AST, spelled: set[int]) -> str | None:
    """A way to reach a name the source does not spell: any mention of getattr, eval, globals() ... (so
    `reduce(getattr, ...)` and `look = getattr` too), a function's `__globals__`, `__builtins__`, a
    `__dict__`. `spelled`: the getattr-like calls whose name cannot be a block (_spelled_lookups)."""
    if id(node) in spelled:
        return None
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    if name in DYNAMIC or name in ("__globals__", "__builtins__"):
        return f"{name}(...)" if name in CALLED else name
    return None


# where a getattr-like call takes the name it looks up: getattr(obj, NAME), attrgetter(NAME, ...), methodcaller(NAME)
_NAME_ARGS = {"getattr": slice(1, 2), "attrgetter": slice(0, None), "methodcaller": slice(0, 1)}


def _spelled_lookups(node: ast.AST, blocks: tuple[str, ...]) -> set[int]:
    """The function nodes of getattr/attrgetter/methodcaller calls whose names are spelled out enough
    that none can be a block: a constant (`getattr(x, "field")`, read by _block_used), or built on a
    constant prefix or suffix that no block has (`getattr(self, "on_" + kind)`, f"on_{kind}"). A
    table of handlers looked up by event is the learner's own dispatch, not a hidden block."""
    out = set()
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        args = call.args[_NAME_ARGS[name]] if name in _NAME_ARGS else []
        if args and all(_cannot_be(arg, blocks) for arg in args):
            out.add(id(func))
    return out


def _cannot_be(expr: ast.AST, blocks: tuple[str, ...]) -> bool:
    prefix, suffix, whole = _fixed_ends(expr)
    if whole:
        return True
    return not any(b.startswith(prefix) and b.endswith(suffix) and len(b) >= len(prefix) + len(suffix) for b in blocks)


def _fixed_ends(expr: ast.AST) -> tuple[str, str, bool]:
    """(prefix, suffix, whole) that a string expression always has: whole when it is a constant."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value, expr.value, True
    if isinstance(expr, ast.JoinedStr) and expr.values:
        first, last = expr.values[0], expr.values[-1]
        return (first.value if isinstance(first, ast.Constant) else "",
                last.value if isinstance(last, ast.Constant) else "", False)  # fmt: skip
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        lp, ls, lw = _fixed_ends(expr.left)
        rp, rs, rw = _fixed_ends(expr.right)
        if lw and rw:
            return lp + rp, lp + rp, True
        return (lp + rp if lw else lp), (ls + rs if rw else rs), False
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mod):
        fmt, _, whole = _fixed_ends(expr.left)
        return (fmt.split("%", 1)[0], "", False) if whole else ("", "", False)
    return "", "", False


def _bindings(code: Iterable[str]) -> dict[str, list[ast.AST]]:
    """Top-level name -> the nodes that (last) bound it: a def or class, an assignment's value, an
    import. Methods of top-level classes are also found by their own name (a handler class)."""
    out: dict[str, list[ast.AST]] = {}
    for source in code:
        tree = _parse(source)
        if tree is None:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                out[node.name] = [node]
                if isinstance(node, ast.ClassDef):
                    for item in node.body:
                        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                            out[item.name] = [item, node]
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name)):
                        out[name] = [node]
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    out[(alias.asname or alias.name).split(".")[0]] = [alias]
    return out


def _parse(source: str) -> ast.Module | None:
    """A cell's source as Python; IPython's magics and shell escapes dropped."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


# ---- the learner's code, wherever it is --------------------------------------------------------


def code_of(machine: object) -> tuple[str, ...]:
    """The learner's cells for a machine: what the trusted side ran (`machine.code`), else the
    kernel's input history, else the source of each learner function in the namespace."""
    code = tuple(getattr(machine, "code", ()) or ())
    if code:
        return code
    ns = getattr(machine, "source", None)
    if not isinstance(ns, Mapping):
        return ()
    history = ns.get("In")
    if isinstance(history, list) and all(isinstance(c, str) for c in history):
        return tuple(history)
    found = []
    for value in ns.values():
        if isinstance(value, FunctionType) and not _ours(value):
            try:
                found.append(textwrap.dedent(inspect.getsource(value)))
            except (OSError, TypeError):
                continue
    return tuple(found)


def _ours(fn: FunctionType) -> bool:
    path = Path(fn.__code__.co_filename).resolve()
    return any(d in path.parents for d in _OWN)
