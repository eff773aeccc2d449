"""The static SVG timeline: valid, accessible, faithful to the trace, fast on bad input."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest

from autograder.views import render_svg
from reference_impl import scenarios
from reference_impl.profiles import PROFILES
from reference_impl.trace import Trace

from .conftest import runaway

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    assert root[0].tag == f"{NS}title" and root[0].text, "the title must come first for screen readers"
    assert root[1].tag == f"{NS}desc" and root[1].text
    return root


def texts(root: ET.Element) -> list[str]:
    """What each text element shows (its tspans joined), without its hover tooltip."""
    return ["".join(x.text or "" for x in (t, *t.findall(f"{NS}tspan"))) for t in root.iter(f"{NS}text")]


def arrowheads(root: ET.Element) -> int:
    return sum(1 for _ in root.iter(f"{NS}polygon"))


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("name", list(scenarios.CATALOGUE))
def test_every_catalogue_run_is_valid_svg_with_every_state_written(name, profile):
    trace = scenarios.run(name, PROFILES[profile])
    root = parse(render_svg(trace))
    shown = " ".join(texts(root))
    for ep in ("A", "B"):
        for state in trace.states(ep):
            assert str(state) in shown, f"{state} of {ep} is not written in {name}"
    # one arrowhead per arrival, one cross per lost segment
    assert arrowheads(root) == sum(r.event == "recv" for r in trace)
    assert texts(root).count("lost") == sum(r.fate == "lost" for r in trace)


def test_segments_are_labelled_with_their_rfc_text_and_numbered_per_sender(active_close):
    shown = texts(parse(render_svg(active_close)))
    count = {"A": 0, "B": 0}
    for r in active_close:
        if r.event == "send":
            count[r.endpoint] += 1
            assert f"{r.endpoint}{count[r.endpoint]} {r.detail}" in shown  # "A2": A's second segment


def test_duplicate_is_drawn_twice(duplicate_fin):
    root = parse(render_svg(duplicate_fin))
    assert arrowheads(root) == sum(r.event == "recv" for r in duplicate_fin)
    assert texts(root).count("second copy") == 1
    dashed = [ln for ln in root.iter(f"{NS}line") if ln.get("stroke-dasharray") == "6 4"]
    assert len(dashed) == 1


def test_long_idle_gap_is_folded_into_a_labelled_break(active_close):
    svg = render_svg(active_close)
    assert "≈ 240 s later" in svg
    assert float(parse(svg).get("height")) < 1000, "a 240 s TIME_WAIT must not stretch the picture"


def test_timers_are_brackets_with_their_names(lost_final_ack):
    shown = " ".join(texts(parse(render_svg(lost_final_ack))))
    assert "TIME_WAIT 240 s" in shown and "RETRANSMIT 1 s" in shown and "RETRANSMIT 2 s" in shown


def test_highlight_by_row_and_by_time_mark_the_same_place(lost_final_ack):
    by_row = render_svg(lost_final_ack, highlight=11)  # the first row of A's moment at 0.06 s
    by_time = render_svg(lost_final_ack, highlight=(0.06, "A"))
    assert by_row == by_time
    # a later row of that moment (A's ACK) is marked itself, along its arrow: not the moment's first row
    assert render_svg(lost_final_ack, highlight=12) != by_row
    assert "✗ first divergence: A, 0.060 s" in texts(parse(by_row))
    assert "first divergence here: 0.060 s — A (client) receives" in parse(by_row)[1].text
    assert "first divergence" not in render_svg(lost_final_ack)


def test_highlight_outside_the_trace_is_an_error(active_close):
    with pytest.raises(ValueError, match="not a row"):
        render_svg(active_close, highlight=99)


def test_side_by_side_shares_one_time_axis(lost_final_ack, active_close):
    root = parse(render_svg(lost_final_ack, reference=active_close, highlight=12, compact=True))
    shown = texts(root)
    assert "Your implementation" in shown and "Reference" in shown
    assert arrowheads(root) == sum(r.event == "recv" for r in lost_final_ack) + sum(
        r.event == "recv" for r in active_close
    )
    assert len([c for c in root.iter(f"{NS}circle") if c.get("r") == "9"]) == 2  # the mark in both panels


def test_frame_and_trace_draw_the_same_picture(lost_final_ack):
    assert render_svg(lost_final_ack.to_frame(), title="t") == render_svg(lost_final_ack, title="t")


def test_same_trace_same_picture(lost_final_ack):
    assert render_svg(lost_final_ack) == render_svg(scenarios.run("lost-final-ack"))


def test_empty_trace_says_nothing_happened():
    root = parse(render_svg(Trace()))
    assert "Nothing happened" in texts(root)
    assert "empty" in root[1].text


def test_one_endpoint_only(active_close):
    only_a = Trace([r for r in active_close.rows if r.endpoint == "A"])
    root = parse(render_svg(only_a))
    assert "no events" in texts(root)
    # A's two sends head for B with hollow heads; B's two segments arrive from a dashed start
    assert arrowheads(root) == 4
    assert len([p for p in root.iter(f"{NS}polygon") if p.get("fill") == "#ffffff"]) == 2


def test_frame_missing_columns_names_them(active_close):
    with pytest.raises(ValueError, match="state_after"):
        render_svg(active_close.to_frame().drop(columns=["state_after"]))


def test_five_thousand_events_draw_a_window_and_say_they_are_summarised():
    """The picture of a runaway trace is as big as the window's, whatever the trace's length (the time
    it takes is benchmarks/bench_views.py's)."""
    svg = render_svg(runaway(5_000))
    assert "showing events 1–400 of 5,000" in svg
    window = render_svg(runaway(400))
    assert len(svg) < 1.2 * len(window), (len(svg), len(window))
    parse(svg)


def test_highlight_deep_in_a_long_trace_moves_the_window():
    svg = render_svg(runaway(5_000), highlight=3_000)
    first = int(re.search(r"showing events (\d+)–", svg).group(1))
    assert first <= 3_001 < first + 400


def test_sixty_events_stay_legible():
    trace = scenarios.run("ack-of-data-not-fin")
    trace = Trace(trace.rows + [r for r in scenarios.run("half-close").rows], scenario="sixty")
    assert len(trace) >= 55
    root = parse(render_svg(trace))
    sizes = [float(t.get("font-size")) for t in root.iter(f"{NS}text")]
    assert min(sizes) >= 10, "no text under 10 px at the picture's natural size"


def test_a_panel_named_with_its_profile_is_not_named_twice():
    from reference_impl.scenarios import run as run_scenario

    rfc, linux = (run_scenario("syn-in-time-wait", PROFILES[p]) for p in ("rfc9293", "linux"))
    svg = render_svg(rfc, reference=linux, labels=("rfc9293: a challenge ACK", "linux: RFC 6191 reopens"))
    assert "rfc9293: a challenge ACK" in svg and "linux: RFC 6191 reopens" in svg
    assert "(rfc9293)" not in svg and "(linux)" not in svg
    plain = render_svg(rfc, reference=linux, labels=("one", "other"))
    assert "one (rfc9293)" in plain and "other (linux)" in plain


@pytest.mark.parametrize("name", ["simultaneous-close", "lost-final-ack", "active-close", "half-close"])
@pytest.mark.parametrize("profile", ["rfc9293", "linux"])
def test_labels_sit_clear_of_the_arrows(name, profile):
    """Readers found "TIME_WAIT 240 s" struck through by an arrow, and at the simultaneous close each FIN's
    label crossed by the other FIN: in these runs' pictures no label sits on another segment's arrow, and
    side by side (panels half as wide) at most four do or are left out (a timer's name kept only as a
    tooltip counts: the linux simultaneous close side by side once hid four to keep two off the arrows)."""
    from autograder.views.svg import render

    run = scenarios.run(name, PROFILES[profile])
    _, single = render(run)
    assert single.place.lines and single.place.on_lines == 0 and single.place.crossed == 0
    _, pair = render(run, reference=run)
    assert pair.place.on_lines + pair.place.crossed + pair.place.dropped <= 4


def test_almost_every_label_in_the_catalogue_is_clear_of_the_arrows():
    """Over the catalogue's pictures, single and side by side, both profiles, 387 segment labels lay on
    another segment's arrow before labels looked for a place clear of them (and rows got more room where
    none was free); 65 after, 7 of them in single pictures. Since rows get room only where labels are
    crowded (and more of it there), single pictures have none, side by side 43 (52 before)."""
    from autograder.views.svg import render

    on, crossed, runs = 0, 0, 0
    for name in scenarios.CATALOGUE:
        for profile in ("rfc9293", "linux"):
            _, canvas = render(scenarios.run(name, PROFILES[profile]))
            on, crossed, runs = on + canvas.place.on_lines, crossed + canvas.place.crossed, runs + 1
    assert on <= runs // 60, f"{on} timer labels over an arrow in {runs} pictures"
    assert crossed <= runs // 20, f"{crossed} segment labels over another arrow in {runs} pictures"


def test_segment_labels_stay_between_the_lifelines():
    """A reader found the lost ACK's label in lost-final-ack running past B's lifeline into its states: a
    segment's label takes a place between the two lifelines wherever one is free (191 of about 1,300
    labels over the catalogue did not, before; 30 after, 12 since rows get more room where labels are
    crowded)."""
    from autograder.views.svg import render

    _, canvas = render(scenarios.run("lost-final-ack"))
    assert canvas.place.past_lifelines == 0
    past, runs = 0, 0
    for name in scenarios.CATALOGUE:
        for profile in ("rfc9293", "linux"):
            run = scenarios.run(name, PROFILES[profile])
            for reference in (None, run):
                _, canvas = render(run, reference=reference)
                past, runs = past + canvas.place.past_lifelines, runs + 1
    assert past <= runs // 8, f"{past} segment labels past a lifeline in {runs} pictures"


def test_a_run_far_longer_than_the_references_is_drawn_a_little_past_where_it_parts():
    """A reader's slip (close() that leaves SND.NXT on the FIN) set off a 411-event ACK war: the side-by-side
    picture drew 400 of them in a pile. It now draws the learner's run to a little past the reference's
    length, and says how many events the run goes on for."""
    from autograder.views.svg import render
    from reference_impl.handlers import HANDLERS
    from reference_impl.states import AppClose, State

    def established(tcb, ev, profile):  # forgets that the FIN took a sequence number
        step = HANDLERS[State.ESTABLISHED](tcb, ev, profile)
        if isinstance(ev, AppClose) and step.tcb is not None:
            return type(step)(step.state, step.outputs, step.tcb.replace(snd_nxt=tcb.snd_nxt))
        return step

    mine, ref = (
        scenarios.run("active-close", machine={**HANDLERS, State.ESTABLISHED: established}),
        scenarios.run("active-close"),
    )
    assert len(mine.rows) > 10 * len(ref.rows)
    svg, canvas = render(mine, reference=ref, highlight=(mine.rows[3].time, "A"), cut_runaway=True)
    learner, reference = canvas.panels
    assert learner.total == len(mine.rows) and len(learner.events) <= 2 * len(ref.rows) + 40
    assert len(reference.events) == len(ref.rows)
    assert f"of {len(mine.rows):,}" in svg
    # Uncut, the long run is all there: drawn, or folded where it repeats itself (see the next test).
    _, pair = render(mine, reference=ref)
    assert pair.panels[0].drawn_or_folded == min(len(mine.rows), 400) and pair.panels[0].folds


def test_a_run_that_repeats_itself_is_drawn_twice_then_folded_into_a_band_that_counts_the_rounds():
    """05's old duplicate without TIME_WAIT ends in an ACK war: 190 rows of the same two ACKs made a
    19,466 px picture that every round of readers mentioned."""
    from autograder.views.svg import render
    from autograder.views.text import rows
    from reference_impl.profiles import RFC9293

    no_wait = RFC9293.replace(time_wait=0)
    war, calm = (scenarios.run("old-duplicate-after-reuse", p) for p in (no_wait, RFC9293))
    svg, canvas = render(war, reference=calm)
    mine, other = canvas.panels
    (fold,) = mine.folds.values()
    assert not other.folds and canvas.axis.bottom < 5_000
    assert fold.rounds >= 40 and fold.events == len(war.rows) - len(mine.events)
    # side by side, the short words: the long ones crossed the lanes
    assert f">{fold.rounds} rounds not drawn<" in svg
    assert f"{fold.rounds} more rounds of the same exchange, not drawn" in render(war)[0]
    # what is drawn: the first two rounds and the last, and nothing at a hidden moment
    hidden = {r.time for r in war.rows} - {e.time for e in mine.events}
    assert hidden and all(fold.first <= t <= fold.last for t in hidden)
    assert not hidden & {e.time for e in other.events}
    # the arrows after the fold keep the numbers the trace gives them (none renumbered from the fold)
    after = [r for r in war.rows if r.time > fold.last and r.event == "send"]
    assert after and re.search(rf">{after[0].segment} &lt;SEQ=", svg), after[0]
    # the text version says what the picture folded, where it folded it
    table = rows(mine)
    k = next(i for i, r in enumerate(table) if "not drawn" in r[5])
    assert float(table[k - 1][1]) * 1e6 < fold.first and float(table[k + 1][1]) * 1e6 > fold.last
    # ... and so does the widget's DataFrame: a row for the fold, at its first time, with no step
    from autograder.views import Timeline

    df = Timeline(war, calm).to_frame()
    folded = df[df["what happens"].str.contains("not drawn")]
    assert len(folded) == 1 and folded["time"].iloc[0] == fold.first / 1e6 and folded["step"].isna().all()
    assert df["time"].dtype == float and df["step"].notna().sum() == len(df) - 1
    # a run without repeats is drawn whole
    _, plain = render(calm)
    assert not plain.panels[0].folds and len(plain.panels[0].events) == len(calm.rows)


@pytest.mark.parametrize("profile", ["rfc9293", "linux"])
def test_timer_labels_keep_a_gap_to_the_other_labels_in_every_notebook_scenario(profile):
    """Readers read "EOF → app" and "TIME_WAIT 240 s" (05's syn-in-time-wait), one baseline 10 px
    above the other, as one line, and saw two "RETRANSMIT 220 ms" labels touch side by side: in every
    scenario the notebooks show, single and side by side, each timer's label keeps GAP px clear of
    every other label (6 did not before: a place beside its bar, further down, was not tried)."""
    from autograder.course_map import FIRST_SHOWN
    from autograder.views._geometry import GAP, overlap, text_quad
    from autograder.views.svg import render

    tight = []
    for name in sorted(FIRST_SHOWN):
        run = scenarios.run(name, PROFILES[profile])
        for reference in (None, run):
            _, canvas = render(run, reference=reference)
            if canvas.place.tight:
                tight.append(f"{name} ({'side by side' if reference else 'single'}): {canvas.place.tight}")
    assert not tight, tight
    # and the count means what it says: two labels a line apart are closer than GAP
    a, b = text_quad(0, 100, ["EOF → app"], 11), text_quad(0, 110, ["TIME_WAIT 240 s"], 11)
    assert overlap(a, b, margin=1.0 - GAP) and not overlap(a, b)


def _leaders_over_labels(run, reference) -> tuple[int, int]:
    """(leaders drawn, leaders that cross a label) in the picture of two runs with their first divergence."""
    from autograder.views._geometry import line_quad, overlap
    from autograder.views.model import events_of
    from autograder.views.side_by_side import first_difference
    from autograder.views.svg import render

    d = first_difference(events_of(run), events_of(reference))
    if d is None or min(d) < 0:
        return 0, 0
    svg, canvas = render(run, reference=reference, labels=("one", "other"), highlight=d[0], reference_highlight=d[1])
    drawn = crossing = 0
    for m in re.finditer(r'<line x1="([-\d.]+)" y1="([-\d.]+)" x2="([-\d.]+)" y2="([-\d.]+)" stroke="[^"]*" '
                         r'stroke-width="1.2" data-kind="divergence"', svg):  # fmt: skip
        line = line_quad(*map(float, m.groups()))
        drawn += 1
        crossing += any(overlap(line, box, margin=0.5) for box in canvas.place.boxes)
    return drawn, crossing


def test_a_divergence_tag_takes_a_place_whose_leader_crosses_no_label():
    """Readers found notebook 05's "◆ they part here" leader striking through "TIME_WAIT 240 s +
    restart" (lost-final-ack without TIME_WAIT beside 2 MSL). A tag takes a place whose leader to the
    ring crosses no label where one is free: none does there. (Over the catalogue's profile pairs, 67 of
    104 leaders crossed a label before, 16 of 44 once a free place came first; 8 of 100 now that a leader
    leaves the tag's edge where it comes nearest the ring, and a place with an uncrossed leader comes
    before one with a gap around it.)"""
    from reference_impl.profiles import RFC9293

    drawn, crossing = _leaders_over_labels(scenarios.run("lost-final-ack", RFC9293.replace(time_wait=0)),
                                           scenarios.run("lost-final-ack", RFC9293))  # fmt: skip
    assert drawn and not crossing


def test_a_divergence_in_a_moments_segment_marks_that_segment_in_both_runs():
    """A reader's wrong ACK number was ringed on the state tag it arrived with, the same in both runs:
    the learner's mark is the row that differs, and it is outlined along the arrow as drawn."""
    from autograder.views._style import num
    from autograder.views.model import events_of
    from autograder.views.side_by_side import first_difference
    from autograder.views.svg import render

    mine, ref = scenarios.run("simultaneous-close", fates=scenarios.losses(["B2"])), scenarios.run("simultaneous-close")
    mark, ref_mark = first_difference(events_of(mine), events_of(ref))
    svg, canvas = render(mine, reference=ref, highlight=mark, reference_highlight=ref_mark)
    marked = [next(e for e in p.events if e.index == p.mark) for p in canvas.panels]
    assert [(e.event, e.endpoint, e.fate) for e in marked] == [("send", "B", "lost"), ("send", "B", "delivered")]
    end = canvas.unarrived_ends[marked[0].index]  # the lost arrow's cross: the outline runs to it
    assert f'x2="{num(end[0])}" y2="{num(end[1])}" stroke="#cf222e" stroke-width="5"' in svg


def test_a_timer_that_differs_is_outlined_where_its_length_is_written():
    """Readers saw the mark of 'TIME_WAIT 0 s beside 240 s' drawn around 'EOF → app', the note of the
    same moment, while the lengths that differ stood below it unmarked."""
    from autograder.views.model import events_of
    from autograder.views.side_by_side import first_difference
    from autograder.views.svg import render
    from reference_impl.profiles import RFC9293

    runs = [scenarios.run("lost-final-ack", p) for p in (RFC9293.replace(time_wait=0), RFC9293)]
    mine, ref = first_difference(*(events_of(r) for r in runs), timers=False)
    svg, _ = render(runs[0], reference=runs[1], highlight=mine, reference_highlight=ref)
    boxes = [tuple(float(v) for v in m) for m in re.findall(
        r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" rx="4" fill="none"[^>]*data-kind="divergence"',
        svg)]  # fmt: skip
    for label in ("TIME_WAIT 0 s", r"TIME_WAIT 240 s,( |<tspan[^>]*>)restarted later"):  # in one line or two
        x, y = (
            float(v)
            for v in re.search(rf'<text x="([\d.]+)" y="([\d.]+)"[^>]*>{label}(</tspan>)?</text>', svg).groups()[:2]
        )
        assert any(bx <= x + 2 <= bx + bw and by <= y - 4 <= by + bh for bx, by, bw, bh in boxes), (label, boxes)


def test_a_copy_that_arrives_after_a_break_is_drawn_from_it_and_says_when_it_was_sent():
    """05's old duplicate: its dashed arrow ran from 0.000 s to 30.01 s across every label between."""
    from autograder.views.svg import render

    svg, canvas = render(scenarios.run("old-duplicate-after-reuse"))
    found = re.search(r'<text x="[\d.]+" y="([\d.]+)"[^>]*><title>[^<]*</title><tspan[^>]*>copy of A2, sent 0.000 s',
                      svg)  # fmt: skip
    assert found, "the copy's label names the segment and when it was sent"
    first_break_end = canvas.axis.breaks[0][1]
    assert float(found.group(1)) > first_break_end - 10


@pytest.mark.parametrize("name", list(scenarios.CATALOGUE))
def test_no_timer_name_stands_against_the_time_column(name):
    """A reader read "0.070 TIME_WAIT 240 s" as one label: a timer's name left of A's lane ran up to the times."""
    from autograder.views.svg import render

    _, canvas = render(scenarios.run(name, PROFILES["rfc9293"]), reference=scenarios.run(name, PROFILES["linux"]))
    near = [box for (panel, _), box in canvas.timer_marks.items() if panel == 0 and box[0] < canvas.g.time_x + 16]
    assert not near, near


def test_a_moment_that_only_lacks_a_row_is_marked_without_outlining_a_row_that_is_right():
    """Two readers' TIME_WAIT forgot to restart its timer: the mark outlined their ACK, which the
    reference sends too, and they looked for a mistake in it."""
    from autograder.views._geometry import text_width
    from autograder.views._style import SMALL
    from autograder.views.model import events_of
    from autograder.views.side_by_side import first_difference
    from autograder.views.svg import render
    from reference_impl.actions import StartTimer
    from reference_impl.handlers import HANDLERS
    from reference_impl.states import Arrival, State

    def time_wait(tcb, ev, profile):  # answers the FIN again, but does not restart the wait
        step = HANDLERS[State.TIME_WAIT](tcb, ev, profile)
        kept = [o for o in step.outputs if not (isinstance(ev, Arrival) and isinstance(o, StartTimer))]
        return type(step)(step.state, kept, step.tcb)

    mine = scenarios.run("lost-final-ack", machine={**HANDLERS, State.TIME_WAIT: time_wait})
    ref = scenarios.run("lost-final-ack")
    a, b = first_difference(events_of(mine), events_of(ref))
    svg, canvas = render(mine, reference=ref, highlight=a, reference_highlight=b)
    # and it says what is lacking (two more readers saw only "lacks a row" and an empty box to guess from),
    # in lines that fit between the lifelines, the predicate kept whole (side by side, "✗ yours lacks the
    # TIME_WAIT restart:" alone is wider than the lane: a reader's ran across A's lifeline and bar)
    assert "✗ yours lacks the TIME_WAIT restart: A, 1.060 s" in tag_words(svg)
    lines = re.findall(r'data-kind="divergence"[^>]*>([^<]+)<', svg)
    assert "lacks the TIME_WAIT restart:" in lines and all(text_width(t, SMALL) <= canvas.g.gap - 8 for t in lines)
    assert "◆ reference: A, 1.060 s" in svg
    outlines = re.findall(r'stroke-width="5" stroke-dasharray="7 4"', svg)  # along a segment's arrow
    assert not outlines, "the learner's ACK, the same as the reference's, is not outlined"


def test_a_lacking_timer_or_segment_is_named_in_the_tag():
    """A close() that starts no retransmission timer lacks 'the RETRANSMIT timer' (not a restart:
    none ran); a FIN_WAIT_2 that never acknowledges B's FIN lacks 'an ACK segment'."""
    from autograder.views.model import events_of
    from autograder.views.side_by_side import first_difference
    from autograder.views.svg import render
    from reference_impl.actions import Send, StartTimer
    from reference_impl.handlers import HANDLERS
    from reference_impl.states import AppClose, Arrival, State

    def established(tcb, ev, profile):  # sends the FIN, starts no timer
        step = HANDLERS[State.ESTABLISHED](tcb, ev, profile)
        kept = [o for o in step.outputs if not (isinstance(ev, AppClose) and isinstance(o, StartTimer))]
        return type(step)(step.state, kept, step.tcb)

    def fin_wait_2(tcb, ev, profile):  # takes B's FIN, acknowledges nothing
        step = HANDLERS[State.FIN_WAIT_2](tcb, ev, profile)
        kept = [o for o in step.outputs if not (isinstance(ev, Arrival) and isinstance(o, Send))]
        return type(step)(step.state, kept, step.tcb)

    ref = scenarios.run("active-close")
    for state, handler, words in ((State.ESTABLISHED, established, "the RETRANSMIT timer"),
                                  (State.FIN_WAIT_2, fin_wait_2, "an ACK segment")):  # fmt: skip
        mine = scenarios.run("active-close", machine={**HANDLERS, state: handler})
        a, b = first_difference(events_of(mine), events_of(ref))
        svg, _ = render(mine, reference=ref, highlight=a, reference_highlight=b)
        assert f"✗ yours lacks {words}: A, " in tag_words(svg)


def test_a_restarted_timer_says_when_it_restarted_not_only_that_it_did():
    """Two readers took 'TIME_WAIT 240 s + restart', written where the timer starts (0.06 s), for a
    restart there; the restart is at 1.06 s, where the bar has its tick. The name says when, where
    it has a clear place; else that the restart comes later."""
    from autograder.views.svg import render
    from reference_impl.profiles import RFC9293

    run = scenarios.run("lost-final-ack", RFC9293)
    single, _ = render(run)
    assert "TIME_WAIT 240 s, restarted at 1.060 s" in single
    pair, _ = render(run, reference=run)
    names = [re.sub(r"<tspan[^>]*>", " ", n).replace("</tspan>", "")  # a name in two lines read as one
             for n in re.findall(r'<text[^>]*data-kind="timer"[^>]*>(.*?)</text>', pair)]  # fmt: skip
    assert any(n.startswith("TIME_WAIT 240 s, restarted ") for n in names) and not any("+ restart" in n for n in names)


def test_an_arrival_that_changes_nothing_is_marked_along_its_arrow():
    """Two readers found an empty red box at A, 0.180 s where RFC 1337 ignores the RST that ends
    TIME_WAIT under plain rfc9293: the RST's arrow is outlined instead, as it arrives."""
    from autograder.views.model import events_of
    from autograder.views.side_by_side import first_difference
    from autograder.views.svg import render
    from reference_impl.profiles import RFC9293

    runs = [scenarios.run("rst-in-time-wait", p) for p in (RFC9293, RFC9293.replace(rfc1337=True))]
    mine, ref = first_difference(*(events_of(r) for r in runs), timers=False)
    svg, canvas = render(runs[0], reference=runs[1], highlight=mine, reference_highlight=ref)
    ignored = next(e for e in canvas.panels[1].events if e.index == canvas.panels[1].mark)
    assert ignored.event == "recv" and not ignored.changes_state
    along = re.findall(
        r'<line x1="([\d.]+)" y1="[\d.]+" x2="([\d.]+)" y2="[\d.]+" stroke="#cf222e" stroke-width="5"', svg
    )
    assert any(float(x1) > canvas.g.ox(1) for x1, _ in along), along  # in the second panel


def test_the_outline_of_a_marked_note_holds_every_line_it_wraps_to():
    """Readers saw B's 'error: connection reset', wrapped to three lines beside the lane, stick out of
    its 22 px mark: the outline grows with the note."""
    from autograder.views.svg import render

    run = scenarios.run("abort")
    svg, canvas = render(run, reference=run, labels=("one", "other"), highlight=3, reference_highlight=3)
    assert canvas.note_rows[0, 3] >= 2
    box = re.search(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" rx="4" fill="none"[^>]*'
                    r'data-kind="divergence"', svg)  # fmt: skip
    top, height = map(float, box.groups())
    line_ys = [float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)"[^>]*fill="#cf222e"[^>]*><title>', svg)]
    lowest = max(y for y in line_ys if top <= y)
    assert top + height >= lowest + 3, (top, height, line_ys)


def test_two_timer_names_between_the_same_bars_are_not_stacked_a_line_apart():
    """A reader's CLOSE_WAIT went to CLOSING on close(): both ends then waited in TIME_WAIT, and both
    names, placed after the break, stood 16 px apart between the two bars; which was whose could not
    be told. A name takes a place apart from the others where one is free."""
    from autograder.views._timers import _box
    from autograder.views.svg import render
    from reference_impl.handlers import HANDLERS
    from reference_impl.states import State

    def close_wait(tcb, ev, profile):
        step = HANDLERS[State.CLOSE_WAIT](tcb, ev, profile)
        return type(step)(State.CLOSING, step.outputs, step.tcb) if step.state == State.LAST_ACK else step

    mine = scenarios.run("active-close", machine={**HANDLERS, State.CLOSE_WAIT: close_wait})
    _, canvas = render(mine, reference=scenarios.run("active-close"))
    names = [_box(q) for i, q in canvas.timer_names if i == 0]
    assert len(names) == 4  # both RETRANSMITs, both TIME_WAITs
    for k, (x, y, w, h) in enumerate(names):
        for nx, ny, nw, nh in names[k + 1 :]:
            side_by_side = x < nx + nw and nx < x + w
            assert not side_by_side or y > ny + nh + 9 or ny > y + h + 9, (names, k)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_one_run_drawn_twice_side_by_side_names_its_timers_alike_in_both_panels(profile):
    """Readers compared their panel with the reference's and found the TIME_WAIT or RETRANSMIT name
    at the bar's end in theirs, at its start in the reference's: the first panel had 16 px less room
    left of A's lane (the times' column). Both panels now have the same room, so a difference in the
    picture is a difference in the runs (30 of the catalogue's 62 runs differed before)."""
    from autograder.views.svg import render

    differ = []
    for name in scenarios.CATALOGUE:
        run = scenarios.run(name, PROFILES[profile])
        _, canvas = render(run, reference=run)
        shift = canvas.g.ox(1) - canvas.g.ox(0)
        first = {a: box for (i, a), box in canvas.timer_marks.items() if i == 0}
        second = {a: (x - shift, y, w, h) for (i, a), (x, y, w, h) in canvas.timer_marks.items() if i == 1}
        if first.keys() != second.keys() or any(
            max(abs(u - v) for u, v in zip(first[a], second[a], strict=True)) > 0.05 for a in first
        ):
            differ.append(name)
    assert not differ, differ


def _beside_reference(name, fin_wait_1, **kw):
    """The picture of a run whose FIN_WAIT_1 is `fin_wait_1`, beside the reference, marked where they part."""
    from autograder.views.model import events_of
    from autograder.views.side_by_side import first_difference
    from autograder.views.svg import render
    from reference_impl.handlers import HANDLERS
    from reference_impl.states import State

    mine = scenarios.run(name, machine={**HANDLERS, State.FIN_WAIT_1: fin_wait_1})
    ref = scenarios.run(name)
    m, r = first_difference(events_of(mine), events_of(ref))
    return render(mine, reference=ref, highlight=m, reference_highlight=r, **kw)[0]


def test_a_segment_that_differs_is_tagged_with_the_field_that_differs():
    """A reader's ACK was built before RCV.NXT passed the peer's FIN (ACK=300 for 301): the picture
    said only "yours differs", and the numbers had to be read off two small rotated labels."""
    import dataclasses

    from reference_impl.actions import Send
    from reference_impl.handlers import HANDLERS
    from reference_impl.states import Arrival, State

    def fin_wait_1(tcb, ev, profile):  # acknowledges a FIN one short
        step = HANDLERS[State.FIN_WAIT_1](tcb, ev, profile)
        if not (isinstance(ev, Arrival) and ev.segment.flags & ev.segment.flags.FIN):
            return step
        outs = [Send(dataclasses.replace(o.segment, ack=o.segment.ack - 1)) if isinstance(o, Send) else o
                for o in step.outputs]  # fmt: skip
        return type(step)(step.state, outs, step.tcb)

    svg = _beside_reference("simultaneous-close", fin_wait_1)
    tags = " ".join(re.findall(r'data-kind="divergence"[^>]*>([^<]+)<', svg))
    assert "✗ yours sends ACK=100:" in tags and "◆ reference sends ACK=101:" in tags, tags


def test_a_timer_that_differs_is_tagged_with_its_length():
    """Two readers' backoff that never doubles was ringed "yours differs"; they found it only by
    comparing the two outlined "RETRANSMIT 1 s" and "RETRANSMIT 2 s" boxes."""
    import dataclasses

    from reference_impl.handlers import HANDLERS
    from reference_impl.states import StartTimer, State, Timeout, Timer

    def fin_wait_1(tcb, ev, profile):  # restarts the retransmission timer at 1 s, never doubling it
        step = HANDLERS[State.FIN_WAIT_1](tcb, ev, profile)
        outs = [dataclasses.replace(o, duration=1_000_000)
                if isinstance(ev, Timeout) and isinstance(o, StartTimer) and o.timer == Timer.RETRANSMIT else o
                for o in step.outputs]  # fmt: skip
        return type(step)(step.state, outs, step.tcb)

    tags = tag_words(_beside_reference("lost-first-fin", fin_wait_1))
    assert "✗ yours RETRANSMIT 1 s: A, 1.000 s" in tags and "◆ reference RETRANSMIT 2 s: A, 1.000 s" in tags, tags


def test_a_moment_that_stays_where_the_reference_moves_on_says_so():
    """A reader's FIN_WAIT_1 stayed on the ACK of its FIN: the tag said only "yours differs"."""
    from autograder.views.model import events_of
    from autograder.views.side_by_side import first_difference
    from autograder.views.svg import render
    from reference_impl.handlers import HANDLERS
    from reference_impl.states import State

    def fin_wait_1(tcb, ev, profile):  # never moves on to FIN_WAIT_2
        step = HANDLERS[State.FIN_WAIT_1](tcb, ev, profile)
        return type(step)(State.FIN_WAIT_1, step.outputs, step.tcb) if step.state == State.FIN_WAIT_2 else step

    mine = scenarios.run("active-close", machine={**HANDLERS, State.FIN_WAIT_1: fin_wait_1})
    ref = scenarios.run("active-close")
    m, r = first_difference(events_of(mine), events_of(ref))
    svg, _ = render(mine, reference=ref, highlight=m, reference_highlight=r, cut_runaway=True)
    tags = tag_words(svg)
    assert "✗ yours stays in FIN_WAIT_1: A, 0.020 s" in tags and "◆ reference goes to FIN_WAIT_2: A, 0.020 s" in tags


def test_a_divergence_deep_in_a_long_run_is_tagged_near_its_ring():
    """A reader's backoff lacked its 60 s cap: the tag stood under the panel's name, its leader running
    down to 63 s across every label between; a place on a break near the ring is better."""
    from autograder.views.model import events_of
    from autograder.views.side_by_side import first_difference
    from autograder.views.svg import render
    from reference_impl.profiles import RFC9293

    mine, ref = scenarios.run("fin-retry-limit", RFC9293.replace(rto_max=10**9)), scenarios.run("fin-retry-limit")
    m, r = first_difference(events_of(mine), events_of(ref))
    svg, _ = render(mine, reference=ref, highlight=m, reference_highlight=r, cut_runaway=True)
    (ring_y, *_) = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)" r="9"', svg)]
    tag_ys = [float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)"[^>]*data-kind="divergence"', svg)]
    assert tag_ys and all(abs(y - ring_y) < 120 for y in tag_ys), (ring_y, tag_ys)


def test_segments_sent_at_one_moment_leave_far_enough_apart_for_their_labels():
    """05's three data segments at 0 s, side by side: a line apart, each label lay on the next arrow and
    the replies crossed all three; with more lines each where labels were crowded, none crosses an arrow,
    and a rule down the time column says the row's last segment left at 0 s too."""
    from autograder.views._axis import LINE
    from autograder.views.svg import render

    run = scenarios.run("old-duplicate-after-reuse", PROFILES["rfc9293"])
    svg, canvas = render(run, reference=run)
    assert canvas.place.crossed == 0 and canvas.place.past_lifelines == 0
    for i, panel in enumerate(canvas.panels):
        burst = [canvas.axis.y(i, e) for e in panel.events if e.event == "send" and e.time == 0]
        assert len(burst) == 3 and min(b - a for a, b in itertools.pairwise(burst)) >= 2 * LINE, burst
    rules = re.findall(r'data-kind="same-moment"><title>0.000 s: [^<]*</title><path d="M[\d.]+ ([\d.]+) V([\d.]+) h5"',
                       svg)  # fmt: skip
    assert any(float(y0) < burst[0] and float(y1) >= burst[-1] for y0, y1 in rules), rules
    # one segment at a time (the four-way close): no row is tall enough to need the rule
    assert 'data-kind="same-moment"' not in render_svg(scenarios.run("active-close", PROFILES["rfc9293"]))


@pytest.mark.parametrize("profile", ["rfc9293", "linux"])
def test_no_label_lies_on_a_break(profile):
    """04's second lost final ACK, sent just before a break, had its label on the zigzag and past B's
    lifeline side by side: where labels are crowded before a break, the break moves down."""
    from autograder.views.svg import render

    on = []
    for name in scenarios.CATALOGUE:
        run = scenarios.run(name, PROFILES[profile])
        for reference in (None, run):
            if render(run, reference=reference)[1].place.on_bands:
                on.append((name, reference is not None))
    assert not on, on


def tag_words(svg: str) -> str:
    """The divergence tags' words, their lines joined."""
    return " ".join(re.findall(r'data-kind="divergence"[^>]*>([^<]+)<', svg))


def test_the_outline_of_a_differing_segment_runs_under_its_label():
    """Drawn over the arrow, the thick dashed outline struck the label's numbers through (a learner's
    B1 <ACK=200>, the very number that differed): it is drawn before every label now."""
    from autograder.views.model import events_of
    from autograder.views.side_by_side import first_difference
    from autograder.views.svg import render
    from reference_impl.handlers import HANDLERS
    from reference_impl.states import State, Step

    def fin_wait_1(tcb, ev, profile):  # any new ACK taken for the ACK of its FIN
        step = HANDLERS[State.FIN_WAIT_1](tcb, ev, profile)
        seg = getattr(ev, "segment", None)
        moved = step.state is State.FIN_WAIT_1 and seg is not None and not seg.fin and seg.ack != tcb.snd_una
        return Step(State.FIN_WAIT_2, step.outputs, step.tcb) if moved else step

    mine = scenarios.run("ack-of-data-not-fin", machine={**HANDLERS, State.FIN_WAIT_1: fin_wait_1})
    ref = scenarios.run("ack-of-data-not-fin")
    a, b = first_difference(events_of(mine), events_of(ref))
    svg, _ = render(mine, reference=ref, highlight=a, reference_highlight=b)
    outline = svg.find('stroke-width="5" stroke-dasharray="7 4"')
    assert outline >= 0, "the reference's B1 is outlined"
    assert 0 <= outline < svg.find(">B1 &lt;"), "under the labels"
