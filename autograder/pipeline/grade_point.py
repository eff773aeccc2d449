"""One test cell graded at its place: the learner's machine from the runner, the manifest's checks
run against it on this side, and the verdict as a cell result, the cell's outputs and its flags."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from autograder.checks import grade_cell
from autograder.checks.functions import spec_cases
from autograder.checks.transition_cases import TransitionCase

from .autograded import clean_outputs, error_output, verdict_outputs
from .remote import RunnerSession
from .remote_records import Flag

DETAIL_LINES = 25
_PASSES = re.compile(r"(: passes|: all \d+ cases pass)\s*$")


@dataclass
class CellResult:
    notebook: str
    cell: str
    max_score: float
    score: float | None
    reason: str = ""
    tampered: str = ""
    detail: str = ""  # the first failure's whole message, for a learner's `tcpclose check`
    transitions: dict = field(default_factory=dict)  # "STATE event" -> [behaved, went wrong], class report
    svg: str = ""  # the first divergence drawn (the learner's run beside the reference), if any
    divergence: dict | None = None  # the first failing case as data: {case, state, event, replay}


def grade_point(name: str, cell, index: int, session: RunnerSession, flags: list[Flag],
                defined: frozenset = frozenset()) -> tuple[CellResult, list[dict], bool]:  # fmt: skip
    machine, displayed = session.test(index, cell.grade_id, defined)
    shown = clean_outputs(displayed)
    if shown:
        text = " ".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") or o.get("ename", "")
                        for o in shown)[:200]  # fmt: skip
        flags.append(Flag("displayed", cell.grade_id, f"the submission displayed something at this test cell "
                          f"(not the grader's result): {text.strip()!r}"))  # fmt: skip
    _prefetch(cell, session)
    try:
        verdict = grade_cell(cell, machine)
    except Exception as e:  # noqa: BLE001 - a grader bug costs this cell, with a sentence, never the batch
        session.end_point()
        sentence = f"could not be graded (an error in the grader: {type(e).__name__}: {str(e)[:200]})"
        result = CellResult(name, cell.grade_id, cell.points, 0.0, sentence)
        return result, [error_output("GraderError", sentence)], True
    session.end_point()
    reason, detail = "", ""
    if verdict.points < verdict.max_points:
        lines = [line.strip() for line in verdict.text.splitlines() if line.strip()]
        first = next((i for i, line in enumerate(lines) if not _PASSES.search(line)), 0)
        reason = " ".join(lines[first : first + 2])[:400] if lines else "a check failed"
        detail = _capped(verdict.text)
    transitions = {f"{s} {e}": list(v) for (s, e), v in verdict.transitions.items()}
    first = next((c for o in verdict.outcomes for c in o.cases if not c.passed), None)
    divergence = None
    if first is not None:
        state, event = first.transition or ("", "")
        divergence = {"case": first.name, "state": state, "event": event, "replay": first.replay}
    result = CellResult(name, cell.grade_id, verdict.max_points, verdict.points, reason, detail=detail,
                        transitions=transitions, svg=verdict.svg or "", divergence=divergence)  # fmt: skip
    failed = next((o for o in verdict.outcomes[: len(cell.visible)] if o.failures), None)
    shown = verdict_outputs(verdict.text, verdict.points, verdict.max_points, failed.message() if failed else "",
                            verdict.svg)  # fmt: skip
    return result, shown, verdict.visible_passed


def _prefetch(cell, session: RunnerSession) -> None:
    """The cell's single-transition cases are independent calls known in advance: ask them in one
    go (most of a cell's calls) instead of one round trip each. The visible ones now; the hidden
    ones when the first of them is asked (never, when a visible check fails and ends the cell).
    Scenarios stay call by call."""
    session.prefetch(_questions(cell.visible))
    session.pending = _questions(cell.hidden)


def _questions(specs) -> list[tuple]:
    out = []
    for spec in specs:
        try:
            _, _, cases = spec_cases(spec)
        except Exception:  # noqa: BLE001 - a wrong spec is grade_cell's to report
            continue
        out += [(c.fx.state, c.fx.tcb, c.stimulus, c.fx.profile) for c in cases if isinstance(c, TransitionCase)]
    return out


def saved_claims(cell, result: CellResult, visible_passed: bool, flags: list[Flag]) -> None:
    """The learner's saved notebook showed this cell passing where the grader does not find it so."""
    outs = cell.get("outputs", []) if cell.get("cell_type") == "code" else []
    if not outs or result.score is None:
        return
    errored = any(o.get("output_type") == "error" or (o.get("output_type") == "stream" and o.get("name") == "stderr")
                  for o in outs)  # fmt: skip
    claimed = None
    for o in outs:
        if o.get("output_type") == "execute_result":
            try:
                claimed = float(str(o.get("data", {}).get("text/plain", "")).strip())
            except ValueError:
                pass
    if errored:
        return
    if (claimed is not None and claimed > result.score + 1e-9) or (claimed is None and not visible_passed):
        shows = f"{claimed:g} points" if claimed is not None else "a pass"
        flags.append(Flag("saved-output", result.cell, f"the saved notebook shows {shows} for this cell; the grader "
                          f"gives {result.score:g} of {result.max_score:g}"))  # fmt: skip


def _capped(text: str) -> str:
    lines = text.rstrip().splitlines()
    if len(lines) > DETAIL_LINES:
        lines = lines[:DETAIL_LINES] + [f"  ... ({len(lines) - DETAIL_LINES} more lines in the notebook)"]
    return "\n".join(lines)
