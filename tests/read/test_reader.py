"""The fast reader: zarr arrays read without xarray equal what `reprdyn.open` reads, sweeps
included."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from helpers import SMALL

import reprdyn
from reprdyn.read.reader import Cube, CubeStore, align
from reprdyn.spec import validate_text

SWEEP = (
    SMALL.replace(
        "model: {kind: molrg-optimal}",
        "models: {a: {kind: molrg-optimal}, b: {kind: molrg-optimal}}",
    )
    + "metrics: [accuracy, class_accuracy, csnr, csnr_theory, unimodality, generalization]\n"
    + "generation: {samples: 16, steps: 4}\nsweep:\n  datasets[0].delta: [0.2, 0.4]\n"
)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    path = tmp_path_factory.mktemp("reader") / "sweep.zarr"
    reprdyn.run(validate_text(SWEEP), store=path)
    return path


def _same(store_path, dataset):
    res, fast = reprdyn.open(store_path), CubeStore(store_path)
    ds = res[dataset]
    assert sorted(fast.names(dataset)) == sorted(ds.data_vars)
    for v in ds.data_vars:
        cube = fast.cube(dataset, v)
        got = xr.DataArray(cube.values, dims=cube.dims, coords=cube.coords)
        want = ds[v].drop_vars([c for c in ds[v].coords if c not in ds[v].dims]).load()
        xr.testing.assert_equal(got.transpose(*want.dims), want)
        assert fast.variables(dataset)[v][0] == cube.dims


def test_a_plain_store_reads_as_xarray_reads_it(small_store):
    _same(small_store, "toy")
    assert (
        CubeStore(small_store)
        .cube("toy", "accuracy")
        .attrs["description"]
        .startswith("test accuracy")
    )


def test_a_sweep_store_joins_its_points_like_xarray(swept):
    _same(swept, "toy")
    # a variable with no dims of its own per point: (delta, model, replicate)
    cube = CubeStore(swept).cube("toy", "generalization")
    assert cube.dims == ("delta", "model", "replicate") and np.isfinite(cube.values).all()


def test_cube_operations_and_alignment():
    a = Cube(
        "v",
        ("x", "y"),
        {"x": np.array([1.0, 2.0]), "y": np.array(["a", "b", "c"], dtype=object)},
        np.arange(6.0).reshape(2, 3),
    )
    assert a.mean("x").values.tolist() == [1.5, 2.5, 3.5] and a.mean("x").dims == ("y",)
    assert a.take("y", np.array([2])).values.tolist() == [[2.0], [5.0]]
    assert a.rows()[4] == (2.0, "b", 4.0)
    b = Cube(
        "v",
        ("x", "y"),
        {"x": np.array([2.0]), "y": np.array(["c", "a"], dtype=object)},
        np.array([[50.0, 30.0]]),
    )
    va, vb = align(a, b)  # shared labels only, in a's order
    assert va.tolist() == [[3.0, 5.0]] and vb.tolist() == [[30.0, 50.0]]
    assert align(a, a.mean("x")) is None
