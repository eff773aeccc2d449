"""Load the independent correct implementations (this directory is not a package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).parent


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"tcpgoodbye_tests_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def correct_implementations() -> dict[str, object]:
    """name → something a notebook could hand to the checks (a table, or a class)."""
    return {
        "table-driven": load("impl_table").HANDLERS,
        "match from the RFC": load("impl_match").HANDLERS,
        "FIN-sequence tracking (class)": load("impl_finseq").CloseMachine,
        "module-level aliases, imports inside (namespace)": vars(load("impl_aliases")),
        "no building blocks": load("impl_plain").HANDLERS,
    }
