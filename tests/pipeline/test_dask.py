"""Grading on a real Dask cluster: a `dask scheduler` and `dask worker` processes on loopback.

One class of realistic submissions of notebook 01 (tests/pipeline/make_class.py: solutions,
blanks, bugs, cheats) is graded twice from the same collected copy: by the local pool, and on a
cluster of two workers, one of which is killed (with its grading worker, fork server and
sandboxes) while the batch runs. The cluster's scores must be the local pool's, cell by cell,
each submission in the gradebook once. Then what goes wrong with a cluster is one sentence and
an exit code, never a hang or a traceback: a wrong address, workers without this package, and a
scheduler that dies mid-batch (the same cluster's, after its worker was killed), after which the
same command grades only what is missing. The class has 8 submissions, not a cohort's 20 or more:
each costs seconds on this shared 2-core machine, and the cluster's behaviour does not change
with the count (benchmarks/bench_pipeline.py grades larger classes on a local Dask cluster).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from autograder.cli import main
from tests.pipeline.make_class import A, make_class

pytestmark = pytest.mark.nbgrader
N = 8
DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler and `workers` workers on loopback, each in a process group of its own."""

    def __init__(self, tmp: Path, workers: int, *, worker_cmd: list[str] | None = None, env: dict | None = None):
        self.tmp, self.port = tmp, free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self._spawn([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--dashboard-address", ":0"],
                    "scheduler")  # fmt: skip
        self.workers = [
            self._spawn(
                [
                    *(worker_cmd or [DASK, "worker"]),
                    self.address,
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--name",
                    f"w{k}",
                ],
                f"worker-{k}",
                env,
            )  # fmt: skip
            for k in range(workers)
        ]
        self.wait_for(workers)

    def _spawn(self, cmd: list[str], name: str, env: dict | None = None) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True, cwd=self.tmp,
                                env=env or os.environ.copy())  # fmt: skip
        self.procs.append(proc)
        return proc

    def wait_for(self, n: int, timeout: float = 90) -> None:
        from distributed import Client

        deadline = time.monotonic() + timeout
        while True:
            try:
                with Client(self.address, timeout=5, set_as_default=False) as c:
                    c.wait_for_workers(n, timeout=max(1, deadline - time.monotonic()))
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def kill(self, proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            self.kill(proc)


def scores(course) -> dict[str, dict[str, float]]:
    """Per student, per cell, the score the pipeline recorded."""
    out = {}
    for f in sorted((course.state_dir / A).glob("*.json")):
        state = json.loads(f.read_text())
        out[f.stem] = {c["cell"]: c["score"] for c in state["cells"]}
    return out


def gradebook_rows(course) -> tuple[list[tuple], list[tuple]]:
    db = sqlite3.connect(course.db_url.removeprefix("sqlite:///"))
    try:
        subs = db.execute("SELECT student_id, COUNT(*) FROM submitted_assignment GROUP BY student_id").fetchall()
        grades = db.execute("SELECT notebook_id, cell_id, COUNT(*) FROM grade GROUP BY notebook_id, cell_id "
                            "HAVING COUNT(*) > 1").fetchall()  # fmt: skip
    finally:
        db.close()
    return subs, grades


@pytest.fixture(scope="module")
def classes(tmp_path_factory):
    """The class, collected once; the local pool grades one copy, the tests below grade others."""
    from autograder.pipeline import Course, autograde

    tmp = tmp_path_factory.mktemp("dask")
    course = make_class(tmp / "class", N)
    pristine = tmp / "pristine"
    shutil.copytree(course.root, pristine)
    outcomes = autograde(course, A, workers=2, cell_timeout=10, progress=lambda _line: None)
    assert all(o.status == "graded" for o in outcomes), [(o.student, o.notes) for o in outcomes]

    def copy(name: str):
        dest = tmp / name / "course"
        shutil.copytree(pristine, dest)
        return Course.at(dest)

    flagged = sorted(o.student for o in outcomes if o.flags)
    return {"local": course, "copy": copy, "tmp": tmp, "flagged": flagged}


@pytest.fixture(scope="module")
def cluster(classes):
    """Two workers; the first test kills one, the scheduler-dying test ends the cluster."""
    cluster = Cluster(classes["tmp"], 2)
    yield cluster
    cluster.stop()


def test_a_class_on_dask_scores_as_the_local_pool_even_when_a_worker_dies(classes, cluster):
    from autograder.pipeline import autograde

    course = classes["copy"]("cluster")
    lines: list[str] = []
    killed = []

    def progress(line: str) -> None:
        lines.append(line)
        if len(lines) == 3:  # a part of the batch in: one worker dies with whatever it is grading
            cluster.kill(cluster.workers[0])
            killed.append(len(lines))

    outcomes = autograde(course, A, cell_timeout=10, scheduler=cluster.address, progress=progress)
    assert killed == [3] and len(lines) == N
    assert sorted(o.student for o in outcomes) == sorted(scores(classes["local"]))  # each once
    assert all(o.status == "graded" for o in outcomes), [(o.student, o.notes) for o in outcomes]
    assert scores(course) == scores(classes["local"])  # cell by cell
    assert {s for s, cells in scores(course).items() if sum(v or 0 for v in cells.values()) == 0} >= {
        s for s in scores(course) if s.endswith("blank")
    }  # the class is not all zeros by accident
    assert len({sum(v or 0 for v in c.values()) for c in scores(course).values()}) >= 4
    subs, duplicated = gradebook_rows(course)
    assert len(subs) == N and all(count == 1 for _, count in subs) and duplicated == []
    flagged = [o.student for o in outcomes if o.flags]
    assert flagged and all("-" in s for s in flagged)  # the cheats are flagged on the cluster too
    assert sorted(flagged) == classes["flagged"]


def _held(address: str) -> dict[str, list[str]]:
    """Per worker name, the finished tasks whose results it holds (the scheduler's own view)."""
    from distributed import Client

    def held(dask_scheduler):
        return {ws.name: [str(ts.key) for ts in ws.has_what] for ws in dask_scheduler.workers.values()}

    with Client(address, timeout=10, set_as_default=False) as c:
        return c.run_on_scheduler(held)


def test_a_worker_dying_with_finished_results_has_them_graded_again(classes):
    """The worker that holds results the parent has not fetched yet dies: those futures turn 'lost'
    and the scheduler grades them again on the other worker; none is recorded as a failure."""
    from autograder.pipeline import autograde

    course = classes["copy"]("holder-dies")
    cluster = Cluster(classes["tmp"], 2)
    lines: list[str] = []
    killed: list[int] = []

    def progress(line: str) -> None:
        lines.append(line)
        if len(lines) > 1:
            return
        deadline = time.monotonic() + 240
        while sum(map(len, (held := _held(cluster.address)).values())) < N - 1 and time.monotonic() < deadline:
            time.sleep(0.5)  # the parent reads nothing meanwhile: every other result waits on a worker
        name, keys = max(held.items(), key=lambda kv: len(kv[1]))
        cluster.kill(cluster.workers[int(str(name).removeprefix("w"))])
        killed.append(len(keys))

    try:
        outcomes = autograde(course, A, cell_timeout=10, scheduler=cluster.address, progress=progress)
    finally:
        cluster.stop()
    assert killed and killed[0] >= 1 and len(lines) == N  # results died with their worker
    assert all(o.status == "graded" for o in outcomes), [(o.student, o.notes) for o in outcomes]
    assert scores(course) == scores(classes["local"])


def test_a_wrong_scheduler_address_is_one_sentence_and_exit_2(classes, monkeypatch, capsys):
    course = classes["copy"]("wrong-address")
    monkeypatch.setenv("TCPCLOSE_DASK_CONNECT_TIMEOUT", "2")
    import autograder.pipeline.cluster as cluster

    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 2.0)
    started = time.monotonic()
    code = main(
        ["grade", "autograde", A, "--course", str(course.root), "--scheduler", f"tcp://127.0.0.1:{free_port()}"]
    )
    err = capsys.readouterr().err
    assert code == 2 and time.monotonic() - started < 30
    assert err.count("\n") == 1 and "no Dask scheduler answered at tcp://127.0.0.1:" in err and "Traceback" not in err
    assert not (course.state_dir / A).exists()  # nothing recorded, nothing lost


def test_workers_without_the_package_are_one_sentence_and_exit_2(classes, monkeypatch, capsys):
    """A worker started from an interpreter that has Dask but not this package (its site-packages on
    the path, the editable install's hook not run, the working directory elsewhere)."""
    course = classes["copy"]("no-package")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": sysconfig.get_paths()["purelib"]}
    cluster = Cluster(
        classes["tmp"], 1, worker_cmd=[sys.executable, "-S", "-m", "distributed.cli.dask_worker"], env=env
    )
    try:
        monkeypatch.setenv("TCPCLOSE_SCHEDULER", cluster.address)  # the variable stands for --scheduler
        code = main(["grade", "autograde", A, "--course", str(course.root)])
    finally:
        cluster.stop()
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "cannot import this grader" in err and "install tcp-goodbye" in err
    assert "Traceback" not in err and not (course.state_dir / A).exists()


def test_a_scheduler_dying_mid_batch_keeps_what_was_graded_and_a_rerun_grades_the_rest(classes, cluster, monkeypatch,
                                                                                       capsys):  # fmt: skip
    import autograder.pipeline.cluster as cluster_module
    from autograder.pipeline import autograde
    from autograder.pipeline.cluster import ClusterError

    course = classes["copy"]("dies")
    for s in sorted(p.name for p in (course.root / "submitted").iterdir())[4:]:
        shutil.rmtree(course.root / "submitted" / s)  # four students are enough here
    monkeypatch.setattr(cluster_module, "CONNECT_SECONDS", 3.0)
    lines: list[str] = []

    def progress(line: str) -> None:
        lines.append(line)
        if len(lines) == 1:
            cluster.kill(cluster.procs[0])  # the scheduler

    started = time.monotonic()
    try:
        with pytest.raises(ClusterError) as e:
            autograde(course, A, cell_timeout=10, scheduler=cluster.address, progress=progress)
    finally:
        cluster.stop()
    assert e.value.code == 1 and "went away" in str(e.value) and "run the same command again" in str(e.value)
    assert time.monotonic() - started < 240
    kept = sorted(p.stem for p in (course.state_dir / A).glob("*.json"))
    assert 1 <= len(kept) < 4  # what was merged stays; the rest is not recorded as graded
    again = Cluster(classes["tmp"], 1)
    try:
        monkeypatch.setenv("TCPCLOSE_SCHEDULER", again.address)
        capsys.readouterr()
        assert main(["grade", "autograde", A, "--course", str(course.root), "--cell-timeout", "10"]) == 0
    finally:
        again.stop()
    err = capsys.readouterr().err
    assert err.count("skipped (unchanged since last autograde)") == len(kept)
    assert err.count(": graded ") == 4 - len(kept)
    assert {s: c for s, c in scores(course).items()} == {s: c for s, c in scores(classes["local"]).items() if s in
                                                          scores(course)}  # fmt: skip


def test_autograde_help_documents_the_scheduler(capsys):
    with pytest.raises(SystemExit):
        main(["grade", "autograde", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--scheduler tcp://HOST:8786" in out and "$TCPCLOSE_SCHEDULER" in out and "no shared filesystem" in out
