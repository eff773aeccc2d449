"""The linter and the type checker run inside the test suite, so `make test` fails on a lint or type error."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is not installed; run `make setup`"
    out = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_is_clean():
    """One layout for every module (pyproject.toml's [tool.ruff], 120 columns): a change is reviewed for
    what it does, never for where its lines break. `ruff format .` fixes it."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is not installed; run `make setup`"
    out = subprocess.run([ruff, "format", "--check", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_is_clean_on_reference_impl():
    """pyproject.toml's [tool.mypy]: strict, on reference_impl (the model learners read and the
    simulator runs): every signature typed, no Optional used as if it were set."""
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent)) or shutil.which("mypy")
    assert mypy, "mypy is not installed; run `make setup`"
    out = subprocess.run([mypy], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.match(r"Success: no issues found in \d+ source files", out.stdout), out.stdout


# One job per module and functions that read in one screen (README, "Contributing"): a module longer
# than this has taken on a second job; a function longer than this wants named steps. Data tables are
# module-level literals, so they do not count against any function.
MODULE_LINES, FUNCTION_LINES = 330, 50


def _python_files():
    return [p for package in ("reference_impl", "autograder") for p in sorted((ROOT / package).rglob("*.py"))]


def test_no_module_has_taken_on_a_second_job():
    long = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in _python_files()
        if (n := len(p.read_text().splitlines())) > MODULE_LINES
    ]
    assert not long, f"split by job (at most {MODULE_LINES} lines): " + "; ".join(long)


def test_no_function_needs_more_than_one_screen():
    import ast

    long = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines} lines")
    assert not long, f"give it named steps (at most {FUNCTION_LINES} lines): " + "; ".join(long)
