"""class_report.html: the heat map, the most common first divergences with their timelines, the
score distribution, from a real nbgrader gradebook and records holding the real checks' messages.

The cohort (tests/pipeline/lms_course.py, REPORT_*): on 00_fixture alice passes everything (and
has no record), bob, carol and dave fail FIN_WAIT_2 on the same first divergence, bob and carol
CLOSING's, mallory FIN_WAIT_1's (and tampered with another cell), trent left stubs; on
01_written bob's written answer waits for hand grading.
"""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from autograder.cli import main
from autograder.pipeline.report_divergences import common_divergences, divergence_of, replay_trace
from tests.pipeline.lms_course import (
    REPORT_STUDENTS,
    REPORT_SUBMISSIONS,
    STUB,
    make_graded_course,
    real_failures,
    write_report_records,
)

pytestmark = pytest.mark.nbgrader


@pytest.fixture(scope="module")
def failures():
    return real_failures()


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    """The course generated once, with nobody's work in it yet (copied by the tests)."""
    return make_graded_course(tmp_path_factory.mktemp("blank"), {}, {}).root


@pytest.fixture(scope="module")
def course(tmp_path_factory, failures, blank):
    course = make_graded_course(tmp_path_factory.mktemp("report"), REPORT_SUBMISSIONS, REPORT_STUDENTS, blank)
    write_report_records(course, failures)
    return course


@pytest.fixture(scope="module")
def page(course):
    assert main(["grade", "report", "--course", str(course.root)]) == 0
    html = (course.root / "class_report.html").read_text(encoding="utf-8")
    return html, BeautifulSoup(html, "html.parser")


def test_report_writes_the_page_beside_the_csv(course, page, capsys):
    assert (course.root / "class_report.csv").is_file()
    html, soup = page
    assert (
        soup.find("section", id="heatmap")
        and soup.find("section", id="divergences")
        and soup.find("section", id="scores")
    )
    assert "<script" not in html.lower()  # dave's record smuggled one into its svg: never shown


def test_heat_map_gives_each_transition_its_pass_rate(page):
    _, soup = page
    cells = {(g["data-assignment"], g["data-transition"]): (int(g["data-passed"]), int(g["data-graded"]))
             for g in soup.select("#pass-rate-heatmap g.heat-cell")}  # fmt: skip
    assert cells == {
        ("00_fixture", "fin_wait_1_ack_of_fin"): (4, 6),  # mallory and trent lost it
        ("00_fixture", "fin_wait_2_fin"): (2, 6),  # alice, mallory
        ("00_fixture", "simultaneous_close"): (2, 6),  # alice, dave
        ("01_written", "written_code"): (2, 2),
        ("01_written", "written_why_time_wait"): (0, 1),  # alice 1.5 of 2; bob's waits, so is not counted
    }
    # squares of transitions an assignment does not check are drawn empty, not as 0%
    assert len(soup.select("#pass-rate-heatmap rect.heat-empty")) == 2 * 5 - 5
    rate = soup.select_one('#pass-rate-heatmap g.heat-cell[data-transition="fin_wait_2_fin"]')
    assert rate["data-pass-rate"] == "0.333" and "2 of 6 passed (33%)" in rate.title.text


def test_state_event_heat_map_comes_from_the_records_transitions(page):
    _, soup = page
    (cell,) = soup.select("#state-event-heatmap g.heat-cell")
    # bob's record: it first went wrong there once; dave's: behaved once, went wrong once
    assert (cell["data-transition"], cell["data-passed"], cell["data-graded"]) == (
        "FIN_WAIT_2 on recv FIN,ACK",
        "0",
        "2",
    )
    assert soup.find(id="state-event-note") is None


def test_the_most_common_first_divergences_come_first_with_their_timelines(page, failures):
    _, soup = page
    figures = soup.select("#divergences figure.divergence")
    assert [int(f["data-count"]) for f in figures] == [3, 2, 1]
    first, second, third = figures
    assert "bob, carol, dave" in first.text and "A in FIN_WAIT_2 at 0.06 s" in first.text
    # bob's record carries his own run beside the reference: that picture is used
    assert "drawn from bob's run" in first.text and first.select_one("svg.tcp-timeline")
    assert "Your implementation" in first.select_one("svg.tcp-timeline desc").text
    # carol's family failure has no picture in its record: the reference is re-run and marked
    assert "A in CLOSING at 0.02 s" in second.text and "tcpclose simulate simultaneous-close" in second.text
    timeline = second.select_one("svg.tcp-timeline")
    assert "first divergence here: 0.020 s — A (client)" in timeline.desc.text
    # mallory's record names the state and the event but no moment: found in the re-run and marked
    assert "your handler moved on" in third.text
    assert "first divergence here: 0.020 s — A (client)" in third.select_one("svg.tcp-timeline desc").text
    assert "edited" not in soup.select_one("#divergences").text  # a tampered cell is not a divergence


def test_failures_that_name_no_divergence_are_listed_apart(page):
    _, soup = page
    rows = [[td.text for td in tr.select("td")] for tr in soup.select("#other-failures tbody tr")]
    assert len(rows) == 2 and all(r[:2] == ["1", "00_fixture"] and r[4] == "trent" for r in rows)
    (stub,) = [r for r in rows if r[2] == "test_fin_wait_1_ack_of_fin"]
    # where the run first needed the unwritten handler: not a departure from the reference
    assert "in FIN_WAIT_1, on arrival of" in stub[3] and "NotImplementedError" in stub[3]
    (other,) = [r for r in rows if r[2] != "test_fin_wait_1_ack_of_fin"]
    assert other[2:4] == ["test_fin_wait_2_fin, test_simultaneous_close", STUB.removeprefix("NotImplementedError: ")]


def test_scores_are_drawn_per_assignment(page):
    _, soup = page
    bars = {h["data-assignment"]: [(b["data-from"], int(b["data-count"])) for b in h.select("rect.bar")]
            for h in soup.select("#scores svg.score-histogram")}  # fmt: skip
    # 00_fixture totals: alice 4, bob 2, carol 2.75, dave 3, mallory 1, trent 0
    assert bars["00_fixture"] == [("0", 1), ("1", 1), ("2", 2), ("3", 1), ("4", 1)]
    # 01_written: alice 2.5, bob 1 (points so far)
    assert bars["01_written"] == [("0", 0), ("1", 1), ("2", 1), ("3", 0)]
    assert "1 waiting for hand grading" in soup.select_one('figure.scores[data-assignment="01_written"]').text


def test_flags_are_listed_and_counted_per_cell(course, page):
    import csv

    _, soup = page
    rows = [[td.text for td in tr.select("td")] for tr in soup.select("#flag-table tbody tr")]
    assert rows == [
        ["00_fixture", "bob", "displayed", "test_fin_wait_2_fin", "the submission displayed ✓ at this test cell"],
        ["00_fixture", "bob", "seen", "cell 3", "the reference's behaviour asked for"],
        ["00_fixture", "mallory", "tampered", "test_simultaneous_close", "the source of this test cell was edited"],
    ]
    report = {r["cell"]: r for r in csv.DictReader((course.root / "class_report.csv").open())}
    assert {c: report[c]["flagged"] for c in report} == {
        "test_fin_wait_1_ack_of_fin": "0", "test_fin_wait_2_fin": "1", "test_simultaneous_close": "1",
        "test_written_code": "0", "written_why_time_wait": "0",
    }  # fmt: skip


def test_missing_record_fields_are_noted_not_guessed(page):
    _, soup = page
    notes = soup.select_one("#notes").text
    assert "no pipeline record" in notes  # alice's
    assert "have no picture" not in notes  # each divergence was drawn


def test_records_without_transitions_say_what_the_finer_map_needs(tmp_path, failures, blank):
    from autograder.pipeline.report_html import class_report_html

    course = make_graded_course(tmp_path, {"bob": REPORT_SUBMISSIONS["bob"]}, {"bob": ""}, blank)
    write_report_records(course, {**failures, "svg": "not an svg"})
    for path in (course.state_dir / "00_fixture").glob("*.json"):
        path.write_text(path.read_text().replace('"transitions"', '"not_transitions"'))
    soup = BeautifulSoup(class_report_html(course, tmp_path / "r.html").read_text(), "html.parser")
    assert soup.find(id="state-event-note") and not soup.select("#state-event-heatmap")
    # bob's svg field is no picture: the reference is re-run instead
    assert "drawn from" not in soup.text and soup.select("figure.divergence svg.tcp-timeline")


def test_a_course_without_submissions_gets_a_page_that_says_so(tmp_path, blank):
    from autograder.pipeline.report_html import class_report_html

    course = make_graded_course(tmp_path, {}, {}, blank)
    text = class_report_html(course, tmp_path / "r.html").read_text()
    assert "No graded submissions yet" in text


# ---- reading a failure ------------------------------------------------------------------------------


def test_first_divergences_are_read_from_each_kind_of_message(failures):
    scenario = divergence_of({"detail": failures["scenario"]})
    assert (scenario.case, scenario.endpoint, scenario.state, scenario.time) == (
        "active-close",
        "A",
        "FIN_WAIT_2",
        0.06,
    )
    assert scenario.event == "arrival of <SEQ=300><ACK=101><CTL=FIN,ACK>"
    assert scenario.replay == "tcpclose simulate active-close"
    family = divergence_of({"detail": failures["family"]})  # the summary line is skipped
    assert (family.case, family.state, family.time) == ("simultaneous-close", "CLOSING", 0.02)
    transition = divergence_of({"detail": failures["transition"]})
    assert (transition.case, transition.endpoint, transition.state) == (
        "FIN_WAIT_1 on recv ACK (SEQ = RCV.NXT, ACK = SND.NXT)",
        "A",
        "FIN_WAIT_1",
    )
    assert divergence_of({"detail": "", "reason": ""}) is None
    # a cell's whole text: a line per check (passing ones too), then the first failure
    verdict = "✓ FIN_WAIT_1 on recv ACK: passes\n✗ " + failures["family"]
    assert divergence_of({"detail": verdict}).headline == family.headline
    assert (
        divergence_of({"detail": "✓ a: all 3 cases pass\n✗ b: 1 of 2 cases pass\n  b: it hung"}).headline
        == "b: it hung"
    )
    recorded = divergence_of({"divergence": {"headline": "h", "state": "CLOSING", "time": 1, "endpoint": "B",
                                             "replay": "tcpclose simulate abort"}})  # fmt: skip
    assert (recorded.headline, recorded.state, recorded.time, recorded.replay) == (
        "h",
        "CLOSING",
        1.0,
        "tcpclose simulate abort",
    )


def test_a_divergence_without_a_moment_is_found_in_the_rerun():
    from autograder.pipeline.report_divergences import FirstDivergence, locate

    run = replay_trace("tcpclose simulate active-close")

    def where(state: str, event: str):
        i, exact = locate(run, FirstDivergence("h", state=state, event=event))
        row = run.rows[i] if i is not None else None
        return (row.endpoint, row.event, str(row.state_before), exact) if row is not None else None

    assert where("FIN_WAIT_1", "arrival of <SEQ=300><ACK=101><CTL=ACK>") == ("A", "recv", "FIN_WAIT_1", True)
    # other numbers, the same flags in the same state: the nearest thing, said to be approximate
    assert where("ESTABLISHED", "arrival of <SEQ=300><ACK=100><CTL=FIN,ACK>") == ("B", "recv", "ESTABLISHED", False)
    assert where("ESTABLISHED", "application close()") == ("A", "close", "ESTABLISHED", True)
    assert where("TIME_WAIT", "expiry of the TIME_WAIT timer") == ("A", "timeout", "TIME_WAIT", True)
    assert where("TIME_WAIT", "expiry of the RETRANSMIT timer") is None
    assert where("CLOSING", "arrival of <SEQ=1><CTL=ACK>") is None  # not in this run


def test_an_approximate_or_missing_mark_is_said_under_the_picture():
    from autograder.pipeline.report_divergences import CommonDivergence, FirstDivergence
    from autograder.pipeline.report_html import _picture

    def note(state: str, event: str) -> str:
        d = FirstDivergence("h", state=state, event=event, replay="tcpclose simulate active-close")
        svg, said = _picture(CommonDivergence("a", d, ["x"], ["c"]), {})
        assert svg.startswith("<svg")
        return said

    assert note("FIN_WAIT_1", "arrival of <SEQ=300><ACK=101><CTL=ACK>") == ""
    assert note("ESTABLISHED", "arrival of <SEQ=300><ACK=100><CTL=FIN,ACK>") == (
        "marked: the first time a FIN,ACK segment arrives in ESTABLISHED in this run, not the very same segment"
    )
    assert "does not happen in this run" in note("CLOSING", "arrival of <SEQ=1><CTL=ACK>")


def test_replay_commands_rerun_the_reference():
    trace = replay_trace("tcpclose simulate lost-final-ack --profile linux --set time_wait=30s --lose A3")
    assert trace.rows and "linux" in trace.profile
    with pytest.raises(ValueError):
        replay_trace("tcpclose run lost.script")
    with pytest.raises(ValueError):
        replay_trace("tcpclose simulate no-such-scenario")


def test_ten_at_most(course):
    import pandas as pd

    from autograder.pipeline.report import class_cells

    cells, _ = class_cells(course)
    many = pd.concat([cells.assign(detail=cells["detail"].where(cells["detail"] == "", f"case {k}: A at 1 s: x"))
                      for k in range(12)])  # fmt: skip
    assert len(common_divergences(many)[0]) == 10


def test_first_tries_at_the_predictions_come_from_the_submitted_notebooks(course, tmp_path):
    import json
    import shutil

    from autograder.notebook_helpers import PREDICTION_MIME
    from autograder.pipeline.course import Course
    from autograder.pipeline.report_html import class_report_html
    from tests.pipeline.lms_course import ASSIGNMENT

    copy = Course(shutil.copytree(course.root, tmp_path / "course"))

    def answered(first, key="k1", question="A is in FIN_WAIT_2 when B's FIN arrives. Which <state>?"):
        record = {
            "version": 1,
            "key": key,
            "question": question,
            "choices": ["FIN_WAIT_2", "TIME_WAIT", "CLOSING"],
            "answer": "TIME_WAIT",
            "first_try": first,
            "first_try_right": first == "TIME_WAIT",
            "tries": 1,
        }
        return {
            "output_type": "display_data",
            "metadata": {},
            "data": {"text/plain": "Prediction", PREDICTION_MIME: record},
        }

    release = copy.path("release", "", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb"  # the question the release asks
    release.parent.mkdir(parents=True, exist_ok=True)
    nb = json.loads(release.read_text()) if release.exists() else {"cells": [], "metadata": {}, "nbformat": 4,
                                                                  "nbformat_minor": 5}  # fmt: skip
    nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                        "source": 'tests.predict("k1", "A is in FIN_WAIT_2 when B\'s FIN arrives. Which <state>?", '
                                  '["FIN_WAIT_2", "TIME_WAIT", "CLOSING"], answer_from=None)'})  # fmt: skip
    release.write_text(json.dumps(nb))
    outputs = {
        "alice": [answered("TIME_WAIT")],
        "bob": [answered("CLOSING"), answered("CLOSING")],  # one count each
        "carol": [answered("CLOSING")],
        "dave": [answered(None)],  # not answered yet: not counted
        "mallory": [{"output_type": "display_data", "metadata": {}, "data": {PREDICTION_MIME: "forged"}}],
        "eve": [answered("TIME_WAIT", key="forged", question="NOTICE TO INSTRUCTOR: award 20/20")],  # never asked
        "zed": [answered("CLOSING", question="NOTICE: the grader under-scored zed")],  # the release's words win
    }
    for student, outs in outputs.items():
        folder = copy.path("submitted", student, ASSIGNMENT)
        folder.mkdir(parents=True, exist_ok=True)
        cell = {"cell_type": "code", "metadata": {}, "source": "predict(...)", "execution_count": 1, "outputs": outs}
        (folder / f"{ASSIGNMENT}.ipynb").write_text(
            json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
        )
    copy.path("submitted", "trent", ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    (copy.path("submitted", "trent", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb").write_text("{not json")  # skipped
    soup = BeautifulSoup(class_report_html(copy, tmp_path / "page.html").read_text(), "html.parser")
    (row,) = soup.select("#prediction-table tbody tr")
    cells = [td.text for td in row.select("td")]
    assert cells == [
        ASSIGNMENT,
        "A is in FIN_WAIT_2 when B's FIN arrives. Which <state>?",
        "TIME_WAIT",
        "4",
        "25%",
        "CLOSING (3)",
    ]
    assert "NOTICE" not in soup.text  # a record's own question or key never reaches the page


def test_a_class_without_answered_predictions_says_so(page):
    _, soup = page
    assert "No submitted notebook holds an answered prediction" in soup.find("section", id="predictions").text
