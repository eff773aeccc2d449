"""A building block's code pasted in under another name: "write it yourself" read by shape, not name.

own_code refuses a handler that names a block the exercise asks the learner to write. A learner
build holds the blocks' source (later notebooks run on them), so the block can also be copied
into a function of the learner's own name. This compares the learner's functions with the block
by shape: docstrings dropped, every local name and parameter renamed in order of appearance,
text constants blanked. A function whose statements hold the block's whole body is that block,
copied. Only blocks of at least MIN_NODES syntax nodes are compared: a short block written by
hand comes out the same as the library's (`return tcb.fin_seq is not None and ...`), a long one
does not (none of the course's own solutions matches one).
"""

from __future__ import annotations

import ast
import copy
import inspect
import textwrap
from functools import cache

MIN_NODES = 100


def copied_block(fn: ast.AST, blocks: tuple[str, ...]) -> str | None:
    """The block whose whole body `fn`'s statements hold, in order (a copy of it), or None."""
    if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    mine = _shape(fn)
    for block in blocks:
        theirs = _block_shape(block)
        n = len(theirs)
        if n and any(mine[i : i + n] == list(theirs) for i in range(len(mine) - n + 1)):
            return block
    return None


@cache
def _block_shape(name: str) -> tuple[str, ...]:
    """The shape of the library's block `name` (a function, or a TCB or Profile method or property);
    () when it is too short to tell a copy or cannot be read."""
    from reference_impl import actions, profiles, tcb

    obj = getattr(actions, name, None) or getattr(tcb, name, None)
    obj = obj or getattr(tcb.TCB, name, None) or getattr(profiles.Profile, name, None)
    if isinstance(obj, property):
        obj = obj.fget
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))  # type: ignore[arg-type]
    except (OSError, TypeError, SyntaxError):
        return ()
    fn = tree.body[0]
    if not isinstance(fn, ast.FunctionDef) or sum(1 for _ in ast.walk(fn)) < MIN_NODES:
        return ()
    return tuple(_shape(fn))


def _shape(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    names = [a.arg for a in ast.walk(fn) if isinstance(a, ast.arg)]
    names += [n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    renamed: dict[str, str] = {}
    for name in names:
        renamed.setdefault(name, f"_{len(renamed)}")
    out = []
    for statement in body:
        statement = copy.deepcopy(statement)
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and node.id in renamed:
                node.id = renamed[node.id]
            elif isinstance(node, ast.arg):
                node.arg, node.annotation = renamed.get(node.arg, node.arg), None
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                node.value = ""
        out.append(ast.dump(statement, annotate_fields=False, include_attributes=False))
    return out
