"""The dask executor: a 2-process LocalCluster on loopback gives the local executor's cube."""
from __future__ import annotations

import xarray.testing as xrt

import reprdyn
from reprdyn.spec import validate_text

from conftest import SMALL

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


def test_failures_are_reported_and_dependents_skipped(tmp_path, monkeypatch):
    from reprdyn.runner import TasksFailed
    spec = validate_text(DASK.replace("n_workers: 2", "n_workers: 1, retries: 0").replace("delta: 0.3",
                                                                                            "delta: 0.31"))
    import reprdyn.dask_executor as dx
    import pytest

    def boom(task, spec, path, *deps):
        if task.stage == "theory":
            raise RuntimeError("theory exploded")
        return real(task, spec, path, *deps)
    real = dx._remote
    monkeypatch.setattr(dx, "_remote", boom)
    with pytest.raises(TasksFailed) as e:
        reprdyn.run(spec, store=tmp_path / "f.zarr")
    assert [f["task"] for f in e.value.failures] == ["theory toy"]
    assert "theory exploded" in e.value.failures[0]["error"]
