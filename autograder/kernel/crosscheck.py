"""Play the kernel scenarios on real sockets and compare each with the reference's linux profile.

`run_scenarios` plays every `scenarios.KernelScenario` in its own pair of network namespaces
joined by the relay, concurrently, and records what the kernel did: the segments (relay),
the states (tracepoint + /proc/net/tcp), the TcpExt counters at time 0 and at the end, and the
error each application still holding its socket would read (SO_ERROR). `crosscheck` compares
each run with the simulator's trace (`comparison.compare`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING

from reference_impl.profiles import LINUX, Profile

from .comparison import Comparison, compare
from .netns import parent_namespace
from .scenarios import SCENARIOS
from .tracer import Tracer

if TYPE_CHECKING:
    from ..pipeline.progress import Progress

from .kernel_run import KernelRun, run_kernel
from .sampler import Sampler


def _port_base() -> int:
    """Ports below the ephemeral range, different for concurrent runs (the tracepoint is global)."""
    return 20000 + (os.getpid() % 150) * 64


def run_scenarios(names: Sequence[str] | None = None, workers: int | None = None,
                  progress: Progress | None = None) -> dict[str, KernelRun]:  # fmt: skip
    """Play the scenarios on the kernel, concurrently, each in its own namespace pair; `progress`
    gets a step as each one finishes playing."""
    chosen = [SCENARIOS[n] for n in (names or SCENARIOS)]
    base = _port_base()
    with parent_namespace() as parent, Tracer(base, base + 2 * len(chosen)) as tracer, Sampler() as sampler:
        with ThreadPoolExecutor(max_workers=workers or len(chosen)) as pool:
            futures = {pool.submit(run_kernel, ks, i + 1, base + 2 * i, sampler, parent): ks.name
                       for i, ks in enumerate(chosen)}  # fmt: skip
            runs, failed = {}, {}
            for f in as_completed(futures):
                try:
                    runs[futures[f]] = run = f.result()
                except OSError as exc:
                    failed[futures[f]] = exc
                    continue
                if progress is not None:
                    progress.step(futures[f], f"played in {run.wall:.2f} s")
        # Many relays at once on a loaded machine can slip a scenario's timing until a step fails
        # (an old connection still holding its address when the scenario connects again): such a
        # scenario is played again alone, as one that disagrees is, and a second failure is raised.
        for i, ks in enumerate(chosen):
            if ks.name in failed:
                run = run_kernel(ks, i + 1, base + 2 * i, sampler, parent)
                run.first_error = f"the concurrent run failed: {failed[ks.name]!r}"
                runs[ks.name] = run
                if progress is not None:
                    progress.step(ks.name, f"played in {run.wall:.2f} s")
        runs = {ks.name: runs[ks.name] for ks in chosen}
        events = tracer.stop()
    for run in runs.values():
        for ep, (local, remote) in run.tuples.items():
            run.events[ep] = [e for e in events if (e.saddr, e.sport) == local and (e.daddr, e.dport) == remote
                              and run.t0 <= e.time <= run.t_end]  # fmt: skip
    return runs


def crosscheck(names: Sequence[str] | None = None, base: Profile = LINUX,
               out: Callable[[str], None] | None = None) -> dict[str, Comparison]:  # fmt: skip
    """Run the scenarios on the kernel, concurrently, and compare each with the reference.

    The relay holds and releases segments from user space, so a heavily loaded machine can
    release a held ACK late enough for a retransmission timer to fire first. A scenario that
    disagrees is therefore played once more, alone; it fails only if it disagrees again, and
    its report keeps the first run.

    Progress goes to `out` one line at a time (stderr when not given): a line as each scenario
    finishes playing, one as each is compared, and one per replay.
    """
    from ..pipeline.progress import Progress  # instructors' and CI's: the learner build has no pipeline

    chosen = list(names or SCENARIOS)
    progress = Progress(2 * len(chosen), out, unit="step")
    results = {}
    for name, run in run_scenarios(chosen, progress=progress).items():
        results[name] = compare(run, base)
        progress.step(name, "agrees" if results[name].agrees else "disagrees: played again alone")
    replays = [name for name, first in results.items() if not first.agrees]
    again_progress = Progress(len(replays), out, unit="replay")
    for name in replays:
        again = compare(run_scenarios([name], workers=1)[name], base)
        again.first_attempt = results[name].report()
        results[name] = again
        again_progress.step(f"{name} (replay)", "agrees" if again.agrees else "disagrees again")
    return results
