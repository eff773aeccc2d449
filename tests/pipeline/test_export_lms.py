"""tcpclose grade export --format canvas / moodle: sample rosters in each LMS's export layout, every cell.

The gradebook (tests/pipeline/lms_course.py) holds: alice 4/4 and 2.5/3; bob 2/4 and 1/3 with his
written answer not yet graded; s1003 (Carol on the rosters) 2.75/4 and no 01_written; erin
nothing; mallory 1/4 but on no roster. Dave is on the rosters and not in the gradebook at all.
"""

from __future__ import annotations

import csv
import io
import re
import shutil

import pytest

from autograder.cli import main
from tests.pipeline.lms_course import make_graded_course

pytestmark = pytest.mark.nbgrader

# Canvas's gradebook export: identity columns, the assignment's column with its Canvas id, a
# manual column the instructor keeps in Canvas, then the read-only computed columns.
CANVAS_ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,00_fixture (4242),Lab participation (4250),"
    "Assignments Current Points,Assignments Current Score,Current Score,Unposted Current Score,Final Score\n"
    "    Points Possible,,,,,4.00,5.00,(read only),(read only),(read only),(read only),(read only)\n"
    '"Liddell, Alice",101,s1001,alice,Section A,,5.00,5.00,55.56,55.56,55.56,55.56\n'
    '"Smith, Bob",102,s1002,bob.smith@example.edu,Section A,,4.00,4.00,44.44,44.44,44.44,44.44\n'
    '"Jones, Carol",103,s1003,carol,Section B,,3.50,3.50,38.89,38.89,38.89,38.89\n'
    '"Doe, Dave",104,s1004,dave,Section B,3.00,2.00,5.00,55.56,55.56,55.56,55.56\n'
    '"Erin, Erin",105,s1005,erin,Section B,EX,,0.00,,,,0.00\n'
    '"Student, Test",106,,,Section A,,,,,,,\n'
)
# The same file with every assignment scored: 00_fixture filled, 01_written a new column before
# the computed ones (its points in the Points Possible row), Dave's old 3.00 emptied (no
# submission), Erin's EX kept, everything else byte for byte.
CANVAS_EXPECTED = (
    "Student,ID,SIS User ID,SIS Login ID,Section,00_fixture (4242),Lab participation (4250),01_written,"
    "Assignments Current Points,Assignments Current Score,Current Score,Unposted Current Score,Final Score\n"
    "    Points Possible,,,,,4.00,5.00,3,(read only),(read only),(read only),(read only),(read only)\n"
    '"Liddell, Alice",101,s1001,alice,Section A,4,5.00,2.5,5.00,55.56,55.56,55.56,55.56\n'
    '"Smith, Bob",102,s1002,bob.smith@example.edu,Section A,2,4.00,1,4.00,44.44,44.44,44.44,44.44\n'
    '"Jones, Carol",103,s1003,carol,Section B,2.75,3.50,,3.50,38.89,38.89,38.89,38.89\n'
    '"Doe, Dave",104,s1004,dave,Section B,,2.00,,5.00,55.56,55.56,55.56,55.56\n'
    '"Erin, Erin",105,s1005,erin,Section B,EX,,,0.00,,,,0.00\n'
    '"Student, Test",106,,,Section A,,,,,,,,\n'
)

# Moodle's grade export as a plain text file (the default user fields), plus Frank without an email.
MOODLE_ROSTER = (
    "First name,Last name,ID number,Institution,Department,Email address,"
    "Assignment: 00_fixture (Real),Last downloaded from this course\n"
    "Alice,Liddell,s1001,Uni,CS,alice@example.edu,-,1700000000\n"
    "Bob,Smith,s1002,Uni,CS,bob.smith@example.edu,-,1700000000\n"
    "Carol,Jones,s1003,Uni,CS,carol@example.edu,-,1700000000\n"
    "Dave,Doe,s1004,Uni,CS,dave@example.edu,-,1700000000\n"
    "Erin,Erin,s1005,Uni,CS,erin@example.edu,-,1700000000\n"
    "Frank,Nomail,s1006,Uni,CS,,-,1700000000\n"
)
WAITING = "written answers await hand grading: points so far"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return make_graded_course(tmp_path_factory.mktemp("lms"))


def export(course, tmp_path, *args):
    return main(["grade", "export", "--course", str(course.root), *args])


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def one_error_sentence(err: str, *words: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])


# ---- Canvas -------------------------------------------------------------------------------------


def test_canvas_fills_the_instructors_gradebook_and_keeps_everything_else(course, tmp_path, capsys):
    roster, out = write(tmp_path, "roster.csv", CANVAS_ROSTER), tmp_path / "import.csv"
    assert export(course, tmp_path, "--format", "canvas", "--roster", str(roster), "-o", str(out)) == 1
    assert out.read_text(encoding="utf-8") == CANVAS_EXPECTED
    assert roster.read_text() == CANVAS_ROSTER  # the instructor's file is only read
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    # The graded student missing from the roster is named, and bob's unfinished score is marked.
    assert "1 graded student(s) have no row" in captured.err and "mallory" in captured.err
    assert "written answers await hand grading" in captured.err and "bob 01_written" in captured.err
    assert "new columns (Canvas creates these assignments): 01_written" in captured.err
    # Dave's 3.00 is emptied (no submission), which Canvas's import would delete: said, with the old
    # score; Erin's EX stays and is not listed. 00_fixture is worth 4 points in both: no points warning.
    assert "1 score(s) already in Canvas are emptied" in captured.err
    assert "Doe, Dave (00_fixture (4242): was 3.00)" in captured.err and "Erin" not in captured.err
    assert "points in Canvas" not in captured.err


def test_canvas_says_when_its_points_possible_differ_from_nbgraders(course, tmp_path, capsys):
    # The instructor made the assignment worth 10 in Canvas; nbgrader's is worth 4. The cells hold
    # nbgrader's points as they are (no silent scaling), and the mismatch is said before importing.
    text = CANVAS_ROSTER.replace("Points Possible,,,,,4.00,", "Points Possible,,,,,10.00,")
    roster, out = write(tmp_path, "roster.csv", text), tmp_path / "import.csv"
    assert export(course, tmp_path, "--format", "canvas", "--roster", str(roster), "-o", str(out)) == 1
    assert out.read_text() == CANVAS_EXPECTED.replace("Points Possible,,,,,4.00,", "Points Possible,,,,,10.00,")
    err = capsys.readouterr().err
    assert ("'00_fixture (4242)' is worth 10 points in Canvas and 4 in nbgrader" in err
            and "full marks would show as 4/10" in err), err  # fmt: skip
    assert "'Lab participation (4250)'" not in err  # not an nbgrader assignment: not compared


def test_canvas_roster_saved_by_excel_in_a_decimal_comma_locale(course, tmp_path):
    # Excel (a German or French locale) saves the gradebook with a BOM, CRLF, semicolons, numbers it
    # parsed written with a decimal comma (3.50 -> 3,5; 4.00 -> 4), quotes only where a field needs them.
    def excel(text: str) -> str:
        def cell(c: str) -> str:
            return f"{float(c):g}".replace(".", ",") if re.fullmatch(r"\d+\.\d+", c) else c

        rows = [[cell(c) for c in row] for row in csv.reader(io.StringIO(text))]
        buf = io.StringIO()
        csv.writer(buf, delimiter=";", lineterminator="\r\n").writerows(rows)
        return "\ufeff" + buf.getvalue()

    roster, out = write(tmp_path, "roster.csv", excel(CANVAS_ROSTER)), tmp_path / "import.csv"
    assert "3,5;" in excel(CANVAS_ROSTER) and ";Liddell, Alice;" not in excel(CANVAS_ROSTER)
    assert export(course, tmp_path, "--format", "canvas", "--roster", str(roster), "-o", str(out)) == 1
    # every cell as Excel left it; the scores written in its custom (2,75), which Canvas reads too
    assert out.read_bytes().decode("utf-8") == excel(CANVAS_EXPECTED)
    assert ";2,75;" in excel(CANVAS_EXPECTED)


def test_canvas_default_output_goes_beside_grades_csv(course, tmp_path):
    roster = write(tmp_path, "roster.csv", CANVAS_ROSTER)
    default = course.root / "canvas_import.csv"
    try:
        assert export(course, tmp_path, "--format", "canvas", "--roster", str(roster)) == 1
        assert default.read_text() == CANVAS_EXPECTED
    finally:
        default.unlink(missing_ok=True)


@pytest.mark.parametrize("quoting", [csv.QUOTE_MINIMAL, csv.QUOTE_ALL])
def test_canvas_keeps_bom_semicolons_crlf_and_quoting(course, tmp_path, quoting):
    def canvas_style(text: str) -> str:  # what Canvas writes with its semicolon and BOM settings
        rows = list(csv.reader(io.StringIO(text)))
        buf = io.StringIO()
        csv.writer(buf, delimiter=";", lineterminator="\r\n", quoting=quoting).writerows(rows)
        return "\ufeff" + buf.getvalue()

    roster, out = write(tmp_path, "roster.csv", canvas_style(CANVAS_ROSTER)), tmp_path / "import.csv"
    assert export(course, tmp_path, "--format", "canvas", "--roster", str(roster), "-o", str(out)) == 1
    assert out.read_bytes().decode("utf-8") == canvas_style(CANVAS_EXPECTED)


def test_canvas_with_named_students_and_assignment_changes_only_those_cells(course, tmp_path):
    roster, out = write(tmp_path, "roster.csv", CANVAS_ROSTER), tmp_path / "import.csv"
    args = [
        "--format",
        "canvas",
        "--roster",
        str(roster),
        "-o",
        str(out),
        "--student",
        "bob",
        "--assignment",
        "00_fixture",
    ]
    assert export(course, tmp_path, *args) == 0  # mallory is not asked for: nothing is missing
    expected = CANVAS_ROSTER.replace("bob.smith@example.edu,Section A,,", "bob.smith@example.edu,Section A,2,")
    assert out.read_text() == expected  # Dave keeps his 3.00: his row was not asked for


def test_canvas_an_assignment_nobody_submitted_is_added_only_when_named(course, tmp_path):
    from autograder.pipeline.lms import read_scores

    assert list(read_scores(course).max_points) == ["00_fixture", "01_written"]
    roster, out = write(tmp_path, "roster.csv", CANVAS_ROSTER), tmp_path / "import.csv"
    assert export(course, tmp_path, "--format", "canvas", "--roster", str(roster), "-o", str(out),
                  "--assignment", "01_written", "--student", "erin") == 0  # fmt: skip
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0][7] == "01_written" and rows[1][7] == "3"
    assert [r[7] for r in rows[2:]] == ["", "", "", "", "", ""]
    assert [r[5] for r in rows[2:]] == ["", "", "", "3.00", "EX", ""]  # 00_fixture untouched


def test_canvas_matches_by_login_then_email_then_sis_user_id(course, tmp_path):
    from autograder.pipeline.lms import Roster, read_csv, read_scores

    path = write(tmp_path, "roster.csv", CANVAS_ROSTER)
    f = read_csv(path, "")
    roster = Roster(path, list(range(2, len(f.rows))), f.rows, 3, None, 2)
    found, unmatched = roster.match(read_scores(course))
    assert {s: f.rows[r][0] for s, r in found.items()} == {
        "alice": "Liddell, Alice",  # SIS Login ID = student id
        "bob": "Smith, Bob",  # SIS Login ID = his email in the gradebook (other case)
        "s1003": "Jones, Carol",  # SIS User ID = student id
        "erin": "Erin, Erin",
    }
    assert unmatched == ["mallory"]


# ---- Moodle -------------------------------------------------------------------------------------


def test_moodle_by_email(course, tmp_path, capsys):
    roster, out = write(tmp_path, "grades.csv", MOODLE_ROSTER), tmp_path / "moodle.csv"
    assert export(course, tmp_path, "--format", "moodle", "--roster", str(roster), "-o", str(out)) == 1
    assert list(csv.reader(io.StringIO(out.read_text()))) == [
        ["First name", "Last name", "Email address", "00_fixture", "01_written", "01_written feedback"],
        ["Alice", "Liddell", "alice@example.edu", "4", "2.5", ""],
        ["Bob", "Smith", "bob.smith@example.edu", "2", "1", WAITING],
        ["Carol", "Jones", "carol@example.edu", "2.75", "", ""],
        ["Dave", "Doe", "dave@example.edu", "", "", ""],
        ["Erin", "Erin", "erin@example.edu", "", "", ""],
    ]
    err = capsys.readouterr().err
    assert "map from 'Email address'" in err
    assert "left out roster line 7 (Frank Nomail)" in err  # Moodle's import would stop at a row it cannot map
    assert "mallory" in err


def test_moodle_by_id_number(course, tmp_path):
    roster, out = write(tmp_path, "grades.csv", MOODLE_ROSTER), tmp_path / "moodle.csv"
    assert export(course, tmp_path, "--format", "moodle", "--moodle-id", "idnumber", "--roster", str(roster),
                  "-o", str(out)) == 1  # fmt: skip
    assert list(csv.reader(io.StringIO(out.read_text()))) == [
        ["First name", "Last name", "ID number", "00_fixture", "01_written", "01_written feedback"],
        ["Alice", "Liddell", "s1001", "4", "2.5", ""],
        ["Bob", "Smith", "s1002", "2", "1", WAITING],
        ["Carol", "Jones", "s1003", "2.75", "", ""],
        ["Dave", "Doe", "s1004", "", "", ""],
        ["Erin", "Erin", "s1005", "", "", ""],
        ["Frank", "Nomail", "s1006", "", "", ""],
    ]


# ---- errors: one sentence, exit 2, nothing written ------------------------------------------------

BAD_CANVAS = {
    "not-canvas": (MOODLE_ROSTER, "is not a Canvas gradebook export"),
    "no-section": (CANVAS_ROSTER.replace(",Section,", ",Group,"), "has no Section column"),
    "no-sis": (CANVAS_ROSTER.replace("SIS User ID,SIS Login ID", "Login,Number"), "no SIS Login ID or SIS User ID"),
    "no-points-possible": ("\n".join(line for line in CANVAS_ROSTER.splitlines() if "Points Possible" not in line),
                           "has no Points Possible row"),
    "empty": ("", "is empty"),
    "duplicate-student": (CANVAS_ROSTER + '"Liddell, Alice",107,s1007,alice,Section B,,,,,,,\n', "has 2 rows for student 'alice'"),
    "two-columns": (CANVAS_ROSTER.replace("Lab participation (4250)", "00_fixture retake (4251)"),
                    "2 columns starting with '00_fixture'"),
    "broken-quotes": ('Student,ID,SIS User ID,SIS Login ID,Section\n"Liddell, Alice,101\n', "not a readable CSV"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_CANVAS))
def test_a_wrong_canvas_roster_is_one_sentence_and_exit_2(course, tmp_path, capsys, case):
    text, why = BAD_CANVAS[case]
    roster, out = write(tmp_path, "roster.csv", text), tmp_path / "import.csv"
    assert export(course, tmp_path, "--format", "canvas", "--roster", str(roster), "-o", str(out)) == 2
    one_error_sentence(capsys.readouterr().err, why, str(roster))
    assert not out.exists()


def test_unreadable_rosters_are_one_sentence_and_exit_2(course, tmp_path, capsys):
    out = tmp_path / "import.csv"
    assert (
        export(course, tmp_path, "--format", "canvas", "--roster", str(tmp_path / "missing.csv"), "-o", str(out)) == 2
    )
    one_error_sentence(capsys.readouterr().err, "cannot read the roster", "No such file")
    binary = tmp_path / "gradebook.xlsx"
    binary.write_bytes(b"PK\x03\x04\xff\xfe\x00\x81binary")
    assert export(course, tmp_path, "--format", "canvas", "--roster", str(binary), "-o", str(out)) == 2
    one_error_sentence(capsys.readouterr().err, "is not UTF-8 text", "'CSV UTF-8'")
    assert export(course, tmp_path, "--format", "canvas", "-o", str(out)) == 2
    one_error_sentence(capsys.readouterr().err, "needs --roster FILE")
    assert not out.exists()


def test_a_wrong_moodle_roster_is_one_sentence_and_exit_2(course, tmp_path, capsys):
    out = tmp_path / "moodle.csv"
    roster = write(tmp_path, "r.csv", CANVAS_ROSTER)
    assert export(course, tmp_path, "--format", "moodle", "--roster", str(roster), "-o", str(out)) == 2
    one_error_sentence(capsys.readouterr().err, "neither an 'Email address' nor an 'ID number' column")
    roster = write(tmp_path, "r.csv", MOODLE_ROSTER.replace("ID number", "Matrikel"))
    assert export(course, tmp_path, "--format", "moodle", "--moodle-id", "idnumber", "--roster", str(roster),
                  "-o", str(out)) == 2  # fmt: skip
    one_error_sentence(capsys.readouterr().err, "no 'ID number' column", "--moodle-id email")
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["grades", "canvas", "moodle"])
def test_unknown_assignment_or_student_is_one_sentence_and_exit_2(course, tmp_path, capsys, fmt):
    roster = write(tmp_path, "r.csv", CANVAS_ROSTER if fmt == "canvas" else MOODLE_ROSTER)
    out = tmp_path / "out.csv"
    base = ["--format", fmt, "-o", str(out)] + (["--roster", str(roster)] if fmt != "grades" else [])
    assert export(course, tmp_path, *base, "--assignment", "99_nope") == 2
    one_error_sentence(capsys.readouterr().err, "no assignment '99_nope' in the gradebook", "00_fixture, 01_written")
    assert export(course, tmp_path, *base, "--student", "nobody") == 2
    one_error_sentence(capsys.readouterr().err, "no student 'nobody' in the gradebook", "alice")
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["canvas", "moodle"])
def test_nothing_is_overwritten_without_force(course, tmp_path, capsys, fmt):
    roster = write(tmp_path, "r.csv", CANVAS_ROSTER if fmt == "canvas" else MOODLE_ROSTER)
    out = write(tmp_path, "out.csv", "an earlier import\n")
    args = ["--format", fmt, "--roster", str(roster), "-o", str(out)]
    assert export(course, tmp_path, *args) == 2
    one_error_sentence(capsys.readouterr().err, "already exists", "--force")
    assert out.read_text() == "an earlier import\n"
    assert export(course, tmp_path, *args, "--force") == 1
    assert out.read_text().startswith("Student," if fmt == "canvas" else "First name,")
    # the roster itself is an existing file too: replaced only when asked
    copy = tmp_path / "copy.csv"
    shutil.copy(roster, copy)
    assert export(course, tmp_path, "--format", fmt, "--roster", str(copy), "-o", str(copy)) == 2
    assert copy.read_bytes() == roster.read_bytes()
    assert export(course, tmp_path, "--format", fmt, "--roster", str(copy), "-o", str(copy), "--force") == 1
    assert copy.read_text() == out.read_text()


@pytest.mark.parametrize("fmt", ["grades", "canvas", "moodle"])
def test_a_folder_that_is_not_the_course_is_one_sentence_and_exit_2(tmp_path, capsys, fmt):
    # --course pointing at the wrong folder: nbgrader would make an empty gradebook there, and the
    # Canvas file would have emptied every score the roster holds.
    roster = write(tmp_path, "r.csv", CANVAS_ROSTER if fmt == "canvas" else MOODLE_ROSTER)
    wrong, out = tmp_path / "not-the-course", tmp_path / "out.csv"
    wrong.mkdir()
    args = ["grade", "export", "--course", str(wrong), "--format", fmt, "-o", str(out)]
    assert main(args + (["--roster", str(roster)] if fmt != "grades" else [])) == 2
    one_error_sentence(capsys.readouterr().err, "no gradebook at", "is not a graded course", "--course DIR")
    assert list(wrong.iterdir()) == [] and not out.exists()


def test_an_output_that_cannot_be_written_is_one_sentence_and_exit_2(course, tmp_path, capsys):
    roster = write(tmp_path, "r.csv", CANVAS_ROSTER)
    base = ["--format", "canvas", "--roster", str(roster)]
    assert export(course, tmp_path, *base, "-o", str(tmp_path), "--force") == 2  # a folder
    one_error_sentence(capsys.readouterr().err, "is a folder", "-o takes the file")
    blocker = write(tmp_path, "a-file", "not a folder\n")
    assert export(course, tmp_path, *base, "-o", str(blocker / "import.csv")) == 2
    one_error_sentence(capsys.readouterr().err, "cannot write", "import.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "r.csv"]  # no half-written file left


def test_grades_csv_stays_the_default(course, tmp_path):
    out = tmp_path / "grades.csv"
    assert export(course, tmp_path, "-o", str(out)) == 0
    assert list(csv.reader(io.StringIO(out.read_text()))) == [
        ["student", "00_fixture", "01_written", "total", "awaiting_hand_grading"],
        ["alice", "4.0", "2.5", "6.5", ""],
        ["bob", "2.0", "1.0", "3.0", "01_written"],
        ["erin", "0.0", "0.0", "0.0", ""],
        ["mallory", "1.0", "0.0", "1.0", ""],
        ["s1003", "2.75", "0.0", "2.75", ""],
    ]


def test_a_text_a_spreadsheet_would_run_is_kept_as_text():
    from autograder.pipeline.export import as_text_cell

    for formula in ('=HYPERLINK("x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"):
        assert as_text_cell(formula) == "'" + formula
    assert [as_text_cell(v) for v in ("alice", "", 3.5, -1.0)] == ["alice", "", 3.5, -1.0]
