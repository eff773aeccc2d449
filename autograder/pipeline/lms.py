"""Grades into the LMS: fill the instructor's own Canvas gradebook export, or write Moodle's import CSV.

Both start from a roster the LMS itself exported, because only the LMS knows who a student is
there (lms_roster.py says which row is whose). A roster row without a submission gets an empty
cell; a graded student without a roster row is listed, never dropped. Canvas's import ignores
read-only columns and creates an assignment for a column it does not know (its points from the
Points Possible row); Moodle's import aborts on a row whose user it cannot find, so rows without
the chosen identifier are left out (and listed).
"""

from __future__ import annotations

import re
import sys
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
from .steps import PipelineError

__all__ = ["BadRoster", "Roster", "Scores", "canvas_import", "moodle_import", "read_csv", "read_scores", "run_export"]

FORMATS = ("grades", "canvas", "moodle")
DEFAULT_OUT = {"grades": "grades.csv", "canvas": "canvas_import.csv", "moodle": "moodle_import.csv"}
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Root Account", "Section")
# Computed columns Canvas's importer skips by name (it also skips any column marked "read only").
CANVAS_COMPUTED = re.compile(r"Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
                             r"Override Score|Override Grade|Override Status")  # fmt: skip
EXCUSED = "EX"  # Canvas's mark for an excused submission: an import with an empty cell would undo it


# ---- Canvas -----------------------------------------------------------------------------------

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
    rows, header, pp_row = f.rows, f.rows[0], f.rows[pp]
    # A file Excel saved with semicolons writes decimal commas (3,5): the numbers added follow suit.
    comma = f.delimiter == ";" and any(re.fullmatch(r"-?\d+,\d+", c.strip()) for row in rows for c in row)

    def cell(points: float) -> str:
        return number(points).replace(".", ",") if comma else number(points)

    def read_only(i: int) -> bool:
        return bool(CANVAS_COMPUTED.search(header[i])) or "read only" in (pp_row[i] if i < len(pp_row) else "")

    where: dict[str, int] = {}
    new: list[str] = []
    for a in scores.max_points:
        hits = [i for i in range(first, len(header)) if not read_only(i) and _starts_with(header[i], a)]
        if len(hits) > 1:
            raise BadRoster(f"the roster {roster} has {len(hits)} columns starting with {a!r} "
                            f"({', '.join(header[i] for i in hits)}): rename all but one in Canvas")  # fmt: skip
        if hits:
            where[a] = hits[0]
        else:
            new.append(a)
    # A new column goes after the last assignment, before Canvas's computed columns.
    at = next((i for i in range(first, len(header)) if read_only(i)), len(header))
    for k, a in enumerate(new):
        for r, row in enumerate(rows):
            row.extend([""] * (at - len(row)))
            row.insert(at + k, a if r == 0 else cell(scores.max_points[a]) if r == pp else "")
        for b in where:
            where[b] += where[b] >= at + k
        where[a] = at + k

    differ = [(header[c], canvas, scores.max_points[a]) for a, c in where.items()
              if (canvas := _points(pp_row[c] if c < len(pp_row) else "")) is not None
              and abs(canvas - scores.max_points[a]) >= 0.005]  # fmt: skip
    student_rows = [r for r in range(1, len(rows)) if r != pp and not _is_note_row(rows[r])]
    roster_view = Roster(roster, student_rows, rows, cols["SIS Login ID"], None, cols["SIS User ID"])
    found, unmatched = roster_view.match(scores)
    by_row = {r: s for s, r in found.items()}
    filled = empty = 0
    awaiting, emptied = [], []
    for r in student_rows:
        sid = by_row.get(r)
        if scores.limited and sid not in scores.in_scope:
            continue  # --student: only the named students' rows change
        row = rows[r]
        for a, c in where.items():
            row.extend([""] * (c + 1 - len(row)))
            score = scores.scores.get((sid, a)) if sid else None
            if score is None:
                if row[c].strip() and row[c].strip().upper() != EXCUSED:
                    emptied.append((row[0].strip(), header[c], row[c].strip()))
                row[c] = row[c] if row[c].strip().upper() == EXCUSED else ""
                continue
            row[c] = cell(score.points)
            if score.awaiting:
                awaiting.append((sid, a))
        if sid and scores.graded(sid):
            filled += 1
        else:
            empty += 1
    write_atomically(out, f.text())
    return CanvasExport(out, filled, empty, new, unmatched, awaiting, differ, emptied)


# ---- Moodle -----------------------------------------------------------------------------------

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
    email, idnumber = column(header, "Email address", "Email"), column(header, "ID number")
    if email is None and idnumber is None:
        raise BadRoster(f"the roster {roster} has neither an 'Email address' nor an 'ID number' column: {MOODLE_HINT}")
    ident = email if identify_by == "email" else idnumber
    if ident is None:
        other = "idnumber" if identify_by == "email" else "email"
        raise BadRoster(f"the roster {roster} has no {MOODLE_IDS[identify_by]!r} column to identify students by: "
                        f"pass --moodle-id {other}, or {MOODLE_HINT}")  # fmt: skip
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
        cells, notes = [], {}
        for a in scores.max_points:
            score = scores.scores.get((sid, a)) if sid else None
            cells.append("" if score is None else number(score.points))
            if score is not None and score.awaiting:
                awaiting.append((sid, a))
                notes[a] = "written answers await hand grading: points so far"
        out_rows.append(
            [view.value(r, c) for c in names] + [view.value(r, ident), *cells, *(notes.get(a, "") for a in explained)]
        )
    write_atomically(out, CsvFile(out_rows).text())
    return MoodleExport(out, MOODLE_IDS[identify_by], len(out_rows) - 1, unmatched, skipped, awaiting, feedback)


# ---- the command ------------------------------------------------------------------------------


def run_export(course: Course, args) -> int:
    """`tcpclose grade export`: 0 written, 1 written but some graded students are not in it,
    2 bad input (PipelineError, reported by the caller)."""
    from .export import export_grades

    fmt = getattr(args, "format", None) or "grades"
    out = Path(args.out) if args.out else course.root / DEFAULT_OUT[fmt]
    assignments, students = getattr(args, "assignment", None) or (), getattr(args, "student", None) or ()
    if fmt == "grades":
        if getattr(args, "roster", None):
            raise PipelineError("--roster is for --format canvas or moodle; grades.csv needs none")
        print(export_grades(course, out, assignments, students))
        return 0
    if not getattr(args, "roster", None):
        raise PipelineError(f"--format {fmt} needs --roster FILE: "
                            f"{CANVAS_HINT if fmt == 'canvas' else MOODLE_HINT}")  # fmt: skip
    if fmt == "canvas":
        done = canvas_import(course, Path(args.roster), out, assignments, students, args.force)
        print(done.out)
        print(f"{done.filled} students scored, {done.empty} roster rows without a submission left empty"
              + (f"; new columns (Canvas creates these assignments): {', '.join(done.new_columns)}"
                 if done.new_columns else ""), file=sys.stderr)  # fmt: skip
        for col, canvas, ours in done.points_differ:
            print(f"warning: {col!r} is worth {number(canvas)} points in Canvas and {number(ours)} in nbgrader, and "
                  f"the file holds nbgrader's points (full marks would show as {number(ours)}/{number(canvas)}): "
                  f"make the assignment worth {number(ours)} points in Canvas before importing", file=sys.stderr)  # fmt: skip
        if done.emptied:
            print(f"warning: {len(done.emptied)} score(s) already in Canvas are emptied, since nbgrader holds no "
                  "submission for them, and Canvas's import deletes them: "
                  + "; ".join(f"{who} ({col}: was {old})" for who, col, old in done.emptied)
                  + "; check them on Canvas's import review page", file=sys.stderr)  # fmt: skip
    else:
        done = moodle_import(course, Path(args.roster), out, args.moodle_id, assignments, students, args.force)
        print(done.out)
        print(f"{done.rows} rows; in Moodle's CSV import map from {done.identifier!r} to {done.identifier!r} and "
              "each assignment column to its grade item" + (", each feedback column to its item's feedback"
                                                            if done.feedback_columns else ""), file=sys.stderr)  # fmt: skip
        for line in done.skipped:
            print(f"warning: left out roster {line}: it has no {done.identifier} (Moodle's import would stop there)",
                  file=sys.stderr)  # fmt: skip
    if done.awaiting:
        print(f"note: {len(done.awaiting)} score(s) are points so far: written answers await hand grading in the "
              f"formgrader ({', '.join(f'{s} {a}' for s, a in done.awaiting)}); export again after grading them",
              file=sys.stderr)  # fmt: skip
    if done.unmatched:
        print(f"warning: {len(done.unmatched)} graded student(s) have no row in {args.roster} and are not in "
              f"{done.out}: {', '.join(done.unmatched)}; add them to the LMS course, or give their email in the "
              "gradebook (nbgrader db student add ID --email ...)", file=sys.stderr)  # fmt: skip
        return 1
    return 0
