"""The grading subcommands of `tcpclose`: check, grade ..., notebooks. Exit 0 ok, 1 failed, 2 bad input.

autograder/cli.py calls `register(subparsers)`; every handler returns the exit code. This module
lives outside `autograder.pipeline` so that building the parser does not import nbgrader (seconds):
each handler imports the pipeline when it runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

OK, FAILED, BAD_INPUT = 0, 1, 2


def _course(args):
    from .pipeline.course import Course  # nbgrader loads only for the commands that need it

    return Course.for_command(args.course)


def cmd_check(args) -> int:
    from .pipeline.check import BadNotebook, check_notebook, render

    try:
        result = check_notebook(Path(args.notebook), _course(args), assignment=args.assignment)
    except BadNotebook as e:
        print(f"error: {e}", file=sys.stderr)
        return BAD_INPUT
    sys.stdout.write(render(result))
    return OK if result.passed else FAILED


def cmd_grade(args) -> int:
    from .pipeline.autograde import autograde
    from .pipeline.export import awaiting_hand_grading, class_report, export_grades
    from .pipeline.feedback import generate_feedback
    from .pipeline.steps import PipelineError, collect, generate

    course = _course(args)
    try:
        if args.step == "generate":
            print(generate(course, args.assignment))
        elif args.step == "collect":
            got = collect(course, Path(args.inbox), args.assignment, replace=args.replace)
            print(f"new {len(got.new)}, unchanged {len(got.unchanged)}, replaced {len(got.replaced)}")
            for s in got.conflicts:
                print(f"kept the earlier submission of {s}: it differs (use --replace)", file=sys.stderr)
        elif args.step == "autograde":
            outcomes = autograde(course, args.assignment, args.student or None, args.workers,
                                 args.timeout, args.cell_timeout, args.force)
            return OK if all(o.status in ("graded", "skipped") for o in outcomes) else FAILED
        elif args.step == "feedback":
            for page in generate_feedback(course, args.assignment):
                print(page)
            waiting = awaiting_hand_grading(course, args.assignment)
            if waiting:
                print(f"note: {len(waiting)} submission(s) have written answers not yet graded by hand "
                      f"(their pages show 0 for them): {', '.join(waiting)}; grade them in the formgrader, "
                      "then run feedback again", file=sys.stderr)  # fmt: skip
        elif args.step == "export":
            print(export_grades(course, Path(args.out or course.root / "grades.csv")))
        elif args.step == "report":
            print(class_report(course, Path(args.out or course.root / "class_report.csv")))
    except PipelineError as e:
        print(f"error: {e}", file=sys.stderr)
        return BAD_INPUT
    return OK


def cmd_notebooks(args) -> int:
    from .pipeline.notebooks import drift, regenerate, unclean_sources

    course = _course(args)
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add `check`, `grade` and `notebooks` to tcpclose's subcommands."""
    course = argparse.ArgumentParser(add_help=False)
    course.add_argument("--course", help="course root (default: $TCPCLOSE_COURSE, else the current directory if it "
                                         "holds nbgrader_config.py, else the repository's course/)")

    s = sub.add_parser("check", parents=[course], help="grade your saved notebook with the hidden tests")
    s.add_argument("notebook", help="e.g. notebooks/01_active_close.ipynb (never modified)")
    s.add_argument("--assignment", help="which assignment it is (default: told by the file name or its cells)")
    s.set_defaults(func=cmd_check)

    g = sub.add_parser("grade", help="instructor pipeline: generate, collect, autograde, feedback, export, report")
    steps = g.add_subparsers(dest="step", metavar="STEP", parser_class=type(g))
    steps.required = True
    for name, text in (("generate", "source -> release version and gradebook"),
                       ("feedback", "redacted feedback HTML per student")):
        p = steps.add_parser(name, parents=[course], help=text)
        p.add_argument("assignment")
    p = steps.add_parser("collect", parents=[course], help="copy INBOX/<student>/<assignment>/ into submitted/")
    p.add_argument("inbox")
    p.add_argument("assignment")
    p.add_argument("--replace", action="store_true", help="replace earlier submissions that differ")
    p = steps.add_parser("autograde", parents=[course], help="parallel, sandboxed, resumable autograde")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=600, help="seconds per notebook (default 600)")
    p.add_argument("--cell-timeout", type=int, help="seconds per cell (default: the course config)")
    p.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    for name, text in (("export", "grades CSV: a row per student"), ("report", "class report CSV per transition")):
        p = steps.add_parser(name, parents=[course], help=text)
        p.add_argument("--out", help="CSV path (default: in the course root)")
    g.set_defaults(func=cmd_grade)

    n = sub.add_parser("notebooks", parents=[course], help="regenerate the learner copies in notebooks/")
    n.add_argument("--check", action="store_true", help="only report copies that drifted from the source")
    n.add_argument("--dest", help=argparse.SUPPRESS)
    n.set_defaults(func=cmd_notebooks)
