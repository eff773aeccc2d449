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
