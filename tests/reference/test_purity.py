"""reference_impl stays pure: no I/O, no wall clock, no randomness, no Jupyter."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {"os", "sys", "io", "socket", "time", "datetime", "random", "threading", "subprocess",
             "pathlib", "IPython", "ipywidgets", "pandas", "asyncio", "select", "signal"}  # fmt: skip
ALLOWED_LAZY = {"pandas", "io"}  # Trace.to_frame / to_csv import these only when asked

ROOT = Path(__file__).resolve().parents[2] / "reference_impl"


def imports(tree: ast.AST, top_level_only: bool):
    body = tree.body if top_level_only else list(ast.walk(tree))
    for node in body:
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0]


def test_reference_imports_nothing_impure():
    for path in sorted(ROOT.glob("*.py")):
        tree = ast.parse(path.read_text())
        assert not (set(imports(tree, True)) & FORBIDDEN) - {"io"}, path.name
        lazy = set(imports(tree, False)) & FORBIDDEN
        assert lazy <= ALLOWED_LAZY, (path.name, lazy)
