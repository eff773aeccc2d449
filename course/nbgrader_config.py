"""nbgrader configuration for the TCP goodbye course (this directory is the course root).

Run nbgrader from here, or use `tcpclose grade ...`, which loads this same file and adds
the safety steps of autograder.pipeline (parallel, sandboxed, resumable, redacted feedback).
"""

import os

c = get_config()  # noqa: F821 -- injected by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = "tcp-goodbye"
# The course root is this directory wherever the repository is checked out.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# source/<NN_name>/<NN_name>.ipynb -> release/ -> submitted/<student>/<NN_name>/ -> ...
c.CourseDirectory.directory_structure = os.path.join("{nbgrader_step}", "{student_id}", "{assignment_id}")
# nbgrader's own SQLite gradebook, generated here and never committed (.gitignore).
# Any SQLAlchemy URL works (e.g. postgresql://...) for a shared JupyterHub deployment.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")

# Solution and hidden-test markers, spelled out so authors see them in one place.
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"

# Checks run on the simulator's virtual clock and finish in well under a second; hidden
# cells enumerate loss patterns and take a few seconds. 60 s per cell leaves room for a slow
# machine while an infinite loop still costs only one minute (the pipeline adds a limit per
# notebook on top, see autograder.pipeline.autograde).
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
c.Execute.allow_errors = True

# `nbgrader collect` copies from the exchange with collect's rules: regular files and folders only,
# no link followed (a link a student planted in the inbound folder would collect the source).
c.ExchangeFactory.collect = "autograder.pipeline.exchange.SafeExchangeCollect"

# Keep a runaway print from bloating the autograded notebook and the feedback.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 20


# The grading manifests (source/<NN_name>/manifest.py: every test cell's visible and hidden checks)
# stay with the source: never copied to release/, autograded/ or feedback/.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "manifest.py"]
