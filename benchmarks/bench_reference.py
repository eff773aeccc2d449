"""Simulator throughput and the cost of exhaustive loss enumeration.

Prints figures; targets (2 cores): >= 50,000 simulated segment events/s, and
enumerating + simulating every <=3-loss pattern of every catalogue scenario in <= 5 s.
"""

from __future__ import annotations

import time

from reference_impl import scenarios
from reference_impl.profiles import LINUX, RFC9293


def events_per_second(rounds: int = 200) -> tuple[float, int]:
    traces, start = 0, time.perf_counter()
    segment_events = 0
    for _ in range(rounds):
        for name in scenarios.CATALOGUE:
            trace = scenarios.run(name)
            segment_events += sum(r.event in ("send", "recv") for r in trace.rows)
            traces += 1
    return segment_events / (time.perf_counter() - start), traces


def enumerate_all(profile) -> tuple[float, int]:
    start, count = time.perf_counter(), 0
    for name, fates in scenarios.all_patterns(3, profile):
        scenarios.run(name, profile, fates)
        count += 1
    return time.perf_counter() - start, count


def sweep_seconds() -> tuple[float, float, int]:
    """A 13-point TIME_WAIT sweep (0-60 s) and a bisection to the microsecond, for a 30 s copy."""
    from reference_impl.profiles import sec
    from reference_impl.sweep import bisect_threshold, sweep_time_wait

    start = time.perf_counter()
    sweep_time_wait([sec(n) for n in range(0, 61, 5)], sec(30))
    swept = time.perf_counter() - start
    start = time.perf_counter()
    found = bisect_threshold(sec(30))
    return swept, time.perf_counter() - start, found


if __name__ == "__main__":
    rate, traces = events_per_second()
    print(f"simulator: {rate:,.0f} segment events/s over {traces} catalogue runs (target >= 50,000)")
    for profile in (RFC9293, LINUX):
        seconds, count = enumerate_all(profile)
        print(
            f"<=3-loss enumeration, {profile.name}: {count} patterns enumerated and simulated in {seconds:.2f} s (target <= 5 s)"
        )
    swept, bisected, found = sweep_seconds()
    print(
        f"TIME_WAIT sweep: 13 durations in {swept:.2f} s; bisection to the microsecond ({found} µs) in {bisected:.2f} s"
    )
