"""class_report.html on the cohort the pipeline tests really autograde (conftest's `graded`): the page
agrees with class_report.csv square by square, and the first divergences it lists come from the
real records, each drawn or saying why not. A copy of the page goes to test-output/ for reading."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

pytestmark = pytest.mark.nbgrader


@pytest.fixture(scope="module")
def soup(graded, tmp_path_factory):
    from autograder.pipeline.report_html import class_report_html

    out = class_report_html(graded["course"], tmp_path_factory.mktemp("real-report") / "class_report.html")
    keep = Path(__file__).resolve().parents[2] / "test-output"
    keep.mkdir(exist_ok=True)
    shutil.copy(out, keep / "class_report.html")
    return BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser")


def test_heat_map_agrees_with_the_csv(graded, soup):
    rows = list(csv.DictReader(graded["report"].open()))
    heat = {(g["data-assignment"], g["data-transition"]): g for g in soup.select("#pass-rate-heatmap g.heat-cell")}
    assert len(heat) == sum(r["pass_rate"] != "" for r in rows) > 0
    for r in rows:
        if r["pass_rate"] == "":
            continue
        square = heat[r["assignment"], r["transition"]]
        assert int(square["data-passed"]) == int(r["passed"])
        assert float(square["data-pass-rate"]) == pytest.approx(float(r["pass_rate"]), abs=1e-3)


def test_divergences_come_from_the_records_and_are_drawn(graded, soup):
    figures = soup.select("#divergences figure.divergence")
    counts = [int(f["data-count"]) for f in figures]
    assert 0 < len(figures) <= 10 and counts == sorted(counts, reverse=True)
    for f in figures:
        assert f.select_one("svg.tcp-timeline") or "no timeline" in f.text
    assert any(f.select_one("svg.tcp-timeline") for f in figures), "no failure of the cohort names a case to draw"
    # bars count every graded submission once
    total = sum(int(b["data-count"]) for b in soup.select("#scores svg.score-histogram rect.bar"))
    assert total == len(graded["first"])
