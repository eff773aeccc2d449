"""The autograded notebook, written by the grader: the submission restored and filled in.

As nbgrader's OverwriteCells and DeduplicateIds would leave it (the release's grading metadata,
locked and test cells as in the gradebook, one copy of each grade id, the release kernelspec),
with outputs from two sources: a non-test cell shows what it printed in the sandbox, reduced to
text and PNG images (no HTML, no script reaches the formgrader or a feedback page), and its own
Markdown is cleaned (autograder.pipeline.student_markdown); a test cell
shows the grader's verdict (its text, its points, the first divergence drawn) and nothing the
submission produced, so the feedback shows a test cell's outputs whole.
"""

from __future__ import annotations

import copy
import re

from nbformat import NotebookNode, from_dict

from .plan import Plan, meta, role
from .student_markdown import needs_cleaning, safe_markdown

VERDICT = {"tcpclose": "verdict"}
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")
OUTPUT_LIMIT = 100_000


RICH_NOTE = "[a picture or a widget: shown in the notebook, not kept in the graded copy]"


def clean_outputs(outputs: object, limit: int = OUTPUT_LIMIT) -> list[dict]:
    """The runner's outputs of a non-test cell, checked: known shapes only, text and PNG, bounded."""
    kept, size = [], 0
    for out in outputs if isinstance(outputs, list) else []:
        if not isinstance(out, dict):
            continue
        kind = out.get("output_type")
        if kind == "stream" and out.get("name") in ("stdout", "stderr") and isinstance(out.get("text"), str):
            item = {"output_type": "stream", "name": out["name"], "text": out["text"]}
        elif kind in ("display_data", "execute_result") and isinstance(out.get("data"), dict):
            data = {}
            if isinstance(out["data"].get("text/plain"), str):
                # a picture or a widget (HTML, SVG, a widget view): its plain repr, "<IPython.core.display.HTML
                # object>", said nothing in a learner's feedback; the rich part is not kept (it is the submission's)
                rich = any(mime not in ("text/plain", "image/png") for mime in out["data"])
                data["text/plain"] = RICH_NOTE if rich else out["data"]["text/plain"]
            png = out["data"].get("image/png")
            if isinstance(png, str) and len(png) < limit and _BASE64.match(png):
                data["image/png"] = png
            if not data:
                continue
            item = {"output_type": kind, "data": data, "metadata": {}}
            if kind == "execute_result":
                item["execution_count"] = None
        elif kind == "error" and isinstance(out.get("ename"), str) and isinstance(out.get("evalue"), str):
            tb = (
                [t for t in out.get("traceback", []) if isinstance(t, str)]
                if isinstance(out.get("traceback"), list)
                else []
            )
            item = {"output_type": "error", "ename": out["ename"][:200], "evalue": out["evalue"][:4000],
                    "traceback": [t[:2000] for t in tb[-20:]]}  # fmt: skip
        else:
            continue
        size += len(str(item))
        if size > limit:
            kept.append({"output_type": "stream", "name": "stdout", "text": "\n[output truncated by the grader]\n"})
            break
        kept.append(item)
    return kept


def error_output(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}


def verdict_outputs(text: str, points: float, max_points: float, failure: str, svg: str | None) -> list[dict]:
    """What a test cell shows: the checks' lines (and, when a visible check failed, its whole message
    as the cell's AssertionError, as the in-notebook check raises it), the divergence drawn, the points."""
    lines = text.rstrip()
    if failure and lines.endswith(failure.rstrip()):
        lines = lines[: -len(failure.rstrip())].rstrip()
    outs: list[dict] = [{"output_type": "stream", "name": "stdout", "text": lines + "\n"}] if lines else []
    if svg:
        outs.append({"output_type": "display_data", "data": {"image/svg+xml": svg, "text/plain": "first divergence"},
                     "metadata": dict(VERDICT)})  # fmt: skip
    if failure:
        outs.append(error_output("AssertionError", failure.rstrip()))
    outs.append({"output_type": "execute_result", "data": {"text/plain": f"{points:g}"},
                 "metadata": dict(VERDICT), "execution_count": None})  # fmt: skip
    return outs


def autograded(release: NotebookNode, submission: NotebookNode, plan: Plan, sources: dict[str, str],
               outputs: dict[int, list[dict]]) -> NotebookNode:  # fmt: skip
    """The submission as nbgrader's autograde would leave it, with `outputs` by submission cell index.

    sources: test and locked cells' source as the gradebook holds it (hidden tests included, as
    nbgrader restores them; the feedback removes them again)."""
    released = {meta(c)["grade_id"]: c for c in release.cells if role(c) != "free"}
    graded_at = {i: g for g, i in plan.graded_at.items()}
    keep_id: dict[str, int] = {}
    for i, c in enumerate(submission.cells):
        gid = meta(c).get("grade_id")
        if isinstance(gid, str) and gid in released and role(released[gid]) != "test":
            keep_id[gid] = i  # the last copy keeps the id, as nbgrader's DeduplicateIds does
    nb = copy.deepcopy(submission)
    if "kernelspec" in release.metadata:
        nb.metadata["kernelspec"] = copy.deepcopy(release.metadata["kernelspec"])
    ids: set[str] = set()
    for i, cell in enumerate(nb.cells):
        if "id" in cell:  # a copied cell keeps its id: give the copy one of its own, as Jupyter would
            while cell["id"] in ids:
                cell["id"] = f"{cell['id'][:55]}-{i}"
            ids.add(cell["id"])
        gid = meta(cell).get("grade_id")
        known = released.get(gid) if isinstance(gid, str) else None
        mine = known is not None and (graded_at.get(i) == gid or keep_id.get(gid) == i)
        if "nbgrader" in cell.get("metadata", {}):
            del cell.metadata["nbgrader"]
        if mine:
            cell.metadata["nbgrader"] = copy.deepcopy(released[gid].metadata["nbgrader"])
            if role(known) in ("test", "locked"):
                nb.cells[i] = cell = _as_type(cell, known.cell_type)
                cell.source = sources.get(gid, known.source)
            elif role(known) == "written" and cell.cell_type != known.cell_type:
                nb.cells[i] = cell = _as_type(cell, known.cell_type)
        if cell.cell_type == "code":
            cell.outputs = [from_dict(o) for o in outputs.get(i, [])]
            cell.execution_count = None
    _leave_out_the_excess(nb)
    _clean_markdown(nb, release)
    _keep_known_metadata(nb)
    return nb


CELL_METADATA = ("nbgrader", "jupyter", "tags", "collapsed", "scrolled", "editable", "deletable")
NOTEBOOK_METADATA = ("kernelspec", "language_info")


def _keep_known_metadata(nb: NotebookNode) -> None:
    """Only the metadata Jupyter and nbgrader read: a submission's own (megabytes of it in one cell)
    would be copied into the autograded notebook and slow every page made from it."""
    nb.metadata = from_dict({k: nb.metadata[k] for k in NOTEBOOK_METADATA if k in nb.metadata})
    for cell in nb.cells:
        cell.metadata = from_dict({k: cell.metadata[k] for k in CELL_METADATA if k in cell.metadata})


FREE_CELLS = 2000  # a submission's cells of its own kept in this copy (the course's notebooks have about 100)


def _leave_out_the_excess(nb: NotebookNode) -> None:
    """Past FREE_CELLS cells of its own (not graded, not locked), a submission's further cells are left
    out of this copy, with a note: 260,000 of them made a 55 MB feedback page two minutes in the
    making. The submitted notebook keeps them all; no graded cell is ever left out."""
    kept, own, dropped = [], 0, 0
    for cell in nb.cells:
        if "nbgrader" in cell.metadata:
            kept.append(cell)
        elif own < FREE_CELLS:
            own += 1
            kept.append(cell)
        else:
            dropped += 1
    if dropped:
        note = {"cell_type": "markdown", "metadata": {}, "source": (
            f"*{dropped:,} more cells of this submission are left out of this copy (more than {FREE_CELLS:,} "
            "of its own); the submitted notebook holds them all.*")}  # fmt: skip
        if nb.get("nbformat_minor", 0) >= 5:
            note["id"] = "tcpclose-left-out"
        kept.append(from_dict(note))
    nb.cells = kept


MARKDOWN_BUDGET = 1000  # cells rendered and cleaned (about 1 ms each); any more are shown as plain text


def _clean_markdown(nb: NotebookNode, release: NotebookNode) -> None:
    """Every Markdown cell the release did not hold, made safe for the formgrader and the feedback."""
    ours = {c.source for c in release.cells if c.cell_type == "markdown"}
    rendered = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source not in ours and needs_cleaning(cell.source):
            rendered += 1
            cell.source = safe_markdown(cell.source, render=rendered <= MARKDOWN_BUDGET)


def _as_type(cell: NotebookNode, cell_type: str) -> NotebookNode:
    if cell.cell_type == cell_type:
        return cell
    fresh = {"cell_type": cell_type, "metadata": cell.metadata, "source": cell.source}
    if cell_type == "code":
        fresh.update(outputs=[], execution_count=None)
    if "id" in cell:
        fresh["id"] = cell["id"]
    return from_dict(fresh)
