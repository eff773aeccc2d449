"""Where the running cell sits in its notebook, read in a Jupyter kernel: so that a picker offers
only the scenarios the notebook has named up to that cell, never one whose caption answers a
prediction further down.

JupyterLab and Notebook 7 send each execute request with the cell's id (metadata "cellId"), and
Jupyter Server tells the kernel its notebook's path (`__session__`). The saved notebook gives the
cells' order. Anything missing (a plain Python process, a cell not saved yet, a renamed file)
means "not known", and the caller offers what the whole notebook shows.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path


def texts_up_to_running_cell() -> list[str] | None:
    """The sources of the running cell's notebook from its first cell to the running one, or None."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        path = shell.user_ns.get("__session__") if shell is not None else None
        cell_id = shell.kernel.get_parent()["metadata"].get("cellId") if path else None
        if not (isinstance(path, str) and isinstance(cell_id, str)):
            return None
        cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    except Exception:  # noqa: BLE001 - outside a notebook's kernel: not known
        return None
    ids = [c.get("id") for c in cells]
    if cell_id not in ids:
        return None
    return ["".join(c.get("source", "")) for c in cells[: ids.index(cell_id) + 1]]


def scenarios_named_so_far(catalogue: Collection[str]) -> set[str] | None:
    """The catalogue scenarios the notebook names up to the running cell, or None when not known."""
    from .course_map import scenarios_named

    texts = texts_up_to_running_cell()
    return None if texts is None else set(scenarios_named(texts, catalogue))
