"""What the LMS exports share: the gradebook's scores, roster files read and written back as the
LMS wrote them, and which roster row is which nbgrader student.

An nbgrader student id is the JupyterHub user name (the folder under submitted/); a roster row
belongs to a student by the first rule that finds one:

  1. its login (Canvas: SIS Login ID; Moodle: Username) equals the student id;
  2. its login or email (Moodle: Email address) equals the email the gradebook holds for the
     student (`nbgrader db student add ID --email ...`), or the id itself when that is an email;
  3. its SIS User ID (Moodle: ID number) equals the student id.

Logins and emails compare case-insensitively; two rows for one student, or one row fitting two
students, is a wrong roster.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .course import Course
from .steps import PipelineError


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
    with course.gradebook() as gb:
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
        raise BadRoster(f"the roster {path} is not UTF-8 text (Excel saves UTF-8 as 'CSV UTF-8'): {what}") from None
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


def key(text: str) -> str:
    """How logins, emails and column names compare: trimmed, case-insensitive."""
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
            for name, col, norm in (("login", self.login, key), ("email", self.email, key),
                                    ("number", self.number, str.strip)):  # fmt: skip
                v = self.value(r, col)
                if v:
                    index[name].setdefault(norm(v), []).append(r)
        found: dict[str, int] = {}
        owner: dict[int, str] = {}
        for sid, email in sorted(scores.students.items()):
            mail = sid if "@" in sid else ""
            tries = [("login", key(sid)), ("login", key(email)), ("email", key(email)), ("email", key(mail)),
                     ("number", sid.strip())]  # fmt: skip
            for name, v in tries:
                hits = index[name].get(v, []) if v else []
                if len(hits) > 1:
                    raise BadRoster(
                        f"the roster {self.path} has {len(hits)} rows for student {sid!r} "
                        f"(lines {', '.join(str(h + 1) for h in hits)}): keep one row per student"
                    )
                if hits:
                    if hits[0] in owner:
                        raise BadRoster(
                            f"line {hits[0] + 1} of the roster {self.path} fits both {owner[hits[0]]!r} "
                            f"and {sid!r}: give each student their own email in the gradebook"
                        )
                    found[sid], owner[hits[0]] = hits[0], sid
                    break
        unmatched = [s for s in sorted(scores.in_scope) if s not in found and scores.graded(s)]
        return found, unmatched


def column(header: list[str], *names: str) -> int | None:
    """The index of the first column with one of these names, or None."""
    wanted = {key(n) for n in names}
    return next((i for i, h in enumerate(header) if key(h.lstrip("\ufeff")) in wanted), None)


# ---- files ------------------------------------------------------------------------------------


def refuse_overwrite(out: Path, force: bool) -> None:
    if out.is_dir():
        raise PipelineError(f"{out} is a folder: -o takes the file to write, such as {out / 'import.csv'}")
    if out.exists() and not force:
        raise PipelineError(f"{out} already exists: pass --force to replace it, or -o to write elsewhere")


def write_atomically(out: Path, text: str) -> None:
    """The whole file or nothing: a half-written import is worse than none."""
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, out)
    except OSError as e:
        if tmp.is_file():
            tmp.unlink()
        raise PipelineError(
            f"cannot write {out} ({e.strerror}): pass -o with a file in a folder you can write"
        ) from None
