"""Progress of long commands: count, rate, ETA and the current item, as a bar or as plain lines."""

from __future__ import annotations

import io
import re

from autograder.pipeline.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_name_the_item_and_give_rate_and_eta():
    lines: list[str] = []
    bar = Progress(4, lines.append)
    bar.step("alice", "skipped (unchanged since last autograde)", counted=False)
    for name in ("bob", "carol", "dave"):
        bar.start(name)
    bar.step("bob", "graded 16/20")
    bar.step("carol", "graded 0/20")
    bar.step("dave", "graded 20/20")
    assert lines[0].startswith("[#####...............] 1/4 alice: skipped") and "ETA" not in lines[0]
    assert re.search(
        r"2/4 bob: graded 16/20 \([\d.]+ notebooks/(s|min), ETA \d+ (s|min).*; now: carol, dave\)$", lines[1]
    ), lines[1]
    assert "3/4 carol" in lines[2] and "now: dave" in lines[2]
    assert lines[3].startswith("[####################] 4/4 dave") and "in all" in lines[3] and "ETA" not in lines[3]


def test_a_terminal_gets_one_redrawn_bar_with_the_current_item_and_a_total_known_late():
    screen = Terminal()
    bar = Progress(0, stream=screen, unit="cell")
    bar.say("running your cells in the grading sandbox")
    bar.total = 2
    bar.start("test_established_close")
    bar.step("test_established_close", "2/2")
    bar.start("test_active_close")
    bar.step("test_active_close", "3/3")
    bar.close()
    text = screen.getvalue()
    assert "running your cells in the grading sandbox\n" in text
    assert "2/2" in text and "test_active_close" in text and "cell/s" in text and "\r" in text
    assert "[####" not in text  # the bar, not the plain lines


def test_without_a_terminal_and_without_out_the_lines_go_to_the_stream():
    stream = io.StringIO()
    bar = Progress(1, stream=stream, unit="student")
    bar.start("alice")
    bar.step("alice", "alice.html")
    bar.close()
    assert stream.getvalue().startswith("[####################] 1/1 alice: alice.html (")
