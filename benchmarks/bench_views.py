"""How long the pictures take to draw, without a browser (target: SVG for 60 events ≤ 20 ms).

Prints medians over repeated runs, all measured side by side in one process.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder.views import render_svg, state_diagram_svg  # noqa: E402
from autograder.views.animation import animated_html  # noqa: E402
from reference_impl import scenarios  # noqa: E402
from reference_impl.trace import Row, Trace  # noqa: E402


def sixty_events() -> Trace:
    """60 events: a half-close with data, then a close whose final ACK is lost twice."""
    rows: list[Row] = []
    for name in ("half-close", "lost-final-ack-twice"):
        start = rows[-1].time + 1_000_000 if rows else 0  # the second close begins after the first
        rows.extend(replace(r, time=r.time + start) for r in scenarios.run(name).rows)
    return Trace(rows[:60], scenario="sixty events")


def runaway(n: int) -> Trace:
    rows = [Row(i * 5_000, "AB"[i % 2], "send" if i % 2 == 0 else "recv", "ESTABLISHED", "ESTABLISHED", "ACK",
                100 + i // 2, 300, 10, "delivered" if i % 2 == 0 else "", "<SEQ=100><ACK=300><CTL=ACK>")
            for i in range(n)]  # fmt: skip
    return Trace(rows, scenario="runaway")


def median_ms(fn, runs: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    t60 = sixty_events()
    assert len(t60) == 60
    ref = scenarios.run("lost-final-ack")
    big = runaway(5_000)
    rows = [
        ("static SVG, 60 events", median_ms(lambda: render_svg(t60), 50), 20.0),
        ("static SVG, 60 events from a DataFrame", median_ms(lambda: render_svg(t60.to_frame()), 20), None),
        (
            "side by side, learner | reference",
            median_ms(lambda: render_svg(t60, reference=ref, compact=True), 30),
            None,
        ),
        ("state diagram, lit", median_ms(lambda: state_diagram_svg(t60), 50), None),
        ("all animation frames, 60 events", median_ms(lambda: animated_html(t60, ref, uid="tl-b"), 20), None),
        ("5,000 events (summarised to 400)", median_ms(lambda: render_svg(big), 5), None),
    ]
    print(f"{'views (median ms)':45} {'ms':>8}  target")
    for name, ms, target in rows:
        verdict = "" if target is None else (f"≤ {target:.0f} ms  " + ("ok" if ms <= target else "MISSED"))
        print(f"{name:45} {ms:8.2f}  {verdict}")


if __name__ == "__main__":
    main()
