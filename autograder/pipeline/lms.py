"""Grades into the LMS: fill the instructor's own Canvas gradebook export, or write Moodle's import CSV.

Both start from a roster the LMS itself exported, because only the LMS knows who a student is
there (lms_roster.py says which row is whose). A roster row without a submission gets an empty
cell; a graded student without a roster row is listed, never dropped. Canvas's import ignores
read-only columns and creates an assignment for a column it does not know (its points from the
Points Possible row); Moodle's import aborts on a row whose user it cannot find, so rows without
the chosen identifier are left out (and listed). The files are written by lms_canvas.py and
lms_moodle.py; this module is `tcpclose grade export`, and says what the instructor must check.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .course import Course
from .lms_canvas import CANVAS_HINT, CanvasExport, canvas_import
from .lms_moodle import MOODLE_HINT, MoodleExport, moodle_import
from .lms_roster import BadRoster, Roster, Scores, number, read_csv, read_scores
from .steps import PipelineError

__all__ = ["BadRoster", "Roster", "Scores", "canvas_import", "moodle_import", "read_csv", "read_scores", "run_export"]

FORMATS = ("grades", "canvas", "moodle")
DEFAULT_OUT = {"grades": "grades.csv", "canvas": "canvas_import.csv", "moodle": "moodle_import.csv"}


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
        _tell_canvas(done)
    else:
        done = moodle_import(course, Path(args.roster), out, args.moodle_id, assignments, students, args.force)
        _tell_moodle(done)
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


def _tell_canvas(done: CanvasExport) -> None:
    """What the instructor checks before importing into Canvas."""
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


def _tell_moodle(done: MoodleExport) -> None:
    """How to map the columns in Moodle's import, and the rows left out."""
    print(done.out)
    print(f"{done.rows} rows; in Moodle's CSV import map from {done.identifier!r} to {done.identifier!r} and "
          "each assignment column to its grade item" + (", each feedback column to its item's feedback"
                                                        if done.feedback_columns else ""), file=sys.stderr)  # fmt: skip
    for line in done.skipped:
        print(f"warning: left out roster {line}: it has no {done.identifier} (Moodle's import would stop there)",
              file=sys.stderr)  # fmt: skip
