"""The reference's linux profile against the real Linux stack, scenario by scenario.

Every scenario runs once (concurrently, each in its own namespace pair) in a
module fixture; each test asserts one thing about the runs.
"""

import os
import re
import sys
import time

import pytest

from autograder.kernel import SCENARIOS, NamespacePair, crosscheck, unavailable_reason

pytestmark = pytest.mark.kernel
REASON = unavailable_reason()
needs_root = pytest.mark.skipif(REASON is not None, reason=f"namespace cross-check {REASON}")


@pytest.fixture(scope="module")
def results():
    started = time.monotonic()
    lines: list[str] = []
    res = crosscheck(out=lines.append)
    res["_wall"] = time.monotonic() - started
    res["_progress"] = lines
    return res


@needs_root
def test_progress_reports_each_scenario_played_then_compared(results):
    # each line, without the rate and ETA in parentheses at its end
    lines, n = [re.sub(r" \([^()]*\)$", "", x) for x in results["_progress"]], len(SCENARIOS)
    played = [x for x in lines if x.endswith(" s") and ": played in " in x]
    compared = [x for x in lines if x.endswith((": agrees", ": disagrees: played again alone")) and "(replay)" not in x]
    replays = [x for x in lines if "(replay): " in x]
    assert len(played) == len(compared) == n
    assert {x.split("] ", 1)[1].split(":")[0].split(" ", 1)[1] for x in played} == set(SCENARIOS)
    assert compared[-1].startswith("[" + "#" * 20 + f"] {2 * n}/{2 * n} ")
    assert len(replays) == sum(x.endswith("played again alone") for x in compared)  # one line per replay


@needs_root
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_reference_agrees_with_kernel(results, name):
    c = results[name]
    assert c.agrees, "\n" + c.report()


@needs_root
def test_proc_channel_sees_time_wait(results):
    assert "TIME_WAIT" in results["normal-close"].run.proc_states("A")


def _intervals(times):
    return [b - a for a, b in zip(times, times[1:], strict=False)]


@needs_root
@pytest.mark.parametrize("name, endpoint", [("lost-fin-5x", "A"), ("lost-final-ack-3x", "B")])
def test_retransmission_timing_probe_then_doubling(results, name, endpoint):
    """The tail-loss probe ~2·RTT+200 ms, then RTO doubling: within the timer wheel's slack."""

    def fin_times(c):
        ref, ker = c.segments[endpoint]
        return [t for t, (flags, *_rest) in ref if "FIN" in flags], [t for t, (flags, *_rest) in ker if "FIN" in flags]

    def within_slack(fins_ref, fins_ker):
        pairs = zip(_intervals(fins_ref), _intervals(fins_ker), strict=True)
        return all(r - 0.005 <= k <= r * 1.15 + 0.03 for r, k in pairs)

    fins_ref, fins_ker = fin_times(results[name])
    if not within_slack(fins_ref, fins_ker):
        # Thirteen relays at once on two cores can make the relay itself late; timing is
        # judged on the scenario played alone (the first run is shown if that fails too).
        first = fins_ker
        fins_ref, fins_ker = fin_times(crosscheck([name])[name])
        assert within_slack(fins_ref, fins_ker), f"{fins_ref=} {fins_ker=} (concurrent run: {first})"


def _time_wait_ends(c):
    """When the kernel's TIME_WAIT timer of A would fire, as read in /proc (seconds since time 0)."""
    run = c.run
    t, e = [(t, e) for t, e in run.samples["A"] if e is not None and e.timewait][-1]
    return t - run.t0 + e.remaining


@needs_root
def test_time_wait_is_60_seconds(results):
    c = results["normal-close"]
    last_ack = c.segments["A"][1][-1][0]
    assert _time_wait_ends(c) - last_ack == pytest.approx(60.0, abs=0.05)


@needs_root
def test_retransmitted_fin_restarts_time_wait(results):
    c = results["lost-final-ack"]
    acks = [t for t, (flags, *_rest) in c.segments["A"][1] if flags == "ACK"]
    assert len(acks) == 2 and acks[1] - acks[0] > 0.15
    assert _time_wait_ends(c) - acks[-1] == pytest.approx(60.0, abs=0.05)


@needs_root
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_delayed_acks_and_time_wait_rearms_are_compared_in_every_scenario(results, name):
    c = results[name]
    assert set(c.delayed_acks) == set(c.rearms) == {"A", "B"}
    assert all(r == k for r, k in c.delayed_acks.values()) and all(r == k for r, k in c.rearms.values())


@needs_root
def test_the_ack_of_a_fin_in_established_waits_for_the_delayed_ack_timer(results):
    # DelayedACKs counts it; the ACK leaves a tick after the FIN's arrival (10 ms after A sent it), well
    # before the 40 ms it waits once data has arrived (fin-behind-zero-window: 460 ms after B's read).
    c = results["normal-close"]
    assert c.delayed_acks["B"] == (1, 1)
    ref, ker = c.segments["B"]
    assert ref[0][1][0] == ker[0][1][0] == "ACK" and 0.010 <= ker[0][0] < 0.040
    ack = results["fin-behind-zero-window"].segments["B"][1][2]
    assert ack[1][2] == 302 and ack[0] >= 0.410 + 0.040


@needs_root
def test_time_wait_rearms_measured(results):
    assert results["late-acks-in-time-wait"].rearms == {"A": (1, 1), "B": (1, 1)}
    assert results["data-in-time-wait"].rearms["A"] == (1, 1)
    assert results["new-fin-in-time-wait"].rearms["A"] == (1, 1)
    # A FIN without the ACK bit is answered but re-arms nothing; an RST off RCV.NXT is not even answered.
    c = results["fin-without-ack-in-time-wait"]
    assert c.rearms["A"] == (0, 0) and [s for _, s in c.segments["A"][1]][-1][0] == "ACK"
    c = results["rst-off-rcv-nxt-in-time-wait"]
    assert c.rearms["A"] == (0, 0) and len(c.segments["A"][1]) == 2 and c.states["A"][1][-1] == "TIME_WAIT"


@needs_root
def test_rst_in_close_wait_reaches_the_application_as_epipe(results):
    assert results["rst-in-close-wait"].errors["B"] == ("broken pipe", "broken pipe")


@needs_root
def test_tcp_sequence_edges_and_zero_window_fin(results):
    right = results["right-edge-in-close-wait"].segments["B"][1]
    assert len(right) == 2  # the ACK of A's FIN, then only the answer to the segment one past the edge
    assert results["zero-window-fin"].states["B"][1] == ["ESTABLISHED", "CLOSE_WAIT"]
    assert [s[0] for _, s in results["empty-segment-past-rcv-nxt"].segments["A"][1]] == ["FIN|ACK"]  # no ACK of it
    assert len(results["rate-limited-dupacks"].segments["B"][1]) == 2


@needs_root
def test_fin_waits_behind_a_zero_window_then_rides_on_the_data(results):
    sent = [s for _, s in results["fin-behind-zero-window"].segments["A"][1]]
    assert sent[0] == ("ACK", 0, 1, 0, "delivered")  # the probe: <SEQ=SND.UNA-1>
    assert sent[1] == ("FIN|ACK", 1, 1, 300, "delivered")


@needs_root
def test_paws_refuses_an_old_timestamp_that_sequence_numbers_accept(results):
    # The same copy at RCV.NXT: refused with an ACK of 11 bytes under timestamps (PAWSEstab counts it),
    # taken as 3 more bytes without them.
    paws, plain = results["paws-old-duplicate"], results["old-duplicate-without-timestamps"]
    assert [s[2] for _, s in paws.segments["B"][1]] == [11, 11]
    assert paws.run.counted("B", "PAWSEstab") == 1
    assert [s[2] for _, s in plain.segments["B"][1]][:2] == [11, 14]
    assert plain.run.counted("B", "PAWSEstab") == 0


@needs_root
def test_a_syn_reopens_time_wait_with_an_iss_past_the_old_numbers(results):
    c = results["syn-in-time-wait"]
    assert c.states["B"][1][-3:] == ["TIME_WAIT", "SYN_RECEIVED", "ESTABLISHED"]
    syn_ack = [s for _, s in c.segments["B"][1] if s[0] == "SYN|ACK"]
    assert syn_ack == [("SYN|ACK", 2 + 65537, 5002, 0, "delivered")]  # TIME_WAIT's SND.NXT + 65535 + 2


@needs_root
def test_a_syn_meeting_last_ack_is_challenged_then_sent_again_after_the_reset(results):
    c = results["syn-in-last-ack"]
    sent = c.segments["A"][1]
    assert [s[0] for _, s in sent] == ["FIN|ACK", "ACK", "SYN", "RST", "SYN", "ACK"]
    (t_rst, rst), (t_syn, _) = sent[3], sent[4]
    assert rst[1] == 2 and 0 <= t_syn - t_rst <= 0.02  # <SEQ=SEG.ACK><CTL=RST>, then the SYN in ~8 ms, not 1 s
    assert [s[0] for _, s in c.segments["B"][1]][2] == "ACK"  # the challenge ACK from LAST_ACK


@needs_root
def test_no_namespace_left_behind(results):
    mine = (
        [n for n in os.listdir("/run/netns") if n.startswith(f"tgb{os.getpid()}-")]
        if os.path.isdir("/run/netns")
        else []
    )
    assert mine == []


@needs_root
def test_namespaces_are_removed_when_setup_fails():
    with pytest.raises(OSError):
        NamespacePair(250, {"A": {"net.ipv4.no_such_setting": "1"}})
    assert not [n for n in os.listdir("/run/netns") if n.startswith(f"tgb{os.getpid()}-")]


@needs_root
def test_whole_run_takes_at_most_60_seconds(results):
    assert results["_wall"] <= 60


@needs_root
def test_a_scenario_that_fails_to_play_concurrently_is_played_again_alone(monkeypatch):
    # Under load the reopening scenarios' timing can slip until connect-again finds the old
    # connection still holding A's address (EADDRINUSE): that run is played again, alone.
    cc = sys.modules["autograder.kernel.crosscheck"]  # the package's name 'crosscheck' is the function
    real, calls = cc.run_kernel, []

    def flaky(ks, *args, **kw):
        calls.append(ks.name)
        if ks.name == "syn-in-last-ack" and calls.count(ks.name) == 1:
            raise OSError(98, "Address already in use")
        return real(ks, *args, **kw)

    monkeypatch.setattr(cc, "run_kernel", flaky)
    lines: list[str] = []
    res = cc.crosscheck(["normal-close", "syn-in-last-ack"], out=lines.append)
    assert calls.count("syn-in-last-ack") == 2 and res["syn-in-last-ack"].agrees and res["normal-close"].agrees
    assert "Address already in use" in res["syn-in-last-ack"].report()
    assert sum(": played in " in x for x in lines) == 2
