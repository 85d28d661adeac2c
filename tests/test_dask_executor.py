"""The dask executor: a 2-process LocalCluster on loopback gives the local executor's cube."""

from __future__ import annotations

import xarray.testing as xrt
from helpers import SMALL

import reprdyn
from reprdyn.spec import validate_text

DASK = SMALL + "compute: {executor: dask, n_workers: 2}\n"


def test_localcluster_matches_local(small_store, tmp_path):
    spec = validate_text(DASK)
    done = []
    rows = reprdyn.run(spec, store=tmp_path / "d.zarr", on_done=done.append)
    assert len(done) == 1 + 5 + 1 + 1 and rows
    a, b = reprdyn.open(small_store), reprdyn.open(tmp_path / "d.zarr")
    xrt.assert_identical(a["toy"].load(), b["toy"].load())
    xrt.assert_identical(a.features("toy", "output").load(), b.features("toy", "output").load())
    assert reprdyn.run(spec, store=tmp_path / "d.zarr") == rows  # resumes: nothing left to do


def test_failures_are_reported_and_dependents_skipped(tmp_path, monkeypatch, dask_address):
    """A task that raises on a worker is reported with its error; the tasks that need it are
    skipped and the rest run (on the session's LocalCluster, reached by its address)."""
    from reprdyn.runner import TasksFailed

    spec = validate_text(
        DASK.replace("n_workers: 2", "n_workers: 1, retries: 0").replace(
            "delta: 0.3", "delta: 0.31"
        )
    )
    import pytest

    import reprdyn.dask_executor as dx

    def boom(task, spec, path, *deps):
        if task.stage == "theory":
            raise RuntimeError("theory exploded")
        return real(task, spec, path, *deps)

    real = dx._remote
    monkeypatch.setattr(dx, "_remote", boom)
    with pytest.raises(TasksFailed) as e:
        reprdyn.run(spec, store=tmp_path / "f.zarr", dask=dask_address)
    assert [f["task"] for f in e.value.failures] == ["theory toy"]
    assert "theory exploded" in e.value.failures[0]["error"]


def test_the_scheduler_address_comes_from_the_command_line_or_the_environment(
    small_spec_file, tmp_path, monkeypatch
):
    """A spec cannot name a scheduler (the bad-spec corpus checks the refusal); --dask and
    REPRDYN_DASK_ADDRESS reach the dask executor, which connects there and starts no cluster."""
    from typer.testing import CliRunner

    import reprdyn.executors as ex
    from reprdyn.cli import app

    seen = []
    monkeypatch.setattr(
        ex, "EXECUTORS", {**ex.EXECUTORS, "dask": lambda *a, address=None: seen.append(address)}
    )
    r = CliRunner().invoke(
        app,
        [
            "run",
            str(small_spec_file),
            "--store",
            str(tmp_path / "a.zarr"),
            "--dask",
            "tcp://127.0.0.1:1",
        ],
    )
    assert seen == ["tcp://127.0.0.1:1"], r.output
    monkeypatch.setenv("REPRDYN_DASK_ADDRESS", "tcp://127.0.0.1:2")
    CliRunner().invoke(app, ["run", str(small_spec_file), "--store", str(tmp_path / "b.zarr")])
    assert seen[-1] == "tcp://127.0.0.1:2"
    from reprdyn.dask_executor import _client

    class Compute:  # a LocalCluster would take these; an address must not start one
        n_workers, threads_per_worker = 1, 1

    import distributed

    monkeypatch.setattr(distributed, "Client", lambda address: ("client of", address))
    assert _client(Compute(), "tcp://127.0.0.1:3") == (("client of", "tcp://127.0.0.1:3"), None)
