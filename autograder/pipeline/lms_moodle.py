"""Moodle: its grade import CSV, written from the roster Moodle exported (names, an identifier, a
column per assignment); rows without the chosen identifier are left out, since Moodle's import aborts on them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .course import Course
from .lms_roster import (
    BadRoster,
    CsvFile,
    Roster,
    Scores,
    column,
    number,
    read_csv,
    read_scores,
    refuse_overwrite,
    write_atomically,
)
from .steps import PipelineError

MOODLE_HINT = "export the course's grades from Moodle (Grades > Export > Plain text file) and pass that file"
MOODLE_IDS = {"email": "Email address", "idnumber": "ID number"}


@dataclass
class MoodleExport:
    out: Path
    identifier: str  # the column Moodle maps users from
    rows: int
    unmatched: list[str]
    skipped: list[str]  # roster lines without the identifier (Moodle would abort on them)
    awaiting: list[tuple[str, str]]
    feedback_columns: list[str]


def moodle_import(course: Course, roster: Path, out: Path, identify_by: str = "email",
                  assignments: Iterable[str] = (), students: Iterable[str] = (),
                  force: bool = False) -> MoodleExport:  # fmt: skip
    """Moodle's grade import CSV: names, the identifier, a column per assignment (and a feedback
    column saying which scores still wait for hand grading)."""
    roster, out = Path(roster), Path(out)
    if identify_by not in MOODLE_IDS:
        raise PipelineError(f"--moodle-id takes email or idnumber, not {identify_by!r}")
    f = read_csv(roster, MOODLE_HINT)
    header = [h.strip() for h in f.rows[0]]
    email, idnumber, ident = _identifier(header, identify_by, roster)
    refuse_overwrite(out, force)
    scores = read_scores(course, assignments, students)
    rows = [r for r in range(1, len(f.rows)) if any(c.strip() for c in f.rows[r])]
    view = Roster(roster, rows, f.rows, column(header, "Username"), email, idnumber)
    found, unmatched = view.match(scores)
    by_row = {r: s for s, r in found.items()}
    first, last = column(header, "First name"), column(header, "Last name", "Surname")
    names = [c for c in (first, last) if c is not None]
    waiting = {a for (s, a), sc in scores.scores.items() if sc.awaiting and s in scores.in_scope}
    explained = [a for a in scores.max_points if a in waiting]  # a feedback column each
    feedback = [f"{a} feedback" for a in explained]
    out_rows = [[header[c] for c in names] + [MOODLE_IDS[identify_by], *scores.max_points, *feedback]]
    skipped, awaiting = [], []
    for r in rows:
        sid = by_row.get(r)
        if scores.limited and sid not in scores.in_scope:
            continue
        if not view.value(r, ident):
            skipped.append(f"line {r + 1} ({' '.join(view.value(r, c) for c in names) or 'no name'})")
            continue
        cells, notes = _scores_of(sid, scores, awaiting)
        out_rows.append(
            [view.value(r, c) for c in names] + [view.value(r, ident), *cells, *(notes.get(a, "") for a in explained)]
        )
    write_atomically(out, CsvFile(out_rows).text())
    return MoodleExport(out, MOODLE_IDS[identify_by], len(out_rows) - 1, unmatched, skipped, awaiting, feedback)


def _identifier(header: list[str], identify_by: str, roster: Path) -> tuple[int | None, int | None, int]:
    """The roster's email and ID number columns, and the one students are identified by; BadRoster if absent."""
    email, idnumber = column(header, "Email address", "Email"), column(header, "ID number")
    if email is None and idnumber is None:
        raise BadRoster(f"the roster {roster} has neither an 'Email address' nor an 'ID number' column: {MOODLE_HINT}")
    ident = email if identify_by == "email" else idnumber
    if ident is None:
        other = "idnumber" if identify_by == "email" else "email"
        raise BadRoster(f"the roster {roster} has no {MOODLE_IDS[identify_by]!r} column to identify students by: "
                        f"pass --moodle-id {other}, or {MOODLE_HINT}")  # fmt: skip
    return email, idnumber, ident


def _scores_of(sid: str | None, scores: Scores, awaiting: list[tuple[str, str]]) -> tuple[list[str], dict[str, str]]:
    """A student's cell per assignment (empty without a score), and a feedback note per score that waits."""
    cells, notes = [], {}
    for a in scores.max_points:
        score = scores.scores.get((sid, a)) if sid else None
        cells.append("" if score is None else number(score.points))
        if score is not None and score.awaiting:
            awaiting.append((sid, a))
            notes[a] = "written answers await hand grading: points so far"
    return cells, notes
