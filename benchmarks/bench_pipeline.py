"""Grading a class: stock serial `nbgrader autograde` beside `tcpclose grade autograde`, in one run.

The class comes from tests/pipeline/make_class.py (what the Dask tests grade too): notebook 01
handed in as the solution, blank, each realistic bug of tests/course/bugs and each cheat of the
adversarial corpus. Stock nbgrader grades a copy serially (its kernel runs the learner's cells
and the tests together); the trusted pipeline grades another copy with `--workers 2` (each
submission in a sandbox of its own, points computed outside it), and, with Dask installed, a third
copy on a local Dask cluster of as many workers as there are cores, to measure a Dask worker's
rate. Prints the ratio, seconds per notebook, peak memory (this process, each grading worker,
the whole process tree), whether the scores agree with stock on the honest submissions (a cheat
is expected to fool stock nbgrader and to score the blank's score here), and the projected wall
time of a 1,800-notebook term (300 students x 6 notebooks) from the measured rates.

Run: .venv/bin/python benchmarks/bench_pipeline.py [N] [--no-dask]   (default N=12)
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.pipeline import Course, autograde  # noqa: E402
from tests.pipeline.make_class import A, make_class  # noqa: E402

TERM = 1800  # notebooks in a term: 300 students x 6 notebooks
PAGE = os.sysconf("SC_PAGE_SIZE")


class Memory:
    """Samples this process's tree in /proc every 0.1 s: each process's peak RSS and the tree's peak total."""

    def __init__(self) -> None:
        self.peak_total = 0
        self.peaks: dict[int, tuple[str, int]] = {}  # pid -> (what it runs, peak RSS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> dict[int, tuple[str, int]]:
        parents: dict[int, int] = {}
        info: dict[int, tuple[str, int]] = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
                rss = int(Path(f"/proc/{d}/statm").read_text().split()[1]) * PAGE
                cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            parents[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
            info[int(d)] = (cmd, rss)
        mine, grew = {os.getpid()}, True
        while grew:
            more = {p for p, pp in parents.items() if pp in mine} - mine
            grew = bool(more)
            mine |= more
        return {p: info[p] for p in mine if p in info}

    def _run(self) -> None:
        while not self._stop.is_set():
            tree = self._tree()
            self.peak_total = max(self.peak_total, sum(rss for _, rss in tree.values()))
            for pid, (cmd, rss) in tree.items():
                self.peaks[pid] = (cmd, max(rss, self.peaks.get(pid, ("", 0))[1]))
            self._stop.wait(0.1)

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def workers(self, marker: str) -> list[int]:
        return sorted((rss for cmd, rss in self.peaks.values() if marker in cmd), reverse=True)


def mb(n: float) -> str:
    return f"{n / 2**20:.0f} MB"


def kind(student: str) -> str:
    return student.split("-", 1)[1] if "-" in student else student


def copy(course: Course, dest: Path) -> Course:
    shutil.copytree(course.root, dest / "course")
    return Course.at(dest / "course")


def stock(course: Course) -> tuple[float, dict[str, float], Memory]:
    """nbgrader's own `autograde`, serial, as an instructor without this package's pipeline runs it."""
    with Memory() as memory:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nbgrader", "autograde", A, "--force"], cwd=course.root, check=False,
                       capture_output=True)  # fmt: skip
        seconds = time.perf_counter() - start
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.coursedir().course_id) as gb:
        scores = {s.student.id: round(s.score, 2) for s in gb.find_assignment(A).submissions}
    return seconds, scores, memory


def ours(course: Course, workers: int = 2, scheduler: str | None = None):
    with Memory() as memory:
        start = time.perf_counter()
        outcomes = autograde(course, A, workers=workers, force=True, scheduler=scheduler, progress=lambda _line: None)
        seconds = time.perf_counter() - start
    bad = [(o.student, o.notes) for o in outcomes if o.status != "graded"]
    if bad:
        print(f"  not graded: {bad}")
    return seconds, {o.student: round(o.score, 2) for o in outcomes}, memory, outcomes


def agreement(scores: dict[str, float], stock_scores: dict[str, float]) -> str:
    honest = [s for s in scores if s in stock_scores and not _cheat(s)]
    differ = [f"{s}: {scores[s]} vs stock {stock_scores[s]}" for s in honest if scores[s] != stock_scores[s]]
    cheats = [s for s in scores if _cheat(s)]
    fooled = [s for s in cheats if stock_scores.get(s, 0) > min((v for k, v in scores.items() if kind(k) == "blank"),
                                                                default=0)]  # fmt: skip
    said = (
        f"scores agree with stock on all {len(honest)} honest submissions"
        if not differ
        else f"scores differ from stock on {len(differ)} of {len(honest)} honest submissions: {'; '.join(differ)}"
    )
    return said + (f"; {len(fooled)} of {len(cheats)} cheats raised their stock score ({', '.join(fooled)}), "
                   "none here" if cheats else "")  # fmt: skip


def _cheat(student: str) -> bool:
    from tests.pipeline.make_corpus import CHEATS

    return kind(student) in {c.name for c in CHEATS}


def local_dask(course: Course, n_workers: int) -> tuple[float, Memory] | None:
    try:
        from distributed import LocalCluster
    except ImportError:
        return None
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        seconds, scores, memory, outcomes = ours(course, scheduler=cluster.scheduler_address)
    return seconds, scores, memory


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 12
    cores = os.cpu_count() or 1
    print(f"{n} submissions of {A}; {cores} cores; load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        course = make_class(Path(tmp) / "class", n)
        kinds = sorted({kind(s) for s in course.students(A)})
        print(f"kinds: {', '.join(kinds)}")
        stock_s, stock_scores, stock_mem = stock(copy(course, Path(tmp) / "stock"))
        print(
            f"stock nbgrader autograde (serial): {stock_s:6.1f} s, {stock_s / n:5.2f} s per notebook; "
            f"peak RSS of its process tree {mb(stock_mem.peak_total)}"
        )
        seconds, scores, memory, outcomes = ours(copy(course, Path(tmp) / "w2"), 2)
        parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        per_worker = memory.workers("autograder.pipeline.worker")
        print(
            f"tcpclose grade autograde --workers 2: {seconds:6.1f} s, {seconds / n:5.2f} s per notebook; "
            f"{stock_s / seconds:.2f}x stock nbgrader"
        )
        print(
            f"  peak RSS: this process {mb(parent)}, the {len(per_worker)} grading workers "
            f"{', '.join(mb(w) for w in per_worker) or '-'}, the whole tree (workers, fork servers, sandboxes) "
            f"{mb(memory.peak_total)}; long-lived workers: the same for any class size"
        )
        print(f"  {agreement(scores, stock_scores)}")
        print(
            f"  a 1,800-notebook term on this machine: {TERM * seconds / n / 3600:.1f} h "
            f"(stock nbgrader: {TERM * stock_s / n / 3600:.1f} h)"
        )
        if "--no-dask" not in sys.argv:
            got = local_dask(copy(course, Path(tmp) / "dask"), cores)
            if got is None:
                print("dask: distributed is not installed; no cluster figures")
            else:
                d_s, d_scores, d_mem = got
                rate = n / d_s / cores  # notebooks per second per worker, measured
                print(
                    f"local Dask cluster of {cores} workers: {d_s:6.1f} s, {d_s / n:5.2f} s per notebook "
                    f"({1 / rate:.2f} s per notebook per worker); scores "
                    f"{'equal the local pool' if d_scores == scores else 'DIFFER from the local pool'}; "
                    f"peak RSS of the tree {mb(d_mem.peak_total)}"
                )
                print(
                    f"  a 1,800-notebook term on a 10-worker Dask cluster at that rate per worker: "
                    f"{TERM / (rate * 10) / 3600:.2f} h"
                )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
