"""The cluster path on a real SLURM cluster: dask-jobqueue's SLURMCluster, as the README's recipe
starts it, runs a spec to the local run's cube, also when a worker's job is cancelled mid-run.

The cluster is the single-node one `scripts/slurm_cluster.sh` starts on 127.0.0.1 (`.ci/run` does,
and exports SLURM_CONF); without it these tests are skipped, unless REPRDYN_REQUIRE_SLURM=1 says
the machine must have one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import xarray.testing as xrt
from helpers import SMALL, run_losing_a_worker

import reprdyn
from reprdyn.runner import RunOptions
from reprdyn.spec import validate_text

# features tasks of about a second, so a worker can be lost while it holds one
pytestmark = pytest.mark.slow  # a real SLURM cluster

SPEC = SMALL.replace("n_train: 300", "n_train: 3000")


def _slurm_up() -> bool:
    if not (os.environ.get("SLURM_CONF") and shutil.which("sinfo")):
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return out.returncode == 0 and any(s in out.stdout for s in ("idle", "mixed", "alloc"))


if not _slurm_up():
    if os.environ.get("REPRDYN_REQUIRE_SLURM"):
        raise RuntimeError("REPRDYN_REQUIRE_SLURM is set but no SLURM cluster answers (sinfo)")
    pytest.skip("no SLURM cluster (scripts/slurm_cluster.sh start DIR)", allow_module_level=True)


@pytest.fixture(scope="module")
def local_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("local") / "local.zarr"
    reprdyn.run(validate_text(SPEC), store=path)
    return path


@pytest.fixture
def cluster(tmp_path):
    """Two one-core worker jobs, started as the README's recipe starts them."""
    from dask_jobqueue import SLURMCluster

    cluster = SLURMCluster(
        cores=1,
        processes=1,
        memory="2GB",
        walltime="00:10:00",
        interface="lo",  # scheduler and workers on loopback only
        scheduler_options={"dashboard_address": None},
        worker_extra_args=["--no-dashboard"],
        python=sys.executable,
        log_directory=str(tmp_path / "logs"),
        job_extra_directives=[f"--chdir={tmp_path}"],
    )
    cluster.scale(jobs=2)
    try:
        yield cluster
    finally:
        cluster.close()


def _wait_for_workers(cluster, n: int) -> None:
    from distributed import Client

    with Client(cluster) as client:
        client.wait_for_workers(n, timeout=120)


def test_a_spec_through_slurm_equals_the_local_run(cluster, local_store, tmp_path):
    _wait_for_workers(cluster, 2)
    spec = validate_text(SPEC + "compute: {executor: dask}\n")
    reprdyn.run(spec, store=tmp_path / "s.zarr", options=RunOptions(dask=cluster.scheduler_address))
    a, b = reprdyn.open(local_store), reprdyn.open(tmp_path / "s.zarr")
    # bit for bit: the workers run the same task code on the same shapes, at the spec's thread
    # count, on this machine's CPU (workers on another CPU kind would agree only within rounding)
    xrt.assert_identical(a["toy"].load(), b["toy"].load())
    xrt.assert_identical(a.features("toy", "output").load(), b.features("toy", "output").load())


def test_a_cancelled_worker_job_is_reported_and_the_cube_is_unchanged(
    cluster, local_store, tmp_path, caplog
):
    """`scancel` of the job whose worker holds a task: the run completes on the other worker,
    says which worker was lost and what it held, and writes the local run's cube."""
    _wait_for_workers(cluster, 2)
    spec = validate_text(SPEC + "compute: {executor: dask}\n")

    def cancel_its_job(worker):
        subprocess.run(["scancel", str(cluster.workers[worker.name].job_id)], check=True)

    cancelled, lost = run_losing_a_worker(
        spec, tmp_path / "s.zarr", cluster, cancel_its_job, caplog
    )
    assert lost and cancelled in lost[0], lost
    a, b = reprdyn.open(local_store), reprdyn.open(tmp_path / "s.zarr")
    xrt.assert_identical(a["toy"].load(), b["toy"].load())


def test_stop_on_a_folder_without_our_cluster_cancels_nothing(tmp_path):
    """`slurm_cluster.sh stop DIR` cancels only the jobs of the cluster it started in DIR: on a
    folder that holds none it leaves every job alone (it once ran `scancel --user`)."""
    script = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "slurm_cluster.sh")
    job = subprocess.run(
        ["sbatch", "--parsable", "-o", "/dev/null", "--wrap", "sleep 120"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    try:
        out = subprocess.run(
            ["bash", script, "stop", str(tmp_path / "none")], capture_output=True, text=True
        )
        assert out.returncode == 0 and "cancelled" not in out.stdout
        queued = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True)
        assert job in queued.stdout.split()
    finally:
        subprocess.run(["scancel", job])
