"""Wall time of the kernel cross-check: the whole run and each scenario (root; Linux).

Scenarios run concurrently, each in its own namespace pair, so the whole run takes
about as long as the longest scenario plus setup. Run: sudo .venv/bin/python benchmarks/bench_kernel.py
"""

from __future__ import annotations

import sys
import time

from autograder.kernel import crosscheck, unavailable_reason


def main() -> int:
    reason = unavailable_reason()
    if reason:
        print(f"skipped: the kernel cross-check {reason}")
        return 0
    started = time.monotonic()
    results = crosscheck()
    wall = time.monotonic() - started
    print(f"{'scenario':32} {'watched s':>9} {'wall s':>7}  outcome  delayed ACKs A,B  TIME_WAIT re-arms A,B")
    for name, c in results.items():
        outcome = "agree" if c.agrees else "DIFFER"
        delayed = ",".join(str(c.delayed_acks[ep][1]) for ep in "AB")
        rearms = ",".join(str(c.rearms[ep][1]) for ep in "AB")
        print(f"{name:32} {c.run.scenario.observe:9.2f} {c.run.wall:7.2f}  {outcome:7}  {delayed:>16}  {rearms:>21}")
    print(f"whole cross-check run: {wall:.2f} s wall for {len(results)} scenarios "
          f"(sum of scenario walls {sum(c.run.wall for c in results.values()):.2f} s)")  # fmt: skip
    return 0 if all(c.agrees for c in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
