"""collect takes regular files and folders under student ids, and refuses the rest one by one.

Each refusal below was a way to get marks or stop the batch: a link to the course's source
notebook (full marks and the solutions in the feedback), a link to another student's submission,
a named pipe (a traceback, and no student after it collected), /dev/zero (a disk filled), and a
folder name that a spreadsheet reads as a formula or that forges a line in the output.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.pipeline.course import Course
from autograder.pipeline.inbox import MAX_FILE, id_problem
from autograder.pipeline.steps import collect

A = "01_active_close"
NB = f"{A}.ipynb"


def submission(inbox: Path, student: str, text: str = '{"cells": []}') -> Path:
    folder = inbox / student / A
    folder.mkdir(parents=True)
    (folder / NB).write_text(text)
    return folder / NB


@pytest.fixture
def course(tmp_path) -> Course:
    (tmp_path / "course" / "source" / A).mkdir(parents=True)
    (tmp_path / "course" / "source" / A / NB).write_text('{"solutions": "all of them"}')
    return Course.at(tmp_path / "course")


@pytest.fixture
def inbox(tmp_path, course) -> Path:
    inbox = tmp_path / "inbox"
    submission(inbox, "alice", '{"alice": 1}')
    submission(inbox, "link-to-source").unlink()
    (inbox / "link-to-source" / A / NB).symlink_to(course.root / "source" / A / NB)
    (inbox / "link-to-peer").mkdir()
    (inbox / "link-to-peer" / A).symlink_to(inbox / "alice" / A)
    submission(inbox, "pipe").unlink()
    os.mkfifo(inbox / "pipe" / A / NB)
    submission(inbox, "zero").unlink()
    (inbox / "zero" / A / NB).symlink_to("/dev/zero")
    with open(submission(inbox, "huge"), "r+b") as f:
        f.truncate(MAX_FILE + 1)  # sparse: no disk used
    submission(inbox, '=HYPERLINK("https:\\\\example.org","grades")')
    submission(inbox, "forged\ngrading failed for alice")
    submission(inbox, ".hidden")
    submission(inbox, "zoe", '{"zoe": 1}')  # sorted after every bad one
    return inbox


REFUSED = {
    "link-to-source": "01_active_close/01_active_close.ipynb is a symbolic link",
    "link-to-peer": "01_active_close is a symbolic link, not a folder",
    "pipe": "01_active_close/01_active_close.ipynb is a named pipe",
    "zero": "01_active_close/01_active_close.ipynb is a symbolic link",
    "huge": "makes the submission larger than collect takes (100 MiB a file, 200 MiB in all)",
    '=HYPERLINK("https:\\\\example.org","grades")': "is not a student id: a student id starts with a letter",
    "forged\ngrading failed for alice": "is not a student id: a student id holds only letters, digits",
    ".hidden": "is not a student id: a student id starts with a letter or a digit",
}


def test_every_bad_folder_is_refused_with_its_reason_and_the_rest_are_collected(course, inbox):
    got = collect(course, inbox, A)
    assert sorted(got.new) == ["alice", "zoe"]
    assert set(got.refused) == set(REFUSED)
    for name, why in REFUSED.items():
        assert why in got.refused[name], (name, got.refused[name])
    submitted = sorted(p.name for p in (course.root / "submitted").iterdir())
    assert submitted == ["alice", "zoe"]  # nothing, not even an empty folder, for a refused one
    assert (course.root / "submitted" / "zoe" / A / NB).read_text() == '{"zoe": 1}'
    assert not any(p.is_symlink() for p in (course.root / "submitted").rglob("*"))


def test_a_refused_replacement_keeps_the_earlier_submission(course, inbox):
    collect(course, inbox, A)
    nb = inbox / "alice" / A / NB
    nb.unlink()
    nb.symlink_to(course.root / "source" / A / NB)
    got = collect(course, inbox, A, replace=True)
    assert "alice" in got.refused and "alice" not in got.replaced
    assert (course.root / "submitted" / "alice" / A / NB).read_text() == '{"alice": 1}'
    nb.unlink()
    nb.write_text('{"alice": 2}')
    assert collect(course, inbox, A, replace=True).replaced == ["alice"]
    assert (course.root / "submitted" / "alice" / A / NB).read_text() == '{"alice": 2}'
    assert sorted(p.name for p in (course.root / "submitted" / "alice").iterdir()) == [A]  # no copy left over


def test_a_folder_swapped_for_a_link_while_it_is_copied_is_not_followed(course, tmp_path, monkeypatch):
    """The copy walks from folders it holds open: a student who renames their folder away and puts a
    link to the course's source in its place once the copy has begun gets their own files copied, or
    (a file swapped for a link) a refusal, never the source."""
    from autograder.pipeline import inbox as module

    inbox = tmp_path / "inbox"
    submission(inbox, "racer", '{"mine": 1}')
    folder, copy_dir, copy_file = inbox / "racer" / A, module._copy_dir, module._copy_file

    def swap_then_copy(fd, out, label, total):
        folder.rename(folder.with_name("away"))
        folder.symlink_to(course.root / "source" / A)
        copy_dir(fd, out, label, total)

    monkeypatch.setattr(module, "_copy_dir", swap_then_copy)
    assert collect(course, inbox, A).new == ["racer"]
    assert (course.root / "submitted" / "racer" / A / NB).read_text() == '{"mine": 1}'

    def swap_the_file_then_copy(dir_fd, name, dest, label, total):
        real = folder / name
        real.unlink()
        real.symlink_to(course.root / "source" / A / NB)
        copy_file(dir_fd, name, dest, label, total)

    monkeypatch.setattr(module, "_copy_dir", copy_dir)
    monkeypatch.setattr(module, "_copy_file", swap_the_file_then_copy)
    (inbox / "racer" / A).unlink()
    (inbox / "racer" / "away").rename(folder)
    (folder / NB).write_text('{"mine": 2}')
    got = collect(course, inbox, A, replace=True)
    assert "01_active_close/01_active_close.ipynb is a symbolic link" in got.refused["racer"]
    assert (course.root / "submitted" / "racer" / A / NB).read_text() == '{"mine": 1}'


def test_the_command_names_each_refusal_and_exits_1(course, inbox, capsys):
    assert main(["grade", "collect", str(inbox), A, "--course", str(course.root)]) == 1
    err = capsys.readouterr().err
    assert "not collected: 'pipe': 01_active_close/01_active_close.ipynb is a named pipe" in err
    assert "\ngrading failed for alice" not in err  # the forged line stays inside its quotes
    assert "8 folder(s) not collected; the others were" in err and "Traceback" not in err


@pytest.mark.parametrize("name", ["s1234567", "Ana.Lopez", "j_doe", "kim@example.edu", "x+y"])
def test_student_ids_a_hub_gives_are_ids(name):
    assert id_problem(name) == ""


@pytest.mark.parametrize(
    "name", ["", "-x", "+1", "@sum", "=1+1", "a b", "a/b", "a\tb", "x" * 101, "..", "\u0430lice", "\uff41dmin", "名前"]
)  # look-alikes: Cyrillic а, fullwidth ａ
def test_names_that_are_not_ids(name):
    assert id_problem(name)


def test_nbgrader_collect_over_the_exchange_follows_no_link(course, tmp_path, caplog):
    """The course's nbgrader_config.py gives `nbgrader collect` this copier: a link a student planted
    in the exchange's inbound folder (nbgrader's copytree follows it) is refused, a real folder copied."""
    import logging

    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    from autograder.pipeline.exchange import SafeExchangeCollect

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(Path(__file__).parents[2] / "course")).load_config()
    assert cfg.ExchangeFactory.collect == "autograder.pipeline.exchange.SafeExchangeCollect"
    inbound = tmp_path / "inbound"  # nbgrader's layout: inbound/<student>+<assignment>+<timestamp>/<files>
    planted, honest = (inbound / f"{who}+{A}+2026-12-04 10:00:00.000000 UTC" for who in ("mallory", "alice"))
    for folder in (planted, honest):
        folder.mkdir(parents=True)
    (planted / NB).symlink_to(course.root / "source" / A / NB)
    (honest / NB).write_text('{"a": 1}')
    collector = SafeExchangeCollect(coursedir=CourseDirectory(root=str(course.root)))
    collector.log = logging.getLogger("collect-test")
    with caplog.at_level(logging.ERROR, logger="collect-test"):
        collector.do_copy(str(planted), str(tmp_path / "out" / "mallory" / A))
        collector.do_copy(str(honest), str(tmp_path / "out" / "alice" / A))
    assert not (tmp_path / "out" / "mallory" / A).exists()
    assert "is a symbolic link" in caplog.text and "mallory" in caplog.text
    assert (tmp_path / "out" / "alice" / A / NB).read_text() == '{"a": 1}'
