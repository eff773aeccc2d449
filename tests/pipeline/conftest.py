"""One generated course, graded once, shared by every pipeline test (real nbgrader is slow)."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

from tests.pipeline.make_corpus import ASSIGNMENT, CORRECT, NETWORK_PORT

HERE = Path(__file__).parent
CORPUS = HERE / "submissions"
REPO = HERE.parents[1]


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


class AnswerServer:
    """Serves the correct answer on 127.0.0.1:NETWORK_PORT and counts who asked for it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", NETWORK_PORT), reuse_port=True)
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.sendall(CORRECT.encode())

    def close(self) -> None:
        self.sock.close()


def make_course(tmp: Path) -> Path:
    root = tmp / "course"
    shutil.copytree(HERE / "fixtures", root)
    shutil.copy(REPO / "course" / "nbgrader_config.py", root)
    return root


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """Generate, collect the corpus, autograde (2 workers) and give feedback; export both CSVs."""
    from autograder.pipeline import Course, autograde, collect, generate
    from autograder.pipeline.export import class_report, export_grades
    from autograder.pipeline.feedback import generate_feedback

    tmp = tmp_path_factory.mktemp("pipeline")
    course = Course.at(make_course(tmp))
    corpus_before = tree_digest(CORPUS)
    generate(course, ASSIGNMENT)
    collect(course, CORPUS, ASSIGNMENT)
    submitted_before = tree_digest(course.root / "submitted")
    server = AnswerServer()
    lines: list[str] = []
    try:
        first = autograde(course, ASSIGNMENT, workers=2, cell_timeout=3, notebook_timeout=120, progress=lines.append)
        second = autograde(course, ASSIGNMENT, workers=2, cell_timeout=3, notebook_timeout=120, progress=lines.append)
    finally:
        server.close()
    feedback = generate_feedback(course, ASSIGNMENT)
    return {
        "course": course,
        "first": {o.student: o for o in first},
        "second": {o.student: o for o in second},
        "progress": lines,
        "network_connections": server.connections,
        "feedback": feedback,
        "grades": export_grades(course, tmp / "grades.csv"),
        "report": class_report(course, tmp / "class_report.csv"),
        "corpus_before": corpus_before,
        "submitted_before": submitted_before,
        "is_root": os.geteuid() == 0,
    }
