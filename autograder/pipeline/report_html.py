"""class_report.html: the page an instructor reads after grading a cohort.

Three parts, each drawn as plain SVG the way autograder.views draws (strings, escaped, no
script), so the page is one self-contained file that opens anywhere:
  - the pass rate per transition as a heat map (assignments x transitions);
  - the ten most common first divergences, each with its timeline (the submission's own picture
    when its record carries one, else the reference's run of the replay case with the point where
    the class diverged marked);
  - the distribution of scores per assignment;
  - the class's first tries at each prediction (from the notebooks as submitted; never a score).
What the records cannot support yet is left out with a note, never guessed. The charts are drawn
in report_svg.py; the data comes from report.py, report_divergences.py and report_predictions.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pandas as pd

from .course import Course
from .report import class_cells, class_flags, pass_rates, score_totals, state_event_rates
from .report_divergences import CommonDivergence, common_divergences, locate, replay_trace
from .report_predictions import class_predictions, prediction_summary
from .report_svg import heatmap_svg, histogram_svg, legend_svg


def class_report_html(course: Course, out: Path, top: int = 10) -> Path:
    """Write the page; returns its path."""
    cells, notes = class_cells(course)
    body = [f"<h1>Class report: {escape(course.coursedir().course_id or course.root.name)}</h1>"]
    if cells.empty:
        body.append('<p class="note">No graded submissions yet: run <code>tcpclose grade autograde</code> first.</p>')
    else:
        body += [
            _summary(cells),
            _heatmaps(cells),
            _divergences(cells, top, notes),
            _scores(cells),
            _predictions(class_predictions(course)),
            _flags(class_flags(course)),
        ]
    if notes:
        body.append('<section id="notes"><h2>Notes</h2><ul>' + "".join(f"<li>{escape(n)}</li>" for n in notes)
                    + "</ul></section>")  # fmt: skip
    page = PAGE.format(title=escape(f"Class report: {course.coursedir().course_id or course.root.name}"),
                       body="\n".join(body))  # fmt: skip
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def _summary(cells: pd.DataFrame) -> str:
    totals = score_totals(cells)
    parts = []
    for a, g in totals.groupby("assignment"):
        waiting = int(g["awaiting"].sum())
        parts.append(f"<li><b>{escape(a)}</b>: {len(g)} submissions, mean {g['points'].mean():.2f} of "
                     f"{g['max_points'].iloc[0]:g} points"
                     + (f", {waiting} waiting for hand grading" if waiting else "") + "</li>")  # fmt: skip
    return f'<ul class="summary">{"".join(parts)}</ul>'


# ---- heat maps ------------------------------------------------------------------------------------


def _heatmaps(cells: pd.DataFrame) -> str:
    out = ['<section id="heatmap"><h2>Pass rate per transition</h2>',
           "<p>A test cell checks one transition; it passes with full marks. Each square is the share of the "
           "assignment's graded submissions that passed it (written answers waiting for a person are left "
           "out until graded).</p>",
           heatmap_svg(pass_rates(cells), "pass-rate-heatmap", "Pass rate per test cell"), legend_svg()]  # fmt: skip
    finer = state_event_rates(cells)
    if finer is None:
        out.append(
            '<p class="note" id="state-event-note">A finer map, per state and event across every case, '
            "needs the records' <code>transitions</code> field, which these records do not carry.</p>"
        )
    else:
        out += ["<h3>Per state and event</h3><p>Of the submissions whose cases reached this state and event, the "
                "share that never first went wrong there.</p>",
                heatmap_svg(finer, "state-event-heatmap", "Pass rate per state and event")]  # fmt: skip
    out.append("</section>")
    return "\n".join(out)


# ---- first divergences -----------------------------------------------------------------------------


def _divergences(cells: pd.DataFrame, top: int, notes: list[str]) -> str:
    groups, others = common_divergences(cells, top)
    out = [f'<section id="divergences"><h2>The {top} most common first divergences</h2>',
           "<p>Where failed cells first went wrong, grouped across the class: the case, the endpoint, its state, "
           "the virtual time and the event. Each picture is the reference's run of that case with the point "
           "marked, or, when grading kept one, a submission's own run beside the reference.</p>"]  # fmt: skip
    if not groups:
        out.append(
            '<p class="note">No failed cell says where its run first went wrong.</p>'
            + _other_failures(others)
            + "</section>"
        )
        return "\n".join(out)
    out.append('<ol class="divergence-list">')
    traces: dict[str, object] = {}
    without = 0
    for rank, g in enumerate(groups, 1):
        picture, note = _picture(g, traces)
        without += not picture
        out.append(_divergence_item(rank, g, picture, note))
    out.append("</ol>" + _other_failures(others) + "</section>")
    if without:
        notes.append(f"{without} of the {len(groups)} divergences have no picture: their records carry no `svg` "
                     "and their failure names no `tcpclose simulate` replay case to re-run")  # fmt: skip
    return "\n".join(out)


def _divergence_item(rank: int, g: CommonDivergence, picture: str, note: str) -> str:
    """One common divergence as a list item: who, where, the replay command and its picture."""
    d = g.divergence
    n = len(g.students)
    facts = " · ".join(x for x in (d.state and f"state {d.state}", d.event and f"on {d.event}",
                                    d.endpoint and f"endpoint {d.endpoint}",
                                    d.time is not None and f"at {d.time:g} s") if x)  # fmt: skip
    return (
        f'<li><figure class="divergence" id="divergence-{rank}" data-count="{n}" '
        f"data-assignment={quoteattr(g.assignment)}>"
        f'<figcaption><span class="count">{n} submission{"s" * (n != 1)}</span> · {escape(g.assignment)} · '
        f"{escape(', '.join(g.cells))}<br><b>{escape(d.headline)}</b>"
        + (f'<br><span class="facts">{escape(facts)}</span>' if facts else "")
        + (f"<br>replay: <code>{escape(d.replay)}</code>" if d.replay else "")
        + f'<br><span class="who">{escape(_who(g.students))}</span></figcaption>'
        + (f'<div class="timeline scroll">{picture}</div>' if picture else "")
        + (f'<p class="note">{escape(note)}</p>' if note else "")
        + "</figure></li>"
    )


def _who(students: list[str], n: int = 20) -> str:
    return ", ".join(students[:n]) + (f" and {len(students) - n} more" if len(students) > n else "")


def _other_failures(others: list[CommonDivergence]) -> str:
    """Failures that name no divergence (a stub, a crash, no result), as a table."""
    if not others:
        return ""
    rows = "".join(f"<tr><td>{len(g.students)}</td><td>{escape(g.assignment)}</td><td>{escape(', '.join(g.cells))}"
                   f"</td><td>{escape(g.divergence.headline)}</td><td>{escape(_who(g.students))}</td></tr>"
                   for g in others)  # fmt: skip
    return ('<h3>Other first failures</h3><p>Failed cells whose message says what stopped them, not where a run '
            'departed from the reference.</p><table id="other-failures"><thead><tr><th>submissions</th>'
            f"<th>assignment</th><th>cells</th><th>first failure</th><th>who</th></tr></thead><tbody>{rows}"
            "</tbody></table>")  # fmt: skip


def _picture(g: CommonDivergence, traces: dict) -> tuple[str, str]:
    """(svg, note): the record's own picture, else the reference re-run with the divergence marked."""
    if g.svg:
        return g.svg, f"drawn from {g.svg_from}'s run, beside the reference"
    d = g.divergence
    if not d.replay:
        return "", "no timeline: this failure names no replay case"
    try:
        if d.replay not in traces:
            traces[d.replay] = replay_trace(d.replay)
        from autograder.views import render_svg

        trace, name = traces[d.replay], d.case or d.replay
        if d.time is not None and d.endpoint:
            highlight, title, note = (d.time, d.endpoint), f"{name}: the reference; the class diverges at the mark", ""
        else:  # the failure names the state and the event, not the moment: find it in the run
            highlight, exact = locate(trace, d)
            title = f"{name}: the reference" + ("; the class diverges at the mark" if exact else "")
            ctl = re.search(r"<CTL=([^>]*)>", d.event)
            like = f"a {ctl.group(1)} segment arrives" if ctl else "the same event happens"
            note = ("" if exact else f"marked: the first time {like} in {d.state} in this run, not the very same "
                    "segment" if highlight is not None else f"{d.state} on {d.event} does not happen in this "
                    "run: the picture shows the case, unmarked")  # fmt: skip
        return render_svg(trace, title=title, highlight=highlight), note
    except Exception as e:  # a renamed scenario or option: the text above still says it all
        return "", f"no timeline: re-running {d.replay!r} failed ({e})"


# ---- scores -------------------------------------------------------------------------------------------


def _scores(cells: pd.DataFrame) -> str:
    totals = score_totals(cells)
    figs = []
    for a, g in totals.groupby("assignment"):
        figs.append(f'<figure class="scores" data-assignment={quoteattr(a)}>{histogram_svg(a, g)}'
                    f"<figcaption>{escape(a)}: {len(g)} submissions, median {g['points'].median():g}"
                    + (f"; {int(g['awaiting'].sum())} waiting for hand grading (points so far)"
                       if g["awaiting"].any() else "") + "</figcaption></figure>")  # fmt: skip
    return ('<section id="scores"><h2>Scores per assignment</h2><p>How many submissions scored how many points.</p>'
            f'<div class="histograms">{"".join(figs)}</div></section>')  # fmt: skip


def _predictions(predictions: pd.DataFrame) -> str:
    """The class's first tries at each notebook's predictions: where it guessed wrong, and what."""
    head = ('<section id="predictions"><h2>First tries at the predictions</h2><p>What the class answered '
            "<em>before</em> seeing each close happen, from the notebooks as submitted (not graded).</p>")  # fmt: skip
    if predictions.empty:
        return head + '<p class="note">No submitted notebook holds an answered prediction.</p></section>'
    rows = "".join(
        f"<tr><td>{escape(r.assignment)}</td><td>{escape(r.question)}</td><td>{escape(r.answer)}</td>"
        f"<td>{r.answered}</td><td>{r.right_first:.0%}</td>"
        f"<td>{escape(r.common_wrong) + f' ({r.common_wrong_n})' if r.common_wrong_n else '—'}</td></tr>"
        for r in prediction_summary(predictions).itertuples(index=False))  # fmt: skip
    return (head + '<table id="prediction-table"><thead><tr><th>assignment</th><th>question</th><th>answer</th>'
            "<th>answered</th><th>right at the first try</th><th>commonest wrong first try</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>")  # fmt: skip


def _flags(flags: pd.DataFrame) -> str:
    """What grading saw and set aside (a display that disagreed, the reference asked for, tampering)."""
    head = ('<section id="flags"><h2>Flags</h2><p>What grading saw that an instructor should look at. A flag '
            "never changes a score.</p>")  # fmt: skip
    if flags.empty:
        return head + '<p class="note">No submission was flagged.</p></section>'
    rows = "".join(
        f"<tr><td>{escape(r.assignment)}</td><td>{escape(r.student)}</td><td>{escape(r.kind)}</td>"
        f"<td>{escape(r.cell)}</td><td>{escape(r.text)}</td></tr>"
        for r in flags.itertuples(index=False)
    )
    return (head + '<table id="flag-table"><thead><tr><th>assignment</th><th>student</th><th>kind</th><th>cell</th>'
            f"<th>what was seen</th></tr></thead><tbody>{rows}</tbody></table></section>")  # fmt: skip


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; color: #1f2328; margin: 0; background: #ffffff; }}
main {{ max-width: 1200px; margin: 0 auto; padding: 1.5rem; }}
h2 {{ margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }}
.scroll {{ overflow-x: auto; }}
.timeline svg {{ max-width: 100%; height: auto; }}
.divergence-list {{ padding-left: 1.4rem; }}
figure {{ margin: 1rem 0; }}
figure.divergence {{ border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem; }}
figcaption {{ margin-bottom: .4rem; }}
.count {{ font-weight: 600; color: #cf222e; }}
.who, .facts {{ color: #6e7781; font-size: 13px; }}
.histograms {{ display: flex; flex-wrap: wrap; gap: 1.2rem; }}
.note {{ color: #6e7781; font-style: italic; }}
code {{ background: #f6f8fa; padding: 0 .25rem; border-radius: 3px; }}
table {{ border-collapse: collapse; font-size: 14px; }}
th, td {{ border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: left; vertical-align: top; }}
</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""

__all__ = ["class_report_html"]
