"""The reference's linux profile against the real Linux stack, scenario by scenario.

Every scenario runs once (concurrently, each in its own namespace pair) in a
module fixture; each test asserts one thing about the runs.
"""

import os
import time

import pytest

from autograder.kernel import SCENARIOS, NamespacePair, crosscheck, unavailable_reason

pytestmark = pytest.mark.kernel
REASON = unavailable_reason()
needs_root = pytest.mark.skipif(REASON is not None, reason=f"namespace cross-check {REASON}")


@pytest.fixture(scope="module")
def results():
    started = time.monotonic()
    res = crosscheck()
    res["_wall"] = time.monotonic() - started
    return res


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
