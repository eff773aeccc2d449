"""The README's two Dask deployments, run as written, as far as they run without SLURM or Kubernetes.

The SLURM recipe builds a real dask-jobqueue SLURMCluster (its scheduler runs here) and submits
its worker jobs to a stand-in `sbatch` that keeps the job script, and the same with PBSCluster
(its comment says "the same arguments") and a stand-in `qsub`; the Kubernetes recipe builds
its spec with dask-kubernetes' own make_cluster_spec and hands it to a stand-in KubeCluster.
Both must hand the cluster's address to `tcpclose grade autograde --scheduler`, which must accept
it. What is not tested here: a real queue or cluster running those workers.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.cli import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"


def recipe(name: str) -> str:
    text = README.read_text()
    found = re.search(rf"<!-- recipe: {name} -->\n```python\n(.*?)```", text, re.S)
    assert found, f"README has no recipe {name!r}"
    return found.group(1)


@pytest.fixture
def commands(monkeypatch) -> list[list[str]]:
    """What the recipe asks subprocess.run to do, kept instead of done."""
    calls: list[list[str]] = []

    def run(args, **kwargs):
        calls.append(list(args))
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(subprocess, "run", run)
    return calls


def handed_over(calls: list[list[str]], address: str) -> None:
    assert calls == [["tcpclose", "grade", "autograde", "01_active_close", "--scheduler", address]]
    args = build_parser().parse_args(calls[0][1:])
    assert args.step == "autograde" and args.scheduler == address


QUEUES = {  # the class, its submit and cancel commands, what submit answers, the walltime line it writes
    "slurm": ("SLURMCluster", "sbatch", "scancel", "Submitted batch job 4242", "#SBATCH -t 01:00:00"),
    "pbs": ("PBSCluster", "qsub", "qdel", "4242.pbs-server", "#PBS -l walltime=01:00:00"),
}


@pytest.mark.parametrize("queue", sorted(QUEUES))
def test_the_jobqueue_recipe_submits_workers_and_hands_its_scheduler_to_tcpclose(queue, tmp_path, monkeypatch,
                                                                                 commands):  # fmt: skip
    import dask
    import dask_jobqueue  # noqa: F401 - its configuration defaults, before one of them is changed

    cls, submit, cancel, answer, walltime = QUEUES[queue]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (bin_dir / submit).write_text(f"#!/bin/sh\ncat \"$1\" > {jobs}/job-$$.sh\necho '{answer}'\n")
    (bin_dir / cancel).write_text("#!/bin/sh\nexit 0\n")
    for tool in (submit, cancel):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    source = recipe("jobqueue")
    assert "SLURMCluster(" in source
    source = source.replace("SLURMCluster", cls)
    namespace: dict = {}
    with dask.config.set({f"jobqueue.{queue}.scheduler-options": {"host": "127.0.0.1"}}):  # loopback only, here
        exec(compile(source, f"README.md (jobqueue recipe, {cls})", "exec"), namespace)  # noqa: S102
    cluster = namespace["cluster"]
    try:
        deadline = time.monotonic() + 60
        while len(list(jobs.glob("job-*.sh"))) < 10 and time.monotonic() < deadline:
            time.sleep(0.2)
        scripts = [p.read_text() for p in jobs.glob("job-*.sh")]
        assert len(scripts) == 10, "cluster.scale(jobs=10) submits ten worker jobs"
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        script = scripts[0]
        assert "/shared/venvs/tcp-goodbye/bin/python -m distributed.cli.dask_worker" in script
        assert address in script and "--nthreads 1" in script and walltime in script
        handed_over(commands, address)
    finally:
        cluster.close()


def test_the_kubernetes_recipe_builds_a_spec_the_sandbox_can_work_in(monkeypatch, commands):
    import dask_kubernetes.operator as operator

    made = []

    class StandIn:
        """KubeCluster without a Kubernetes: keeps the spec, answers with the address the service would have."""

        def __init__(self, *, custom_cluster_spec):
            made.append(custom_cluster_spec)
            self.scheduler_address = f"tcp://{custom_cluster_spec['metadata']['name']}-scheduler.default.svc:8786"

    monkeypatch.setattr(operator, "KubeCluster", StandIn)
    namespace: dict = {}
    exec(compile(recipe("kubernetes"), "README.md (Kubernetes recipe)", "exec"), namespace)  # noqa: S102
    (spec,) = made
    assert spec["kind"] == "DaskCluster" and spec["spec"]["worker"]["replicas"] == 10
    (worker,) = spec["spec"]["worker"]["spec"]["containers"]
    assert worker["image"].endswith("tcp-goodbye:0.1.0") and worker["args"][:4] == ["dask", "worker", "--nthreads", "1"]
    context = worker["securityContext"]
    # The sandbox's needs as root: mounts and namespaces (SYS_ADMIN), loopback in its own network
    # namespace (NET_ADMIN), and no seccomp or AppArmor filter that forbids unshare and mount.
    assert context["runAsUser"] == 0 and set(context["capabilities"]["add"]) == {"SYS_ADMIN", "NET_ADMIN"}
    assert context["seccompProfile"] == {"type": "Unconfined"} and context["appArmorProfile"] == {"type": "Unconfined"}
    assert worker["resources"]["limits"] == {"cpu": "1", "memory": "4G"}
    handed_over(commands, "tcp://grading-scheduler.default.svc:8786")
