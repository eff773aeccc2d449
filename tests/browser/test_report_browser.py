"""class_report.html in Debian's chromium: the heat map, the divergence timelines and the score
distribution render (laid out, visible, not empty) and the page logs no error.

The page is what `tcpclose grade report` writes for the cohort of tests/pipeline/lms_course.py
(a real nbgrader gradebook, records holding the real checks' messages), opened from disk as an
instructor opens it. A screenshot goes to test-output/screenshots/class_report.png.
"""

from __future__ import annotations

import pytest

from autograder.cli import main
from tests.pipeline.lms_course import (
    REPORT_STUDENTS,
    REPORT_SUBMISSIONS,
    make_graded_course,
    real_failures,
    write_report_records,
)

pytestmark = [pytest.mark.browser, pytest.mark.nbgrader]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    course = make_graded_course(tmp_path_factory.mktemp("report"), REPORT_SUBMISSIONS, REPORT_STUDENTS)
    write_report_records(course, real_failures())
    assert main(["grade", "report", "--course", str(course.root)]) == 0
    return course.root / "class_report.html"


@pytest.fixture
def page(browser, report, screenshots):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    yield page
    page.screenshot(path=str(screenshots / "class_report.png"), full_page=True)
    context.close()
    assert problems == []


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box is not None, "not laid out"
    return box


def test_heat_map_renders_a_square_per_graded_transition(page):
    heat = page.locator("#pass-rate-heatmap")
    assert heat.is_visible()
    cells = page.locator("#pass-rate-heatmap g.heat-cell")
    assert cells.count() == 5
    for i in range(5):
        box = _box(cells.nth(i).locator("rect"))
        assert box["width"] > 20 and box["height"] > 15
        assert cells.nth(i).locator("text").text_content().endswith("%")
    # the labels are inside the picture, not clipped: the longest column label fits the svg's box
    svg, label = _box(heat), _box(page.locator("#pass-rate-heatmap text.col-label").last)
    assert label["x"] + label["width"] <= svg["x"] + svg["width"] + 1 and label["y"] >= svg["y"] - 1
    assert page.locator("#state-event-heatmap g.heat-cell").count() == 1


def test_each_common_divergence_shows_its_timeline(page):
    figures = page.locator("#divergences figure.divergence")
    assert figures.count() == 3
    for i in range(3):
        timeline = figures.nth(i).locator("svg.tcp-timeline")
        assert timeline.is_visible()
        box = _box(timeline)
        assert box["height"] > 150 and 200 < box["width"] <= 1280  # scaled to the page, not overflowing it
        assert figures.nth(i).locator("svg.tcp-timeline text").count() > 10  # lanes, labels, states drawn
    # trent's stubs name no divergence: rows of the table below, not pictures
    assert page.locator("#other-failures tbody tr").count() == 2
    assert page.locator("#other-failures").is_visible()


def test_score_distribution_draws_a_bar_per_bin(page):
    charts = page.locator("#scores svg.score-histogram")
    assert charts.count() == 2
    bars = page.locator('svg.score-histogram[data-assignment="00_fixture"] rect.bar')
    assert bars.count() == 5
    heights = [_box(bars.nth(i))["height"] for i in range(5)]
    counts = [int(bars.nth(i).get_attribute("data-count")) for i in range(5)]
    assert counts == [1, 1, 2, 1, 1]
    assert heights[2] == pytest.approx(2 * heights[0], rel=0.05)  # twice the submissions, twice as tall


def test_a_heat_map_wider_than_the_page_scrolls_in_its_own_box(browser, tmp_path, screenshots):
    """A course's ~50 test cells over 7 notebooks draw the map about 2,100 px wide, twice the page:
    every column stays reachable by scrolling the map sideways in its own box, the page stays put."""
    import pandas as pd

    from autograder.pipeline.report_html import PAGE, _heatmaps

    rows = [{"assignment": f"0{n}_notebook", "notebook": f"0{n}_notebook", "cell": f"test_cell_{n}_{k}",
             "transition": f"transition_{n}_{k}_of_a_long_name", "student": s, "points": float(ok),
             "max_points": 1.0, "awaiting": False, "passed": bool(ok), "_transitions": None}
            for n in range(1, 8) for k in range(7) for s, ok in (("alice", 1), ("bob", (n + k) % 2))]  # fmt: skip
    html = tmp_path / "wide.html"
    html.write_text(PAGE.format(title="wide", body=_heatmaps(pd.DataFrame(rows))), encoding="utf-8")
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    try:
        page.goto(html.as_uri())
        heat = page.locator("#pass-rate-heatmap")
        assert heat.locator("g.heat-cell").count() == 49 and _box(heat)["width"] > 1400
        # The nearest box that scrolls sideways holds the whole map and fits the page.
        box = heat.evaluate("""svg => { let e = svg.parentElement;
            while (e && !['auto', 'scroll'].includes(getComputedStyle(e).overflowX)) e = e.parentElement;
            return e && {client: e.clientWidth, scroll: e.scrollWidth, right: e.getBoundingClientRect().right}; }""")
        assert box is not None, "nothing scrolls the map sideways: its right part is cut off"
        assert box["right"] <= 1400 and box["scroll"] >= _box(heat)["width"] - 1 > box["client"]
        heat.evaluate("svg => svg.parentElement.scrollLeft = svg.parentElement.scrollWidth")
        last = _box(heat.locator("g.heat-cell").last.locator("rect"))
        assert 0 <= last["x"] and last["x"] + last["width"] <= 1400  # the last column, on screen
        page.screenshot(path=str(screenshots / "class_report_wide_heatmap.png"))
    finally:
        page.context.close()
