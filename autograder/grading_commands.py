"""The grading subcommands of `tcpclose`: check, grade ..., notebooks. Exit 0 ok, 1 failed, 2 bad input.

autograder/cli.py calls `register(subparsers)`; every handler returns the exit code. This module
lives outside `autograder.pipeline` so that building the parser does not import nbgrader (seconds):
each handler imports the pipeline when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .cli import BAD_INPUT, FAILED, OK  # the exit codes, one meaning everywhere


def _light_imports() -> None:
    """jsonschema (under nbformat and nbgrader) compiles an IRI grammar when imported, seconds of every
    grading command's start, for a string format that no notebook or gradebook schema uses."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]


def _course(args):
    from .pipeline.course import Course  # nbgrader loads only for the commands that need it

    return Course.for_command(args.course)


def _source_course(args):
    """The course, for a command that reads its source/ or writes beside it (generate, collect,
    notebooks): a folder without source/ is the wrong one, and nothing is made there."""
    from .cli import BadInput

    course = _course(args)
    if not (course.root / "source").is_dir():
        raise BadInput(f"{course.root} is not a course: it has no source/ folder; pass --course DIR, the folder "
                       "holding nbgrader_config.py and source/")  # fmt: skip
    return course


def cmd_check(args) -> int:
    # Said before anything heavy is imported: the whole check takes a while (nbgrader, the sandbox).
    print(f"tcpclose check: grading {args.notebook} with the hidden tests (usually 10-40 s)", file=sys.stderr,
          flush=True)  # fmt: skip
    _light_imports()
    from .pipeline.check import BadNotebook, check_notebook, render
    from .pipeline.progress import Progress

    try:
        with Progress(0, unit="cell") as progress:
            result = check_notebook(Path(args.notebook), _course(args), assignment=args.assignment, progress=progress)
    except BadNotebook as e:
        print(f"error: {e}", file=sys.stderr)
        return BAD_INPUT
    sys.stdout.write(render(result))
    return OK if result.passed else FAILED


def cmd_grade(args) -> int:
    _light_imports()
    from .pipeline.steps import PipelineError, generate

    course = _source_course(args) if args.step in ("generate", "collect") else _course(args)
    try:
        if args.step == "generate":
            print(generate(course, args.assignment))
        elif args.step == "collect":
            return _grade_collect(course, args)
        elif args.step == "autograde":
            return _grade_autograde(course, args)
        elif args.step == "feedback":
            _grade_feedback(course, args)
        elif args.step == "export":
            return _grade_export(course, args)
        elif args.step == "report":
            _grade_report(course, args)
    except PipelineError as e:
        print(f"error: {e}", file=sys.stderr)
        return BAD_INPUT
    return OK


def _grade_collect(course, args) -> int:
    from .pipeline.progress import Progress
    from .pipeline.steps import collect

    with Progress(0, unit="submission") as bar:
        got = collect(course, Path(args.inbox), args.assignment, replace=args.replace, progress=bar)
    print(f"new {len(got.new)}, unchanged {len(got.unchanged)}, replaced {len(got.replaced)}")
    if not (got.new or got.unchanged or got.replaced or got.conflicts or got.refused):
        print(f"found no submission: collect reads {args.inbox}/<student>/{args.assignment}/", file=sys.stderr)
    for s in got.conflicts:
        print(f"kept the earlier submission of {s}: it differs (use --replace)", file=sys.stderr)
    for name, why in got.refused.items():
        print(f"not collected: {name!r}: {why}", file=sys.stderr)
    if got.refused:
        print(f"{len(got.refused)} folder(s) not collected; the others were", file=sys.stderr)
    return FAILED if got.refused else OK


def _grade_autograde(course, args) -> int:
    from .pipeline.autograde import autograde
    from .pipeline.cluster import SCHEDULER_ENV, ClusterError

    scheduler = args.scheduler or os.environ.get(SCHEDULER_ENV) or None
    try:
        outcomes = autograde(course, args.assignment, args.student or None, args.workers,
                             args.timeout, args.cell_timeout, args.force, scheduler=scheduler)  # fmt: skip
    except ClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.code
    failed = [o for o in outcomes if o.status not in ("graded", "skipped")]
    flagged = [o.student for o in outcomes if o.flags]
    if flagged:
        print(f"flagged for a look ({len(flagged)}): {', '.join(flagged)}; the flags are in their feedback "
              "pages and the class report (they never change a score)", file=sys.stderr)  # fmt: skip
    for o in failed:
        print(f"grading failed for {o.student}: {o.notes[0] if o.notes else o.status}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} submission(s) could not be graded: {', '.join(o.student for o in failed)}; "
              "they score 0 until graded again", file=sys.stderr)  # fmt: skip
    return FAILED if failed else OK


def _grade_feedback(course, args) -> None:
    from .pipeline.export import awaiting_hand_grading
    from .pipeline.feedback_pages import generate_feedback
    from .pipeline.progress import Progress

    with Progress(0, unit="student") as bar:
        pages = generate_feedback(course, args.assignment, progress=bar)
    for page in pages:
        print(page)
    waiting = awaiting_hand_grading(course, args.assignment)
    if waiting:
        print(f"note: {len(waiting)} submission(s) have written answers not yet graded by hand "
              f"(their pages show 0 for them): {', '.join(waiting)}; grade them in the formgrader, "
              "then run feedback again", file=sys.stderr)  # fmt: skip


def _grade_export(course, args) -> int:
    from .pipeline.lms import run_export  # grades.csv, or a Canvas / Moodle import

    if sys.stderr.isatty():  # someone waiting; a log keeps errors to their one sentence
        print(f"tcpclose grade export: reading the gradebook of {course.root}", file=sys.stderr, flush=True)
    started = time.monotonic()
    code = run_export(course, args)
    print(f"tcpclose grade export: done in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return code


def _grade_report(course, args) -> None:
    from .pipeline.export import class_report
    from .pipeline.report_html import class_report_html

    out = Path(args.out or course.root / "class_report.csv")
    print(class_report(course, out))
    print(class_report_html(course, out.with_suffix(".html")))  # beside the CSV


def cmd_notebooks(args) -> int:
    from .pipeline.notebooks import drift, regenerate, unclean_sources

    course = _source_course(args)
    dest = Path(args.dest) if args.dest else course.root.parent / "notebooks"  # notebooks/ beside course/
    problems = unclean_sources(course)
    for p in problems:
        print(f"source not clean: {p}", file=sys.stderr)
    if args.check:
        drifted = drift(course, dest)
        for name in drifted:
            print(f"out of date: {dest / name} (run: tcpclose notebooks)", file=sys.stderr)
        return FAILED if drifted or problems else OK
    for path in regenerate(course, dest):
        print(path)
    return FAILED if problems else OK


EXPORT_HELP = """\
Canvas: pass your gradebook export (Grades > Export) as --roster; the copy keeps every row, column
and the Points Possible row, fills each assignment's column (the one whose name starts with the
assignment's name, or a new column) and leaves rows without a submission empty (EX stays).
Moodle: names, the identifier and a column per assignment (map them in Moodle's CSV import).
Who is who: an nbgrader student id is the JupyterHub user name (the folder under submitted/).
A roster row is that student's when its SIS Login ID (Moodle: Username) is the id; else when
its SIS Login ID or email is the student's email in the gradebook (nbgrader db student add ID
--email ...); else when its SIS User ID (Moodle: ID number) is the id.
Exit 1 when a graded student has no roster row (listed, file still written); 2 on bad input."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add `check`, `grade` and `notebooks` to tcpclose's subcommands."""
    course = argparse.ArgumentParser(add_help=False)
    course.add_argument(
        "--course",
        help="course root (default: $TCPCLOSE_COURSE, else the current directory if it "
        "holds nbgrader_config.py, else the repository's course/)",
    )

    s = sub.add_parser("check", parents=[course], help="grade your saved notebook with the hidden tests")
    s.add_argument("notebook", help="e.g. notebooks/01_active_close.ipynb (never modified)")
    s.add_argument("--assignment", help="which assignment it is (default: told by the file name or its cells)")
    s.set_defaults(func=cmd_check)

    g = sub.add_parser("grade", help="instructor pipeline: generate, collect, autograde, feedback, export, report")
    steps = g.add_subparsers(dest="step", metavar="STEP", parser_class=type(g))
    steps.required = True
    for name, text in (
        ("generate", "source -> release version and gradebook"),
        ("feedback", "redacted feedback HTML per student"),
    ):
        p = steps.add_parser(name, parents=[course], help=text)
        p.add_argument("assignment")
    p = steps.add_parser("collect", parents=[course], help="copy INBOX/<student>/<assignment>/ into submitted/")
    p.add_argument("inbox")
    p.add_argument("assignment")
    p.add_argument("--replace", action="store_true", help="replace earlier submissions that differ")
    _add_autograde(steps, course)
    _add_export(steps, course)
    p = steps.add_parser("report", parents=[course], help="class report per transition: CSV and an HTML page")
    p.add_argument("--out", help="CSV path (default: in the course root); the HTML page goes beside it")
    g.set_defaults(func=cmd_grade)

    n = sub.add_parser("notebooks", parents=[course], help="regenerate the learner copies in notebooks/")
    n.add_argument("--check", action="store_true", help="only report copies that drifted from the source")
    n.add_argument("--dest", help=argparse.SUPPRESS)
    n.set_defaults(func=cmd_notebooks)


def _add_autograde(steps: argparse._SubParsersAction, course: argparse.ArgumentParser) -> None:
    p = steps.add_parser("autograde", parents=[course], help="trusted, sandboxed, parallel, resumable autograde",
                         description="Each submission's cells run in a sandbox; every point is computed outside "
                                     "it, from the notebook's grading manifest. Exit 1 names the submissions that "
                                     "could not be graded; flags (what a submission was seen trying) never change "
                                     "a score. Resumable: a submission unchanged since its last autograde is "
                                     "skipped, so after an interruption (or a lost Dask cluster: exit 1, or 2 for "
                                     "a wrong address or workers without this package) the same command grades "
                                     "only the rest.")  # fmt: skip
    p.add_argument("assignment")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="long-lived grading workers on this machine (default 2; 0: in this process); not used with --scheduler",
    )
    p.add_argument("--scheduler", metavar="tcp://HOST:8786",
                   help="grade on a Dask distributed cluster: one task per submission, each carrying the submission, "
                        "the release and the manifest (no shared filesystem); the gradebook is written here only. "
                        "Default: $TCPCLOSE_SCHEDULER, else the local workers. The workers need this package installed "
                        "(the same version; checked first); see the README for SLURM/PBS and Kubernetes")  # fmt: skip
    p.add_argument("--timeout", type=float, default=600, help="seconds per notebook (default 600)")
    p.add_argument("--cell-timeout", type=int, help="seconds per cell (default: the course config)")
    p.add_argument("--force", action="store_true", help="regrade even unchanged submissions")


def _add_export(steps: argparse._SubParsersAction, course: argparse.ArgumentParser) -> None:
    p = steps.add_parser(
        "export",
        parents=[course],
        help="grades CSV, or a Canvas / Moodle grade import",
        description=EXPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--format",
        choices=("grades", "canvas", "moodle"),
        default="grades",
        help="grades: grades.csv (default); canvas: your Canvas gradebook export, filled in; "
        "moodle: Moodle's grade import CSV",
    )
    p.add_argument(
        "--roster",
        metavar="FILE",
        help="the LMS's own export: Canvas gradebook CSV, or Moodle's "
        "grades as a plain text file (needed by canvas and moodle)",
    )
    p.add_argument(
        "-o",
        "--out",
        help="output file (default: grades.csv, canvas_import.csv or moodle_import.csv in the course root)",
    )
    p.add_argument(
        "--moodle-id",
        choices=("email", "idnumber"),
        default="email",
        help="identify Moodle users by 'Email address' (default) or 'ID number'",
    )
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--student", action="append", help="only this nbgrader student id (repeatable)")
    p.add_argument("--force", action="store_true", help="replace an existing canvas / moodle output file")
