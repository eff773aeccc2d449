"""Captions and lane notes that tell the truth about each row in its run."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from autograder.views.explain import Captions
from autograder.views.losses import PAIRS_UP_TO, loss_choices, own_losses
from autograder.views.model import events_of
from autograder.views.pairing import segment_roles
from autograder.views.side_by_side import first_difference, schedule
from autograder.views.timeline import timeline
from reference_impl import scenarios
from reference_impl.profiles import LINUX, PROFILES, RFC9293


def captions(name: str, profile=RFC9293) -> tuple[list, Captions]:
    trace = scenarios.run(name, profile)
    evs = events_of(trace)
    return evs, Captions.of(evs, trace.scenario, trace.profile)


def sentences(name: str, profile=RFC9293) -> list[str]:
    evs, cap = captions(name, profile)
    return [cap.sentence(e) for e in evs]


def test_time_wait_is_2_msl_in_the_rfc_and_a_fixed_length_in_linux():
    rfc = " ".join(sentences("active-close"))
    linux = " ".join(sentences("active-close", PROFILES["linux"]))
    assert "TIME_WAIT timer (240 s: 2 MSL" in rfc
    assert "(60 s: Linux's fixed TCP_TIMEWAIT_LEN, not derived from the MSL" in linux and "2 MSL" not in linux
    off = " ".join(sentences("lost-final-ack", RFC9293.replace(time_wait=0)))
    assert "2 MSL" not in off and "TIME_WAIT switched off" in off
    # What TIME_WAIT is for is two notebooks' predictions: no caption says it before they ask.
    assert not any(why in text for text in (rfc, linux, off) for why in ("lost final ACK", "old duplicates"))


def test_a_restarted_timer_says_restarts():
    said = [s for s in sentences("lost-final-ack") if "its TIME_WAIT timer (" in s]
    assert "starts its TIME_WAIT" in said[0] and all("restarts its TIME_WAIT" in s for s in said[1:]) and len(said) > 1


def test_shutdown_is_not_drawn_as_close():
    evs, cap = captions("half-close")
    a_close = next(e for e in evs if e.endpoint == "A" and e.event == "close")
    b_close = next(e for e in evs if e.endpoint == "B" and e.event == "close")
    assert cap.note(a_close) == "shutdown(SHUT_WR)" and "shutdown(SHUT_WR)" in cap.sentence(a_close)
    assert cap.note(b_close) == "close()"


def test_a_linux_orphan_reads_nothing_and_unread_bytes_are_not_delivered():
    evs, cap = captions("active-close", PROFILES["linux"])
    eof = next(e for e in evs if e.endpoint == "A" and e.event == "deliver")
    assert "reads end-of-file" not in cap.sentence(eof) and "orphan" in cap.sentence(eof)
    evs, cap = captions("close-with-unread-data", PROFILES["linux"])
    data = next(e for e in evs if e.endpoint == "A" and e.event == "deliver")
    assert cap.note(data) == "6 bytes unread" and "never reads" in cap.sentence(data)
    evs, cap = captions("active-close")  # RFC 9293: close() still receives, the application reads the EOF
    eof = next(e for e in evs if e.endpoint == "A" and e.event == "deliver")
    assert "reads end-of-file" in cap.sentence(eof)


def test_linux_tail_loss_probe_is_not_called_a_retransmission_timeout():
    evs, cap = captions("fin-retry-limit", PROFILES["linux"])
    timeouts = [e for e in evs if e.event == "timeout"]
    assert cap.note(timeouts[0]) == "tail-loss probe" and "RFC 8985" in cap.sentence(timeouts[0])
    assert all(cap.note(e) == "RETRANSMIT fires" for e in timeouts[1:])
    evs, cap = captions("fin-retry-limit")
    assert not cap.probes


def test_segments_are_named_by_role():
    roles = segment_roles(events_of(scenarios.run("active-close")))
    assert roles == {"A1": "A's FIN", "B1": "B's ACK of A's FIN", "B2": "B's FIN", "A2": "A's ACK of B's FIN"}
    options = dict(loss_choices("lost-ack-of-fin", "rfc9293"))
    assert "lose A's FIN (A1)" in options


def test_the_picker_offers_pairs_of_losses_in_short_runs_and_single_losses_in_long_ones():
    short = [k for _, k in loss_choices("lost-ack-of-fin", "rfc9293")]
    assert max(map(len, short)) == 2 and ("A1",) in short
    # With TIME_WAIT = 0 the reused 4-tuple ends in an ACK war of over a hundred segments.
    war = [k for _, k in loss_choices("old-duplicate-after-reuse", replace(PROFILES["rfc9293"], time_wait=0))]
    assert len(war) - 1 > PAIRS_UP_TO and max(map(len, war)) == 1


def test_the_scenarios_own_loss_is_named_and_stays_on_its_segment():
    assert own_losses("lost-ack-of-fin", "rfc9293") == "The scenario itself loses B's ACK of A's FIN (B1)."
    # Named by role, the scenario's own loss stays on B's ACK of A's FIN when A's FIN is lost too.
    assert own_losses("lost-ack-of-fin", "rfc9293", ("A1",)) == "The scenario itself loses B's ACK of A's FIN (B2)."


def test_switching_profile_keeps_the_picked_loss_and_scenario_resets_the_slider():
    w = timeline("lost-final-ack")
    w.lose.value = ("A1",)
    w.profile.value = "linux"
    assert w.lose.value == ("A1",) and w.lose.label.startswith("lose A's FIN")
    w.scenario.value = "abort"
    assert w.lose.value == () and w.slider.max == w.steps == len(scenarios.run("abort")) and w.slider.value == 0


def test_two_runs_step_on_virtual_time():
    mine, ref = (
        events_of(scenarios.run("lost-final-ack")),
        events_of(scenarios.run("lost-final-ack", PROFILES["linux"])),
    )
    appear, times = schedule([mine, ref])
    for evs, ap in ((mine, appear[0]), (ref, appear[1])):
        for e in evs:
            assert times[ap[e.index] - 1] == e.time  # every step is one moment, the same in both panels
    assert first_difference(mine, mine) is None
    i, j = first_difference(mine, ref)
    assert mine[i] != ref[j] and all(
        a.time == b.time and a.event == b.event for a, b in zip(mine[:i], ref[:j], strict=True)
    )


@pytest.mark.parametrize("name", ["active-close", "old-duplicate-after-reuse"])
def test_side_by_side_marks_the_divergence_in_both_panels(name):
    w = timeline(name, run=lambda n, p, *lose: scenarios.run(n, PROFILES["linux"]))
    assert w.divergence is not None
    svg = w.frames.value
    assert "✗ yours differs" in svg and "◆ reference" in svg
    assert svg.count('data-kind="divergence"') >= 6  # band, ring, outline or thick stroke, tag: in each panel
    df = w.to_frame()
    assert set(df["run"]) == {"Your implementation (linux)", "Reference (rfc9293)"}
    assert df["what happens"].str.startswith("FIRST DIVERGENCE").sum() == 2
    assert "as a pcap" in w.download.value


def test_one_calls_outputs_in_another_order_are_no_difference_in_the_picture():
    """A reader's correct crossing FIN (the EOF delivered, then the ACK sent) passed every check while
    the picture marked "yours differs" at that instant: the checks take a Step's outputs in any order."""
    import inspect

    from autograder.notebook_helpers import learner_run, show_mine
    from reference_impl import handlers
    from reference_impl.states import CLOSE_STATES, Send, Step

    ns: dict = {}  # a learner who wrote exactly the reference, but for the order of one call's outputs
    exec(compile(inspect.getsource(handlers).replace("from .", "from reference_impl."), "<notebook>", "exec"), ns)
    written = ns["fin_wait_1"]

    def eof_first(tcb, ev, profile):
        step = written(tcb, ev, profile)
        sends = [o for o in step.outputs if isinstance(o, Send)]
        return Step(step.state, [*(o for o in step.outputs if not isinstance(o, Send)), *sends], step.tcb)

    mine = {s.value.lower(): ns[s.value.lower()] for s in CLOSE_STATES} | {"fin_wait_1": eof_first}
    run = learner_run(mine)
    ours, ref = events_of(run("simultaneous-close")), events_of(scenarios.run("simultaneous-close"))
    assert [(e.event, e.endpoint) for e in ours] != [(e.event, e.endpoint) for e in ref]  # the order did change
    assert first_difference(ours, ref) is None
    view = show_mine(mine, "simultaneous-close").children[1]
    assert view.divergence is None


@pytest.mark.parametrize("name", list(scenarios.CATALOGUE))
def test_no_two_loss_options_read_the_same_without_their_segment_numbers(name):
    """A reader met "B's FIN, resent (B3)" beside "B's FIN, resent (B4)": the words must tell them apart
    (in every scenario: two RSTs, and a reopened 4-tuple's FIN beside the first connection's)."""
    for profile in ("rfc9293", "linux"):
        words = [re.sub(r" \([AB]\d+\)", "", label) for label, _ in loss_choices(name, profile)]
        assert len(set(words)) == len(words), sorted(w for w in words if words.count(w) > 1)


def test_a_segment_sent_again_says_which_time():
    roles = segment_roles(events_of(scenarios.run("lost-final-ack-twice")))
    again = sorted(r for r in roles.values() if "again" in r or "time" in r or "resent" in r)
    assert "B's FIN, resent" in again and "B's FIN, resent a 2nd time" in again, again
    assert "A's ACK of B's FIN, again" in again and "A's ACK of B's FIN, a 3rd time" in again, again


def test_a_reopened_connections_segments_say_which_connection():
    roles = segment_roles(events_of(scenarios.run("reuse-after-lost-final-ack")))
    assert roles["A1"] == "A's FIN" and "A's FIN in connection 2" in roles.values()
    assert "A's SYN in connection 2" in roles.values() and "B's SYN-ACK in connection 2" in roles.values()
    linux = segment_roles(events_of(scenarios.run("syn-in-time-wait", LINUX)))  # B reopened by the SYN itself
    assert "B's SYN-ACK in connection 2" in linux.values(), linux


def test_no_network_picker_offers_more_options_than_a_reader_scrolls_through():
    """A reader met 122 near-identical options in 05's old-duplicate picker (every pair of losses)."""
    longest = max(
        (len(loss_choices(name, profile)), name, profile)
        for name in scenarios.CATALOGUE
        for profile in ("rfc9293", "linux")
    )
    assert longest[0] <= 50, longest  # 46 now (fin-on-last-segment)
