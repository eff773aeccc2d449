"""Canvas: the instructor's own gradebook export, with each assignment's scores filled in.

Canvas's import ignores read-only columns and creates an assignment for a column it does not know
(its points from the Points Possible row); an excused mark (EX) stays, and a score emptied here is
deleted by the import, so it is reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .course import Course
from .lms_roster import (
    BadRoster,
    CsvFile,
    Roster,
    Scores,
    column,
    key,
    number,
    read_csv,
    read_scores,
    refuse_overwrite,
    write_atomically,
)

CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Root Account", "Section")
# Computed columns Canvas's importer skips by name (it also skips any column marked "read only").
CANVAS_COMPUTED = re.compile(r"Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
                             r"Override Score|Override Grade|Override Status")  # fmt: skip
EXCUSED = "EX"  # Canvas's mark for an excused submission: an import with an empty cell would undo it


CANVAS_HINT = "export it from Canvas (Grades > Export > Export Entire Gradebook) and pass that file unchanged"


@dataclass
class CanvasExport:
    out: Path
    filled: int  # student rows given a score
    empty: int  # roster rows of students without a submission
    new_columns: list[str]
    unmatched: list[str]  # graded students with no row: not in the file
    awaiting: list[tuple[str, str]]  # (student, assignment) whose score still lacks hand grading
    # (column, Canvas's points possible, nbgrader's): the file holds nbgrader's points, unscaled
    points_differ: list[tuple[str, float, float]] = field(default_factory=list)
    # (roster row's name, column, its old score): Canvas's import deletes a score emptied here
    emptied: list[tuple[str, str, str]] = field(default_factory=list)


def _canvas_header(f: CsvFile, path: Path) -> tuple[dict[str, int], int, int]:
    """Identity columns, the Points Possible row and the first assignment column; BadRoster if absent."""
    header = [h.strip() for h in f.rows[0]]
    cols = {name: column(header, name) for name in CANVAS_IDENTITY}
    if not header[0].startswith("Student") or cols["ID"] != 1:
        raise BadRoster(f"the roster {path} is not a Canvas gradebook export (its header must begin with "
                        f"Student, ID; it begins with {', '.join(header[:2])}): {CANVAS_HINT}")  # fmt: skip
    missing = [n for n in ("Section",) if cols[n] is None]
    if cols["SIS Login ID"] is None and cols["SIS User ID"] is None:
        missing.append("SIS Login ID or SIS User ID")
    if missing:
        raise BadRoster(f"the roster {path} has no {' and no '.join(missing)} column: {CANVAS_HINT} "
                        "(the SIS columns need the permission to see SIS data)")  # fmt: skip
    pp = next((i for i, row in enumerate(f.rows[1:6], 1) if row and "Points Possible" in row[0]), None)
    if pp is None:
        raise BadRoster(f"the roster {path} has no Points Possible row under its header: {CANVAS_HINT}")
    first = max(c for c in cols.values() if c is not None) + 1
    return cols, pp, first


def _points(cell: str) -> float | None:
    """A Points Possible cell as Canvas reads it ('10.00', or '10,00' as Excel writes it in a
    decimal-comma locale); None when it holds no number."""
    try:
        return float(cell.strip().replace(",", "."))
    except ValueError:
        return None


def _is_note_row(row: list[str]) -> bool:
    """Canvas's rows without a student: blank, or the Muted / Manual Posting markers."""
    return all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c, re.I) for c in row)


def _starts_with(header: str, name: str) -> bool:
    """'01_active_close (4242)' and '01_active_close: Active close' start with 01_active_close;
    '01_active_close_v2' does not."""
    h, n = key(header), key(name)
    return h == n or (h.startswith(n) and not (h[len(n)].isalnum() or h[len(n)] == "_"))


def canvas_import(course: Course, roster: Path, out: Path, assignments: Iterable[str] = (),
                  students: Iterable[str] = (), force: bool = False) -> CanvasExport:  # fmt: skip
    """The roster with each assignment's scores filled in; every other cell as it was."""
    roster, out = Path(roster), Path(out)
    f = read_csv(roster, CANVAS_HINT)
    cols, pp, first = _canvas_header(f, roster)
    refuse_overwrite(out, force)
    scores = read_scores(course, assignments, students)
    # A file Excel saved with semicolons writes decimal commas (3,5): the numbers added follow suit.
    comma = f.delimiter == ";" and any(re.fullmatch(r"-?\d+,\d+", c.strip()) for row in f.rows for c in row)
    sheet = _Sheet(f.rows, pp, comma)
    where, new = _assignment_columns(sheet, first, scores, roster)
    _add_columns(sheet, first, where, new, scores.max_points)
    header, pp_row = sheet.header, sheet.pp_row
    differ = [(header[c], canvas, scores.max_points[a]) for a, c in where.items()
              if (canvas := _points(pp_row[c] if c < len(pp_row) else "")) is not None
              and abs(canvas - scores.max_points[a]) >= 0.005]  # fmt: skip
    student_rows = [r for r in range(1, len(f.rows)) if r != pp and not _is_note_row(f.rows[r])]
    roster_view = Roster(roster, student_rows, f.rows, cols["SIS Login ID"], None, cols["SIS User ID"])
    found, unmatched = roster_view.match(scores)
    filled, empty, awaiting, emptied = _fill(sheet, student_rows, {r: s for s, r in found.items()}, where, scores)
    write_atomically(out, f.text())
    return CanvasExport(out, filled, empty, new, unmatched, awaiting, differ, emptied)


@dataclass
class _Sheet:
    """The Canvas export being filled in: its rows (the header first), its Points Possible row, its numbers."""

    rows: list[list[str]]
    pp: int  # the Points Possible row
    comma: bool  # numbers written with a decimal comma

    @property
    def header(self) -> list[str]:
        return self.rows[0]

    @property
    def pp_row(self) -> list[str]:
        return self.rows[self.pp]

    def cell(self, points: float) -> str:
        return number(points).replace(".", ",") if self.comma else number(points)

    def read_only(self, i: int) -> bool:
        pp_row = self.pp_row
        return bool(CANVAS_COMPUTED.search(self.header[i])) or "read only" in (pp_row[i] if i < len(pp_row) else "")


def _assignment_columns(sheet: _Sheet, first: int, scores: Scores, roster: Path) -> tuple[dict[str, int], list[str]]:
    """Each assignment's column in the export, and the assignments that have none yet."""
    header = sheet.header
    where: dict[str, int] = {}
    new: list[str] = []
    for a in scores.max_points:
        hits = [i for i in range(first, len(header)) if not sheet.read_only(i) and _starts_with(header[i], a)]
        if len(hits) > 1:
            raise BadRoster(f"the roster {roster} has {len(hits)} columns starting with {a!r} "
                            f"({', '.join(header[i] for i in hits)}): rename all but one in Canvas")  # fmt: skip
        if hits:
            where[a] = hits[0]
        else:
            new.append(a)
    return where, new


def _add_columns(sheet: _Sheet, first: int, where: dict[str, int], new: list[str], max_points: dict) -> None:
    """A column per new assignment, after the last assignment, before Canvas's computed columns."""
    at = next((i for i in range(first, len(sheet.header)) if sheet.read_only(i)), len(sheet.header))
    for k, a in enumerate(new):
        for r, row in enumerate(sheet.rows):
            row.extend([""] * (at - len(row)))
            row.insert(at + k, a if r == 0 else sheet.cell(max_points[a]) if r == sheet.pp else "")
        for b in where:
            where[b] += where[b] >= at + k
        where[a] = at + k


def _fill(sheet: _Sheet, student_rows: list[int], by_row: dict[int, str], where: dict[str, int],
          scores: Scores) -> tuple[int, int, list[tuple[str, str]], list[tuple[str, str, str]]]:  # fmt: skip
    """Scores into the student rows: (rows scored, rows left empty, scores awaiting hand grading,
    scores already in Canvas emptied)."""
    filled = empty = 0
    awaiting, emptied = [], []
    for r in student_rows:
        sid = by_row.get(r)
        if scores.limited and sid not in scores.in_scope:
            continue  # --student: only the named students' rows change
        row = sheet.rows[r]
        for a, c in where.items():
            row.extend([""] * (c + 1 - len(row)))
            score = scores.scores.get((sid, a)) if sid else None
            if score is None:
                if row[c].strip() and row[c].strip().upper() != EXCUSED:
                    emptied.append((row[0].strip(), sheet.header[c], row[c].strip()))
                row[c] = row[c] if row[c].strip().upper() == EXCUSED else ""
                continue
            row[c] = sheet.cell(score.points)
            if score.awaiting:
                awaiting.append((sid, a))
        if sid and scores.graded(sid):
            filled += 1
        else:
            empty += 1
    return filled, empty, awaiting, emptied
