"""End to end: determinism, resume, and the paper's unimodal curve on the shipped spec."""
from __future__ import annotations

from pathlib import Path

import xarray.testing as xrt

import reprdyn
from reprdyn import store as st
from reprdyn.plan import plan
from reprdyn.runner import plan_status


def test_two_runs_give_identical_cubes(small_spec, small_store, tmp_path):
    other = tmp_path / "again.zarr"
    reprdyn.run(small_spec, store=other)
    a, b = reprdyn.open(small_store), reprdyn.open(other)
    xrt.assert_identical(a["toy"].load(), b["toy"].load())
    xrt.assert_identical(a.features("toy", "output").load(), b.features("toy", "output").load())


def test_resume_skips_done_tasks_and_force_reruns(small_spec, small_store):
    assert {s for _, s in plan_status(small_spec, small_store)} == {"done"}
    seen = []
    reprdyn.run(small_spec, store=small_store, on_start=seen.append)
    assert seen == []
    before = reprdyn.open(small_store)["toy"].load()
    reprdyn.run(small_spec, store=small_store, on_start=seen.append, force=True)
    assert len(seen) == len(plan(small_spec))
    xrt.assert_identical(before, reprdyn.open(small_store)["toy"].load())


def test_interrupted_run_resumes_to_the_same_cube(small_spec, small_store, tmp_path):
    path = tmp_path / "cut.zarr"
    tasks = plan(small_spec)

    def stop_after_features(task):
        if task.stage == "theory":
            raise KeyboardInterrupt
    try:
        reprdyn.run(small_spec, store=path, on_start=stop_after_features)
    except KeyboardInterrupt:
        pass
    assert len(st.done_keys(path)) == 6 < len(tasks)
    reprdyn.run(small_spec, store=path)
    xrt.assert_identical(reprdyn.open(small_store)["toy"].load(), reprdyn.open(path)["toy"].load())


def test_shipped_theory_spec_is_unimodal(tmp_path):
    spec = reprdyn.load_spec(Path(__file__).parents[1] / "specs" / "molrg-theory.yaml")
    rows = reprdyn.run(spec, store=tmp_path / "t.zarr")
    (row,) = rows
    assert row.unimodal and 0.2 < row.peak_sigma < 2 and row.peak_accuracy > 0.9
    assert 0.2 < row.csnr_peak_sigma < 2  # an interior CSNR peak
    ds = reprdyn.open(tmp_path / "t.zarr")["molrg"]
    acc = ds["accuracy"].squeeze()
    # THEORY.md §5 probe column: ~0.70 at the clean end, ~0.93 at the peak, falling at large sigma
    assert abs(float(acc.isel(sigma=0)) - 0.70) < 0.05
    assert float(acc.isel(sigma=-1)) < 0.5
