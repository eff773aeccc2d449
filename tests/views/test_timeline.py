"""The timeline widget without a browser: frames, steps, pickers, the learner's machine."""

from __future__ import annotations

import html
import re

import pytest

from autograder.views import Timeline, timeline
from autograder.views.animation import animated_html
from reference_impl import scenarios
from reference_impl.profiles import LINUX, RFC9293


def test_one_step_per_event_and_a_css_rule_per_step(lost_final_ack):
    html, steps = animated_html(lost_final_ack, uid="tl-x")
    assert steps == len(lost_final_ack)
    for k in range(steps + 1):
        assert f'.tl-x:has(.tl-step [aria-valuenow="{k}.0"]) {{ --k: {k}; --yf: ' in html
    # every event's sentence shows at exactly its step (step k = after event k-1)
    assert len(re.findall(r'class="tv" style="--a:(\d+);--b:(\d+)"', html)) >= steps
    assert html.count("— A (client) receives") == sum(r.event == "recv" and r.endpoint == "A" for r in lost_final_ack)


def test_state_labels_cover_every_step_once(active_close):
    html, steps = animated_html(active_close, uid="tl-x")
    a_head = html.split('data-endpoint="A"')[1].split('data-endpoint="B"')[0]
    spans = re.findall(r'--a:(\d+)(?:;--b:(\d+))?" data-state="(\w+)"', a_head)
    assert [s for *_, s in spans] == ["ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED"]
    bounds = [(int(a), int(b) if b else steps + 1) for a, b, _ in spans]
    assert bounds[0][0] == 0 and bounds[-1][1] == steps + 1
    assert all(b == a2 for (_, b), (a2, _) in zip(bounds, bounds[1:], strict=False)), bounds


def test_catalogue_mode_defaults_to_the_reference_alone():
    w = timeline("simultaneous-close")
    assert isinstance(w, Timeline)
    assert w.steps == len(scenarios.run("simultaneous-close")) == w.slider.max == w.play.max
    assert "Your implementation" not in w.frames.value


def test_run_callable_puts_the_learner_beside_the_reference():
    calls = []

    def my_run(name, profile):
        calls.append((name, profile))
        return scenarios.run(name)

    w = timeline("lost-final-ack", run=my_run)
    assert calls == [("lost-final-ack", "rfc9293")]
    assert "Your implementation" in w.frames.value and "Reference" in w.frames.value
    w.profile.value = "linux"
    w.scenario.value = "abort"
    assert calls[-1] == ("abort", "linux")
    assert w.slider.value == 0 and w.steps == len(scenarios.run("abort"))


def test_step_buttons_clamp_and_mirror_the_step_for_the_kernel_fallback(active_close):
    w = timeline(active_close.to_frame())
    w.go(5)
    assert w.slider.value == 5 and "--k: 5;" in w.kernel_step.value
    w.go(10_000)
    assert w.slider.value == w.slider.max
    w.go(-3)
    assert w.slider.value == 0


def test_given_traces_need_no_pickers(active_close, lost_final_ack):
    w = timeline(lost_final_ack, reference=active_close, highlight=12)
    assert w.pickers is None and "first divergence" in w.frames.value


def test_bad_frame_is_reported_before_any_widget_is_built(active_close):
    with pytest.raises(ValueError, match="endpoint"):
        timeline(active_close.to_frame().drop(columns=["endpoint"]))


def test_loss_picker_replays_a_loss_pattern_for_both_runs():
    calls = []

    def my_run(name, profile, lose=()):
        calls.append((name, profile, lose))
        return scenarios.run(name, fates={scenarios.parse_key(k): scenarios.LOSE for k in lose})

    w = timeline("active-close", run=my_run)
    labels = [label for label, _ in w.lose.options]
    assert labels[0] == "no extra loss" and "lose A's FIN (A1) + B's ACK of A's FIN (B2)" in labels
    w.lose.value = ("A1", "B2")
    assert calls[-1] == ("active-close", "rfc9293", ("A1", "B2"))
    # the caption says it too, not only the title
    assert "loses what you picked: lose A's FIN (A1) + B's ACK of A's FIN (B2)." in html.unescape(w.about.value)
    expected = scenarios.run("active-close", fates={("A", 1): scenarios.LOSE, ("B", 2): scenarios.LOSE})
    assert w.steps == len(expected)
    w.scenario.value = "simultaneous-close"  # a new scenario starts with no extra loss
    assert w.lose.value == () and calls[-1] == ("simultaneous-close", "rfc9293", ())


@pytest.mark.parametrize("upto, offered", [("01", False), ("03", False), ("04", True), ("06", True), (None, True)])
def test_extra_losses_are_offered_from_the_notebook_that_teaches_them(upto, offered):
    """In 01, losing B's final ACK would play the TIME_WAIT re-ACK that 01 asks about further down."""
    w = timeline("active-close", upto=upto)
    assert (w.lose.layout.display != "none") is offered
    assert (len(w.lose.options) > 1) is offered


def test_a_profile_variant_is_its_own_picker_button_and_reaches_the_runner():

    calls = []

    def my_run(name, profile, lose=()):
        calls.append(profile)
        return scenarios.run(name, profile if not isinstance(profile, str) else RFC9293)

    variant = RFC9293.replace(time_wait=0)
    w = timeline("lost-final-ack", variant, run=my_run, label="TIME_WAIT = 0")
    assert w.profile.value == "TIME_WAIT = 0" and calls[-1] == variant
    assert int(w.profile.style.button_width.removesuffix("px")) >= 9 * len("TIME_WAIT = 0")  # label not cut
    assert w.steps == len(scenarios.run("lost-final-ack", variant))
    w.profile.value = "rfc9293"
    assert calls[-1] == "rfc9293"  # named profiles still reach a runner by name


def test_the_whole_picture_toggle_lets_a_long_picture_be_read_and_scrolled(active_close):
    """A reader could not scroll a long picture: it is shown through a window that follows the step.
    The toggle drops the window (and its following) for the whole picture, and brings it back."""
    w = timeline(active_close)
    assert "tl-whole" not in w._dom_classes
    w.whole.value = True
    assert "tl-whole" in w._dom_classes and f".{w.uid}.tl-whole .tl-svg svg {{ transform: none; }}" in w.frames.value
    # ... with every step drawn, whatever the slider says: at step 0 a reader saw an empty axis.
    assert f".{w.uid}.tl-whole .tl-svg .tv {{ opacity: 1; }}" in w.frames.value
    # ... told apart from a focus ring, and the card above says so instead of step 0's "Press ▶".
    assert (w.whole.icon, w.whole.button_style) == ("check", "info")
    assert f".{w.uid}.tl-whole .tl-say::before" in w.frames.value and "every step at once" in w.frames.value
    # ... and the status boxes above say how the run ends, not step 0's ESTABLISHED (a reader read that as the end)
    assert w.slider.value == w.slider.max == w.steps
    w.whole.value = False
    assert "tl-whole" not in w._dom_classes and (w.whole.icon, w.whole.button_style) == ("", "")


def test_a_new_run_loaded_under_the_whole_picture_is_drawn_to_its_end():
    """A reader switched the profile with the whole picture on, then turned it off: the new run sat at
    step 0, an empty axis, which looked broken. Under the whole picture a new run starts at its last step."""
    w = timeline("active-close")
    w.whole.value = True
    w.profile.value = "linux"
    assert w.steps == len(scenarios.run("active-close", LINUX)) and w.slider.value == w.slider.max == w.steps
    w.whole.value = False
    w.profile.value = "rfc9293"
    assert w.slider.value == 0  # stepping from the start again once the whole picture is off


@pytest.mark.parametrize("name", ["lost-final-ack-twice", "fin-retry-limit", "reuse-after-lost-final-ack"])
def test_the_window_that_follows_the_step_cuts_no_label_at_its_top_edge(name):
    """A reader met a segment's label sliced in half by the window's top edge. Each step's window
    now sits where its top falls between labels (a timer's tall label along its bar excepted)."""
    from autograder.views.animation import ANCHOR, VIEW_H, step_fractions
    from autograder.views.svg import render
    from reference_impl.profiles import RFC9293

    mine, ref = scenarios.run(name, LINUX), scenarios.run(name, RFC9293)
    page, steps = animated_html(mine, ref, uid="tl-x")
    _, canvas = render(mine, reference=ref, animate=True)
    height = canvas.axis.bottom
    view_h = min(VIEW_H, int(height) + 1)
    spans = [(min(y for _, y in q), max(y for _, y in q)) for q in canvas.place.boxes]
    short = [(lo, hi) for lo, hi in spans if 0 < hi - lo <= 60]
    cut = []
    for k, f in step_fractions(page).items():
        top = min(max(f * height - ANCHOR * view_h, 0.0), height - view_h)  # as the CSS clamps it
        cut += [(k, top, lo, hi) for lo, hi in short if lo < top < hi]
    assert steps > 40 and height > 2 * view_h and not cut, cut


def test_the_window_that_follows_the_step_never_slices_the_pictures_title():
    """06's rst-in-close-wait under linux, stepped to its end: the window's top edge ran through the
    picture's title, half of it left showing under the status card."""
    from autograder.views._geometry import text_quad
    from autograder.views.animation import ANCHOR, VIEW_H, step_fractions
    from autograder.views.svg import render

    sliced = []
    for name in scenarios.CATALOGUE:
        run = scenarios.run(name, LINUX)
        page, _ = animated_html(run, uid="tl-x", title=f"{name} (linux) — reference")
        _, canvas = render(run, animate=True, title=f"{name} (linux) — reference")
        height = canvas.axis.bottom
        view_h = min(VIEW_H, int(height) + 1)
        title = text_quad(canvas.width / 2, 24, ["x"], 15, "middle")
        lo, hi = min(y for _, y in title), max(y for _, y in title)
        for k, f in step_fractions(page).items():
            top = min(max(f * height - ANCHOR * view_h, 0.0), height - view_h)  # as the CSS clamps it
            sliced += [(name, k, round(top))] if lo < top < hi else []
    assert not sliced, sliced


def test_two_profiles_compared_from_a_moment_are_marked_where_they_part_from_then_on():
    """05's syn-in-time-wait: a reader saw the mark on Linux's delayed ACK at 0.01 s, not on what the
    picture is about, B's answer to the new SYN at 0.11 s."""
    from autograder.views.model import events_of

    rfc, linux = (scenarios.run("syn-in-time-wait", p) for p in (RFC9293, LINUX))
    early = Timeline(rfc, linux).divergence
    w = Timeline(rfc, linux, compare_from=0.1)
    mine, theirs = (events_of(t)[k] for t, k in zip((rfc, linux), w.divergence, strict=True))
    assert events_of(rfc)[early[0]].time < 100_000 <= mine.time == theirs.time
    assert (mine.endpoint, mine.flags_text, mine.after, theirs.after) == ("B", "SYN", "TIME_WAIT", "SYN_RECEIVED")


def test_a_learners_run_beside_the_reference_opens_where_it_first_parts_from_it():
    """At step 0 the picture is an empty axis; the marked divergence is what a learner came to see."""
    from reference_impl.scenarios import A_ACK_OF_FIN, LOSE

    w = timeline("active-close", run=lambda name, profile: scenarios.run(name, fates={A_ACK_OF_FIN: LOSE}))
    parts_at = re.search(r'data-diverges-at="(\d+)"', w.frames.value)
    assert parts_at and w.slider.value == int(parts_at.group(1)) > 0
    # ... the moment the mark names is the one the card above the picture tells at that step
    when = re.search(r"yours differs: A, ([\d.]+ s)<", w.frames.value).group(1)
    said = re.findall(rf'<span class="tv" style="--a:{w.slider.value};--b:\d+">([^<]*)</span>', w.frames.value)
    assert said and all(s.startswith(f"{when} — A (client)") for s in said), (when, said)
    # ... the same picture of two profiles (no learner in it) still starts from the beginning
    w2 = timeline(scenarios.run("active-close", LINUX), reference=scenarios.run("active-close"))
    assert w2.slider.value == 0


@pytest.mark.parametrize(("name", "lose"), [("simultaneous-close", "B2"), ("ack-of-data-not-fin", "B1"),
                                            ("lost-first-fin", "A2"), ("paws-rejects-old-duplicate", "B1"),
                                            ("last-words-then-close", "A2")])  # fmt: skip
def test_at_the_step_it_opens_on_the_divergence_s_words_are_in_the_window(name, lose):
    """A reader saw only the leader line of "◆ reference: B, 0.010 s": its words sat above the window."""
    from autograder.views.animation import ANCHOR, VIEW_H, divergence_step, step_fractions
    from autograder.views.model import events_of
    from autograder.views.side_by_side import first_difference
    from autograder.views.svg import render

    mine, ref = scenarios.run(name, fates=scenarios.losses([lose])), scenarios.run(name)
    mark, ref_mark = first_difference(events_of(mine), events_of(ref))
    page, _ = animated_html(mine, ref, uid="tl-x", highlight=mark, reference_highlight=ref_mark)
    _, canvas = render(mine, reference=ref, animate=True, highlight=mark, reference_highlight=ref_mark)
    height = canvas.axis.bottom
    view_h = min(VIEW_H, int(height) + 1)
    k = divergence_step(page)
    top = min(max(step_fractions(page)[k] * height - ANCHOR * view_h, 0.0), height - view_h)
    assert canvas.mark_tops and all(top <= t <= top + view_h - 12 for t in canvas.mark_tops), (top, canvas.mark_tops)


def test_the_sentence_under_the_heads_changes_without_a_cross_fade():
    """At 4× a reader saw two sentences faded over each other ("receiveis <SEQ=100>…"): the step's
    sentence switches at once; only the picture's rows fade in."""
    page, _ = animated_html(scenarios.run("active-close"), uid="tl-x")
    assert ".tl-x .tl-say .tv { transition: none; }" in page
    assert re.search(r"\.tl-x \.tv \{[^}]*transition: opacity", page)


def test_a_step_button_stops_the_playing_first():
    """A reader pressed ◀ step at 4×: the player went on (15, 19, 21) over the step taken by hand."""
    w = timeline("active-close")
    w.go(6)
    w.play.playing = True
    w.back.click()
    assert not w.play.playing and w.slider.value == 5
    w.play.playing = True
    w.fwd.click()
    assert not w.play.playing and w.slider.value == 6


@pytest.mark.parametrize("name", ["old-duplicate-after-reuse", "active-close"])
def test_the_time_columns_brackets_are_explained_under_a_picture_that_has_them(name):
    """Two readers took the grey brackets (one moment, rows spread for labels) for something unexplained."""
    w = timeline(name)
    has = 'data-kind="same-moment"' in w.frames.value
    assert has == (name == "old-duplicate-after-reuse")
    assert ("A grey bracket in the time column" in w.frames.value) == has
