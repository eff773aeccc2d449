"""Grades into the LMS: fill the instructor's own Canvas gradebook export, or write Moodle's import CSV.

Both start from a roster the LMS itself exported, because only the LMS knows who a student is
there. An nbgrader student id is the JupyterHub user name (the folder under submitted/); a roster
row belongs to a student by the first rule that finds one:

  1. its login (Canvas: SIS Login ID; Moodle: Username) equals the student id;
  2. its login or email (Moodle: Email address) equals the email the gradebook holds for the
     student (`nbgrader db student add ID --email ...`) or the id itself when that is an email;
  3. its SIS User ID (Moodle: ID number) equals the student id.

Logins and emails compare case-insensitively. A roster row without a submission gets an empty
cell; a graded student without a roster row is listed, never dropped. Canvas's import ignores
read-only columns and creates an assignment for a column it does not know (its points from the
Points Possible row); Moodle's import aborts on a row whose user it cannot find, so rows without
the chosen identifier are left out (and listed).
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook

from .course import Course
from .steps import PipelineError

FORMATS = ("grades", "canvas", "moodle")
DEFAULT_OUT = {"grades": "grades.csv", "canvas": "canvas_import.csv", "moodle": "moodle_import.csv"}
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Root Account", "Section")
# Computed columns Canvas's importer skips by name (it also skips any column marked "read only").
CANVAS_COMPUTED = re.compile(r"Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
                             r"Override Score|Override Grade|Override Status")  # fmt: skip
EXCUSED = "EX"  # Canvas's mark for an excused submission: an import with an empty cell would undo it


class BadRoster(PipelineError):
    """The roster file cannot be used; the message says what to export instead."""


# ---- what the gradebook says ------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    points: float
    awaiting: bool  # written answers not yet graded by hand: points so far, not final


@dataclass
class Scores:
    """The gradebook's scores for the assignments and students an export covers."""

    max_points: dict[str, float]  # assignment -> points possible, in export order
    students: dict[str, str]  # student id -> email ("" when the gradebook has none)
    scores: dict[tuple[str, str], Score]  # (student, assignment) -> score
    in_scope: set[str] = field(default_factory=set)  # students the export may change
    limited: bool = False  # students were named: rows of the others stay as they are

    def graded(self, student: str) -> list[str]:
        return [a for a in self.max_points if (student, a) in self.scores]


def read_scores(course: Course, assignments: Iterable[str] = (), students: Iterable[str] = (),
                *, submitted_only: bool = True) -> Scores:  # fmt: skip
    """Scores from nbgrader's gradebook. Named assignments and students must exist there; without
    names, every assignment (only those with a submission when `submitted_only`) and student."""
    assignments, students = list(dict.fromkeys(assignments)), list(dict.fromkeys(students))
    with Gradebook(course.db_url, course.coursedir().course_id) as gb:
        known = {a.name: a for a in gb.assignments}
        for name in assignments:
            if name not in known:
                raise PipelineError(f"no assignment {name!r} in the gradebook (it has: {_listing(known)}); "
                                    "check the name, or generate and autograde it first")  # fmt: skip
        all_students = {s.id: (s.email or "") for s in gb.students}
        for sid in students:
            if sid not in all_students:
                raise PipelineError(f"no student {sid!r} in the gradebook (it has: {_listing(all_students)}); "
                                    "use the nbgrader student id, the folder name under submitted/")  # fmt: skip
        chosen = assignments or sorted(a for a in known if known[a].submissions or not submitted_only)
        result = Scores({a: float(known[a].max_score) for a in chosen}, all_students, {},
                        set(students) if students else set(all_students), bool(students))  # fmt: skip
        for a in chosen:
            for sub in known[a].submissions:
                sid = sub.student.id
                result.scores[sid, a] = Score(round(float(sub.score), 2), bool(sub.needs_manual_grade))
    return result


def _listing(names: Iterable[str], n: int = 8) -> str:
    names = sorted(names)
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "") if names else "nothing"


def number(x: float) -> str:
    """2 decimals at most and no trailing zeros: 4, 3.5, 2.25 (both importers read a dot)."""
    return f"{round(x, 2):.2f}".rstrip("0").rstrip(".")


# ---- roster files -----------------------------------------------------------------------------


@dataclass
class CsvFile:
    """A CSV file as the LMS wrote it: rows of text plus how to write them back the same way."""

    rows: list[list[str]]
    bom: bool = False
    delimiter: str = ","
    lineterminator: str = "\n"
    quote_all: bool = False

    def text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=self.delimiter, lineterminator=self.lineterminator,
                       quoting=csv.QUOTE_ALL if self.quote_all else csv.QUOTE_MINIMAL)  # fmt: skip
        w.writerows(self.rows)
        return ("\ufeff" if self.bom else "") + buf.getvalue()


def read_csv(path: Path, what: str) -> CsvFile:
    """Read an LMS export; BadRoster with one sentence when it is missing, binary or not CSV."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise BadRoster(f"cannot read the roster {path} ({e.strerror}): {what}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRoster(f"the roster {path} is not UTF-8 text: {what}") from None
    bom = text.startswith("\ufeff")
    text = text.removeprefix("\ufeff")
    first = text.split("\n", 1)[0]
    # Canvas writes semicolons when the user's CSV setting asks for them; count fields both ways.
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as e:
        raise BadRoster(f"the roster {path} is not a readable CSV file ({e}): {what}") from None
    if not rows or not any(c.strip() for c in rows[0]):
        raise BadRoster(f"the roster {path} is empty: {what}")
    quote_all = first.startswith('"') and all(f.startswith('"') and f.endswith('"')
                                              for f in first.rstrip("\r").split(delimiter))  # fmt: skip
    return CsvFile(rows, bom, delimiter, "\r\n" if first.endswith("\r") else "\n", quote_all)


def _key(text: str) -> str:
    return text.strip().casefold()


@dataclass
class Roster:
    """Student rows of a roster and the columns that identify them (None when absent)."""

    path: Path
    rows: list[int]  # indexes into the file's rows
    cells: list[list[str]]
    login: int | None
    email: int | None
    number: int | None

    def value(self, row: int, col: int | None) -> str:
        cells = self.cells[row]
        return cells[col].strip() if col is not None and col < len(cells) else ""

    def match(self, scores: Scores) -> tuple[dict[str, int], list[str]]:
        """student id -> row, by the module's three rules; and graded students with no row."""
        index: dict[str, dict[str, list[int]]] = {"login": {}, "email": {}, "number": {}}
        for r in self.rows:
            for name, col, norm in (("login", self.login, _key), ("email", self.email, _key),
                                    ("number", self.number, str.strip)):  # fmt: skip
                v = self.value(r, col)
                if v:
                    index[name].setdefault(norm(v), []).append(r)
        found: dict[str, int] = {}
        owner: dict[int, str] = {}
        for sid, email in sorted(scores.students.items()):
            mail = sid if "@" in sid else ""
            tries = [("login", _key(sid)), ("login", _key(email)), ("email", _key(email)), ("email", _key(mail)),
                     ("number", sid.strip())]  # fmt: skip
            for name, v in tries:
                hits = index[name].get(v, []) if v else []
                if len(hits) > 1:
                    raise BadRoster(f"the roster {self.path} has {len(hits)} rows for student {sid!r} "
                                    f"(lines {', '.join(str(h + 1) for h in hits)}): keep one row per student")
                if hits:
                    if hits[0] in owner:
                        raise BadRoster(f"line {hits[0] + 1} of the roster {self.path} fits both {owner[hits[0]]!r} "
                                        f"and {sid!r}: give each student their own email in the gradebook")
                    found[sid], owner[hits[0]] = hits[0], sid
                    break
        unmatched = [s for s in sorted(scores.in_scope) if s not in found and scores.graded(s)]
        return found, unmatched


def _column(header: list[str], *names: str) -> int | None:
    wanted = {_key(n) for n in names}
    return next((i for i, h in enumerate(header) if _key(h.lstrip("\ufeff")) in wanted), None)


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


def _canvas_header(f: CsvFile, path: Path) -> tuple[dict[str, int], int, int]:
    """Identity columns, the Points Possible row and the first assignment column; BadRoster if absent."""
    header = [h.strip() for h in f.rows[0]]
    cols = {name: _column(header, name) for name in CANVAS_IDENTITY}
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


def _is_note_row(row: list[str]) -> bool:
    """Canvas's rows without a student: blank, or the Muted / Manual Posting markers."""
    return all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c, re.I) for c in row)


def _starts_with(header: str, name: str) -> bool:
    """'01_active_close (4242)' and '01_active_close: Active close' start with 01_active_close;
    '01_active_close_v2' does not."""
    h, n = _key(header), _key(name)
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
            row.insert(at + k, a if r == 0 else number(scores.max_points[a]) if r == pp else "")
        for b in where:
            where[b] += where[b] >= at + k
        where[a] = at + k

    student_rows = [r for r in range(1, len(rows)) if r != pp and not _is_note_row(rows[r])]
    roster_view = Roster(roster, student_rows, rows, cols["SIS Login ID"], None, cols["SIS User ID"])
    found, unmatched = roster_view.match(scores)
    by_row = {r: s for s, r in found.items()}
    filled = empty = 0
    awaiting = []
    for r in student_rows:
        sid = by_row.get(r)
        if scores.limited and sid not in scores.in_scope:
            continue  # --student: only the named students' rows change
        row = rows[r]
        for a, c in where.items():
            row.extend([""] * (c + 1 - len(row)))
            score = scores.scores.get((sid, a)) if sid else None
            if score is None:
                row[c] = row[c] if row[c].strip().upper() == EXCUSED else ""
                continue
            row[c] = number(score.points)
            if score.awaiting:
                awaiting.append((sid, a))
        if sid and scores.graded(sid):
            filled += 1
        else:
            empty += 1
    write_atomically(out, f.text())
    return CanvasExport(out, filled, empty, new, unmatched, awaiting)


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
    email, idnumber = _column(header, "Email address", "Email"), _column(header, "ID number")
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
    view = Roster(roster, rows, f.rows, _column(header, "Username"), email, idnumber)
    found, unmatched = view.match(scores)
    by_row = {r: s for s, r in found.items()}
    first, last = _column(header, "First name"), _column(header, "Last name", "Surname")
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
        out_rows.append([view.value(r, c) for c in names] + [view.value(r, ident), *cells,
                                                             *(notes.get(a, "") for a in explained)])
    write_atomically(out, CsvFile(out_rows).text())
    return MoodleExport(out, MOODLE_IDS[identify_by], len(out_rows) - 1, unmatched, skipped, awaiting, feedback)


# ---- files ------------------------------------------------------------------------------------


def refuse_overwrite(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise PipelineError(f"{out} already exists: pass --force to replace it, or -o to write elsewhere")


def write_atomically(out: Path, text: str) -> None:
    """The whole file or nothing: a half-written import is worse than none."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8", newline="")
    os.replace(tmp, out)


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
    else:
        done = moodle_import(course, Path(args.roster), out, args.moodle_id, assignments, students, args.force)
        print(done.out)
        print(f"{done.rows} rows; in Moodle's import map from {done.identifier!r} to "
              f"{'Email address' if done.identifier == 'Email address' else 'ID number'}, each assignment "
              "column to its grade item" + (", each feedback column to its item's feedback" if done.feedback_columns
                                            else ""), file=sys.stderr)  # fmt: skip
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
