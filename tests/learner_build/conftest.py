"""Learner views built once per session, and a way to run code on a view alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import ClearHiddenTests

from autograder.learner_build import build_learner_view, build_wheel, view_python


@pytest.fixture(scope="session")
def learner_view(tmp_path_factory) -> Path:
    """The learner's environment: no handler code, the recorded reference."""
    return build_learner_view(tmp_path_factory.mktemp("learner") / "view", recordings=True)


@pytest.fixture(scope="session")
def sandbox_view(tmp_path_factory) -> Path:
    """The grading sandbox's view: no reference at all."""
    return build_learner_view(tmp_path_factory.mktemp("sandbox") / "view", recordings=False)


def run_on(view: Path, code: str, *args: str, timeout: float = 300) -> str:
    """Run `code` with only `view`'s packages importable (the full package out of reach); its stdout."""
    argv, env = view_python(view)
    done = subprocess.run([*argv, "-c", textwrap.dedent(code), *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout, cwd=view.parent)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def run_json_on(view: Path, code: str, *args: str) -> object:
    return json.loads(run_on(view, code, *args).strip().splitlines()[-1])


@pytest.fixture(scope="session")
def learner_venv(tmp_path_factory) -> Path:
    """A fresh virtualenv with the learner wheel installed, as a lab's student image has it (and,
    to run notebooks, nbclient and ipykernel)."""
    root = tmp_path_factory.mktemp("learner-wheel")
    wheel = build_wheel(root / "dist")
    env = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    done = subprocess.run([str(env / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel),
                           "nbclient", "ipykernel"], capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return env


def solution(path: Path) -> nbformat.NotebookNode:
    """A course notebook as its solution: the source with its hidden tests removed (nbgrader's own step)."""
    nb = nbformat.read(path, as_version=4)
    nb, _ = ClearHiddenTests(enforce_metadata=False).preprocess(nb, {})
    assert "BEGIN HIDDEN TESTS" not in json.dumps(nb)
    return nb
